package template

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
)

// Limits on what a template may hold, checked against each entry's size
// before it is read. Debian's largest templates, linux-image-6.12-*'s, are
// 4.5 MB unpacked (732 entries), 4.3 MB of it debian/changelog; their
// files.json is 900 bytes, their debian/control 27 KB. A template is held
// in memory, and files.json and debian/control are parsed into several
// times their size: under the old limits (64 MiB a file, 512 MiB in all)
// a 58 MB files.json took 430 MB and 43 s, a 28 MB debian/control 220 MB,
// 240 MiB of files 256 MB.
const (
	maxEntrySize    = 16 << 20 // any one file
	maxTemplateSize = 32 << 20 // all files, link targets and names
	maxEntries      = 20000    // files, directories and links
	// maxControlFile bounds debian/control and debian/tests/control.
	maxControlFile = 1 << 20
)

// entryLimit is the most bytes the file name of a template (a path
// relative to the code-signing directory) may have.
func entryLimit(name string) int64 {
	switch name {
	case "files.json":
		return maxFilesJSON
	case "source-template/debian/control", "source-template/debian/tests/control":
		return maxControlFile
	}
	return maxEntrySize
}

// checkEntrySize refuses a file name of size bytes over its entryLimit.
func checkEntrySize(name string, size int64) error {
	if limit := entryLimit(name); size > limit {
		return fmt.Errorf("is %d bytes, more than the %d a template's %s may have", size, limit, path.Base(name))
	}
	return nil
}

// sizes adds up a template's entries as they are found, refusing the one
// that passes a limit before it is read.
type sizes struct {
	total   int64
	entries int
}

// add counts the entry name (relative to the code-signing directory) with
// size bytes of data; file says whether it is a regular file, whose size
// entryLimit bounds.
func (s *sizes) add(name string, size int64, file bool) error {
	s.total += size + int64(len(name))
	if s.entries++; s.entries > maxEntries {
		return fmt.Errorf("template too large: more than %d files, directories and links", maxEntries)
	}
	if file {
		if err := checkEntrySize(name, size); err != nil {
			return err
		}
	}
	if s.total > maxTemplateSize {
		return fmt.Errorf("template too large: its files, names and link targets pass %d bytes", maxTemplateSize)
	}
	return nil
}

// CodeSigningDir is where template packages install their templates.
const CodeSigningDir = "usr/share/code-signing/"

// Load reads a template from file, which is either a *-signed-template .deb
// or a code-signing directory (the one holding files.json and
// source-template/).
func Load(file string) (*Template, error) { return LoadContext(context.Background(), file) }

// LoadContext is Load that stops reading a template package once ctx is
// done, with an error wrapping ctx's (see deb.ReadContext).
func LoadContext(ctx context.Context, file string) (*Template, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return LoadDir(file)
	}
	return loadDeb(ctx, file)
}

// LoadDir reads a code-signing directory as dpkg-source -b would read the
// tree: every entry with lstat, never following a link. Symbolic links are
// kept as links (checked later: they must stay inside source-template/),
// and nothing outside the directory is opened.
func LoadDir(dir string) (*Template, error) {
	root, err := inputfile.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var entries []Entry
	var counted sizes
	inodes := map[[2]uint64]string{} // source-template/ files by device and inode
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		// fs.WalkDir's entries come from lstat: a link is reported
		// as a link, and a link to a directory is not entered.
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Name: p, Mode: info.Mode(), ModTime: info.ModTime()}
		var size int64
		if info.Mode().IsRegular() {
			size = info.Size()
		}
		if info.Mode().Type() != fs.ModeSymlink { // a link counts with its target, below
			if err := counted.add(p, size, info.Mode().IsRegular()); err != nil {
				return &inputerr.Error{File: dir, Path: p, Offset: inputerr.NoOffset, Err: err}
			}
		}
		switch {
		case info.Mode().IsRegular():
			if id, ok := inode(info); ok && strings.HasPrefix(p, "source-template/") {
				if first, seen := inodes[id]; seen {
					return inputerr.WithFile(refuseHardLink(p, first), dir)
				}
				inodes[id] = p
			}
			if e.Data, err = readFile(root, p, size); err != nil {
				return err
			}
		case info.IsDir():
		case info.Mode().Type() == fs.ModeSymlink:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			if err := counted.add(p, int64(len(target)), false); err != nil {
				return &inputerr.Error{File: dir, Path: p, Offset: inputerr.NoOffset, Err: err}
			}
			e.Mode = fs.ModeSymlink | 0o777
			e.Data = []byte(target)
		default:
			return &inputerr.Error{File: dir, Path: p, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("is a %v: templates may hold only regular files, directories and symbolic links", info.Mode().Type())}
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	t, err := Parse(filepath.Base(filepath.Clean(dir)), entries)
	if err != nil {
		return nil, inputerr.WithFile(err, dir)
	}
	t.origin = dir
	return t, nil
}

