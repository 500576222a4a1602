package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// Symbolic links in source-template/: Debian's 6.12 kernel templates hold
// eight, which dpkg-source -b stores as links (tar type '2') and Debian's
// signing service publishes.

const (
	kernelTemplate = "linux-image-6.12-amd64-signed-template_6.12.117-1~deb12u1_amd64.deb"
	kernelCodeDir  = "usr/share/code-signing/linux-image-6.12-amd64-signed-template"
	kernelSource   = "linux-signed-6.12-amd64"
	kernelVersion  = "6.12.117-1~deb12u1"
	// linkEpoch is the SOURCE_DATE_EPOCH of these tests: later than every
	// mtime of the fixtures, earlier than today.
	linkEpoch = 1790000000
)

var kernelFlavours = []string{"amd64", "cloud-amd64", "rt-amd64"}

// dpkgSourceTar does by hand what Debian's signing service does: a copy
// of the source-template keeping mtimes (cp -a), the signatures of
// generated source package dsc written into it, dpkg-source -b, and
// returns the uncompressed tar. The copied signatures and the directories
// that receive them get mtime epoch, as if written at that time.
func dpkgSourceTar(t *testing.T, sourceTemplate, dsc, source string, epoch int64) []byte {
	t.Helper()
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	x := filepath.Join(t.TempDir(), "x")
	testutil.Run(t, "", dpkgSource, "-x", dsc, x)
	work := t.TempDir()
	dst := filepath.Join(work, source)
	testutil.Run(t, "", "cp", "-a", sourceTemplate, dst)
	testutil.Run(t, "", "cp", "-r", filepath.Join(x, "debian", "signatures"), filepath.Join(dst, "debian"))
	at := "@" + strconv.FormatInt(epoch, 10)
	testutil.Run(t, "", "find", filepath.Join(dst, "debian", "signatures"), "-exec", "touch", "-h", "-d", at, "{}", "+")
	testutil.Run(t, "", "touch", "-h", "-d", at, filepath.Join(dst, "debian"))
	cmd := exec.Command(dpkgSource, "-b", source)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(epoch, 10))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-source -b: %v\n%s", err, b)
	}
	return xzcat(t, onlyFile(t, work, ".tar.xz"))
}

// sameTar fails unless the generated tarball equals dpkg-source's, byte
// for byte.
func sameTar(t *testing.T, ourTarXZ string, theirs []byte) {
	t.Helper()
	if ours := xzcat(t, ourTarXZ); !bytes.Equal(ours, theirs) {
		theirFile := filepath.Join(t.TempDir(), "theirs.tar")
		writeFile(t, theirFile, theirs, 0o644)
		t.Errorf("uncompressed tar differs from dpkg-source -b's (%d vs %d bytes)\nours:\n%s\ntheirs:\n%s",
			len(ours), len(theirs), tarList(t, ourTarXZ), tarList(t, theirFile))
	}
}

