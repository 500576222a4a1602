package testutil

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"
)

// TarEntry is one entry of a tar archive built by Tar.
type TarEntry struct {
	Name     string
	Type     byte // tar.TypeReg, tar.TypeDir, tar.TypeSymlink, ...
	Mode     int64
	Body     string // a regular file's content
	Linkname string
}

// TarTime is the modification time of every entry Tar writes.
var TarTime = time.Date(2023, 1, 27, 15, 15, 57, 0, time.UTC)

// Tar returns a GNU tar archive of the entries, in the order given: what
// dpkg-deb -b cannot make (an entry below a link, a path twice) is
// allowed.
func Tar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname,
			ModTime: TarTime, Format: tar.FormatGNU, Uname: "root", Gname: "root",
		}
		if e.Type == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Deb returns an uncompressed .deb (debian-binary, control.tar, data.tar)
// with the given control file and data.tar, laid out as dpkg-deb lays out
// its ar archive.
func Deb(t testing.TB, control string, data []byte) []byte {
	t.Helper()
	ctl := Tar(t,
		TarEntry{Name: "./", Type: tar.TypeDir, Mode: 0o755},
		TarEntry{Name: "./control", Type: tar.TypeReg, Mode: 0o644, Body: control},
	)
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar", ctl}, {"data.tar", data}} {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
