package kmod

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign/pkcs7"
)

// debianModule returns testdata/debian/dummy.ko as Debian ships it
// (signed by Debian's build key) and without that signature, stripped by
// hand (the last sig_len+40 bytes) so the test does not depend on Detach.
func debianModule(tb testing.TB) (signed, unsigned []byte) {
	tb.Helper()
	signed, err := os.ReadFile(testutil.DebianFixture(tb, "dummy.ko"))
	if err != nil {
		tb.Fatal(err)
	}
	sigLen := int(binary.BigEndian.Uint32(signed[len(signed)-40+8:]))
	return signed, signed[:len(signed)-sigLen-40]
}

// TestSignMatchesSignFile compares our signature and signed module with
// what Linux's sign-file writes for the same key, byte for byte, and has
// OpenSSL check the signature.
func TestSignMatchesSignFile(t *testing.T) {
	t.Parallel()
	signFile := testutil.RequireTool(t, testutil.SignFile)
	openssl := testutil.RequireTool(t, "openssl")
	_, module := debianModule(t)
	for _, bits := range []int{2048, 4096} {
		for _, skid := range []bool{false, true} {
			t.Run(fmt.Sprintf("rsa%d/skid=%v", bits, skid), func(t *testing.T) {
				t.Parallel()
				key := testutil.NewKey(t, bits)
				keyPath := key.KeyPath
				if skid {
					keyPath = key.KeyPKCS1Path // sign-file reads both PEM forms
				}
				dir := t.TempDir()
				ko := filepath.Join(dir, "m.ko")
				if err := os.WriteFile(ko, module, 0o644); err != nil {
					t.Fatal(err)
				}
				var flags []string
				if skid {
					flags = []string{"-k"}
				}
				testutil.Run(t, dir, signFile, append(append([]string{"-d"}, flags...), "sha256", keyPath, key.CertPath, ko)...)
				wantSig, err := os.ReadFile(ko + ".p7s")
				if err != nil {
					t.Fatal(err)
				}
				testutil.Run(t, dir, signFile, append(flags, "sha256", keyPath, key.CertPath, ko, filepath.Join(dir, "signed.ko"))...)
				wantSigned, err := os.ReadFile(filepath.Join(dir, "signed.ko"))
				if err != nil {
					t.Fatal(err)
				}

				digest, err := Digest(module)
				if err != nil {
					t.Fatal(err)
				}
				sig, err := SignWithOptions(key.Signer, key.Cert, digest, SignOptions{SubjectKeyID: skid})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(sig, wantSig) {
					t.Errorf("signature differs from sign-file -d (%d bytes, want %d)\ngot  %x\nwant %x", len(sig), len(wantSig), sig, wantSig)
				}
				signed, err := Attach(module, sig)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(signed, wantSigned) {
					t.Errorf("signed module differs from sign-file's (%d bytes, want %d)", len(signed), len(wantSigned))
				}

				gotModule, gotSig, err := Detach(wantSigned)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(gotModule, module) || !bytes.Equal(gotSig, wantSig) {
					t.Errorf("Detach of sign-file's output: got module %d bytes and signature %d bytes, want %d and %d", len(gotModule), len(gotSig), len(module), len(wantSig))
				}
				if err := Verify(module, sig, key.Cert); err != nil {
					t.Errorf("Verify: %v", err)
				}

				// OpenSSL, given the certificate separately, accepts it.
				sigPath := filepath.Join(dir, "m.sig")
				if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
					t.Fatal(err)
				}
				testutil.Run(t, dir, openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sigPath,
					"-content", ko, "-certfile", key.CertPath, "-nointern", "-noverify", "-out", os.DevNull)

				// Negative cases: tampered module, wrong certificate.
				tampered := bytes.Clone(module)
				tampered[len(tampered)/2] ^= 1
				if err := Verify(tampered, sig, key.Cert); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
					t.Errorf("Verify of a tampered module: got %v, want a digest mismatch", err)
				}
				if err := os.WriteFile(ko, tampered, 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", sigPath,
					"-content", ko, "-certfile", key.CertPath, "-nointern", "-noverify", "-out", os.DevNull)
				if out, err := cmd.CombinedOutput(); err == nil {
					t.Errorf("openssl cms -verify accepted a tampered module:\n%s", out)
				}
				other := testutil.NewKey(t, 3072)
				if err := Verify(module, sig, other.Cert); err == nil || !strings.Contains(err.Error(), "does not match certificate") {
					t.Errorf("Verify with another certificate: got %v, want a signer mismatch", err)
				}
			})
		}
	}
}

