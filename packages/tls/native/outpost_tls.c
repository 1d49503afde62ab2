/*
 * outpost_tls: the few OpenSSL operations packages/tls needs without node:crypto's
 * per-call overheads (docs/adr/0012-native-crypto-addon.md). Plain C over Node-API,
 * compiled by scripts/build-native.ts against the headers of the running Node and
 * linked against nothing: the OpenSSL symbols resolve from the node binary itself,
 * so this is the same OpenSSL node:crypto and node:tls use.
 *
 * Exports (all byte arguments are Uint8Arrays; nothing secret is ever a string):
 *
 *   new Aead(name, direction, trafficSecret, hashLength)
 *       name 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305', direction 'seal' |
 *       'open'. The write key and IV are derived here from the traffic secret
 *       (RFC 8446 §7.3), so they never exist in JavaScript memory. One
 *       EVP_CIPHER_CTX keyed once; per record only the nonce changes (RFC 8446
 *       §5.3: iv XOR the 64-bit record sequence number, left-padded).
 *   aead.seal(seq, record, aadLength)
 *       In place: record[0, aadLength) is the additional data, the bytes up to the
 *       last 16 are the plaintext and become the ciphertext, the tag goes into the
 *       last 16 bytes.
 *   aead.open(seq, aad, input, output, outputOffset) -> number
 *       input = ciphertext ‖ tag. Writes the plaintext to output[outputOffset...] and
 *       returns its length, or returns -1 when the tag does not verify; then the
 *       bytes written are zeroed before returning, so no unauthenticated plaintext
 *       is left for the caller.
 *   aead.rekey(trafficSecret)
 *       The next key and IV of the same cipher and direction, derived the same way
 *       and installed in the same context (no new context or object).
 *   aead.free()
 *       Frees and cleanses the context and the IV now (also done on GC).
 *   aeadSealOnce(name, key, nonce, aad, input, output, outputOffset) -> number
 *   aeadOpenOnce(name, key, nonce, aad, input, output, outputOffset) -> number
 *       One record under a key used once or rarely (session tickets: a random
 *       nonce each): ciphertext ‖ tag into output, or the plaintext (-1 and the
 *       output zeroed for a bad tag). The context lives for the call only.
 *   hmac(hashLength, buffer, keyLength, messageLength, length)
 *       HMAC-SHA256 (hashLength 32) or HMAC-SHA384 (48), RFC 2104, the building
 *       block of HKDF (RFC 5869): buffer holds key ‖ message; the MAC's first
 *       `length` bytes are written right after them and the key and message
 *       bytes are cleansed. Nothing of the key outlives the call.
 *   hashInit(hashLength, state), hashUpdate(hashLength, state, data),
 *   hashDigest(hashLength, state, output, outputOffset)
 *       A running SHA-256 (32) or SHA-384 (48) whose state is the caller's array of
 *       hashStateBytes; hashDigest leaves the state as it was. Not exported in FIPS
 *       mode (they bypass the provider); HMAC then takes the EVP path too.
 *   x25519(peerPublic, publicOut, publicOffset, secretOut, secretOffset) -> boolean
 *       A fresh key pair, its public key and the shared secret with the peer's key
 *       (RFC 7748 §6.1). false when the peer's key is a small-order point (all-zero
 *       secret, RFC 8446 §7.4.2); the private key never leaves OpenSSL.
 *   mlkem768Encapsulate(ek, ciphertextOut, ciphertextOffset, secretOut, secretOffset)
 *       -> boolean
 *       FIPS 203 encapsulation to an ML-KEM-768 encapsulation key; false when the
 *       key fails FIPS 203's input check (§7.2).
 *   new EcSigner(curve, scalar, publicPoint)
 *       An ECDSA signing key ('P-256' | 'P-384') built from its private scalar
 *       (big-endian, field-sized) and its uncompressed public point, with one
 *       EVP_PKEY_CTX initialised for signing once. node:crypto's sign() builds a
 *       digest-sign context per call (provider fetches, a context dup in
 *       EVP_DigestSignFinal, a job object): about 3 us of a 24 us P-256 signature.
 *   signer.sign(hashLength, data, output, outputOffset) -> number
 *       hashLength 32 or 48: ECDSA over SHA-256 or SHA-384 of data (as sign('sha256'
 *       ...) does); 0: data is the digest, signed as given (keyless digest ops,
 *       which node:crypto cannot do). Writes the DER ECDSA-Sig-Value (RFC 3279
 *       §2.2.3) to output and returns its length; output needs maxSignatureBytes.
 *   signer.maxSignatureBytes
 *   signer.free()
 *       Frees the key now (OpenSSL clears the scalar); also done on GC.
 *   mallocTrim() -> boolean   (glibc only)
 *       malloc_trim(0): gives every whole free page of the C heap back to the kernel
 *       (MADV_DONTNEED), so freed buffers that held secrets (I/O buffers of node's
 *       HTTP and stream code, which nobody clears) are gone, not merely free. The key
 *       server calls it when it seals.
 *
 * Every length, offset and sequence number is checked here before anything is
 * written; a bad argument is a TypeError or RangeError, an OpenSSL failure an
 * Error, never a crash. OpenSSL's error queue is cleared after each failure so
 * node:crypto does not later report our errors as its own.
 */
#define NAPI_VERSION 8
/* SHA256_Init and friends (deprecated in 3.0, still exported by node): a digest
   state that is plain data, so it can live in the caller's memory (see hashInit). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/opensslv.h>
#include <openssl/param_build.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define TAG_BYTES 16
#define IV_BYTES 12
#define X25519_BYTES 32
#define MLKEM768_EK_BYTES 1184
#define MLKEM768_CT_BYTES 1088
#define MLKEM_SS_BYTES 32
/* Far above a TLS record (2^14 + 256) and below INT_MAX, which EVP's lengths are. */
#define MAX_AEAD_BYTES ((size_t)1 << 30)
/* Number.MAX_SAFE_INTEGER: larger doubles do not name one integer. */
#define MAX_SEQ 9007199254740991.0

/* --------------------------------------------------------------- ciphers -- */

enum { AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, CIPHER_COUNT };

static const char *const cipher_names[CIPHER_COUNT] = {
    "aes-128-gcm",
    "aes-256-gcm",
    "chacha20-poly1305",
};
static const char *const cipher_fetch_names[CIPHER_COUNT] = {
    "AES-128-GCM",
    "AES-256-GCM",
    "ChaCha20-Poly1305",
};
/* Fetched once per process (fetching is a locked lookup in the provider store). */
static EVP_CIPHER *ciphers[CIPHER_COUNT];
static EVP_MD *sha256, *sha384;
static int ciphers_ok;
/* In FIPS mode every digest goes through the (validated) provider: HMAC takes the
   EVP path and the hash* functions are not exported (JS keeps node:crypto). */
static int fips_mode;
static pthread_once_t ciphers_once = PTHREAD_ONCE_INIT;

static void fetch_ciphers(void) {
  for (int i = 0; i < CIPHER_COUNT; i++) {
    ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_fetch_names[i], NULL);
    if (ciphers[i] == NULL) {
      ERR_clear_error();
      return;
    }
  }
  sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
  if (sha256 == NULL || sha384 == NULL) {
    ERR_clear_error();
    return;
  }
  fips_mode = EVP_default_properties_is_fips_enabled(NULL);
  ciphers_ok = 1;
}

