package pkggen

// A binary package (deb(5)), laid out as dpkg-deb -b lays it out: an ar
// archive of debian-binary, control.tar.xz and data.tar.xz.

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/blakesmith/ar"
)

// BinaryDeb returns the .deb holding control (the control file, which
// must end in a newline and should carry Installed-Size, see
// InstalledSize) and the files of tree, installed under "/".
//
// The result depends only on its arguments: the tars list directories
// before their contents, sorted by byte value, with names starting "./"
// as dpkg-deb writes them, owner root:root, and every modification time
// later than epoch clamped to epoch (ar members are dated epoch).
// control.tar.xz holds control and md5sums, the MD5 of each regular file
// as dpkg-deb and dh_md5sums write it. Implicit directories get mode
// 0755.
func BinaryDeb(control []byte, tree []Entry, epoch time.Time) ([]byte, error) {
	if len(control) == 0 || control[len(control)-1] != '\n' {
		return nil, fmt.Errorf("control file must end in a newline")
	}
	if epoch.Unix() < 0 || epoch.Unix() > maxOctal11 {
		return nil, fmt.Errorf("epoch %d is out of the range a tar header holds (1970 to 2242)", epoch.Unix())
	}
	data, err := binaryTar(tree, epoch)
	if err != nil {
		return nil, err
	}
	ctl, err := binaryTar([]Entry{
		{Name: "control", Mode: 0o644, ModTime: epoch, Data: control},
		{Name: "md5sums", Mode: 0o644, ModTime: epoch, Data: md5sums(tree)},
	}, epoch)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w := ar.NewWriter(&out)
	if err := w.WriteGlobalHeader(); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.xz", ctl}, {"data.tar.xz", data}} {
		if m.name != "debian-binary" {
			if m.data, err = compressXZStream(m.data); err != nil {
				return nil, fmt.Errorf("%s: %w", m.name, err)
			}
		}
		// blakesmith/ar pads an odd-sized member at each Write, so the
		// data goes in one Write.
		if err := w.WriteHeader(&ar.Header{Name: m.name, ModTime: epoch, Mode: 0o644, Size: int64(len(m.data))}); err != nil {
			return nil, err
		}
		if _, err := w.Write(m.data); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// binaryTar is the uncompressed tar of tree as dpkg-deb writes it.
func binaryTar(tree []Entry, epoch time.Time) ([]byte, error) {
	root, err := buildTree(tree, epoch)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	tw := &tarWriter{w: &b, epoch: epoch, binary: true}
	if err := tw.walk(root, "."); err != nil {
		return nil, err
	}
	if err := tw.finish(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// md5sums is the md5sums control file: "<hex md5>  <path>" for each
// regular file, sorted by path.
func md5sums(tree []Entry) []byte {
	var lines []string
	for _, e := range tree {
		if e.Mode.Type() == 0 {
			lines = append(lines, fmt.Sprintf("%x  %s\n", md5.Sum(e.Data), e.Name))
		}
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[34:], b[34:]) })
	return []byte(strings.Join(lines, ""))
}

// InstalledSize is the Installed-Size field for tree, in KiB, as
// dpkg-gencontrol counts it: each regular file's size rounded up to a
// whole KiB, and one KiB for each directory (the root and the implicit
// ones too) and symbolic link.
func InstalledSize(tree []Entry) (int64, error) {
	undated := make([]Entry, len(tree)) // times do not count
	for i, e := range tree {
		e.ModTime = time.Unix(0, 0)
		undated[i] = e
	}
	root, err := buildTree(undated, time.Unix(0, 0))
	if err != nil {
		return 0, err
	}
	var count func(n *node) int64
	count = func(n *node) int64 {
		size := int64(1)
		if n.entry.Mode.Type() == 0 {
			size = (int64(len(n.entry.Data)) + 1023) / 1024
		}
		for _, c := range n.children {
			size += count(c)
		}
		return size
	}
	return count(root), nil
}
