package tests

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// fwupdWithTwoCopies is fwupd-unsigned rebuilt with fwupdx64.efi twice in
// its data.tar: first hostile (another EFI image: shim's fbx64.efi), then
// Debian's, the copy dpkg -i installs.
func fwupdWithTwoCopies(t *testing.T) string {
	t.Helper()
	fwupd := extract(t, testutil.DebianFixture(t, fwupdUnsigned))
	shim := extract(t, testutil.DebianFixture(t, shimUnsigned))
	benign, err := os.ReadFile(filepath.Join(fwupd, fwupdEFI))
	if err != nil {
		t.Fatal(err)
	}
	hostile, err := os.ReadFile(filepath.Join(shim, "usr/lib/shim/fbx64.efi"))
	if err != nil {
		t.Fatal(err)
	}
	var es []testutil.TarEntry
	for _, d := range []string{"", "usr/", "usr/libexec/", "usr/libexec/fwupd/", "usr/libexec/fwupd/efi/"} {
		es = append(es, testutil.TarEntry{Name: "./" + d, Type: tar.TypeDir, Mode: 0o755})
	}
	es = append(es,
		testutil.TarEntry{Name: "./" + fwupdEFI, Type: tar.TypeReg, Mode: 0o644, Body: string(hostile)},
		testutil.TarEntry{Name: "./" + fwupdEFI, Type: tar.TypeReg, Mode: 0o644, Body: string(benign)},
	)
	deb := testutil.Deb(t, "Package: fwupd-unsigned\nVersion: 1:1.4-1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: t\n",
		testutil.Tar(t, es...))
	p := filepath.Join(t.TempDir(), "fwupd-unsigned_1.4-1_amd64.deb")
	writeFile(t, p, deb, 0o644)
	return p
}

// TestSignWhatDpkgInstalls: a listed path that appears twice in data.tar
// is refused by generate and verify, naming the package and both entries,
// since dpkg would install the second copy and not the first; only
// --stop-early (for a builder the operator trusts) reads past it unseen.
func TestSignWhatDpkgInstalls(t *testing.T) {
	key, cert := newKey(t, "2048")
	dup := fwupdWithTwoCopies(t)
	tmpl := testutil.DebianFixture(t, fwupdTemplate)
	want := []string{"fwupd-unsigned_1.4-1_amd64.deb: data.tar: " + fwupdEFI + ": offset 0x",
		"path appears twice in the archive: its first entry's header is at offset 0xa00; dpkg would install this one, the last"}
	for _, args := range [][]string{
		{"generate", "--dry-run"},
		{"generate", "--key", key, "--cert", cert},
	} {
		out := filepath.Join(t.TempDir(), "out")
		r := mksigned(t, "", nil, append(args, "--template", tmpl, "--unsigned", dup, "--output", out)...)
		if r.code != 1 {
			t.Errorf("%s: exit %d, want 1; stderr:\n%s", args, r.code, r.stderr)
		}
		for _, w := range want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr does not say %q:\n%s", args, w, r.stderr)
			}
		}
		notExist(t, out)
	}

	// --stop-early stops at the first copy: the risk the flag names.
	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", nil, "generate", "--stop-early", "--template", tmpl, "--unsigned", dup, "--key", key, "--cert", cert, "--output", out)

	// verify reads the unsigned package to its end too.
	good := filepath.Join(t.TempDir(), "good")
	mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--key", key, "--cert", cert, "--output", good)
	r := mksigned(t, "", nil, "verify", "--dsc", onlyFile(t, good, ".dsc"), "--unsigned", dup, "--cert", cert)
	if r.code != 1 || !strings.Contains(r.stderr, want[1]) {
		t.Errorf("verify: exit %d, stderr:\n%s\nwant exit 1 and %q", r.code, r.stderr, want[1])
	}
}

// TestExcludedSignaturePath: a listed file whose signature path has a
// component dpkg-source's default excludes drop (CVS, .git, ,,x, .#x,
// {arch}, .deps, ...) is refused before signing: dpkg-source would leave
// the .sig out of the source package without a word.
func TestExcludedSignaturePath(t *testing.T) {
	key, cert := newKey(t, "2048")
	for _, c := range []struct{ dir, pat string }{
		{"CVS", "CVS"}, {".git", ".git"}, {",,x", ",,*"}, {".#x", ".[#~]*"}, {"{arch}", "{arch}"}, {".deps", ".deps"},
	} {
		t.Run(c.dir, func(t *testing.T) {
			file := "usr/libexec/fwupd/" + c.dir + "/fwupdx64.efi"
			unsigned := repack(t, testutil.DebianFixture(t, fwupdUnsigned), func(root string) {
				if err := os.MkdirAll(filepath.Join(root, filepath.Dir(file)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(filepath.Join(root, fwupdEFI), filepath.Join(root, file)); err != nil {
					t.Fatal(err)
				}
			}, "xz")
			for _, extra := range [][]string{{"--dry-run"}, {"--dry-run", "--json"}, {"--key", key, "--cert", cert}} {
				out := filepath.Join(t.TempDir(), "out")
				r := mksigned(t, "", nil, append([]string{"generate", "--template", withFilesJSON(t, file, "efi"), "--unsigned", unsigned, "--output", out}, extra...)...)
				want := `files.json: packages.fwupd-unsigned: "` + file + `": its signature debian/signatures/fwupd-unsigned/` + file +
					`.sig would be left out of the source package: dpkg-source -b excludes names matching "` + c.pat + `"`
				if r.code != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
					t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant exit 1, nothing on stdout, and %q", extra, r.code, r.stdout, r.stderr, want)
				}
				notExist(t, out)
			}
		})
	}
}

// TestUnsignedArchitecture: the Build-Depends pins are checked for the
// architecture the signed package builds on. An unsigned package of
// another architecture (whose relations are all restricted to amd64, so
// none would apply) is refused, whatever its version; the error names the
// .deb, and for a version mismatch the template as well.
func TestUnsignedArchitecture(t *testing.T) {
	tmpl := testutil.DebianFixture(t, fwupdTemplate)
	rebuild := func(arch, version string) string {
		return repack(t, testutil.DebianFixture(t, fwupdUnsigned), func(root string) {
			p := filepath.Join(root, "DEBIAN", "control")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			s := strings.Replace(string(b), "Architecture: amd64", "Architecture: "+arch, 1)
			s = strings.Replace(s, "Version: 1:1.4-1", "Version: "+version, 1)
			writeFile(t, p, []byte(s), 0o644)
		}, "xz")
	}
	for _, c := range []struct {
		arch, version string
		want          []string
	}{
		{"arm64", "1:1.4-2", []string{"fwupd-unsigned_1.4-1_amd64.deb: control: Architecture: package fwupd-unsigned: built for arm64, but the signed source package builds for amd64 only"}},
		{"i386", "1:1.4-1", []string{"built for i386, but the signed source package builds for amd64 only"}},
		{"amd64", "1:1.4-2", []string{"fwupd-unsigned_1.4-1_amd64.deb: template fwupd-amd64-signed-template: source-template/debian/control: Build-Depends: fwupd-unsigned 1:1.4-2 does not satisfy"}},
	} {
		t.Run(c.arch+"/"+c.version, func(t *testing.T) {
			r := mksigned(t, "", nil, "generate", "--dry-run", "--template", tmpl, "--unsigned", rebuild(c.arch, c.version))
			if r.code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}
