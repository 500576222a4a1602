package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/job"
)

func runRequest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("request",
		"--template T (--unsigned DEB)... --output REQ",
		`Write a signing request for the split signer: check the template and
packages as generate --dry-run does, read every listed file, and write REQ,
a small JSON file of the digests to sign (with the signing time generate
would use), for `+"`mksigned sign-request`"+` on the signing host. Its response
goes back through generate --signatures RESP; the result is byte for byte
what generate --key would have written. REQ "-" is standard output.
`, stdout)
	var o job.GenerateOptions
	var unsigned multiFlag
	var out string
	inputFlagVars(fs, &o, &unsigned)
	fs.StringVar(&out, "output", "", "write the request to `REQ` (\"-\": standard output)")
	fs.IntVar(&o.Jobs, "jobs", min(runtime.NumCPU(), job.MaxJobs), fmt.Sprintf("digest `N` files at once, at most %d", job.MaxJobs))
	fs.BoolVar(&o.StopEarly, "stop-early", false, "stop reading each package once its listed files are seen (see generate -h)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	o.Unsigned = unsigned
	if err := checkInputFlags(pos, o); err != nil {
		return err
	}
	if out == "" {
		return usagef("--output is required (\"-\" for standard output)")
	}
	if err := deb.CheckDecompressEnv(); err != nil {
		return err
	}
	if out != "-" {
		inputs := []clobber.Input{{Flag: "--template", Path: o.Template}}
		for _, u := range o.Unsigned {
			inputs = append(inputs, clobber.Input{Flag: "--unsigned", Path: u})
		}
		if err := checkOutputFile(out, inputs...); err != nil {
			return err
		}
	}
	o.SourceDateEpoch = os.Getenv("SOURCE_DATE_EPOCH")
	if p := job.Procs(o.Jobs, len(o.Unsigned)); p > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(p)
	}
	req, _, err := job.Request(ctx, o)
	if err != nil {
		return err
	}
	// Marshal refuses what sign-request would refuse.
	data, err := req.Marshal()
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: write nothing
	}
	if out == "-" {
		_, err := stdout.Write(data)
		return err
	}
	return writeOutput(stdout, out, data)
}
