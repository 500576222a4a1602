//go:build cgo

package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"
)

// Key is a private key in a token: a crypto.Signer that signs in the token,
// and its certificate. Close ends the session with the token.
type Key struct {
	Signer crypto.Signer
	Cert   *x509.Certificate
	ctx    *crypto11.Context
}

// Close logs out of the token and unloads the module; the Signer does not
// work after it.
func (k *Key) Close() error { return k.ctx.Close() }

// Open opens the private key a pkcs11: URI names, logging in with the PIN
// from the URI's pin-source= or $MKSIGNED_PKCS11_PIN, and checks that it
// belongs to its certificate. It opens one crypto11 context, which the
// Key's Close closes. Errors name the module, the token and the object,
// and never the PIN.
func Open(ref string, o Options) (*Key, error) {
	u, err := ParseURI(ref)
	if err != nil {
		return nil, err
	}
	if u.Object == "" && u.ID == nil {
		return nil, fmt.Errorf("%s: the URI names no key: give object=LABEL or id=", u)
	}
	module, err := u.Module(o.Module)
	if err != nil {
		return nil, err
	}
	pin, err := u.PIN()
	if err != nil {
		return nil, err
	}
	cfg, err := findToken(module, u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	cfg.Path, cfg.Pin = module, pin
	ctx, err := crypto11.Configure(cfg)
	if err != nil {
		var code p11.Error
		if errors.As(err, &code) {
			switch code {
			case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_LEN_RANGE:
				return nil, fmt.Errorf("%s (module %s): the token refused the PIN (%v): check pin-source= or $%s", u, module, code, EnvPIN)
			case p11.CKR_PIN_LOCKED:
				return nil, fmt.Errorf("%s (module %s): the PIN is locked (%v): the token's security officer must unlock it", u, module, code)
			}
		}
		return nil, fmt.Errorf("%s (module %s): %w", u, module, err)
	}
	k, err := openKey(ctx, u, o)
	if err != nil {
		ctx.Close()
		return nil, err
	}
	return k, nil
}

// openKey finds the one key pair the URI names in an open context, and its
// certificate.
func openKey(ctx *crypto11.Context, u *URI, o Options) (*Key, error) {
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	signers, err := ctx.FindKeyPairs(u.ID, label)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	switch len(signers) {
	case 0:
		return nil, fmt.Errorf("%s: %s", u, whyNoKey(ctx, u.ID, label))
	case 1:
	default:
		return nil, fmt.Errorf("%s: %d private keys match: add id= or object= to name one", u, len(signers))
	}
	signer := signers[0]
	switch pub := signer.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, fmt.Errorf("%s: unsupported key type %T (want RSA or ECDSA)", u, pub)
	}
	cert, certName := o.Cert, o.CertName
	if cert == nil {
		if cert, err = ctx.FindCertificate(u.ID, label, nil); err != nil {
			return nil, fmt.Errorf("%s: reading its certificate: %w", u, err)
		}
		if cert == nil { // crypto11 says nil, nil when none matches
			return nil, fmt.Errorf("%s: the token holds no certificate with this object=/id=: give the certificate with --cert", u)
		}
		certName = "on the token"
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s: the key does not match certificate %s (subject %s)", u, certName, cert.Subject)
	}
	return &Key{Signer: signer, Cert: cert, ctx: ctx}, nil
}

// whyNoKey says what the token holds in place of the key pair asked for.
func whyNoKey(ctx *crypto11.Context, id, label []byte) string {
	if keys, err := ctx.FindKeys(id, label); err == nil && len(keys) > 0 {
		return "this is a secret key, not a private key: signing needs an RSA or ECDSA key pair"
	}
	if cert, err := ctx.FindCertificate(id, label, nil); err == nil && cert != nil {
		return "the token holds a certificate but no private key (with its public key) under this object=/id="
	}
	return "no such private key on the token (or no public key with its id)"
}

// findToken loads module, finds the one token whose info matches every
// token attribute of the URI and returns a crypto11 configuration that
// selects it, then unloads the module again for crypto11 to load. crypto11
// takes one selector and the first token that matches it; this check gives
// errors that name what is there, and never lets an extra attribute
// (serial=, model=) go unchecked. The selector is the token label where it
// is unique (slot ids can change when a token is initialised), else the
// slot.
func findToken(module string, u *URI) (*crypto11.Config, error) {
	if u.Token == "" && u.Serial == "" && u.SlotID == nil && u.Manufacturer == "" && u.Model == "" {
		return nil, errors.New("the URI names no token: give token=LABEL (or serial=, slot-id=)")
	}
	if strings.Contains(module, "/") {
		if _, err := os.Stat(module); err != nil {
			return nil, fmt.Errorf("module: %w", err) // names the file
		}
	}
	m := p11.New(module)
	if m == nil {
		return nil, fmt.Errorf("module %s: not a PKCS#11 library (it does not load, or has no C_GetFunctionList)", module)
	}
	defer m.Destroy()
	if err := m.Initialize(); err != nil {
		return nil, fmt.Errorf("module %s: C_Initialize: %w", module, err)
	}
	defer m.Finalize()
	slots, err := m.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("module %s: C_GetSlotList: %w", module, err)
	}
	var found []uint
	var present []string
	labels := map[string]int{}
	var label string
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err != nil {
			return nil, fmt.Errorf("module %s: slot %d: C_GetTokenInfo: %w", module, s, err)
		}
		if ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue // a free slot (softhsm2-util --init-token --free takes one)
		}
		labels[ti.Label]++
		present = append(present, fmt.Sprintf("token=%s;serial=%s;slot-id=%d", escape([]byte(ti.Label)), escape([]byte(ti.SerialNumber)), s))
		if (u.Token == "" || ti.Label == u.Token) && (u.Serial == "" || ti.SerialNumber == u.Serial) &&
			(u.SlotID == nil || *u.SlotID == s) && (u.Manufacturer == "" || ti.ManufacturerID == u.Manufacturer) &&
			(u.Model == "" || ti.Model == u.Model) {
			found = append(found, s)
			label = ti.Label
		}
	}
	switch {
	case len(found) == 0 && len(present) == 0:
		return nil, fmt.Errorf("no such token: module %s has no initialised token", module)
	case len(found) == 0:
		return nil, fmt.Errorf("no such token in module %s (it has: %s)", module, strings.Join(present, ", "))
	case len(found) > 1:
		return nil, fmt.Errorf("%d tokens match in module %s: add serial= or slot-id= (it has: %s)", len(found), module, strings.Join(present, ", "))
	}
	if label != "" && labels[label] == 1 {
		return &crypto11.Config{TokenLabel: label}, nil
	}
	slot := int(found[0])
	return &crypto11.Config{SlotNumber: &slot}, nil
}
