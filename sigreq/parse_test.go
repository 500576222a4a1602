package sigreq

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// Hex values of the right lengths.
var (
	hexA = strings.Repeat("a1", 32)
	hexB = strings.Repeat("b2", 32)
	hexC = strings.Repeat("c3", 32)
)

// goodRequest is a valid request with an efi and a linux-module file.
func goodRequest() *Request {
	return &Request{
		Format: Format, Version: Version,
		Template: Template{
			Name: "fwupd-amd64-signed-template", Version: "1.4-1",
			Source: "fwupd-amd64-signed", SourceVersion: "1.4+1",
			DebSHA256: hexA, TrustedCerts: []string{hexA, hexB},
		},
		SigningTime: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		Files: []File{
			{Package: "fwupd-unsigned", PackageVersion: "1:1.4-1", Path: "usr/libexec/fwupd/efi/fwupdx64.efi", SigType: "efi",
				Size: 61833, SHA256: hexB, DigestAlgorithm: "sha256", Digest: hexC},
			{Package: "linux-image-6.1.0-57-amd64-unsigned", PackageVersion: "6.1.158-1", Path: "lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy.ko",
				SigType: "linux-module", Size: 17220, SHA256: hexC, DigestAlgorithm: "sha256", Digest: hexA},
		},
	}
}

// inputErr returns err as the *inputerr.Error every error of Parse and
// ReadResponse is, and fails the test if it is not one.
func inputErr(t *testing.T, err error) *inputerr.Error {
	t.Helper()
	var ie *inputerr.Error
	if !errors.As(err, &ie) {
		t.Fatalf("error %q (%T) is not an *inputerr.Error", err, err)
	}
	return ie
}

// jsonMarshal is Marshal without Validate, for requests Parse must refuse.
func jsonMarshal(r *Request) ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

