package template

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/inputerr"
)

func TestParseManifestShapes(t *testing.T) {
	t.Parallel()
	want := &Manifest{Packages: []Package{{
		Name:         "shim-unsigned",
		TrustedCerts: []string{},
		Files: []File{
			{Path: "usr/lib/shim/fbx64.efi", SigType: EFI},
			{Path: "usr/lib/shim/mmx64.efi", SigType: EFI},
		},
	}}}
	files := `{"trusted_certs": [], "files": [
		{"sig_type": "efi", "file": "usr/lib/shim/fbx64.efi"},
		{"sig_type": "efi", "file": "usr/lib/shim/mmx64.efi"}]}`
	for _, tc := range []struct {
		name, json, version string
	}{
		{"bare 2018", `{"shim-unsigned": ` + files + `}`, ""},
		{"packages", `{"packages": {"shim-unsigned": ` + files + `}}`, ""},
		{"version 2 (grub)", `{"version": "2", "packages": {"shim-unsigned": ` + files + `}}`, "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseManifest([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			w := *want
			w.Version = tc.version
			if d := cmp.Diff(&w, got); d != "" {
				t.Errorf("manifest mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseManifestTrustedCerts(t *testing.T) {
	t.Parallel()
	fp := strings.Repeat("AB", 32)
	m, err := ParseManifest([]byte(`{"packages": {"linux-image-6.1.0-1-amd64-unsigned": {"trusted_certs": ["` + fp + `"],
		"files": [{"sig_type": "linux-module", "file": "lib/modules/6.1.0-1-amd64/kernel/drivers/net/dummy.ko"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Packages[0].TrustedCerts, []string{strings.Repeat("ab", 32)}; !cmp.Equal(got, want) {
		t.Errorf("trusted_certs = %v, want %v", got, want)
	}
	if got := m.Packages[0].Files[0].SigType; got != LinuxModule {
		t.Errorf("sig_type = %q, want %q", got, LinuxModule)
	}
}

func TestParseManifestErrors(t *testing.T) {
	t.Parallel()
	one := func(file, sigType string) string {
		return `{"packages": {"fwupd-unsigned": {"trusted_certs": [], "files": [{"sig_type": "` + sigType + `", "file": "` + file + `"}]}}}`
	}
	for _, tc := range []struct {
		name, json, field, msg string
		unsafe                 bool
	}{
		{"dotdot", one("usr/../../etc/shadow", "efi"), "packages.fwupd-unsigned.files[0].file", `contains ".."`, true},
		{"leading dotdot", one("../etc/shadow", "efi"), "packages.fwupd-unsigned.files[0].file", `"../etc/shadow" contains ".."`, true},
		{"dotdot alone", one("..", "efi"), "packages.fwupd-unsigned.files[0].file", `".." contains ".."`, true},
		{"dot then dotdot", one("./../x.efi", "efi"), "packages.fwupd-unsigned.files[0].file", `contains ".."`, true},
		{"trailing dotdot", one("usr/lib/..", "efi"), "packages.fwupd-unsigned.files[0].file", `contains ".."`, true},
		{"dot", one(".", "efi"), "packages.fwupd-unsigned.files[0].file", "names no file", true},
		{"absolute", one("/boot/vmlinuz", "efi"), "packages.fwupd-unsigned.files[0].file", "is absolute", true},
		{"unknown sig_type", one("a.efi", "openpgp"), "packages.fwupd-unsigned.files[0].sig_type", `unknown sig_type "openpgp"`, false},
		{"unknown version", `{"version": "3", "packages": {}}`, "version", "unknown files.json version", false},
		{"not json", `{"packages": `, "", "invalid JSON", false},
		{"not an object", `[1,2]`, "", "invalid JSON", false},
		{"no files", `{"packages": {"fwupd-unsigned": {"trusted_certs": []}}}`, "packages.fwupd-unsigned.files", "missing", false},
		{"empty files", `{"packages": {"fwupd-unsigned": {"files": []}}}`, "packages.fwupd-unsigned.files", "is empty", false},
		{"no packages", `{"packages": {}}`, "packages", "names no package", false},
		{"bad package name", `{"packages": {"Fwupd": {"files": []}}}`, "packages.Fwupd", "not a valid Debian package name", false},
		{"bad fingerprint", `{"packages": {"fwupd-unsigned": {"trusted_certs": ["abc"], "files": []}}}`, "packages.fwupd-unsigned.trusted_certs[0]", "not a SHA-256 fingerprint", false},
		{"duplicate", `{"packages": {"fwupd-unsigned": {"files": [{"sig_type": "efi", "file": "a.efi"}, {"sig_type": "efi", "file": "a.efi"}]}}}`, "packages.fwupd-unsigned.files[1].file", "listed twice", false},
		// Paths are taken as written, never cleaned: each reader of the
		// file then names the same path.
		{"leading ./", one("./a.efi", "efi"), "packages.fwupd-unsigned.files[0].file", `"./a.efi" is not a clean path (write it "a.efi")`, true},
		{"double slash", one("usr//a.efi", "efi"), "packages.fwupd-unsigned.files[0].file", `"usr//a.efi" is not a clean path (write it "usr/a.efi")`, true},
		{"trailing slash", one("usr/a.efi/", "efi"), "packages.fwupd-unsigned.files[0].file", `is not a clean path (write it "usr/a.efi")`, true},
		{"dot component", one("usr/./a.efi", "efi"), "packages.fwupd-unsigned.files[0].file", `is not a clean path`, true},
		{"leading ../", one("../etc/shadow", "efi"), "packages.fwupd-unsigned.files[0].file", `contains ".."`, true},
		// Python's json.loads, which Debian's service uses, refuses these;
		// Go's Decoder.More says false at a stray } or ].
		{"stray brace", one("a.efi", "efi") + "}", "", `offset 0x68: invalid JSON: trailing data "}" after the JSON value`, false},
		{"stray bracket", one("a.efi", "efi") + "\n]\n", "", `trailing data "]\n" after the JSON value`, false},
		{"second object", one("a.efi", "efi") + ` {}`, "", `trailing data "{}"`, false},
		{"unknown key", `{"packages": {"fwupd-unsigned": {"files": [{"sig_type": "efi", "file": "a.efi", "sign_with": "x"}]}}}`, "packages.fwupd-unsigned", "unknown field", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tc.json))
			if err == nil {
				t.Fatal("got no error")
			}
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is %T, want *inputerr.Error", err, err)
			}
			if ie.Field != tc.field {
				t.Errorf("Field = %q, want %q (error: %v)", ie.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			if got := errors.Is(err, ErrUnsafePath); got != tc.unsafe {
				t.Errorf("errors.Is(err, ErrUnsafePath) = %v, want %v", got, tc.unsafe)
			}
		})
	}
}

// localPath is the fuzz targets' oracle for a path accepted from a
// template, independent of CleanPath: clean, slash-separated, and local
// as the standard library sees it.
func localPath(p string) bool {
	return p != "." && filepath.IsLocal(p) && path.Clean(p) == p && !strings.ContainsAny(p, "\\\x00")
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"packages": {"fwupd-unsigned": {"trusted_certs": [], "files": [{"sig_type": "efi", "file": "usr/libexec/fwupd/efi/fwupdx64.efi"}]}}}`))
	f.Add([]byte(`{"version": "2", "packages": {"grub-efi-amd64-bin": {"trusted_certs": [], "files": [{"sig_type": "efi", "file": "usr/lib/grub/x86_64-efi/monolithic/grubx64.efi"}]}}}`))
	f.Add([]byte(`{"shim-unsigned": {"files": [{"sig_type": "linux-module", "file": "a/b.ko"}]}}`))
	f.Add([]byte(`{"shim-unsigned": {"files": [{"sig_type": "efi", "file": "../a.efi"}]}}`))
	f.Add([]byte(`{"shim-unsigned": {"files": [{"sig_type": "efi", "file": "usr/.."}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is %T, want *inputerr.Error", err, err)
			}
			return
		}
		for _, p := range m.Packages {
			for _, f := range p.Files {
				if !localPath(f.Path) {
					t.Fatalf("accepted unsafe or unclean path %q", f.Path)
				}
				if f.SigType != EFI && f.SigType != LinuxModule {
					t.Fatalf("accepted sig_type %q", f.SigType)
				}
			}
		}
	})
}

// cleanPathRef is what CleanPath does, written without path.Clean: a
// path is accepted, as it is, only when it is not empty, not absolute,
// holds no NUL or backslash, and every element between slashes is a name
// other than "." and "..".
func cleanPathRef(p string) (string, bool) {
	if p == "" || strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return "", false
		}
	}
	return p, true
}

// FuzzCleanPath checks CleanPath against cleanPathRef, and what it
// accepts against the standard library's filepath.IsLocal.
func FuzzCleanPath(f *testing.F) {
	for _, p := range []string{"usr/lib/shim/fbx64.efi", "../etc/shadow", "..", "usr/../../x", "./a//b/", ".", "a/./..", "/boot/x", "a\\..\\b", "a\x00b"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := CleanPath(p)
		want, ok := cleanPathRef(p)
		if (err == nil) != ok || got != want {
			t.Fatalf("CleanPath(%q) = %q, %v; want %q, ok %v", p, got, err, want, ok)
		}
		if err != nil {
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("CleanPath(%q): %v is not ErrUnsafePath", p, err)
			}
			return
		}
		if !localPath(got) || !filepath.IsLocal(p) {
			t.Fatalf("CleanPath(%q) accepted it as %q, which is not local", p, got)
		}
	})
}
