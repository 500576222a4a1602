package pkggen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
)

const richControl = `# a comment before the source stanza
Source: synth
Section: admin
Priority: optional
Maintainer: Debian EFI <debian-efi@lists.debian.org>
Uploaders:
 Steve McIntyre <93sam@debian.org>,
           Matthias Klumpp <mak@debian.org>,
	Mario Limonciello <superm1@gmail.com>
Origin: Debian
Homepage: https://example.org/synth
Description: a source description
 with a second line
 .
 ..
 and a third
Rules-Requires-Root: no
Standards-Version: 4.6.2
Vcs-Git: https://salsa.debian.org/x/synth.git
Vcs-Browser: https://salsa.debian.org/x/synth
Build-Depends: debhelper-compat (= 13),
	       sbsigntool [amd64 arm64 armhf i386],
# a comment inside a field
 fwupd-unsigned (>= 1:1.4-1) [amd64], fwupd-unsigned (<< 1:1.4-2) [amd64],
 libfoo-dev:native (>=1.0) <!nocheck  stage1>  <cross>,
 python3:any, d (=1.0), d (>= 0.5), e | f, e, old (< 2), g (>> 1) [!i386] <!nocheck>,,
Build-Depends-Arch: gcc-12 [amd64] <!cross>
Build-Depends-Indep: python3-sphinx <!nodoc>
Build-Conflicts: foo (<< 2), foo (<< 3), bar, bar (>= 1), baz (>= 1), aaa (= 1)
Build-Conflicts-Indep: x (>= 1) [amd64]
XS-Go-Import-Path: example.org/synth
XSBC-Original-Maintainer: Someone <s@example.org>
XB-Not-In-Dsc: nope
Unknown-Field: dropped

Package: synth-udeb
Package-Type: udeb
Section: debian-installer
Architecture: amd64 arm64
Description: udeb
 udeb

Package: synth
Architecture: amd64
Protected: yes
XS-From-Binary: value
Homepage: https://example.org/binary-homepage
Description: main
 main

Package: synth-doc
Architecture: all
Priority: extra
Build-Profiles: <!nodoc> <!stage1 !cross>
Description: doc
 doc

Package: synth-essential
XC-Package-Type: udeb
Architecture: arm64 amd64 i386
Essential: yes
Description: essential
 essential
`

const testsControl = `Tests: smoke
Depends: @, synth, python3 (>= 3.11) [amd64], @builddeps@,
 bash | dash

Test-Command: true
Depends: coreutils, synth-doc
Restrictions: superficial
`

// controlCases are debian/control variations checked against dpkg-source.
func controlCases() []struct {
	name    string
	control string
	extra   []Entry
} {
	mt := time.Unix(1600000000, 0)
	tests := Entry{Name: "debian/tests/control", Mode: 0o644, ModTime: mt, Data: []byte(testsControl)}
	var many strings.Builder
	many.WriteString("Source: synth\nMaintainer: A <a@example.org>\nTestsuite: autopkgtest-pkg-python, autopkgtest\n")
	for i := range 60 {
		fmt.Fprintf(&many, "\nPackage: synth-binary-package-with-a-rather-long-name-%02d\nArchitecture: any\nDescription: x\n x\n", i)
	}
	many.WriteString("\nPackage: synth-all\nArchitecture: all\nDescription: x\n x\n")
	return []struct {
		name    string
		control string
		extra   []Entry
	}{
		{"rich", richControl, []Entry{tests}},
		{"rich-manual-triggers", strings.Replace(richControl, "Standards-Version:", "Testsuite-Triggers: zz, aa\nTestsuite: autopkgtest-pkg-go\nStandards-Version:", 1), []Entry{tests}},
		{"many-binaries", many.String(), nil},
		{"wildcards", "Source: synth\nMaintainer: A <a@example.org>\n\nPackage: a\nArchitecture: linux-any\n\nPackage: b\nArchitecture: all\n\nPackage: c\nArchitecture: any-amd64 kfreebsd-any\n", nil},
		{"any-then-arch", "Source: synth\nMaintainer: A <a@example.org>\n\nPackage: a\nArchitecture: amd64\n\nPackage: b\nArchitecture: any\n", nil},
		{"minimal", "Source: synth\n\nPackage: a\nArchitecture: all\n", nil},
	}
}

