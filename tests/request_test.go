package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/efi"
	"github.com/mksigned/mksigned/sign/kmod"
	"github.com/mksigned/mksigned/sigreq"
)

// requestCase is a template with its packages for the split signer.
type requestCase struct {
	name     string
	template string
	unsigned []string
}

func requestCases(t *testing.T) []requestCase {
	deb, tmpl := manyModules(t, 8)
	return []requestCase{
		{"shim", testutil.DebianFixture(t, shimTemplate), []string{testutil.DebianFixture(t, shimUnsigned)}},
		{"fwupd", testutil.DebianFixture(t, fwupdTemplate), []string{testutil.DebianFixture(t, fwupdUnsigned)}},
		{"modules", tmpl, []string{deb}},
	}
}

func (c requestCase) args(cmd string) []string {
	args := []string{cmd, "--template", c.template}
	for _, u := range c.unsigned {
		args = append(args, "--unsigned", u)
	}
	return args
}

// readRequest parses a request as the signing host's side would see it.
func readRequest(t *testing.T, b []byte) *sigreq.Request {
	t.Helper()
	var req sigreq.Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Fatalf("request is not the sigreq shape: %v\n%s", err, b)
	}
	return &req
}

// TestRequestDescribesFiles checks each file of a request against the
// package's contents as dpkg-deb -x extracts them: its size and SHA-256,
// its package's version, and the template's hash.
func TestRequestDescribesFiles(t *testing.T) {
	for _, c := range requestCases(t) {
		t.Run(c.name, func(t *testing.T) {
			req := readRequest(t, []byte(mustMksigned(t, "", nil, append(c.args("request"), "--output", "-")...)))
			if req.Format != sigreq.Format || req.Version != sigreq.Version {
				t.Errorf("format %q version %d, want %q %d", req.Format, req.Version, sigreq.Format, sigreq.Version)
			}
			root := map[string]string{}
			for _, u := range c.unsigned {
				ctl := testutil.Run(t, "", "dpkg-deb", "-f", u, "Package", "Version")
				f := strings.Fields(strings.ReplaceAll(string(ctl), ":", " "))
				root[f[1]] = extract(t, u)
				for _, file := range req.Files {
					if file.Package == f[1] && !strings.HasSuffix(string(ctl), file.PackageVersion+"\n") {
						t.Errorf("%s: package_version %q, control says %q", file.Path, file.PackageVersion, ctl)
					}
				}
			}
			if len(req.Files) == 0 {
				t.Fatal("request lists no files")
			}
			for _, f := range req.Files {
				b, err := os.ReadFile(filepath.Join(root[f.Package], f.Path))
				if err != nil {
					t.Fatalf("%s %s: %v", f.Package, f.Path, err)
				}
				sum := sha256.Sum256(b)
				if f.Size != int64(len(b)) || f.SHA256 != hex.EncodeToString(sum[:]) {
					t.Errorf("%s: size %d sha256 %s; dpkg-deb -x gives %d %x", f.Path, f.Size, f.SHA256, len(b), sum)
				}
				if f.SigType == "linux-module" && f.Digest != f.SHA256 {
					t.Errorf("%s: a module's digest is the SHA-256 of the module, got %s", f.Path, f.Digest)
				}
			}
			tdir, tversion := c.template, ""
			if strings.HasSuffix(c.template, ".deb") {
				b, _ := os.ReadFile(c.template)
				sum := sha256.Sum256(b)
				if req.Template.DebSHA256 != hex.EncodeToString(sum[:]) {
					t.Errorf("deb_sha256 %s, want %x", req.Template.DebSHA256, sum)
				}
				name := strings.TrimSpace(string(testutil.Run(t, "", "dpkg-deb", "-f", c.template, "Package")))
				tversion = strings.TrimSpace(string(testutil.Run(t, "", "dpkg-deb", "-f", c.template, "Version")))
				tdir = filepath.Join(extract(t, c.template), "usr/share/code-signing", name)
			} else if req.Template.DebSHA256 != "" {
				t.Errorf("a template directory has no deb_sha256, got %q", req.Template.DebSHA256)
			}
			// version is the template package's; source and
			// source_version are the -signed package's, from its changelog.
			if req.Template.Version != tversion {
				t.Errorf("template version %q, want %q (the .deb's Version; none for a directory)", req.Template.Version, tversion)
			}
			testutil.RequireTool(t, "dpkg-parsechangelog")
			changelog := filepath.Join(tdir, "source-template/debian/changelog")
			src := strings.TrimSpace(string(testutil.Run(t, "", "dpkg-parsechangelog", "-l", changelog, "-S", "Source")))
			srcVersion := strings.TrimSpace(string(testutil.Run(t, "", "dpkg-parsechangelog", "-l", changelog, "-S", "Version")))
			if req.Template.Source != src || req.Template.SourceVersion != srcVersion {
				t.Errorf("template source %q %q, changelog says %q %q", req.Template.Source, req.Template.SourceVersion, src, srcVersion)
			}
		})
	}
}

