package judge

import (
	"fmt"
	"image"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/disintegration/imaging"
	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/safetensors"
)

// Vocabulary names the classes of the judges' heads, in head order.
type Vocabulary struct {
	Kinds, Colors, Actions []string
}

// Validate reports a vocabulary the heads cannot have: fewer than two names
// in a list, or an empty or repeated name, or a comma (the file separator).
func (v Vocabulary) Validate() error {
	for _, l := range []struct {
		what  string
		names []string
	}{{"kinds", v.Kinds}, {"colors", v.Colors}, {"actions", v.Actions}} {
		if len(l.names) < 2 {
			return fmt.Errorf("vocabulary: %d %s, want at least 2", len(l.names), l.what)
		}
		seen := map[string]bool{}
		for _, n := range l.names {
			if n == "" || strings.Contains(n, ",") || seen[n] {
				return fmt.Errorf("vocabulary: bad or repeated %s name %q", l.what, n)
			}
			seen[n] = true
		}
	}
	return nil
}

// Equal reports whether v and o list the same names in the same order.
func (v Vocabulary) Equal(o Vocabulary) bool {
	return slices.Equal(v.Kinds, o.Kinds) && slices.Equal(v.Colors, o.Colors) && slices.Equal(v.Actions, o.Actions)
}

// Label is one image's classes as indexes into a Vocabulary.
type Label struct {
	Kind, Color, Action int
}

// Scopes of the two networks in a Judges context and in weight files.
const (
	ScopePose    = "pose"
	ScopeSubject = "subject"
)

// Judges holds the pose judge (one head over Vocab.Actions) and the subject
// judge (heads over Vocab.Kinds and Vocab.Colors) with their weights.
type Judges struct {
	Vocab   Vocabulary
	Widths  []int // convolution widths of both networks (Net.Widths)
	Stem    int   // stem width of the subject judge (Net.Stem; 0: none)
	ctx     *context.Context
	backend backends.Backend
	exec    *context.Exec
}

// DefaultStem is the subject judge's stem width (Net.Stem) in the shipped
// judges: kinds differ in small parts that a first stride-2 layer blurs.
const DefaultStem = 16

// New returns judges for vocab with fresh He-normal weights drawn from seed
// (see Net.Init); widths nil means DefaultWidths, stem 0 DefaultStem and a
// negative stem none.
func New(backend backends.Backend, vocab Vocabulary, widths []int, stem int, seed uint64) (*Judges, error) {
	j, err := newJudges(backend, vocab, widths, stemOrDefault(stem), context.New())
	if err != nil {
		return nil, err
	}
	j.init(seed)
	return j, nil
}

// stemOrDefault maps New's stem argument to a Net.Stem.
func stemOrDefault(stem int) int {
	switch {
	case stem == 0:
		return DefaultStem
	case stem < 0:
		return 0
	}
	return stem
}

func newJudges(backend backends.Backend, vocab Vocabulary, widths []int, stem int, ctx *context.Context) (*Judges, error) {
	if err := vocab.Validate(); err != nil {
		return nil, err
	}
	if len(widths) == 0 {
		widths = DefaultWidths
	}
	j := &Judges{Vocab: vocab, Widths: slices.Clone(widths), Stem: stem, ctx: ctx, backend: backend}
	for _, n := range []Net{j.PoseNet(), j.SubjectNet()} {
		if err := n.Validate(); err != nil {
			return nil, err
		}
	}
	return j, nil
}

func (j *Judges) init(seed uint64) {
	rng := newRand(seed, 0)
	j.PoseNet().Init(j.ctx.In(ScopePose), rng)
	j.SubjectNet().Init(j.ctx.In(ScopeSubject), rng)
}

// PoseNet is the pose judge's layout: one head over Vocab.Actions.
func (j *Judges) PoseNet() Net { return Net{Widths: j.Widths, Heads: []int{len(j.Vocab.Actions)}} }

// SubjectNet is the subject judge's layout: heads over Vocab.Kinds, Vocab.Colors.
func (j *Judges) SubjectNet() Net {
	return Net{Widths: j.Widths, Heads: []int{len(j.Vocab.Kinds), len(j.Vocab.Colors)}, Stem: j.Stem}
}

// logits builds both networks on images [B, Size, Size, 3] and returns the
// logits [B, classes] of the kind, colour and action heads, in that order.
func (j *Judges) logits(ctx *context.Context, images *Node) (kind, color, action *Node) {
	pose := j.PoseNet().Logits(ctx.In(ScopePose), images)
	subject := j.SubjectNet().Logits(ctx.In(ScopeSubject), images)
	return subject[0], subject[1], pose[0]
}

