package adi

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"kata/model/safetensors"
)

func testIdentifier(t *testing.T, method Method, layers, width int) *Identifier {
	t.Helper()
	init := make([]float32, width)
	for i := range init {
		init[i] = float32(i)*0.25 - 1
	}
	id, err := NewIdentifier("handstand", method, layers, init)
	if err != nil {
		t.Fatal(err)
	}
	for l, v := range id.Vectors {
		v[0] += float32(l)
	}
	id.BaseModelHash = "abc123"
	id.Steps, id.Beta, id.LR, id.InitWord = 500, 0.5, 5e-3, "person"
	id.Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return id
}

func TestIdentifierRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		method Method
		layers int
		keys   []string
	}{{MethodADI, 16, []string{KeyLayerIndex, KeyLayerVectors}}, {MethodPPlus, 16, []string{KeyLayerIndex, KeyLayerVectors}},
		{MethodTI, 16, []string{KeyEmbParams}}} {
		id := testIdentifier(t, c.method, c.layers, 8)
		path := filepath.Join(dir, string(c.method)+".safetensors")
		if err := Save(path, id); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Metadata != id.Metadata {
			t.Errorf("%s metadata: got %+v, want %+v", c.method, got.Metadata, id.Metadata)
		}
		if !slices.Equal(got.Flat(), id.Flat()) || len(got.Vectors) != len(id.Vectors) {
			t.Errorf("%s vectors differ", c.method)
		}
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if names := f.Names(); !slices.Equal(names, c.keys) {
			t.Errorf("%s file keys %v, want %v", c.method, names, c.keys)
		}
		f.Close()
	}
}

func TestExportA1111(t *testing.T) {
	dir := t.TempDir()
	ti := testIdentifier(t, MethodTI, 16, 8)
	path := filepath.Join(dir, "handstand-a1111.safetensors")
	if err := ExportA1111(path, ti); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Info(KeyEmbParams)
	if names := f.Names(); !slices.Equal(names, []string{KeyEmbParams}) || !slices.Equal(info.Shape, []int{1, 8}) {
		t.Errorf("export: keys %v shape %v, want [emb_params] [1 8]", names, info.Shape)
	}
	f.Close()
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Trigger != "<handstand>" || got.Method != MethodTI || !slices.Equal(got.Flat(), ti.Flat()) {
		t.Errorf("re-read export: %+v", got)
	}
	if err := ExportA1111(filepath.Join(dir, "x.safetensors"), testIdentifier(t, MethodADI, 16, 8)); err == nil {
		t.Errorf("exporting a layer-wise identifier gave no error")
	}

	// A diffusers learned_embeds file: one key named by the token, [D].
	v := []float32{1, 2, 3, 4}
	p2 := filepath.Join(dir, "learned_embeds.safetensors")
	if err := safetensors.Write(p2, []safetensors.Tensor{safetensors.F32Tensor("<cat-toy>", []int{4}, v)}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = Load(p2)
	if err != nil {
		t.Fatal(err)
	}
	if got.Trigger != "<cat-toy>" || !slices.Equal(got.Flat(), v) {
		t.Errorf("diffusers file read as %+v", got)
	}
	// An emb_params file without metadata takes its trigger from the file name.
	p3 := filepath.Join(dir, "salute.safetensors")
	if err := safetensors.Write(p3, []safetensors.Tensor{safetensors.F32Tensor(KeyEmbParams, []int{1, 4}, v)}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err = Load(p3); err != nil || got.Trigger != "<salute>" {
		t.Errorf("plain emb_params file: %+v, %v", got, err)
	}
}

func TestIdentifierCompat(t *testing.T) {
	id := testIdentifier(t, MethodADI, 16, 8)
	if _, err := CheckCompat(id, 768, 16, "abc123"); err == nil || !strings.Contains(err.Error(), "text width 8") {
		t.Errorf("wrong width: err %v", err)
	}
	if _, err := CheckCompat(id, 8, 12, "abc123"); err == nil {
		t.Errorf("wrong layer count: no error")
	}
	if w, err := CheckCompat(id, 8, 16, "abc123"); err != nil || w != "" {
		t.Errorf("same model: warning %q err %v", w, err)
	}
	if w, err := CheckCompat(id, 8, 16, "other"); err != nil || !strings.Contains(w, "base model") {
		t.Errorf("other model: warning %q err %v", w, err)
	}
	ti := testIdentifier(t, MethodTI, 16, 8)
	if _, err := CheckCompat(ti, 8, 16, ""); err != nil {
		t.Errorf("TI on 16 layers: %v", err)
	}
}

func TestIdentifierTruncated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.safetensors")
	if err := Save(path, testIdentifier(t, MethodADI, 16, 8)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 5, 8, 20, len(data) - 4} {
		bad := filepath.Join(dir, "bad.safetensors")
		if err := os.WriteFile(bad, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(bad); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A file with unrelated tensors is not an identifier.
	other := filepath.Join(dir, "other.safetensors")
	ts := []safetensors.Tensor{safetensors.F32Tensor("a", []int{2}, []float32{1, 2}), safetensors.F32Tensor("b", []int{2}, []float32{1, 2})}
	if err := safetensors.Write(other, ts, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(other); err == nil || !strings.Contains(err.Error(), "not an identifier") {
		t.Errorf("unrelated file: %v", err)
	}
}

// TestEncodeIsSave checks that Encode writes the bytes Save puts in a file,
// with the file's permissions readable by the user's other programs.
func TestEncodeIsSave(t *testing.T) {
	for _, m := range []Method{MethodTI, MethodADI} {
		id := testIdentifier(t, m, 16, 8)
		p := filepath.Join(t.TempDir(), "id.safetensors")
		if err := Save(p, id); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Encode(&buf, id); err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(file, buf.Bytes()) {
			t.Errorf("%s: Encode gave %d bytes, Save %d (%v)", m, buf.Len(), len(file), err)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: identifier file mode %v, %v", m, st.Mode().Perm(), err)
		}
	}
	if err := Encode(&bytes.Buffer{}, &Identifier{}); err == nil {
		t.Errorf("invalid identifier: no error")
	}
}
