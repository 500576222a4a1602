//go:build !cgo

package pkcs11

import (
	"errors"
	"strings"
	"testing"
)

// TestOpenNeedsCgo: without cgo a good URI gets ErrNoCgo, naming the key,
// and a bad one its own error.
func TestOpenNeedsCgo(t *testing.T) {
	t.Parallel()
	_, err := Open("pkcs11:token=archive;object=efi-2026", Options{})
	if !errors.Is(err, ErrNoCgo) || !strings.Contains(err.Error(), "object=efi-2026") {
		t.Errorf("got %v, want ErrNoCgo naming the object", err)
	}
	if _, err := Open("pkcs11:token=archive?pin-value=1234", Options{}); !errors.Is(err, ErrPINValue) {
		t.Errorf("pin-value: got %v, want ErrPINValue", err)
	}
}
