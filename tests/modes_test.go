package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestTemplateSpecialBitsMatchDpkgSource: setuid, setgid and sticky bits
// in a template's source-template/ are kept, as dpkg-deb -x keeps them and
// dpkg-source -b stores them: the tarball equals dpkg-source's of the
// extracted tree, byte for byte, whether the template is read from the
// .deb or from that tree.
func TestTemplateSpecialBitsMatchDpkgSource(t *testing.T) {
	testutil.RequireTool(t, "xz")
	key, cert := newKey(t, "2048")
	root := filepath.Join(t.TempDir(), "root")
	testutil.Run(t, "", "dpkg-deb", "-R", testutil.DebianFixture(t, fwupdTemplate), root)
	d := filepath.Join(root, fwupdCodeDir, "source-template", "debian")
	for _, e := range []struct {
		name string
		mode os.FileMode
		dir  bool
	}{
		{"setuid", 0o755 | os.ModeSetuid, false},
		{"setgid", 0o755 | os.ModeSetgid, false},
		{"all-three", 0o700 | os.ModeSetuid | os.ModeSetgid | os.ModeSticky, false},
		{"sticky-dir", 0o777 | os.ModeSticky, true},
		{"setgid-dir", 0o775 | os.ModeSetgid, true},
	} {
		p := filepath.Join(d, e.name)
		if e.dir {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(p, "inside"), []byte("in "+e.name+"\n"), 0o644)
		} else {
			writeFile(t, p, []byte("#!/bin/sh\n# "+e.name+"\n"), 0o644)
		}
		if err := os.Chmod(p, e.mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	deb := filepath.Join(t.TempDir(), fwupdTemplate)
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-Zxz", "-b", root, deb)
	dir := filepath.Join(extract(t, deb), fwupdCodeDir)
	for _, name := range []string{"setuid", "all-three", "sticky-dir"} {
		if fi, err := os.Stat(filepath.Join(dir, "source-template/debian", name)); err != nil || fi.Mode()&(os.ModeSetuid|os.ModeSticky) == 0 {
			t.Fatalf("dpkg-deb -x gave debian/%s mode %v (%v): the test needs the bits extracted", name, fi.Mode(), err)
		}
	}
	matchDpkgSource(t, key, cert, dir, deb, func(t *testing.T, _, list string) {
		for _, want := range []string{"-rwsr-xr-x 0/0", "-rws--S--T 0/0", "drwxrwxrwt 0/0", "drwxrwsr-x 0/0"} {
			if !strings.Contains(list, want) {
				t.Errorf("tarball listing lacks %q:\n%s", want, list)
			}
		}
	})
}