// readFile reads p, a regular file of root of size bytes when it was
// listed, and no more than that. O_NONBLOCK: a FIFO put in its place since
// must not hang the open; it is refused, as is a file whose size changed.
func readFile(root *os.Root, p string, size int64) ([]byte, error) {
	f, err := root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return nil, fmt.Errorf("%s: changed while the template was read", p)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return b, nil
}

// inode returns the device and inode number of a file with more than one
// name, the case in which two names of a tree can be one file.
func inode(info fs.FileInfo) ([2]uint64, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 {
		return [2]uint64{}, false
	}
	return [2]uint64{uint64(st.Dev), st.Ino}, true
}

// LoadDeb reads the template shipped by a *-signed-template package under
// /usr/share/code-signing/<name>/. The package must ship exactly one.
func LoadDeb(debPath string) (*Template, error) { return loadDeb(context.Background(), debPath) }

func loadDeb(ctx context.Context, debPath string) (*Template, error) {
	name := filepath.Base(debPath)
	byTemplate := map[string][]Entry{}
	var counted sizes
	_, err := deb.ReadFileContext(ctx, debPath, func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
		rest, ok := strings.CutPrefix(e.Path, CodeSigningDir)
		if !ok || rest == "" {
			return nil
		}
		tname, inner, _ := strings.Cut(rest, "/")
		// e.Mode is the permission bits and setuid, setgid and sticky:
		// dpkg-deb -x keeps all of them, and dpkg-source -b stores them.
		te := Entry{Name: inner, Mode: e.Mode, ModTime: e.ModTime}
		regular := e.Type == '0' || e.Type == '\x00'
		size := int64(len(e.Linkname))
		if regular {
			size = e.Size
		}
		if err := counted.add(inner, size, regular); err != nil {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
		}
		switch e.Type {
		case '5':
			te.Mode |= fs.ModeDir
		case '0', '\x00':
			b := make([]byte, e.Size)
			if _, err := io.ReadFull(body, b); err != nil {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
			}
			te.Data = b
		case '2':
			// dpkg-deb -x makes the link, whatever its header's mode.
			te.Mode = fs.ModeSymlink | 0o777
			te.Data = []byte(e.Linkname)
		case '1':
			return refuseHardLink(e.Path, e.Linkname)
		default:
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("is a special file (tar type %q): templates may hold only regular files, directories and symbolic links", e.Type)}
		}
		if inner == "" {
			if _, ok := byTemplate[tname]; !ok {
				byTemplate[tname] = nil // the directory itself
			}
			return nil
		}
		byTemplate[tname] = append(byTemplate[tname], te)
		return nil
	})
	if err != nil {
		return nil, inputerr.WithFile(err, name)
	}
	var names []string
	for n := range byTemplate {
		names = append(names, n)
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("not a signing template: nothing under /%s", CodeSigningDir)}
	case 1:
	default:
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("ships %d templates (%s); pass the code-signing directory of one instead", len(names), strings.Join(names, ", "))}
	}
	root := CodeSigningDir + names[0]
	t, err := Parse(names[0], byTemplate[names[0]])
	if err != nil {
		// Name the package, and the entry by its path in the package.
		return nil, located(err, name, root)
	}
	t.origin, t.root = name, root
	return t, nil
}

// located returns err, about a path relative to the code-signing
// directory, naming file and the path as file holds it: below root (its
// path in a package), or root itself for an error with no path.
func located(err error, file, root string) error {
	var ie *inputerr.Error
	if !errors.As(err, &ie) || ie.File != "" {
		return inputerr.WithFile(err, file)
	}
	c := *ie
	c.File = file
	c.Path = path.Join(root, c.Path)
	return &c
}

// SourceError returns err, an error of the source tree's (an
// *inputerr.Error whose Path is relative to source-template/, as pkggen
// names paths), naming the template and the path as the template's own
// errors do: "T: source-template/debian/control" for a directory T,
// "T.deb: usr/share/code-signing/<name>/source-template/debian/control"
// for a package. Without Path, it names source-template/ itself.
func (t *Template) SourceError(err error) error {
	var ie *inputerr.Error
	if errors.As(err, &ie) && ie.File == "" {
		c := *ie
		c.Path = path.Join("source-template", c.Path)
		err = &c
	}
	return located(err, t.origin, t.root)
}
