package signer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sigreq"
)

// runDir is a directory holding a request of n files and a policy for
// key; it returns their paths.
func runDir(t *testing.T, n int, templates string) (dir, req, pol string, run RunOptions, key *sign.Key) {
	t.Helper()
	key, _ = newKey(t)
	dir = t.TempDir()
	data, err := request(t, n).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req, pol = filepath.Join(dir, "req.json"), filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(req, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := `keys:
  - cert-sha256: ` + CertSHA256(key.Cert) + `
    templates: ["` + templates + `"]
    packages: [fwupd-unsigned]
    sig-types: [efi, linux-module]
    max-files: 10
    trusted-certs: []
`
	if err := os.WriteFile(pol, []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() (*sign.Key, error) { return key, nil }
	return dir, req, pol, RunOptions{Request: req, OpenKey: open, Policy: pol, AuditLog: filepath.Join(dir, "audit.log"), Jobs: 2}, key
}

// wantSigs fails unless got are the signatures Sign makes with key for
// the request of o.
func wantSigs(t *testing.T, got map[string][]byte, o RunOptions, key *sign.Key) {
	t.Helper()
	req, err := readRequest(context.Background(), o.Request, o.Stdin)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := Sign(context.Background(), req, key, unchecked(1))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, s := range sigs {
		want[s.Path] = s.Data
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("response (-want +got):\n%s", d)
	}
}

func TestRunOutputs(t *testing.T) {
	t.Parallel()
	t.Run("file", func(t *testing.T) {
		t.Parallel()
		dir, _, _, o, key := runDir(t, 3, "fwupd-*")
		o.Output = filepath.Join(dir, "resp.tar")
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Written != o.Output || len(r.Signatures) != 3 || r.KeySHA256 != CertSHA256(key.Cert) {
			t.Errorf("Result %+v", r)
		}
		f, err := os.Open(o.Output)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := sigreq.ReadResponse(f)
		if err != nil {
			t.Fatal(err)
		}
		wantSigs(t, got, o, key)
		if d := cmp.Diff([]string{"audit.log", "policy.yaml", "req.json", "resp.tar"}, testutil.ListDir(t, dir)); d != "" {
			t.Errorf("directory (-want +got):\n%s", d)
		}
		if got := logEntries(t, o.AuditLog); len(got) != 3 {
			t.Errorf("%d audit entries, want 3", len(got))
		}
	})
	t.Run("directory", func(t *testing.T) {
		t.Parallel()
		dir, _, _, o, key := runDir(t, 2, "fwupd-*")
		o.OutputDir = filepath.Join(dir, "sigs")
		if _, err := Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		got := map[string][]byte{}
		for _, p := range []string{"fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig", "fwupd-unsigned/lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy1.ko.sig"} {
			b, err := os.ReadFile(filepath.Join(o.OutputDir, p))
			if err != nil {
				t.Fatal(err)
			}
			got[p] = b
		}
		wantSigs(t, got, o, key)
	})
	t.Run("standard input and output", func(t *testing.T) {
		t.Parallel()
		dir, req, _, o, key := runDir(t, 2, "fwupd-*")
		data, err := os.ReadFile(req)
		if err != nil {
			t.Fatal(err)
		}
		var stdout bytes.Buffer
		o.Request, o.Stdin, o.Output, o.Stdout = Stdio, bytes.NewReader(data), Stdio, &stdout
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Written != "" {
			t.Errorf("Written = %q, want none for standard output", r.Written)
		}
		got, err := sigreq.ReadResponse(&stdout)
		if err != nil {
			t.Fatal(err)
		}
		o.Stdin = bytes.NewReader(data)
		wantSigs(t, got, o, key)
		if d := cmp.Diff([]string{"audit.log", "policy.yaml", "req.json"}, testutil.ListDir(t, dir)); d != "" {
			t.Errorf("directory (-want +got):\n%s", d)
		}
	})
}

// TestRunRefuses: each refusal writes nothing, makes no signature and no
// audit record, and opens the key only when the policy is what refuses.
func TestRunRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		edit func(t *testing.T, dir string, o *RunOptions)
		want string
	}{
		{"bad request", func(t *testing.T, dir string, o *RunOptions) {
			if err := os.WriteFile(o.Request, []byte(`{"format": "mksigned-signing-request", "version": 9}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "req.json: version: unknown request version"},
		{"request is a directory", func(t *testing.T, dir string, o *RunOptions) { o.Request = dir }, "not a regular file"},
		{"policy refuses", func(t *testing.T, dir string, o *RunOptions) {
			_, _, pol, _, _ := runDir(t, 1, "shim-*") // another key's, and another template
			o.Policy = pol
		}, "policy refuses the request"},
		{"no policy", func(t *testing.T, dir string, o *RunOptions) { o.Policy = "" }, ErrNoPolicy.Error()},
		{"no audit log", func(t *testing.T, dir string, o *RunOptions) { o.AuditLog = "" }, ErrNoAuditLog.Error()},
		{"corrupt audit log", func(t *testing.T, dir string, o *RunOptions) {
			if err := os.WriteFile(o.AuditLog, []byte("not a record"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "audit.log"},
		{"output is the request", func(t *testing.T, dir string, o *RunOptions) { o.Output = o.Request }, "is REQ"},
		{"output is the policy", func(t *testing.T, dir string, o *RunOptions) { o.Output = o.Policy }, "is --policy"},
		{"output is the key", func(t *testing.T, dir string, o *RunOptions) {
			o.Inputs = []clobber.Input{{Flag: "--key", Path: filepath.Join(dir, "key.pem")}}
			if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("key"), 0o600); err != nil {
				t.Fatal(err)
			}
			o.Output = filepath.Join(dir, "key.pem")
		}, "is --key"},
		{"output is a directory", func(t *testing.T, dir string, o *RunOptions) { o.Output = dir }, "is a directory"},
		{"output in no directory", func(t *testing.T, dir string, o *RunOptions) { o.Output = filepath.Join(dir, "none", "resp.tar") }, "not an existing directory"},
		{"output directory exists", func(t *testing.T, dir string, o *RunOptions) { o.Output, o.OutputDir = "", dir }, "exists"},
		{"both outputs", func(t *testing.T, dir string, o *RunOptions) { o.OutputDir = filepath.Join(dir, "sigs") }, "exactly one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir, _, _, o, key := runDir(t, 2, "fwupd-*")
			o.Output = filepath.Join(dir, "resp.tar")
			if err := os.WriteFile(filepath.Join(dir, "audit.log"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			c.edit(t, dir, &o)
			opened, open := 0, o.OpenKey
			o.OpenKey = func() (*sign.Key, error) { opened++; return open() }
			before := testutil.ListDir(t, dir)
			r, err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
			if r != nil {
				t.Errorf("Result %+v after an error", r)
			}
			if d := cmp.Diff(before, testutil.ListDir(t, dir)); d != "" {
				t.Errorf("files in the directory changed (-before +after):\n%s", d)
			}
			if n := key.Signer.(*countingSigner).calls.Load(); n != 0 {
				t.Errorf("%d Sign calls", n)
			}
			// Only the policy needs the key (its certificate) to refuse.
			if wantOpen := c.name == "policy refuses"; (opened > 0) != wantOpen {
				t.Errorf("the key was opened %d times, want it opened: %v", opened, wantOpen)
			}
			if fi, err := os.Stat(filepath.Join(dir, "audit.log")); err == nil && fi.Size() != 0 && c.name != "corrupt audit log" {
				t.Errorf("the audit log has %d bytes", fi.Size())
			}
		})
	}
}

// TestRunInterrupted: an interrupt before the end writes nothing and is
// the context's error.
func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	dir, _, _, o, _ := runDir(t, 2, "fwupd-*")
	o.Output = filepath.Join(dir, "resp.tar")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, o); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if d := cmp.Diff([]string{"audit.log", "policy.yaml", "req.json"}, testutil.ListDir(t, dir)); d != "" {
		t.Errorf("directory (-want +got):\n%s", d)
	}
}