/* The cipher index of an AEAD name argument; -1 after throwing. */
static int get_cipher(napi_env env, napi_value v, const char *what) {
  char name[32], msg[160];
  size_t n;
  if (napi_get_value_string_utf8(env, v, name, sizeof name, &n) == napi_ok && n < sizeof name - 1) {
    for (int i = 0; i < CIPHER_COUNT; i++) {
      if (strcmp(name, cipher_names[i]) == 0) return i;
    }
  }
  snprintf(msg, sizeof msg,
           "Cannot %s: name must be 'aes-128-gcm', 'aes-256-gcm' or 'chacha20-poly1305'", what);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return -1;
}

/* ---------------------------------------------------------------- errors -- */

/* Each throw helper returns NULL, so a callback can `return throw_...(...)`. */
static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

static napi_value throw_openssl(napi_env env, const char *msg) {
  ERR_clear_error();
  napi_throw_error(env, "ERR_OUTPOST_TLS_OPENSSL", msg);
  return NULL;
}

/* ------------------------------------------------------------- arguments -- */

typedef struct {
  uint8_t *data;
  size_t length;
} bytes_t;

/* A Uint8Array (or Buffer) argument; 0 after throwing a TypeError. */
static int get_bytes(napi_env env, napi_value v, const char *what, const char *name,
                     bytes_t *out) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    char msg[160];
    snprintf(msg, sizeof msg, "Cannot %s: %s must be a Uint8Array", what, name);
    throw_type(env, msg);
    return 0;
  }
  /* An empty or detached array may report a NULL pointer: point at a harmless byte
     instead, so no NULL + offset ever reaches OpenSSL. */
  static uint8_t empty[1];
  out->data = data != NULL && length > 0 ? (uint8_t *)data : empty;
  out->length = data != NULL ? length : 0;
  return 1;
}

/* A non-negative integer argument at most `max`; 0 after throwing. */
static int get_index(napi_env env, napi_value v, const char *what, const char *name,
                     double max, double *out) {
  double d;
  char msg[200];
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    snprintf(msg, sizeof msg, "Cannot %s: %s must be a number", what, name);
    throw_type(env, msg);
    return 0;
  }
  if (!(d >= 0 && d <= max) || floor(d) != d) {
    snprintf(msg, sizeof msg, "Cannot %s: %s must be an integer from 0 to %.0f, current value is %g",
             what, name, max, d);
    throw_range(env, msg);
    return 0;
  }
  *out = d;
  return 1;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t n;
  return napi_get_value_string_utf8(env, v, buf, size, &n) == napi_ok && n < size - 1;
}

/* True when [a, a + an) and [b, b + bn) share a byte. */
static int overlaps(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  if (an == 0 || bn == 0) return 0;
  uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
  return a0 < b0 + bn && b0 < a0 + an;
}

/* ------------------------------------------------------------ SHA-2, HMAC -- */

/*
 * SHA-256 or SHA-384 through OpenSSL's low-level functions: their state is a plain
 * struct (no pointers, no provider context), so a running hash costs no allocation,
 * and a copy of it is a memcpy. Same code as EVP's (the same block functions).
 */
typedef union {
  SHA256_CTX s256;
  SHA512_CTX s512;
} sha_t;

static void sha_init(size_t hlen, sha_t *c) {
  if (hlen == 32)
    SHA256_Init(&c->s256);
  else
    SHA384_Init(&c->s512);
}

static void sha_update(size_t hlen, sha_t *c, const uint8_t *d, size_t n) {
  if (n == 0) return;
  if (hlen == 32)
    SHA256_Update(&c->s256, d, n);
  else
    SHA384_Update(&c->s512, d, n);
}

/* Finishes c (then cleansed) into out[0, hlen). */
static void sha_final(size_t hlen, sha_t *c, uint8_t *out) {
  if (hlen == 32)
    SHA256_Final(out, &c->s256);
  else
    SHA384_Final(out, &c->s512);
  OPENSSL_cleanse(c, sizeof *c);
}

/* SHA-256 (hlen 32) or SHA-384 (48) of d[0, n) into out[0, hlen): OpenSSL's low-level
   functions, or EVP in FIPS mode (the validated provider). 1 on success. */
static int sha_once(size_t hlen, const uint8_t *d, size_t n, uint8_t *out) {
  if (fips_mode) {
    unsigned int len = 0;
    return EVP_Digest(d, n, out, &len, hlen == 32 ? sha256 : sha384, NULL) == 1 && len == hlen;
  }
  sha_t c;
  sha_init(hlen, &c);
  sha_update(hlen, &c, d, n);
  sha_final(hlen, &c, out);
  return 1;
}

/* HMAC's padded key K ^ pad for one block (RFC 2104 §2). */
static void hmac_pad(size_t block, const uint8_t *k, uint8_t x, uint8_t *pad) {
  for (size_t i = 0; i < block; i++) pad[i] = k[i] ^ x;
}

/*
 * HMAC (RFC 2104): H((K ^ opad) ‖ H((K ^ ipad) ‖ message)) into out[0, hlen).
 * Every intermediate (padded key, inner hash, digest states) is cleansed before
 * returning. 1 on success.
 */
static int hmac_compute(size_t hlen, const uint8_t *key, size_t klen, const uint8_t *msg,
                        size_t mlen, uint8_t *out) {
  const EVP_MD *md = hlen == 32 ? sha256 : sha384;
  size_t block = hlen == 32 ? 64 : 128;
  uint8_t k[128], pad[128], inner[48];
  unsigned int n = 0;
  int ok = 1;
  memset(k, 0, sizeof k);
  if (!fips_mode) {
    sha_t c;
    if (klen > block) {
      sha_once(hlen, key, klen, k); /* a key longer than the block is hashed first (§2) */
    } else if (klen > 0) {
      memcpy(k, key, klen);
    }
    hmac_pad(block, k, 0x36, pad);
    sha_init(hlen, &c);
    sha_update(hlen, &c, pad, block);
    sha_update(hlen, &c, msg, mlen);
    sha_final(hlen, &c, inner);
    hmac_pad(block, k, 0x5c, pad);
    sha_init(hlen, &c);
    sha_update(hlen, &c, pad, block);
    sha_update(hlen, &c, inner, hlen);
    sha_final(hlen, &c, out);
  } else {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ok = ctx != NULL;
    if (ok && klen > block) {
      ok = sha_once(hlen, key, klen, k);
    } else if (ok && klen > 0) {
      memcpy(k, key, klen);
    }
    hmac_pad(block, k, 0x36, pad);
    ok = ok && EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, block) == 1 &&
         (mlen == 0 || EVP_DigestUpdate(ctx, msg, mlen) == 1) &&
         EVP_DigestFinal_ex(ctx, inner, &n) == 1 && n == hlen;
    hmac_pad(block, k, 0x5c, pad);
    ok = ok && EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, block) == 1 &&
         EVP_DigestUpdate(ctx, inner, hlen) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
         n == hlen;
    EVP_MD_CTX_free(ctx); /* frees and cleanses the digest state */
  }
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
  OPENSSL_cleanse(inner, sizeof inner);
  if (!ok) OPENSSL_cleanse(out, hlen);
  return ok;
}

