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
// goroutine. In the app they all run on Fyne's one goroutine anyway; the lock
// is a second guard should a driver run them elsewhere. A function run under
// it must not call onUI itself.
var uiMu sync.Mutex

// testLoop, when set (by this package's tests), replaces Fyne's hand-off to
// its goroutine. Fyne's test driver runs a fyne.Do function at once on the
// calling goroutine, so a background result would change widgets while the
// test's goroutine, the window's UI goroutine in a test, reads them; with
// testLoop the functions wait until that goroutine runs them in WaitIdle, as
// the app's event loop runs them on Fyne's goroutine.
var testLoop *uiLoop

// uiLoop is a queue of functions for one goroutine to run in order.
type uiLoop struct {
	mu      sync.Mutex
	pending []func()
	wake    chan struct{} // signalled (without blocking) when pending grows
}

func newUILoop() *uiLoop { return &uiLoop{wake: make(chan struct{}, 1)} }

func (l *uiLoop) post(f func()) {
	l.mu.Lock()
	l.pending = append(l.pending, f)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// runPending runs the functions queued so far and says whether there were any.
func (l *uiLoop) runPending() bool {
	l.mu.Lock()
	fs := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, f := range fs {
		f()
	}
	return len(fs) > 0
}

// onUI runs f on the UI goroutine and waits for it: every change a
// background goroutine makes to the window goes through here or onUIAsync.
func onUI(f func()) {
	locked := func() {
		uiMu.Lock()
		defer uiMu.Unlock()
		f()
	}
	if testLoop != nil {
		done := make(chan struct{})
		testLoop.post(func() { locked(); close(done) })
		<-done
		return
	}
	fyne.DoAndWait(locked)
}

// onUIAsync is onUI without waiting, for progress reports.
func onUIAsync(f func()) {
	locked := func() {
		uiMu.Lock()
		defer uiMu.Unlock()
		f()
	}
	if testLoop != nil {
		testLoop.post(locked)
		return
	}
	fyne.Do(locked)
}

// WaitIdle blocks until every background task started so far (and any it
// started in turn) has finished and reported back. Under a test's loop it
// runs the reports on the calling goroutine meanwhile.
func (m *MainWindow) WaitIdle() {
	if testLoop == nil {
		m.bg.wg.Wait()
		return
	}
	for {
		idle := make(chan struct{})
		go func() { m.bg.wg.Wait(); close(idle) }()
	pump:
		for {
			select {
			case <-testLoop.wake:
				testLoop.runPending()
			case <-idle:
				break pump
			}
		}
		if !testLoop.runPending() {
			return
		}
	}
}

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
