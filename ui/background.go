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
