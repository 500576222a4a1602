package job

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// checkOutput works out the directory Generate writes into, before any
// work and the same way for a dry run and a real one, and returns it
// absolute and with symbolic links resolved ("" without --output).
// --output must be a directory, or missing with an existing parent. A
// symbolic link to a directory is followed, as cp, tar -C and dpkg-source
// follow one: it is the operator's own name for the directory, and the
// temporary directory then goes beside the real one, on its file system,
// so that the final renames work. names are the files to be written:
// none may be a directory, and none an input file by another name (a
// hard or symbolic link). Nor may the output lie inside a directory the
// run reads (the template's, --signatures), whose next run would find the
// new files there.
func checkOutput(opts GenerateOptions, names ...string) (string, error) {
	out := opts.Output
	if out == "" {
		return "", nil
	}
	dir, err := outputDir(out)
	if err != nil {
		return "", err
	}
	inputs := []clobber.Input{{Flag: "--template", Path: opts.Template}}
	for _, u := range opts.Unsigned {
		inputs = append(inputs, clobber.Input{Flag: "--unsigned", Path: u})
	}
	if opts.Signatures != "" {
		inputs = append(inputs, clobber.Input{Flag: "--signatures", Path: opts.Signatures})
	}
	inputs = append(inputs, opts.Inputs...)
	if err := clobber.Dir(out, dir, inputs...); err != nil {
		return "", err
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			return "", fmt.Errorf("--output %s: %s exists and is a directory, so the file of that name cannot replace it",
				inputerr.Name(out), inputerr.Name(name))
		}
		if err := clobber.File("--output "+inputerr.Name(out)+": "+inputerr.Name(name), p, inputs...); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// outputDir returns the directory out names, absolute and with symbolic
// links resolved; when out does not exist, its parent must.
func outputDir(out string) (string, error) {
	fi, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(filepath.Clean(out))
		if pfi, err := os.Stat(parent); err != nil || !pfi.IsDir() {
			return "", fmt.Errorf("--output %s: its parent directory %s does not exist", inputerr.Name(out), inputerr.Name(parent))
		}
		real, err := resolve(parent)
		if err != nil {
			return "", fmt.Errorf("--output %s: %w", inputerr.Name(out), err)
		}
		return filepath.Join(real, filepath.Base(filepath.Clean(out))), nil
	}
	if err != nil {
		return "", fmt.Errorf("--output: %w", err)
	}
	real, err := resolve(out)
	if err != nil {
		if fi.Mode().Type() == fs.ModeSymlink {
			target, _ := os.Readlink(out)
			return "", fmt.Errorf("--output %s is a symbolic link to %s, which does not lead to a directory: %w",
				inputerr.Name(out), inputerr.Name(target), err)
		}
		return "", fmt.Errorf("--output %s: %w", inputerr.Name(out), err)
	}
	if rfi, err := os.Stat(real); err != nil || !rfi.IsDir() {
		return "", fmt.Errorf("--output %s exists and is not a directory", inputerr.Name(out))
	}
	return real, nil
}

// resolve returns p absolute and with symbolic links resolved.
func resolve(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	return filepath.Abs(real)
}
