package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
)

// runHook is `mksigned hook`: generate for the build dpkg-buildpackage (or
// sbuild) has just finished.
func runHook(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("hook",
		"[--changes FILE] [--template T] [--source-dir DIR] [--output DIR] [SOURCE VERSION]",
		`Sign a package build that has just finished, as dpkg-buildpackage's done hook:

  dpkg-buildpackage -b -uc -us --hook-done='mksigned hook %p %v'

writes the -signed source package (<signed source>_<version>.dsc and
.tar.xz) beside the build's .changes, in the parent directory.

The .changes is the newest SOURCE_<VERSION without epoch>_<arch>.changes in
the source tree's parent (SOURCE and VERSION default to debian/changelog's
top entry), or --changes FILE. The template is the *-signed-template .deb
the .changes lists, else the source tree's debian/signing.yaml, or
--template T. The unsigned packages are the .debs of the .changes that the
template signs files of. Nothing the build wrote is changed.

The key and certificate come from $MKSIGNED_KEY and $MKSIGNED_CERT (a PEM
file each, or a pkcs11: URI and an optional certificate), else from the
first of $XDG_CONFIG_HOME/mksigned/config.yaml (default
~/.config/mksigned/config.yaml) and /etc/mksigned/config.yaml that exists:

  key: /path/signing.key      # or pkcs11:token=...;object=...
  cert: /path/signing.crt
  output: /path/dir           # optional; --output overrides it

(relative paths are relative to the file; $MKSIGNED_SYSTEM_CONFIG replaces
/etc/mksigned/config.yaml). No key configured is an error: the hook never
skips signing silently. On any error nothing is written.

With sbuild, outside the chroot once the build is copied out:

  sbuild --post-build-commands='mksigned hook --changes %SBUILD_CHANGES'
`, stdout)
	var o job.BuildOptions
	var out string
	jobs := min(runtime.NumCPU(), job.MaxJobs)
	var quiet bool
	fs.StringVar(&o.Changes, "changes", "", "the build's .changes `FILE` (default: found beside the source tree)")
	fs.StringVar(&o.Template, "template", "", "signing template `T` (a .deb, a code-signing directory or signing.yaml) instead of finding one")
	fs.StringVar(&o.SourceDir, "source-dir", "", "the unpacked source tree `DIR` the build ran in (default: the current directory)")
	fs.StringVar(&out, "output", "", "directory `DIR` to write the .dsc and .tar.xz into (default: the configuration's output, else the .changes' directory)")
	fs.IntVar(&jobs, "jobs", jobs, fmt.Sprintf("sign `N` files at once, at most %d", job.MaxJobs))
	fs.BoolVar(&quiet, "quiet", false, "print nothing on success")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 2:
		o.Source, o.Version = pos[0], pos[1]
	case len(pos) != 0:
		return usagef("want SOURCE and VERSION (dpkg-buildpackage's %%p %%v) or neither, got %d arguments", len(pos))
	case jobs < 1 || jobs > job.MaxJobs:
		return usagef("--jobs must be from 1 to %d", job.MaxJobs)
	}
	if err := deb.CheckDecompressEnv(); err != nil {
		return err
	}
	// The key first: without one the hook fails before reading the build.
	k, confOut, err := hookKey()
	if err != nil {
		return err
	}
	b, err := job.FindBuild(ctx, o)
	if err != nil {
		return err
	}
	if out == "" {
		out = confOut
	}
	if out == "" {
		out = filepath.Dir(b.Changes)
	}
	g := job.GenerateOptions{
		Template: b.Template, Unsigned: b.Unsigned, Output: out, Jobs: jobs,
		SourceDateEpoch: os.Getenv("SOURCE_DATE_EPOCH"), Inputs: k.inputs(),
	}
	if g.Key, err = k.open(ctx); err != nil {
		return err
	}
	defer g.Key.Close()
	if p := job.Procs(g.Jobs, len(g.Unsigned)); p > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(p)
	}
	r, err := job.Generate(ctx, g)
	if err != nil {
		return err
	}
	if !quiet {
		for _, w := range r.Written {
			fmt.Fprintf(stdout, "wrote %s\n", inputerr.Name(w))
		}
	}
	return nil
}
