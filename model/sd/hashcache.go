package sd

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"kata/store/atomicfile"
	"kata/store/contenthash"
)

// EnvHashCache names the file where Load keeps the SHA-256 of the weights
// files it hashed (Model.SHA256, VAESHA256), keyed by absolute path, size
// and modification time, as AUTOMATIC1111's cache.json keeps its model
// hashes: reading an SD 1.5 UNet file to hash it takes longer than the rest
// of a load with a warm page cache, so a model is hashed once, not at every
// load. Unset, the file is hashes.json in Kata's folder of the user's cache
// (os.UserCacheDir()/kata); "off" hashes every time and writes nothing.
const EnvHashCache = "KATA_HASH_CACHE"

// hashCacheVersion is the "version" of the cache file; a file of another
// version is ignored and rewritten.
const hashCacheVersion = 1

// hashCacheFile is the JSON the cache file holds.
type hashCacheFile struct {
	Version int                       `json:"version"`
	Files   map[string]hashCacheEntry `json:"files"` // by absolute path
}

// hashCacheEntry is one hashed file: its size and modification time when
// hashed (nanoseconds since the Unix epoch) and its hex SHA-256.
type hashCacheEntry struct {
	Size    int64  `json:"size"`
	MTimeNS int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

// hashCacheMinSize is the smallest file whose hash is cached: smaller ones
// (fixtures, LoRAs, the built-in model) hash in tens of milliseconds, and
// leaving them out keeps the cache to the few big checkpoints it pays for.
var hashCacheMinSize int64 = 32 << 20

// hashCacheMu serialises this process's reads and writes of the cache file.
// Two processes writing it at once each write a whole file (atomically);
// the entry of the one that loses is hashed again next time.
var hashCacheMu sync.Mutex

// hashCachePath is where the cache lives, "" when caching is off or there
// is no cache folder.
func hashCachePath() string {
	switch p := os.Getenv(EnvHashCache); p {
	case "off":
		return ""
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "kata", "hashes.json")
	default:
		return p
	}
}

// FileSHA256 returns the hex SHA-256 of the file at path as Load computes
// Model.SHA256 and VAESHA256: the cached one
// when the cache (EnvHashCache) has an entry for its absolute path with its
// current size and modification time, else computed and then written to the
// cache (files of at least hashCacheMinSize, 32 MiB; entries of files that
// no longer exist are dropped then). A missing, unreadable or corrupt cache is ignored (and rewritten);
// failing to write it is not an error, the hash is then computed again at
// the next load.
func FileSHA256(path string) (string, error) {
	cachePath := hashCachePath()
	if cachePath == "" {
		return contenthash.File(path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if st.Size() < hashCacheMinSize {
		return contenthash.File(abs)
	}
	entry := hashCacheEntry{Size: st.Size(), MTimeNS: st.ModTime().UnixNano()}
	hashCacheMu.Lock()
	cached, ok := readHashCache(cachePath).Files[abs]
	hashCacheMu.Unlock()
	if ok && cached.Size == entry.Size && cached.MTimeNS == entry.MTimeNS && validSHA256(cached.SHA256) {
		return cached.SHA256, nil
	}
	if entry.SHA256, err = contenthash.File(abs); err != nil {
		return "", err
	}
	if st2, err := os.Stat(abs); err != nil || st2.Size() != entry.Size || st2.ModTime().UnixNano() != entry.MTimeNS {
		return entry.SHA256, nil // changed while hashed: do not cache what may be neither version's hash
	}
	hashCacheMu.Lock()
	defer hashCacheMu.Unlock()
	c := readHashCache(cachePath) // again: another load may have added entries
	for p := range c.Files {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			delete(c.Files, p) // the file is gone: so is its entry
		}
	}
	c.Files[abs] = entry
	_ = writeHashCache(cachePath, c)
	return entry.SHA256, nil
}

// readHashCache reads the cache file; a missing, unreadable, corrupt or
// other-version file gives an empty cache.
func readHashCache(path string) *hashCacheFile {
	empty := &hashCacheFile{Version: hashCacheVersion, Files: map[string]hashCacheEntry{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return empty
	}
	var c hashCacheFile
	if json.Unmarshal(data, &c) != nil || c.Version != hashCacheVersion || c.Files == nil {
		return empty
	}
	return &c
}

// writeHashCache writes c to path atomically, creating its folder.
func writeHashCache(path string, c *hashCacheFile) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(data, '\n'))
}

// validSHA256 reports whether s is 64 lower-case hex digits.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// hashAsync starts FileSHA256(path) in the background, so that a load
// hashes while it copies weights; the returned function waits for it.
func hashAsync(path string) func() (string, error) {
	done := make(chan struct{})
	var sum string
	var err error
	go func() {
		defer close(done)
		sum, err = FileSHA256(path)
	}()
	return func() (string, error) {
		<-done
		return sum, err
	}
}
