package pkggen

import (
	"bytes"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// realTemplates are the signing templates under testdata/debian, with the
// path of a signature file to add as the signing service would.
var realTemplates = []struct {
	name, fixture, sig string
}{
	{"fwupd", "fwupd-amd64-signed-template_1.4-1_amd64.deb",
		"debian/signatures/fwupd-amd64-signed/usr/libexec/fwupd/efi/fwupdx64.efi.signed.sig"},
	{"shim", "shim-helpers-amd64-signed-template_16.1-2~deb12u1_amd64.deb",
		"debian/signatures/shim-helpers-amd64-signed/usr/lib/shim/mmx64.efi.signed.sig"},
}

// TestRealTemplatesMatchDpkgSource builds each real template plus a
// signature with dpkg-source -b and requires our tar to equal its
// uncompressed tarball and our .dsc (over its .tar.xz) to equal its .dsc.
func TestRealTemplatesMatchDpkgSource(t *testing.T) {
	t.Parallel()
	for _, tmpl := range realTemplates {
		for _, sde := range []string{"1700000000", ""} {
			name := tmpl.name + "/SOURCE_DATE_EPOCH=" + sde
			if sde == "" {
				name = tmpl.name + "/changelog-date"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tree := templateTree(t, tmpl.fixture)
				src, err := ReadSource(tree)
				if err != nil {
					t.Fatalf("ReadSource: %v", err)
				}
				epoch, err := Epoch(src, sde)
				if err != nil {
					t.Fatal(err)
				}
				if sde == "" && !epoch.Equal(src.Date) {
					t.Fatalf("Epoch without SOURCE_DATE_EPOCH = %v, want changelog date %v", epoch, src.Date)
				}
				tree = append(tree, Entry{Name: tmpl.sig, Mode: 0o644, ModTime: epoch, Data: bytes.Repeat([]byte{0x30, 0x82}, 700)})

				b := runDpkgSource(t, tree, src.Name, sde, epoch)
				if got, want := b.xzName, src.BaseName()+".tar.xz"; got != want {
					t.Errorf("dpkg-source wrote %s, BaseName gives %s", want, got)
				}
				if got, want := b.dscName, src.BaseName()+".dsc"; got != want {
					t.Errorf("dpkg-source wrote %s, BaseName gives %s", want, got)
				}
				got := ourTar(t, src.Name, tree, epoch)
				if !bytes.Equal(got, b.tar) {
					t.Errorf("tar differs from dpkg-source's at %s", firstDiff(got, b.tar))
				}
				dsc, err := DSC(src, b.xzName, b.xz)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(dsc, b.dsc) {
					t.Errorf(".dsc differs from dpkg-source's\ngot:\n%s\nwant:\n%s", dsc, b.dsc)
				}
			})
		}
	}
}

// nameOfLen returns a path under dir whose member name (prefix/path, plus
// extra bytes such as a directory's "/") is exactly n bytes long.
// Components stay under 50 bytes so that any length fits on disk.
func nameOfLen(prefix, dir string, n, extra int) string {
	tail := strconv.Itoa(n)
	name := dir
	for len(prefix)+1+len(name)+1+len(tail)+extra < n {
		name += "/"
		k := min(49, n-(len(prefix)+1+len(name)+1+len(tail)+extra))
		if k <= 0 {
			name += "n"
			break
		}
		name += strings.Repeat("n", k)
	}
	name += "/" + tail
	if got := len(prefix) + 1 + len(name) + extra; got != n {
		panic("nameOfLen: got " + strconv.Itoa(got) + ", want " + strconv.Itoa(n))
	}
	return name
}

