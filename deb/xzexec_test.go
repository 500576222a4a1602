package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// xzOf compresses data with the xz program, in blocks of blockSize so
// that -T0 can decode them in parallel, as dpkg-deb writes.
func xzOf(t *testing.T, data []byte, blockSize string) []byte {
	t.Helper()
	cmd := exec.Command(testutil.RequireTool(t, "xz"), "-0", "-T2", "--block-size="+blockSize, "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecoderChoice checks which xz decoder each setting picks: the
// program for large members by default, the pure-Go one for small ones,
// and what MKSIGNED_DECOMPRESS forces.
func TestDecoderChoice(t *testing.T) {
	testutil.RequireTool(t, "xz")
	small := xzOf(t, []byte("hello\n"), "1MiB")
	for _, c := range []struct {
		env      string
		size     int
		external bool
	}{
		{"", 100, false},
		{"", externalMinSize, true},
		{"go", externalMinSize, false},
		{"external", 100, true},
	} {
		t.Setenv(EnvDecompress, c.env)
		r := io.MultiReader(bytes.NewReader(small), bytes.NewReader(make([]byte, c.size)))
		rc, err := newXZ(context.Background(), &sized{r, c.size})
		if err != nil {
			t.Fatal(err)
		}
		_, got := rc.(*externalXZ)
		rc.Close()
		if got != c.external {
			t.Errorf("%s=%q, member of %d bytes: external %v, want %v", EnvDecompress, c.env, c.size, got, c.external)
		}
	}
}

type sized struct {
	io.Reader
	n int
}

func (s *sized) Len() int { return s.n }

// TestExternalXZ decodes a multi-block stream with both decoders and
// compares; then checks the program's errors and early close.
func TestExternalXZ(t *testing.T) {
	data := bytes.Repeat([]byte("mksigned streams kernel packages\n"), 200000) // 6.6 MB
	for i := range data {
		if i%4099 == 0 {
			data[i] = byte(i)
		}
	}
	comp := xzOf(t, data, "1MiB")
	want := sha256.Sum256(data)
	for _, mode := range []string{"go", "external"} {
		t.Setenv(EnvDecompress, mode)
		rc, err := Decompress("x.tar.xz", bytes.NewReader(comp))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		rc.Close()
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Errorf("%s: decoded data differs", mode)
		}
	}

	t.Setenv(EnvDecompress, "external")
	// xz's messages are read in English whatever the user's language (xz
	// ships a German translation, which LANGUAGE selects even under
	// C.UTF-8).
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("LC_ALL", "")
	t.Setenv("LANGUAGE", "de")
	for _, c := range []struct {
		name, want string
		in         []byte
	}{
		{"truncated", "xz: data is truncated", comp[:len(comp)/2]},
		{"corrupt", "xz: data is corrupt", func() []byte {
			b := bytes.Clone(comp)
			for i := len(b) / 2; i < len(b)/2+16; i++ {
				b[i] ^= 0xff
			}
			return b
		}()},
		{"not xz", "xz: data is corrupt: not an xz stream", []byte("hello, world, this is not xz at all")},
	} {
		rc, err := Decompress("x.tar.xz", bytes.NewReader(c.in))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}

	// Closing early stops the process, and it has not read much of its
	// input: 16 MB that do not compress.
	noise := make([]byte, 16<<20)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	big := xzOf(t, noise, "1MiB")
	src := &asyncCounter{r: bytes.NewReader(big)}
	rc, err := Decompress("x.tar.xz", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if ps := rc.(*externalXZ).cmd.ProcessState; ps == nil {
		t.Error("xz still running after Close")
	}
	if src.n.Load() > int64(len(big))/4 {
		t.Errorf("xz read %d of %d bytes to give 1000, want it stopped early", src.n.Load(), len(big))
	}
}

// asyncCounter counts bytes read; exec's copier reads it from its own
// goroutine.
type asyncCounter struct {
	r io.Reader
	n atomic.Int64
}

func (c *asyncCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