// TestRequestSignaturesRoundTrip signs a request's digests outside
// mksigned's reader (with the sign packages alone, as a signing host
// does) and feeds the signatures back: generate --signatures must write
// the same bytes as generate --key.
func TestRequestSignaturesRoundTrip(t *testing.T) {
	keyFile, certFile := newKey(t, "2048")
	key, err := sign.LoadPEMKey(keyFile, certFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range requestCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			reqFile := filepath.Join(dir, "req.json")
			mustMksigned(t, "", nil, append(c.args("request"), "--output", reqFile)...)
			b, err := os.ReadFile(reqFile)
			if err != nil {
				t.Fatal(err)
			}
			req := readRequest(t, b)
			sigs := filepath.Join(dir, "sigs")
			var resp []sigreq.Signature
			for _, f := range req.Files {
				digest, err := hex.DecodeString(f.Digest)
				if err != nil {
					t.Fatal(err)
				}
				var sig []byte
				switch f.SigType {
				case "efi":
					sig, err = efi.Sign(key.Signer, key.Cert, digest, req.SigningTime)
				case "linux-module":
					sig, err = kmod.Sign(key.Signer, key.Cert, digest)
				default:
					t.Fatalf("sig_type %q", f.SigType)
				}
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(sigs, f.SignaturePath()), sig, 0o644)
				resp = append(resp, sigreq.Signature{Path: f.SignaturePath(), Data: sig})
			}
			respFile := writeResponse(t, dir, "resp.tar", req.SigningTime, resp)
			viaDir, viaResp, local := filepath.Join(dir, "split"), filepath.Join(dir, "resp"), filepath.Join(dir, "local")
			mustMksigned(t, "", nil, append(c.args("generate"), "--signatures", sigs, "--cert", certFile, "--output", viaDir)...)
			mustMksigned(t, "", nil, append(c.args("generate"), "--signatures", respFile, "--cert", certFile, "--output", viaResp)...)
			mustMksigned(t, "", nil, append(c.args("generate"), "--key", keyFile, "--cert", certFile, "--output", local)...)
			sameTree(t, viaDir, local)
			sameTree(t, viaResp, local)
			// Zero padding after a response's DER (a signer counting it in
			// a WIN_CERTIFICATE's length) is dropped as for a directory's:
			// kept, it would change the signed binary.
			var padded []sigreq.Signature
			for _, s := range resp {
				padded = append(padded, sigreq.Signature{Path: s.Path, Data: append(bytes.Clone(s.Data), make([]byte, 16)...)})
			}
			viaPadded := filepath.Join(dir, "padded")
			mustMksigned(t, "", nil, append(c.args("generate"), "--signatures", writeResponse(t, dir, "padded.tar", req.SigningTime, padded), "--cert", certFile, "--output", viaPadded)...)
			sameTree(t, viaPadded, local)
			if c.name != "shim" {
				return
			}
			// A response that misses a file, holds one of another
			// template, or is not a response: refused, nothing written.
			other := sigreq.Signature{Path: "fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig", Data: resp[0].Data}
			for _, bad := range []struct {
				name, file, want string
			}{
				{"missing one", writeResponse(t, dir, "short.tar", req.SigningTime, resp[:1]), "no signature for " + resp[1].Path},
				{"another template's", writeResponse(t, dir, "other.tar", req.SigningTime, append(resp, other)), other.Path + ": no file of the template's files.json"},
				{"swapped", writeResponse(t, dir, "swapped.tar", req.SigningTime, []sigreq.Signature{{Path: resp[0].Path, Data: resp[1].Data}, {Path: resp[1].Path, Data: resp[0].Data}}), "does not match"},
				{"not a tar", reqFile, "req.json"},
			} {
				out := filepath.Join(dir, "bad-"+bad.name)
				r := mksigned(t, "", nil, append(c.args("generate"), "--signatures", bad.file, "--cert", certFile, "--output", out)...)
				if r.code != 1 || !strings.Contains(r.stderr, bad.want) {
					t.Errorf("%s: exit %d, stderr %q; want 1 and %q", bad.name, r.code, r.stderr, bad.want)
				}
				notExist(t, out)
			}
		})
	}
}

// writeResponse writes sigs as sign-request's response tar into dir.
func writeResponse(t *testing.T, dir, name string, when time.Time, sigs []sigreq.Signature) string {
	t.Helper()
	var b bytes.Buffer
	if err := sigreq.WriteResponse(&b, when, sigs); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	writeFile(t, p, b.Bytes(), 0o644)
	return p
}

