package sd

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// UNet variables live under this scope, named like diffusers'
// UNet2DConditionModel tensors ("down_blocks/0/resnets/0/conv1/weight").
const unetScope = "unet"

func unetConfig(ctx *context.Context) *UNetConfig {
	return context.MustGetParam[*UNetConfig](ctx, ParamUNetConfig)
}

// UNet predicts the noise in latents [B, C, H, W] (NCHW, any H and W) at timesteps [B] (any numeric dtype; integer timesteps as SD
// uses them) given encoderStates, each [B or 1, L, cross_attention_dim]:
// either one state shared by every cross-attention layer or one per layer
// (NumCrossAttentionLayers of them, in forward order: down blocks, mid block,
// up blocks; the P+ / ADI hook). It returns the prediction, shaped like
// latents.
func UNet(ctx *context.Context, latents, timesteps *Node, encoderStates []*Node) *Node {
	cfg := unetConfig(ctx)
	nLayers := cfg.NumCrossAttentionLayers()
	if len(encoderStates) != 1 && len(encoderStates) != nLayers {
		panic(fmt.Errorf("UNet: %d encoder states, want 1 or %d (one per cross-attention layer)",
			len(encoderStates), nLayers))
	}
	dims := latents.Shape().Dimensions
	nb := len(cfg.BlockOutChannels)
	if len(dims) != 4 || dims[1] != cfg.InChannels {
		panic(fmt.Errorf("UNet: latents shaped %s, want [batch, %d, H, W]", latents.Shape(), cfg.InChannels))
	}
	batch := dims[0]
	encoderStates = slices.Clone(encoderStates) // broadcasting below must not touch the caller's slice
	for i, s := range encoderStates {
		sd := s.Shape().Dimensions
		if len(sd) != 3 || sd[2] != cfg.CrossAttentionDim || (sd[0] != batch && sd[0] != 1) {
			panic(fmt.Errorf("UNet: encoder state %d shaped %s, want [%d or 1, tokens, %d]",
				i, s.Shape(), batch, cfg.CrossAttentionDim))
		}
		if sd[0] != batch {
			encoderStates[i] = BroadcastToDims(s, batch, sd[1], sd[2])
		}
	}
	if timesteps.Rank() == 0 {
		timesteps = BroadcastToDims(InsertAxes(timesteps, 0), batch)
	}
	if timesteps.Rank() != 1 || timesteps.Shape().Dimensions[0] != batch {
		panic(fmt.Errorf("UNet: timesteps shaped %s, want [%d]", timesteps.Shape(), batch))
	}

	u := &unetBuilder{cfg: cfg, states: encoderStates}
	ctx = ctx.In(unetScope)
	c0 := cfg.BlockOutChannels[0]
	temb := timestepEmbedding(timesteps, c0, cfg.FlipSinToCos, cfg.FreqShift)
	tctx := ctx.In("time_embedding")
	temb = linear(tctx.In("linear_1"), temb, c0, 4*c0, true)
	temb = linear(tctx.In("linear_2"), silu(temb), 4*c0, 4*c0, true)
	u.temb, u.tembDim = temb, 4*c0

	x := conv2d(ctx.In("conv_in"), latents, cfg.InChannels, c0, cfg.ConvInKernel, 1)
	skips := []*Node{x}
	in := c0
	for i, typ := range cfg.DownBlockTypes {
		out := cfg.BlockOutChannels[i]
		bctx := ctx.In("down_blocks").In(fmt.Sprint(i))
		for j := range cfg.LayersPerBlock {
			x = u.resnet(bctx.In("resnets").In(fmt.Sprint(j)), x, in, out)
			in = out
			if typ == "CrossAttnDownBlock2D" {
				x = u.transformer(bctx.In("attentions").In(fmt.Sprint(j)), x, out, cfg.AttentionHeads[i])
			}
			skips = append(skips, x)
		}
		if i < nb-1 {
			p := cfg.DownsamplePadding
			x = conv2dPad(bctx.In("downsamplers").In("0").In("conv"), x, out, out, 3, 2, [][2]int{{p, p}, {p, p}})
			skips = append(skips, x)
		}
	}

	last := cfg.BlockOutChannels[nb-1]
	mctx := ctx.In("mid_block")
	x = u.resnet(mctx.In("resnets").In("0"), x, last, last)
	x = u.transformer(mctx.In("attentions").In("0"), x, last, cfg.AttentionHeads[nb-1])
	x = u.resnet(mctx.In("resnets").In("1"), x, last, last)

	prevOut := last
	for i, typ := range cfg.UpBlockTypes {
		out := cfg.BlockOutChannels[nb-1-i]
		heads := cfg.AttentionHeads[nb-1-i]
		bctx := ctx.In("up_blocks").In(fmt.Sprint(i))
		for j := range cfg.LayersPerBlock + 1 {
			skip := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			skipCh := skip.Shape().Dimensions[1]
			resIn := out
			if j == 0 {
				resIn = prevOut
			}
			x = Concatenate([]*Node{x, skip}, 1)
			x = u.resnet(bctx.In("resnets").In(fmt.Sprint(j)), x, resIn+skipCh, out)
			if typ == "CrossAttnUpBlock2D" {
				x = u.transformer(bctx.In("attentions").In(fmt.Sprint(j)), x, out, heads)
			}
		}
		if i < nb-1 {
			// Odd sizes shrank to ceil(n/2) going down; torch's nearest
			// resize to the skip's size n then equals 2x repetition cropped to n.
			next := skips[len(skips)-1].Shape().Dimensions
			x = Slice(upsampleNearest2x(x), AxisRange(), AxisRange(), AxisRange(0, next[2]), AxisRange(0, next[3]))
			x = conv2d(bctx.In("upsamplers").In("0").In("conv"), x, out, out, 3, 1)
		}
		prevOut = out
	}

	x = groupNorm(ctx.In("conv_norm_out"), x, c0, cfg.NormNumGroups, cfg.NormEps)
	return conv2d(ctx.In("conv_out"), silu(x), c0, cfg.OutChannels, cfg.ConvOutKernel, 1)
}

