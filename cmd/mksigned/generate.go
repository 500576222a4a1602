package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/sign"
)

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate",
		"--template T (--unsigned DEB)... (--key KEY --cert CERT | --key pkcs11:URI [--cert CERT] | --signatures DIR) --output DIR",
		`Sign the files a Debian signing template lists and write the -signed
source package (<Source>_<version>.dsc and .tar.xz) into DIR, as Debian's
code-signing service would. T is a *-signed-template .deb, a code-signing
directory (the one holding files.json and source-template/), or a
signing.yaml (a file named *.yaml or *.yml), built in memory as
'mksigned template build' would write it.

Signing time and tarball timestamps come from SOURCE_DATE_EPOCH, else the
template changelog's top date: the same inputs give the same bytes.

For an upload: --changes also writes the .changes that dpkg-genchanges -S
would write for the package, and --upload-key (or --upload-key-id)
clear-signs the .dsc and then the .changes as debsign does, ready for dput.
`, stdout)
	var o job.GenerateOptions
	var unsigned multiFlag
	var k keyRef
	inputFlagVars(fs, &o, &unsigned)
	addKeyFlags(fs, &k, "; with --signatures, checks them")
	fs.StringVar(&o.Signatures, "signatures", "", "use detached signatures from `DIR`/<package>/<path>.sig instead of signing")
	fs.StringVar(&o.Output, "output", "", "directory `DIR` to write the .dsc and .tar.xz into (created if missing)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "check everything that needs no key, print the plan, write nothing")
	fs.IntVar(&o.Jobs, "jobs", min(runtime.NumCPU(), job.MaxJobs), fmt.Sprintf("sign `N` files at once, at most %d (the output does not depend on it)", job.MaxJobs))
	fs.BoolVar(&o.StopEarly, "stop-early", false, "stop reading each package once its listed files are seen: faster, but a later\n"+
		"entry of the same path (which dpkg would install instead of the one signed)\n"+
		"or damage after it goes unseen; only for packages from a builder you trust")
	var auditLog string
	fs.StringVar(&auditLog, "audit-log", "", "record each signature made in the audit log `FILE` (see sign-request) before writing")
	fs.StringVar(&o.Requester, "requester", "", "who asked, for --audit-log (default: $SSH_CLIENT's address)")
	var up uploadFlags
	up.define(fs, &o)
	var quiet, asJSON bool
	fs.BoolVar(&quiet, "quiet", false, "print nothing on success, and no progress")
	fs.BoolVar(&asJSON, "json", false, "print the result (or the plan) as one JSON object, and no progress")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	o.Unsigned = unsigned
	if err := checkInputFlags(pos, o); err != nil {
		return err
	}
	switch {
	case o.Output == "" && !o.DryRun:
		return usagef("--output is required")
	case o.Signatures != "" && k.key != "":
		return usagef("--key and --signatures exclude each other: sign here, or take signatures made elsewhere")
	case o.Signatures == "" && !o.DryRun && k.key == "":
		return usagef("--key and --cert are required (or --signatures DIR, or --dry-run)")
	case auditLog != "" && k.key == "":
		return usagef("--audit-log needs --key: it records the signatures this run makes")
	case len(o.Requester) > maxRequester:
		return usagef("--requester is %d bytes, more than %d", len(o.Requester), maxRequester)
	case quiet && asJSON:
		return usagef("--quiet and --json exclude each other")
	}
	if err := up.check(); err != nil {
		return err
	}
	if err := k.check(); err != nil {
		return err
	}
	if err := deb.CheckDecompressEnv(); err != nil {
		return err
	}
	o.SourceDateEpoch = os.Getenv("SOURCE_DATE_EPOCH")
	closeAll, err := openSigning(ctx, &k, &up, auditLog, &o)
	defer closeAll()
	if err != nil {
		return err
	}
	if !quiet && !asJSON {
		if bar := newProgressBar(stderr); bar != nil {
			o.Progress = bar.update
			defer bar.finish()
		}
	}
	// Readers need Ps beside the workers (job.Procs). This is for the
	// whole process; a command runs one Generate.
	if p := job.Procs(o.Jobs, len(o.Unsigned)); p > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(p)
	}
	r, err := job.Generate(ctx, o)
	if err != nil {
		return err
	}
	switch {
	case asJSON:
		return printJSON(stdout, r, o)
	case quiet:
	case o.DryRun:
		printPlan(stdout, r, o.Output, o.Signatures != "", uploadName(o.Upload))
	default:
		for _, w := range r.Written {
			fmt.Fprintf(stdout, "wrote %s\n", inputerr.Name(w))
		}
	}
	return nil
}

