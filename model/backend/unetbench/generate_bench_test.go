package unetbench

import (
	gocontext "context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kata/model/backend"
	"kata/model/safetensors"
	"kata/model/sd"
	"kata/model/sd/sdtest"
	"kata/model/sdtrain"
)

// The generation benchmark runs what `kata generate` runs (sd.Load with its
// options, sd.NewPipeline, one generation with classifier-free guidance) in
// a child process per configuration, so that each reports its own peak
// resident set and page faults, and prints one table: each figure of the
// half-precision weights path (LoadOptions.Precision "stored", loaded into
// the backend, Generate's soft memory limit) beside float32 weights
// (KATA_WEIGHTS=f32) and the half-precision path under the runtime's GC
// target alone (GenerateOptions.MemoryLimit -1, the previous code), then
// each child's memory at the end of each phase (load, step 1, step 2, the
// later steps, the decode).
//
// Environment:
//
//	KATA_BENCH_GENERATE=1          run it (SD 1.5 shapes: minutes per child)
//	KATA_BENCH_GENERATE_MODEL=dir  the model (default: a random-weight SD 1.5
//	                               f16 diffusers folder, written once to
//	                               KATA_BENCH_SD15_DIR or a temporary folder);
//	                               "tiny" takes the sd-tiny fixture (smoke run)
//	KATA_BENCH_GENERATE_SIZES      image sides, default "256,512"
//	KATA_BENCH_GENERATE_STEPS      sampler steps, default 20
//	KATA_BENCH_GENERATE_PROFILE=dir  each child writes CPU profiles of its load
//	                               and of its first step there (go tool pprof
//	                               BINARY dir/SIZE-PRECISION-load.prof, ...-step1.prof;
//	                               PRECISION "stored-nolimit" for the run without
//	                               the memory limit), a CPU profile of the
//	                               steps after the first (...-steps.prof) and
//	                               allocation profiles at the end of step 1
//	                               and of the last step (...-allocs1.prof,
//	                               ...-allocsN.prof; their difference,
//	                               pprof -base, is the steps' allocations)
//
// The model's hash (Model.SHA256) is computed once before the children
// (sd.FileSHA256, printed after the table), so that every child loads
// with it in the hash cache, as every load after a model's first does.
const (
	envGenerate = "KATA_BENCH_GENERATE"
	envChild    = "KATA_BENCH_GENERATE_CHILD" // JSON childConfig: run one configuration
	envWrite    = "KATA_BENCH_GENERATE_WRITE" // folder: write the random checkpoint there
)

// childConfig is one child run.
type childConfig struct {
	Model     string
	Precision string // sd.PrecisionF32 (previous code) or sd.PrecisionStored
	Size      int
	Steps     int
	NoLimit   bool // GenerateOptions.MemoryLimit -1: the runtime's GC target alone (previous code)
}

// childResult is what a child measures. Times are seconds.
type childResult struct {
	Load       float64 // backend.New and sd.Load
	LoadMinFlt int64   // minor page faults from process start to the end of the load
	Step1Flt   int64   // minor page faults from process start to the end of step 1
	ToSampling float64 // process start to the start of the first sampler step (prompts encoded)
	ToStep1    float64 // process start to the end of the first sampling step (compiling included)
	FirstStep  float64 // the first step alone (text encoding and compiling included)
	StepMedian float64 // median of the later steps
	Decode     float64 // VAE decode after the last step
	Generation float64 // the whole Generate call
	PeakRSS    int64   // bytes, getrusage ru_maxrss
	MinFlt     int64   // minor page faults
	MajFlt     int64
	SysTime    float64 // kernel CPU time, s
	UserTime   float64
	Phases     []phaseMemory // memory at the end of each phase, in order
}

// phaseMemory is the memory of a child at the end of one phase of the
// generation: load, step 1 (text encoder, compiling, the first UNet pass),
// step 2, steps 3 to the last, the VAE decode. Bytes.
type phaseMemory struct {
	Phase   string
	MaxRSS  int64 // the largest VmRSS sampled during the phase (every 20 ms)
	HWM     int64 // VmHWM at its end: the process's peak so far
	RSS     int64 // VmRSS at its end
	Anon    int64 // RssAnon at its end (the Go heap, the stacks)
	File    int64 // RssFile at its end (mapped checkpoint pages, the binary)
	Heap    int64 // bytes in live and not yet swept heap objects
	HeapMax int64 // the largest heap-objects value sampled during the phase
	Goal    int64 // the GC's heap goal at its end
	Limit   int64 // the soft memory limit at its end (math.MaxInt64: none)
	GCs     uint32
}

