package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
)

// fwupdTemplateDeb is what template build --deb names fwupdYAML's
// package: <source>-template, fwupd-unsigned's version without its epoch
// and its architecture.
const fwupdTemplateDeb = "fwupd-efi-signed-template_1.4-1_amd64.deb"

// TestTemplateBuildDeb checks the template .deb with Debian's tools
// (dpkg-deb, dpkg, lintian), that it holds what --output writes, that two
// runs give the same bytes, and that generate takes it the whole way to
// a signed fwupdx64.efi.
func TestTemplateBuildDeb(t *testing.T) {
	requireFwupdBuild(t)
	testutil.RequireTool(t, "dpkg-deb")
	testutil.RequireTool(t, "dpkg")
	lintian := testutil.RequireTool(t, "lintian")
	dir := t.TempDir()
	spec := filepath.Join(dir, "signing.yaml")
	writeFile(t, spec, []byte(fwupdYAML), 0o644)
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	debs1, debs2 := filepath.Join(dir, "debs1"), filepath.Join(dir, "debs2")
	for _, d := range []string{debs1, debs2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := filepath.Join(dir, "template")
	// Dated by the packages' newest mtime, as the changelog is.
	env := []string{"SOURCE_DATE_EPOCH="}
	got := mustMksigned(t, "", env, "template", "build", spec, "--unsigned", unsigned, "--output", tmpl, "--deb", debs1)
	if want := "wrote " + filepath.Join(debs1, fwupdTemplateDeb) + "\n"; !strings.Contains(got, want) {
		t.Errorf("stdout %q lacks %q", got, want)
	}
	mustMksigned(t, "", env, "template", "build", spec, "--unsigned", unsigned, "--deb", debs2)
	deb1 := filepath.Join(debs1, fwupdTemplateDeb)
	b1, err := os.ReadFile(deb1)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := os.ReadFile(filepath.Join(debs2, fwupdTemplateDeb))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Errorf("two runs of template build --deb gave different bytes")
	}
	if got := testutil.ListDir(t, debs2); len(got) != 1 {
		t.Errorf("--deb alone wrote %q, want only the .deb", got)
	}

	testutil.Run(t, "", "dpkg-deb", "--info", deb1)
	fields := string(testutil.Run(t, "", "dpkg-deb", "--field", deb1, "Package", "Source", "Version", "Architecture", "Depends"))
	wantFields := "Package: fwupd-efi-signed-template\nSource: fwupd-efi\nVersion: 1:1.4-1\nArchitecture: amd64\nDepends: make | build-essential | dpkg-dev\n"
	if diff := cmp.Diff(wantFields, fields); diff != "" {
		t.Errorf("dpkg-deb --field (-want +got):\n%s", diff)
	}
	list := string(testutil.Run(t, "", "dpkg", "--contents", deb1))
	rules, err := os.Stat(filepath.Join(tmpl, "source-template/debian/rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"drwxr-xr-x root/root         0 2023-01-27 15:15 ./\n",
		fmt.Sprintf("-rwxr-xr-x root/root %9d 2023-01-27 15:15 ./usr/share/code-signing/fwupd-efi-signed-template/source-template/debian/rules\n", rules.Size()),
		" 2023-01-27 15:15 ./usr/share/doc/fwupd-efi-signed-template/copyright\n",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("dpkg --contents lacks %q:\n%s", want, list)
		}
	}
	// It installs what --output wrote, with debian/rules executable.
	x := extract(t, deb1)
	code := filepath.Join(x, "usr/share/code-signing/fwupd-efi-signed-template")
	if fi, err := os.Stat(filepath.Join(code, "source-template/debian/rules")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("debian/rules: %v, %v; want mode 0755", fi, err)
	}
	if err := os.Chmod(filepath.Join(code, "source-template/debian/rules"), 0o644); err != nil {
		t.Fatal(err)
	}
	sameTree(t, code, tmpl)
	testutil.Run(t, x, "md5sum", "--check", "--strict", "--quiet", writeControl(t, deb1, "md5sums"))

	// lintian reports no error; it must have run (the warning every
	// first upload without a bug closed carries).
	lint := exec.Command(lintian, "--fail-on", "none", "--tag-display-limit", "0", "-I", deb1)
	lint.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := lint.Output()
	if err != nil {
		t.Fatalf("lintian %s: %v\n%s", deb1, err, out)
	}
	rep := string(out)
	for _, l := range strings.Split(rep, "\n") {
		if strings.HasPrefix(l, "E: ") {
			t.Errorf("lintian: %s", l)
		}
	}
	if !strings.Contains(rep, "initial-upload-closes-no-bugs") {
		t.Errorf("lintian did not report initial-upload-closes-no-bugs; it said:\n%s", rep)
	}

	buildSignedFwupd(t, deb1, unsigned)
}

// writeControl extracts the control member file of deb with dpkg-deb -e
// and returns its path.
func writeControl(t *testing.T, deb, file string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "DEBIAN")
	testutil.Run(t, "", "dpkg-deb", "-e", deb, dir)
	return filepath.Join(dir, file)
}

// TestTemplateBuildDebBad: --deb writes nothing, and leaves what is there,
// when the .deb or the --output directory exists or the directory is
// missing.
func TestTemplateBuildDebBad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := filepath.Join(dir, "signing.yaml")
	writeFile(t, spec, []byte(fwupdYAML), 0o644)
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	debs := filepath.Join(dir, "debs")
	writeFile(t, filepath.Join(debs, fwupdTemplateDeb), []byte("old"), 0o644)
	exists := filepath.Join(dir, "exists")
	if err := os.Mkdir(exists, 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"deb exists", []string{"--deb", debs, "--output", filepath.Join(dir, "new")}, fwupdTemplateDeb + ": file already exists"},
		{"output exists", []string{"--deb", empty, "--output", exists}, "exists: give the name of a directory to make"},
		{"no such directory", []string{"--deb", filepath.Join(dir, "missing")}, "no such file or directory"},
	} {
		r := mksigned(t, "", nil, append([]string{"template", "build", spec, "--unsigned", unsigned}, c.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", c.name, r.code, r.stderr, c.want)
		}
	}
	if got := testutil.ListDir(t, dir); strings.Join(got, " ") != "debs empty exists signing.yaml" {
		t.Errorf("%s holds %q after the failures, want only what was there", dir, got)
	}
	for _, d := range []string{empty, exists} {
		if got := testutil.ListDir(t, d); len(got) != 0 {
			t.Errorf("%s holds %q, want nothing", d, got)
		}
	}
	if b, err := os.ReadFile(filepath.Join(debs, fwupdTemplateDeb)); err != nil || string(b) != "old" {
		t.Errorf("existing .deb: %q, %v; want it left as %q", b, err, "old")
	}
}
