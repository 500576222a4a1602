package template

import (
	"strings"
	"testing"
	"time"
)

// Inputs at the size of the findings (issue 9, section 4) are
// handled, accepted or refused, in well under a second; the bounds leave
// a wide margin for a busy or race-checked run, and what they catch took
// tens of seconds.

// withFile returns the test template's entries with name's data replaced.
func withFile(name, data string) []Entry {
	es := testEntries()
	for i := range es {
		if es[i].Name == name {
			es[i].Data = []byte(data)
		}
	}
	return es
}

// parseTimed parses entries and fails the test if that took 2 s or more.
func parseTimed(t *testing.T, entries []Entry) (*Template, error) {
	t.Helper()
	start := time.Now()
	tp, err := Parse("t", entries)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Parse took %v, want under 2 s (linear time, or refused early)", took)
	}
	return tp, err
}

// TestControlFieldLinear: a source-stanza field of 160,000 continuation
// lines is read in linear time (pault's paragraph reader took 55 s).
func TestControlFieldLinear(t *testing.T) {
	t.Parallel()
	control := strings.Replace(testControl, "Build-Depends:", "X-Long: a\n"+strings.Repeat(" b\n", 160000)+"Build-Depends:", 1)
	if _, err := parseTimed(t, withFile("source-template/debian/control", control)); err != nil {
		t.Fatal(err)
	}
}

// TestBuildDependsSize: pault's dependency parser builds each name a byte
// at a time, in time quadratic in its length, so a Build-Depends field
// over maxDependsField bytes is refused before it is parsed; one at the
// limit, a single name, is parsed in well under a second.
func TestBuildDependsSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value, err string
	}{
		{"a 200 KB name", "a" + strings.Repeat("b", 200<<10), "204801 bytes, more than the 16384"},
		{"40000 relations", strings.Repeat("debhelper (>= 9.0.0), ", 40000) + "debhelper", "more than the 16384"},
		{"a name at the limit", "a" + strings.Repeat("b", maxDependsField-1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			control := strings.Replace(testControl, "Build-Depends:", "Build-Depends-Indep: "+tc.value+"\nBuild-Depends:", 1)
			_, err := parseTimed(t, withFile("source-template/debian/control", control))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Parse: %v; want an error containing %q", err, tc.err)
			}
			if tc.err != "" && !strings.Contains(err.Error(), "Build-Depends-Indep") {
				t.Errorf("error %v does not name the field", err)
			}
		})
	}
}