// unetBuilder carries what every UNet block reads while the graph is built.
type unetBuilder struct {
	cfg     *UNetConfig
	temb    *Node
	tembDim int
	states  []*Node
	layer   int // next cross-attention layer, in forward order
}

// resnet is diffusers' ResnetBlock2D with a time embedding.
func (u *unetBuilder) resnet(ctx *context.Context, x *Node, in, out int) *Node {
	cfg := u.cfg
	h := silu(groupNorm(ctx.In("norm1"), x, in, cfg.NormNumGroups, cfg.NormEps))
	h = conv2d(ctx.In("conv1"), h, in, out, 3, 1)
	t := linear(ctx.In("time_emb_proj"), silu(u.temb), u.tembDim, out, true)
	h = Add(h, InsertAxes(t, -1, -1))
	h = silu(groupNorm(ctx.In("norm2"), h, out, cfg.NormNumGroups, cfg.NormEps))
	h = conv2d(ctx.In("conv2"), h, out, out, 3, 1)
	if in != out {
		x = conv2d(ctx.In("conv_shortcut"), x, in, out, 1, 1)
	}
	return Add(x, h)
}

// transformer is diffusers' Transformer2DModel on an NCHW feature map with
// BasicTransformerBlocks (self-attention, cross-attention, GEGLU feed-forward).
func (u *unetBuilder) transformer(ctx *context.Context, x *Node, ch, heads int) *Node {
	cfg := u.cfg
	dims := x.Shape().Dimensions
	b, h, w := dims[0], dims[2], dims[3]
	residual := x
	x = groupNorm(ctx.In("norm"), x, ch, cfg.NormNumGroups, 1e-6)
	if !cfg.UseLinearProjection {
		x = conv2d(ctx.In("proj_in"), x, ch, ch, 1, 1)
	}
	x = TransposeAllAxes(Reshape(x, b, ch, h*w), 0, 2, 1)
	if cfg.UseLinearProjection {
		x = linear(ctx.In("proj_in"), x, ch, ch, true)
	}
	for t := range cfg.TransformerLayers {
		bctx := ctx.In("transformer_blocks").In(fmt.Sprint(t))
		state := u.states[0]
		if len(u.states) > 1 {
			state = u.states[u.layer]
		}
		u.layer++
		n := layerNorm(bctx.In("norm1"), x, ch, 1e-5)
		x = Add(x, attention(bctx.In("attn1"), n, n, ch, ch, heads))
		n = layerNorm(bctx.In("norm2"), x, ch, 1e-5)
		x = Add(x, attention(bctx.In("attn2"), n, state, ch, cfg.CrossAttentionDim, heads))
		n = layerNorm(bctx.In("norm3"), x, ch, 1e-5)
		x = Add(x, geglu(bctx.In("ff").In("net"), n, ch))
	}
	if cfg.UseLinearProjection {
		x = linear(ctx.In("proj_out"), x, ch, ch, true)
	}
	x = Reshape(TransposeAllAxes(x, 0, 2, 1), b, ch, h, w)
	if !cfg.UseLinearProjection {
		x = conv2d(ctx.In("proj_out"), x, ch, ch, 1, 1)
	}
	return Add(x, residual)
}

