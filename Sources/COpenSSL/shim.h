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

/// Creates an HMAC-SHA256 context keyed once; reuse it with cutover_hmac_sha256_reset per message.
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

#endif
