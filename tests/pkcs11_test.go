package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// The tests here sign through a SoftHSM2 token of their own
// (testutil.NewSoftHSM sets SOFTHSM2_CONF, which the binary inherits), so
// none is parallel.

// p11Token is the token the tests make.
const p11Token = "mksigned-test"

// newTokenKey makes an RSA-2048 key with openssl (which writes PKCS#8, as
// softhsm2-util --import wants) and stores it on a new token as "signkey"
// (id 01), with its certificate. It returns the PEM files too.
func newTokenKey(t *testing.T) (h *testutil.SoftHSM, key, cert string) {
	t.Helper()
	h = testutil.NewSoftHSM(t)
	key, cert = newKey(t, "2048")
	h.InitToken(t, p11Token)
	h.ImportKey(t, p11Token, key, "signkey", "01")
	h.WriteCert(t, p11Token, cert, "signkey", "01")
	return h, key, cert
}

// sameOutput fails the test unless two generate outputs hold the same
// .dsc and .tar.xz, byte for byte: the signatures inside included.
func sameOutput(t *testing.T, got, want string) {
	t.Helper()
	for _, suffix := range []string{".dsc", ".tar.xz"} {
		g, err := os.ReadFile(onlyFile(t, got, suffix))
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.ReadFile(onlyFile(t, want, suffix))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g, w) {
			t.Errorf("the *%s signed through the token differs from the one signed with the PEM file", suffix)
		}
	}
}

// jsonCrypto returns --json's "crypto".
func jsonCrypto(t *testing.T, stdout string) string {
	t.Helper()
	var r struct{ Crypto string }
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	return r.Crypto
}

// TestPKCS11MatchesPEM signs with mksigned generate through the token and
// with the same key as a PEM file: PKCS#1 v1.5 is deterministic, so both
// source packages must be byte-identical, for efi (Debian's fwupd and
// shim images) and linux-module (dummy.ko). --json says the token signed.
// The module signature is also checked against openssl cms signing
// through the token with libp11's engine (Linux's sign-file 6.1 cannot
// load pkcs11 keys on bookworm: FORMATS.md §2.4).
func TestPKCS11MatchesPEM(t *testing.T) {
	h, key, cert := newTokenKey(t)
	uri := "pkcs11:token=" + p11Token + ";object=signkey"

	t.Run("efi", func(t *testing.T) {
		// fwupd's and shim's images, two workers: the token signs
		// concurrently.
		args := []string{"generate", "--template", multiTemplate(t), "--jobs", "2",
			"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--unsigned", testutil.DebianFixture(t, shimUnsigned)}
		pem := filepath.Join(t.TempDir(), "out")
		mustMksigned(t, "", nil, append(args, "--key", key, "--cert", cert, "--output", pem)...)
		// Module from the flag, PIN from the URI, certificate from the
		// token; MKSIGNED_CRYPTO=go is for PEM keys and changes nothing.
		p11 := filepath.Join(t.TempDir(), "out")
		stdout := mustMksigned(t, "", []string{"MKSIGNED_CRYPTO=go"}, append(args, "--key", uri+"?pin-source=file:"+h.PINFile,
			"--pkcs11-module", h.Module, "--output", p11, "--json")...)
		sameOutput(t, p11, pem)
		if got := jsonCrypto(t, stdout); got != "pkcs11" {
			t.Errorf(`--json says crypto %q, want "pkcs11"`, got)
		}
	})

	t.Run("linux-module", func(t *testing.T) {
		testutil.RequireTool(t, "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so") // libengine-pkcs11-openssl
		deb, tmpl, module := moduleFixture(t, "xz")
		args := []string{"generate", "--template", tmpl, "--unsigned", deb}
		pem := filepath.Join(t.TempDir(), "out")
		mustMksigned(t, "", nil, append(args, "--key", key, "--cert", cert, "--output", pem)...)
		// Module and PIN from the environment, certificate from --cert.
		p11 := filepath.Join(t.TempDir(), "out")
		stdout := mustMksigned(t, "", []string{"MKSIGNED_PKCS11_MODULE=" + h.Module, "MKSIGNED_PKCS11_PIN=" + h.PIN},
			append(args, "--key", uri, "--cert", cert, "--output", p11, "--json")...)
		sameOutput(t, p11, pem)
		if got := jsonCrypto(t, stdout); got != "pkcs11" {
			t.Errorf(`--json says crypto %q, want "pkcs11"`, got)
		}

		ours := moduleSignature(t, p11)
		dir := t.TempDir()
		m := filepath.Join(dir, "dummy.ko")
		writeFile(t, m, module, 0o644)
		cmd := []string{"cms", "-sign", "-binary", "-noattr", "-nocerts", "-nosmimecap", "-md", "sha256", "-in", m, "-signer", cert,
			"-engine", "pkcs11", "-keyform", "engine", "-inkey", uri + ";type=private?pin-source=file:" + h.PINFile,
			"-outform", "DER", "-out", filepath.Join(dir, "dummy.ko.p7s")}
		t.Setenv("PKCS11_MODULE_PATH", h.Module) // libp11's engine reads it
		testutil.Run(t, "", "openssl", cmd...)
		theirs, err := os.ReadFile(filepath.Join(dir, "dummy.ko.p7s"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("module signature differs from openssl cms signing through the token (%d vs %d bytes)", len(ours), len(theirs))
		}
		verifyModule(t, p11, deb, cert)
	})
}

// TestPKCS11Errors: what the CLI says when a token key cannot be used.
// Every message names the token and object where one is known, never the
// PIN, and nothing is written.
func TestPKCS11Errors(t *testing.T) {
	h, key, cert := newTokenKey(t)
	wrongPIN := filepath.Join(t.TempDir(), "wrong-pin")
	writeFile(t, wrongPIN, []byte("wrong-pin-Z3"), 0o600)
	uri := "pkcs11:token=" + p11Token + ";object=signkey"
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{"PIN in the URI", nil, []string{"--key", uri + "?pin-value=" + h.PIN, "--pkcs11-module", h.Module}, 2,
			[]string{"pin-value=", "pin-source=file:"}},
		{"wrong PIN", nil, []string{"--key", uri + "?pin-source=file:" + wrongPIN, "--pkcs11-module", h.Module}, 1,
			[]string{"token=" + p11Token, "object=signkey", "refused the PIN"}},
		{"no such object", []string{"MKSIGNED_PKCS11_PIN=" + h.PIN}, []string{"--key", "pkcs11:token=" + p11Token + ";object=efi-2026", "--pkcs11-module", h.Module}, 1,
			[]string{"token=" + p11Token, "object=efi-2026", "no such private key"}},
		{"no module", []string{"MKSIGNED_PKCS11_PIN=" + h.PIN, "MKSIGNED_PKCS11_MODULE="}, []string{"--key", uri}, 1,
			[]string{"object=signkey", "--pkcs11-module"}},
		{"certificate of another key", []string{"MKSIGNED_PKCS11_PIN=" + h.PIN}, []string{"--key", uri, "--pkcs11-module", h.Module, "--cert", otherCert(t)}, 1,
			[]string{"object=signkey", "does not match certificate"}},
		{"OpenSSL asked for", []string{"MKSIGNED_PKCS11_PIN=" + h.PIN, "MKSIGNED_CRYPTO=openssl"}, []string{"--key", uri, "--pkcs11-module", h.Module}, 1,
			[]string{"MKSIGNED_CRYPTO is openssl", "PKCS#11 token"}},
		{"passphrase file", nil, []string{"--key", uri, "--key-passphrase-file", wrongPIN}, 2,
			[]string{"--key-passphrase-file is for PEM keys"}},
		{"module for a PEM key", nil, []string{"--key", key, "--cert", cert, "--pkcs11-module", h.Module}, 2,
			[]string{"--pkcs11-module needs a pkcs11: --key"}},
		{"PEM key without --cert", nil, []string{"--key", key}, 2,
			[]string{"--key needs --cert"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"generate", "--template", testutil.DebianFixture(t, fwupdTemplate),
				"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--output", out}, c.args...)
			r := mksigned(t, "", c.env, args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, c.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			for _, pin := range []string{h.PIN, "wrong-pin-Z3"} {
				if strings.Contains(r.stderr+r.stdout, pin) {
					t.Errorf("the output shows a PIN:\n%s%s", r.stdout, r.stderr)
				}
			}
			notExist(t, out)
		})
	}
}