// TestDebianSignature checks the shape of the signature Debian's kernel
// build put on dummy.ko (docs/formats.md §2.4): RSA-4096, SHA-256, issuer
// and serial, no certificate, no attributes.
func TestDebianSignature(t *testing.T) {
	t.Parallel()
	signed, want := debianModule(t)
	if !IsSigned(signed) || IsSigned(want) {
		t.Fatalf("IsSigned: got %v for the signed and %v for the stripped module", IsSigned(signed), IsSigned(want))
	}
	module, sig, err := Detach(signed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(module, want) {
		t.Fatalf("Detach: got a %d-byte module, want %d", len(module), len(want))
	}
	if len(sig) != 681 {
		t.Errorf("got a %d-byte signature, want 681", len(sig))
	}
	sd, err := pkcs7.Parse(sig)
	if err != nil {
		t.Fatal(err)
	}
	if sd.Version != 1 || !sd.ContentType.Equal(pkcs7.OIDData) || sd.Content != nil || len(sd.Certificates) != 0 || len(sd.Signers) != 1 {
		t.Fatalf("got version %d, content type %v, content %x, %d certificates, %d signers; want 1, data, none, 0, 1",
			sd.Version, sd.ContentType, sd.Content, len(sd.Certificates), len(sd.Signers))
	}
	si := sd.Signers[0]
	if si.Version != 1 || si.Issuer == nil || si.SerialNumber == nil || si.SubjectKeyID != nil {
		t.Errorf("got signer version %d, issuer %x, serial %v, skid %x; want 1 with issuer and serial", si.Version, si.Issuer, si.SerialNumber, si.SubjectKeyID)
	}
	if !bytes.Contains(si.Issuer, []byte("Build time autogenerated kernel key")) {
		t.Errorf("issuer %q is not Debian's build key", si.Issuer)
	}
	if si.RawSignedAttrs != nil || !si.DigestAlgorithm.Equal(pkcs7.OIDSHA256) || !si.SignatureAlgorithm.Equal(pkcs7.OIDRSAEncryption) || len(si.Signature) != 512 {
		t.Errorf("got attrs %x, digest %v, signature %v of %d bytes; want none, sha256, rsaEncryption of 512",
			si.RawSignedAttrs, si.DigestAlgorithm, si.SignatureAlgorithm, len(si.Signature))
	}
	if err := Verify(module, sig, nil); err != nil {
		t.Errorf("structural Verify: %v", err)
	}
	// Our builder, given Debian's issuer, serial and RSA value, writes
	// Debian's signature byte for byte.
	key := testutil.NewKey(t, 2048)
	cert := &x509.Certificate{RawIssuer: si.Issuer, SerialNumber: si.SerialNumber, PublicKey: key.Signer.Public()}
	digest, err := Digest(module)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err := Sign(testutil.ReplaySigner{T: t, Pub: key.Signer.Public(), WantHash: digest, Sig: si.Signature}, cert, digest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rebuilt, sig) {
		t.Errorf("rebuilt signature differs from Debian's\ngot  %x\nwant %x", rebuilt, sig)
	}
	again, err := Attach(module, sig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, signed) {
		t.Errorf("Attach(Detach(dummy.ko)) differs from dummy.ko")
	}
	// Without Debian's certificate no signature check is possible; ours
	// must be refused.
	if err := Verify(module, sig, testutil.NewKey(t, 2048).Cert); err == nil {
		t.Errorf("Verify against an unrelated certificate passed")
	}
}

func TestAlreadySigned(t *testing.T) {
	t.Parallel()
	signed, _ := debianModule(t)
	if _, err := Digest(signed); !errors.Is(err, ErrSigned) {
		t.Errorf("Digest of a signed module: got %v, want ErrSigned", err)
	}
	if _, err := Attach(signed, []byte{0x30, 0x00}); !errors.Is(err, ErrSigned) {
		t.Errorf("Attach to a signed module: got %v, want ErrSigned", err)
	}
	stripped, err := Strip(signed)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Digest(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(stripped); !bytes.Equal(d, want[:]) {
		t.Errorf("got digest %x, want %x", d, want)
	}
}

// trailer returns a 12-byte struct module_signature and the magic.
func trailer(algo, hash, idType, signerLen, keyIDLen byte, pad [3]byte, sigLen uint32) []byte {
	b := []byte{algo, hash, idType, signerLen, keyIDLen, pad[0], pad[1], pad[2], 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[8:], sigLen)
	return append(b, Magic...)
}

func TestDetachErrors(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte{0x55}, 100) // trailer starts at offset 100
	tests := []struct {
		name   string
		in     []byte
		offset int64
		field  string
		msg    string
	}{
		{"id_type", append(bytes.Clone(body), trailer(0, 0, 1, 0, 0, [3]byte{}, 10)...), 102, "module_signature.id_type", "PKEY_ID_PKCS7"},
		{"algo", append(bytes.Clone(body), trailer(1, 0, 2, 0, 0, [3]byte{}, 10)...), 100, "module_signature.algo", "algo is 1"},
		{"key_id_len", append(bytes.Clone(body), trailer(0, 0, 2, 0, 4, [3]byte{}, 10)...), 104, "module_signature.key_id_len", "want 0"},
		{"pad", append(bytes.Clone(body), trailer(0, 0, 2, 0, 0, [3]byte{0, 0, 9}, 10)...), 107, "module_signature.__pad[2]", "want 0"},
		{"sig_len zero", append(bytes.Clone(body), trailer(0, 0, 2, 0, 0, [3]byte{}, 0)...), 108, "module_signature.sig_len", "sig_len is 0"},
		{"sig_len whole file", append(bytes.Clone(body), trailer(0, 0, 2, 0, 0, [3]byte{}, 100)...), 108, "module_signature.sig_len", "does not fit"},
		{"sig_len huge", append(bytes.Clone(body), trailer(0, 0, 2, 0, 0, [3]byte{}, 0xffffffff)...), 108, "module_signature.sig_len", "does not fit"},
		{"short", []byte(Magic), 0, "", "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Detach(tt.in)
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *inputerr.Error", err)
			}
			if ie.Offset != tt.offset || ie.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got offset %#x field %q error %q; want offset %#x field %q containing %q", ie.Offset, ie.Field, err, tt.offset, tt.field, tt.msg)
			}
		})
	}
	if _, _, err := Detach(body); !errors.Is(err, ErrNotSigned) {
		t.Errorf("Detach of an unsigned module: got %v, want ErrNotSigned", err)
	}
	// One byte of module before the signature is the kernel's minimum.
	m, s, err := Detach(append(bytes.Clone(body), trailer(0, 0, 2, 0, 0, [3]byte{}, 99)...))
	if err != nil || len(m) != 1 || len(s) != 99 {
		t.Errorf("sig_len 99 of 100: got %d, %d bytes, %v; want 1, 99, nil", len(m), len(s), err)
	}
}

