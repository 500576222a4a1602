//go:build linux && cgo

package libcrypto

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

// OpenSSL 3's public API, declared here so that no headers are needed to
// build (the types are opaque; the values are from OpenSSL 3.0's
// include/openssl/{evp,obj_mac,rsa,crypto}.h and stable in its ABI).
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct evp_md_st EVP_MD;
#define MKS_EVP_PKEY_RSA 6        // NID_rsaEncryption
#define MKS_RSA_PKCS1_PADDING 1
#define MKS_OPENSSL_VERSION 0     // OpenSSL_version(): "OpenSSL 3.0.x ..."

static struct {
	EVP_PKEY *(*d2i_PrivateKey)(int, EVP_PKEY **, const unsigned char **, long);
	void (*EVP_PKEY_free)(EVP_PKEY *);
	EVP_PKEY_CTX *(*EVP_PKEY_CTX_new)(EVP_PKEY *, void *);
	void (*EVP_PKEY_CTX_free)(EVP_PKEY_CTX *);
	int (*EVP_PKEY_sign_init)(EVP_PKEY_CTX *);
	int (*EVP_PKEY_CTX_set_rsa_padding)(EVP_PKEY_CTX *, int);
	int (*EVP_PKEY_CTX_set_signature_md)(EVP_PKEY_CTX *, const EVP_MD *);
	int (*EVP_PKEY_sign)(EVP_PKEY_CTX *, unsigned char *, size_t *, const unsigned char *, size_t);
	const EVP_MD *(*EVP_get_digestbyname)(const char *);
	unsigned long (*OpenSSL_version_num)(void);
	const char *(*OpenSSL_version)(int);
	unsigned long (*ERR_get_error)(void);
	void (*ERR_clear_error)(void);
} mks;

// mks_load opens libcrypto.so.3 and resolves every function above. It
// returns NULL, or the name of what failed.
static const char *mks_load(void) {
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		return "dlopen libcrypto.so.3";
	}
#define MKS_SYM(name) if ((*(void **)&mks.name = dlsym(h, #name)) == NULL) return #name
	MKS_SYM(d2i_PrivateKey);
	MKS_SYM(EVP_PKEY_free);
	MKS_SYM(EVP_PKEY_CTX_new);
	MKS_SYM(EVP_PKEY_CTX_free);
	MKS_SYM(EVP_PKEY_sign_init);
	MKS_SYM(EVP_PKEY_CTX_set_rsa_padding);
	MKS_SYM(EVP_PKEY_CTX_set_signature_md);
	MKS_SYM(EVP_PKEY_sign);
	MKS_SYM(EVP_get_digestbyname);
	MKS_SYM(OpenSSL_version_num);
	MKS_SYM(OpenSSL_version);
	MKS_SYM(ERR_get_error);
	MKS_SYM(ERR_clear_error);
#undef MKS_SYM
	return NULL;
}

static unsigned long mks_version_num(void) { return mks.OpenSSL_version_num(); }
static const char *mks_version(void) { return mks.OpenSSL_version(MKS_OPENSSL_VERSION); }

// mks_import parses a PKCS #1 RSAPrivateKey. On failure it returns NULL
// and the first queued OpenSSL error code in *err.
static EVP_PKEY *mks_import(const unsigned char *der, long len, unsigned long *err) {
	mks.ERR_clear_error();
	const unsigned char *p = der;
	EVP_PKEY *k = mks.d2i_PrivateKey(MKS_EVP_PKEY_RSA, NULL, &p, len);
	*err = k == NULL ? mks.ERR_get_error() : 0;
	mks.ERR_clear_error();
	return k;
}

static void mks_free(EVP_PKEY *k) { mks.EVP_PKEY_free(k); }

