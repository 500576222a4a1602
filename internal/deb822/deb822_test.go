package deb822

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pault.ag/go/debian/control"
)

// paultAll is what pault's ParagraphReader makes of data.
func paultAll(data []byte) ([]control.Paragraph, error) {
	r, err := control.NewParagraphReader(bytes.NewReader(data), nil)
	if err != nil {
		return nil, err
	}
	return drain(r.Next)
}

// samples hold every quirk the package comment names.
var samples = []string{
	"Package: a\nVersion: 1\nDescription: short\n long\n .\n  indented\n",
	"Source: x\nBuild-Depends: a,\n\tb\n\n\n\nPackage: y\nArchitecture: any\n",
	"A:\n first\n second  \t\n",
	"# comment\nA: x\n# inside\n b\nB: y:z\n",
	"A: x\r\n b\r\n\r\nC: d\r\n",
	"A: x\nA: y\n z\n",
	" before any field\nA: x\n",
	"A: no newline at the end",
	"A: x\n \n .\n ..\n",
	"\n\n\n",
	"",
	"A: x\nno colon\n",
	"  : empty name\n",
}

func TestSamplesMatchPault(t *testing.T) {
	t.Parallel()
	for _, s := range samples {
		compare(t, []byte(s))
	}
}

func compare(t *testing.T, data []byte) {
	t.Helper()
	got, err := All(data)
	want, werr := paultAll(data)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: error %v, pault says %v", data, err, werr)
	}
	if err != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%q: paragraphs differ from pault's (-pault +ours):\n%s", data, diff)
	}
}

// FuzzAllMatchesPault: on any input but a signed one, the paragraphs and
// whether there is an error are pault's.
func FuzzAllMatchesPault(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, []byte("-----BEGIN PGP ")) {
			if _, err := All(data); !errors.Is(err, ErrSigned) {
				t.Fatalf("signed input: error %v, want ErrSigned", err)
			}
			return
		}
		compare(t, data)
	})
}

// TestLinear: a 1 MiB control file of 350,000 continuation lines is read
// in well under a second (pault's reader took 110 s).
func TestLinear(t *testing.T) {
	t.Parallel()
	const n = 350000
	data := []byte("Package: a\nDescription: x\n" + strings.Repeat(" y\n", n))
	start := time.Now()
	ps, err := All(data)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ps[0].Values["Description"]), 2+2*n; got != want {
		t.Errorf("Description is %d bytes, want %d", got, want)
	}
	if took > 10*time.Second {
		t.Errorf("reading %d bytes took %v, want under 10 s (linear time)", len(data), took)
	}
}

func TestErrorNamesLine(t *testing.T) {
	t.Parallel()
	_, err := All([]byte("A: x\n b\nno colon\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v, want one naming line 3", err)
	}
}
