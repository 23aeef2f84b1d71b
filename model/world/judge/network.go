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

// Net describes one judge network: 3x3 convolutions with stride 2 (each halves
// the side) and ReLU, one 3x3 stride-1 convolution at the last width, then
// global mean and max pooling and one linear head per entry of Heads.
type Net struct {
	Widths []int // output channels of the stride-2 convolutions; default 16, 32, 64, 64
	Heads  []int // classes per head, e.g. {len(world.Actions())}
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
	for _, c := range w {
		if c < 1 {
			return fmt.Errorf("judge network: width %d", c)
		}
	}
	return nil
}

// Logits builds the network in ctx's current scope on images [B, 3, Size, Size]
// (float32, values in [0, 1]) and returns one [B, Heads[i]] logits node per
// head. Variables must exist in ctx (Init or loaded weights).
func (n Net) Logits(ctx *context.Context, images *Node) []*Node {
	x := AddScalar(images, -0.5)
	in := 3
	for i, out := range n.widths() {
		x = activations.Relu(conv3x3(ctx.In(fmt.Sprintf("conv%d", i)), x, in, out, 2))
		in = out
	}
	x = activations.Relu(conv3x3(ctx.In("conv_last"), x, in, in, 1))
	pooled := Concatenate([]*Node{ReduceMean(x, 2, 3), ReduceMax(x, 2, 3)}, 1) // [B, 2*in]
	outs := make([]*Node, len(n.Heads))
	for h, classes := range n.Heads {
		outs[h] = linear(ctx.In(fmt.Sprintf("head%d", h)), pooled, 2*in, classes)
	}
	return outs
}

// conv3x3 is a 3x3 convolution (weight [out, in, 3, 3], bias [out]) of an
// NCHW input with padding 1 and the given stride.
func conv3x3(ctx *context.Context, x *Node, in, out, stride int) *Node {
	g := x.Graph()
	w := param(ctx, g, "weight", out, in, 3, 3)
	axes := ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
	}
	// Strides must be explicit: the pure-Go backend rejects a zero stride.
	y := Convolve(x, w).AxesConfig(axes).Strides(stride).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	return Add(y, Reshape(param(ctx, g, "bias", out), 1, out, 1, 1))
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
		c.VariableWithValue("weight", heNormal(rng, in*9, out, in, 3, 3))
		c.VariableWithValue("bias", tensors.FromFlatDataAndDimensions(make([]float32, out), out))
	}
	for i, out := range n.widths() {
		conv(fmt.Sprintf("conv%d", i), in, out)
		in = out
	}
	conv("conv_last", in, in)
	for h, classes := range n.Heads {
		c := ctx.In(fmt.Sprintf("head%d", h))
		c.VariableWithValue("weight", heNormal(rng, 2*in, classes, 2*in))
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
