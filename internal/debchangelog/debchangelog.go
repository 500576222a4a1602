// Package debchangelog reads the top entry of a debian/changelog as
// dpkg-parsechangelog does, on top of pault.ag/go/debian/changelog.
package debchangelog

import (
	"bufio"
	"bytes"
	"regexp"

	"pault.ag/go/debian/changelog"
)

// oneDigitDay matches a trailer line whose date has a one-digit day
// (" -- Name <mail>  Mon, 1 Jan 2020 ..."), which dpkg accepts (strptime's
// %d) and pault's fixed layout does not.
var oneDigitDay = regexp.MustCompile(`(?m)^( -- .*  \w{3}, +)(\d)( \w{3} \d{4} )`)

// ParseTop parses the top entry of a changelog.
func ParseTop(data []byte) (*changelog.ChangelogEntry, error) {
	data = topEntry(data)
	if loc := oneDigitDay.FindSubmatchIndex(data); loc != nil {
		fixed := make([]byte, 0, len(data)+1)
		fixed = append(fixed, data[:loc[2]]...)
		fixed = append(fixed, bytes.TrimRight(data[loc[2]:loc[3]], " ")...)
		fixed = append(fixed, ' ', '0')
		fixed = append(fixed, data[loc[4]:]...)
		data = fixed
	}
	return changelog.ParseOne(bufio.NewReader(bytes.NewReader(data)))
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
