package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/signer"
)

func runSignRequest(stdin io.Reader) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return signRequest(ctx, args, stdin, stdout)
	}
}

func signRequest(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlagSet("sign-request",
		"--key KEY [--cert CERT] [--pkcs11-module PATH] [--key-passphrase-file F]\n"+
			"    (--policy FILE | --no-policy) (--audit-log FILE | --no-audit-log)\n"+
			"    [--requester NAME] [--jobs N] (--output RESP | --output-dir DIR) [--json] REQ",
		`On the signing host: read the signing request REQ that mksigned request
wrote beside the build (- for standard input), check it against the
policy, sign each digest in it, record every signature in the audit log,
and write the response: a tar of <package>/<path>.sig (RESP, - for
standard output) or a new directory DIR holding the same, for
mksigned generate --signatures. The signatures are the bytes generate
--key would make. Nothing but the request is read from the builder: no
package or binary reaches this host. A request the policy refuses is
refused whole, with every reason, and nothing is signed.

For a forced ssh command (see README):
  ssh signer < req.json > resp.tar
runs mksigned sign-request ... --output - -; the requester in the audit
log is then the client address from $SSH_CLIENT.
`, stdout)
	var k keyRef
	addKeyFlags(fs, &k, "")
	var o signer.RunOptions
	var asJSON bool
	fs.StringVar(&o.Policy, "policy", "", "check requests against the policy `FILE` (YAML)")
	fs.BoolVar(&o.NoPolicy, "no-policy", false, "sign any request without a policy")
	fs.StringVar(&o.AuditLog, "audit-log", "", "append a record of every signature to the audit log `FILE` before releasing it")
	fs.BoolVar(&o.NoAuditLog, "no-audit-log", false, "sign without recording the signatures")
	fs.StringVar(&o.Requester, "requester", "", "who asks, for the audit log: `NAME` (default: the client address in $SSH_CLIENT)")
	fs.IntVar(&o.Jobs, "jobs", min(runtime.NumCPU(), job.MaxJobs), fmt.Sprintf("make at most `N` signatures at once, at most %d (a token's session limit)", job.MaxJobs))
	fs.StringVar(&o.Output, "output", "", "write the response to `RESP`, a tar file (- for standard output)")
	fs.StringVar(&o.OutputDir, "output-dir", "", "write the signatures into `DIR`, a new directory, as <package>/<path>.sig")
	fs.BoolVar(&asJSON, "json", false, "print what was signed as one JSON object (not with --output -)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("want exactly one REQ (- for standard input), got %d", len(pos))
	case k.key == "":
		return usagef("--key is required")
	case o.Policy != "" && o.NoPolicy:
		return usagef("--policy and --no-policy exclude each other")
	case o.Policy == "" && !o.NoPolicy:
		return usagef("--policy FILE is required: the signing host checks every request (--no-policy signs without one)")
	case o.AuditLog != "" && o.NoAuditLog:
		return usagef("--audit-log and --no-audit-log exclude each other")
	case o.AuditLog == "" && !o.NoAuditLog:
		return usagef("--audit-log FILE is required: the signing host records every signature (--no-audit-log signs without)")
	case o.Output != "" && o.OutputDir != "":
		return usagef("--output and --output-dir exclude each other")
	case o.Output == "" && o.OutputDir == "":
		return usagef("--output RESP (- for standard output) or --output-dir DIR is required")
	case o.OutputDir == signer.Stdio:
		return usagef("--output-dir is a directory to make; for standard output, --output -")
	case asJSON && o.Output == signer.Stdio:
		return usagef("--json and --output - exclude each other: the response is on standard output")
	case len(o.Requester) > maxRequester:
		return usagef("--requester is %d bytes, more than %d", len(o.Requester), maxRequester)
	case o.Jobs < 1:
		return usagef("--jobs must be at least 1")
	case o.Jobs > job.MaxJobs:
		return usagef("--jobs must be at most %d", job.MaxJobs)
	}
	if err := k.check(); err != nil {
		return err
	}
	if o.Requester == "" {
		o.Requester = sshClient()
	}
	o.Request, o.Stdin, o.Stdout = pos[0], stdin, stdout
	o.Inputs = k.inputs()
	var key *sign.Key
	o.OpenKey = func() (*sign.Key, error) {
		var err error
		key, err = k.open(ctx)
		return key, err
	}
	r, err := signer.Run(ctx, o)
	if err != nil {
		return err
	}
	switch {
	case asJSON:
		return printSignRequestJSON(stdout, r, o.Requester, cryptoName(key))
	case r.Written != "":
		fmt.Fprintf(stdout, "wrote %s\n", inputerr.Name(r.Written))
	}
	return nil
}

// signRequestJSON is what sign-request --json prints.
type signRequestJSON struct {
	Template        string `json:"template"`
	TemplateVersion string `json:"template_version"`
	Signatures      int    `json:"signatures"`
	KeySHA256       string `json:"key_sha256"`
	Requester       string `json:"requester"`
	Written         string `json:"written"`
	Crypto          string `json:"crypto"`
}

func printSignRequestJSON(w io.Writer, r *signer.Result, requester, crypto string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(signRequestJSON{
		Template: r.Request.Template.Name, TemplateVersion: r.Request.Template.Version,
		Signatures: len(r.Signatures), KeySHA256: r.KeySHA256, Requester: requester,
		Written: r.Written, Crypto: crypto,
	})
}
