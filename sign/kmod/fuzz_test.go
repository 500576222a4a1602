package kmod

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// checkDetach asserts what must hold for any input: no panic, a typed
// error, and on success a split that Attach puts back together.
func checkDetach(t *testing.T, in []byte) {
	module, sig, err := Detach(in)
	if err != nil {
		var ie *inputerr.Error
		if !errors.As(err, &ie) && !errors.Is(err, ErrNotSigned) {
			t.Fatalf("got %T %v, want an *inputerr.Error or ErrNotSigned", err, err)
		}
		return
	}
	if len(module) == 0 || len(sig) == 0 || len(module)+len(sig)+TrailerSize != len(in) {
		t.Fatalf("got module %d + signature %d + %d bytes, input is %d", len(module), len(sig), TrailerSize, len(in))
	}
	if IsSigned(module) {
		return // a module signed twice: Attach refuses those on purpose
	}
	again, err := Attach(module, sig)
	if err != nil {
		t.Fatalf("Attach after Detach: %v", err)
	}
	if !bytes.Equal(again, in) {
		t.Fatalf("Attach(Detach(x)) != x")
	}
	_ = Verify(module, sig, nil) // must not panic
}

func FuzzDetach(f *testing.F) {
	signed, unsigned := debianModule(f)
	f.Add(signed)
	f.Add(unsigned)
	f.Add([]byte(Magic))
	f.Add(append([]byte{1}, trailer(0, 0, 2, 0, 0, [3]byte{}, 1)...))
	f.Fuzz(checkDetach)
}

// FuzzTrailer fuzzes the fields of struct module_signature rather than raw
// bytes, which reaches the field checks far sooner.
func FuzzTrailer(f *testing.F) {
	signed, _ := debianModule(f)
	f.Add(signed[:len(signed)-TrailerSize], byte(0), byte(0), byte(2), byte(0), byte(0), byte(0), uint32(681))
	f.Add([]byte{1, 2, 3}, byte(0), byte(0), byte(2), byte(0), byte(0), byte(0), uint32(3))
	f.Add([]byte{}, byte(1), byte(2), byte(1), byte(4), byte(5), byte(6), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, body []byte, algo, hash, idType, signerLen, keyIDLen, pad byte, sigLen uint32) {
		in := append(bytes.Clone(body), trailer(algo, hash, idType, signerLen, keyIDLen, [3]byte{pad, 0, pad}, sigLen)...)
		checkDetach(t, in)
	})
}
