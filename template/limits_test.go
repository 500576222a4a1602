package template

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
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
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Parse took %v, want under 10 s (linear time, or refused early)", took)
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

// TestLoadLimits: files.json, debian/control, any one file and the whole
// template are refused over their limits, with the reason, from the size
// given by the file system or the tar header, before they are read.
func TestLoadLimits(t *testing.T) {
	t.Parallel()
	const big = "source-template/debian/big"
	for _, tc := range []struct {
		name  string
		sizes map[string]int64 // files to add or to grow to the given size
		err   string
		deb   bool // also as a template package
	}{
		{"files.json", map[string]int64{"files.json": 4<<20 + 1}, "files.json: is 4194305 bytes, more than the 4194304 a template's files.json may have", true},
		{"debian/control", map[string]int64{"source-template/debian/control": 1<<20 + 1}, "more than the 1048576 a template's control may have", true},
		{"debian/tests/control", map[string]int64{"source-template/debian/tests/control": 1<<20 + 1}, "more than the 1048576", false},
		{"one file", map[string]int64{big: 16<<20 + 1}, "is 16777217 bytes, more than the 16777216 a template's big may have", true},
		{"all files", map[string]int64{big + "1": 12 << 20, big + "2": 12 << 20, big + "3": 12 << 20}, "template too large: its files, names and link targets pass 33554432 bytes", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "t")
			writeEntries(t, dir, testEntries())
			for name, size := range tc.sizes {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, size); err != nil { // sparse: reading it would cost the time
					t.Fatal(err)
				}
			}
			start := time.Now()
			_, err := LoadDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("LoadDir: %v; want an error containing %q", err, tc.err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("LoadDir took %v, want under 10 s", took)
			}
			if !tc.deb {
				return
			}
			var files []testutil.TarEntry
			for name, size := range tc.sizes {
				files = append(files, testutil.TarEntry{Name: name, Type: tar.TypeReg, Mode: 0o644, Body: strings.Repeat("x", int(size))})
			}
			p := sizedTemplateDeb(t, files)
			_, err = LoadDeb(p)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("LoadDeb: %v; want an error containing %q", err, tc.err)
			}
		})
	}
}

// sizedTemplateDeb writes a template package holding files (named
// relative to the code-signing directory) and the directories above them.
func sizedTemplateDeb(t *testing.T, files []testutil.TarEntry) string {
	t.Helper()
	es := []testutil.TarEntry{{Name: "./", Type: tar.TypeDir, Mode: 0o755}}
	for _, d := range []string{"usr", "usr/share", "usr/share/code-signing", "usr/share/code-signing/t",
		"usr/share/code-signing/t/source-template", "usr/share/code-signing/t/source-template/debian"} {
		es = append(es, testutil.TarEntry{Name: "./" + d + "/", Type: tar.TypeDir, Mode: 0o755})
	}
	for _, f := range files {
		f.Name = "./usr/share/code-signing/t/" + f.Name
		es = append(es, f)
	}
	p := filepath.Join(t.TempDir(), "t.deb")
	if err := os.WriteFile(p, testutil.Deb(t, "Package: t-signed-template\nVersion: 1\nArchitecture: all\nDescription: t\n", testutil.Tar(t, es...)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadEntriesLimit: a template of more than maxEntries files is
// refused, whatever their sizes.
func TestLoadEntriesLimit(t *testing.T) {
	t.Parallel()
	var files []testutil.TarEntry
	for i := range 20000 {
		files = append(files, testutil.TarEntry{Name: fmt.Sprintf("source-template/debian/f%d", i), Type: tar.TypeReg, Mode: 0o644})
	}
	_, err := LoadDeb(sizedTemplateDeb(t, files))
	if want := "template too large: more than 20000 files, directories and links"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("LoadDeb: %v; want an error containing %q", err, want)
	}
}