// memorySampler samples this process's resident set and Go heap every
// 20 ms and records one phaseMemory per phase.
type memorySampler struct {
	mu              sync.Mutex
	maxRSS, maxHeap int64
	phases          []phaseMemory
	stop            chan struct{}
	done            chan struct{}
}

func newMemorySampler() *memorySampler {
	s := &memorySampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			st := statusFields()
			heap := heapObjects()
			s.mu.Lock()
			s.maxRSS = max(s.maxRSS, st["VmRSS"])
			s.maxHeap = max(s.maxHeap, heap)
			s.mu.Unlock()
		}
	}()
	return s
}

// end records the phase that ends now and starts the next one.
func (s *memorySampler) end(phase string) {
	st := statusFields()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/goal:bytes"},
		{Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(sample)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.mu.Lock()
	defer s.mu.Unlock()
	heap := int64(sample[0].Value.Uint64())
	s.phases = append(s.phases, phaseMemory{Phase: phase, MaxRSS: max(s.maxRSS, st["VmRSS"]), HWM: st["VmHWM"],
		RSS: st["VmRSS"], Anon: st["RssAnon"], File: st["RssFile"], Heap: heap, HeapMax: max(s.maxHeap, heap),
		Goal: int64(sample[1].Value.Uint64()), Limit: int64(sample[2].Value.Uint64()), GCs: ms.NumGC})
	s.maxRSS, s.maxHeap = 0, 0
}

func (s *memorySampler) close() []phaseMemory {
	close(s.stop)
	<-s.done
	return s.phases
}

func heapObjects() int64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return int64(sample[0].Value.Uint64())
}

// statusFields reads the kB fields of /proc/self/status, in bytes (empty
// where there is no /proc).
func statusFields() map[string]int64 {
	out := map[string]int64{}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return out
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				out[strings.TrimSuffix(f[0], ":")] = n * 1024
			}
		}
	}
	return out
}

