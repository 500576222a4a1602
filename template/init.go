package template

// A proposed signing.yaml, from what `mksigned template init` finds in
// the unsigned packages: ParseYAML reads it, and `template build` takes
// it as it is; "# TODO" comments mark what a human should look at.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/deb822"
	"github.com/mksigned/mksigned/internal/debname"
)

// Found is what template init found in one unsigned package.
type Found struct {
	Pkg *deb.Package
	// Files are the files to sign, by path.
	Files []File
	// Skipped are files that look signable but are not proposed, and why
	// (a compressed module).
	Skipped []Skipped
	// Copyright is the package's /usr/share/doc/<name>/copyright, or nil.
	Copyright []byte
}

// Skipped is a file template init does not propose, and the reason.
type Skipped struct {
	Path, Reason string
}

// ErrNothingToSign is returned by Propose when no package holds a file
// to sign.
var ErrNothingToSign = errors.New("nothing to sign")

// Propose returns signing.yaml for the packages found, sorted by name:
// the source named as Debian names its signed sources (fwupd-unsigned on
// amd64 gives fwupd-amd64-signed), the maintainer, section, priority and
// homepage of the first package, a description saying what is signed,
// and the copyright and licence of its "Files: *" paragraph when its
// copyright file is machine-readable (else placeholders). Each package
// installs its signed files beside the originals.
func Propose(found []Found) ([]byte, error) {
	found = slices.Clone(found)
	for i := range found {
		found[i] = namable(found[i])
	}
	slices.SortFunc(found, func(a, b Found) int { return strings.Compare(a.Pkg.Name, b.Pkg.Name) })
	var signing []Found
	skipped := 0
	for _, f := range found {
		if len(f.Files) > 0 {
			signing = append(signing, f)
		}
		skipped += len(f.Skipped)
	}
	if len(signing) == 0 {
		names := make([]string, len(found))
		for i, f := range found {
			names[i] = f.Pkg.Name
		}
		why := "no PE/COFF image and no ELF relocatable .ko module"
		if skipped > 0 {
			why += fmt.Sprintf(" (%d file(s) skipped, such as %s: %s)", skipped, firstSkipped(found).Path, firstSkipped(found).Reason)
		}
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(names, ", "), ErrNothingToSign, why)
	}
	first := signing[0]
	ctl := first.Pkg.Control.Values
	var b strings.Builder
	b.WriteString("# signing.yaml proposed by mksigned template init from " + pkgList(found) + ".\n" +
		"# Check the lines marked TODO, then: mksigned template build signing.yaml --unsigned DEB... --output DIR\n")
	fmt.Fprintf(&b, "source: %s\n", proposeSource(first.Pkg))
	b.WriteString("# TODO: the maintainer of the signed package (this is the unsigned one's).\n")
	m := oneLine(ctl["Maintainer"])
	if !validMaintainer(m) {
		m = "TODO: your name <you@example.org>"
	}
	fmt.Fprintf(&b, "maintainer: %s\n", yamlString(m))
	fmt.Fprintf(&b, "section: %s\n", yamlString(orDefault(ctl["Section"], "misc")))
	fmt.Fprintf(&b, "priority: %s\n", yamlString(orDefault(ctl["Priority"], "optional")))
	if h := oneLine(ctl["Homepage"]); h != "" && !strings.ContainsAny(h, " \t") {
		fmt.Fprintf(&b, "homepage: %s\n", yamlString(h))
	}
	b.WriteString("# TODO: describe the signed package.\n")
	b.WriteString(yamlBlock("description", proposeDescription(signing)))
	cr, lic, ok := dep5(first.Copyright)
	if ok {
		fmt.Fprintf(&b, "# The copyright and licence of \"Files: *\" in %s's copyright file.\n", first.Pkg.Name)
		if checkLicence(lic) != nil {
			// A short name with no text, and none in common-licenses
			// to point to: build would refuse it.
			b.WriteString("# TODO: the licence's text: the copyright file gives none.\n")
			lic += "\nTODO: the licence's text"
		}
	} else {
		b.WriteString("# TODO: the copyright and licence of the signed files; " + first.Pkg.Name + "'s\n" +
			"# copyright file is not machine-readable (copyright-format 1.0), or is missing.\n")
		cr = "TODO: the copyright holders of " + first.Pkg.Name
		lic = "TODO: the licence's short name\nTODO: the licence's text"
	}
	b.WriteString(yamlBlock("copyright", cr))
	b.WriteString(yamlBlock("license", lic))
	b.WriteString("packages:\n")
	for _, f := range found {
		if len(f.Files) == 0 {
			fmt.Fprintf(&b, "  # %s: nothing to sign\n", f.Pkg.Name)
			writeSkipped(&b, f.Skipped)
			continue
		}
		fmt.Fprintf(&b, "  %s:\n    files:\n", f.Pkg.Name)
		files := slices.Clone(f.Files)
		slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
		for _, file := range files {
			fmt.Fprintf(&b, "      - path: %s\n        sig-type: %s\n", yamlString(file.Path), file.SigType)
		}
		writeSkipped(&b, f.Skipped)
		b.WriteString("    # beside: the signed package ships <file>.signed beside the original.\n    install: beside\n")
	}
	if b.Len() > maxSigningYAML {
		return nil, fmt.Errorf("%s: the proposal would be %d bytes, more than the %d template build reads: propose for fewer packages at a time",
			pkgList(found), b.Len(), maxSigningYAML)
	}
	return []byte(b.String()), nil
}