// strippedEFI is a real EFI image that was signed and had its signature
// removed: Debian's fbx64.efi.signed with sbattach --remove.
func strippedEFI(t *testing.T) []byte {
	t.Helper()
	sbattach := testutil.RequireTool(t, "sbattach")
	img := filepath.Join(t.TempDir(), "fbx64.efi")
	signed := extract(t, testutil.DebianFixture(t, shimSigned))
	b, err := os.ReadFile(filepath.Join(signed, "usr/lib/shim/fbx64.efi.signed"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, img, b, 0o644)
	testutil.Run(t, "", sbattach, "--remove", img)
	out, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// buildDeb builds a binary package with dpkg-deb -b from a control file
// and files (path -> data) and returns its path.
func buildDeb(t *testing.T, control string, files map[string][]byte) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	writeFile(t, filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644)
	for p, data := range files {
		writeFile(t, filepath.Join(root, p), data, 0o644)
	}
	out := filepath.Join(t.TempDir(), "pkg.deb")
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-Zxz", "-b", root, out)
	return out
}

// kernelStandIns builds the three unsigned packages the 6.12 template's
// Build-Depends-Arch pins, with their exact names, version and
// architecture, each holding a real EFI image as its vmlinuz (the real
// ones are 250 MB: tests/archive-check.sh runs them).
func kernelStandIns(t *testing.T) []string {
	t.Helper()
	img := strippedEFI(t)
	var args []string
	for _, f := range kernelFlavours {
		k := "6.12.117+deb12-" + f
		deb := buildDeb(t, "Package: linux-image-"+k+"-unsigned\nVersion: "+kernelVersion+
			"\nArchitecture: amd64\nMaintainer: mksigned tests <tests@example.org>\nDescription: stand-in for the real package (tests only)\n",
			map[string][]byte{"boot/vmlinuz-" + k: img})
		args = append(args, "--unsigned", deb)
	}
	return args
}

// TestKernel612Template runs Debian's real 6.12 kernel template (which
// holds symbolic links) end to end: the dry run lists the links, the
// tarball equals dpkg-source -b's byte for byte, dpkg-source -x extracts
// the links, and verify --dsc checks the signatures of a package that
// holds links.
func TestKernel612Template(t *testing.T) {
	testutil.RequireTool(t, "xz")
	key, cert := newKey(t, "2048")
	tmpl := testutil.DebianFixture(t, kernelTemplate)
	unsigned := kernelStandIns(t)
	env := []string{"SOURCE_DATE_EPOCH=" + strconv.Itoa(linkEpoch)}

	plan := mustMksigned(t, "", env, append([]string{"generate", "--dry-run", "--template", tmpl}, unsigned...)...)
	for _, want := range []string{
		"3 file(s) to sign",
		"and from the template: 691 file(s), 22 directories, 8 symbolic link(s)\n",
		"link debian/installer/modules/mips64 -> mips\n",
		"link debian/installer/modules/ppc64 -> powerpc-powerpc64\n",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("dry run does not say %q:\n%s", want, plan)
		}
	}
	if n := countPrefix(plan, "link "); n != 8 {
		t.Errorf("dry run lists %d links, want 8:\n%s", n, plan)
	}

	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", env, append([]string{"generate", "--template", tmpl, "--key", key, "--cert", cert, "--output", out}, unsigned...)...)
	dsc := onlyFile(t, out, ".dsc")
	if want := kernelSource + "_6.12.117+1~deb12u1.dsc"; filepath.Base(dsc) != want {
		t.Errorf("wrote %s, want %s", filepath.Base(dsc), want)
	}
	sourceTemplate := filepath.Join(extract(t, tmpl), kernelCodeDir, "source-template")
	sameTar(t, onlyFile(t, out, ".tar.xz"), dpkgSourceTar(t, sourceTemplate, dsc, kernelSource, linkEpoch))

	x := filepath.Join(t.TempDir(), "x")
	testutil.Run(t, "", "dpkg-source", "-x", dsc, x)
	for _, l := range []struct{ name, target string }{
		{"mips64", "mips"}, {"mips64el", "mips"}, {"mips64r6", "mips"}, {"mips64r6el", "mips"},
		{"mipsel", "mips"}, {"mipsr6", "mips"}, {"mipsr6el", "mips"}, {"ppc64", "powerpc-powerpc64"},
	} {
		got, err := os.Readlink(filepath.Join(x, "debian/installer/modules", l.name))
		if err != nil || got != l.target {
			t.Errorf("extracted debian/installer/modules/%s: link to %q (%v), want %q", l.name, got, err, l.target)
		}
	}

	v := mustMksigned(t, "", nil, append([]string{"verify", "--dsc", dsc, "--cert", cert}, unsigned...)...)
	if n := countPrefix(v, "OK "); n != 3 {
		t.Errorf("verify printed %d OK lines, want 3:\n%s", n, v)
	}
}

// linkTemplate is Debian's fwupd template with symbolic links added to its
// source-template: short and long targets (over 100 bytes, a GNU 'K'
// record; exactly 100, inline), a long name with a link (an 'L' record
// too), a dangling target, a link to a directory, and mtimes before and
// after the epoch. It returns the code-signing directory (dpkg-deb -x of
// the package) and the package built with dpkg-deb -b.
func linkTemplate(t *testing.T) (dir, deb string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	testutil.Run(t, "", "dpkg-deb", "-R", testutil.DebianFixture(t, fwupdTemplate), root)
	d := filepath.Join(root, fwupdCodeDir, "source-template", "debian")
	writeFile(t, filepath.Join(d, "installer/modules/mips/kernel-image"), []byte("kernel-image-${kernel:Version}\n"), 0o644)
	long := "installer/" + strings.Repeat("x", 110)
	hundred := "installer/" + strings.Repeat("y", 90)
	longDir := filepath.Join(d, strings.Repeat("n", 95))
	for _, l := range []struct {
		name, target string
		mtime        int64
	}{
		{"installer/modules/mips64", "mips", 1600000000},
		{"installer/modules/ppc64", "powerpc-powerpc64", 1600000000},
		{"rules.alias", "rules", linkEpoch + 1000},
		{"long-target", long, 1600000000},
		{"hundred-target", hundred, 1600000000},
		{filepath.Join(filepath.Base(longDir), "link"), "../rules", 1600000000},
		{"top", "..", 1600000000},
	} {
		p := filepath.Join(d, l.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l.target, p); err != nil {
			t.Fatal(err)
		}
		testutil.Run(t, "", "touch", "-h", "-d", "@"+strconv.FormatInt(l.mtime, 10), p)
	}
	deb = filepath.Join(t.TempDir(), fwupdTemplate)
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-Zxz", "-b", root, deb)
	return filepath.Join(extract(t, deb), fwupdCodeDir), deb
}

