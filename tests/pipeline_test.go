package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// manyModules builds a package of n distinct modules (Debian's dummy.ko
// without its signature, each with a different trailing byte) and a
// template that signs them all.
func manyModules(t *testing.T, n int) (deb, tmpl string) {
	t.Helper()
	deb, tmpl, module := moduleFixture(t, "xz")
	root := filepath.Join(t.TempDir(), "pkg")
	testutil.Run(t, "", "dpkg-deb", "-R", deb, root)
	var files []string
	for i := range n {
		rel := fmt.Sprintf("lib/modules/6.1.0-57-amd64/extra/m%03d.ko", i)
		writeFile(t, filepath.Join(root, rel), append(bytes.Clone(module), byte(i)), 0o644)
		files = append(files, `{"sig_type": "linux-module", "file": "`+rel+`"}`)
	}
	deb = filepath.Join(t.TempDir(), "example-modules-unsigned_1.0-1_amd64.deb")
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-b", root, deb)
	writeFile(t, filepath.Join(tmpl, "files.json"), []byte(`{"packages": {"example-modules-unsigned": {"trusted_certs": [],
  "files": [`+strings.Join(files, ",\n")+`]}}}`), 0o644)
	return deb, tmpl
}

// TestJobsDoNotChangeOutput signs many modules with one worker and with
// several: the bytes must be the same.
func TestJobsDoNotChangeOutput(t *testing.T) {
	key, cert := newKey(t, "2048")
	deb, tmpl := manyModules(t, 64)
	var outs [][]byte
	for _, jobs := range []string{"1", "2", "7"} {
		out := filepath.Join(t.TempDir(), "out")
		mustMksigned(t, "", nil, "generate", "--jobs", jobs, "--template", tmpl, "--unsigned", deb,
			"--key", key, "--cert", cert, "--output", out)
		d, err := os.ReadFile(onlyFile(t, out, ".dsc"))
		if err != nil {
			t.Fatal(err)
		}
		x, err := os.ReadFile(onlyFile(t, out, ".tar.xz"))
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, append(d, x...))
	}
	for i := 1; i < len(outs); i++ {
		if !bytes.Equal(outs[0], outs[i]) {
			t.Errorf("output with --jobs %d differs from --jobs 1", []int{1, 2, 7}[i])
		}
	}
	// And every one of the 64 signatures verifies.
	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", deb, "--key", key, "--cert", cert, "--output", out)
	v := mustMksigned(t, "", nil, "verify", "--dsc", onlyFile(t, out, ".dsc"), "--unsigned", deb, "--cert", cert)
	if got := countPrefix(v, "OK "); got != 64 {
		t.Errorf("verify: %d OK lines, want 64", got)
	}
}

