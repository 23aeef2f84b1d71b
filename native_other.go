//go:build !linux

package main

import "github.com/sqweek/dialog"

// pickFiles asks for one file through sqweek/dialog, whose Cocoa and Win32
// choosers select a single file. A cancelled dialog returns no paths.
func pickFiles(title, filterName string, exts ...string) ([]string, error) {
	path, err := cancelledIsEmpty(dialog.File().Title(title).Filter(filterName, exts...).Load())
	if err != nil || path == "" {
		return nil, err
	}
	return []string{path}, nil
}
