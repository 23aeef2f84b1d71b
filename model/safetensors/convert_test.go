package safetensors

import (
	"bytes"
	"math"
	"testing"
)

func TestFloat16ToFloat32Known(t *testing.T) {
	cases := []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},                     // largest normal
		{0x0400, math.Ldexp(1, -14)},        // smallest normal
		{0x0001, math.Ldexp(1, -24)},        // smallest subnormal
		{0x03ff, 1023 * math.Ldexp(1, -24)}, // largest subnormal
		{0x8001, -math.Ldexp(1, -24)},
		{0x7c00, math.Inf(1)},
		{0xfc00, math.Inf(-1)},
	}
	for _, c := range cases {
		got := Float16ToFloat32(c.bits)
		if float64(got) != c.want {
			t.Errorf("Float16ToFloat32(%#04x) = %g, want %g", c.bits, got, c.want)
		}
	}
	if neg := Float16ToFloat32(0x8000); neg != 0 || !math.Signbit(float64(neg)) {
		t.Errorf("0x8000 should be -0, got %g", neg)
	}
	for _, b := range []uint16{0x7e00, 0x7c01, 0xfe00, 0x7fff} {
		if v := Float16ToFloat32(b); !math.IsNaN(float64(v)) {
			t.Errorf("Float16ToFloat32(%#04x) = %g, want NaN", b, v)
		}
	}
}

// Every half value must survive half -> float32 -> half unchanged.
func TestFloat16RoundTripAll(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := Float16ToFloat32(h)
		back := Float32ToFloat16(f)
		if math.IsNaN(float64(f)) {
			if back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back != h {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, back)
		}
	}
}

func TestFloat32ToFloat16Rounding(t *testing.T) {
	cases := []struct {
		in   float64
		want uint16
	}{
		{65519, 0x7bff},                                   // rounds down to the largest normal
		{65520, 0x7c00},                                   // tie between 65504 and 65536: even is infinity
		{1e10, 0x7c00},                                    // overflow
		{-1e10, 0xfc00},                                   // negative overflow
		{1 + math.Ldexp(1, -11), 0x3c00},                  // tie, even mantissa stays
		{1 + 3*math.Ldexp(1, -11), 0x3c02},                // tie, odd mantissa rounds up
		{1 + math.Ldexp(1, -11) + 1e-7, 0x3c01},           // just above the tie
		{math.Ldexp(1, -25), 0x0000},                      // tie to even: zero
		{math.Ldexp(1.0001, -25), 0x0001},                 // above the tie: smallest subnormal
		{math.Ldexp(3, -25), 0x0002},                      // 1.5 ulp ties to even 2
		{math.Ldexp(1, -26), 0x0000},                      // underflow
		{math.Ldexp(1, -14) - math.Ldexp(1, -25), 0x0400}, // rounds up into the smallest normal
		{math.Ldexp(1, -130), 0x0000},                     // float32 subnormal input
	}
	for _, c := range cases {
		if got := Float32ToFloat16(float32(c.in)); got != c.want {
			t.Errorf("Float32ToFloat16(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if got := Float32ToFloat16(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("NaN -> %#04x, not a NaN", got)
	}
}

func TestBFloat16(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{float32(math.Inf(1)), 0x7f80},
		{1 + 1.0/256, 0x3f80},                  // tie (bit 16 is 0): stays even
		{1 + 3.0/256, 0x3f82},                  // tie with odd low bit: rounds up
		{math.MaxFloat32, 0x7f80},              // rounds up to infinity
		{float32(math.Ldexp(1, -133)), 0x0001}, // float32 subnormal keeps its top bits
	}
	for _, c := range cases {
		if got := Float32ToBFloat16(c.in); got != c.want {
			t.Errorf("Float32ToBFloat16(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if v := BFloat16ToFloat32(0x4049); v != 3.140625 {
		t.Errorf("BFloat16ToFloat32(0x4049) = %g, want 3.140625", v)
	}
	if v := BFloat16ToFloat32(Float32ToBFloat16(float32(math.NaN()))); !math.IsNaN(float64(v)) {
		t.Errorf("bf16 NaN round trip gave %g", v)
	}
}

func TestFloat8(t *testing.T) {
	e4m3 := []struct {
		in   uint8
		want float64
	}{
		{0x38, 1},   // exponent 7 = bias
		{0x7e, 448}, // largest finite
		{0x01, 1.0 / 512},
		{0xb8, -1},
		{0x40, 2},
	}
	for _, c := range e4m3 {
		if got := Float8E4M3ToFloat32(c.in); float64(got) != c.want {
			t.Errorf("Float8E4M3ToFloat32(%#02x) = %g, want %g", c.in, got, c.want)
		}
	}
	if !math.IsNaN(float64(Float8E4M3ToFloat32(0x7f))) {
		t.Error("E4M3 0x7f should be NaN")
	}
	if got := Float8E5M2ToFloat32(0x3c); got != 1 {
		t.Errorf("Float8E5M2ToFloat32(0x3c) = %g, want 1", got)
	}
	if got := Float8E5M2ToFloat32(0x7c); !math.IsInf(float64(got), 1) {
		t.Errorf("Float8E5M2ToFloat32(0x7c) = %g, want +Inf", got)
	}
}

// Every half bit pattern read through a file must equal the direct
// conversion, bit for bit (NaN payloads included).
func TestF16FileAllPatterns(t *testing.T) {
	raw := make([]byte, 2<<16)
	for i := 0; i < 1<<16; i++ {
		raw[2*i], raw[2*i+1] = byte(i), byte(i>>8)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, []Tensor{{Name: "h", DType: F16, Shape: []int{1 << 16}, Data: raw}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := f.Float32("h")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if math.Float32bits(v) != math.Float32bits(Float16ToFloat32(uint16(i))) {
			t.Fatalf("pattern %#04x: %g", i, v)
		}
	}
}
