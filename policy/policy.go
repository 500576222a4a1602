// Package policy reads a signing host's policy file and checks a signing
// request against it: which templates, packages and signature types each
// key may sign, how many files at once, and which trusted_certs a
// template may list (issue 10, §3). A policy file looks like this:
//
//	keys:
//	  - name: efi-2026              # optional, for the operator
//	    cert-sha256: 3f1c...        # SHA-256 of the certificate's DER
//	    templates: ["grub-efi-*-signed-template", "shim-helpers-*"]
//	    packages: ["grub-efi-amd64-bin", "shim-unsigned"]
//	    sig-types: [efi]
//	    max-files: 64
//	    trusted-certs: []           # fingerprints a template may list
//
// The signing host imports this package, so it must not import the
// parsers of binaries (deb, sign/efi, sign/kmod) nor what uses them.
package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mksigned/mksigned/internal/hexdigest"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/sign/sigtype"
)

// MaxSize is the largest policy file Load and Parse take. A policy is
// written by hand; a megabyte is thousands of keys.
const MaxSize = 1 << 20

// Policy is a parsed policy file.
type Policy struct{ Keys []Key }

// Key is what the key with one certificate may sign. Templates and
// Packages are path.Match patterns, matched against the whole name: *
// and ? match any characters, [a-z] and [^a-z] classes (not [!a-z]).
type Key struct {
	// Name is a label for the operator; nothing checks it.
	Name string `yaml:"name"`
	// CertSHA256 is the SHA-256 of the signing certificate's DER, 64
	// lower-case hex digits.
	CertSHA256 string   `yaml:"cert-sha256"`
	Templates  []string `yaml:"templates"` // patterns on the template's name
	Packages   []string `yaml:"packages"`  // patterns on unsigned package names
	SigTypes   []string `yaml:"sig-types"` // names of package sigtype
	MaxFiles   int      `yaml:"max-files"` // files in one request, > 0
	// TrustedCerts are the fingerprints (SHA-256, lower-case hex) a
	// template may list in its trusted_certs. Debian's service refuses
	// any other, so that code signed with a production key never trusts
	// a test certificate.
	TrustedCerts []string `yaml:"trusted-certs"`
}

// file is the policy file's top level.
type file struct {
	Keys []Key `yaml:"keys"`
}

// Load reads the policy file at path, of at most MaxSize bytes, and
// parses it.
func Load(path string) (*Policy, error) {
	data, err := inputfile.ReadFileLimit(context.Background(), path, MaxSize, "a policy file")
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses the contents of a policy file; name is the file's name,
// for errors. Unknown keys, a duplicate key, a value of the wrong type,
// a second document and every failed check below are errors that name
// the file and the line; all of them are reported at once.
func Parse(name string, data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, inputerr.WithFile(fmt.Errorf("is %d bytes, more than the %d a policy file may have", len(data), MaxSize), name)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	switch err := dec.Decode(&f); {
	case errors.Is(err, io.EOF):
		return nil, inputerr.WithFile(errors.New("is empty: it must list at least one key under \"keys\""), name)
	case err != nil:
		return nil, yamlError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, lineErr(name, next.Line, "", errors.New("a second YAML document: a policy file holds one"))
	case !errors.Is(err, io.EOF):
		return nil, yamlError(name, err)
	}
	// Parse again into nodes, for the lines of what the checks refuse.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	p := &Policy{Keys: f.Keys}
	if err := p.validate(name, nodeLines(&root)); err != nil {
		return nil, err
	}
	return p, nil
}

// validate checks every key, and returns every problem found.
func (p *Policy) validate(name string, nodes lines) error {
	var errs []error
	add := func(line int, field string, format string, args ...any) {
		errs = append(errs, lineErr(name, line, field, fmt.Errorf(format, args...)))
	}
	if len(p.Keys) == 0 {
		add(line(nodes.top, "keys", -1), "keys", "no keys: the policy must allow at least one key")
	}
	// yaml.v3's KnownFields lets a null key (~: 1) pass unremarked.
	for _, m := range append([]*yaml.Node{nodes.top}, nodes.keys...) {
		for i := 0; m != nil && m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
			if k := m.Content[i]; k.ShortTag() != "!!str" {
				add(k.Line, "", "unknown key %s (%s)", inputerr.Value(k.Value), k.ShortTag())
			}
		}
	}
	seen := map[string]int{} // cert-sha256 → index of its key
	for i, k := range p.Keys {
		var n *yaml.Node
		if i < len(nodes.keys) {
			n = nodes.keys[i]
		}
		field := func(f string) string { return fmt.Sprintf("keys[%d].%s", i, f) }
		item := func(f string, j int) string { return fmt.Sprintf("keys[%d].%s[%d]", i, f, j) }
		switch {
		case k.CertSHA256 == "":
			add(line(n, "", -1), field("cert-sha256"), "missing: the SHA-256 of the signing certificate's DER")
		case !hexdigest.IsSHA256(k.CertSHA256):
			add(line(n, "cert-sha256", -1), field("cert-sha256"), "%s is not a SHA-256 fingerprint (64 lower-case hex digits)", inputerr.Value(k.CertSHA256))
		default:
			if j, dup := seen[k.CertSHA256]; dup {
				add(line(n, "cert-sha256", -1), field("cert-sha256"), "the same certificate as keys[%d]: give each key one entry", j)
			}
			seen[k.CertSHA256] = i
		}
		for _, l := range []struct {
			key      string
			patterns []string
			what     string
		}{
			{"templates", k.Templates, "template names"},
			{"packages", k.Packages, "unsigned package names"},
		} {
			if len(l.patterns) == 0 {
				add(line(n, l.key, -1), field(l.key), "empty: give the patterns of the %s this key may sign (an empty list would allow nothing)", l.what)
			}
			for j, pat := range l.patterns {
				if err := checkPattern(pat); err != nil {
					add(line(n, l.key, j), item(l.key, j), "%w", err)
				}
			}
		}
		known := strings.Join(sigtype.Names(), ", ")
		if len(k.SigTypes) == 0 {
			add(line(n, "sig-types", -1), field("sig-types"), "empty: give the sig_types this key may sign (%s)", known)
		}
		for j, st := range k.SigTypes {
			if _, ok := sigtype.Lookup(st); !ok {
				add(line(n, "sig-types", j), item("sig-types", j), "unknown sig_type %s (known: %s)", inputerr.Value(st), known)
			}
		}
		switch v := value(n, "max-files"); {
		case v != nil && v.ShortTag() != "!!int":
			// yaml.v3 decodes 1.9 into an int as 1, without a word.
			add(v.Line, field("max-files"), "%s is not a whole number of files", inputerr.Value(v.Value))
		case k.MaxFiles <= 0:
			add(line(n, "max-files", -1), field("max-files"), "must be a positive number of files, got %d", k.MaxFiles)
		}
		for j, fp := range k.TrustedCerts {
			if !hexdigest.IsSHA256(fp) {
				add(line(n, "trusted-certs", j), item("trusted-certs", j), "%s is not a SHA-256 fingerprint (64 lower-case hex digits)", inputerr.Value(fp))
			}
		}
	}
	return errors.Join(errs...)
}

