package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/mksigned/mksigned/audit"
	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/sign/sigtype"
	"github.com/mksigned/mksigned/sigreq"
)

// Request makes a signing request, the first half of the split signer:
// it checks everything a dry run of Generate checks (opts as for one;
// Key, Signatures and Output are ignored), reads every listed file as
// Generate would, and returns the digests a signing host is to sign with
// the signing time Generate would use, so that `sign-request` makes the
// signatures `generate --key` would have made. The Result is that of the
// dry run.
func Request(ctx context.Context, opts GenerateOptions) (*sigreq.Request, *Result, error) {
	opts.Key, opts.Signatures, opts.Output, opts.DryRun = nil, "", "", true
	before, err := templateHash(ctx, opts.Template)
	if err != nil {
		return nil, nil, err
	}
	r, debs, err := prepare(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	c := opts.collect(digestSource{})
	c.hashFiles = true
	if err := r.run(ctx, c, debs, nil); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	req := &sigreq.Request{
		Format:      sigreq.Format,
		Version:     sigreq.Version,
		SigningTime: r.Epoch.UTC(),
		Template: sigreq.Template{
			Name:          r.Template.Name,
			Source:        r.Template.SourceName,
			SourceVersion: r.Template.Version.String(),
			TrustedCerts:  []string{},
		},
	}
	if before != nil {
		// The template read is the one hashed: hashed again after it was
		// read, so that a file replaced in between is not described
		// by another's hash.
		after, err := templateHash(ctx, opts.Template)
		if err != nil {
			return nil, nil, err
		}
		if *after != *before {
			return nil, nil, fmt.Errorf("%s changed while it was read", opts.Template)
		}
		req.Template.DebSHA256 = before.sha256
		req.Template.Version = before.version
	}
	certs := map[string]bool{}
	for _, p := range r.Template.Manifest.Packages {
		for _, c := range p.TrustedCerts {
			certs[c] = true
		}
	}
	for c := range certs {
		req.Template.TrustedCerts = append(req.Template.TrustedCerts, c)
	}
	sort.Strings(req.Template.TrustedCerts)
	for _, it := range r.Items {
		if it.Digest == nil || it.SHA256 == nil {
			return nil, nil, fmt.Errorf("internal error: %s %s was not digested", it.Package, it.File.Path)
		}
		req.Files = append(req.Files, sigreq.File{
			Package:         it.Package,
			PackageVersion:  it.Version,
			Path:            it.File.Path,
			SigType:         string(it.File.SigType),
			Size:            it.Size,
			SHA256:          hex.EncodeToString(it.SHA256),
			DigestAlgorithm: digestAlgorithm(it),
			Digest:          hex.EncodeToString(it.Digest),
		})
	}
	return req, r, nil
}

// debHash is a template .deb's SHA-256 and package version.
type debHash struct {
	sha256, version string
}

// templateHash hashes the template when it is a .deb; a directory has no
// hash (nil).
func templateHash(ctx context.Context, path string) (*debHash, error) {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() || IsSpecFile(path) {
		// A directory or signing.yaml (no package to describe), or an
		// error loading the template reports.
		return nil, nil
	}
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pkg, err := deb.ReadControlContext(ctx, path)
	if err != nil {
		return nil, err
	}
	return &debHash{sha256: hex.EncodeToString(h.Sum(nil)), version: pkg.Version}, nil
}

// audit records the signatures opts.Key made in opts.AuditLog, and
// returns once they are on disk: a signature is released (written into
// the source package) only once it is recorded. Nothing is recorded for
// signatures given (--signatures), which this run did not make.
func (r *Result) audit(ctx context.Context, opts GenerateOptions) error {
	if opts.AuditLog == nil || opts.Key == nil || opts.Signatures != "" {
		return nil
	}
	th, err := templateHash(ctx, opts.Template)
	if err != nil {
		return err
	}
	tversion := "" // a directory, as in a request
	if th != nil {
		tversion = th.version
	}
	key := sha256.Sum256(opts.Key.Cert.Raw)
	now := time.Now().UTC()
	entries := make([]audit.Entry, 0, len(r.Items))
	for _, it := range r.Items {
		digest, sum := it.Digest, sha256.Sum256(it.Sig)
		entries = append(entries, audit.Entry{
			Time: now, KeySHA256: hex.EncodeToString(key[:]), Requester: opts.Requester,
			Template: r.Template.Name, TemplateVersion: tversion,
			Package: it.Package, PackageVersion: it.Version, Path: it.File.Path,
			SigType: string(it.File.SigType), DigestAlgorithm: digestAlgorithm(it), Digest: hex.EncodeToString(digest),
			SignatureSHA256: hex.EncodeToString(sum[:]),
		})
	}
	if err := opts.AuditLog.Append(entries); err != nil {
		return fmt.Errorf("%w: nothing written", err)
	}
	return nil
}

// digestAlgorithm names the algorithm of it's digest, as the registry has
// it for its sig_type.
func digestAlgorithm(it *Item) string {
	t, ok := sigtype.Lookup(string(it.File.SigType))
	if !ok {
		return "" // template refuses unknown types; Marshal would too
	}
	return t.DigestAlgorithm
}
