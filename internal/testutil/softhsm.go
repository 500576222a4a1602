package testutil

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// SoftHSMModule is where Debian's softhsm2 package installs the PKCS #11
// library.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// SoftHSM is a SoftHSM2 token store of a test's own, under t.TempDir():
// nothing of the machine's (/var/lib/softhsm) is read or changed.
type SoftHSM struct {
	Module  string // the PKCS #11 library
	Conf    string // its configuration: SOFTHSM2_CONF
	PIN     string // the user PIN of every token made by InitToken
	PINFile string // a file holding PIN, with no newline (what libp11 wants)
	dir     string
}

// NewSoftHSM makes a SoftHSM2 configuration under t.TempDir() and points
// SOFTHSM2_CONF at it (t.Setenv, so the test cannot be parallel). The
// library, softhsm2-util and pkcs11-tool (opensc) are required tools.
func NewSoftHSM(t testing.TB) *SoftHSM {
	t.Helper()
	h := &SoftHSM{Module: RequireTool(t, SoftHSMModule), PIN: "mksigned-pin-Q7", dir: t.TempDir()}
	RequireTool(t, "softhsm2-util")
	RequireTool(t, "pkcs11-tool")
	tokens := filepath.Join(h.dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	h.Conf = filepath.Join(h.dir, "softhsm2.conf")
	h.PINFile = filepath.Join(h.dir, "pin")
	for path, data := range map[string]string{
		h.Conf:    "directories.tokendir = " + tokens + "/\nobjectstore.backend = file\nlog.level = ERROR\n",
		h.PINFile: h.PIN,
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SOFTHSM2_CONF", h.Conf)
	return h
}

// Env is the environment a child process needs to see the tokens.
func (h *SoftHSM) Env() []string { return []string{"SOFTHSM2_CONF=" + h.Conf} }

// InitToken makes a token labelled label in the first free slot, with
// user PIN h.PIN.
func (h *SoftHSM) InitToken(t testing.TB, label string) {
	t.Helper()
	Run(t, "", "softhsm2-util", "--init-token", "--free", "--label", label, "--pin", h.PIN, "--so-pin", "5678")
}

// ImportKey imports the PKCS #8 PEM private key in keyFile into token as
// a key pair with CKA_LABEL label and CKA_ID id (hex, e.g. "01").
func (h *SoftHSM) ImportKey(t testing.TB, token, keyFile, label, id string) {
	t.Helper()
	Run(t, "", "softhsm2-util", "--import", keyFile, "--token", token, "--label", label, "--id", id, "--pin", h.PIN)
}

// WriteCert stores the certificate in certFile (PEM or DER) on token as a
// certificate object with CKA_LABEL label and CKA_ID id (hex).
func (h *SoftHSM) WriteCert(t testing.TB, token, certFile, label, id string) {
	t.Helper()
	der, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(der); b != nil {
		der = b.Bytes
	}
	f := filepath.Join(t.TempDir(), "cert.der")
	if err := os.WriteFile(f, der, 0o600); err != nil {
		t.Fatal(err)
	}
	h.tool(t, token, "--write-object", f, "--type", "cert", "--label", label, "--id", id)
}

// SecretKey makes an AES-256 secret key on token with CKA_LABEL label and
// CKA_ID id (hex).
func (h *SoftHSM) SecretKey(t testing.TB, token, label, id string) {
	t.Helper()
	h.tool(t, token, "--keygen", "--key-type", "AES:32", "--label", label, "--id", id)
}

func (h *SoftHSM) tool(t testing.TB, token string, args ...string) {
	t.Helper()
	Run(t, "", "pkcs11-tool", append([]string{"--module", h.Module, "--token-label", token, "--login", "--pin", h.PIN}, args...)...)
}
