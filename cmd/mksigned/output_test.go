package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/testutil"
)

// debFile returns the file at path in a package of testdata/debian.
func debFile(t *testing.T, fixture, path string) []byte {
	t.Helper()
	var data []byte
	_, err := deb.ReadFile(testutil.DebianFixture(t, fixture), func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
		if e.Path != path {
			return nil
		}
		var err error
		data, err = io.ReadAll(body)
		return err
	})
	if err != nil || data == nil {
		t.Fatalf("%s in %s: %v (found: %v)", path, fixture, err, data != nil)
	}
	return data
}

// TestOutputNotAnInput: attach and detach refuse, before any work, an
// --output that is one of their inputs, by its name, a symbolic link to it
// or a second name of it (a hard link), and an --output that is a
// directory; every input is left as it was. generate refuses a .dsc that
// is its key by a second name. With real inputs: without the checks each
// of these runs succeeds (or fails late, for the directory).
func TestOutputNotAnInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string][]byte{
		"img.efi":    debFile(t, "fwupd-unsigned_1.4-1_amd64.deb", "usr/libexec/fwupd/efi/fwupdx64.efi"),
		"signed.efi": debFile(t, "fwupd-amd64-signed_1.4+1_amd64.deb", "usr/libexec/fwupd/efi/fwupdx64.efi.signed"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sig := filepath.Join(dir, "img.sig")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"detach", "--type", "efi", "--output", sig, filepath.Join(dir, "signed.efi")}, &stdout, &stderr); code != exitOK {
		t.Fatalf("detach: %d, %s", code, stderr.String())
	}
	files["img.sig"], _ = os.ReadFile(sig)
	for _, l := range []struct{ name, target string }{{"sig-link", "img.sig"}, {"img-link", "img.efi"}} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []struct{ name, target string }{{"sig-hard", "img.sig"}, {"img-hard", "img.efi"}, {"signed-hard", "signed.efi"}} {
		if err := os.Link(filepath.Join(dir, l.target), filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	key := testutil.NewKey(t, 2048)
	outDir := t.TempDir()
	if err := os.Link(key.KeyPath, filepath.Join(outDir, "fwupd-amd64-signed_1.4+1.dsc")); err != nil {
		t.Fatal(err)
	}
	keyData, err := os.ReadFile(key.KeyPath)
	if err != nil {
		t.Fatal(err)
	}

	p := func(name string) string { return dir + "/" + name }
	attach := func(out string) []string {
		return []string{"attach", "--type", "efi", "--signature", p("img.sig"), "--output", p(out), p("img.efi")}
	}
	detach := func(out string) []string {
		return []string{"detach", "--type", "efi", "--output", p(out), p("signed.efi")}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{attach("img.sig"), "--output " + p("img.sig") + " is --signature " + p("img.sig") + " (the same file)"},
		{attach("./img.sig"), "--output " + p("./img.sig") + " is --signature " + p("img.sig") + " (the same file)"},
		{attach("sig-link"), "--output " + p("sig-link") + " is --signature " + p("img.sig") + " (the same file)"},
		{attach("sig-hard"), "--output " + p("sig-hard") + " is --signature " + p("img.sig") + " (the same file)"},
		{attach("img.efi"), "--output " + p("img.efi") + " is FILE " + p("img.efi") + " (the same file)"},
		{attach("img-link"), "--output " + p("img-link") + " is FILE " + p("img.efi") + " (the same file)"},
		{attach("img-hard"), "--output " + p("img-hard") + " is FILE " + p("img.efi") + " (the same file)"},
		{attach("subdir"), "--output " + p("subdir") + " is a directory: give the name of the file to write"},
		{attach("missing/x"), "--output " + p("missing/x") + ": " + p("missing") + " is not an existing directory"},
		{detach("signed.efi"), "--output " + p("signed.efi") + " is SIGNED " + p("signed.efi") + " (the same file)"},
		{detach("signed-hard"), "--output " + p("signed-hard") + " is SIGNED " + p("signed.efi") + " (the same file)"},
		{detach("subdir"), "--output " + p("subdir") + " is a directory"},
		{[]string{"generate", "--template", testutil.DebianFixture(t, "fwupd-amd64-signed-template_1.4-1_amd64.deb"),
			"--unsigned", testutil.DebianFixture(t, "fwupd-unsigned_1.4-1_amd64.deb"), "--key", key.KeyPath, "--cert", key.CertPath, "--output", outDir},
			": fwupd-amd64-signed_1.4+1.dsc is --key " + key.KeyPath + " (the same file)"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != exitFail || !strings.Contains(stderr.String(), c.want) || stdout.Len() != 0 {
			t.Errorf("mksigned %q = %d, stdout %q, stderr %q; want %d, nothing on stdout, and %q", c.args, code, stdout.String(), stderr.String(), exitFail, c.want)
		}
	}
	for name, data := range files {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("input %s changed: %d bytes, %v; want the %d it had", name, len(got), err, len(data))
		}
	}
	if got, err := os.ReadFile(filepath.Join(outDir, "fwupd-amd64-signed_1.4+1.dsc")); err != nil || !bytes.Equal(got, keyData) {
		t.Errorf("the key's second name changed: %v", err)
	}
	if got := testutil.ListDir(t, dir); len(got) != 9 {
		t.Errorf("the directory holds %q, want the 9 names it had", got)
	}
}