// syntheticTrees exercise what dpkg-source's tar does: name lengths around
// 100 bytes, the per-directory sort, mtime clamping, modes, symbolic links
// and the default exclude patterns.
func syntheticTrees(epoch time.Time) map[string][]Entry {
	const prefix = "synth"
	old := time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)
	newer := epoch.Add(10 * 365 * 24 * time.Hour)
	file := func(name string, mode fs.FileMode, mt time.Time, data string) Entry {
		return Entry{Name: name, Mode: mode, ModTime: mt, Data: []byte(data)}
	}
	dir := func(name string, mode fs.FileMode, mt time.Time) Entry {
		return Entry{Name: name, Mode: fs.ModeDir | mode, ModTime: mt}
	}
	link := func(name, target string, mt time.Time) Entry {
		return Entry{Name: name, Mode: fs.ModeSymlink | 0o777, ModTime: mt, Data: []byte(target)}
	}
	trees := map[string][]Entry{}

	lengths := basicTree(prefix, "", old)
	for n := 97; n <= 101; n++ {
		lengths = append(lengths,
			file(nameOfLen(prefix, "f", n, 0), 0o644, old, "file "+strconv.Itoa(n)+"\n"),
			dir(nameOfLen(prefix, "d", n, 1), 0o755, old))
	}
	for _, n := range []int{150, 255, 600} {
		lengths = append(lengths, file(nameOfLen(prefix, "long", n, 0), 0o644, old, strings.Repeat("x", n)))
	}
	lengths = append(lengths,
		link("l/t100", strings.Repeat("t", 100), old),
		link("l/t101", strings.Repeat("t", 101), old),
		link("l/t300", strings.Repeat("t", 300), old),
		link(nameOfLen(prefix, "l", 130, 0), strings.Repeat("u", 130), old))
	trees["name-lengths"] = lengths

	order := basicTree(prefix, "", old)
	for _, n := range []string{"foo/x", "foo-bar/y", "foo.txt", "Foo", "_a", "a b", "é", "foo/B", "foo/a", "z", "0"} {
		order = append(order, file(n, 0o644, old, n+"\n"))
	}
	order = append(order, dir("empty", 0o755, old), dir("foo", 0o755, old))
	trees["order"] = order

	attrs := basicTree(prefix, "", newer)
	attrs = append(attrs,
		file("old", 0o644, old, "old\n"),
		file("newer", 0o644, newer, "newer\n"),
		file("at-epoch", 0o644, epoch, "at epoch\n"),
		file("just-before", 0o644, epoch.Add(-1500*time.Millisecond), "fraction\n"),
		file("just-after", 0o644, epoch.Add(300*time.Millisecond), "fraction\n"),
		file("private", 0o600, old, "private\n"),
		file("script", 0o750, old, "#!/bin/sh\n"),
		dir("privdir", 0o700, old),
		dir("setgid", 0o2755, old),
		dir("sticky", 0o1777, newer),
		file("empty-file", 0o644, old, ""),
		file("block", 0o644, old, strings.Repeat("b", 512)),
		file("big", 0o644, old, strings.Repeat("0123456789abcdef", 4096+7)),
		link("debian/link", "rules", old),
		link("dangling", "../nowhere", newer))
	trees["attributes"] = attrs

	ex := basicTree(prefix, "", old)
	for _, n := range []string{
		".gitignore", "foo.o", "lib/libx.a", "lib/libx.la", "lib/libx.so", "lib/libx.so.1", "keep.oo",
		"x~", "sub/y~", ".#lock", ".~tmp", ",,arch", "DEADJOE", "sub/.foo.swp", ".hidden/x.swp",
		".hidden/kept", "debian/files", "debian/files.new", "debian/source/local-options",
		"debian/source/local-patch-header", "sub/debian/files", "{arch}", ".mailmap", "sub/.cvsignore",
		"notCVS", "CVSnot", "a.gitignore",
	} {
		ex = append(ex, file(n, 0o644, old, n+"\n"))
	}
	for _, d := range []string{".git", "CVS", ".svn", "_darcs", "sub/.hg", ".deps", "obj.o"} {
		ex = append(ex, dir(d, 0o755, old), file(d+"/inside", 0o644, old, "inside\n"))
	}
	ex = append(ex, link("link.o", "foo", old))
	trees["excludes"] = ex
	return trees
}

