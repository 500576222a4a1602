package tests

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// unsignedDeb builds a binary package with dpkg-deb -b holding files (by
// path), with the control fields name, version 1.0-1 and amd64, and
// returns its path.
func unsignedDeb(t *testing.T, name string, files map[string][]byte) string {
	t.Helper()
	testutil.RequireTool(t, "dpkg-deb")
	root := filepath.Join(t.TempDir(), "pkg")
	for p, b := range files {
		writeFile(t, filepath.Join(root, p), b, 0o644)
	}
	writeFile(t, filepath.Join(root, "DEBIAN/control"), []byte("Package: "+name+`
Version: 1.0-1
Architecture: amd64
Maintainer: mksigned tests <tests@example.org>
Description: unsigned files for the template build tests
 Test package.
`), 0o644)
	deb := filepath.Join(t.TempDir(), name+"_1.0-1_amd64.deb")
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-b", root, deb)
	return deb
}

// buildSigned unpacks the signed source package dsc and builds it with
// dpkg-buildpackage -b -uc -us, as a buildd would with the unsigned
// packages installed, without installing them: the build reads their
// files from UNSIGNED_ROOT (where they are unpacked), and dpkg-checkbuilddeps
// checks Build-Depends against a copy of dpkg's database (--admindir) that
// lists them as installed, so the exact-version pin is checked for real.
// It returns the directory the .debs were built into.
func buildSigned(t *testing.T, dsc string, unsigned ...string) string {
	t.Helper()
	testutil.RequireTool(t, "dpkg-source")
	testutil.RequireTool(t, "dpkg-buildpackage")
	testutil.RequireTool(t, "dh")
	dir := t.TempDir()
	root, admin, build := filepath.Join(dir, "root"), filepath.Join(dir, "admin"), filepath.Join(dir, "build")
	for _, d := range []string{root, admin, build} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var extra []string
	for _, deb := range unsigned {
		testutil.Run(t, "", "dpkg-deb", "-x", deb, root)
		fields := string(testutil.Run(t, "", "dpkg-deb", "-f", deb))
		names[strings.TrimSpace(string(testutil.Run(t, "", "dpkg-deb", "-f", deb, "Package")))] = true
		name, rest, _ := strings.Cut(fields, "\n")
		extra = append(extra, name+"\nStatus: install ok installed\n"+rest)
	}
	var db []string
	for _, para := range strings.Split(string(status), "\n\n") {
		first, _, _ := strings.Cut(para, "\n")
		if strings.TrimSpace(para) == "" || names[strings.TrimPrefix(first, "Package: ")] {
			continue // an installed copy gives way to the one built here
		}
		db = append(db, strings.TrimSuffix(para, "\n")+"\n")
	}
	db = append(db, extra...)
	writeFile(t, filepath.Join(admin, "status"), []byte(strings.Join(db, "\n")), 0o644)

	src := filepath.Join(build, "src")
	testutil.Run(t, "", "dpkg-source", "-x", dsc, src)
	cmd := exec.Command("dpkg-buildpackage", "--admindir="+admin, "-b", "-uc", "-us")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "UNSIGNED_ROOT="+root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-buildpackage of %s: %v\n%s", filepath.Base(dsc), err, out)
	}
	return build
}

// debField is one control field of a .deb.
func debField(t *testing.T, deb, field string) string {
	t.Helper()
	return strings.TrimSpace(string(testutil.Run(t, "", "dpkg-deb", "-f", deb, field)))
}

