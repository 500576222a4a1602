package deb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// arMember is one member of an ar archive built by buildAr.
type arMember struct {
	name string
	data []byte
}

// buildAr returns an ar archive of the members, laid out like dpkg-deb's.
func buildAr(members ...arMember) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, m := range members {
		b.Write(arHeaderBytes(m.name, "0", "0", "0", "100644", fmt.Sprint(len(m.data))))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// arHeaderBytes formats a 60-byte ar header, cutting or space-padding each
// field to its width.
func arHeaderBytes(name, mtime, uid, gid, mode, size string) []byte {
	b := bytes.Repeat([]byte(" "), arHeaderSize)
	for _, f := range []struct {
		field arField
		value string
	}{
		{fieldName, name}, {fieldMTime, mtime}, {fieldUID, uid}, {fieldGID, gid},
		{fieldMode, mode}, {fieldSize, size},
	} {
		copy(f.field.bytes(b), f.value)
	}
	copy(fieldTerm.bytes(b), arTerminator)
	return b
}

// tarEntry is one entry of a tar archive built by buildTar.
type tarEntry struct {
	name     string
	typ      byte
	mode     int64
	body     string
	linkname string
}

var testTime = testutil.TarTime

// buildTar returns a GNU tar archive of the entries.
func buildTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var es []testutil.TarEntry
	for _, e := range entries {
		es = append(es, testutil.TarEntry{Name: e.name, Type: e.typ, Mode: e.mode, Body: e.body, Linkname: e.linkname})
	}
	return testutil.Tar(t, es...)
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const testControl = "Package: hello\nSource: hello-src (1.0-1)\nVersion: 1:1.0-1+b1\nArchitecture: amd64\n" +
	"Description: a test\n two lines\n .\n and a blank one\n"

// controlTar returns a control.tar holding the control file text.
func controlTar(t testing.TB, text string) []byte {
	t.Helper()
	return buildTar(t,
		tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "./control", typ: tar.TypeReg, mode: 0o644, body: text},
		tarEntry{name: "./md5sums", typ: tar.TypeReg, mode: 0o644, body: "x  usr/bin/hello\n"},
	)
}

// testDataTar is a small data.tar with each kind of entry.
func testDataTar(t testing.TB) []byte {
	t.Helper()
	return buildTar(t,
		tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "./usr/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "./usr/bin/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "./usr/bin/hello", typ: tar.TypeReg, mode: 0o4755, body: "#!/bin/sh\necho hello\n"},
		tarEntry{name: "./usr/bin/hi", typ: tar.TypeSymlink, mode: 0o777, linkname: "hello"},
		tarEntry{name: "./usr/bin/hey", typ: tar.TypeLink, mode: 0o755, linkname: "./usr/bin/hello"},
	)
}

// testDeb returns a small uncompressed .deb: easy to mutate in fuzzing.
func testDeb(t testing.TB) []byte {
	t.Helper()
	return buildAr(
		arMember{"debian-binary", []byte("2.0\n")},
		arMember{"control.tar", controlTar(t, testControl)},
		arMember{"data.tar", testDataTar(t)},
	)
}

// gotEntry is an Entry with the SHA-256 of its body.
type gotEntry struct {
	Entry
	SHA256 string
}

// readAll reads a .deb with Read and returns its control data and entries.
func readAll(t testing.TB, r io.Reader, name string) (*Package, []gotEntry) {
	t.Helper()
	var got []gotEntry
	pkg, err := Read(r, name, func(pkg *Package, e *Entry, body io.Reader) error {
		h := sha256.New()
		n, err := io.Copy(h, body)
		if err != nil {
			return err
		}
		if n != e.Size {
			return fmt.Errorf("%s: body is %d bytes, Size says %d", e.Path, n, e.Size)
		}
		got = append(got, gotEntry{*e, hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%s): %v", name, err)
	}
	return pkg, got
}

// onlyReader hides every method of r but Read, so that Read cannot learn
// the size.
type onlyReader struct{ r io.Reader }

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
