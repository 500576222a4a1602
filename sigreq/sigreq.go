// Package sigreq is the split signer's wire format and its signing side:
// `mksigned request` (package job) writes a Request beside the build,
// listing the digests to sign; `mksigned sign-request` reads it on the
// signing host, signs each digest and writes a Response, a deterministic
// tar of <package>/<path>.sig that `mksigned generate --signatures` takes.
//
// The signing host never sees a binary: this package and what it imports
// must not parse a .deb, a PE image or an ELF file (a test checks its
// import graph). It trusts nothing in a request beyond what it can check
// by itself (see Parse) and what a policy allows.
package sigreq

import "time"

// Format and Version identify a request.
const (
	Format  = "mksigned-signing-request"
	Version = 1
)

// Request is what `mksigned request` writes: everything sign-request needs
// to make the same signatures `generate --key` would.
type Request struct {
	Format  string `json:"format"`  // Format
	Version int    `json:"version"` // Version
	// Template is the signing template the request comes from.
	Template Template `json:"template"`
	// SigningTime is the time generate would sign at (SOURCE_DATE_EPOCH
	// or the changelog's top entry), in UTC to the second: it goes into
	// EFI signatures' signingTime attribute.
	SigningTime time.Time `json:"signing_time"`
	// Files are the files to sign, in files.json order.
	Files []File `json:"files"`
}

// Template identifies the template a request signs for.
type Template struct {
	Name string `json:"name"` // e.g. fwupd-amd64-signed-template
	// Version is the template package's version; empty, as DebSHA256,
	// for a template given as a directory.
	Version string `json:"version"`
	// Source is the -signed source package to be made, and its version
	// (the changelog's top entry).
	Source        string `json:"source"`
	SourceVersion string `json:"source_version"`
	// DebSHA256 is the lower-case hex SHA-256 of the template .deb; empty
	// for a template given as a directory.
	DebSHA256 string `json:"deb_sha256,omitempty"`
	// TrustedCerts are the union of files.json's trusted_certs, lower-case
	// hex SHA-256 fingerprints, sorted, without duplicates.
	TrustedCerts []string `json:"trusted_certs"`
}

// File is one file to sign.
type File struct {
	Package        string `json:"package"`         // unsigned package name
	PackageVersion string `json:"package_version"` // its version
	Path           string `json:"path"`            // clean, relative, as in files.json
	SigType        string `json:"sig_type"`        // "efi" or "linux-module"
	Size           int64  `json:"size"`            // bytes
	SHA256         string `json:"sha256"`          // of the whole file, lower-case hex
	// DigestAlgorithm and Digest are what is signed: the Authenticode
	// digest for efi, the module's digest for linux-module. Lower-case hex.
	DigestAlgorithm string `json:"digest_algorithm"` // "sha256"
	Digest          string `json:"digest"`
}

// SignaturePath is where a file's signature sits in a Response: the
// layout of generate's --signatures directory, <package>/<path>.sig.
func (f *File) SignaturePath() string { return f.Package + "/" + f.Path + ".sig" }