// namable moves to f.Skipped the files whose paths the rules could not
// name (ParseYAML's pathRE), so that template build takes the proposal.
func namable(f Found) Found {
	var keep []File
	f.Skipped = slices.Clone(f.Skipped)
	for _, file := range f.Files {
		if pathRE.MatchString(file.Path) {
			keep = append(keep, file)
		} else {
			f.Skipped = append(f.Skipped, Skipped{Path: file.Path,
				Reason: "its name holds characters other than letters, digits and ._+@~,=/-, which template build does not support yet"})
		}
	}
	f.Files = keep
	return f
}

func firstSkipped(found []Found) Skipped {
	for _, f := range found {
		if len(f.Skipped) > 0 {
			return f.Skipped[0]
		}
	}
	return Skipped{}
}

func writeSkipped(b *strings.Builder, skipped []Skipped) {
	s := slices.Clone(skipped)
	slices.SortFunc(s, func(a, b Skipped) int { return strings.Compare(a.Path, b.Path) })
	for _, sk := range s {
		fmt.Fprintf(b, "      # not proposed: %s: %s\n", oneLine(sk.Path), oneLine(sk.Reason))
	}
}

func pkgList(found []Found) string {
	var s []string
	for _, f := range found {
		s = append(s, f.Pkg.Name+" "+f.Pkg.Version)
	}
	return strings.Join(s, ", ")
}

// proposeSource names the signed source after the unsigned package as
// Debian does: the name without "-unsigned", the architecture unless the
// name holds it already (grub-efi-amd64-bin), and "-signed"
// (fwupd-unsigned → fwupd-amd64-signed, shim-unsigned →
// shim-amd64-signed).
func proposeSource(p *deb.Package) string {
	base, _ := strings.CutSuffix(p.Name, "-unsigned")
	a := p.Architecture
	if a != "all" && !slices.Contains(strings.Split(base, "-"), a) {
		base += "-" + a
	}
	if s := base + "-signed"; debname.ValidPackage(s) {
		return s
	}
	return p.Name + "-signed"
}

