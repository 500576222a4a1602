package pkggen

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"pault.ag/go/debian/version"
)

// Build-Depends and friends are parsed, simplified and written back the way
// dpkg-source does it (dpkg 1.21: Dpkg::Deps deps_parse, simplify_deps and
// output; Dpkg::Deps::Simple, ::OR, ::AND, ::Union). The output form is
//
//	name[:archqual] (rel version) [arch ...] <profile ...> <profile ...>
//
// joined with " | " and ", ". pault.ag/go/debian/dependency writes the
// architecture list before the version, so it cannot be used.

// dep is one alternative of a dependency (Dpkg::Deps::Simple).
type dep struct {
	pkg          string
	archqual     string // "" when absent
	rel          string // "<<", "<=", "=", ">=", ">>", or "" when absent
	ver          string
	arches       []string   // nil when absent
	restrictions [][]string // nil when absent
}

// depGroup is one comma-separated element: a single dep (Simple) when it has
// one member, else an OR of its members.
type depGroup []*dep

func (d *dep) String() string {
	var b strings.Builder
	b.WriteString(d.pkg)
	if d.archqual != "" {
		b.WriteString(":" + d.archqual)
	}
	if d.rel != "" {
		fmt.Fprintf(&b, " (%s %s)", d.rel, d.ver)
	}
	if d.arches != nil {
		b.WriteString(" [" + strings.Join(d.arches, " ") + "]")
	}
	for _, r := range d.restrictions {
		b.WriteString(" <" + strings.Join(r, " ") + ">")
	}
	return b.String()
}

func (g depGroup) String() string {
	s := make([]string, len(g))
	for i, d := range g {
		s[i] = d.String()
	}
	return strings.Join(s, " | ")
}

func formatDeps(list []depGroup) string {
	s := make([]string, len(list))
	for i, g := range list {
		s[i] = g.String()
	}
	return strings.Join(s, ", ")
}

var (
	reLineBreak = regexp.MustCompile(`[ \t\n\r\f\v]*[\r\n][ \t\n\r\f\v]*`)
	reComma     = regexp.MustCompile(`[ \t\n\r\f\v]*,[ \t\n\r\f\v]*`)
	rePipe      = regexp.MustCompile(`[ \t\n\r\f\v]*\|[ \t\n\r\f\v]*`)
	// Dpkg::Deps::Simple::parse_string, with the package name pattern
	// chosen by depOptions.tests.
	reDep = `^\s*(%s)(?::([a-zA-Z0-9][a-zA-Z0-9-]*))?` +
		`(?:\s*\(\s*(<<|<=|=|>=|>>|[<>])\s*([^\)\s]+)\s*\))?` +
		`(?:\s*\[\s*([^\]]+)\s*\])?` +
		`((?:\s*<\s*[^>]+\s*>)+)?\s*$`
	reBuildDep  = regexp.MustCompile(fmt.Sprintf(reDep, `[a-zA-Z0-9][a-zA-Z0-9+.-]*`))
	reTestsDep  = regexp.MustCompile(fmt.Sprintf(reDep, `[@a-zA-Z0-9][@a-zA-Z0-9+.-]*`))
	reArch      = regexp.MustCompile(`^!?[a-zA-Z0-9][a-zA-Z0-9-]*$`)
	reProfOuter = regexp.MustCompile(`^\s*<\s*(.*)\s*>\s*$`)
	reProfSep   = regexp.MustCompile(`\s*>\s+<\s*`)
)

// Limits on a Build-Depends or Build-Conflicts field (each of the six).
// The largest of Debian's signing templates, the kernel's
// Build-Depends-Arch, is 479 bytes naming 6 packages. dpkg-source's
// simplification (simplifyAnd, simplifyUnion) compares every relation with
// every other: 40,000 relations took 40 s. Under these limits it takes
// milliseconds. template checks the size too, with the same number.
const (
	maxDependsField = 16 << 10 // bytes, as written
	maxDependsNames = 256      // package names, alternatives included
)

