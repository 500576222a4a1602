package sigreq

// Reading and writing a Request. A request comes from a builder the
// signing host does not trust, so Parse is strict: bounded, no unknown or
// repeated keys, nothing after the JSON, and every field checked. Errors
// are *inputerr.Error naming the field as a JSON path ("files[3].digest").

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// Limits on a request. A request for every module of three kernel flavours
// (about 12,000 files of about 400 bytes of JSON each) is under 5 MB.
const (
	// MaxRequestSize bounds the bytes Parse reads.
	MaxRequestSize = 64 << 20
	// MaxFiles bounds the files of one request.
	MaxFiles = 100_000
	// MaxTrustedCerts bounds template.trusted_certs.
	MaxTrustedCerts = 1000
	// maxName bounds a package name or a version, maxPath a path.
	maxName = 255
	maxPath = 4096
)

// KnownVersions are the request versions Parse reads.
var KnownVersions = []int{Version}

// Parse reads a request from r, at most MaxRequestSize bytes, and checks
// it (see Validate). It refuses anything it does not know: another format
// or version, bytes that are not UTF-8, unknown or repeated keys, a value
// of the wrong JSON type, anything but white space after the request.
func Parse(r io.Reader) (*Request, error) { return parse(r, MaxFiles) }

// parse is Parse with a bound on the length of any JSON list: a test
// gives a small one, where MaxFiles would take a 35 MB request.
func parse(r io.Reader, maxList int) (*Request, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRequestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxRequestSize {
		return nil, inputerr.Errorf("request is larger than %d MiB", MaxRequestSize>>20)
	}
	if !utf8.Valid(data) {
		// encoding/json would read each invalid byte as U+FFFD: the
		// paths signed and recorded would not be those the builder sent.
		return nil, &inputerr.Error{Offset: int64(invalidUTF8(data)), Err: errors.New("not UTF-8")}
	}
	if err := checkHeader(data); err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := checkKeys(d, reflect.TypeFor[Request](), "", maxList); err != nil {
		return nil, err
	}
	if rest := bytes.TrimLeft(data[d.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, &inputerr.Error{Offset: int64(len(data) - len(rest)), Err: errors.New("data after the request")}
	}
	var req Request
	d = json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		return nil, inputerr.New(err) // checkKeys has found every error it can name
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return &req, nil
}

// invalidUTF8 is the offset of the first byte of data that is not UTF-8.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// checkHeader checks that data is one JSON object whose format and
// version Parse knows, before the rest is read strictly: a request of a
// later version gets an error about its version, not about its fields.
func checkHeader(data []byte) error {
	var hdr struct {
		Format  *string
		Version *json.Number
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&hdr); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return &inputerr.Error{Offset: se.Offset, Err: fmt.Errorf("not JSON: %w", err)}
		case errors.As(err, &te) && te.Field == "":
			return inputerr.Errorf("not a signing request: a JSON %s, want an object", te.Value)
		case errors.Is(err, io.EOF):
			return inputerr.Errorf("empty request")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return &inputerr.Error{Offset: int64(len(data)), Err: fmt.Errorf("not JSON: %w", err)}
		}
		// A wrong type of format or version: checkKeys names the field.
		return nil
	}
	switch {
	case hdr.Format == nil:
		return fieldErr("format", fmt.Errorf("missing: not a signing request (want %q)", Format))
	case *hdr.Format != Format:
		return fieldErr("format", fmt.Errorf("%s is not %q", inputerr.Value(*hdr.Format), Format))
	case hdr.Version == nil:
		return fieldErr("version", errors.New("missing"))
	}
	v, err := strconv.Atoi(hdr.Version.String())
	if err != nil || !slices.Contains(KnownVersions, v) {
		return fieldErr("version", fmt.Errorf("unknown request version %s (this mksigned reads version %s)", inputerr.Value(hdr.Version.String()), knownVersions()))
	}
	return nil
}