/*
 * hmac(hashLength, buffer, keyLength, messageLength, length): the key and the
 * message lie in one buffer (key ‖ message) and the MAC's first `length` bytes
 * are written right after them; the key and message bytes are then cleansed.
 * One array per call, and the caller's scratch buffer is large enough to live
 * outside V8's heap: a small on-heap Uint8Array passed to Node-API is first
 * moved out of the heap (an allocation and a copy per array).
 */
static napi_value hmac(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  char msg[200];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) {
    return throw_type(
        env, "Cannot compute HMAC: expected (hashLength, buffer, keyLength, messageLength, length)");
  }
  double hash_d, klen_d, mlen_d, len_d;
  bytes_t buf;
  if (!get_index(env, argv[0], "compute HMAC", "hashLength", 64, &hash_d)) return NULL;
  if (hash_d != 32 && hash_d != 48) {
    return throw_range(env, "Cannot compute HMAC: hashLength must be 32 (SHA-256) or 48 (SHA-384)");
  }
  if (!get_bytes(env, argv[1], "compute HMAC", "buffer", &buf) ||
      !get_index(env, argv[2], "compute HMAC", "keyLength", (double)MAX_AEAD_BYTES, &klen_d) ||
      !get_index(env, argv[3], "compute HMAC", "messageLength", (double)MAX_AEAD_BYTES, &mlen_d) ||
      !get_index(env, argv[4], "compute HMAC", "length", hash_d, &len_d)) {
    return NULL;
  }
  size_t hlen = (size_t)hash_d, klen = (size_t)klen_d, mlen = (size_t)mlen_d;
  size_t len = (size_t)len_d;
  if (len == 0) return throw_range(env, "Cannot compute HMAC: length must be at least 1");
  if (buf.length < klen + mlen || buf.length - klen - mlen < len) {
    snprintf(msg, sizeof msg,
             "Cannot compute HMAC: buffer of %zu bytes has no room for a %zu-byte key, a %zu-byte "
             "message and %zu bytes of output",
             buf.length, klen, mlen, len);
    return throw_range(env, msg);
  }
  uint8_t result[48];
  int ok = hmac_compute(hlen, buf.data, klen, buf.data + klen, mlen, result);
  OPENSSL_cleanse(buf.data, klen + mlen);
  if (ok) memcpy(buf.data + klen + mlen, result, len);
  OPENSSL_cleanse(result, sizeof result);
  if (!ok) return throw_openssl(env, "Cannot compute HMAC: OpenSSL failed");
  return NULL;
}

/* ------------------------------------------------------------ hash state -- */

/*
 * A running SHA-256/384 (the transcript hash, RFC 8446 §4.4.1) whose state lives in
 * a caller's Uint8Array of hashStateBytes: copied in, checked, advanced and copied
 * back per call, so a connection's transcript needs no native object, finalizer or
 * allocation, and a digest of it leaves the state as it was (the "copy" is free).
 * The state is not secret (it hashes public handshake messages). A state that JS
 * has corrupted cannot make OpenSSL write out of bounds: the fields the block
 * functions index with (num, md_len) are checked on every call.
 */
#define HASH_STATE_BYTES sizeof(sha_t)

/* The exports' version; see the end of this file. */
#define OUTPOST_TLS_INTERFACE 3

static uint8_t *output_range(napi_env env, napi_value buf, napi_value offset, size_t n,
                             const char *what, const char *name);

static int hash_length(napi_env env, napi_value v, const char *what, size_t *hlen) {
  double d;
  char msg[160];
  if (!get_index(env, v, what, "hashLength", 64, &d)) return 0;
  if (d != 32 && d != 48) {
    snprintf(msg, sizeof msg, "Cannot %s: hashLength must be 32 (SHA-256) or 48 (SHA-384)", what);
    throw_range(env, msg);
    return 0;
  }
  *hlen = (size_t)d;
  return 1;
}

/* The state argument (hashStateBytes long); 0 after throwing. */
static int state_bytes(napi_env env, napi_value v, const char *what, bytes_t *state) {
  char msg[160];
  if (!get_bytes(env, v, what, "state", state)) return 0;
  if (state->length != HASH_STATE_BYTES) {
    snprintf(msg, sizeof msg, "Cannot %s: state must be %zu bytes, current length is %zu", what,
             HASH_STATE_BYTES, state->length);
    throw_range(env, msg);
    return 0;
  }
  return 1;
}

/* Copies the state into c and checks it is one hashInit made for hlen; 0 after throwing. */
static int load_state(napi_env env, const bytes_t *state, size_t hlen, const char *what,
                      sha_t *c) {
  memcpy(c, state->data, sizeof *c);
  int ok = hlen == 32 ? c->s256.num < SHA256_CBLOCK && c->s256.md_len == SHA256_DIGEST_LENGTH
                      : c->s512.num < SHA512_CBLOCK && c->s512.md_len == SHA384_DIGEST_LENGTH;
  if (!ok) {
    char msg[160];
    snprintf(msg, sizeof msg, "Cannot %s: state is not a SHA-%s state from hashInit", what,
             hlen == 32 ? "256" : "384");
    throw_range(env, msg);
  }
  return ok;
}

/*
 * The arguments every hash* function starts with: argv gets `n` values, of which the
 * first two are hashLength and the state; 0 after throwing.
 */
static int hash_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv,
                     const char *what, const char *usage, size_t *hlen, bytes_t *state) {
  size_t argc = n;
  char msg[160];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < n) {
    snprintf(msg, sizeof msg, "Cannot %s: expected %s", what, usage);
    throw_type(env, msg);
    return 0;
  }
  return hash_length(env, argv[0], what, hlen) && state_bytes(env, argv[1], what, state);
}

/* hashInit(hashLength, state): a fresh SHA-256 (32) or SHA-384 (48) state. */
static napi_value hash_init(napi_env env, napi_callback_info info) {
  size_t hlen;
  napi_value argv[2];
  bytes_t state;
  if (!hash_args(env, info, 2, argv, "init hash", "(hashLength, state)", &hlen, &state)) {
    return NULL;
  }
  sha_t c;
  memset(&c, 0, sizeof c);
  sha_init(hlen, &c);
  memcpy(state.data, &c, sizeof c);
  return NULL;
}

/* hashUpdate(hashLength, state, data): the state advanced over data. */
static napi_value hash_update(napi_env env, napi_callback_info info) {
  size_t hlen;
  napi_value argv[3];
  bytes_t state, data;
  sha_t c;
  if (!hash_args(env, info, 3, argv, "update hash", "(hashLength, state, data)", &hlen, &state) ||
      !get_bytes(env, argv[2], "update hash", "data", &data) ||
      !load_state(env, &state, hlen, "update hash", &c)) {
    return NULL;
  }
  if (data.length > MAX_AEAD_BYTES) return throw_range(env, "Cannot update hash: data exceeds 2^30 bytes");
  sha_update(hlen, &c, data.data, data.length);
  memcpy(state.data, &c, sizeof c);
  return NULL;
}

/* hashDigest(hashLength, state, output, outputOffset): the digest so far; the state is unchanged. */
static napi_value hash_digest(napi_env env, napi_callback_info info) {
  size_t hlen;
  napi_value argv[4];
  bytes_t state;
  sha_t c;
  if (!hash_args(env, info, 4, argv, "digest hash", "(hashLength, state, output, outputOffset)",
                 &hlen, &state) ||
      !load_state(env, &state, hlen, "digest hash", &c)) {
    return NULL;
  }
  uint8_t *o = output_range(env, argv[2], argv[3], hlen, "digest hash", "output");
  if (o == NULL) return NULL;
  uint8_t d[48];
  sha_final(hlen, &c, d);
  memcpy(o, d, hlen);
  return NULL;
}

