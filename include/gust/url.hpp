// http:// and https:// URLs for the HTTP client: a strict parser that hands
// out views into the caller's text, reference resolution for redirects
// (RFC 3986 §5.2, into a caller's buffer), and origin comparison. No heap,
// no percent-decoding (targets are sent as written; decoding request paths is
// router.hpp's percent_decode).
//
//   auto u = http::parse_url("https://[::1]:8443/api/v1?x=1");
//   // u->https, u->host == "::1", u->ipv6, u->port == 8443, u->path == "/api/v1", u->query == "x=1"
//   char next[2048];
//   auto r = http::resolve_url(*u, "../v2#top", next);   // "https://[::1]:8443/v2"
//
// Decisions (strict where the server parser is strict):
//  - Only the schemes http and https (any case); anything else is not_supported.
//  - Userinfo ("user:pass@host") is refused: credentials belong in headers,
//    and a URL that carries them is how they leak into logs and redirects.
//  - Hosts are DNS names ([A-Za-z0-9._-]), IPv4 literals, or bracketed IPv6
//    literals (hex digits, ':' and '.'); no zone IDs, no percent-encoding.
//  - An empty port ("http://h:/") means the default; port 0 is refused.
//  - Path and query may hold visible ASCII except '#' (what gust's server
//    accepts); the fragment is dropped; space, controls and bytes >= 0x80 are
//    refused (percent-encode them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <gust/result.hpp>

namespace gust::http {

// Longest host name (DNS allows 253 characters plus a trailing dot).
inline constexpr size_t kMaxHostLength = 255;

// An absolute http(s) URL; every view points into the parsed text (or is static).
struct Url {
    bool https = false;
    std::string_view host;    // as written, without IPv6 brackets
    bool ipv6 = false;        // the host was a bracketed IPv6 literal
    uint16_t port = 0;        // explicit, else 80 or 443
    bool default_port = true;  // port is the scheme's default (the Host header then omits it)
    std::string_view path;    // "/..." (a static "/" when the URL has none)
    std::string_view query;   // after '?', without it
    bool has_query = false;   // a '?' was present (even with an empty query)

    std::string_view scheme() const { return https ? "https" : "http"; }
};

// Parses an absolute http or https URL; the views point into `text`.
// Errc::invalid_argument for malformed URLs, Errc::not_supported for other schemes.
Result<Url> parse_url(std::string_view text);

// Resolves `ref` (a Location value: absolute, "//host/p", "/p", "p", "?q", "")
// against `base`, writes the resulting absolute URL into `out` and parses it;
// the result's views point into `out`. Dot segments are removed from the
// path, the fragment dropped. Errc::too_large when `out` is too small.
Result<Url> resolve_url(const Url& base, std::string_view ref, std::span<char> out);

// Writes `url` in its canonical text form ("https://[::1]:8443/p?q"; the port
// only when not the default) into `out`; returns the length, 0 if it did not fit.
size_t format_url(const Url& url, std::span<char> out);

// Writes the Host header value ("example.com", "[::1]:8080") into `out`; returns the length, 0 if it did not fit.
size_t format_authority(const Url& url, std::span<char> out);

// Same scheme, host (ASCII case-insensitive) and port (RFC 6454).
bool same_origin(const Url& a, const Url& b);

}  // namespace gust::http
