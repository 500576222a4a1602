//go:build cgo

package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// These tests run against a real SoftHSM2 token store of their own
// (testutil.NewSoftHSM): they set SOFTHSM2_CONF, so none is parallel.

const token = "mksigned-test"

// hsm is a token store with token "mksigned-test" holding the RSA key
// "signkey" (id 01) and its certificate, as FORMATS.md §3 makes it.
type hsm struct {
	*testutil.SoftHSM
	rsa *testutil.Key
}

func newHSM(t *testing.T) *hsm {
	t.Helper()
	h := &hsm{SoftHSM: testutil.NewSoftHSM(t), rsa: testutil.NewKey(t, 2048)}
	h.InitToken(t, token)
	h.ImportKey(t, token, h.rsa.KeyPath, "signkey", "01")
	h.WriteCert(t, token, h.rsa.CertPath, "signkey", "01")
	return h
}

// uri is a URI for object on the test token, with the PIN file.
func (h *hsm) uri(object string) string {
	return "pkcs11:token=" + token + ";object=" + object + "?pin-source=file:" + h.PINFile
}

func sha(s string) []byte { d := sha256.Sum256([]byte(s)); return d[:] }

// TestOpenSignsAsThePEMKey: the token's key, named in the ways a URI can
// name it, signs exactly as the same key from its PEM file (PKCS #1 v1.5
// is deterministic), with the certificate from the token.
func TestOpenSignsAsThePEMKey(t *testing.T) {
	h := newHSM(t)
	digest := sha("module bytes")
	want, err := h.rsa.Signer.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvModule, h.Module)
	for _, ref := range []string{
		h.uri("signkey"),
		"pkcs11:token=" + token + ";id=%01?pin-source=file:" + h.PINFile,
		"pkcs11:token=" + token + ";object=signkey;id=%01;type=private?pin-source=file://" + h.PINFile,
		"pkcs11:token=" + token + ";object=signkey?pin-source=file:" + h.PINFile + "&module-path=" + h.Module,
	} {
		t.Run(ref, func(t *testing.T) {
			k, err := Open(ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			if !k.Cert.Equal(h.rsa.Cert) {
				t.Errorf("certificate: got subject %s, want %s", k.Cert.Subject, h.rsa.Cert.Subject)
			}
			got, err := k.Signer.Sign(nil, digest, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("the token's signature differs from the PEM key's")
			}
		})
	}
}

// TestOpenPicksTheNamedObject: with several tokens and keys, the one the
// URI names signs; --cert (Options.Cert) is used in place of the token's.
func TestOpenPicksTheNamedObject(t *testing.T) {
	h := newHSM(t)
	other := testutil.NewKey(t, 4096)
	h.ImportKey(t, token, other.KeyPath, "otherkey", "02")
	h.InitToken(t, "second")
	h.ImportKey(t, "second", other.KeyPath, "signkey", "01")
	h.WriteCert(t, "second", other.CertPath, "signkey", "01")
	for _, c := range []struct {
		name, ref string
		cert      *testutil.Key // Options.Cert, or nil
		want      *testutil.Key
	}{
		{"object", h.uri("otherkey"), other, other},
		{"id", "pkcs11:token=" + token + ";id=%02?pin-source=file:" + h.PINFile, other, other},
		{"token", "pkcs11:token=second;object=signkey?pin-source=file:" + h.PINFile, nil, other},
		{"first token", h.uri("signkey"), nil, h.rsa},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{Module: h.Module}
			if c.cert != nil {
				o.Cert, o.CertName = c.cert.Cert, c.cert.CertPath
			}
			k, err := Open(c.ref, o)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			if !c.want.Cert.Equal(k.Cert) {
				t.Errorf("certificate: got subject %s, want %s", k.Cert.Subject, c.want.Cert.Subject)
			}
			pub := k.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
			if !pub.Equal(c.want.Signer.Public()) {
				t.Errorf("opened the wrong key")
			}
		})
	}
}

