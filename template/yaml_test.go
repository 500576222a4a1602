package template

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
)

const goodYAML = `source: example-efi-signed
maintainer: Jane Doe <jane@example.org>
description: |
  Signed EFI application for example
  Longer text.

  After an empty line.
copyright: 2026 Jane Doe
license: GPL-2+
packages:
  example-efi-unsigned:
    files:
      - path: usr/lib/example/hello.efi
        sig-type: efi
      - path: usr/lib/example/other.efi
        sig-type: efi
    install: beside
`

func TestParseYAML(t *testing.T) {
	t.Parallel()
	got, err := ParseYAML("signing.yaml", []byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Source:      "example-efi-signed",
		Maintainer:  "Jane Doe <jane@example.org>",
		Section:     "misc",
		Description: "Signed EFI application for example\nLonger text.\n\nAfter an empty line.",
		Copyright:   "2026 Jane Doe",
		License:     "GPL-2+",
		Packages: []SpecPackage{{
			Name: "example-efi-unsigned", Line: 11, Install: InstallBeside,
			Files: []SpecFile{
				{File{Path: "usr/lib/example/hello.efi", SigType: EFI}, 13},
				{File{Path: "usr/lib/example/other.efi", SigType: EFI}, 15},
			},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseYAML (-want +got):\n%s", diff)
	}
}

func TestParseYAMLErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, old, new string
		want           string // the error's text after "signing.yaml: "
	}{
		{"unknown top key", "license: GPL-2+\n", "license: GPL-2+\nlicence: MIT\n", "line 10: licence: unknown key"},
		{"unknown package key", "    install: beside\n", "    install: beside\n    instal: beside\n", "line 18: packages.example-efi-unsigned.instal: unknown key"},
		{"unknown file key", "        sig-type: efi\n      - path: usr/lib/example/o", "        sig-type: efi\n        mode: 0644\n      - path: usr/lib/example/o", "line 15: packages.example-efi-unsigned.files[0].mode: unknown key"},
		{"duplicate key", "license: GPL-2+\n", "license: GPL-2+\nlicense: GPL\n", "line 10: license: given twice (first on line 9)"},
		{"missing key", "copyright: 2026 Jane Doe\n", "", "line 1: copyright: missing"},
		{"bad sig-type", "sig-type: efi\n      - path: usr/lib/example/o", "sig-type: pe\n      - path: usr/lib/example/o", "line 14: packages.example-efi-unsigned.files[0].sig-type: unknown sig_type"},
		{"compressed module", "path: usr/lib/example/hello.efi\n        sig-type: efi", "path: lib/modules/6.1.0-57-amd64/updates/hello.ko.xz\n        sig-type: linux-module", `line 13: packages.example-efi-unsigned.files[0].path: "lib/modules/6.1.0-57-amd64/updates/hello.ko.xz" is a compressed module (.ko.xz): its signature covers the uncompressed module`},
		{"compressed module zst", "path: usr/lib/example/hello.efi\n        sig-type: efi", "path: hello.ko.zst\n        sig-type: linux-module", `line 13: packages.example-efi-unsigned.files[0].path: "hello.ko.zst" is a compressed module (.ko.zst)`},
		{"unknown install", "install: beside", "install: directory", `line 17: packages.example-efi-unsigned.install: "directory" is none of "beside"`},
		{"install list", "install: beside", "install: [beside]", `line 17: packages.example-efi-unsigned.install: must be "beside", "replace" or a mapping {directory: /path}`},
		{"install empty", "install: beside", "install:", `line 17: packages.example-efi-unsigned.install: must be "beside"`},
		{"directory relative", "install: beside", "install: {directory: usr/lib/x}", `line 17: packages.example-efi-unsigned.install.directory: "usr/lib/x" is not absolute: write it /usr/lib/x`},
		{"directory unsafe", "install: beside", "install: {directory: /usr/../etc}", `line 17: packages.example-efi-unsigned.install.directory: unsafe path`},
		{"directory unclean", "install: beside", "install: {directory: /usr/lib/x/}", `line 17: packages.example-efi-unsigned.install.directory: unsafe path`},
		{"directory root", "install: beside", "install: {directory: /}", `line 17: packages.example-efi-unsigned.install.directory: unsafe path`},
		{"directory space", "install: beside", "install: {directory: /usr/lib/a b}", `line 17: packages.example-efi-unsigned.install.directory: "/usr/lib/a b": only letters`},
		{"directory unknown key", "install: beside", "install: {directory: /usr/lib/x, name: keep}", `line 17: packages.example-efi-unsigned.install.name: unknown key`},
		{"directory missing", "install: beside", "install: {}", `line 17: packages.example-efi-unsigned.install.directory: missing`},
		{"directory same base name", "path: usr/lib/example/other.efi\n        sig-type: efi\n    install: beside", "path: usr/lib/other/hello.efi\n        sig-type: efi\n    install: {directory: /usr/lib/signed}", `line 15: "usr/lib/other/hello.efi" would be signed as /usr/lib/signed/hello.efi.signed, as "usr/lib/example/hello.efi" on line 13 already is`},
		{"unsafe path", "path: usr/lib/example/hello.efi", "path: ../etc/shadow", "line 13: packages.example-efi-unsigned.files[0].path: "},
		{"path with a space", "path: usr/lib/example/hello.efi", "path: usr/lib/a b.efi", "line 13: packages.example-efi-unsigned.files[0].path: \"usr/lib/a b.efi\": only letters"},
		{"path twice", "path: usr/lib/example/other.efi", "path: usr/lib/example/hello.efi", "line 15: packages.example-efi-unsigned.files[1].path: \"usr/lib/example/hello.efi\" is listed twice (first on line 13)"},
		{"bad package name", "  example-efi-unsigned:", "  Example_EFI:", "line 11: packages.Example_EFI: \"Example_EFI\" is not a valid Debian package name"},
		{"bad source name", "source: example-efi-signed", "source: -x", "line 1: source: \"-x\" is not a valid"},
		{"source not -signed", "source: example-efi-signed", "source: example-efi", "line 1: source: \"example-efi\" does not end in -signed"},
		{"maintainer without address", "maintainer: Jane Doe <jane@example.org>", "maintainer: Jane Doe", "line 2: maintainer: "},
		{"second document", "install: beside\n", "install: beside\n---\nsource: x\n", "line 18: a second YAML document"},
		{"alias", "copyright: 2026 Jane Doe", "copyright: &c 2026 Jane Doe", "line 8: copyright: YAML anchors and aliases are not allowed"},
		{"list for a string", "license: GPL-2+", "license: [MIT]", "line 9: license: must be a string"},
		{"empty files", "    files:\n      - path: usr/lib/example/hello.efi\n        sig-type: efi\n      - path: usr/lib/example/other.efi\n        sig-type: efi\n", "    files: []\n", "line 12: packages.example-efi-unsigned.files: is empty"},
		{"not YAML", "packages:\n", "packages: [\n", "invalid YAML"},
		{"too big", "license: GPL-2+\n", "license: GPL-2+\n#" + strings.Repeat("x", maxSigningYAML) + "\n", "is 104"},
		{"maintainer two lines", "maintainer: Jane Doe <jane@example.org>", "maintainer: \"Jane Doe <jane@example.org>\\nEssential: yes <x@y>\"", "line 2: maintainer: must be one line"},
		{"source two lines", "source: example-efi-signed", "source: \"example-efi-signed\\nEssential: yes\"", "line 1: source: must be one line"},
		{"maintainer text after address", "maintainer: Jane Doe <jane@example.org>", "maintainer: Jane Doe <jane@example.org> x", "line 2: maintainer: "},
		{"compressed module gz", "path: usr/lib/example/hello.efi\n        sig-type: efi", "path: hello.ko.gz\n        sig-type: linux-module", `line 13: packages.example-efi-unsigned.files[0].path: "hello.ko.gz" is a compressed module (.ko.gz)`},
		{"maintainer NEL", "maintainer: Jane Doe <jane@example.org>", "maintainer: \"Jane Doe\\x85Essential: yes <jane@example.org>\"", `line 2: maintainer: holds the control character '\u0085'`},
		{"copyright line separator", "copyright: 2026 Jane Doe", "copyright: \"2026 Jane Doe\\u2028Files: x\"", `line 8: copyright: holds the control character '\u2028'`},
		{"section paragraph separator", "license: GPL-2+\n", "license: GPL-2+\nsection: \"misc\\u2029Essential:\"\n", `line 10: section: holds the control character '\u2029'`},
		{"package is another's signed name", "    install: beside\n", "    install: beside\n  example-efi-signed:\n    files:\n      - path: usr/lib/x.efi\n        sig-type: efi\n    install: beside\n", "line 11: packages: example-efi-unsigned would be signed as example-efi-signed, which is also an unsigned package here"},
		{"directory DEBIAN", "install: beside", "install: {directory: /DEBIAN/x}", `line 17: packages.example-efi-unsigned.install.directory: "/DEBIAN/x" is in DEBIAN/`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := strings.Replace(goodYAML, tc.old, tc.new, 1)
			if in == goodYAML {
				t.Fatalf("the case changes nothing: %q not in the YAML", tc.old)
			}
			_, err := ParseYAML("signing.yaml", []byte(in))
			var ie *inputerr.Error
			if !errors.As(err, &ie) || ie.File != "signing.yaml" {
				t.Fatalf("got %v, want an *inputerr.Error naming signing.yaml", err)
			}
			if got := strings.TrimPrefix(err.Error(), "signing.yaml: "); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want it to start with %q", got, tc.want)
			}
		})
	}
}

func TestSignedVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ unsigned, want string }{
		{"16.1-2~deb12u1", "1+16.1+2~deb12u1"}, // shim-helpers-amd64-signed
		{"1:1.4-1", "1:1+1.4+1"},
		{"2.0", "1+2.0"},
		{"1.2-3-4", "1+1.2+3+4"},
	} {
		s := &Spec{Packages: []SpecPackage{{Name: "p"}}}
		got, err := s.signedVersion(map[string]*deb.Package{"p": {Name: "p", Version: tc.unsigned}})
		if err != nil {
			t.Fatalf("%s: %v", tc.unsigned, err)
		}
		if got != tc.want {
			t.Errorf("signed version of %s: got %s, want %s", tc.unsigned, got, tc.want)
		}
	}
	// Each next unsigned upload gives a higher signed version, an epoch
	// bump included: the signed package's own history must rise.
	for _, tc := range [][2]string{{"16.1-2~deb12u1", "16.1-2"}, {"16.1-2", "16.1-3"}, {"9.0-1", "1:1.0-1"}, {"1.4-1", "1.4.1-1"}} {
		var signed [2]string
		for i, u := range tc {
			s := &Spec{Packages: []SpecPackage{{Name: "p"}}}
			v, err := s.signedVersion(map[string]*deb.Package{"p": {Name: "p", Version: u}})
			if err != nil {
				t.Fatal(err)
			}
			signed[i] = v
		}
		if version.Compare(mustVersion(t, signed[0]), mustVersion(t, signed[1])) >= 0 {
			t.Errorf("unsigned %s < %s, but signed %s >= %s", tc[0], tc[1], signed[0], signed[1])
		}
	}
}

