// Package atomicfile writes outputs so that a failure, or a reader
// looking in the middle, never sees half of one: each is written under a
// temporary name beside its own and renamed into place at the end
// (relic's lib/atomicfile, but without deleting the target first).
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// WriteFile writes data to the file name, mode 0644, through a temporary
// file in name's directory renamed over name at the end. On any error
// the temporary file is removed and name is untouched.
func WriteFile(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// WriteDir makes the directory dir, which must not exist yet, holding
// files: each key a clean relative slash-separated path (checked with
// filepath.IsLocal and written through an os.Root, so nothing lands
// outside dir), mode 0644, in directories of mode 0755. The tree is
// built in a temporary directory beside dir and renamed to dir at the
// end; on any error it is removed and dir is not made.
func WriteDir(dir string, files map[string][]byte) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("%s exists: give the name of a directory to make", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return err
	}
	if err := writeTree(tmp, files); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

func writeTree(tmp string, files map[string][]byte) error {
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700
		return err
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	defer root.Close()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !filepath.IsLocal(name) || path.Clean(name) != name {
			return fmt.Errorf("%q is not a clean relative path", name)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := root.WriteFile(name, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
