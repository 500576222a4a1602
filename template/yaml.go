package template

// signing.yaml: a short description of a -signed package, from which
// `mksigned template build` writes a Debian code-signing template.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mksigned/mksigned/internal/debname"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/sign/sigtype"
)

// Spec is a parsed signing.yaml.
type Spec struct {
	Source      string // the -signed source package
	Maintainer  string
	Section     string // "misc" when not given
	Priority    string // "" when not given
	Homepage    string // "" when not given
	Description string // first line the synopsis, the rest the long text
	Copyright   string // the Copyright field of debian/copyright
	License     string // first line the licence's short name, the rest its text
	// Packages is sorted by Name.
	Packages []SpecPackage
}

// SpecPackage is one unsigned binary package whose files are signed.
type SpecPackage struct {
	Name    string
	Line    int // where the package's key is
	Files   []SpecFile
	Install string // InstallBeside, InstallDirectory or InstallReplace
	// Directory is where InstallDirectory puts the signed files: a clean
	// path without its leading "/".
	Directory string
}

// SpecFile is one file to sign, with the line its path is on.
type SpecFile struct {
	File
	Line int
}

// How a signed package installs the signed files (install: in
// signing.yaml). Each way ships them in the package SignedName(name).
const (
	// InstallBeside ships the signed file as <file>.signed beside the
	// original's path (fwupd's and shim's way).
	InstallBeside = "beside"
	// InstallDirectory ships it as <base name>.signed in another directory
	// (grub's way: grub-efi-amd64-signed ships
	// /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed for
	// /usr/lib/grub/x86_64-efi/monolithic/grubx64.efi). Written
	// "install: {directory: /usr/lib/grub/x86_64-efi-signed}".
	InstallDirectory = "directory"
	// InstallReplace ships it under the original's path, in a package that
	// Conflicts with, Replaces and Provides the unsigned one (the way a
	// signed kernel module package replaces the unsigned one).
	InstallReplace = "replace"
)

// SignedPath is the path, without a leading "/", at which the signed
// package ships the signed form of the file at path p.
func (sp *SpecPackage) SignedPath(p string) string {
	switch sp.Install {
	case InstallDirectory:
		return sp.Directory + "/" + path.Base(p) + ".signed"
	case InstallReplace:
		return p
	}
	return p + ".signed"
}

// CheckKept is for each entry of the unsigned package other than the
// files sp signs: a directory, or the path p of anything else. With
// InstallReplace the signed package ships only the signed files and dpkg
// removes the unsigned package when it is installed, so anything else but
// the package's own documentation (usr/share/doc/, which the signed
// package has its own of) would be lost: CheckKept refuses it.
func (sp *SpecPackage) CheckKept(p string, dir bool) error {
	if sp.Install != InstallReplace || dir || strings.HasPrefix(p, "usr/share/doc/") {
		return nil
	}
	return fmt.Errorf("is in %s but not signed, and would be lost: with install: replace the signed package ships only the signed files, and installing it removes %s (sign it too, or install beside or in a directory)", sp.Name, sp.Name)
}

// compressedModule is how a compressed kernel module's name ends.
var compressedModule = []string{".ko.xz", ".ko.zst", ".ko.gz"}

// maxSigningYAML bounds signing.yaml; a template listing every module of a
// kernel flavour would be about 200 KiB.
const maxSigningYAML = 1 << 20

// pathRE is what a file's path may hold: the rules name it unquoted in
// make and shell, so no spaces, quotes, "$" or "%".
var pathRE = regexp.MustCompile(`^[A-Za-z0-9._+@~,=/-]+$`)

// ParseYAML parses signing.yaml strictly: one document, a mapping at each
// level with only the known keys, each once, and no aliases. name is the
// file's name in errors, which are *inputerr.Error with File set to name
// and Field to "line N: key.path".
func ParseYAML(name string, data []byte) (*Spec, error) {
	p := yamlParser{file: name}
	if len(data) > maxSigningYAML {
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("is %d bytes, more than the limit of %d", len(data), maxSigningYAML)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.errAt(nil, "", errors.New("is empty"))
		}
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: fmt.Errorf("invalid YAML: %w", err)}
	}
	var second yaml.Node
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: fmt.Errorf("invalid YAML: %w", err)}
		}
		return nil, p.errAt(&second, "", errors.New("a second YAML document: signing.yaml holds one"))
	}
	return p.spec(doc.Content[0])
}