// TestVerifyStructure checks that Verify enforces what the kernel does
// with no certificate at hand.
func TestVerifyStructure(t *testing.T) {
	t.Parallel()
	key := testutil.NewKey(t, 2048)
	module := []byte("not really a module")
	digest := sha256.Sum256(module)
	when := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		opts pkcs7.SignOptions
		want string
	}{
		{"signed attributes", pkcs7.SignOptions{ContentType: pkcs7.OIDData, Digest: digest[:], Attributes: &pkcs7.Attributes{SigningTime: &when}}, "signed attributes"},
		{"embedded content", pkcs7.SignOptions{ContentType: pkcs7.OIDData, Digest: digest[:], Content: []byte{0x04, 0x01, 0x00}}, "detached"},
		{"not data", pkcs7.SignOptions{ContentType: []int{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}, Digest: digest[:]}, "want data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sig, err := pkcs7.Sign(key.Signer, key.Cert, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, cert := range []*x509.Certificate{nil, key.Cert} {
				if err := Verify(module, sig, cert); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("cert=%v: got %v, want an error containing %q", cert != nil, err, tt.want)
				}
			}
			if err := VerifyDigest(digest[:], sig, key.Cert); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("VerifyDigest: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := Verify(module, []byte("garbage"), nil); err == nil {
		t.Errorf("Verify of garbage passed")
	}
}