/*
 * HKDF-Expand-Label(secret, label, "", length) for length <= the hash length
 * (RFC 8446 §7.1): one block, T(1) = HMAC(secret, HkdfLabel ‖ 0x01).
 */
static int expand_label(size_t hlen, const uint8_t *secret, const char *label, size_t length,
                        uint8_t *out) {
  uint8_t info[2 + 1 + 6 + 16 + 1 + 1], t[48];
  size_t l = strlen(label), n = 0;
  if (length > hlen || l > 16) return 0;
  info[n++] = (uint8_t)(length >> 8);
  info[n++] = (uint8_t)length;
  info[n++] = (uint8_t)(6 + l);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, l);
  n += l;
  info[n++] = 0; /* empty context */
  info[n++] = 1; /* counter */
  int ok = hmac_compute(hlen, secret, hlen, info, n, t);
  if (ok) memcpy(out, t, length);
  OPENSSL_cleanse(t, sizeof t);
  return ok;
}

/* ------------------------------------------------------------------ Aead -- */

typedef struct {
  EVP_CIPHER_CTX *ctx; /* NULL once freed */
  uint8_t iv[IV_BYTES];
  int enc;     /* 1: seal, 0: open */
  size_t hlen; /* the traffic secrets' length (rekey takes the same) */
} aead_t;

static void aead_release(aead_t *a) {
  if (a->ctx != NULL) {
    EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
    a->ctx = NULL;
  }
  OPENSSL_cleanse(a->iv, sizeof a->iv);
}

static void aead_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  aead_release((aead_t *)data);
  OPENSSL_free(data);
}

/*
 * Seals p[0, plen) in place under `nonce` with AAD aad[0, alen); the tag goes to
 * tag. 1 on success; on failure p and tag are cleansed (neither plaintext nor a
 * partial record is left).
 */
static int seal_core(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad, size_t alen,
                     uint8_t *p, size_t plen, uint8_t *tag) {
  int n = 0, f = 0;
  int ok = EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 1) == 1;
  if (ok && alen > 0) ok = EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)alen) == 1;
  n = 0;
  if (ok && plen > 0) ok = EVP_EncryptUpdate(ctx, p, &n, p, (int)plen) == 1;
  if (ok) ok = EVP_EncryptFinal_ex(ctx, p + n, &f) == 1 && (size_t)n + (size_t)f == plen;
  if (ok) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, tag) == 1;
  if (!ok) {
    OPENSSL_cleanse(p, plen);
    OPENSSL_cleanse(tag, TAG_BYTES);
  }
  return ok;
}

/*
 * Opens c[0, clen) with `tag` into o (o == c, or no overlap) under `nonce`.
 * Returns 1 when the tag verifies, 0 when it does not, -1 when OpenSSL fails;
 * unless 1, o[0, clen) is cleansed.
 */
static int open_core(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad, size_t alen,
                     const uint8_t *c, size_t clen, const uint8_t *tag_in, uint8_t *o) {
  uint8_t tag[TAG_BYTES];
  memcpy(tag, tag_in, TAG_BYTES);
  int n = 0, f = 0;
  int ok = EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 0) == 1;
  if (ok && alen > 0) ok = EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)alen) == 1;
  if (ok) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, tag) == 1;
  n = 0;
  if (ok && clen > 0) ok = EVP_DecryptUpdate(ctx, o, &n, c, (int)clen) == 1;
  if (!ok) {
    OPENSSL_cleanse(o, clen);
    return -1;
  }
  /* The tag check (RFC 8446 §5.2: bad_record_mac for the caller). */
  if (EVP_DecryptFinal_ex(ctx, o + n, &f) != 1 || (size_t)n + (size_t)f != clen) {
    OPENSSL_cleanse(o, clen);
    ERR_clear_error();
    return 0;
  }
  return 1;
}

/* A context keyed with cipher `which` for direction `enc`; NULL after throwing. */
static EVP_CIPHER_CTX *keyed_context(napi_env env, int which, int enc, const bytes_t *key,
                                     const char *what) {
  const EVP_CIPHER *cipher = ciphers[which];
  int key_len = EVP_CIPHER_get_key_length(cipher);
  char msg[160];
  if (key_len <= 0 || key->length != (size_t)key_len) {
    snprintf(msg, sizeof msg, "Cannot %s: %s needs a key of %d bytes, current length is %zu", what,
             cipher_names[which], key_len, key->length);
    throw_range(env, msg);
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  /* Cipher and key now; the IV of each record at seal/open. The IV length is 12
     by default for all three, set anyway so a default change cannot bite. */
  if (ctx == NULL || EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, IV_BYTES, NULL) != 1 ||
      EVP_CipherInit_ex(ctx, NULL, NULL, key->data, NULL, enc) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    snprintf(msg, sizeof msg, "Cannot %s: OpenSSL refused the key", what);
    throw_openssl(env, msg);
    return NULL;
  }
  return ctx;
}

/* RFC 8446 §5.3: the 64-bit sequence number, big-endian, XORed into the IV's last 8 bytes. */
static void make_nonce(const uint8_t *iv, uint64_t seq, uint8_t *nonce) {
  memcpy(nonce, iv, IV_BYTES);
  for (int i = 0; i < 8; i++) nonce[IV_BYTES - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

static napi_value aead_new(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], self, target;
  char msg[160];
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_get_new_target(env, info, &target) != napi_ok || target == NULL) {
    return throw_type(env, "Cannot create Aead: call it with new");
  }
  if (argc < 4) {
    return throw_type(env, "Cannot create Aead: expected (name, direction, trafficSecret, hashLength)");
  }
  int which = get_cipher(env, argv[0], "create Aead");
  if (which < 0) return NULL;
  char dir[8];
  int enc = -1;
  if (get_string(env, argv[1], dir, sizeof dir)) {
    if (strcmp(dir, "seal") == 0) enc = 1;
    if (strcmp(dir, "open") == 0) enc = 0;
  }
  if (enc < 0) return throw_type(env, "Cannot create Aead: direction must be 'seal' or 'open'");
  bytes_t secret;
  double hash_d;
  if (!get_bytes(env, argv[2], "create Aead", "trafficSecret", &secret)) return NULL;
  if (!get_index(env, argv[3], "create Aead", "hashLength", 64, &hash_d)) return NULL;
  if (hash_d != 32 && hash_d != 48) {
    return throw_range(env, "Cannot create Aead: hashLength must be 32 (SHA-256) or 48 (SHA-384)");
  }
  if (secret.length != (size_t)hash_d) {
    snprintf(msg, sizeof msg,
             "Cannot create Aead: trafficSecret must be %.0f bytes, current length is %zu", hash_d,
             secret.length);
    return throw_range(env, msg);
  }
  /* RFC 8446 §7.3: [sender]_write_key and _iv from the traffic secret. They exist
     only here, on the stack, until the context holds the key schedule. */
  uint8_t key_bytes[32];
  size_t key_len = (size_t)EVP_CIPHER_get_key_length(ciphers[which]);
  aead_t *a = OPENSSL_zalloc(sizeof *a);
  if (a == NULL) return throw_openssl(env, "Cannot create Aead: out of memory");
  a->enc = enc;
  a->hlen = (size_t)hash_d;
  if (key_len > sizeof key_bytes ||
      !expand_label((size_t)hash_d, secret.data, "key", key_len, key_bytes) ||
      !expand_label((size_t)hash_d, secret.data, "iv", IV_BYTES, a->iv)) {
    OPENSSL_cleanse(key_bytes, sizeof key_bytes);
    aead_release(a);
    OPENSSL_free(a);
    return throw_openssl(env, "Cannot create Aead: key derivation failed");
  }
  bytes_t key = {key_bytes, key_len};
  a->ctx = keyed_context(env, which, enc, &key, "create Aead");
  OPENSSL_cleanse(key_bytes, sizeof key_bytes);
  if (a->ctx == NULL) {
    aead_release(a);
    OPENSSL_free(a);
    return NULL;
  }
  if (napi_wrap(env, self, a, aead_finalize, NULL, NULL) != napi_ok) {
    aead_release(a);
    OPENSSL_free(a);
    return throw_openssl(env, "Cannot create Aead: napi_wrap failed");
  }
  return self;
}

