package signer

// Run is `mksigned sign-request` once its flags are parsed and its key
// is open: read the request, load the policy, open the audit log, sign,
// and write the response, all or nothing.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mksigned/mksigned/audit"
	"github.com/mksigned/mksigned/internal/atomicfile"
	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/policy"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sigreq"
)

// Stdio is the name of standard input as Request, and of standard output
// as Output.
const Stdio = "-"

// RunOptions are what sign-request is given.
type RunOptions struct {
	// Request is the request file, or Stdio for Stdin.
	Request string
	Stdin   io.Reader
	// Output is the response file (a tar), or Stdio for Stdout; OutputDir
	// is a directory to make instead, holding <package>/<path>.sig.
	// Exactly one is given.
	Output, OutputDir string
	Stdout            io.Writer
	// OpenKey opens the signing key. Run calls it once everything else
	// has been read and checked, so that a bad request or policy never
	// costs a token session, and closes the key at the end.
	OpenKey func() (*sign.Key, error)
	// Policy is the policy file; empty is refused unless NoPolicy.
	Policy   string
	NoPolicy bool
	// AuditLog is the audit log file; empty is refused unless NoAuditLog.
	AuditLog   string
	NoAuditLog bool
	Requester  string
	Jobs       int // as Options.Jobs
	// Inputs are the other files read (key, certificate, passphrase), which
	// the output must not overwrite.
	Inputs []clobber.Input
}

// Result is what Run did.
type Result struct {
	Request    *sigreq.Request
	KeySHA256  string
	Signatures []sigreq.Signature
	// Written is the response file or directory written, "" for
	// standard output.
	Written string
}

// Run signs a request as Sign does and writes the response. It refuses,
// before reading anything, an output that would overwrite one of its
// inputs, a response file in no existing directory, an output directory
// that exists already, and a missing policy or audit log that is not
// waived. On any error nothing is written and no signature is released;
// the audit log holds the signatures once they are made, so a failure to
// write the response leaves records of signatures nobody received.
func Run(ctx context.Context, o RunOptions) (*Result, error) {
	if err := checkRun(&o); err != nil {
		return nil, err
	}
	opts := Options{NoPolicy: o.NoPolicy, NoAuditLog: o.NoAuditLog, Requester: o.Requester, Jobs: o.Jobs}
	var err error
	if o.Policy != "" {
		if opts.Policy, err = policy.Load(o.Policy); err != nil {
			return nil, err
		}
	}
	if o.AuditLog != "" {
		if opts.Audit, err = audit.OpenContext(ctx, o.AuditLog); err != nil {
			return nil, err
		}
		if a := opts.Audit; a.Cut > 0 {
			fmt.Fprintf(os.Stderr, "mksigned: audit log %s: cut off the %d bytes of an unfinished record that a killed run left at its end (that run's signatures never left)\n", inputerr.Name(o.AuditLog), a.Cut)
		}
		defer opts.Audit.Close()
	}
	req, err := readRequest(ctx, o.Request, o.Stdin)
	if err != nil {
		return nil, err
	}
	key, err := o.OpenKey()
	if err != nil {
		return nil, err
	}
	defer key.Close()
	sigs, err := Sign(ctx, req, key, opts)
	if err != nil {
		return nil, err
	}
	r := &Result{Request: req, KeySHA256: CertSHA256(key.Cert), Signatures: sigs}
	if o.OutputDir != "" {
		files := make(map[string][]byte, len(sigs))
		for _, s := range sigs {
			files[s.Path] = s.Data
		}
		if err := atomicfile.WriteDir(o.OutputDir, files); err != nil {
			return nil, fmt.Errorf("--output-dir: %w", err)
		}
		r.Written = o.OutputDir
		return r, nil
	}
	var resp bytes.Buffer
	if err := sigreq.WriteResponse(&resp, req.SigningTime, sigs); err != nil {
		return nil, err
	}
	if o.Output == Stdio {
		if _, err := o.Stdout.Write(resp.Bytes()); err != nil {
			return nil, fmt.Errorf("writing the response to standard output: %w", err)
		}
		return r, nil
	}
	if err := atomicfile.Write(o.Output, resp.Bytes(), 0o644); err != nil {
		return nil, err
	}
	r.Written = o.Output
	return r, nil
}

// checkRun checks o before anything is read.
func checkRun(o *RunOptions) error {
	switch {
	case o.OpenKey == nil:
		return errors.New("no signing key")
	case o.Request == "":
		return errors.New("no request given")
	case (o.Output == "") == (o.OutputDir == ""):
		return errors.New("give exactly one of a response file and an output directory")
	case o.Policy == "" && !o.NoPolicy:
		return ErrNoPolicy
	case o.AuditLog == "" && !o.NoAuditLog:
		return ErrNoAuditLog
	case o.Policy != "" && o.NoPolicy, o.AuditLog != "" && o.NoAuditLog:
		return errors.New("a policy or audit log is given and waived at once")
	}
	inputs := append([]clobber.Input{{Flag: "REQ", Path: o.Request}, {Flag: "--policy", Path: o.Policy},
		{Flag: "--audit-log", Path: o.AuditLog}}, o.Inputs...)
	if o.Request == Stdio {
		inputs[0].Path = ""
	}
	switch {
	case o.OutputDir != "":
		if dir := filepath.Dir(o.OutputDir); !clobber.IsDir(dir) {
			return fmt.Errorf("--output-dir %s: %s is not an existing directory", inputerr.Name(o.OutputDir), inputerr.Name(dir))
		}
		if _, err := os.Lstat(o.OutputDir); err == nil {
			return fmt.Errorf("--output-dir %s exists: give the name of a directory to make", inputerr.Name(o.OutputDir))
		}
	case o.Output != Stdio:
		return clobber.OutputFile("--output", o.Output, inputs...)
	}
	return nil
}

// readRequest reads and parses the request file name, or stdin for Stdio.
func readRequest(ctx context.Context, name string, stdin io.Reader) (*sigreq.Request, error) {
	r, shown := stdin, "standard input"
	if name != Stdio {
		f, err := inputfile.Open(name)
		if err != nil {
			return nil, err // names the file
		}
		defer f.Close()
		r, shown = f, name
	}
	req, err := sigreq.Parse(inputfile.NewReader(ctx, r))
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err
		}
		return nil, inputerr.WithFile(err, shown)
	}
	return req, nil
}
