package pkggen

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

// runGenchanges runs dpkg-genchanges -S in b's source tree (dirName),
// with the .dsc and tarball dpkg-source -b made beside it.
func runGenchanges(t *testing.T, b *dpkgBuild, dirName string) []byte {
	t.Helper()
	genchanges := testutil.RequireTool(t, "dpkg-genchanges")
	cmd := exec.Command(genchanges, "-S", "-u..")
	cmd.Dir = filepath.Join(b.dir, dirName)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "HOME=" + b.dir, "SOURCE_DATE_EPOCH=1700000000"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-genchanges -S: %v\n%s", err, stderr.Bytes())
	}
	return out
}

const richChangelog = `synth (1:2.0+1) unstable  experimental; urgency=High (security fix), xc-extra=for changes, xs-not=dropped, bogus=dropped  

  * First change.   
    Closes: #123, bug#45,#7
  * closes: 0124
 a line with one space, which dpkg drops

    -- an indented line that is no trailer


  [ Someone ]
  * After blank lines. (Closes: #99999999999)
  	* A line indented by a space and a tab.


 -- Ann Other <a@example.org>  Tue, 14 Nov 2023 22:13:20 +0000

synth (1:1.0) unstable; urgency=low

  * Older: Closes: #1

 -- A <a@example.org>  Mon, 13 Nov 2023 22:13:20 +0000
`

// TestChangesMatchDpkgGenchanges compares Changes with what
// dpkg-genchanges -S writes for the .dsc and tarball dpkg-source -b made,
// for changelogs and control files that exercise each rule.
func TestChangesMatchDpkgGenchanges(t *testing.T) {
	t.Parallel()
	noSection := "Source: synth\nMaintainer: A <a@example.org>\nXC-Custom: from control\n\nPackage: synth\nArchitecture: amd64\nDescription: test\n test\n"
	lowerSection := "Source: synth\nsection: libs\npriority: optional\nMaintainer: A <a@example.org>\n\nPackage: synth\nArchitecture: amd64\nDescription: test\n test\n"
	const trailer = " -- A <a@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n"
	cases := []struct{ name, changelog, control string }{
		{"basic", "", ""},
		{"rich changelog", richChangelog, ""},
		{"rich control", "", richControl},
		{"no section", "", noSection},
		{"lower-case section", "", lowerSection},
		{"no urgency", "synth (2.0) unstable;\n\n  * x\n\n -- A <a@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n", ""},
		// dpkg keeps the first of a repeated option, after a warning.
		{"repeated options", "synth (2.0) unstable; urgency=low, XC-Foo=a, xc-foo=b, Urgency=high\n\n  * x\n\n" + trailer, ""},
		{"CRLF", "synth (2.0) unstable; urgency=low\r\n\r\n  * x\r\n\r\n" + strings.TrimSuffix(trailer, "\n") + "\r\n", ""},
		{"Latin-1, commas", "synth (2.0) unstable; urgency=low\n\n  * caf\xe9\n\n -- Doe, J\xf6rg <a@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n",
			strings.Replace(lowerSection, "A <a@example.org>", "\"Doe, J\xf6rg\" <a@example.org>", 1)},
		{"one-digit day", "synth (2.0) unstable; urgency=low\n\n  * x\n\n -- A <a@example.org>  Tue,  7 Nov 2023 22:13:20 +0000\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tree := basicTree("synth", tc.control, time.Unix(1600000000, 0))
			if tc.changelog != "" {
				tree[1].Data = []byte(tc.changelog)
			}
			if tc.control == richControl {
				tree = append(tree, controlCases()[0].extra...)
			}
			src, err := ReadSource(tree)
			if err != nil {
				t.Fatalf("ReadSource: %v", err)
			}
			b := runDpkgSource(t, tree, "synth", "1700000000", time.Unix(1700000000, 0))
			want := runGenchanges(t, b, "synth")
			got, err := Changes(src, []File{{b.xzName, b.xz}, {b.dscName, b.dsc}})
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != strings.TrimSuffix(b.dscName, ".dsc")+"_source.changes" {
				t.Errorf("name %s", got.Name)
			}
			if !bytes.Equal(got.Data, want) {
				t.Errorf(".changes differs from dpkg-genchanges -S's at %s\ngot:\n%s\nwant:\n%s", firstDiff(got.Data, want), got.Data, want)
			}
		})
	}
}

// TestChangesOfTemplates builds Debian's real templates as Build does and
// compares their .changes with dpkg-genchanges -S's for those files.
func TestChangesOfTemplates(t *testing.T) {
	t.Parallel()
	for _, fixture := range []string{
		"fwupd-amd64-signed-template_1.4-1_amd64.deb",
		"shim-helpers-amd64-signed-template_16.1-2~deb12u1_amd64.deb",
		"linux-image-6.12-amd64-signed-template_6.12.117-1~deb12u1_amd64.deb",
	} {
		t.Run(fixture, func(t *testing.T) {
			t.Parallel()
			tree := templateTree(t, fixture)
			src, err := ReadSource(tree)
			if err != nil {
				t.Fatal(err)
			}
			files, err := Build(context.Background(), tree, Options{SourceDateEpoch: "1700000000", Source: src})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			if err := Commit(out, files); err != nil {
				t.Fatal(err)
			}
			testutil.Run(t, out, testutil.RequireTool(t, "dpkg-source"), "-x", files[1].Name, "x")
			want := runGenchanges(t, &dpkgBuild{dir: out}, "x")
			got, err := Changes(src, files)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, want) {
				t.Errorf(".changes differs from dpkg-genchanges -S's at %s\ngot:\n%s\nwant:\n%s", firstDiff(got.Data, want), got.Data, want)
			}
		})
	}
}

func TestChangesErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, changelog, want string }{
		{"binary-only", "synth (2.0) unstable; urgency=low, binary-only=yes\n\n  * x\n\n -- A <a@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n", "binary-only"},
		{"trailer", "synth (2.0) unstable; urgency=low\n\n  * x\n\n -- A a@example.org  Tue, 14 Nov 2023 22:13:20 +0000\n", "trailer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := basicTree("synth", "", changelogTime)
			tree[1].Data = []byte(tc.changelog)
			src, err := ReadSource(tree)
			if err != nil {
				t.Skipf("ReadSource refuses it already: %v", err)
			}
			err = CheckChanges(src)
			var ie *inputerr.Error
			if !errors.As(err, &ie) || ie.Path != "debian/changelog" || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckChanges: %v, want an error naming debian/changelog and %q", err, tc.want)
			}
		})
	}
	if _, err := Changes(nil, nil); err == nil {
		t.Error("Changes(nil): no error")
	}
	src, err := ReadSource(basicTree("synth", "", changelogTime))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Changes(src, []File{{Name: "other.dsc"}}); err == nil {
		t.Error("Changes without the .dsc: no error")
	}
	if _, err := Changes(src, []File{{Name: src.BaseName() + ".dsc"}, {Name: "a b.tar.xz"}}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("Changes of a name with a space: %v, want ErrUnsafePath", err)
	}
}
