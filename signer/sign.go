// Package signer is the signing host of the split signer: `mksigned
// sign-request`. It takes a signing request (package sigreq), checks it
// against the host's policy, signs each digest in it and records every
// signature in the audit log before it releases any.
//
// The signing host never sees a binary. This package must not import the
// .deb reader, the PE or ELF parsers, the template reader or the
// generate pipeline, nor anything that decompresses (imports_test.go
// checks its import graph): all it parses is the request's JSON.
package signer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mksigned/mksigned/audit"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/policy"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/sigtype"
	"github.com/mksigned/mksigned/sigreq"
)

// Errors for a signing host that has not been told what to check or
// where to record: both must be given, or waived explicitly.
var (
	ErrNoPolicy   = errors.New("no policy given: the signing host checks every request against one (waive it with NoPolicy, --no-policy)")
	ErrNoAuditLog = errors.New("no audit log given: the signing host records every signature (waive it with NoAuditLog, --no-audit-log)")
)

// Options are Sign's inputs beside the request and the key.
type Options struct {
	// Policy is what the request is checked against; nil is refused
	// (ErrNoPolicy) unless NoPolicy says so.
	Policy   *policy.Policy
	NoPolicy bool
	// Audit is where every signature is recorded before it is released;
	// nil is refused (ErrNoAuditLog) unless NoAuditLog says so.
	Audit      *audit.Log
	NoAuditLog bool
	// Requester names who asked, for the audit log: --requester, or the
	// client address of $SSH_CLIENT.
	Requester string
	// Jobs is how many signatures are made at once: a hard bound on
	// concurrent calls of the key's Sign, which an HSM's session limit
	// needs. 0 means runtime.NumCPU().
	Jobs int
}

// CertSHA256 is the fingerprint a policy and the audit log name a key
// by: the lower-case hex SHA-256 of its certificate's DER.
func CertSHA256(cert *x509.Certificate) string {
	h := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(h[:])
}

// Sign makes the signature of every file of req with key, in req's order,
// each the bytes `mksigned generate --key` makes for the same file and
// key (efi signatures carry req.SigningTime). In this order:
//  1. the request is checked (sigreq.Validate) and then against the
//     policy: a request the policy refuses is refused as a whole, with
//     every reason (a *policy.Refusal), and nothing is signed;
//  2. every digest is signed, by at most opts.Jobs calls of key's Sign at
//     once; the first failure, or ctx being done, stops the others;
//  3. every signature is appended to the audit log, which fsyncs it. If
//     that fails, Sign fails: no signature leaves without its record.
func Sign(ctx context.Context, req *sigreq.Request, key *sign.Key, opts Options) ([]sigreq.Signature, error) {
	switch {
	case key == nil || key.Signer == nil || key.Cert == nil:
		return nil, errors.New("no signing key")
	case opts.Policy != nil && opts.NoPolicy:
		return nil, errors.New("a policy is given and waived at once")
	case opts.Policy == nil && !opts.NoPolicy:
		return nil, ErrNoPolicy
	case opts.Audit != nil && opts.NoAuditLog:
		return nil, errors.New("an audit log is given and waived at once")
	case opts.Audit == nil && !opts.NoAuditLog:
		return nil, ErrNoAuditLog
	case opts.Jobs < 0:
		return nil, fmt.Errorf("jobs is %d, want at least 1 (or 0 for one per CPU)", opts.Jobs)
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	keySHA256 := CertSHA256(key.Cert)
	if opts.Policy != nil {
		if err := opts.Policy.Check(keySHA256, req); err != nil {
			return nil, err
		}
	}
	jobs := opts.Jobs
	if jobs == 0 {
		jobs = runtime.NumCPU()
	}
	sigs, err := signAll(ctx, req, key, jobs)
	if err != nil {
		return nil, err
	}
	if opts.Audit != nil {
		if err := opts.Audit.Append(entries(req, keySHA256, opts.Requester, sigs)); err != nil {
			return nil, fmt.Errorf("%w: no signature is released", err)
		}
	}
	out := make([]sigreq.Signature, len(req.Files))
	for i := range req.Files {
		out[i] = sigreq.Signature{Path: req.Files[i].SignaturePath(), Data: sigs[i]}
	}
	return out, nil
}

// job is one digest to sign.
type job struct {
	file   *sigreq.File
	typ    *sigtype.Type
	digest []byte
}

// signAll signs every file's digest with jobs workers, each making one
// signature at a time, and returns the signatures in req's order.
func signAll(ctx context.Context, req *sigreq.Request, key *sign.Key, jobs int) ([][]byte, error) {
	todo := make([]job, len(req.Files))
	for i := range req.Files {
		f := &req.Files[i]
		typ, err := sigtype.Get(f.SigType)
		if err != nil {
			return nil, err // Validate has checked it
		}
		digest, err := hex.DecodeString(f.Digest)
		if err != nil {
			return nil, err // as above
		}
		todo[i] = job{f, typ, digest}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sigs := make([][]byte, len(todo))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(jobs, len(todo)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(todo) {
					return
				}
				j := &todo[i]
				sig, err := j.typ.Sign(key.Signer, key.Cert, j.digest, req.SigningTime)
				if err != nil {
					cancel(fmt.Errorf("%s %s: %w", j.file.Package, inputerr.Name(j.file.Path), err))
					return
				}
				sigs[i] = sig
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return sigs, nil
}

// entries are the audit log's records of sigs, the signatures of req's
// files. Their Time is left zero: Append sets the time it writes them.
func entries(req *sigreq.Request, keySHA256, requester string, sigs [][]byte) []audit.Entry {
	out := make([]audit.Entry, len(req.Files))
	for i := range req.Files {
		f := &req.Files[i]
		h := sha256.Sum256(sigs[i])
		out[i] = audit.Entry{
			KeySHA256:       keySHA256,
			Requester:       requester,
			Template:        req.Template.Name,
			TemplateVersion: req.Template.Version,
			Package:         f.Package,
			PackageVersion:  f.PackageVersion,
			Path:            f.Path,
			SigType:         f.SigType,
			DigestAlgorithm: f.DigestAlgorithm,
			Digest:          f.Digest,
			SignatureSHA256: hex.EncodeToString(h[:]),
		}
	}
	return out
}
