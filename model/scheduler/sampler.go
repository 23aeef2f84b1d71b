package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Sampler runs the reverse diffusion for a fixed number of steps. A
// generation loop is:
//
//	x := Randn(rng, n) scaled by s.InitNoiseSigma()
//	for i := range s.Len() {
//		eps := unet(s.ScaleModelInput(x, i), s.Timesteps()[i], ...)
//		x, err = s.Step(eps, i, x, rng)
//	}
//
// Steps must be taken in increasing i (multistep samplers remember the
// previous model output); Reset forgets that history for a new image.
// Samples and model outputs are flat float32 slices of equal length (any
// layout: samplers work element-wise).
type Sampler interface {
	// Name returns the canonical name ("ddim", "euler", "euler_karras",
	// "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "heun", "dpmpp_sde_karras",
	// ...; see Names and Canonical).
	Name() string
	// Len returns the number of denoising steps.
	Len() int
	// Timesteps returns the model timestep of each step (integers for DDIM
	// and DPM++, possibly fractional for Euler with Karras sigmas).
	Timesteps() []float64
	// InitNoiseSigma is the standard deviation of the starting noise
	// (1 for DDIM and DPM++, about 14.6 for Euler on SD).
	InitNoiseSigma() float64
	// ScaleModelInput returns the sample scaled as the model expects it at
	// step i (a new slice; identity for DDIM and DPM++).
	ScaleModelInput(x []float32, i int) []float32
	// Step returns the sample after step i given the model output for x.
	// rng is used only by stochastic samplers (Euler a, DDIM with eta > 0)
	// and may be nil for the others.
	Step(modelOut []float32, i int, x []float32, rng *rand.Rand) ([]float32, error)
	// PredictOriginal returns the x0 prediction implied by the model output
	// at step i (for previews), without advancing any state.
	PredictOriginal(modelOut []float32, i int, x []float32) ([]float32, error)
	// AddNoise returns x0 noised to the level at which step i starts, in
	// the sampler's own sample space (image-to-image start).
	AddNoise(x0, noise []float32, i int) ([]float32, error)
	// Reset forgets multistep history so the sampler can start a new image.
	Reset()
}

// multiEval is a sampler whose steps may take two model evaluations
// (KDiffusion): Len counts evaluations, Steps the steps.
type multiEval interface {
	Steps() int
	FirstEval(step int) int
}

// Img2ImgStart returns the first step to run for image-to-image at the given
// strength in (0, 1], as diffusers' img2img pipelines choose it: the last
// int(steps*strength) steps are run, the first ones skipped. For samplers
// with two model evaluations per step it counts steps and returns the index
// of the first evaluation of the first step to run.
func Img2ImgStart(s Sampler, strength float64) (int, error) {
	if !(strength > 0 && strength <= 1) {
		return 0, fmt.Errorf("scheduler: img2img strength %g outside (0, 1]", strength)
	}
	n := s.Len()
	ms, multi := s.(multiEval)
	if multi {
		n = ms.Steps()
	}
	run := min(int(float64(n)*strength), n)
	if run == 0 {
		return 0, fmt.Errorf("scheduler: strength %g leaves none of the %d steps to run", strength, n)
	}
	if multi {
		return ms.FirstEval(n - run), nil
	}
	return n - run, nil
}

// Img2ImgLatents prepares an image-to-image start: it picks the first step
// for strength (Img2ImgStart), draws Gaussian noise from rng and noises the
// encoded image latent x0 to that step's level. The caller then runs steps
// start..Len()-1 on x.
func Img2ImgLatents(s Sampler, x0 []float32, strength float64, rng *rand.Rand) (start int, x []float32, err error) {
	if rng == nil {
		return 0, nil, fmt.Errorf("scheduler: img2img needs a random source")
	}
	start, err = Img2ImgStart(s, strength)
	if err != nil {
		return 0, nil, err
	}
	x, err = s.AddNoise(x0, Randn(rng, len(x0)), start)
	return start, x, err
}

// NewRNG returns the random source Kata uses for a seed: PCG seeded with
// (seed, a fixed stream constant), so a seed reproduces noise exactly.
func NewRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x6b617461)) // "kata"
}

// Randn returns n standard normal float32 values drawn from rng.
func Randn(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// InitialNoise returns the starting sample of text-to-image generation:
// Gaussian noise scaled by s.InitNoiseSigma().
func InitialNoise(s Sampler, rng *rand.Rand, n int) []float32 {
	x := Randn(rng, n)
	scale := float32(s.InitNoiseSigma())
	for i := range x {
		x[i] *= scale
	}
	return x
}

func checkStep(name string, i, n int, lens ...int) error {
	if i < 0 || i >= n {
		return fmt.Errorf("scheduler %s: step %d outside [0, %d)", name, i, n)
	}
	for _, l := range lens[1:] {
		if l != lens[0] {
			return fmt.Errorf("scheduler %s: sample and model output lengths differ (%d vs %d)", name, lens[0], l)
		}
	}
	return nil
}

// predictX0 converts a model output to an x0 prediction for a
// variance-preserving sample x_t = a x0 + b ε (a = sqrt(ᾱ), b = sqrt(1-ᾱ)).
func predictX0(pred string, a, b float64, out, x, m []float32) {
	for j := range out {
		xv, mv := float64(x[j]), float64(m[j])
		switch pred {
		case "v_prediction":
			out[j] = float32(a*xv - b*mv)
		case "sample":
			out[j] = m[j]
		default:
			out[j] = float32((xv - b*mv) / a)
		}
	}
}

// vpFromSigma returns (α, σ) of the variance-preserving parametrisation for
// a variance-exploding noise level: α = 1/sqrt(σ²+1), σ_vp = σ α.
func vpFromSigma(sigma float64) (float64, float64) {
	a := 1 / math.Sqrt(sigma*sigma+1)
	return a, sigma * a
}
