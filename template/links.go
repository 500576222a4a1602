package template

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// Symbolic links in source-template/ are real: Debian's 6.12 kernel
// templates ship eight under debian/installer/modules/ ("mips64 -> mips").
// dpkg-deb -x extracts them as links and dpkg-source -b stores them as
// links (tar type '2'), so the signed source package holds them too. The
// package is built on a buildd from that tree, and the signer writes into
// it, so a link must not lead out of it, nor sit where mksigned writes.

// maxLinkHops bounds how many links one resolution follows, the link
// itself included, as the kernel's MAXSYMLINKS (40) does: a 41-link chain
// is ELOOP for the kernel, and refused here.
const maxLinkHops = 40

// maxLinkTarget bounds a link's target; Linux's PATH_MAX is 4096.
const maxLinkTarget = 4095

// maxLinks bounds the links of one template; Debian's kernel templates,
// the only ones with links, have 8.
const maxLinks = 10000

// maxLinkSteps bounds the path components all resolutions of a template
// walk together: each link's walk is linear in its components, but chains
// of long targets multiply them, and a small package could otherwise keep
// the check busy for hours.
const maxLinkSteps = 1 << 20

// ErrLinkEscapes marks a symbolic link whose target is absolute or
// resolves outside source-template/.
var ErrLinkEscapes = errors.New("symbolic link leads outside source-template/")

// checkLinks refuses links that would let the source package reach outside
// its own tree: an absolute target, one that resolves outside the tree
// (following the tree's other links, as the kernel would), an entry below
// a link (extracting it would write through the link), and a link on a
// path where the signatures go.
func (t *Template) checkLinks() error {
	root, err := nameTree(t.Source)
	if err != nil {
		return err
	}
	steps := 0
	for i := range t.Source {
		e := &t.Source[i]
		if e.Mode.Type() != fs.ModeSymlink {
			continue
		}
		if err := resolveLink(root, e, &steps); err != nil {
			return srcErr(e.Name, "", err)
		}
	}
	for _, p := range t.Manifest.Packages {
		for _, f := range p.Files {
			sig := SignaturePath(p.Name, f.Path)
			n := root
			for _, c := range strings.Split(path.Dir(sig), "/") {
				if n = n.children[c]; n == nil {
					break
				}
				if n.entry != nil && n.entry.Mode.Type() == fs.ModeSymlink {
					return srcErr(n.entry.Name, "", fmt.Errorf("is a symbolic link to %q, but the signature %s goes below it: building the package would write through the link", n.entry.Data, sig))
				}
			}
		}
	}
	return nil
}

// nameTree arranges the entries as a tree of names, refusing an entry
// below a link and more than maxLinks links.
func nameTree(source []Entry) (*nameNode, error) {
	root := &nameNode{children: map[string]*nameNode{}}
	nlinks := 0
	for i := range source {
		e := &source[i]
		if e.Name == "." {
			continue
		}
		n := root
		parts := strings.Split(e.Name, "/")
		for j, c := range parts {
			if n.entry != nil && n.entry.Mode.Type() == fs.ModeSymlink {
				d := strings.Join(parts[:j], "/")
				return nil, srcErr(e.Name, "", fmt.Errorf("lies below %s, a symbolic link to %q: extracting it would write through the link", d, n.entry.Data))
			}
			n = n.child(c)
		}
		n.entry = e
		if e.Mode.Type() == fs.ModeSymlink {
			if nlinks++; nlinks > maxLinks {
				return nil, srcErr(e.Name, "", fmt.Errorf("more than %d symbolic links in one template", maxLinks))
			}
		}
	}
	return root, nil
}

// nameNode is one name of the tree: an entry, or a directory the tree
// implies. A resolution that walks through a name the tree does not hold
// gets a node of its own for it, not kept in the tree.
type nameNode struct {
	parent   *nameNode
	entry    *Entry
	children map[string]*nameNode
}

// lookup returns the child name, or a node for a name the tree does not
// hold, which nothing is below.
func (n *nameNode) lookup(name string) *nameNode {
	if c := n.children[name]; c != nil {
		return c
	}
	return &nameNode{parent: n}
}

// child returns the child name, adding it to the tree if missing.
func (n *nameNode) child(name string) *nameNode {
	c := n.children[name]
	if c == nil {
		c = &nameNode{parent: n, children: map[string]*nameNode{}}
		n.children[name] = c
	}
	return c
}

// resolveLink follows link through the tree, component by component, and
// fails if any step is absolute, climbs above the tree's root, or takes
// more than maxLinkHops links. A component the tree does not hold is
// walked as a directory: nothing below it is in the package, and a ".."
// after it comes back up. steps counts the components walked, against
// maxLinkSteps.
func resolveLink(root *nameNode, link *Entry, steps *int) error {
	target := string(link.Data)
	switch {
	case target == "":
		return errors.New("symbolic link has an empty target")
	case len(target) > maxLinkTarget:
		return fmt.Errorf("symbolic link target is %d bytes, more than %d", len(target), maxLinkTarget)
	case strings.IndexByte(target, 0) >= 0:
		return fmt.Errorf("symbolic link target %q contains a NUL byte", target)
	case strings.HasPrefix(target, "/"):
		return fmt.Errorf("%w: its target %q is absolute", ErrLinkEscapes, target)
	}
	// cur is the directory reached so far; todo holds the components
	// still to walk, the next one last.
	cur := root
	for _, c := range strings.Split(path.Dir(link.Name), "/") {
		if c != "." {
			cur = cur.lookup(c)
		}
	}
	todo := reversed(strings.Split(target, "/"))
	hops := 1 // the link itself
	for len(todo) > 0 {
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if *steps++; *steps > maxLinkSteps {
			return fmt.Errorf("the template's symbolic links take more than %d steps to check: too many or too deep", maxLinkSteps)
		}
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == root {
				return fmt.Errorf("%w: its target %q climbs above source-template/", ErrLinkEscapes, target)
			}
			cur = cur.parent
			continue
		}
		next := cur.lookup(c)
		if next.entry == nil || next.entry.Mode.Type() != fs.ModeSymlink {
			cur = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return fmt.Errorf("symbolic link target %q: more than %d links to follow (a loop?)", target, maxLinkHops)
		}
		t := string(next.entry.Data)
		if strings.HasPrefix(t, "/") {
			return fmt.Errorf("%w: its target %q goes through %s, a link to the absolute path %q", ErrLinkEscapes, target, next.entry.Name, t)
		}
		// The link's target is walked from the directory holding it.
		todo = append(todo, reversed(strings.Split(t, "/"))...)
	}
	return nil
}

func reversed(s []string) []string {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}

// refuseHardLink is the error for a hard link in a template. dpkg-deb -x
// makes one file with two names of it, and dpkg-source -b then stores the
// name that sorts first as the file and the others as tar hard links to
// it: which name carries the data would depend on the tree's inodes, not on
// the template. No Debian template holds one; mksigned refuses them.
func refuseHardLink(name, target string) error {
	return &inputerr.Error{Path: name, Offset: inputerr.NoOffset,
		Err: fmt.Errorf("is a hard link to %q: templates may hold regular files, directories and symbolic links, not hard links (copy the file instead)", target)}
}
