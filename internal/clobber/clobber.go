// Package clobber keeps a command's output off its inputs: no file
// written may be a file the command reads, and no output directory may be,
// or lie inside, a directory it reads. Files are compared by device and
// inode (os.SameFile) after following symbolic links, so neither a link
// nor a second name (a hard link) gets past, as a comparison of names
// would let them.
package clobber

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// Input is a file or directory a command reads, and the flag that names
// it ("--signature"; "FILE" for a positional argument). An empty Path is
// an input not given, and ignored.
type Input struct {
	Flag, Path string
}

// OutputFile refuses, before any work, an output file out (named by flag,
// "--output") that is a directory or in none, one that is not a regular
// file (a FIFO, a device), and one that is an input: writing it would
// destroy the input (os.Rename replaces the name; a link to the input or
// a second name of it counts too, compared by device and inode).
func OutputFile(flag, out string, inputs ...Input) error {
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return fmt.Errorf("%s %s is a directory: give the name of the file to write", flag, inputerr.Name(out))
	} else if err == nil && !fi.Mode().IsRegular() {
		// The write renames a new file over out: a FIFO or a device
		// (/dev/null, for root) would be replaced, not written to.
		return fmt.Errorf("%s %s is not a regular file (%s): it would be replaced, not written to", flag, inputerr.Name(out), fi.Mode().Type())
	}
	if dir := filepath.Dir(out); !IsDir(dir) {
		return fmt.Errorf("%s %s: %s is not an existing directory", flag, inputerr.Name(out), inputerr.Name(dir))
	}
	return File(flag+" "+inputerr.Name(out), out, inputs...)
}

// IsDir says whether p is a directory, once links are followed.
func IsDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// File refuses to write the file at path when it is one of inputs; what
// names path in the message ("--output sig"). An input that cannot be
// looked at is left to the code that reads it to report.
func File(what, path string, inputs ...Input) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // nothing there yet, so no input either
	}
	for _, in := range inputs {
		if in.Path == "" {
			continue
		}
		if ifi, err := os.Stat(in.Path); err == nil && os.SameFile(fi, ifi) {
			return fmt.Errorf("%s is %s %s (the same file): writing it would destroy that input",
				what, in.Flag, inputerr.Name(in.Path))
		}
	}
	return nil
}

// Dir refuses the output directory dir, given with --output as out, when
// it is, or lies inside, a directory of inputs: what is written there
// would change that input (and what the next run reads from it). dir must
// be absolute with no symbolic links (filepath.EvalSymlinks); it need not
// exist yet.
func Dir(out, dir string, inputs ...Input) error {
	var dirs []os.FileInfo
	var flags []Input
	for _, in := range inputs {
		if in.Path == "" {
			continue
		}
		if fi, err := os.Stat(in.Path); err == nil && fi.IsDir() {
			dirs, flags = append(dirs, fi), append(flags, in)
		}
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			for i, in := range dirs {
				if !os.SameFile(fi, in) {
					continue
				}
				where := "inside"
				if d == dir {
					where = "the same directory as"
				}
				return fmt.Errorf("--output %s is %s %s %s: what is written there would change that input",
					inputerr.Name(out), where, flags[i].Flag, inputerr.Name(flags[i].Path))
			}
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}
