// Package pgpsign clear-signs a .dsc or .changes for upload as debsign
// does: with an OpenPGP secret key read from a file (through
// github.com/ProtonMail/go-crypto), or by handing the text to gpg, so
// that a key on a smartcard or behind gpg-agent works.
//
// debsign signs "the file, then an empty line" with gpg --clearsign
// --textmode: the result is the armour header, "Hash: SHA512" (gpg's
// choice for an RSA key; the hash go-crypto picks for other keys), an
// empty line, the text dash-escaped (a line starting with "-" gets "- "
// in front), an empty line, and the armoured signature with its CRC-24
// line, ending in a newline. The signed text is the file as it is, its
// last line's newline included (that empty line's doing). Key writes
// the same framing.
package pgpsign

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// maxKeyFile bounds a key file: an armoured RSA-4096 secret key with a
// few subkeys and user IDs is some 20 KB.
const maxKeyFile = 1 << 20

// minRSABits is the smallest RSA signing key LoadKey takes: Debian's
// keyring maintainers refuse smaller keys, so an upload signed with one
// would be rejected anyway.
const minRSABits = 2048

// Passphrase returns the passphrase of an encrypted key; it is asked
// only when the key is encrypted.
type Passphrase = func() ([]byte, error)

// Key is an OpenPGP secret key that signs (the primary key or a signing
// subkey, decrypted).
type Key struct {
	flag, path string // for errors: "--upload-key", the file
	entity     *openpgp.Entity
	key        openpgp.Key
}

// LoadKey reads the armoured OpenPGP secret key in path (one key; its
// transferable secret key, as gpg --export-secret-keys --armor writes it)
// and decrypts the key that signs with pass. flag names the option that
// gave path in errors, which never hold the passphrase. A file without a
// secret key, a key that cannot sign now (expired, revoked, or with no
// signing-capable key), a gpg stub for a key on a card, a missing or
// wrong passphrase are errors.
func LoadKey(flag, path string, pass Passphrase) (*Key, error) {
	k := &Key{flag: flag, path: path}
	data, err := readFile(path)
	if err != nil {
		return nil, k.errorf("%w", err)
	}
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, k.errorf("not an armoured OpenPGP key: %w", tame(err))
	}
	if len(list) != 1 {
		return nil, k.errorf("holds %d keys; give one", len(list))
	}
	k.entity = list[0]
	if k.entity.PrivateKey == nil {
		return nil, k.errorf("is a public key; give the secret key (gpg --export-secret-keys --armor)")
	}
	key, ok := k.entity.SigningKey(time.Now())
	if !ok {
		return nil, k.errorf("key %X cannot sign: it has expired, is revoked, or has no key that may sign", k.entity.PrimaryKey.Fingerprint)
	}
	if bits, err := key.PublicKey.BitLength(); err == nil && bits < minRSABits && key.PublicKey.PubKeyAlgo == packet.PubKeyAlgoRSA {
		return nil, k.errorf("key %X: its signing key %X is RSA of %d bits; Debian's keyrings take %d at least", k.entity.PrimaryKey.Fingerprint, key.PublicKey.Fingerprint, bits, minRSABits)
	}
	if key.PrivateKey == nil {
		return nil, k.errorf("key %X: its signing key %X has no secret part here", k.entity.PrimaryKey.Fingerprint, key.PublicKey.Fingerprint)
	}
	if key.PrivateKey.Dummy() {
		return nil, k.errorf("key %X: the secret part of its signing key %X is a stub (on a smartcard?); use --upload-key-id to sign with gpg",
			k.entity.PrimaryKey.Fingerprint, key.PublicKey.Fingerprint)
	}
	if key.PrivateKey.Encrypted {
		p, err := pass()
		if err != nil {
			return nil, k.errorf("key %X is encrypted: %w", k.entity.PrimaryKey.Fingerprint, err)
		}
		err = key.PrivateKey.Decrypt(p)
		clear(p)
		if err != nil {
			if errors.Is(err, pgperrors.ErrKeyIncorrect) || strings.Contains(err.Error(), "checksum") {
				return nil, k.errorf("key %X: wrong passphrase", k.entity.PrimaryKey.Fingerprint)
			}
			return nil, k.errorf("key %X: cannot decrypt: %w", k.entity.PrimaryKey.Fingerprint, tame(err))
		}
	}
	k.key = key
	return k, nil
}

func (k *Key) errorf(format string, args ...any) error {
	return fmt.Errorf("%s %s: %w", k.flag, inputerr.Name(k.path), fmt.Errorf(format, args...))
}

// tame keeps a library error to a line of bounded size.
func tame(err error) error { return inputerr.Tame(err) }

// Fingerprint is the primary key's, in upper-case hex.
func (k *Key) Fingerprint() string { return fmt.Sprintf("%X", k.entity.PrimaryKey.Fingerprint) }

// Check reports whether the key may sign as of when: gpg refuses a
// signature made before the key was created, or after it expired.
func (k *Key) Check(when time.Time) error {
	if created := k.key.PublicKey.CreationTime; when.Before(created) {
		return k.errorf("key %X signs with a key created at %s, after the signing time %s (from SOURCE_DATE_EPOCH or the changelog's top date), which gpgv refuses; set SOURCE_DATE_EPOCH to a later time",
			k.entity.PrimaryKey.Fingerprint, created.UTC().Format(time.RFC3339), when.UTC().Format(time.RFC3339))
	}
	key, ok := k.entity.SigningKeyById(when, k.key.PublicKey.KeyId)
	if !ok || key.PrivateKey != k.key.PrivateKey {
		return k.errorf("key %X cannot sign as of %s (the signing time, from SOURCE_DATE_EPOCH or the changelog's top date): it has expired or was revoked by then",
			k.entity.PrimaryKey.Fingerprint, when.UTC().Format(time.RFC3339))
	}
	return nil
}