// TestRequestSigningTime: the request carries the time generate would
// sign at, SOURCE_DATE_EPOCH first, and the same inputs give the same
// bytes.
func TestRequestSigningTime(t *testing.T) {
	c := requestCases(t)[0]
	args := append(c.args("request"), "--output", "-")
	first := mustMksigned(t, "", []string{"SOURCE_DATE_EPOCH=1700000000"}, args...)
	if again := mustMksigned(t, "", []string{"SOURCE_DATE_EPOCH=1700000000"}, args...); again != first {
		t.Error("two requests of the same inputs differ")
	}
	if got := readRequest(t, []byte(first)).SigningTime; !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("signing_time %v with SOURCE_DATE_EPOCH=1700000000", got)
	}
	// Without it, the changelog's top entry, as generate --json reports.
	var plan struct{ Epoch int64 }
	js := mustMksigned(t, "", nil, append(c.args("generate"), "--dry-run", "--json")...)
	if err := json.Unmarshal([]byte(js), &plan); err != nil {
		t.Fatal(err)
	}
	if got := readRequest(t, []byte(mustMksigned(t, "", nil, args...))).SigningTime; got.Unix() != plan.Epoch {
		t.Errorf("signing_time %v, generate's epoch %d", got, plan.Epoch)
	}
}

// TestRequestRefuses: what a dry run refuses, request refuses, writing
// nothing; and its output may not replace an input.
func TestRequestRefuses(t *testing.T) {
	c := requestCases(t)[0]
	parent := t.TempDir()
	out := filepath.Join(parent, "req.json")
	for _, bad := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no package", []string{"request", "--template", c.template, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--output", out},
			1, "not named in the template's files.json"},
		{"output is the template", append(c.args("request"), "--output", c.template), 1, "would destroy that input"},
		{"no output", c.args("request"), 2, "--output is required"},
		{"output in no directory", append(c.args("request"), "--output", filepath.Join(parent, "none", "req.json")), 1, "not an existing directory"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			before, _ := os.ReadFile(c.template)
			r := mksigned(t, "", nil, bad.args...)
			if r.code != bad.code || !strings.Contains(r.stderr, bad.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, bad.code, bad.want)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
			if after, _ := os.ReadFile(c.template); !bytes.Equal(before, after) {
				t.Error("the template changed")
			}
		})
	}
}

