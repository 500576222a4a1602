package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/audit"
)

// TestAuditVerify: the count on stdout and exit 0 for an intact chain,
// the line that breaks it and exit 1 for a broken one, exit 2 for bad
// usage with the help on stderr.
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "audit.log")
	l, err := audit.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(make([]audit.Entry, 3)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	removed := filepath.Join(dir, "removed.log")
	if err := os.WriteFile(removed, append(lines[0], lines[2]...), 0o600); err != nil {
		t.Fatal(err)
	}
	one := filepath.Join(dir, "one.log")
	if err := os.WriteFile(one, lines[0], 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.log")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args         []string
		code         int
		stdout, errs string // stdout whole (none: the help); a prefix of stderr
	}{
		{[]string{"audit", "verify", good}, exitOK, good + ": 3 records, chain intact\n", ""},
		{[]string{"audit", "verify", one}, exitOK, one + ": 1 record, chain intact\n", ""},
		{[]string{"audit", "verify", empty}, exitOK, empty + ": 0 records, chain intact\n", ""},
		{[]string{"audit", "verify", removed}, exitFail, "", "mksigned: " + removed + ": line 2: prev does not match the SHA-256 of line 1: "},
		{[]string{"audit", "verify", filepath.Join(dir, "missing.log")}, exitFail, "", "mksigned: open " + dir},
		{[]string{"audit", "verify"}, exitUsage, "", "mksigned audit: want exactly one LOG, got 0\nUsage:\n  mksigned audit verify LOG\n"},
		{[]string{"audit", "verify", good, good}, exitUsage, "", "mksigned audit: want exactly one LOG, got 2\n"},
		{[]string{"audit", "verify", "--bogus", good}, exitUsage, "", "mksigned audit: flag provided but not defined: --bogus\nUsage:\n  mksigned audit verify LOG\n"},
		{[]string{"audit"}, exitUsage, "", "mksigned audit: want a command: verify\nUsage:\n  mksigned audit verify LOG\n"},
		{[]string{"audit", "check", good}, exitUsage, "", `mksigned audit: unknown command "check" (known: verify)` + "\n"},
		{[]string{"audit", "-h"}, exitOK, "", ""},
		{[]string{"audit", "verify", "-h"}, exitOK, "", ""},
		{[]string{"help", "audit"}, exitOK, "", ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		wantOut := c.stdout
		if c.code == exitOK && c.stdout == "" {
			wantOut = stdout.String() // checked below
			if !strings.HasPrefix(wantOut, "Usage:\n  mksigned audit ") || strings.Contains(wantOut, "Flags:") {
				t.Errorf("mksigned %q help %q, want the usage of audit and no empty Flags section", c.args, wantOut)
			}
		}
		if code != c.code || stdout.String() != wantOut || !strings.HasPrefix(stderr.String(), c.errs) || c.errs == "" && stderr.Len() != 0 {
			t.Errorf("mksigned %q = %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, stdout.String(), stderr.String(), c.code, wantOut, c.errs)
		}
	}
}