// debFiles lists the regular files a .deb ships (dpkg-deb -c), without
// those under usr/share/doc/.
func debFiles(t *testing.T, deb string) []string {
	t.Helper()
	var files []string
	for _, l := range strings.Split(string(testutil.Run(t, "", "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasPrefix(f[0], "-") || strings.HasPrefix(f[5], "./usr/share/doc/") {
			continue
		}
		files = append(files, strings.TrimPrefix(f[5], "./"))
	}
	return files
}

const installYAMLHead = `source: %s
maintainer: Jane Doe <jane@example.org>
section: kernel
description: |
  Signed files for the template build tests
  Test package.
copyright: 2026 Jane Doe
license: GPL-2
packages:
`

// templateBuild writes dir/signing.yaml for the source package source
// with the packages: entry pkgs, runs template build on it and unsigned,
// and returns the template's directory and its debian/control.
func templateBuild(t *testing.T, dir, source, pkgs, unsigned string) (tmpl, control string) {
	t.Helper()
	spec := filepath.Join(dir, "signing.yaml")
	writeFile(t, spec, []byte(strings.Replace(installYAMLHead, "%s", source, 1)+pkgs), 0o644)
	tmpl = filepath.Join(dir, "template")
	mustMksigned(t, "", nil, "template", "build", spec, "--unsigned", unsigned, "--output", tmpl)
	b, err := os.ReadFile(filepath.Join(tmpl, "source-template/debian/control"))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl, string(b)
}

// TestTemplateBuildDirectory signs an EFI image the grub way: the signed
// package ships /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed for
// /usr/lib/grub/x86_64-efi/monolithic/grubx64.efi, and nothing else, and
// sbverify accepts it with the signing certificate only.
func TestTemplateBuildDirectory(t *testing.T) {
	testutil.RequireTool(t, "sbattach")
	sbverify := testutil.RequireTool(t, "sbverify")
	const orig = "usr/lib/grub/x86_64-efi/monolithic/grubx64.efi"
	unsigned := unsignedDeb(t, "example-grub-efi-amd64-unsigned", map[string][]byte{orig: unsignedEFI(t)})
	dir := t.TempDir()
	tmpl, control := templateBuild(t, dir, "example-grub-efi-amd64-signed", `  example-grub-efi-amd64-unsigned:
    files:
      - path: `+orig+`
        sig-type: efi
    install:
      directory: /usr/lib/grub/x86_64-efi-signed
`, unsigned)
	if !strings.Contains(control, " sbsigntool,\n") || strings.Contains(control, "Conflicts:") {
		t.Errorf("debian/control: want sbsigntool in Build-Depends and no Conflicts:\n%s", control)
	}
	key, cert := newKey(t, "2048")
	out := filepath.Join(dir, "out")
	mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", unsigned, "--key", key, "--cert", cert, "--output", out)
	built := onlyFile(t, buildSigned(t, onlyFile(t, out, ".dsc"), unsigned), "example-grub-efi-amd64-signed_1+1.0+1_amd64.deb")
	const signed = "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
	if got := debFiles(t, built); len(got) != 1 || got[0] != signed {
		t.Errorf("the signed package ships %q, want only %s", got, signed)
	}
	x := extract(t, built)
	testutil.Run(t, "", sbverify, "--cert", cert, filepath.Join(x, signed))
	_, other := newKey(t, "2048")
	if err := exec.Command(sbverify, "--cert", other, filepath.Join(x, signed)).Run(); err == nil {
		t.Errorf("sbverify --cert with another certificate passed, want a failure")
	}
}

// TestTemplateBuildReplaceModule signs a kernel module as linux-module
// for a package that replaces the unsigned one: the module under its
// original path, with exactly the signature block sign-file -s appends,
// which openssl cms verifies over the unsigned module; Conflicts, Replaces
// and Provides on the unsigned package, so that dpkg, installing the
// signed package over the unsigned one, removes the unsigned one.
func TestTemplateBuildReplaceModule(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	testutil.RequireTool(t, "dpkg")
	signFile := testutil.RequireTool(t, testutil.SignFile)
	// A kernel version no machine has: dpkg below runs the postinst
	// dh_installmodules writes on this machine, and it must not depmod.
	const ko = "lib/modules/6.1.0-mksigned-test/extra/dummy.ko"
	module := unsignedModule(t)
	unsigned := unsignedDeb(t, "example-modules-unsigned", map[string][]byte{ko: module})
	dir := t.TempDir()
	tmpl, control := templateBuild(t, dir, "example-modules-signed", `  example-modules-unsigned:
    files:
      - path: `+ko+`
        sig-type: linux-module
    install: replace
`, unsigned)
	if strings.Contains(control, "sbsigntool") {
		t.Errorf("debian/control: no efi file is signed, but Build-Depends asks for sbsigntool:\n%s", control)
	}
	key, cert := newKey(t, "2048")
	out := filepath.Join(dir, "out")
	mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", unsigned, "--key", key, "--cert", cert, "--output", out)
	built := onlyFile(t, buildSigned(t, onlyFile(t, out, ".dsc"), unsigned), "example-modules-signed_1+1.0+1_amd64.deb")
	if got := debFiles(t, built); len(got) != 1 || got[0] != ko {
		t.Errorf("the signed package ships %q, want only %s", got, ko)
	}
	for field, want := range map[string]string{
		"Conflicts": "example-modules-unsigned",
		"Replaces":  "example-modules-unsigned",
		"Provides":  "example-modules-unsigned (= 1.0-1)",
	} {
		if got := debField(t, built, field); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	signed, err := os.ReadFile(filepath.Join(extract(t, built), ko))
	if err != nil {
		t.Fatal(err)
	}
	checkSignedModule(t, signFile, signed, module, cert)

	// What dpkg does with it: installing the signed package where the
	// unsigned one is removes the unsigned one and leaves the signed module
	// in its place. An empty dpkg database in a directory of its own; the
	// maintainer scripts run outside it (chrootless), as they need a shell.
	r := filepath.Join(t.TempDir(), "root")
	for _, d := range []string{"info", "updates", "triggers"} {
		if err := os.MkdirAll(filepath.Join(r, "var/lib/dpkg", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(r, "var/lib/dpkg/status"), nil, 0o644)
	writeFile(t, filepath.Join(r, "var/lib/dpkg/available"), nil, 0o644)
	for _, deb := range []string{unsigned, built} {
		testutil.Run(t, "", "dpkg", "--root="+r, "--force-script-chrootless", "-i", deb)
	}
	installed := string(testutil.Run(t, "", "dpkg-query", "--admindir="+filepath.Join(r, "var/lib/dpkg"), "-W", "-f", "${Package} ${Status}\n"))
	if installed != "example-modules-signed install ok installed\n" {
		t.Errorf("installed after the signed package:\n%swant only example-modules-signed", installed)
	}
	if b, err := os.ReadFile(filepath.Join(r, ko)); err != nil || !bytes.Equal(b, signed) {
		t.Errorf("%s after installing: not the signed module (%v)", ko, err)
	}
}

// checkSignedModule checks a signed module against the unsigned one with
// the real tools: the bytes are what Linux's sign-file -s makes of the
// module and the signature in it, and openssl cms verifies that signature
// over the unsigned module with cert, and not with another certificate.
func checkSignedModule(t *testing.T, signFile string, signed, module []byte, cert string) {
	t.Helper()
	const magic = "~Module signature appended~\n"
	if !bytes.HasPrefix(signed, module) || !bytes.HasSuffix(signed, []byte(magic)) || len(signed) < len(module)+12+len(magic) {
		t.Fatalf("signed module (%d bytes) is not the unsigned one (%d bytes) with a signature appended", len(signed), len(module))
	}
	n := len(signed) - len(magic)
	sigLen := int(binary.BigEndian.Uint32(signed[n-4 : n]))
	if len(module)+sigLen+12+len(magic) != len(signed) {
		t.Fatalf("sig_len %d does not account for the %d bytes after the module", sigLen, len(signed)-len(module))
	}
	dir := t.TempDir()
	sig, content := filepath.Join(dir, "m.sig"), filepath.Join(dir, "m.ko")
	writeFile(t, sig, signed[len(module):len(module)+sigLen], 0o644)
	writeFile(t, content, module, 0o644)
	testutil.Run(t, dir, signFile, "-s", sig, "sha256", "/dev/null", content, "sign-file.ko")
	if want, err := os.ReadFile(filepath.Join(dir, "sign-file.ko")); err != nil || !bytes.Equal(signed, want) {
		t.Errorf("signed module differs from sign-file -s output (%v)", err)
	}
	verify := func(cert string) error {
		return exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", content,
			"-certfile", cert, "-CAfile", cert, "-purpose", "any", "-out", os.DevNull).Run()
	}
	if err := verify(cert); err != nil {
		t.Errorf("openssl cms -verify of the module signature: %v", err)
	}
	_, other := newKey(t, "2048")
	if err := verify(other); err == nil {
		t.Errorf("openssl cms -verify with another certificate passed, want a failure")
	}
}

// TestTemplateBuildInstallBad checks what template build refuses for the
// install ways and linux-module, each with exit 1, the place named, and
// nothing written.
func TestTemplateBuildInstallBad(t *testing.T) {
	t.Parallel()
	const ko = "lib/modules/6.1.0-mksigned-test/extra/dummy.ko"
	trueELF, err := os.ReadFile("/bin/true") // an ELF executable, not relocatable
	if err != nil {
		t.Fatal(err)
	}
	module := unsignedModule(t)
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		yaml  string // the package's entry
		want  string
	}{
		{"replace would lose a file",
			map[string][]byte{ko: module, "etc/modprobe.d/example.conf": []byte("options dummy numdummies=2\n"), "usr/share/doc/example-unsigned/README": []byte("kept\n")},
			"    files:\n      - path: " + ko + "\n        sig-type: linux-module\n    install: replace\n",
			"etc/modprobe.d/example.conf: is in example-unsigned but not signed, and would be lost: with install: replace"},
		{"module that is no ELF file",
			map[string][]byte{ko: unsignedEFI(t)},
			"    files:\n      - path: " + ko + "\n        sig-type: linux-module\n    install: beside\n",
			ko + ": signed as linux-module on signing.yaml line 12, but not an ELF file, so not a kernel module"},
		{"module that is an executable",
			map[string][]byte{ko: trueELF},
			"    files:\n      - path: " + ko + "\n        sig-type: linux-module\n    install: {directory: /usr/lib/signed}\n",
			ko + ": signed as linux-module on signing.yaml line 12, but an ELF file of type 3, not a relocatable object (ET_REL, 1) as a kernel module is"},
		{"compressed module",
			map[string][]byte{ko + ".xz": module},
			"    files:\n      - path: " + ko + ".xz\n        sig-type: linux-module\n    install: replace\n",
			"signing.yaml: line 12: packages.example-unsigned.files[0].path: \"" + ko + ".xz\" is a compressed module (.ko.xz): its signature covers the uncompressed module"},
		{"efi file that is a module",
			map[string][]byte{"usr/lib/example/x.efi": module},
			"    files:\n      - path: usr/lib/example/x.efi\n        sig-type: efi\n    install: {directory: /usr/lib/signed}\n",
			"usr/lib/example/x.efi: signed as efi on signing.yaml line 12, but"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			unsigned := unsignedDeb(t, "example-unsigned", tc.files)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "signing.yaml"), []byte(strings.Replace(installYAMLHead, "%s", "example-signed", 1)+"  example-unsigned:\n"+tc.yaml), 0o644)
			r := mksigned(t, dir, nil, "template", "build", "signing.yaml", "--unsigned", unsigned, "--output", "out")
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.HasPrefix(r.stderr, "mksigned: ") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", r.code, r.stderr, tc.want)
			}
			if got := testutil.ListDir(t, dir); len(got) != 1 {
				t.Errorf("%s holds %q, want only signing.yaml: nothing written", dir, got)
			}
		})
	}
}
