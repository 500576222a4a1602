package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHookKey: $MKSIGNED_KEY first, else the user's config.yaml, else the
// system's; a broken file is an error, not skipped; none says where it
// looked. (t.Setenv: not parallel.)
func TestHookKey(t *testing.T) {
	dir := t.TempDir()
	user, sys := filepath.Join(dir, "user"), filepath.Join(dir, "etc", "config.yaml")
	userFile := filepath.Join(user, "mksigned", "config.yaml")
	write := func(p, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name           string
		env            map[string]string
		user, sys      string // file contents, "" for none
		userLink       string // the user's file is a symbolic link to this
		key, cert, out string
		err            []string
	}{
		{name: "none", err: []string{"no signing key configured", "$MKSIGNED_KEY", userFile, sys}},
		{name: "env", env: map[string]string{envKey: "/k", envCert: "/c"}, user: "key: /other\ncert: /c2\n", key: "/k", cert: "/c"},
		{name: "env pkcs11 without cert", env: map[string]string{envKey: "pkcs11:token=t;object=o"}, key: "pkcs11:token=t;object=o"},
		{name: "PEM key without cert", env: map[string]string{envKey: "/k"}, err: []string{"$MKSIGNED_KEY is a PEM key file", "$MKSIGNED_CERT"}},
		{name: "config PEM key without cert", user: "key: /k\n", err: []string{userFile, "cert", "is missing"}},
		{name: "cert without key", env: map[string]string{envCert: "/c"}, err: []string{"$MKSIGNED_CERT is set but $MKSIGNED_KEY is not"}},
		{name: "user before system", user: "key: k.pem\ncert: /c\noutput: out\n", sys: "key: /sys\ncert: /c\n",
			key: filepath.Join(user, "mksigned", "k.pem"), cert: "/c", out: filepath.Join(user, "mksigned", "out")},
		{name: "system", sys: "key: pkcs11:token=t;object=o\n", key: "pkcs11:token=t;object=o"},
		{name: "system PEM", sys: "key: /k\ncert: c.pem\n", key: "/k", cert: filepath.Join(dir, "etc", "c.pem")},
		{name: "unknown key", user: "key: /k\ncert: /c\nkeyfile: /x\n", sys: "key: /sys\n", err: []string{userFile, "line 3", "keyfile"}},
		{name: "no key field", user: "cert: /c\n", err: []string{userFile, "key", "is missing"}},
		{name: "empty", user: "\n", err: []string{userFile, "is empty"}},
		{name: "not a mapping", user: "- key\n", err: []string{userFile, "line 1"}},
		{name: "second document", user: "key: /k\ncert: /c\n---\nkey: /x\n", err: []string{userFile, "a second YAML document"}},
		{name: "dangling link", userLink: filepath.Join(dir, "gone.yaml"), sys: "key: /sys\ncert: /c\n", err: []string{userFile, "a symbolic link to nothing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(dir)
			t.Setenv("XDG_CONFIG_HOME", user)
			t.Setenv(envSystemConfig, sys)
			t.Setenv(envKey, tc.env[envKey])
			t.Setenv(envCert, tc.env[envCert])
			if tc.user != "" {
				write(userFile, tc.user)
			}
			if tc.sys != "" {
				write(sys, tc.sys)
			}
			if tc.userLink != "" {
				write(userFile, "")
				if err := os.Remove(userFile); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(tc.userLink, userFile); err != nil {
					t.Fatal(err)
				}
			}
			k, out, err := hookKey()
			if len(tc.err) > 0 {
				if err == nil {
					t.Fatalf("got key %q, want an error", k.key)
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.key != tc.key || k.cert != tc.cert || out != tc.out {
				t.Errorf("got key %q cert %q output %q, want %q %q %q", k.key, k.cert, out, tc.key, tc.cert, tc.out)
			}
		})
	}
}

// TestConfigFilesXDG: a relative $XDG_CONFIG_HOME is ignored, as the XDG
// spec says, for ~/.config. (t.Setenv: not parallel.)
func TestConfigFilesXDG(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(envSystemConfig, "")
	for _, xdg := range []string{"", "relative/dir"} {
		t.Setenv("XDG_CONFIG_HOME", xdg)
		want := []string{filepath.Join(home, ".config", "mksigned", "config.yaml"), systemConfig}
		if got := configFiles(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("XDG_CONFIG_HOME=%q: got %q, want %q", xdg, got, want)
		}
	}
}
