// Shared by src/tls/*.cpp: the random-number plumbing and mbedTLS error logging.
#pragma once

#include <gust/log.hpp>
#include <gust/result.hpp>

#include "mbedtls_compat.hpp"

namespace gust::tls_detail {

// mbedTLS entropy callback over port::random_bytes (getrandom or /dev/urandom).
int port_entropy(void* unused, unsigned char* out, size_t len);

// Seeds `drbg` (already mbedtls_ctr_drbg_init'ed) from port_entropy; 0 or an mbedTLS error.
int seed_drbg(mbedtls_ctr_drbg_context* drbg, const char* personalization);

// Logs "tls: <what>: <mbedTLS's text> (-0xNNNN)" (stack buffer only).
void log_mbedtls(const char* what, int ret, LogLevel level = LogLevel::warn);

// Logs like log_mbedtls() and returns Error(Errc::tls, message).
Error tls_error(int ret, const char* what, const char* message, LogLevel level = LogLevel::warn);

}  // namespace gust::tls_detail
