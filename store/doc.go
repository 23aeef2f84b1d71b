// Package store keeps a Kata library on disk: an SQLite database (schema
// migrations, WAL, foreign keys) beside content-addressed files, with atomic
// writes, a check and repair pass, and the import and export formats.
//
// A library directory holds:
//
//	kata.db (+ -wal, -shm)   the database
//	blobs/ab/abcdef...       files named by the sha256 of their bytes
//	tmp/                     files being written (removed at open)
//	lost+found/              files found without a row, moved aside by repair
//	lock                     advisory lock: shared while open, exclusive to repair
//
// Every write puts the file first (temp file, fsync, rename, fsync of the
// directory) and then its rows in one transaction, so a crash leaves at worst
// a file without a row, which the next Open moves to lost+found.
package store
