package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/audit"
	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/policy"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/efi"
	"github.com/mksigned/mksigned/sign/kmod"
	"github.com/mksigned/mksigned/sigreq"
)

// The tests may import the parsers (sign/efi, sign/kmod): go list -deps
// leaves tests out, and the package itself must not.

// fwupdDigest is the Authenticode digest of Debian's unsigned
// fwupdx64.efi (docs/formats.md §1.2).
const fwupdDigest = "54563dba7fe706fab763168771637e02f82bf776e47fc16c96b87f3ecdb11958"

var signingTime = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// moduleDigest is kmod.Digest of Debian's dummy.ko without its build
// signature.
func moduleDigest(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(testutil.DebianFixture(t, "dummy.ko"))
	if err != nil {
		t.Fatal(err)
	}
	module, _, err := kmod.Detach(raw)
	if err != nil {
		t.Fatal(err)
	}
	d, err := kmod.Digest(module)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(d)
}

// request is a request for fwupdx64.efi and dummy.ko, and n-2 more
// modules (other paths, the same digest).
func request(t *testing.T, n int) *sigreq.Request {
	t.Helper()
	sum := strings.Repeat("5a", 32)
	mod := moduleDigest(t)
	r := &sigreq.Request{
		Format: sigreq.Format, Version: sigreq.Version,
		Template: sigreq.Template{Name: "fwupd-amd64-signed-template", Version: "1.4-1", Source: "fwupd-amd64-signed",
			SourceVersion: "1.4+1", TrustedCerts: []string{}},
		SigningTime: signingTime,
		Files: []sigreq.File{{Package: "fwupd-unsigned", PackageVersion: "1.4-1", Path: "usr/libexec/fwupd/efi/fwupdx64.efi",
			SigType: "efi", Size: 61833, SHA256: sum, DigestAlgorithm: "sha256", Digest: fwupdDigest}},
	}
	for i := 1; i < n; i++ {
		r.Files = append(r.Files, sigreq.File{Package: "fwupd-unsigned", PackageVersion: "1.4-1",
			Path: fmt.Sprintf("lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy%d.ko", i), SigType: "linux-module",
			Size: 17220, SHA256: sum, DigestAlgorithm: "sha256", Digest: mod})
	}
	return r
}

// countingSigner is a key's Signer that counts its calls and how many
// run at once, and can wait in each or fail.
type countingSigner struct {
	crypto.Signer
	calls, active, maxActive atomic.Int64
	delay                    time.Duration
	// before, if set, runs at the start of call n (from 1); an error
	// fails the call.
	before func(n int64) error
}

func (c *countingSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	n := c.calls.Add(1)
	a := c.active.Add(1)
	defer c.active.Add(-1)
	for m := c.maxActive.Load(); a > m && !c.maxActive.CompareAndSwap(m, a); m = c.maxActive.Load() {
	}
	if c.before != nil {
		if err := c.before(n); err != nil {
			return nil, err
		}
	}
	time.Sleep(c.delay)
	return c.Signer.Sign(rand, digest, opts)
}

func newKey(t *testing.T) (*sign.Key, *countingSigner) {
	t.Helper()
	k := testutil.NewKey(t, 2048)
	cs := &countingSigner{Signer: k.Signer}
	return &sign.Key{Signer: cs, Cert: k.Cert}, cs
}

// unchecked are Options that waive the policy and the audit log.
func unchecked(jobs int) Options { return Options{NoPolicy: true, NoAuditLog: true, Jobs: jobs} }

