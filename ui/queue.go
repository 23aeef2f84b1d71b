package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// jobQueue runs generation requests one after another off the UI goroutine,
// showing which job runs, the progress and the time left, with one Cancel
// for the running job and everything queued. Each finished image is handed
// to onResult on the UI goroutine, so results appear one by one.
type jobQueue struct {
	m        *MainWindow
	pending  []app.GenerateRequest
	stop     context.CancelFunc // non-nil while jobs run
	done     int                // jobs finished in this batch
	total    int                // jobs in this batch
	timer    eta
	warnings []string // what this batch's generations ignored (app.GenerationInfo.Warnings)
	onResult func(app.GenerationInfo)
	onIdle   func(err error) // the batch ended: err is nil, cancelled or the failure
	drained  func()          // tests: called off the UI goroutine when drain has returned

	bar    *widget.ProgressBar
	label  *widget.Label
	cancel *widget.Button
	box    *fyne.Container
}

func newJobQueue(m *MainWindow) *jobQueue {
	q := &jobQueue{m: m, bar: widget.NewProgressBar(), label: widget.NewLabel("")}
	q.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), q.cancelAll)
	q.cancel.Disable()
	q.box = container.NewBorder(nil, nil, nil, q.cancel, container.NewVBox(q.bar, q.label))
	return q
}

// add queues reqs, starting the queue when it is idle; it runs on the UI
// goroutine.
func (q *jobQueue) add(reqs ...app.GenerateRequest) {
	q.pending = append(q.pending, reqs...)
	q.total += len(reqs)
	if q.stop != nil {
		q.show("", 0)
		return
	}
	q.done, q.total, q.timer, q.warnings = 0, len(q.pending), newETA(), nil
	q.bar.SetValue(0)
	q.start()
}

// start runs the pending jobs off the UI goroutine and reports the batch's
// end; it runs on the UI goroutine.
func (q *jobQueue) start() {
	ctx, stop := context.WithCancel(context.Background())
	q.stop = stop
	q.cancel.Enable()
	q.show("", 0)
	q.m.bg.run(func() error {
		err := q.drain(ctx)
		if q.drained != nil {
			q.drained()
		}
		return err
	}, func(err error) {
		stop()
		q.stop = nil
		if err == nil && len(q.pending) > 0 {
			// Added after drain found none left, before this ran: the
			// batch goes on.
			q.start()
			return
		}
		q.pending = nil
		q.cancel.Disable()
		switch {
		case errors.Is(err, context.Canceled):
			q.label.SetText(fmt.Sprintf("Cancelled after %d of %d image(s).", q.done, q.total))
		case err != nil:
			q.label.SetText("Could not generate: " + err.Error())
		default:
			q.bar.SetValue(1)
			done := fmt.Sprintf("Done: %d image(s).", q.done)
			if len(q.warnings) > 0 {
				done += " Note: " + strings.Join(q.warnings, "; ")
			}
			q.label.SetText(done)
		}
		if q.onIdle != nil {
			q.onIdle(err)
		}
	})
}

// drain runs queued jobs until none is left; it runs off the UI goroutine.
func (q *jobQueue) drain(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			r     app.GenerateRequest
			seeds []uint64
		)
		onUI(func() {
			if len(q.pending) == 0 {
				return
			}
			// The job and the ones after it that differ only in the seed
			// (a cell's variations) run as one batch.
			r = q.pending[0]
			for len(q.pending) > 0 && sameButSeed(q.pending[0], r) {
				seeds = append(seeds, q.pending[0].Seed)
				q.pending = q.pending[1:]
			}
			q.show(r.Prompt, len(seeds))
			if q.m.training() {
				// Generating waits for the model the run holds.
				q.label.SetText(q.label.Text + " · waits for the training run to finish")
			}
		})
		if len(seeds) == 0 {
			return ctx.Err() // cancelled before the next job started: still a cancel
		}
		gs, err := q.m.svc.GenerateSeeds(ctx, r, seeds, func(step, total int) {
			onUIAsync(func() {
				if step == 1 {
					q.show(r.Prompt, len(seeds)) // no longer waiting
				}
				if total > 0 && q.total > 0 {
					q.bar.SetValue((float64(q.done) + float64(len(seeds)*step)/float64(total)) / float64(q.total))
				}
			})
		})
		if err != nil {
			return err
		}
		onUI(func() {
			for _, g := range gs {
				q.done++
				for _, w := range g.Warnings {
					if !slices.Contains(q.warnings, w) {
						q.warnings = append(q.warnings, w)
					}
				}
				if q.onResult != nil {
					q.onResult(g)
				}
			}
			q.show("", 0)
		})
	}
}

// sameButSeed says whether a and b ask for the same image but for the seed.
func sameButSeed(a, b app.GenerateRequest) bool {
	a.Seed = b.Seed
	return a == b
}

// show updates the line under the bar: the n images running (none when
// n is 0) and the time left.
func (q *jobQueue) show(prompt string, n int) {
	line := q.timer.describe("Image", q.done, q.total)
	if n > 0 {
		line = fmt.Sprintf("Image %d of %d: %s", q.done+1, q.total, prompt)
		if n > 1 {
			line = fmt.Sprintf("Images %d-%d of %d: %s", q.done+1, q.done+n, q.total, prompt)
		}
		if left := q.timer.left(q.done, q.total); left > 0 {
			line += fmt.Sprintf(" · about %s left", left)
		}
	}
	q.label.SetText(line)
}

// cancelAll stops the running job and drops the queued ones.
func (q *jobQueue) cancelAll() {
	q.pending = nil
	if q.stop != nil {
		q.stop()
	}
}

// busy says whether jobs are running.
func (q *jobQueue) busy() bool { return q.stop != nil }