// checkPattern refuses an empty pattern and one path.Match cannot use.
// path.Match checks the whole pattern even when it does not match. It
// negates a class with [^...]; the shell's [!...] would match '!' there,
// the opposite of what its writer meant, so it is refused.
func checkPattern(pat string) error {
	if pat == "" {
		return errors.New("an empty pattern")
	}
	if strings.Contains(pat, "[!") {
		return fmt.Errorf("%s: write [^...], not [!...], for a class that matches what is not in it", inputerr.Value(pat))
	}
	if _, err := path.Match(pat, ""); err != nil {
		return fmt.Errorf("%s is not a valid pattern: %w", inputerr.Value(pat), err)
	}
	return nil
}

// lineErr is err at line (none when 0) of the policy file name, in field.
func lineErr(name string, line int, field string, err error) error {
	if line > 0 {
		field = strings.TrimSuffix(fmt.Sprintf("line %d: %s", line, field), ": ")
	}
	return &inputerr.Error{File: name, Offset: inputerr.NoOffset, Field: field, Err: err}
}

// unknownField is yaml.v3's message for a key KnownFields refuses; it
// names the Go type, which means nothing to the operator.
var unknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type \S+$`)

// yamlError is a YAML error naming the file: a type error becomes one
// line per problem, each with its line number.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return inputerr.WithFile(inputerr.Tame(err), name)
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("line %s: unknown key %s", m[1], inputerr.Value(m[2]))
		}
		errs = append(errs, inputerr.WithFile(inputerr.Tame(errors.New(msg)), name))
	}
	return errors.Join(errs...)
}

// lines are the nodes of a policy file, for the lines of errors.
type lines struct {
	top  *yaml.Node   // the top-level mapping, or nil
	keys []*yaml.Node // the mapping of each key under "keys"
}

// nodeLines finds the nodes of root, the document Parse decoded into a
// file already, so its shape is right.
func nodeLines(root *yaml.Node) lines {
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return lines{}
	}
	l := lines{top: root.Content[0]}
	if seq := value(l.top, "keys"); seq != nil && seq.Kind == yaml.SequenceNode {
		l.keys = seq.Content
	}
	return l
}

// value returns the value of key in the mapping n, or nil.
func value(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// line returns the line of key's value in the mapping n, of its item i
// when it is a list and i >= 0, or of n itself when key is missing; 0
// when not known.
func line(n *yaml.Node, key string, i int) int {
	if n == nil {
		return 0
	}
	v := value(n, key)
	if v == nil {
		return n.Line
	}
	if i >= 0 && v.Kind == yaml.SequenceNode && i < len(v.Content) {
		return v.Content[i].Line
	}
	return v.Line
}
