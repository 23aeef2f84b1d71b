// Package trainstatetest holds the checks the tests of every Kata training
// checkpoint format share: a golden file written by an earlier version
// loads to the expected state and saves again to the same bytes, and copies of it with one metadata value
// damaged are refused.
package trainstatetest

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"kata/model/safetensors"
)

// Golden checks a checkpoint format against golden, a file an earlier
// version wrote: load must read it as want (reflect.DeepEqual), and save
// must write what it read back to exactly the same bytes.
func Golden[C any](t *testing.T, golden string, want C, load func(path string) (C, error), save func(path string, c C) error) {
	t.Helper()
	got, err := load(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s loads as %+v\nwant %+v", golden, got, want)
	}
	path := filepath.Join(t.TempDir(), "again.safetensors")
	if err := save(path, got); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, orig) {
		t.Errorf("saving %s again wrote %d bytes that differ from its %d", golden, len(again), len(orig))
	}
}

// PCG returns the state of rand.NewPCG(seed1, seed2), as checkpoints keep
// it.
func PCG(t *testing.T, seed1, seed2 uint64) []byte {
	t.Helper()
	state, err := rand.NewPCG(seed1, seed2).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// Damage is one metadata value to spoil in a checkpoint and the text the
// loader's error must hold.
type Damage struct {
	Key, Value, Want string
}

// Refused runs a subtest per damage: load, given a copy of golden with that
// metadata key set to that value, must fail with an error that holds Want
// and the copy's path.
func Refused(t *testing.T, golden string, damages []Damage, load func(path string) error) {
	t.Helper()
	for _, d := range damages {
		t.Run(d.Key+"="+d.Value, func(t *testing.T) {
			path := withMetadata(t, golden, d.Key, d.Value)
			err := load(path)
			if err == nil || !strings.Contains(err.Error(), d.Want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming %q and the file", err, d.Want)
			}
		})
	}
}

// withMetadata writes a copy of the safetensors file src, its tensors
// unchanged and its metadata key set to value, into a temporary folder and
// returns its path.
func withMetadata(t *testing.T, src, key, value string) string {
	t.Helper()
	f, err := safetensors.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, info := range f.Infos() {
		data, err := f.Bytes(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, safetensors.Tensor{Name: info.Name, DType: info.DType, Shape: info.Shape,
			Data: bytes.Clone(data)})
	}
	meta := f.Metadata()
	meta[key] = value
	path := filepath.Join(t.TempDir(), "damaged.safetensors")
	if err := safetensors.Write(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	return path
}
