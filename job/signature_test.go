package job

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/sigtype"
)

// TestDerLength covers each length form. The "2^31" cases made a negative
// length on 32-bit builds, which readSignature then sliced with: run this
// with GOARCH=386 too (.ci/run does).
func TestDerLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want int    // when msg is empty
		msg  string // a part of the error
	}{
		{"short form", []byte{0x30, 0x02, 0x05, 0x00}, 4, ""},
		{"short form, zero padding", []byte{0x30, 0x02, 0x05, 0x00, 0, 0, 0}, 4, ""},
		{"empty sequence", []byte{0x30, 0x00}, 2, ""},
		{"long form, 1 byte", append([]byte{0x30, 0x81, 0x80}, make([]byte, 0x80)...), 0x83, ""},
		{"long form, 2 bytes", append([]byte{0x30, 0x82, 0x01, 0x00}, make([]byte, 0x100)...), 0x104, ""},
		{"empty", nil, 0, "no SEQUENCE"},
		{"one byte", []byte{0x30}, 0, "no SEQUENCE"},
		{"not a sequence", []byte{0x31, 0x00}, 0, "no SEQUENCE"},
		{"indefinite length", []byte{0x30, 0x80, 0x00, 0x00}, 0, "bad DER length"},
		{"5 length bytes", []byte{0x30, 0x85, 0, 0, 0, 0, 1, 0}, 0, "bad DER length"},
		{"length bytes cut off", []byte{0x30, 0x82, 0x01}, 0, "bad DER length"},
		{"runs past the end", []byte{0x30, 0x03, 0x05, 0x00}, 0, "runs past the end"},
		{"2^31", []byte{0x30, 0x84, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, 0, "runs past the end"},
		{"2^32-1", []byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00}, 0, "runs past the end"},
		{"2^31-7", []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xf9, 0x00, 0x00, 0x00, 0x00}, 0, "runs past the end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := derLength(tt.in)
			if tt.msg == "" {
				if err != nil || n != tt.want {
					t.Fatalf("derLength(% x) = %d, %v; want %d", tt.in, n, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("derLength(% x) = %d, %v; want an error containing %q", tt.in, n, err, tt.msg)
			}
		})
	}
}

// TestReadSignatureHugeLength is the --signatures file that made generate
// --dry-run panic on 32-bit builds: a DER length of 2^31 in 10 bytes.
func TestReadSignatureHugeLength(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := []byte{0x30, 0x84, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}
	if err := os.WriteFile(filepath.Join(dir, "x.sig"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	sig, err := readSignature(dir, "x.sig")
	var ie *inputerr.Error
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "runs past the end") {
		t.Fatalf("readSignature = %d bytes, %v; want an *inputerr.Error saying the length runs past the end", len(sig), err)
	}
	if ie.File != filepath.Join(dir, "x.sig") || ie.Offset != 0 {
		t.Errorf("error names file %q offset %d, want %q offset 0", ie.File, ie.Offset, filepath.Join(dir, "x.sig"))
	}
}

// derSequence returns the DER SEQUENCE holding content, with the length in
// the short form or the shortest long form (X.690 §8.1.3).
func derSequence(content []byte) []byte {
	n := len(content)
	if n < 0x80 {
		return append([]byte{0x30, byte(n)}, content...)
	}
	var be [4]byte
	binary.BigEndian.PutUint32(be[:], uint32(n))
	l := bytes.TrimLeft(be[:], "\x00")
	out := append([]byte{0x30, 0x80 | byte(len(l))}, l...)
	return append(out, content...)
}

// FuzzReadSignature: a --signatures file is input. readSignature (and the
// derLength under it) must not panic, must return a prefix of the file
// or a typed error, and must give back exactly a valid DER SEQUENCE
// followed by zero padding (what sbattach --detach of a padded table
// gives).
func FuzzReadSignature(f *testing.F) {
	f.Add([]byte{0x30, 0x84, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, []byte{}, uint8(0))
	f.Add([]byte{0x30, 0x82, 0x01, 0x00, 0x02}, []byte{0x02, 0x01, 0x01}, uint8(7))
	f.Add([]byte{0x30, 0x80, 0x00, 0x00}, bytes.Repeat([]byte{0xa5}, 300), uint8(1))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw, content []byte, pad uint8) {
		// Arbitrary bytes, through the file.
		name := filepath.Join(dir, "raw.sig")
		if err := os.WriteFile(name, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		sig, err := readSignature(dir, "raw.sig")
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("readSignature(% x): error %q (%T) is not an *inputerr.Error", raw, err, err)
			}
		} else {
			if len(sig) < 2 || !bytes.HasPrefix(raw, sig) {
				t.Fatalf("readSignature(% x) = % x: not a prefix of at least 2 bytes", raw, sig)
			}
			if strings.Trim(string(raw[len(sig):]), "\x00") != "" {
				t.Fatalf("readSignature(% x) = % x: non-zero bytes after it were accepted", raw, sig)
			}
		}
		if n, err := derLength(raw); err == nil && (n < 2 || n > len(raw)) {
			t.Fatalf("derLength(% x) = %d, outside [2, %d]", raw, n, len(raw))
		}

		// A valid DER SEQUENCE with zero padding comes back as it was.
		der := derSequence(content)
		padded := append(bytes.Clone(der), make([]byte, pad)...)
		if len(padded) > maxSignature {
			return
		}
		if n, err := derLength(padded); err != nil || n != len(der) {
			t.Fatalf("derLength(%d-byte SEQUENCE + %d zeros) = %d, %v; want %d", len(der), pad, n, err, len(der))
		}
		if err := os.WriteFile(filepath.Join(dir, "der.sig"), padded, 0o644); err != nil {
			t.Fatal(err)
		}
		if sig, err := readSignature(dir, "der.sig"); err != nil || !bytes.Equal(sig, der) {
			t.Fatalf("readSignature(%d-byte SEQUENCE + %d zeros) = %d bytes, %v; want the SEQUENCE", len(der), pad, len(sig), err)
		}
	})
}

// TestFormatsCoverRegistry: every signature type the registry knows (and
// so template, policy and sign-request accept) has what job needs to read,
// check and verify its files, and no other.
func TestFormatsCoverRegistry(t *testing.T) {
	for _, name := range sigtype.Names() {
		f, ok := formats[sign.SigType(name)]
		if !ok || f.check == nil || f.digest == nil || f.verify == nil || f.attach == nil {
			t.Errorf("sig_type %s: no complete format in job", name)
		}
	}
	if len(formats) != len(sigtype.Names()) {
		t.Errorf("job has %d formats, the registry %d types", len(formats), len(sigtype.Names()))
	}
}
