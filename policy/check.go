package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/sigreq"
)

// MaxReasons is how many reasons a Refusal lists; the rest it counts.
// A request of 100,000 files of a forbidden package would otherwise make
// a message of 100,000 lines.
const MaxReasons = 50

// Refusal is a request the policy refuses as a whole: nothing in it may
// be signed. Reasons lists the first MaxReasons reasons, in a fixed
// order: those about the whole request (template, file count,
// trusted_certs), then those about each file, in the request's order.
type Refusal struct {
	Reasons []string
	// Omitted counts the reasons after the first MaxReasons, not listed.
	Omitted int
}

// Error is "policy refuses the request: REASON" for one reason, else the
// count and one reason a line.
func (r *Refusal) Error() string {
	n := len(r.Reasons) + r.Omitted
	switch {
	case n == 0:
		return "policy refuses the request"
	case n == 1 && r.Omitted == 0:
		return "policy refuses the request: " + r.Reasons[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "policy refuses the request: %d reasons:", n)
	for _, s := range r.Reasons {
		b.WriteString("\n  - " + s)
	}
	if r.Omitted > 0 {
		fmt.Fprintf(&b, "\n  - and %d more", r.Omitted)
	}
	return b.String()
}

func (r *Refusal) add(format string, args ...any) {
	if len(r.Reasons) < MaxReasons {
		r.Reasons = append(r.Reasons, fmt.Sprintf(format, args...))
	} else {
		r.Omitted++
	}
}

// Check returns nil if the key whose certificate has SHA-256 certSHA256
// (lower-case hex) may sign every file of req, and otherwise a *Refusal
// with every reason. A certificate no key has is the one reason then.
func (p *Policy) Check(certSHA256 string, req *sigreq.Request) error {
	r := &Refusal{}
	i := slices.IndexFunc(p.Keys, func(k Key) bool { return k.CertSHA256 == certSHA256 })
	if i < 0 {
		r.add("no key in the policy has the certificate with SHA-256 %s", inputerr.Value(certSHA256))
		return r
	}
	k := &p.Keys[i]
	if !matchAny(k.Templates, req.Template.Name) {
		r.add("template %s is not allowed for this key", inputerr.Name(req.Template.Name))
	}
	if len(req.Files) > k.MaxFiles {
		r.add("%d files, more than this key's max-files of %d", len(req.Files), k.MaxFiles)
	}
	for _, fp := range req.Template.TrustedCerts {
		if !slices.Contains(k.TrustedCerts, fp) {
			r.add("trusted_cert %s is not in this key's trusted-certs", inputerr.Value(fp))
		}
	}
	for _, f := range req.Files {
		where := inputerr.Name(f.Package) + ": " + inputerr.Name(f.Path)
		if !matchAny(k.Packages, f.Package) {
			r.add("%s: package %s is not allowed for this key", where, inputerr.Name(f.Package))
		}
		if !slices.Contains(k.SigTypes, f.SigType) {
			r.add("%s: sig_type %s is not allowed for this key", where, inputerr.Value(f.SigType))
		}
	}
	if len(r.Reasons) > 0 {
		return r
	}
	return nil
}

// matchAny reports whether name matches one of patterns, which validate
// has checked.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