/* The native object behind `self` (a `cls` instance) for `what`, NULL after throwing: a
   TypeError for another receiver, ERR_OUTPOST_TLS_FREED once free() has run (live(p) == 0). */
static void *unwrap_live(napi_env env, napi_value self, const char *what, const char *cls,
                         int (*live)(const void *)) {
  void *p = NULL;
  char msg[120];
  if (napi_unwrap(env, self, &p) != napi_ok || p == NULL) {
    snprintf(msg, sizeof msg, "Cannot %s: receiver is not an %s", what, cls);
    throw_type(env, msg);
    return NULL;
  }
  if (!live(p)) {
    snprintf(msg, sizeof msg, "Cannot %s: the %s is freed", what, cls);
    napi_throw_error(env, "ERR_OUTPOST_TLS_FREED", msg);
    return NULL;
  }
  return p;
}

static int aead_live(const void *p) { return ((const aead_t *)p)->ctx != NULL; }

/* The live context behind `self` for `what` (direction enc, or -1 for either); NULL after throwing. */
static aead_t *aead_of(napi_env env, napi_value self, const char *what, int enc) {
  char msg[120];
  aead_t *a = unwrap_live(env, self, what, "Aead", aead_live);
  if (a == NULL) return NULL;
  if (enc >= 0 && a->enc != enc) {
    snprintf(msg, sizeof msg, "Cannot %s: the Aead was created for '%s'", what,
             a->enc ? "seal" : "open");
    napi_throw_error(env, "ERR_OUTPOST_TLS_DIRECTION", msg);
    return NULL;
  }
  return a;
}

static napi_value aead_seal(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  aead_t *a = aead_of(env, self, "seal", 1);
  if (a == NULL) return NULL;
  if (argc < 3) return throw_type(env, "Cannot seal: expected (seq, record, aadLength)");
  double seq, aad_d;
  bytes_t rec;
  if (!get_index(env, argv[0], "seal", "seq", MAX_SEQ, &seq)) return NULL;
  if (!get_bytes(env, argv[1], "seal", "record", &rec)) return NULL;
  if (!get_index(env, argv[2], "seal", "aadLength", (double)MAX_AEAD_BYTES, &aad_d)) return NULL;
  size_t aad = (size_t)aad_d;
  char msg[200];
  if (rec.length < aad || rec.length - aad < TAG_BYTES) {
    snprintf(msg, sizeof msg,
             "Cannot seal: record of %zu bytes has no room for %zu bytes of additional data and a "
             "%d-byte tag",
             rec.length, aad, TAG_BYTES);
    return throw_range(env, msg);
  }
  size_t plen = rec.length - aad - TAG_BYTES;
  if (plen > MAX_AEAD_BYTES) return throw_range(env, "Cannot seal: plaintext exceeds 2^30 bytes");
  uint8_t nonce[IV_BYTES];
  make_nonce(a->iv, (uint64_t)seq, nonce);
  uint8_t *p = rec.data + aad;
  int ok = seal_core(a->ctx, nonce, rec.data, aad, p, plen, p + plen);
  OPENSSL_cleanse(nonce, sizeof nonce);
  if (!ok) return throw_openssl(env, "Cannot seal: OpenSSL failed");
  return NULL; /* undefined */
}

static napi_value aead_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  aead_t *a = aead_of(env, self, "open", 0);
  if (a == NULL) return NULL;
  if (argc < 5) {
    return throw_type(env, "Cannot open: expected (seq, aad, input, output, outputOffset)");
  }
  double seq, off_d;
  bytes_t aad, in, out;
  if (!get_index(env, argv[0], "open", "seq", MAX_SEQ, &seq)) return NULL;
  if (!get_bytes(env, argv[1], "open", "aad", &aad)) return NULL;
  if (!get_bytes(env, argv[2], "open", "input", &in)) return NULL;
  if (!get_bytes(env, argv[3], "open", "output", &out)) return NULL;
  if (!get_index(env, argv[4], "open", "outputOffset", MAX_SEQ, &off_d)) return NULL;
  char msg[200];
  if (aad.length > MAX_AEAD_BYTES || in.length > MAX_AEAD_BYTES) {
    return throw_range(env, "Cannot open: input or additional data exceeds 2^30 bytes");
  }
  if (in.length < TAG_BYTES) {
    snprintf(msg, sizeof msg, "Cannot open: input of %zu bytes is shorter than the %d-byte tag",
             in.length, TAG_BYTES);
    return throw_range(env, msg);
  }
  size_t clen = in.length - TAG_BYTES;
  if (off_d > (double)out.length || out.length - (size_t)off_d < clen) {
    snprintf(msg, sizeof msg,
             "Cannot open: output of %zu bytes has no room for %zu bytes at offset %.0f",
             out.length, clen, off_d);
    return throw_range(env, msg);
  }
  uint8_t *o = out.data + (size_t)off_d;
  /* Decrypting in place (o == ciphertext) is fine; any other overlap is not. */
  if (clen > 0 && ((o != in.data && overlaps(o, clen, in.data, in.length)) ||
                   overlaps(o, clen, aad.data, aad.length))) {
    return throw_range(env, "Cannot open: output overlaps the input or additional data");
  }
  uint8_t nonce[IV_BYTES];
  make_nonce(a->iv, (uint64_t)seq, nonce);
  int r = open_core(a->ctx, nonce, aad.data, aad.length, in.data, clen, in.data + clen, o);
  OPENSSL_cleanse(nonce, sizeof nonce);
  if (r < 0) return throw_openssl(env, "Cannot open: OpenSSL failed");
  napi_value result;
  napi_create_double(env, r == 1 ? (double)clen : -1.0, &result);
  return result;
}

/*
 * aead.rekey(trafficSecret): the next key of the same cipher and direction (the
 * handshake → application key change, KeyUpdate), derived as in the constructor and
 * installed in the same context: no new context, object or finalizer. The sequence
 * number is the caller's (it restarts at 0). On failure the context is freed.
 */
