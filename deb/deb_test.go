package deb

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mksigned/mksigned/internal/testutil"
)

// fixtures are the real Debian packages under testdata/debian.
var fixtures = []string{
	"fwupd-unsigned_1.4-1_amd64.deb",
	"fwupd-amd64-signed-template_1.4-1_amd64.deb",
	"fwupd-amd64-signed_1.4+1_amd64.deb",
	"shim-unsigned_16.1-2~deb12u1_amd64.deb",
	"shim-helpers-amd64-signed-template_16.1-2~deb12u1_amd64.deb",
	"shim-helpers-amd64-signed_1+16.1+2~deb12u1_amd64.deb",
}

// dpkgDeb runs dpkg-deb in the UTC time zone and returns its output.
func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	testutil.RequireTool(t, "dpkg-deb")
	cmd := exec.Command("dpkg-deb", args...)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-deb %q: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// lsMode formats an entry's type and mode as dpkg-deb -c (tar -tv) does.
func lsMode(e *Entry) string {
	typ := map[byte]byte{tar.TypeReg: '-', tar.TypeDir: 'd', tar.TypeSymlink: 'l', tar.TypeLink: 'h',
		tar.TypeChar: 'c', tar.TypeBlock: 'b', tar.TypeFifo: 'p'}[e.Type]
	b := []byte{typ}
	for i, c := range "rwxrwxrwx" {
		if e.Mode&(1<<(8-i)) != 0 {
			b = append(b, byte(c))
		} else {
			b = append(b, '-')
		}
	}
	special := func(bit fs.FileMode, i int, set, unset byte) {
		if e.Mode&bit != 0 {
			if b[i] == 'x' {
				b[i] = set
			} else {
				b[i] = unset
			}
		}
	}
	special(fs.ModeSetuid, 3, 's', 'S')
	special(fs.ModeSetgid, 6, 's', 'S')
	special(fs.ModeSticky, 9, 't', 'T')
	return string(b)
}

// dpkgListLine is what dpkg-deb -c shows for an entry, without the owner.
func dpkgListLine(e *Entry) string {
	name := "./" + e.Path
	switch {
	case e.Path == ".":
		name = "./"
	case e.Type == tar.TypeDir:
		name += "/"
	}
	switch e.Type {
	case tar.TypeSymlink:
		name += " -> " + e.Linkname
	case tar.TypeLink:
		name += " link to ./" + e.Linkname
	}
	return strings.Join([]string{lsMode(e), strconv.FormatInt(e.Size, 10), e.ModTime.Format("2006-01-02 15:04"), name}, " ")
}

var dpkgListRE = regexp.MustCompile(`^(\S{10}) \S+ +(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) (.*)$`)

// dpkgList returns dpkg-deb -c's listing without the owner column.
func dpkgList(t *testing.T, deb string) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(dpkgDeb(t, "-c", deb), "\n"), "\n") {
		m := dpkgListRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("dpkg-deb -c line %q not understood", l)
		}
		lines = append(lines, strings.Join(m[1:], " "))
	}
	return lines
}

// dpkgFileHashes extracts the package with dpkg-deb -x and returns the
// SHA-256 of every regular file by path.
func dpkgFileHashes(t *testing.T, deb string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	dpkgDeb(t, "-x", deb, dir)
	hashes := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		hashes[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hashes
}

// dpkgFields returns the control file's fields as dpkg-deb -f prints them,
// in order, with values as pault.ag/go/debian/control gives them.
func dpkgFields(t *testing.T, deb string) (order []string, values map[string]string) {
	t.Helper()
	values = map[string]string{}
	var key string
	var cont []string
	flush := func() {
		if key == "" {
			return
		}
		if len(cont) > 0 {
			v := values[key]
			if v != "" {
				v += "\n"
			}
			values[key] = v + strings.Join(cont, "\n") + "\n"
		}
		cont = nil
	}
	for _, l := range strings.Split(strings.TrimSuffix(dpkgDeb(t, "-f", deb), "\n"), "\n") {
		if strings.HasPrefix(l, " ") {
			l = strings.TrimRight(l[1:], " \t")
			if l == "." {
				l = ""
			}
			cont = append(cont, l)
			continue
		}
		flush()
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("dpkg-deb -f line %q not understood", l)
		}
		key = k
		order = append(order, k)
		values[k] = strings.TrimSpace(v)
	}
	flush()
	return order, values
}

