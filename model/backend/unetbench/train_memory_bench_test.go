package unetbench

import (
	"cmp"
	gocontext "context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/sd"
	"kata/model/sd/sdtest"
)

// The training-memory benchmark runs what `kata train` runs on the pure-Go
// backend (sd.Load with a weight precision, adi.Train of an ADI identifier
// from two exemplars) in a child process per configuration, so that each
// reports its own peak resident set (getrusage), and prints one table row per
// configuration. Peak RSS stays valid on shared cores; the times it prints
// are not, unless the machine was idle.
//
// Environment:
//
//	KATA_BENCH_TRAIN_MEMORY=1         run it (SD 1.5 shapes: minutes per child)
//	KATA_BENCH_TRAIN_MEMORY_MODEL=dir the model (default: the random-weight SD 1.5
//	                                  f16 diffusers folder of BenchmarkGenerate,
//	                                  KATA_BENCH_SD15_DIR or a temporary folder);
//	                                  "tiny" takes the sd-tiny fixture (smoke run)
//	KATA_BENCH_TRAIN_MEMORY_SIZE      training resolution in pixels, default 512
//	KATA_BENCH_TRAIN_MEMORY_STEPS     ADI optimiser steps, default 1
//	KATA_BENCH_TRAIN_MEMORY_NOFLIP=1  train without random flips: half the VAE
//	                                  encodings before the steps (their memory
//	                                  and time), the same steps
//	KATA_BENCH_TRAIN_MEMORY_PROFILE=dir each child writes a Go heap profile
//	                                  (runtime/pprof, in-use space) to
//	                                  dir/heap-<configuration>.pprof whenever its
//	                                  resident set has grown 256 MB past the
//	                                  last profile's: the last one is taken
//	                                  near the peak (the heap as of the
//	                                  collection before it)
//	KATA_BENCH_TRAIN_MEMORY_CONFIGS   comma-separated configurations
//	                                  precision/split/gc/text, default
//	                                  "f32/samples/0/joint,stored/samples/0/joint,
//	                                  stored/samples/25/joint,stored/samples/25/apart"
//
// precision is sd.PrecisionF32 ("f32": every weight widened at load, what
// `kata train` did before) or sd.PrecisionStored ("stored": F16 weights kept
// as stored); split is an adi.SplitMode; gc is adi.MemoryOptions.GCPercent
// (0: the runtime's GOGC, 100 unless set, the default); text is "joint" (the
// default) or "apart" (adi.MemoryOptions.TextApart). Each child trains with one synthesised negative per
// exemplar (the memory of a step does not depend on how many there are).
const (
	envTrainMemory      = "KATA_BENCH_TRAIN_MEMORY"
	envTrainMemoryChild = "KATA_BENCH_TRAIN_MEMORY_CHILD" // JSON trainConfig: run one configuration
)

// trainConfig is one child run of the training-memory benchmark.
type trainConfig struct {
	Model     string
	Precision string
	Split     adi.SplitMode
	GCPercent int // adi.MemoryOptions.GCPercent
	TextApart bool
	Size      int
	Steps     int
	NoFlip    bool
	Profile   string // heap profile file, "" for none
}

// trainResult is what a training child measures. Bytes and seconds.
type trainResult struct {
	PeakRSS     int64   // the whole process, getrusage ru_maxrss
	PreparePeak int64   // VmHWM at the last prepare event (load, VAE encodings)
	Step1Peak   int64   // VmHWM when step 1 ended
	Load        float64 // backend.New and sd.Load
	Steps       []float64
	UserTime    float64
	SysTime     float64
	NumGC       uint32
}

