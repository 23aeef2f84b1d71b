// Package atomicfile writes files so that a crash or power loss leaves
// either the old content or all of the new: a temporary file on the same
// file system, fsync, rename over the target, fsync of the directory. Files
// are 0644 (os.CreateTemp's 0600 would hide library files, exports and
// images from the user's other programs). It is the one writer of the
// library's files, safetensors files (identifiers, checkpoints), contrast
// images and PNG output; it imports only the standard library.
package atomicfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// Mode is the permission of every file written here.
const Mode = 0o644

// Write writes the content fn produces to path, buffered, through a
// temporary file beside it. The folder must exist. Errors name path once.
func Write(path string, fn func(io.Writer) error) error {
	return WriteVia(filepath.Dir(path), path, fn)
}

// WriteBytes is Write for content already in memory.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}

// WriteVia is Write with the temporary file in tmpDir, which must be on the
// same file system as path (the library keeps one tmp/ folder for this).
func WriteVia(tmpDir, path string, fn func(io.Writer) error) (err error) {
	defer func() {
		if err != nil {
			err = &os.PathError{Op: "write", Path: path, Err: unwrapPath(err)}
		}
	}()
	f, err := os.CreateTemp(tmpDir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(Mode); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = fn(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes a rename in dir durable. Where a directory cannot be opened
// or synced (Windows), the rename is as durable as the system makes it.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// unwrapPath drops the temporary file's name from an *os.PathError, so the
// error names only the target.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
