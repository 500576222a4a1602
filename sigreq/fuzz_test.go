package sigreq

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// FuzzParse: Parse never panics, fails with an *inputerr.Error, and what
// it accepts Marshal writes back as a request that parses to the same.
func FuzzParse(f *testing.F) {
	good, err := goodRequest().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"efi"`), []byte(`"linux-module"`), 1))
	f.Add(bytes.Replace(good, []byte(`"size": 61833`), []byte(`"size": -1`), 1))
	f.Add(bytes.Replace(good, []byte(`"sig_type": "efi"`), []byte(`"sig_type": "efi", "sig_type": "efi"`), 1))
	f.Add([]byte(`{"format": "mksigned-signing-request", "version": 1}`))
	f.Add([]byte(`{"format": "mksigned-signing-request", "version": 2, "files": [{}]}`))
	f.Add([]byte(`[{"format": null}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(bytes.NewReader(data))
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %q (%T) is not an *inputerr.Error", err, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse accepted a request Validate refuses: %v", err)
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed request: %v", err)
		}
		again, err := Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(data))): %v\n%s", err, out)
		}
		if d := cmp.Diff(r, again); d != "" {
			t.Fatalf("round trip changed the request (-first +second):\n%s", d)
		}
		if strings.Count(string(out), "\n") < 10 {
			t.Fatalf("Marshal wrote %q, not indented JSON", out)
		}
	})
}
