// Command decoders times mksigned's decompressors on one compressed tar
// member: it decodes FILE (named .tar.xz, .tar.zst, .tar.gz) with
// deb.Decompress and walks the tar to the end, as generate does for a
// package it must read whole. MKSIGNED_DECOMPRESS picks the xz decoder.
//
//	decoders FILE
//
// It prints one line: "<name>: <bytes> bytes of tar in <seconds>s".
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mksigned/mksigned/deb"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: decoders FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "decoders:", err)
		os.Exit(1)
	}
}

func run(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	rc, err := deb.Decompress(name, f)
	if err != nil {
		return err
	}
	defer rc.Close()
	var n int64
	err = deb.WalkTar(rc, func(e *deb.Entry, body io.Reader) error {
		m, err := io.Copy(io.Discard, body)
		n += m
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d bytes of file data in %.2fs\n", name, n, time.Since(start).Seconds())
	return nil
}
