package pkggen

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// Inputs at the size of the findings (issue 9, section 4) must be
// handled in well under a second; the bounds leave a wide margin for a
// busy or race-checked run, and what they catch took tens of seconds.

// TestParseParagraphsLinear: a source field of 160,000 continuation lines
// is read in linear time. Appending each line to the value took 55 s.
func TestParseParagraphsLinear(t *testing.T) {
	t.Parallel()
	const n = 160000
	data := []byte("Source: x\nX-Long: a\n" + strings.Repeat(" b\n", n) + "\nPackage: x\nArchitecture: all\n")
	start := time.Now()
	paras, err := parseParagraphs(data, controlPath)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := paras[0].get("X-Long"); len(v) != 1+2*n {
		t.Errorf("X-Long is %d bytes, want %d", len(v), 1+2*n)
	}
	if took > 10*time.Second {
		t.Errorf("parseParagraphs of %d bytes took %v, want under 10 s (linear time)", len(data), took)
	}
}

// TestBuildDependsLimits: a Build-Depends field over maxDependsField
// bytes or naming more than maxDependsNames packages is refused, with the
// reason, before dpkg-source's simplification (quadratic in the number of
// relations: 40,000 of them took 40 s); at the limits, relations that
// simplification compares at length are read in well under a second.
func TestBuildDependsLimits(t *testing.T) {
	t.Parallel()
	// relations returns n relations "a (>= i) | b (<< i)" (2n names):
	// none implies another, so every pair is compared.
	relations := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "a (>= %d) | b (<< %d)", i, i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, field, value, err string
	}{
		{"40000 relations", "Build-Depends", relations(40000), "more than the 16384"},
		{"257 names", "Build-Depends-Arch", relations(128) + ", c", "names 257 packages"},
		{"257 conflicts", "Build-Conflicts", strings.Repeat("c, ", 256) + "c", "names 257 packages"},
		{"256 names", "Build-Depends", relations(128), ""},
		{"256 conflicts", "Build-Conflicts-Indep", strings.Repeat("c, ", 255) + "c", ""},
		{"16384 bytes", "Build-Depends", "a" + strings.Repeat("b", maxDependsField-1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			control := "Source: synth\nMaintainer: A <a@example.org>\n" + tc.field + ": " + tc.value +
				"\n\nPackage: synth\nArchitecture: amd64\nDescription: test\n test package\n"
			start := time.Now()
			_, err := ReadSource(basicTree("synth", control, changelogTime))
			took := time.Since(start)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("ReadSource: %v; want an error containing %q", err, tc.err)
			}
			var ie *inputerr.Error
			if tc.err != "" && (!errors.As(err, &ie) || ie.Field != tc.field) {
				t.Errorf("error %v does not name field %s", err, tc.field)
			}
			if took > 10*time.Second {
				t.Errorf("ReadSource took %v, want under 10 s", took)
			}
		})
	}
}
