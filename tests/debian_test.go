package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// debianCase is one of Debian's real signing templates with its unsigned
// package and the signed package Debian built from its own signatures.
type debianCase struct {
	name, template, codeDir, unsigned, unsignedPkg, signed string
	files                                                  []string // signed files, relative to the unsigned package
}

var debianCases = []debianCase{
	{"fwupd", fwupdTemplate, fwupdCodeDir, fwupdUnsigned, "fwupd-unsigned", fwupdSigned, []string{fwupdEFI}},
	{"shim-helpers", shimTemplate, shimCodeDir, shimUnsigned, "shim-unsigned", shimSigned, []string{"usr/lib/shim/fbx64.efi", "usr/lib/shim/mmx64.efi"}},
}

// debianSignatures recovers Debian's own detached signatures from its
// signed binary package with sbattach --detach, laid out as
// <package>/<path>.sig for generate --signatures.
func debianSignatures(t *testing.T, c debianCase) string {
	t.Helper()
	sbattach := testutil.RequireTool(t, "sbattach")
	signed := extract(t, testutil.DebianFixture(t, c.signed))
	sigs := t.TempDir()
	for _, f := range c.files {
		var src string
		filepath.WalkDir(signed, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == filepath.Base(f)+".signed" {
				src = p
			}
			return nil
		})
		if src == "" {
			t.Fatalf("%s: no %s.signed", c.signed, filepath.Base(f))
		}
		dst := filepath.Join(sigs, c.unsignedPkg, f+".sig")
		os.MkdirAll(filepath.Dir(dst), 0o755)
		testutil.Run(t, "", sbattach, "--detach", dst, src)
	}
	return sigs
}

// TestDebianSignaturesRoundTrip takes Debian's own signatures, builds the
// source package with generate --signatures, and checks that dpkg-source
// extracts exactly the template plus those signatures, and that verify
// reattaches them to Debian's signed binaries byte for byte.
func TestDebianSignaturesRoundTrip(t *testing.T) {
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	for _, c := range debianCases {
		t.Run(c.name, func(t *testing.T) {
			sigs := debianSignatures(t, c)
			out := filepath.Join(t.TempDir(), "out")
			stdout := mustMksigned(t, "", nil, "generate",
				"--template", testutil.DebianFixture(t, c.template),
				"--unsigned", testutil.DebianFixture(t, c.unsigned),
				"--signatures", sigs, "--output", out)
			dsc := onlyFile(t, out, ".dsc")
			tarxz := onlyFile(t, out, ".tar.xz")
			for _, p := range []string{dsc, tarxz} {
				if !strings.Contains(stdout, "wrote "+p) {
					t.Errorf("stdout %q does not say it wrote %s", stdout, p)
				}
			}

			x := filepath.Join(t.TempDir(), "x")
			testutil.Run(t, "", dpkgSource, "-x", dsc, x)
			want := t.TempDir()
			copyDir(t, filepath.Join(extract(t, testutil.DebianFixture(t, c.template)), c.codeDir, "source-template"), want)
			copyDir(t, sigs, filepath.Join(want, "debian", "signatures"))
			sameTree(t, x, want)

			v := mustMksigned(t, "", nil, "verify", "--dsc", dsc,
				"--unsigned", testutil.DebianFixture(t, c.unsigned),
				"--signed", testutil.DebianFixture(t, c.signed))
			if got := countPrefix(v, "OK "); got != len(c.files) {
				t.Errorf("verify printed %d OK lines, want %d:\n%s", got, len(c.files), v)
			}
			for _, f := range c.files {
				if !strings.Contains(v, "OK   "+c.unsignedPkg+" "+f+": ") || !strings.Contains(v, "identical to "+c.signed+":/") {
					t.Errorf("verify output lacks an OK line for %s identical to a file of %s:\n%s", f, c.signed, v)
				}
			}
		})
	}
}

// TestVerifyDetectsMismatch checks verify fails when the signed package
// does not hold the reattached file (here: shim's binaries against fwupd's
// signed package).
func TestVerifyDetectsMismatch(t *testing.T) {
	c := debianCases[1]
	sigs := debianSignatures(t, c)
	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, c.template),
		"--unsigned", testutil.DebianFixture(t, c.unsigned), "--signatures", sigs, "--output", out)
	r := mksigned(t, "", nil, "verify", "--dsc", onlyFile(t, out, ".dsc"),
		"--unsigned", testutil.DebianFixture(t, c.unsigned), "--signed", testutil.DebianFixture(t, fwupdSigned))
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL shim-unsigned usr/lib/shim/fbx64.efi") || !strings.Contains(r.stdout, "in none of the --signed packages") {
		t.Errorf("verify: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 1 and FAIL lines", r.code, r.stdout, r.stderr)
	}
}

// TestBuildFwupd builds the generated fwupd source package with
// dpkg-buildpackage, as Debian's buildds would, and compares the installed
// fwupdx64.efi.signed with Debian's. The build needs the exact unsigned
// package installed (.ci/run installs fwupd-unsigned 1:1.4-1).
func TestBuildFwupd(t *testing.T) {
	testutil.RequireTool(t, "dpkg-buildpackage")
	testutil.RequireTool(t, "dh")
	testutil.RequireTool(t, "sbattach")
	if _, err := os.Stat("/" + fwupdEFI); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fwupd-unsigned 1:1.4-1 must be installed for this test (.ci/run installs it): %v", err)
		}
		t.Skipf("skipping: fwupd-unsigned is not installed (apt-get install fwupd-unsigned=1:1.4-1)")
	}
	c := debianCases[0]
	sigs := debianSignatures(t, c)
	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, c.template),
		"--unsigned", testutil.DebianFixture(t, c.unsigned), "--signatures", sigs, "--output", out)
	build := t.TempDir()
	src := filepath.Join(build, "fwupd-amd64-signed-1.4+1")
	testutil.Run(t, "", "dpkg-source", "-x", onlyFile(t, out, ".dsc"), src)
	testutil.Run(t, src, "dpkg-buildpackage", "-b", "-uc", "-us")
	built := extract(t, onlyFile(t, build, "_amd64.deb"))
	debian := extract(t, testutil.DebianFixture(t, fwupdSigned))
	got, err := os.ReadFile(filepath.Join(built, fwupdSignedEFI))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(debian, fwupdSignedEFI))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("built %s (%d bytes) differs from Debian's (%d bytes)", fwupdSignedEFI, len(got), len(want))
	}
}