// TestTrainMemoryChild is the child's body; it does nothing unless
// envTrainMemoryChild is set.
func TestTrainMemoryChild(t *testing.T) {
	spec := os.Getenv(envTrainMemoryChild)
	if spec == "" {
		t.Skip("child of BenchmarkTrainMemory only")
	}
	var c trainConfig
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		t.Fatal(err)
	}
	if c.Profile != "" {
		stop := profileAtPeak(t, c.Profile)
		defer stop()
	}
	t0 := time.Now()
	be, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	opts := &sd.LoadOptions{Precision: c.Precision}
	if c.Precision == sd.PrecisionStored {
		opts.Backend = be // as kata train loads now; f32 is the previous code's load
	}
	if c.Model == "tiny" {
		c.Model = sdtest.TinyDir()
		opts.Variant = "fp16"
	}
	m, err := sd.Load(c.Model, opts)
	if err != nil {
		t.Fatal(err)
	}
	var r trainResult
	r.Load = time.Since(t0).Seconds()
	invert := func(ctx gocontext.Context, img image.Image, prompt string, strength float64, seed uint64) (image.Image, error) {
		return imaging.Invert(img), nil
	}
	base := adi.Base{Model: m, Backend: be, Img2Img: invert}
	exemplars := []adi.Exemplar{{Image: stripes(c.Size, c.Size, 0)}, {Image: stripes(c.Size, c.Size, 1)}}
	last := time.Now()
	_, err = adi.Train(gocontext.Background(), base, exemplars, adi.Options{
		Method: adi.MethodADI, Name: "bench", Steps: c.Steps, Resolution: c.Size, NoFlip: c.NoFlip,
		Contrast: adi.ContrastOptions{PerExemplar: 1},
		Memory:   adi.MemoryOptions{Split: c.Split, GCPercent: c.GCPercent, TextApart: c.TextApart},
	}, func(e adi.Event) {
		switch e.Kind {
		case adi.EventPrepare:
			r.PreparePeak = procStatus(t, "VmHWM:")
			last = time.Now()
		case adi.EventStep:
			now := time.Now()
			r.Steps = append(r.Steps, now.Sub(last).Seconds())
			last = now
			if e.Step == 1 {
				r.Step1Peak = procStatus(t, "VmHWM:")
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.PeakRSS = ru.Maxrss * 1024
	r.UserTime = time.Duration(ru.Utime.Nano()).Seconds()
	r.SysTime = time.Duration(ru.Stime.Nano()).Seconds()
	r.NumGC = ms.NumGC
	out, _ := json.Marshal(r)
	fmt.Printf("TRAIN-MEMORY-RESULT %s\n", out)
}

// stripes is a w x h test photo: vertical bars whose phase differs per
// exemplar, so the two exemplars' latents differ.
func stripes(w, h, phase int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(40)
			if (x/16+phase)%2 == 0 {
				v = 220
			}
			img.SetNRGBA(x, y, color.NRGBA{v, uint8(y * 255 / max(h-1, 1)), 255 - v, 255})
		}
	}
	return img
}

// profileAtPeak writes a heap profile to path each time the resident set
// (VmRSS) has grown 256 MB past the one at the last profile, polling every
// second, until the returned function is called. The file's last version
// comes from near the process's peak; its in-use figures are those of the
// last completed collection.
func profileAtPeak(t *testing.T, path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var last int64
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			rss := procStatus(t, "VmRSS:")
			if rss < last+256<<20 {
				continue
			}
			last = rss
			f, err := os.Create(path)
			if err != nil {
				t.Errorf("heap profile: %v", err)
				return
			}
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Errorf("heap profile: %v", err)
				return
			}
			fmt.Printf("TRAIN-MEMORY-PROFILE %s at VmRSS %.2f GB\n", path, float64(rss)/1e9)
		}
	}()
	return func() { close(done); <-finished }
}

// procStatus reads a kB field of /proc/self/status in bytes (0 elsewhere).
func procStatus(t *testing.T, key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/status %s: %v", key, err)
			}
			return kb << 10
		}
	}
	return 0
}