type yamlParser struct{ file string }

// errAt is an error at node n (nil: the whole file) about key.
func (p yamlParser) errAt(n *yaml.Node, key string, err error) error {
	field := key
	if n != nil {
		field = fmt.Sprintf("line %d", n.Line)
		if key != "" {
			field += ": " + key
		}
	}
	return &inputerr.Error{File: p.file, Offset: inputerr.NoOffset, Field: field, Err: err}
}

// mapping returns the values of the mapping n by key, with the key nodes,
// refusing keys not in known, a key given twice and a missing required key.
func (p yamlParser) mapping(n *yaml.Node, path string, known, required []string) (map[string]*yaml.Node, error) {
	if err := p.noAlias(n, path); err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errAt(n, path, errors.New("must be a mapping"))
	}
	vals := map[string]*yaml.Node{}
	keyLine := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, p.errAt(k, path, errors.New("a key must be a plain string"))
		}
		kp := joinKey(path, k.Value)
		if known != nil && !slices.Contains(known, k.Value) {
			return nil, p.errAt(k, kp, fmt.Errorf("unknown key (known here: %s)", strings.Join(known, ", ")))
		}
		if l, dup := keyLine[k.Value]; dup {
			return nil, p.errAt(k, kp, fmt.Errorf("given twice (first on line %d)", l))
		}
		keyLine[k.Value] = k.Line
		vals[k.Value] = v
	}
	for _, r := range required {
		if _, ok := vals[r]; !ok {
			return nil, p.errAt(n, joinKey(path, r), errors.New("missing"))
		}
	}
	return vals, nil
}

func (p yamlParser) noAlias(n *yaml.Node, path string) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return p.errAt(n, path, errors.New("YAML anchors and aliases are not allowed"))
	}
	return nil
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// str is the string value of n; multiLine allows line breaks.
func (p yamlParser) str(n *yaml.Node, path string, multiLine bool) (string, error) {
	if err := p.noAlias(n, path); err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errAt(n, path, errors.New("must be a string"))
	}
	s := strings.TrimRight(n.Value, "\n")
	if strings.TrimSpace(s) == "" {
		return "", p.errAt(n, path, errors.New("is empty"))
	}
	for _, r := range s {
		if r == '\n' && multiLine {
			continue
		}
		// C1 controls and the Unicode line and paragraph separators too:
		// Python's str.splitlines, which a signing service reading
		// debian/control may use, breaks lines at NEL, U+2028 and U+2029.
		if r < ' ' && r != '\t' || r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 {
			if r == '\n' {
				return "", p.errAt(n, path, errors.New("must be one line"))
			}
			return "", p.errAt(n, path, fmt.Errorf("holds the control character %q", r))
		}
	}
	return s, nil
}

var topKeys = []string{"source", "maintainer", "section", "priority", "homepage", "description", "copyright", "license", "packages"}