// TestGenerateChild is the child's body; it does nothing unless envChild is set.
func TestGenerateChild(t *testing.T) {
	spec := os.Getenv(envChild)
	if spec == "" {
		t.Skip("child of BenchmarkGenerate only")
	}
	var c childConfig
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		t.Fatal(err)
	}
	started := processStart(t)
	mem := newMemorySampler()
	profile, allocs := profiler(t, c)
	stopProfile := profile("load")
	t0 := time.Now()
	be, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	opts := &sd.LoadOptions{Precision: c.Precision}
	if c.Precision == sd.PrecisionStored {
		opts.Backend = be // as cmd_generate loads
	}
	if c.Model == "tiny" {
		c.Model = sdtest.TinyDir()
		opts.Variant = "fp16"
	}
	m, err := sd.Load(c.Model, opts)
	if err != nil {
		t.Fatal(err)
	}
	var r childResult
	r.Load = time.Since(t0).Seconds()
	stopProfile()
	r.LoadMinFlt = rusage(t).Minflt
	mem.end("load")
	stopProfile = profile("step1")
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		t.Fatal(err)
	}
	var stamps []time.Time
	memoryLimit := int64(0) // sized by Generate
	if c.NoLimit {
		memoryLimit = -1
	}
	g0 := time.Now()
	_, err = p.Generate(gocontext.Background(), sd.GenerateOptions{
		Prompt: "a lighthouse on a cliff at dawn", Negative: "blurry", Steps: c.Steps, CFG: 7.5, Seed: 1,
		Width: c.Size, Height: c.Size, MemoryLimit: memoryLimit,
		OnSampling: func() { r.ToSampling = time.Since(started).Seconds() },
		OnStep: func(step, total int, _ []float32) {
			stamps = append(stamps, time.Now())
			if step == 1 {
				stopProfile()
				r.Step1Flt = rusage(t).Minflt
				mem.end("step 1")
				if total > 1 {
					allocs("allocs1")
					stopProfile = profile("steps")
				}
			}
			if step == total && total > 1 {
				stopProfile()
				allocs("allocsN")
			}
			switch {
			case step == 2 && total > 2:
				mem.end("step 2")
			case step == total && total == 2:
				mem.end("step 2")
			case step == total && total > 2:
				mem.end(fmt.Sprintf("steps 3..%d", total))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	mem.end("decode")
	r.Phases = mem.close()
	r.Generation = end.Sub(g0).Seconds()
	r.FirstStep = stamps[0].Sub(g0).Seconds()
	r.ToStep1 = stamps[0].Sub(started).Seconds()
	r.Decode = end.Sub(stamps[len(stamps)-1]).Seconds()
	var later []float64
	for i := 1; i < len(stamps); i++ {
		later = append(later, stamps[i].Sub(stamps[i-1]).Seconds())
	}
	if len(later) > 0 {
		slices.Sort(later)
		r.StepMedian = later[len(later)/2]
	}
	ru := rusage(t)
	r.PeakRSS = ru.Maxrss * 1024
	r.MinFlt, r.MajFlt = ru.Minflt, ru.Majflt
	r.SysTime = time.Duration(ru.Stime.Nano()).Seconds()
	r.UserTime = time.Duration(ru.Utime.Nano()).Seconds()
	out, _ := json.Marshal(r)
	fmt.Printf("GENERATE-RESULT %s\n", out)
}

// rusage is this process's resource usage so far.
func rusage(t *testing.T) syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru
}

// profiler returns a function that starts a CPU profile of the phase named
// (to KATA_BENCH_GENERATE_PROFILE/SIZE-PRECISION-PHASE.prof) and returns
// the function that stops it, and one that writes the allocation profile
// so far under the name given; without that variable they do nothing.
func profiler(t *testing.T, c childConfig) (cpu func(phase string) func(), allocs func(name string)) {
	dir := os.Getenv("KATA_BENCH_GENERATE_PROFILE")
	create := func(phase string) *os.File {
		name := c.Precision
		if c.NoLimit {
			name += "-nolimit"
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%d-%s-%s.prof", c.Size, name, phase)))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	allocs = func(name string) {
		if dir == "" {
			return
		}
		f := create(name)
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			t.Error(err)
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}
	cpu = func(phase string) func() {
		if dir == "" {
			return func() {}
		}
		f := create(phase)
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		return func() {
			once.Do(func() {
				pprof.StopCPUProfile()
				if err := f.Close(); err != nil {
					t.Error(err)
				}
			})
		}
	}
	return cpu, allocs
}

// processStart reads this process's start time from /proc (jiffies since boot).
func processStart(t *testing.T) time.Time {
	stat, err1 := os.ReadFile("/proc/self/stat")
	uptime, err2 := os.ReadFile("/proc/uptime")
	if err1 != nil || err2 != nil {
		return time.Now() // elsewhere: from the test's start
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ticks, _ := strconv.ParseFloat(fields[19], 64) // field 22, starttime
	up, _ := strconv.ParseFloat(strings.Fields(string(uptime))[0], 64)
	const hz = 100 // USER_HZ on Linux
	return time.Now().Add(-time.Duration((up - ticks/hz) * float64(time.Second)))
}

// benchModel is the model folder a benchmark measures: $env when set, else
// $KATA_BENCH_SD15_DIR or a temporary folder, holding the random-weight f16
// SD 1.5 checkpoint, written first when it is not there (in a child, so that
// the 7 GB it takes to build are not resident beside the measured children).
func benchModel(b *testing.B, env string) string {
	if model := os.Getenv(env); model != "" {
		return model
	}
	model := os.Getenv("KATA_BENCH_SD15_DIR")
	if model == "" {
		model = filepath.Join(b.TempDir(), "sd15-random-f16")
	}
	if _, err := os.Stat(filepath.Join(model, "model_index.json")); err != nil {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriteRandomSD15$", "-test.count=1")
		cmd.Env = append(os.Environ(), envWrite+"="+model)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("writing the random SD 1.5 checkpoint: %v\n%s", err, out)
		}
	}
	return model
}

// columns are the runs BenchmarkGenerate compares at each size.
var columns = [...]struct {
	name   string
	config childConfig
}{
	{"f32 weights (KATA_WEIGHTS=f32)", childConfig{Precision: sd.PrecisionF32}},
	{"half, GC target alone (previous code)", childConfig{Precision: sd.PrecisionStored, NoLimit: true}},
	{"half-precision weights", childConfig{Precision: sd.PrecisionStored}},
}

// BenchmarkGenerate prints the table described above (see the constants).
func BenchmarkGenerate(b *testing.B) {
	if os.Getenv(envGenerate) != "1" {
		b.Skip(envGenerate + "=1 runs it (SD 1.5 shapes; minutes per configuration)")
	}
	model := benchModel(b, "KATA_BENCH_GENERATE_MODEL")
	sizes := []int{256, 512}
	if s := os.Getenv("KATA_BENCH_GENERATE_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("KATA_BENCH_GENERATE_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	steps := 20
	if s := os.Getenv("KATA_BENCH_GENERATE_STEPS"); s != "" {
		var err error
		if steps, err = strconv.Atoi(s); err != nil {
			b.Fatalf("KATA_BENCH_GENERATE_STEPS: %v", err)
		}
	}
	for range b.N { // one pass whatever b.N: the children do the timing
	}
	hashTime, err := hashModel(model)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("\nGeneration, %s, %d steps, CFG 7.5 (two UNet passes per step), pure Go, GOMAXPROCS %d\n",
		model, steps, runtime.GOMAXPROCS(0))
	type timeline struct {
		size   int
		column string
		phases []phaseMemory
	}
	var timelines []timeline
	fmt.Printf("| size | figure | %s | %s | %s |\n", columns[0].name, columns[1].name, columns[2].name)
	fmt.Println("|---|---|---|---|---|")
	for _, size := range sizes {
		var res [len(columns)]childResult
		for i, col := range columns {
			c := col.config
			c.Model, c.Size, c.Steps = model, size, steps
			r, err := runChild(c)
			if err != nil {
				b.Fatalf("%d px, %s: %v", size, col.name, err)
			}
			res[i] = r
			timelines = append(timelines, timeline{size, col.name, r.Phases})
		}
		row := func(name string, f func(childResult) string) {
			fmt.Printf("| %d | %s | %s | %s | %s |\n", size, name, f(res[0]), f(res[1]), f(res[2]))
		}
		sec := func(f func(childResult) float64) func(childResult) string {
			return func(r childResult) string { return fmt.Sprintf("%.2f s", f(r)) }
		}
		row("load (backend and checkpoint)", sec(func(r childResult) float64 { return r.Load }))
		row("minor page faults: to the end of the load / of step 1", func(r childResult) string {
			return fmt.Sprintf("%d / %d", r.LoadMinFlt, r.Step1Flt)
		})
		row("process start to the first sampling step (prompts encoded)", sec(func(r childResult) float64 { return r.ToSampling }))
		row("process start to the end of step 1", sec(func(r childResult) float64 { return r.ToStep1 }))
		row("step 1 (text encoder, compiling)", sec(func(r childResult) float64 { return r.FirstStep }))
		row("s/step (median of steps 2..)", sec(func(r childResult) float64 { return r.StepMedian }))
		row("VAE decode", sec(func(r childResult) float64 { return r.Decode }))
		row("whole generation", sec(func(r childResult) float64 { return r.Generation }))
		row("peak RSS", func(r childResult) string { return fmt.Sprintf("%.2f GB", float64(r.PeakRSS)/1e9) })
		row("minor / major page faults", func(r childResult) string { return fmt.Sprintf("%d / %d", r.MinFlt, r.MajFlt) })
		row("user / system CPU", func(r childResult) string { return fmt.Sprintf("%.1f / %.1f s", r.UserTime, r.SysTime) })
	}
	if len(timelines) > 0 {
		fmt.Println("\nMemory at the end of each phase (GB = 10^9 bytes; max RSS and max heap sampled every 20 ms during the phase;")
		fmt.Println("heap: live and unswept heap objects; goal: the GC's heap goal; GCs: collections so far)")
		fmt.Println("| size | run | phase | max RSS | VmHWM | RSS (anon / file) | heap (max) | goal | memory limit | GCs |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
		for _, tl := range timelines {
			for _, ph := range tl.phases {
				limit := "none"
				if ph.Limit < math.MaxInt64 {
					limit = gb(ph.Limit)
				}
				fmt.Printf("| %d | %s | %s | %s | %s | %s (%s / %s) | %s (%s) | %s | %s | %d |\n", tl.size, tl.column, ph.Phase,
					gb(ph.MaxRSS), gb(ph.HWM), gb(ph.RSS), gb(ph.Anon), gb(ph.File), gb(ph.Heap), gb(ph.HeapMax), gb(ph.Goal), limit, ph.GCs)
			}
		}
	}
	fmt.Printf("\nhash the UNet file before the children (sd.FileSHA256; milliseconds when it was in the hash cache already): %.2f s\n", hashTime)
}

// gb writes n bytes in GB (10^9 bytes).
func gb(n int64) string { return fmt.Sprintf("%.2f", float64(n)/1e9) }

// hashModel puts the hash of model's UNet weights file (or of the single
// file) into the hash cache, as a first load does, and returns how long it
// took. The sd-tiny fixture ("tiny") is left alone.
func hashModel(model string) (float64, error) {
	if model == "tiny" {
		return 0, nil
	}
	p := model
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		p = filepath.Join(model, "unet", "diffusion_pytorch_model.safetensors")
		if _, err := os.Stat(p); err != nil {
			p = filepath.Join(model, "unet", "diffusion_pytorch_model.fp16.safetensors")
		}
	}
	t0 := time.Now()
	if _, err := sd.FileSHA256(p); err != nil {
		return 0, err
	}
	return time.Since(t0).Seconds(), nil
}

// TestWriteRandomSD15 writes the benchmark's checkpoint to the folder envWrite
// names (BenchmarkGenerate runs it as a child); it does nothing otherwise.
func TestWriteRandomSD15(t *testing.T) {
	dir := os.Getenv(envWrite)
	if dir == "" {
		t.Skip("child of BenchmarkGenerate only")
	}
	if err := writeRandomSD15(dir); err != nil {
		t.Fatal(err)
	}
}

// runChild runs this test binary's TestGenerateChild with c.
func runChild(c childConfig) (childResult, error) {
	spec, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^TestGenerateChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envChild+"="+string(spec), sd.EnvWeights+"=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return childResult{}, fmt.Errorf("child: %w\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "GENERATE-RESULT "); ok {
			var r childResult
			return r, json.Unmarshal([]byte(rest), &r)
		}
	}
	return childResult{}, fmt.Errorf("child printed no result:\n%s", out)
}

// writeRandomSD15 writes a diffusers folder with SD 1.5's configs and random
// weights (sd.NewRandom, stored as F16 like a released fp16 checkpoint) at
// dir, unless dir already holds one. About 2.1 GB on disk; building it
// took 6.9 GB resident (the float32 model and the F16 copies).
func writeRandomSD15(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "model_index.json")); err == nil {
		return nil
	}
	text, unet, vae := sd.SD15TextConfig(), sd.SD15UNetConfig(), sd.SD15VAEConfig()
	m, err := sd.NewRandom(text, unet, vae, 1)
	if err != nil {
		return err
	}
	defer m.Finalize()
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	textJSON, err := sdtrain.TextConfigJSON(text)
	if err != nil {
		return err
	}
	unetJSON, err := sdtrain.UNetConfigJSON(unet)
	if err != nil {
		return err
	}
	vaeJSON, err := sdtrain.VAEConfigJSON(vae, m.NativeSize())
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"model_index.json":         []byte(`{"_class_name": "StableDiffusionPipeline"}`),
		"text_encoder/config.json": textJSON,
		"unet/config.json":         unetJSON,
		"vae/config.json":          vaeJSON,
	}
	for name, data := range files {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	dims := m.WeightDims()
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	weights := map[string][]safetensors.Tensor{}
	for _, key := range keys {
		data, shape, err := m.Weight(key)
		if err != nil {
			return err
		}
		component, name, _ := strings.Cut(key, "/")
		weights[component] = append(weights[component], safetensors.F16Tensor(name, shape, data))
	}
	for component, file := range map[string]string{
		sd.ComponentText: "text_encoder/model.safetensors",
		sd.ComponentUNet: "unet/diffusion_pytorch_model.safetensors",
		sd.ComponentVAE:  "vae/diffusion_pytorch_model.safetensors",
	} {
		if err := safetensors.Write(filepath.Join(tmp, file), weights[component], nil); err != nil {
			return err
		}
		delete(weights, component)
	}
	return os.Rename(tmp, dir)
}
