package ui

import (
	"sync"

	"fyne.io/fyne/v2"
)

// background runs work off the UI goroutine and hands its result to done on
// the UI goroutine. WaitIdle lets tests wait for all of it.
type background struct{ wg sync.WaitGroup }

func (b *background) run(work func() error, done func(error)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		err := work()
		fyne.DoAndWait(func() { done(err) })
	}()
}

// WaitIdle blocks until every background task started so far has finished
// and reported back.
func (m *MainWindow) WaitIdle() { m.bg.wg.Wait() }

// pickThen asks for a path with a blocking native dialog and, unless the user
// cancels, hands it to use; both run off the UI goroutine. done runs on the UI
// goroutine with the path ("" when cancelled) and the error of either step;
// failed names what failed in the status bar ("Could not export: ...").
func (m *MainWindow) pickThen(pick func() (string, error), use func(path string) error, failed string, done func(path string)) {
	var path string
	m.bg.run(func() error {
		var err error
		if path, err = pick(); err != nil || path == "" {
			return err
		}
		return use(path)
	}, func(err error) {
		switch {
		case err != nil:
			m.setStatus(failed + ": " + err.Error())
		case path != "":
			done(path)
		}
	})
}
