package judge

import (
	stdcontext "context"
	"image"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestConfusionAccuracy(t *testing.T) {
	tests := []struct {
		counts [][]int
		want   float64
	}{
		{[][]int{{0, 0}, {0, 0}}, 0},
		{[][]int{{3, 1}, {0, 4}}, 7.0 / 8},
		{[][]int{{0, 2}, {2, 0}}, 0},
	}
	for _, tc := range tests {
		c := &Confusion{Names: []string{"a", "b"}, Counts: tc.counts}
		if got := c.Accuracy(); got != tc.want {
			t.Errorf("Accuracy(%v) = %v, want %v", tc.counts, got, tc.want)
		}
	}
}

// TestTrainThenEvaluate trains small judges on the toy world and checks that
// they read held-out toy images well: the loop, the heads and Evaluate agree.
func TestTrainThenEvaluate(t *testing.T) {
	be := testBackend(t)
	j, err := Train(stdcontext.Background(), be, toyWorld{}, TrainOptions{
		Steps: 80, Batch: 16, LR: 3e-3, Seed: 4, Widths: []int{8, 16, 16}, Stem: -1, Dir: t.TempDir(), Augment: &Augmentation{}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Evaluate(j, toyWorld{}, 150, false)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Format(&b); err != nil {
		t.Fatal(err)
	}
	t.Log(b.String())
	for _, c := range []*Confusion{r.Kind, r.Color, r.Action} {
		sum := 0
		for _, row := range c.Counts {
			for _, n := range row {
				sum += n
			}
		}
		if sum != 150 {
			t.Fatalf("%v: %d judgements, want 150", c.Names, sum)
		}
		if a := c.Accuracy(); a < 0.9 {
			t.Errorf("%v: held-out accuracy %.3f after training, want >= 0.9", c.Names, a)
		}
	}
	if !strings.Contains(b.String(), "| pose (action) |") {
		t.Fatalf("report lacks the accuracy table:\n%s", b.String())
	}
	other := toyWorld{}.Vocabulary()
	other.Actions = []string{"x", "y", "z"}
	if _, err := Evaluate(j, renamed{other}, 10, false); err == nil {
		t.Fatal("a source with another vocabulary was accepted")
	}
	if _, err := Train(stdcontext.Background(), be, toyWorld{}, TrainOptions{Seed: HeldOutSeed, Dir: t.TempDir()}); err == nil {
		t.Fatal("training with the held-out seed was accepted")
	}
}

// renamed is the toy world under another vocabulary.
type renamed struct{ v Vocabulary }

func (r renamed) Vocabulary() Vocabulary { return r.v }
func (r renamed) Draw(rng *rand.Rand) (image.Image, Label) {
	return toyWorld{}.Draw(rng)
}
