package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// generateArgs are generate's flags for c, signing with a fresh key.
func generateArgs(t *testing.T, c debianCase, out string, more ...string) []string {
	t.Helper()
	key, cert := newKey(t, "2048")
	return generateArgsKey(t, c, key, cert, out, more...)
}

// generateArgsKey is generateArgs with the key given.
func generateArgsKey(t *testing.T, c debianCase, key, cert, out string, more ...string) []string {
	t.Helper()
	return append([]string{"generate",
		"--template", testutil.DebianFixture(t, c.template),
		"--unsigned", testutil.DebianFixture(t, c.unsigned),
		"--key", key, "--cert", cert, "--output", out}, more...)
}

// genchanges runs dpkg-genchanges -S in dir with env, as a maintainer
// would after dpkg-source -x.
func genchanges(t *testing.T, dir string, env ...string) []byte {
	t.Helper()
	cmd := exec.Command(testutil.RequireTool(t, "dpkg-genchanges"), "-S", "-u..")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "HOME=" + dir}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-genchanges -S: %v\n%s", err, stderr.Bytes())
	}
	return out
}

// TestChangesMatchGenchanges checks generate --changes against
// dpkg-genchanges -S run in the extracted source package, byte for byte,
// for Debian's real templates, and that the output says what it wrote.
func TestChangesMatchGenchanges(t *testing.T) {
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	const sde = "SOURCE_DATE_EPOCH=1700000000"
	for _, c := range debianCases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := generateArgs(t, c, out, "--changes")
			plan := mustMksigned(t, "", []string{sde}, append(args, "--dry-run")...)
			stdout := mustMksigned(t, "", []string{sde}, args...)
			changes := onlyFile(t, out, "_source.changes")
			dsc := onlyFile(t, out, ".dsc")
			if strings.TrimSuffix(changes, "_source.changes") != strings.TrimSuffix(dsc, ".dsc") {
				t.Errorf("%s is not named after %s", changes, dsc)
			}
			if !strings.Contains(stdout, "wrote "+changes+"\n") {
				t.Errorf("stdout %q does not say it wrote %s", stdout, changes)
			}
			if !strings.Contains(plan, "would write "+changes+"\n") {
				t.Errorf("--dry-run plan %q does not say it would write %s", plan, changes)
			}
			testutil.Run(t, out, dpkgSource, "-x", filepath.Base(dsc), "x")
			want := genchanges(t, filepath.Join(out, "x"), sde)
			if got := readFileT(t, changes); !bytes.Equal(got, want) {
				t.Errorf("%s differs from dpkg-genchanges -S's\ngot:\n%s\nwant:\n%s", changes, got, want)
			}

			var js struct {
				Changes string   `json:"changes"`
				Written []string `json:"written"`
			}
			out2 := filepath.Join(t.TempDir(), "out")
			if err := json.Unmarshal([]byte(mustMksigned(t, "", []string{sde}, append(generateArgs(t, c, out2, "--changes"), "--json")...)), &js); err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(out2, filepath.Base(changes)); js.Changes != want || len(js.Written) != 3 || js.Written[2] != want {
				t.Errorf("--json: changes %q, written %q; want %s last", js.Changes, js.Written, want)
			}
		})
	}
}

// gnupg is a throwaway GnuPG home with the keys the upload tests use.
type gnupg struct {
	home string
	// Fingerprints.
	good    string // Ed25519, signs, passphrase-protected, made in 2020
	rsa     string // RSA, signs, no passphrase, made in 2020
	expired string // Ed25519, signs, expired in 2020
	cert    string // Ed25519 that may only certify
	fresh   string // Ed25519, signs, made now: after the changelog's date
}

// uploadPassphrase is the good key's; no output may show it.
const uploadPassphrase = "pw-Upload-7f3a91-never-shown"

