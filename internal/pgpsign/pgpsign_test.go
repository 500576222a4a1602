package pgpsign

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var created = time.Unix(1577836800, 0) // 2020

// newKeyFile writes an armored secret key, encrypted with pass unless
// it is empty, and returns its path and the entity.
func newKeyFile(t *testing.T, algo packet.PublicKeyAlgorithm, pass string) (string, *openpgp.Entity) {
	t.Helper()
	e, err := openpgp.NewEntity("Test", "", "test@example.org", &packet.Config{Algorithm: algo, RSABits: 2048, Time: func() time.Time { return created }})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pass != "" {
		if err := e.EncryptPrivateKeys([]byte(pass), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	p := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, e
}

func fixed(p string) Passphrase { return func() ([]byte, error) { return []byte(p), nil } }

// TestClearSign checks debsign's framing, that go-crypto verifies the
// result, and that the same text, key and time give the same bytes.
func TestClearSign(t *testing.T) {
	for _, algo := range []packet.PublicKeyAlgorithm{packet.PubKeyAlgoRSA, packet.PubKeyAlgoEdDSA} {
		path, e := newKeyFile(t, algo, "s3cret")
		k, err := LoadKey("--upload-key", path, fixed("s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		text := []byte("Format: 1.8\n-dash: line\nFiles:\n abc 1 x\n")
		when := time.Unix(1700000000, 0)
		a, err := k.ClearSign(context.Background(), text, when)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.ClearSign(context.Background(), text, when)
		if !bytes.Equal(a, b) {
			t.Errorf("algo %v: two signatures of the same text differ", algo)
		}
		want := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nFormat: 1.8\n- -dash: line\nFiles:\n abc 1 x\n\n-----BEGIN PGP SIGNATURE-----\n\n"
		if !bytes.HasPrefix(a, []byte(want)) {
			t.Errorf("algo %v: starts\n%q, want\n%q", algo, a[:min(len(a), len(want))], want)
		}
		if !regexp.MustCompile(`\n=[A-Za-z0-9+/]{4}\n-----END PGP SIGNATURE-----\n$`).Match(a) {
			t.Errorf("algo %v: no CRC line and final newline at the end:\n%s", algo, a)
		}
		blk, _ := clearsign.Decode(a)
		if blk == nil || !bytes.Equal(blk.Plaintext, text) {
			t.Fatalf("algo %v: signed text is not the text", algo)
		}
		if _, err := blk.VerifySignature(openpgp.EntityList{e}, nil); err != nil {
			t.Errorf("algo %v: %v", algo, err)
		}
		blk, _ = clearsign.Decode(a) // VerifySignature read the body
		sig, err := packet.Read(blk.ArmoredSignature.Body)
		if s, ok := sig.(*packet.Signature); err != nil || !ok || !s.CreationTime.Equal(when) || len(s.Notations) != 0 {
			t.Errorf("algo %v: signature %+v, %v: want made at %v, no salt notation", algo, sig, err, when)
		}
	}
}

func TestLoadKeyErrors(t *testing.T) {
	path, _ := newKeyFile(t, packet.PubKeyAlgoEdDSA, "s3cret")
	for _, tc := range []struct {
		name string
		pass Passphrase
		want string
	}{
		{"wrong", fixed("nope-xyz"), "wrong passphrase"},
		{"none", func() ([]byte, error) { return nil, os.ErrNotExist }, "is encrypted"},
	} {
		_, err := LoadKey("--upload-key", path, tc.pass)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--upload-key "+path) {
			t.Errorf("%s: %v, want %q naming the flag and file", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "nope-xyz") {
			t.Errorf("%s: the error shows the passphrase: %v", tc.name, err)
		}
	}
	k, err := LoadKey("--upload-key", path, fixed("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Check(created.Add(-time.Second)); err == nil || !strings.Contains(err.Error(), "created at") {
		t.Errorf("Check before creation: %v", err)
	}
	if err := k.Check(created); err != nil {
		t.Errorf("Check at creation: %v", err)
	}
	for _, text := range []string{"", "no newline", "trailing \n", "-----BEGIN PGP SIGNED MESSAGE-----\n"} {
		if _, err := k.ClearSign(context.Background(), []byte(text), created); err == nil {
			t.Errorf("ClearSign(%q): no error", text)
		}
	}
}

// writeArmored writes the secret keys of es, armoured, in one file.
func writeArmored(t *testing.T, es ...*openpgp.Entity) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	p := filepath.Join(t.TempDir(), "keys.asc")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadKeyRefuses: two keys in one file, an RSA key under 2048 bits,
// a key file too big to be one, and a signing time (a SOURCE_DATE_EPOCH
// in the future) after the key expires.
func TestLoadKeyRefuses(t *testing.T) {
	newEntity := func(cfg *packet.Config) *openpgp.Entity {
		cfg.Time = func() time.Time { return created }
		e, err := openpgp.NewEntity("Test", "", "test@example.org", cfg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ed := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	big := filepath.Join(t.TempDir(), "big.asc")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), maxKeyFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, want string }{
		{"two keys", writeArmored(t, newEntity(ed), newEntity(ed)), "holds 2 keys"},
		{"RSA 1024", writeArmored(t, newEntity(&packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024})), "RSA of 1024 bits"},
		{"too big", big, "more than"},
	} {
		_, err := LoadKey("--upload-key", tc.path, fixed(""))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--upload-key "+tc.path) {
			t.Errorf("%s: %v, want %q naming the flag and file", tc.name, err, tc.want)
		}
	}
	// Valid from 2020 to 2060: it signs now, but not as of 2070.
	k, err := LoadKey("--upload-key", writeArmored(t, newEntity(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 40 * 365 * 86400})), fixed(""))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Check(created.AddDate(50, 0, 0)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Check after expiry: %v", err)
	}
	if err := k.Check(created.AddDate(30, 0, 0)); err != nil {
		t.Errorf("Check before expiry: %v", err)
	}
}