// TestControlCasesMatchDpkgSource compares DSC with dpkg-source -b's .dsc
// for control files that exercise each rule, computing ours over
// dpkg-source's own tarball so that the checksums must match too.
func TestControlCasesMatchDpkgSource(t *testing.T) {
	t.Parallel()
	epoch := time.Unix(1700000000, 0)
	for _, tc := range controlCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tree := append(basicTree("synth", tc.control, time.Unix(1600000000, 0)), tc.extra...)
			src, err := ReadSource(tree)
			if err != nil {
				t.Fatalf("ReadSource: %v", err)
			}
			b := runDpkgSource(t, tree, "synth", "1700000000", epoch)
			dsc, err := DSC(src, b.xzName, b.xz)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dsc, b.dsc) {
				t.Errorf(".dsc differs from dpkg-source's\ngot:\n%s\nwant:\n%s", dsc, b.dsc)
			}
			if got := ourTar(t, "synth", tree, epoch); !bytes.Equal(got, b.tar) {
				t.Errorf("tar differs from dpkg-source's at %s", firstDiff(got, b.tar))
			}
		})
	}
}

func TestReadSourceFields(t *testing.T) {
	t.Parallel()
	tree := basicTree("synth", "", changelogTime)
	src, err := ReadSource(tree)
	if err != nil {
		t.Fatal(err)
	}
	if src.Name != "synth" {
		t.Errorf("Name = %q, want synth", src.Name)
	}
	if got := src.VersionString(); got != "1:2.0+1" {
		t.Errorf("VersionString() = %q, want 1:2.0+1", got)
	}
	if got := src.Version.Epoch; got != 1 {
		t.Errorf("Version.Epoch = %d, want 1", got)
	}
	if got := src.BaseName(); got != "synth_2.0+1" {
		t.Errorf("BaseName() = %q, want synth_2.0+1", got)
	}
	if !src.Date.Equal(changelogTime) {
		t.Errorf("Date = %v, want %v", src.Date, changelogTime)
	}
}

func TestEpoch(t *testing.T) {
	t.Parallel()
	src := &Source{Date: time.Date(2023, 1, 27, 9, 15, 57, 0, time.FixedZone("", -6*3600))}
	tests := []struct {
		sde     string
		want    int64
		wantErr bool
	}{
		{"", 1674832557, false},
		{"0", 1674832557, false}, // dpkg-source's "||=" treats 0 as unset
		{"1700000000", 1700000000, false},
		{"0001", 1, false},
		{"-1", 0, true},
		{"1e9", 0, true},
		{" 1", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tc := range tests {
		got, err := Epoch(src, tc.sde)
		if tc.wantErr {
			if err == nil {
				t.Errorf("Epoch(%q) = %v, want an error", tc.sde, got)
			}
			continue
		}
		if err != nil || got.Unix() != tc.want {
			t.Errorf("Epoch(%q) = %v, %v; want %d", tc.sde, got.Unix(), err, tc.want)
		}
	}
}

// TestEpochOutOfRange: a changelog date no tar header can hold (before
// 1970, after 2242) is an error naming debian/changelog, not a file's
// modification time later, nor a panic; and a long SOURCE_DATE_EPOCH is
// cut in the message.
func TestEpochOutOfRange(t *testing.T) {
	t.Parallel()
	for _, date := range []time.Time{time.Date(1969, 12, 31, 15, 15, 57, 0, time.UTC), time.Date(3023, 1, 27, 9, 15, 57, 0, time.UTC)} {
		_, err := Epoch(&Source{Date: date}, "")
		var ie *inputerr.Error
		if !errors.As(err, &ie) || ie.Path != "debian/changelog" || ie.Field != "Date" || !strings.Contains(err.Error(), date.Format(time.RFC1123Z)) {
			t.Errorf("Epoch of a changelog dated %v: %v; want an *inputerr.Error for debian/changelog, field Date, saying the date", date, err)
		}
		if _, err := Epoch(&Source{Date: date}, "1700000000"); err != nil {
			t.Errorf("Epoch of a changelog dated %v with SOURCE_DATE_EPOCH set: %v, want the variable's time", date, err)
		}
		// Write, which works the epoch out again, refuses it too.
		tree := basicTree("synth", "", changelogTime)
		for i := range tree {
			if tree[i].Name == "debian/changelog" {
				tree[i].Data = []byte(strings.Replace(string(tree[i].Data), "Tue, 14 Nov 2023 22:13:20 +0000", date.Format(time.RFC1123Z), 1))
			}
		}
		if _, err := Write(filepath.Join(t.TempDir(), "out"), tree, Options{}); err == nil || !strings.Contains(err.Error(), "debian/changelog: Date: ") {
			t.Errorf("Write of a tree whose changelog is dated %v: %v; want the changelog's date refused", date, err)
		}
	}
	// WriteTar, given such an epoch all the same, refuses it (11 octal
	// digits of seconds end in 2242).
	if err := WriteTar(io.Discard, "p", basicTree("p", "", changelogTime), time.Unix(maxOctal11+1, 0)); err == nil || !strings.Contains(err.Error(), "out of the range") {
		t.Errorf("WriteTar with an epoch after 2242: %v, want an error", err)
	}
	long := strings.Repeat("1", 1<<20)
	for _, sde := range []string{long, long + "x"} {
		if _, err := Epoch(&Source{Date: changelogTime}, sde); err == nil || len(err.Error()) > 200 {
			t.Errorf("Epoch with a 1 MB SOURCE_DATE_EPOCH: %d bytes of message, want an error of at most 200", len(fmt.Sprint(err)))
		}
	}
}

// TestEpochChangelogRange: a changelog date a tar header cannot hold is
// an error naming debian/changelog, at the exact bounds (before, 2242 made
// WriteTar panic, and 1969 was reported as a file's modification time).
func TestEpochChangelogRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		date time.Time
		ok   bool
	}{
		{time.Unix(0, 0), true},
		{time.Unix(maxOctal11, 0), true}, // 2242-03-16 12:56:31 UTC
		{time.Unix(maxOctal11+1, 0), false},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Unix(-1, 0), false},
		{time.Date(1960, 1, 27, 9, 15, 57, 0, time.UTC), false},
	}
	for _, tc := range tests {
		src := &Source{Date: tc.date}
		got, err := Epoch(src, "")
		if tc.ok {
			if err != nil || !got.Equal(tc.date) {
				t.Errorf("Epoch(date %v) = %v, %v; want the date", tc.date, got, err)
			}
			continue
		}
		var ie *inputerr.Error
		if !errors.As(err, &ie) || ie.Path != changelogPath || !strings.Contains(err.Error(), "date") {
			t.Errorf("Epoch(date %v) = %v, %v; want an error about debian/changelog's date", tc.date, got, err)
		}
		// SOURCE_DATE_EPOCH wins: the changelog's date is not used.
		if got, err := Epoch(src, "1700000000"); err != nil || got.Unix() != 1700000000 {
			t.Errorf("Epoch(date %v, SOURCE_DATE_EPOCH) = %v, %v; want 1700000000", tc.date, got, err)
		}
	}
}