// checkAgainstDpkg reads deb with Read and compares it with what dpkg-deb
// says about it: listing, file contents, and control fields.
func checkAgainstDpkg(t *testing.T, deb string) (*Package, []gotEntry) {
	t.Helper()
	pkg, entries := readAll(t, mustOpen(t, deb), filepath.Base(deb))

	var gotList []string
	gotHashes := map[string]string{}
	for _, e := range entries {
		gotList = append(gotList, dpkgListLine(&e.Entry))
		switch e.Type {
		case tar.TypeReg:
			gotHashes[e.Path] = e.SHA256
		case tar.TypeLink: // dpkg-deb -x makes it a second name of its target
			gotHashes[e.Path] = gotHashes[e.Linkname]
		}
	}
	if diff := cmp.Diff(dpkgList(t, deb), gotList); diff != "" {
		t.Errorf("%s: entries differ from dpkg-deb -c (-dpkg +Read):\n%s", deb, diff)
	}
	if diff := cmp.Diff(dpkgFileHashes(t, deb), gotHashes); diff != "" {
		t.Errorf("%s: file SHA-256 differ from dpkg-deb -x (-dpkg +Read):\n%s", deb, diff)
	}

	order, values := dpkgFields(t, deb)
	if diff := cmp.Diff(order, pkg.Control.Order); diff != "" {
		t.Errorf("%s: field order differs from dpkg-deb -f (-dpkg +Read):\n%s", deb, diff)
	}
	if diff := cmp.Diff(values, pkg.Control.Values); diff != "" {
		t.Errorf("%s: fields differ from dpkg-deb -f (-dpkg +Read):\n%s", deb, diff)
	}
	want := dpkgDeb(t, "-W", "--showformat", "${Package}|${Version}|${Architecture}|${source:Package}|${source:Version}", deb)
	got := strings.Join([]string{pkg.Name, pkg.Version, pkg.Architecture, pkg.Source, pkg.SourceVersion}, "|")
	if got != want {
		t.Errorf("%s: got package %q, dpkg-deb -W says %q", deb, got, want)
	}
	return pkg, entries
}

func mustOpen(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadFixturesAgainstDpkg(t *testing.T) {
	t.Parallel()
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkAgainstDpkg(t, testutil.DebianFixture(t, name))
		})
	}
}

