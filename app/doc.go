// Package app holds Kata's use cases: the sub-commands of the `kata` binary,
// library operations and long-running jobs. It never imports Fyne, so the same
// features run headless from the command line and from the window (ui/).
package app
