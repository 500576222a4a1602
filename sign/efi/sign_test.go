package efi

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign/authenticode"
	"github.com/mksigned/mksigned/sign/pkcs7"
)

// signingTime is a fixed time for fresh signatures: the date of the
// fixtures, as SOURCE_DATE_EPOCH would give it.
var signingTime = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// TestSignWithRealTools signs each unsigned binary with a test key and
// has sbverify and osslsigncode check the result; sbattach must attach
// the same signature to the same bytes.
func TestSignWithRealTools(t *testing.T) {
	t.Parallel()
	sbattach := testutil.RequireTool(t, "sbattach")
	sbverify := testutil.RequireTool(t, "sbverify")
	osslsigncode := testutil.RequireTool(t, "osslsigncode")
	key := testutil.NewKey(t, 2048)
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			unsigned := fixture(t, p.unsignedDeb, p.unsignedPath)
			digest, err := Digest(unsigned)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := Sign(key.Signer, key.Cert, digest, signingTime)
			if err != nil {
				t.Fatal(err)
			}
			signed, err := Attach(unsigned, sig)
			if err != nil {
				t.Fatal(err)
			}
			unsignedPath := writeFile(t, dir, "unsigned.efi", unsigned)
			signedPath := writeFile(t, dir, "signed.efi", signed)
			sigPath := writeFile(t, dir, "image.sig", sig)

			testutil.Run(t, dir, sbverify, "--cert", key.CertPath, signedPath)
			testutil.Run(t, dir, sbverify, "--cert", key.CertPath, "--detached", sigPath, unsignedPath)
			out := testutil.Run(t, dir, osslsigncode, "verify", "-CAfile", key.CertPath, "-in", signedPath)
			if !strings.Contains(string(out), "Succeeded") {
				t.Errorf("osslsigncode verify did not say Succeeded:\n%s", out)
			}

			sbattached := writeFile(t, dir, "sbattach.efi", unsigned)
			testutil.Run(t, dir, sbattach, "--attach", sigPath, sbattached)
			if want := readFile(t, sbattached); !bytes.Equal(signed, want) {
				t.Errorf("Attach: got %d bytes, sbattach --attach wrote %d; first difference at %#x", len(signed), len(want), firstDiff(signed, want))
			}

			if err := Verify(signed, sig, key.Cert); err != nil {
				t.Errorf("Verify(signed, sig, cert): %v", err)
			}
			if err := Verify(unsigned, sig, nil); err != nil {
				t.Errorf("Verify(unsigned, sig, nil): %v", err)
			}

			// One changed byte in a section must fail everywhere.
			img, err := Parse(signed)
			if err != nil {
				t.Fatal(err)
			}
			tampered := bytes.Clone(signed)
			tampered[img.sections[0].ptr+100] ^= 0x01
			tamperedPath := writeFile(t, dir, "tampered.efi", tampered)
			if out := runFail(t, dir, sbverify, "--cert", key.CertPath, tamperedPath); !strings.Contains(out, "fails hash check") {
				t.Errorf("sbverify on a tampered image failed, but not with a hash check:\n%s", out)
			}
			runFail(t, dir, osslsigncode, "verify", "-CAfile", key.CertPath, "-in", tamperedPath)
			var mismatch *DigestMismatchError
			if err := Verify(tampered, sig, key.Cert); !errors.As(err, &mismatch) {
				t.Errorf("Verify(tampered): got error %v, want a *DigestMismatchError", err)
			}
		})
	}
}

// TestSignDeterministic signs twice with the same time and expects the
// same bytes, with and without signingTime.
func TestSignDeterministic(t *testing.T) {
	t.Parallel()
	key := testutil.NewKey(t, 2048)
	digest, err := hex.DecodeString(pairs[0].digest)
	if err != nil {
		t.Fatal(err)
	}
	for _, when := range []time.Time{signingTime, {}, signingTime.In(time.FixedZone("CET", 3600)).Add(999 * time.Millisecond)} {
		a, err := Sign(key.Signer, key.Cert, digest, when)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Sign(key.Signer, key.Cert, digest, when)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("two signatures at %v differ", when)
		}
		sd, err := pkcs7.Parse(a)
		if err != nil {
			t.Fatal(err)
		}
		got := sd.Signers[0].SigningTime
		switch {
		case when.IsZero() && got != nil:
			t.Errorf("zero time: signingTime %v written, want none", got)
		case !when.IsZero() && (got == nil || !got.Equal(signingTime)):
			t.Errorf("time %v: signingTime %v, want %v", when, got, signingTime)
		}
	}
}

