package tests

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestFreshSigningEFI signs shim's helpers with a key made in the test and
// checks the result with the real tools: sbattach --attach accepts each
// signature, then sbverify and osslsigncode pass; mksigned verify agrees.
func TestFreshSigningEFI(t *testing.T) {
	sbattach := testutil.RequireTool(t, "sbattach")
	sbverify := testutil.RequireTool(t, "sbverify")
	osslsigncode := testutil.RequireTool(t, "osslsigncode")
	for _, bits := range []string{"2048", "4096"} {
		t.Run("rsa"+bits, func(t *testing.T) {
			key, cert := newKey(t, bits)
			out := filepath.Join(t.TempDir(), "out")
			mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, shimTemplate),
				"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--key", key, "--cert", cert, "--output", out)
			x := filepath.Join(t.TempDir(), "x")
			testutil.Run(t, "", "dpkg-source", "-x", onlyFile(t, out, ".dsc"), x)
			unsigned := extract(t, testutil.DebianFixture(t, shimUnsigned))
			for _, f := range []string{"usr/lib/shim/fbx64.efi", "usr/lib/shim/mmx64.efi"} {
				img := filepath.Join(t.TempDir(), filepath.Base(f))
				b, err := os.ReadFile(filepath.Join(unsigned, f))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, img, b, 0o644)
				testutil.Run(t, "", sbattach, "--attach", filepath.Join(x, "debian/signatures/shim-unsigned", f+".sig"), img)
				testutil.Run(t, "", sbverify, "--cert", cert, img)
				testutil.Run(t, "", osslsigncode, "verify", "-CAfile", cert, "-in", img)
			}
			v := mustMksigned(t, "", nil, "verify", "--dsc", onlyFile(t, out, ".dsc"),
				"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--cert", cert)
			if got := countPrefix(v, "OK "); got != 2 {
				t.Errorf("verify: %d OK lines, want 2:\n%s", got, v)
			}
			// Against another certificate, verification must fail.
			_, other := newKey(t, "2048")
			r := mksigned(t, "", nil, "verify", "--dsc", onlyFile(t, out, ".dsc"),
				"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--cert", other)
			if r.code != 1 || countPrefix(r.stdout, "FAIL ") != 2 {
				t.Errorf("verify with the wrong cert: exit %d, stdout:\n%s\nwant exit 1 and 2 FAIL lines", r.code, r.stdout)
			}
		})
	}
}

// multiTemplate writes a code-signing directory whose files.json names both
// fwupd-unsigned and shim-unsigned, so the order of --unsigned can vary.
func multiTemplate(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "multi-amd64-signed-template")
	copyDir(t, filepath.Join(extract(t, testutil.DebianFixture(t, fwupdTemplate)), fwupdCodeDir), dir)
	writeFile(t, filepath.Join(dir, "files.json"), []byte(`{"packages": {
  "shim-unsigned": {"trusted_certs": [], "files": [{"sig_type": "efi", "file": "usr/lib/shim/mmx64.efi"}]},
  "fwupd-unsigned": {"trusted_certs": [], "files": [{"sig_type": "efi", "file": "usr/libexec/fwupd/efi/fwupdx64.efi"}]}
}}`), 0o644)
	return dir
}

