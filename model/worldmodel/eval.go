package worldmodel

import (
	"context"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"slices"
	"sync"

	"kata/model/parallel"
	"kata/model/world"
	"kata/model/world/judge"
)

// Eval streams and seeds. The prompts' scenes come from their own PCG
// stream (training draws from sdtrain's, keyed by the training seed), and
// the sampler seeds start at EvalSeedBase, far above anything a training
// preview uses (seeds 1-8), so no evaluated image shares a seed with one
// drawn in training.
const (
	evalStream   = 0x6576616c // "eval"
	EvalSeedBase = 1 << 32
)

// EvalPrompt is one held-out prompt of `kata world eval`: the scene it
// describes (what the judges must read back), its caption and the sampler
// seed of its image.
type EvalPrompt struct {
	Scene  world.Scene
	Prompt string
	Seed   uint64
}

// EvalPrompts returns n prompts that each name a kind, a colour, one of
// world.CommonActions and a background (world.Caption of a random scene
// whose action is common), and then free prompts that name no action
// (world.Caption of a scene with a benchmark action, which captions never
// name). The same seed gives the same prompts.
func EvalPrompts(seed uint64, n, free int) (named, unnamed []EvalPrompt) {
	rng := rand.New(rand.NewPCG(seed, evalStream))
	draw := func(i int, actions []string) EvalPrompt {
		s := world.RandomScene(rng)
		s.Action = actions[rng.IntN(len(actions))]
		return EvalPrompt{Scene: s, Prompt: world.Caption(s, rng), Seed: EvalSeedBase + seed*1_000_000 + uint64(i)}
	}
	for i := range n {
		named = append(named, draw(i, world.CommonActions))
	}
	for i := range free {
		unnamed = append(unnamed, draw(n+i, world.BenchmarkActions))
	}
	return named, unnamed
}

// EvalReport is what `kata world eval` measured: how often the judges read
// back the prompted kind, colour and action (Named), and how often each
// action appears among the images of prompts naming none (Poses, counts in
// judge.WorldVocabulary's action order, over Free images).
type EvalReport struct {
	Named, Free                int
	Kind, Color, Action, Total int // right answers among the Named images (Total: all three)
	Actions                    []string
	Poses                      []int
	// Verdicts are the judges' readings, Named images first.
	Verdicts []judge.Verdict
	// Images are the Named prompts' images, in their order.
	Images []image.Image
}

// Generator draws the image of one prompt.
type Generator func(ctx context.Context, p EvalPrompt) (image.Image, error)

// Evaluate draws every prompt with gen, up to width at once (gen must then
// be safe for concurrent use; width <= 1 draws them in order), and judges
// the images in batches of 32; progress (may be nil) is called after each
// image with the count done, one call at a time.
func Evaluate(ctx context.Context, gen Generator, width int, j *judge.Judges, named, free []EvalPrompt, progress func(done, total int)) (*EvalReport, error) {
	if !j.Vocab.Equal(judge.WorldVocabulary()) {
		return nil, fmt.Errorf("world eval: the judges' vocabulary differs from this Kata World's")
	}
	all := slices.Concat(named, free)
	r := &EvalReport{Named: len(named), Free: len(free), Actions: j.Vocab.Actions, Poses: make([]int, len(j.Vocab.Actions))}
	const batch = 32
	var (
		mu   sync.Mutex
		done int
	)
	for start := 0; start < len(all); start += batch {
		imgs := make([]image.Image, min(batch, len(all)-start))
		err := parallel.ForWidth(len(imgs), width, func(k int) error {
			i := start + k
			if err := ctx.Err(); err != nil {
				return err
			}
			img, err := gen(ctx, all[i])
			if err != nil {
				return fmt.Errorf("world eval: prompt %d %q: %w", i, all[i].Prompt, err)
			}
			imgs[k] = img
			mu.Lock()
			defer mu.Unlock()
			if done++; progress != nil {
				progress(done, len(all))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		vs, err := j.Classify(imgs)
		if err != nil {
			return nil, err
		}
		r.Verdicts = append(r.Verdicts, vs...)
		for k, img := range imgs {
			if start+k < len(named) {
				r.Images = append(r.Images, img)
			}
		}
	}
	for i, v := range r.Verdicts {
		p := all[i]
		if i >= len(named) {
			r.Poses[slices.Index(r.Actions, v.Action)]++
			continue
		}
		kind, color, action := v.Kind == p.Scene.Kind, v.Color == p.Scene.Color, v.Action == p.Scene.Action
		r.Kind += b2i(kind)
		r.Color += b2i(color)
		r.Action += b2i(action)
		r.Total += b2i(kind && color && action)
	}
	return r, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Targets of the built-in model on the named prompts, in percent (the
// built-in model issue): kind, colour, common action.
const (
	TargetKind   = 90
	TargetColor  = 85
	TargetAction = 80
)

// Format writes the report as plain text: the three accuracies beside their
// targets, then the share of every action among the free prompts' images,
// the benchmark actions marked.
func (r *EvalReport) Format(w io.Writer) error {
	pct := func(k, n int) float64 { return 100 * float64(k) / float64(max(n, 1)) }
	verdict := func(p float64, target int) string {
		if p >= float64(target) {
			return "meets"
		}
		return "BELOW"
	}
	k, c, a := pct(r.Kind, r.Named), pct(r.Color, r.Named), pct(r.Action, r.Named)
	fmt.Fprintf(w, "%d prompts naming a kind, colour, common action and background:\n", r.Named)
	fmt.Fprintf(w, "  kind right    %5.1f%%  (target >= %d%%: %s)\n", k, TargetKind, verdict(k, TargetKind))
	fmt.Fprintf(w, "  colour right  %5.1f%%  (target >= %d%%: %s)\n", c, TargetColor, verdict(c, TargetColor))
	fmt.Fprintf(w, "  action right  %5.1f%%  (target >= %d%%: %s)\n", a, TargetAction, verdict(a, TargetAction))
	fmt.Fprintf(w, "  all three     %5.1f%%\n", pct(r.Total, r.Named))
	if r.Free == 0 {
		return nil
	}
	fmt.Fprintf(w, "%d prompts naming no action: share of each pose the judges read (* benchmark action)\n", r.Free)
	for i, name := range r.Actions {
		mark := " "
		if world.IsBenchmark(name) {
			mark = "*"
		}
		if _, err := fmt.Fprintf(w, "  %s %-10s %5.1f%%  (%d)\n", mark, name, pct(r.Poses[i], r.Free), r.Poses[i]); err != nil {
			return err
		}
	}
	return nil
}