// TestSignLayoutMatchesDebian compares a fresh signature with Debian's
// current shim signature: with the same digest and signingTime, the
// SpcIndirectDataContent and the signed attributes must be the same bytes.
// Only the certificate, the signer's name and serial, and the RSA value
// may differ.
func TestSignLayoutMatchesDebian(t *testing.T) {
	t.Parallel()
	key := testutil.NewKey(t, 2048)
	for _, p := range pairs[1:] { // shim: Debian's current layout (fwupd's is pesign's .21)
		debianSig, err := Detach(fixture(t, p.signedDeb, p.signedPath), 0)
		if err != nil {
			t.Fatal(err)
		}
		debian, err := pkcs7.Parse(debianSig)
		if err != nil {
			t.Fatal(err)
		}
		digest, err := SignedDigest(debianSig)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := Sign(key.Signer, key.Cert, digest, *debian.Signers[0].SigningTime)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := pkcs7.Parse(sig)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.Content, debian.Content) {
			t.Errorf("%s: SpcIndirectDataContent\n got %x\nwant %x", p.name, ours.Content, debian.Content)
		}
		if !bytes.Equal(ours.Signers[0].RawSignedAttrs, debian.Signers[0].RawSignedAttrs) {
			t.Errorf("%s: signed attributes\n got %x\nwant %x", p.name, ours.Signers[0].RawSignedAttrs, debian.Signers[0].RawSignedAttrs)
		}
		if ours.Version != debian.Version || len(ours.Certificates) != 1 || len(ours.Signers) != 1 ||
			!ours.Signers[0].SignatureAlgorithm.Equal(debian.Signers[0].SignatureAlgorithm) ||
			!ours.ContentType.Equal(debian.ContentType) {
			t.Errorf("%s: SignedData differs in version, certificates, signers, content type or signature algorithm", p.name)
		}
	}
	// The empty file link, byte for byte (docs/formats.md §1.4).
	content, err := authenticode.MarshalIndirectData(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if want := "3009030100a004a2028000"; !strings.Contains(hex.EncodeToString(content), want) {
		t.Errorf("SpcPeImageData %x does not contain %s", content, want)
	}
}

// TestVerifyDebian verifies Debian's signatures with the certificate they
// carry, and checks what a signature for another file gives.
func TestVerifyDebian(t *testing.T) {
	t.Parallel()
	sigs := map[string][]byte{}
	for _, p := range pairs {
		signed := fixture(t, p.signedDeb, p.signedPath)
		sig, err := Detach(signed, 0)
		if err != nil {
			t.Fatal(err)
		}
		sigs[p.name] = sig
		if err := Verify(signed, sig, nil); err != nil {
			t.Errorf("%s: Verify(Debian's signed file): %v", p.name, err)
		}
		if err := Verify(fixture(t, p.unsignedDeb, p.unsignedPath), sig, nil); err != nil {
			t.Errorf("%s: Verify(Debian's unsigned file, detached signature): %v", p.name, err)
		}
		sd, err := pkcs7.Parse(sig)
		if err != nil {
			t.Fatal(err)
		}
		signer := sd.SignerCertificate(&sd.Signers[0])
		if signer == nil || !strings.Contains(signer.Subject.CommonName, "Debian Secure Boot Signer") {
			t.Fatalf("%s: signer certificate %v, want Debian's", p.name, signer)
		}
		if err := Verify(signed, sig, signer); err != nil {
			t.Errorf("%s: Verify with Debian's signer certificate: %v", p.name, err)
		}
		if err := Verify(signed, sig, testutil.NewKey(t, 2048).Cert); err == nil {
			t.Errorf("%s: Verify with an unrelated certificate: got no error", p.name)
		}
	}

	// fwupd's signature on fbx64.
	fbx64 := fixture(t, pairs[1].unsignedDeb, pairs[1].unsignedPath)
	for name, err := range map[string]error{
		"Verify": Verify(fbx64, sigs["fwupdx64"], nil),
		"Attach": func() error { _, err := Attach(fbx64, sigs["fwupdx64"]); return err }(),
	} {
		var mismatch *DigestMismatchError
		if !errors.As(err, &mismatch) {
			t.Errorf("%s with another file's signature: got error %v, want a *DigestMismatchError", name, err)
			continue
		}
		for _, want := range []string{pairs[0].digest, pairs[1].digest} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not show digest %s", name, err, want)
			}
		}
	}
}

