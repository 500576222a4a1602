package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// fwupdYAML signs Debian's real fwupd-unsigned the way fwupd's own
// template does: fwupdx64.efi.signed beside the original.
const fwupdYAML = `source: fwupd-efi-signed
maintainer: Jane Doe <jane@example.org>
section: admin
priority: optional
homepage: https://github.com/fwupd/fwupd-efi
description: |
  Tools to manage UEFI firmware updates (signed)
  The fwupd EFI application, signed for Secure Boot.
copyright: 2015 Richard Hughes <richard@hughsie.com>
license: LGPL-2.1+
packages:
  fwupd-unsigned:
    files:
      - path: usr/libexec/fwupd/efi/fwupdx64.efi
        sig-type: efi
    install: beside
`

// TestTemplateBuildFwupd goes the whole way: signing.yaml → template
// build → generate → dpkg-source -x → dpkg-buildpackage, and checks the
// built package's fwupdx64.efi.signed with sbverify.
func TestTemplateBuildFwupd(t *testing.T) {
	requireFwupdBuild(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "signing.yaml")
	writeFile(t, spec, []byte(fwupdYAML), 0o644)
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	tmpl := filepath.Join(dir, "template")
	mustMksigned(t, "", nil, "template", "build", spec, "--unsigned", unsigned, "--output", tmpl)

	// The same inputs give the same bytes.
	again := filepath.Join(dir, "again")
	mustMksigned(t, "", nil, "template", "build", spec, "--unsigned", unsigned, "--output", again)
	sameTree(t, again, tmpl)

	buildSignedFwupd(t, tmpl, unsigned)
}

// requireFwupdBuild skips (fails in CI) unless the tools and the
// installed fwupd-unsigned that building fwupd's signed package needs
// are there. The build reads the original from /, where Build-Depends
// installs it, so fwupd-unsigned 1:1.4-1 must be installed (.ci/run
// installs it, as for TestBuildFwupd).
func requireFwupdBuild(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"dpkg-source", "dpkg-buildpackage", "dh", "sbattach", "sbverify"} {
		testutil.RequireTool(t, tool)
	}
	if _, err := os.Stat("/" + fwupdEFI); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fwupd-unsigned 1:1.4-1 must be installed for this test (.ci/run installs it): %v", err)
		}
		t.Skipf("skipping: fwupd-unsigned is not installed (apt-get install fwupd-unsigned=1:1.4-1)")
	}
}

