package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

const cancelControl = "Package: pkg\nVersion: 1\nArchitecture: amd64\n"

// TestReadContextStops: once the context is done, the next read fails
// with its error, in the middle of an entry's body that visit never
// reads (archive/tar skips it by reading); before, only the next entry
// could notice.
func TestReadContextStops(t *testing.T) {
	t.Parallel()
	data := testutil.Tar(t,
		testutil.TarEntry{Name: "./big", Type: tar.TypeReg, Mode: 0o644, Body: strings.Repeat("x", 1<<20)},
		testutil.TarEntry{Name: "./after", Type: tar.TypeReg, Mode: 0o644, Body: "y"})
	deb := testutil.Deb(t, cancelControl, data)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []string
	_, err := ReadContext(ctx, bytes.NewReader(deb), "p.deb", func(_ *Package, e *Entry, _ io.Reader) error {
		seen = append(seen, e.Path)
		cancel() // as a signal would, while the body goes by unread
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(seen) != 1 {
		t.Errorf("ReadContext cancelled at the first entry: %v, visited %q; want context.Canceled after %q only", err, seen, "big")
	}
	if _, err := ReadContext(ctx, bytes.NewReader(deb), "p.deb", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadContext with a done context: %v, want context.Canceled", err)
	}
	if _, err := Read(bytes.NewReader(deb), "p.deb", nil); err != nil {
		t.Errorf("Read: %v", err)
	}
}

// failAfter is a decompressed stream whose second read fails because the
// run is cancelled meanwhile, as the xz program's output does when the
// file it reads stops.
type failAfter struct {
	cancel func()
	r      io.Reader
	reads  int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.reads++; f.reads == 2 {
		f.cancel() // the signal comes while this read is under way
		return 0, errors.New("xz: data is truncated")
	}
	return f.r.Read(p)
}

// TestWalkTarCancelledFailure: a stream that fails because the run was
// cancelled reports the cancellation, not damage.
func TestWalkTarCancelledFailure(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := testutil.Tar(t, testutil.TarEntry{Name: "./a", Type: tar.TypeReg, Mode: 0o644, Body: strings.Repeat("x", 4096)})
	_, err := walkTar(ctx, &failAfter{cancel: cancel, r: bytes.NewReader(data)}, nil)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "truncated") {
		t.Errorf("walkTar over a stream failing after cancel: %v; want context.Canceled", err)
	}
}

// TestExternalXZOwnGroup: the xz program runs in a process group of its
// own, so that Ctrl-C on a terminal does not reach it.
func TestExternalXZOwnGroup(t *testing.T) {
	testutil.RequireTool(t, "xz")
	pr, pw := io.Pipe()
	rc, err := newExternalXZ(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	defer pw.Close() // first: Close waits for the copying of the input
	pid := rc.(*externalXZ).cmd.Process.Pid
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != pid || pgid == syscall.Getpgrp() {
		t.Errorf("xz (pid %d) is in process group %d, ours is %d; want a group of its own", pid, pgid, syscall.Getpgrp())
	}
}

// TestExternalXZSignalled: when xz dies of SIGINT (one signal to the
// whole process group or cgroup) and the run is interrupted by the same
// signal a moment later, the read reports the interruption; with no
// interruption, xz's death is its failure.
func TestExternalXZSignalled(t *testing.T) {
	testutil.RequireTool(t, "xz")
	for _, interrupted := range []bool{true, false} {
		t.Run(fmt.Sprint("interrupted=", interrupted), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe() // no input: xz waits for it
			rc, err := newExternalXZ(ctx, pr)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			p := rc.(*externalXZ).cmd.Process
			if err := p.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			waitZombie(t, p.Pid)
			pw.Close() // the copying of the input ends, so Wait can return
			if interrupted {
				// Well within xzSignalGrace, after xz has died.
				time.AfterFunc(xzSignalGrace/10, cancel)
			}
			_, err = io.ReadAll(rc)
			want := "xz: signal: interrupt"
			if interrupted {
				want = context.Canceled.Error()
			}
			if err == nil || err.Error() != want {
				t.Errorf("read after xz died of SIGINT: %v, want %q", err, want)
			}
		})
	}
}

// waitZombie waits until process pid has exited (and is not yet reaped).
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// pid (comm) state ...: comm may hold spaces, so after the last ')'.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && bytes.HasPrefix(b[i+1:], []byte(" Z")) {
			return
		}
	}
	t.Fatalf("process %d still running 10s after SIGINT", pid)
}
