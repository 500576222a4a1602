package pkggen

import (
	"io/fs"
	"time"
)

// Contents is what the tarball of a tree holds, counted as WriteTar
// writes it: an operator's view of a source package before it is made.
type Contents struct {
	Files, Dirs int    // regular files and directories, the root included
	Links       []Link // symbolic links, in tarball order
	// Excluded lists the entries dpkg-source's default exclude patterns
	// leave out (with everything below them), in tarball order.
	Excluded []string
}

// Link is one symbolic link of a tree.
type Link struct {
	Name, Target string
}

// Count returns what WriteTar would store of tree under prefix; it fails
// where WriteTar would.
func Count(prefix string, tree []Entry) (*Contents, error) {
	root, err := buildTree(tree, time.Unix(0, 0))
	if err != nil {
		return nil, err
	}
	c := &Contents{}
	var walk func(n *node, full string)
	walk = func(n *node, full string) {
		switch n.entry.Mode.Type() {
		case fs.ModeDir:
			c.Dirs++
		case fs.ModeSymlink:
			c.Links = append(c.Links, Link{n.path, string(n.entry.Data)})
		default:
			c.Files++
		}
		for _, ch := range n.children {
			p := full + "/" + ch.name
			if _, ok := excluded(p); ok {
				c.Excluded = append(c.Excluded, ch.path)
				continue
			}
			walk(ch, p)
		}
	}
	walk(root, prefix)
	return c, nil
}
