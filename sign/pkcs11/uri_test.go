package pkcs11

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func slot(n uint) *uint { return &n }

func TestParseURI(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		want     *URI
	}{
		{"label and object", "pkcs11:token=archive;object=efi-2026", &URI{Token: "archive", Object: "efi-2026"}},
		{"upper-case scheme", "PKCS11:token=archive;object=k", &URI{Token: "archive", Object: "k"}},
		{"binary id", "pkcs11:token=t;id=%01%ff%2B", &URI{Token: "t", ID: []byte{1, 0xff, '+'}}},
		{"escapes and plus", "pkcs11:token=My%20Token+1;object=a%3Bb", &URI{Token: "My Token+1", Object: "a;b"}},
		{"every token attribute", "pkcs11:manufacturer=SoftHSM%20project;model=SoftHSM%20v2;serial=08f5;slot-id=42;token=t;object=k;type=private",
			&URI{Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: "08f5", SlotID: slot(42), Token: "t", Object: "k", Type: "private"}},
		{"query", "pkcs11:token=t;object=k?pin-source=file:/etc/pin&module-path=/usr/lib/softhsm/libsofthsm2.so",
			&URI{Token: "t", Object: "k", PINSource: "file:/etc/pin", ModulePath: "/usr/lib/softhsm/libsofthsm2.so"}},
		{"empty segments", "pkcs11:token=t;;object=k;?&pin-source=file:p&", &URI{Token: "t", Object: "k", PINSource: "file:p"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseURI(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("ParseURI(%q) (-want +got):\n%s", c.in, d)
			}
		})
	}
}

func TestParseURIErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, want string }{
		{"not a URI", "/etc/key.pem", `starts with "pkcs11:"`},
		{"PIN in the path", "pkcs11:token=t;object=k;pin-value=1234", "pin-value="},
		{"PIN in the query", "pkcs11:token=t;object=k?pin-value=1234", "pin-value="},
		{"PIN, upper case", "pkcs11:token=t;object=k?PIN-VALUE=1234", "pin-value="},
		{"twice", "pkcs11:token=a;token=b;object=k", "token given twice"},
		{"unknown", "pkcs11:token=t;objet=k", `unsupported attribute "objet"`},
		{"vendor attribute", "pkcs11:token=t;object=k;x-foo=1", `unsupported attribute "x-foo"`},
		{"library attribute", "pkcs11:token=t;object=k;library-version=1", `unsupported attribute "library-version"`},
		{"module-name", "pkcs11:token=t;object=k?module-name=softhsm2", `unsupported attribute "module-name"`},
		{"query attribute in the path", "pkcs11:token=t;object=k;module-path=/m.so", "module-path belongs in the query"},
		{"path attribute in the query", "pkcs11:token=t?object=k", "object belongs in the path"},
		{"no value", "pkcs11:token", "has no value"},
		{"empty value", "pkcs11:token=;object=k", "token is empty"},
		{"bad escape", "pkcs11:token=a%zz", "bad percent escape"},
		{"truncated escape", "pkcs11:token=a%2", "truncated percent escape"},
		{"slot not a number", "pkcs11:slot-id=one", "decimal slot number"},
		{"negative slot", "pkcs11:slot-id=-1", "decimal slot number"},
		{"huge slot", "pkcs11:slot-id=99999999999999999999", "decimal slot number"},
		{"public key", "pkcs11:token=t;object=k;type=public", "type=public names no private key"},
		{"two query marks", "pkcs11:token=t?pin-source=file:a?b", `"?" may appear once`},
		{"fragment", "pkcs11:token=t#x", `"#"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseURI(c.in)
			if err == nil {
				t.Fatalf("ParseURI(%q) succeeded, want an error saying %q", c.in, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseURI(%q): got %q, want it to say %q", c.in, err, c.want)
			}
			if strings.Contains(err.Error(), "1234") {
				t.Errorf("ParseURI(%q): error %q shows the PIN", c.in, err)
			}
		})
	}
	if _, err := ParseURI("pkcs11:token=t?pin-value=1234"); !errors.Is(err, ErrPINValue) {
		t.Errorf("pin-value: got %v, want ErrPINValue", err)
	}
}

// TestURIString: messages name the token and the key, escaped, and never
// the pin-source or module.
func TestURIString(t *testing.T) {
	t.Parallel()
	u, err := ParseURI("pkcs11:object=efi%202026;token=archive;id=%01;slot-id=3?pin-source=file:/secret/pin&module-path=/m.so")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "pkcs11:token=archive;slot-id=3;object=efi%202026;id=%01"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}

func TestIsURI(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"pkcs11:token=a": true, "Pkcs11:": true, "pkcs11": false, "./pkcs11:token=a": false, "key.pem": false, "": false,
	} {
		if got := IsURI(in); got != want {
			t.Errorf("IsURI(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestModule: module-path= in the URI, else the flag, else the environment.
func TestModule(t *testing.T) {
	for _, c := range []struct{ name, uri, flag, env, want string }{
		{"uri", "pkcs11:token=t?module-path=/uri.so", "/flag.so", "/env.so", "/uri.so"},
		{"flag", "pkcs11:token=t", "/flag.so", "/env.so", "/flag.so"},
		{"environment", "pkcs11:token=t", "", "/env.so", "/env.so"},
		{"none", "pkcs11:token=t", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvModule, c.env)
			u, err := ParseURI(c.uri)
			if err != nil {
				t.Fatal(err)
			}
			got, err := u.Module(c.flag)
			if c.want == "" {
				if err == nil || !strings.Contains(err.Error(), "--pkcs11-module") {
					t.Errorf("got %q, %v; want an error naming --pkcs11-module", got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestPIN: the pin-source file (one newline dropped), else the
// environment; errors name the file, never the PIN.
func TestPIN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string { return writeFile(t, dir, name, data) }
	plain, nl, crlf, two, empty := write("plain", "s3cret"), write("nl", "s3cret\n"), write("crlf", "s3cret\r\n"),
		write("two", "s3cret\n\n"), write("empty", "\n")
	for _, c := range []struct{ name, uri, env, want, wantErr string }{
		{"file", "pkcs11:token=t?pin-source=file:" + plain, "env-pin", "s3cret", ""},
		{"file URI", "pkcs11:token=t?pin-source=file://" + plain, "", "s3cret", ""},
		{"file URI, localhost", "pkcs11:token=t?pin-source=file://localhost" + plain, "", "s3cret", ""},
		{"escaped", "pkcs11:token=t?pin-source=file:" + strings.ReplaceAll(plain, "/", "%2F"), "", "s3cret", ""},
		{"newline", "pkcs11:token=t?pin-source=file:" + nl, "", "s3cret", ""},
		{"CRLF", "pkcs11:token=t?pin-source=file:" + crlf, "", "s3cret", ""},
		{"only one newline dropped", "pkcs11:token=t?pin-source=file:" + two, "", "s3cret\n", ""},
		{"environment", "pkcs11:token=t", "env-pin", "env-pin", ""},
		{"none", "pkcs11:token=t", "", "", "no PIN"},
		{"empty file", "pkcs11:token=t?pin-source=file:" + empty, "env-pin", "", "is empty"},
		{"missing file", "pkcs11:token=t?pin-source=file:" + dir + "/missing", "env-pin", "", "missing: no such file"},
		{"not file:", "pkcs11:token=t?pin-source=" + plain, "env-pin", "", "only file: URIs"},
		{"remote", "pkcs11:token=t?pin-source=file://host.example/pin", "", "", "on this machine"},
		{"no path", "pkcs11:token=t?pin-source=file:", "", "", "names no file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvPIN, c.env)
			u, err := ParseURI(c.uri)
			if err != nil {
				t.Fatal(err)
			}
			got, err := u.PIN()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %q, %v; want an error saying %q", got, err, c.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "env-pin") {
					t.Errorf("error %q shows a PIN", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// FuzzParseURI: no panic, and what parses prints as a URI that parses to
// the same token and key.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"pkcs11:token=archive;object=efi-2026", "pkcs11:token=t;id=%01?pin-source=file:/p",
		"pkcs11:slot-id=3;serial=x;model=m;manufacturer=y;type=private", "pkcs11:token=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		u2, err := ParseURI(u.String())
		if err != nil {
			t.Fatalf("String() of %q is %q, which does not parse: %v", s, u.String(), err)
		}
		u.PINSource, u.ModulePath = "", ""
		if d := cmp.Diff(u, u2); d != "" {
			t.Errorf("round trip of %q (-first +second):\n%s", s, d)
		}
	})
}

// writeFile writes data to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
