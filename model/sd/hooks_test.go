package sd

import (
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// placeholderID is the id reference.json gives the added token "<x>".
const placeholderID = 49408

// refSlots are the slots of the placeholder in the reference's token ids,
// [1, 1, L].
func refSlots(t *testing.T) *tensors.Tensor {
	ids := tensors.MustCopyFlatData[float32](refTensor(t, "ti_token_ids"))
	seq := make([]int, len(ids))
	for i, v := range ids {
		seq[i] = int(v)
	}
	return tensors.FromFlatDataAndDimensions(TokenSlots(seq, placeholderID), 1, 1, len(seq))
}

// identifierStates runs IdentifierEncodings for one sequence and one
// identifier whose vectors v are [D] (textual inversion) or [N, D].
func identifierStates(ctx *context.Context, ids, slots, v *Node) []*Node {
	d := v.Shape().Dimensions[v.Rank()-1]
	return IdentifierEncodings(ctx, ids, slots, Reshape(v, 1, 1, v.Shape().Size()/d, d), 1)
}

// diffusionLoss is mean((unet(noisy, t, states) - noise)^2), shaped [1] like
// the reference.
func diffusionLoss(ctx *context.Context, noisy, t, noise *Node, states []*Node) *Node {
	pred := UNet(ctx, noisy, t, states)
	return Reshape(ReduceAllMean(Square(Sub(pred, noise))), 1)
}

func TestTextualInversionGradient(t *testing.T) {
	ids, v := refTensor(t, "ti_token_ids"), refTensor(t, "ti_v")
	noisy, noise, step := refTensor(t, "ti_noisy_latent"), refTensor(t, "ti_noise"), refTensor(t, "ti_timestep")
	if got := tensors.MustCopyFlatData[float32](ids)[int(tensors.MustCopyFlatData[float32](refTensor(t, "ti_placeholder_index"))[0])]; got != placeholderID {
		t.Fatalf("placeholder id %v, want %d", got, placeholderID)
	}
	fn := func(ctx *context.Context, ids, slots, v, noisy, step, noise *Node) (*Node, *Node) {
		states := identifierStates(ctx, ids, slots, v)
		loss := diffusionLoss(ctx, noisy, step, noise, states)
		return loss, Gradient(ReduceAllSum(loss), v)[0]
	}
	for _, layout := range layouts {
		t.Run(layout, func(t *testing.T) {
			out, err := context.ExecOnceN(fixtureBackend(t), tinyModel(t, layout).Ctx, fn, ids, refSlots(t), v, noisy, step, noise)
			if err != nil {
				t.Fatal(err)
			}
			checkRel(t, "ti_loss", out[0], refTensor(t, "ti_loss"), 1e-4)
			checkRel(t, "ti_grad", out[1], refTensor(t, "ti_grad"), 1e-4)
		})
	}
}

func TestPPlusGradient(t *testing.T) {
	ids, v := refTensor(t, "ti_token_ids"), refTensor(t, "pplus_v")
	noisy, noise, step := refTensor(t, "ti_noisy_latent"), refTensor(t, "ti_noise"), refTensor(t, "ti_timestep")
	fn := func(ctx *context.Context, ids, slots, v, noisy, step, noise *Node) []*Node {
		states := identifierStates(ctx, ids, slots, v)
		loss := diffusionLoss(ctx, noisy, step, noise, states)
		return []*Node{loss, Gradient(ReduceAllSum(loss), v)[0], Concatenate(states, 0)}
	}
	m := tinyModel(t, "diffusers")
	if n := m.UNet.NumCrossAttentionLayers(); n != 16 {
		t.Fatalf("%d cross-attention layers, want 16", n)
	}
	out, err := context.ExecOnceN(fixtureBackend(t), m.Ctx, fn, ids, refSlots(t), v, noisy, step, noise)
	if err != nil {
		t.Fatal(err)
	}
	checkRel(t, "pplus_encodings", out[2], refTensor(t, "pplus_encodings"), 1e-4)
	checkRel(t, "pplus_loss", out[0], refTensor(t, "pplus_loss"), 1e-4)
	checkRel(t, "pplus_grad", out[1], refTensor(t, "pplus_grad"), 1e-4)
}

// TestAttentionChunking reruns the textual-inversion loss and gradient with
// attention split into query chunks (as large images use it), with the
// gradient GoMLX derives and, in a training graph, with the UNet's
// recomputedAttention: the results must still match diffusers.
func TestAttentionChunking(t *testing.T) {
	defer func(old int) { attentionChunkElems = old }(attentionChunkElems)
	attentionChunkElems = 8192 // 3-6 chunks per attention layer of the tiny model
	ids, v := refTensor(t, "ti_token_ids"), refTensor(t, "ti_v")
	noisy, noise, step := refTensor(t, "ti_noisy_latent"), refTensor(t, "ti_noise"), refTensor(t, "ti_timestep")
	for _, training := range []bool{false, true} {
		fn := func(ctx *context.Context, ids, slots, v, noisy, step, noise *Node) (*Node, *Node) {
			ctx.SetTraining(noisy.Graph(), training)
			states := identifierStates(ctx, ids, slots, v)
			loss := diffusionLoss(ctx, noisy, step, noise, states)
			return loss, Gradient(ReduceAllSum(loss), v)[0]
		}
		out, err := context.ExecOnceN(fixtureBackend(t), tinyModel(t, "diffusers").Ctx, fn, ids, refSlots(t), v, noisy, step, noise)
		if err != nil {
			t.Fatalf("training %v: %v", training, err)
		}
		checkRel(t, "ti_loss", out[0], refTensor(t, "ti_loss"), 1e-4)
		checkRel(t, "ti_grad", out[1], refTensor(t, "ti_grad"), 1e-4)
	}
	dec, err := context.ExecOnce(fixtureBackend(t), tinyModel(t, "diffusers").Ctx, VAEDecode, refTensor(t, "vae_decode_latent"))
	if err != nil {
		t.Fatal(err)
	}
	checkRel(t, "vae_decoded", dec, refTensor(t, "vae_decoded"), 1e-4)
}
