package sd

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// VAE variables live under this scope, named like diffusers' AutoencoderKL
// tensors ("encoder/down_blocks/0/resnets/0/conv1/weight").
const vaeScope = "vae"

// The AutoencoderKL uses this epsilon in all its group norms.
const vaeEps = 1e-6

func vaeConfig(ctx *context.Context) *VAEConfig {
	return context.MustGetParam[*VAEConfig](ctx, ParamVAEConfig)
}

// VAEEncode maps images [B, in_channels, H, W] in [-1, 1] (H and W multiples
// of 2^(blocks-1)) to the diagonal Gaussian posterior: mean and log-variance,
// each [B, latent_channels, H/8, W/8] for SD 1.x, the log-variance clamped to
// [-30, 20]. Latents for the UNet are (mean + exp(logvar/2) * noise) times
// the scaling factor (see VAEConfig.ScalingFactor).
func VAEEncode(ctx *context.Context, images *Node) (mean, logvar *Node) {
	cfg := vaeConfig(ctx)
	nb := len(cfg.BlockOutChannels)
	dims := images.Shape().Dimensions
	factor := 1 << (nb - 1)
	if len(dims) != 4 || dims[1] != cfg.InChannels || dims[2]%factor != 0 || dims[3]%factor != 0 {
		panic(fmt.Errorf("VAEEncode: images shaped %s, want [batch, %d, H, W] with H and W multiples of %d",
			images.Shape(), cfg.InChannels, factor))
	}
	vctx := ctx.In(vaeScope)
	ectx := vctx.In("encoder")
	c0 := cfg.BlockOutChannels[0]
	x := conv2d(ectx.In("conv_in"), images, cfg.InChannels, c0, 3, 1)
	in := c0
	for i := range nb {
		out := cfg.BlockOutChannels[i]
		bctx := ectx.In("down_blocks").In(fmt.Sprint(i))
		for j := range cfg.LayersPerBlock {
			x = vaeResnet(bctx.In("resnets").In(fmt.Sprint(j)), x, in, out, cfg.NormNumGroups)
			in = out
		}
		if i < nb-1 {
			// diffusers pads only the bottom and right before this stride-2 conv.
			x = conv2dPad(bctx.In("downsamplers").In("0").In("conv"), x, out, out, 3, 2, [][2]int{{0, 1}, {0, 1}})
		}
	}
	last := cfg.BlockOutChannels[nb-1]
	x = vaeMid(ectx.In("mid_block"), x, last, cfg.NormNumGroups)
	x = silu(groupNorm(ectx.In("conv_norm_out"), x, last, cfg.NormNumGroups, vaeEps))
	lc := cfg.LatentChannels
	x = conv2d(ectx.In("conv_out"), x, last, 2*lc, 3, 1)
	x = conv2d(vctx.In("quant_conv"), x, 2*lc, 2*lc, 1, 1)
	parts := Split(x, 1, 2)
	return parts[0], ClipScalar(parts[1], -30, 20)
}

// VAEDecode maps latents [B, latent_channels, h, w] (already divided by the
// scaling factor) to images [B, out_channels, h*8, w*8] for SD 1.x, roughly
// in [-1, 1] and not clamped.
func VAEDecode(ctx *context.Context, latents *Node) *Node {
	cfg := vaeConfig(ctx)
	nb := len(cfg.BlockOutChannels)
	dims := latents.Shape().Dimensions
	if len(dims) != 4 || dims[1] != cfg.LatentChannels {
		panic(fmt.Errorf("VAEDecode: latents shaped %s, want [batch, %d, h, w]", latents.Shape(), cfg.LatentChannels))
	}
	vctx := ctx.In(vaeScope)
	lc := cfg.LatentChannels
	x := conv2d(vctx.In("post_quant_conv"), latents, lc, lc, 1, 1)
	dctx := vctx.In("decoder")
	last := cfg.BlockOutChannels[nb-1]
	x = conv2d(dctx.In("conv_in"), x, lc, last, 3, 1)
	x = vaeMid(dctx.In("mid_block"), x, last, cfg.NormNumGroups)
	in := last
	for i := range nb {
		out := cfg.BlockOutChannels[nb-1-i]
		bctx := dctx.In("up_blocks").In(fmt.Sprint(i))
		for j := range cfg.LayersPerBlock + 1 {
			x = vaeResnet(bctx.In("resnets").In(fmt.Sprint(j)), x, in, out, cfg.NormNumGroups)
			in = out
		}
		if i < nb-1 {
			x = conv2d(bctx.In("upsamplers").In("0").In("conv"), upsampleNearest2x(x), out, out, 3, 1)
		}
	}
	c0 := cfg.BlockOutChannels[0]
	x = silu(groupNorm(dctx.In("conv_norm_out"), x, c0, cfg.NormNumGroups, vaeEps))
	return conv2d(dctx.In("conv_out"), x, c0, cfg.OutChannels, 3, 1)
}

// vaeResnet is ResnetBlock2D without a time embedding.
func vaeResnet(ctx *context.Context, x *Node, in, out, groups int) *Node {
	h := silu(groupNorm(ctx.In("norm1"), x, in, groups, vaeEps))
	h = conv2d(ctx.In("conv1"), h, in, out, 3, 1)
	h = silu(groupNorm(ctx.In("norm2"), h, out, groups, vaeEps))
	h = conv2d(ctx.In("conv2"), h, out, out, 3, 1)
	if in != out {
		x = conv2d(ctx.In("conv_shortcut"), x, in, out, 1, 1)
	}
	return Add(x, h)
}

// vaeMid is UNetMidBlock2D: resnet, single-head spatial self-attention, resnet.
func vaeMid(ctx *context.Context, x *Node, ch, groups int) *Node {
	x = vaeResnet(ctx.In("resnets").In("0"), x, ch, ch, groups)
	x = vaeAttention(ctx.In("attentions").In("0"), x, ch, groups)
	return vaeResnet(ctx.In("resnets").In("1"), x, ch, ch, groups)
}

// vaeAttention is the VAE's one-head self-attention over all pixels, with a
// group norm first and a residual connection.
func vaeAttention(ctx *context.Context, x *Node, ch, groups int) *Node {
	d := x.Shape().Dimensions
	b, h, w := d[0], d[2], d[3]
	residual := x
	n := groupNorm(ctx.In("group_norm"), x, ch, groups, vaeEps)
	n = TransposeAllAxes(Reshape(n, b, ch, h*w), 0, 2, 1)
	q := linear(ctx.In("to_q"), n, ch, ch, true)
	k := linear(ctx.In("to_k"), n, ch, ch, true)
	v := linear(ctx.In("to_v"), n, ch, ch, true)
	o := multiHeadAttention(q, k, v, 1, nil)
	o = linear(ctx.In("to_out").In("0"), o, ch, ch, true)
	o = Reshape(TransposeAllAxes(o, 0, 2, 1), b, ch, h, w)
	return Add(o, residual)
}
