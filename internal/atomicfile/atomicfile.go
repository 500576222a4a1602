// Package atomicfile writes a file so that readers see the old file or the
// whole new one, never part of it: the data goes to a temporary file beside
// the target, is synced, and renamed over it; the directory is synced
// after. An error before the rename leaves the target as it was and
// removes the temporary file.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes data to path, a new file getting mode perm less the umask
// (0o666 gives what dpkg-source's files get).
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	f, tmp, err := create(dir, base, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err = finish(f, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the rename; best effort where directories cannot sync
		d.Close()
	}
	return nil
}

// create makes a new file beside base in dir, with a random name, opened
// with O_EXCL so that nothing already there is written through.
func create(dir, base string, perm os.FileMode) (*os.File, string, error) {
	for range 100 {
		var r [6]byte
		rand.Read(r[:])
		name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(r[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fmt.Errorf("cannot create a temporary file beside %s", filepath.Join(dir, base))
}

// WriteNew writes data to name, a new file (O_EXCL: nothing already there
// is written through) of mode perm less the umask, and syncs it: for a
// file in a temporary directory that is renamed into place later.
func WriteNew(name string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	return finish(f, data)
}

// finish writes data to f, syncs and closes it.
func finish(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteExcl is Write for a file that must not exist yet: the whole file
// appears at path, or nothing does, and a file already there (made even
// while this one was being written) is left as it is and an error
// wrapping fs.ErrExist is returned. The temporary file is hard-linked to
// path, which fails when path exists, then removed.
func WriteExcl(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	f, tmp, err := create(dir, base, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := finish(f, data); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, fs.ErrExist)
		}
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