// checkDependsSize refuses a field's value larger than maxDependsField.
func checkDependsSize(v string) error {
	if len(v) > maxDependsField {
		return fmt.Errorf("is %d bytes, more than the %d a signing template's may have", len(v), maxDependsField)
	}
	return nil
}

// checkDependsNames refuses a parsed field naming more than
// maxDependsNames packages.
func checkDependsNames(list []depGroup) error {
	n := 0
	for _, g := range list {
		n += len(g)
	}
	if n > maxDependsNames {
		return fmt.Errorf("names %d packages (alternatives included), more than the %d a signing template's may have", n, maxDependsNames)
	}
	return nil
}

type depOptions struct {
	buildDep bool // accept the "native" arch qualifier
	testsDep bool // accept '@' in package names
	noArch   bool // drop architecture lists (use_arch => 0)
}

// parseDeps is deps_parse. A parse failure is an error (dpkg-source fails
// with "cannot parse <field> field").
func parseDeps(s string, opt depOptions) ([]depGroup, error) {
	s = reLineBreak.ReplaceAllString(s, " ")
	s = strings.Trim(s, perlSpace)
	var list []depGroup
	for _, and := range perlSplit(reComma, s) {
		var g depGroup
		for _, or := range perlSplit(rePipe, and) {
			d, err := parseDep(or, opt)
			if err != nil {
				return nil, err
			}
			g = append(g, d)
		}
		if len(g) > 0 {
			list = append(list, g)
		}
	}
	return list, nil
}

func parseDep(s string, opt depOptions) (*dep, error) {
	re := reBuildDep
	if opt.testsDep {
		re = reTestsDep
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return nil, fmt.Errorf("cannot parse dependency %q", s)
	}
	group := func(i int) (string, bool) {
		if m[2*i] < 0 {
			return "", false
		}
		return s[m[2*i]:m[2*i+1]], true
	}
	d := &dep{}
	d.pkg, _ = group(1)
	if q, ok := group(2); ok {
		if q == "native" && !opt.buildDep {
			return nil, fmt.Errorf("cannot parse dependency %q", s)
		}
		d.archqual = q
	}
	if r, ok := group(3); ok {
		switch r {
		case ">":
			r = ">="
		case "<":
			r = "<="
		}
		d.rel = r
		d.ver, _ = group(4)
	}
	if a, ok := group(5); ok && !opt.noArch {
		d.arches = strings.Fields(a)
		for _, arch := range d.arches {
			if !reArch.MatchString(arch) {
				return nil, fmt.Errorf("%q is not a legal architecture in list %q", arch, a)
			}
		}
	}
	if r, ok := group(6); ok {
		d.restrictions = parseProfiles(r)
	}
	return d, nil
}

// parseProfiles is Dpkg::BuildProfiles::parse_build_profiles.
func parseProfiles(s string) [][]string {
	if m := reProfOuter.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	out := [][]string{} // defined even when empty, as in dpkg
	for _, l := range perlSplit(reProfSep, s) {
		out = append(out, strings.Fields(l))
	}
	return out
}

// Three-valued results of an implication test, as in Dpkg::Deps (undef, 0,
// 1).
type tri int

const (
	unknown tri = iota
	no
	yes
)

// simplifyAnd is Dpkg::Deps::AND::simplify_deps with no known facts (as
// dpkg-source calls it): dependencies implied by another one are dropped,
// and when a later one implies an earlier one, the later one takes the
// earlier one's place.
func simplifyAnd(list []depGroup) []depGroup {
	var out []depGroup
	rest := append([]depGroup(nil), list...)
next:
	for len(rest) > 0 {
		d := rest[0]
		rest = rest[1:]
		for _, o := range out {
			if groupImplies(o, d) == yes {
				continue next
			}
		}
		for i, o := range rest {
			if groupImplies(o, d) == yes {
				rest = append(append([]depGroup{o}, rest[:i]...), rest[i+1:]...)
				continue next
			}
		}
		out = append(out, d)
	}
	return out
}

