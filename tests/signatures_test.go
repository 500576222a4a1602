package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestSignaturesDirectory covers generate --signatures beyond the happy
// path: padding after the DER, stray and missing files, dry runs, module
// signatures (which need --cert).
func TestSignaturesDirectory(t *testing.T) {
	c := debianCases[0] // fwupd
	tmpl := testutil.DebianFixture(t, c.template)
	unsigned := testutil.DebianFixture(t, c.unsigned)
	sigFile := filepath.Join(c.unsignedPkg, fwupdEFI+".sig")

	t.Run("zero padding is dropped", func(t *testing.T) {
		sigs := debianSignatures(t, c)
		f, err := os.OpenFile(filepath.Join(sigs, sigFile), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte{0, 0, 0, 0, 0})
		f.Close()
		out := filepath.Join(t.TempDir(), "out")
		mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", unsigned, "--signatures", sigs, "--output", out)
		// Debian's signed binary is still what the build gives.
		mustMksigned(t, "", nil, "verify", "--dsc", onlyFile(t, out, ".dsc"), "--unsigned", unsigned,
			"--signed", testutil.DebianFixture(t, c.signed))
	})

	for _, bad := range []struct {
		name  string
		edit  func(sigs string)
		extra []string
		want  string
	}{
		{"data after the DER", func(sigs string) {
			f, _ := os.OpenFile(filepath.Join(sigs, sigFile), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("junk"))
			f.Close()
		}, nil, "data after the DER signature"},
		{"stray file", func(sigs string) {
			writeFile(t, filepath.Join(sigs, "other-unsigned", "x.efi.sig"), []byte("x"), 0o644)
		}, nil, "other-unsigned/x.efi.sig: no file of the template's files.json has this signature"},
		{"missing signature", func(sigs string) {
			os.Remove(filepath.Join(sigs, sigFile))
		}, nil, "signature for " + sigFile},
		{"symlink out of the directory", func(sigs string) {
			p := filepath.Join(sigs, sigFile)
			b, _ := os.ReadFile(p)
			outside := filepath.Join(t.TempDir(), "outside.sig")
			os.WriteFile(outside, b, 0o644)
			os.Remove(p)
			os.Symlink(outside, p)
		}, nil, "signature for " + sigFile},
		{"not a signature, dry run", func(sigs string) {
			os.WriteFile(filepath.Join(sigs, sigFile), []byte("not DER"), 0o644)
		}, []string{"--dry-run"}, "not a DER-encoded PKCS#7 signature"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			sigs := debianSignatures(t, c)
			bad.edit(sigs)
			parent := t.TempDir()
			args := append([]string{"generate", "--template", tmpl, "--unsigned", unsigned, "--signatures", sigs,
				"--output", filepath.Join(parent, "out")}, bad.extra...)
			r := mksigned(t, "", nil, args...)
			if r.code != 1 || !strings.Contains(r.stderr, bad.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, bad.want)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}

	t.Run("dry run checks the signatures", func(t *testing.T) {
		sigs := debianSignatures(t, debianCases[1])
		r := mksigned(t, "", nil, "generate", "--dry-run", "--template", testutil.DebianFixture(t, shimTemplate),
			"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--signatures", sigs)
		if r.code != 0 || !strings.Contains(r.stdout, "use  efi          shim-unsigned usr/lib/shim/fbx64.efi") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		// Swap the two: the dry run must notice.
		swapShimSignatures(t, sigs)
		r = mksigned(t, "", nil, "generate", "--dry-run", "--template", testutil.DebianFixture(t, shimTemplate),
			"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--signatures", sigs)
		if r.code != 1 || !strings.Contains(r.stderr, "does not match") {
			t.Errorf("swapped signatures, dry run: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("modules need --cert", func(t *testing.T) {
		signFile := testutil.RequireTool(t, testutil.SignFile)
		key, cert := newKey(t, "2048")
		deb, tmpl, module := moduleFixture(t, "xz")
		sigs := t.TempDir()
		const ko = "lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy.ko"
		m := filepath.Join(t.TempDir(), "dummy.ko")
		writeFile(t, m, module, 0o644)
		testutil.Run(t, "", signFile, "-d", "sha256", key, cert, m)
		p7s, _ := os.ReadFile(m + ".p7s")
		writeFile(t, filepath.Join(sigs, "example-modules-unsigned", ko+".sig"), p7s, 0o644)
		out := filepath.Join(t.TempDir(), "out")
		r := mksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", deb, "--signatures", sigs, "--output", out)
		if r.code != 1 || !strings.Contains(r.stderr, "pass --cert") {
			t.Errorf("without --cert: exit %d, stderr %q", r.code, r.stderr)
		}
		mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", deb, "--signatures", sigs, "--cert", cert, "--output", out)
		_, other := newKey(t, "2048")
		r = mksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", deb, "--signatures", sigs, "--cert", other,
			"--output", filepath.Join(t.TempDir(), "out"))
		if r.code != 1 || !strings.Contains(r.stderr, "does not match") {
			t.Errorf("with another --cert: exit %d, stderr %q", r.code, r.stderr)
		}
		// verify cannot check a module signature without the certificate.
		r = mksigned(t, "", nil, "verify", "--dsc", onlyFile(t, out, ".dsc"), "--unsigned", deb)
		if r.code != 1 || !strings.Contains(r.stdout, "FAIL example-modules-unsigned") || !strings.Contains(r.stdout, "give --cert") {
			t.Errorf("verify without --cert: exit %d, stdout %q", r.code, r.stdout)
		}
	})
}

// TestOutputDirectory: an existing output directory keeps its other files;
// an output that is a file is refused before any work, dry run or not.
func TestOutputDirectory(t *testing.T) {
	key, cert := newKey(t, "2048")
	out := t.TempDir()
	writeFile(t, filepath.Join(out, "keep.txt"), []byte("mine"), 0o644)
	mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, shimTemplate),
		"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--key", key, "--cert", cert, "--output", out)
	if b, err := os.ReadFile(filepath.Join(out, "keep.txt")); err != nil || string(b) != "mine" {
		t.Errorf("keep.txt: %q, %v", b, err)
	}
	onlyFile(t, out, ".dsc")

	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, []byte("x"), 0o644)
	for _, extra := range [][]string{{"--dry-run"}, {"--key", key, "--cert", cert}} {
		args := append([]string{"generate", "--template", testutil.DebianFixture(t, shimTemplate),
			"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--output", file}, extra...)
		r := mksigned(t, "", nil, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "is not a directory") {
			t.Errorf("%v: exit %d, stderr %q", extra, r.code, r.stderr)
		}
	}
}
