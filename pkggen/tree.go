package pkggen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// Entry is one file, directory or symbolic link of a source tree.
//
// Name is a slash-separated path relative to the tree root, such as
// "debian/rules", without "./" and without a trailing slash; fs.ValidPath
// must accept it. The name "." stands for the root directory itself and is
// optional.
//
// Mode holds the type (0 for a regular file, fs.ModeDir or fs.ModeSymlink)
// and the permission bits, including fs.ModeSetuid, fs.ModeSetgid and
// fs.ModeSticky. Data is the content of a regular file or the target of a
// symbolic link, and must be empty for a directory.
type Entry struct {
	Name    string
	Mode    fs.FileMode
	ModTime time.Time
	Data    []byte
}

// ErrUnsafePath is returned (wrapped in an *inputerr.Error naming the path)
// for an entry name that is not a clean relative path.
var ErrUnsafePath = errors.New("not a clean relative path")

// Directories that the tree does not list but that are needed to hold its
// entries (and the root, when "." is not listed) get implicitMode and the
// epoch as their modification time.
const implicitMode = fs.ModeDir | 0o755

// node is one entry of the tree, with its children sorted by name.
type node struct {
	name     string // base name; "" for the root
	path     string // slash path relative to the root; "." for the root
	entry    Entry
	implicit bool // created for a parent that the tree did not list
	children []*node
}

// buildTree checks the entries and arranges them as a tree whose
// directories list their children in byte order, the order in which GNU
// tar --sort=name stores them. Implicit directories get modTime.
func buildTree(tree []Entry, modTime time.Time) (*node, error) {
	root := &node{path: ".", entry: Entry{Name: ".", Mode: implicitMode, ModTime: modTime}, implicit: true}
	index := map[string]*node{".": root}
	// Insert explicit entries first, sorted by name so that the result
	// does not depend on the order of tree.
	sorted := make([]*Entry, len(tree))
	for i := range tree {
		sorted[i] = &tree[i]
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, e := range sorted {
		if err := checkEntry(e); err != nil {
			return nil, err
		}
		if n, ok := index[e.Name]; ok {
			if !n.implicit {
				return nil, &inputerr.Error{Path: e.Name, Offset: inputerr.NoOffset, Err: errors.New("duplicate entry")}
			}
			// Only the root can be implicit here, because sorted
			// order lists a directory before its contents.
			n.entry, n.implicit = *e, false
			continue
		}
		parent, err := ensureDir(index, parentPath(e.Name), modTime)
		if err != nil {
			return nil, err
		}
		n := &node{name: baseName(e.Name), path: e.Name, entry: *e}
		parent.children = append(parent.children, n)
		index[e.Name] = n
	}
	sortChildren(root)
	return root, nil
}

// ensureDir returns the node for the directory p, creating it and its
// parents as implicit directories when missing.
func ensureDir(index map[string]*node, p string, modTime time.Time) (*node, error) {
	if n, ok := index[p]; ok {
		if !n.entry.Mode.IsDir() {
			return nil, &inputerr.Error{Path: p, Offset: inputerr.NoOffset, Err: errors.New("not a directory but has entries below it")}
		}
		return n, nil
	}
	parent, err := ensureDir(index, parentPath(p), modTime)
	if err != nil {
		return nil, err
	}
	n := &node{name: baseName(p), path: p, implicit: true,
		entry: Entry{Name: p, Mode: implicitMode, ModTime: modTime}}
	parent.children = append(parent.children, n)
	index[p] = n
	return n, nil
}

func sortChildren(n *node) {
	sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
	for _, c := range n.children {
		sortChildren(c)
	}
}

func checkEntry(e *Entry) error {
	bad := func(err error) error {
		return &inputerr.Error{Path: e.Name, Offset: inputerr.NoOffset, Err: err}
	}
	if !fs.ValidPath(e.Name) || strings.IndexByte(e.Name, 0) >= 0 {
		return bad(fmt.Errorf("entry name %q: %w", e.Name, ErrUnsafePath))
	}
	switch e.Mode.Type() {
	case 0:
	case fs.ModeDir:
		if len(e.Data) != 0 {
			return bad(errors.New("directory has data"))
		}
	case fs.ModeSymlink:
		if len(e.Data) == 0 {
			return bad(errors.New("symbolic link has an empty target"))
		}
		if bytes.IndexByte(e.Data, 0) >= 0 {
			return bad(errors.New("symbolic link target contains a NUL byte"))
		}
	default:
		return bad(fmt.Errorf("unsupported file type %v", e.Mode.Type()))
	}
	if e.ModTime.Unix() < 0 {
		return bad(fmt.Errorf("modification time %v is before 1970", e.ModTime))
	}
	if int64(len(e.Data)) > maxOctal11 {
		return bad(fmt.Errorf("file of %d bytes is too large for a tar header", len(e.Data)))
	}
	if e.Name == "." && !e.Mode.IsDir() {
		return bad(errors.New("the root must be a directory"))
	}
	return nil
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "."
	}
	return p[:i]
}

func baseName(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

// lookup returns the entry named name, or nil. The tree must have passed
// buildTree, so names are unique.
func lookup(tree []Entry, name string) *Entry {
	for i := range tree {
		if tree[i].Name == name {
			return &tree[i]
		}
	}
	return nil
}
