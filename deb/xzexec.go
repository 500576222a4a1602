package deb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// EnvDecompress names the environment variable that picks the xz decoder:
// "go" forces the pure-Go one, "external" the xz program; unset or
// "auto", the xz program decodes members of at least externalMinSize
// bytes when it is in PATH. The program is about twice as fast as the pure-Go decoder
// (docs/formats.md §5: 7.3 s against 11.5 s for a 70 MB kernel package).
// For small members the process start and the pipe's read-ahead cost more
// than they save, and the pure-Go decoder stops reading exactly when asked.
const EnvDecompress = "MKSIGNED_DECOMPRESS"

// externalMinSize is the smallest compressed member the xz program decodes
// by default: for shim-unsigned's 450 KB data member the program already
// makes a whole generate run 12% faster (35 ms against 40 ms), while for
// the few-KB control members starting a process would cost more than the
// decoding.
const externalMinSize = 256 << 10

var xzPath = sync.OnceValue(func() string {
	p, err := exec.LookPath("xz")
	if err != nil {
		return ""
	}
	return p
})

// CheckDecompressEnv refuses a value of $MKSIGNED_DECOMPRESS other than
// go, external or auto (unset is auto), as sign/libcrypto refuses one of
// $MKSIGNED_CRYPTO: a misspelt setting must not quietly mean the default.
// external also needs the xz program in PATH. Commands call it before any
// work.
func CheckDecompressEnv() error {
	switch v := os.Getenv(EnvDecompress); v {
	case "", "auto", "go":
		return nil
	case "external":
		if xzPath() == "" {
			return fmt.Errorf("$%s is external, but there is no xz program in PATH", EnvDecompress)
		}
		return nil
	default:
		return fmt.Errorf("$%s is %s: want go, external or auto", EnvDecompress, inputerr.Value(v))
	}
}

// useExternalXZ says whether to decode an xz stream of size bytes (-1 when
// unknown) with the xz program.
func useExternalXZ(size int64) bool {
	switch os.Getenv(EnvDecompress) {
	case "go":
		return false
	case "external":
		return xzPath() != ""
	}
	return xzPath() != "" && (size < 0 || size >= externalMinSize)
}

// externalXZ decodes r with "xz -dc -T0" in a subprocess. Read errors carry
// xz's own message; Close stops the process if it still runs.
//
// xz runs in a process group of its own, so that Ctrl-C on a terminal
// (SIGINT to the foreground group) reaches mksigned alone, which stops
// the run as interrupted; before, it killed xz first, and the run failed
// with "xz: signal: interrupt" as if the input were damaged. Where one
// signal reaches both anyway (to a whole cgroup, as systemd stops a
// service), xz's death by it is the interruption too: see interrupted.
type externalXZ struct {
	ctx    context.Context
	cmd    *exec.Cmd
	stdout io.Reader // buffered: archive/tar reads headers 512 bytes at a time
	stderr bytes.Buffer
	done   bool
	err    error // from Wait
	final  error // what Read returns once done: io.EOF or why not
}

// xzSignalGrace is how long a reader whose xz died of SIGINT, SIGTERM or
// SIGHUP waits for the run to be interrupted by the same signal (its
// handler cancels the context within milliseconds) before reporting the
// death as xz's failure.
const xzSignalGrace = time.Second

func newExternalXZ(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
	// One thread: -T0 decodes dpkg's 24 MiB blocks in parallel but holds
	// about 64 MiB per thread, past the memory a run may take; parallelism
	// comes from reading several packages side by side instead. The hard
	// memory limit refuses what the Go decoder refuses: dictionaries past
	// xzMaxDict.
	x := &externalXZ{ctx: ctx, cmd: exec.Command(xzPath(), "--decompress", "--stdout", "--threads=1",
		fmt.Sprintf("--memlimit-decompress=%d", xzMaxDict+xzMaxDict/4), "--no-warn")}
	x.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// finalErr reads xz's messages in English: without LC_ALL=C, LANGUAGE
	// picks a translation even under the C.UTF-8 locale.
	x.cmd.Env = append(os.Environ(), "LC_ALL=C")
	x.cmd.Stdin = r
	x.cmd.Stderr = &x.stderr
	out, err := x.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	x.stdout = bufio.NewReaderSize(out, 256<<10)
	if err := x.cmd.Start(); err != nil {
		return nil, fmt.Errorf("xz: starting %s: %w", xzPath(), err)
	}
	return x, nil
}

func (x *externalXZ) Read(p []byte) (int, error) {
	if x.done {
		return 0, x.final
	}
	n, err := x.stdout.Read(p)
	if err == io.EOF {
		x.done = true
		x.err = x.cmd.Wait()
		x.final = x.interrupted()
		if x.final == nil {
			x.final = x.finalErr()
		}
		if x.final != io.EOF {
			return n, x.final
		}
	}
	return n, err
}

// interrupted returns the context's error if xz died of a signal that
// interrupts a run (SIGINT, SIGTERM, SIGHUP) and the run is interrupted
// too, now or within xzSignalGrace; else nil.
func (x *externalXZ) interrupted() error {
	var ee *exec.ExitError
	if !errors.As(x.err, &ee) {
		return nil
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return nil
	}
	switch ws.Signal() {
	case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP:
	default:
		return nil
	}
	t := time.NewTimer(xzSignalGrace)
	defer t.Stop()
	select {
	case <-x.ctx.Done():
		return x.ctx.Err()
	case <-t.C:
		return nil
	}
}

// finalErr is io.EOF after a clean exit, else xz's complaint.
func (x *externalXZ) finalErr() error {
	if x.err == nil {
		return io.EOF
	}
	// xz says "/usr/bin/xz: (stdin): Compressed data is corrupt".
	msg := strings.TrimSpace(x.stderr.String())
	if _, after, ok := strings.Cut(msg, "(stdin): "); ok {
		msg = after
	}
	switch msg {
	case "":
		return fmt.Errorf("xz: %w", x.err)
	case "Unexpected end of input":
		return fmt.Errorf("xz: data is truncated: %w", io.ErrUnexpectedEOF)
	case "Compressed data is corrupt":
		return errors.New("xz: data is corrupt")
	case "Memory usage limit reached":
		return fmt.Errorf("xz: dictionary larger than %d MiB (memory limit reached)", xzMaxDict>>20)
	case "File format not recognized":
		return errors.New("xz: data is corrupt: not an xz stream")
	}
	return errors.New("xz: " + msg)
}

func (x *externalXZ) Close() error {
	if !x.done {
		x.done = true
		_ = x.cmd.Process.Kill()
		x.err = x.cmd.Wait()
		if x.err == nil {
			x.err = errors.New("closed")
		}
		x.final = x.finalErr()
	}
	return nil
}
