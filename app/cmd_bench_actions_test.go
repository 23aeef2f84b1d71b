package app

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kata/model/backend"
	"kata/model/sd/sdtest"
	"kata/model/world"
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
	j, err := judge.New(be, judge.Vocabulary{Kinds: world.Kinds, Colors: world.Colors, Actions: world.Actions()}, nil, 1)
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
// sd-tiny fixture (random weights) with random judges: every file appears,
// the table has one row per method with n images each, the CSV one line
// per image with the same seeds for every method. Accuracy means nothing here.
func TestBenchActionsQuick(t *testing.T) {
	t.Setenv(backend.EnvBackend, "go")
	out := filepath.Join(t.TempDir(), "run")
	if d := os.Getenv("KATA_BENCH_KEEP"); d != "" {
		out = d
	}
	code, stdout, stderr := runMain("bench", "actions", "--quick", "--model", sdtest.TinyDir(), "--judges", randomJudges(t),
		"--out", out, "--seed", "3")
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
		s := r[2] + " " + r[3]
		if seeds[s] == nil {
			seeds[s] = map[string]bool{}
		}
		seeds[s][r[5]] = true
		if r[0] == "prompt" && !strings.Contains(r[6], "doing a handstand") || r[0] != "prompt" && !strings.Contains(r[6], "<handstand>") {
			t.Errorf("%s prompt %q", r[0], r[6])
		}
	}
	for s, set := range seeds {
		if len(set) != q.Images {
			t.Errorf("%s: %d distinct seeds over the methods, want %d", s, len(set), q.Images)
		}
	}
	report, err := os.ReadFile(filepath.Join(out, BenchReportFile))
	if err != nil || !strings.Contains(string(report), "seed      3") {
		t.Errorf("report: %v\n%s", err, report)
	}
	// A second run into the same folder refuses before any work.
	code, _, stderr = runMain("bench", "actions", "--quick", "--model", sdtest.TinyDir(), "--judges", "nope", "--out", out)
	if code != 1 || !strings.Contains(stderr, "already holds a benchmark run") {
		t.Errorf("rerun: exit %d, %s", code, stderr)
	}
}
