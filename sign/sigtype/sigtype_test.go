package sigtype

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/authenticode"
	"github.com/mksigned/mksigned/sign/kmod"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	if d := cmp.Diff([]string{"efi", "linux-module"}, Names()); d != "" {
		t.Errorf("Names() (-want +got):\n%s", d)
	}
	if !slices.IsSorted(Names()) {
		t.Errorf("Names() %q is not sorted", Names())
	}
	for _, name := range []sign.SigType{sign.EFI, sign.LinuxModule} {
		ty, ok := Lookup(string(name))
		if !ok || ty.Name != name || ty.DigestAlgorithm != "sha256" || ty.DigestSize != sha256.Size {
			t.Errorf("Lookup(%q) = %+v, %v; want %s, sha256, 32 bytes", name, ty, ok, name)
		}
	}
	for _, name := range []string{"", "EFI", "openpgp", "linux-module "} {
		if ty, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) = %+v, want none", name, ty)
		}
		_, err := Get(name)
		var ue *UnknownError
		if !errors.As(err, &ue) || ue.Name != name {
			t.Errorf("Get(%q): error %v, want an *UnknownError naming it", name, err)
		}
	}
	_, err := Get("openpgp")
	if want := `unknown sig_type "openpgp" (known: "efi", "linux-module")`; err == nil || err.Error() != want {
		t.Errorf("Get(openpgp): error %v, want %s", err, want)
	}
}

// TestSign: each type's Sign makes what generate makes (efi.Sign is
// authenticode.Sign; kmod.Sign has no time).
func TestSign(t *testing.T) {
	t.Parallel()
	key := testutil.NewKey(t, 2048)
	digest := sha256.Sum256([]byte("an image"))
	when := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

	efiType, _ := Lookup("efi")
	got, err := efiType.Sign(key.Signer, key.Cert, digest[:], when)
	if err != nil {
		t.Fatal(err)
	}
	want, err := authenticode.Sign(key.Signer, key.Cert, digest[:], when)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("efi: Sign differs from authenticode.Sign")
	}
	other, err := efiType.Sign(key.Signer, key.Cert, digest[:], when.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, other) {
		t.Error("efi: the signing time is not in the signature")
	}

	mod, _ := Lookup("linux-module")
	got, err = mod.Sign(key.Signer, key.Cert, digest[:], when)
	if err != nil {
		t.Fatal(err)
	}
	want, err = kmod.Sign(key.Signer, key.Cert, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("linux-module: Sign differs from kmod.Sign")
	}

	for _, ty := range []*Type{efiType, mod} {
		if _, err := ty.Sign(key.Signer, key.Cert, digest[:31], when); err == nil {
			t.Errorf("%s: Sign(31-byte digest): got no error", ty.Name)
		}
	}
}