func (p yamlParser) spec(top *yaml.Node) (*Spec, error) {
	vals, err := p.mapping(top, "", topKeys, []string{"source", "maintainer", "description", "copyright", "license", "packages"})
	if err != nil {
		return nil, err
	}
	s := &Spec{Section: "misc"}
	fields := []struct {
		key       string
		dst       *string
		multiLine bool
	}{
		{"source", &s.Source, false}, {"maintainer", &s.Maintainer, false}, {"section", &s.Section, false},
		{"priority", &s.Priority, false}, {"homepage", &s.Homepage, false}, {"description", &s.Description, true},
		{"copyright", &s.Copyright, true}, {"license", &s.License, true},
	}
	for _, f := range fields {
		n, ok := vals[f.key]
		if !ok {
			continue
		}
		v, err := p.str(n, f.key, f.multiLine)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(strings.SplitN(v, "\n", 2)[0], " \t") && (f.key == "source" || f.key == "section" || f.key == "priority" || f.key == "homepage") {
			return nil, p.errAt(n, f.key, fmt.Errorf("%s holds white space", inputerr.Value(v)))
		}
		*f.dst = v
	}
	if !debname.ValidPackage(s.Source) {
		return nil, p.errAt(vals["source"], "source", fmt.Errorf("%s is not a valid Debian package name", inputerr.Value(s.Source)))
	}
	if !strings.HasSuffix(s.Source, "-signed") {
		// The template package is <source>-template, and Debian's
		// signing service, as mksigned hook, finds templates by their
		// name's "-signed-template".
		return nil, p.errAt(vals["source"], "source", fmt.Errorf("%s does not end in -signed, as a signed source package's name does (its template package, <source>-template, must end in -signed-template)", inputerr.Value(s.Source)))
	}
	if !strings.Contains(s.Maintainer, "<") || !strings.HasSuffix(s.Maintainer, ">") {
		return nil, p.errAt(vals["maintainer"], "maintainer", fmt.Errorf("%s is not \"Name <address>\"", inputerr.Value(s.Maintainer)))
	}
	for _, k := range []string{"description", "license"} {
		if first := strings.SplitN(map[string]string{"description": s.Description, "license": s.License}[k], "\n", 2)[0]; strings.TrimSpace(first) == "" {
			return nil, p.errAt(vals[k], k, errors.New("its first line (the short form) is empty"))
		}
	}
	if err := checkLicence(s.License); err != nil {
		return nil, p.errAt(vals["license"], "license", err)
	}
	pkgs := vals["packages"]
	pvals, err := p.mapping(pkgs, "packages", nil, nil)
	if err != nil {
		return nil, err
	}
	if len(pvals) == 0 {
		return nil, p.errAt(pkgs, "packages", errors.New("names no package"))
	}
	for i := 0; i < len(pkgs.Content); i += 2 {
		sp, err := p.pkg(pkgs.Content[i], pkgs.Content[i+1])
		if err != nil {
			return nil, err
		}
		s.Packages = append(s.Packages, *sp)
	}
	slices.SortFunc(s.Packages, func(a, b SpecPackage) int { return strings.Compare(a.Name, b.Name) })
	signed := map[string]string{}
	shipped := map[string]SpecFile{} // by the path a signed package ships it at
	for _, sp := range s.Packages {
		sn := SignedName(sp.Name)
		if other, ok := signed[sn]; ok {
			return nil, p.errAt(pkgs, "packages", fmt.Errorf("%s and %s would both be signed as %s", other, sp.Name, sn))
		}
		signed[sn] = sp.Name
	}
	for _, sp := range s.Packages {
		if other, ok := signed[sp.Name]; ok {
			return nil, p.errAt(pkgs, "packages", fmt.Errorf("%s would be signed as %s, which is also an unsigned package here", other, sp.Name))
		}
	}
	for _, sp := range s.Packages {
		for _, f := range sp.Files {
			at := sp.SignedPath(f.Path)
			if other, ok := shipped[at]; ok {
				return nil, &inputerr.Error{File: p.file, Offset: inputerr.NoOffset, Field: fmt.Sprintf("line %d", f.Line),
					Err: fmt.Errorf("%s would be signed as /%s, as %s on line %d already is", inputerr.Value(f.Path), at, inputerr.Value(other.Path), other.Line)}
			}
			shipped[at] = f
		}
	}
	return s, nil
}