// TestQuietAndJSON checks the output modes for pipelines: --quiet prints
// nothing, --json one object, and neither shows progress when stderr is
// not a terminal.
func TestQuietAndJSON(t *testing.T) {
	key, cert := newKey(t, "2048")
	base := []string{"generate", "--template", testutil.DebianFixture(t, shimTemplate),
		"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--key", key, "--cert", cert}

	out := filepath.Join(t.TempDir(), "out")
	r := mksigned(t, "", nil, append(base, "--quiet", "--output", out)...)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet: exit %d, stdout %q, stderr %q; want 0 and nothing printed", r.code, r.stdout, r.stderr)
	}
	onlyFile(t, out, ".dsc")

	out = filepath.Join(t.TempDir(), "out")
	r = mksigned(t, "", nil, append(base, "--json", "--output", out)...)
	var got struct {
		DryRun  bool     `json:"dry_run"`
		Source  string   `json:"source"`
		Written []string `json:"written"`
		Files   []struct {
			Package, File, Signature string
			SigType                  string `json:"sig_type"`
			Size                     int64
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || r.stderr != "" {
		t.Fatalf("--json: exit %d, %v, stdout %q, stderr %q", r.code, err, r.stdout, r.stderr)
	}
	if got.Source != "shim-helpers-amd64-signed" || len(got.Written) != 2 || len(got.Files) != 2 ||
		got.Files[0].File != "usr/lib/shim/fbx64.efi" || got.Files[0].SigType != "efi" || got.Files[0].Size <= 0 ||
		got.Files[0].Signature != "debian/signatures/shim-unsigned/usr/lib/shim/fbx64.efi.sig" {
		t.Errorf("--json gave %+v", got)
	}
	for _, w := range got.Written {
		if _, err := os.Stat(w); err != nil {
			t.Errorf("--json lists %s as written: %v", w, err)
		}
	}

	r = mksigned(t, "", nil, "generate", "--dry-run", "--json", "--template", testutil.DebianFixture(t, shimTemplate),
		"--unsigned", testutil.DebianFixture(t, shimUnsigned))
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || !got.DryRun || len(got.Written) != 0 || len(got.Files) != 2 {
		t.Errorf("--dry-run --json: %v, %q", err, r.stdout)
	}
}

// TestExternalAndGoDecoders runs generate with the xz program forced and
// with the pure-Go decoder forced: same output.
func TestExternalAndGoDecoders(t *testing.T) {
	testutil.RequireTool(t, "xz")
	key, cert := newKey(t, "2048")
	var outs [][]byte
	for _, mode := range []string{"go", "external"} {
		out := filepath.Join(t.TempDir(), "out")
		mustMksigned(t, "", []string{"MKSIGNED_DECOMPRESS=" + mode}, "generate", "--template", testutil.DebianFixture(t, fwupdTemplate),
			"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--key", key, "--cert", cert, "--output", out)
		x, err := os.ReadFile(onlyFile(t, out, ".tar.xz"))
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, x)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("output differs between the pure-Go and the external xz decoder")
	}
	// A corrupt package fails the same way with the xz program.
	bad := corrupt(t, testutil.DebianFixture(t, fwupdUnsigned), func(b []byte) []byte {
		for i := len(b) / 2; i < len(b)/2+64; i++ {
			b[i] ^= 0x5a
		}
		return b
	})
	r := mksigned(t, "", []string{"MKSIGNED_DECOMPRESS=external"}, "generate", "--dry-run",
		"--template", testutil.DebianFixture(t, fwupdTemplate), "--unsigned", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "data.tar.xz") || !strings.Contains(r.stderr, "xz: data is") {
		t.Errorf("corrupt package with the xz program: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestExternalDecoderMissing: MKSIGNED_DECOMPRESS=external with no xz
// program is refused before any work, as MKSIGNED_CRYPTO=openssl is
// without OpenSSL, not quietly decoded in Go.
func TestExternalDecoderMissing(t *testing.T) {
	r := mksigned(t, "", []string{"MKSIGNED_DECOMPRESS=external", "PATH=/nonexistent"}, "generate", "--dry-run",
		"--template", testutil.DebianFixture(t, fwupdTemplate), "--unsigned", testutil.DebianFixture(t, fwupdUnsigned))
	if want := "mksigned: $MKSIGNED_DECOMPRESS is external, but there is no xz program in PATH\n"; r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("external decoder without xz: exit %d, stdout %q, stderr %q; want 1, nothing and %q", r.code, r.stdout, r.stderr, want)
	}
}

// TestProgressOnTerminal runs generate on a pseudo-terminal (util-linux
// script): a progress line appears there, and not with --quiet.
func TestProgressOnTerminal(t *testing.T) {
	scriptTool := testutil.RequireTool(t, "script")
	key, cert := newKey(t, "2048")
	for _, c := range []struct {
		extra string
		want  bool
	}{{"", true}, {"--quiet", false}} {
		out := filepath.Join(t.TempDir(), "out")
		cmd := strings.Join([]string{mksignedBin, "generate", c.extra, "--template", testutil.DebianFixture(t, shimTemplate),
			"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--key", key, "--cert", cert, "--output", out}, " ")
		got := string(testutil.Run(t, "", scriptTool, "-qec", cmd, "/dev/null"))
		if has := strings.Contains(got, "2/2 files"); has != c.want {
			t.Errorf("%q on a terminal printed %q; want a progress line: %v", c.extra, got, c.want)
		}
		onlyFile(t, out, ".dsc")
	}
}

// TestRSAImplementations signs modules and EFI images with OpenSSL's RSA
// (the default where libcrypto.so.3 loads) and with Go's: the outputs are
// byte-identical (PKCS #1 v1.5 is deterministic), and --json says which
// signed. CI must have OpenSSL 3 and a cgo build: MKSIGNED_CRYPTO=openssl
// fails there otherwise.
func TestRSAImplementations(t *testing.T) {
	key, cert := newKey(t, "3072")
	deb, tmpl := manyModules(t, 32)
	shim := struct{ template, unsigned string }{testutil.DebianFixture(t, shimTemplate), testutil.DebianFixture(t, shimUnsigned)}
	generate := func(env []string, template, unsigned, key, cert string) result {
		t.Helper()
		return mksigned(t, "", env, "generate", "--json", "--template", template, "--unsigned", unsigned,
			"--key", key, "--cert", cert, "--output", filepath.Join(t.TempDir(), "out"))
	}

	// A bad value, or a key OpenSSL is not used for with =openssl, is an
	// error that names the variable.
	r := generate([]string{"MKSIGNED_CRYPTO=boring"}, tmpl, deb, key, cert)
	if r.code != 1 || !strings.Contains(r.stderr, "$MKSIGNED_CRYPTO") || !strings.Contains(r.stderr, key) {
		t.Errorf("MKSIGNED_CRYPTO=boring: exit %d, stderr %q; want 1 and a message naming the variable and the key", r.code, r.stderr)
	}
	dir := t.TempDir()
	ecKey, ecCert := filepath.Join(dir, "ec.key"), filepath.Join(dir, "ec.crt")
	testutil.Run(t, dir, "openssl", "req", "-new", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-days", "3650", "-subj", "/CN=mksigned ec/", "-keyout", ecKey, "-out", ecCert)
	r = generate([]string{"MKSIGNED_CRYPTO=openssl"}, tmpl, deb, ecKey, ecCert)
	if r.code != 1 || !strings.Contains(r.stderr, "only RSA keys") {
		t.Errorf("ECDSA key with MKSIGNED_CRYPTO=openssl: exit %d, stderr %q", r.code, r.stderr)
	}

	for _, run := range []struct{ name, template, unsigned string }{
		{"modules", tmpl, deb},
		{"shim", shim.template, shim.unsigned},
	} {
		outs := map[string][]byte{}
		for _, impl := range []string{"go", "openssl"} {
			out := filepath.Join(t.TempDir(), "out")
			r := mksigned(t, "", []string{"MKSIGNED_CRYPTO=" + impl}, "generate", "--json", "--template", run.template,
				"--unsigned", run.unsigned, "--key", key, "--cert", cert, "--output", out)
			if r.code != 0 {
				if impl == "openssl" && os.Getenv("CI") == "" && strings.Contains(r.stderr, "not available") {
					t.Skipf("skipping the rest: %s", r.stderr)
				}
				t.Fatalf("%s, MKSIGNED_CRYPTO=%s: exit %d: %s", run.name, impl, r.code, r.stderr)
			}
			var got struct{ Crypto string }
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Crypto != impl {
				t.Errorf("%s, MKSIGNED_CRYPTO=%s: --json says crypto %q (%v), want %q", run.name, impl, got.Crypto, err, impl)
			}
			x, err := os.ReadFile(onlyFile(t, out, ".tar.xz"))
			if err != nil {
				t.Fatal(err)
			}
			outs[impl] = x
		}
		if !bytes.Equal(outs["go"], outs["openssl"]) {
			t.Errorf("%s: the output signed by OpenSSL differs from Go's", run.name)
		}
	}

	// By default OpenSSL signs a run of many signatures (32 modules),
	// not one of two (shim), where loading it would cost more than it
	// saves; and where OpenSSL refuses (here a configuration that allows
	// only FIPS providers, which bookworm does not ship), Go's RSA goes
	// on, unless OpenSSL was asked for.
	fips := filepath.Join(t.TempDir(), "fips.cnf")
	writeFile(t, fips, []byte("openssl_conf = init\n[init]\nalg_section = algs\n[algs]\ndefault_properties = fips=yes\n"), 0o644)
	for _, c := range []struct {
		name, template, unsigned string
		env                      []string
		want                     string
	}{
		{"modules", tmpl, deb, nil, "openssl"},
		{"shim", shim.template, shim.unsigned, nil, "go"},
		{"modules, OpenSSL refusing", tmpl, deb, []string{"OPENSSL_CONF=" + fips}, "go"},
	} {
		r := generate(append([]string{"MKSIGNED_CRYPTO="}, c.env...), c.template, c.unsigned, key, cert)
		if r.code != 0 || !strings.Contains(r.stdout, `"crypto": "`+c.want+`"`) {
			t.Errorf("default, %s: exit %d, stdout %q, stderr %q; want crypto %s", c.name, r.code, r.stdout, r.stderr, c.want)
		}
	}
	r = generate([]string{"MKSIGNED_CRYPTO=openssl", "OPENSSL_CONF=" + fips}, tmpl, deb, key, cert)
	if r.code != 1 || !strings.Contains(r.stderr, "EVP_PKEY_sign_init failed") {
		t.Errorf("MKSIGNED_CRYPTO=openssl, OpenSSL refusing: exit %d, stderr %q; want 1 and OpenSSL's failing step", r.code, r.stderr)
	}
}
