package template

// Writing a Debian code-signing template from a Spec.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/deb"
)

// StandardsVersion is the Debian Policy version the generated control
// claims (bookworm's).
const StandardsVersion = "4.6.2"

// BuildDir returns the files of a code-signing directory for s: files.json
// and source-template/debian/..., keyed by slash-separated relative path.
// unsigned holds the control data of each of s.Packages, by name; date is
// the changelog's date. The same inputs give the same bytes.
func (s *Spec) BuildDir(unsigned map[string]*deb.Package, date time.Time) (map[string][]byte, error) {
	for _, sp := range s.Packages {
		if unsigned[sp.Name] == nil {
			return nil, fmt.Errorf("no unsigned package %s given", sp.Name)
		}
		if u := unsigned[sp.Name]; u.Source == s.Source {
			return nil, fmt.Errorf("source %s is also the source of the unsigned package %s: the signed source needs a name of its own (such as %s-signed)", s.Source, sp.Name, s.Source)
		}
	}
	v, err := s.signedVersion(unsigned)
	if err != nil {
		return nil, err
	}
	fj, err := s.filesJSON()
	if err != nil {
		return nil, err
	}
	cp, err := s.copyright()
	if err != nil {
		return nil, err
	}
	const dir = "source-template/debian/"
	return map[string][]byte{
		"files.json":          fj,
		dir + "control":       []byte(s.control(unsigned)),
		dir + "changelog":     []byte(s.changelog(v, unsigned, date)),
		dir + "rules":         []byte(s.rules()),
		dir + "copyright":     []byte(cp),
		dir + "source/format": []byte("3.0 (native)\n"),
		dir + "README.source": []byte(s.readme()),
	}, nil
}

// signedVersion is the signed package's version as Debian's signed
// packages derive it (shim-helpers-amd64-signed 1+16.1+2~deb12u1 from
// shim 16.1-2~deb12u1): "1+", then the unsigned version with each "-" as
// "+", so that the next unsigned upload gives a higher version. An epoch
// stays in front (1:1.4-1 gives 1:1+1.4+1), or the version would sort
// below one already uploaded. Every unsigned package must have the same
// version.
func (s *Spec) signedVersion(unsigned map[string]*deb.Package) (string, error) {
	first := unsigned[s.Packages[0].Name]
	for _, sp := range s.Packages[1:] {
		if u := unsigned[sp.Name]; u.Version != first.Version {
			return "", fmt.Errorf("unsigned packages %s %s and %s %s have different versions: one -signed version cannot follow both",
				first.Name, first.Version, u.Name, u.Version)
		}
	}
	v, err := version.Parse(first.Version)
	if err != nil {
		return "", fmt.Errorf("%s: version %q: %w", first.Name, first.Version, err)
	}
	body := v.Version
	if v.Revision != "" {
		body += "-" + v.Revision
	}
	out := "1+" + strings.ReplaceAll(body, "-", "+")
	if v.Epoch > 0 {
		out = fmt.Sprintf("%d:%s", v.Epoch, out)
	}
	return out, nil
}

func (s *Spec) filesJSON() ([]byte, error) {
	type file struct {
		SigType string `json:"sig_type"`
		File    string `json:"file"`
	}
	type pkg struct {
		TrustedCerts []string `json:"trusted_certs"`
		Files        []file   `json:"files"`
	}
	pkgs := map[string]pkg{}
	for _, sp := range s.Packages {
		p := pkg{TrustedCerts: []string{}}
		for _, f := range sp.Files {
			p.Files = append(p.Files, file{SigType: string(f.SigType), File: f.Path})
		}
		pkgs[sp.Name] = p
	}
	b, err := json.MarshalIndent(map[string]any{"packages": pkgs}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// control writes debian/control; field order after Debian's signed
// templates (shim-helpers-amd64-signed, fwupd-amd64-signed).
func (s *Spec) control(unsigned map[string]*deb.Package) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Source: %s\nSection: %s\n", s.Source, s.Section)
	if s.Priority != "" {
		fmt.Fprintf(&b, "Priority: %s\n", s.Priority)
	}
	fmt.Fprintf(&b, "Maintainer: %s\n", s.Maintainer)
	b.WriteString("Build-Depends: debhelper-compat (= 13),\n")
	if s.signs(EFI) {
		b.WriteString(" sbsigntool,\n") // sbattach; linux-module needs only perl-base, which is Essential
	}
	for i, sp := range s.Packages {
		sep := ","
		if i == len(s.Packages)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, " %s (= %s)%s\n", sp.Name, unsigned[sp.Name].Version, sep)
	}
	fmt.Fprintf(&b, "Standards-Version: %s\n", StandardsVersion)
	if s.Homepage != "" {
		fmt.Fprintf(&b, "Homepage: %s\n", s.Homepage)
	}
	b.WriteString("Rules-Requires-Root: no\n")
	for _, sp := range s.Packages {
		u := unsigned[sp.Name]
		fmt.Fprintf(&b, "\nPackage: %s\nArchitecture: %s\n", SignedName(sp.Name), u.Architecture)
		if sp.Install != InstallReplace {
			b.WriteString("Depends: ${misc:Depends}\n")
		} else {
			writeReplaceRelations(&b, sp.Name, u)
		}
		fmt.Fprintf(&b, "Built-Using: %s (= %s)\nDescription: %s\n", u.Source, u.SourceVersion, multiLine(s.Description))
	}
	return b.String()
}

