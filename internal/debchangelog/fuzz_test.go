package debchangelog

import (
	"bufio"
	"bytes"
	"reflect"
	"testing"

	"pault.ag/go/debian/changelog"
)

// FuzzParseTop: a template's changelog is untrusted input. ParseTop must
// not panic, it reads no further than the top entry (what follows the
// first trailer line cannot change its result), and leaving the body out
// changes nothing: pault's parser given the whole top entry accepts or
// refuses it alike, and gives the same entry.
func FuzzParseTop(f *testing.F) {
	f.Add([]byte("x (1.0) unstable; urgency=medium\n\n  * y\n\n -- A B <a@example.org>  Mon, 1 Jan 2020 00:00:00 +0000\n"), []byte("garbage\n"))
	f.Add([]byte("fwupd-amd64-signed (1:1.4+1) bookworm; urgency=medium\n\n  * Update to fwupd version 1.4-1\n\n -- Debian EFI <debian-efi@lists.debian.org>  Fri, 27 Jan 2023 09:15:57 -0600\n"), []byte("\nolder (0.9) unstable; urgency=low\n\n -- x <x@y>  Sun, 01 Jan 2023 00:00:00 +0000\n"))
	f.Add([]byte(" -- \n"), []byte{})
	f.Fuzz(func(t *testing.T, top, rest []byte) {
		e1, err1 := ParseTop(top)
		whole, errWhole := changelog.ParseOne(bufio.NewReader(bytes.NewReader(fixDay(topEntry(top)))))
		// The same answer; the words differ (ParseTop says what is wrong).
		if (err1 == nil) != (errWhole == nil) {
			t.Fatalf("without the body: error %v; with it: %v", err1, errWhole)
		}
		if err1 == nil {
			whole.Changelog = ""
			if !reflect.DeepEqual(e1, whole) {
				t.Fatalf("without the body: %+v; with it: %+v", e1, whole)
			}
		}
		top2 := topEntry(top)
		if !bytes.HasPrefix(top, top2) {
			t.Fatalf("topEntry is not a prefix")
		}
		if len(top2) == len(top) && bytes.HasSuffix(top, []byte("\n")) && bytes.Contains(append([]byte("\n"), top...), []byte("\n -- ")) {
			e2, err2 := ParseTop(append(bytes.Clone(top), rest...))
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("text after the top entry changed the error: %v, then %v", err1, err2)
			}
			if err1 == nil && (e1.Version.String() != e2.Version.String() || !e1.When.Equal(e2.When)) {
				t.Fatalf("text after the top entry changed the result")
			}
		}
	})
}
