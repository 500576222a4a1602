package tests

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
)

// hookEpoch fixes SOURCE_DATE_EPOCH for the hook's builds.
const hookEpoch = "1700000000"

// hookYAML signs the one EFI image of the hooktest package; it ships
// fwupd-unsigned's fwupdx64.efi at fwupd's path, so that the signed
// build, which copies the original from /, finds the same bytes where
// fwupd-unsigned is installed (.ci/run installs it).
const hookYAML = `source: hooktest-signed
maintainer: Jane Doe <jane@example.org>
description: |
  test EFI application (signed)
  Signed for Secure Boot.
copyright: 2023 Jane Doe
license: LGPL-2.1+
packages:
  hooktest-unsigned:
    files:
      - path: usr/libexec/fwupd/efi/fwupdx64.efi
        sig-type: efi
    install: beside
`

// hookSource writes a small source package, hooktest 1:1.0-1, into
// dir/src: one binary package, hooktest-unsigned, shipping an EFI image,
// and debian/signing.yaml (spec). It returns the source tree.
func hookSource(t *testing.T, dir, spec string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	efi, err := os.ReadFile(filepath.Join(extract(t, testutil.DebianFixture(t, fwupdUnsigned)), fwupdEFI))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"fwupdx64.efi": string(efi),
		"debian/control": `Source: hooktest
Section: misc
Priority: optional
Maintainer: Jane Doe <jane@example.org>
Build-Depends: debhelper-compat (= 13)
Standards-Version: 4.6.2
Rules-Requires-Root: no

Package: hooktest-unsigned
Architecture: amd64
Depends: ${misc:Depends}
Description: test EFI application (unsigned)
 A tiny EFI image for mksigned's hook test.
`,
		"debian/changelog":                 "hooktest (1:1.0-1) unstable; urgency=medium\n\n  * Test.\n\n -- Jane Doe <jane@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n",
		"debian/copyright":                 "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2023 Jane Doe\nLicense: LGPL-2.1+\n",
		"debian/hooktest-unsigned.install": "fwupdx64.efi usr/libexec/fwupd/efi/\n",
		"debian/source/format":             "3.0 (native)\n",
	}
	if spec != "" {
		files["debian/signing.yaml"] = spec
	}
	for name, data := range files {
		writeFile(t, filepath.Join(src, name), []byte(data), 0o644)
	}
	writeFile(t, filepath.Join(src, "debian/rules"), []byte("#!/usr/bin/make -f\n%:\n\tdh $@\n"), 0o755)
	return src
}

// noKeyEnv is an environment with no hook key anywhere: no
// $MKSIGNED_KEY, an empty configuration directory, no system file.
func noKeyEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	return []string{"MKSIGNED_KEY=", "MKSIGNED_CERT=", "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"MKSIGNED_SYSTEM_CONFIG=" + filepath.Join(dir, "etc", "config.yaml"), "SOURCE_DATE_EPOCH=" + hookEpoch}
}

// dpkgBuild runs dpkg-buildpackage -b -uc -us in src with env and extra
// arguments.
func dpkgBuild(t *testing.T, src string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("dpkg-buildpackage", append([]string{"-b", "-uc", "-us"}, args...)...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-buildpackage %q: %v\n%s", args, err, out)
	}
}

func requireBuildTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"dpkg-buildpackage", "dpkg-source", "dpkg-deb", "dh", "sbattach"} {
		testutil.RequireTool(t, tool)
	}
	if _, err := os.Stat("/" + fwupdEFI); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fwupd-unsigned 1:1.4-1 must be installed for this test (.ci/run installs it): %v", err)
		}
		t.Skipf("skipping: fwupd-unsigned is not installed (apt-get install fwupd-unsigned=1:1.4-1)")
	}
}

