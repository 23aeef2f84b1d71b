package bench

import (
	"bytes"
	"strings"
	"testing"
)

func verdict(m Method, action, kind, color string) Verdict {
	return Verdict{Method: m, Action: "sit", Subject: Subject{"robot", "red"}, Seed: 5, Prompt: "a, \"quoted\" prompt",
		SeenAction: action, SeenKind: kind, SeenColor: color, ActionP: 0.5, KindP: 0.25, ColorP: 1}
}

func TestSummarise(t *testing.T) {
	vs := []Verdict{
		verdict(MethodADI, "sit", "robot", "red"),   // both right
		verdict(MethodADI, "sit", "person", "red"),  // action only
		verdict(MethodADI, "wave", "robot", "red"),  // subject only
		verdict(MethodADI, "wave", "robot", "blue"), // neither
		verdict(MethodTI, "wave", "robot", "red"),
		verdict("other", "sit", "robot", "red"), // not in the table
	}
	rows := Summarise(vs, []Method{MethodPrompt, MethodTI, MethodADI})
	want := []Row{
		{"", MethodPrompt, Rate{0, 0}, Rate{0, 0}, Rate{0, 0}},
		{"", MethodTI, Rate{0, 1}, Rate{1, 1}, Rate{0, 1}},
		{"", MethodADI, Rate{2, 4}, Rate{2, 4}, Rate{1, 4}},
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[3], "ADI ") ||
		!strings.Contains(lines[3], "50.0 [15.0, 85.0]") || !strings.Contains(lines[3], "25.0 [4.6, 69.9]") ||
		!strings.HasSuffix(lines[3], " 4") || !strings.Contains(lines[1], "-") {
		t.Errorf("table:\n%s", b.String())
	}
	// A variant's label leads every row.
	for i := range vs {
		vs[i].Variant = "beta-0.3"
	}
	b.Reset()
	if err := WriteTable(&b, Summarise(vs, []Method{MethodTI, MethodADI})); err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "variant   method") || !strings.HasPrefix(lines[2], "beta-0.3  ADI ") {
		t.Errorf("table with a variant:\n%s", b.String())
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	v := verdict(MethodPPlus, "sit", "robot", "blue")
	v.Variant = "lr-1e-2"
	if err := WriteCSV(&b, []Verdict{v}); err != nil {
		t.Fatal(err)
	}
	want := strings.Join(CSVHeader, ",") + "\n" +
		`lr-1e-2,p+,sit,robot,red,0,5,"a, ""quoted"" prompt",sit,0.5000,robot,0.2500,blue,1.0000,true,false,false` + "\n"
	if b.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", b.String(), want)
	}
}
