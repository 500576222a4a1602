package template

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// testBuildDepends is fwupd's, on one line.
const testBuildDepends = "debhelper (>= 9.0.0), sbsigntool [amd64 arm64 armhf i386], " +
	"fwupd-unsigned (>= 1:1.4-1) [amd64], fwupd-unsigned (<< 1:1.4-2) [amd64]"

const testControl = `Source: fwupd-amd64-signed
Maintainer: Debian EFI <debian-efi@lists.debian.org>
Build-Depends: debhelper (>= 9.0.0),
	       sbsigntool [amd64 arm64 armhf i386],
	       fwupd-unsigned (>= 1:1.4-1) [amd64],
	       fwupd-unsigned (<< 1:1.4-2) [amd64]

Package: fwupd-amd64-signed
Architecture: amd64
Description: test
 test
`

const testChangelog = `fwupd-amd64-signed (1:1.4+1) unstable; urgency=medium

  * Update to fwupd-efi version 1:1.4-1

 -- Mario Limonciello <superm1@gmail.com>  Fri, 27 Jan 2023 09:15:57 -0600
`

func testEntries() []Entry {
	when := time.Unix(1674832557, 0)
	f := func(name, data string, mode fs.FileMode) Entry {
		return Entry{Name: name, Mode: mode, ModTime: when, Data: []byte(data)}
	}
	d := func(name string) Entry { return Entry{Name: name, Mode: fs.ModeDir | 0o755, ModTime: when} }
	return []Entry{
		f("files.json", `{"packages": {"fwupd-unsigned": {"trusted_certs": [], "files": [{"sig_type": "efi", "file": "usr/libexec/fwupd/efi/fwupdx64.efi"}]}}}`, 0o644),
		d("source-template"),
		d("source-template/debian"),
		f("source-template/debian/changelog", testChangelog, 0o644),
		f("source-template/debian/control", testControl, 0o644),
		f("source-template/debian/copyright", "x\n", 0o644),
		f("source-template/debian/rules", "#!/usr/bin/make -f\n%:\n\tdh $@\n", 0o755),
		d("source-template/debian/source"),
		f("source-template/debian/source/format", "3.0 (native)\n", 0o644),
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tp, err := Parse("fwupd-amd64-signed-template", testEntries())
	if err != nil {
		t.Fatal(err)
	}
	if tp.SourceName != "fwupd-amd64-signed" || tp.Version.String() != "1:1.4+1" {
		t.Errorf("source %s %s, want fwupd-amd64-signed 1:1.4+1", tp.SourceName, tp.Version)
	}
	if got, want := tp.Date.Unix(), int64(1674832557); got != want {
		t.Errorf("changelog date %d, want %d", got, want)
	}
	if got := tp.file("debian/rules"); got == nil || got.Mode.Perm() != 0o755 {
		t.Errorf("debian/rules = %+v, want mode 0755", got)
	}
	if got, want := tp.SignatureFiles(), []string{"debian/signatures/fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("SignatureFiles() = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	edit := func(f func([]Entry) []Entry) []Entry { return f(testEntries()) }
	without := func(name string) []Entry {
		return edit(func(es []Entry) []Entry {
			var out []Entry
			for _, e := range es {
				if e.Name != name {
					out = append(out, e)
				}
			}
			return out
		})
	}
	with := func(e Entry) []Entry { return append(testEntries(), e) }
	replace := func(name, data string) []Entry {
		return edit(func(es []Entry) []Entry {
			for i := range es {
				if es[i].Name == name {
					es[i].Data = []byte(data)
				}
			}
			return es
		})
	}
	for _, tc := range []struct {
		name    string
		entries []Entry
		msg     string
	}{
		{"no files.json", without("files.json"), "has no files.json"},
		{"no rules", without("source-template/debian/rules"), "debian/rules: missing"},
		{"no copyright", without("source-template/debian/copyright"), "debian/copyright: missing"},
		{"no format", without("source-template/debian/source/format"), "debian/source/format: missing"},
		{"quilt", replace("source-template/debian/source/format", "3.0 (quilt)\n"), `is "3.0 (quilt)"`},
		{"options", with(Entry{Name: "source-template/debian/source/options", Data: []byte("compression = gzip\n")}), "debian/source/options: not allowed"},
		{"local-options", with(Entry{Name: "source-template/debian/source/local-options"}), "local-options: not allowed"},
		{"signatures present", with(Entry{Name: "source-template/debian/signatures/x/y.sig"}), "already present"},
		{"fifo", with(Entry{Name: "source-template/debian/fifo", Mode: fs.ModeNamedPipe | 0o644}), "may hold only regular files, directories and symbolic links"},
		{"device", with(Entry{Name: "source-template/debian/sda", Mode: fs.ModeDevice | 0o644}), "may hold only regular files, directories and symbolic links"},
		{"dotdot", with(Entry{Name: "source-template/../x"}), "unsafe path"},
		{"source mismatch", replace("source-template/debian/control", strings.Replace(testControl, "Source: fwupd-amd64-signed", "Source: other", 1)), `is "other" but debian/changelog says`},
		{"bad changelog", replace("source-template/debian/changelog", "garbage\n"), "debian/changelog: top entry"},
		{"non-native", replace("source-template/debian/changelog", strings.Replace(testChangelog, "1:1.4+1", "1.4-1", 1)), "native version"},
		{"empty control", replace("source-template/debian/control", ""), "source-template/debian/control: empty: it needs a source paragraph"},
		{"control of comments", replace("source-template/debian/control", "# nothing\n"), "source-template/debian/control: empty: it needs a source paragraph"},
		{"empty changelog", replace("source-template/debian/changelog", ""), "debian/changelog: top entry: the changelog is empty"},
		{"512 KB line in control", replace("source-template/debian/control", testControl+"\n"+strings.Repeat("x", 512<<10)+"\n"),
			`source-template/debian/control: line 13: "xxx`},
		{"1 MB control", replace("source-template/debian/control", testControl+"\n"+strings.Repeat("x", 1<<20)+"\n"),
			"source-template/debian/control: is 1048902 bytes, more than the 1048576 a template's control may have"},
		{"1 MB format", replace("source-template/debian/source/format", strings.Repeat("3", 1<<20)), `is "333`},
		{"1 MB changelog date", replace("source-template/debian/changelog", strings.Replace(testChangelog, "-0600", "-0600"+strings.Repeat("0", 1<<20), 1)),
			`debian/changelog: top entry: trailer line: date "Fri, 27 Jan 2023 09:15:57 -0600000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t", tc.entries)
			if err == nil {
				t.Fatal("got no error")
			}
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Errorf("error %v is %T, want *inputerr.Error", err, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %.500q does not contain %q", err, tc.msg)
			}
			// Values are cut (inputerr.Value), parsers' messages too
			// (inputerr.Tame): a message is a line, not the input.
			if n := len(err.Error()); n > 500 || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "EOF") {
				t.Errorf("error of %d bytes, %.500q: want one line of at most 500 bytes, never a bare EOF", n, err)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	t.Parallel()
	tp, err := Parse("fwupd-amd64-signed-template", testEntries())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pkg, ver, arch, msg string
	}{
		{"fwupd-unsigned", "1:1.4-1", "amd64", ""},
		{"fwupd-unsigned", "1:1.4-1+b1", "amd64", ""},
		{"fwupd-unsigned", "1:1.4-2", "amd64", `fwupd-unsigned 1:1.4-2 does not satisfy "fwupd-unsigned (<< 1:1.4-2) [amd64]"`},
		{"fwupd-unsigned", "1.4-1", "amd64", `fwupd-unsigned 1.4-1 does not satisfy "fwupd-unsigned (>= 1:1.4-1) [amd64]"`},
		{"fwupd-unsigned", "1.4-1", "arm64", ""}, // restricted to amd64
		{"other", "1", "amd64", ""},
	} {
		v, err := version.Parse(tc.ver)
		if err != nil {
			t.Fatal(err)
		}
		err = tp.CheckVersion(tc.pkg, v, tc.arch)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%s %s %s: %v", tc.pkg, tc.ver, tc.arch, err)
		case tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s %s %s: error %v, want one containing %q", tc.pkg, tc.ver, tc.arch, err, tc.msg)
		}
	}
}

// TestParseOneDigitDay: dpkg accepts "Mon, 1 Jan 2020" in a changelog
// trailer (date -R never writes it, hand-edited changelogs do).
func TestParseOneDigitDay(t *testing.T) {
	t.Parallel()
	es := testEntries()
	for i := range es {
		if es[i].Name == "source-template/debian/changelog" {
			es[i].Data = []byte(strings.Replace(testChangelog, "Fri, 27 Jan 2023 09:15:57 -0600", "Wed, 1 Feb 2023 09:15:57 -0600", 1))
		}
	}
	tp, err := Parse("t", es)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tp.Date.Unix(), int64(1675264557); got != want {
		t.Errorf("date %d, want %d", got, want)
	}
}

// withBuildDepends parses the test template with debian/control's
// Build-Depends replaced (parseWithBuildDepends).
func withBuildDepends(t *testing.T, deps string) *Template {
	t.Helper()
	tp, err := parseWithBuildDepends(deps)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// TestCheckVersionArchAllAndAlternatives pins what CheckVersion's doc
// comment says beyond TestCheckVersion: for an Architecture: all package
// every relation applies, architecture restrictions or not; a relation
// whose alternatives name another package cannot be decided and is
// skipped, while alternatives that all name the package are checked as
// one relation (any of them will do).
func TestCheckVersionArchAllAndAlternatives(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, deps, pkg, ver, arch, msg string
	}{
		{"all: amd64-only lower bound applies", testBuildDepends, "fwupd-unsigned", "1.4-1", "all",
			`fwupd-unsigned 1.4-1 does not satisfy "fwupd-unsigned (>= 1:1.4-1) [amd64]"`},
		{"all: amd64-only upper bound applies", testBuildDepends, "fwupd-unsigned", "1:1.4-2", "all",
			`fwupd-unsigned 1:1.4-2 does not satisfy "fwupd-unsigned (<< 1:1.4-2) [amd64]"`},
		{"all: in range", testBuildDepends, "fwupd-unsigned", "1:1.4-1", "all", ""},
		{"all: negated restriction applies too", "pkg-unsigned (>= 2) [!amd64]", "pkg-unsigned", "1", "all",
			`pkg-unsigned 1 does not satisfy "pkg-unsigned (>= 2) [!amd64]"`},
		{"amd64: negated restriction skipped", "pkg-unsigned (>= 2) [!amd64]", "pkg-unsigned", "1", "amd64", ""},
		{"alternative names another package", "pkg-unsigned (>= 2) | other-unsigned", "pkg-unsigned", "1", "amd64", ""},
		{"another package first", "other-unsigned (>= 5) | pkg-unsigned (>= 2)", "pkg-unsigned", "1", "all", ""},
		{"alternatives of the package alone, none satisfied", "pkg-unsigned (<< 1) | pkg-unsigned (>= 2)", "pkg-unsigned", "1.5", "amd64",
			`pkg-unsigned 1.5 does not satisfy "pkg-unsigned (<< 1) | pkg-unsigned (>= 2)"`},
		{"alternatives of the package alone, the second satisfied", "pkg-unsigned (<< 1) | pkg-unsigned (>= 2)", "pkg-unsigned", "2", "amd64", ""},
		{"other package's alternative for another architecture drops out", "pkg-unsigned (>= 2) | other-unsigned [arm64]", "pkg-unsigned", "1", "amd64",
			`pkg-unsigned 1 does not satisfy "pkg-unsigned (>= 2)"`},
		{"all: other package's arch-restricted alternative still counts", "pkg-unsigned (>= 2) | other-unsigned [arm64]", "pkg-unsigned", "1", "all", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := version.Parse(tc.ver)
			if err != nil {
				t.Fatal(err)
			}
			err = withBuildDepends(t, tc.deps).CheckVersion(tc.pkg, v, tc.arch)
			switch {
			case tc.msg == "" && err != nil:
				t.Errorf("CheckVersion(%s %s %s) with %q: %v, want nil", tc.pkg, tc.ver, tc.arch, tc.deps, err)
			case tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)):
				t.Errorf("CheckVersion(%s %s %s) with %q: %v, want an error containing %q", tc.pkg, tc.ver, tc.arch, tc.deps, err, tc.msg)
			}
		})
	}
}

// TestFieldNameCase: dpkg reads field names without regard to case, so a
// Build-Depends spelled "build-depends:" still pins the unsigned package,
// and the same field twice in two spellings is refused.
func TestFieldNameCase(t *testing.T) {
	t.Parallel()
	with := func(control string) []Entry {
		es := testEntries()
		for i := range es {
			if es[i].Name == "source-template/debian/control" {
				es[i].Data = []byte(control)
			}
		}
		return es
	}
	tp, err := Parse("t", with(strings.Replace(strings.Replace(testControl, "Build-Depends:", "build-DEPENDS:", 1), "Source:", "source:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := version.Parse("1:1.4-2")
	if err := tp.CheckVersion("fwupd-unsigned", v, "amd64"); err == nil || !strings.Contains(err.Error(), "does not satisfy") {
		t.Errorf("CheckVersion with build-DEPENDS: %v, want the mismatch refused", err)
	}
	_, err = Parse("t", with(strings.Replace(testControl, "Build-Depends:", "build-depends: other\nBuild-Depends:", 1)))
	if err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("Build-Depends twice: %v, want it refused", err)
	}
}
