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

// Limits on what a template may hold. The largest real one, linux's, has a
// 3.8 MB source-template.
const (
	maxEntrySize    = 64 << 20
	maxTemplateSize = 512 << 20
)

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
	var total int64
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
		switch {
		case info.Mode().IsRegular():
			total += info.Size()
			if info.Size() > maxEntrySize || total > maxTemplateSize {
				return &inputerr.Error{File: dir, Path: p, Offset: inputerr.NoOffset, Err: errors.New("template too large")}
			}
			if id, ok := inode(info); ok && strings.HasPrefix(p, "source-template/") {
				if first, seen := inodes[id]; seen {
					return inputerr.WithFile(refuseHardLink(p, first), dir)
				}
				inodes[id] = p
			}
			if e.Data, err = root.ReadFile(p); err != nil {
				return err
			}
		case info.IsDir():
		case info.Mode().Type() == fs.ModeSymlink:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			total += int64(len(target))
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
	var total int64
	_, err := deb.ReadFileContext(ctx, debPath, func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
		rest, ok := strings.CutPrefix(e.Path, CodeSigningDir)
		if !ok || rest == "" {
			return nil
		}
		tname, inner, _ := strings.Cut(rest, "/")
		// e.Mode is the permission bits and setuid, setgid and sticky:
		// dpkg-deb -x keeps all of them, and dpkg-source -b stores them.
		te := Entry{Name: inner, Mode: e.Mode, ModTime: e.ModTime}
		switch e.Type {
		case '5':
			te.Mode |= fs.ModeDir
		case '0', '\x00':
			total += e.Size
			if e.Size > maxEntrySize || total > maxTemplateSize {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: errors.New("template too large")}
			}
			b, err := io.ReadAll(io.LimitReader(body, maxEntrySize+1))
			if err != nil {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
			}
			te.Data = b
		case '2':
			// dpkg-deb -x makes the link, whatever its header's mode.
			total += int64(len(e.Linkname))
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