// groupImplies is implies() of Simple (one member) or OR (several).
func groupImplies(p, q depGroup) tri {
	if len(p) == 1 {
		return simpleImpliesGroup(p[0], q)
	}
	// Dpkg::Deps::OR::implies: only an OR can be implied, when each of
	// our members implies one of its members.
	if len(q) == 1 {
		return unknown
	}
	for _, d := range p {
		found := false
		for _, od := range q {
			if simpleImplies(d, od) == yes {
				found = true
			}
		}
		if !found {
			return unknown
		}
	}
	return yes
}

func simpleImpliesGroup(p *dep, q depGroup) tri {
	if len(q) == 1 {
		return simpleImplies(p, q[0])
	}
	res := unknown
	for _, od := range q {
		r := simpleImplies(p, od)
		if r != unknown {
			res = r
			if res == yes {
				break
			}
		}
	}
	return res
}

// simpleImplies is Dpkg::Deps::Simple::implies between two simple deps.
func simpleImplies(p, q *dep) tri {
	if p.pkg != q.pkg {
		return unknown
	}
	if !archIsSuperset(p.arches, q.arches) {
		return unknown
	}
	if p.archqual != q.archqual {
		return unknown
	}
	if !restrictionsImply(p.restrictions, q.restrictions) {
		return unknown
	}
	if q.rel == "" {
		return yes
	}
	if p.rel == "" {
		return unknown
	}
	return evalImplication(p.rel, p.ver, q.rel, q.ver)
}

// archIsSuperset is Dpkg::Deps::Simple::_arch_is_superset as it behaves:
// its "my $p_arch_neg = defined $p and ..." assigns "defined $p" (Perl's
// "and" binds looser than "="), so when both lists are present it always
// takes the both-negated branch: p's list must be a subset of q's.
func archIsSuperset(p, q []string) bool {
	if p == nil {
		return true
	}
	if q == nil {
		return false
	}
	qs := map[string]bool{}
	for _, a := range q {
		qs[a] = true
	}
	for _, a := range p {
		if !qs[a] {
			return false
		}
	}
	return true
}

func restrictionsImply(p, q [][]string) bool {
	if p == nil {
		return true
	}
	if q == nil {
		return false
	}
	key := func(l []string) string {
		c := append([]string(nil), l...)
		sort.Strings(c)
		return strings.Join(c, " ")
	}
	left := map[string]bool{}
	for _, l := range q {
		left[key(l)] = true
	}
	for _, l := range p {
		delete(left, key(l))
	}
	return len(left) == 0
}

// evalImplication is Dpkg::Deps::deps_eval_implication, including its
// REL_LT branch that compares p's version with itself.
func evalImplication(relP, verP, relQ, verQ string) tri {
	vp, err1 := parseVersion(verP)
	vq, err2 := parseVersion(verQ)
	if err1 != nil || err2 != nil {
		return unknown
	}
	c := version.Compare(vp, vq)
	b := func(cond bool, t, f tri) tri {
		if cond {
			return t
		}
		return f
	}
	switch relQ {
	case "=":
		switch relP {
		case "<<":
			return b(c <= 0, no, unknown)
		case "<=":
			return b(c < 0, no, unknown)
		case ">>":
			return b(c >= 0, no, unknown)
		case ">=":
			return b(c > 0, no, unknown)
		case "=":
			return b(c == 0, yes, no)
		}
	case "<=":
		switch relP {
		case ">>":
			return b(c >= 0, no, unknown)
		case ">=":
			return b(c > 0, no, unknown)
		case "=":
			return b(c <= 0, yes, no)
		default:
			return b(c <= 0, yes, unknown)
		}
	case "<<":
		switch relP {
		case ">>", ">=":
			return no // dpkg compares v_p >= v_p here
		case "<<":
			return b(c <= 0, yes, unknown)
		case "=":
			return b(c < 0, yes, no)
		default:
			return b(c < 0, yes, unknown)
		}
	case ">=":
		switch relP {
		case "<<":
			return b(c <= 0, no, unknown)
		case "<=":
			return b(c < 0, no, unknown)
		case "=":
			return b(c >= 0, yes, no)
		default:
			return b(c >= 0, yes, unknown)
		}
	case ">>":
		switch relP {
		case "<<", "<=":
			return b(c <= 0, no, unknown)
		case ">>":
			return b(c >= 0, yes, unknown)
		case "=":
			return b(c > 0, yes, no)
		default:
			return b(c > 0, yes, unknown)
		}
	}
	return unknown
}