static napi_value aead_rekey(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  char msg[160];
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  aead_t *a = aead_of(env, self, "rekey", -1);
  if (a == NULL) return NULL;
  if (argc < 1) return throw_type(env, "Cannot rekey: expected (trafficSecret)");
  bytes_t secret;
  if (!get_bytes(env, argv[0], "rekey", "trafficSecret", &secret)) return NULL;
  if (secret.length != a->hlen) {
    snprintf(msg, sizeof msg, "Cannot rekey: trafficSecret must be %zu bytes, current length is %zu",
             a->hlen, secret.length);
    return throw_range(env, msg);
  }
  uint8_t key_bytes[32], iv[IV_BYTES];
  int key_len = EVP_CIPHER_CTX_get_key_length(a->ctx);
  int ok = key_len > 0 && (size_t)key_len <= sizeof key_bytes &&
           expand_label(a->hlen, secret.data, "key", (size_t)key_len, key_bytes) &&
           expand_label(a->hlen, secret.data, "iv", IV_BYTES, iv) &&
           EVP_CipherInit_ex(a->ctx, NULL, NULL, key_bytes, NULL, a->enc) == 1;
  OPENSSL_cleanse(key_bytes, sizeof key_bytes);
  if (ok) memcpy(a->iv, iv, IV_BYTES);
  OPENSSL_cleanse(iv, sizeof iv);
  if (!ok) {
    aead_release(a);
    return throw_openssl(env, "Cannot rekey: key derivation failed");
  }
  return NULL;
}

static napi_value aead_free(napi_env env, napi_callback_info info) {
  napi_value self;
  void *p = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &p) != napi_ok || p == NULL) {
    return throw_type(env, "Cannot free: receiver is not an Aead");
  }
  aead_release((aead_t *)p);
  return NULL;
}

/* ------------------------------------------------------- one-shot AEAD -- */

/* The arguments both one-shot calls share; 0 after throwing. */
typedef struct {
  int which;
  bytes_t key, nonce, aad, in, out;
  uint8_t *o; /* output + outputOffset */
} once_args_t;

static int once_args(napi_env env, napi_callback_info info, const char *what, int sealing,
                     once_args_t *x) {
  size_t argc = 7;
  napi_value argv[7];
  char msg[200];
  double off;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < 7) {
    snprintf(msg, sizeof msg,
             "Cannot %s: expected (name, key, nonce, aad, input, output, outputOffset)", what);
    throw_type(env, msg);
    return 0;
  }
  if ((x->which = get_cipher(env, argv[0], what)) < 0) return 0;
  if (!get_bytes(env, argv[1], what, "key", &x->key) ||
      !get_bytes(env, argv[2], what, "nonce", &x->nonce) ||
      !get_bytes(env, argv[3], what, "aad", &x->aad) ||
      !get_bytes(env, argv[4], what, "input", &x->in) ||
      !get_bytes(env, argv[5], what, "output", &x->out) ||
      !get_index(env, argv[6], what, "outputOffset", MAX_SEQ, &off)) {
    return 0;
  }
  if (x->nonce.length != IV_BYTES) {
    snprintf(msg, sizeof msg, "Cannot %s: nonce must be %d bytes, current length is %zu", what,
             IV_BYTES, x->nonce.length);
    throw_range(env, msg);
    return 0;
  }
  if (x->aad.length > MAX_AEAD_BYTES || x->in.length > MAX_AEAD_BYTES) {
    snprintf(msg, sizeof msg, "Cannot %s: input or additional data exceeds 2^30 bytes", what);
    throw_range(env, msg);
    return 0;
  }
  if (!sealing && x->in.length < TAG_BYTES) {
    snprintf(msg, sizeof msg, "Cannot %s: input of %zu bytes is shorter than the %d-byte tag",
             what, x->in.length, TAG_BYTES);
    throw_range(env, msg);
    return 0;
  }
  size_t need = sealing ? x->in.length + TAG_BYTES : x->in.length - TAG_BYTES;
  if (off > (double)x->out.length || x->out.length - (size_t)off < need) {
    snprintf(msg, sizeof msg, "Cannot %s: output of %zu bytes has no room for %zu bytes at offset %.0f",
             what, x->out.length, need, off);
    throw_range(env, msg);
    return 0;
  }
  x->o = x->out.data + (size_t)off;
  /* The output is written while the input is read: it must not overlap any input. */
  if (overlaps(x->o, need, x->in.data, x->in.length) ||
      overlaps(x->o, need, x->aad.data, x->aad.length) ||
      overlaps(x->o, need, x->nonce.data, x->nonce.length) ||
      overlaps(x->o, need, x->key.data, x->key.length)) {
    snprintf(msg, sizeof msg, "Cannot %s: output overlaps an input", what);
    throw_range(env, msg);
    return 0;
  }
  return 1;
}

static napi_value aead_seal_once(napi_env env, napi_callback_info info) {
  once_args_t x;
  if (!once_args(env, info, "seal", 1, &x)) return NULL;
  pthread_once(&ciphers_once, fetch_ciphers);
  EVP_CIPHER_CTX *ctx = keyed_context(env, x.which, 1, &x.key, "seal");
  if (ctx == NULL) return NULL;
  memcpy(x.o, x.in.data, x.in.length);
  int ok = seal_core(ctx, x.nonce.data, x.aad.data, x.aad.length, x.o, x.in.length,
                     x.o + x.in.length);
  EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
  if (!ok) return throw_openssl(env, "Cannot seal: OpenSSL failed");
  napi_value result;
  napi_create_double(env, (double)(x.in.length + TAG_BYTES), &result);
  return result;
}

static napi_value aead_open_once(napi_env env, napi_callback_info info) {
  once_args_t x;
  if (!once_args(env, info, "open", 0, &x)) return NULL;
  pthread_once(&ciphers_once, fetch_ciphers);
  EVP_CIPHER_CTX *ctx = keyed_context(env, x.which, 0, &x.key, "open");
  if (ctx == NULL) return NULL;
  size_t clen = x.in.length - TAG_BYTES;
  int r = open_core(ctx, x.nonce.data, x.aad.data, x.aad.length, x.in.data, clen,
                    x.in.data + clen, x.o);
  EVP_CIPHER_CTX_free(ctx);
  if (r < 0) return throw_openssl(env, "Cannot open: OpenSSL failed");
  napi_value result;
  napi_create_double(env, r == 1 ? (double)clen : -1.0, &result);
  return result;
}

/* ----------------------------------------------------------- key exchange -- */

/* out[offset, offset + n) of a Uint8Array argument; NULL after throwing. */
static uint8_t *output_range(napi_env env, napi_value buf, napi_value offset, size_t n,
                             const char *what, const char *name) {
  bytes_t b;
  double off;
  char msg[200];
  if (!get_bytes(env, buf, what, name, &b)) return NULL;
  if (!get_index(env, offset, what, "offset", MAX_SEQ, &off)) return NULL;
  if (off > (double)b.length || b.length - (size_t)off < n) {
    snprintf(msg, sizeof msg, "Cannot %s: %s of %zu bytes has no room for %zu bytes at offset %.0f",
             what, name, b.length, n, off);
    throw_range(env, msg);
    return NULL;
  }
  return b.data + (size_t)off;
}

static napi_value make_bool(napi_env env, int v) {
  napi_value r;
  napi_get_boolean(env, v, &r);
  return r;
}