// maxRequester bounds --requester, which goes into every audit record
// (a line may have audit.MaxLine bytes).
const maxRequester = 1024

// sshClient is the address of the ssh client this runs for, from
// $SSH_CLIENT ("ADDRESS PORT PORT"), or "".
func sshClient() string {
	f := strings.Fields(os.Getenv("SSH_CLIENT"))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// inputFlagVars defines the flags naming what generate and request read:
// --template and --unsigned.
func inputFlagVars(fs *flagSet, o *job.GenerateOptions, unsigned *multiFlag) {
	fs.StringVar(&o.Template, "template", "", "signing template: `T` is a .deb, a code-signing directory or signing.yaml")
	fs.Var(unsigned, "unsigned", "unsigned package `DEB` named in files.json (repeat for each)")
}

// checkInputFlags checks what generate and request share: no positional
// arguments, a template, packages, and --jobs in range.
func checkInputFlags(pos []string, o job.GenerateOptions) error {
	switch {
	case len(pos) > 0:
		return usagef("unexpected argument %q", pos[0])
	case o.Template == "":
		return usagef("--template is required")
	case len(o.Unsigned) == 0:
		return usagef("at least one --unsigned package is required")
	case o.Jobs < 1:
		return usagef("--jobs must be at least 1")
	case o.Jobs > job.MaxJobs:
		return usagef("--jobs must be at most %d", job.MaxJobs)
	}
	return nil
}

// jsonResult is what --json prints: for pipelines, the same facts as the
// text output.
type jsonResult struct {
	DryRun   bool       `json:"dry_run"`
	Template string     `json:"template"`
	Source   string     `json:"source"`
	Version  string     `json:"version"`
	Epoch    int64      `json:"epoch"`
	Files    []jsonFile `json:"files"`
	// Tree is what the source package holds beside the signatures.
	Tree jsonTree `json:"tree"`
	DSC  string   `json:"dsc"`
	Tar  string   `json:"tar"`
	// Changes is the .changes file, with --changes.
	Changes string `json:"changes,omitempty"`
	// Upload names what clear-signed the .dsc (and .changes): an
	// OpenPGP key's fingerprint, or "gpg:" and the --upload-key-id.
	Upload  string   `json:"upload_signer,omitempty"`
	Written []string `json:"written"`
	// Crypto names the implementation that signed: "openssl" or "go",
	// or "pkcs11" for a key in a token (empty when nothing was signed
	// with a key).
	Crypto string `json:"crypto,omitempty"`
}

type jsonTree struct {
	Files    int        `json:"files"`
	Dirs     int        `json:"dirs"`
	Links    []jsonLink `json:"links"`
	Excluded []string   `json:"excluded"`
}

type jsonLink struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

type jsonFile struct {
	Package   string `json:"package"`
	File      string `json:"file"`
	SigType   string `json:"sig_type"`
	Size      int64  `json:"size"`
	Deb       string `json:"deb"`
	Signature string `json:"signature"`
}

func printJSON(w io.Writer, r *job.Result, o job.GenerateOptions) error {
	out := jsonResult{
		DryRun: o.DryRun, Template: r.Template.Name, Source: r.Template.SourceName,
		Version: r.Template.Version.String(), Epoch: r.Epoch.Unix(),
		DSC: filepath.Join(o.Output, r.DSC), Tar: filepath.Join(o.Output, r.Tar),
		Files: []jsonFile{}, Written: r.Written,
	}
	if o.Key != nil && !o.DryRun {
		out.Crypto = cryptoName(o.Key)
	}
	if r.Changes != "" {
		out.Changes = filepath.Join(o.Output, r.Changes)
	}
	out.Upload = uploadName(o.Upload)
	if out.Written == nil {
		out.Written = []string{}
	}
	c := r.Contents
	out.Tree = jsonTree{Files: c.Files, Dirs: c.Dirs, Links: []jsonLink{}, Excluded: []string{}}
	for _, l := range c.Links {
		out.Tree.Links = append(out.Tree.Links, jsonLink{l.Name, l.Target})
	}
	out.Tree.Excluded = append(out.Tree.Excluded, c.Excluded...)
	for _, it := range r.Items {
		out.Files = append(out.Files, jsonFile{it.Package, it.File.Path, string(it.File.SigType), it.Size, filepath.Base(it.Deb), it.SigPath()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func printPlan(w io.Writer, r *job.Result, out string, haveSignatures bool, upload string) {
	verb := "sign"
	if haveSignatures {
		verb = "use " // the signature given, checked against the file
	}
	// Names come from the template and the packages: printed through
	// inputerr.Name, a newline in one cannot forge a line of the plan.
	q := inputerr.Name
	t := r.Template
	fmt.Fprintf(w, "template %s: source %s version %s, %d file(s) to sign, time %s\n",
		q(t.Name), t.SourceName, t.Version, len(r.Items), r.Epoch.Format("2006-01-02T15:04:05Z"))
	for _, it := range r.Items {
		fmt.Fprintf(w, "%s %-12s %s %s (%d bytes, from %s) -> %s\n",
			verb, it.File.SigType, it.Package, q(it.File.Path), it.Size, q(filepath.Base(it.Deb)), q(it.SigPath()))
	}
	// What else the package holds: the template's tree, links spelled out,
	// since a buildd follows them.
	c := r.Contents
	fmt.Fprintf(w, "and from the template: %d file(s), %d director%s, %d symbolic link(s)",
		c.Files, c.Dirs, plural(c.Dirs, "y", "ies"), len(c.Links))
	if len(c.Excluded) > 0 {
		var names []string
		for _, x := range c.Excluded {
			names = append(names, q(x))
		}
		fmt.Fprintf(w, "; dpkg-source's default excludes leave out %d: %s", len(c.Excluded), strings.Join(names, ", "))
	}
	fmt.Fprintln(w)
	for _, l := range c.Links {
		fmt.Fprintf(w, "link %s -> %s\n", q(l.Name), q(l.Target))
	}
	if out == "" {
		out = "<output>"
	}
	signed := ""
	if upload != "" {
		signed = " clear-signed by " + upload
	}
	fmt.Fprintf(w, "would write %s%s\n", q(filepath.Join(out, r.DSC)), signed)
	fmt.Fprintf(w, "would write %s\n", q(filepath.Join(out, r.Tar)))
	if r.Changes != "" {
		fmt.Fprintf(w, "would write %s%s\n", q(filepath.Join(out, r.Changes)), signed)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// envPassphrase names the environment variable holding the passphrase of
// an encrypted --key. Passphrases never come from the command line, where
// every user of the machine can read them (ps).
const envPassphrase = "MKSIGNED_KEY_PASSPHRASE"

// passphrase returns where the passphrase of an encrypted key comes from,
// asked only if the key is encrypted: the file given, else
// $MKSIGNED_KEY_PASSPHRASE, else $KBUILD_SIGN_PIN (what Linux's sign-file
// reads); an empty variable counts as unset. A file's one trailing
// newline (\n or \r\n) is not part of it. Reading a pipe that no one
// writes stops when ctx is cancelled (SIGINT).
func passphrase(ctx context.Context, file string) sign.Passphrase {
	return passphraseFrom(ctx, file, envPassphrase, "KBUILD_SIGN_PIN")
}

// maxPassphraseFile bounds a passphrase file: /dev/zero is not one.
const maxPassphraseFile = 64 << 10

// passphraseFrom is passphrase with the environment variables envs.
func passphraseFrom(ctx context.Context, file string, envs ...string) sign.Passphrase {
	return func() ([]byte, error) {
		if file != "" {
			b, err := readPassphraseFile(ctx, file)
			if err != nil {
				return nil, fmt.Errorf("passphrase: %w", err)
			}
			if b2, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
				return b2, nil
			}
			return bytes.TrimSuffix(b, []byte("\n")), nil
		}
		for _, env := range envs {
			// Empty counts as unset: a CI secret that is missing should
			// not hide the next source and read as a wrong passphrase.
			if v := os.Getenv(env); v != "" {
				return []byte(v), nil
			}
		}
		return nil, sign.ErrEncryptedKey
	}
}

// readPassphraseFile reads file (a pipe, perhaps, as <(pass show key)
// gives) up to maxPassphraseFile bytes, or until ctx is cancelled: a
// FIFO no one opens blocks open(2) itself, which no signal interrupts.
func readPassphraseFile(ctx context.Context, file string) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Open(file)
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxPassphraseFile+1))
		if err == nil && len(b) > maxPassphraseFile {
			clear(b)
			b, err = nil, fmt.Errorf("%s: more than %d bytes: not a passphrase", inputerr.Name(file), maxPassphraseFile)
		}
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", inputerr.Name(file), ctx.Err())
	}
}