func proposeDescription(signing []Found) string {
	var names []string
	efi, mods := false, false
	for _, f := range signing {
		names = append(names, f.Pkg.Name)
		for _, file := range f.Files {
			efi = efi || file.SigType == EFI
			mods = mods || file.SigType == LinuxModule
		}
	}
	var what string
	switch {
	case efi && mods:
		what = "EFI images and kernel modules"
	case efi:
		what = "EFI images"
	default:
		what = "kernel modules"
	}
	list := strings.Join(names, ", ")
	return fmt.Sprintf("signed %s from %s\n%s", what, list,
		wrap(fmt.Sprintf("This package holds the %s of %s with their signatures attached.", what, list), 72))
}

// wrap breaks s into lines of at most width bytes at spaces (a longer
// word gets a line of its own).
func wrap(s string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

// dep5 returns the Copyright and License of the "Files: *" paragraph of a
// machine-readable copyright file, with the licence's text from its
// stand-alone License paragraph when there is one.
func dep5(data []byte) (copyright, license string, ok bool) {
	if !strings.HasPrefix(string(data), "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0") {
		return "", "", false
	}
	paras, err := deb822.All(data)
	if err != nil {
		return "", "", false
	}
	for _, p := range paras {
		v := p.Values
		if strings.TrimSpace(v["Files"]) != "*" {
			continue
		}
		copyright, license = text(v["Copyright"]), text(v["License"])
		if copyright == "" || license == "" {
			return "", "", false
		}
		if !strings.Contains(license, "\n") {
			for _, q := range paras {
				if _, files := q.Values["Files"]; !files && text(strings.SplitN(q.Values["License"], "\n", 2)[0]) == license {
					license = text(q.Values["License"])
					break
				}
			}
		}
		return copyright, license, true
	}
	return "", "", false
}

// text is a deb822 field value as ParseYAML's multi-line strings hold
// it: lines trimmed, "." as an empty line, no empty first or last line.
func text(v string) string {
	lines := strings.Split(noControl(v), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "." {
			l = ""
		}
		lines[i] = l
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// oneLine is s on one line, white space runs as one space and control
// characters dropped (ParseYAML refuses them).
func oneLine(s string) string {
	return strings.Join(strings.Fields(noControl(strings.ReplaceAll(s, "\n", " "))), " ")
}

// noControl is s as valid UTF-8 without the characters ParseYAML or YAML
// refuse in a string or take as line breaks: control characters but line
// feed and tab, NEL, the line and paragraph separators, the byte order
// mark and the non-characters U+FFFE and U+FFFF.
func noControl(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < ' ' || r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff || r == utf8.RuneError:
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// orDefault is s on one line, or def when that is empty or holds a space
// (ParseYAML refuses it in a section or a priority).
func orDefault(s, def string) string {
	if s = oneLine(s); s == "" || strings.Contains(s, " ") {
		return def
	}
	return s
}

// validMaintainer says whether ParseYAML takes m, on one line, as a
// maintainer: "Name <address>".
func validMaintainer(m string) bool {
	return m == oneLine(m) && strings.Contains(m, "<") && strings.HasSuffix(m, ">")
}

// yamlString is s as a YAML scalar: plain when it reads back as the same
// string (YAML 1.2 §7.3.3), else double-quoted.
func yamlString(s string) string {
	if s != "" && !strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@` \t") &&
		!strings.Contains(s, ": ") && !strings.Contains(s, " #") && !strings.HasSuffix(s, ":") &&
		!strings.ContainsAny(s, "\t\"\\") && strings.TrimSpace(s) == s &&
		!slices.Contains([]string{"null", "~"}, strings.ToLower(s)) {
		return s
	}
	return fmt.Sprintf("%q", s) // text() and oneLine() left no control character: Go's escapes are YAML's
}

// yamlBlock is key with the multi-line s as a literal block.
func yamlBlock(key, s string) string {
	var b strings.Builder
	b.WriteString(key + ": |\n")
	for _, l := range strings.Split(s, "\n") {
		if l == "" {
			b.WriteString("\n")
		} else {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}