func newGnuPG(t *testing.T) *gnupg {
	t.Helper()
	gpg := testutil.RequireTool(t, "gpg")
	testutil.RequireTool(t, "gpgconf")
	// A short path: gpg-agent's socket lives in it.
	home, err := os.MkdirTemp("", "mksigned-gpg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		os.RemoveAll(home)
	})
	g := &gnupg{home: home}
	gen := func(uid, algo, usage, expire, pass string, faked bool) string {
		args := []string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", pass}
		if faked {
			args = append(args, "--faked-system-time", "20200101T000000")
		}
		testutil.Run(t, "", gpg, append(args, "--quick-gen-key", uid, algo, usage, expire)...)
		out := testutil.Run(t, "", gpg, "--homedir", home, "--with-colons", "--list-keys", uid)
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Split(l, ":"); f[0] == "fpr" {
				return f[9]
			}
		}
		t.Fatalf("no fingerprint for %s", uid)
		return ""
	}
	g.good = gen("Good <good@example.org>", "ed25519", "sign", "never", uploadPassphrase, true)
	g.rsa = gen("RSA <rsa@example.org>", "rsa2048", "sign", "never", "", true)
	g.expired = gen("Expired <expired@example.org>", "ed25519", "sign", "1d", "", true)
	g.cert = gen("Cert <cert@example.org>", "ed25519", "cert", "never", "", true)
	g.fresh = gen("Fresh <fresh@example.org>", "ed25519", "sign", "never", "", false)
	return g
}

// export writes gpg's export of fpr (--export-secret-keys with secret)
// into a file and returns its path.
func (g *gnupg) export(t *testing.T, fpr string, secret, armor bool) string {
	t.Helper()
	args := []string{"--homedir", g.home, "--batch", "--pinentry-mode", "loopback", "--passphrase", uploadPassphrase}
	if armor {
		args = append(args, "--armor")
	}
	what := "--export"
	if secret {
		what = "--export-secret-keys"
	}
	data := testutil.Run(t, "", "gpg", append(args, what, fpr)...)
	p := filepath.Join(t.TempDir(), fpr+what)
	writeFile(t, p, data, 0o600)
	return p
}

// noPassphrase fails the test if r shows the passphrase.
func noPassphrase(t *testing.T, r result, pass ...string) {
	t.Helper()
	for _, p := range append(pass, uploadPassphrase) {
		if strings.Contains(r.stdout+r.stderr, p) {
			t.Errorf("the output shows the passphrase %q:\nstdout:\n%s\nstderr:\n%s", p, r.stdout, r.stderr)
		}
	}
}