// TestVerifyDigest: a good signature verifies against its module's
// digest and certificate, and not against another digest, another
// certificate or none.
func TestVerifyDigest(t *testing.T) {
	t.Parallel()
	key, other := testutil.NewKey(t, 2048), testutil.NewKey(t, 4096) // NewKey caches one key per size
	_, module := debianModule(t)
	digest, err := Digest(module)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(key.Signer, key.Cert, digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyDigest(digest, sig, key.Cert); err != nil {
		t.Errorf("VerifyDigest of a good signature: %v", err)
	}
	if err := Verify(module, sig, key.Cert); err != nil {
		t.Errorf("Verify of a good signature: %v", err)
	}
	wrong := sha256.Sum256([]byte("another module"))
	for name, err := range map[string]error{
		"other digest": VerifyDigest(wrong[:], sig, key.Cert),
		"other cert":   VerifyDigest(digest, sig, other.Cert),
		"no cert":      VerifyDigest(digest, sig, nil),
	} {
		if err == nil {
			t.Errorf("VerifyDigest with %s passed", name)
		}
	}
}

// TestDigester: hashing a module in pieces of any size gives Digest's
// answer, including refusing a signed module whose magic arrives split
// across writes, and keeps the module's first bytes.
func TestDigester(t *testing.T) {
	t.Parallel()
	signed, unsigned := debianModule(t)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"unsigned", unsigned},
		{"signed", signed},
		{"empty", nil},
		{"short", []byte("\x7fELF")},
		{"magic alone", []byte(Magic)},
		{"magic less a byte", []byte(Magic[1:])},
	} {
		wantDigest, wantErr := Digest(tc.in)
		for _, piece := range []int{1, 3, 27, 28, 29, 64, 4096, len(tc.in) + 1} {
			d := NewDigester()
			for rest := tc.in; len(rest) > 0; {
				n := min(piece, len(rest))
				if m, err := d.Write(rest[:n]); m != n || err != nil {
					t.Fatalf("%s: Write = %d, %v", tc.name, m, err)
				}
				rest = rest[n:]
			}
			got, err := d.Digest()
			if !bytes.Equal(got, wantDigest) || (err == nil) != (wantErr == nil) {
				t.Errorf("%s, pieces of %d: Digest = %x, %v; want %x, %v", tc.name, piece, got, err, wantDigest, wantErr)
			}
			if wantErr != nil && !errors.Is(err, ErrSigned) {
				t.Errorf("%s, pieces of %d: error %v is not ErrSigned", tc.name, piece, err)
			}
			if want := tc.in[:min(len(tc.in), HeadSize)]; !bytes.Equal(d.Head(), want) {
				t.Errorf("%s, pieces of %d: Head = %q, want %q", tc.name, piece, d.Head(), want)
			}
		}
	}
}

// FuzzDigester: any split of any input digests as the whole does.
func FuzzDigester(f *testing.F) {
	signed, unsigned := debianModule(f)
	f.Add(signed[len(signed)-100:], uint16(7))
	f.Add(unsigned[:200], uint16(1))
	f.Add([]byte(Magic), uint16(13))
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		d := NewDigester()
		for rest, n := in, int(split)%31+1; len(rest) > 0; n = n*7%31 + 1 {
			n = min(n, len(rest))
			d.Write(rest[:n])
			rest = rest[n:]
		}
		got, err := d.Digest()
		want, wantErr := Digest(in)
		if !bytes.Equal(got, want) || (err == nil) != (wantErr == nil) {
			t.Fatalf("Digester = %x, %v; Digest = %x, %v", got, err, want, wantErr)
		}
	})
}
