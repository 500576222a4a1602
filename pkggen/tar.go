package pkggen

import (
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"
)

// The tarball is what dpkg-source -b (dpkg 1.21, Dpkg::Source::Archive)
// gets from
//
//	tar -cf - --format=gnu --sort=name --mtime @EPOCH --clamp-mtime --null
//	    --numeric-owner --owner=0 --group=0 --exclude=... -T -
//
// run in the parent of the source directory and given that directory's name:
// GNU tar 1.34 headers (see "Basic Tar Format" and "GNU Extensions" in the
// GNU tar manual, and docs/formats.md §3.2 to §3.4).

const (
	blockSize  = 512
	recordSize = 20 * blockSize // GNU tar's default blocking factor
	nameSize   = 100
	maxOctal11 = 1<<33 - 1 // largest value of an 11-digit octal field
	longLink   = "././@LongLink"
)

// Header type flags.
const (
	typeReg      = '0'
	typeSymlink  = '2'
	typeDir      = '5'
	typeLongName = 'L' // GNU: the next header's name
	typeLongLink = 'K' // GNU: the next header's link target
)

// WriteTar writes the uncompressed tarball of tree that dpkg-source -b
// makes for a "3.0 (native)" source package, byte for byte, when the tree
// sits in a directory named prefix and epoch is its SOURCE_DATE_EPOCH.
//
// Every member name starts with prefix and "/". Directories come before
// their contents and list their entries sorted by byte value; directory
// names end in "/". Owner and group are 0 with empty names, modification
// times later than epoch become epoch (earlier ones are kept, truncated to
// whole seconds), and files matching dpkg-source's default exclude patterns
// are left out. Symbolic links are stored with mode 0777 whatever their
// Mode says, as Linux reports them. Directories that tree does not list (including the root,
// unless tree has an entry ".") get mode 0755 and mtime epoch.
//
// The order of tree does not matter. WriteTar writes nothing when tree is
// invalid.
func WriteTar(w io.Writer, prefix string, tree []Entry, epoch time.Time) error {
	if !validPrefix(prefix) {
		return fmt.Errorf("tar prefix %q: %w", prefix, ErrUnsafePath)
	}
	if epoch.Unix() < 0 || epoch.Unix() > maxOctal11 {
		return fmt.Errorf("epoch %d is out of the range a tar header holds (1970 to 2242)", epoch.Unix())
	}
	root, err := buildTree(tree, epoch)
	if err != nil {
		return err
	}
	if pat, ok := excluded(prefix); ok {
		return fmt.Errorf("tar prefix %q matches dpkg-source's exclude pattern %q, so the tarball would be empty", prefix, pat)
	}
	tw := &tarWriter{w: w, epoch: epoch}
	if err := tw.walk(root, prefix); err != nil {
		return err
	}
	return tw.finish()
}

func validPrefix(p string) bool {
	return p != "" && p != "." && p != ".." && fs.ValidPath(p) && baseName(p) == p
}

type tarWriter struct {
	w     io.Writer
	epoch time.Time
	// data, when set, gives a regular file's content in place of
	// Entry.Data (Precompressed waits there for data delivered later).
	data  func(e *Entry) ([]byte, error)
	n     int64 // bytes written
	block [blockSize]byte
	// binary writes a binary package's tar (BinaryDeb): every entry, none
	// excluded, owned by root:root by name as well as by number.
	binary bool
}

// walk writes n, stored as member name full, and then its children.
func (tw *tarWriter) walk(n *node, full string) error {
	if err := tw.writeEntry(n, full); err != nil {
		return err
	}
	for _, c := range n.children {
		p := full + "/" + c.name
		if _, ok := excluded(p); ok && !tw.binary {
			continue
		}
		if err := tw.walk(c, p); err != nil {
			return err
		}
	}
	return nil
}

