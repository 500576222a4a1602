package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/efi"
	"github.com/mksigned/mksigned/sign/kmod"
	"github.com/mksigned/mksigned/signer"
	"github.com/mksigned/mksigned/sigreq"
)

// The signing host's end of the split signer, through the built binary.
// Requests are made here by hand from real files (the parsers are
// imported by the test, never by sign-request), so that these tests do
// not wait for mksigned request.

// signingTimeSR is the request's signing time: the fwupd template's
// changelog date, what generate would use.
var signingTimeSR = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

const moduleKo = "lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy.ko"

// srFixture is what the tests sign: fwupdx64.efi and dummy.ko, both
// unsigned, a request for them, and a key outside the working directory.
type srFixture struct {
	efiFile, module []byte
	req             *sigreq.Request
	reqJSON         []byte
	key, cert       string // PEM files
	policy          string // a policy file letting the key sign req
	keySHA256       string
}

func newSRFixture(t *testing.T) *srFixture {
	t.Helper()
	f := &srFixture{efiFile: unsignedEFI(t), module: unsignedModule(t)}
	f.key, f.cert = newKey(t, "2048")
	efiDigest, err := efi.Digest(f.efiFile)
	if err != nil {
		t.Fatal(err)
	}
	modDigest, err := kmod.Digest(f.module)
	if err != nil {
		t.Fatal(err)
	}
	file := func(pkg, path, typ string, data, digest []byte) sigreq.File {
		sum := sha256.Sum256(data)
		return sigreq.File{Package: pkg, PackageVersion: "1.4-1", Path: path, SigType: typ, Size: int64(len(data)),
			SHA256: hex.EncodeToString(sum[:]), DigestAlgorithm: "sha256", Digest: hex.EncodeToString(digest)}
	}
	f.req = &sigreq.Request{
		Template: sigreq.Template{Name: "fwupd-amd64-signed-template", Version: "1.4-1", Source: "fwupd-amd64-signed",
			SourceVersion: "1.4+1", TrustedCerts: []string{}},
		SigningTime: signingTimeSR,
		Files: []sigreq.File{
			file("fwupd-unsigned", fwupdEFI, "efi", f.efiFile, efiDigest),
			file("fwupd-unsigned", moduleKo, "linux-module", f.module, modDigest),
		},
	}
	if f.reqJSON, err = f.req.Marshal(); err != nil {
		t.Fatal(err)
	}
	cert, err := sign.LoadCertificate(f.cert)
	if err != nil {
		t.Fatal(err)
	}
	f.keySHA256 = signer.CertSHA256(cert)
	f.policy = f.writePolicy(t, "fwupd-*", "[efi, linux-module]", 10, "[]")
	return f
}

// writePolicy writes a policy for the fixture's key.
func (f *srFixture) writePolicy(t *testing.T, templates, sigTypes string, maxFiles int, trusted string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, p, []byte(`keys:
  - cert-sha256: `+f.keySHA256+`
    templates: ["`+templates+`"]
    packages: [fwupd-unsigned]
    sig-types: `+sigTypes+`
    max-files: `+strconv.Itoa(maxFiles)+`
    trusted-certs: `+trusted+`
`), 0o644)
	return p
}

// workDir is a fresh directory holding only the request, as the signing
// host sees it.
func workDir(t *testing.T, req []byte) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "req.json"), req, 0o644)
	return dir
}

// signArgs are sign-request's flags for the fixture, with the audit log
// at log; the output and REQ follow.
func (f *srFixture) signArgs(log string) []string {
	return []string{"sign-request", "--key", f.key, "--cert", f.cert, "--policy", f.policy, "--audit-log", log}
}

