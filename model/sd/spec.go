package sd

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// SetConfigs stores the three configs in ctx as the parameters the graph
// builders read.
func SetConfigs(ctx *context.Context, text *TextConfig, unet *UNetConfig, vae *VAEConfig) {
	ctx.SetParam(ParamTextConfig, text)
	ctx.SetParam(ParamUNetConfig, unet)
	ctx.SetParam(ParamVAEConfig, vae)
}

// VariableKey names a model variable as "component/diffusers.name", e.g.
// "unet/down_blocks.0.resnets.0.conv1.weight" for the variable "weight" in
// the scope "/unet/down_blocks/0/resnets/0/conv1".
func VariableKey(v *context.Variable) string {
	scope := strings.TrimPrefix(v.Scope(), context.ScopeSeparator)
	component, rest, _ := strings.Cut(scope, context.ScopeSeparator)
	rest = strings.ReplaceAll(rest, context.ScopeSeparator, ".")
	if rest == "" {
		return component + "/" + v.Name()
	}
	return component + "/" + rest + "." + v.Name()
}

// variableForKey returns the context and variable name of a key made by VariableKey.
func variableForKey(ctx *context.Context, key string) (*context.Context, string) {
	component, name, _ := strings.Cut(key, "/")
	parts := strings.Split(name, ".")
	c := ctx.In(component)
	for _, p := range parts[:len(parts)-1] {
		c = c.In(p)
	}
	return c, parts[len(parts)-1]
}

// ModelVariables lists every variable (key as VariableKey makes it, and its
// dimensions) that the text encoder, UNet and VAE of the given configs read.
// It builds the graphs with declared-but-unallocated variables, so it costs
// no weight memory even for SD 1.5.
func ModelVariables(text *TextConfig, unet *UNetConfig, vae *VAEConfig) (vars map[string][]int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("list model variables: %v", r)
		}
	}()
	backend, err := simplego.New("")
	if err != nil {
		return nil, fmt.Errorf("list model variables: %w", err)
	}
	defer backend.Finalize()
	ctx := context.New().Checked(false)
	SetConfigs(ctx, text, unet, vae)
	g := NewGraph(backend, "sd_variables")
	defer g.Finalize()
	f32 := func(name string, dims ...int) *Node {
		return Parameter(g, name, shapes.Make(dtypes.Float32, dims...))
	}
	ids := Parameter(g, "ids", shapes.Make(dtypes.Int32, 1, text.MaxPositionEmbeddings))
	EncodeText(ctx, ids)
	side := 1 << (len(unet.BlockOutChannels) - 1)
	UNet(ctx, f32("latents", 1, unet.InChannels, side, side), f32("t", 1),
		[]*Node{f32("states", 1, 2, unet.CrossAttentionDim)})
	vside := 1 << (len(vae.BlockOutChannels) - 1)
	VAEEncode(ctx, f32("image", 1, vae.InChannels, vside, vside))
	VAEDecode(ctx, f32("latent", 1, vae.LatentChannels, 1, 1))
	vars = make(map[string][]int)
	for v := range ctx.IterVariables() {
		vars[VariableKey(v)] = v.Shape().Dimensions
	}
	return vars, nil
}
