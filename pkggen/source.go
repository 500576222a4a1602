package pkggen

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/internal/debchangelog"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// Paths read from the tree.
const (
	changelogPath    = "debian/changelog"
	controlPath      = "debian/control"
	testsControlPath = "debian/tests/control"
	formatPath       = "debian/source/format"
)

// Format is the only source format pkggen writes.
const Format = "3.0 (native)"

// Source is what the .dsc says about a source package, read from a tree by
// ReadSource the way dpkg-source -b reads it (dpkg 1.21, /usr/bin/dpkg-source).
type Source struct {
	Name    string          // the Source field
	Version version.Version // from the top changelog entry
	Date    time.Time       // date of the top changelog entry

	version string    // Version as written in the changelog
	fields  *fieldMap // every .dsc field but the checksums

	changelog []byte     // debian/changelog, for Changes
	control   *paragraph // debian/control's source stanza, for Changes
}

// Architectures returns the architectures the source package builds
// for, as its .dsc's Architecture field lists them ("amd64", "any", "all",
// "linux-any", ...).
func (s *Source) Architectures() []string {
	v, _ := s.fields.get("Architecture")
	return strings.Fields(v)
}

// VersionString returns the version exactly as the changelog writes it.
func (s *Source) VersionString() string { return s.version }

// BaseName returns "<Source>_<version without epoch>", the name of the .dsc
// and .tar.xz without their extensions.
func (s *Source) BaseName() string {
	v := s.version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return s.Name + "_" + v
}

// reSourceName is Dpkg::Package::pkg_name_is_illegal's rule. It also keeps
// the name safe to use in file names.
var reSourceName = regexp.MustCompile(`^[0-9a-z][-+.0-9a-z]*$`)

// ReadSource reads debian/changelog (top entry), debian/control and, when
// present, debian/tests/control from tree, and works out the fields of the
// .dsc as dpkg-source -b does. debian/source/format must say "3.0 (native)".
// Errors are *inputerr.Error values naming the file (Path) and, where one is
// to blame, the field (Field).
func ReadSource(tree []Entry) (*Source, error) {
	if _, err := buildTree(tree, time.Unix(0, 0)); err != nil {
		return nil, err
	}
	if err := checkFormat(tree); err != nil {
		return nil, err
	}
	src := &Source{fields: newFieldMap()}
	src.fields.set("Format", Format)
	if err := src.readChangelog(tree); err != nil {
		return nil, err
	}
	data, err := regularFile(tree, controlPath)
	if err != nil {
		return nil, err
	}
	paras, err := parseParagraphs(data, controlPath)
	if err != nil {
		return nil, err
	}
	if err := src.readControl(tree, paras); err != nil {
		return nil, err
	}
	return src, nil
}

func checkFormat(tree []Entry) error {
	data, err := regularFile(tree, formatPath)
	if err != nil {
		return err
	}
	if f := strings.Trim(string(data), perlSpace); f != Format {
		return &inputerr.Error{Path: formatPath, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("source format %s is not %q", inputerr.Value(f), Format)}
	}
	return nil
}

// regularFile returns the data of the regular file name in tree.
func regularFile(tree []Entry, name string) ([]byte, error) {
	e := lookup(tree, name)
	if e == nil {
		return nil, &inputerr.Error{Path: name, Offset: inputerr.NoOffset, Err: fs.ErrNotExist}
	}
	if !e.Mode.IsRegular() {
		return nil, &inputerr.Error{Path: name, Offset: inputerr.NoOffset, Err: errors.New("not a regular file")}
	}
	return e.Data, nil
}

func (s *Source) readChangelog(tree []Entry) error {
	data, err := regularFile(tree, changelogPath)
	if err != nil {
		return err
	}
	fail := func(field string, err error) error {
		return &inputerr.Error{Path: changelogPath, Offset: inputerr.NoOffset, Field: field, Err: err}
	}
	// The version as written: pault's parser trims the text between the
	// first "(" and ")" of the header, and so does dpkg's.
	header := string(data)
	header = strings.TrimLeft(header, "\n")
	if i := strings.IndexByte(header, '\n'); i >= 0 {
		header = header[:i]
	}
	open, closing := strings.IndexByte(header, '('), strings.IndexByte(header, ')')
	if open < 0 || closing < open {
		return fail("Version", errors.New("no version in the top entry's header"))
	}
	s.version = strings.Trim(header[open+1:closing], perlSpace)
	if err := checkVersion(s.version); err != nil {
		return fail("Version", fmt.Errorf("%s: %w", inputerr.Value(s.version), err))
	}
	entry, err := debchangelog.ParseTop(data)
	if err != nil {
		return fail("", fmt.Errorf("top entry: %w", err))
	}
	s.Version = entry.Version
	s.Name = entry.Source
	if !reSourceName.MatchString(s.Name) {
		return fail("Source", fmt.Errorf("illegal source package name %s", inputerr.Value(s.Name)))
	}
	s.Date = entry.When
	s.changelog = data
	return nil
}