// wantSignatures fails unless got are, byte for byte, what generate makes
// for the fixture's files with its key: efi.Sign at the signing time and
// kmod.Sign.
func (f *srFixture) wantSignatures(t *testing.T, got map[string][]byte) {
	t.Helper()
	key, err := sign.LoadPEMKey(f.key, f.cert)
	if err != nil {
		t.Fatal(err)
	}
	d0, _ := hex.DecodeString(f.req.Files[0].Digest)
	d1, _ := hex.DecodeString(f.req.Files[1].Digest)
	efiSig, err := efi.Sign(key.Signer, key.Cert, d0, signingTimeSR)
	if err != nil {
		t.Fatal(err)
	}
	modSig, err := kmod.Sign(key.Signer, key.Cert, d1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"fwupd-unsigned/" + fwupdEFI + ".sig": efiSig, "fwupd-unsigned/" + moduleKo + ".sig": modSig}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("signatures differ from efi.Sign and kmod.Sign (-want +got):\n%s", d)
	}
}

func readResponse(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	sigs, err := sigreq.ReadResponse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return sigs
}

// TestSignRequest signs a request in a directory that holds nothing but
// the request (key, certificate, policy and audit log are elsewhere):
// the response holds generate's signatures, sbattach attaches the EFI one
// so that sbverify --cert passes, attach --cert checks the module one,
// the directory then holds only the request and the response, and the
// audit log records both signatures.
func TestSignRequest(t *testing.T) {
	sbattach := testutil.RequireTool(t, "sbattach")
	sbverify := testutil.RequireTool(t, "sbverify")
	f := newSRFixture(t)
	dir := workDir(t, f.reqJSON)
	log := filepath.Join(t.TempDir(), "audit.log")
	out := mustMksigned(t, dir, []string{"SSH_CLIENT=192.0.2.7 51234 22"}, append(f.signArgs(log), "--output", "resp.tar", "req.json")...)
	if out != "wrote resp.tar\n" {
		t.Errorf("stdout %q, want \"wrote resp.tar\\n\"", out)
	}
	if d := cmp.Diff([]string{"req.json", "resp.tar"}, testutil.ListDir(t, dir)); d != "" {
		t.Errorf("working directory (-want +got):\n%s", d)
	}
	resp, err := os.ReadFile(filepath.Join(dir, "resp.tar"))
	if err != nil {
		t.Fatal(err)
	}
	sigs := readResponse(t, resp)
	f.wantSignatures(t, sigs)

	check := t.TempDir()
	img, sig := filepath.Join(check, "fwupdx64.efi"), filepath.Join(check, "fwupdx64.efi.sig")
	writeFile(t, img, f.efiFile, 0o644)
	writeFile(t, sig, sigs["fwupd-unsigned/"+fwupdEFI+".sig"], 0o644)
	testutil.Run(t, check, sbattach, "--attach", sig, img)
	testutil.Run(t, check, sbverify, "--cert", f.cert, img)
	ko, kosig := filepath.Join(check, "dummy.ko"), filepath.Join(check, "dummy.ko.sig")
	writeFile(t, ko, f.module, 0o644)
	writeFile(t, kosig, sigs["fwupd-unsigned/"+moduleKo+".sig"], 0o644)
	mustMksigned(t, check, nil, "attach", "--type", "linux-module", "--cert", f.cert, "--signature", kosig, "--output", "signed.ko", ko)

	if got := mustMksigned(t, "", nil, "audit", "verify", log); !strings.Contains(got, ": 2 records, chain intact") {
		t.Errorf("audit verify: %q, want 2 records", got)
	}
	logData, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"requester":"192.0.2.7"`, `"key_sha256":"` + f.keySHA256 + `"`, `"path":"` + moduleKo + `"`} {
		if !strings.Contains(string(logData), want) {
			t.Errorf("the audit log does not hold %s:\n%s", want, logData)
		}
	}
}

// TestSignRequestStdio: `sign-request --output - -` reads the request on
// standard input and writes the response on standard output, nothing
// else, as an ssh forced command does; the bytes are those of
// --output FILE, and --output-dir holds the same signatures.
func TestSignRequestStdio(t *testing.T) {
	f := newSRFixture(t)
	dir := workDir(t, f.reqJSON)
	log := filepath.Join(t.TempDir(), "audit.log")
	r := mksignedStdin(t, dir, nil, f.reqJSON, append(f.signArgs(log), "--output", "-", "-")...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	stdout := []byte(r.stdout)
	f.wantSignatures(t, readResponse(t, stdout))
	if d := cmp.Diff([]string{"req.json"}, testutil.ListDir(t, dir)); d != "" {
		t.Errorf("working directory (-want +got):\n%s", d)
	}
	mustMksigned(t, dir, nil, append(f.signArgs(log), "--output", "resp.tar", "req.json")...)
	file, err := os.ReadFile(filepath.Join(dir, "resp.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout, file) {
		t.Error("the response on standard output differs from --output resp.tar")
	}
	mustMksigned(t, dir, nil, append(f.signArgs(log), "--output-dir", "sigs", "--jobs", "1", "req.json")...)
	got := map[string][]byte{}
	for name := range readResponse(t, file) {
		b, err := os.ReadFile(filepath.Join(dir, "sigs", name))
		if err != nil {
			t.Fatal(err)
		}
		got[name] = b
	}
	f.wantSignatures(t, got)
	if got := mustMksigned(t, "", nil, "audit", "verify", log); !strings.Contains(got, ": 6 records, chain intact") {
		t.Errorf("audit verify after three runs: %q, want 6 records", got)
	}
}

// TestSignRequestRefuses: each bad request, policy breach or bad setup
// exits 1 (2 for bad usage) with a clear message, and writes nothing:
// the working directory holds only the request, and the audit log no
// record.
func TestSignRequestRefuses(t *testing.T) {
	f := newSRFixture(t)
	good := string(f.reqJSON)
	edit := func(old, new string) []byte {
		t.Helper()
		if !strings.Contains(good, old) {
			t.Fatalf("%q is not in the request", old)
		}
		return []byte(strings.Replace(good, old, new, 1))
	}
	twice := *f.req
	twice.Files = append([]sigreq.File{}, f.req.Files[0], f.req.Files[1], f.req.Files[0])
	twiceJSON := mustJSON(t, &twice)
	digest0 := f.req.Files[0].Digest
	trusted := *f.req
	trusted.Template.TrustedCerts = []string{strings.Repeat("77", 32)}
	for _, c := range []struct {
		name   string
		req    []byte
		policy string // "" for the fixture's
		args   []string
		code   int
		want   []string
	}{
		{"not JSON", []byte("this is no request\n"), "", nil, 1, []string{"req.json: offset 0x2: not JSON"}},
		{"unknown version", edit(`"version": 1`, `"version": 2`), "", nil, 1, []string{"req.json: version: unknown request version", "reads version 1"}},
		{"digest of the wrong length", edit(digest0, digest0[:62]), "", nil, 1, []string{"req.json: files[0].digest", "64 lower-case hex digits"}},
		{"dotdot path", edit(`"path": "`+fwupdEFI, `"path": "usr/../../etc/shadow`), "", nil, 1, []string{"files[0].path", `contains ".."`}},
		{"absolute path", edit(`"path": "`+moduleKo, `"path": "/`+moduleKo), "", nil, 1, []string{"files[1].path", "is absolute"}},
		{"same file twice", twiceJSON, "", nil, 1, []string{"files[2].path", "listed twice"}},
		{"unknown sig_type", edit(`"sig_type": "efi"`, `"sig_type": "openpgp"`), "", nil, 1, []string{"files[0].sig_type", `unknown sig_type "openpgp"`}},
		{"more files than the policy allows", nil, f.writePolicy(t, "fwupd-*", "[efi, linux-module]", 1, "[]"), nil, 1,
			[]string{"policy refuses the request", "2 files, more than this key's max-files of 1"}},
		{"a sig_type the policy forbids", nil, f.writePolicy(t, "fwupd-*", "[efi]", 10, "[]"), nil, 1, []string{"policy refuses the request", "linux-module"}},
		{"a template the policy forbids", nil, f.writePolicy(t, "shim-*", "[efi, linux-module]", 10, "[]"), nil, 1,
			[]string{"policy refuses the request", "template fwupd-amd64-signed-template is not allowed"}},
		{"an unlisted trusted_cert", mustJSON(t, &trusted), "", nil, 1, []string{"policy refuses the request", "trusted_cert"}},
		{"every reason at once", mustJSON(t, &trusted), f.writePolicy(t, "shim-*", "[efi]", 1, "[]"), nil, 1,
			[]string{"policy refuses the request: 4 reasons:", "template", "max-files", "trusted_cert", "linux-module"}},
		{"corrupt audit log", nil, "", []string{"--audit-log", "CORRUPT"}, 1, []string{"corrupt.log", "corrupt audit log", "nothing was signed"}},
		{"no policy", nil, "", []string{"--policy", ""}, 2, []string{"--policy FILE is required"}},
		{"no audit log", nil, "", []string{"--audit-log", ""}, 2, []string{"--audit-log FILE is required"}},
		{"wrong key for the certificate", nil, "", []string{"--cert", otherCert(t)}, 1, []string{"does not match certificate"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := c.req
			if req == nil {
				req = f.reqJSON
			}
			dir := workDir(t, req)
			logDir := t.TempDir()
			log := filepath.Join(logDir, "audit.log")
			g := *f
			if c.policy != "" {
				g.policy = c.policy
			}
			args := g.signArgs(log)
			for i := 0; i+1 < len(c.args); i += 2 {
				val := c.args[i+1]
				if val == "CORRUPT" {
					val = filepath.Join(logDir, "corrupt.log")
					writeFile(t, val, []byte("{\"prev\": \"not a record\n"), 0o600)
				}
				args = replaceFlag(args, c.args[i], val)
			}
			r := mksigned(t, dir, nil, append(args, "--output", "resp.tar", "req.json")...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, c.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			if d := cmp.Diff([]string{"req.json"}, testutil.ListDir(t, dir)); d != "" {
				t.Errorf("working directory (-want +got):\n%s", d)
			}
			if b, err := os.ReadFile(log); err == nil && len(b) > 0 {
				t.Errorf("the audit log has %d bytes after a refusal", len(b))
			}
		})
	}
}

// replaceFlag returns args with flag's value set to val, or flag and its
// value removed for an empty val.
func replaceFlag(args []string, flag, val string) []string {
	out := append([]string{}, args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			if val == "" {
				return append(out[:i], out[i+2:]...)
			}
			out[i+1] = val
			return out
		}
	}
	return out
}

func mustJSON(t *testing.T, r *sigreq.Request) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		// A request Validate refuses (the same file twice): write it as
		// JSON without the check.
		c := *r
		c.Format, c.Version = sigreq.Format, sigreq.Version
		if b, err = json.MarshalIndent(&c, "", "  "); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestSignRequestPKCS11 signs through a SoftHSM2 token: the response is
// byte for byte the one signed with the same key as a PEM file, and a
// wrong PIN is refused naming the token, writing nothing. Not parallel
// (SOFTHSM2_CONF).
func TestSignRequestPKCS11(t *testing.T) {
	f := newSRFixture(t)
	h, key, cert := newTokenKey(t)
	f.key, f.cert = key, cert
	c, err := sign.LoadCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	f.keySHA256 = signer.CertSHA256(c)
	f.policy = f.writePolicy(t, "fwupd-*", "[efi, linux-module]", 10, "[]")
	dir := workDir(t, f.reqJSON)
	log := filepath.Join(t.TempDir(), "audit.log")
	mustMksigned(t, dir, nil, append(f.signArgs(log), "--output", "pem.tar", "req.json")...)
	uri := "pkcs11:token=" + p11Token + ";object=signkey"
	args := replaceFlag(replaceFlag(f.signArgs(log), "--key", uri+"?pin-source=file:"+h.PINFile), "--cert", "")
	out := mustMksigned(t, dir, nil, append(args, "--pkcs11-module", h.Module, "--output", "p11.tar", "--json", "req.json")...)
	if !strings.Contains(out, `"crypto": "pkcs11"`) {
		t.Errorf("--json does not say the token signed:\n%s", out)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "pem.tar"))
	if err != nil {
		t.Fatal(err)
	}
	p11, err := os.ReadFile(filepath.Join(dir, "p11.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pem, p11) {
		t.Error("the response signed through the token differs from the one signed with the PEM file")
	}
	f.wantSignatures(t, readResponse(t, p11))

	wrongPIN := filepath.Join(t.TempDir(), "wrong-pin")
	writeFile(t, wrongPIN, []byte("wrong-pin-Z3"), 0o600)
	args = replaceFlag(args, "--key", uri+"?pin-source=file:"+wrongPIN)
	r := mksigned(t, dir, nil, append(args, "--pkcs11-module", h.Module, "--output", "bad.tar", "req.json")...)
	if r.code != 1 || !strings.Contains(r.stderr, "token="+p11Token) || strings.Contains(r.stderr, h.PIN) {
		t.Errorf("wrong PIN: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	notExist(t, filepath.Join(dir, "bad.tar"))
}

// TestSignRequestPipeline runs the split signer as the README shows it:
// request on the builder, sign-request as an ssh forced command would
// (standard input to standard output, in a directory holding nothing),
// generate --signatures resp.tar; the source package is byte for byte the
// one generate --key writes, for EFI images (fwupd and shim) and a
// kernel module.
func TestSignRequestPipeline(t *testing.T) {
	key, cert := newKey(t, "2048")
	c, err := sign.LoadCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	f := &srFixture{key: key, cert: cert, keySHA256: signer.CertSHA256(c)}
	deb, modTmpl, _ := moduleFixture(t, "xz")
	for _, tc := range []struct {
		name, tmplPattern, pkgs string
		args                    []string
	}{
		{"efi", "multi-*", "[fwupd-unsigned, shim-unsigned]", []string{"--template", multiTemplate(t),
			"--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--unsigned", testutil.DebianFixture(t, shimUnsigned)}},
		{"linux-module", "example-modules-*", "[example-modules-unsigned]", []string{"--template", modTmpl, "--unsigned", deb}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			req := filepath.Join(dir, "req.json")
			mustMksigned(t, "", nil, append([]string{"request", "--output", req}, tc.args...)...)
			reqJSON, err := os.ReadFile(req)
			if err != nil {
				t.Fatal(err)
			}
			pol := filepath.Join(dir, "policy.yaml")
			writeFile(t, pol, []byte(`keys:
  - cert-sha256: `+f.keySHA256+`
    templates: ["`+tc.tmplPattern+`"]
    packages: `+tc.pkgs+`
    sig-types: [efi, linux-module]
    max-files: 8
    trusted-certs: []
`), 0o644)
			f.policy = pol
			host := t.TempDir()
			r := mksignedStdin(t, host, []string{"SSH_CLIENT=192.0.2.9 40000 22"}, reqJSON,
				append(f.signArgs(filepath.Join(dir, "audit.log")), "--output", "-", "-")...)
			if r.code != 0 {
				t.Fatalf("sign-request: exit %d, stderr:\n%s", r.code, r.stderr)
			}
			if names := testutil.ListDir(t, host); len(names) != 0 {
				t.Errorf("sign-request left %q in its working directory", names)
			}
			resp := filepath.Join(dir, "resp.tar")
			writeFile(t, resp, []byte(r.stdout), 0o644)
			split, local := filepath.Join(dir, "split"), filepath.Join(dir, "local")
			mustMksigned(t, "", nil, append([]string{"generate", "--signatures", resp, "--cert", cert, "--output", split}, tc.args...)...)
			mustMksigned(t, "", nil, append([]string{"generate", "--key", key, "--cert", cert, "--output", local}, tc.args...)...)
			sameTree(t, split, local)
		})
	}
}