// Verdict is what the judges read in one image: the most likely kind, colour
// and action and the probability the judges give each (softmax of the head).
type Verdict struct {
	Kind, Color, Action                string
	KindP, ColorP, ActionP             float64
	KindProbs, ColorProbs, ActionProbs []float32 // full distributions, in Vocab order
}

// Classify judges images of any size (each is fitted to Size, see Fit). The
// probabilities are the mean of the heads' answers for the image and for its
// mirror image: the world draws every action facing either way (Scene.Flip),
// so both views show the same kind, colour and action.
func (j *Judges) Classify(images []image.Image) ([]Verdict, error) {
	n := len(images)
	views := make([]image.Image, 2*n)
	for i, img := range images {
		if img == nil || img.Bounds().Empty() {
			return nil, fmt.Errorf("judge: image %d is empty", i)
		}
		f := Fit(img)
		views[i], views[n+i] = f, imaging.FlipH(f)
	}
	x, err := Tensor(views)
	if err != nil {
		return nil, err
	}
	if j.exec == nil {
		j.exec, err = context.NewExec(j.backend, j.ctx.Reuse(), func(ctx *context.Context, images *Node) (*Node, *Node, *Node) {
			k, c, a := j.logits(ctx, images)
			return Softmax(k), Softmax(c), Softmax(a)
		})
		if err != nil {
			return nil, fmt.Errorf("judge: compile: %w", err)
		}
	}
	outs, err := j.exec.Exec(x)
	if err != nil {
		return nil, fmt.Errorf("judge: classify: %w", err)
	}
	probs := make([][]float32, 3)
	for i, o := range outs {
		if probs[i], err = tensors.CopyFlatData[float32](o); err != nil {
			return nil, fmt.Errorf("judge: classify: %w", err)
		}
	}
	nk, nc, na := len(j.Vocab.Kinds), len(j.Vocab.Colors), len(j.Vocab.Actions)
	mean := func(p []float32, i, classes int) []float32 {
		m := make([]float32, classes)
		for c := range m {
			m[c] = (p[i*classes+c] + p[(n+i)*classes+c]) / 2
		}
		return m
	}
	vs := make([]Verdict, n)
	for i := range vs {
		v := &vs[i]
		v.KindProbs = mean(probs[0], i, nk)
		v.ColorProbs = mean(probs[1], i, nc)
		v.ActionProbs = mean(probs[2], i, na)
		var k, c, a int
		k, v.KindP = argmax(v.KindProbs)
		c, v.ColorP = argmax(v.ColorProbs)
		a, v.ActionP = argmax(v.ActionProbs)
		v.Kind, v.Color, v.Action = j.Vocab.Kinds[k], j.Vocab.Colors[c], j.Vocab.Actions[a]
	}
	return vs, nil
}

func argmax(p []float32) (int, float64) {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best, float64(p[best])
}

// Weight files: the variables of both networks as safetensors, named by
// scope ("pose/conv0/weight"), with the vocabulary and widths in metadata.
const (
	metaFormat  = "format"
	formatName  = "kata-world-judges"
	metaVersion = "version"
	// FormatVersion is the weight-file layout version Save writes and Load reads.
	FormatVersion = 1
)

// weightTensors returns the networks' variables as safetensors entries, f16
// when half is set (else f32).
func (j *Judges) weightTensors(half bool) ([]safetensors.Tensor, error) {
	var ts []safetensors.Tensor
	for _, scope := range []string{ScopePose, ScopeSubject} {
		for v := range j.ctx.In(scope).IterVariablesInScope() {
			t, err := v.Value()
			if err != nil {
				return nil, fmt.Errorf("variable %s: %w", v.ScopeAndName(), err)
			}
			data, err := tensors.CopyFlatData[float32](t)
			if err != nil {
				return nil, fmt.Errorf("variable %s: %w", v.ScopeAndName(), err)
			}
			name := strings.TrimPrefix(v.ScopeAndName(), context.ScopeSeparator)
			if half {
				ts = append(ts, safetensors.F16Tensor(name, t.Shape().Dimensions, data))
			} else {
				ts = append(ts, safetensors.F32Tensor(name, t.Shape().Dimensions, data))
			}
		}
	}
	return ts, nil
}

