package job

import (
	"context"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestIsSpecFile: signing.yaml is known by its name, .yaml or .yml.
func TestIsSpecFile(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"debian/signing.yaml": true, "signing.yml": true,
		"fwupd-amd64-signed-template_1.4-1_amd64.deb": false, "code-signing/fwupd": false, "signing.yaml.deb": false,
	} {
		if got := IsSpecFile(name); got != want {
			t.Errorf("IsSpecFile(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestBuildSpecTwice: one package given twice is refused, naming it.
func TestBuildSpecTwice(t *testing.T) {
	t.Parallel()
	deb := testutil.DebianFixture(t, "fwupd-unsigned_1.4-1_amd64.deb")
	spec := []byte(`source: fwupd-amd64-signed
maintainer: Jane Doe <jane@example.org>
description: |
  signed fwupd
copyright: 2026 Jane Doe
license: GPL-2+
packages:
  fwupd-unsigned:
    files:
      - path: usr/libexec/fwupd/efi/fwupdx64.efi
        sig-type: efi
    install: beside
`)
	if _, err := BuildSpec(context.Background(), "signing.yaml", spec, []string{deb}, "1700000000"); err != nil {
		t.Fatal(err)
	}
	_, err := BuildSpec(context.Background(), "signing.yaml", spec, []string{deb, deb}, "1700000000")
	if want := deb + ": package fwupd-unsigned is given twice"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
