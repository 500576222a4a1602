package pkggen

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"sort"
	"strings"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// This file writes the .changes of a source-only upload as
// dpkg-genchanges -S does (dpkg 1.21, /usr/bin/dpkg-genchanges) when run
// in the extracted source tree with the .dsc and its files beside it and
// no debian/files (so no .buildinfo is listed), reading the top
// changelog entry as Dpkg::Changelog::Debian and
// Dpkg::Changelog::Entry::Debian do.

// changesOrder is %FIELD_ORDER for CTRL_FILE_CHANGES (dpkg 1.21).
var changesOrder = []string{
	"Format", "Date", "Source", "Binary", "Binary-Only", "Built-For-Profiles",
	"Architecture", "Version", "Distribution", "Urgency", "Maintainer",
	"Changed-By", "Description", "Closes", "Changes",
	"Checksums-Md5", "Checksums-Sha1", "Checksums-Sha256",
	"Files",
}

// ChangesName returns the name of src's source-only .changes:
// <Source>_<version without epoch>_source.changes.
func (s *Source) ChangesName() string { return s.BaseName() + "_source.changes" }

// Changes returns the .changes that dpkg-genchanges -S writes for src
// when the upload's files are files: the .dsc (by the name Build gives
// it, signed or not) and the files it names. The .dsc is listed first,
// then the others in the order given, each with the Section and Priority
// of debian/control's source stanza ("-" when it has none, as
// dpkg-genchanges writes after a warning). Date, Distribution, Urgency,
// Changed-By, Closes and Changes come from the top changelog entry, as
// written; SOURCE_DATE_EPOCH plays no part. Errors name
// debian/changelog.
func Changes(src *Source, files []File) (File, error) {
	if src == nil || src.fields == nil || src.control == nil {
		return File{}, errors.New("changes: source not read by ReadSource")
	}
	entry, err := parseTopEntry(src.changelog)
	if err != nil {
		return File{}, &inputerr.Error{Path: changelogPath, Offset: inputerr.NoOffset, Err: err}
	}
	f := newFieldMap()
	// debian/control's source stanza: Section and Priority for the
	// Files lines, Maintainer, and X[SBC]*- fields whose letters include
	// C.
	section, priority := "-", "-"
	for _, n := range src.control.names {
		v := src.control.values[strings.ToLower(n)]
		switch {
		case strings.EqualFold(n, "Section"):
			section = v
		case strings.EqualFold(n, "Priority"):
			priority = v
		case strings.EqualFold(n, "Description"), strings.EqualFold(n, "Source"):
		case strings.EqualFold(n, "Maintainer"):
			f.set("Maintainer", v)
		default:
			if t, ok := changesCustom(n); ok {
				f.set(t, v)
			}
		}
	}
	for _, kv := range entry.options {
		if t, ok := changesCustom(kv[0]); ok {
			f.set(t, kv[1])
		}
	}
	f.set("Version", src.version)
	f.set("Distribution", entry.distribution)
	f.set("Urgency", entry.urgency)
	f.set("Date", entry.date)
	f.set("Changed-By", entry.maintainer)
	if entry.closes != "" {
		f.set("Closes", entry.closes)
	}
	f.set("Changes", entry.changes)
	f.set("Format", "1.8")
	f.set("Architecture", "source")
	f.set("Source", src.Name)

	dscName := src.BaseName() + ".dsc"
	var ordered []File
	for _, file := range files {
		if file.Name == dscName {
			ordered = append([]File{file}, ordered...)
		} else {
			ordered = append(ordered, file)
		}
	}
	if len(ordered) == 0 || ordered[0].Name != dscName {
		return File{}, fmt.Errorf("changes: no %s among the files", dscName)
	}
	for _, file := range ordered {
		if !validPrefix(file.Name) || strings.ContainsAny(file.Name, perlSpace) {
			return File{}, fmt.Errorf("changes: file name %q: %w", file.Name, ErrUnsafePath)
		}
	}
	sums := func(h func() hash.Hash, extra string) string {
		var b strings.Builder
		for _, file := range ordered {
			d := h()
			d.Write(file.Data)
			fmt.Fprintf(&b, "\n%s %d %s%s", hex.EncodeToString(d.Sum(nil)), len(file.Data), extra, file.Name)
		}
		return b.String()
	}
	f.set("Checksums-Sha1", sums(sha1.New, ""))
	f.set("Checksums-Sha256", sums(sha256.New, ""))
	f.set("Files", sums(md5.New, section+" "+priority+" "))
	return File{Name: src.ChangesName(), Data: []byte(f.outputOrder(changesOrder))}, nil
}

// CheckChanges reports what would stop Changes for src (a top changelog
// entry dpkg-genchanges cannot read), before the work of building the
// files it lists.
func CheckChanges(src *Source) error {
	_, err := Changes(src, []File{{Name: src.BaseName() + ".dsc"}})
	return err
}

// changesCustom returns the name a custom field (X[SBC]*-Name) gets in a
// .changes, when its letters include C.
func changesCustom(name string) (string, bool) {
	name = fieldCapitalize(name)
	m := reCustom.FindStringSubmatch(name)
	if m == nil || !strings.ContainsAny(m[1], "Cc") {
		return "", false
	}
	return name[len(m[0]):], true
}

// topEntry is what dpkg-parsechangelog says of a changelog's top entry.
type topEntry struct {
	distribution string      // the header's distributions, joined by spaces
	urgency      string      // its first word, lower case; "unknown" when none
	options      [][2]string // the header's other key=value options, in order
	maintainer   string      // "Name <email>" of the trailer
	date         string      // the trailer's date, as written
	closes       string      // bugs closed, sorted by number
	changes      string      // the Changes field's value
}

