package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTemplateUsage: template build's help and usage errors, which need
// no package (the end-to-end tests in tests/ run it on real ones).
func TestTemplateUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name         string
		args         []string
		code         int
		stdout, errs string
	}{
		{"help", []string{"template", "build", "-h"}, exitOK, "Usage:\n  mksigned template build signing.yaml (--unsigned DEB)... (--output DIR | --deb DEBDIR)\n", ""},
		{"template help", []string{"template", "--help"}, exitOK, "mksigned template build signing.yaml", ""},
		{"no subcommand", []string{"template"}, exitUsage, "", "mksigned template: a subcommand is required"},
		{"unknown subcommand", []string{"template", "edit"}, exitUsage, "", `unknown subcommand "edit" (known: init, build)`},
		{"init help", []string{"template", "init", "-h"}, exitOK, "Usage:\n  mksigned template init (--unsigned DEB)... [--output FILE]\n", ""},
		{"template help lists init", []string{"template", "--help"}, exitOK, "mksigned template init (--unsigned DEB)...", ""},
		{"no yaml", []string{"template", "build", "--unsigned", "a.deb", "--output", "d"}, exitUsage, "", "want one signing.yaml, got 0 arguments"},
		{"no unsigned", []string{"template", "build", "s.yaml", "--output", "d"}, exitUsage, "", "--unsigned is required"},
		{"no output", []string{"template", "build", "s.yaml", "--unsigned", "a.deb"}, exitUsage, "", "--output or --deb is required"},
		{"bad flag", []string{"template", "build", "--bogus"}, exitUsage, "", "flag provided but not defined: --bogus\nUsage:\n  mksigned template build "},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), c.args, &stdout, &stderr)
			if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.errs) ||
				c.stdout == "" && stdout.Len() != 0 {
				t.Errorf("mksigned %q = %d, stdout %q, stderr %q; want %d, stdout with %q, stderr with %q",
					c.args, code, stdout.String(), stderr.String(), c.code, c.stdout, c.errs)
			}
		})
	}
}
