package tests

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
)

const (
	fwupdTemplate  = "fwupd-amd64-signed-template_1.4-1_amd64.deb"
	fwupdUnsigned  = "fwupd-unsigned_1.4-1_amd64.deb"
	fwupdSigned    = "fwupd-amd64-signed_1.4+1_amd64.deb"
	shimTemplate   = "shim-helpers-amd64-signed-template_16.1-2~deb12u1_amd64.deb"
	shimUnsigned   = "shim-unsigned_16.1-2~deb12u1_amd64.deb"
	shimSigned     = "shim-helpers-amd64-signed_1+16.1+2~deb12u1_amd64.deb"
	fwupdCodeDir   = "usr/share/code-signing/fwupd-amd64-signed-template"
	shimCodeDir    = "usr/share/code-signing/shim-helpers-amd64-signed-template"
	fwupdEFI       = "usr/libexec/fwupd/efi/fwupdx64.efi"
	fwupdSignedEFI = "usr/libexec/fwupd/efi/fwupdx64.efi.signed"
)

// extract unpacks a .deb with dpkg-deb -x into a new directory.
func extract(t *testing.T, deb string) string {
	t.Helper()
	testutil.RequireTool(t, "dpkg-deb")
	dir := t.TempDir()
	testutil.Run(t, "", "dpkg-deb", "-x", deb, dir)
	return dir
}

type fileState struct {
	Mode fs.FileMode
	Data string
}

// tree reads every file and directory under dir: mode and contents.
func tree(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := fileState{Mode: info.Mode()}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			st.Data = string(b)
		}
		out[filepath.ToSlash(rel)] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails the test unless the two trees hold the same files with
// the same modes and contents.
func sameTree(t *testing.T, got, want string) {
	t.Helper()
	if d := cmp.Diff(tree(t, want), tree(t, got)); d != "" {
		t.Errorf("tree %s differs from %s (-want +got):\n%s", got, want, d)
	}
}

// newKey makes an RSA key and self-signed certificate with openssl.
func newKey(t *testing.T, bits string) (key, cert string) {
	t.Helper()
	testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	key, cert = filepath.Join(dir, "test.key"), filepath.Join(dir, "test.crt")
	testutil.Run(t, dir, "openssl", "req", "-new", "-x509", "-newkey", "rsa:"+bits, "-nodes", "-sha256",
		"-days", "3650", "-subj", "/CN=mksigned e2e test "+bits+"/", "-keyout", key, "-out", cert)
	return key, cert
}

// copyDir copies a directory tree, keeping file modes.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile writes a file, creating its directory.
func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// onlyFile returns the one file in dir whose name ends with suffix.
func onlyFile(t *testing.T, dir, suffix string) string {
	t.Helper()
	var found []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one *%s in %s, found %q", suffix, dir, found)
	}
	return found[0]
}

// notExist fails the test if path exists.
func notExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); err == nil {
		t.Errorf("%s exists, want nothing written", path)
	}
}

// countPrefix counts the lines of s that start with prefix.
func countPrefix(s, prefix string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// swapShimSignatures swaps the signatures of fbx64.efi and mmx64.efi in a
// shim-unsigned signatures directory: each is then a valid signature of
// the other file.
func swapShimSignatures(t *testing.T, sigs string) {
	t.Helper()
	fb := filepath.Join(sigs, "shim-unsigned/usr/lib/shim/fbx64.efi.sig")
	mm := filepath.Join(sigs, "shim-unsigned/usr/lib/shim/mmx64.efi.sig")
	a, err := os.ReadFile(fb)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(mm)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, fb, b, 0o644)
	writeFile(t, mm, a, 0o644)
}