// TestVerifyBadSignature changes parts of a good signature.
func TestVerifyBadSignature(t *testing.T) {
	t.Parallel()
	key := testutil.NewKey(t, 2048)
	unsigned := fixture(t, pairs[0].unsignedDeb, pairs[0].unsignedPath)
	digest, err := Digest(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(key.Signer, key.Cert, digest, signingTime)
	if err != nil {
		t.Fatal(err)
	}
	content, err := authenticode.MarshalIndirectData(digest)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte { b := bytes.Clone(sig); b[at] ^= 0x01; return b }
	contentAt := bytes.Index(sig, content)
	tests := []struct {
		name    string
		sig     []byte
		message string
	}{
		{"empty", nil, ""},
		{"text", []byte("-----BEGIN PKCS7-----"), ""},
		{"truncated", sig[:len(sig)/2], ""},
		{"RSA value", flip(len(sig) - 1), "verification"},
		// Changing a byte of the file link leaves the digest alone but
		// breaks messageDigest.
		{"content", flip(contentAt + 20), "messageDigest"},
		{"digest in content", flip(contentAt + len(content) - 1), "signature is for another image"},
	}
	for _, tt := range tests {
		err := Verify(unsigned, tt.sig, key.Cert)
		if err == nil {
			t.Errorf("%s: Verify got no error", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.message) {
			t.Errorf("%s: error %q does not contain %q", tt.name, err, tt.message)
		}
	}
	if _, err := SignedDigest([]byte("junk")); err == nil {
		t.Error("SignedDigest(junk): got no error")
	}
	if _, err := Attach(unsigned, []byte("junk")); err == nil {
		t.Error("Attach(junk signature): got no error")
	}
	if _, err := Sign(key.Signer, key.Cert, digest[:20], signingTime); err == nil {
		t.Error("Sign(20-byte digest): got no error")
	}
}

// TestVerifyIssuer signs with a leaf certificate issued by a test CA:
// Verify and sbverify accept the CA certificate in place of the leaf.
func TestVerifyIssuer(t *testing.T) {
	t.Parallel()
	sbverify := testutil.RequireTool(t, "sbverify")
	caKey, caCert := newCert(t, "mksigned test CA", nil, nil)
	leafKey, leafCert := newCert(t, "mksigned test signer", caKey, caCert)
	_, otherCA := newCert(t, "mksigned other CA", nil, nil)

	unsigned := fixture(t, pairs[1].unsignedDeb, pairs[1].unsignedPath)
	digest, err := Digest(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(leafKey, leafCert, digest, signingTime)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Attach(unsigned, sig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{nil, leafCert, caCert} {
		if err := Verify(signed, sig, c); err != nil {
			t.Errorf("Verify with %v: %v", c.Subject, err)
		}
	}
	if err := Verify(signed, sig, otherCA); err == nil {
		t.Error("Verify with another CA: got no error")
	}

	dir := t.TempDir()
	signedPath := writeFile(t, dir, "signed.efi", signed)
	caPath := writeFile(t, dir, "ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}))
	otherPath := writeFile(t, dir, "other.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCA.Raw}))
	testutil.Run(t, dir, sbverify, "--cert", caPath, signedPath)
	runFail(t, dir, sbverify, "--cert", otherPath, signedPath)
}

// newCert returns an RSA-2048 key and a certificate for it, issued by
// parent (self-signed if parent is nil). Certificates without a parent are
// CAs.
func newCert(t *testing.T, cn string, parentKey crypto.Signer, parent *x509.Certificate) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true,
		IsCA:                  parent == nil,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// runFail runs a command that must fail and returns its combined output.
func runFail(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Errorf("%s %s: got error %v, want a non-zero exit\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}
