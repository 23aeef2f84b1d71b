// Package contenthash names content by its SHA-256 in lower-case hex: the
// library's content addresses, model hashes and export manifests. It is the
// one file hasher; it imports only the standard library.
package contenthash

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// Bytes returns the hex SHA-256 of data (64 characters).
func Bytes(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// File returns the hex SHA-256 of the file at path, read as a stream.
func File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