// TestSyntheticTreesMatchDpkgSource compares WriteTar with dpkg-source -b
// on the synthetic trees.
func TestSyntheticTreesMatchDpkgSource(t *testing.T) {
	t.Parallel()
	const sde = "1700000500"
	epoch := time.Unix(1700000500, 0)
	for name, tree := range syntheticTrees(epoch) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := runDpkgSource(t, tree, "synth", sde, epoch)
			got := ourTar(t, "synth", tree, epoch)
			if !bytes.Equal(got, b.tar) {
				t.Errorf("tar differs from dpkg-source's at %s", firstDiff(got, b.tar))
			}
			src, err := ReadSource(tree)
			if err != nil {
				t.Fatal(err)
			}
			dsc, err := DSC(src, b.xzName, b.xz)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dsc, b.dsc) {
				t.Errorf(".dsc differs\ngot:\n%s\nwant:\n%s", dsc, b.dsc)
			}
		})
	}
}

// TestTarDeterministic checks that entry order does not matter.
func TestTarDeterministic(t *testing.T) {
	t.Parallel()
	epoch := time.Unix(1700000500, 0)
	for name, tree := range syntheticTrees(epoch) {
		want := ourTar(t, "synth", tree, epoch)
		for seed := range uint64(5) {
			if got := ourTar(t, "synth", shuffled(tree, seed), epoch); !bytes.Equal(got, want) {
				t.Errorf("%s: shuffled order (seed %d) changes the tar at %s", name, seed, firstDiff(got, want))
			}
		}
	}
}

// TestWriteTarEpochRange: an epoch an 11-digit octal mtime cannot hold is
// an error, not a panic; the largest that fits is written.
func TestWriteTarEpochRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		epoch int64
		ok    bool
	}{{maxOctal11, true}, {maxOctal11 + 1, false}, {1 << 40, false}, {-1, false}} {
		epoch := time.Unix(tc.epoch, 0)
		tree := []Entry{{Name: "x", Mode: 0o644, ModTime: epoch}}
		var buf bytes.Buffer
		err := WriteTar(&buf, "p", tree, epoch)
		if (err == nil) != tc.ok {
			t.Errorf("WriteTar with epoch %d: %v; want ok %v", tc.epoch, err, tc.ok)
		}
	}
}