func (j *Judges) metadata() map[string]string {
	ws := make([]string, len(j.Widths))
	for i, w := range j.Widths {
		ws[i] = strconv.Itoa(w)
	}
	return map[string]string{
		metaFormat:  formatName,
		metaVersion: strconv.Itoa(FormatVersion),
		"kinds":     strings.Join(j.Vocab.Kinds, ","),
		"colors":    strings.Join(j.Vocab.Colors, ","),
		"actions":   strings.Join(j.Vocab.Actions, ","),
		"widths":    strings.Join(ws, ","),
		"stem":      strconv.Itoa(j.Stem),
		"size":      strconv.Itoa(Size),
	}
}

// Save writes the judges' weights to path atomically, as float16 when half is
// set (half the size; the judges read f16 and f32 files alike), else float32.
func (j *Judges) Save(path string, half bool) error {
	ts, err := j.weightTensors(half)
	if err != nil {
		return fmt.Errorf("save judges %s: %w", path, err)
	}
	if err := safetensors.Write(path, ts, j.metadata()); err != nil {
		return fmt.Errorf("save judges %s: %w", path, err)
	}
	return nil
}

// Load reads judges from a weight file held in memory (e.g. assets.Judges).
func Load(backend backends.Backend, data []byte) (*Judges, error) {
	f, err := safetensors.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load judges: %w", err)
	}
	j, err := load(backend, f)
	if err != nil {
		return nil, fmt.Errorf("load judges: %w", err)
	}
	return j, nil
}

// LoadFile reads judges from a weight file written by Save.
func LoadFile(backend backends.Backend, path string) (*Judges, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load judges: %w", err)
	}
	defer f.Close()
	j, err := load(backend, f)
	if err != nil {
		return nil, fmt.Errorf("load judges %s: %w", path, err)
	}
	return j, nil
}

func load(backend backends.Backend, f *safetensors.File) (*Judges, error) {
	meta := f.Metadata()
	if meta[metaFormat] != formatName {
		return nil, fmt.Errorf("not a Kata judges file (format %q)", meta[metaFormat])
	}
	if v, _ := strconv.Atoi(meta[metaVersion]); v != FormatVersion {
		return nil, fmt.Errorf("judges file version %q, this Kata reads %d", meta[metaVersion], FormatVersion)
	}
	if s, _ := strconv.Atoi(meta["size"]); s != Size {
		return nil, fmt.Errorf("judges for %sx%s images, this Kata uses %d", meta["size"], meta["size"], Size)
	}
	var widths []int
	for _, s := range strings.Split(meta["widths"], ",") {
		w, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("widths %q: %w", meta["widths"], err)
		}
		widths = append(widths, w)
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	vocab := Vocabulary{Kinds: split(meta["kinds"]), Colors: split(meta["colors"]), Actions: split(meta["actions"])}
	stem := 0 // files without the key have no stem
	if s, ok := meta["stem"]; ok {
		var err error
		if stem, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("stem %q: %w", s, err)
		}
	}
	j, err := newJudges(backend, vocab, widths, stem, context.New())
	if err != nil {
		return nil, err
	}
	want := j.expectedShapes()
	for _, name := range f.Names() {
		shape, ok := want[name]
		if !ok {
			return nil, fmt.Errorf("unexpected tensor %s", name)
		}
		data, got, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		if !slices.Equal(got, shape) {
			return nil, fmt.Errorf("tensor %s shaped %v, want %v", name, got, shape)
		}
		for _, x := range data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("tensor %s holds a non-finite value", name)
			}
		}
		scope, vname := splitName(name)
		j.ctx.InAbsPath(scope).VariableWithValue(vname, tensors.FromFlatDataAndDimensions(data, shape...)).SetTrainable(false)
		delete(want, name)
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for n := range want {
			missing = append(missing, n)
		}
		slices.Sort(missing)
		return nil, fmt.Errorf("%d tensors missing: %s", len(missing), strings.Join(missing, ", "))
	}
	return j, nil
}

// expectedShapes lists every weight name of both networks with its shape,
// as Init creates them.
func (j *Judges) expectedShapes() map[string][]int {
	tmp := context.New()
	rng := newRand(0, 0)
	j.PoseNet().Init(tmp.In(ScopePose), rng)
	j.SubjectNet().Init(tmp.In(ScopeSubject), rng)
	out := map[string][]int{}
	for v := range tmp.IterVariables() {
		out[strings.TrimPrefix(v.ScopeAndName(), context.ScopeSeparator)] = v.Shape().Dimensions
	}
	return out
}

// splitName turns "pose/conv0/weight" into the absolute scope "/pose/conv0"
// and the variable name "weight".
func splitName(name string) (scope, variable string) {
	i := strings.LastIndex(name, "/")
	return context.ScopeSeparator + name[:i], name[i+1:]
}