// TestReproducible: same inputs give byte-identical output, whatever the
// order of --unsigned; SOURCE_DATE_EPOCH changes the signing time of
// every EFI signature, not only the tarball's mtimes.
func TestReproducible(t *testing.T) {
	key, cert := newKey(t, "2048")
	tmpl := multiTemplate(t)
	var outs []string
	run := func(env []string, unsigned ...string) (dsc, tarxz []byte) {
		out := filepath.Join(t.TempDir(), "out")
		outs = append(outs, out)
		args := []string{"generate", "--template", tmpl, "--key", key, "--cert", cert, "--output", out}
		for _, u := range unsigned {
			args = append(args, "--unsigned", testutil.DebianFixture(t, u))
		}
		mustMksigned(t, "", env, args...)
		d, err := os.ReadFile(filepath.Join(out, "fwupd-amd64-signed_1.4+1.dsc"))
		if err != nil {
			t.Fatal(err)
		}
		x, err := os.ReadFile(filepath.Join(out, "fwupd-amd64-signed_1.4+1.tar.xz"))
		if err != nil {
			t.Fatal(err)
		}
		return d, x
	}
	d1, x1 := run(nil, fwupdUnsigned, shimUnsigned)
	d2, x2 := run([]string{"TZ=Asia/Tokyo", "LC_ALL=C.UTF-8"}, shimUnsigned, fwupdUnsigned)
	if !bytes.Equal(d1, d2) || !bytes.Equal(x1, x2) {
		t.Errorf("output differs between runs with --unsigned in another order")
	}
	d3, x3 := run([]string{"SOURCE_DATE_EPOCH=1700000000"}, fwupdUnsigned, shimUnsigned)
	d4, x4 := run([]string{"SOURCE_DATE_EPOCH=1700000000"}, fwupdUnsigned, shimUnsigned)
	if !bytes.Equal(d3, d4) || !bytes.Equal(x3, x4) {
		t.Errorf("output differs between two runs with the same SOURCE_DATE_EPOCH")
	}
	if bytes.Equal(x1, x3) {
		t.Errorf("SOURCE_DATE_EPOCH did not change the output: the signing time and tar mtimes should follow it")
	}
	// The signatures themselves: made at the changelog's date, then at
	// SOURCE_DATE_EPOCH.
	for _, c := range []struct {
		out  string
		want int64
	}{
		{outs[0], 1674832557}, // Fri, 27 Jan 2023 09:15:57 -0600, fwupd's changelog
		{outs[2], 1700000000},
	} {
		got := signingTimes(t, filepath.Join(c.out, "fwupd-amd64-signed_1.4+1.dsc"))
		want := map[string]int64{
			"fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig": c.want,
			"shim-unsigned/usr/lib/shim/mmx64.efi.sig":              c.want,
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: signing times (-want +got):\n%s", c.out, d)
		}
	}
}

// stripModule removes the signature Debian's kernel build appended to a
// module: the PKCS#7 (sig_len bytes), the 12-byte struct module_signature
// and the 28-byte magic.
func stripModule(t *testing.T, b []byte) []byte {
	t.Helper()
	const magic = "~Module signature appended~\n"
	if !bytes.HasSuffix(b, []byte(magic)) {
		t.Fatal("module is not signed")
	}
	n := len(b) - len(magic)
	sigLen := int(binary.BigEndian.Uint32(b[n-4 : n]))
	return b[:n-12-sigLen]
}

