package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
)

func TestWriteDir(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "sigs")
	files := map[string][]byte{"p1/usr/lib/a.sig": []byte("a"), "p1/usr/lib/b.sig": []byte("b"), "p2/c.sig": []byte("c")}
	if err := WriteDir(dir, files); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		if err != nil || string(got) != string(data) {
			t.Errorf("%s: %q, %v; want %q", name, got, err, data)
		}
	}
	for p, want := range map[string]os.FileMode{dir: 0o755, filepath.Join(dir, "p1/usr"): 0o755} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o700 != 0o700 || fi.Mode().Perm()&^want != 0 {
			t.Errorf("%s: mode %v (%v), want %v or less by the umask", p, fi.Mode(), err, want)
		}
	}
	if err := WriteDir(dir, files); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("WriteDir of an existing directory: error %v", err)
	}
	for _, bad := range []string{"../x.sig", "/etc/x.sig", "p1/./a.sig", ""} {
		other := filepath.Join(parent, "other")
		if err := WriteDir(other, map[string][]byte{"p1/a.sig": []byte("a"), bad: []byte("x")}); err == nil {
			t.Errorf("WriteDir with %q: no error", bad)
		}
		if d := cmp.Diff([]string{"sigs"}, testutil.ListDir(t, parent)); d != "" {
			t.Errorf("WriteDir with %q left (-want +got):\n%s", bad, d)
		}
	}
}
