package template

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mksigned/mksigned/deb"
)

// TestYAMLString: every string reads back through YAML as itself, plain
// where that is safe and quoted where it is not.
func TestYAMLString(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in    string
		plain bool
	}{
		{"Debian EFI <debian-efi@lists.debian.org>", true},
		{"https://github.com/fwupd/fwupd-efi", true},
		{"usr/lib/shim/shimx64.efi", true},
		{"Jane: Doe <j@example.org>", false},
		{"a #comment", false},
		{"ends:", false},
		{"- starts like a list", false},
		{"@at", false},
		{"'quoted'", false},
		{`back\slash "q"`, false},
		{"null", false},
		{"~", false},
		{" lead", false},
		{"tab\there", false},
		{"Grüße <g@example.org>", true},
	} {
		got := yamlString(c.in)
		var m map[string]string
		if err := yaml.Unmarshal([]byte("k: "+got+"\n"), &m); err != nil || m["k"] != c.in {
			t.Errorf("yamlString(%q) = %s, read back as %q (%v)", c.in, got, m["k"], err)
		}
		if plain := got == c.in; plain != c.plain {
			t.Errorf("yamlString(%q) = %s: plain %v, want %v", c.in, got, plain, c.plain)
		}
	}
}

// TestDEP5: Copyright and License of "Files: *", with the licence text
// from its stand-alone paragraph; anything else gives no answer.
func TestDEP5(t *testing.T) {
	t.Parallel()
	const head = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
	for _, c := range []struct {
		name, in, cr, lic string
		ok                bool
	}{
		{"with text", head + "Files: debian/*\nCopyright: 2020 B\nLicense: MIT\n\nFiles: *\nCopyright:\n 2019 A\n   2020 C\nLicense: GPL-2+\n\nLicense: GPL-2+\n This is free.\n .\n More.\n",
			"2019 A\n2020 C", "GPL-2+\nThis is free.\n\nMore.", true},
		{"inline text", head + "Files: *\nCopyright: A\nLicense: X\n text\n", "A", "X\ntext", true},
		{"no files star", head + "Files: src/*\nCopyright: A\nLicense: X\n", "", "", false},
		{"no copyright", head + "Files: *\nLicense: X\n", "", "", false},
		{"free form", "Copyright 2020 A. Licence: MIT.\n", "", "", false},
		{"missing", "", "", "", false},
	} {
		cr, lic, ok := dep5([]byte(c.in))
		if cr != c.cr || lic != c.lic || ok != c.ok {
			t.Errorf("%s: dep5 = %q, %q, %v; want %q, %q, %v", c.name, cr, lic, ok, c.cr, c.lic, c.ok)
		}
	}
}

// TestProposeNothing: no package with a file to sign is ErrNothingToSign,
// naming the packages and a skipped file.
func TestProposeNothing(t *testing.T) {
	t.Parallel()
	_, err := Propose([]Found{
		{Pkg: &deb.Package{Name: "b-modules", Version: "1"}, Skipped: []Skipped{{Path: "x.ko.xz", Reason: "compressed"}}},
		{Pkg: &deb.Package{Name: "a-doc", Version: "1"}},
	})
	if !errors.Is(err, ErrNothingToSign) || !strings.Contains(err.Error(), "a-doc, b-modules: nothing to sign") ||
		!strings.Contains(err.Error(), "1 file(s) skipped, such as x.ko.xz: compressed") {
		t.Errorf("Propose: %v, want ErrNothingToSign naming both packages and x.ko.xz", err)
	}
}

// TestProposeTooBig: a proposal template build would refuse for its
// size is an error, not written.
func TestProposeTooBig(t *testing.T) {
	t.Parallel()
	f := Found{Pkg: &deb.Package{Name: "m", Version: "1", Architecture: "amd64"}}
	for i := range maxSigningYAML / 64 {
		f.Files = append(f.Files, File{Path: fmt.Sprintf("lib/modules/6.1.0-57-amd64/kernel/drivers/m%06d.ko", i), SigType: LinuxModule})
	}
	if _, err := Propose([]Found{f}); err == nil || !strings.Contains(err.Error(), "more than the 1048576 template build reads") {
		t.Errorf("Propose: %v, want an error about its size", err)
	}
	f.Files = f.Files[:100]
	if _, err := Propose([]Found{f}); err != nil {
		t.Errorf("Propose of 100 files: %v", err)
	}
}

func TestProposeSource(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, arch, want string }{
		{"fwupd-unsigned", "amd64", "fwupd-amd64-signed"},
		{"shim-unsigned", "arm64", "shim-arm64-signed"},
		{"grub-efi-amd64-bin", "amd64", "grub-efi-amd64-bin-signed"},
		{"vendor-tools", "all", "vendor-tools-signed"},
	} {
		if got := proposeSource(&deb.Package{Name: c.name, Architecture: c.arch}); got != c.want {
			t.Errorf("proposeSource(%s, %s) = %s, want %s", c.name, c.arch, got, c.want)
		}
	}
}

// FuzzPropose: whatever the unsigned package's control fields and
// copyright file hold, the proposal for an efi file parses with
// ParseYAML (template build takes it unchanged), and keeps the fields
// that are valid as they are.
func FuzzPropose(f *testing.F) {
	f.Add("Debian EFI <debian-efi@lists.debian.org>", "admin", "optional", "https://github.com/fwupd/fwupd-efi",
		"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: A\nLicense: X\n text\n .\n more\n")
	f.Add("Jane: Doe # x <j@example.org>", "a b", "", "- x", "")
	f.Add("no address", "", "\"", "null", "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0\n\nFiles: *\nCopyright: \x01\nLicense: |\n")
	f.Add("J\xffane\u2028 <j@example.org>\u0085", "ad\x85min", "\ufeff", "https://x/\xfe", "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0\n\nFiles: *\nCopyright: \xff A\u2028B\u0085C\nLicense: X\u2029Y\n")
	f.Fuzz(func(t *testing.T, maintainer, section, priority, homepage, copyright string) {
		ctl := map[string]string{"Maintainer": maintainer, "Section": section, "Priority": priority, "Homepage": homepage}
		pkg := &deb.Package{Name: "fwupd-unsigned", Version: "1:1.4-1", Architecture: "amd64"}
		pkg.Control.Values = ctl
		out, err := Propose([]Found{{Pkg: pkg, Files: []File{{Path: "usr/lib/x.efi", SigType: EFI}}, Copyright: []byte(copyright)}})
		if err != nil {
			t.Fatalf("Propose: %v", err)
		}
		spec, err := ParseYAML("signing.yaml", out)
		if err != nil {
			t.Fatalf("ParseYAML of the proposal: %v\n%s", err, out)
		}
		if validMaintainer(maintainer) && spec.Maintainer != maintainer {
			t.Errorf("maintainer %q proposed as %q", maintainer, spec.Maintainer)
		}
	})
}
