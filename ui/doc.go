// Package ui holds Kata's Fyne views. Views are thin: they show what app/
// returns and hand user actions back to it; long work runs off the UI goroutine
// and reports back with fyne.Do. The package never imports fyne/v2/app or the
// native dialog library, so it tests headless with fyne.io/fyne/v2/test.
package ui
