package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/sd/sdtest"
	"kata/model/world/bench"
	"kata/model/world/judge"
)

// randomJudges writes judges with random weights: they read nothing, which
// is all a plumbing check needs.
func randomJudges(t *testing.T) string {
	t.Helper()
	be, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	j, err := judge.New(be, judge.WorldVocabulary(), nil, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "judges.safetensors")
	if err := j.Save(path, false); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBenchActionsQuick runs `kata bench actions --quick` end to end on the
// sd-tiny fixture (random weights) with the shipped judges: every file appears,
// the table has one row per method with n images each, the CSV one line
// per image with the same seeds for every method. Accuracy means nothing here.
func TestBenchActionsQuick(t *testing.T) {
	t.Setenv(backend.EnvBackend, "go")
	out := filepath.Join(t.TempDir(), "run")
	if d := os.Getenv("KATA_BENCH_KEEP"); d != "" {
		out = d
	}
	code, stdout, stderr := runMain("bench", "actions", "--quick", "--model", sdtest.TinyDir(), "--out", out, "--seed", "3", "--variant", "quick-check")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Log(stdout + stderr)
	q, _ := bench.Quick().WithDefaults()
	perMethod := len(q.Actions) * len(q.Subjects) * q.Images
	for _, m := range bench.Methods {
		label := bench.MethodLabel(m)
		i := strings.Index(stdout, label)
		if i < 0 {
			t.Fatalf("table lacks %s:\n%s", label, stdout)
		}
		line := stdout[i:]
		line = line[:strings.IndexByte(line, '\n')]
		if f := strings.Fields(line); f[len(f)-1] != "2" || strings.Count(line, "[") != 3 {
			t.Errorf("row %q: want three intervals and n = %d", line, perMethod)
		}
		if _, err := os.Stat(filepath.Join(out, benchSheetName(m))); err != nil {
			t.Error(err)
		}
	}
	f, err := os.Open(filepath.Join(out, BenchVerdictsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(bench.Methods)*perMethod || !slices.Equal(recs[0], bench.CSVHeader) {
		t.Fatalf("%d records, header %v", len(recs), recs[0])
	}
	seeds := map[string]map[string]bool{} // subject -> seeds, over methods
	for _, r := range recs[1:] {
		s := r[3] + " " + r[4]
		if seeds[s] == nil {
			seeds[s] = map[string]bool{}
		}
		seeds[s][r[6]] = true
		if r[1] == "prompt" && !strings.Contains(r[7], "doing a handstand") || r[1] != "prompt" && !strings.Contains(r[7], "<handstand>") {
			t.Errorf("%s prompt %q", r[1], r[7])
		}
		if r[0] != "quick-check" {
			t.Errorf("variant %q, want quick-check", r[0])
		}
	}
	for s, set := range seeds {
		if len(set) != q.Images {
			t.Errorf("%s: %d distinct seeds over the methods, want %d", s, len(set), q.Images)
		}
	}
	// Progress: plain lines (stderr is no terminal), percentages rising to
	// 100 only at the end, the last stage line close to it (the work-unit
	// total matches the work done).
	var pcts []float64
	for _, l := range strings.Split(stderr, "\n") {
		var p float64
		if _, err := fmt.Sscanf(strings.TrimSpace(l), "%f%%", &p); err == nil {
			pcts = append(pcts, p)
		}
	}
	if n := len(pcts); n < 3 || pcts[n-1] != 100 || pcts[n-2] < 90 || pcts[n-2] >= 100 || !slices.IsSorted(pcts) {
		t.Errorf("progress percentages %v", pcts)
	}
	report, err := os.ReadFile(filepath.Join(out, BenchReportFile))
	if err != nil || !strings.Contains(string(report), "seed      3") || !strings.Contains(string(report), "judges    shipped") ||
		!strings.Contains(string(report), "variant   quick-check") || !strings.Contains(string(report), "--out "+out) ||
		!strings.Contains(string(report), "in batches of 1") || !regexp.MustCompile(`(?m)^  handstand  adi .*V moved \d+\.\d\dx its start's norm, masks kept \d+\.\d% of V;`).Match(report) {
		t.Errorf("report: %v\n%s", err, report)
	}
	// A second run into the same folder refuses before any work.
	code, _, stderr = runMain("bench", "actions", "--quick", "--model", sdtest.TinyDir(), "--judges", "nope", "--out", out)
	if code != 1 || !strings.Contains(stderr, "already holds a benchmark run") {
		t.Errorf("rerun: exit %d, %s", code, stderr)
	}
}

func TestParseBenchActionsArgs(t *testing.T) {
	q, _ := bench.Quick().WithDefaults()
	for _, tc := range []struct {
		name  string
		args  []string
		check func(o bench.Options) bool
	}{
		{"defaults", nil, func(o bench.Options) bool {
			return len(o.Actions) == 8 && len(o.Subjects) == len(bench.DefaultSubjects) && o.Steps == 500 && o.Images == 4 && o.Exemplars == 10
		}},
		{"quick", []string{"--quick"}, func(o bench.Options) bool {
			return slices.Equal(o.Actions, q.Actions) && len(o.Subjects) == 2 && o.Steps == q.Steps && o.Images == q.Images && o.SampleSteps == q.SampleSteps
		}},
		{"flags override quick", []string{"--quick", "--steps", "7", "--images", "3", "--actions", "sit, squat"}, func(o bench.Options) bool {
			return o.Steps == 7 && o.Images == 3 && slices.Equal(o.Actions, []string{"sit", "squat"}) && o.SampleSteps == q.SampleSteps
		}},
		{"lists", []string{"--subjects", "red robot, black cat", "--methods", "adi,prompt", "--seed", "9"}, func(o bench.Options) bool {
			return slices.Equal(o.Subjects, []bench.Subject{{Kind: "robot", Color: "red"}, {Kind: "cat", Color: "black"}}) &&
				slices.Equal(o.Methods, []bench.Method{bench.MethodPrompt, bench.MethodADI}) && o.Seed == 9
		}},
		{"adi settings", []string{"--beta", "0.3", "--mask-scope", "all", "--negatives", "4", "--strength", "0.5", "--lr", "0.01", "--lazy-adam", "--variant", "v1"}, func(o bench.Options) bool {
			return o.Train.Mask.Beta == 0.3 && o.Train.Mask.Scope == "all" && o.Train.Contrast.PerExemplar == 4 &&
				o.Train.Contrast.Strength == 0.5 && o.Train.AdamW.LR == 0.01 && o.Train.AdamW.Lazy && o.Variant == "v1"
		}},
		{"adi defaults", nil, func(o bench.Options) bool {
			return o.Train.Mask == adi.DefaultMaskConfig() && o.Train.Contrast.PerExemplar == adi.DefaultContrastPerExemplar &&
				o.Train.Contrast.Strength == adi.DefaultContrastStrength && o.Train.AdamW.LR == 0 && !o.Train.AdamW.Lazy && o.Variant == ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseBenchActionsArgs(Env{Stdout: io.Discard, Stderr: io.Discard}, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(a.opts) {
				t.Errorf("options %+v", a.opts)
			}
		})
	}
}

func TestBenchActionsErrors(t *testing.T) {
	t.Setenv(backend.EnvBackend, "go")
	t.Setenv(EnvBuiltinModel, "none")
	used := filepath.Join(t.TempDir(), "used")
	if err := os.MkdirAll(used, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(used, BenchReportFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tiny := sdtest.TinyDir()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no model", []string{"--quick"}, 1, "no --model given and this build has no built-in model: pass --model"},
		{"used folder", []string{"--model", tiny, "--judges", "j", "--out", used}, 1, "already holds a benchmark run"},
		{"out is a file", []string{"--model", tiny, "--judges", "j", "--out", notDir}, 1, "--out"},
		{"missing judges file", []string{"--model", tiny, "--judges", filepath.Join(t.TempDir(), "none"), "--out", t.TempDir()}, 1, "load judges"},
		{"bad subject", []string{"--subjects", "red dragon"}, 2, `unknown kind "dragon"`},
		{"bad method", []string{"--methods", "ti,lora"}, 2, `unknown method "lora"`},
		{"common action", []string{"--actions", "wave"}, 2, "not a benchmark action"},
		{"zero steps", []string{"--steps", "0"}, 2, "--steps must be at least 1"},
		{"beta", []string{"--beta", "1.5"}, 2, "--beta 1.5 outside"},
		{"scope", []string{"--mask-scope", "global"}, 2, "--mask-scope must be layer or all"},
		{"extra argument", []string{"handstand"}, 2, "unexpected arguments"},
		{"no negatives", []string{"--negatives", "0"}, 2, "--negatives must be at least 1"},
		{"strength", []string{"--strength", "0"}, 2, "--strength 0 outside (0, 1]"},
		{"variant", []string{"--variant", "a b"}, 2, `variant "a b"`},
		{"images above a batch", []string{"--images", "65"}, 2, "at most 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runMain(append([]string{"bench", "actions"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}

// TestBenchActionsCancel: a cancelled run stops with status 130 and writes
// no results.
func TestBenchActionsCancel(t *testing.T) {
	t.Setenv(backend.EnvBackend, "go")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := Main(ctx, []string{"bench", "actions", "--quick", "--model", sdtest.TinyDir(), "--judges", randomJudges(t), "--out", out},
		Env{Stdout: &stdout, Stderr: &stderr})
	if code != 130 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, BenchVerdictsFile)); !os.IsNotExist(err) {
		t.Errorf("cancelled run left %s: %v", BenchVerdictsFile, err)
	}
}

func TestMarkVerdict(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for _, tc := range []struct {
		name                 string
		seenAction, seenKind string
		left, right          color.NRGBA
	}{
		{"both right", "sit", "robot", benchRight, benchRight},
		{"action only", "sit", "cat", benchRight, benchWrong},
		{"subject only", "wave", "robot", benchWrong, benchRight},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := bench.Verdict{Action: "sit", Subject: bench.Subject{Kind: "robot", Color: "red"},
				SeenAction: tc.seenAction, SeenKind: tc.seenKind, SeenColor: "red"}
			out := markVerdict(img, v)
			if got := out.NRGBAAt(2, 63); got != tc.left {
				t.Errorf("action mark %v, want %v", got, tc.left)
			}
			if got := out.NRGBAAt(61, 62); got != tc.right {
				t.Errorf("subject mark %v, want %v", got, tc.right)
			}
			if got := out.NRGBAAt(32, 20); got != (color.NRGBA{255, 255, 255, 255}) {
				t.Errorf("picture changed above the strip: %v", got)
			}
		})
	}
	if img.NRGBAAt(2, 63) != (color.NRGBA{255, 255, 255, 255}) {
		t.Error("markVerdict drew on its input")
	}
}
