package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// fwupdTemplateDir copies Debian's fwupd code-signing directory so a test
// can break it.
func fwupdTemplateDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fwupd-amd64-signed-template")
	copyDir(t, filepath.Join(extract(t, testutil.DebianFixture(t, fwupdTemplate)), fwupdCodeDir), dir)
	return dir
}

func withFilesJSON(t *testing.T, file, sigType string) string {
	t.Helper()
	dir := fwupdTemplateDir(t)
	writeFile(t, filepath.Join(dir, "files.json"), []byte(`{"packages": {"fwupd-unsigned": {"trusted_certs": [],
  "files": [{"sig_type": "`+sigType+`", "file": "`+file+`"}]}}}`), 0o644)
	return dir
}

// withChangelogDate is fwupd's code-signing directory with date as the
// top changelog entry's.
func withChangelogDate(t *testing.T, date string) string {
	t.Helper()
	dir := fwupdTemplateDir(t)
	p := filepath.Join(dir, "source-template/debian/changelog")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const top = "Fri, 27 Jan 2023 09:15:57 -0600"
	if !strings.Contains(string(b), top) {
		t.Fatalf("%s lacks the date %q", p, top)
	}
	writeFile(t, p, []byte(strings.Replace(string(b), top, date, 1)), 0o644)
	return dir
}

// repack rebuilds a .deb after edit changes its unpacked tree (dpkg-deb -R, -b).
func repack(t *testing.T, deb string, edit func(root string), compression string) string {
	t.Helper()
	testutil.RequireTool(t, "dpkg-deb")
	root := filepath.Join(t.TempDir(), "root")
	testutil.Run(t, "", "dpkg-deb", "-R", deb, root)
	if edit != nil {
		edit(root)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(deb))
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-Z"+compression, "-b", root, out)
	return out
}

func corrupt(t *testing.T, src string, f func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(src))
	writeFile(t, p, f(b), 0o644)
	return p
}

