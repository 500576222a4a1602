package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// usageError is bad usage: exit status 2. usage, when set, is the
// subcommand's help, printed after the message on stderr.
type usageError struct{ msg, usage string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

// multiFlag collects a flag given several times, such as --unsigned.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// flagSet is a subcommand's flags and its help: printed on stdout for -h,
// and carried in the usageError of a bad flag, for run to print on stderr.
type flagSet struct {
	*flag.FlagSet
	synopsis, description string
	stdout                io.Writer
}

// newFlagSet returns the flags of subcommand name. They report errors as
// values (never exit) and print nothing but the help for -h, on stdout.
func newFlagSet(name, synopsis, description string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, description: description, stdout: stdout}
}

// help is the subcommand's help text. Flags are shown as --name, the way
// the synopsis and README write them (flag.PrintDefaults would show
// -name; the flag package takes both).
func (fs *flagSet) help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  mksigned %s %s\n\n%s", fs.Name(), fs.synopsis, fs.description)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nFlags:\n")
	}
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		b.WriteString("  --" + f.Name)
		if arg != "" {
			b.WriteString(" " + arg)
		}
		b.WriteString("\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t"))
		if def := f.DefValue; def != "" && def != "0" && def != "false" {
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isString := g.Get().(string); isString {
					def = fmt.Sprintf("%q", def)
				}
			}
			fmt.Fprintf(&b, " (default %s)", def)
		}
		b.WriteString("\n")
	})
	return b.String()
}

// parse parses args, letting positional arguments and flags come in any
// order (Go's flag stops at the first positional), and returns the
// positionals. -h prints the help on stdout and gives flag.ErrHelp; a bad
// flag gives a usageError that carries the help.
func parse(fs *flagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(fs.stdout, fs.help())
				return nil, err
			}
			return nil, usageError{msg: longFlags(err.Error()), usage: fs.help()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagName matches the flag package's "-name" in its error messages
// ("flag provided but not defined: -bogus", "invalid value ... for flag
// -jobs: ...", "flag needs an argument: -key").
var flagName = regexp.MustCompile(`(: |for flag )-([^-\s:][^\s:]*)`)

// longFlags spells the flags of a flag package message as --name, as the
// help does.
func longFlags(msg string) string { return flagName.ReplaceAllString(msg, "$1--$2") }
