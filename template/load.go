package template

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// Limits on what a template may hold. The largest real one, linux's, has a
// 3.8 MB source-template.
const (
	maxEntrySize    = 64 << 20
	maxTemplateSize = 512 << 20
)

// CodeSigningDir is where template packages install their templates.
const CodeSigningDir = "usr/share/code-signing/"

// Load reads a template from path, which is either a *-signed-template .deb
// or a code-signing directory (the one holding files.json and
// source-template/).
func Load(path string) (*Template, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return LoadDir(path)
	}
	return LoadDeb(path)
}

// LoadDir reads a code-signing directory. Symbolic links are refused, and
// nothing outside the directory is opened.
func LoadDir(dir string) (*Template, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var entries []Entry
	var total int64
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return &inputerr.Error{File: dir, Path: p, Offset: inputerr.NoOffset,
				Err: errors.New("is a symbolic link: templates may hold only regular files and directories")}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Name: p, Mode: info.Mode(), ModTime: info.ModTime()}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return &inputerr.Error{File: dir, Path: p, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("is a %v: templates may hold only regular files and directories", info.Mode().Type())}
		}
		if info.Mode().IsRegular() {
			total += info.Size()
			if info.Size() > maxEntrySize || total > maxTemplateSize {
				return &inputerr.Error{File: dir, Path: p, Offset: inputerr.NoOffset, Err: errors.New("template too large")}
			}
			if e.Data, err = root.ReadFile(p); err != nil {
				return err
			}
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
	return t, nil
}

// LoadDeb reads the template shipped by a *-signed-template package under
// /usr/share/code-signing/<name>/. The package must ship exactly one.
func LoadDeb(path string) (*Template, error) {
	name := filepath.Base(path)
	byTemplate := map[string][]Entry{}
	var total int64
	_, err := deb.ReadFile(path, func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
		rest, ok := strings.CutPrefix(e.Path, CodeSigningDir)
		if !ok || rest == "" {
			return nil
		}
		tname, inner, _ := strings.Cut(rest, "/")
		te := Entry{Name: inner, Mode: e.Mode.Perm(), ModTime: e.ModTime}
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
		default:
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("is a link or special file (tar type %q): templates may hold only regular files and directories", e.Type)}
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
	t, err := Parse(names[0], byTemplate[names[0]])
	if err != nil {
		return nil, inputerr.WithFile(err, name+": /"+CodeSigningDir+names[0])
	}
	return t, nil
}
