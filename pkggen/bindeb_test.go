package pkggen

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/testutil"
)

var binEpoch = time.Date(2023, 1, 27, 15, 15, 57, 0, time.UTC)

const binControl = "Package: tt\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: A <a@example.org>\nDescription: t\n t\n"

// binTree has an entry dated after the epoch (clamped), one before (kept),
// an executable, an odd-sized file (ar padding), an explicit and an
// implicit directory.
func binTree() []Entry {
	return []Entry{
		{Name: "usr/share/t/b/rules", Mode: 0o755, ModTime: binEpoch.Add(time.Hour), Data: []byte("#!/usr/bin/make -f\n")},
		{Name: "usr/share/t/a.json", Mode: 0o644, ModTime: binEpoch.Add(-48 * time.Hour), Data: []byte("{}\n")},
		{Name: "usr/share/t", Mode: fs.ModeDir | 0o755, ModTime: binEpoch},
		{Name: "usr/share/doc/t/copyright", Mode: 0o644, ModTime: binEpoch, Data: []byte("odd")},
	}
}

// TestBinaryDebRead reads what BinaryDeb writes with our own reader:
// control, entries in dpkg-deb's order, modes and clamped times.
func TestBinaryDebRead(t *testing.T) {
	t.Parallel()
	b, err := BinaryDeb([]byte(binControl), binTree(), binEpoch)
	if err != nil {
		t.Fatal(err)
	}
	type ent struct {
		Path string
		Type byte
		Mode int64
		Time time.Time
		Data string
	}
	var got []ent
	pkg, err := deb.Read(bytes.NewReader(b), "t.deb", func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
		data, err := io.ReadAll(body)
		got = append(got, ent{e.Path, e.Type, int64(e.Mode), e.ModTime.UTC(), string(data)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if pkg.Name != "tt" || pkg.Version != "1.0-1" || pkg.Architecture != "amd64" || pkg.DataMember != "data.tar.xz" {
		t.Errorf("control: got %s %s %s %s, want tt 1.0-1 amd64 data.tar.xz", pkg.Name, pkg.Version, pkg.Architecture, pkg.DataMember)
	}
	d := func(p string) ent { return ent{p, '5', 0o755, binEpoch, ""} }
	want := []ent{
		d("."), d("usr"), d("usr/share"), d("usr/share/doc"), d("usr/share/doc/t"),
		{"usr/share/doc/t/copyright", '0', 0o644, binEpoch, "odd"},
		d("usr/share/t"),
		{"usr/share/t/a.json", '0', 0o644, binEpoch.Add(-48 * time.Hour), "{}\n"},
		d("usr/share/t/b"),
		{"usr/share/t/b/rules", '0', 0o755, binEpoch, "#!/usr/bin/make -f\n"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestBinaryDebDeterministic: the same inputs, in any order, give the
// same bytes; another epoch gives others.
func TestBinaryDebDeterministic(t *testing.T) {
	t.Parallel()
	a, err := BinaryDeb([]byte(binControl), binTree(), binEpoch)
	if err != nil {
		t.Fatal(err)
	}
	rev := binTree()
	slices.Reverse(rev)
	b, err := BinaryDeb([]byte(binControl), rev, binEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("BinaryDeb of the tree reversed differs")
	}
	c, err := BinaryDeb([]byte(binControl), binTree(), binEpoch.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Errorf("BinaryDeb with another epoch gives the same bytes")
	}
}

// TestBinaryDebDpkg checks the package with dpkg-deb: its listing
// (owner root/root, dates, modes, directories) and, with md5sum -c, that
// md5sums matches the files dpkg-deb extracts.
func TestBinaryDebDpkg(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "dpkg-deb")
	testutil.RequireTool(t, "md5sum")
	b, err := BinaryDeb([]byte(binControl), binTree(), binEpoch)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	debPath := filepath.Join(dir, "t.deb")
	if err := os.WriteFile(debPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	list := string(testutil.Run(t, "", "dpkg-deb", "--contents", debPath))
	wantList := `drwxr-xr-x root/root         0 2023-01-27 15:15 ./
drwxr-xr-x root/root         0 2023-01-27 15:15 ./usr/
drwxr-xr-x root/root         0 2023-01-27 15:15 ./usr/share/
drwxr-xr-x root/root         0 2023-01-27 15:15 ./usr/share/doc/
drwxr-xr-x root/root         0 2023-01-27 15:15 ./usr/share/doc/t/
-rw-r--r-- root/root         3 2023-01-27 15:15 ./usr/share/doc/t/copyright
drwxr-xr-x root/root         0 2023-01-27 15:15 ./usr/share/t/
-rw-r--r-- root/root         3 2023-01-25 15:15 ./usr/share/t/a.json
drwxr-xr-x root/root         0 2023-01-27 15:15 ./usr/share/t/b/
-rwxr-xr-x root/root        19 2023-01-27 15:15 ./usr/share/t/b/rules
`
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("dpkg-deb --contents (-want +got):\n%s", diff)
	}
	if got := string(testutil.Run(t, "", "dpkg-deb", "--field", debPath, "Package", "Version")); got != "Package: tt\nVersion: 1.0-1\n" {
		t.Errorf("dpkg-deb --field = %q", got)
	}
	root, ctl := filepath.Join(dir, "root"), filepath.Join(dir, "ctl")
	testutil.Run(t, "", "dpkg-deb", "-x", debPath, root)
	testutil.Run(t, "", "dpkg-deb", "-e", debPath, ctl)
	sums, err := os.ReadFile(filepath.Join(ctl, "md5sums"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(sums), "\n"); n != 3 {
		t.Errorf("md5sums has %d lines, want 3 (one per regular file):\n%s", n, sums)
	}
	testutil.Run(t, root, "md5sum", "--check", "--strict", filepath.Join(ctl, "md5sums"))
}

func TestBinaryDebBad(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		control string
		tree    []Entry
		epoch   time.Time
		want    string
	}{
		{"control without newline", "Package: t", nil, binEpoch, "end in a newline"},
		{"unsafe path", binControl, []Entry{{Name: "../x", Mode: 0o644}}, binEpoch, "not a clean relative path"},
		{"epoch before 1970", binControl, nil, time.Unix(-1, 0), "out of the range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := BinaryDeb([]byte(c.control), c.tree, c.epoch)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("BinaryDeb: got error %v, want one with %q", err, c.want)
			}
		})
	}
}

func TestInstalledSize(t *testing.T) {
	t.Parallel()
	tree := []Entry{
		{Name: "a", Mode: 0o644, Data: make([]byte, 1025)}, // 2 KiB
		{Name: "d/e", Mode: 0o644},                         // 0, in d: 1
		{Name: "l", Mode: fs.ModeSymlink | 0o777, Data: []byte("a")},
	}
	// root 1 + a 2 + d 1 + e 0 + l 1
	if got, err := InstalledSize(tree); err != nil || got != 5 {
		t.Errorf("InstalledSize = %d, %v; want 5", got, err)
	}
}
