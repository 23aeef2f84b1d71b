package ui

import "fyne.io/fyne/v2"

// Preference keys of the window's remembered size.
const (
	prefWidth  = "window.width"
	prefHeight = "window.height"
)

// defaultSize fits a 1280x800 screen with room for a title bar and a panel.
var defaultSize = fyne.NewSize(1200, 720)

// restoreSize opens the window at its remembered size (defaultSize the first
// time) and remembers the size when the window closes.
func (m *MainWindow) restoreSize() {
	p := m.app.Preferences()
	w := float32(p.FloatWithFallback(prefWidth, float64(defaultSize.Width)))
	h := float32(p.FloatWithFallback(prefHeight, float64(defaultSize.Height)))
	if w < 640 || h < 480 {
		w, h = defaultSize.Width, defaultSize.Height
	}
	m.win.Resize(fyne.NewSize(w, h))
	m.win.SetCloseIntercept(func() {
		m.saveSize()
		m.win.Close()
	})
}

// saveSize remembers the window's current size; it runs on the UI goroutine.
func (m *MainWindow) saveSize() {
	s := m.win.Canvas().Size()
	if s.Width >= 640 && s.Height >= 480 {
		m.app.Preferences().SetFloat(prefWidth, float64(s.Width))
		m.app.Preferences().SetFloat(prefHeight, float64(s.Height))
	}
}