func (s *Source) readControl(tree []Entry, paras []*paragraph) error {
	fail := func(p *paragraph, field string, err error) error {
		if p != nil {
			err = fmt.Errorf("paragraph at line %d: %w", p.line, err)
		}
		return &inputerr.Error{Path: controlPath, Offset: inputerr.NoOffset, Field: field, Err: err}
	}
	srcPara := paras[0]
	s.control = srcPara
	name, ok := srcPara.get("Source")
	if !ok {
		return fail(srcPara, "Source", errors.New("first paragraph lacks a Source field"))
	}
	if name != s.Name {
		return fail(srcPara, "Source", fmt.Errorf("source package has two conflicting values: %s (%s) and %s (%s)", inputerr.Value(s.Name), changelogPath, inputerr.Value(name), controlPath))
	}
	f := s.fields
	for _, n := range srcPara.names {
		v := srcPara.values[strings.ToLower(n)]
		lower := strings.ToLower(n)
		// dpkg-source writes every field it copies in its canonical
		// spelling, so that its canonical place in the .dsc applies
		// ("build-depends:" becomes Build-Depends, after Vcs-*).
		n := fieldCapitalize(n)
		switch {
		case lower == "source":
			f.set(n, v)
		case lower == "uploaders":
			f.set(n, reLineBreak.ReplaceAllString(v, " "))
		case reBuildDepField.MatchString(n):
			union := strings.HasPrefix(lower, "build-conflicts")
			if err := checkDependsSize(v); err != nil {
				return fail(srcPara, n, err)
			}
			list, err := parseDeps(v, depOptions{buildDep: true})
			if err == nil {
				err = checkDependsNames(list)
			}
			if err != nil {
				return fail(srcPara, n, err)
			}
			if union {
				for _, g := range list {
					if len(g) > 1 {
						return fail(srcPara, n, errUnionOr)
					}
				}
				list = simplifyUnion(list)
			} else {
				list = simplifyAnd(list)
			}
			f.set(n, formatDeps(list))
		case sourceToDsc[lower]:
			f.set(n, v)
		default:
			if err := setCustom(f, n, v); err != nil {
				return fail(srcPara, n, err)
			}
		}
	}
	srcSect := orDefault(srcPara, "Section", "unknown")
	srcPrio := orDefault(srcPara, "Priority", "unknown")

	var binaries, pkgList, archs []string
	seenArch := map[string]bool{}
	for _, p := range paras[1:] {
		pkg, ok := p.get("Package")
		if !ok {
			return fail(p, "Package", errors.New("paragraph lacks the Package field"))
		}
		arch, ok := p.get("Architecture")
		if !ok {
			return fail(p, "Architecture", fmt.Errorf("binary package %s has no Architecture field", pkg))
		}
		typ := orDefault(p, "Package-Type", "")
		if typ == "" {
			typ = customValue(p, "Package-Type")
		}
		if !perlTrue(typ) {
			typ = "deb"
		}
		summary := fmt.Sprintf("%s %s %s %s arch=%s", pkg, typ,
			orDefault(p, "Section", srcSect), orDefault(p, "Priority", srcPrio),
			strings.Join(strings.Fields(arch), ","))
		if prof, ok := p.get("Build-Profiles"); ok {
			if m := reProfileOuter.FindStringSubmatch(prof); m != nil {
				prof = m[1]
			}
			prof = reProfileOr.ReplaceAllString(prof, "+")
			prof = reSpaces.ReplaceAllString(prof, ",")
			summary += " profile=" + prof
		}
		if v, _ := p.get("Protected"); v == "yes" {
			summary += " protected=yes"
		}
		if v, _ := p.get("Essential"); v == "yes" {
			summary += " essential=yes"
		}
		pkgList = append(pkgList, summary)
		binaries = append(binaries, pkg)

		for _, n := range p.names {
			v := p.values[strings.ToLower(n)]
			switch strings.ToLower(n) {
			case "architecture":
				if v == "any" || v == "all" {
					if !seenArch[v] {
						seenArch[v] = true
						archs = append(archs, v)
					}
					continue
				}
				for _, a := range perlSplit(reSpaces, v) {
					if !reArch.MatchString(a) {
						return fail(p, n, fmt.Errorf("%s is not a legal architecture string in package %s", inputerr.Value(a), inputerr.Value(pkg)))
					}
					if a == "any" || a == "all" {
						return fail(p, n, fmt.Errorf("architecture %s only allowed on its own (list for package %s is %s)", a, inputerr.Value(pkg), inputerr.Value(v)))
					}
					if !seenArch[a] {
						seenArch[a] = true
						archs = append(archs, a)
					}
				}
			case "homepage", "description":
			default:
				if err := setCustom(f, n, v); err != nil {
					return fail(p, n, err)
				}
			}
		}
	}
	if len(binaries) == 0 {
		return fail(nil, "", errors.New("no binary package listed"))
	}
	archField, err := sourceArchitecture(archs)
	if err != nil {
		return fail(nil, "Architecture", err)
	}
	f.set("Architecture", archField)
	sort.Strings(pkgList)
	f.set("Package-List", "\n"+strings.Join(pkgList, "\n"))
	if err := s.setTestsuite(tree, binaries); err != nil {
		return err
	}
	f.set("Source", s.Name)
	f.set("Version", s.version)
	binary := strings.Join(binaries, ", ")
	if len(binary) > 980 {
		binary = reFoldBinary().ReplaceAllString(binary, "$1,\n")
	}
	f.set("Binary", binary)
	return nil
}