// TestReadFileStreamAndFileAgree reads each fixture as a file (size known)
// and as a bare stream (size unknown): same result.
func TestReadFileStreamAndFileAgree(t *testing.T) {
	t.Parallel()
	for _, name := range fixtures {
		path := testutil.DebianFixture(t, name)
		var viaFile []gotEntry
		pkg1, err := ReadFile(path, func(_ *Package, e *Entry, body io.Reader) error {
			h := sha256.New()
			if _, err := io.Copy(h, body); err != nil {
				return err
			}
			viaFile = append(viaFile, gotEntry{*e, hex.EncodeToString(h.Sum(nil))})
			return nil
		})
		if err != nil {
			t.Fatalf("ReadFile(%s): %v", name, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pkg2, viaStream := readAll(t, &onlyReader{bytes.NewReader(data)}, name)
		if diff := cmp.Diff(viaFile, viaStream); diff != "" {
			t.Errorf("%s: entries differ (-file +stream):\n%s", name, diff)
		}
		if diff := cmp.Diff(pkg1, pkg2); diff != "" {
			t.Errorf("%s: control differs (-file +stream):\n%s", name, diff)
		}
	}
}

// TestStopEarly stops after shim-unsigned's first regular file and checks
// that most of the file was never read.
func TestStopEarly(t *testing.T) {
	// The pure-Go decoder stops reading exactly where asked; the xz
	// program reads ahead (TestExternalXZ covers it).
	t.Setenv(EnvDecompress, "go")
	data, err := os.ReadFile(testutil.DebianFixture(t, "shim-unsigned_16.1-2~deb12u1_amd64.deb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stopAt := range []string{"usr/lib/shim/BOOTX64.CSV", "usr/lib/shim/fbx64.efi"} {
		cr := &countingReader{r: bytes.NewReader(data)}
		var seen []string
		var kept io.Reader
		pkg, err := Read(cr, "shim.deb", func(pkg *Package, e *Entry, body io.Reader) error {
			seen = append(seen, e.Path)
			if e.Path == stopAt {
				if _, err := io.Copy(io.Discard, body); err != nil {
					return err
				}
				kept = body
				return ErrStop
			}
			return nil
		})
		if err != nil {
			t.Fatalf("stop at %s: Read: %v", stopAt, err)
		}
		if pkg == nil || pkg.Name != "shim-unsigned" {
			t.Fatalf("stop at %s: got package %+v", stopAt, pkg)
		}
		if got := seen[len(seen)-1]; got != stopAt {
			t.Errorf("last entry visited is %s, want %s (seen %q)", got, stopAt, seen)
		}
		// fbx64.efi is 117 KB of the 2 MB tar: the reader must not have
		// read even half of the 457 KB file.
		if cr.n > int64(len(data))/2 {
			t.Errorf("stop at %s: read %d of %d bytes, want less than half", stopAt, cr.n, len(data))
		}
		t.Logf("stop at %s: read %d of %d bytes", stopAt, cr.n, len(data))
		if _, err := kept.Read(make([]byte, 1)); !errors.Is(err, errBodyGone) {
			t.Errorf("reading a body after visit returned: got %v, want %v", err, errBodyGone)
		}
	}
}

// TestWrappedStop accepts ErrStop wrapped in another error.
func TestWrappedStop(t *testing.T) {
	t.Parallel()
	n := 0
	_, err := Read(bytes.NewReader(testDeb(t)), "t.deb", func(*Package, *Entry, io.Reader) error {
		n++
		return errors.Join(errors.New("done"), ErrStop)
	})
	if err != nil || n != 1 {
		t.Errorf("got %d visits, error %v; want 1, nil", n, err)
	}
}

// TestSynthetic checks the typed fields on a small package with each kind
// of entry, and that "_" members are skipped wherever dpkg allows them.
func TestSynthetic(t *testing.T) {
	t.Parallel()
	data := buildAr(
		arMember{"debian-binary", []byte("2.0\nmore lines are ignored\n")},
		arMember{"_extra", []byte("odd")},
		arMember{"control.tar.gz", gzipBytes(t, controlTar(t, testControl))},
		arMember{"_extra2", nil},
		arMember{"data.tar", testDataTar(t)},
		arMember{"_trailer", []byte("x")},
	)
	pkg, entries := readAll(t, bytes.NewReader(data), "t.deb")
	wantPkg := &Package{Name: "hello", Version: "1:1.0-1+b1", Architecture: "amd64",
		Source: "hello-src", SourceVersion: "1.0-1", DataMember: "data.tar"}
	if diff := cmp.Diff(wantPkg, pkg, cmpopts.IgnoreFields(Package{}, "Control")); diff != "" {
		t.Errorf("package (-want +got):\n%s", diff)
	}
	if got, want := pkg.Control.Values["Description"], "a test\ntwo lines\n\nand a blank one\n"; got != want {
		t.Errorf("Description = %q, want %q", got, want)
	}
	sum := sha256.Sum256([]byte("#!/bin/sh\necho hello\n"))
	want := []gotEntry{
		{Entry{Path: ".", Type: tar.TypeDir, Mode: 0o755, ModTime: testTime, Offset: 0}, emptySHA},
		{Entry{Path: "usr", Type: tar.TypeDir, Mode: 0o755, ModTime: testTime, Offset: 512}, emptySHA},
		{Entry{Path: "usr/bin", Type: tar.TypeDir, Mode: 0o755, ModTime: testTime, Offset: 1024}, emptySHA},
		{Entry{Path: "usr/bin/hello", Type: tar.TypeReg, Mode: 0o755 | fs.ModeSetuid, Size: 21, ModTime: testTime, Offset: 1536},
			hex.EncodeToString(sum[:])},
		// After hello's header and its one block of data.
		{Entry{Path: "usr/bin/hi", Type: tar.TypeSymlink, Mode: 0o777, ModTime: testTime, Linkname: "hello", Offset: 2560}, emptySHA},
		{Entry{Path: "usr/bin/hey", Type: tar.TypeLink, Mode: 0o755, ModTime: testTime, Linkname: "usr/bin/hello", Offset: 3072}, emptySHA},
	}
	if diff := cmp.Diff(want, entries); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

var emptySHA = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

func BenchmarkReadShimUnsigned(b *testing.B) {
	data, err := os.ReadFile(testutil.DebianFixture(b, "shim-unsigned_16.1-2~deb12u1_amd64.deb"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data), "shim.deb", func(_ *Package, _ *Entry, body io.Reader) error {
			_, err := io.Copy(io.Discard, body)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadControl reads the control data and the data member's name, and
// stops before the data member's contents.
func TestReadControl(t *testing.T) {
	path := testutil.DebianFixture(t, "shim-unsigned_16.1-2~deb12u1_amd64.deb")
	pkg, err := ReadControl(path)
	if err != nil {
		t.Fatal(err)
	}
	if pkg.Name != "shim-unsigned" || pkg.Version != "16.1-2~deb12u1" || pkg.DataMember != "data.tar.xz" {
		t.Errorf("got %+v", pkg)
	}
	bad := filepath.Join(t.TempDir(), "bad.deb")
	if err := os.WriteFile(bad, []byte("!<arch>\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadControl(bad); err == nil || !strings.Contains(err.Error(), "bad.deb") {
		t.Errorf("ReadControl of a broken file: %v", err)
	}
}
