// Static inline wrappers for OpenSSL calls whose arguments Swift cannot express
// (OSSL_PARAM arrays, macros). Clang imports static inline functions as ordinary functions.
#ifndef CUTOVER_COPENSSL_SHIM_H
#define CUTOVER_COPENSSL_SHIM_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/ssl.h>
#include <string.h>

/// Creates an HMAC-SHA256 context keyed once; cutover_hmac_sha256_compute resets it before each message,
/// so one context serves many.
/// Returns NULL on failure (inspect ERR_get_error).
static inline EVP_MAC_CTX *cutover_hmac_sha256_new(const unsigned char *key, size_t key_len) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (ctx == NULL) return NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/// Computes HMAC-SHA256 of data with a context from cutover_hmac_sha256_new into out (32 bytes).
/// Returns 1 on success. The context keeps its key; it is not safe to share across threads.
static inline int cutover_hmac_sha256_compute(EVP_MAC_CTX *ctx, const void *data, size_t len, unsigned char out[32]) {
    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1) return 0;
    if (EVP_MAC_update(ctx, (const unsigned char *)data, len) != 1) return 0;
    size_t out_len = 0;
    if (EVP_MAC_final(ctx, out, &out_len, 32) != 1) return 0;
    return out_len == 32;
}

/// The text of the oldest queued OpenSSL error, or an empty string.
static inline void cutover_openssl_error_text(char *buffer, size_t length) {
    unsigned long code = ERR_get_error();
    if (code == 0) { if (length > 0) buffer[0] = 0; return; }
    ERR_error_string_n(code, buffer, length);
}

// MARK: TLS (CutoverTLS). Wrappers for macros and for the callbacks Swift cannot pass as C function
// pointers with a context.

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// Every queued OpenSSL error, oldest first, joined with "; " (the queue is emptied). Writes an
/// empty string when the queue is empty.
static inline void cutover_openssl_error_queue_text(char *buffer, size_t length) {
    if (length == 0) return;
    buffer[0] = 0;
    size_t used = 0;
    unsigned long code;
    char one[256];
    while ((code = ERR_get_error()) != 0) {
        ERR_error_string_n(code, one, sizeof one);
        size_t needed = strlen(one) + (used > 0 ? 2 : 0);
        if (used + needed + 1 > length) continue; // keep draining, drop what does not fit
        if (used > 0) { memcpy(buffer + used, "; ", 2); used += 2; }
        memcpy(buffer + used, one, strlen(one));
        used += strlen(one);
        buffer[used] = 0;
    }
}

/// SSL_CTX_set_min_proto_version / SSL_CTX_set_max_proto_version (macros). Returns 1 on success.
static inline int cutover_ssl_ctx_set_proto_versions(SSL_CTX *ctx, int minimum, int maximum) {
    if (SSL_CTX_set_min_proto_version(ctx, minimum) != 1) return 0;
    return SSL_CTX_set_max_proto_version(ctx, maximum) == 1;
}

/// The options every Cutover context sets: no renegotiation (TLS 1.2), no compression, and a
/// peer closing without close_notify reads as end of stream (HTTP framing catches truncation).
static inline void cutover_ssl_ctx_set_default_options(SSL_CTX *ctx, int server) {
    uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF;
    if (server) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx, options);
    // Partial writes: SSL_write returns after each record, so back-pressure stays record-sized.
    // Release buffers: idle keep-alive connections do not hold 2 x 16 KiB of record buffers.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}

/// ALPN selection with server preference: the first protocol of `arg` (wire format: length-prefixed
/// names, `arg` stays valid as long as the context) that the client also offers. No overlap: the
/// handshake continues without ALPN, as RFC 7301 allows, and the connection speaks HTTP/1.1.
static inline int cutover_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                               const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    const unsigned char *preferred = (const unsigned char *)arg;
    size_t offset = 0;
    while (preferred[offset] != 0) {
        unsigned char length = preferred[offset];
        const unsigned char *name = preferred + offset + 1;
        unsigned int at = 0;
        while (at < inlen) {
            unsigned char offered = in[at];
            if (at + 1 + offered > inlen) break;
            if (offered == length && memcmp(in + at + 1, name, length) == 0) {
                *out = in + at + 1;
                *outlen = offered;
                return SSL_TLSEXT_ERR_OK;
            }
            at += 1 + offered;
        }
        offset += 1 + length;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/// Installs cutover_alpn_select; `preferred` is wire format followed by a zero byte and must
/// outlive every SSL made from `ctx`.
static inline void cutover_ssl_ctx_set_alpn_preference(SSL_CTX *ctx, const unsigned char *preferred) {
    SSL_CTX_set_alpn_select_cb(ctx, cutover_alpn_select, (void *)preferred);
}

/// SSL_set_tlsext_host_name (a macro): the SNI name a client sends. Returns 1 on success.
static inline int cutover_ssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// The subject of `cert` in RFC 2253 form (`CN=...,O=...`), or an empty string.
static inline void cutover_x509_subject_text(X509 *cert, char *buffer, size_t length) {
    if (length == 0) return;
    buffer[0] = 0;
    BIO *memory = BIO_new(BIO_s_mem());
    if (memory == NULL) return;
    if (X509_NAME_print_ex(memory, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char *data = NULL;
        long count = BIO_get_mem_data(memory, &data);
        if (count > 0 && data != NULL) {
            size_t copied = (size_t)count < length - 1 ? (size_t)count : length - 1;
            memcpy(buffer, data, copied);
            buffer[copied] = 0;
        }
    }
    BIO_free(memory);
}

#endif
