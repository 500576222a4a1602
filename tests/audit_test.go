package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/audit"
)

// TestAuditVerify: `mksigned audit verify LOG` prints the count of an
// intact log and exits 0; an edited record or a cut-off end exits 1,
// naming the line; bad usage exits 2.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	l, err := audit.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	var es []audit.Entry
	for _, p := range []string{"usr/lib/shim/fbx64.efi", "usr/lib/shim/mmx64.efi", "usr/lib/shim/shimx64.efi"} {
		es = append(es, audit.Entry{KeySHA256: strings.Repeat("ab", 32), Requester: "192.0.2.1 50000 22",
			Template: "shim-helpers-amd64-signed-template", TemplateVersion: "1+16.1+2~deb12u1", Package: "shim-unsigned",
			PackageVersion: "16.1-2~deb12u1", Path: p, SigType: "efi", DigestAlgorithm: "sha256",
			Digest: strings.Repeat("cd", 32), SignatureSHA256: strings.Repeat("ef", 32)})
	}
	if err := l.Append(es); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := mustMksigned(t, dir, nil, "audit", "verify", "audit.log"), "audit.log: 3 records, chain intact\n"; got != want {
		t.Errorf("mksigned audit verify: stdout %q, want %q", got, want)
	}

	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	// A digest changed in the second record: still a well-formed line,
	// so the chain shows it at the third.
	lines[1] = bytes.Replace(lines[1], []byte(`"digest":"cdcd`), []byte(`"digest":"0dcd`), 1)
	edited := filepath.Join(dir, "edited.log")
	writeFile(t, edited, bytes.Join(lines, nil), 0o600)
	cut := filepath.Join(dir, "cut.log")
	writeFile(t, cut, data[:len(data)-10], 0o600)
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"audit", "verify", edited}, 1, "mksigned: " + edited + ": line 3: prev does not match the SHA-256 of line 2: line 2 was edited, or lines were removed or reordered there\n"},
		{[]string{"audit", "verify", cut}, 1, "mksigned: " + cut + ": line 3: cut off: the log does not end in a newline\n"},
		{[]string{"audit", "verify"}, 2, "mksigned audit: want exactly one LOG, got 0\nUsage:\n  mksigned audit verify LOG\n"},
		{[]string{"audit", "frob"}, 2, `mksigned audit: unknown command "frob" (known: verify)` + "\n"},
	} {
		r := mksigned(t, dir, nil, c.args...)
		if r.code != c.code || r.stdout != "" || !strings.HasPrefix(r.stderr, c.stderr) || c.code == 1 && r.stderr != c.stderr {
			t.Errorf("mksigned %q: exit %d, stdout %q, stderr %q; want exit %d, nothing on stdout, stderr %q", c.args, r.code, r.stdout, r.stderr, c.code, c.stderr)
		}
	}
}
