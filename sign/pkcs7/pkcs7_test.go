package pkcs7

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

var oidSPCIndirectData = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}

// spcContent is a SpcIndirectDataContent as Debian's signatures carry it
// (docs/formats.md §1.4), with the given image digest.
func spcContent(t *testing.T, digest []byte) []byte {
	t.Helper()
	type alg struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	type digestInfo struct {
		Algorithm alg
		Digest    []byte
	}
	type attr struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	type idc struct {
		Data          attr
		MessageDigest digestInfo
	}
	// SpcPeImageData ::= SEQUENCE { flags BIT STRING (03 01 00), file [0] SpcLink { [2] file SpcString { [0] BMPString "" } } }
	peImage := asn1.RawValue{FullBytes: []byte{0x30, 0x09, 0x03, 0x01, 0x00, 0xa0, 0x04, 0xa2, 0x02, 0x80, 0x00}}
	der, err := asn1.Marshal(idc{
		Data:          attr{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 15}, peImage},
		MessageDigest: digestInfo{alg{OIDSHA256, asn1.NullRawValue}, digest},
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// contentsDigest is SHA-256 of the contents octets of a DER element:
// what messageDigest covers for Authenticode.
func contentsDigest(t *testing.T, der []byte) []byte {
	t.Helper()
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(v.Bytes)
	return h[:]
}

func moduleOptions(digest []byte) SignOptions {
	return SignOptions{ContentType: OIDData, Digest: digest}
}

func efiOptions(t *testing.T, when *time.Time) SignOptions {
	content := spcContent(t, bytes.Repeat([]byte{0xab}, 32))
	return SignOptions{
		ContentType:        oidSPCIndirectData,
		Content:            content,
		Digest:             contentsDigest(t, content),
		Attributes:         &Attributes{SigningTime: when, EmptySMIMECapabilities: true},
		IncludeCertificate: true,
		DigestNullParams:   true,
	}
}

func TestSignParseRoundTrip(t *testing.T) {
	t.Parallel()
	rsa2048 := testutil.NewKey(t, 2048)
	ec := testutil.NewKey(t, 0)
	when := time.Date(2026, 4, 6, 21, 49, 10, 0, time.UTC)
	far := time.Date(2051, 1, 2, 3, 4, 5, 0, time.UTC)
	moduleDigest := sha256.Sum256([]byte("module"))

	tests := []struct {
		name    string
		key     *testutil.Key
		opts    SignOptions
		version int
		attrs   []asn1.ObjectIdentifier // signed attribute types in encoded order
	}{
		{name: "module", key: rsa2048, opts: moduleOptions(moduleDigest[:]), version: 1},
		{name: "module-skid", key: rsa2048, opts: func() SignOptions {
			o := moduleOptions(moduleDigest[:])
			o.SubjectKeyID = true
			return o
		}(), version: 3},
		{name: "module-ecdsa", key: ec, opts: moduleOptions(moduleDigest[:]), version: 1},
		{name: "efi", key: rsa2048, opts: efiOptions(t, &when), version: 1, attrs: []asn1.ObjectIdentifier{
			OIDAttributeSMIMECapabilities, OIDAttributeContentType, OIDAttributeSigningTime, OIDAttributeMessageDigest}},
		{name: "efi-no-time", key: rsa2048, opts: efiOptions(t, nil), version: 1, attrs: []asn1.ObjectIdentifier{
			OIDAttributeSMIMECapabilities, OIDAttributeContentType, OIDAttributeMessageDigest}},
		{name: "efi-2051", key: rsa2048, opts: efiOptions(t, &far), version: 1, attrs: []asn1.ObjectIdentifier{
			OIDAttributeSMIMECapabilities, OIDAttributeContentType, OIDAttributeSigningTime, OIDAttributeMessageDigest}},
		{name: "efi-ecdsa", key: ec, opts: efiOptions(t, &when), version: 1, attrs: []asn1.ObjectIdentifier{
			OIDAttributeSMIMECapabilities, OIDAttributeContentType, OIDAttributeSigningTime, OIDAttributeMessageDigest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			der, err := Sign(tt.key.Signer, tt.key.Cert, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Sign(tt.key.Signer, tt.key.Cert, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, isEC := tt.key.Signer.Public().(*ecdsa.PublicKey)
			if !isEC && !bytes.Equal(der, again) {
				t.Errorf("two RSA signatures with the same input differ")
			}
			sd, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sd.Raw, der) {
				t.Errorf("Raw differs from the input")
			}
			if sd.Version != tt.version {
				t.Errorf("got version %d, want %d", sd.Version, tt.version)
			}
			if diff := cmp.Diff([]asn1.ObjectIdentifier{OIDSHA256}, sd.DigestAlgorithms); diff != "" {
				t.Errorf("digestAlgorithms (-want +got):\n%s", diff)
			}
			if !sd.ContentType.Equal(tt.opts.ContentType) {
				t.Errorf("got content type %v, want %v", sd.ContentType, tt.opts.ContentType)
			}
			if !bytes.Equal(sd.Content, tt.opts.Content) || (sd.Content == nil) != (tt.opts.Content == nil) {
				t.Errorf("got content %x, want %x", sd.Content, tt.opts.Content)
			}
			if got, want := len(sd.Certificates), map[bool]int{false: 0, true: 1}[tt.opts.IncludeCertificate]; got != want {
				t.Fatalf("got %d certificates, want %d", got, want)
			}
			if len(sd.Signers) != 1 {
				t.Fatalf("got %d signers, want 1", len(sd.Signers))
			}
			si := &sd.Signers[0]
			if si.Version != tt.version {
				t.Errorf("got signer version %d, want %d", si.Version, tt.version)
			}
			if tt.opts.SubjectKeyID {
				if !bytes.Equal(si.SubjectKeyID, tt.key.Cert.SubjectKeyId) || si.Issuer != nil || si.SerialNumber != nil {
					t.Errorf("got sid skid=%x issuer=%x serial=%v, want skid %x only", si.SubjectKeyID, si.Issuer, si.SerialNumber, tt.key.Cert.SubjectKeyId)
				}
			} else if !bytes.Equal(si.Issuer, tt.key.Cert.RawIssuer) || si.SerialNumber.Cmp(tt.key.Cert.SerialNumber) != 0 || si.SubjectKeyID != nil {
				t.Errorf("got sid issuer=%x serial=%v skid=%x, want the certificate's issuer and serial", si.Issuer, si.SerialNumber, si.SubjectKeyID)
			}
			if tt.opts.IncludeCertificate && sd.SignerCertificate(si) == nil {
				t.Errorf("SignerCertificate found nothing")
			}
			if got := attrTypes(t, si.RawSignedAttrs); !cmp.Equal(got, tt.attrs) {
				t.Errorf("signed attribute order:\ngot  %v\nwant %v", got, tt.attrs)
			}
			if tt.opts.Attributes != nil {
				if !bytes.Equal(si.MessageDigest, tt.opts.Digest) || !si.ContentType.Equal(tt.opts.ContentType) {
					t.Errorf("got messageDigest %x contentType %v, want %x %v", si.MessageDigest, si.ContentType, tt.opts.Digest, tt.opts.ContentType)
				}
				if want := tt.opts.Attributes.SigningTime; (want == nil) != (si.SigningTime == nil) || want != nil && !want.Equal(*si.SigningTime) {
					t.Errorf("got signingTime %v, want %v", si.SigningTime, want)
				}
			}
			if err := si.Verify(tt.key.Cert, tt.opts.Digest); err != nil {
				t.Errorf("Verify: %v", err)
			}

			// Negative cases: another digest, another certificate.
			wrong := sha256.Sum256([]byte("other"))
			err = si.Verify(tt.key.Cert, wrong[:])
			if isEC && tt.opts.Attributes == nil {
				// An ECDSA signature does not reveal what it signed.
				if err == nil || !strings.Contains(err.Error(), "does not verify") {
					t.Errorf("Verify with a wrong digest: got %v, want a failed signature", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), "digest mismatch") ||
				!strings.Contains(err.Error(), hexOf(wrong[:])) || !strings.Contains(err.Error(), hexOf(tt.opts.Digest)) {
				t.Errorf("Verify with a wrong digest: got %v, want a digest mismatch showing %x and %x", err, wrong, tt.opts.Digest)
			}
			other := testutil.NewKey(t, 3072)
			if err := si.Verify(other.Cert, tt.opts.Digest); err == nil || !strings.Contains(err.Error(), "does not match certificate") {
				t.Errorf("Verify with another certificate: got %v, want a signer mismatch", err)
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

// attrTypes returns the attribute types in a SET OF Attribute, in order.
func attrTypes(t *testing.T, set []byte) []asn1.ObjectIdentifier {
	t.Helper()
	if set == nil {
		return nil
	}
	var attrs []struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue `asn1:"set"`
	}
	if rest, err := asn1.UnmarshalWithParams(set, &attrs, "set"); err != nil || len(rest) > 0 {
		t.Fatalf("signed attributes: %v (%d bytes left)", err, len(rest))
	}
	var types []asn1.ObjectIdentifier
	for _, a := range attrs {
		types = append(types, a.Type)
	}
	return types
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	k := testutil.NewKey(t, 2048)
	other := testutil.NewKey(t, 0)
	digest := make([]byte, 32)
	noSKID := *k.Cert
	noSKID.SubjectKeyId = nil
	tests := []struct {
		name   string
		signer crypto.Signer
		cert   *x509.Certificate
		opts   SignOptions
		want   string
	}{
		{"short digest", k.Signer, k.Cert, SignOptions{ContentType: OIDData, Digest: digest[:20]}, "digest is 20 bytes"},
		{"no content type", k.Signer, k.Cert, SignOptions{Digest: digest}, "no content type"},
		{"bad content", k.Signer, k.Cert, SignOptions{ContentType: OIDData, Digest: digest, Content: []byte{0x30, 0x05, 0x00}}, "not one DER element"},
		{"key mismatch", other.Signer, k.Cert, SignOptions{ContentType: OIDData, Digest: digest}, "does not match certificate"},
		{"no skid", k.Signer, &noSKID, SignOptions{ContentType: OIDData, Digest: digest, SubjectKeyID: true}, "no subject key identifier"},
		{"nil cert", k.Signer, nil, SignOptions{ContentType: OIDData, Digest: digest}, "no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Sign(tt.signer, tt.cert, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestOpenSSLVerifiesAttributes checks the signed-attribute flavour with a
// real verifier: OpenSSL's CMS code recomputes messageDigest over the
// embedded data and checks the signature over the attribute SET.
func TestOpenSSLVerifiesAttributes(t *testing.T) {
	t.Parallel()
	openssl := testutil.RequireTool(t, "openssl")
	for _, bits := range []int{2048, 0} {
		k := testutil.NewKey(t, bits)
		payload := []byte("payload signed with attributes\n")
		content, err := asn1.Marshal(payload) // eContent of type data is an OCTET STRING
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(payload)
		when := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
		der, err := Sign(k.Signer, k.Cert, SignOptions{
			ContentType: OIDData, Content: content, Digest: digest[:],
			Attributes:         &Attributes{SigningTime: &when, EmptySMIMECapabilities: true},
			IncludeCertificate: true, DigestNullParams: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		sig := filepath.Join(dir, "sig.p7")
		if err := os.WriteFile(sig, der, 0o644); err != nil {
			t.Fatal(err)
		}
		out := testutil.Run(t, dir, openssl, "cms", "-verify", "-inform", "DER", "-in", sig, "-CAfile", k.CertPath, "-purpose", "any", "-binary")
		if !bytes.Equal(out, payload) {
			t.Errorf("openssl cms -verify output %q, want %q", out, payload)
		}

		// A changed payload (same length) must fail in OpenSSL too.
		bad := bytes.Replace(der, payload, []byte("PAYLOAD signed with attributes\n"), 1)
		if err := os.WriteFile(sig, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-in", sig, "-CAfile", k.CertPath, "-purpose", "any", "-binary")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("openssl cms -verify accepted a tampered payload:\n%s", out)
		}
	}
}

// debianEFISignature returns the PKCS#7 of a file in one of Debian's
// signed packages, detached with sbattach.
func debianEFISignature(t testing.TB, deb, path string) []byte {
	t.Helper()
	dpkgDeb := testutil.RequireTool(t, "dpkg-deb")
	sbattach := testutil.RequireTool(t, "sbattach")
	dir := t.TempDir()
	testutil.Run(t, dir, dpkgDeb, "-x", testutil.DebianFixture(t, deb), "root")
	testutil.Run(t, dir, sbattach, "--detach", "sig", filepath.Join("root", path))
	sig, err := os.ReadFile(filepath.Join(dir, "sig"))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestDebianEFISignatures rebuilds Debian's published Authenticode
// signatures byte for byte: the same content, signing time, certificate
// and RSA value through our builder must give Debian's DER.
func TestDebianEFISignatures(t *testing.T) {
	t.Parallel()
	tests := []struct{ deb, path string }{
		{"shim-helpers-amd64-signed_1+16.1+2~deb12u1_amd64.deb", "usr/lib/shim/fbx64.efi.signed"},
		{"shim-helpers-amd64-signed_1+16.1+2~deb12u1_amd64.deb", "usr/lib/shim/mmx64.efi.signed"},
		{"fwupd-amd64-signed_1.4+1_amd64.deb", "usr/libexec/fwupd/efi/fwupdx64.efi.signed"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			t.Parallel()
			want := debianEFISignature(t, tt.deb, tt.path)
			sd, err := Parse(want)
			if err != nil {
				t.Fatal(err)
			}
			if len(sd.Signers) != 1 || len(sd.Certificates) != 1 {
				t.Fatalf("got %d signers and %d certificates, want 1 and 1", len(sd.Signers), len(sd.Certificates))
			}
			si := &sd.Signers[0]
			cert := sd.SignerCertificate(si)
			if cert == nil {
				t.Fatal("SignerCertificate found nothing")
			}
			if !strings.Contains(cert.Subject.CommonName, "Debian Secure Boot Signer") {
				t.Errorf("signer is %q, want Debian's", cert.Subject)
			}
			if !sd.ContentType.Equal(oidSPCIndirectData) || si.SigningTime == nil {
				t.Fatalf("got content type %v, signing time %v; want SPC_INDIRECT_DATA and a time", sd.ContentType, si.SigningTime)
			}
			digest := contentsDigest(t, sd.Content)
			if err := si.Verify(cert, digest); err != nil {
				t.Fatalf("Verify of Debian's signature: %v", err)
			}
			attrsHash := sha256.Sum256(si.RawSignedAttrs)
			got, err := Sign(testutil.ReplaySigner{T: t, Pub: cert.PublicKey, WantHash: attrsHash[:], Sig: si.Signature}, cert, SignOptions{
				ContentType:        sd.ContentType,
				Content:            sd.Content,
				Digest:             digest,
				Attributes:         &Attributes{SigningTime: si.SigningTime, EmptySMIMECapabilities: true},
				IncludeCertificate: true,
				DigestNullParams:   true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rebuilt signature differs from Debian's (%d bytes, want %d)\ngot  %x\nwant %x", len(got), len(want), got, want)
			}
		})
	}
}

func TestParseTrailingData(t *testing.T) {
	t.Parallel()
	k := testutil.NewKey(t, 2048)
	digest := sha256.Sum256(nil)
	der, err := Sign(k.Signer, k.Cert, moduleOptions(digest[:]))
	if err != nil {
		t.Fatal(err)
	}
	padded := append(append([]byte{}, der...), 0, 0, 0, 0, 0, 0, 0)
	sd, err := Parse(padded)
	if err != nil {
		t.Fatalf("zero padding: %v", err)
	}
	if !bytes.Equal(sd.Raw, der) {
		t.Errorf("Raw includes the padding")
	}
	junk := append(append([]byte{}, der...), 0, 0, 1)
	_, err = Parse(junk)
	var ie *inputerr.Error
	if !errors.As(err, &ie) || ie.Offset != int64(len(der)+2) {
		t.Errorf("non-zero trailing byte: got %v, want an *inputerr.Error at offset %#x", err, len(der)+2)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	k := testutil.NewKey(t, 2048)
	digest := sha256.Sum256(nil)
	module, err := Sign(k.Signer, k.Cert, moduleOptions(digest[:]))
	if err != nil {
		t.Fatal(err)
	}
	// Layout of a module signature of 256..65535 bytes: 30 82 LL LL |
	// 06 09 signedData | a0 82 LL LL | 30 82 LL LL | 02 01 01 (version) |
	// 31 0d (digestAlgorithms, offset 26) | 30 0b 06 09 sha256 | 30 0b
	// (encapContentInfo, offset 41).
	mutate := func(off int, b byte) []byte {
		c := bytes.Clone(module)
		c[off] = b
		return c
	}
	tests := []struct {
		name   string
		in     []byte
		offset int64
		field  string
		msg    string
	}{
		{"empty", nil, 0, "contentInfo", "missing"},
		{"not a sequence", []byte("hello world"), 0, "contentInfo", "want tag 0x30, found 0x68"},
		{"indefinite length", []byte{0x30, 0x80, 0x06, 0x00, 0x00, 0x00}, 0, "contentInfo", "indefinite length"},
		{"truncated", module[:100], 0, "contentInfo", "truncated"},
		{"wrong content type", mutate(14, 0x01), 0, "contentInfo.contentType", "want signedData"},
		{"digestAlgorithms not a set", mutate(26, 0x30), 26, "signedData.digestAlgorithms", "want tag 0x31, found 0x30"},
		{"version not an integer", mutate(23, 0x04), 23, "signedData.version", "want tag 0x02"},
		{"negative version", mutate(25, 0xff), 23, "signedData.version", "out of range"},
		{"encapContentInfo not a sequence", mutate(41, 0x31), 41, "signedData.encapContentInfo", "want tag 0x30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.in)
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *inputerr.Error", err)
			}
			if ie.Offset != tt.offset || ie.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got offset %#x field %q error %q; want offset %#x field %q containing %q", ie.Offset, ie.Field, err, tt.offset, tt.field, tt.msg)
			}
		})
	}
}

// TestParseEveryPrefix parses every truncation of real signatures: each
// must fail with an *inputerr.Error, never panic.
func TestParseEveryPrefix(t *testing.T) {
	t.Parallel()
	for _, seed := range seeds(t) {
		for n := range len(seed) {
			_, err := Parse(seed[:n])
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("prefix of %d bytes: got %v, want an *inputerr.Error", n, err)
			}
		}
	}
}