// ClearSign returns text clear-signed as of when (to the second): the
// same text, key and time give the same bytes for a deterministic
// signature scheme (RSA PKCS#1 v1.5, EdDSA). text must end with a newline
// and hold no line with trailing white space (the framing would differ
// from gpg's); a .dsc or .changes does not.
func (k *Key) ClearSign(ctx context.Context, text []byte, when time.Time) ([]byte, error) {
	if err := checkText(text); err != nil {
		return nil, err
	}
	if err := k.Check(when); err != nil {
		return nil, err
	}
	// go-crypto salts v4 signatures with a random notation unless told
	// not to: the same input would give other bytes every time.
	salt := false
	cfg := &packet.Config{DefaultHash: crypto.SHA512, Time: func() time.Time { return when },
		NonDeterministicSignaturesViaNotation: &salt}
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, k.key.PrivateKey, cfg)
	if err != nil {
		return nil, k.errorf("%w", tame(err))
	}
	if _, err := w.Write(text); err != nil {
		return nil, k.errorf("%w", tame(err))
	}
	if err := w.Close(); err != nil {
		return nil, k.errorf("%w", tame(err))
	}
	return rearmor(buf.Bytes())
}

// rearmor rewrites go-crypto's clear-signed message with gpg's armour:
// go-crypto leaves out the CRC-24 line and the final newline.
func rearmor(msg []byte) ([]byte, error) {
	const begin = "\n-----BEGIN PGP SIGNATURE-----\n"
	i := bytes.Index(msg, []byte(begin))
	b, _ := clearsign.Decode(msg)
	if i < 0 || b == nil {
		return nil, errors.New("clearsign: malformed output")
	}
	sig, err := io.ReadAll(b.ArmoredSignature.Body)
	if err != nil {
		return nil, fmt.Errorf("clearsign: %w", err)
	}
	out := bytes.NewBuffer(append([]byte(nil), msg[:i+1]...))
	w, err := armor.Encode(out, "PGP SIGNATURE", nil)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(sig); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// checkText refuses text whose clear-signed form would not be debsign's.
func checkText(text []byte) error {
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return errors.New("clearsign: the text does not end with a newline")
	}
	if bytes.HasPrefix(text, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return errors.New("clearsign: the text is signed already")
	}
	for i, l := range bytes.Split(text[:len(text)-1], []byte("\n")) {
		if len(l) > 0 && strings.IndexByte(" \t\r", l[len(l)-1]) >= 0 {
			return fmt.Errorf("clearsign: line %d ends in white space", i+1)
		}
	}
	return nil
}

// GPG signs with the gpg program: gpg --clearsign --local-user ID, in
// the GnuPG home directory gpg finds itself ($GNUPGHOME, else
// ~/.gnupg), so that a key on a smartcard or behind gpg-agent works. Its
// signatures carry gpg's clock, not the time given.
type GPG struct {
	ID      string // --upload-key-id: a fingerprint (or any name gpg takes)
	Program string // "gpg" when empty
}

// Check reports whether gpg has a secret key ID, before any work.
func (g GPG) Check(ctx context.Context) error {
	_, err := g.run(ctx, nil, "--list-secret-keys", "--", g.ID)
	return err
}

// ClearSign runs gpg as debsign does, on text and then an empty line.
func (g GPG) ClearSign(ctx context.Context, text []byte, _ time.Time) ([]byte, error) {
	if err := checkText(text); err != nil {
		return nil, err
	}
	in := append(append([]byte(nil), text...), '\n')
	out, err := g.run(ctx, in, "--local-user", g.ID, "--clearsign",
		"--list-options", "no-show-policy-urls", "--armor", "--textmode")
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(out, []byte("-----BEGIN PGP SIGNED MESSAGE-----\n")) || !bytes.HasSuffix(out, []byte("-----END PGP SIGNATURE-----\n")) {
		return nil, fmt.Errorf("--upload-key-id %s: gpg printed no clear-signed message", inputerr.Value(g.ID))
	}
	return out, nil
}

// maxGPGStderr is how much of gpg's complaint goes into an error.
const maxGPGStderr = 2048

// gpgTimeout bounds one gpg run: time for a PIN typed into pinentry,
// not for a gpg (or an agent or card) that hangs. gpgWaitDelay is how
// long gpg's children (a shell script's sleep) may hold its output open
// once it is killed.
var gpgTimeout, gpgWaitDelay = 5 * time.Minute, 2 * time.Second

func (g GPG) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	prog := g.Program
	if prog == "" {
		prog = "gpg"
	}
	bounded, cancel := context.WithTimeout(ctx, gpgTimeout)
	defer cancel()
	cmd := exec.CommandContext(bounded, prog, append([]string{"--batch", "--no-tty"}, args...)...)
	cmd.WaitDelay = gpgWaitDelay
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if bounded.Err() != nil {
			err = fmt.Errorf("did not finish in %s: %w", gpgTimeout, err)
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > maxGPGStderr {
			msg = msg[:maxGPGStderr] + "..."
		}
		if msg != "" {
			return nil, fmt.Errorf("--upload-key-id %s: %s: %w: %s", inputerr.Value(g.ID), prog, err, msg)
		}
		return nil, fmt.Errorf("--upload-key-id %s: %s: %w", inputerr.Value(g.ID), prog, err)
	}
	return stdout.Bytes(), nil
}

// readFile reads a key file of at most maxKeyFile bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, pe.Err // the path is in the error already
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("more than %d bytes: not a key", maxKeyFile)
	}
	return data, nil
}
