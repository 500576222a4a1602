package job

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFindChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string // oldest first
		version string
		want    string // "" for an error
	}{
		{"one", []string{"pk_1.0-1_amd64.changes"}, "1.0-1", "pk_1.0-1_amd64.changes"},
		{"epoch dropped", []string{"pk_1.0-1_amd64.changes"}, "2:1.0-1", "pk_1.0-1_amd64.changes"},
		{"newest of two arches", []string{"pk_1.0-1_all.changes", "pk_1.0-1_amd64.changes"}, "1.0-1", "pk_1.0-1_amd64.changes"},
		{"newest, other order", []string{"pk_1.0-1_amd64.changes", "pk_1.0-1_all.changes"}, "1.0-1", "pk_1.0-1_all.changes"},
		{"binNMU", []string{"pk_1.0-1+b2_amd64.changes"}, "1.0-1", "pk_1.0-1+b2_amd64.changes"},
		{"source only is not a build", []string{"pk_1.0-1_source.changes"}, "1.0-1", ""},
		{"other version", []string{"pk_1.0-10_amd64.changes", "pk_1.0-1+x_amd64.changes", "pk_1.0-1+bx_amd64.changes", "pk_1.0-1+b_amd64.changes"}, "1.0-1", ""},
		{"other package", []string{"pkk_1.0-1_amd64.changes", "q_1.0-1_amd64.changes"}, "1.0-1", ""},
		{"none", nil, "1.0-1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			when := time.Unix(1700000000, 0)
			for i, f := range tc.files {
				p := filepath.Join(dir, f)
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				mt := when.Add(time.Duration(i) * time.Second)
				if err := os.Chtimes(p, mt, mt); err != nil {
					t.Fatal(err)
				}
			}
			got, err := findChanges(dir, "pk", tc.version)
			switch {
			case tc.want == "" && err == nil:
				t.Errorf("got %s, want an error", got)
			case tc.want != "" && err != nil:
				t.Errorf("got error %v, want %s", err, tc.want)
			case tc.want != "" && got != filepath.Join(dir, tc.want):
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestChangesDebs(t *testing.T) {
	t.Parallel()
	const head = "Format: 1.8\nSource: p (1.0-1)\nFiles:\n"
	tests := []struct {
		name, changes, source string
		want                  map[string]string // nil for an error
		err                   string
	}{
		{"debs only", head + " 0123 10 misc optional a_1_amd64.deb\n 0123 10 misc optional p_1_amd64.buildinfo\n 0123 10 misc optional a-dbgsym_1_amd64.ddeb\n",
			"p", map[string]string{"a": "a_1_amd64.deb"}, ""},
		{"binNMU source field", head + " 0123 10 misc optional a_1+b1_amd64.deb\n", "p", map[string]string{"a": "a_1+b1_amd64.deb"}, ""},
		{"other source", head, "q", nil, "Source"},
		{"short line", head + " 0123 10 a_1_amd64.deb\n", "", nil, "want md5sum"},
		{"path", head + " 0123 10 misc optional ../a_1_amd64.deb\n", "", nil, "not a name"},
		{"subdirectory", head + " 0123 10 misc optional sub/a_1_amd64.deb\n", "", nil, "not a name"},
		{"twice", head + " 0123 10 misc optional a_1_amd64.deb\n 0123 10 misc optional a_2_amd64.deb\n", "", nil, "twice"},
		{"clear-signed", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + head + " 0123 10 misc optional a_1_amd64.deb\n-----BEGIN PGP SIGNATURE-----\n\nxyz\n-----END PGP SIGNATURE-----\n",
			"p", map[string]string{"a": "a_1_amd64.deb"}, ""},
		{"bad armor", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + head, "", nil, "OpenPGP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := filepath.Join(dir, "p_1_amd64.changes")
			if err := os.WriteFile(p, []byte(tc.changes), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := changesDebs(context.Background(), p, tc.source)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %v, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != filepath.Join(dir, v) {
					t.Errorf("package %s: got %s, want %s", k, got[k], filepath.Join(dir, v))
				}
			}
		})
	}
}
