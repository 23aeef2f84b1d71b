package sd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"
)

// ErrNotEnoughMemory is returned (wrapped, with the sizes) by Generate when a
// run would need more working memory than the machine has available.
var ErrNotEnoughMemory = errors.New("not enough memory")

// Memory is a rough estimate of what one generation needs, in bytes.
type Memory struct {
	Weights     int64 // the model's weights as held (already loaded)
	Activations int64 // working memory of the largest step: max(UNet, Decode)
	UNet        int64 // working memory of one UNet step
	Decode      int64 // working memory of the VAE decoder (untiled)
}

// EstimateMemory estimates the memory one width x height generation with m
// needs; guided (CFG > 1) runs the UNet on a batch of two. The estimate
// counts float32 feature maps: the UNet's skip connections plus about twelve
// live maps at its widest level, its attention scores (bounded by
// chunking), and about six maps of the VAE decoder's first block at full
// image size. It is meant to catch runs that cannot fit (a 100000-pixel
// side), not to budget a tight one: the true peak depends on the backend.
func (m *Model) EstimateMemory(width, height int, guided bool) Memory {
	var mem Memory
	if m.Ctx != nil {
		m.Ctx.EnumerateVariables(func(v *context.Variable) { mem.Weights += int64(v.Shape().Memory()) })
	}
	batch := int64(1)
	if guided {
		batch = 2
	}
	factor := int64(1) << (len(m.VAE.BlockOutChannels) - 1)
	tokens := (int64(height) / factor) * (int64(width) / factor)
	var skips, widest int64
	t := tokens
	for _, ch := range m.UNet.BlockOutChannels {
		skips += int64(m.UNet.LayersPerBlock+1) * int64(ch) * t
		widest = max(widest, 12*int64(ch)*t)
		t = max(1, t/4)
	}
	heads := int64(m.UNet.AttentionHeads[0])
	scores := min(batch*heads*tokens*tokens, int64(attentionChunkElems))
	unet := 4*batch*(skips+widest) + 3*4*scores
	pixels := int64(width) * int64(height)
	vae := 4 * 6 * int64(m.VAE.BlockOutChannels[0]) * pixels
	mem.UNet, mem.Decode = unet, vae
	mem.Activations = max(unet, vae)
	return mem
}

// decodeTile returns the tile side (in latents) Generate decodes o's image
// with, 0 for untiled: o.DecodeTile when positive; with o.DecodeTile 0,
// DefaultDecodeTile when the untiled decoder would not fit in the memory
// available now but a UNet step would.
func (m *Model) decodeTile(o GenerateOptions) int {
	if o.DecodeTile != 0 {
		return max(o.DecodeTile, 0)
	}
	need := m.EstimateMemory(o.Width, o.Height, o.CFG > 1)
	avail, ok := availableMemory()
	if ok && need.Decode > avail && need.UNet <= avail {
		return DefaultDecodeTile
	}
	return 0
}

// availableMemory is the memory this process may still take, in bytes: the
// kernel's MemAvailable, lowered to the cgroup's memory.max headroom when
// one is set. ok is false where neither can be read (other systems).
func availableMemory() (n int64, ok bool) {
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "MemAvailable:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					n, ok = kb*1024, true
				}
			}
		}
	}
	limit, err1 := readInt("/sys/fs/cgroup/memory.max")
	used, err2 := readInt("/sys/fs/cgroup/memory.current")
	if err1 == nil && err2 == nil && limit > used {
		if !ok || limit-used < n {
			n, ok = limit-used, true
		}
	}
	return n, ok
}

func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64) // "max" fails: no limit
}

// batchMemory is EstimateMemory for n images of o generated as one batch:
// Activations is n times one image's UNet step, or the decoder's (of one
// tile when o's decode is tiled; it runs one image at a time), whichever is
// larger.
func (m *Model) batchMemory(o GenerateOptions, n int) Memory {
	need := m.EstimateMemory(o.Width, o.Height, o.CFG > 1)
	decode := need.Decode
	if tile := m.decodeTile(o); tile > 0 {
		f := m.VAE.Factor()
		decode = m.EstimateMemory(min(o.Width, tile*f), min(o.Height, tile*f), o.CFG > 1).Decode
	}
	need.Activations = max(need.UNet*int64(n), decode)
	return need
}

// checkMemory refuses a generation whose activations exceed the memory
// available now (the weights are loaded already, so they are not counted
// against it). Where availability cannot be read it does not refuse.
func (m *Model) checkMemory(o GenerateOptions) error { return m.checkBatchMemory(o, 1) }

// checkBatchMemory is checkMemory for n images generated as one batch,
// counting n times one image's activations (the decoder runs one image at
// a time, so this errs high).
func (m *Model) checkBatchMemory(o GenerateOptions, n int) error {
	need := m.batchMemory(o, n)
	avail, ok := availableMemory()
	if !ok || need.Activations <= avail {
		return nil
	}
	what := fmt.Sprintf("a %dx%d image", o.Width, o.Height)
	if n > 1 {
		what = fmt.Sprintf("a batch of %d %dx%d images", n, o.Width, o.Height)
	}
	return fmt.Errorf("%w: %s needs about %s of working memory besides the %s of weights; this machine has %s available",
		ErrNotEnoughMemory, what, gib(need.Activations), gib(need.Weights), gib(avail))
}

func gib(n int64) string { return fmt.Sprintf("%.1f GB", float64(n)/(1<<30)) }