// attention is diffusers' Attention as the UNet uses it: q from x [B, Lq, ch],
// k and v from context [B, Lk, ctxDim], no q/k/v biases, output projection
// to_out.0 with bias. In a graph the context marks as training
// (ctx.SetTraining, GoMLX's convention), the attention's gradient recomputes
// its probabilities (recomputedAttention) rather than keeping them; the
// value is the same.
func attention(ctx *context.Context, x, context *Node, ch, ctxDim, heads int) *Node {
	q := linear(ctx.In("to_q"), x, ch, ch, false)
	k := linear(ctx.In("to_k"), context, ctxDim, ch, false)
	v := linear(ctx.In("to_v"), context, ctxDim, ch, false)
	attend := multiHeadAttention
	if ctx.IsTraining(x.Graph()) {
		attend = recomputedAttention
	}
	return linear(ctx.In("to_out").In("0"), attend(q, k, v, heads, nil), ch, ch, true)
}

// geglu is diffusers' FeedForward with a GEGLU activation: net.0.proj maps
// ch -> 2*4ch, the first half is gated by GELU of the second, net.2 maps back.
func geglu(ctx *context.Context, x *Node, ch int) *Node {
	inner := 4 * ch
	h := linear(ctx.In("0").In("proj"), x, ch, 2*inner, true)
	parts := Split(h, -1, 2)
	h = Mul(parts[0], geluExact(parts[1]))
	return linear(ctx.In("2"), h, inner, ch, true)
}

// upsampleNearest2x repeats every pixel of an NCHW map into a 2x2 square,
// as torch's nearest interpolation with scale factor 2 does.
func upsampleNearest2x(x *Node) *Node {
	d := x.Shape().Dimensions
	b, c, h, w := d[0], d[1], d[2], d[3]
	x = Reshape(x, b, c, h, 1, w, 1)
	x = BroadcastToDims(x, b, c, h, 2, w, 2)
	return Reshape(x, b, c, 2*h, 2*w)
}

// timestepEmbedding is diffusers' sinusoidal get_timestep_embedding:
// [B] timesteps -> [B, dim], with frequencies computed in float32 on the host
// the way torch computes them, so that large timesteps match to the last bit.
func timestepEmbedding(timesteps *Node, dim int, flipSinToCos bool, freqShift float64) *Node {
	g := timesteps.Graph()
	half := dim / 2
	freqs := make([]float32, half)
	logMax := float32(-math.Log(10000))
	for i := range freqs {
		e := logMax * float32(i) / float32(float64(half)-freqShift)
		freqs[i] = float32(math.Exp(float64(e)))
	}
	t := ConvertDType(timesteps, dtypes.Float32)
	args := Mul(InsertAxes(t, -1), InsertAxes(Const(g, freqs), 0))
	sin, cos := Sin(args), Cos(args)
	if flipSinToCos {
		return Concatenate([]*Node{cos, sin}, -1)
	}
	return Concatenate([]*Node{sin, cos}, -1)
}
