// Package audit is the signing host's audit log: an append-only file of
// JSON lines, one per signature made, each carrying the SHA-256 of the
// line before it so that an edited or removed line shows (issue 10, §4).
package audit

import (
	"errors"
	"time"
)

// Entry is one signature made.
type Entry struct {
	Time            time.Time `json:"time"`
	KeySHA256       string    `json:"key_sha256"`
	Requester       string    `json:"requester"`
	Template        string    `json:"template"`
	TemplateVersion string    `json:"template_version"`
	Package         string    `json:"package"`
	PackageVersion  string    `json:"package_version"`
	Path            string    `json:"path"`
	SigType         string    `json:"sig_type"`
	DigestAlgorithm string    `json:"digest_algorithm"`
	Digest          string    `json:"digest"`
	SignatureSHA256 string    `json:"signature_sha256"`
}

// Log is an open audit log.
type Log struct{}

// Open opens the log at path for appending.
func Open(path string) (*Log, error) { return nil, errors.New("not yet") }

// Append writes entries to the log and returns once they are on disk.
func (l *Log) Append(entries []Entry) error { return errors.New("not yet") }

// Close closes the log.
func (l *Log) Close() error { return errors.New("not yet") }

// Verify checks the chain of the log at path and returns how many records
// it holds.
func Verify(path string) (int, error) { return 0, errors.New("not yet") }