// TestOpenECDSA: an ECDSA key in the token signs, and the signature
// verifies with the certificate's key.
func TestOpenECDSA(t *testing.T) {
	h := newHSM(t)
	ec := testutil.NewKey(t, 0)
	h.ImportKey(t, token, ec.KeyPath, "eckey", "03")
	h.WriteCert(t, token, ec.CertPath, "eckey", "03")
	k, err := Open(h.uri("eckey"), Options{Module: h.Module})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	digest := sha("efi image")
	sig, err := k.Signer.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(ec.Cert.PublicKey.(*ecdsa.PublicKey), digest, sig) {
		t.Errorf("the token's ECDSA signature does not verify")
	}
}

// TestOpenPIN: the PIN comes from the pin-source file (one trailing
// newline dropped) or $MKSIGNED_PKCS11_PIN, and the file wins.
func TestOpenPIN(t *testing.T) {
	h := newHSM(t)
	dir := t.TempDir()
	write := func(name, data string) string { return writeFile(t, dir, name, data) }
	nl, crlf, wrong := write("nl", h.PIN+"\n"), write("crlf", h.PIN+"\r\n"), write("wrong", "wrong-pin-Z3")
	base := "pkcs11:token=" + token + ";object=signkey"
	for _, c := range []struct {
		name, ref, env string
		ok             bool
	}{
		{"file with newline", base + "?pin-source=file:" + nl, "", true},
		{"file with CRLF", base + "?pin-source=file:" + crlf, "", true},
		{"environment", base, h.PIN, true},
		{"the file wins over the environment", base + "?pin-source=file:" + wrong, h.PIN, false},
		{"wrong PIN in the environment", base, "wrong-pin-Z3", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvPIN, c.env)
			k, err := Open(c.ref, Options{Module: h.Module})
			if err == nil {
				k.Close()
			}
			if (err == nil) != c.ok {
				t.Fatalf("got error %v, want success %v", err, c.ok)
			}
		})
	}
}

