package pkggen

import (
	"sort"
	"strings"
)

// dscOrder is the field order of a .dsc: Dpkg::Control::FieldsCore's
// %FIELD_ORDER for CTRL_PKG_SRC (dpkg 1.21). Fields not listed go after
// Files, sorted by name, as Dpkg::Control::HashCore::output puts them.
var dscOrder = []string{
	"Format", "Source", "Binary", "Architecture", "Version", "Origin",
	"Maintainer", "Uploaders", "Homepage", "Description", "Standards-Version",
	"Vcs-Browser", "Vcs-Arch", "Vcs-Bzr", "Vcs-Cvs", "Vcs-Darcs", "Vcs-Git",
	"Vcs-Hg", "Vcs-Mtn", "Vcs-Svn",
	"Testsuite", "Testsuite-Triggers",
	"Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep",
	"Build-Conflicts", "Build-Conflicts-Arch", "Build-Conflicts-Indep",
	"Package-List",
	"Checksums-Md5", "Checksums-Sha1", "Checksums-Sha256",
	"Files",
}

// sourceToDsc lists the fields of debian/control's source stanza that
// dpkg-source copies into the .dsc as they are: those allowed both in
// CTRL_INFO_SRC and CTRL_PKG_SRC, less the ones it rewrites (Source,
// Uploaders, Build-*). Keys are lower case.
var sourceToDsc = map[string]bool{
	"description": true, "homepage": true, "maintainer": true, "origin": true,
	"standards-version": true, "testsuite": true, "testsuite-triggers": true,
	"vcs-arch": true, "vcs-browser": true, "vcs-bzr": true, "vcs-cvs": true,
	"vcs-darcs": true, "vcs-git": true, "vcs-hg": true, "vcs-mtn": true,
	"vcs-svn": true,
}

// fieldMap is a Dpkg::Control::HashCore: names are case-insensitive and
// keep the spelling they were first set with.
type fieldMap struct {
	names  map[string]string // lower case -> spelling
	values map[string]string // lower case -> value
}

func newFieldMap() *fieldMap {
	return &fieldMap{names: map[string]string{}, values: map[string]string{}}
}

func (m *fieldMap) set(name, value string) {
	k := strings.ToLower(name)
	if _, ok := m.names[k]; !ok {
		m.names[k] = name
	}
	m.values[k] = value
}

func (m *fieldMap) get(name string) (string, bool) {
	v, ok := m.values[strings.ToLower(name)]
	return v, ok
}

func (m *fieldMap) clone() *fieldMap {
	c := newFieldMap()
	for k, v := range m.names {
		c.names[k] = v
	}
	for k, v := range m.values {
		c.values[k] = v
	}
	return c
}

// output writes the fields as Dpkg::Control::HashCore::output does with
// drop_empty set: in dscOrder (matched by exact spelling), then the others
// by name; whitespace-only values are left out; continuation lines get a
// leading space, lose trailing whitespace, and empty or all-dot lines get a
// "." in front.
func (m *fieldMap) output() string { return m.outputOrder(dscOrder) }

// outputOrder is output with the fields in order (a %FIELD_ORDER list)
// rather than dscOrder.
func (m *fieldMap) outputOrder(order []string) string {
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i + 1
	}
	keys := make([]string, 0, len(m.names))
	for _, n := range m.names {
		keys = append(keys, n)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank[keys[i]], rank[keys[j]]
		switch {
		case ri != 0 && rj != 0:
			return ri < rj
		case ri != 0:
			return true
		case rj != 0:
			return false
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, name := range keys {
		v := m.values[strings.ToLower(name)]
		if strings.Trim(v, perlSpace) == "" {
			continue
		}
		lines := perlSplit(reNewline, v)
		first := ""
		if len(lines) > 0 {
			first, lines = lines[0], lines[1:]
		}
		b.WriteString(name + ":")
		if first != "" {
			b.WriteString(" " + first)
		}
		b.WriteString("\n")
		for _, l := range lines {
			l = strings.TrimRight(l, perlSpace)
			if strings.Trim(l, ".") == "" {
				b.WriteString(" .")
			} else {
				b.WriteString(" ")
			}
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// fieldCapitalize is Dpkg::Control::FieldsCore::field_capitalize.
func fieldCapitalize(name string) string {
	name = strings.ToLower(name)
	switch name {
	case "md5sum":
		return "MD5sum"
	case "md5", "sha1", "sha256":
		return strings.ToUpper(name)
	}
	parts := strings.Split(name, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

// customTarget returns the name a custom field (X[SBC]*-Name) gets in a
// .dsc, when its letters include S.
func customTarget(name string) (string, bool) {
	name = fieldCapitalize(name)
	m := reCustom.FindStringSubmatch(name)
	if m == nil || !strings.ContainsAny(m[1], "Ss") {
		return "", false
	}
	return name[len(m[0]):], true
}
