package adi

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"kata/model/backend"
	"kata/model/sd"
)

// BenchmarkTrainMemory measures the peak resident memory (Linux VmHWM) of
// ADI training steps under each memory lever of the trainer, on the backend
// KATA_BACKEND selects (pure Go by default here). Peak RSS is valid on a
// shared machine, unlike timings. KATA_BENCH_MEMORY_SIZE picks the model:
// "tiny" (default: the sd-tiny fixture at 64 px) or "sd15-256" (SD 1.5
// shapes with random weights at 256 px, 32x32 latents; about 4.3 GB of
// float32 weights). Run each lever in its own process, so that no lever
// inherits another's buffers:
//
//	KATA_BENCH_MEMORY_SIZE=sd15-256 go test -run '^$' -bench 'TrainMemory/split=samples' -benchtime 2x ./model/adi
//	KATA_BENCH_MEMORY_SIZE=sd15-256 go test -run '^$' -bench 'TrainMemory/split=batch' -benchtime 2x ./model/adi
//
// Metrics: peak-MB (peak RSS during the steps), base-MB (RSS when the steps
// began: weights, cached latents), prepare-peak-MB (peak RSS of the process
// up to then, the VAE encoding of exemplars and contrast images included).
func BenchmarkTrainMemory(b *testing.B) {
	if _, ok := peakRSS(); !ok {
		b.Skip("peak RSS needs Linux /proc/self/status")
	}
	base, res := memoryBenchBase(b)
	exemplars := []Exemplar{{Image: testImage(res, res)}, {Image: testImage(res+res/8, res)}}
	for _, split := range []SplitMode{SplitSamples, SplitBatch} {
		b.Run("split="+string(split), func(b *testing.B) {
			tr, err := prepare(context.Background(), base, exemplars,
				Options{Method: MethodADI, Name: "bench", Memory: MemoryOptions{Split: split}}, func(Event) {})
			if err != nil {
				b.Fatal(err)
			}
			prepPeak, _ := peakRSS()
			init, err := tr.initVector()
			if err != nil {
				b.Fatal(err)
			}
			var vectors []float32
			for range tr.lv {
				vectors = append(vectors, init...)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			runtime.GC()
			debug.FreeOSMemory()
			if err := resetPeakRSS(); err != nil {
				b.Skipf("cannot reset the peak RSS: %v", err)
			}
			baseRSS := currentRSS()
			b.ResetTimer()
			for range b.N {
				if _, _, _, err := tr.gradient(rng, vectors); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			peak, _ := peakRSS()
			b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
			b.ReportMetric(float64(baseRSS)/(1<<20), "base-MB")
			b.ReportMetric(float64(prepPeak)/(1<<20), "prepare-peak-MB")
		})
	}
}

// memoryBenchBase is the model of BenchmarkTrainMemory and its resolution.
func memoryBenchBase(b *testing.B) (Base, int) {
	switch size := os.Getenv("KATA_BENCH_MEMORY_SIZE"); size {
	case "", "tiny":
		return tinyBase(b), 64
	case "sd15-256":
		be, err := backend.New("")
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("backend: %s", backend.Resolve("").Name)
		m, err := sd.NewRandom(sd.SD15TextConfig(), sd.SD15UNetConfig(), sd.SD15VAEConfig(), 1)
		if err != nil {
			b.Fatal(err)
		}
		invert := func(ctx context.Context, img image.Image, prompt string, strength float64, seed uint64) (image.Image, error) {
			return imaging.Invert(img), nil
		}
		return Base{Model: m, Backend: be, Img2Img: invert}, 256
	default:
		b.Fatalf("KATA_BENCH_MEMORY_SIZE=%q: want tiny or sd15-256", size)
		return Base{}, 0
	}
}

// peakRSS returns the process's peak resident set size in bytes since it
// started or since the last resetPeakRSS (Linux VmHWM); ok=false elsewhere.
func peakRSS() (int64, bool) { return procStatusBytes("VmHWM:") }

// currentRSS returns the process's resident set size in bytes (Linux VmRSS).
func currentRSS() int64 {
	v, _ := procStatusBytes("VmRSS:")
	return v
}

func procStatusBytes(key string) (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, found := strings.CutPrefix(line, key); found {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// resetPeakRSS starts a new peak measurement: on Linux 4.0 and later,
// writing 5 to /proc/self/clear_refs sets VmHWM to the current RSS.
func resetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak RSS: %w", err)
	}
	return nil
}