// TestOpenErrors: every failure names the token and the object (or the
// module), says what is wrong, and never shows the PIN.
func TestOpenErrors(t *testing.T) {
	h := newHSM(t)
	other := testutil.NewKey(t, 4096)
	ec := testutil.NewKey(t, 0)
	h.ImportKey(t, token, ec.KeyPath, "ec-rsa-cert", "03")
	h.WriteCert(t, token, h.rsa.CertPath, "ec-rsa-cert", "03") // the wrong certificate
	h.ImportKey(t, token, other.KeyPath, "nocert", "04")
	h.SecretKey(t, token, "secret", "05")
	h.WriteCert(t, token, other.CertPath, "certonly", "06")
	h.ImportKey(t, token, other.KeyPath, "twice", "07")
	h.ImportKey(t, token, ec.KeyPath, "twice", "08")
	dsa, dsaParams := filepath.Join(t.TempDir(), "dsa.key"), filepath.Join(t.TempDir(), "dsa.params")
	testutil.Run(t, "", "openssl", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048", "-out", dsaParams)
	testutil.Run(t, "", "openssl", "genpkey", "-paramfile", dsaParams, "-out", dsa)
	h.ImportKey(t, token, dsa, "dsa", "09")
	h.WriteCert(t, token, h.rsa.CertPath, "dsa", "09")

	dir := t.TempDir()
	wrongPIN := writeFile(t, dir, "wrong", "wrong-pin-Z3")
	notLib := writeFile(t, dir, "not-a-library.so", "not an ELF file\n")
	pin := "?pin-source=file:" + h.PINFile
	for _, c := range []struct {
		name, ref, module string
		cert              *testutil.Key
		want              []string // what the error says; "!x": it does not say x
	}{
		{"wrong PIN", "pkcs11:token=" + token + ";object=signkey?pin-source=file:" + wrongPIN, "", nil,
			[]string{"token=" + token, "object=signkey", "refused the PIN", "CKR_PIN_INCORRECT"}},
		{"no such token", "pkcs11:token=archive;object=signkey" + pin, "", nil,
			[]string{"token=archive", "no such token", "token=" + token + ";serial=", "!token=;"}}, // the free slot is no token

		{"token and serial disagree", "pkcs11:token=" + token + ";serial=0000;object=signkey" + pin, "", nil,
			[]string{"serial=0000", "no such token"}},
		{"no such object", "pkcs11:token=" + token + ";object=efi-2026" + pin, "", nil,
			[]string{"object=efi-2026", "no such private key"}},
		{"no such id", "pkcs11:token=" + token + ";object=signkey;id=%02" + pin, "", nil,
			[]string{"id=%02", "no such private key"}},
		{"secret key", "pkcs11:token=" + token + ";object=secret" + pin, "", nil,
			[]string{"object=secret", "secret key"}},
		{"certificate only", "pkcs11:token=" + token + ";object=certonly" + pin, "", nil,
			[]string{"object=certonly", "certificate but no private key"}},
		{"DSA key", "pkcs11:token=" + token + ";object=dsa" + pin, "", nil,
			[]string{"object=dsa", "unsupported key type *dsa.PublicKey", "want RSA or ECDSA"}},
		{"two keys match", "pkcs11:token=" + token + ";object=twice" + pin, "", nil,
			[]string{"object=twice", "2 private keys match"}},
		{"EC key, RSA certificate on the token", "pkcs11:token=" + token + ";object=ec-rsa-cert" + pin, "", nil,
			[]string{"object=ec-rsa-cert", "does not match certificate on the token"}},
		{"certificate of another key", "pkcs11:token=" + token + ";object=signkey" + pin, "", other,
			[]string{"object=signkey", "does not match certificate " + other.CertPath}},
		{"no certificate on the token", "pkcs11:token=" + token + ";object=nocert" + pin, "", nil,
			[]string{"object=nocert", "no certificate", "--cert"}},
		{"not a PKCS#11 library", h.uri("signkey"), notLib, nil,
			[]string{"token=" + token, "object=signkey", notLib, "not a PKCS#11 library"}},
		{"a library, but not PKCS#11", h.uri("signkey"), "/lib/x86_64-linux-gnu/libz.so.1", nil,
			[]string{"token=" + token, "object=signkey", "libz.so.1", "not a PKCS#11 library"}},
		{"no module file", h.uri("signkey"), filepath.Join(dir, "missing.so"), nil,
			[]string{"token=" + token, "object=signkey", "missing.so", "no such file"}},
		{"no token named", "pkcs11:object=signkey" + pin, "", nil,
			[]string{"names no token"}},
		{"no key named", "pkcs11:token=" + token + pin, "", nil,
			[]string{"token=" + token, "names no key"}},
		{"no PIN", "pkcs11:token=" + token + ";object=signkey", "", nil,
			[]string{"object=signkey", "no PIN", EnvPIN}},
		{"PIN in the URI", "pkcs11:token=" + token + ";object=signkey?pin-value=" + h.PIN, "", nil,
			[]string{"pin-value=", "pin-source=file:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.HasPrefix(c.module, "/lib/") {
				testutil.RequireTool(t, c.module)
			}
			o := Options{Module: h.Module}
			if c.module != "" {
				o.Module = c.module
			}
			if c.cert != nil {
				o.Cert, o.CertName = c.cert.Cert, c.cert.CertPath
			}
			k, err := Open(c.ref, o)
			if err == nil {
				k.Close()
				t.Fatalf("Open succeeded, want an error saying %q", c.want)
			}
			msg := err.Error()
			for _, w := range c.want {
				if not, ok := strings.CutPrefix(w, "!"); ok {
					if strings.Contains(msg, not) {
						t.Errorf("error %q says %q", msg, not)
					}
				} else if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, secret := range []string{h.PIN, "wrong-pin-Z3"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q shows a PIN", msg)
				}
			}
		})
	}
}

// TestClose: a closed key signs no more (the session is gone), and the
// module can be opened again afterwards.
func TestClose(t *testing.T) {
	h := newHSM(t)
	for i := range 2 {
		k, err := Open(h.uri("signkey"), Options{Module: h.Module})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if _, err := k.Signer.Sign(nil, sha("x"), crypto.SHA256); err != nil {
			t.Fatalf("open %d: sign: %v", i, err)
		}
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Signer.Sign(nil, sha("x"), crypto.SHA256); err == nil {
			t.Errorf("open %d: a closed key still signs", i)
		}
	}
}