var errUnionOr = errors.New("an union dependency can only contain simple dependencies")

var (
	reBuildDepField = regexp.MustCompile(`^(?i)Build-(?:Depends|Conflicts)(?:-Arch|-Indep)?$`)
	reProfileOuter  = regexp.MustCompile(`^\s*<(.*)>\s*$`)
	reProfileOr     = regexp.MustCompile(`>\s+<`)
	reSpaces        = regexp.MustCompile(`[ \t\n\r\f\v]+`)
	// Compiled when first needed: its 980 repetitions took 3 ms and 4,000
	// allocations at every start, a tenth of a small run.
	reFoldBinary = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(.{0,980}), ?`) })
)

// setCustom copies a custom field X[SBC]*-Name whose letters include S to
// the .dsc as Name (Dpkg::Control::FieldsCore::field_transfer_single);
// other fields are dropped.
func setCustom(f *fieldMap, name, value string) error {
	target, ok := customTarget(name)
	if !ok {
		return nil
	}
	if strings.EqualFold(target, "Format") {
		return errors.New("a custom field may not set the source format")
	}
	f.set(target, value)
	return nil
}

// customValue is Dpkg::Control::HashCore::get_custom_field.
func customValue(p *paragraph, name string) string {
	for _, n := range p.names {
		if m := reCustom.FindStringIndex(n); m != nil && strings.EqualFold(n[m[1]:], name) {
			return p.values[strings.ToLower(n)]
		}
	}
	return ""
}

// orDefault is Perl's "$p->{name} || $def".
func orDefault(p *paragraph, name, def string) string {
	if v, ok := p.get(name); ok && perlTrue(v) {
		return v
	}
	return def
}

func perlTrue(s string) bool { return s != "" && s != "0" }

// sourceArchitecture is the union of the binaries' architectures as
// dpkg-source reduces it: "any" swallows everything but "all"; otherwise
// wildcards come first and concrete architectures they cover are dropped.
// Deciding coverage needs dpkg's architecture tables, so a list that mixes
// wildcards with concrete architectures (other than "all") is refused.
func sourceArchitecture(archs []string) (string, error) {
	hasAny, hasAll := false, false
	var wild, concrete []string
	for _, a := range archs {
		switch {
		case a == "any":
			hasAny = true
		case a == "all":
			hasAll = true
			concrete = append(concrete, a)
		case isWildcard(a):
			wild = append(wild, a)
		default:
			concrete = append(concrete, a)
		}
	}
	if hasAny {
		if hasAll {
			return "any all", nil
		}
		return "any", nil
	}
	if len(wild) > 0 && len(concrete) > 0 && !(len(concrete) == 1 && hasAll) {
		return "", fmt.Errorf("architecture wildcards %v together with architectures %v are not supported", wild, concrete)
	}
	return strings.Join(append(wild, concrete...), " "), nil
}

// isWildcard is Dpkg::Arch::debarch_is_wildcard for names other than "all".
func isWildcard(a string) bool {
	for _, part := range strings.SplitN(a, "-", 4) {
		if part == "any" {
			return true
		}
	}
	return false
}

// Epoch returns the time dpkg-source uses for SOURCE_DATE_EPOCH:
// sourceDateEpoch (the environment variable's value) when set, else the
// date of the top changelog entry. As in dpkg-source (Perl's "||="), an
// empty value and "0" count as unset. Anything but decimal digits is an
// error, and so is a time a tar header cannot hold (before 1970, or
// after 2242, past 11 octal digits of seconds): a changelog date out of
// that range is an *inputerr.Error naming debian/changelog.
func Epoch(src *Source, sourceDateEpoch string) (time.Time, error) {
	if sourceDateEpoch == "" || sourceDateEpoch == "0" {
		if n := src.Date.Unix(); n < 0 || n > maxOctal11 {
			return time.Time{}, &inputerr.Error{Path: changelogPath, Field: "Date", Offset: inputerr.NoOffset,
				Err: fmt.Errorf("the top entry's date, %s, is out of the range a tarball's timestamps hold (1970 to 2242); set SOURCE_DATE_EPOCH to choose another",
					src.Date.Format(time.RFC1123Z))}
		}
		return time.Unix(src.Date.Unix(), 0).UTC(), nil
	}
	for _, c := range []byte(sourceDateEpoch) {
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %s is not a decimal number of seconds", inputerr.Value(sourceDateEpoch))
		}
	}
	n, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
	if err != nil || n > maxOctal11 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %s is out of range (at most %d, in 2242)", inputerr.Value(sourceDateEpoch), int64(maxOctal11))
	}
	return time.Unix(n, 0).UTC(), nil
}
