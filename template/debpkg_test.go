package template

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/deb"
)

// TestBuildDeb: the template .deb of a binNMU'd unsigned package is named
// after its version without the epoch, says which source version it
// comes from, and LoadDeb reads back the template BuildDir wrote.
func TestBuildDeb(t *testing.T) {
	t.Parallel()
	spec, err := ParseYAML("signing.yaml", []byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	u := &deb.Package{Name: "example-efi-unsigned", Version: "1:2.0-3+b1", Architecture: "arm64", Source: "example-efi", SourceVersion: "1:2.0-3"}
	unsigned := map[string]*deb.Package{u.Name: u}
	date := time.Unix(1700000000, 0)
	files, err := spec.BuildDir(unsigned, date)
	if err != nil {
		t.Fatal(err)
	}
	name, data, err := spec.BuildDeb(files, unsigned, date)
	if err != nil {
		t.Fatal(err)
	}
	if want := "example-efi-signed-template_2.0-3+b1_arm64.deb"; name != want {
		t.Errorf("BuildDeb named the package %s, want %s", name, want)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctl, err := deb.ReadControl(p)
	if err != nil {
		t.Fatal(err)
	}
	if ctl.Name != "example-efi-signed-template" || ctl.Version != u.Version || ctl.Architecture != "arm64" ||
		ctl.Source != "example-efi" || ctl.SourceVersion != "1:2.0-3" || ctl.Control.Values["Maintainer"] != spec.Maintainer {
		t.Errorf("control: %+v", ctl.Control.Values)
	}
	tp, err := LoadDeb(p)
	if err != nil {
		t.Fatalf("LoadDeb of the template .deb: %v", err)
	}
	if tp.Name != "example-efi-signed-template" || len(tp.Manifest.Packages) != 1 || len(tp.Manifest.Packages[0].Files) != 2 {
		t.Errorf("LoadDeb found template %q, files.json %+v; want example-efi-signed-template signing 2 files", tp.Name, tp.Manifest)
	}
	for path, want := range files {
		rel, ok := strings.CutPrefix(path, "source-template/")
		if !ok {
			continue // files.json: tp.Manifest
		}
		var got []byte
		for _, e := range tp.Source {
			if e.Name == rel {
				got = e.Data
			}
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s in the .deb differs from BuildDir's (-want +got):\n%s", path, diff)
		}
	}
}

// TestBuildDebMixed: unsigned packages of different architectures or
// sources cannot share one template package.
func TestBuildDebMixed(t *testing.T) {
	t.Parallel()
	spec, err := ParseYAML("signing.yaml", []byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	spec.Packages = append(spec.Packages, SpecPackage{Name: "zz-unsigned", Files: spec.Packages[0].Files, Install: InstallBeside})
	a := &deb.Package{Name: "example-efi-unsigned", Version: "1.0-1", Architecture: "amd64", Source: "example", SourceVersion: "1.0-1"}
	for _, c := range []struct {
		name string
		b    deb.Package
	}{
		{"architecture", deb.Package{Name: "zz-unsigned", Version: "1.0-1", Architecture: "arm64", Source: "example", SourceVersion: "1.0-1"}},
		{"source", deb.Package{Name: "zz-unsigned", Version: "1.0-1", Architecture: "amd64", Source: "other", SourceVersion: "1.0-1"}},
	} {
		_, _, err := spec.BuildDeb(map[string][]byte{"files.json": []byte("{}")}, map[string]*deb.Package{a.Name: a, c.b.Name: &c.b}, time.Unix(0, 0))
		if err == nil || !strings.Contains(err.Error(), "differ in architecture or source") {
			t.Errorf("%s: BuildDeb: %v, want an error", c.name, err)
		}
	}
}