func mustVersion(t *testing.T, s string) version.Version {
	t.Helper()
	v, err := version.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBuildDirParses checks that what BuildDir writes is a template Parse
// accepts, listing the same files, with Build-Depends the unsigned
// package's version satisfies.
func TestBuildDirParses(t *testing.T) {
	t.Parallel()
	spec, err := ParseYAML("signing.yaml", []byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	spec.License = "MIT\nPermission is hereby granted..."
	u := &deb.Package{Name: "example-efi-unsigned", Version: "1:2.0-3", Architecture: "amd64", Source: "example-efi", SourceVersion: "1:2.0-3"}
	files, err := spec.BuildDir(map[string]*deb.Package{u.Name: u}, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	dirs := map[string]bool{}
	for name, data := range files {
		entries = append(entries, Entry{Name: name, Mode: 0o644, Data: data})
		for d := name; strings.Contains(d, "/"); {
			d = d[:strings.LastIndex(d, "/")]
			dirs[d] = true
		}
	}
	for d := range dirs {
		entries = append(entries, Entry{Name: d, Mode: fs.ModeDir | 0o755})
	}
	tp, err := Parse("built", entries)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{Name: u.Name, TrustedCerts: []string{}, Files: []File{
		{Path: "usr/lib/example/hello.efi", SigType: EFI}, {Path: "usr/lib/example/other.efi", SigType: EFI}}}}
	if diff := cmp.Diff(want, tp.Manifest.Packages); diff != "" {
		t.Errorf("files.json (-want +got):\n%s", diff)
	}
	if err := tp.CheckVersion(u.Name, mustVersion(t, u.Version), u.Architecture); err != nil {
		t.Errorf("the unsigned version does not satisfy Build-Depends: %v", err)
	}
	if err := tp.CheckVersion(u.Name, mustVersion(t, "1:2.0-4"), u.Architecture); err == nil {
		t.Errorf("another unsigned version satisfies Build-Depends: got nil, want an error")
	}
	for _, want := range []string{"Built-Using: example-efi (= 1:2.0-3)\n", "Package: example-efi-signed\n", " .\n After an empty line.\n"} {
		if c := string(files["source-template/debian/control"]); !strings.Contains(c, want) {
			t.Errorf("debian/control lacks %q:\n%s", want, c)
		}
	}
	if c, want := string(files["source-template/debian/changelog"]), "example-efi-signed (1:1+2.0+3) unstable; urgency=medium\n"; !strings.HasPrefix(c, want) {
		t.Errorf("changelog starts %q, want %q", c, want)
	}
}

// TestParseYAMLLimit: signing.yaml of exactly maxSigningYAML bytes is
// read.
func TestParseYAMLLimit(t *testing.T) {
	t.Parallel()
	in := goodYAML + "#"
	in += strings.Repeat("x", maxSigningYAML-len(in)-1) + "\n"
	if _, err := ParseYAML("signing.yaml", []byte(in)); err != nil {
		t.Errorf("%d bytes: %v", len(in), err)
	}
}

// TestBuildDirBinNMU: Built-Using names the unsigned package's source
// version, which a binNMU's own version is not.
func TestBuildDirBinNMU(t *testing.T) {
	t.Parallel()
	spec, err := ParseYAML("signing.yaml", []byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	u := &deb.Package{Name: "example-efi-unsigned", Version: "2.0-3+b1", Architecture: "amd64", Source: "example-efi", SourceVersion: "2.0-3"}
	files, err := spec.BuildDir(map[string]*deb.Package{u.Name: u}, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	c := string(files["source-template/debian/control"])
	for _, want := range []string{"\nBuilt-Using: example-efi (= 2.0-3)\n", "\n example-efi-unsigned (= 2.0-3+b1)\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("debian/control lacks %q:\n%s", want, c)
		}
	}
}

// TestBuildDirOwnSource: the signed source may not take the unsigned
// packages' source's name; the archive would hold two sources of it.
func TestBuildDirOwnSource(t *testing.T) {
	t.Parallel()
	spec, err := ParseYAML("signing.yaml", []byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	u := &deb.Package{Name: "example-efi-unsigned", Version: "2.0-3", Architecture: "amd64", Source: "example-efi-signed", SourceVersion: "2.0-3"}
	_, err = spec.BuildDir(map[string]*deb.Package{u.Name: u}, time.Unix(1700000000, 0))
	if want := "source example-efi-signed is also the source of the unsigned package example-efi-unsigned"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error saying %q", err, want)
	}
}

const installYAML = `source: example-signed
maintainer: Jane Doe <jane@example.org>
description: |
  Signed files
  Longer text.
copyright: 2026 Jane Doe
license: GPL-2+
packages:
  example-grub-unsigned:
    files:
      - path: usr/lib/grub/x86_64-efi/monolithic/grubx64.efi
        sig-type: efi
    install:
      directory: /usr/lib/grub/x86_64-efi-signed
  example-modules-unsigned:
    files:
      - path: lib/modules/6.1.0-57-amd64/updates/hello.ko
        sig-type: linux-module
    install: replace
`

// TestBuildDirInstall checks the install ways and linux-module in what
// BuildDir writes: where each signed file goes, the relations of a
// replacing package, and the rules' commands.
func TestBuildDirInstall(t *testing.T) {
	t.Parallel()
	spec, err := ParseYAML("signing.yaml", []byte(installYAML))
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Packages[0]; got.Install != InstallDirectory || got.Directory != "usr/lib/grub/x86_64-efi-signed" {
		t.Errorf("grub package: install %q, directory %q", got.Install, got.Directory)
	}
	if got := spec.Packages[1].Install; got != InstallReplace {
		t.Errorf("modules package: install %q, want %q", got, InstallReplace)
	}
	unsigned := map[string]*deb.Package{}
	for _, n := range []string{"example-grub-unsigned", "example-modules-unsigned"} {
		unsigned[n] = &deb.Package{Name: n, Version: "2.0-3", Architecture: "amd64", Source: "example", SourceVersion: "2.0-3"}
	}
	unsigned["example-modules-unsigned"].Control.Values = map[string]string{
		"Depends":  "linux-image-6.1.0-57-amd64\n | linux-image-6.1.0-57-amd64-unsigned",
		"Provides": "example-modules",
	}
	files, err := spec.BuildDir(unsigned, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	control, rules := string(files["source-template/debian/control"]), string(files["source-template/debian/rules"])
	for _, want := range []string{
		"Build-Depends: debhelper-compat (= 13),\n sbsigntool,\n example-grub-unsigned (= 2.0-3),\n",
		"Package: example-grub-signed\nArchitecture: amd64\nDepends: ${misc:Depends}\nBuilt-Using:",
		"Package: example-modules-signed\nArchitecture: amd64\nDepends: ${misc:Depends}, linux-image-6.1.0-57-amd64 | linux-image-6.1.0-57-amd64-unsigned\n" +
			"Conflicts: example-modules-unsigned\nReplaces: example-modules-unsigned\nProvides: example-modules-unsigned (= 2.0-3), example-modules\nBuilt-Using:",
	} {
		if !strings.Contains(control, want) {
			t.Errorf("debian/control lacks %q:\n%s", want, control)
		}
	}
	const ko = "debian/example-modules-signed/lib/modules/6.1.0-57-amd64/updates/hello.ko"
	const sig = "debian/signatures/example-modules-unsigned/lib/modules/6.1.0-57-amd64/updates/hello.ko.sig"
	for _, want := range []string{
		"\tinstall -D -m 0644 $(UNSIGNED_ROOT)/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi debian/example-grub-signed/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed\n" +
			"\tsbattach --attach debian/signatures/example-grub-unsigned/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi.sig debian/example-grub-signed/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed\n",
		"\tinstall -D -m 0644 $(UNSIGNED_ROOT)/lib/modules/6.1.0-57-amd64/updates/hello.ko " + ko + "\n" +
			"\tcat " + sig + " >> " + ko + "\n" +
			"\tperl -e 'print pack(\"CCCCCxxxN\", 0, 0, 2, 0, 0, -s $$ARGV[0])' " + sig + " >> " + ko + "\n" +
			"\tprintf '~Module signature appended~\\n' >> " + ko + "\n",
		"\noverride_dh_strip:\n",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("debian/rules lacks %q:\n%s", want, rules)
		}
	}

	// Without an efi file, no sbsigntool.
	mod, err := ParseYAML("signing.yaml", []byte(strings.Replace(installYAML, "  example-grub-unsigned:\n    files:\n      - path: usr/lib/grub/x86_64-efi/monolithic/grubx64.efi\n        sig-type: efi\n    install:\n      directory: /usr/lib/grub/x86_64-efi-signed\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	files, err = mod.BuildDir(unsigned, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c := string(files["source-template/debian/control"]); !strings.Contains(c, "Build-Depends: debhelper-compat (= 13),\n example-modules-unsigned (= 2.0-3)\n") {
		t.Errorf("debian/control of a module-only template:\n%s", c)
	}
}

func TestCheckKept(t *testing.T) {
	t.Parallel()
	replace := &SpecPackage{Name: "m-unsigned", Install: InstallReplace}
	beside := &SpecPackage{Name: "m-unsigned", Install: InstallBeside}
	for _, tc := range []struct {
		sp   *SpecPackage
		path string
		dir  bool
		ok   bool
	}{
		{replace, "usr/share/doc/m-unsigned/copyright", false, true},
		{replace, "etc/modprobe.d/m.conf", true, true},
		{replace, "etc/modprobe.d/m.conf", false, false},
		{replace, "usr/share/docs", false, false},
		{beside, "etc/modprobe.d/m.conf", false, true},
	} {
		if err := tc.sp.CheckKept(tc.path, tc.dir); (err == nil) != tc.ok {
			t.Errorf("%s %s dir=%v: %v, want ok=%v", tc.sp.Install, tc.path, tc.dir, err, tc.ok)
		}
	}
}

// FuzzParseYAML checks that ParseYAML never panics, and that what it
// accepts gives safe, distinct paths for the signed files and a template
// BuildDir writes.
func FuzzParseYAML(f *testing.F) {
	f.Add([]byte(goodYAML))
	f.Add([]byte(installYAML))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseYAML("signing.yaml", data)
		if err != nil {
			return
		}
		unsigned := map[string]*deb.Package{}
		seen := map[string]bool{}
		for _, sp := range spec.Packages {
			unsigned[sp.Name] = &deb.Package{Name: sp.Name, Version: "1.0-1", Architecture: "amd64", Source: "s", SourceVersion: "1.0-1"}
			for _, f := range sp.Files {
				p := sp.SignedPath(f.Path)
				if c, err := CleanPath(p); err != nil || c != p || !pathRE.MatchString(p) || seen[p] {
					t.Fatalf("signed path %q of %q: unsafe or given twice (%v)", p, f.Path, err)
				}
				seen[p] = true
			}
		}
		if _, err := spec.BuildDir(unsigned, time.Unix(1700000000, 0)); err != nil {
			t.Fatalf("BuildDir of an accepted signing.yaml: %v", err)
		}
	})
}
