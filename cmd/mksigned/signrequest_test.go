package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/signer"
	"github.com/mksigned/mksigned/sigreq"
)

// TestSignRequestUsage: every flag combination sign-request refuses is
// a usage error, exit 2, before anything is read.
func TestSignRequestUsage(t *testing.T) {
	t.Parallel()
	base := []string{"--key", "/nonexistent/k", "--cert", "/nonexistent/c", "--policy", "p", "--audit-log", "a", "--output", "o", "req.json"}
	// without is base less flag and the n-1 arguments after it.
	without := func(flag string, n int) []string {
		i := slices.Index(base, flag)
		if i < 0 {
			t.Fatalf("%s is not in %q", flag, base)
		}
		return append(slices.Clone(base[:i]), base[i+n:]...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{without("req.json", 1), "want exactly one REQ"},
		{append(base, "more.json"), "want exactly one REQ (- for standard input), got 2"},
		{without("--key", 2), "--key is required"},
		{without("--cert", 2), "--key needs --cert"},
		{without("--policy", 2), "--policy FILE is required"},
		{append(base, "--no-policy"), "--policy and --no-policy exclude each other"},
		{without("--audit-log", 2), "--audit-log FILE is required"},
		{append(base, "--no-audit-log"), "--audit-log and --no-audit-log exclude each other"},
		{without("--output", 2), "--output RESP (- for standard output) or --output-dir DIR is required"},
		{append(base, "--output-dir", "d"), "--output and --output-dir exclude each other"},
		{append(without("--output", 2), "--output-dir", "-"), "--output-dir is a directory to make"},
		{append(without("--output", 2), "--output", "-", "--json"), "--json and --output - exclude each other"},
		{append(base, "--jobs", "0"), "--jobs must be at least 1"},
		{append(base, "--jobs", "1025"), "--jobs must be at most 1024"},
		{append(base, "--bogus"), "flag provided but not defined: --bogus"},
		{append(base, "--requester", strings.Repeat("r", 1025)), "--requester is 1025 bytes, more than 1024"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"sign-request"}, c.args...), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) || stdout.Len() != 0 {
			t.Errorf("sign-request %q: exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, stdout.String(), stderr.String(), exitUsage, c.want)
		}
	}
}

// TestSignRequestRun signs a request in-process: --json says what was
// signed and by whom (the requester from $SSH_CLIENT), and the directory
// holds the signatures. Not parallel: it sets $SSH_CLIENT.
func TestSignRequestRun(t *testing.T) {
	key := testutil.NewKey(t, 2048)
	dir := t.TempDir()
	req := &sigreq.Request{
		Template: sigreq.Template{Name: "fwupd-amd64-signed-template", Version: "1.4-1", Source: "fwupd-amd64-signed",
			SourceVersion: "1.4+1", TrustedCerts: []string{}},
		SigningTime: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		Files: []sigreq.File{{Package: "fwupd-unsigned", PackageVersion: "1.4-1", Path: "usr/libexec/fwupd/efi/fwupdx64.efi",
			SigType: "efi", Size: 61833, SHA256: strings.Repeat("5a", 32), DigestAlgorithm: "sha256", Digest: strings.Repeat("a5", 32)}},
	}
	data, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	reqPath := filepath.Join(dir, "req.json")
	if err := os.WriteFile(reqPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_CLIENT", "192.0.2.7 51234 22")
	out := filepath.Join(dir, "sigs")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"sign-request", "--key", key.KeyPath, "--cert", key.CertPath, "--no-policy", "--no-audit-log",
		"--output-dir", out, "--json", reqPath}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	var got signRequestJSON
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout.String())
	}
	want := signRequestJSON{Template: "fwupd-amd64-signed-template", TemplateVersion: "1.4-1", Signatures: 1,
		KeySHA256: signer.CertSHA256(key.Cert), Requester: "192.0.2.7", Written: out, Crypto: got.Crypto}
	if d := cmp.Diff(want, got); d != "" || got.Crypto == "" {
		t.Errorf("--json (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(out, "fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig")); err != nil {
		t.Errorf("the signature is not in --output-dir: %v", err)
	}
	// --requester wins over $SSH_CLIENT; without --json, "wrote".
	stdout.Reset()
	resp := filepath.Join(dir, "resp.tar")
	code = run(context.Background(), []string{"sign-request", "--key", key.KeyPath, "--cert", key.CertPath, "--no-policy", "--no-audit-log",
		"--output", resp, "--requester", "builder-3", "--json", reqPath}, &stdout, &stderr)
	if err := json.Unmarshal(stdout.Bytes(), &got); code != exitOK || err != nil || got.Requester != "builder-3" || got.Written != resp {
		t.Errorf("with --requester: exit %d, --json %+v (%v), stderr %s", code, got, err, stderr.String())
	}
	stdout.Reset()
	code = run(context.Background(), []string{"sign-request", "--key", key.KeyPath, "--cert", key.CertPath, "--no-policy", "--no-audit-log",
		"--output", resp, reqPath}, &stdout, &stderr)
	if code != exitOK || stdout.String() != "wrote "+resp+"\n" {
		t.Errorf("exit %d, stdout %q, stderr %s", code, stdout.String(), stderr.String())
	}
}
