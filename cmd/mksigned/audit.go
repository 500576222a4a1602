package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mksigned/mksigned/audit"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// runAudit dispatches the audit subcommands; verify is the only one.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return runAuditVerify(ctx, args[1:], stdout)
	}
	fs := newFlagSet("audit", "verify LOG",
		`Work with the audit log that sign-request writes, one JSON line per
signature made, each line carrying the SHA-256 of the line before.

Commands:
  verify LOG  check the whole hash chain of LOG and print how many records
              it holds; exit status 1, naming the line, if it is broken
`, stdout)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{msg: "want a command: verify", usage: fs.help()}
	}
	return usageError{msg: fmt.Sprintf("unknown command %q (known: verify)", pos[0]), usage: fs.help()}
}

func runAuditVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("audit verify", "LOG",
		`Check the hash chain of the audit log LOG from its first line to its
last: each line must be a record in the form mksigned writes, and carry
the SHA-256 of the line before it (64 zeros on the first line). Print the
number of records. An edited, removed or reordered line, or a last line
cut off, fails with the number of the line where the chain breaks. The
chain cannot show an edit of the last line, nor whole lines cut from the
end: compare the count, or the last line, with a copy kept elsewhere.
`, stdout)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{msg: fmt.Sprintf("want exactly one LOG, got %d", len(pos)), usage: fs.help()}
	}
	n, err := audit.Verify(pos[0])
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	records := "records"
	if n == 1 {
		records = "record"
	}
	fmt.Fprintf(stdout, "%s: %d %s, chain intact\n", inputerr.Name(pos[0]), n, records)
	return nil
}
