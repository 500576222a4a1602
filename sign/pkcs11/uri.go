// Package pkcs11 is a key backend: a private key that stays in a PKCS #11
// token (an HSM, a smart card, SoftHSM2) and signs there, named by an
// RFC 7512 URI such as pkcs11:token=archive;object=efi-2026.
//
// The token is driven through github.com/ThalesGroup/crypto11, which needs
// cgo; a build without cgo has only this file's URI parsing, and Open says
// that PKCS #11 needs a cgo build.
//
// RFC 7512: https://www.rfc-editor.org/rfc/rfc7512
package pkcs11

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Environment variables Open reads when the URI does not say.
const (
	// EnvModule names the PKCS #11 library to load.
	EnvModule = "MKSIGNED_PKCS11_MODULE"
	// EnvPIN holds the user PIN of the token.
	EnvPIN = "MKSIGNED_PKCS11_PIN"
)

// ErrPINValue means a URI carries its PIN (pin-value=): on a command line,
// every user of the machine can read it (ps).
var ErrPINValue = errors.New("pin-value= puts the PIN where every user of the machine can read it (ps, shell history): " +
	"use pin-source=file:PATH in the URI or $" + EnvPIN)

// ErrNoCgo means this mksigned was built without cgo, which PKCS #11 needs.
var ErrNoCgo = errors.New("PKCS#11 keys need a build of mksigned with cgo (CGO_ENABLED=1 and a C compiler)")

// Options are Open's inputs beside the URI.
type Options struct {
	// Module is the PKCS #11 library when the URI has no module-path=
	// (--pkcs11-module); empty means $MKSIGNED_PKCS11_MODULE.
	Module string
	// Cert is the key's certificate; nil takes it from the token: the
	// certificate object with the URI's object= and id=. CertName names it
	// in messages (its file).
	Cert     *x509.Certificate
	CertName string
}

// IsURI says whether ref is a PKCS #11 URI rather than a file name. The
// scheme is case-insensitive (RFC 3986 §3.1); a key file whose name starts
// with "pkcs11:" can be given as ./pkcs11:...
func IsURI(ref string) bool {
	return len(ref) >= len("pkcs11:") && strings.EqualFold(ref[:len("pkcs11:")], "pkcs11:")
}

// URI is a parsed PKCS #11 URI naming a private key. Only the attributes
// below are accepted; any other (library-*, slot-description, vendor x-
// attributes, module-name) is an error, since ignoring a selector could
// pick a key the URI did not mean.
type URI struct {
	// The token: at least one of these (RFC 7512 token, manufacturer,
	// model, serial, slot-id); all that are given must match.
	Token, Manufacturer, Model, Serial string
	SlotID                             *uint
	// The key: object= (CKA_LABEL) and/or id= (CKA_ID, bytes).
	Object string
	ID     []byte
	// Type is "" or "private".
	Type string
	// PINSource is the pin-source= value (a file: URI), ModulePath the
	// module-path= value; empty when not given.
	PINSource, ModulePath string
}

// pathAttrs and queryAttrs are the attributes ParseURI accepts.
var (
	pathAttrs  = map[string]bool{"token": true, "manufacturer": true, "model": true, "serial": true, "slot-id": true, "object": true, "id": true, "type": true}
	queryAttrs = map[string]bool{"pin-source": true, "module-path": true}
)

// ParseURI parses a pkcs11: URI. Attribute values are percent-decoded; an
// attribute may appear once; a pin-value= is refused with ErrPINValue.
// Errors never quote a PIN.
func ParseURI(s string) (*URI, error) {
	if !IsURI(s) {
		return nil, errors.New(`a PKCS#11 URI starts with "pkcs11:"`)
	}
	path, query, _ := strings.Cut(s[len("pkcs11:"):], "?")
	if strings.Contains(query, "?") || strings.Contains(s, "#") {
		return nil, errors.New(`PKCS#11 URI: "?" may appear once, and "#" not at all (percent-encode them)`)
	}
	u := &URI{}
	seen := map[string]bool{}
	parts := func(text, sep string, allowed map[string]bool) error {
		for _, a := range strings.Split(text, sep) {
			if a == "" {
				continue // pkcs11:token=x; or a trailing &
			}
			name, raw, ok := strings.Cut(a, "=")
			name = strings.ToLower(name)
			if name == "pin-value" {
				return ErrPINValue
			}
			if !ok {
				return fmt.Errorf("PKCS#11 URI: attribute %q has no value", name)
			}
			switch {
			case allowed[name]:
			case pathAttrs[name]:
				return fmt.Errorf("PKCS#11 URI: %s belongs in the path, before the ?", name)
			case queryAttrs[name]:
				return fmt.Errorf("PKCS#11 URI: %s belongs in the query, after a ?", name)
			default:
				return fmt.Errorf("PKCS#11 URI: unsupported attribute %q (supported: token, manufacturer, model, serial, slot-id, object, id, type; after ?: pin-source, module-path)", name)
			}
			if seen[name] {
				return fmt.Errorf("PKCS#11 URI: attribute %s given twice", name)
			}
			seen[name] = true
			v, err := unescape(raw)
			if err != nil {
				return fmt.Errorf("PKCS#11 URI: %s: %w", name, err)
			}
			if len(v) == 0 {
				return fmt.Errorf("PKCS#11 URI: %s is empty", name)
			}
			if err := u.set(name, v); err != nil {
				return fmt.Errorf("PKCS#11 URI: %s: %w", name, err)
			}
		}
		return nil
	}
	if err := parts(path, ";", pathAttrs); err != nil {
		return nil, err
	}
	if err := parts(query, "&", queryAttrs); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *URI) set(name string, v []byte) error {
	switch name {
	case "token":
		u.Token = string(v)
	case "manufacturer":
		u.Manufacturer = string(v)
	case "model":
		u.Model = string(v)
	case "serial":
		u.Serial = string(v)
	case "slot-id":
		// CK_SLOT_ID is an unsigned long; crypto11 takes an int.
		n, err := strconv.ParseUint(string(v), 10, strconv.IntSize-1)
		if err != nil {
			return fmt.Errorf("want a decimal slot number, got %q", v)
		}
		slot := uint(n)
		u.SlotID = &slot
	case "object":
		u.Object = string(v)
	case "id":
		u.ID = v
	case "type":
		if string(v) != "private" {
			return fmt.Errorf("type=%s names no private key: a signing key is type=private (or give no type)", v)
		}
		u.Type = string(v)
	case "pin-source":
		u.PINSource = string(v)
	case "module-path":
		u.ModulePath = string(v)
	}
	return nil
}