// simplifyUnion is Dpkg::Deps::Union::simplify_deps followed by sort, for
// Build-Conflicts*. Every element is a single dep (parseDeps callers check).
func simplifyUnion(list []depGroup) []depGroup {
	var out []depGroup
next:
	for _, g := range list {
		for _, o := range out {
			if mergeUnion(o[0], g[0]) {
				continue next
			}
		}
		c := *g[0]
		out = append(out, depGroup{&c})
	}
	sort.SliceStable(out, func(i, j int) bool { return compareDeps(out[i][0], out[j][0]) < 0 })
	return out
}

// mergeUnion is Dpkg::Deps::Simple::merge_union.
func mergeUnion(p, q *dep) bool {
	if p.pkg != q.pkg || p.arches != nil || q.arches != nil {
		return false
	}
	if q.rel == "" && p.rel != "" {
		p.rel, p.ver = "", ""
		return true
	}
	if r := simpleImplies(p, q); r != unknown {
		if r == yes {
			p.rel, p.ver = q.rel, q.ver
			return true
		}
		return false
	}
	return simpleImplies(q, p) == yes
}

// compareDeps is Dpkg::Deps::deps_compare for two simple deps.
func compareDeps(a, b *dep) int {
	if c := strings.Compare(a.pkg, b.pkg); c != 0 {
		return c
	}
	order := map[string]int{"": 0, ">=": 1, ">>": 2, "=": 3, "<<": 4, "<=": 5}
	if c := order[a.rel] - order[b.rel]; c != 0 {
		return c
	}
	va, err1 := parseVersion(a.ver)
	vb, err2 := parseVersion(b.ver)
	if err1 != nil || err2 != nil {
		return strings.Compare(a.ver, b.ver)
	}
	return version.Compare(va, vb)
}

// checkVersion is Dpkg::Version::version_check.
func checkVersion(s string) error {
	if s == "" {
		return errors.New("version number cannot be empty")
	}
	epoch, rest, hasEpoch := "0", s, false
	if i := strings.IndexByte(s, ':'); i >= 0 && i+1 < len(s) {
		epoch, rest, hasEpoch = s[:i], s[i+1:], true
	}
	upstream, revision := rest, "0"
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		upstream, revision = rest[:i], rest[i+1:]
	}
	switch {
	case hasEpoch && epoch == "":
		return errors.New("epoch part of the version number cannot be empty")
	case upstream == "":
		return errors.New("upstream version cannot be empty")
	case revision == "":
		return errors.New("revision cannot be empty")
	case upstream[0] < '0' || upstream[0] > '9':
		return errors.New("version number does not start with digit")
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-+:.~", c) >= 0) {
			return fmt.Errorf("version number contains illegal character %q", c)
		}
	}
	for _, c := range []byte(epoch) {
		if c < '0' || c > '9' {
			return fmt.Errorf("epoch part of the version number is not a number: %q", epoch)
		}
	}
	return nil
}

// parseVersion checks s as dpkg does and parses it for comparison.
func parseVersion(s string) (version.Version, error) {
	if err := checkVersion(s); err != nil {
		return version.Version{}, err
	}
	return version.Parse(s)
}

var (
	reNewline = regexp.MustCompile(`\n`)
	reCustom  = regexp.MustCompile(`^(?i)X([SBC]*)-`)
)