// TestUploadSigned clear-signs the .dsc and .changes with a key file
// (passphrase from a file, and from the environment) and through gpg, and
// checks that gpgv and dscverify accept both files, that dpkg-source
// --require-valid-signature extracts the .dsc, that the .changes lists
// the signed .dsc, that the clear-signed text is what debsign's gpg
// makes, and that a key file gives the same bytes twice.
func TestUploadSigned(t *testing.T) {
	gpgv := testutil.RequireTool(t, "gpgv")
	dscverify := testutil.RequireTool(t, "dscverify")
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	g := newGnuPG(t)
	c := debianCases[0]
	keyring := g.export(t, g.good, false, false)
	rsaKeyring := g.export(t, g.rsa, false, false)
	passFile := filepath.Join(t.TempDir(), "pass")
	writeFile(t, passFile, []byte(uploadPassphrase+"\n"), 0o600)
	goodKey := g.export(t, g.good, true, true)
	rsaKey := g.export(t, g.rsa, true, true)

	env := []string{"GNUPGHOME=" + g.home, "SOURCE_DATE_EPOCH="} // the changelog's date, 2023
	key, cert := newKey(t, "2048")
	run := func(t *testing.T, env []string, more ...string) (dsc, changes string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		r := mksigned(t, "", env, generateArgsKey(t, c, key, cert, out, append([]string{"--changes"}, more...)...)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		noPassphrase(t, r)
		return onlyFile(t, out, ".dsc"), onlyFile(t, out, "_source.changes")
	}
	check := func(t *testing.T, keyring, dsc, changes string) {
		t.Helper()
		for _, f := range []string{dsc, changes} {
			if !bytes.HasPrefix(readFileT(t, f), []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n")) {
				t.Errorf("%s does not start as a clear-signed message with Hash: SHA512", f)
			}
			testutil.Run(t, "", gpgv, "--keyring", keyring, f)
		}
		testutil.Run(t, "", dscverify, "--no-conf", "--keyring", keyring, changes)
		// dpkg-source checks with gpgv against ~/.gnupg/trustedkeys.gpg.
		home := t.TempDir()
		os.MkdirAll(filepath.Join(home, ".gnupg"), 0o700)
		writeFile(t, filepath.Join(home, ".gnupg", "trustedkeys.gpg"), readFileT(t, keyring), 0o600)
		x := filepath.Join(filepath.Dir(dsc), "x") // beside the .dsc, for dpkg-genchanges -u..
		cmd := exec.Command(dpkgSource, "--require-valid-signature", "-x", dsc, x)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GNUPGHOME=" + filepath.Join(home, ".gnupg"), "LC_ALL=C"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("dpkg-source --require-valid-signature -x: %v\n%s", err, out)
		}
		// The .changes lists the .dsc as signed.
		want := genchanges(t, x)
		got := readFileT(t, changes)
		if !bytes.Contains(got, []byte(string(want)+"\n-----BEGIN PGP SIGNATURE-----\n")) {
			t.Errorf("%s does not hold what dpkg-genchanges -S writes for the signed .dsc:\n%s\nwant:\n%s", changes, got, want)
		}
	}

	t.Run("key file, passphrase file", func(t *testing.T) {
		dsc, changes := run(t, env, "--upload-key", goodKey, "--upload-passphrase-file", passFile)
		check(t, keyring, dsc, changes)
		dsc2, changes2 := run(t, env, "--upload-key", goodKey, "--upload-passphrase-file", passFile)
		for _, p := range [][2]string{{dsc, dsc2}, {changes, changes2}} {
			if !bytes.Equal(readFileT(t, p[0]), readFileT(t, p[1])) {
				t.Errorf("%s and %s differ: the same inputs gave other bytes", p[0], p[1])
			}
		}
	})
	t.Run("dry run", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		r := mksigned(t, "", env, generateArgsKey(t, c, key, cert, out, "--changes", "--dry-run",
			"--upload-key", goodKey, "--upload-passphrase-file", passFile)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, suffix := range []string{".dsc", "_source.changes"} {
			if !regexp.MustCompile(`would write \S+` + regexp.QuoteMeta(suffix) + ` clear-signed by OpenPGP key ` + g.good + "\n").MatchString(r.stdout) {
				t.Errorf("the plan does not say it would write the %s clear-signed by %s:\n%s", suffix, g.good, r.stdout)
			}
		}
		notExist(t, out)
		noPassphrase(t, r)
	})
	t.Run("key file, passphrase from the environment", func(t *testing.T) {
		dsc, changes := run(t, append(env, "MKSIGNED_UPLOAD_PASSPHRASE="+uploadPassphrase), "--upload-key", goodKey)
		check(t, keyring, dsc, changes)
	})
	// The text before the signature.
	text := func(p string) string {
		s := string(readFileT(t, p))
		return s[:strings.Index(s, "-----BEGIN PGP SIGNATURE-----\n")]
	}
	var viaFile, viaGPG string
	t.Run("RSA key file", func(t *testing.T) {
		dsc, changes := run(t, env, "--upload-key", rsaKey)
		check(t, rsaKeyring, dsc, changes)
		viaFile = text(dsc)
	})
	t.Run("gpg", func(t *testing.T) {
		dsc, changes := run(t, env, "--upload-key-id", g.rsa)
		check(t, rsaKeyring, dsc, changes)
		viaGPG = text(dsc)
	})
	// gpg's signature differs (its clock, its packet layout), but not
	// the clear-signed text around it: debsign's framing.
	if viaFile == "" || viaFile != viaGPG {
		t.Errorf("the clear-signed text differs from gpg's:\n%q\n%q", viaFile, viaGPG)
	}
}

