package tests

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestEncryptedKey: an encrypted key (openssl's default PKCS #8 with
// PBES2) signs as its plain form does, byte for byte, with the passphrase
// from $MKSIGNED_KEY_PASSPHRASE, from $KBUILD_SIGN_PIN (what sign-file
// reads) or from --key-passphrase-file (a trailing newline is not part of
// it). A wrong or missing passphrase is an error that names the key,
// shows no passphrase and leaves nothing behind.
func TestEncryptedKey(t *testing.T) {
	key, cert := newKey(t, "2048")
	const pass = "s3cret passphrase"
	dir := t.TempDir()
	enc := filepath.Join(dir, "enc.key")
	testutil.Run(t, dir, "openssl", "pkey", "-in", key, "-aes256", "-passout", "pass:"+pass, "-out", enc)
	passFile := filepath.Join(dir, "pass")
	writeFile(t, passFile, []byte(pass+"\n"), 0o600)
	crlfFile := filepath.Join(dir, "pass-crlf")
	writeFile(t, crlfFile, []byte(pass+"\r\n"), 0o600)
	tmpl := testutil.DebianFixture(t, fwupdTemplate)
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)

	// run runs generate with the environment cleared of passphrases, plus env.
	run := func(out, keyFile string, env []string, extra ...string) result {
		t.Helper()
		args := append([]string{"generate", "--template", tmpl, "--unsigned", unsigned, "--key", keyFile, "--cert", cert, "--output", out}, extra...)
		cmd := exec.Command(mksignedBin, args...)
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "MKSIGNED_KEY_PASSPHRASE=") && !strings.HasPrefix(e, "KBUILD_SIGN_PIN=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := 0
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		noRace(t, stderr.String())
		return result{stdout.String(), stderr.String(), code}
	}
	plain := filepath.Join(t.TempDir(), "out")
	if r := run(plain, key, nil); r.code != 0 {
		t.Fatalf("plain key: exit %d: %s", r.code, r.stderr)
	}
	want := tree(t, plain)
	for name, c := range map[string]struct {
		env   []string
		extra []string
	}{
		"MKSIGNED_KEY_PASSPHRASE": {env: []string{"MKSIGNED_KEY_PASSPHRASE=" + pass}},
		"KBUILD_SIGN_PIN":         {env: []string{"KBUILD_SIGN_PIN=" + pass}},
		"file":                    {extra: []string{"--key-passphrase-file", passFile}},
		"file before environment": {env: []string{"MKSIGNED_KEY_PASSPHRASE=wrong"}, extra: []string{"--key-passphrase-file", passFile}},
		"file with CRLF":          {extra: []string{"--key-passphrase-file", crlfFile}},
		"empty variable is unset": {env: []string{"MKSIGNED_KEY_PASSPHRASE=", "KBUILD_SIGN_PIN=" + pass}},
	} {
		out := filepath.Join(t.TempDir(), "out")
		if r := run(out, enc, c.env, c.extra...); r.code != 0 {
			t.Errorf("%s: exit %d: %s", name, r.code, r.stderr)
			continue
		}
		if got := tree(t, out); !maps.Equal(got, want) {
			t.Errorf("%s: output differs from the plain key's", name)
		}
	}
	for name, c := range map[string]struct {
		env   []string
		extra []string
		want  string
	}{
		"wrong passphrase":   {[]string{"MKSIGNED_KEY_PASSPHRASE=not it"}, nil, "wrong passphrase"},
		"no passphrase":      {nil, nil, "no passphrase was given: give it in $MKSIGNED_KEY_PASSPHRASE"},
		"unreadable file":    {nil, []string{"--key-passphrase-file", filepath.Join(dir, "missing")}, filepath.Join(dir, "missing")},
		"trailing CR in key": {[]string{"MKSIGNED_KEY_PASSPHRASE=" + pass + "\r"}, nil, "wrong passphrase"},
	} {
		parent := t.TempDir()
		r := run(filepath.Join(parent, "out"), enc, c.env, c.extra...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, enc) {
			t.Errorf("%s: exit %d, stderr %q; want 1, naming %s and saying %q", name, r.code, r.stderr, enc, c.want)
		}
		if strings.Contains(r.stderr, pass) || strings.Contains(r.stderr, "not it") {
			t.Errorf("%s: stderr shows a passphrase: %q", name, r.stderr)
		}
		if ents, _ := os.ReadDir(parent); len(ents) != 0 {
			t.Errorf("%s: left behind: %v", name, ents)
		}
	}
}

// TestPassphraseFlagNeedsKey: --key-passphrase-file alone is bad usage.
func TestPassphraseFlagNeedsKey(t *testing.T) {
	r := mksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, fwupdTemplate),
		"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--dry-run", "--key-passphrase-file", "/dev/null")
	if r.code != 2 || !strings.Contains(r.stderr, "--key-passphrase-file needs --key") {
		t.Errorf("exit %d, stderr %q; want 2 and a usage error", r.code, r.stderr)
	}
}