func (p yamlParser) pkg(key, val *yaml.Node) (*SpecPackage, error) {
	path := "packages." + key.Value
	if !debname.ValidPackage(key.Value) {
		return nil, p.errAt(key, path, fmt.Errorf("%s is not a valid Debian package name", inputerr.Value(key.Value)))
	}
	vals, err := p.mapping(val, path, []string{"files", "install"}, []string{"files", "install"})
	if err != nil {
		return nil, err
	}
	sp := &SpecPackage{Name: key.Value, Line: key.Line}
	if err := p.install(sp, vals["install"], path+".install"); err != nil {
		return nil, err
	}
	files := vals["files"]
	if err := p.noAlias(files, path+".files"); err != nil {
		return nil, err
	}
	if files.Kind != yaml.SequenceNode {
		return nil, p.errAt(files, path+".files", errors.New("must be a list"))
	}
	if len(files.Content) == 0 {
		return nil, p.errAt(files, path+".files", errors.New("is empty"))
	}
	seen := map[string]int{}
	for i, fn := range files.Content {
		fp := fmt.Sprintf("%s.files[%d]", path, i)
		fv, err := p.mapping(fn, fp, []string{"path", "sig-type"}, []string{"path", "sig-type"})
		if err != nil {
			return nil, err
		}
		raw, err := p.str(fv["path"], fp+".path", false)
		if err != nil {
			return nil, err
		}
		clean, err := CleanPath(raw)
		if err != nil {
			return nil, p.errAt(fv["path"], fp+".path", err)
		}
		if !pathRE.MatchString(clean) {
			return nil, p.errAt(fv["path"], fp+".path", fmt.Errorf("%s: only letters, digits and ._+@~,=/- are supported in paths yet (the rules name it unquoted)", inputerr.Value(clean)))
		}
		if l, dup := seen[clean]; dup {
			return nil, p.errAt(fv["path"], fp+".path", fmt.Errorf("%s is listed twice (first on line %d)", inputerr.Value(clean), l))
		}
		seen[clean] = fv["path"].Line
		st, err := p.str(fv["sig-type"], fp+".sig-type", false)
		if err != nil {
			return nil, err
		}
		t, err := sigtype.Get(st)
		if err != nil {
			return nil, p.errAt(fv["sig-type"], fp+".sig-type", err)
		}
		if t.Name == LinuxModule {
			for _, ext := range compressedModule {
				if strings.HasSuffix(clean, ext) {
					return nil, p.errAt(fv["path"], fp+".path", fmt.Errorf("%s is a compressed module (%s): its signature covers the uncompressed module, which the rules cannot make yet; ship it uncompressed", inputerr.Value(clean), ext))
				}
			}
		}
		sp.Files = append(sp.Files, SpecFile{File: File{Path: clean, SigType: t.Name}, Line: fv["path"].Line})
	}
	return sp, nil
}

// install reads install: "beside", "replace", or a mapping
// {directory: /absolute/path}.
func (p yamlParser) install(sp *SpecPackage, n *yaml.Node, path string) error {
	if err := p.noAlias(n, path); err != nil {
		return err
	}
	if n.Kind == yaml.MappingNode {
		vals, err := p.mapping(n, path, []string{InstallDirectory}, []string{InstallDirectory})
		if err != nil {
			return err
		}
		dn := vals[InstallDirectory]
		dp := path + "." + InstallDirectory
		d, err := p.str(dn, dp, false)
		if err != nil {
			return err
		}
		rel, ok := strings.CutPrefix(d, "/")
		if !ok {
			return p.errAt(dn, dp, fmt.Errorf("%s is not absolute: write it /%s", inputerr.Value(d), d))
		}
		clean, err := CleanPath(rel)
		if err != nil {
			return p.errAt(dn, dp, err)
		}
		if !pathRE.MatchString(clean) {
			return p.errAt(dn, dp, fmt.Errorf("%s: only letters, digits and ._+@~,=/- are supported in paths yet (the rules name it unquoted)", inputerr.Value(d)))
		}
		if top, _, _ := strings.Cut(clean, "/"); top == "DEBIAN" {
			return p.errAt(dn, dp, fmt.Errorf("%s is in DEBIAN/, which dpkg-deb takes as the control area, not as files to install", inputerr.Value(d)))
		}
		sp.Install, sp.Directory = InstallDirectory, clean
		return nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return p.errAt(n, path, fmt.Errorf("must be %q, %q or a mapping {directory: /path}", InstallBeside, InstallReplace))
	}
	v, err := p.str(n, path, false)
	if err != nil {
		return err
	}
	if v != InstallBeside && v != InstallReplace {
		return p.errAt(n, path, fmt.Errorf("%s is none of %q (<file>.signed beside the original), %q (the signed files under the original paths) and {directory: /path} (<base name>.signed in /path)",
			inputerr.Value(v), InstallBeside, InstallReplace))
	}
	sp.Install = v
	return nil
}

// SignedName is the binary package that ships the signed files of the
// unsigned package name: "-unsigned" becomes "-signed", else "-signed" is
// added.
func SignedName(name string) string {
	if base, ok := strings.CutSuffix(name, "-unsigned"); ok {
		return base + "-signed"
	}
	return name + "-signed"
}