// The header and trailer of an entry, Dpkg::Changelog::Entry::Debian's
// $regex_header and $regex_trailer (matched case-insensitively, as \w
// and \s are on bytes).
var (
	reEntryHeader  = regexp.MustCompile(`^(?i)(\w[-+0-9a-z.]*) \(([^() \t]+)\)((?:[ \t\n\r\f\v]+[-+0-9a-z.]+)+);(.*?)[ \t\n\r\f\v]*$`)
	reEntryTrailer = regexp.MustCompile(`^ -- (.*) <(.*)>(  ?)(((\w+),[ \t\n\r\f\v]*)?(\d{1,2}[ \t\n\r\f\v]+(\w+)[ \t\n\r\f\v]+\d{4}[ \t\n\r\f\v]+\d{1,2}:\d\d:\d\d[ \t\n\r\f\v]+[-+]\d{4}))[ \t\n\r\f\v]*$`)
	reChangeLine   = regexp.MustCompile(`^[ \t\n\r\f\v]{2,}[^ \t\n\r\f\v]`)
	reOption       = regexp.MustCompile(`^(?i)([-0-9a-z]+)=[ \t\n\r\f\v]*(.*[^ \t\n\r\f\v])$`)
	reOptionSep    = regexp.MustCompile(`[ \t\n\r\f\v]*,[ \t\n\r\f\v]*`)
	reCloses       = regexp.MustCompile(`(?i)closes:[ \t\n\r\f\v]*(?:bug)?#?[ \t\n\r\f\v]?\d+(?:,[ \t\n\r\f\v]*(?:bug)?#?[ \t\n\r\f\v]?\d+)*`)
	reClosesBug    = regexp.MustCompile(`#?[ \t\n\r\f\v]?(\d+)`)
)

// parseTopEntry reads the top entry of a changelog as dpkg-genchanges
// does (what dpkg-parsechangelog prints): lines before the header that
// are blank, lines of change data (indented by two or more white space
// bytes) and the blank lines between them, up to the trailer. A line
// indented by one space is dropped, as dpkg does after a warning. A
// header or trailer dpkg's expressions do not match is an error, as is a
// binary-only=yes entry, which a source upload cannot have.
func parseTopEntry(data []byte) (*topEntry, error) {
	text := string(data)
	// Up to the first trailer: linux's changelog is 3.7 MB.
	if i := strings.Index(text, "\n --"); i >= 0 {
		if j := strings.IndexByte(text[i+1:], '\n'); j >= 0 {
			text = text[:i+1+j]
		}
	}
	lines := strings.Split(text, "\n")
	i := 0
	for i < len(lines) && strings.Trim(lines[i], perlSpace) == "" {
		i++
	}
	if i == len(lines) {
		return nil, errors.New("the changelog is empty")
	}
	header := lines[i]
	m := reEntryHeader.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("top entry's header %s does not match dpkg's \"source (version) distribution; urgency=...\"", inputerr.Value(header))
	}
	e := &topEntry{distribution: strings.Join(strings.Fields(m[3]), " "), urgency: "unknown"}
	if opts := strings.TrimLeft(m[4], perlSpace); opts != "" {
		seen := map[string]bool{}
		for _, opt := range perlSplit(reOptionSep, opts) {
			kv := reOption.FindStringSubmatch(opt)
			if kv == nil {
				continue // dpkg: "bad key-value after ';'", and drops it
			}
			k, v := fieldCapitalize(kv[1]), kv[2]
			if seen[k] {
				continue // dpkg: "repeated key-value", and keeps the first
			}
			seen[k] = true
			switch k {
			case "Urgency":
				if j := strings.IndexAny(v, perlSpace); j >= 0 {
					v = v[:j]
				}
				e.urgency = strings.ToLower(v)
			case "Binary-Only":
				return nil, errors.New("top entry is binary-only=yes, which a source upload cannot be")
			default:
				e.options = append(e.options, [2]string{k, v})
			}
		}
	}
	var changes, blank []string
	trailer := ""
	for _, l := range lines[i+1:] {
		switch {
		case strings.HasPrefix(l, " --"):
			trailer = l
		case reChangeLine.MatchString(l):
			changes = append(changes, blank...)
			changes = append(changes, l)
			blank = blank[:0]
			continue
		case strings.Trim(l, perlSpace) == "":
			if len(changes) > 0 {
				blank = append(blank, l)
			}
			continue
		default:
			continue // dpkg: "unrecognized line", dropped
		}
		break
	}
	t := reEntryTrailer.FindStringSubmatch(trailer)
	if t == nil {
		return nil, fmt.Errorf("top entry's trailer %s does not match dpkg's \" -- name <email>  date\"", inputerr.Value(trailer))
	}
	e.maintainer = t[1] + " <" + t[2] + ">"
	e.date = t[4]
	e.closes = closes(strings.Join(changes, "\n"))
	e.changes = "\n" + strings.TrimRight(header, perlSpace) + "\n\n" + strings.Join(changes, "\n")
	return e, nil
}

// closes is Dpkg::Changelog::Entry::Debian::find_closes: the bug numbers
// of every "Closes: #n, #m" in text, once each, sorted by number.
func closes(text string) string {
	seen := map[string]bool{}
	var bugs []string
	for _, m := range reCloses.FindAllString(text, -1) {
		for _, b := range reClosesBug.FindAllStringSubmatch(m, -1) {
			if !seen[b[1]] {
				seen[b[1]] = true
				bugs = append(bugs, b[1])
			}
		}
	}
	num := func(s string) string { return strings.TrimLeft(s, "0") }
	sort.SliceStable(bugs, func(i, j int) bool {
		a, b := num(bugs[i]), num(bugs[j])
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return a < b
	})
	return strings.Join(bugs, " ")
}
