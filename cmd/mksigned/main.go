// Command mksigned turns unsigned Debian binary packages and a signing
// template into the -signed Debian source package, as Debian's code-signing
// service does. See README.md for the flow and `mksigned help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// Exit codes: 1 for bad input or a failed check, 2 for bad usage.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	// exitInterrupted follows the shell's 128+SIGINT.
	exitInterrupted = 130
)

// memoryLimit is the Go heap size the garbage collector aims to stay
// under (a soft limit: a larger file to sign still fits). Without it the
// heap grew to twice the live data, and a kernel or module run peaked at
// 80-90 MB; with it, about 55 MB at the same speed. GOMEMLIMIT overrides it.
const memoryLimit = 48 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	// SIGINT and SIGTERM cancel the work; output being written is
	// finished first, so an interrupt never leaves half a package.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A second signal ends the process at once (its default action):
	// the work in hand may never finish (a --sign-with command that
	// does not answer), and a run killed at any moment leaves no half
	// output (process resumes it).
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand: its name, a line of help, and the function
// that parses its own flags and runs it.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"generate", "make the -signed source package from a template and unsigned .debs", runGenerate},
		{"process", "sign each template version in an incoming directory exactly once (a batch queue)", runProcess},
		{"request", "write the digests a signing host is to sign (the split signer's first half)", runRequest},
		{"verify", "check every signature of a -signed source package against the unsigned files", runVerify},
		{"attach", "attach a detached signature to an EFI image or kernel module", runAttach},
		{"detach", "take the signature out of a signed EFI image or kernel module", runDetach},
		{"sign-request", "on the signing host: sign the digests of a request from mksigned request", runSignRequest(os.Stdin)},
		{"template", "propose signing.yaml (template init), or write a signing template from it (template build)", runTemplate},
		{"hook", "sign a build that has just finished: dpkg-buildpackage --hook-done='mksigned hook %p %v'", runHook},
		{"audit", "check a signing audit log: mksigned audit verify LOG", runAudit},
	}
}

// run is main without the exit, so that tests drive the CLI in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "mksigned %s\n", version())
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue usageError
		switch {
		case err == nil:
			return exitOK
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			fmt.Fprintln(stderr, "mksigned: interrupted; nothing was written")
			return exitInterrupted
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "mksigned %s: %v\n", c.name, err)
			if ue.usage != "" {
				fmt.Fprint(stderr, ue.usage)
			} else {
				fmt.Fprintf(stderr, "Run 'mksigned %s -h' for usage.\n", c.name)
			}
			return exitUsage
		case errors.Is(err, errReported):
			return exitFail
		default:
			fmt.Fprintf(stderr, "mksigned: %v\n", err)
			return exitFail
		}
	}
	fmt.Fprintf(stderr, "mksigned: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

// errReported means the command already told the user what failed (verify's
// per-file lines), so run only sets the exit code.
var errReported = errors.New("failures reported above")

func usage(w io.Writer) {
	fmt.Fprint(w, `mksigned makes Debian's -signed source packages: it signs the files a
signing template lists and writes the source package Debian's signing
service would upload.

Usage:
  mksigned <command> [flags]

Commands:
`)
	lines := [][2]string{}
	for _, c := range commands() {
		lines = append(lines, [2]string{c.name, c.summary})
	}
	lines = append(lines, [2]string{"help", "show this help, or a command's: mksigned help generate"}, [2]string{"version", "print the version"})
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
	}
	fmt.Fprint(w, `
Exit status: 0 on success, 1 for bad input or a failed check, 2 for bad
usage, 130 when interrupted (SIGINT or SIGTERM) before writing began.
`)
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = strings.TrimPrefix(v+" ", "(devel) ") + "(" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "(devel)"
}