// TestBadInput runs generate on broken inputs: each must fail with exit 1,
// a message naming what is wrong, and leave no output directory and no
// temporary files behind.
func TestBadInput(t *testing.T) {
	key, cert := newKey(t, "2048")
	_, otherCert := newKey(t, "2048")
	tmpl := testutil.DebianFixture(t, fwupdTemplate)
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	signWith := []string{"--key", key, "--cert", cert}

	cases := []struct {
		name     string
		template string
		unsigned []string
		extra    []string
		want     []string // substrings of stderr
	}{
		{"template not an ar archive", corrupt(t, tmpl, func([]byte) []byte { return []byte("hello, this is text\n") }), []string{unsigned}, signWith,
			[]string{fwupdTemplate, "offset 0x0"}},
		{"unsigned not an ar archive (PE file)", tmpl, []string{corrupt(t, unsigned, func([]byte) []byte { return []byte("MZ\x90\x00 not a deb") })}, signWith,
			[]string{fwupdUnsigned}},
		{"truncated deb", tmpl, []string{corrupt(t, unsigned, func(b []byte) []byte { return b[:len(b)/2] })}, signWith,
			[]string{fwupdUnsigned, "data.tar.xz"}},
		{"corrupt data.tar.xz", tmpl, []string{corrupt(t, unsigned, func(b []byte) []byte {
			for i := len(b) / 2; i < len(b)/2+64; i++ {
				b[i] ^= 0x5a
			}
			return b
		})}, signWith, []string{fwupdUnsigned, "data.tar.xz"}},
		{"files.json with ..", withFilesJSON(t, "usr/../../etc/passwd", "efi"), []string{unsigned}, signWith,
			[]string{"files.json", "packages.fwupd-unsigned.files[0].file", `contains ".."`}},
		{"files.json path starting with ../", withFilesJSON(t, "../etc/shadow", "efi"), []string{unsigned}, signWith,
			[]string{"files.json", "packages.fwupd-unsigned.files[0].file", `"../etc/shadow" contains ".."`}},
		{"files.json with absolute path", withFilesJSON(t, "/usr/libexec/fwupd/efi/fwupdx64.efi", "efi"), []string{unsigned}, signWith,
			[]string{"files.json", "is absolute"}},
		{"unknown sig_type", withFilesJSON(t, fwupdEFI, "openpgp"), []string{unsigned}, signWith,
			[]string{"files.json", `unknown sig_type "openpgp"`}},
		{"listed file missing", withFilesJSON(t, "usr/libexec/fwupd/efi/fwupdaa64.efi", "efi"), []string{unsigned}, signWith,
			[]string{fwupdUnsigned, "usr/libexec/fwupd/efi/fwupdaa64.efi", "not in the package"}},
		{"listed file is a symlink", tmpl, []string{repack(t, unsigned, func(root string) {
			p := filepath.Join(root, fwupdEFI)
			os.Rename(p, p+".real")
			os.Symlink("fwupdx64.efi.real", p)
		}, "xz")}, signWith, []string{fwupdUnsigned, fwupdEFI, "symbolic link"}},
		{"listed file is not PE", withFilesJSON(t, "usr/share/doc/fwupd-unsigned/copyright", "efi"), []string{unsigned}, signWith,
			[]string{fwupdUnsigned, "usr/share/doc/fwupd-unsigned/copyright", "efi"}},
		{"listed module is not ELF", withFilesJSON(t, "usr/share/doc/fwupd-unsigned/copyright", "linux-module"), []string{unsigned}, signWith,
			[]string{fwupdUnsigned, "data.tar.xz", "usr/share/doc/fwupd-unsigned/copyright", "not an ELF file"}},
		{"listed module is a PE image", withFilesJSON(t, fwupdEFI, "linux-module"), []string{unsigned}, signWith,
			[]string{fwupdUnsigned, fwupdEFI, "not an ELF file"}},
		{"unsigned package not given", multiTemplate(t), []string{unsigned}, signWith,
			[]string{"shim-unsigned", "--unsigned"}},
		{"package not named in files.json", tmpl, []string{unsigned, testutil.DebianFixture(t, shimUnsigned)}, signWith,
			[]string{"shim-unsigned", "not named"}},
		{"version mismatch", tmpl, []string{repack(t, unsigned, func(root string) {
			p := filepath.Join(root, "DEBIAN/control")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), "Version: 1:1.4-1", "Version: 1:1.4-2", 1)), 0o644)
		}, "xz")}, signWith, []string{"fwupd-unsigned 1:1.4-2", "1:1.4-2", "Build-Depends"}},
		// A tar header's mtime holds 2242-03-16 12:56:31 at most: later
		// panicked while writing; 1960 was reported as an mtime.
		{"changelog date after 2242", withChangelogDate(t, "Sat, 17 Mar 2242 09:15:57 +0000"), []string{unsigned}, signWith,
			[]string{"fwupd-amd64-signed-template: source-template/debian/changelog: Date: the top entry's date", "is out of the range a tarball's timestamps hold"}},
		{"changelog date before 1970", withChangelogDate(t, "Wed, 27 Jan 1960 09:15:57 +0000"), []string{unsigned}, signWith,
			[]string{"fwupd-amd64-signed-template: source-template/debian/changelog: Date: the top entry's date", "is out of the range a tarball's timestamps hold"}},
		{"key and cert do not match", tmpl, []string{unsigned}, []string{"--key", key, "--cert", otherCert},
			[]string{"does not match"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			args := []string{"generate", "--template", c.template, "--output", out}
			for _, u := range c.unsigned {
				args = append(args, "--unsigned", u)
			}
			r := mksigned(t, "", nil, append(args, c.extra...)...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1; stderr: %s", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "mksigned: ") {
				t.Errorf("stderr %q does not start with \"mksigned: \"", r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not mention %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stderr, "PRIVATE KEY") {
				t.Errorf("stderr shows key material: %q", r.stderr)
			}
			ents, _ := os.ReadDir(parent)
			if len(ents) != 0 {
				t.Errorf("left behind in the output's parent: %v", ents)
			}
		})
	}
}