func TestWriteTarErrors(t *testing.T) {
	t.Parallel()
	epoch := time.Unix(1700000000, 0)
	f := func(name string) Entry { return Entry{Name: name, Mode: 0o644, ModTime: epoch} }
	tests := []struct {
		name    string
		prefix  string
		tree    []Entry
		path    string // want an *inputerr.Error with this Path, if set
		unsafe  bool   // want ErrUnsafePath
		message string // want in the message
	}{
		{name: "dotdot", prefix: "p", tree: []Entry{f("../x")}, path: "../x", unsafe: true},
		{name: "absolute", prefix: "p", tree: []Entry{f("/x")}, path: "/x", unsafe: true},
		{name: "dot-slash", prefix: "p", tree: []Entry{f("./x")}, path: "./x", unsafe: true},
		{name: "trailing-slash", prefix: "p", tree: []Entry{f("x/")}, path: "x/", unsafe: true},
		{name: "empty", prefix: "p", tree: []Entry{f("")}, unsafe: true},
		{name: "duplicate", prefix: "p", tree: []Entry{f("x"), f("x")}, path: "x", message: "duplicate"},
		{name: "file-as-dir", prefix: "p", tree: []Entry{f("x"), f("x/y")}, path: "x", message: "not a directory"},
		{name: "device", prefix: "p", tree: []Entry{{Name: "dev", Mode: fs.ModeDevice | 0o644}}, path: "dev", message: "unsupported file type"},
		{name: "dir-with-data", prefix: "p", tree: []Entry{{Name: "d", Mode: fs.ModeDir | 0o755, Data: []byte("x")}}, path: "d", message: "directory has data"},
		{name: "empty-link", prefix: "p", tree: []Entry{{Name: "l", Mode: fs.ModeSymlink | 0o777}}, path: "l", message: "empty target"},
		{name: "before-1970", prefix: "p", tree: []Entry{{Name: "x", Mode: 0o644, ModTime: time.Unix(-5, 0)}}, path: "x", message: "before 1970"},
		{name: "root-not-dir", prefix: "p", tree: []Entry{f(".")}, path: ".", message: "root must be a directory"},
		{name: "bad-prefix", prefix: "a/b", tree: nil, unsafe: true},
		{name: "excluded-prefix", prefix: "foo.o", tree: nil, message: "exclude pattern"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			err := WriteTar(&buf, tc.prefix, tc.tree, epoch)
			if err == nil {
				t.Fatal("WriteTar succeeded, want an error")
			}
			if buf.Len() != 0 {
				t.Errorf("WriteTar wrote %d bytes before failing", buf.Len())
			}
			if tc.unsafe && !errors.Is(err, ErrUnsafePath) {
				t.Errorf("error %v is not ErrUnsafePath", err)
			}
			if tc.path != "" {
				var ie *inputerr.Error
				if !errors.As(err, &ie) {
					t.Fatalf("error %v is not an *inputerr.Error", err)
				}
				if ie.Path != tc.path {
					t.Errorf("Path = %q, want %q", ie.Path, tc.path)
				}
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", err, tc.message)
			}
		})
	}
}

func TestWildmatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*.o", "a.o", true},
		{"*.o", "dir/a.o", true},
		{"*.o", "a.oo", false},
		{".*.sw?", ".a.swp", true},
		{".*.sw?", ".hidden/x.swp", true},
		{".*.sw?", "a.swp", false},
		{"*/*~", "p/x~", true},
		{"*/*~", "x~", false},
		{".[#~]*", ".#x", true},
		{".[#~]*", ".~x", true},
		{".[#~]*", ".x", false},
		{"[!a]", "b", true},
		{"[!a]", "a", false},
		{"[^a]", "a", false},
		{"[a-c]x", "bx", true},
		{"[]]", "]", true},
		{"[", "[", true},
		{"{arch}", "{arch}", true},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"", "", true},
		{"*", "", true},
		{"?", "", false},
	}
	for _, tc := range tests {
		if got := wildmatch(tc.pat, tc.s); got != tc.want {
			t.Errorf("wildmatch(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

// TestExcludedNames checks excluded against excludedNaive on names built
// from parts that each default pattern matches, or nearly matches.
func TestExcludedNames(t *testing.T) {
	t.Parallel()
	parts := []string{"", "ok", "a.o", "a.o.sig", "b.so", "b.so.1", "c.la", "d.a", ".x.swp", ".x.sw", "x~", "~", ",,x", ",x",
		".#x", ".~x", ".git", ".gitx", "git", "CVS", "cvs", "{arch}", "debian", "files", "files.new", "source", "local-options", "_darcs"}
	n := 0
	for _, a := range parts {
		for _, b := range parts {
			for _, c := range parts {
				p := "pkg/" + a + "/" + b + "/" + c
				gotPat, got := excluded(p)
				wantPat, want := excludedNaive(p)
				if got != want || gotPat != wantPat {
					t.Errorf("excluded(%q) = %q, %v; want %q, %v", p, gotPat, got, wantPat, want)
				}
				if got {
					n++
				}
			}
		}
	}
	if n == 0 || n == len(parts)*len(parts)*len(parts) {
		t.Fatalf("%d names excluded: the test names are not varied enough", n)
	}
}
