package pkggen

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// loadTree reads the directory dir into entries, with modes and mtimes
// from disk. The root itself is not included.
func loadTree(t testing.TB, dir string) []Entry {
	t.Helper()
	var tree []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e := Entry{Name: filepath.ToSlash(rel), Mode: fi.Mode(), ModTime: fi.ModTime()}
		switch {
		case fi.Mode().IsRegular():
			if e.Data, err = os.ReadFile(p); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.Data = []byte(target)
		}
		tree = append(tree, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// materialize writes tree into the new directory dir, as WriteTar sees it:
// directories the tree does not list (and the root, unless listed) get
// mode 0755 and mtime epoch.
func materialize(t testing.TB, dir string, tree []Entry, epoch time.Time) {
	t.Helper()
	root, err := buildTree(tree, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var nodes []*node
	var walk func(n *node)
	walk = func(n *node) {
		nodes = append(nodes, n)
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(root)
	for _, n := range nodes {
		p := filepath.Join(dir, filepath.FromSlash(n.path))
		e := n.entry
		switch e.Mode.Type() {
		case fs.ModeDir:
			if n.path != "." {
				if err := os.Mkdir(p, 0o700); err != nil {
					t.Fatal(err)
				}
			}
		case fs.ModeSymlink:
			if err := os.Symlink(string(e.Data), p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, e.Data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Modes and times last, deepest first, so that creating entries does
	// not change their directory's mtime afterwards.
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		p := filepath.Join(dir, filepath.FromSlash(n.path))
		e := n.entry
		if e.Mode.Type() == fs.ModeSymlink {
			testutil.Run(t, "", "touch", "-h", "-d", "@"+strconv.FormatInt(e.ModTime.Unix(), 10)+"."+frac(e.ModTime), p)
			continue
		}
		if err := os.Chmod(p, e.Mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, e.ModTime, e.ModTime); err != nil {
			t.Fatal(err)
		}
	}
}

func frac(tm time.Time) string { return strconv.Itoa(1e9 + tm.Nanosecond())[1:] }

// dpkgBuild is what dpkg-source -b made of a tree.
type dpkgBuild struct {
	dir     string // where dpkg-source ran
	tar     []byte // xz -dc of its tarball
	xz      []byte // its tarball
	xzName  string
	dsc     []byte
	dscName string
}

// runDpkgSource copies tree into <tmp>/<dirName>, with implicit directories
// at epoch, and runs dpkg-source -b on it with SOURCE_DATE_EPOCH set to sde
// (unset when sde is "").
func runDpkgSource(t testing.TB, tree []Entry, dirName, sde string, epoch time.Time) *dpkgBuild {
	t.Helper()
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	xzTool := testutil.RequireTool(t, "xz")
	work := t.TempDir()
	materialize(t, filepath.Join(work, dirName), tree, epoch)
	cmd := exec.Command(dpkgSource, "-b", dirName)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "HOME=" + work}
	if sde != "" {
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH="+sde)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-source -b: %v\n%s", err, out)
	}
	b := &dpkgBuild{dir: work}
	ents, err := os.ReadDir(work)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(work, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".tar.xz"):
			b.xzName = e.Name()
			b.xz = readFile(t, p)
			b.tar = testutil.Run(t, "", xzTool, "-dc", p)
		case strings.HasSuffix(e.Name(), ".dsc"):
			b.dscName = e.Name()
			b.dsc = readFile(t, p)
		}
	}
	if b.xz == nil || b.dsc == nil {
		t.Fatalf("dpkg-source -b left no .dsc or .tar.xz in %s", work)
	}
	return b
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// templateTree extracts the source-template of a signing template package
// fixture (testdata/debian/<pkg>_<version>_amd64.deb).
func templateTree(t testing.TB, fixture string) []Entry {
	t.Helper()
	deb := testutil.DebianFixture(t, fixture)
	dpkgDeb := testutil.RequireTool(t, "dpkg-deb")
	dir := t.TempDir()
	testutil.Run(t, "", dpkgDeb, "-x", deb, dir)
	pkg := fixture[:strings.IndexByte(fixture, '_')]
	return loadTree(t, filepath.Join(dir, "usr/share/code-signing", pkg, "source-template"))
}

// basicTree is a small valid "3.0 (native)" source tree named name.
func basicTree(name, control string, mtime time.Time) []Entry {
	if control == "" {
		control = "Source: " + name + "\nSection: admin\nPriority: optional\nMaintainer: A <a@example.org>\nStandards-Version: 4.6.2\nBuild-Depends: debhelper-compat (= 13)\n\nPackage: " + name + "\nArchitecture: amd64\nDescription: test\n test package\n"
	}
	return []Entry{
		{Name: "debian", Mode: fs.ModeDir | 0o755, ModTime: mtime},
		{Name: "debian/changelog", Mode: 0o644, ModTime: mtime, Data: []byte(name + " (1:2.0+1) unstable; urgency=medium\n\n  * Test.\n\n -- A <a@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n")},
		{Name: "debian/control", Mode: 0o644, ModTime: mtime, Data: []byte(control)},
		{Name: "debian/rules", Mode: 0o755, ModTime: mtime, Data: []byte("#!/usr/bin/make -f\n%:\n\tdh $@\n")},
		{Name: "debian/source", Mode: fs.ModeDir | 0o755, ModTime: mtime},
		{Name: "debian/source/format", Mode: 0o644, ModTime: mtime, Data: []byte("3.0 (native)\n")},
	}
}

// changelogTime is the date in basicTree's changelog.
var changelogTime = time.Unix(1700000000, 0)

func shuffled(tree []Entry, seed uint64) []Entry {
	c := append([]Entry(nil), tree...)
	r := rand.New(rand.NewPCG(seed, seed))
	r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

// firstDiff describes where two byte slices first differ.
func firstDiff(a, b []byte) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return "offset " + strconv.Itoa(i) + " (block " + strconv.Itoa(i/512) + ")"
		}
	}
	return "lengths " + strconv.Itoa(len(a)) + " and " + strconv.Itoa(len(b))
}

func ourTar(t testing.TB, prefix string, tree []Entry, epoch time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTar(&buf, prefix, tree, epoch); err != nil {
		t.Fatalf("WriteTar: %v", err)
	}
	return buf.Bytes()
}