// TestSignaturesMismatch gives generate --signatures a signature made for
// another file: it must name the file and write nothing.
func TestSignaturesMismatch(t *testing.T) {
	c := debianCases[1]
	sigs := debianSignatures(t, c)
	swapShimSignatures(t, sigs)
	parent := t.TempDir()
	r := mksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, c.template),
		"--unsigned", testutil.DebianFixture(t, c.unsigned), "--signatures", sigs, "--output", filepath.Join(parent, "out"))
	if r.code != 1 || !strings.Contains(r.stderr, "fbx64.efi.sig does not match shim-unsigned usr/lib/shim/fbx64.efi") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the mismatched file", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestCompressions reads the unsigned package recompressed with every
// compression dpkg-deb offers.
func TestCompressions(t *testing.T) {
	for _, z := range []string{"gzip", "zstd", "none", "xz"} {
		t.Run(z, func(t *testing.T) {
			deb := repack(t, testutil.DebianFixture(t, fwupdUnsigned), nil, z)
			out := mustMksigned(t, "", nil, "generate", "--dry-run", "--template", testutil.DebianFixture(t, fwupdTemplate), "--unsigned", deb)
			if !strings.Contains(out, "sign efi") || !strings.Contains(out, fwupdEFI+" (61833 bytes") {
				t.Errorf("plan:\n%s", out)
			}
		})
	}
}

// TestModuleNotSignable: a listed module that is already signed (Debian's
// dummy.ko as shipped, build signature and all) or is an ELF file but not
// a relocatable object is refused, naming the package, member and path,
// whether signing, checking --signatures or planning a dry run. Modules
// are checked as they stream past (never held whole), so this covers that
// path's checks.
func TestModuleNotSignable(t *testing.T) {
	key, cert := newKey(t, "2048")
	signed, err := os.ReadFile(testutil.DebianFixture(t, "dummy.ko"))
	if err != nil {
		t.Fatal(err)
	}
	notRel := unsignedModule(t)
	notRel[16] = 2 // e_type ET_EXEC
	tmpl := hardTemplate(t, hardModule+":linux-module")
	sigs := t.TempDir()
	writeFile(t, filepath.Join(sigs, hardPkg, hardModule+".sig"), []byte{0x30, 0x03, 0x02, 0x01, 0x00}, 0o644)
	for _, c := range []struct {
		name   string
		module []byte
		want   string
	}{
		{"already signed", signed, "module already carries a signature"},
		{"not relocatable", notRel, "an ELF file of type 2, not a relocatable object (ET_REL, 1) as a kernel module is"},
		{"empty", nil, "not an ELF file"},
	} {
		deb := hardDeb(t, ".xz", compressed(t, []hardFile{{name: hardModule, size: -1, data: c.module}}, "xz"))
		for mode, extra := range map[string][]string{
			"sign":       {"--key", key, "--cert", cert},
			"signatures": {"--signatures", sigs, "--cert", cert},
			"dry run":    {"--dry-run"},
		} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				parent := t.TempDir()
				args := append([]string{"generate", "--template", tmpl, "--unsigned", deb, "--output", filepath.Join(parent, "out")}, extra...)
				r := mksigned(t, "", nil, args...)
				want := filepath.Base(deb) + ": data.tar.xz: " + hardModule + ": sig_type linux-module: " + c.want
				if r.code != 1 || !strings.Contains(r.stderr, want) {
					t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
				}
				if ents, _ := os.ReadDir(parent); len(ents) != 0 {
					t.Errorf("left behind in the output's parent: %v", ents)
				}
			})
		}
	}
}