// TestUploadKeyBadInput gives keys that cannot sign and wrong or missing
// passphrases: each is an error naming the flag and the file, nothing is
// written, and no passphrase is shown.
func TestUploadKeyBadInput(t *testing.T) {
	g := newGnuPG(t)
	c := debianCases[0]
	goodKey := g.export(t, g.good, true, true)
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	const wrong = "wrong-pw-5c1e"
	writeFile(t, wrongFile, []byte(wrong+"\n"), 0o600)
	notKey := filepath.Join(t.TempDir(), "not-a-key")
	writeFile(t, notKey, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnonsense\n"), 0o600)
	// The primary key (the one that signs) as a stub, as for a key on a card.
	stub := filepath.Join(t.TempDir(), "stub.asc")
	writeFile(t, stub, testutil.Run(t, "", "gpg", "--homedir", g.home, "--batch", "--pinentry-mode", "loopback", "--passphrase", uploadPassphrase,
		"--armor", "--export-secret-subkeys", g.good), 0o600)
	bigFile := filepath.Join(t.TempDir(), "big")
	writeFile(t, bigFile, bytes.Repeat([]byte(wrong), 70<<10/len(wrong)), 0o600)
	env := []string{"GNUPGHOME=" + g.home, "SOURCE_DATE_EPOCH=", "MKSIGNED_UPLOAD_PASSPHRASE="}
	cases := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"public key", nil, []string{"--upload-key", g.export(t, g.good, false, true)}, []string{"--upload-key", "public key"}},
		{"expired", nil, []string{"--upload-key", g.export(t, g.expired, true, true)}, []string{"--upload-key", "cannot sign"}},
		{"certify only", nil, []string{"--upload-key", g.export(t, g.cert, true, true)}, []string{"--upload-key", "cannot sign"}},
		{"made after the signing time", nil, []string{"--upload-key", g.export(t, g.fresh, true, true)}, []string{"--upload-key", "created at", "SOURCE_DATE_EPOCH"}},
		{"card stub", nil, []string{"--upload-key", stub}, []string{"--upload-key", "stub.asc", "stub", "--upload-key-id"}},
		{"made after the signing time, dry run", nil, []string{"--dry-run", "--upload-key", g.export(t, g.fresh, true, true)}, []string{"--upload-key", "created at"}},
		{"not a key", nil, []string{"--upload-key", notKey}, []string{"--upload-key", "not-a-key"}},
		{"missing file", nil, []string{"--upload-key", filepath.Join(t.TempDir(), "none")}, []string{"--upload-key", "no such file"}},
		{"no passphrase", nil, []string{"--upload-key", goodKey}, []string{"--upload-key", "encrypted", "--upload-passphrase-file", "MKSIGNED_UPLOAD_PASSPHRASE"}},
		{"wrong passphrase file", nil, []string{"--upload-key", goodKey, "--upload-passphrase-file", wrongFile}, []string{"--upload-key", "wrong passphrase"}},
		{"passphrase file too big", nil, []string{"--upload-key", goodKey, "--upload-passphrase-file", bigFile}, []string{"--upload-key", "big", "more than"}},
		{"wrong passphrase in the environment", []string{"MKSIGNED_UPLOAD_PASSPHRASE=" + wrong}, []string{"--upload-key", goodKey}, []string{"--upload-key", "wrong passphrase"}},
		{"unknown gpg key", nil, []string{"--upload-key-id", "0000000000000000000000000000000000000000"}, []string{"--upload-key-id", "gpg"}},
		{"both", nil, []string{"--upload-key", goodKey, "--upload-key-id", g.rsa}, []string{"--upload-key", "--upload-key-id"}},
		{"passphrase file alone", nil, []string{"--upload-passphrase-file", wrongFile}, []string{"--upload-passphrase-file needs --upload-key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			r := mksigned(t, "", append(env, tc.env...), generateArgs(t, c, out, append([]string{"--changes"}, tc.args...)...)...)
			if r.code == 0 {
				t.Fatalf("exit 0, want an error\n%s", r.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not say %q", r.stderr, w)
				}
			}
			notExist(t, out)
			noPassphrase(t, r, wrong)
		})
	}
}

