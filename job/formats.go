package job

import (
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/mksigned/mksigned/sign/efi"
	"github.com/mksigned/mksigned/sign/kmod"
	"github.com/mksigned/mksigned/template"
)

// format is what the pipeline needs of one signature type beside its
// entry in the registry (package sign/sigtype, which signs a digest, and
// is all a signing host that only sees digests has): checking, digesting,
// verifying and attaching, which parse the file.
type format struct {
	// check says whether data is a file of this kind, and that it can be signed.
	check func(data []byte) error
	// checkHead makes what checks it can of a file of size bytes from its
	// first min(size, efi.HeadSize) bytes, for formats held whole: the
	// reader calls it before reading the rest.
	checkHead func(head []byte, size int64) error
	// digest is what the signature is made over.
	digest func(data []byte) ([]byte, error)
	// verify checks a detached signature against data; cert may be nil
	// where the signature carries its own certificate.
	verify func(data, sig []byte, cert *x509.Certificate) error
	// attach returns data with sig attached, as the signed package's build
	// (sbattach, sign-file) will.
	attach func(data, sig []byte) ([]byte, error)

	// For formats whose digest needs no random access to the file, the
	// reader hashes each file as it streams past instead of holding it:
	// newStream starts that (nil for formats that need the whole file), and
	// verifyDigest is verify given the digest.
	newStream    func() streamDigester
	verifyDigest func(digest, sig []byte, cert *x509.Certificate) error
}

// streamDigester is written a whole file; finish then checks it as check
// would and returns digest's answer.
type streamDigester interface {
	io.Writer
	finish() ([]byte, error)
}

var formats = map[template.SigType]format{
	template.EFI: {
		checkHead: efi.CheckHead,
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
		verify: efi.Verify,
		attach: efi.Attach,
	},
	template.LinuxModule: {
		check:  checkModule,
		digest: kmod.Digest,
		verify: kmod.Verify,
		attach: kmod.Attach,

		newStream:    func() streamDigester { return moduleDigester{kmod.NewDigester()} },
		verifyDigest: kmod.VerifyDigest,
	},
}

// moduleDigester checks and hashes a kernel module as it streams past: a
// distribution's thousands of modules are hashed by the reader and never
// held.
type moduleDigester struct{ *kmod.Digester }

func (m moduleDigester) finish() ([]byte, error) {
	if err := checkModuleHead(m.Head()); err != nil {
		return nil, err
	}
	d, err := m.Digest()
	if errors.Is(err, kmod.ErrSigned) {
		return nil, kmod.ErrSigned // as checkModule says it
	}
	return d, err
}

// checkModule says whether data is an unsigned kernel module: an ELF
// relocatable object (ELF e_type ET_REL, as every .ko is) without an
// appended signature. It does not hash: digest does that once.
func checkModule(data []byte) error {
	if err := checkModuleHead(data); err != nil {
		return err
	}
	if kmod.IsSigned(data) {
		return kmod.ErrSigned
	}
	return nil
}

// checkModuleHead is checkModule's look at the ELF header, given at least
// the module's first 18 bytes (or all of it).
func checkModuleHead(data []byte) error {
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
		return fmt.Errorf("an ELF file of type %d, not a relocatable object (ET_REL, 1) as a kernel module is", etype)
	}
	return nil
}

// HeadSize is how much of a file CheckHead needs: its first
// min(size, HeadSize) bytes.
const HeadSize = efi.HeadSize

// CheckHead says whether a file of size bytes, of which head is the
// start (min(size, HeadSize) bytes), is of the kind st signs: a PE/COFF
// image for efi, an ELF relocatable object for linux-module. It is the
// check generate makes first, for callers that only look (template build).
func CheckHead(st template.SigType, head []byte, size int64) error {
	switch st {
	case template.EFI:
		return efi.CheckHead(head, size)
	case template.LinuxModule:
		return checkModuleHead(head)
	}
	return fmt.Errorf("unknown signature type %q", st)
}
