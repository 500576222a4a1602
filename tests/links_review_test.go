package tests

// End-to-end tests from the review of the link support. Those marked "Was a bug" failed
// before the fixes; the others pass and kill mutants that survived the existing
// tests.

import (
	"archive/tar"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// fwupdTemplateCopy returns a fresh copy of the fwupd code-signing
// directory and the root it lies in (dpkg-deb -R of the package).
func fwupdTemplateCopy(t *testing.T) (root, codeDir string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "root")
	testutil.Run(t, "", "dpkg-deb", "-R", testutil.DebianFixture(t, fwupdTemplate), root)
	return root, filepath.Join(root, fwupdCodeDir)
}

// Was a bug: the dry run, the operator's view of what a buildd will follow,
// prints link names and targets raw. A target holding a newline fakes a
// line ("link debian/fake -> /etc/shadow") for a link that does not
// exist, and a name holding "\r" and ESC [2K erases its own line on a
// terminal. Both links are valid (dpkg-source -b stores them, and the
// tarball equals its own), so only the listing misleads.
func TestReview7DryRunControlCharacters(t *testing.T) {
	_, dir := fwupdTemplateCopy(t)
	d := filepath.Join(dir, "source-template", "debian")
	symlink(t, "rules\nlink debian/fake -> /etc/shadow", filepath.Join(d, "ctl"))
	symlink(t, "rules", filepath.Join(d, "n\x1b[2K\rok"))
	plan := mustMksigned(t, "", nil, "generate", "--dry-run", "--template", dir, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned))
	if strings.Contains(plan, "\nlink debian/fake -> /etc/shadow\n") {
		t.Errorf("the dry run lists a link debian/fake -> /etc/shadow that the template does not hold:\n%s", plan)
	}
	if strings.ContainsAny(plan, "\x1b\r") {
		t.Errorf("the dry run prints control characters raw: %q", plan)
	}
}

// Was a bug: a link refused by the template checks is named by its path in
// source-template/ only: the error does not say which template (the .deb
// or directory given to --template) holds it, although other template
// errors do ("mksigned: g1: source-template: is a symbolic link ...").
// srcErr sets File, so LoadDir's and LoadDeb's WithFile leave it as is.
func TestReview7RefusalNamesTemplate(t *testing.T) {
	key, cert := newKey(t, "2048")
	root, dir := fwupdTemplateCopy(t)
	symlink(t, "../../x", filepath.Join(dir, "source-template", "debian", "evil"))
	deb := filepath.Join(t.TempDir(), "evil-signed-template.deb")
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-b", root, deb)
	for _, tmpl := range []string{dir, deb} {
		r := mksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned),
			"--key", key, "--cert", cert, "--output", filepath.Join(t.TempDir(), "out"))
		if r.code != 1 || !strings.Contains(r.stderr, "climbs above") {
			t.Fatalf("exit %d, stderr %q: want the link refused", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, filepath.Base(tmpl)) {
			t.Errorf("the error does not name the template %s: %q", filepath.Base(tmpl), r.stderr)
		}
	}
}

// The dry run's excluded entries, in text and under --json's "tree",
// and the links as path and target. Kills: swapping jsonLink's fields,
// dropping tree.excluded, dropping the text's excludes.
func TestReview7DryRunTree(t *testing.T) {
	_, dir := fwupdTemplateCopy(t)
	d := filepath.Join(dir, "source-template", "debian")
	symlink(t, "rules", filepath.Join(d, "files"))
	symlink(t, "rules", filepath.Join(d, "a~"))
	symlink(t, "rules", filepath.Join(d, "rules.link"))
	args := []string{"generate", "--dry-run", "--template", dir, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned)}
	plan := mustMksigned(t, "", nil, args...)
	for _, want := range []string{
		"and from the template: 8 file(s), 3 directories, 1 symbolic link(s); dpkg-source's default excludes leave out 2: debian/a~, debian/files\n",
		"link debian/rules.link -> rules\n",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("dry run does not say %q:\n%s", want, plan)
		}
	}
	var got struct {
		Tree struct {
			Files, Dirs int
			Links       []struct{ Path, Target string }
			Excluded    []string
		}
	}
	if err := json.Unmarshal([]byte(mustMksigned(t, "", nil, append(args, "--json")...)), &got); err != nil {
		t.Fatal(err)
	}
	tr := got.Tree
	if tr.Files != 8 || tr.Dirs != 3 || len(tr.Links) != 1 || tr.Links[0].Path != "debian/rules.link" || tr.Links[0].Target != "rules" ||
		strings.Join(tr.Excluded, ",") != "debian/a~,debian/files" {
		t.Errorf("--json tree = %+v", tr)
	}
}