// TestHookSourceTree builds a real source package with dpkg-buildpackage
// twice, without and with the hook: the unsigned build's files are the
// same bytes (but for the .buildinfo's Build-Date, the wall clock), the hook adds only the -signed source package, taken from
// the tree's debian/signing.yaml, and that builds into a package whose
// signed image passes sbverify.
func TestHookSourceTree(t *testing.T) {
	requireBuildTools(t)
	sbverify := testutil.RequireTool(t, "sbverify")
	dir := t.TempDir()
	src := hookSource(t, dir, hookYAML)
	key, cert := newKey(t, "2048")
	env := append(noKeyEnv(t), "MKSIGNED_KEY="+key, "MKSIGNED_CERT="+cert)

	dpkgBuild(t, src, env)
	plain := files(t, dir)
	for name := range plain {
		os.Remove(filepath.Join(dir, name))
	}
	dpkgBuild(t, src, env, "--hook-done="+mksignedBin+" hook %p %v")
	hooked := files(t, dir)
	const dsc, tarball = "hooktest-signed_1+1.0+1.dsc", "hooktest-signed_1+1.0+1.tar.xz"
	for _, name := range []string{dsc, tarball} {
		if _, ok := hooked[name]; !ok {
			t.Fatalf("the hook wrote no %s; the build directory holds %v", name, testutil.ListDir(t, dir))
		}
	}
	unsigned := map[string][]byte{}
	for name, data := range hooked {
		if name != dsc && name != tarball {
			unsigned[name] = data
		}
	}
	if len(plain) < 3 {
		t.Fatalf("the build wrote %d files, want the .deb, .buildinfo and .changes", len(plain))
	}
	if diff := cmp.Diff(maskBuildDate(plain), maskBuildDate(unsigned)); diff != "" {
		t.Errorf("the build's files differ with the hook (-without +with):\n%s", diff)
	}

	build := filepath.Join(dir, "signed")
	if err := os.Mkdir(build, 0o755); err != nil {
		t.Fatal(err)
	}
	signedSrc := filepath.Join(build, "s")
	testutil.Run(t, "", "dpkg-source", "-x", filepath.Join(dir, dsc), signedSrc)
	// -d: the Build-Depends pin hooktest-unsigned, which is not installed;
	// its one file is fwupd-unsigned's, which is.
	dpkgBuild(t, signedSrc, env, "-d")
	built := extract(t, onlyFile(t, build, "hooktest-signed_1+1.0+1_amd64.deb"))
	testutil.Run(t, "", sbverify, "--cert", cert, filepath.Join(built, fwupdSignedEFI))
	_, other := newKey(t, "2048")
	if err := exec.Command(sbverify, "--cert", other, filepath.Join(built, fwupdSignedEFI)).Run(); err == nil {
		t.Errorf("sbverify --cert with another certificate passed, want a failure")
	}
}

// buildDate is the .buildinfo's Build-Date, the wall clock
// (dpkg-genbuildinfo ignores SOURCE_DATE_EPOCH for it), and the checksums
// of the .buildinfo in the .changes, which follow from it.
var (
	buildDate         = regexp.MustCompile(`(?m)^Build-Date: .*$`)
	buildinfoChecksum = regexp.MustCompile(`(?m)^ [0-9a-f]+ (.*\.buildinfo)$`)
)

// maskBuildDate returns files with what differs between any two builds,
// buildDate, masked; the .debs are kept whole.
func maskBuildDate(files map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, data := range files {
		switch {
		case strings.HasSuffix(name, ".buildinfo"):
			data = buildDate.ReplaceAll(data, []byte("Build-Date: (masked)"))
		case strings.HasSuffix(name, ".changes"):
			data = buildinfoChecksum.ReplaceAll(data, []byte(" (masked) $1"))
		}
		out[name] = data
	}
	return out
}

// writeChanges writes dir/name, a .changes of source listing debs (files
// in dir).
func writeChanges(t *testing.T, dir, name, source string, debs ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "Format: 1.8\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nSource: %s\nArchitecture: amd64\nVersion: 1:1.4-1\nFiles:\n", source)
	for _, d := range debs {
		data, err := os.ReadFile(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, " %x %d misc optional %s\n", md5.Sum(data), len(data), d)
	}
	p := filepath.Join(dir, name)
	writeFile(t, p, []byte(b.String()), 0o644)
	return p
}

// copyFixture copies a testdata/debian package into dir.
func copyFixture(t *testing.T, dir, name string) {
	t.Helper()
	data, err := os.ReadFile(testutil.DebianFixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, name), data, 0o644)
}

// TestHookTemplateDeb: a build whose .changes lists a *-signed-template
// package (Debian's fwupd) signs with that template the packages it names,
// and writes what generate writes from the same inputs.
func TestHookTemplateDeb(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, dir, fwupdTemplate)
	copyFixture(t, dir, fwupdUnsigned)
	writeChanges(t, dir, "fwupd_1.4-1_amd64.changes", "fwupd", fwupdTemplate, fwupdUnsigned)
	src := filepath.Join(dir, "fwupd-1.4")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	key, cert := newKey(t, "2048")
	env := append(noKeyEnv(t), "MKSIGNED_KEY="+key, "MKSIGNED_CERT="+cert)
	out := mustMksigned(t, src, env, "hook", "fwupd", "1:1.4-1")
	const dsc, tarball = "fwupd-amd64-signed_1.4+1.dsc", "fwupd-amd64-signed_1.4+1.tar.xz"
	if !strings.Contains(out, dsc) || !strings.Contains(out, tarball) {
		t.Errorf("hook printed %q, want it to name %s and %s", out, dsc, tarball)
	}
	want := filepath.Join(t.TempDir(), "want")
	mustMksigned(t, "", env, "generate", "--template", testutil.DebianFixture(t, fwupdTemplate),
		"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--key", key, "--cert", cert, "--output", want)
	for _, name := range []string{dsc, tarball} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.ReadFile(filepath.Join(want, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, w) {
			t.Errorf("hook's %s differs from generate's", name)
		}
	}

	// --changes and --output name both explicitly; the config file gives
	// the key (paths relative to it), and its output: yields to --output.
	conf := t.TempDir()
	writeFile(t, filepath.Join(conf, "mksigned", "config.yaml"), []byte("key: k.pem\ncert: "+cert+"\noutput: confout\n"), 0o644)
	data, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(conf, "mksigned", "k.pem"), data, 0o600)
	out2 := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", append(noKeyEnv(t), "XDG_CONFIG_HOME="+conf), "hook",
		"--changes", filepath.Join(dir, "fwupd_1.4-1_amd64.changes"), "--output", out2)
	if diff := cmp.Diff(files(t, want), files(t, out2)); diff != "" {
		t.Errorf("hook --changes with the key from config.yaml differs from generate (-generate +hook):\n%s", diff)
	}
	if _, err := os.Lstat(filepath.Join(conf, "mksigned", "confout")); err == nil {
		t.Errorf("hook --output wrote to config.yaml's output: too")
	}
}