func TestReadSourceErrors(t *testing.T) {
	t.Parallel()
	mt := changelogTime
	replace := func(name, data string) func([]Entry) []Entry {
		return func(tree []Entry) []Entry {
			for i := range tree {
				if tree[i].Name == name {
					tree[i].Data = []byte(data)
				}
			}
			return tree
		}
	}
	remove := func(name string) func([]Entry) []Entry {
		return func(tree []Entry) []Entry {
			var out []Entry
			for _, e := range tree {
				if e.Name != name {
					out = append(out, e)
				}
			}
			return out
		}
	}
	ctl := func(body string) func([]Entry) []Entry { return replace("debian/control", body) }
	tests := []struct {
		name   string
		edit   func([]Entry) []Entry
		path   string
		field  string
		substr string
	}{
		{"no-changelog", remove("debian/changelog"), "debian/changelog", "", "not exist"},
		{"no-control", remove("debian/control"), "debian/control", "", "not exist"},
		{"no-format", remove("debian/source/format"), "debian/source/format", "", "not exist"},
		{"quilt", replace("debian/source/format", "3.0 (quilt)\n"), "debian/source/format", "", "is not"},
		{"garbage-changelog", replace("debian/changelog", "garbage\n"), "debian/changelog", "Version", "no version"},
		{"no-signoff", replace("debian/changelog", "synth (1.0) unstable; urgency=low\n\n  * x\n"), "debian/changelog", "", "top entry"},
		{"bad-version", replace("debian/changelog", "synth (a1.0) unstable; urgency=low\n\n  * x\n\n -- A <a@b>  Tue, 14 Nov 2023 22:13:20 +0000\n"), "debian/changelog", "Version", "digit"},
		{"bad-name", replace("debian/changelog", "Synth/x (1.0) unstable; urgency=low\n\n  * x\n\n -- A <a@b>  Tue, 14 Nov 2023 22:13:20 +0000\n"), "debian/changelog", "Source", "illegal source package name"},
		{"no-source", ctl("Maintainer: x\n\nPackage: a\nArchitecture: all\n"), "debian/control", "Source", "lacks a Source"},
		{"other-source", ctl("Source: other\n\nPackage: a\nArchitecture: all\n"), "debian/control", "Source", "conflicting"},
		{"no-binaries", ctl("Source: synth\n"), "debian/control", "", "no binary package"},
		{"no-package", ctl("Source: synth\n\nArchitecture: all\n"), "debian/control", "Package", "lacks the Package"},
		{"no-arch", ctl("Source: synth\n\nPackage: a\n"), "debian/control", "Architecture", "no Architecture"},
		{"bad-arch", ctl("Source: synth\n\nPackage: a\nArchitecture: am_d64\n"), "debian/control", "Architecture", "not a legal architecture"},
		{"any-in-list", ctl("Source: synth\n\nPackage: a\nArchitecture: amd64 any\n"), "debian/control", "Architecture", "only allowed on its own"},
		{"mixed-wildcard", ctl("Source: synth\n\nPackage: a\nArchitecture: linux-any amd64\n"), "debian/control", "Architecture", "not supported"},
		{"bad-dep", ctl("Source: synth\nBuild-Depends: foo (>= 1\n\nPackage: a\nArchitecture: all\n"), "debian/control", "Build-Depends", "cannot parse"},
		{"empty-alternative", ctl("Source: synth\nBuild-Depends: a | | b\n\nPackage: a\nArchitecture: all\n"), "debian/control", "Build-Depends", "cannot parse"},
		{"substvar-dep", ctl("Source: synth\nBuild-Depends: ${misc:Depends}\n\nPackage: a\nArchitecture: all\n"), "debian/control", "Build-Depends", "cannot parse"},
		{"union-or", ctl("Source: synth\nBuild-Conflicts: a | b\n\nPackage: a\nArchitecture: all\n"), "debian/control", "Build-Conflicts", "union"},
		{"duplicate-field", ctl("Source: synth\nsource: synth\n\nPackage: a\nArchitecture: all\n"), "debian/control", "", "duplicate field"},
		{"no-colon", ctl("Source: synth\nfoo\n\nPackage: a\nArchitecture: all\n"), "debian/control", "", "line 2"},
		{"continuation-first", ctl(" Source: synth\n"), "debian/control", "", "continued value"},
		{"hyphen", ctl("Source: synth\n-Foo: x\n\nPackage: a\nArchitecture: all\n"), "debian/control", "", "hyphen"},
		{"signed", ctl("-----BEGIN PGP SIGNED MESSAGE-----\n"), "debian/control", "", "OpenPGP"},
		{"tests-no-tests", func(tree []Entry) []Entry {
			return append(tree, Entry{Name: "debian/tests/control", Mode: 0o644, ModTime: mt, Data: []byte("Depends: x\n")})
		}, "debian/tests/control", "", "missing Tests"},
		{"tests-dir", func(tree []Entry) []Entry {
			return append(tree, Entry{Name: "debian/tests/control", Mode: fs.ModeDir | 0o755, ModTime: mt})
		}, "debian/tests/control", "", "not a regular file"},
		{"changelog-symlink", func(tree []Entry) []Entry {
			tree = remove("debian/changelog")(tree)
			return append(tree, Entry{Name: "debian/changelog", Mode: fs.ModeSymlink | 0o777, ModTime: mt, Data: []byte("/etc/passwd")})
		}, "debian/changelog", "", "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tree := tc.edit(basicTree("synth", "", mt))
			_, err := ReadSource(tree)
			if err == nil {
				t.Fatal("ReadSource succeeded, want an error")
			}
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an *inputerr.Error", err)
			}
			if ie.Path != tc.path || ie.Field != tc.field {
				t.Errorf("Path, Field = %q, %q; want %q, %q (error %v)", ie.Path, ie.Field, tc.path, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q does not contain %q", err, tc.substr)
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("error %q does not start in lower case", msg)
			}
		})
	}
}

func TestDSCErrors(t *testing.T) {
	t.Parallel()
	src, err := ReadSource(basicTree("synth", "", changelogTime))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "a/b.tar.xz", "a b.tar.xz", ".."} {
		if _, err := DSC(src, name, nil); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("DSC(%q) error = %v, want ErrUnsafePath", name, err)
		}
	}
	if _, err := DSC(&Source{}, "x.tar.xz", nil); err == nil {
		t.Error("DSC of a zero Source succeeded")
	}
}