// BenchmarkTrainMemory prints the table described above (see the constants).
func BenchmarkTrainMemory(b *testing.B) {
	if os.Getenv(envTrainMemory) != "1" {
		b.Skip(envTrainMemory + "=1 runs it (SD 1.5 shapes; minutes per configuration)")
	}
	model := benchModel(b, "KATA_BENCH_TRAIN_MEMORY_MODEL")
	size, steps := 512, 1
	for _, v := range []struct {
		env string
		p   *int
	}{{"KATA_BENCH_TRAIN_MEMORY_SIZE", &size}, {"KATA_BENCH_TRAIN_MEMORY_STEPS", &steps}} {
		if s := os.Getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				b.Fatalf("%s=%q: want a positive number", v.env, s)
			}
			*v.p = n
		}
	}
	specs := "f32/samples/0/joint,stored/samples/0/joint,stored/samples/25/joint,stored/samples/25/apart"
	if s := os.Getenv("KATA_BENCH_TRAIN_MEMORY_CONFIGS"); s != "" {
		specs = s
	}
	var configs []trainConfig
	for _, spec := range strings.Split(specs, ",") {
		f := strings.Split(strings.TrimSpace(spec), "/")
		if len(f) != 4 || f[3] != "joint" && f[3] != "apart" {
			b.Fatalf("configuration %q: want precision/split/gc/text, text joint or apart", spec)
		}
		split, err := adi.ParseSplitMode(f[1])
		if err != nil {
			b.Fatal(err)
		}
		gc, err := strconv.Atoi(f[2])
		if err != nil {
			b.Fatalf("configuration %q: gc percent %v", spec, err)
		}
		c := trainConfig{Model: model, Precision: f[0], Split: split, GCPercent: cmp.Or(gc, -1), TextApart: f[3] == "apart", Size: size, Steps: steps,
			NoFlip: os.Getenv("KATA_BENCH_TRAIN_MEMORY_NOFLIP") == "1"}
		if dir := os.Getenv("KATA_BENCH_TRAIN_MEMORY_PROFILE"); dir != "" {
			c.Profile = filepath.Join(dir, fmt.Sprintf("heap-%s-%s-%d-%s-%d.pprof", f[0], f[1], gc, f[3], size))
		}
		configs = append(configs, c)
	}
	for range b.N { // one pass whatever b.N: the children measure
	}
	fmt.Printf("\nADI training, %s, %d px, %d step(s), batch 1, one negative per exemplar, flips %v, pure Go, GOMAXPROCS %d\n",
		model, size, steps, !configs[0].NoFlip, runtime.GOMAXPROCS(0))
	fmt.Println("| weights | split | GC percent | text pass | peak RSS | peak to the end of prepare | peak to the end of step 1 | GCs | s/step | user / system CPU |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, c := range configs {
		r, err := runTrainChild(c)
		if err != nil {
			b.Fatalf("%s/%s/%d/apart=%v: %v", c.Precision, c.Split, c.GCPercent, c.TextApart, err)
		}
		var st []string
		for _, s := range r.Steps {
			st = append(st, fmt.Sprintf("%.1f", s))
		}
		gb := func(v int64) string { return fmt.Sprintf("%.2f GB", float64(v)/1e9) }
		text := "joint"
		if c.TextApart {
			text = "apart"
		}
		fmt.Printf("| %s | %s | %d | %s | %s | %s | %s | %d | %s | %.1f / %.1f s |\n", c.Precision, c.Split, c.GCPercent, text,
			gb(r.PeakRSS), gb(r.PreparePeak), gb(r.Step1Peak), r.NumGC, strings.Join(st, ", "), r.UserTime, r.SysTime)
	}
}

// runTrainChild runs this test binary's TestTrainMemoryChild with c.
func runTrainChild(c trainConfig) (trainResult, error) {
	spec, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^TestTrainMemoryChild$", "-test.count=1", "-test.v", "-test.timeout=0")
	cmd.Env = append(os.Environ(), envTrainMemoryChild+"="+string(spec), sd.EnvWeights+"=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return trainResult{}, fmt.Errorf("child: %w\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "TRAIN-MEMORY-RESULT "); ok {
			var r trainResult
			return r, json.Unmarshal([]byte(rest), &r)
		}
	}
	return trainResult{}, fmt.Errorf("child printed no result:\n%s", out)
}
