package judge

import (
	"fmt"
	"image"
	"io"
	"strings"
)

// HeldOutSeed is the PCG seed of evaluation draws: image i of an evaluation
// comes from PCG(HeldOutSeed, i), and Train refuses this seed, so held-out
// images never share a random stream with training batches.
const HeldOutSeed = 0x68656c646f7574 // "heldout"

// Confusion counts judgements: Counts[true][predicted].
type Confusion struct {
	Names  []string
	Counts [][]int
}

func newConfusion(names []string) *Confusion {
	c := &Confusion{Names: names, Counts: make([][]int, len(names))}
	for i := range c.Counts {
		c.Counts[i] = make([]int, len(names))
	}
	return c
}

// Accuracy is the fraction of judgements on the diagonal (0 when empty).
func (c *Confusion) Accuracy() float64 {
	right, all := 0, 0
	for i, row := range c.Counts {
		for j, n := range row {
			all += n
			if i == j {
				right += n
			}
		}
	}
	if all == 0 {
		return 0
	}
	return float64(right) / float64(all)
}

// Report is an evaluation of judges on held-out images.
type Report struct {
	Images              int
	Augmented           bool // images were disturbed with DefaultAugmentation
	Kind, Color, Action *Confusion
}

// Evaluate judges n images drawn from src with PCG(HeldOutSeed, i), i < n,
// clean or, with augmented, disturbed by DefaultAugmentation as in training.
// Images are judged in chunks of 64.
func Evaluate(j *Judges, src Source, n int, augmented bool) (*Report, error) {
	if n < 1 {
		return nil, fmt.Errorf("evaluate judges: %d images", n)
	}
	if !src.Vocabulary().Equal(j.Vocab) {
		return nil, fmt.Errorf("evaluate judges: the source's vocabulary differs from the judges' (%v vs %v)", src.Vocabulary(), j.Vocab)
	}
	r := &Report{Images: n, Augmented: augmented,
		Kind: newConfusion(j.Vocab.Kinds), Color: newConfusion(j.Vocab.Colors), Action: newConfusion(j.Vocab.Actions)}
	aug := DefaultAugmentation()
	const chunk = 64
	for first := 0; first < n; first += chunk {
		var imgs []image.Image
		var labels []Label
		for i := first; i < min(n, first+chunk); i++ {
			rng := newRand(HeldOutSeed, uint64(i))
			img, l := src.Draw(rng)
			if augmented {
				img = Augment(Fit(img), aug, rng)
			}
			imgs, labels = append(imgs, img), append(labels, l)
		}
		vs, err := j.Classify(imgs)
		if err != nil {
			return nil, fmt.Errorf("evaluate judges: %w", err)
		}
		for i, v := range vs {
			l := labels[i]
			r.Kind.Counts[l.Kind][index(j.Vocab.Kinds, v.Kind)]++
			r.Color.Counts[l.Color][index(j.Vocab.Colors, v.Color)]++
			r.Action.Counts[l.Action][index(j.Vocab.Actions, v.Action)]++
		}
	}
	return r, nil
}

func index(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// Format writes the accuracies and the three confusion matrices as
// Markdown tables (rows: true class, columns: predicted).
func (r *Report) Format(w io.Writer) error {
	var b strings.Builder
	kind := "clean renders"
	if r.Augmented {
		kind = "renders with the training augmentations"
	}
	fmt.Fprintf(&b, "%d held-out %s (PCG seed %#x, streams 0..%d)\n\n", r.Images, kind, HeldOutSeed, r.Images-1)
	fmt.Fprintf(&b, "| judge | accuracy |\n|---|---|\n")
	fmt.Fprintf(&b, "| pose (action) | %.2f%% |\n| kind | %.2f%% |\n| colour | %.2f%% |\n\n",
		100*r.Action.Accuracy(), 100*r.Kind.Accuracy(), 100*r.Color.Accuracy())
	for _, c := range []struct {
		title string
		m     *Confusion
	}{{"action", r.Action}, {"kind", r.Kind}, {"colour", r.Color}} {
		fmt.Fprintf(&b, "Confusion, %s (rows true, columns predicted):\n\n| |", c.title)
		for _, n := range c.m.Names {
			fmt.Fprintf(&b, " %s |", n)
		}
		b.WriteString("\n|---|")
		for range c.m.Names {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for i, row := range c.m.Counts {
			fmt.Fprintf(&b, "| %s |", c.m.Names[i])
			for _, n := range row {
				fmt.Fprintf(&b, " %d |", n)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
