package main

// The hook's key and certificate: $MKSIGNED_KEY and $MKSIGNED_CERT, else
// the first configuration file that exists.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/sign"
)

// Environment variables naming the hook's key and certificate, and the
// system configuration file (for tests; default systemConfig).
const (
	envKey          = "MKSIGNED_KEY"
	envCert         = "MKSIGNED_CERT"
	envSystemConfig = "MKSIGNED_SYSTEM_CONFIG"
	systemConfig    = "/etc/mksigned/config.yaml"
)

// maxConfig bounds a configuration file.
const maxConfig = 64 << 10

// hookConfig is config.yaml: paths relative to the file's directory.
type hookConfig struct {
	Key    string `yaml:"key"`
	Cert   string `yaml:"cert"`
	Output string `yaml:"output"`
}

// configFiles are where the hook looks for config.yaml, in order:
// $XDG_CONFIG_HOME/mksigned (default ~/.config/mksigned), then /etc/mksigned
// ($MKSIGNED_SYSTEM_CONFIG instead, when set).
func configFiles() []string {
	var out []string
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) { // the XDG spec: a relative value is ignored
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".config")
		}
	}
	if dir != "" {
		out = append(out, filepath.Join(dir, "mksigned", "config.yaml"))
	}
	if sys := os.Getenv(envSystemConfig); sys != "" {
		return append(out, sys)
	}
	return append(out, systemConfig)
}

// hookKey returns the hook's key and certificate: from $MKSIGNED_KEY and
// $MKSIGNED_CERT when $MKSIGNED_KEY is set, else from the first
// configuration file that exists (a broken one is an error, not skipped),
// with the output directory it may name. No key anywhere is an error that
// says where it looked.
func hookKey() (keyRef, string, error) {
	if k := os.Getenv(envKey); k != "" {
		c := os.Getenv(envCert)
		if c == "" && !sign.IsPKCS11(k) {
			return keyRef{}, "", fmt.Errorf("$%s is a PEM key file, which needs its certificate in $%s (only a pkcs11: key can take it from the token)", envKey, envCert)
		}
		return keyRef{key: k, cert: c}, "", nil
	}
	if os.Getenv(envCert) != "" {
		return keyRef{}, "", fmt.Errorf("$%s is set but $%s is not: set both, or neither and use a configuration file", envCert, envKey)
	}
	files := configFiles()
	for _, name := range files {
		c, err := readConfig(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return keyRef{}, "", err
		}
		return keyRef{key: c.Key, cert: c.Cert}, c.Output, nil
	}
	return keyRef{}, "", fmt.Errorf("no signing key configured: $%s is not set, and there is no %s; nothing was signed or written",
		envKey, strings.Join(quoted(files), " or "))
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = inputerr.Name(n)
	}
	return out
}

// readConfig reads a configuration file strictly: a mapping of known keys,
// key required, each path made absolute against the file's directory
// (a pkcs11: URI is kept as it is).
func readConfig(name string) (*hookConfig, error) {
	if _, err := os.Stat(name); err != nil {
		if _, lerr := os.Lstat(name); lerr == nil && errors.Is(err, fs.ErrNotExist) {
			// Not skipped for the next file: that would sign with
			// another key than the one configured here.
			return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: errors.New("is a symbolic link to nothing")}
		}
		return nil, err
	}
	f, err := inputfile.Open(name)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	f.Close()
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfig {
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: fmt.Errorf("is more than %d bytes", maxConfig)}
	}
	var c hookConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("is empty")
		}
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: err}
	}
	var second yaml.Node
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: errors.New("holds a second YAML document: config.yaml holds one")}
	}
	if c.Key == "" {
		return nil, &inputerr.Error{File: name, Field: "key", Offset: inputerr.NoOffset, Err: errors.New("is missing: a PEM key file or a pkcs11: URI")}
	}
	if c.Cert == "" && !sign.IsPKCS11(c.Key) {
		return nil, &inputerr.Error{File: name, Field: "cert", Offset: inputerr.NoOffset,
			Err: errors.New("is missing: a PEM key needs its certificate (only a pkcs11: key can take it from the token)")}
	}
	dir := filepath.Dir(name)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || sign.IsPKCS11(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.Key, c.Cert, c.Output = abs(c.Key), abs(c.Cert), abs(c.Output)
	return &c, nil
}