func (tw *tarWriter) writeEntry(n *node, name string) error {
	e := &n.entry
	data := e.Data
	mtime := e.ModTime
	if mtime.After(tw.epoch) {
		mtime = tw.epoch
	}
	h := header{name: name, mode: tarMode(e.Mode), mtime: mtime.Unix()}
	switch e.Mode.Type() {
	case fs.ModeDir:
		h.typ = typeDir
		h.name += "/"
	case fs.ModeSymlink:
		h.typ = typeSymlink
		h.link = string(e.Data)
		h.mode = 0o777 // what lstat reports for any symbolic link on Linux
	default:
		h.typ = typeReg
		if tw.data != nil {
			var err error
			if data, err = tw.data(e); err != nil {
				return err
			}
		}
		h.size = int64(len(data))
	}
	if len(h.link) > nameSize {
		if err := tw.writeLong(typeLongLink, h.link); err != nil {
			return err
		}
	}
	if len(h.name) > nameSize {
		if err := tw.writeLong(typeLongName, h.name); err != nil {
			return err
		}
	}
	if err := tw.writeHeader(&h); err != nil {
		return err
	}
	if h.typ == typeReg {
		return tw.writeData(data)
	}
	return nil
}

// writeLong writes a GNU ././@LongLink record holding s and its NUL.
func (tw *tarWriter) writeLong(typ byte, s string) error {
	h := header{name: longLink, typ: typ, mode: 0o644, size: int64(len(s)) + 1}
	if err := tw.writeHeader(&h); err != nil {
		return err
	}
	return tw.writeData(append([]byte(s), 0))
}

type header struct {
	name  string
	link  string
	typ   byte
	mode  int64
	size  int64
	mtime int64
}

// writeHeader writes one GNU header block. Names and link targets longer
// than 100 bytes are cut, as GNU tar does after writing the LongLink
// record. uname and gname stay NUL unless tw.binary, devmajor and
// devminor always.
func (tw *tarWriter) writeHeader(h *header) error {
	b := &tw.block
	*b = [blockSize]byte{}
	copy(b[0:100], h.name)
	octal(b[100:108], h.mode)       // mode
	octal(b[108:116], 0)            // uid
	octal(b[116:124], 0)            // gid
	octal(b[124:136], h.size)       // size
	octal(b[136:148], h.mtime)      // mtime
	b[156] = h.typ                  // typeflag
	copy(b[157:257], h.link)        // linkname
	copy(b[257:265], "ustar  \x00") // GNU magic and version
	if tw.binary {
		copy(b[265:297], "root") // uname
		copy(b[297:329], "root") // gname
	}
	// The checksum is computed with its own field as 8 spaces, then
	// stored as six octal digits, NUL, space.
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	octal(b[148:155], sum)
	b[155] = ' '
	return tw.write(b[:])
}

// octal stores v as zero-padded octal digits followed by a NUL, filling
// the field.
func octal(field []byte, v int64) {
	s := strconv.FormatInt(v, 8)
	digits := len(field) - 1
	for i := 0; i < digits-len(s); i++ {
		field[i] = '0'
	}
	copy(field[digits-len(s):], s)
	field[digits] = 0
}

// tarMode returns the st_mode permission bits that tar stores.
func tarMode(m fs.FileMode) int64 {
	v := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// writeData writes data padded with NULs to a whole block.
func (tw *tarWriter) writeData(data []byte) error {
	if err := tw.write(data); err != nil {
		return err
	}
	if r := len(data) % blockSize; r != 0 {
		return tw.write(make([]byte, blockSize-r))
	}
	return nil
}

// finish writes the two zero blocks that end the archive and pads it to a
// whole record.
func (tw *tarWriter) finish() error {
	end := tw.n + 2*blockSize
	if r := end % recordSize; r != 0 {
		end += recordSize - r
	}
	return tw.write(make([]byte, end-tw.n))
}

func (tw *tarWriter) write(p []byte) error {
	n, err := tw.w.Write(p)
	tw.n += int64(n)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("writing tar: %w", err)
	}
	return nil
}