static napi_value x25519(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) {
    return throw_type(
        env, "Cannot run x25519: expected (peerPublic, publicOut, publicOffset, secretOut, secretOffset)");
  }
  bytes_t peer;
  char msg[160];
  if (!get_bytes(env, argv[0], "run x25519", "peerPublic", &peer)) return NULL;
  if (peer.length != X25519_BYTES) {
    snprintf(msg, sizeof msg, "Cannot run x25519: peerPublic must be 32 bytes, current length is %zu",
             peer.length);
    return throw_range(env, msg);
  }
  uint8_t *pub = output_range(env, argv[1], argv[2], X25519_BYTES, "run x25519", "publicOut");
  if (pub == NULL) return NULL;
  uint8_t *sec = output_range(env, argv[3], argv[4], X25519_BYTES, "run x25519", "secretOut");
  if (sec == NULL) return NULL;
  if (overlaps(pub, X25519_BYTES, sec, X25519_BYTES)) {
    return throw_range(env, "Cannot run x25519: publicOut and secretOut overlap");
  }
  uint8_t peer_copy[X25519_BYTES];
  memcpy(peer_copy, peer.data, X25519_BYTES);
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
  EVP_PKEY *peer_key =
      EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_copy, X25519_BYTES);
  EVP_PKEY_CTX *ctx = key != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL) : NULL;
  size_t pub_len = X25519_BYTES, sec_len = X25519_BYTES;
  int setup = key != NULL && peer_key != NULL && ctx != NULL &&
              EVP_PKEY_get_raw_public_key(key, pub, &pub_len) == 1 && pub_len == X25519_BYTES &&
              EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer_key) == 1;
  /* OpenSSL's X25519 derive fails on an all-zero result (a small-order peer point). */
  int derived = setup && EVP_PKEY_derive(ctx, sec, &sec_len) == 1 && sec_len == X25519_BYTES;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer_key);
  EVP_PKEY_free(key); /* cleanses the private key */
  if (!derived) {
    OPENSSL_cleanse(sec, X25519_BYTES);
    ERR_clear_error();
    if (!setup) {
      OPENSSL_cleanse(pub, X25519_BYTES);
      return throw_openssl(env, "Cannot run x25519: OpenSSL failed");
    }
    return make_bool(env, 0);
  }
  return make_bool(env, 1);
}

static napi_value mlkem768_encapsulate(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) {
    return throw_type(env,
                      "Cannot encapsulate: expected (ek, ciphertextOut, ciphertextOffset, "
                      "secretOut, secretOffset)");
  }
  bytes_t ek;
  char msg[160];
  if (!get_bytes(env, argv[0], "encapsulate", "ek", &ek)) return NULL;
  if (ek.length != MLKEM768_EK_BYTES) {
    snprintf(msg, sizeof msg, "Cannot encapsulate: ek must be %d bytes, current length is %zu",
             MLKEM768_EK_BYTES, ek.length);
    return throw_range(env, msg);
  }
  uint8_t *ct =
      output_range(env, argv[1], argv[2], MLKEM768_CT_BYTES, "encapsulate", "ciphertextOut");
  if (ct == NULL) return NULL;
  uint8_t *ss = output_range(env, argv[3], argv[4], MLKEM_SS_BYTES, "encapsulate", "secretOut");
  if (ss == NULL) return NULL;
  if (overlaps(ct, MLKEM768_CT_BYTES, ss, MLKEM_SS_BYTES) ||
      overlaps(ct, MLKEM768_CT_BYTES, ek.data, ek.length) ||
      overlaps(ss, MLKEM_SS_BYTES, ek.data, ek.length)) {
    return throw_range(env, "Cannot encapsulate: outputs overlap each other or ek");
  }
  /* The import runs FIPS 203 §7.2's modulus check on ek. */
  EVP_PKEY *key = EVP_PKEY_new_raw_public_key_ex(NULL, "ML-KEM-768", NULL, ek.data, ek.length);
  if (key == NULL) {
    ERR_clear_error();
    return make_bool(env, 0);
  }
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
  size_t ct_len = MLKEM768_CT_BYTES, ss_len = MLKEM_SS_BYTES;
  int ok = ctx != NULL && EVP_PKEY_encapsulate_init(ctx, NULL) == 1 &&
           EVP_PKEY_encapsulate(ctx, ct, &ct_len, ss, &ss_len) == 1 &&
           ct_len == MLKEM768_CT_BYTES && ss_len == MLKEM_SS_BYTES;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) {
    OPENSSL_cleanse(ss, MLKEM_SS_BYTES);
    OPENSSL_cleanse(ct, MLKEM768_CT_BYTES);
    return throw_openssl(env, "Cannot encapsulate: OpenSSL failed");
  }
  return make_bool(env, 1);
}

/* ------------------------------------------------------------ ec signing -- */

typedef struct {
  EVP_PKEY *key;
  EVP_PKEY_CTX *ctx;
  size_t max_sig;
} ec_signer_t;

static void ec_signer_release(ec_signer_t *s) {
  EVP_PKEY_CTX_free(s->ctx);
  EVP_PKEY_free(s->key); /* the EC provider clears the private scalar */
  s->ctx = NULL;
  s->key = NULL;
}

static void ec_signer_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ec_signer_release(data);
  OPENSSL_free(data);
}

/* The EVP_PKEY of (group, d, Q); NULL after an OpenSSL failure. */
static EVP_PKEY *ec_key_from(const char *group, const bytes_t *d, const bytes_t *q) {
  EVP_PKEY *key = NULL;
  BIGNUM *priv = BN_secure_new(); /* secure: its OSSL_PARAM copy is cleared on free */
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (priv != NULL && bld != NULL && kctx != NULL &&
      BN_bin2bn(d->data, (int)d->length, priv) != NULL &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q->data, q->length) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(kctx) == 1) {
    if (EVP_PKEY_fromdata(kctx, &key, EVP_PKEY_KEYPAIR, params) != 1) key = NULL;
  }
  OSSL_PARAM_free(params); /* the private part came from secure memory: cleared */
  OSSL_PARAM_BLD_free(bld);
  BN_clear_free(priv);
  EVP_PKEY_CTX_free(kctx);
  return key;
}

static napi_value ec_signer_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  char curve[16];
  if (argc < 3 || !get_string(env, argv[0], curve, sizeof curve) ||
      (strcmp(curve, "P-256") != 0 && strcmp(curve, "P-384") != 0)) {
    return throw_type(env, "Cannot create EcSigner: curve must be 'P-256' or 'P-384'");
  }
  size_t field = strcmp(curve, "P-256") == 0 ? 32 : 48;
  bytes_t d, q;
  if (!get_bytes(env, argv[1], "create EcSigner", "scalar", &d) ||
      !get_bytes(env, argv[2], "create EcSigner", "publicPoint", &q)) {
    return NULL;
  }
  if (d.length != field) {
    return throw_range(env, "Cannot create EcSigner: scalar must be as long as the field");
  }
  if (q.length != 1 + 2 * field || q.data[0] != 0x04) {
    return throw_range(env, "Cannot create EcSigner: publicPoint must be an uncompressed point");
  }
  ec_signer_t *s = OPENSSL_zalloc(sizeof *s);
  if (s == NULL) return throw_openssl(env, "Cannot create EcSigner: out of memory");
  s->key = ec_key_from(field == 32 ? "prime256v1" : "secp384r1", &d, &q);
  int size = s->key != NULL ? EVP_PKEY_get_size(s->key) : 0;
  s->ctx = s->key != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL) : NULL;
  /* The pairwise check: Q must be d·G (an EVP_PKEY built from parts is not checked). */
  if (s->ctx == NULL || size <= 0 || EVP_PKEY_pairwise_check(s->ctx) != 1 ||
      EVP_PKEY_sign_init(s->ctx) != 1) {
    ec_signer_release(s);
    OPENSSL_free(s);
    return throw_openssl(env, "Cannot create EcSigner: not a valid key pair on the curve");
  }
  s->max_sig = (size_t)size;
  if (napi_wrap(env, self, s, ec_signer_finalize, NULL, NULL) != napi_ok) {
    ec_signer_release(s);
    OPENSSL_free(s);
    return NULL;
  }
  napi_value max;
  if (napi_create_uint32(env, (uint32_t)s->max_sig, &max) != napi_ok ||
      napi_set_named_property(env, self, "maxSignatureBytes", max) != napi_ok) {
    return NULL;
  }
  return self;
}

