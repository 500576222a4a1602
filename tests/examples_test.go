package tests

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// exampleKey is debian-examples/test-key's key and certificate.
func exampleKey(t *testing.T) (key, cert string) {
	t.Helper()
	dir := filepath.Join(testutil.RepoRoot(t), "debian-examples", "test-key")
	return filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.crt")
}

// hookBuildExample copies debian-examples/name into a fresh directory and
// builds it as its maintainer would: dpkg-buildpackage -b -uc -us with
// mksigned's hook, $MKSIGNED_KEY and $MKSIGNED_CERT naming exampleKey (and
// no configuration file). The build's .changes must be the one named
// changes, and the hook must have written the -signed source package,
// signed.dsc and signed.tar.xz, beside it. It returns the source tree
// (its parent holds what the build wrote) and the .dsc.
func hookBuildExample(t *testing.T, name, changes, signed string) (src, dsc string) {
	t.Helper()
	testutil.RequireTool(t, "dpkg-buildpackage")
	testutil.RequireTool(t, "dh")
	key, cert := exampleKey(t)
	dir := t.TempDir()
	src = filepath.Join(dir, name)
	copyDir(t, filepath.Join(testutil.RepoRoot(t), "debian-examples", name), src)
	dpkgBuild(t, src, append(noKeyEnv(t), "MKSIGNED_KEY="+key, "MKSIGNED_CERT="+cert),
		"--hook-done="+mksignedBin+" hook %p %v")
	onlyFile(t, dir, changes)
	for _, ext := range []string{".dsc", ".tar.xz"} {
		if _, err := os.Stat(filepath.Join(dir, signed+ext)); err != nil {
			t.Fatalf("the hook wrote no %s beside %s: %v; the build directory holds %q",
				signed+ext, changes, err, testutil.ListDir(t, dir))
		}
	}
	return src, filepath.Join(dir, signed+".dsc")
}

// TestExampleKmod goes the whole way with debian-examples/hello-kmod, an
// out-of-tree kernel module: dpkg-buildpackage builds it against Debian's
// linux-headers-amd64, with mksigned's hook, which reads the
// debian/signing.yaml that build wrote and signs with
// debian-examples/test-key; then dpkg-buildpackage builds the signed
// source package (buildSigned: nothing installed). The signed hello.ko
// must show test-key's signer and key id in modinfo, and its signature
// must verify with openssl cms over the module as built.
func TestExampleKmod(t *testing.T) {
	for _, tool := range []string{"make", "gcc", "openssl"} {
		testutil.RequireTool(t, tool)
	}
	modinfo := testutil.RequireTool(t, "modinfo")
	signFile := testutil.RequireTool(t, testutil.SignFile)
	if hs, _ := filepath.Glob("/usr/src/linux-headers-*-amd64"); len(hs) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no /usr/src/linux-headers-*-amd64: CI must install linux-headers-amd64 (see .ci/run)")
		}
		t.Skip("skipping: linux-headers-amd64 is not installed")
	}
	src, dsc := hookBuildExample(t, "hello-kmod", "hello-kmod_1.0_amd64.changes", "hello-kmod-signed_1+1.0")
	unsigned := onlyFile(t, filepath.Dir(src), "hello-kmod-modules-unsigned_1.0_amd64.deb")
	ko := debFiles(t, unsigned)
	if len(ko) != 1 || !regexp.MustCompile(`^lib/modules/[^/]+-amd64/updates/hello\.ko$`).MatchString(ko[0]) {
		t.Fatalf("hello-kmod-modules-unsigned ships %q, want one lib/modules/*-amd64/updates/hello.ko", ko)
	}
	module, err := os.ReadFile(filepath.Join(extract(t, unsigned), ko[0]))
	if err != nil {
		t.Fatal(err)
	}

	_, cert := exampleKey(t)
	built := onlyFile(t, buildSigned(t, dsc, unsigned), "hello-kmod-modules-signed_1+1.0_amd64.deb")
	if got := debFiles(t, built); len(got) != 1 || got[0] != ko[0] {
		t.Errorf("hello-kmod-modules-signed ships %q, want only %s", got, ko[0])
	}
	// It takes the unsigned package's place, dependencies and all.
	kvers := strings.Split(ko[0], "/")[2]
	for field, want := range map[string]string{
		"Depends":   "linux-image-" + kvers + " | linux-image-" + kvers + "-unsigned",
		"Conflicts": "hello-kmod-modules-unsigned",
		"Replaces":  "hello-kmod-modules-unsigned",
		"Provides":  "hello-kmod-modules-unsigned (= 1.0)",
	} {
		if got := debField(t, built, field); got != want {
			t.Errorf("hello-kmod-modules-signed %s: %q, want %q", field, got, want)
		}
	}
	signedKo := filepath.Join(extract(t, built), ko[0])
	signed, err := os.ReadFile(signedKo)
	if err != nil {
		t.Fatal(err)
	}
	checkSignedModule(t, signFile, signed, module, cert)

	// modinfo reads the signature block: signer is the certificate's
	// issuer CN, sig_key its serial number in hex.
	c := readCert(t, cert)
	info := string(testutil.Run(t, "", modinfo, signedKo))
	var serial []string
	der := c.SerialNumber.Bytes()
	if der[0]&0x80 != 0 {
		der = append([]byte{0}, der...) // as DER writes a positive INTEGER
	}
	for _, b := range der {
		serial = append(serial, fmt.Sprintf("%02X", b))
	}
	for field, want := range map[string]string{
		"sig_id":       "PKCS#7",
		"signer":       c.Issuer.CommonName,
		"sig_key":      strings.Join(serial, ":"),
		"sig_hashalgo": "sha256",
	} {
		m := regexp.MustCompile(`(?m)^` + field + `:\s*(.*)$`).FindStringSubmatch(info)
		if m == nil || m[1] != want {
			t.Errorf("modinfo %s: %q, want %q; modinfo said:\n%s", field, m, want, info)
		}
	}
	if info := string(testutil.Run(t, "", modinfo, filepath.Join(extract(t, unsigned), ko[0]))); strings.Contains(info, "signer:") {
		t.Errorf("the unsigned module has a signer:\n%s", info)
	}
}

// readCert parses a PEM certificate.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
