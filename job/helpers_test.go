package job

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign/kmod"
)

// The synthetic package the job tests read, and its template.
const (
	testPkg     = "pool-unsigned"
	testVersion = "1.0-1"
	testSource  = "pool-signed"
)

// debFile is one data.tar entry of a synthetic package.
type debFile struct {
	name string
	data []byte
}

// writeTestDeb writes pool-unsigned_1.0-1_amd64.deb into a new directory:
// debian-binary, control.tar.gz and an uncompressed data.tar of files.
func writeTestDeb(t testing.TB, files ...debFile) string {
	t.Helper()
	when := time.Unix(1700000000, 0)
	tarOf := func(entries []debFile) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, f := range entries {
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "./" + f.name, Size: int64(len(f.data)), Mode: 0o644,
				ModTime: when, Format: tar.FormatGNU}
			if err := tw.WriteHeader(hdr); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(f.data); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	var control bytes.Buffer
	zw := gzip.NewWriter(&control)
	zw.Write(tarOf([]debFile{{"control", []byte("Package: " + testPkg + "\nVersion: " + testVersion +
		"\nArchitecture: amd64\nMaintainer: mksigned tests <tests@example.org>\nDescription: job tests\n")}}))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, m := range []debFile{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control.Bytes()}, {"data.tar", tarOf(files)}} {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, when.Unix(), 0, 0, "100644", len(m.data))
		ar.Write(m.data)
		if len(m.data)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	p := filepath.Join(t.TempDir(), testPkg+"_"+testVersion+"_amd64.deb")
	if err := os.WriteFile(p, ar.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeTestTemplate writes a code-signing directory that signs the given
// files of pool-unsigned, each "path:sig_type", and has buildDepends as
// its source package's Build-Depends.
func writeTestTemplate(t testing.TB, buildDepends string, files ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pool-signed-template")
	var list []string
	for _, f := range files {
		path, sigType, _ := strings.Cut(f, ":")
		list = append(list, `{"sig_type": "`+sigType+`", "file": "`+path+`"}`)
	}
	for name, data := range map[string]string{
		"files.json": `{"packages": {"` + testPkg + `": {"trusted_certs": [], "files": [` + strings.Join(list, ", ") + `]}}}`,
		"source-template/debian/changelog": testSource + ` (1.0+1) unstable; urgency=medium

  * Sign ` + testPkg + ` ` + testVersion + `.

 -- mksigned tests <tests@example.org>  Sat, 28 Nov 2026 12:00:00 +0000
`,
		"source-template/debian/control": "Source: " + testSource + "\nMaintainer: mksigned tests <tests@example.org>\nBuild-Depends: " +
			buildDepends + "\n\nPackage: " + testSource + "\nArchitecture: amd64\nDescription: job tests\n job tests\n",
		"source-template/debian/copyright":     "none\n",
		"source-template/debian/rules":         "#!/usr/bin/make -f\n%:\n\tdh $@\n",
		"source-template/debian/source/format": "3.0 (native)\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testModules returns n distinct unsigned kernel modules (Debian's
// dummy.ko without its signature, each with its number in its last
// bytes), as data.tar entries, and their "path:linux-module" list.
func testModules(t testing.TB, n int) (files []debFile, listed []string) {
	t.Helper()
	raw, err := os.ReadFile(testutil.DebianFixture(t, "dummy.ko"))
	if err != nil {
		t.Fatal(err)
	}
	module, err := kmod.Strip(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := bytes.Clone(module)
		binary.BigEndian.PutUint32(m[len(m)-4:], uint32(i))
		name := fmt.Sprintf("lib/modules/6.1.0-57-amd64/extra/m%03d.ko", i)
		files = append(files, debFile{name, m})
		listed = append(listed, name+":linux-module")
	}
	return files, listed
}