func knownVersions() string {
	var b []byte
	for i, v := range KnownVersions {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return string(b)
}

// checkKeys reads one JSON value from d that is to be decoded into a value
// of type t, and refuses, naming the JSON path: a list of more than
// maxList entries (the longest a request may have), an unknown, repeated or
// missing key (every field is required but those marked omitempty),
// null, a value of the wrong JSON type, and a number or string that
// does not decode into its field (an int64 out of range, a malformed
// time). encoding/json says none of these with the path, and takes a
// repeated key's last value.
func checkKeys(d *json.Decoder, t reflect.Type, path string, maxList int) error {
	tok, err := d.Token()
	if err != nil {
		return jsonErr(d, path, err)
	}
	want := func(kind string) error {
		got := "null"
		switch tok {
		case json.Delim('{'):
			got = "an object"
		case json.Delim('['):
			got = "an array"
		}
		switch tok.(type) {
		case string:
			got = "a string"
		case json.Number:
			got = "a number"
		case bool:
			got = "a boolean"
		}
		return fieldErr(path, fmt.Errorf("is %s, want %s", got, kind))
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		s, ok := tok.(string)
		if !ok {
			return want("a time (RFC 3339)")
		}
		var when time.Time // as encoding/json will read it
		if err := when.UnmarshalText([]byte(s)); err != nil {
			return fieldErr(path, fmt.Errorf("%s is not an RFC 3339 time", inputerr.Value(s)))
		}
	case t.Kind() == reflect.String:
		if _, ok := tok.(string); !ok {
			return want("a string")
		}
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return want("an integer")
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			return fieldErr(path, fmt.Errorf("%s is not an integer in range", inputerr.Value(n.String())))
		}
	case t.Kind() == reflect.Slice:
		if tok != json.Delim('[') {
			return want("an array")
		}
		for i := 0; d.More(); i++ {
			if i == maxList {
				return fieldErr(path, fmt.Errorf("has more than %d entries", maxList))
			}
			if err := checkKeys(d, t.Elem(), fmt.Sprintf("%s[%d]", path, i), maxList); err != nil {
				return err
			}
		}
		if _, err := d.Token(); err != nil { // ']'
			return jsonErr(d, path, err)
		}
	case t.Kind() == reflect.Struct:
		if tok != json.Delim('{') {
			return want("an object")
		}
		seen := map[string]bool{}
		for d.More() {
			tok, err := d.Token()
			if err != nil {
				return jsonErr(d, path, err)
			}
			key := tok.(string) // inside an object, Token gives keys as strings
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			f, ok := jsonField(t, key)
			switch {
			case !ok:
				return fieldErr(sub, errors.New("unknown field"))
			case seen[key]:
				return fieldErr(sub, errors.New("given twice"))
			}
			seen[key] = true
			if err := checkKeys(d, f.Type, sub, maxList); err != nil {
				return err
			}
		}
		if _, err := d.Token(); err != nil { // '}'
			return jsonErr(d, path, err)
		}
		for i := range t.NumField() {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if !seen[name] && opts != "omitempty" {
				return fieldErr(strings.TrimPrefix(path+"."+name, "."), errors.New("missing"))
			}
		}
	}
	return nil
}

// jsonField returns the field of struct type t whose JSON name is key,
// exactly (encoding/json would also take another case).
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonErr is a syntax error met at path.
func jsonErr(d *json.Decoder, path string, err error) error {
	off := d.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &inputerr.Error{Offset: off, Field: path, Err: fmt.Errorf("not JSON: %w", err)}
}

func fieldErr(field string, err error) error {
	return &inputerr.Error{Field: field, Offset: inputerr.NoOffset, Err: err}
}

// Marshal returns the request as Parse reads it: indented JSON and a
// newline, the same bytes for the same request. It fills in Format and
// Version when they are empty, writes SigningTime in UTC, and refuses a
// request that Validate refuses, so that what `mksigned request` writes
// is always what sign-request reads. r is not changed.
func (r *Request) Marshal() ([]byte, error) {
	c := *r
	if c.Format == "" {
		c.Format = Format
	}
	if c.Version == 0 {
		c.Version = Version
	}
	c.SigningTime = c.SigningTime.UTC()
	if c.Template.TrustedCerts == nil {
		c.Template.TrustedCerts = []string{}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetIndent("", "  ")
	e.SetEscapeHTML(false)
	if err := e.Encode(&c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