// TestRequestOutputNotRegular: an --output that is a FIFO or a device is
// refused before any work and left as it was: the write renames a file
// over the name, so it would replace the FIFO (or, as root, /dev/null).
func TestRequestOutputNotRegular(t *testing.T) {
	c := requestCases(t)[0]
	fifo := filepath.Join(t.TempDir(), "req.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	// Not /dev/null: were this to fail as root, it would replace it.
	for _, out := range []string{fifo} {
		r := mksigned(t, "", nil, append(c.args("request"), "--output", out)...)
		if r.code != 1 || !strings.Contains(r.stderr, "not a regular file") {
			t.Errorf("--output %s: exit %d, stderr %q; want 1 and \"not a regular file\"", out, r.code, r.stderr)
		}
		if fi, err := os.Lstat(out); err != nil || fi.Mode().IsRegular() {
			t.Errorf("--output %s was replaced: %v %v", out, fi.Mode(), err)
		}
	}
}

// TestGenerateRequesterBound: a --requester too long for an audit record
// is a usage error before anything is signed (job's
// TestAuditRefusedWritesNothing covers a log that refuses the records
// after signing).
func TestGenerateRequesterBound(t *testing.T) {
	keyFile, certFile := newKey(t, "2048")
	c := requestCases(t)[0]
	dir := t.TempDir()
	log, out := filepath.Join(dir, "audit.log"), filepath.Join(dir, "out")
	r := mksigned(t, "", nil, append(c.args("generate"), "--key", keyFile, "--cert", certFile,
		"--audit-log", log, "--requester", strings.Repeat("a", 70000), "--output", out)...)
	if r.code != 2 || !strings.Contains(r.stderr, "--requester") {
		t.Errorf("exit %d, stderr %q; want 2 naming --requester", r.code, r.stderr)
	}
	notExist(t, out)
	notExist(t, log)
}

// TestGenerateAuditLog: generate --key --audit-log records each signature
// it makes (the same digests a request lists, the SHA-256 of each .sig the
// source package holds) in a chain `audit verify` accepts; a log that
// cannot take the record stops the run before anything is written.
func TestGenerateAuditLog(t *testing.T) {
	keyFile, certFile := newKey(t, "2048")
	c := requestCases(t)[0] // shim: two EFI images
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	out := filepath.Join(dir, "out")
	mustMksigned(t, "", []string{"SSH_CLIENT=192.0.2.7 50000 22"},
		append(c.args("generate"), "--key", keyFile, "--cert", certFile, "--audit-log", log, "--output", out)...)
	v := mustMksigned(t, "", nil, "audit", "verify", log)
	if !strings.Contains(v, "2 records") {
		t.Errorf("audit verify: %q, want 2 records", v)
	}
	req := readRequest(t, []byte(mustMksigned(t, "", nil, append(c.args("request"), "--output", "-")...)))
	src := t.TempDir()
	testutil.Run(t, "", "dpkg-source", "-x", onlyFile(t, out, ".dsc"), filepath.Join(src, "x"))
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	pemCert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := pem.Decode(pemCert)
	if der == nil {
		t.Fatal("no PEM certificate")
	}
	certSum := fmt.Sprintf("%x", sha256.Sum256(der.Bytes))
	if req.Template.Version == "" || req.Template.Version == req.Template.SourceVersion {
		t.Fatalf("template version %q: the case cannot tell it from the source version %q", req.Template.Version, req.Template.SourceVersion)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(req.Files) {
		t.Fatalf("%d log lines, want %d", len(lines), len(req.Files))
	}
	for i, l := range lines {
		var e struct {
			Requester, Path, Digest, Template string
			SignatureSHA256                   string `json:"signature_sha256"`
			KeySHA256                         string `json:"key_sha256"`
			TemplateVersion                   string `json:"template_version"`
			PackageVersion                    string `json:"package_version"`
			SigType                           string `json:"sig_type"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		f := req.Files[i]
		sig, err := os.ReadFile(filepath.Join(src, "x", "debian", "signatures", f.SignaturePath()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(sig)
		if e.Path != f.Path || e.Digest != f.Digest || e.SignatureSHA256 != hex.EncodeToString(sum[:]) || e.Requester != "192.0.2.7" {
			t.Errorf("line %d: %s; want path %s, digest %s, signature_sha256 %x, requester 192.0.2.7", i+1, l, f.Path, f.Digest, sum)
		}
		// Which key signed, and what: the certificate's DER, the
		// template .deb's version (not the -signed source's), the file's
		// package version and type, as the request has them.
		if e.KeySHA256 != certSum || e.Template != req.Template.Name || e.TemplateVersion != req.Template.Version ||
			e.PackageVersion != f.PackageVersion || e.SigType != f.SigType {
			t.Errorf("line %d: %s; want key_sha256 %s, template %s %s, package_version %s, sig_type %s",
				i+1, l, certSum, req.Template.Name, req.Template.Version, f.PackageVersion, f.SigType)
		}
	}

	// A log that is a directory cannot be appended to: nothing is written.
	bad := filepath.Join(dir, "log-dir")
	os.Mkdir(bad, 0o755)
	out2 := filepath.Join(dir, "out2")
	r := mksigned(t, "", nil, append(c.args("generate"), "--key", keyFile, "--cert", certFile, "--audit-log", bad, "--output", out2)...)
	if r.code != 1 || !strings.Contains(r.stderr, "--audit-log") {
		t.Errorf("exit %d, stderr %q; want 1 naming --audit-log", r.code, r.stderr)
	}
	notExist(t, out2)
	if r := mksigned(t, "", nil, append(c.args("generate"), "--dry-run", "--audit-log", log)...); r.code != 2 {
		t.Errorf("--audit-log without --key: exit %d, want 2", r.code)
	}
}

// TestRequestTrustedCerts: a request lists the template's trusted_certs
// once each and sorted, whatever their order in files.json, as sigreq
// requires of a request (Marshal would refuse it otherwise).
func TestRequestTrustedCerts(t *testing.T) {
	deb, tmpl := manyModules(t, 1)
	var certs []string
	for _, c := range "dcba" {
		certs = append(certs, strings.Repeat(string(c), 64))
	}
	files := filepath.Join(tmpl, "files.json")
	b, err := os.ReadFile(files)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal(append(certs, certs[0]))
	writeFile(t, files, bytes.Replace(b, []byte(`"trusted_certs": []`), append([]byte(`"trusted_certs": `), list...), 1), 0o644)
	want := []string{certs[3], certs[2], certs[1], certs[0]}
	for range 3 { // the order read may differ from run to run
		req := readRequest(t, []byte(mustMksigned(t, "", nil, "request", "--template", tmpl, "--unsigned", deb, "--output", "-")))
		if strings.Join(req.Template.TrustedCerts, " ") != strings.Join(want, " ") {
			t.Fatalf("trusted_certs %q, want %q", req.Template.TrustedCerts, want)
		}
	}
}
