package pgpsign

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeGPG writes a shell script standing in for gpg.
func fakeGPG(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gpg")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGPGExitStatus: a gpg that prints a clear-signed message but exits
// non-zero (a signature it could not finish, a key it did not find) is
// an error naming --upload-key-id, for Check and ClearSign alike.
func TestGPGExitStatus(t *testing.T) {
	msg := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nx\n\n-----BEGIN PGP SIGNATURE-----\n\nAA==\n-----END PGP SIGNATURE-----\n"
	g := GPG{ID: "ABCD", Program: fakeGPG(t, "cat >/dev/null; cat <<'EOF'\n"+msg+"EOF\necho 'gpg: signing failed: No secret key' >&2; exit 2\n")}
	if err := g.Check(context.Background()); err == nil || !strings.Contains(err.Error(), `--upload-key-id "ABCD"`) || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("Check: %v, want the exit status and --upload-key-id", err)
	}
	if out, err := g.ClearSign(context.Background(), []byte("x\n"), time.Time{}); err == nil || !strings.Contains(err.Error(), "No secret key") {
		t.Errorf("ClearSign: %q, %v, want gpg's complaint", out, err)
	}
	// Exit 0 without a clear-signed message (a wrapper script gone wrong).
	g.Program = fakeGPG(t, "cat\n")
	if out, err := g.ClearSign(context.Background(), []byte("x\n"), time.Time{}); err == nil || !strings.Contains(err.Error(), "no clear-signed message") {
		t.Errorf("ClearSign of a gpg that echoes: %q, %v", out, err)
	}
}

// TestGPGHangs: a gpg that never ends (its child holding the output
// open) stops when the context is cancelled, and by itself after
// gpgTimeout, each within gpgWaitDelay.
func TestGPGHangs(t *testing.T) {
	defer func(a, b time.Duration) { gpgTimeout, gpgWaitDelay = a, b }(gpgTimeout, gpgWaitDelay)
	gpgTimeout, gpgWaitDelay = time.Hour, 200*time.Millisecond
	pid := filepath.Join(t.TempDir(), "pid")
	g := GPG{ID: "ABCD", Program: fakeGPG(t, "sleep 1000 & echo $! >>"+pid+"; wait\n")}
	t.Cleanup(func() { // the sleeps outlive the killed shell
		b, _ := os.ReadFile(pid)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel) // as SIGINT does
	start := time.Now()
	err := g.Check(ctx)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled: %v after %s, want the context's error at once", err, time.Since(start))
	}
	gpgTimeout = 300 * time.Millisecond
	start = time.Now()
	_, err = g.ClearSign(context.Background(), []byte("x\n"), time.Time{})
	if err == nil || !strings.Contains(err.Error(), "did not finish in") || !strings.Contains(err.Error(), `--upload-key-id "ABCD"`) || time.Since(start) > 5*time.Second {
		t.Errorf("timeout: %v after %s, want \"did not finish\"", err, time.Since(start))
	}
}