// TestSignMatchesGenerate: each signature is byte for byte what generate
// makes with the same key (efi.Sign at the signing time, kmod.Sign), in
// the request's order, at the signature path generate --signatures reads,
// whatever the number of jobs.
func TestSignMatchesGenerate(t *testing.T) {
	t.Parallel()
	key, _ := newKey(t)
	req := request(t, 5)
	var want []sigreq.Signature
	for _, f := range req.Files {
		d, _ := hex.DecodeString(f.Digest)
		var sig []byte
		var err error
		if f.SigType == "efi" {
			sig, err = efi.Sign(key.Signer, key.Cert, d, signingTime)
		} else {
			sig, err = kmod.Sign(key.Signer, key.Cert, d)
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sigreq.Signature{Path: f.Package + "/" + f.Path + ".sig", Data: sig})
	}
	for _, jobs := range []int{1, 3, 0} {
		got, err := Sign(context.Background(), req, key, unchecked(jobs))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("jobs %d: signatures differ from efi.Sign and kmod.Sign (-want +got):\n%s", jobs, d)
		}
	}
	// And they verify: the efi one against the digest of the real image.
	if err := kmod.VerifyDigest(mustHex(t, req.Files[1].Digest), want[1].Data, key.Cert); err != nil {
		t.Errorf("module signature does not verify: %v", err)
	}
	if got, err := efi.SignedDigest(want[0].Data); err != nil || hex.EncodeToString(got) != fwupdDigest {
		t.Errorf("efi signature is over %x (%v), want %s", got, err, fwupdDigest)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// policyFor returns a policy letting key sign templates matching
// templates, parsed from YAML as the host reads it.
func policyFor(t *testing.T, key *sign.Key, templates string, maxFiles int) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(fmt.Sprintf(`keys:
  - cert-sha256: %s
    templates: ["%s"]
    packages: [fwupd-unsigned]
    sig-types: [efi, linux-module]
    max-files: %d
    trusted-certs: []
`, CertSHA256(key.Cert), templates, maxFiles)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openLog opens a new audit log.
func openLog(t *testing.T) (*audit.Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

// logEntries reads the audit log's entries, after checking its chain.
func logEntries(t *testing.T, path string) []audit.Entry {
	t.Helper()
	n, err := audit.Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e audit.Entry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if len(out) != n {
		t.Fatalf("audit.Verify counts %d records, the file has %d lines", n, len(out))
	}
	return out
}

// TestSignAudited: with a policy that allows the request, every
// signature is in the audit log, with what identifies it.
func TestSignAudited(t *testing.T) {
	t.Parallel()
	key, cs := newKey(t)
	req := request(t, 3)
	log, path := openLog(t)
	before := time.Now().Add(-time.Second)
	sigs, err := Sign(context.Background(), req, key, Options{Policy: policyFor(t, key, "fwupd-*", 3), Audit: log, Requester: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.calls.Load(); got != 3 {
		t.Errorf("%d Sign calls, want 3", got)
	}
	got := logEntries(t, path)
	if len(got) != len(sigs) {
		t.Fatalf("%d audit entries for %d signatures", len(got), len(sigs))
	}
	for i, e := range got {
		f := req.Files[i]
		h := sha256.Sum256(sigs[i].Data)
		want := audit.Entry{Time: e.Time, KeySHA256: CertSHA256(key.Cert), Requester: "192.0.2.7",
			Template: "fwupd-amd64-signed-template", TemplateVersion: "1.4-1", Package: f.Package, PackageVersion: f.PackageVersion,
			Path: f.Path, SigType: f.SigType, DigestAlgorithm: "sha256", Digest: f.Digest, SignatureSHA256: hex.EncodeToString(h[:])}
		if d := cmp.Diff(want, e); d != "" {
			t.Errorf("audit entry %d (-want +got):\n%s", i, d)
		}
		if e.Time.Before(before) || e.Time.After(time.Now()) {
			t.Errorf("audit entry %d at %v, not the time of signing", i, e.Time)
		}
	}
}

// TestPolicyRefusalSignsNothing: a request the policy refuses is refused
// whole, with every reason: no Sign call, no audit entry.
func TestPolicyRefusalSignsNothing(t *testing.T) {
	t.Parallel()
	key, cs := newKey(t)
	log, path := openLog(t)
	req := request(t, 4)
	sigs, err := Sign(context.Background(), req, key, Options{Policy: policyFor(t, key, "shim-*", 2), Audit: log})
	var refusal *policy.Refusal
	if !errors.As(err, &refusal) {
		t.Fatalf("error %v, want a *policy.Refusal", err)
	}
	for _, want := range []string{"fwupd-amd64-signed-template", "4 files, more than this key's max-files of 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if n := cs.calls.Load(); n != 0 {
		t.Errorf("%d Sign calls after the policy refused", n)
	}
	nothingReleased(t, sigs, path)
	// Another key than the policy's is refused too.
	other, cs2 := newKey(t)
	other.Cert = testutil.NewKey(t, 0).Cert // an ECDSA certificate the policy does not name
	if _, err := Sign(context.Background(), req, other, Options{Policy: policyFor(t, key, "fwupd-*", 9), NoAuditLog: true}); !errors.As(err, &refusal) {
		t.Errorf("a key the policy does not name: error %v, want a *policy.Refusal", err)
	}
	if n := cs2.calls.Load(); n != 0 {
		t.Errorf("%d Sign calls with a key the policy does not name", n)
	}
}

// TestAuditFailureReleasesNothing: when the audit log cannot be
// appended to, Sign returns an error and no signature.
func TestAuditFailureReleasesNothing(t *testing.T) {
	t.Parallel()
	key, _ := newKey(t)
	log, path := openLog(t)
	// The log was moved away after it was opened: Append refuses to write
	// records nobody would read.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	sigs, err := Sign(context.Background(), request(t, 2), key, Options{NoPolicy: true, Audit: log})
	if err == nil || !strings.Contains(err.Error(), "no signature is released") {
		t.Errorf("error %v, want one saying no signature is released", err)
	}
	if sigs != nil {
		t.Errorf("Sign returned %d signatures with the audit log failing", len(sigs))
	}
}

// TestJobsBound: no more than Jobs Sign calls run at once, and Jobs of
// them do (each call waits, so that they overlap).
func TestJobsBound(t *testing.T) {
	t.Parallel()
	for _, jobs := range []int{1, 3} {
		key, cs := newKey(t)
		cs.delay = 20 * time.Millisecond
		if _, err := Sign(context.Background(), request(t, 12), key, unchecked(jobs)); err != nil {
			t.Fatal(err)
		}
		if got := cs.maxActive.Load(); got != int64(jobs) {
			t.Errorf("jobs %d: at most %d Sign calls ran at once, want %d", jobs, got, jobs)
		}
		if got := cs.calls.Load(); got != 12 {
			t.Errorf("jobs %d: %d Sign calls, want 12", jobs, got)
		}
	}
}

// TestCancel: a context done before or during signing stops it: an
// error that is the context's, no signature, no audit entry, and no Sign
// call after it is done.
func TestCancel(t *testing.T) {
	t.Parallel()
	key, cs := newKey(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Sign(ctx, request(t, 3), key, unchecked(2)); !errors.Is(err, context.Canceled) {
		t.Errorf("done before: error %v, want context.Canceled", err)
	}
	if n := cs.calls.Load(); n != 0 {
		t.Errorf("done before: %d Sign calls", n)
	}

	key, cs = newKey(t)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	// The calls begun when it is done: under load the other worker may
	// run several calls between call 3's count and its hook.
	var atCancel atomic.Int64
	cs.before = func(n int64) error {
		if n == 3 {
			cancel()
			atCancel.Store(cs.calls.Load())
		}
		return nil
	}
	log, path := openLog(t)
	sigs, err := Sign(ctx, request(t, 40), key, Options{NoPolicy: true, Audit: log, Jobs: 2})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("done during: error %v, want context.Canceled", err)
	}
	// The other worker may have checked ctx just before it was done, and
	// begin one more call.
	if n, begun := cs.calls.Load(), atCancel.Load(); n > begun+1 {
		t.Errorf("done during: %d Sign calls, %d begun when it was done; want at most one more", n, begun)
	}
	nothingReleased(t, sigs, path)
}

// nothingReleased fails the test if Sign returned signatures or the
// audit log at path holds a record.
func nothingReleased(t *testing.T, sigs []sigreq.Signature, path string) {
	t.Helper()
	if sigs != nil {
		t.Errorf("Sign returned %d signatures", len(sigs))
	}
	if got := logEntries(t, path); len(got) != 0 {
		t.Errorf("the audit log has %d records", len(got))
	}
}

// TestSignFailure: the first failing signature stops the rest and is the
// error, naming its file.
func TestSignFailure(t *testing.T) {
	t.Parallel()
	key, cs := newKey(t)
	cs.before = func(n int64) error {
		if n == 2 {
			return errors.New("token removed")
		}
		return nil
	}
	log, path := openLog(t)
	sigs, err := Sign(context.Background(), request(t, 30), key, Options{NoPolicy: true, Audit: log, Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), "token removed") || !strings.Contains(err.Error(), "fwupd-unsigned lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy1.ko") {
		t.Errorf("error %v, want the Signer's, naming the second file", err)
	}
	if n := cs.calls.Load(); n != 2 {
		t.Errorf("%d Sign calls with one job, want 2: the failure stops the rest", n)
	}
	nothingReleased(t, sigs, path)
}

// TestSignRefusesOptions: a policy and an audit log are required unless
// waived; a request is checked again.
func TestSignRefusesOptions(t *testing.T) {
	t.Parallel()
	key, cs := newKey(t)
	log, _ := openLog(t)
	bad := request(t, 2)
	bad.Files[1].Path = "../x.ko"
	for _, c := range []struct {
		name string
		req  *sigreq.Request
		key  *sign.Key
		opts Options
		want error
		msg  string
	}{
		{"no policy", request(t, 2), key, Options{NoAuditLog: true}, ErrNoPolicy, ""},
		{"no audit log", request(t, 2), key, Options{NoPolicy: true}, ErrNoAuditLog, ""},
		{"policy and no policy", request(t, 2), key, Options{Policy: policyFor(t, key, "*", 9), NoPolicy: true, NoAuditLog: true}, nil, "given and waived"},
		{"audit log and no audit log", request(t, 2), key, Options{NoPolicy: true, Audit: log, NoAuditLog: true}, nil, "given and waived"},
		{"negative jobs", request(t, 2), key, Options{NoPolicy: true, NoAuditLog: true, Jobs: -1}, nil, "jobs is -1"},
		{"bad request", bad, key, unchecked(1), nil, "request: files[1].path"},
		{"no key", request(t, 2), nil, unchecked(1), nil, "no signing key"},
	} {
		_, err := Sign(context.Background(), c.req, c.key, c.opts)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want %v %q", c.name, err, c.want, c.msg)
		}
	}
	if n := cs.calls.Load(); n != 0 {
		t.Errorf("%d Sign calls for refused options", n)
	}
}