// moduleFixture builds a real binary package (dpkg-deb -b, with the given
// compression) holding Debian's dummy.ko without its build signature, and a
// template that signs it as linux-module.
func moduleFixture(t *testing.T, compression string) (deb, tmpl string, module []byte) {
	t.Helper()
	testutil.RequireTool(t, "dpkg-deb")
	raw, err := os.ReadFile(testutil.DebianFixture(t, "dummy.ko"))
	if err != nil {
		t.Fatal(err)
	}
	module = stripModule(t, raw)
	root := filepath.Join(t.TempDir(), "pkg")
	const ko = "lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy.ko"
	writeFile(t, filepath.Join(root, ko), module, 0o644)
	writeFile(t, filepath.Join(root, "DEBIAN/control"), []byte(`Package: example-modules-unsigned
Version: 1.0-1
Architecture: amd64
Maintainer: mksigned tests <tests@example.org>
Description: kernel module for the module-signing test
 dummy.ko from Debian's linux-image-6.1.0-57-amd64-unsigned, build signature removed.
`), 0o644)
	deb = filepath.Join(t.TempDir(), "example-modules-unsigned_1.0-1_amd64.deb")
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-Z"+compression, "-b", root, deb)

	tmpl = filepath.Join(t.TempDir(), "example-modules-signed-template")
	writeFile(t, filepath.Join(tmpl, "files.json"), []byte(`{"packages": {"example-modules-unsigned": {"trusted_certs": [],
  "files": [{"sig_type": "linux-module", "file": "`+ko+`"}]}}}`), 0o644)
	st := filepath.Join(tmpl, "source-template", "debian")
	writeFile(t, filepath.Join(st, "changelog"), []byte(`example-modules-signed (1.0+1) unstable; urgency=medium

  * Sign example-modules-unsigned 1.0-1.

 -- mksigned tests <tests@example.org>  Sat, 28 Nov 2026 12:00:00 +0000
`), 0o644)
	writeFile(t, filepath.Join(st, "control"), []byte(`Source: example-modules-signed
Section: kernel
Priority: optional
Maintainer: mksigned tests <tests@example.org>
Build-Depends: debhelper-compat (= 13), example-modules-unsigned (= 1.0-1)
Standards-Version: 4.6.2

Package: example-modules-signed
Architecture: amd64
Description: signed kernel module for the module-signing test
 Test package.
`), 0o644)
	writeFile(t, filepath.Join(st, "copyright"), []byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: none\nLicense: GPL-2\n"), 0o644)
	writeFile(t, filepath.Join(st, "rules"), []byte("#!/usr/bin/make -f\n%:\n\tdh $@\n"), 0o755)
	writeFile(t, filepath.Join(st, "source", "format"), []byte("3.0 (native)\n"), 0o644)
	return deb, tmpl, module
}

// TestModuleSigningMatchesSignFile signs a real module and compares the
// detached signature with what Linux's sign-file -d writes for the same
// key: PKCS#1 v1.5 is deterministic, so the bytes must be identical. The
// package is read in every compression dpkg-deb writes.
func TestModuleSigningMatchesSignFile(t *testing.T) {
	signFile := testutil.RequireTool(t, testutil.SignFile)
	key, cert := newKey(t, "2048")
	for _, z := range []string{"xz", "gzip", "zstd", "none"} {
		t.Run(z, func(t *testing.T) {
			deb, tmpl, module := moduleFixture(t, z)
			out := filepath.Join(t.TempDir(), "out")
			mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", deb, "--key", key, "--cert", cert, "--output", out)
			ours := moduleSignature(t, out)
			m := filepath.Join(t.TempDir(), "dummy.ko")
			writeFile(t, m, module, 0o644)
			testutil.Run(t, "", signFile, "-d", "sha256", key, cert, m)
			theirs, err := os.ReadFile(m + ".p7s")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, theirs) {
				t.Errorf("signature differs from sign-file -d's (%d vs %d bytes)", len(ours), len(theirs))
			}
			verifyModule(t, out, deb, cert)
		})
	}
}

