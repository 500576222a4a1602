package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
)

// maxResponse bounds what a --sign-with command may print: a response
// is a tar of signatures, a few kilobytes each.
const maxResponse = 64 << 20

// maxSignerMessage is how much of the command's stderr a failure shows.
const maxSignerMessage = 2 << 10

// signRemotely has the command o.SignWith sign the job's files, as the
// split signer does: it writes the request (`mksigned request`) to the
// command's standard input and reads the response (what `mksigned
// sign-request --output - -` prints) from its standard output, into a
// temporary file for job.Generate's Signatures. It returns that file
// and a function that removes it.
//
// The command runs in a process group of its own: a signal to the
// queue's group (Ctrl-C, a service manager's SIGTERM to the main process
// only) does not cut a signing in hand, and the job is finished.
func (o Options) signRemotely(ctx context.Context, g job.GenerateOptions) (string, func(), error) {
	req, _, err := job.Request(ctx, g)
	if err != nil {
		return "", nil, err
	}
	data, err := req.Marshal()
	if err != nil {
		return "", nil, fmt.Errorf("request: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", o.SignWith)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = bytes.NewReader(data)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &stdout, n: maxResponse, fail: true}
	cmd.Stderr = &limitedWriter{w: &stderr, n: maxSignerMessage}
	err = cmd.Run()
	var tooLarge *errTooLarge
	switch {
	case errors.As(err, &tooLarge):
		return "", nil, fmt.Errorf("--sign-with: the response passes %d bytes", maxResponse)
	case err != nil:
		msg := bytes.TrimSpace(stderr.Bytes())
		if len(msg) > 0 {
			return "", nil, fmt.Errorf("--sign-with: %w: %s", err, inputerr.Tame(errors.New(string(msg))))
		}
		return "", nil, fmt.Errorf("--sign-with: %w", err)
	}
	if stdout.Len() == 0 {
		return "", nil, errors.New("--sign-with: the command printed no response")
	}
	f, err := os.CreateTemp("", "mksigned-response-*.tar")
	if err != nil {
		return "", nil, fmt.Errorf("--sign-with: %w", err)
	}
	remove := func() { os.Remove(f.Name()) }
	_, err = f.Write(stdout.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove()
		return "", nil, fmt.Errorf("--sign-with: %w", err)
	}
	return f.Name(), remove, nil
}

// limitedWriter takes at most n bytes; then, with fail, it fails (a
// response without end is an error), else it drops the rest (of the
// messages).
type limitedWriter struct {
	w    io.Writer
	n    int
	fail bool
}

type errTooLarge struct{}

func (*errTooLarge) Error() string { return "too large" }

func (l *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		l.w.Write(p[:l.n])
		l.n = 0
		if l.fail {
			return 0, &errTooLarge{}
		}
		return len(p), nil
	}
	l.n -= len(p)
	return l.w.Write(p)
}
