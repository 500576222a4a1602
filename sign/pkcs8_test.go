package sign

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// pbes2Key returns an EncryptedPrivateKeyInfo of plain under PBES2 with
// PBKDF2 (HMAC-SHA256, the given iteration count and keyLength field, 0
// for none) and AES-256-CBC, made here with the standard library rather
// than by decryptPKCS8's code, and the passphrase. The encryption uses
// PBKDF2 with 1000 iterations whatever iterations says, so that a count
// nobody could wait for can be written.
func pbes2Key(t *testing.T, plain []byte, iterations int64, keyLength int) (der []byte, pass string) {
	t.Helper()
	salt, iv, pass := []byte("saltsalt"), bytes.Repeat([]byte{7}, 16), "pw"
	key, err := pbkdf2.Key(sha256.New, pass, salt, 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	pad := 16 - len(plain)%16
	padded := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	enc := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(enc, padded)
	type kdfParams struct {
		Salt       []byte
		Iterations int64
		KeyLength  int `asn1:"optional"`
		PRF        algorithmIdentifier
	}
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kdf := must(asn1.Marshal(kdfParams{salt, iterations, keyLength, algorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: asn1.NullRawValue}}))
	ivDER := must(asn1.Marshal(iv))
	params := must(asn1.Marshal(pbes2Params{
		KeyDerivationFunc: algorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		EncryptionScheme:  algorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	}))
	return must(asn1.Marshal(encryptedPrivateKeyInfo{algorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}}, enc})), pass
}

// TestDecryptPKCS8KeyLength: PBKDF2-params may carry keyLength (RFC 8018
// A.2; OpenSSL leaves it out for AES). A matching one decrypts; one that
// does not fit the cipher is refused.
func TestDecryptPKCS8KeyLength(t *testing.T) {
	t.Parallel()
	plain := []byte("0123456789abcdef-a PrivateKeyInfo would be here")
	der, pass := pbes2Key(t, plain, 1000, 32)
	if got, err := decryptPKCS8(der, []byte(pass)); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("keyLength 32: got %q, %v", got, err)
	}
	der, pass = pbes2Key(t, plain, 1000, 16)
	if _, err := decryptPKCS8(der, []byte(pass)); err == nil || !strings.Contains(err.Error(), "key length 16") {
		t.Errorf("keyLength 16 for AES-256: got %v, want it refused", err)
	}
}

// TestDecryptPKCS8Iterations: a key file is input, and PBKDF2 runs as many
// iterations as the file asks for. Counts outside [1, maxIterations] must
// be refused before any work: well under a second, where 2^31 iterations
// would take hours and maxIterations+1 several seconds.
func TestDecryptPKCS8Iterations(t *testing.T) {
	t.Parallel()
	plain := []byte("a PrivateKeyInfo would be here")
	for _, n := range []int64{0, -1, maxIterations + 1, math.MaxInt32, math.MaxInt32 + 1, 1 << 40, math.MaxInt64} {
		der, pass := pbes2Key(t, plain, n, 0)
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := decryptPKCS8(der, []byte(pass))
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%d iterations: decrypted, want the count refused", n)
			} else if !strings.Contains(err.Error(), "PBKDF2") {
				t.Errorf("%d iterations: got %v, want an error about the PBKDF2 parameters", n, err)
			}
			if took := time.Since(start); took > 100*time.Millisecond {
				t.Errorf("%d iterations: refused after %v, want at once", n, took)
			}
		case <-time.After(time.Second):
			// The goroutine runs on until the test binary exits.
			t.Fatalf("%d iterations: decryptPKCS8 still running after 1s: the iteration count is not bounded", n)
		}
	}
}

// openSSLKeys returns PKCS #8 keys that openssl encrypted, each with its
// passphrase and the PrivateKeyInfo openssl writes for it unencrypted
// (openssl pkcs8 -topk8 -nocrypt): one per cipher family and PRF default,
// with one PBKDF2 iteration so that fuzzing them is quick.
func openSSLKeys(tb testing.TB) []struct{ der, pass, plain []byte } {
	tb.Helper()
	openssl := testutil.RequireTool(tb, "openssl")
	dir := tb.TempDir()
	testutil.Run(tb, dir, openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem")
	testutil.Run(tb, dir, openssl, "pkcs8", "-topk8", "-in", "k.pem", "-nocrypt", "-outform", "DER", "-out", "k.der")
	plain, err := os.ReadFile(filepath.Join(dir, "k.der"))
	if err != nil {
		tb.Fatal(err)
	}
	var keys []struct{ der, pass, plain []byte }
	for i, args := range [][]string{
		{"-v2", "aes-128-cbc"},                              // PRF hmacWithSHA256, written out
		{"-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA1"},    // PRF left out: the DEFAULT, SHA-1
		{"-v2", "des-ede3-cbc", "-v2prf", "hmacWithSHA512"}, // 3DES, 8-byte blocks
	} {
		out := filepath.Join(dir, "e.pem")
		pass := "pw" + string(rune('0'+i))
		testutil.Run(tb, dir, openssl, append([]string{"pkcs8", "-topk8", "-in", "k.pem", "-iter", "1", "-passout", "pass:" + pass, "-out", out}, args...)...)
		data, err := os.ReadFile(out)
		if err != nil {
			tb.Fatal(err)
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
			tb.Fatalf("openssl pkcs8 %v wrote no ENCRYPTED PRIVATE KEY", args)
		}
		keys = append(keys, struct{ der, pass, plain []byte }{block.Bytes, []byte(pass), plain})
	}
	return keys
}

// FuzzDecryptPKCS8: an encrypted key file is input; decryptPKCS8 must not
// panic or run away (the iteration count is bounded), and what it
// decrypts is shorter than its input. The seeds are openssl's: with their
// passphrase they must give the key openssl encrypted, byte for byte, and
// with another passphrase never that key.
func FuzzDecryptPKCS8(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, []byte("x"))
	known := map[string]struct{ pass, plain []byte }{}
	for _, k := range openSSLKeys(f) {
		f.Add(k.der, k.pass)
		f.Add(k.der, []byte("wrong"))
		known[string(k.der)] = struct{ pass, plain []byte }{k.pass, k.plain}
	}
	f.Fuzz(func(t *testing.T, der, pass []byte) {
		got, err := decryptPKCS8(der, pass)
		if err == nil && len(got) >= len(der) {
			t.Fatalf("decrypted %d bytes out of %d", len(got), len(der))
		}
		k, ok := known[string(der)]
		switch {
		case !ok:
		case bytes.Equal(pass, k.pass) && (err != nil || !bytes.Equal(got, k.plain)):
			t.Fatalf("openssl's key with its passphrase: got %d bytes, %v; want the %d bytes of openssl's PrivateKeyInfo", len(got), err, len(k.plain))
		case !bytes.Equal(pass, k.pass) && bytes.Equal(got, k.plain):
			t.Fatalf("openssl's key decrypted with passphrase %q, not %q", pass, k.pass)
		}
	})
}