// TestUploadPassphraseFIFO: a passphrase file that is a FIFO no one
// writes stops at SIGINT (exit 130, nothing written); open(2) blocked in
// it, and SIGINT and SIGTERM were caught and ignored.
func TestUploadPassphraseFIFO(t *testing.T) {
	g := newGnuPG(t)
	key, cert := newKey(t, "2048")
	fifo := filepath.Join(t.TempDir(), "pass")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	c := debianCases[0]
	parent := t.TempDir()
	isolated, _, marker := isolatedEnv(t)
	env := append(isolated, "GNUPGHOME="+g.home, "SOURCE_DATE_EPOCH=", "MKSIGNED_UPLOAD_PASSPHRASE=")
	cmd, stderr, exited := startGroup(t, mksignedBin, env, generateArgsKey(t, c, key, cert, filepath.Join(parent, "out"),
		"--changes", "--upload-key", g.export(t, g.good, true, true), "--upload-passphrase-file", fifo)...)
	time.Sleep(time.Second)
	select {
	case err := <-exited:
		t.Fatalf("mksigned ended (%v) before the signal; stderr: %s", err, stderr)
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	wantInterrupted(t, cmd, stderr, exited, 5*time.Second, parent, marker)
}

// TestChangesOutputChecked: with --changes, the .changes's place in
// --output is checked with the others before any work: a directory of
// its name is refused (by a dry run too) and nothing is written.
func TestChangesOutputChecked(t *testing.T) {
	c := debianCases[0]
	out := filepath.Join(t.TempDir(), "out")
	changes := filepath.Join(out, "fwupd-amd64-signed_1.4+1_source.changes")
	if err := os.MkdirAll(changes, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []string{"--changes", "--dry-run"} { // the dry run too
		r := mksigned(t, "", nil, generateArgs(t, c, out, "--changes", dry)...)
		if r.code == 0 || !strings.Contains(r.stderr, "_source.changes exists and is a directory") {
			t.Fatalf("%s: exit %d, stderr %q: want the .changes named as a directory", dry, r.code, r.stderr)
		}
	}
	if got := testutil.ListDir(t, out); len(got) != 1 {
		t.Errorf("--output holds %v, want only the directory", got)
	}
}

// TestChangesBadChangelog: a top changelog entry dpkg-genchanges -S
// refuses (binary-only=yes) stops --changes before any work, in a dry
// run too, naming debian/changelog; nothing is written.
func TestChangesBadChangelog(t *testing.T) {
	tmpl := hardTemplate(t, hardModule+":linux-module")
	writeFile(t, filepath.Join(tmpl, "source-template", "debian", "changelog"), []byte(hardSource+` (1.0+1) unstable; urgency=medium, binary-only=yes

  * Sign.

 -- mksigned tests <tests@example.org>  Sat, 28 Nov 2026 12:00:00 +0000
`), 0o644)
	unsigned := bombDeb(t, hardPkg, 0, 0, tarPart{name: hardModule, data: unsignedModule(t)})
	key, cert := newKey(t, "2048")
	out := filepath.Join(t.TempDir(), "out")
	for _, dry := range []string{"--changes", "--dry-run"} {
		r := mksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", unsigned, "--key", key, "--cert", cert,
			"--output", out, "--changes", dry)
		if r.code == 0 || !strings.Contains(r.stderr, "debian/changelog") || !strings.Contains(r.stderr, "binary-only") {
			t.Errorf("%s: exit %d, stderr %q: want an error naming debian/changelog and binary-only", dry, r.code, r.stderr)
		}
	}
	notExist(t, out)
}

// TestUploadPassphraseNotInChildren: $MKSIGNED_UPLOAD_PASSPHRASE is gone
// from the environment of the programs generate runs (xz, here a script
// that records its environment), once the key is decrypted.
func TestUploadPassphraseNotInChildren(t *testing.T) {
	g := newGnuPG(t)
	realXZ := testutil.RequireTool(t, "xz")
	bin := t.TempDir()
	dump := filepath.Join(t.TempDir(), "env")
	writeFile(t, filepath.Join(bin, "xz"), []byte("#!/bin/sh\nenv >>"+dump+"\nexec "+realXZ+" \"$@\"\n"), 0o755)
	out := filepath.Join(t.TempDir(), "out")
	env := []string{"GNUPGHOME=" + g.home, "SOURCE_DATE_EPOCH=", "MKSIGNED_DECOMPRESS=external",
		"MKSIGNED_UPLOAD_PASSPHRASE=" + uploadPassphrase, "PATH=" + bin + ":" + os.Getenv("PATH")}
	r := mksigned(t, "", env, generateArgs(t, debianCases[0], out, "--changes", "--upload-key", g.export(t, g.good, true, true))...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	got := readFileT(t, dump) // xz ran
	if bytes.Contains(got, []byte(uploadPassphrase)) {
		t.Errorf("xz's environment holds the passphrase")
	}
}
