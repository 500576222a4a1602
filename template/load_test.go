package template

import (
	"archive/tar"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// templateDeb writes a template package holding testEntries() under
// /usr/share/code-signing/t/, after the entries before and followed by
// those after, and returns its path.
func linkTemplateDeb(t *testing.T, before, after []testutil.TarEntry) string {
	t.Helper()
	es := append([]testutil.TarEntry{{Name: "./", Type: tar.TypeDir, Mode: 0o755}}, before...)
	given := map[string]bool{}
	for _, e := range before {
		given[e.Name] = true
	}
	for _, d := range []string{"usr", "usr/share", "usr/share/code-signing", "usr/share/code-signing/t"} {
		if !given["./"+d] { // before may give it as something else
			es = append(es, testutil.TarEntry{Name: "./" + d + "/", Type: tar.TypeDir, Mode: 0o755})
		}
	}
	for _, e := range testEntries() {
		te := testutil.TarEntry{Name: "./usr/share/code-signing/t/" + e.Name, Mode: int64(e.Mode.Perm()), Body: string(e.Data), Type: tar.TypeReg}
		if e.Mode.IsDir() {
			te.Type, te.Name, te.Body = tar.TypeDir, te.Name+"/", ""
		}
		es = append(es, te)
	}
	es = append(es, after...)
	p := filepath.Join(t.TempDir(), "t.deb")
	deb := testutil.Deb(t, "Package: t-signed-template\nVersion: 1\nArchitecture: all\nDescription: t\n", testutil.Tar(t, es...))
	if err := os.WriteFile(p, deb, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDebLinks(t *testing.T) {
	t.Parallel()
	const st = "./usr/share/code-signing/t/source-template/debian/"
	tp, err := LoadDeb(linkTemplateDeb(t, nil, []testutil.TarEntry{
		{Name: st + "mips/", Type: tar.TypeDir, Mode: 0o755},
		{Name: st + "mips64", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "mips"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if e := tp.file("debian/mips64"); e == nil || e.Mode != fs.ModeSymlink|0o777 || string(e.Data) != "mips" {
		t.Errorf("debian/mips64 = %+v, want a link to mips", e)
	}

	for _, tc := range []struct {
		name          string
		before, after []testutil.TarEntry
		want          string
	}{
		// dpkg-deb -x would put the whole template into /tmp.
		{"template below a link", []testutil.TarEntry{{Name: "./usr/share", Type: tar.TypeSymlink, Linkname: "/tmp"}}, nil,
			`data.tar: usr/share/code-signing: offset 0x600: path appears twice in the archive: it lies below usr/share, a symbolic link to "/tmp"`},
		{"hard link", nil, []testutil.TarEntry{{Name: st + "rules2", Type: tar.TypeLink, Linkname: st + "rules"}},
			`source-template/debian/rules2: is a hard link to "usr/share/code-signing/t/source-template/debian/rules"`},
		{"hard link from outside", nil, []testutil.TarEntry{{Name: st + "copyright2", Type: tar.TypeLink, Linkname: "./usr/share/doc/x"}},
			`is a hard link to "usr/share/doc/x"`},
		{"fifo", nil, []testutil.TarEntry{{Name: st + "pipe", Type: tar.TypeFifo, Mode: 0o644}},
			`source-template/debian/pipe: is a special file (tar type '6')`},
		{"files.json a link", nil, []testutil.TarEntry{{Name: "./usr/share/code-signing/t/files2.json", Type: tar.TypeSymlink, Linkname: "files.json"}},
			"files2.json: is a symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadDeb(linkTemplateDeb(t, tc.before, tc.after))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestLoadDirLinks: a code-signing directory is read with lstat: links are
// kept as links, never followed, and checked like a package's.
// writeEntries writes entries (regular files and directories) below dir,
// which it makes.
func writeEntries(t *testing.T, dir string, entries []Entry) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name)
		var err error
		if e.Mode.IsDir() {
			err = os.MkdirAll(p, 0o755)
		} else {
			err = os.WriteFile(p, e.Data, e.Mode.Perm())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadDirLinks(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "t")
	writeEntries(t, dir, testEntries())
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("rules", filepath.Join(dir, "source-template/debian/rules.link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "source-template/debian/outside")); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir)
	if want := `source-template/debian/outside: symbolic link leads outside source-template/: its target "` + outside + `" is absolute`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	if err := os.Remove(filepath.Join(dir, "source-template/debian/outside")); err != nil {
		t.Fatal(err)
	}
	tp, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e := tp.file("debian/rules.link"); e == nil || e.Mode.Type() != fs.ModeSymlink || string(e.Data) != "rules" {
		t.Errorf("debian/rules.link = %+v, want a link to rules", e)
	}

	// Hard links: two names of one file inside source-template/ are
	// refused; a file that has another name outside it is just a file.
	dir = filepath.Join(t.TempDir(), "t")
	writeEntries(t, dir, testEntries())
	if err := os.Link(filepath.Join(dir, "source-template/debian/copyright"), filepath.Join(outside, "copyright")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err != nil {
		t.Errorf("a file with a second name outside the tree: %v", err)
	}
	if err := os.Link(filepath.Join(dir, "source-template/debian/copyright"), filepath.Join(dir, "source-template/debian/copyright2")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), `source-template/debian/copyright2: is a hard link to "source-template/debian/copyright"`) {
		t.Errorf("got %v, want the hard link refused", err)
	}
}
