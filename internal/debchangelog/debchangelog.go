// Package debchangelog reads the top entry of a debian/changelog as
// dpkg-parsechangelog does, on top of pault.ag/go/debian/changelog.
package debchangelog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"pault.ag/go/debian/changelog"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// oneDigitDay matches a trailer line whose date has a one-digit day
// (" -- Name <mail>  Mon, 1 Jan 2020 ..."), which dpkg accepts (strptime's
// %d) and pault's fixed layout does not.
var oneDigitDay = regexp.MustCompile(`(?m)^( -- .*  \w{3}, +)(\d)( \w{3} \d{4} )`)

// dateLayout is the trailer's date, as pault.ag/go/debian/changelog
// parses it (RFC 5322's, which dpkg writes: date -R).
const dateLayout = time.RFC1123Z

// ParseTop parses the top entry of a changelog. Its errors say what is
// wrong in words, never a bare io.EOF, and quote at most
// inputerr.MaxValue bytes of the text. The entry's text is not kept
// (Changelog is empty): pault's parser builds it by appending each line
// to a string, which took 55 s for a top entry of 160,000 lines. ParseTop
// checks those lines as pault would and hands it only the header and the
// trailer, so that it takes time linear in the entry's size.
func ParseTop(data []byte) (*changelog.ChangelogEntry, error) {
	data = fixDay(topEntry(data))
	if err := checkShape(data); err != nil {
		return nil, err
	}
	e, err := changelog.ParseOne(bufio.NewReader(bytes.NewReader(withoutBody(data))))
	if err != nil {
		return nil, inputerr.Tame(err)
	}
	return e, nil
}

// checkShape reports, in words, what pault's parser would fail on with
// io.EOF or with the whole of a line or date in its message: no entry, an
// entry that starts indented, a line in it that is not, no trailer line,
// and a trailer date it cannot parse. It reads data (the top entry) as that parser
// does.
func checkShape(data []byte) error {
	lines := strings.SplitAfter(string(data), "\n")
	i := 0
	for i < len(lines) && lines[i] == "\n" {
		i++
	}
	if i == len(lines) || lines[i] == "" {
		return errors.New("the changelog is empty")
	}
	if strings.HasPrefix(lines[i], " ") {
		return fmt.Errorf("first line %s is indented: an entry starts with its header, \"source (version) distribution; urgency=...\"",
			inputerr.Value(strings.TrimSuffix(lines[i], "\n")))
	}
	for _, l := range lines[i+1:] {
		if !strings.HasPrefix(l, " ") && strings.Trim(l, "\n\r\t ") != "" {
			return fmt.Errorf("line %s is not indented: an entry's changes are, and its trailer line \" -- name <email>  date\" ends it",
				inputerr.Value(strings.TrimSuffix(l, "\n")))
		}
		if !strings.HasPrefix(l, " -- ") || !strings.HasSuffix(l, "\n") {
			continue
		}
		// pault: the text after the first "--", from its first "  ".
		_, signoff, _ := strings.Cut(l, "--")
		_, when, _ := strings.Cut(signoff, "  ")
		when = strings.Trim(when, "\n\r\t ")
		if _, err := time.Parse(dateLayout, when); err != nil {
			return fmt.Errorf("trailer line: date %s is not of the form %q", inputerr.Value(when), "Mon, 02 Jan 2006 15:04:05 -0700")
		}
		return nil
	}
	return errors.New("no trailer line (\" -- name <email>  date\", ending in a newline)")
}

// fixDay rewrites a one-digit day in the trailer to two digits.
func fixDay(data []byte) []byte {
	loc := oneDigitDay.FindSubmatchIndex(data)
	if loc == nil {
		return data
	}
	fixed := make([]byte, 0, len(data)+1)
	fixed = append(fixed, data[:loc[2]]...)
	fixed = append(fixed, bytes.TrimRight(data[loc[2]:loc[3]], " ")...)
	fixed = append(fixed, ' ', '0')
	fixed = append(fixed, data[loc[4]:]...)
	return fixed
}

// withoutBody returns entry, a top entry, without the lines between its
// header and its trailer, when pault's ParseOne would accept each of them
// (it accepts and keeps a line that starts with a space or is blank);
// otherwise it keeps the header and the first line pault would stop at,
// so that the result is pault's answer for entry, but for Changelog.
func withoutBody(entry []byte) []byte {
	// The header is the first line that is not "\n" (pault skips only
	// those); the body starts after it.
	start := 0
	for bytes.HasPrefix(entry[start:], []byte("\n")) {
		start++
	}
	nl := bytes.IndexByte(entry[start:], '\n')
	if nl < 0 || entry[start] == ' ' {
		return entry // pault fails on the header at once
	}
	head := start + nl + 1
	for i := head; i < len(entry); {
		end := len(entry)
		if j := bytes.IndexByte(entry[i:], '\n'); j >= 0 {
			end = i + j + 1
		}
		line := entry[i:end]
		// The trailer, a line pault refuses, or an unfinished last line
		// (pault fails on it, as on any line without its newline):
		// each ends the body.
		if bytes.HasPrefix(line, []byte(" -- ")) || !bytes.HasPrefix(line, []byte(" ")) && len(bytes.Trim(line, "\n\r\t ")) > 0 ||
			line[len(line)-1] != '\n' {
			return append(entry[:head:head], line...)
		}
		i = end
	}
	return entry[:head]
}

// topEntry returns data up to the end of its first trailer line (one
// starting " -- ", as dpkg's parser finds it), which ends the top entry;
// all of data when there is none. Linux's changelog is 3.7 MB, and
// looking at all of it took 50 ms of a 1.1 s kernel run, twice.
func topEntry(data []byte) []byte {
	i := 0
	if !bytes.HasPrefix(data, []byte(" -- ")) {
		i = bytes.Index(data, []byte("\n -- "))
		if i < 0 {
			return data
		}
		i++
	}
	if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
		return data[:i+j+1]
	}
	return data
}
