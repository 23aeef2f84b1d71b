package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
)

// Verdict is one generated image with what the judges read in it.
type Verdict struct {
	Variant string // Options.Variant of the run
	Method  Method
	Action  string  // the action asked for
	Subject Subject // the subject asked for
	Index   int     // image number within (method, action, subject), 0-based
	Seed    uint64  // sampler seed: the same for every method
	Prompt  string

	// What the judges read, with the probability of each reading.
	SeenAction, SeenKind, SeenColor string
	ActionP, KindP, ColorP          float64
}

// ActionOK reports whether the pose judge read the action asked for.
func (v Verdict) ActionOK() bool { return v.SeenAction == v.Action }

// SubjectOK reports whether the subject judge read the kind and colour asked for.
func (v Verdict) SubjectOK() bool {
	return v.SeenKind == v.Subject.Kind && v.SeenColor == v.Subject.Color
}

// TotalOK reports whether both judges agree with the prompt.
func (v Verdict) TotalOK() bool { return v.ActionOK() && v.SubjectOK() }

// Row is one method's line of the benchmark table.
type Row struct {
	Variant                string // the verdicts' Options.Variant
	Method                 Method
	Action, Subject, Total Rate // N: images judged
}

// Summarise tallies verdicts into one row per method of methods, in that order.
func Summarise(vs []Verdict, methods []Method) []Row {
	rows := make([]Row, len(methods))
	at := map[Method]*Row{}
	for i, m := range methods {
		rows[i].Method = m
		at[m] = &rows[i]
	}
	count := func(r *Rate, ok bool) {
		r.N++
		if ok {
			r.K++
		}
	}
	for _, v := range vs {
		r := at[v.Method]
		if r == nil {
			continue
		}
		r.Variant = v.Variant
		count(&r.Action, v.ActionOK())
		count(&r.Subject, v.SubjectOK())
		count(&r.Total, v.TotalOK())
	}
	return rows
}

// MethodLabel is a method's name in tables, as the paper writes it.
func MethodLabel(m Method) string {
	switch m {
	case MethodPrompt:
		return "prompt only (action in words)"
	case MethodTI:
		return "Textual Inversion"
	case MethodPPlus:
		return "P+"
	case MethodADI:
		return "ADI"
	}
	return string(m)
}

// WriteTable prints rows as the paper's table: per method Action, Subject
// and Total in percent, each with its 95% Wilson interval, and n images;
// a first column names the variant when a row has one.
func WriteTable(w io.Writer, rows []Row) error {
	variant := slices.ContainsFunc(rows, func(r Row) bool { return r.Variant != "" })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if variant {
		fmt.Fprint(tw, "variant\t")
	}
	fmt.Fprintln(tw, "method\tAction % [95% CI]\tSubject % [95% CI]\tTotal % [95% CI]\tn")
	for _, r := range rows {
		if variant {
			fmt.Fprintf(tw, "%s\t", r.Variant)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", MethodLabel(r.Method), r.Action, r.Subject, r.Total, r.Total.N)
	}
	return tw.Flush()
}

// CSVHeader names the columns WriteCSV writes, one image per record.
var CSVHeader = []string{"variant", "method", "action", "subject_kind", "subject_color", "image", "seed", "prompt",
	"judged_action", "action_p", "judged_kind", "kind_p", "judged_color", "color_p",
	"action_ok", "subject_ok", "total_ok"}

// WriteCSV writes CSVHeader and one record per verdict (RFC 4180;
// probabilities with 4 decimals, verdicts as true/false).
func WriteCSV(w io.Writer, vs []Verdict) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	p := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	for _, v := range vs {
		if err := cw.Write([]string{v.Variant, string(v.Method), v.Action, v.Subject.Kind, v.Subject.Color,
			strconv.Itoa(v.Index), strconv.FormatUint(v.Seed, 10), v.Prompt,
			v.SeenAction, p(v.ActionP), v.SeenKind, p(v.KindP), v.SeenColor, p(v.ColorP),
			strconv.FormatBool(v.ActionOK()), strconv.FormatBool(v.SubjectOK()), strconv.FormatBool(v.TotalOK())}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
