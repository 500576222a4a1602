package policy

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/inputerr"
)

var (
	certA = strings.Repeat("a1", 32)
	certB = strings.Repeat("b2", 32)
	fpX   = strings.Repeat("c3", 32)
)

// example is the shape issue 10 asks the policy file to take.
var example = `keys:
  - cert-sha256: ` + certA + `        # SHA-256 of the signing certificate's DER
    templates: ["grub-efi-*-signed-template", "shim-helpers-*"]
    packages: ["grub-efi-amd64-bin", "shim-unsigned"]
    sig-types: [efi]
    max-files: 64
    trusted-certs: []
  - name: modules
    cert-sha256: ` + certB + `
    templates: [linux-image-*-signed-template]
    packages: [linux-image-*-unsigned]
    sig-types: [linux-module, efi]
    max-files: 5000
    trusted-certs: [` + fpX + `]
`

func TestParse(t *testing.T) {
	t.Parallel()
	got, err := Parse("policy.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{Keys: []Key{{
		CertSHA256:   certA,
		Templates:    []string{"grub-efi-*-signed-template", "shim-helpers-*"},
		Packages:     []string{"grub-efi-amd64-bin", "shim-unsigned"},
		SigTypes:     []string{"efi"},
		MaxFiles:     64,
		TrustedCerts: []string{},
	}, {
		Name:         "modules",
		CertSHA256:   certB,
		Templates:    []string{"linux-image-*-signed-template"},
		Packages:     []string{"linux-image-*-unsigned"},
		SigTypes:     []string{"linux-module", "efi"},
		MaxFiles:     5000,
		TrustedCerts: []string{fpX},
	}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("policy mismatch (-want +got):\n%s", d)
	}
}

