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
		onUI(func() { done(err) })
	}()
}

// uiMu serialises the functions background goroutines hand to the UI
// goroutine. In the app they all run on Fyne's one goroutine anyway; Fyne's
// test driver runs them on the calling goroutine instead, and the lock keeps
// them from overlapping one another (tests take it with onUI too). A function
// run under it must not call onUI itself.
var uiMu sync.Mutex

// onUI runs f on the UI goroutine and waits for it: every change a
// background goroutine makes to the window goes through here or onUIAsync.
func onUI(f func()) {
	fyne.DoAndWait(func() {
		uiMu.Lock()
		defer uiMu.Unlock()
		f()
	})
}

// onUIAsync is onUI without waiting, for progress reports.
func onUIAsync(f func()) {
	fyne.Do(func() {
		uiMu.Lock()
		defer uiMu.Unlock()
		f()
	})
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
