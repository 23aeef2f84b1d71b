package main

import (
	"errors"

	"fyne.io/fyne/v2"
	"github.com/sqweek/dialog"

	"kata/assets"
)

// nativePicker opens GTK (Linux), Cocoa or Win32 file dialogs through
// sqweek/dialog. Its calls block, so ui only makes them off the UI goroutine.
type nativePicker struct{}

func (nativePicker) PickFile(title, filterName string, exts ...string) (string, error) {
	path, err := dialog.File().Title(title).Filter(filterName, exts...).Load()
	return cancelledIsEmpty(path, err)
}

func (nativePicker) PickFiles(title, filterName string, exts ...string) ([]string, error) {
	return pickFiles(title, filterName, exts...)
}

func (nativePicker) PickFolder(title string) (string, error) {
	path, err := dialog.Directory().Title(title).Browse()
	return cancelledIsEmpty(path, err)
}

func (nativePicker) SaveFile(title, name string) (string, error) {
	path, err := dialog.File().Title(title).SetStartFile(name).Save()
	return cancelledIsEmpty(path, err)
}

func cancelledIsEmpty(path string, err error) (string, error) {
	if errors.Is(err, dialog.ErrCancelled) {
		return "", nil
	}
	return path, err
}

func iconResource() fyne.Resource { return fyne.NewStaticResource("icon.png", assets.Icon) }