// FuzzDecryptPEM fuzzes OpenSSL's traditional PEM encryption
// (Proc-Type: 4,ENCRYPTED and DEK-Info: <cipher>,<IV hex> over a PKCS #1
// or SEC 1 key) field by field: the block type, DEK-Info, the encrypted
// bytes and the passphrase. parsePEMPrivateKey must not panic, and must
// not take a passphrase it was not given. The seeds are keys openssl
// encrypted: with their passphrase they give openssl's key, with another
// ErrPassphrase.
func FuzzDecryptPEM(f *testing.F) {
	openssl := testutil.RequireTool(f, "openssl")
	dir := f.TempDir()
	testutil.Run(f, dir, openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa.pem")
	testutil.Run(f, dir, openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem")
	types := []string{"RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"}
	type seed struct {
		typ        uint8
		dek        string
		body, pass []byte
		key        interface{ Equal(crypto.PrivateKey) bool } // what openssl encrypted
	}
	var seeds []seed
	for _, c := range []struct{ tool, in, cipher string }{
		{"rsa", "rsa.pem", "-aes128"}, {"rsa", "rsa.pem", "-des3"}, {"ec", "ec.pem", "-aes256"},
	} {
		out := filepath.Join(dir, "trad.pem")
		pass := "pass" + c.cipher
		args := []string{c.tool, "-in", c.in, c.cipher, "-passout", "pass:" + pass, "-out", out}
		if c.tool == "rsa" {
			args = append(args, "-traditional") // openssl rsa writes PKCS #8 without it; openssl ec always writes SEC 1
		}
		testutil.Run(f, dir, openssl, args...)
		block := pemBlock(f, out)
		typ := uint8(0)
		for i, name := range types {
			if name == block.Type {
				typ = uint8(i)
			}
		}
		if block.Headers["DEK-Info"] == "" || types[typ] != block.Type {
			f.Fatalf("openssl %s -traditional %s wrote a %q block with headers %v", c.tool, c.cipher, block.Type, block.Headers)
		}
		plain, err := parsePEMPrivateKey(pem.EncodeToMemory(pemBlock(f, filepath.Join(dir, c.in))), nil)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, seed{typ, block.Headers["DEK-Info"], block.Bytes, []byte(pass), plain.(interface{ Equal(crypto.PrivateKey) bool })})
	}
	for _, s := range seeds {
		f.Add(s.typ, s.dek, s.body, s.pass)
		f.Add(s.typ, s.dek, s.body, []byte("wrong"))
	}
	f.Fuzz(func(t *testing.T, typ uint8, dek string, body, pass []byte) {
		block := &pem.Block{
			Type:    types[int(typ)%len(types)],
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": dek},
			Bytes:   body,
		}
		data := pem.EncodeToMemory(block)
		if data == nil {
			return // a header pem cannot write
		}
		asked := false
		key, err := parsePEMPrivateKey(data, func() ([]byte, error) { asked = true; return pass, nil })
		if err == nil && !asked {
			t.Fatal("an encrypted block was read without asking for the passphrase")
		}
		for _, s := range seeds {
			if s.typ != typ || s.dek != dek || !bytes.Equal(s.body, body) {
				continue
			}
			if bytes.Equal(pass, s.pass) {
				if err != nil || !s.key.Equal(key) {
					t.Fatalf("openssl's %s with its passphrase: got %T, %v; want openssl's key", block.Type, key, err)
				}
			} else if !errors.Is(err, ErrPassphrase) {
				t.Fatalf("openssl's %s with passphrase %q: got %T, %v; want ErrPassphrase", block.Type, pass, key, err)
			}
		}
	})
}

// pemBlock returns the first PEM block in the file.
func pemBlock(tb testing.TB, path string) *pem.Block {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		tb.Fatalf("%s: no PEM block", path)
	}
	return block
}
