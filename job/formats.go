package job

import (
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/efi"
	"github.com/mksigned/mksigned/sign/kmod"
	"github.com/mksigned/mksigned/template"
)

// format is what the pipeline needs of one signature type. Digest, Sign and
// Attach stay separate, so a signer that only ever sees digests (an HSM
// host) can take the Sign step alone.
type format struct {
	// check says whether data is a file of this kind, and that it can be signed.
	check func(data []byte) error
	// digest is what the signature is made over.
	digest func(data []byte) ([]byte, error)
	// sign makes a detached signature over digest.
	sign func(key *sign.Key, digest []byte, when time.Time) ([]byte, error)
	// verify checks a detached signature against data; cert may be nil
	// where the signature carries its own certificate.
	verify func(data, sig []byte, cert *x509.Certificate) error
	// attach returns data with sig attached, as the signed package's build
	// (sbattach, sign-file) will.
	attach func(data, sig []byte) ([]byte, error)
}

var formats = map[template.SigType]format{
	template.EFI: {
		check: func(data []byte) error {
			img, err := efi.Parse(data)
			if err != nil {
				return err
			}
			if img.Signed() {
				return fmt.Errorf("already carries an Authenticode signature; Debian signs unsigned images")
			}
			return nil
		},
		digest: func(data []byte) ([]byte, error) {
			img, err := efi.Parse(data)
			if err != nil {
				return nil, err
			}
			return img.Digest(), nil
		},
		sign: func(key *sign.Key, digest []byte, when time.Time) ([]byte, error) {
			return efi.Sign(key.Signer, key.Cert, digest, when)
		},
		verify: efi.Verify,
		attach: efi.Attach,
	},
	template.LinuxModule: {
		check:  checkModule,
		digest: kmod.Digest,
		sign: func(key *sign.Key, digest []byte, _ time.Time) ([]byte, error) {
			return kmod.Sign(key.Signer, key.Cert, digest)
		},
		verify: kmod.Verify,
		attach: kmod.Attach,
	},
}

// checkModule says whether data is an unsigned kernel module: an ELF
// relocatable object (ELF e_type ET_REL, as every .ko is) without an
// appended signature. It does not hash: digest does that once.
func checkModule(data []byte) error {
	if len(data) < 18 || string(data[:4]) != "\x7fELF" {
		return errors.New("not an ELF file, so not a kernel module")
	}
	var etype uint16
	switch data[5] { // EI_DATA
	case 1:
		etype = binary.LittleEndian.Uint16(data[16:])
	case 2:
		etype = binary.BigEndian.Uint16(data[16:])
	default:
		return errors.New("ELF file of unknown byte order")
	}
	if etype != 1 {
		return fmt.Errorf("ELF file of type %d, but a kernel module is relocatable (ET_REL, 1)", etype)
	}
	if kmod.IsSigned(data) {
		return kmod.ErrSigned
	}
	return nil
}
