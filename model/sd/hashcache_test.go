package sd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kata/model/sd/sdtest"
	"kata/store/contenthash"
)

// TestMain keeps the package's loads from writing the hash cache into the
// user's cache folder.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kata-sd-test-hashes")
	if err != nil {
		panic(err)
	}
	os.Setenv(EnvHashCache, filepath.Join(dir, "hashes.json"))
	hashCacheMinSize = 0 // the tests' files are small
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestFileSHA256Cache(t *testing.T) {
	const planted = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		name string
		// prepare writes the cache file (at cache) before the call, given the
		// weights file at p; nil leaves none.
		prepare func(t *testing.T, cache, p string)
		// want is the hash the call must return ("" is the file's real one).
		want string
		// cached is whether the cache must hold the real hash afterwards.
		cached bool
	}{
		{name: "miss", cached: true},
		{name: "hit", prepare: func(t *testing.T, cache, p string) {
			// A planted hash for the file's size and mtime proves the cache is read.
			writeEntry(t, cache, p, 0, planted)
		}, want: planted},
		{name: "stale mtime", prepare: func(t *testing.T, cache, p string) {
			writeEntry(t, cache, p, time.Second, planted)
		}, cached: true},
		{name: "malformed hash", prepare: func(t *testing.T, cache, p string) {
			writeEntry(t, cache, p, 0, "not a hash")
		}, cached: true},
		{name: "corrupt file", prepare: func(t *testing.T, cache, p string) {
			if err := os.WriteFile(cache, []byte(`{"version": 1, "files": {`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, cached: true},
		{name: "other version", prepare: func(t *testing.T, cache, p string) {
			if err := os.WriteFile(cache, []byte(`{"version": 99, "files": {}}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, cached: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cache := filepath.Join(dir, "sub", "hashes.json") // the folder is created
			t.Setenv(EnvHashCache, cache)
			p := filepath.Join(dir, "w.safetensors")
			if err := os.WriteFile(p, []byte("weights "+c.name), 0o644); err != nil {
				t.Fatal(err)
			}
			real, err := contenthash.File(p)
			if err != nil {
				t.Fatal(err)
			}
			if c.prepare != nil {
				if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
					t.Fatal(err)
				}
				c.prepare(t, cache, p)
			}
			want := c.want
			if want == "" {
				want = real
			}
			if got, err := FileSHA256(p); err != nil || got != want {
				t.Fatalf("FileSHA256 = %q, %v; want %q", got, err, want)
			}
			abs, _ := filepath.Abs(p)
			e, ok := readHashCache(cache).Files[abs]
			if c.cached && (!ok || e.SHA256 != real) {
				t.Errorf("cache entry after the call = %+v, %v; want the real hash", e, ok)
			}
			if c.cached {
				if got, err := FileSHA256(p); err != nil || got != real {
					t.Errorf("second call = %q, %v; want %q", got, err, real)
				}
			}
		})
	}
}

// writeEntry writes a cache holding hash for p, with p's mtime shifted by skew.
func writeEntry(t *testing.T, cache, p string, skew time.Duration, hash string) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(p)
	c := &hashCacheFile{Version: hashCacheVersion, Files: map[string]hashCacheEntry{
		abs: {Size: st.Size(), MTimeNS: st.ModTime().Add(skew).UnixNano(), SHA256: hash},
	}}
	if err := writeHashCache(cache, c); err != nil {
		t.Fatal(err)
	}
}

func TestFileSHA256CacheOff(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvHashCache, "off")
	p := filepath.Join(dir, "w.safetensors")
	if err := os.WriteFile(p, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	want, _ := contenthash.File(p)
	if got, err := FileSHA256(p); err != nil || got != want {
		t.Fatalf("FileSHA256 = %q, %v; want %q", got, err, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("caching off wrote files: %v", entries)
	}
	if _, err := FileSHA256(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

// Load writes the UNet file's hash to the cache and takes it from there at
// the next load (a planted entry for the same size and mtime shows it).
func TestLoadHashCached(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "hashes.json")
	t.Setenv(EnvHashCache, cache)
	dir := sdtest.TinyDir()
	unetFile, err := weightsFile(filepath.Join(dir, "unet"), "diffusion_pytorch_model", "")
	if err != nil {
		t.Fatal(err)
	}
	real, err := contenthash.File(unetFile)
	if err != nil {
		t.Fatal(err)
	}
	const planted = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	for _, want := range []string{real, planted} {
		if want == planted {
			writeEntry(t, cache, unetFile, 0, planted)
		}
		m, err := Load(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		m.Finalize()
		if m.SHA256 != want || m.Hash != want[:10] {
			t.Errorf("SHA256 %q Hash %q, want %q", m.SHA256, m.Hash, want)
		}
		abs, _ := filepath.Abs(unetFile)
		if e := readHashCache(cache).Files[abs]; e.SHA256 != want {
			t.Errorf("cache entry %+v, want %s", e, want)
		}
	}
}

// Files below hashCacheMinSize are hashed directly and never cached; a
// write drops the entries of files that no longer exist.
func TestFileSHA256CacheSizeAndPrune(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "hashes.json")
	t.Setenv(EnvHashCache, cache)
	small, big, gone := filepath.Join(dir, "small"), filepath.Join(dir, "big"), filepath.Join(dir, "gone")
	for _, p := range []string{small, big, gone} {
		if err := os.WriteFile(p, []byte("weights of "+p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const planted = "00000000000000000000000000000000000000000000000000000000000000aa"
	writeEntry(t, cache, gone, 0, planted)
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	defer func(old int64) { hashCacheMinSize = old }(hashCacheMinSize)
	hashCacheMinSize = int64(len("weights of "+small)) + 1
	if _, err := FileSHA256(small); err != nil {
		t.Fatal(err)
	}
	if c := readHashCache(cache); len(c.Files) != 1 {
		t.Fatalf("a small file changed the cache: %v", c.Files)
	}
	hashCacheMinSize = 0
	if _, err := FileSHA256(big); err != nil {
		t.Fatal(err)
	}
	c := readHashCache(cache)
	absBig, _ := filepath.Abs(big)
	absGone, _ := filepath.Abs(gone)
	if _, ok := c.Files[absBig]; !ok || len(c.Files) != 1 {
		t.Fatalf("cache after hashing %s: %v (the entry of %s should be gone)", big, c.Files, absGone)
	}
}
