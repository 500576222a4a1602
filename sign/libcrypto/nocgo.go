//go:build !linux || !cgo

package libcrypto

import (
	"crypto/rsa"
	"fmt"
	"runtime"
)

// Without cgo (or off Linux) there is no libcrypto: Go's RSA signs.

func load() (string, error) {
	return "", fmt.Errorf("%w: this mksigned was built without cgo for %s", ErrUnavailable, runtime.GOOS)
}

type pkey struct{}

func importKey(*rsa.PrivateKey) (*pkey, error) { _, err := load(); return nil, err }

func (*pkey) sign(string, []byte, int) ([]byte, error) { _, err := load(); return nil, err }