// TestTemplateLinksMatchDpkgSource: a template with links gives the
// tarball dpkg-source -b makes of the extracted tree, byte for byte, read
// from the .deb and from the directory alike.
func TestTemplateLinksMatchDpkgSource(t *testing.T) {
	testutil.RequireTool(t, "xz")
	key, cert := newKey(t, "2048")
	dir, deb := linkTemplate(t)
	matchDpkgSource(t, key, cert, dir, deb, func(t *testing.T, dsc, list string) {
		for _, want := range []string{
			"lrwxrwxrwx 0/0               0 2020-09-13 12:26:40 fwupd-amd64-signed/debian/installer/modules/mips64 -> mips\n",
			"fwupd-amd64-signed/debian/long-target -> installer/" + strings.Repeat("x", 110) + "\n",
			time.Unix(linkEpoch, 0).UTC().Format("2006-01-02 15:04:05") + " fwupd-amd64-signed/debian/rules.alias -> rules\n",
		} {
			if !strings.Contains(list, want) {
				t.Errorf("tarball listing lacks %q:\n%s", want, list)
			}
		}
		v := mustMksigned(t, "", nil, "verify", "--dsc", dsc, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--cert", cert)
		if n := countPrefix(v, "OK "); n != 1 {
			t.Errorf("verify printed %d OK lines, want 1:\n%s", n, v)
		}
	})
}

// matchDpkgSource runs generate (SOURCE_DATE_EPOCH linkEpoch) on an
// fwupd template given as its package deb and as the code-signing
// directory dir that dpkg-deb -x makes of it, checks each tarball
// against dpkg-source -b's of dir byte for byte, and calls check with
// the .dsc and the tarball's listing (tarListUTC), in a subtest each.
func matchDpkgSource(t *testing.T, key, cert, dir, deb string, check func(t *testing.T, dsc, list string)) {
	t.Helper()
	env := []string{"SOURCE_DATE_EPOCH=" + strconv.Itoa(linkEpoch)}
	var theirs []byte
	for _, tmpl := range []struct{ name, path string }{{"deb", deb}, {"dir", dir}} {
		t.Run(tmpl.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			mustMksigned(t, "", env, "generate", "--template", tmpl.path, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned),
				"--key", key, "--cert", cert, "--output", out)
			dsc := onlyFile(t, out, ".dsc")
			if theirs == nil {
				theirs = dpkgSourceTar(t, filepath.Join(dir, "source-template"), dsc, "fwupd-amd64-signed", linkEpoch)
			}
			tarxz := onlyFile(t, out, ".tar.xz")
			sameTar(t, tarxz, theirs)
			check(t, dsc, tarListUTC(t, tarxz))
		})
	}
}