// verify refuses debian/signatures itself being a link, and a signature
// that is a hard link (dpkg-source -b stores the second name of a file as
// a tar hard link). Kills: testing only "debian/signatures/" prefixed
// paths, and allowing type '1'.
func TestReview7VerifyRefusesSignaturesLinkAndHardLink(t *testing.T) {
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	key, cert := newKey(t, "2048")
	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, fwupdTemplate), "--unsigned", testutil.DebianFixture(t, fwupdUnsigned),
		"--key", key, "--cert", cert, "--output", out)
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, src string)
		want string
	}{
		{"signatures a link", func(t *testing.T, src string) {
			d := filepath.Join(src, "debian")
			if err := os.Rename(filepath.Join(d, "signatures"), filepath.Join(d, "sigs")); err != nil {
				t.Fatal(err)
			}
			symlink(t, "sigs", filepath.Join(d, "signatures"))
		}, "fwupd-amd64-signed/debian/signatures: is a symbolic link"},
		{"signature a hard link", func(t *testing.T, src string) {
			sig := filepath.Join(src, "debian/signatures/fwupd-unsigned", fwupdEFI+".sig")
			if err := os.Link(sig, filepath.Join(src, "debian", "a.sig")); err != nil {
				t.Fatal(err)
			}
		}, "debian/signatures/fwupd-unsigned/" + fwupdEFI + ".sig: is a hard link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			src := filepath.Join(work, "fwupd-amd64-signed")
			testutil.Run(t, "", dpkgSource, "-x", onlyFile(t, out, ".dsc"), src)
			tc.edit(t, src)
			testutil.Run(t, work, dpkgSource, "-b", "fwupd-amd64-signed")
			r := mksigned(t, "", nil, "verify", "--dsc", onlyFile(t, work, ".dsc"), "--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--cert", cert)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 1 saying %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

// Was a bug: dpkg-deb -x writes an entry below any link of the package through
// the link. A link outside the template that leads into it
// (usr/share/x -> code-signing/<t>/source-template/debian) and an entry
// usr/share/x/rules after the template's own replace debian/rules in the
// tree Debian's signing service packs; mksigned accepts the package and
// packs the template's debian/rules. The tarballs differ.
func TestReview7DebWriteThroughOutsideLink(t *testing.T) {
	testutil.RequireTool(t, "xz")
	key, cert := newKey(t, "2048")
	root, _ := fwupdTemplateCopy(t)
	var es []testutil.TarEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "DEBIAN" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		name := "./" + filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if rel == "." {
				name = "."
			}
			es = append(es, testutil.TarEntry{Name: name + "/", Type: tar.TypeDir, Mode: int64(info.Mode().Perm())})
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			es = append(es, testutil.TarEntry{Name: name, Type: tar.TypeReg, Mode: int64(info.Mode().Perm()), Body: string(b)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	es = append(es,
		testutil.TarEntry{Name: "./usr/share/x", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "code-signing/fwupd-amd64-signed-template/source-template/debian"},
		testutil.TarEntry{Name: "./usr/share/x/rules", Type: tar.TypeReg, Mode: 0o755, Body: "#!/bin/sh\necho not the template's rules\n"},
	)
	ctl, err := os.ReadFile(filepath.Join(root, "DEBIAN", "control"))
	if err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(t.TempDir(), fwupdTemplate)
	writeFile(t, deb, testutil.Deb(t, string(ctl), testutil.Tar(t, es...)), 0o644)

	env := []string{"SOURCE_DATE_EPOCH=" + strconv.Itoa(linkEpoch)}
	out := filepath.Join(t.TempDir(), "out")
	r := mksigned(t, "", env, "generate", "--template", deb, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned),
		"--key", key, "--cert", cert, "--output", out)
	if r.code != 0 {
		return // refused: fine
	}
	x := filepath.Join(t.TempDir(), "x")
	testutil.Run(t, "", "dpkg-deb", "-x", deb, x)
	sameTar(t, onlyFile(t, out, ".tar.xz"),
		dpkgSourceTar(t, filepath.Join(x, fwupdCodeDir, "source-template"), onlyFile(t, out, ".dsc"), "fwupd-amd64-signed", linkEpoch))
}
