package adi

import (
	"bytes"
	"math"
	"testing"

	"kata/model/safetensors"
)

// FuzzIdentifierFile feeds arbitrary bytes as an identifier file: decoding
// must not panic, and what it accepts is a valid identifier with finite
// values.
func FuzzIdentifierFile(f *testing.F) {
	var buf bytes.Buffer
	id := &Identifier{Metadata: Metadata{Trigger: "<sit>", Method: MethodTI}, Vectors: [][]float32{{0.1, -0.2, 0.3, 0.4}}}
	if err := Encode(&buf, id); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	safetensors.Encode(&buf, []safetensors.Tensor{safetensors.F32Tensor("<x>", []int{4}, []float32{1, float32(math.NaN()), 0, 0})}, nil)
	f.Add(buf.Bytes())
	f.Add([]byte("\x08\x00\x00\x00\x00\x00\x00\x00{}      "))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := safetensors.Parse(data)
		if err != nil {
			return
		}
		id, err := decode(sf, "fuzz.safetensors")
		if err != nil {
			return
		}
		if err := id.Validate(0); err != nil {
			t.Fatalf("decoded an invalid identifier: %v", err)
		}
	})
}
