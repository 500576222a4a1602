package sign

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

func TestLoadPEMKey(t *testing.T) {
	t.Parallel()
	for _, bits := range []int{2048, 4096, 0} {
		k := testutil.NewKey(t, bits)
		tests := []struct{ name, key, cert string }{
			{"pkcs8+pem", k.KeyPath, k.CertPath},
			{"traditional+pem", k.KeyPKCS1Path, k.CertPath},
			{"pkcs8+der", k.KeyPath, k.CertDERPath},
			{"traditional+der", k.KeyPKCS1Path, k.CertDERPath},
		}
		for _, tt := range tests {
			t.Run(filepath.Base(k.KeyPath)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := LoadPEMKey(tt.key, tt.cert)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Cert.Equal(k.Cert) {
					t.Errorf("got certificate %s, want %s", got.Cert.Subject, k.Cert.Subject)
				}
				if !got.Signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Signer.Public()) {
					t.Errorf("loaded key differs from the generated one")
				}
			})
		}
	}
}

// TestLoadOpenSSLKeys loads keys and certificates written by openssl.
func TestLoadOpenSSLKeys(t *testing.T) {
	t.Parallel()
	openssl := testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	testutil.Run(t, dir, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k8.pem", "-out", "c.pem",
		"-subj", "/CN=openssl test key", "-days", "3650")
	testutil.Run(t, dir, openssl, "rsa", "-in", "k8.pem", "-traditional", "-out", "k1.pem")
	testutil.Run(t, dir, openssl, "x509", "-in", "c.pem", "-outform", "DER", "-out", "c.der")
	testutil.Run(t, dir, openssl, "ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.pem") // EC PARAMETERS, then EC PRIVATE KEY
	testutil.Run(t, dir, openssl, "req", "-x509", "-new", "-key", "ec.pem", "-out", "ec.crt", "-subj", "/CN=openssl ec key", "-days", "3650")
	testutil.Run(t, dir, openssl, "pkey", "-in", "k8.pem", "-aes256", "-passout", "pass:secret", "-out", "enc8.pem")
	testutil.Run(t, dir, openssl, "rsa", "-in", "k8.pem", "-traditional", "-aes256", "-passout", "pass:secret", "-out", "enc1.pem")
	p := func(name string) string { return filepath.Join(dir, name) }

	for _, c := range [][2]string{{"k8.pem", "c.pem"}, {"k1.pem", "c.pem"}, {"k8.pem", "c.der"}, {"k1.pem", "c.der"}, {"ec.pem", "ec.crt"}} {
		k, err := LoadPEMKey(p(c[0]), p(c[1]))
		if err != nil {
			t.Errorf("%s with %s: %v", c[0], c[1], err)
			continue
		}
		if !strings.HasPrefix(k.Cert.Subject.CommonName, "openssl") {
			t.Errorf("%s: got subject %s", c[1], k.Cert.Subject)
		}
	}
	for _, enc := range []string{"enc8.pem", "enc1.pem"} {
		_, err := LoadPEMKey(p(enc), p("c.pem"))
		if !errors.Is(err, ErrEncryptedKey) || !strings.Contains(err.Error(), p(enc)) {
			t.Errorf("%s: got %v, want ErrEncryptedKey naming the file", enc, err)
		}
		assertNoKeyMaterial(t, err, p(enc))
	}
	_, err := LoadPEMKey(p("ec.pem"), p("c.pem"))
	if err == nil || !strings.Contains(err.Error(), "does not match certificate") {
		t.Errorf("EC key with an RSA certificate: got %v, want a mismatch", err)
	}
	assertNoKeyMaterial(t, err, p("ec.pem"))
}