static int ec_signer_live(const void *p) { return ((const ec_signer_t *)p)->ctx != NULL; }

static ec_signer_t *ec_signer_of(napi_env env, napi_value self, const char *what) {
  return unwrap_live(env, self, what, "EcSigner", ec_signer_live);
}

static napi_value ec_signer_sign(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (argc < 4) return throw_type(env, "Cannot sign: expected (hashLength, data, output, offset)");
  ec_signer_t *s = ec_signer_of(env, self, "sign");
  if (s == NULL) return NULL;
  double h;
  if (!get_index(env, argv[0], "sign", "hashLength", 64, &h)) return NULL;
  if (h != 0 && h != 32 && h != 48) return throw_range(env, "Cannot sign: hashLength must be 0, 32 or 48");
  bytes_t data;
  if (!get_bytes(env, argv[1], "sign", "data", &data)) return NULL;
  if (data.length > MAX_AEAD_BYTES) return throw_range(env, "Cannot sign: data too long");
  uint8_t *out = output_range(env, argv[2], argv[3], s->max_sig, "sign", "output");
  if (out == NULL) return NULL;
  uint8_t digest[64];
  const uint8_t *tbs = data.data;
  size_t tbs_len = data.length;
  if (h != 0) {
    if (!sha_once((size_t)h, data.data, data.length, digest))
      return throw_openssl(env, "Cannot sign: digest failed");
    tbs = digest;
    tbs_len = (size_t)h;
  } else if (tbs_len == 0 || tbs_len > 64) {
    return throw_range(env, "Cannot sign: a digest must be 1 to 64 bytes");
  }
  size_t sig_len = s->max_sig;
  int ok = EVP_PKEY_sign(s->ctx, out, &sig_len, tbs, tbs_len) == 1;
  OPENSSL_cleanse(digest, sizeof digest);
  if (!ok) return throw_openssl(env, "Cannot sign: OpenSSL failed");
  napi_value result;
  napi_create_uint32(env, (uint32_t)sig_len, &result);
  return result;
}

static napi_value ec_signer_free(napi_env env, napi_callback_info info) {
  napi_value self;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  ec_signer_t *s = NULL;
  if (napi_unwrap(env, self, (void **)&s) == napi_ok && s != NULL) ec_signer_release(s);
  return NULL;
}

/* ------------------------------------------------------------ free memory -- */

#ifdef __GLIBC__
#include <malloc.h>
static napi_value malloc_trim_now(napi_env env, napi_callback_info info) {
  (void)info;
  return make_bool(env, malloc_trim(0) == 1);
}
#endif

/* ------------------------------------------------------------------ init -- */

NAPI_MODULE_INIT() {
  /* Built against these headers; refuse an older OpenSSL at run time (a function
     we call might be missing or behave differently). */
  if (OPENSSL_version_major() != OPENSSL_VERSION_MAJOR ||
      OPENSSL_version_minor() < OPENSSL_VERSION_MINOR) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "Cannot load outpost_tls: built for OpenSSL %d.%d, running with %u.%u",
             OPENSSL_VERSION_MAJOR, OPENSSL_VERSION_MINOR, OPENSSL_version_major(),
             OPENSSL_version_minor());
    napi_throw_error(env, "ERR_OUTPOST_TLS_OPENSSL_VERSION", msg);
    return NULL;
  }
  pthread_once(&ciphers_once, fetch_ciphers);
  if (!ciphers_ok) {
    napi_throw_error(env, "ERR_OUTPOST_TLS_OPENSSL", "Cannot load outpost_tls: cipher fetch failed");
    return NULL;
  }
  napi_property_descriptor methods[] = {
      {"seal", NULL, aead_seal, NULL, NULL, NULL, napi_default_method, NULL},
      {"open", NULL, aead_open, NULL, NULL, NULL, napi_default_method, NULL},
      {"rekey", NULL, aead_rekey, NULL, NULL, NULL, napi_default_method, NULL},
      {"free", NULL, aead_free, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls, fn;
  if (napi_define_class(env, "Aead", NAPI_AUTO_LENGTH, aead_new, NULL,
                        sizeof methods / sizeof methods[0], methods, &cls) != napi_ok ||
      napi_set_named_property(env, exports, "Aead", cls) != napi_ok) {
    return NULL;
  }
  napi_property_descriptor signer_methods[] = {
      {"sign", NULL, ec_signer_sign, NULL, NULL, NULL, napi_default_method, NULL},
      {"free", NULL, ec_signer_free, NULL, NULL, NULL, napi_default_method, NULL},
  };
  if (napi_define_class(env, "EcSigner", NAPI_AUTO_LENGTH, ec_signer_new, NULL,
                        sizeof signer_methods / sizeof signer_methods[0], signer_methods,
                        &cls) != napi_ok ||
      napi_set_named_property(env, exports, "EcSigner", cls) != napi_ok) {
    return NULL;
  }
  /* The hash* functions are not exported in FIPS mode (they bypass the provider). */
  const struct {
    const char *name;
    napi_callback cb;
    int in_fips;
  } functions[] = {
      {"aeadSealOnce", aead_seal_once, 1},
      {"aeadOpenOnce", aead_open_once, 1},
      {"hmac", hmac, 1},
      {"x25519", x25519, 1},
      {"mlkem768Encapsulate", mlkem768_encapsulate, 1},
#ifdef __GLIBC__
      {"mallocTrim", malloc_trim_now, 1},
#endif
      {"hashInit", hash_init, 0},
      {"hashUpdate", hash_update, 0},
      {"hashDigest", hash_digest, 0},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    if (fips_mode && !functions[i].in_fips) continue;
    if (napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].cb, NULL,
                             &fn) != napi_ok ||
        napi_set_named_property(env, exports, functions[i].name, fn) != napi_ok) {
      return NULL;
    }
  }
  napi_value state_len;
  if (napi_create_uint32(env, (uint32_t)HASH_STATE_BYTES, &state_len) != napi_ok ||
      napi_set_named_property(env, exports, "hashStateBytes", state_len) != napi_ok) {
    return NULL;
  }
  /* What the JS side checks before it uses this build (src/crypto/native.ts,
     ADDON_INTERFACE): bump it with every change to the exports or their arguments, so that
     a stale build (sources pulled, addon not rebuilt) falls back instead of failing. */
  napi_value interface_version;
  if (napi_create_uint32(env, OUTPOST_TLS_INTERFACE, &interface_version) != napi_ok ||
      napi_set_named_property(env, exports, "interfaceVersion", interface_version) != napi_ok) {
    return NULL;
  }
  napi_value version;
  if (napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH,
                              &version) == napi_ok) {
    napi_set_named_property(env, exports, "openssl", version);
  }
  return exports;
}