// TestPKCS11PINNotInherited: the PIN read from $MKSIGNED_PKCS11_PIN is
// gone from the environment before a child runs (here the xz program,
// replaced by a script that records its environment).
func TestPKCS11PINNotInherited(t *testing.T) {
	h, _, _ := newTokenKey(t)
	realXZ := testutil.RequireTool(t, "xz")
	bin, dump := t.TempDir(), filepath.Join(t.TempDir(), "env")
	writeFile(t, filepath.Join(bin, "xz"), []byte("#!/bin/sh\nenv >"+dump+"\nexec "+realXZ+" \"$@\"\n"), 0o755)
	deb, tmpl, _ := moduleFixture(t, "xz")
	mustMksigned(t, "", []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "MKSIGNED_DECOMPRESS=external",
		"MKSIGNED_PKCS11_PIN=" + h.PIN, "MKSIGNED_PKCS11_MODULE=" + h.Module},
		"generate", "--template", tmpl, "--unsigned", deb, "--key", "pkcs11:token="+p11Token+";object=signkey",
		"--output", filepath.Join(t.TempDir(), "out"))
	env, err := os.ReadFile(dump)
	if err != nil {
		t.Fatalf("the xz script did not run: %v", err)
	}
	if strings.Contains(string(env), "MKSIGNED_PKCS11_PIN") || strings.Contains(string(env), h.PIN) {
		t.Errorf("xz ran with the PIN in its environment")
	}
	if !strings.Contains(string(env), "MKSIGNED_PKCS11_MODULE=") {
		t.Errorf("the recorded environment lacks what was passed (MKSIGNED_PKCS11_MODULE): the check above proves nothing")
	}
}

// otherCert is the certificate of a key that is not on the token.
func otherCert(t *testing.T) string {
	t.Helper()
	_, cert := newKey(t, "2048")
	return cert
}