func TestLoadPEMKeyErrors(t *testing.T) {
	t.Parallel()
	a := testutil.NewKey(t, 2048)
	b := testutil.NewKey(t, 4096)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	secret := "c2VjcmV0IGtleSBtYXRlcmlhbCB0aGF0IG11c3QgbmV2ZXIgbGVhaw=="
	tests := []struct {
		name, key, cert string
		want            []string
	}{
		{"mismatch", a.KeyPath, b.CertPath, []string{"key " + a.KeyPath + " does not match certificate " + b.CertPath, "CN=mksigned test rsa4096"}},
		{"mismatch pkcs1", b.KeyPKCS1Path, a.CertDERPath, []string{"does not match certificate", "CN=mksigned test rsa2048"}},
		{"no pem", write("raw.key", "not a key at all "+secret), a.CertPath, []string{"raw.key", "no PEM private key"}},
		{"bad pkcs8", write("bad8.key", "-----BEGIN PRIVATE KEY-----\n"+secret+"\n-----END PRIVATE KEY-----\n"), a.CertPath, []string{"bad8.key", `PEM block "PRIVATE KEY"`}},
		{"bad pkcs1", write("bad1.key", "-----BEGIN RSA PRIVATE KEY-----\n"+secret+"\n-----END RSA PRIVATE KEY-----\n"), a.CertPath, []string{"bad1.key", `"RSA PRIVATE KEY"`}},
		{"only a certificate", a.CertPath, a.CertPath, []string{"no PEM private key"}},
		{"missing key", filepath.Join(dir, "nope.key"), a.CertPath, []string{"nope.key", "no such file"}},
		{"missing cert", a.KeyPath, filepath.Join(dir, "nope.crt"), []string{"certificate", "nope.crt", "no such file"}},
		{"cert is a key", a.KeyPath, a.KeyPath, []string{"found 0 PEM CERTIFICATE blocks"}},
		{"two certs", a.KeyPath, write("two.crt", readFile(t, a.CertPath)+readFile(t, b.CertPath)), []string{"two.crt", "found 2"}},
		{"garbage cert", a.KeyPath, write("junk.der", "\x30\x03\x02\x01\x01"), []string{"junk.der"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := LoadPEMKey(tt.key, tt.cert)
			if err == nil {
				t.Fatalf("got key %v, want an error", k)
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret[:20]) {
				t.Errorf("error quotes the key file: %q", err)
			}
			assertNoKeyMaterial(t, err, tt.key)
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertNoKeyMaterial fails if err quotes any base64 line of the key file.
func assertNoKeyMaterial(t *testing.T, err error, keyPath string) {
	t.Helper()
	data, rerr := os.ReadFile(keyPath)
	if rerr != nil {
		return
	}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) >= 16 && !bytes.HasPrefix(line, []byte("-----")) && strings.Contains(err.Error(), string(line[:16])) {
			t.Errorf("error contains key material from %s: %q", keyPath, err)
		}
	}
}

func TestLoadCertificate(t *testing.T) {
	t.Parallel()
	k := testutil.NewKey(t, 2048)
	for _, path := range []string{k.CertPath, k.CertDERPath} {
		c, err := LoadCertificate(path)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Equal(k.Cert) {
			t.Errorf("%s: got %s, want %s", path, c.Subject, k.Cert.Subject)
		}
	}
}

// TestLoadEncryptedKeys decrypts the encrypted keys openssl writes: PKCS #8
// with PBES2 (each PRF and cipher openssl offers that we accept), and the
// traditional Proc-Type/DEK-Info form. A wrong passphrase is
// ErrPassphrase, none is ErrEncryptedKey, an unsupported scheme says which,
// and no error shows the passphrase or key material.
func TestLoadEncryptedKeys(t *testing.T) {
	t.Parallel()
	openssl := testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	testutil.Run(t, dir, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem",
		"-subj", "/CN=openssl encrypted key", "-days", "3650")
	testutil.Run(t, dir, openssl, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.pem")
	testutil.Run(t, dir, openssl, "req", "-x509", "-new", "-key", "ec.pem", "-out", "ec.crt", "-subj", "/CN=openssl ec key", "-days", "3650")
	const pass = "correct horse battery staple"
	type keyCase struct{ file, cert string }
	var cases []keyCase
	add := func(name, in, cert string, args ...string) {
		testutil.Run(t, dir, openssl, append([]string{"pkcs8", "-topk8", "-in", in, "-passout", "pass:" + pass, "-out", name}, args...)...)
		cases = append(cases, keyCase{name, cert})
	}
	add("aes256-sha256.pem", "k.pem", "c.pem", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256")
	add("aes128-sha1.pem", "k.pem", "c.pem", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1")
	add("aes192-sha512.pem", "k.pem", "c.pem", "-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512", "-iter", "10000")
	add("des3-sha384.pem", "k.pem", "c.pem", "-v2", "des-ede3-cbc", "-v2prf", "hmacWithSHA384")
	add("ec-aes256.pem", "ec.pem", "ec.crt", "-v2", "aes-256-cbc")
	testutil.Run(t, dir, openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes256", "-pass", "pass:"+pass, "-out", "genpkey.pem")
	testutil.Run(t, dir, openssl, "req", "-x509", "-new", "-key", "genpkey.pem", "-passin", "pass:"+pass, "-out", "genpkey.crt", "-subj", "/CN=genpkey", "-days", "3650")
	cases = append(cases, keyCase{"genpkey.pem", "genpkey.crt"})
	testutil.Run(t, dir, openssl, "rsa", "-in", "k.pem", "-traditional", "-aes256", "-passout", "pass:"+pass, "-out", "trad-aes.pem")
	testutil.Run(t, dir, openssl, "rsa", "-in", "k.pem", "-traditional", "-des3", "-passout", "pass:"+pass, "-out", "trad-des3.pem")
	testutil.Run(t, dir, openssl, "ec", "-in", "ec.pem", "-aes128", "-passout", "pass:"+pass, "-out", "trad-ec.pem")
	cases = append(cases, keyCase{"trad-aes.pem", "c.pem"}, keyCase{"trad-des3.pem", "c.pem"}, keyCase{"trad-ec.pem", "ec.crt"})

	passphrase := func(s string) Passphrase { return func() ([]byte, error) { return []byte(s), nil } }
	for _, c := range cases {
		k, err := LoadKey(p(c.file), p(c.cert), passphrase(pass))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if k.Cert == nil || k.Signer == nil {
			t.Errorf("%s: no key", c.file)
		}
		for _, wrong := range []string{"", "wrong", pass + " "} {
			_, err := LoadKey(p(c.file), p(c.cert), passphrase(wrong))
			if !errors.Is(err, ErrPassphrase) || !strings.Contains(err.Error(), p(c.file)) {
				t.Errorf("%s with passphrase %q: got %v, want ErrPassphrase naming the file", c.file, wrong, err)
			}
			if err != nil && strings.Contains(err.Error(), pass) {
				t.Errorf("%s: error shows the passphrase: %v", c.file, err)
			}
			assertNoKeyMaterial(t, err, p(c.file))
		}
		if _, err := LoadKey(p(c.file), p(c.cert), nil); !errors.Is(err, ErrEncryptedKey) {
			t.Errorf("%s without a passphrase: got %v, want ErrEncryptedKey", c.file, err)
		}
	}
	// The passphrase function is not called for a key that is not
	// encrypted, and its error is passed on.
	called := false
	if _, err := LoadKey(p("k.pem"), p("c.pem"), func() ([]byte, error) { called = true; return nil, nil }); err != nil || called {
		t.Errorf("unencrypted key: err %v, passphrase asked: %v", err, called)
	}
	boom := errors.New("no passphrase source")
	if _, err := LoadKey(p("genpkey.pem"), p("genpkey.crt"), func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("passphrase error: got %v, want it passed on", err)
	}
	// A key decrypted with the right passphrase but of a type x509 does
	// not take says so, and is not called a wrong passphrase.
	testutil.Run(t, dir, openssl, "genpkey", "-algorithm", "ED448", "-aes256", "-pass", "pass:"+pass, "-out", "ed448.pem")
	_, err := parsePEMPrivateKey([]byte(readFile(t, p("ed448.pem"))), passphrase(pass))
	if err == nil || errors.Is(err, ErrPassphrase) {
		t.Errorf("Ed448 key, right passphrase: got %v, want x509's error", err)
	}
	if _, err := parsePEMPrivateKey([]byte(readFile(t, p("ed448.pem"))), passphrase("wrong")); !errors.Is(err, ErrPassphrase) {
		t.Errorf("Ed448 key, wrong passphrase: got %v, want ErrPassphrase", err)
	}
	// Traditional encryption with a DEK-Info we do not know is not a
	// wrong passphrase either.
	trad := strings.Replace(readFile(t, p("trad-aes.pem")), "AES-256-CBC", "AES-999-CBC", 1)
	if _, err := parsePEMPrivateKey([]byte(trad), passphrase(pass)); err == nil || errors.Is(err, ErrPassphrase) {
		t.Errorf("unknown DEK-Info cipher: got %v, want an error other than ErrPassphrase", err)
	}
	// PBES1 (PKCS #5 v1.5) is refused by name.
	testutil.Run(t, dir, openssl, "pkcs8", "-topk8", "-in", "k.pem", "-v1", "PBE-SHA1-3DES", "-passout", "pass:"+pass, "-out", "pbes1.pem")
	if _, err := LoadKey(p("pbes1.pem"), p("c.pem"), passphrase(pass)); err == nil || !strings.Contains(err.Error(), "not supported (only PBES2") {
		t.Errorf("PBES1 key: got %v, want an error saying only PBES2 is supported", err)
	}
}

// TestLoadKeyTooSmall: RSA keys under 2048 bits are refused when loaded,
// with the file and the size named and nothing of the key; openssl makes
// them (512 bits is what crypto/rsa refused only at signing time).
func TestLoadKeyTooSmall(t *testing.T) {
	t.Parallel()
	openssl := testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	for _, bits := range []string{"512", "1024", "2047", "2048"} {
		key, cert := filepath.Join(dir, bits+".key"), filepath.Join(dir, bits+".crt")
		testutil.Run(t, dir, openssl, "req", "-x509", "-newkey", "rsa:"+bits, "-nodes", "-keyout", key, "-out", cert,
			"-subj", "/CN=small key "+bits, "-days", "30")
		_, err := LoadPEMKey(key, cert)
		if bits == "2048" {
			if err != nil {
				t.Errorf("2048-bit key: %v", err)
			}
			continue
		}
		want := "key " + key + ": an RSA key of " + bits + " bits is too small: signing keys need at least 2048"
		if err == nil || err.Error() != want {
			t.Errorf("%s-bit key: %v; want %q", bits, err, want)
		}
	}
}
