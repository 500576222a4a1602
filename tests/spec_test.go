package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
)

// files reads the regular files directly in dir, by name.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = b
		}
	}
	return out
}

// TestGenerateSpecMatchesDir: generate --template signing.yaml writes the
// bytes template build and generate --template DIR write, with and
// without SOURCE_DATE_EPOCH.
func TestGenerateSpecMatchesDir(t *testing.T) {
	key, cert := newKey(t, "2048")
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	for _, epoch := range []string{"", "1700000000"} {
		t.Run("epoch="+epoch, func(t *testing.T) {
			dir := t.TempDir()
			env := []string{"SOURCE_DATE_EPOCH=" + epoch}
			spec := filepath.Join(dir, "signing.yaml")
			writeFile(t, spec, []byte(fwupdYAML), 0o644)
			tmpl := filepath.Join(dir, "template")
			mustMksigned(t, "", env, "template", "build", spec, "--unsigned", unsigned, "--output", tmpl)
			viaDir, viaSpec := filepath.Join(dir, "dir"), filepath.Join(dir, "spec")
			mustMksigned(t, "", env, "generate", "--template", tmpl, "--unsigned", unsigned, "--key", key, "--cert", cert, "--output", viaDir)
			mustMksigned(t, "", env, "generate", "--template", spec, "--unsigned", unsigned, "--key", key, "--cert", cert, "--output", viaSpec)
			want := files(t, viaDir)
			if len(want) != 2 {
				t.Fatalf("generate --template DIR wrote %d files, want 2", len(want))
			}
			if diff := cmp.Diff(want, files(t, viaSpec)); diff != "" {
				t.Errorf("generate --template signing.yaml differs from template build + generate --template DIR (-dir +yaml):\n%s", diff)
			}
		})
	}
}

// TestSpecTemplateEverywhere: every command that takes --template takes
// signing.yaml (request, and generate with an audit log, which describe
// a template package by its hash); one naming a file the package lacks
// is an error naming its line, and nothing is written.
func TestSpecTemplateEverywhere(t *testing.T) {
	key, cert := newKey(t, "2048")
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	dir := t.TempDir()
	spec := filepath.Join(dir, "signing.yml")
	writeFile(t, spec, []byte(fwupdYAML), 0o644)
	mustMksigned(t, "", nil, "request", "--template", spec, "--unsigned", unsigned, "--output", filepath.Join(dir, "req"))
	mustMksigned(t, "", nil, "generate", "--template", spec, "--unsigned", unsigned, "--key", key, "--cert", cert,
		"--audit-log", filepath.Join(dir, "audit.log"), "--output", filepath.Join(dir, "out"))

	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, []byte(strings.Replace(fwupdYAML, "fwupdx64.efi\n", "missing.efi\n", 1)), 0o644)
	out := filepath.Join(dir, "bad-out")
	r := mksigned(t, "", nil, "generate", "--template", bad, "--unsigned", unsigned, "--key", key, "--cert", cert, "--output", out)
	if r.code != 1 || !strings.Contains(r.stderr, "holds no usr/libexec/fwupd/efi/missing.efi, which "+bad+" line 14 signs") {
		t.Errorf("exit %d, stderr %q; want 1 and the missing file with its line", r.code, r.stderr)
	}
	notExist(t, out)
}
