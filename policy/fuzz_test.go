package policy

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors name the
// file, and that a policy it accepts is one Check can use.
func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte("keys:\n" + key(certA, nil) + key(certB, map[string]string{"max-file": "1"})))
	f.Add([]byte("keys: &a [*a]\n"))
	f.Add([]byte("keys:\n  - {cert-sha256: " + certA + ", templates: ['[']}\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("p.yaml", data)
		if err != nil {
			if msg := err.Error(); len(msg) < 8 || msg[:8] != "p.yaml: " {
				t.Fatalf("error %q does not start with the file name", msg)
			}
			return
		}
		if len(p.Keys) == 0 {
			t.Fatal("Parse accepted a policy without keys")
		}
		for _, k := range p.Keys {
			req := request()
			req.Template.TrustedCerts = k.TrustedCerts
			err := p.Check(k.CertSHA256, req)
			var r *Refusal
			if err != nil && !errors.As(err, &r) {
				t.Fatalf("Check error %v is no *Refusal", err)
			}
			if k.MaxFiles <= 0 || len(k.SigTypes) == 0 || len(k.Templates) == 0 || len(k.Packages) == 0 {
				t.Fatalf("Parse accepted key %+v", k)
			}
		}
	})
}
