package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// shortcutEntry is a widget.Entry that hands the window's own shortcuts
// (Ctrl+Enter, Ctrl+E, Ctrl+O, Ctrl+1..3, Ctrl+Q) to the window. Fyne gives
// every shortcut to the focused widget, and an Entry keeps the ones it does
// not know, so without this they would do nothing while the designer types.
// The Entry's own shortcuts (copy, paste, select all, undo...) stay its own.
type shortcutEntry struct {
	widget.Entry
	m *MainWindow
}

// newEntry is a single-line shortcutEntry of m.
func (m *MainWindow) newEntry() *shortcutEntry {
	e := &shortcutEntry{m: m}
	e.ExtendBaseWidget(e)
	return e
}

// TypedShortcut runs the window's shortcut s, or gives s to the Entry.
func (e *shortcutEntry) TypedShortcut(s fyne.Shortcut) {
	if e.m != nil && e.m.runShortcut(s) {
		return
	}
	e.Entry.TypedShortcut(s)
}

// addShortcut makes Ctrl+key (Cmd+key on macOS) run f anywhere in the
// window, also while a shortcutEntry has the focus.
func (m *MainWindow) addShortcut(key fyne.KeyName, f func()) {
	s := desktopShortcut(key)
	if m.shortcuts == nil {
		m.shortcuts = map[string]func(){}
	}
	m.shortcuts[s.ShortcutName()] = f
	m.win.Canvas().AddShortcut(&s, func(fyne.Shortcut) { f() })
}

// runShortcut runs the window's shortcut s and says whether it had one.
func (m *MainWindow) runShortcut(s fyne.Shortcut) bool {
	if _, ok := s.(*desktop.CustomShortcut); !ok {
		return false
	}
	f, ok := m.shortcuts[s.ShortcutName()]
	if ok {
		f()
	}
	return ok
}

// captionEntry is a shortcutEntry for a photo's caption: it wraps over two
// rows so the trigger slot stays in sight on a narrow card, and saves with
// Enter (a caption is one line) or when the focus leaves it changed.
type captionEntry struct {
	shortcutEntry
	saved string
	save  func(caption string)
}

// newCaptionEntry shows caption and calls save with each changed text.
func (m *MainWindow) newCaptionEntry(caption string, save func(caption string)) *captionEntry {
	e := &captionEntry{shortcutEntry: shortcutEntry{m: m}, saved: caption, save: save}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.SetMinRowsVisible(2)
	e.ExtendBaseWidget(e)
	e.SetText(caption)
	return e
}

// TypedKey saves on Enter instead of starting a new line.
func (e *captionEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter {
		e.commit()
		return
	}
	e.shortcutEntry.TypedKey(k)
}

// FocusLost saves a changed caption.
func (e *captionEntry) FocusLost() {
	e.shortcutEntry.FocusLost()
	e.commit()
}

// commit saves the text, on one line, when it differs from the last saved.
func (e *captionEntry) commit() {
	text := strings.Join(strings.Fields(e.Text), " ")
	if text == e.saved {
		return
	}
	e.saved = text
	e.save(text)
}
