package pkggen

import (
	"strings"
	"testing"
	"time"
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
	if took > 2*time.Second {
		t.Errorf("parseParagraphs of %d bytes took %v, want under 2 s (linear time)", len(data), took)
	}
}