// moduleSignature unpacks the source package generate wrote to out for
// moduleFixture's template (dpkg-source -x) and returns dummy.ko's
// signature.
func moduleSignature(t *testing.T, out string) []byte {
	t.Helper()
	x := filepath.Join(t.TempDir(), "x")
	testutil.Run(t, "", "dpkg-source", "-x", onlyFile(t, out, ".dsc"), x)
	sig, err := os.ReadFile(filepath.Join(x, "debian/signatures/example-modules-unsigned/lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy.ko.sig"))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// verifyModule runs mksigned verify on moduleFixture's source package in
// out. The module signature carries no certificate: verify checks it
// cryptographically only with --cert.
func verifyModule(t *testing.T, out, deb, cert string) {
	t.Helper()
	v := mustMksigned(t, "", nil, "verify", "--dsc", onlyFile(t, out, ".dsc"), "--unsigned", deb, "--cert", cert)
	if !strings.Contains(v, "OK   example-modules-unsigned") {
		t.Errorf("verify --cert:\n%s", v)
	}
}

// TestAttachDetachMatchSbattachAndSignFile compares the attach and detach
// commands with sbattach (efi) and sign-file (linux-module).
func TestAttachDetachMatchSbattachAndSignFile(t *testing.T) {
	sbattach := testutil.RequireTool(t, "sbattach")
	signFile := testutil.RequireTool(t, testutil.SignFile)
	dir := t.TempDir()
	signed := filepath.Join(extract(t, testutil.DebianFixture(t, fwupdSigned)), fwupdSignedEFI)
	unsigned := filepath.Join(extract(t, testutil.DebianFixture(t, fwupdUnsigned)), fwupdEFI)

	mustMksigned(t, dir, nil, "detach", "--type", "efi", "--output", "ours.sig", signed)
	testutil.Run(t, dir, sbattach, "--detach", "theirs.sig", signed)
	sameFile(t, filepath.Join(dir, "ours.sig"), filepath.Join(dir, "theirs.sig"))

	mustMksigned(t, dir, nil, "attach", "--type", "efi", "--signature", "ours.sig", "--output", "ours.efi", unsigned)
	b, _ := os.ReadFile(unsigned)
	writeFile(t, filepath.Join(dir, "theirs.efi"), b, 0o644)
	testutil.Run(t, dir, sbattach, "--attach", "theirs.sig", "theirs.efi")
	sameFile(t, filepath.Join(dir, "ours.efi"), filepath.Join(dir, "theirs.efi"))
	sameFile(t, filepath.Join(dir, "ours.efi"), signed) // and that is Debian's signed binary

	// A signature for another file is refused (sbattach would attach it).
	shimSig := filepath.Join(dir, "shim.sig")
	mustMksigned(t, dir, nil, "detach", "--type", "efi", "--output", shimSig,
		filepath.Join(extract(t, testutil.DebianFixture(t, shimSigned)), "usr/lib/shim/fbx64.efi.signed"))
	r := mksigned(t, dir, nil, "attach", "--type", "efi", "--signature", shimSig, "--output", "bad.efi", unsigned)
	if r.code != 1 || !strings.Contains(r.stderr, "digest") {
		t.Errorf("attach of a foreign signature: exit %d, stderr %q; want exit 1 and a digest mismatch", r.code, r.stderr)
	}
	notExist(t, filepath.Join(dir, "bad.efi"))

	key, cert := newKey(t, "2048")
	raw, _ := os.ReadFile(testutil.DebianFixture(t, "dummy.ko"))
	writeFile(t, filepath.Join(dir, "m.ko"), stripModule(t, raw), 0o644)
	testutil.Run(t, dir, signFile, "-d", "sha256", key, cert, "m.ko")
	testutil.Run(t, dir, signFile, "sha256", key, cert, "m.ko", "theirs.ko")
	mustMksigned(t, dir, nil, "attach", "--type", "linux-module", "--signature", "m.ko.p7s", "--output", "ours.ko", "m.ko")
	sameFile(t, filepath.Join(dir, "ours.ko"), filepath.Join(dir, "theirs.ko"))
	mustMksigned(t, dir, nil, "detach", "--type", "linux-module", "--output", "ours.p7s", "theirs.ko")
	sameFile(t, filepath.Join(dir, "ours.p7s"), filepath.Join(dir, "m.ko.p7s"))
	// A module signature is checked before it is attached: garbage never,
	// another key's signature not with --cert.
	writeFile(t, filepath.Join(dir, "garbage.sig"), []byte("garbage\n"), 0o644)
	r = mksigned(t, dir, nil, "attach", "--type", "linux-module", "--signature", "garbage.sig", "--output", "g.ko", "m.ko")
	if r.code != 1 {
		t.Errorf("attach of garbage as a module signature: exit %d, stderr %q", r.code, r.stderr)
	}
	notExist(t, filepath.Join(dir, "g.ko"))
	_, other := newKey(t, "2048")
	r = mksigned(t, dir, nil, "attach", "--type", "linux-module", "--cert", other, "--signature", "m.ko.p7s", "--output", "o.ko", "m.ko")
	if r.code != 1 {
		t.Errorf("attach with the wrong --cert: exit %d, stderr %q", r.code, r.stderr)
	}
	mustMksigned(t, dir, nil, "attach", "--type", "linux-module", "--cert", cert, "--signature", "m.ko.p7s", "--output", "c.ko", "m.ko")
	sameFile(t, filepath.Join(dir, "c.ko"), filepath.Join(dir, "theirs.ko"))
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s (%d bytes) and %s (%d bytes) differ", a, len(x), b, len(y))
	}
}
