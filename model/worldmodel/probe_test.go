package worldmodel

import (
	"bytes"
	"strings"
	"testing"

	"kata/model/backend"
	"kata/model/sd"
	"kata/model/sd/sdtest"
)

// TestProbe runs the probe on the tiny fixture model (random weights: the
// gains mean nothing). It checks that the captions reach the UNet (random
// weights still predict differently with and without them), that a seed
// repeats its numbers, that one-step predictions come back for every row,
// and that bad arguments are refused.
func TestProbe(t *testing.T) {
	be, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	m, err := sd.Load(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	ts := []int{50, 950}
	rep, err := Probe(be, m, 3, 2, ts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != len(ts) || len(rep.Denoised) != 2*len(ts) || len(rep.Renders) != 2 || len(rep.Captions) != 2 {
		t.Fatalf("report sized %d rows, %d denoised rows, %d renders", len(rep.Rows), len(rep.Denoised), len(rep.Renders))
	}
	for i, row := range rep.Rows {
		if row.Timestep != ts[i] || !(row.Caption > 0) || !(row.Empty > 0) {
			t.Errorf("row %d: %+v", i, row)
		}
		if row.Caption == row.Empty {
			t.Errorf("timestep %d: the same loss with and without captions (%g): captions do not reach the UNet", row.Timestep, row.Caption)
		}
	}
	for i, imgs := range rep.Denoised {
		if len(imgs) != 2 || imgs[0].Bounds().Dx() != m.NativeSize() {
			t.Errorf("denoised row %d: %d images", i, len(imgs))
		}
	}
	again, err := Probe(be, m, 3, 2, ts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Rows[0] != rep.Rows[0] || again.Captions[1] != rep.Captions[1] {
		t.Errorf("same seed, different probe: %+v vs %+v", again.Rows[0], rep.Rows[0])
	}
	var buf bytes.Buffer
	if err := rep.Format(&buf); err != nil || !strings.Contains(buf.String(), "gain") || strings.Count(buf.String(), "\n") != 2+len(ts) {
		t.Errorf("format: %v\n%s", err, buf.String())
	}
	for _, c := range []struct {
		n  int
		ts []int
	}{{0, ts}, {65, ts}, {2, []int{-1}}, {2, []int{1000}}} {
		if _, err := Probe(be, m, 3, c.n, c.ts); err == nil {
			t.Errorf("n %d timesteps %v: no error", c.n, c.ts)
		}
	}
}