// buildSignedFwupd goes from a template of fwupdYAML (a code-signing
// directory or a template .deb) to the built fwupd-signed: generate →
// dpkg-source -x → dpkg-buildpackage, and checks its
// fwupdx64.efi.signed with sbverify.
func buildSignedFwupd(t *testing.T, tmpl, unsigned string) {
	t.Helper()
	sbverify := testutil.RequireTool(t, "sbverify")
	dir := t.TempDir()
	key, cert := newKey(t, "2048")
	out := filepath.Join(dir, "out")
	mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", unsigned, "--key", key, "--cert", cert, "--output", out)
	build := filepath.Join(dir, "build")
	if err := os.Mkdir(build, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(build, "src")
	testutil.Run(t, "", "dpkg-source", "-x", onlyFile(t, out, ".dsc"), src)
	testutil.Run(t, src, "dpkg-buildpackage", "-b", "-uc", "-us")
	built := extract(t, onlyFile(t, build, "fwupd-signed_1+1.4+1_amd64.deb"))
	testutil.Run(t, "", sbverify, "--cert", cert, filepath.Join(built, fwupdSignedEFI))

	// A signature by another key does not pass: the check can fail.
	_, other := newKey(t, "2048")
	if err := exec.Command(sbverify, "--cert", other, filepath.Join(built, fwupdSignedEFI)).Run(); err == nil {
		t.Errorf("sbverify --cert with another certificate passed, want a failure")
	}
}

// TestTemplateBuildFormat checks what template build writes for fwupd
// without building it: the fields Debian's pipeline depends on.
func TestTemplateBuildFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := filepath.Join(dir, "signing.yaml")
	writeFile(t, spec, []byte(fwupdYAML), 0o644)
	tmpl := filepath.Join(dir, "template")
	mustMksigned(t, "", []string{"SOURCE_DATE_EPOCH=1700000000"}, "template", "build", spec,
		"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--output", tmpl)
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(tmpl, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct{ file, want string }{
		{"files.json", `"file": "usr/libexec/fwupd/efi/fwupdx64.efi"`},
		{"source-template/debian/control", " fwupd-unsigned (= 1:1.4-1)\n"},
		{"source-template/debian/control", "Built-Using: fwupd-efi (= 1:1.4-1)\n"},
		{"source-template/debian/control", "Package: fwupd-signed\nArchitecture: amd64\n"},
		// fwupd-unsigned has an epoch: it stays in front.
		{"source-template/debian/changelog", "fwupd-efi-signed (1:1+1.4+1) unstable; urgency=medium\n"},
		{"source-template/debian/changelog", "  Tue, 14 Nov 2023 22:13:20 +0000\n"},
		{"source-template/debian/source/format", "3.0 (native)\n"},
		{"source-template/debian/rules", "sbattach --attach debian/signatures/fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig debian/fwupd-signed/usr/libexec/fwupd/efi/fwupdx64.efi.signed\n"},
	} {
		if got := read(c.file); !strings.Contains(got, c.want) {
			t.Errorf("%s lacks %q:\n%s", c.file, c.want, got)
		}
	}
	// Without SOURCE_DATE_EPOCH: the newest mtime in fwupd-unsigned's data.
	tmpl2 := filepath.Join(dir, "template2")
	mustMksigned(t, "", []string{"SOURCE_DATE_EPOCH="}, "template", "build", spec,
		"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--output", tmpl2)
	b, err := os.ReadFile(filepath.Join(tmpl2, "source-template/debian/changelog"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "  Fri, 27 Jan 2023 15:15:57 +0000\n"; !strings.Contains(string(b), want) {
		t.Errorf("changelog lacks %q:\n%s", want, b)
	}
	// An existing output directory is refused.
	r := mksigned(t, "", nil, "template", "build", spec, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--output", tmpl)
	if r.code != 1 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("template build into an existing directory: exit %d, stderr %q; want 1 and \"exists\"", r.code, r.stderr)
	}
}

// TestTemplateBuildBad checks that bad signing.yaml, or a package that
// does not hold what it lists, exits 1 with the place named and writes
// nothing.
func TestTemplateBuildBad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, old, new string
		want           string
	}{
		{"unknown key", "    install: beside\n", "    install: beside\n    arch: amd64\n",
			"signing.yaml: line 17: packages.fwupd-unsigned.arch: unknown key"},
		{"bad sig-type", "sig-type: efi", "sig-type: pecoff",
			"signing.yaml: line 15: packages.fwupd-unsigned.files[0].sig-type: unknown sig_type"},
		{"file not in the package", "fwupdx64.efi", "fwupdaa64.efi",
			"holds no usr/libexec/fwupd/efi/fwupdaa64.efi, which signing.yaml line 14 signs"},
		{"file of the wrong kind", "usr/libexec/fwupd/efi/fwupdx64.efi", "usr/share/doc/fwupd-unsigned/copyright",
			"usr/share/doc/fwupd-unsigned/copyright: signed as efi on signing.yaml line 14, but offset 0x0: not a PE/COFF image"},
		{"a directory", "usr/libexec/fwupd/efi/fwupdx64.efi", "usr/libexec/fwupd/efi",
			"usr/libexec/fwupd/efi: is not a regular file, but signing.yaml line 14 signs it"},
		{"another package", "  fwupd-unsigned:", "  shim-unsigned:",
			"package fwupd-unsigned is not named in signing.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := strings.Replace(fwupdYAML, tc.old, tc.new, 1)
			if in == fwupdYAML {
				t.Fatalf("the case changes nothing: %q not in the YAML", tc.old)
			}
			writeFile(t, filepath.Join(dir, "signing.yaml"), []byte(in), 0o644)
			r := mksigned(t, dir, nil, "template", "build", "signing.yaml",
				"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--output", "out")
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.HasPrefix(r.stderr, "mksigned: ") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", r.code, r.stderr, tc.want)
			}
			if got := testutil.ListDir(t, dir); len(got) != 1 {
				t.Errorf("%s holds %q, want only signing.yaml: nothing written", dir, got)
			}
		})
	}
}
