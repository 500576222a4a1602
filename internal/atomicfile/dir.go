package atomicfile

// A new directory, made whole or not at all.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

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
