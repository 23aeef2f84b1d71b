package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The VAE of the shared sd-tiny fixture, written by the Python safetensors
// library; the expected values were read with an independent JSON+struct reader.
func TestOpenFixture(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "vae.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := f.Names()
	if len(names) != 248 || !sort.StringsAreSorted(names) {
		t.Fatalf("got %d names (sorted %v), want 248 sorted", len(names), sort.StringsAreSorted(names))
	}
	if got := f.Metadata(); !reflect.DeepEqual(got, map[string]string{"format": "pt"}) {
		t.Errorf("metadata = %v", got)
	}
	cases := []struct {
		name        string
		shape       []int
		first, last float32
		sum         float64
	}{
		{"decoder.conv_in.weight", []int{32, 4, 3, 3}, -0.11656276136636734, 0.08047498017549515, 1.4413849211996421},
		{"encoder.conv_in.bias", []int{8}, 0.008982272818684578, 0.12690748274326324, 0.3310884702950716},
		{"quant_conv.weight", []int{8, 8, 1, 1}, 0.2936156690120697, -0.08390004932880402, 1.6316495374776423},
	}
	for _, c := range cases {
		info, ok := f.Info(c.name)
		if !ok || info.DType != F32 || !reflect.DeepEqual(info.Shape, c.shape) {
			t.Errorf("%s: info %+v ok=%v", c.name, info, ok)
			continue
		}
		v, shape, err := f.Float32(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(shape, c.shape) || v[0] != c.first || v[len(v)-1] != c.last {
			t.Errorf("%s: shape %v first %g last %g", c.name, shape, v[0], v[len(v)-1])
		}
		var s float64
		for _, x := range v {
			s += float64(x)
		}
		if math.Abs(s-c.sum) > 1e-9 {
			t.Errorf("%s: sum %.12g, want %.12g", c.name, s, c.sum)
		}
		raw, err := f.Bytes(c.name)
		if err != nil || len(raw) != 4*len(v) {
			t.Errorf("%s: Bytes len %d err %v", c.name, len(raw), err)
		}
	}
	if _, _, err := f.Float32("no.such.tensor"); err == nil {
		t.Error("missing tensor gave no error")
	}
	if _, _, err := f.Int64("quant_conv.weight"); err == nil {
		t.Error("Int64 of an F32 tensor gave no error")
	}
	infos := f.Infos()
	if len(infos) != 248 || infos[0].Name != names[0] || f.DataOffset() != 8+26176 {
		t.Errorf("Infos: %d entries, first %q, data offset %d", len(infos), infos[0].Name, f.DataOffset())
	}
	var total int64
	for _, in := range infos {
		total += in.End - in.Begin
	}
	if st, err := os.Stat(filepath.Join("testdata", "vae.safetensors")); err != nil || st.Size() != f.DataOffset()+total {
		t.Errorf("tensors cover %d bytes after offset %d, file size %v (%v)", total, f.DataOffset(), st.Size(), err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Bytes("quant_conv.weight"); err == nil {
		t.Error("Bytes after Close gave no error")
	}
}

func TestRoundTrip(t *testing.T) {
	halfVals := []float32{0, 1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(-1)), 0.1, float32(math.NaN())}
	tensors := []Tensor{
		F32Tensor("w", []int{2, 3}, []float32{1, 2, 3, -4, 5.5, float32(math.Inf(1))}),
		F16Tensor("half", []int{8}, halfVals),
		BF16Tensor("bf", []int{2, 2}, []float32{1, -2, 3.140625, 1e-20}),
		I64Tensor("ids", []int{1, 3}, []int64{0, -7, math.MaxInt64}),
		F32Tensor("scalar", nil, []float32{42}),
		F32Tensor("empty", []int{0, 5}, nil),
		{Name: "flags", DType: Bool, Shape: []int{3}, Data: []byte{1, 0, 2}},
		{Name: "i8", DType: I8, Shape: []int{2}, Data: []byte{0xff, 0x05}},
		{Name: "d", DType: F64, Shape: []int{1}, Data: binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1))},
	}
	meta := map[string]string{"trigger": "<handstand>", "steps": "500"}
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := Write(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata(); !reflect.DeepEqual(got, meta) {
		t.Errorf("metadata %v, want %v", got, meta)
	}
	want := []string{"bf", "d", "empty", "flags", "half", "i8", "ids", "scalar", "w"}
	if got := f.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
	check := func(name string, want []float32, shape []int) {
		t.Helper()
		got, gotShape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(shape) == 0 && len(gotShape) == 0 {
			gotShape, shape = nil, nil
		}
		if !reflect.DeepEqual(gotShape, shape) || len(got) != len(want) {
			t.Fatalf("%s: shape %v len %d, want %v len %d", name, gotShape, len(got), shape, len(want))
		}
		for i := range want {
			if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				t.Errorf("%s[%d] = %g, want %g", name, i, got[i], want[i])
			}
		}
	}
	check("w", []float32{1, 2, 3, -4, 5.5, float32(math.Inf(1))}, []int{2, 3})
	check("half", []float32{0, 1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(-1)), 0.0999755859375, float32(math.NaN())}, []int{8})
	check("bf", []float32{1, -2, 3.140625, BFloat16ToFloat32(Float32ToBFloat16(1e-20))}, []int{2, 2})
	check("scalar", []float32{42}, nil)
	check("empty", nil, []int{0, 5})
	check("flags", []float32{1, 0, 1}, []int{3})
	check("i8", []float32{-1, 5}, []int{2})
	check("d", []float32{0.1}, []int{1})
	ids, shape, err := f.Int64("ids")
	if err != nil || !reflect.DeepEqual(ids, []int64{0, -7, math.MaxInt64}) || !reflect.DeepEqual(shape, []int{1, 3}) {
		t.Errorf("ids %v shape %v err %v", ids, shape, err)
	}
	buf := make([]float32, 6)
	if err := f.Float32Into("w", buf); err != nil || buf[4] != 5.5 {
		t.Errorf("Float32Into: %v %v", buf, err)
	}
	if err := f.Float32Into("w", make([]float32, 5)); err == nil {
		t.Error("Float32Into with a short buffer gave no error")
	}
	// Data offsets must be 8-byte aligned in the file.
	raw, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(raw); (8+n)%8 != 0 {
		t.Errorf("header length %d leaves data unaligned", n)
	}
	// No temporary files may be left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Write, want 1", len(entries))
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := map[string][]Tensor{
		"duplicate":     {F32Tensor("a", []int{1}, []float32{1}), F32Tensor("a", []int{1}, []float32{2})},
		"reserved name": {F32Tensor("__metadata__", []int{1}, []float32{1})},
		"empty name":    {F32Tensor("", []int{1}, []float32{1})},
		"size mismatch": {F32Tensor("a", []int{2, 2}, []float32{1, 2, 3})},
		"bad dtype":     {{Name: "a", DType: "F12", Shape: []int{1}, Data: []byte{0}}},
		"negative dim":  {{Name: "a", DType: U8, Shape: []int{-1}, Data: nil}},
	}
	for name, ts := range cases {
		if err := Encode(&bytes.Buffer{}, ts, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A failed Write must not leave the target or a temporary file behind.
	dir := t.TempDir()
	if err := Write(filepath.Join(dir, "x.safetensors"), cases["duplicate"], nil); err == nil {
		t.Error("Write of duplicates gave no error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed Write left %d files", len(entries))
	}
}

// build assembles a file from a raw header string and a data section.
func build(hdr string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	out = append(out, hdr...)
	return append(out, data...)
}

func TestCorruptFiles(t *testing.T) {
	valid := func() []byte {
		var b bytes.Buffer
		if err := Encode(&b, []Tensor{F32Tensor("a", []int{2}, []float32{1, 2}), F32Tensor("b", []int{1}, []float32{3})}, map[string]string{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	hugeLen := binary.LittleEndian.AppendUint64(nil, 1<<62)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "shorter than"},
		{"short prefix", []byte{1, 2, 3}, "shorter than"},
		{"truncated data", valid[:len(valid)-3], "data section"},
		{"truncated header", valid[:20], "exceeds"},
		{"header length over limit", append(hugeLen, valid[8:]...), "limit"},
		{"header length past end", append(binary.LittleEndian.AppendUint64(nil, 1000), valid[8:]...), "exceeds"},
		{"not json", build("{not json}", nil), "JSON"},
		{"not an object", build("[1,2]", nil), "'{'"},
		{"trailing garbage", build(`{}xyz`, nil), "after the header"},
		{"invalid utf8", build("{\"\xff\":1}", nil), "UTF-8"},
		{"bad dtype", build(`{"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "unknown dtype"},
		{"missing field", build(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "required"},
		{"negative dim", build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "bad dimension"},
		{"fractional dim", build(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), "tensor"},
		{"shape bytes mismatch", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 8 bytes"},
		{"shape overflow", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "larger than"},
		{"offset outside", build(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}`, make([]byte, 4)), "outside"},
		{"negative offset", build(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[-4,0]}}`, make([]byte, 4)), "outside"},
		{"reversed offsets", build(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "outside"},
		{"three offsets", build(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4,8]}}`, make([]byte, 4)), "2 numbers"},
		{"overlap", build(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, make([]byte, 4)), "overlaps"},
		{"hole", build(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[3,4]}}`, make([]byte, 4)), "hole"},
		{"unused tail", build(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 4)), "cover 2 bytes"},
		{"metadata not strings", build(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"entry not object", build(`{"a":5}`, nil), "tensor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.data)
			if err == nil {
				t.Fatalf("no error; tensors %v", f.Names())
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
	// The same checks apply through Open, which must also release the mapping.
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, valid[:len(valid)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open of a truncated file: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("Open of a missing file: %v", err)
	}
}

// Zero-sized tensors may share an offset; the parser must accept them.
func TestZeroSizedTensors(t *testing.T) {
	data := build(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"c":{"dtype":"I64","shape":[3,0],"data_offsets":[2,2]}}`, []byte{7, 9})
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := f.Int64("b"); err != nil || !reflect.DeepEqual(v, []int64{7, 9}) {
		t.Errorf("b = %v, %v", v, err)
	}
}

