package sigreq

import "io"

// TEMPORARY stub until the signer branch lands.
func ReadResponse(r io.Reader) (map[string][]byte, error) { return nil, nil }
