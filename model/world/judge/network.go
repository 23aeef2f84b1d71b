// Package judge holds Kata World's judges: small image classifiers, trained
// with GoMLX on renders of the world, that read an image and say which
// subject kind, body colour and action (pose) it shows, with confidences.
// The action benchmark uses them to score what a learned identifier draws.
//
// Two networks share one layout (Net): the pose judge has one head over
// world.Actions(), the subject judge two heads, kind and body colour. Images
// enter as 64x64 RGB (Size); other sizes are resized first (Tensor).
package judge

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
)

// Size is the side of the square RGB images the judges read.
const Size = 64

// Net describes one judge network: an optional 3x3 stride-1 convolution at
// full resolution (Stem), 3x3 convolutions with stride 2 (each halves the
// side) and ReLU, one 3x3 stride-1 convolution at the last width, then
// one linear head per entry of Heads on the flattened feature map (which
// keeps where things are: poses are arrangements of limbs) and its global
// mean and max.
type Net struct {
	Widths []int // output channels of the stride-2 convolutions; default 16, 32, 64, 64
	Heads  []int // classes per head, e.g. {len(world.Actions())}
	// Stem is the width of a first stride-1 convolution at full resolution,
	// which keeps small details (ears, antennas); 0 means none.
	Stem int
}

// DefaultWidths are the stride-2 convolution widths of the shipped judges.
var DefaultWidths = []int{16, 32, 64, 64}

func (n Net) widths() []int {
	if len(n.Widths) == 0 {
		return DefaultWidths
	}
	return n.Widths
}

// Validate reports a layout that cannot be built.
func (n Net) Validate() error {
	if len(n.Heads) == 0 {
		return fmt.Errorf("judge network: no heads")
	}
	for _, h := range n.Heads {
		if h < 2 {
			return fmt.Errorf("judge network: a head of %d classes", h)
		}
	}
	w := n.widths()
	if Size>>len(w) < 1 {
		return fmt.Errorf("judge network: %d stride-2 layers for %dx%d input", len(w), Size, Size)
	}
	if n.Stem < 0 {
		return fmt.Errorf("judge network: stem width %d", n.Stem)
	}
	for _, c := range w {
		if c < 1 {
			return fmt.Errorf("judge network: width %d", c)
		}
	}
	return nil
}

// Logits builds the network in ctx's current scope on images [B, Size, Size, 3]
// (float32, values in [0, 1]) and returns one [B, Heads[i]] logits node per
// head. Variables must exist in ctx (Init or loaded weights).
func (n Net) Logits(ctx *context.Context, images *Node) []*Node {
	x := AddScalar(images, -0.5)
	in := 3
	if n.Stem > 0 {
		x = activations.Relu(conv3x3(ctx.In("stem"), x, in, n.Stem, 1))
		in = n.Stem
	}
	for i, out := range n.widths() {
		x = activations.Relu(conv3x3(ctx.In(fmt.Sprintf("conv%d", i)), x, in, out, 2))
		in = out
	}
	x = activations.Relu(conv3x3(ctx.In("conv_last"), x, in, in, 1))
	feats := Concatenate([]*Node{Reshape(x, x.Shape().Dimensions[0], -1), ReduceMean(x, 1, 2), ReduceMax(x, 1, 2)}, 1)
	outs := make([]*Node, len(n.Heads))
	for h, classes := range n.Heads {
		outs[h] = linear(ctx.In(fmt.Sprintf("head%d", h)), feats, n.features(), classes)
	}
	return outs
}

// features is the length of the vector the heads read: the flattened last
// feature map plus its channel means and maxima.
func (n Net) features() int {
	w := n.widths()
	side, c := Size>>len(w), w[len(w)-1]
	return side*side*c + 2*c
}

// conv3x3 is a 3x3 convolution (weight [3, 3, in, out], bias [out]) of an
// NHWC input with padding 1 and the given stride. Channels-last input with
// the input channel innermost in the kernel is the layout Kata's CPU
// convolution reads contiguously.
func conv3x3(ctx *context.Context, x *Node, in, out, stride int) *Node {
	g := x.Graph()
	w := param(ctx, g, "weight", 3, 3, in, out)
	// Strides must be explicit: the pure-Go backend rejects a zero stride.
	y := Convolve(x, w).Strides(stride).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	return Add(y, Reshape(param(ctx, g, "bias", out), 1, 1, 1, out))
}

// linear applies weight [out, in] and bias [out] to x [B, in].
func linear(ctx *context.Context, x *Node, in, out int) *Node {
	g := x.Graph()
	y := DotGeneral(x, []int{1}, nil, param(ctx, g, "weight", out, in), []int{1}, nil)
	return Add(y, ExpandLeftToRank(param(ctx, g, "bias", out), 2))
}

func param(ctx *context.Context, g *Graph, name string, dims ...int) *Node {
	return ctx.VariableWithShape(name, shapes.Make(dtypes.Float32, dims...)).ValueGraph(g)
}

// Init creates the network's variables in ctx's current scope with He-normal
// weights and zero biases drawn from rng (deterministic for a seed). A
// variable a Loader of ctx already holds keeps the loaded value.
func (n Net) Init(ctx *context.Context, rng *rand.Rand) {
	ctx = ctx.Checked(false) // a Loader's variables exist as soon as they are looked up
	in := 3
	conv := func(scope string, in, out int) {
		c := ctx.In(scope)
		c.VariableWithValue("weight", heNormal(rng, in*9, 3, 3, in, out))
		c.VariableWithValue("bias", tensors.FromFlatDataAndDimensions(make([]float32, out), out))
	}
	if n.Stem > 0 {
		conv("stem", in, n.Stem)
		in = n.Stem
	}
	for i, out := range n.widths() {
		conv(fmt.Sprintf("conv%d", i), in, out)
		in = out
	}
	conv("conv_last", in, in)
	for h, classes := range n.Heads {
		c := ctx.In(fmt.Sprintf("head%d", h))
		c.VariableWithValue("weight", heNormal(rng, n.features(), classes, n.features()))
		c.VariableWithValue("bias", tensors.FromFlatDataAndDimensions(make([]float32, classes), classes))
	}
}

// heNormal draws a [dims...] tensor of N(0, 2/fanIn) values.
func heNormal(rng *rand.Rand, fanIn int, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	std := math.Sqrt(2 / float64(fanIn))
	for i := range data {
		data[i] = float32(rng.NormFloat64() * std)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}
