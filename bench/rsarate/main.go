// Command rsarate measures how many RSA PKCS#1 v1.5 signatures over SHA-256
// digests Go's crypto/rsa makes per second on all cores: the signing floor
// bench/modules.sh compares mksigned with (modules / rate).
//
//	rsarate [-n N] [-bits B] [-key KEY.pem | -pkcs11 URI] [-workers W]
//
// It signs N distinct digests on W goroutines (default runtime.NumCPU())
// and prints one line: "rsa-2048: N signatures in T on W goroutines: R/s".
// Without -key it generates a key of B bits first (not timed). With
// -pkcs11 the key is a token's (a pkcs11: URI; module from module-path=
// or $MKSIGNED_PKCS11_MODULE, PIN from $MKSIGNED_PKCS11_PIN), signing
// through crypto11 as mksigned does: the token's own rate, the floor of
// sign-request through that token (bench/signer.sh).
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/pkcs11"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rsarate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 4000, "number of signatures")
	bits := fs.Int("bits", 2048, "key size when generating a key")
	keyFile := fs.String("key", "", "PEM RSA private key (PKCS#1 or PKCS#8) instead of a generated one")
	uri := fs.String("pkcs11", "", "sign with this PKCS#11 key instead (a pkcs11: URI)")
	certFile := fs.String("cert", "", "the -pkcs11 key's certificate (PEM), when the token holds none")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines signing at once")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *n < 1 || *workers < 1 || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "rsarate: -n and -workers must be positive; no arguments")
		return 2
	}
	var signer crypto.Signer
	if *uri != "" {
		var o pkcs11.Options
		if *certFile != "" {
			cert, err := sign.LoadCertificate(*certFile)
			if err != nil {
				fmt.Fprintf(stderr, "rsarate: %v\n", err)
				return 1
			}
			o.Cert, o.CertName = cert, *certFile
		}
		k, err := pkcs11.Open(*uri, o)
		if err != nil {
			fmt.Fprintf(stderr, "rsarate: %v\n", err)
			return 1
		}
		defer k.Close()
		signer = k.Signer
	} else {
		key, err := loadKey(*keyFile, *bits)
		if err != nil {
			fmt.Fprintf(stderr, "rsarate: %v\n", err)
			return 1
		}
		signer = key
	}
	pub, ok := signer.Public().(*rsa.PublicKey)
	if !ok {
		fmt.Fprintln(stderr, "rsarate: not an RSA key")
		return 1
	}
	elapsed, err := signAll(signer, *n, *workers)
	if err != nil {
		fmt.Fprintf(stderr, "rsarate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "rsa-%d: %d signatures in %.3fs on %d goroutines: %.0f/s\n",
		pub.N.BitLen(), *n, elapsed.Seconds(), *workers, float64(*n)/elapsed.Seconds())
	return 0
}

// loadKey reads an RSA key from file, or generates one of bits bits when
// file is empty.
func loadKey(file string, bits int) (*rsa.PrivateKey, error) {
	if file == "" {
		return rsa.GenerateKey(rand.Reader, bits)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", file)
	}
	return rk, nil
}

// signAll signs the SHA-256 digests of n distinct messages on workers
// goroutines and returns the wall time it took.
func signAll(key crypto.Signer, n, workers int) (time.Duration, error) {
	digests := make([][32]byte, n)
	for i := range digests {
		var msg [8]byte
		binary.BigEndian.PutUint64(msg[:], uint64(i))
		digests[i] = sha256.Sum256(msg[:])
	}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if _, err := key.Sign(rand.Reader, digests[i][:], crypto.SHA256); err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), first
}
