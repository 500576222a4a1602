// Package policy reads a signing host's policy file and checks a signing
// request against it: which templates, packages and signature types each
// key may sign, how many files at once, and which trusted_certs a
// template may list (issue 10, §3).
package policy

import (
	"errors"

	"github.com/mksigned/mksigned/sigreq"
)

// Policy is a parsed policy file.
type Policy struct{ Keys []Key }

// Key is what one signing key may sign.
type Key struct {
	CertSHA256   string   `yaml:"cert-sha256"`
	Templates    []string `yaml:"templates"`
	Packages     []string `yaml:"packages"`
	SigTypes     []string `yaml:"sig-types"`
	MaxFiles     int      `yaml:"max-files"`
	TrustedCerts []string `yaml:"trusted-certs"`
}

// Load reads the policy file at path and parses it.
func Load(path string) (*Policy, error) { return nil, errors.New("not yet") }

// Parse parses a policy file's contents; name is used in errors.
func Parse(name string, data []byte) (*Policy, error) { return nil, errors.New("not yet") }

// Check returns nil if the key whose certificate has SHA-256 certSHA256
// may sign req, and otherwise a *Refusal with every reason.
func (p *Policy) Check(certSHA256 string, req *sigreq.Request) error { return errors.New("not yet") }

// Refusal is a request the policy refuses, with every reason.
type Refusal struct{ Reasons []string }

func (r *Refusal) Error() string { return "policy refuses the request" }