// unescape percent-decodes v (RFC 3986 §2.1). Unlike url.PathUnescape it
// leaves "+" alone and returns bytes: an id is binary.
func unescape(v string) ([]byte, error) {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) {
			return nil, errors.New("truncated percent escape")
		}
		b, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("bad percent escape %q", v[i:i+3])
		}
		out = append(out, byte(b))
		i += 2
	}
	return out, nil
}

// String is the URI's path, percent-encoded where needed, for messages: it
// names the token and the key, and never holds a PIN (nor a pin-source).
func (u *URI) String() string {
	var parts []string
	add := func(name string, v []byte) {
		if len(v) > 0 {
			parts = append(parts, name+"="+escape(v))
		}
	}
	add("token", []byte(u.Token))
	add("manufacturer", []byte(u.Manufacturer))
	add("model", []byte(u.Model))
	add("serial", []byte(u.Serial))
	if u.SlotID != nil {
		add("slot-id", []byte(strconv.FormatUint(uint64(*u.SlotID), 10)))
	}
	add("object", []byte(u.Object))
	add("id", u.ID)
	add("type", []byte(u.Type))
	return "pkcs11:" + strings.Join(parts, ";")
}

// escape percent-encodes every byte but RFC 3986's unreserved ones.
func escape(v []byte) string {
	var b strings.Builder
	for _, c := range v {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Module returns the PKCS #11 library to load: the URI's module-path=,
// else flag (--pkcs11-module), else $MKSIGNED_PKCS11_MODULE.
func (u *URI) Module(flag string) (string, error) {
	for _, m := range []string{u.ModulePath, flag, os.Getenv(EnvModule)} {
		if m != "" {
			return m, nil
		}
	}
	return "", fmt.Errorf("%s: no PKCS#11 module: give module-path= in the URI, --pkcs11-module PATH or $%s", u, EnvModule)
}

// PIN returns the user PIN: read from the URI's pin-source= file, else
// $MKSIGNED_PKCS11_PIN (empty counts as unset). One trailing newline of a
// PIN file (\n or \r\n) is not part of the PIN. Errors name the file, never
// the PIN.
func (u *URI) PIN() (string, error) {
	if u.PINSource == "" {
		if v := os.Getenv(EnvPIN); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("%s: no PIN: give pin-source=file:PATH in the URI or set $%s", u, EnvPIN)
	}
	path, err := pinFile(u.PINSource)
	if err != nil {
		return "", fmt.Errorf("%s: %w", u, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: PIN: %w", u, err) // the error names the file
	}
	if b2, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
		b = b2
	} else {
		b = bytes.TrimSuffix(b, []byte("\n"))
	}
	if len(b) == 0 {
		return "", fmt.Errorf("%s: PIN file %s is empty", u, path)
	}
	return string(b), nil
}

// pinFile returns the path a pin-source names: file:PATH, file:///PATH or
// file://localhost/PATH (RFC 8089). PATH may be relative to the working
// directory (file:pin), as libp11 reads it.
func pinFile(src string) (string, error) {
	if len(src) < len("file:") || !strings.EqualFold(src[:len("file:")], "file:") {
		return "", fmt.Errorf("pin-source %q: only file: URIs are supported (pin-source=file:/path/to/pin)", src)
	}
	p := src[len("file:"):]
	if rest, ok := strings.CutPrefix(p, "//"); ok {
		host, path, _ := strings.Cut(rest, "/")
		if host != "" && !strings.EqualFold(host, "localhost") {
			return "", fmt.Errorf("pin-source %q: a PIN file must be on this machine", src)
		}
		p = "/" + path
	}
	if p == "" || p == "/" {
		return "", fmt.Errorf("pin-source %q names no file", src)
	}
	return p, nil
}
