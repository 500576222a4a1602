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

// maxLinkHops bounds how many links one resolution follows, as the
// kernel's MAXSYMLINKS (40) does: a loop is refused, not followed forever.
const maxLinkHops = 40

// maxLinkTarget bounds a link's target; Linux's PATH_MAX is 4096.
const maxLinkTarget = 4095

// ErrLinkEscapes marks a symbolic link whose target is absolute or
// resolves outside source-template/.
var ErrLinkEscapes = errors.New("symbolic link leads outside source-template/")

// checkLinks refuses links that would let the source package reach outside
// its own tree: an absolute target, one that resolves outside the tree
// (following the tree's other links, as the kernel would), an entry below
// a link (extracting it would write through the link), and a link on a
// path where the signatures go.
func (t *Template) checkLinks() error {
	byName := make(map[string]*Entry, len(t.Source))
	for i := range t.Source {
		byName[t.Source[i].Name] = &t.Source[i]
	}
	for i := range t.Source {
		e := &t.Source[i]
		for d := path.Dir(e.Name); d != "."; d = path.Dir(d) {
			if p := byName[d]; p != nil && p.Mode.Type() == fs.ModeSymlink {
				return srcErr(e.Name, "", fmt.Errorf("lies below %s, a symbolic link to %q: extracting it would write through the link", d, p.Data))
			}
		}
		if e.Mode.Type() != fs.ModeSymlink {
			continue
		}
		if err := resolveLink(byName, e); err != nil {
			return srcErr(e.Name, "", err)
		}
	}
	for _, p := range t.Manifest.Packages {
		for _, f := range p.Files {
			sig := SignaturePath(p.Name, f.Path)
			for d := path.Dir(sig); d != "."; d = path.Dir(d) {
				if e := byName[d]; e != nil && e.Mode.Type() == fs.ModeSymlink {
					return srcErr(d, "", fmt.Errorf("is a symbolic link to %q, but the signature %s goes below it: building the package would write through the link", e.Data, sig))
				}
			}
		}
	}
	return nil
}

// resolveLink follows link through the tree, component by component, and
// fails if any step is absolute, climbs above the tree's root, or takes
// more than maxLinkHops links. A component the tree does not hold ends the
// resolution there: nothing below it can be reached through the package.
func resolveLink(byName map[string]*Entry, link *Entry) error {
	target := string(link.Data)
	if target == "" {
		return errors.New("symbolic link has an empty target")
	}
	if len(target) > maxLinkTarget {
		return fmt.Errorf("symbolic link target is %d bytes, more than %d", len(target), maxLinkTarget)
	}
	if strings.IndexByte(target, 0) >= 0 {
		return fmt.Errorf("symbolic link target %q contains a NUL byte", target)
	}
	if strings.HasPrefix(target, "/") {
		return fmt.Errorf("%w: its target %q is absolute", ErrLinkEscapes, target)
	}
	// cur is the directory reached so far, as components from the root;
	// todo holds the components still to walk.
	var cur []string
	if d := path.Dir(link.Name); d != "." {
		cur = strings.Split(d, "/")
	}
	todo := strings.Split(target, "/")
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return fmt.Errorf("%w: its target %q climbs above source-template/", ErrLinkEscapes, target)
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := strings.Join(append(cur[:len(cur):len(cur)], c), "/")
		e := byName[next]
		switch {
		case e == nil:
			// Not in the tree: the rest can only go deeper below a
			// name that does not exist, or come back up through it.
			cur = append(cur, c)
		case e.Mode.Type() == fs.ModeSymlink:
			if hops++; hops > maxLinkHops {
				return fmt.Errorf("symbolic link target %q: more than %d links to follow (a loop?)", target, maxLinkHops)
			}
			t := string(e.Data)
			if strings.HasPrefix(t, "/") {
				return fmt.Errorf("%w: its target %q goes through %s, a link to the absolute path %q", ErrLinkEscapes, target, next, t)
			}
			todo = append(strings.Split(t, "/"), todo...)
		default:
			cur = append(cur, c)
		}
	}
	return nil
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
