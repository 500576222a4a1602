package job

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

// templateDeb packs a code-signing directory as its template package.
func templateDeb(t *testing.T, dir string) string {
	t.Helper()
	code := "./usr/share/code-signing/" + filepath.Base(dir)
	es := []testutil.TarEntry{{Name: "./", Type: tar.TypeDir, Mode: 0o755}}
	for _, d := range []string{"./usr/", "./usr/share/", "./usr/share/code-signing/"} {
		es = append(es, testutil.TarEntry{Name: d, Type: tar.TypeDir, Mode: 0o755})
	}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := path.Join(code, filepath.ToSlash(rel))
		if fi.IsDir() {
			es = append(es, testutil.TarEntry{Name: name + "/", Type: tar.TypeDir, Mode: 0o755})
			return nil
		}
		b, err := os.ReadFile(p)
		es = append(es, testutil.TarEntry{Name: name, Type: tar.TypeReg, Mode: 0o644, Body: string(b)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "pool-signed-template_1_all.deb")
	deb := testutil.Deb(t, "Package: pool-signed-template\nVersion: 1\nArchitecture: all\nDescription: t\n", testutil.Tar(t, es...))
	if err := os.WriteFile(p, deb, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSourceErrorsNamed: an error about a file of source-template/ names
// the template and the file the same way whichever check finds it (the
// template's own, or the source package's: its fields, its changelog's
// date), in a directory and in a package.
func TestSourceErrorsNamed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, file, old, new, want string
	}{
		{"template check", "debian/control", "Maintainer:", "Maintainer", "is neither a field nor a continuation line"},
		{"source package check", "debian/control", "Architecture: amd64", "Architecture: amd64 any", "only allowed on its own"},
		{"changelog date", "debian/changelog", "Sat, 28 Nov 2026", "Wed, 31 Dec 1969", "out of the range a tarball's timestamps hold"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			files, listed := testModules(t, 1)
			dir := writeTestTemplate(t, "debhelper-compat (= 13)", listed...)
			p := filepath.Join(dir, "source-template", c.file)
			b, err := os.ReadFile(p)
			if err != nil || !strings.Contains(string(b), c.old) {
				t.Fatalf("%s lacks %q: %v", c.file, c.old, err)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(b), c.old, c.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			deb := templateDeb(t, dir)
			for _, tc := range []struct{ template, file, path string }{
				{dir, dir, "source-template/" + c.file},
				{deb, filepath.Base(deb), "usr/share/code-signing/pool-signed-template/source-template/" + c.file},
			} {
				_, _, err := prepare(context.Background(), GenerateOptions{Template: tc.template, Unsigned: []string{writeTestDeb(t, files...)}, DryRun: true})
				var ie *inputerr.Error
				if !errors.As(err, &ie) || ie.File != tc.file || ie.Path != tc.path || !strings.Contains(err.Error(), c.want) {
					t.Errorf("--template %s: %v; want an error naming file %s, path %s and saying %q", tc.template, err, tc.file, tc.path, c.want)
				}
			}
		})
	}
}

// TestVerifyDSCErrors: an empty .dsc is said to be empty, never a bare
// EOF, and a malformed one is reported on one line.
func TestVerifyDSCErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, dsc, want string }{
		{"empty", "", ": empty: a .dsc is a paragraph of fields"},
		{"only a comment", "# nothing\n", ": empty: a .dsc is a paragraph of fields"},
		{"bad line", "Format: 3.0 (native)\nno colon\n", `: Bad line: 'no colon\n' has no ':'`},
	} {
		p := filepath.Join(t.TempDir(), "x.dsc")
		if err := os.WriteFile(p, []byte(c.dsc), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(context.Background(), VerifyOptions{DSC: p, Unsigned: []string{writeTestDeb(t)}, Out: io.Discard})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("%s: %v; want %s%s", c.name, err, p, c.want)
		}
	}
}
