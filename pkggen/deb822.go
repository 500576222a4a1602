package pkggen

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// This file reads control files (debian/control, debian/tests/control) the
// way dpkg's Dpkg::Control::HashCore::parse does (dpkg 1.21), because the
// .dsc must repeat some values byte for byte: a field's value is the text
// after "Name:" on its line, then "\n" and each continuation line without
// its first whitespace byte, with one leading "." removed from lines made
// of dots only. Trailing whitespace is dropped from every line, lines
// starting with '#' are comments, and field names are case-insensitive.
//
// pault.ag/go/debian/control cannot be used for this: it cannot tell
// "Field: a" from "Field:\n a", and keeps ".." lines as they are.

// paragraph is one stanza of a control file.
type paragraph struct {
	line   int      // line number of its first field
	names  []string // field names as written, in order
	values map[string]string
}

// get returns the value of a field by case-insensitive name.
func (p *paragraph) get(name string) (string, bool) {
	v, ok := p.values[strings.ToLower(name)]
	return v, ok
}

// parseParagraphs parses a control file. file names it in errors.
func parseParagraphs(data []byte, file string) ([]*paragraph, error) {
	var paras []*paragraph
	var cur *paragraph
	var curField string
	// The current field's value: appending each continuation line to a
	// string took 55 s for a field of 160,000 lines.
	var value strings.Builder
	flush := func() {
		if curField != "" {
			cur.values[curField] = value.String()
		}
		value.Reset()
	}
	fail := func(lineNo int, format string, args ...any) error {
		return &inputerr.Error{Path: file, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("line %d: %s", lineNo, fmt.Sprintf(format, args...))}
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, raw := range lines {
		lineNo := i + 1
		line := strings.TrimRight(raw, perlSpace)
		if line == "" {
			flush()
			cur, curField = nil, ""
			continue
		}
		if line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "-----BEGIN PGP") {
			return nil, fail(lineNo, "OpenPGP signature not allowed here")
		}
		if strings.IndexByte(perlSpace, line[0]) >= 0 {
			if cur == nil || curField == "" {
				return nil, fail(lineNo, "continued value line not in field")
			}
			cont := line[1:]
			if strings.Trim(cont, ".") == "" {
				cont = cont[1:]
			}
			value.WriteString("\n")
			value.WriteString(cont)
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			return nil, fail(lineNo, "line with unknown format (not field-colon-value)")
		}
		name := strings.TrimRight(line[:colon], perlSpace)
		if name == "" || strings.ContainsAny(name, perlSpace) {
			return nil, fail(lineNo, "line with unknown format (not field-colon-value)")
		}
		if name[0] == '-' {
			return nil, fail(lineNo, "field cannot start with a hyphen")
		}
		flush()
		if cur == nil {
			cur = &paragraph{line: lineNo, values: map[string]string{}}
			paras = append(paras, cur)
		}
		key := strings.ToLower(name)
		if _, dup := cur.values[key]; dup {
			return nil, fail(lineNo, "duplicate field %s found", name)
		}
		cur.names = append(cur.names, name)
		cur.values[key] = ""
		value.WriteString(strings.TrimLeft(line[colon+1:], perlSpace))
		curField = key
	}
	flush()
	if len(paras) == 0 {
		return nil, &inputerr.Error{Path: file, Offset: inputerr.NoOffset, Err: errors.New("no paragraphs")}
	}
	return paras, nil
}

// perlSpace is what Perl's \s matches in a byte string.
const perlSpace = " \t\n\r\f\v"

// perlSplit splits s at each match of sep the way Perl's split does: an
// empty s gives no fields, and trailing empty fields are dropped. sep must
// not match the empty string.
func perlSplit(sep *regexp.Regexp, s string) []string {
	if s == "" {
		return nil
	}
	out := sep.Split(s, -1)
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