// TestTemplateLinksRefused: links that lead out of the tree or sit where
// the signatures go, special files and hard links are refused, with the
// template path and the target named and nothing written, from a
// directory and from a .deb alike.
func TestTemplateLinksRefused(t *testing.T) {
	key, cert := newKey(t, "2048")
	st := filepath.Join("source-template", "debian")
	cases := []struct {
		name string
		edit func(t *testing.T, sourceDebian string)
		want []string
	}{
		{"absolute target", func(t *testing.T, d string) { symlink(t, "/etc/passwd", filepath.Join(d, "evil")) },
			[]string{"source-template/debian/evil", `its target "/etc/passwd" is absolute`}},
		{"target out of the tree", func(t *testing.T, d string) { symlink(t, "../../../../etc/passwd", filepath.Join(d, "evil")) },
			[]string{"source-template/debian/evil", `its target "../../../../etc/passwd" climbs above source-template/`}},
		{"out through another link", func(t *testing.T, d string) {
			symlink(t, ".", filepath.Join(d, "here"))
			symlink(t, "here/../../etc", filepath.Join(d, "evil"))
		}, []string{"source-template/debian/evil", `its target "here/../../etc" climbs above source-template/`}},
		{"debian/signatures a link", func(t *testing.T, d string) {
			if err := os.Mkdir(filepath.Join(d, "elsewhere"), 0o755); err != nil {
				t.Fatal(err)
			}
			symlink(t, "elsewhere", filepath.Join(d, "signatures"))
		}, []string{"source-template/debian/signatures", `is a symbolic link to "elsewhere"`, "would write through the link"}},
		{"debian/control a link", func(t *testing.T, d string) {
			if err := os.Rename(filepath.Join(d, "control"), filepath.Join(d, "control.real")); err != nil {
				t.Fatal(err)
			}
			symlink(t, "control.real", filepath.Join(d, "control"))
		}, []string{"source-template/debian/control", `is a symbolic link to "control.real", but must be a regular file`}},
		{"hard link", func(t *testing.T, d string) {
			if err := os.Link(filepath.Join(d, "rules"), filepath.Join(d, "rules2")); err != nil {
				t.Fatal(err)
			}
		}, []string{"source-template/debian/rules2", "is a hard link to", "source-template/debian/rules", "not hard links"}},
		{"fifo", func(t *testing.T, d string) {
			if err := syscall.Mkfifo(filepath.Join(d, "pipe"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"source-template/debian/pipe: ", "templates may hold only regular files, directories and symbolic links"}},
		{"device", func(t *testing.T, d string) {
			if os.Getuid() != 0 {
				if os.Getenv("CI") != "" {
					t.Fatal("CI runs as root, to make a device file")
				}
				t.Skip("skipping: making a device file needs root")
			}
			if err := syscall.Mknod(filepath.Join(d, "null"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
				t.Fatal(err)
			}
		}, []string{"source-template/debian/null: ", "templates may hold only regular files, directories and symbolic links"}},
	}
	for _, c := range cases {
		for _, form := range []string{"dir", "deb"} {
			t.Run(c.name+"/"+form, func(t *testing.T) {
				root := filepath.Join(t.TempDir(), "root")
				testutil.Run(t, "", "dpkg-deb", "-R", testutil.DebianFixture(t, fwupdTemplate), root)
				c.edit(t, filepath.Join(root, fwupdCodeDir, st))
				tmpl := filepath.Join(root, fwupdCodeDir)
				if form == "deb" {
					tmpl = filepath.Join(t.TempDir(), fwupdTemplate)
					testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-b", root, tmpl)
				}
				out := filepath.Join(t.TempDir(), "out")
				r := mksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned),
					"--key", key, "--cert", cert, "--output", out)
				if r.code != 1 {
					t.Errorf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
				}
				for _, w := range c.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
					}
				}
				notExist(t, out)
				leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*"))
				if len(leftovers) > 0 {
					t.Errorf("left behind: %q", leftovers)
				}
			})
		}
	}
}

// tarListUTC is tar -tv's listing with times in UTC.
func tarListUTC(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command("tar", "--full-time", "-tvf", path)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tvf %s: %v\n%s", path, err, b)
	}
	return string(b)
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyRefusesLinkedSignature: in a source package, a signature that
// is a link (which dpkg-source -x would extract, and a build follow) is
// refused by verify, not skipped.
func TestVerifyRefusesLinkedSignature(t *testing.T) {
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	key, cert := newKey(t, "2048")
	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, fwupdTemplate), "--unsigned", testutil.DebianFixture(t, fwupdUnsigned),
		"--key", key, "--cert", cert, "--output", out)
	work := t.TempDir()
	src := filepath.Join(work, "fwupd-amd64-signed")
	testutil.Run(t, "", dpkgSource, "-x", onlyFile(t, out, ".dsc"), src)
	sig := filepath.Join(src, "debian/signatures/fwupd-unsigned", fwupdEFI+".sig")
	if err := os.Rename(sig, filepath.Join(src, "debian", "real.sig")); err != nil {
		t.Fatal(err)
	}
	symlink(t, strings.Repeat("../", strings.Count(fwupdEFI, "/")+2)+"real.sig", sig)
	testutil.Run(t, work, dpkgSource, "-b", "fwupd-amd64-signed")
	r := mksigned(t, "", nil, "verify", "--dsc", onlyFile(t, work, ".dsc"), "--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--cert", cert)
	if r.code != 1 || !strings.Contains(r.stderr, "debian/signatures/fwupd-unsigned/"+fwupdEFI+".sig") || !strings.Contains(r.stderr, "symbolic link") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 1 naming the linked signature", r.code, r.stdout, r.stderr)
	}
}