func marshal(t *testing.T, r *Request) string {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseRoundTrip(t *testing.T) {
	t.Parallel()
	want := goodRequest()
	data := marshal(t, want)
	got, err := Parse(strings.NewReader(data))
	if err != nil {
		t.Fatalf("Parse(Marshal()): %v\n%s", err, data)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Parse(Marshal(r)) differs from r (-want +got):\n%s", d)
	}
	again := marshal(t, got)
	if again != data {
		t.Errorf("Marshal(Parse(Marshal(r))) differs from Marshal(r):\n%s\n%s", again, data)
	}
	if !strings.HasSuffix(data, "}\n") || !strings.Contains(data, "\n  \"template\": {\n") {
		t.Errorf("Marshal is not indented JSON ending in a newline:\n%s", data)
	}
}

// TestMarshal: Marshal fills in Format and Version, writes the time in
// UTC and an empty trusted_certs as [], leaves its input alone, and
// refuses what Parse would refuse.
func TestMarshal(t *testing.T) {
	t.Parallel()
	r := goodRequest()
	r.Format, r.Version, r.Template.TrustedCerts = "", 0, nil
	r.SigningTime = r.SigningTime.In(time.FixedZone("CET", 3600))
	orig := *r
	data := marshal(t, r)
	if d := cmp.Diff(&orig, r); d != "" {
		t.Errorf("Marshal changed its input (-before +after):\n%s", d)
	}
	for _, want := range []string{`"format": "mksigned-signing-request"`, `"version": 1`, `"signing_time": "2026-11-28T12:00:00Z"`, `"trusted_certs": []`} {
		if !strings.Contains(data, want) {
			t.Errorf("Marshal wrote no %s:\n%s", want, data)
		}
	}
	if _, err := Parse(strings.NewReader(data)); err != nil {
		t.Errorf("Parse(Marshal()): %v", err)
	}
	r.Files[1].Path = "../x.ko"
	if _, err := r.Marshal(); err == nil || !strings.Contains(err.Error(), "files[1].path") {
		t.Errorf("Marshal of a bad path: error %v, want one naming files[1].path", err)
	}
}

// TestParseRefuses gives Parse one fault at a time; each error must name
// the field (or the offset) and say what is wrong.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	good := marshal(t, goodRequest())
	// edit replaces the first old in the good request by new.
	edit := func(old, new string) string {
		t.Helper()
		if !strings.Contains(good, old) {
			t.Fatalf("%q is not in the request", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	// file edits a copy of the good request's file i.
	file := func(i int, f func(*File)) string {
		r := goodRequest()
		f(&r.Files[i])
		b, err := jsonMarshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	efiDigest := `"digest": "` + hexC + `"`
	for _, c := range []struct {
		name, in string
		field    string // the JSON path the error names
		offset   int64  // or the byte offset; 0 for none
		want     string
	}{
		{"not JSON", "format: mksigned", "", 0, "not JSON"},
		{"truncated", good[:len(good)/2], "", 0, "not JSON"},
		{"empty", "", "", 0, "empty request"},
		{"an array", "[1, 2]", "", 0, "want an object"},
		{"another format", edit(`"mksigned-signing-request"`, `"mksigned-request"`), "format", 0, `"mksigned-request" is not "mksigned-signing-request"`},
		{"no format", `{"version": 1}`, "format", 0, "not a signing request"},
		{"unknown version", edit(`"version": 1`, `"version": 2`), "version", 0, "unknown request version \"2\" (this mksigned reads version 1)"},
		{"version as a string", edit(`"version": 1`, `"version": "1"`), "version", 0, "is a string, want an integer"},
		{"short digest", strings.Replace(good, efiDigest, efiDigest[:len(efiDigest)-3]+`"`, 1), "files[0].digest", 0, "is not a sha256 (64 lower-case hex digits)"},
		{"upper-case digest", file(0, func(f *File) { f.Digest = strings.ToUpper(f.Digest) }), "files[0].digest", 0, "lower-case hex"},
		{"digest not hex", file(1, func(f *File) { f.Digest = strings.Repeat("zz", 32) }), "files[1].digest", 0, "lower-case hex"},
		{"another digest algorithm", file(0, func(f *File) { f.DigestAlgorithm = "sha1" }), "files[0].digest_algorithm", 0, `"sha1" is not efi's, "sha256"`},
		{"dotdot path", file(1, func(f *File) { f.Path = "lib/../../etc/shadow" }), "files[1].path", 0, `contains ".."`},
		{"absolute path", file(0, func(f *File) { f.Path = "/boot/vmlinuz" }), "files[0].path", 0, "is absolute"},
		{"unclean path", file(0, func(f *File) { f.Path = "usr//lib/x.efi" }), "files[0].path", 0, "not a clean path"},
		{"newline in path", file(0, func(f *File) { f.Path = "usr/lib/x\n.efi" }), "files[0].path", 0, "control character"},
		{"empty path", file(0, func(f *File) { f.Path = "" }), "files[0].path", 0, "empty path"},
		{"same file twice", func() string {
			r := goodRequest()
			r.Files = append(r.Files, r.Files[0])
			r.Files[2].Digest = hexA
			b, _ := jsonMarshal(r)
			return string(b)
		}(), "files[2].path", 0, "listed twice (first in files[0])"},
		{"signature under another's", func() string {
			r := goodRequest()
			r.Files = append(r.Files, r.Files[0])
			r.Files[2].Path = r.Files[0].Path + ".sig/x.efi"
			b, _ := jsonMarshal(r)
			return string(b)
		}(), "files[2].path", 0, "would put its signature under fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig, the signature of files[0]"},
		{"not UTF-8", edit(`fwupdx64.efi`, "fwupd\xffx64.efi"), "", int64(strings.Index(good, "fwupdx64.efi") + 5), "not UTF-8"},
		{"lone surrogate in path", edit(`fwupdx64.efi`, `fwupd\ud800x64.efi`), "files[0].path", 0, "invisible or replaced character"},
		{"bidi override in path", file(0, func(f *File) { f.Path = "usr/lib/x\u202eife.efi" }), "files[0].path", 0, `"usr/lib/x\u202eife.efi" contains an invisible`},
		{"zero-width space in path", file(0, func(f *File) { f.Path = "usr/lib/x\u200b.efi" }), "files[0].path", 0, "invisible"},
		{"line separator in path", file(0, func(f *File) { f.Path = "usr/lib/x\u2028.efi" }), "files[0].path", 0, "invisible"},
		{"unknown sig_type", file(0, func(f *File) { f.SigType = "openpgp" }), "files[0].sig_type", 0, `unknown sig_type "openpgp" (known: "efi", "linux-module")`},
		{"negative size", file(1, func(f *File) { f.Size = -1 }), "files[1].size", 0, "negative"},
		{"bad sha256", file(1, func(f *File) { f.SHA256 = "abc" }), "files[1].sha256", 0, "64 lower-case hex digits"},
		{"bad package", file(1, func(f *File) { f.Package = "Linux" }), "files[1].package", 0, "not a valid Debian package name"},
		{"bad package version", file(1, func(f *File) { f.PackageVersion = "6.1/../x" }), "files[1].package_version", 0, "not a Debian version"},
		{"bad template name", edit(`"fwupd-amd64-signed-template"`, `"../x"`), "template.name", 0, "not a valid Debian package name"},
		{"empty source version", edit(`"source_version": "1.4+1"`, `"source_version": ""`), "template.source_version", 0, "not a Debian version"},
		{"bad deb_sha256", edit(`"deb_sha256": "`+hexA, `"deb_sha256": "`+hexA[2:]), "template.deb_sha256", 0, "64 lower-case hex digits"},
		{"bad trusted cert", edit(`"`+hexB+`"`+"\n    ]", `"`+hexB[1:]+`"`+"\n    ]"), "template.trusted_certs[1]", 0, "SHA-256 fingerprint"},
		{"repeated trusted cert", edit(`"`+hexA+`",`+"\n      "+`"`+hexB+`"`, `"`+hexA+`",`+"\n      "+`"`+hexA+`"`), "template.trusted_certs[1]", 0, "repeated"},
		{"unsorted trusted certs", edit(`"`+hexA+`",`+"\n      "+`"`+hexB+`"`, `"`+hexB+`",`+"\n      "+`"`+hexA+`"`), "template.trusted_certs[1]", 0, "sorted"},
		{"null trusted certs", edit(`"trusted_certs": [`+"\n      "+`"`+hexA+`",`+"\n      "+`"`+hexB+`"`+"\n    ]", `"trusted_certs": null`), "template.trusted_certs", 0, "is null, want an array"},
		{"signing time not UTC", edit(`"2026-11-28T12:00:00Z"`, `"2026-11-28T13:00:00+01:00"`), "signing_time", 0, "not in UTC"},
		{"signing time fraction", edit(`"2026-11-28T12:00:00Z"`, `"2026-11-28T12:00:00.5Z"`), "signing_time", 0, "not a whole second"},
		{"signing time malformed", edit(`"2026-11-28T12:00:00Z"`, `"28 Nov 2026"`), "signing_time", 0, "not an RFC 3339 time"},
		{"null files", func() string { r := goodRequest(); r.Files = nil; b, _ := jsonMarshal(r); return string(b) }(), "files", 0, "is null, want an array"},
		{"no files key", `{"format": "mksigned-signing-request", "version": 1}`, "template", 0, "missing"},
		{"empty files", func() string { r := goodRequest(); r.Files = []File{}; b, _ := jsonMarshal(r); return string(b) }(), "files", 0, "is empty"},
		{"unknown field", edit(`"format"`, `"comment": "hi", "format"`), "comment", 0, "unknown field"},
		{"unknown field in a file", edit(`"sig_type": "efi"`, `"sig_type": "efi", "flags": 1`), "files[0].flags", 0, "unknown field"},
		{"another case of a field", edit(`"sig_type": "efi"`, `"Sig_Type": "efi"`), "files[0].Sig_Type", 0, "unknown field"},
		{"repeated key", edit(`"sig_type": "efi"`, `"sig_type": "linux-module", "sig_type": "efi"`), "files[0].sig_type", 0, "given twice"},
		{"missing key", edit(`"size": 61833,`, ``), "files[0].size", 0, "missing"},
		{"size not an integer", edit(`"size": 61833`, `"size": 61833.5`), "files[0].size", 0, "not an integer"},
		{"size too large", edit(`"size": 61833`, `"size": 9223372036854775808`), "files[0].size", 0, "not an integer in range"},
		{"trailing data", good + `{"format": "x"}`, "", int64(len(good)), "data after the request"},
		{"trailing garbage", good + "x", "", int64(len(good)), "data after the request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(strings.NewReader(c.in))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", r)
			}
			ie := inputErr(t, err)
			if ie.Field != c.field {
				t.Errorf("error %q names field %q, want %q", err, ie.Field, c.field)
			}
			if c.offset != 0 && ie.Offset != c.offset {
				t.Errorf("error %q at offset %d, want %d", err, ie.Offset, c.offset)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestParseBounded: Parse reads at most MaxRequestSize bytes.
func TestParseBounded(t *testing.T) {
	t.Parallel()
	r := &endless{}
	_, err := Parse(r)
	if err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Errorf("Parse(endless input): error %v, want one saying it is too large", err)
	}
	if r.n > MaxRequestSize+int64(len(spaces)) {
		t.Errorf("Parse read %d bytes of an endless input, want at most about %d", r.n, MaxRequestSize)
	}
}

// endless is an endless stream of spaces that counts what is read.
type endless struct{ n int64 }

var spaces = bytes.Repeat([]byte{' '}, 1<<16)

func (r *endless) Read(p []byte) (int, error) {
	n := copy(p, spaces)
	r.n += int64(n)
	return n, nil
}

// TestTooManyFiles: with a bound of 3 files, Parse refuses the 4th before
// reading it (MaxFiles would take a 35 MB request); Validate, which Parse
// calls too, counts up to MaxFiles itself.
func TestTooManyFiles(t *testing.T) {
	t.Parallel()
	r := goodRequest()
	r.Files = append(r.Files, r.Files[0], r.Files[0]) // 4 files
	r.Files[3].Size = -1                              // never read
	b, err := jsonMarshal(r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = parse(bytes.NewReader(b), 3)
	if err == nil || err.Error() != "files: has more than 3 entries" {
		t.Errorf("parse(4 files, at most 3): error %v, want one saying there are more than 3", err)
	}

	r.Files = make([]File, MaxFiles+1)
	err = r.Validate()
	if err == nil || !strings.Contains(err.Error(), "files: has 100001 files, more than the 100000") {
		t.Errorf("Validate: error %v, want one saying there are too many files", err)
	}
}
