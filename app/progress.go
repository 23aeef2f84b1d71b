package app

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressEvery is how often progress prints a line when stderr is not a
// terminal (a log file, a pipe, CI).
const progressEvery = 5 * time.Second

// progress reports how far a long command is on w: a bar redrawn in place
// when w is a terminal, else one line per progressEvery and one at the end
// ("training, loss 0.1234: 120/500 (24%), 2m0s elapsed, 6m20s left"), so a
// log is not thousands of redrawn bars.
type progress struct {
	bar          *progressbar.ProgressBar // nil: line mode
	w            io.Writer
	desc         string
	total        int
	start, last  time.Time
	now          func() time.Time
	done, lastAt int
}

// newProgress starts reporting total steps of desc on w.
func newProgress(w io.Writer, total int, desc string) *progress {
	p := &progress{w: w, desc: desc, total: total, now: time.Now, lastAt: -1}
	p.start = p.now()
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true))
	}
	return p
}

// Describe changes the text before the count (e.g. to show the loss).
func (p *progress) Describe(desc string) {
	p.desc = desc
	if p.bar != nil {
		p.bar.Describe(desc)
	}
}

// Set reports that done of the total steps are finished.
func (p *progress) Set(done int) {
	p.done = done
	if p.bar != nil {
		_ = p.bar.Set(done)
		return
	}
	now := p.now()
	if done == p.lastAt || (done < p.total && !p.last.IsZero() && now.Sub(p.last) < progressEvery) {
		return
	}
	p.last, p.lastAt = now, done
	elapsed := now.Sub(p.start).Round(time.Second)
	line := fmt.Sprintf("%s: %d/%d (%d%%), %s elapsed", p.desc, done, p.total, 100*done/max(p.total, 1), elapsed)
	if done > 0 && done < p.total {
		left := time.Duration(float64(now.Sub(p.start)) / float64(done) * float64(p.total-done)).Round(time.Second)
		line += fmt.Sprintf(", %s left", left)
	}
	fmt.Fprintln(p.w, line)
}

// Finish ends the report: the bar's line is closed; in line mode the last
// count is printed if it was not yet.
func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
		return
	}
	if p.lastAt != p.done {
		p.last = time.Time{}
		p.Set(p.done)
	}
}