// FuzzParse feeds arbitrary bytes to the parser and every accessor: they may
// fail but must not panic, and what parses must re-encode to an equal file.
func FuzzParse(f *testing.F) {
	var b bytes.Buffer
	_ = Encode(&b, []Tensor{F32Tensor("a", []int{2}, []float32{1, 2}), F16Tensor("h", []int{1, 1}, []float32{3}), I64Tensor("i", []int{1}, []int64{5})}, map[string]string{"k": "v"})
	f.Add(b.Bytes())
	f.Add(build(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, make([]byte, 4)))
	f.Add(build(`{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(build(`{"__metadata__":{"a":"b"}}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if vae, err := os.ReadFile(filepath.Join("testdata", "vae.safetensors")); err == nil {
		n := binary.LittleEndian.Uint64(vae)
		f.Add(vae[:8+n+64]) // header of a real file with a truncated data section
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		var tensors []Tensor
		for _, name := range file.Names() {
			info, _ := file.Info(name)
			raw, err := file.Bytes(name)
			if err != nil || int64(len(raw)) != info.End-info.Begin {
				t.Fatalf("%s: Bytes %d, %v", name, len(raw), err)
			}
			_, _, _ = file.Float32(name)
			_, _, _ = file.Int64(name)
			tensors = append(tensors, Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: raw})
		}
		var out bytes.Buffer
		if err := Encode(&out, tensors, file.Metadata()); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(again.Names(), file.Names()) {
			t.Fatalf("names changed: %v -> %v", file.Names(), again.Names())
		}
	})
}

func BenchmarkFloat32FromF32(b *testing.B) {
	vals := make([]float32, 1<<20)
	var buf bytes.Buffer
	if err := Encode(&buf, []Tensor{F32Tensor("x", []int{len(vals)}, vals)}, nil); err != nil {
		b.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, len(vals))
	b.SetBytes(int64(4 * len(vals)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.Float32Into("x", dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloat16ToFloat32(b *testing.B) {
	var tensors []Tensor
	vals := make([]float32, 1<<20)
	for i := range vals {
		vals[i] = float32(i%2000) / 1000
	}
	tensors = append(tensors, F16Tensor("x", []int{len(vals)}, vals))
	var buf bytes.Buffer
	if err := Encode(&buf, tensors, nil); err != nil {
		b.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, len(vals))
	b.SetBytes(int64(2 * len(vals)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.Float32Into("x", dst); err != nil {
			b.Fatal(err)
		}
	}
}