// writeReplaceRelations writes the relations of a package that takes the
// place of the unsigned package u, named name. Conflicts and Replaces
// together: dpkg removes the unsigned package when the signed one is
// installed, and lets the signed one overwrite its files. Provides keeps
// what depends on the unsigned package (versioned too) satisfied. The
// unsigned package's own relations follow ours, so that the signed one
// needs, and offers, what it did.
func writeReplaceRelations(b *strings.Builder, name string, u *deb.Package) {
	for _, f := range []struct{ field, ours string }{
		{"Pre-Depends", ""},
		{"Depends", "${misc:Depends}"},
		{"Recommends", ""},
		{"Suggests", ""},
		{"Breaks", ""},
		{"Conflicts", name},
		{"Replaces", name},
		{"Provides", name + " (= " + u.Version + ")"},
	} {
		rels := []string{}
		if f.ours != "" {
			rels = append(rels, f.ours)
		}
		if v := strings.Join(strings.Fields(u.Control.Values[f.field]), " "); v != "" {
			rels = append(rels, v)
		}
		if len(rels) > 0 {
			fmt.Fprintf(b, "%s: %s\n", f.field, strings.Join(rels, ", "))
		}
	}
}

// multiLine writes a value of several lines as a deb822 field's: the first
// line as it is, the others indented by a space, an empty one as " .".
func multiLine(v string) string {
	lines := strings.Split(v, "\n")
	for i := 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == "" {
			lines[i] = " ."
		} else {
			lines[i] = " " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

func (s *Spec) changelog(v string, unsigned map[string]*deb.Package, date time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) unstable; urgency=medium\n\n", s.Source, v)
	for _, sp := range s.Packages {
		fmt.Fprintf(&b, "  * Sign %s %s.\n", sp.Name, unsigned[sp.Name].Version)
	}
	fmt.Fprintf(&b, "\n -- %s  %s\n", s.Maintainer, date.UTC().Format(time.RFC1123Z))
	return b.String()
}

// signs says whether s signs a file of type t.
func (s *Spec) signs(t SigType) bool {
	for _, sp := range s.Packages {
		for _, f := range sp.Files {
			if f.SigType == t {
				return true
			}
		}
	}
	return false
}

// rules copies each original from the unsigned package installed on the
// build machine (a Build-Depends) to where the signed package ships it,
// and attaches its signature with only tools from Debian's archive, since
// a buildd has no mksigned: sbattach for efi; for linux-module what
// Linux's sign-file -s does, with cat, perl (Essential) and printf. Paths
// are safe to write unquoted (ParseYAML checks them).
func (s *Spec) rules() string {
	var b strings.Builder
	b.WriteString(`#!/usr/bin/make -f
# Written by mksigned template build. Each signed file is the original,
# from the unsigned package installed through Build-Depends, with its
# signature from debian/signatures/ attached.
#
# UNSIGNED_ROOT is where the unsigned packages' files are read: / on a
# buildd. To build without installing them, unpack each with
# dpkg-deb -x DEB DIR, then run UNSIGNED_ROOT=DIR dpkg-buildpackage -d.
UNSIGNED_ROOT ?=

%:
	dh $@

# The signed files must be shipped as they are: stripping a kernel module
# would drop its signature.
override_dh_strip:

override_dh_dwz:

override_dh_auto_install:
`)
	for _, sp := range s.Packages {
		dst := "debian/" + SignedName(sp.Name) + "/"
		for _, f := range sp.Files {
			out := dst + sp.SignedPath(f.Path)
			sig := SignaturePath(sp.Name, f.Path)
			fmt.Fprintf(&b, "\tinstall -D -m 0644 $(UNSIGNED_ROOT)/%s %s\n", f.Path, out)
			switch f.SigType {
			case EFI:
				fmt.Fprintf(&b, "\tsbattach --attach %s %s\n", sig, out)
			case LinuxModule:
				// The module, the detached PKCS#7 signature (DER), struct
				// module_signature (algo, hash, id_type 2 = PKCS#7,
				// signer_len, key_id_len, 3 pad bytes, sig_len as a
				// big-endian u32) and the magic: what sign-file -s appends.
				fmt.Fprintf(&b, "\tcat %s >> %s\n", sig, out)
				fmt.Fprintf(&b, "\tperl -e 'print pack(\"CCCCCxxxN\", 0, 0, 2, 0, 0, -s $$ARGV[0])' %s >> %s\n", sig, out)
				fmt.Fprintf(&b, "\tprintf '~Module signature appended~\\n' >> %s\n", out)
			}
		}
	}
	return b.String()
}

func (s *Spec) readme() string {
	return "This source package is generated from a template written by\n" +
		"`mksigned template build` from signing.yaml; the signatures in\n" +
		"debian/signatures/ are added by the signing step. Do not edit it:\n" +
		"change signing.yaml and build the template again.\n"
}
