package deb

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestControlAtLimitLinear: a control file of maxControlSize bytes, one
// field of continuation lines, is read in well under a second. pault's
// paragraph reader, which built the value line by line, took 44 s.
func TestControlAtLimitLinear(t *testing.T) {
	t.Parallel()
	head := "Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nDescription: x\n"
	n := (maxControlSize - len(head)) / 3
	control := head + strings.Repeat(" y\n", n) // within 3 bytes of the limit
	deb := buildAr(
		arMember{"debian-binary", []byte("2.0\n")},
		arMember{"control.tar", controlTar(t, control)},
		arMember{"data.tar", testDataTar(t)},
	)
	start := time.Now()
	pkg, err := Read(bytes.NewReader(deb), "hello.deb", nil)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if pkg.Name != "hello" || len(pkg.Control.Values["Description"]) < 2*n {
		t.Errorf("package %q with a %d-byte Description, want hello and at least %d", pkg.Name, len(pkg.Control.Values["Description"]), 2*n)
	}
	if took > 10*time.Second {
		t.Errorf("reading a %d-byte control file took %v, want under 10 s (linear time)", len(control), took)
	}
}
