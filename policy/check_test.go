package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/sigreq"
)

func testPolicy(t *testing.T) *Policy {
	t.Helper()
	p, err := Parse("policy.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// request is a request the first key of example allows.
func request(files ...sigreq.File) *sigreq.Request {
	if files == nil {
		files = []sigreq.File{
			{Package: "shim-unsigned", Path: "usr/lib/shim/shimx64.efi", SigType: "efi"},
			{Package: "grub-efi-amd64-bin", Path: "usr/lib/grub/x86_64-efi/grubx64.efi", SigType: "efi"},
		}
	}
	return &sigreq.Request{
		Format:   sigreq.Format,
		Version:  sigreq.Version,
		Template: sigreq.Template{Name: "grub-efi-amd64-signed-template", TrustedCerts: []string{}},
		Files:    files,
	}
}

func refusal(t *testing.T, err error) *Refusal {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("Check error %v, want a *Refusal", err)
	}
	return r
}

func TestCheckAllows(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	if err := p.Check(certA, request()); err != nil {
		t.Errorf("Check = %v, want nil", err)
	}
	req := request(sigreq.File{Package: "linux-image-6.1.0-1-amd64-unsigned", Path: "lib/modules/6.1.0-1-amd64/kernel/fs/x.ko", SigType: "linux-module"})
	req.Template.Name = "linux-image-amd64-signed-template"
	req.Template.TrustedCerts = []string{fpX}
	if err := p.Check(certB, req); err != nil {
		t.Errorf("Check with the second key = %v, want nil", err)
	}
}

// Each rule on its own gives its reason, and only that reason.
func TestCheckReasons(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	for _, tc := range []struct {
		name   string
		cert   string
		modify func(*sigreq.Request)
		want   string
	}{
		{"unknown cert", certB[:63] + "0", func(r *sigreq.Request) { r.Template.Name = "x" }, // the only reason
			`no key in the policy has the certificate with SHA-256 "` + certB[:63] + `0"`},
		{"template", certA, func(r *sigreq.Request) { r.Template.Name = "fwupd-amd64-signed-template" },
			"template fwupd-amd64-signed-template is not allowed for this key"},
		{"package", certA, func(r *sigreq.Request) { r.Files[1].Package = "fwupd-unsigned" },
			"fwupd-unsigned: usr/lib/grub/x86_64-efi/grubx64.efi: package fwupd-unsigned is not allowed for this key"},
		{"sig_type", certA, func(r *sigreq.Request) { r.Files[0].SigType = "linux-module" },
			`shim-unsigned: usr/lib/shim/shimx64.efi: sig_type "linux-module" is not allowed for this key`},
		{"max-files", certA, func(r *sigreq.Request) {
			for range 63 {
				r.Files = append(r.Files, r.Files[0])
			}
		}, "65 files, more than this key's max-files of 64"},
		{"trusted_cert", certA, func(r *sigreq.Request) { r.Template.TrustedCerts = []string{fpX} },
			`trusted_cert "` + fpX + `" is not in this key's trusted-certs`},
		{"trusted_cert of another key", certB, func(r *sigreq.Request) {
			r.Template.Name = "linux-image-amd64-signed-template"
			r.Template.TrustedCerts = []string{fpX, certA}
			r.Files = []sigreq.File{{Package: "linux-image-6.1-unsigned", Path: "a.ko", SigType: "linux-module"}}
		}, `trusted_cert "` + certA + `" is not in this key's trusted-certs`},
		{"name with a newline", certA, func(r *sigreq.Request) { r.Template.Name = "x\n- forged" },
			`template "x\n- forged" is not allowed for this key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := request()
			tc.modify(req)
			r := refusal(t, p.Check(tc.cert, req))
			if d := cmp.Diff(&Refusal{Reasons: []string{tc.want}}, r); d != "" {
				t.Errorf("refusal mismatch (-want +got):\n%s", d)
			}
			if got, want := r.Error(), "policy refuses the request: "+tc.want; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

// A request breaking every rule is refused with every reason at once,
// the whole request's first, then each file's in order.
func TestCheckEveryReason(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	p.Keys[0].MaxFiles = 2
	req := request(
		sigreq.File{Package: "fwupd-unsigned", Path: "a.efi", SigType: "efi"},
		sigreq.File{Package: "shim-unsigned", Path: "b.ko", SigType: "linux-module"},
		sigreq.File{Package: "grub-efi-arm64-bin", Path: "c.ko", SigType: "kmod"},
	)
	req.Template.Name = "shim-signed-template"
	req.Template.TrustedCerts = []string{certB, fpX}
	r := refusal(t, p.Check(certA, req))
	want := `policy refuses the request: 8 reasons:
  - template shim-signed-template is not allowed for this key
  - 3 files, more than this key's max-files of 2
  - trusted_cert "` + certB + `" is not in this key's trusted-certs
  - trusted_cert "` + fpX + `" is not in this key's trusted-certs
  - fwupd-unsigned: a.efi: package fwupd-unsigned is not allowed for this key
  - shim-unsigned: b.ko: sig_type "linux-module" is not allowed for this key
  - grub-efi-arm64-bin: c.ko: package grub-efi-arm64-bin is not allowed for this key
  - grub-efi-arm64-bin: c.ko: sig_type "kmod" is not allowed for this key`
	if got := r.Error(); got != want {
		t.Errorf("Error():\n%s\nwant:\n%s", got, want)
	}
	if len(r.Reasons) != 8 || r.Omitted != 0 {
		t.Errorf("%d reasons, %d omitted, want 8 and 0", len(r.Reasons), r.Omitted)
	}
}

// A huge refused request makes a message of MaxReasons lines.
func TestCheckCapsReasons(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	p.Keys[0].MaxFiles = 1 << 20
	var files []sigreq.File
	for i := range 100000 {
		files = append(files, sigreq.File{Package: "fwupd-unsigned", Path: fmt.Sprintf("f%d.efi", i), SigType: "efi"})
	}
	r := refusal(t, p.Check(certA, request(files...)))
	if len(r.Reasons) != MaxReasons || r.Omitted != 100000-MaxReasons {
		t.Errorf("%d reasons, %d omitted, want %d and %d", len(r.Reasons), r.Omitted, MaxReasons, 100000-MaxReasons)
	}
	msg := r.Error()
	if !strings.HasPrefix(msg, "policy refuses the request: 100000 reasons:\n  - fwupd-unsigned: f0.efi: ") ||
		!strings.HasSuffix(msg, fmt.Sprintf("\n  - fwupd-unsigned: f%d.efi: package fwupd-unsigned is not allowed for this key\n  - and %d more", MaxReasons-1, 100000-MaxReasons)) {
		t.Errorf("Error() = %s...%s", msg[:100], msg[len(msg)-150:])
	}
	if n := strings.Count(msg, "\n"); n != MaxReasons+1 {
		t.Errorf("Error() has %d lines, want %d", n+1, MaxReasons+2)
	}
}

func TestCheckPatterns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, name string
		match         bool
	}{
		{"grub-efi-*-signed-template", "grub-efi-amd64-signed-template", true},
		{"grub-efi-*-signed-template", "grub-efi-signed-template", false},
		{"grub-efi-*-signed-template", "grub-efi-amd64-signed-template-x", false}, // the whole name
		{"grub-efi-*-signed-template", "xgrub-efi-amd64-signed-template", false},
		{"shim-helpers-*", "shim-helpers-amd64-signed-template", true},
		{"shim-helpers-*", "shim-helpers", false},
		{"linux-image-?.?-unsigned", "linux-image-6.1-unsigned", true},
		{"linux-image-?.?-unsigned", "linux-image-6.12-unsigned", false},
		{"fwupd-[ai]*", "fwupd-arm64-signed-template", true},
		{"fwupd-[ai]*", "fwupd-i386-signed-template", true},
		{"fwupd-[ai]*", "fwupd-amd64-signed-template", true},
		{"fwupd-[^a]*", "fwupd-amd64-signed-template", false},
		{"fwupd-[^a]*", "fwupd-i386-signed-template", true},
		{"exact", "exact", true},
		{"exact", "exac", false},
		{"*", "anything-at-all", true},
	} {
		p := testPolicy(t)
		p.Keys[0].Templates = []string{"no-match", tc.pattern}
		req := request()
		req.Template.Name = tc.name
		if got := p.Check(certA, req) == nil; got != tc.match {
			t.Errorf("template pattern %q on %q: allowed %v, want %v", tc.pattern, tc.name, got, tc.match)
		}
		p.Keys[0].Templates = []string{"*"}
		p.Keys[0].Packages = []string{tc.pattern}
		req = request(sigreq.File{Package: tc.name, Path: "x.efi", SigType: "efi"})
		if got := p.Check(certA, req) == nil; got != tc.match {
			t.Errorf("package pattern %q on %q: allowed %v, want %v", tc.pattern, tc.name, got, tc.match)
		}
	}
}

func TestRefusalError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    Refusal
		want string
	}{
		{Refusal{}, "policy refuses the request"},
		{Refusal{Reasons: []string{"a"}}, "policy refuses the request: a"},
		{Refusal{Reasons: []string{"a", "b"}}, "policy refuses the request: 2 reasons:\n  - a\n  - b"},
		{Refusal{Reasons: []string{"a"}, Omitted: 2}, "policy refuses the request: 3 reasons:\n  - a\n  - and 2 more"},
	} {
		if got := tc.r.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.r, got, tc.want)
		}
	}
}