// key is a valid key's lines, with one line replaced or added.
func key(cert string, replace map[string]string) string {
	lines := []struct{ k, v string }{
		{"cert-sha256", cert},
		{"templates", "[shim-*]"},
		{"packages", "[shim-unsigned]"},
		{"sig-types", "[efi]"},
		{"max-files", "8"},
		{"trusted-certs", "[]"},
	}
	var b strings.Builder
	write := func(k, v string) {
		if b.Len() == 0 {
			b.WriteString("  - ")
		} else {
			b.WriteString("    ")
		}
		b.WriteString(k + ": " + v + "\n")
	}
	for _, l := range lines {
		v, ok := replace[l.k]
		if !ok {
			v = l.v
		}
		if v != "-" {
			write(l.k, v)
		}
	}
	for k, v := range replace {
		if !slices.ContainsFunc(lines, func(l struct{ k, v string }) bool { return l.k == k }) {
			write(k, v)
		}
	}
	return b.String()
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	one := func(replace map[string]string) string { return "keys:\n" + key(certA, replace) }
	for _, tc := range []struct {
		name, yaml string
		want       string // the whole message, after "policy.yaml: "
	}{
		{"empty", "", `is empty: it must list at least one key under "keys"`},
		{"only a comment", "# nothing\n", `is empty: it must list at least one key under "keys"`},
		{"no keys", "keys: []\n", `line 1: keys: no keys: the policy must allow at least one key`},
		{"null keys", "keys:\n", `line 1: keys: no keys: the policy must allow at least one key`},
		{"unknown top-level key", "keys: []\nkeyz: []\n", `line 2: unknown key "keyz"`},
		{"unknown key in a key", one(map[string]string{"max-file": "3"}), `line 8: unknown key "max-file"`},
		{"duplicate key", one(nil) + "    max-files: 9\n", `line 8: mapping key "max-files" already defined at line 6`},
		{"wrong type", one(map[string]string{"max-files": "many"}), "line 6: cannot unmarshal !!str `many` into int"},
		{"list for a string", one(map[string]string{"cert-sha256": "[x]"}), "line 2: cannot unmarshal !!seq into string"},
		{"second document", one(nil) + "---\nkeys: []\n", "line 8: a second YAML document: a policy file holds one"},
		{"syntax", "keys: [\n", "yaml: line 1: did not find expected node content"},
		{"missing cert", one(map[string]string{"cert-sha256": "-"}), "line 2: keys[0].cert-sha256: missing: the SHA-256 of the signing certificate's DER"},
		{"upper-case cert", one(map[string]string{"cert-sha256": strings.ToUpper(certA)}),
			`line 2: keys[0].cert-sha256: "` + strings.ToUpper(certA) + `" is not a SHA-256 fingerprint (64 lower-case hex digits)`},
		{"short cert", one(map[string]string{"cert-sha256": "3f1c"}), `line 2: keys[0].cert-sha256: "3f1c" is not a SHA-256 fingerprint (64 lower-case hex digits)`},
		{"cert twice", "keys:\n" + key(certA, nil) + key(certA, nil), "line 8: keys[1].cert-sha256: the same certificate as keys[0]: give each key one entry"},
		{"empty templates", one(map[string]string{"templates": "[]"}),
			"line 3: keys[0].templates: empty: give the patterns of the template names this key may sign (an empty list would allow nothing)"},
		{"missing packages", one(map[string]string{"packages": "-"}),
			"line 2: keys[0].packages: empty: give the patterns of the unsigned package names this key may sign (an empty list would allow nothing)"},
		{"bad pattern", one(map[string]string{"packages": "\n        - shim-unsigned\n        - 'shim-[a'"}),
			`line 6: keys[0].packages[1]: "shim-[a" is not a valid pattern: syntax error in pattern`},
		{"shell negation", one(map[string]string{"templates": "['shim-[!a]*']"}),
			`line 3: keys[0].templates[0]: "shim-[!a]*": write [^...], not [!...], for a class that matches what is not in it`},
		{"empty pattern", one(map[string]string{"templates": `[""]`}), "line 3: keys[0].templates[0]: an empty pattern"},
		{"empty sig-types", one(map[string]string{"sig-types": "[]"}), "line 5: keys[0].sig-types: empty: give the sig_types this key may sign (efi, linux-module)"},
		{"unknown sig-type", one(map[string]string{"sig-types": "[efi, kmod]"}), `line 5: keys[0].sig-types[1]: unknown sig_type "kmod" (known: efi, linux-module)`},
		{"zero max-files", one(map[string]string{"max-files": "0"}), "line 6: keys[0].max-files: must be a positive number of files, got 0"},
		{"null key", one(nil) + "    ~: 1\n", `line 8: unknown key "~" (!!null)`},
		{"null top-level key", one(nil) + "~: 1\n", `line 8: unknown key "~" (!!null)`},
		{"fractional max-files", one(map[string]string{"max-files": "1.9"}), `line 6: keys[0].max-files: "1.9" is not a whole number of files`},
		{"float max-files", one(map[string]string{"max-files": "64.0"}), `line 6: keys[0].max-files: "64.0" is not a whole number of files`},
		{"missing max-files", one(map[string]string{"max-files": "-"}), "line 2: keys[0].max-files: must be a positive number of files, got 0"},
		{"bad trusted-cert", one(map[string]string{"trusted-certs": "[" + fpX + ", zz]"}),
			`line 7: keys[0].trusted-certs[1]: "zz" is not a SHA-256 fingerprint (64 lower-case hex digits)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse("policy.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse gave %+v, want an error", p)
			}
			if got, want := err.Error(), "policy.yaml: "+tc.want; got != want {
				t.Errorf("error:\n got %s\nwant %s\nyaml:\n%s", got, want, tc.yaml)
			}
			var ie *inputerr.Error
			if !errors.As(err, &ie) || ie.File != "policy.yaml" {
				t.Errorf("error %v is no *inputerr.Error naming policy.yaml", err)
			}
		})
	}
}

// Every problem is reported at once, each with its line.
func TestParseAllErrors(t *testing.T) {
	t.Parallel()
	y := "keys:\n" + key("3f1c", map[string]string{"max-files": "0"}) + key(certB, map[string]string{"sig-types": "[pe]"})
	_, err := Parse("p.yaml", []byte(y))
	want := `p.yaml: line 2: keys[0].cert-sha256: "3f1c" is not a SHA-256 fingerprint (64 lower-case hex digits)
p.yaml: line 6: keys[0].max-files: must be a positive number of files, got 0
p.yaml: line 11: keys[1].sig-types[0]: unknown sig_type "pe" (known: efi, linux-module)`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	// Unknown keys too: yaml.v3 reports them all (key adds them in map
	// order, on lines 8 and 9).
	y = "keys:\n" + key(certA, map[string]string{"max-file": "1", "templatez": "[x]"})
	_, err = Parse("p.yaml", []byte(y))
	re := regexp.MustCompile(`^p.yaml: line [89]: unknown key "(max-file|templatez)"\np.yaml: line [89]: unknown key "(max-file|templatez)"$`)
	if err == nil || !re.MatchString(err.Error()) || strings.Count(err.Error(), "max-file") != 1 {
		t.Errorf("error:\n%v\nwant both unknown keys with their lines", err)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(good, []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := Load(good); err != nil || len(p.Keys) != 2 {
		t.Errorf("Load(%s) = %v, %v, want 2 keys", good, p, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("keys:\n  - certsha256: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || err.Error() != bad+`: line 2: unknown key "certsha256"` {
		t.Errorf("Load(%s) error %v, want the file, line and key", bad, err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(example+strings.Repeat("#", MaxSize)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "more than the 1048576 a policy file may have") {
		t.Errorf("Load(%s) error %v, want it too big", big, err)
	}
	if _, err := Parse("big.yaml", []byte(example+strings.Repeat("#", MaxSize))); err == nil || !strings.Contains(err.Error(), "more than the 1048576") {
		t.Errorf("Parse of a big file error %v, want it too big", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: error %v, want ErrNotExist", err)
	}
	if _, err := Load(dir); err == nil {
		t.Errorf("Load of a directory gave no error")
	}
}