// mks_sign makes a PKCS #1 v1.5 signature of the digest tbs under the hash
// md into sig (*siglen bytes of room; on return, the length). It returns 0,
// or the step that failed (1-6) with the first OpenSSL error code in *err.
// Everything happens in this one call, on one thread, so OpenSSL's
// thread-local error queue is left empty between calls.
static int mks_sign(EVP_PKEY *k, const char *md, const unsigned char *tbs, size_t tbslen,
		unsigned char *sig, size_t *siglen, unsigned long *err) {
	int step = 0;
	mks.ERR_clear_error();
	EVP_PKEY_CTX *ctx = NULL;
	const EVP_MD *m = mks.EVP_get_digestbyname(md);
	if (m == NULL) { step = 1; goto out; }
	if ((ctx = mks.EVP_PKEY_CTX_new(k, NULL)) == NULL) { step = 2; goto out; }
	if (mks.EVP_PKEY_sign_init(ctx) <= 0) { step = 3; goto out; }
	if (mks.EVP_PKEY_CTX_set_rsa_padding(ctx, MKS_RSA_PKCS1_PADDING) <= 0) { step = 4; goto out; }
	if (mks.EVP_PKEY_CTX_set_signature_md(ctx, m) <= 0) { step = 5; goto out; }
	if (mks.EVP_PKEY_sign(ctx, sig, siglen, tbs, tbslen) <= 0) { step = 6; goto out; }
out:
	*err = step ? mks.ERR_get_error() : 0;
	mks.ERR_clear_error();
	if (ctx != NULL) mks.EVP_PKEY_CTX_free(ctx);
	return step;
}
*/
import "C"

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// load opens libcrypto once and returns its version text.
var load = sync.OnceValues(func() (string, error) {
	if what := C.mks_load(); what != nil {
		return "", fmt.Errorf("%w: %s failed", ErrUnavailable, C.GoString(what))
	}
	// OpenSSL 3's version number is 0xMNN00PP0L (M major, NN minor, PP
	// patch); earlier releases used another layout and other function
	// names (EVP_PKEY_CTX_set_rsa_padding was a macro before 3.0).
	if v := uint64(C.mks_version_num()); v>>28 < 3 {
		return "", fmt.Errorf("%w: libcrypto.so.3 reports version %#x, want 3 or later", ErrUnavailable, v)
	}
	return C.GoString(C.mks_version()), nil
})

// pkey is an EVP_PKEY, freed (and so cleared by OpenSSL) when the pkey is
// collected.
type pkey struct{ p *C.EVP_PKEY }

var stepNames = [...]string{1: "EVP_get_digestbyname", 2: "EVP_PKEY_CTX_new", 3: "EVP_PKEY_sign_init",
	4: "EVP_PKEY_CTX_set_rsa_padding", 5: "EVP_PKEY_CTX_set_signature_md", 6: "EVP_PKEY_sign"}

func importKey(k *rsa.PrivateKey) (*pkey, error) {
	// MarshalPKCS1PrivateKey precomputes CRT values into the key it is
	// given when they are missing: give it a copy, since other goroutines
	// may be signing with k.
	kc := *k
	der := x509.MarshalPKCS1PrivateKey(&kc)
	defer clear(der)
	var code C.ulong
	// der holds no Go pointers, so C may read it for the call's duration.
	p := C.mks_import((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &code)
	if p == nil {
		// The code says which check failed (OpenSSL's error codes carry
		// no key material).
		return nil, fmt.Errorf("libcrypto: d2i_PrivateKey refused the RSA key (OpenSSL error %#x)", uint64(code))
	}
	pk := &pkey{p}
	runtime.AddCleanup(pk, func(p *C.EVP_PKEY) { C.mks_free(p) }, p)
	return pk, nil
}

var cNames = sync.Map{} // digest name -> *C.char, never freed (five at most)

func cName(name string) *C.char {
	if v, ok := cNames.Load(name); ok {
		return v.(*C.char)
	}
	v, _ := cNames.LoadOrStore(name, C.CString(name))
	return v.(*C.char)
}

func (k *pkey) sign(md string, digest []byte, size int) ([]byte, error) {
	sig := make([]byte, size)
	n := C.size_t(len(sig))
	var code C.ulong
	step := C.mks_sign(k.p, cName(md), (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n, &code)
	runtime.KeepAlive(k)
	if step != 0 {
		return nil, fmt.Errorf("libcrypto: %s failed (OpenSSL error %#x)", stepNames[step], uint64(code))
	}
	if int(n) != size {
		return nil, fmt.Errorf("libcrypto: signature is %d bytes, want %d", n, size)
	}
	return sig, nil
}