// TestHookErrors: a hook that cannot sign says why, exits 1 and writes
// nothing.
func TestHookErrors(t *testing.T) {
	key, cert := newKey(t, "2048")
	missingFile := strings.Replace(fwupdYAML, "fwupdx64.efi\n", "missing.efi\n", 1)
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (src string, env []string)
		want  []string
	}{
		{"no key", func(t *testing.T, dir string) (string, []string) {
			copyFixture(t, dir, fwupdTemplate)
			copyFixture(t, dir, fwupdUnsigned)
			writeChanges(t, dir, "fwupd_1.4-1_amd64.changes", "fwupd", fwupdTemplate, fwupdUnsigned)
			return dir, noKeyEnv(t)
		}, []string{"no signing key configured", "$MKSIGNED_KEY is not set", "config/mksigned/config.yaml", "etc/config.yaml"}},
		{"bad config", func(t *testing.T, dir string) (string, []string) {
			conf := t.TempDir()
			writeFile(t, filepath.Join(conf, "mksigned", "config.yaml"), []byte("key: "+key+"\nkey-file: x\n"), 0o644)
			return dir, append(noKeyEnv(t), "XDG_CONFIG_HOME="+conf)
		}, []string{"config.yaml", "line 2", "key-file"}},
		{"no changes", func(t *testing.T, dir string) (string, []string) {
			src := hookSource(t, dir, hookYAML)
			return src, append(noKeyEnv(t), "MKSIGNED_KEY="+key, "MKSIGNED_CERT="+cert)
		}, []string{"no hooktest_1.0-1_<arch>.changes in"}},
		{"package not in changes", func(t *testing.T, dir string) (string, []string) {
			copyFixture(t, dir, fwupdTemplate)
			writeChanges(t, dir, "fwupd_1.4-1_amd64.changes", "fwupd", fwupdTemplate)
			return dir, append(noKeyEnv(t), "MKSIGNED_KEY="+key, "MKSIGNED_CERT="+cert)
		}, []string{"signs files of package fwupd-unsigned", "lists no .deb of it"}},
		{"no template", func(t *testing.T, dir string) (string, []string) {
			copyFixture(t, dir, fwupdUnsigned)
			writeChanges(t, dir, "fwupd_1.4-1_amd64.changes", "fwupd", fwupdUnsigned)
			return dir, append(noKeyEnv(t), "MKSIGNED_KEY="+key, "MKSIGNED_CERT="+cert)
		}, []string{"lists no *-signed-template package", "has no debian/signing.yaml"}},
		{"file not in package", func(t *testing.T, dir string) (string, []string) {
			src := filepath.Join(dir, "src")
			writeFile(t, filepath.Join(src, "debian/signing.yaml"), []byte(missingFile), 0o644)
			copyFixture(t, dir, fwupdUnsigned)
			writeChanges(t, dir, "fwupd_1.4-1_amd64.changes", "fwupd", fwupdUnsigned)
			return src, append(noKeyEnv(t), "MKSIGNED_KEY="+key, "MKSIGNED_CERT="+cert)
		}, []string{fwupdUnsigned, "holds no usr/libexec/fwupd/efi/missing.efi", "debian/signing.yaml line 14"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src, env := tc.setup(t, dir)
			args := []string{"hook"}
			if src == dir {
				args = append(args, "--source-dir", filepath.Join(dir, "nosrc"))
			}
			if tc.name != "no changes" { // that one reads debian/changelog
				args = append(args, "fwupd", "1:1.4-1")
			}
			before := tree(t, dir)
			r := mksigned(t, src, env, args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not say %q", r.stderr, w)
				}
			}
			if diff := cmp.Diff(before, tree(t, dir)); diff != "" {
				t.Errorf("the hook changed the build directory (-before +after):\n%s", diff)
			}
		})
	}
}
