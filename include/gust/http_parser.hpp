// HTTP/1.1 request parsing for the server and response-head parsing for the
// client (RFC 9112, RFC 9110): pure code over caller-owned buffers, no I/O,
// no heap. The head parsers are incremental (bytes may arrive split anywhere)
// and never rescan bytes they have already seen; the chunked decoder is
// incremental too, in place, into a caller's span, or as zero-copy data views.
//
// Every view handed out points into the caller's buffer and lives as long as
// those bytes stay where they are (for the head: until the caller consumes
// or overwrites the head; the parser never copies).
//
// Decisions on the RFC's MAY/SHOULD points (strict where leniency is risky):
//  - Empty lines (CRLF) before the request line are skipped (RFC 9112 §2.2);
//    they count towards max_head and towards the bytes consumed.
//  - Bare LF as a line end is rejected with 400 everywhere (head, chunk lines,
//    trailers): accepting it is a known request-smuggling lever. A bare CR is
//    rejected with 400 as well.
//  - The request line needs exactly one SP between its three parts.
//  - Identical duplicate Content-Length values ("5, 5" or two lines of "5")
//    are accepted as one value (RFC 9110 §8.6); differing ones are 400.
//  - Transfer-Encoding must end in chunked, exactly once (else 400); any
//    other coding (gzip, deflate, compress, unknown) is 501 since the server
//    decodes only chunked. Transfer-Encoding in HTTP/1.0 is 400 (RFC 9112
//    §6.1 says the framing is faulty).
//  - HTTP/1.x with x >= 2 is treated as 1.1; a major version other than 1 is
//    505. A version with more than one digit on either side is 400.
//  - The request target may hold only visible ASCII other than '#'; bytes
//    >= 0x80 in the target are 400 (clients percent-encode them). Header
//    values may hold obs-text (0x80-0xFF).
//  - An absolute-form target with userinfo ('@') is 400 (RFC 9110 §4.2.4).
//  - Expect values other than 100-continue are ignored; 100-continue in an
//    HTTP/1.0 request is ignored (RFC 9110 §10.1.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <gust/result.hpp>

namespace gust::http {

// Request methods the server branches on; anything else is `other` (see method_name).
enum class Method : uint8_t { get, head, post, put, delete_, patch, options, connect, trace, other };

// The protocol version of a request; HTTP/1.2 and later 1.x parse as http11.
enum class Version : uint8_t { http10, http11 };

// How a message body is delimited: none (no body), Content-Length, chunked, or
// (responses only) by the server closing the connection.
enum class Framing : uint8_t { none, content_length, chunked, until_close };

// Which of the four request-target forms of RFC 9112 §3.2 the target has.
enum class TargetForm : uint8_t { origin, absolute, authority, asterisk };

// One header field line: name as sent, value without leading/trailing OWS; views into the buffer.
struct Header {
    std::string_view name;
    std::string_view value;
};

// Size limits for one request head. The header count limit is the size of the caller's array.
struct ParserLimits {
    size_t max_target = 2048;  // longest request target in bytes (else 414)
    size_t max_head = 8192;    // longest head, leading empty lines to final CRLF (else 431)
};

// A parsed request head; every view points into the caller's buffer.
struct RequestHead {
    Method method = Method::other;
    std::string_view method_name;   // the method token as sent
    std::string_view target;        // the raw request target
    TargetForm form = TargetForm::origin;
    std::string_view path;          // origin/absolute form: path without query (a static "/" if empty); else empty
    std::string_view query;         // the part after '?' (no '?'); empty if none
    Version version = Version::http11;
    std::span<Header> headers;      // the filled prefix of the caller's header array
    Framing framing = Framing::none;
    uint64_t content_length = 0;    // body size when framing == content_length, else 0
    bool keep_alive = false;        // connection may carry another request after this one
    bool expect_continue = false;   // HTTP/1.1 request sent Expect: 100-continue
    bool connection_close = false;  // Connection lists "close"
    bool connection_upgrade = false;  // Connection lists "upgrade"
    std::string_view upgrade;       // the Upgrade header value, empty if none
    std::string_view host;          // Host value, or the authority of an absolute/authority-form target

    // The value of the first header named `name` (ASCII case-insensitive), or an empty view with data()==nullptr.
    std::string_view header(std::string_view name) const;
    // True when a header named `name` is present (case-insensitive).
    bool has_header(std::string_view name) const;
};

// Whether a parse step finished, needs more bytes, or rejected the input.
enum class Progress : uint8_t { complete, incomplete, failed };

// The outcome of one parse or decode step. `status` is the HTTP status to answer when failed.
struct ParseResult {
    Progress progress = Progress::incomplete;
    size_t consumed = 0;   // complete: bytes of the head (including leading empty lines)
    uint16_t status = 0;   // failed: 400, 413, 414, 431, 501 or 505
    Error error;           // failed: Errc::protocol, too_large or not_supported plus a static message

    // True when the head was parsed completely.
    bool complete() const { return progress == Progress::complete; }
    // True when more bytes are needed.
    bool incomplete() const { return progress == Progress::incomplete; }
    // True when the input was rejected; answer `status` and close.
    bool failed() const { return progress == Progress::failed; }
};

// True for the token characters of RFC 9110 §5.6.2 (method and field-name characters).
bool is_tchar(char c);

// ASCII case-insensitive equality of two strings.
bool iequals(std::string_view a, std::string_view b);

// The value of the first header named `name` (case-insensitive) in `headers`, or an empty view with data()==nullptr.
std::string_view find_header(std::span<const Header> headers, std::string_view name);

// Maps a method token to its Method (case-sensitive, as methods are); unknown tokens give Method::other.
Method method_from(std::string_view token);

// 413 when the declared Content-Length exceeds `max_body`, else 0. Chunked bodies are checked by ChunkedDecoder.
uint16_t check_body_limit(const RequestHead& req, uint64_t max_body);

// An incremental request-head parser. Keep one per connection; reset() between requests.
// Holds only offsets, so the cost of a call is the new bytes, not the whole buffer.
// A request's first call takes a one-pass scanner built for a head that arrived
// whole; later calls go on byte by byte from wherever it stopped.
class RequestParser {
public:
    // A parser with the given limits, ready for a request.
    explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

    // Parses the head at the start of `buf` (every byte received so far for this request;
    // the bytes already passed must not change, but the buffer may move between calls).
    // `headers` is the caller's array (capacity in); on complete, `out` is filled and
    // out.headers is its used prefix. Returns complete with bytes consumed, incomplete,
    // or failed with the status to answer. After complete or failed, returns the same until reset().
    ParseResult parse(std::string_view buf, RequestHead& out, std::span<Header> headers);

    // Forgets all state; the next parse() starts a new request at the start of its buffer.
    void reset();

private:
    template <bool kBounded>
    ParseResult parse_start(const char* buf, const char* end, RequestHead& out);
    template <bool kBounded>
    ParseResult parse_fields(const char* at, const char* end, RequestHead& out);
    ParseResult parse_more(std::string_view buf, RequestHead& out, std::span<Header> headers);
    ParseResult resume(const char* buf, size_t size, RequestHead& out, std::span<Header> headers);
    ParseResult suspend(size_t pos, uint8_t state);
    ParseResult suspend_line(const char* at, uint8_t state, const Header* slot, const char* name,
                             const char* name_end = nullptr, const char* value = nullptr,
                             const char* value_end = nullptr);
    ParseResult fail(uint16_t status, Errc code, const char* message);
    ParseResult finish(const char* buf, RequestHead& out, std::span<Header> headers, const Header* host,
                       unsigned seen);
    ParseResult finish_general(const char* buf, RequestHead& out, std::span<Header> headers);
    void rebase(const char* base, std::span<Header> headers);

    ParserLimits limits_;
    const char* base_ = nullptr;  // where the buffer started last call (views in headers point there)
    Header* hbase_ = nullptr;     // the caller's header array
    size_t hcap_ = 0;             // its size as of the request's first call
    size_t pos_ = 0;              // next byte to scan
    size_t start_ = 0;            // start of the request line (after leading empty lines)
    size_t method_end_ = 0;       // the SP after the method; the target starts after it
    size_t target_end_ = 0;
    size_t query_ = 0;            // the target's first '?', 0 if none
    size_t version_start_ = 0;    // when resume() reads the version
    size_t name_start_ = 0;       // the field line resume() is in: its name
    size_t name_end_ = 0;
    size_t value_start_ = 0;      // its value, trailing OWS trimmed so far
    size_t value_end_ = 0;
    size_t count_ = 0;            // complete header lines stored in the caller's array
    ParseResult failure_;         // what parse() returns after a failure, until reset()
    uint8_t state_ = 0;
    uint8_t minor_ = 0;           // the version's minor digit
};

// ---- Responses (the client side) ------------------------------------------------
//
// Decisions for responses (RFC 9112 §4, §6.3):
//  - Bare LF and bare CR are rejected, as for requests.
//  - The status line is "HTTP/1.x NNN reason"; the SP before an empty reason
//    may be missing. Status codes 100..599; other major versions are not_supported.
//  - No body for 1xx, 204, 304 and answers to HEAD, whatever the headers say.
//  - Transfer-Encoding must be exactly "chunked": other codings (gzip, ...) are
//    not_supported (the client decodes none), together with Content-Length or
//    in HTTP/1.0 it is a protocol error (a response-splitting sign).
//  - Differing Content-Length values are a protocol error; identical repeats count once.
//  - Neither header: the body runs until the server closes (Framing::until_close).
//  - obs-fold (a line starting with SP or HTAB) is a protocol error.

// A parsed response head; every view points into the caller's buffer.
struct ResponseHead {
    Version version = Version::http11;
    uint16_t status = 0;
    std::string_view reason;        // may be empty
    std::span<Header> headers;      // the filled prefix of the caller's header array
    Framing framing = Framing::none;
    uint64_t content_length = 0;    // when framing == content_length
    bool keep_alive = false;        // the connection may carry another request
    bool connection_close = false;  // Connection lists "close"

    // The value of the first header named `name` (case-insensitive), or an empty view with data()==nullptr.
    std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

// An incremental response-head parser (one per request; reset() between
// responses on a connection). Like RequestParser it holds only offsets, scans
// each byte once, and tolerates the buffer moving between calls.
class ResponseParser {
public:
    // `max_head`: the longest head accepted (too_large beyond); `head_request`:
    // the request was HEAD, so the response has no body.
    explicit ResponseParser(size_t max_head = 8192, bool head_request = false)
        : max_head_(max_head), head_request_(head_request) {}

    // Parses the head at the start of `buf` (all bytes of this response received so
    // far). `headers` is the caller's array. Returns complete with the head's length
    // in consumed, incomplete, or failed with `error` (Errc::protocol, too_large,
    // not_supported; `status` is unused). After complete or failed, the same until reset().
    ParseResult parse(std::string_view buf, ResponseHead& out, std::span<Header> headers);

    // Ready for the next response on the connection (after a 1xx, or another request).
    void reset(bool head_request);

private:
    ParseResult fail(Errc code, const char* message);
    ParseResult line(std::string_view buf, size_t start, size_t end, ResponseHead& out, std::span<Header> headers);
    ParseResult finish(ResponseHead& out, std::span<Header> headers);

    size_t max_head_;
    bool head_request_;
    const char* base_ = nullptr;  // where the buffer started last call
    const Header* hbase_ = nullptr;
    size_t pos_ = 0;              // next byte to scan
    size_t line_start_ = 0;
    size_t count_ = 0;            // header lines stored
    ResponseHead head_;           // the status line, once read
    bool have_status_ = false;
    ParseResult done_;
};

// Limits for a chunked body.
struct ChunkedLimits {
    uint64_t max_body = UINT64_MAX;  // largest decoded body (else 413)
    size_t max_line = 1024;          // longest chunk-size line, extensions included (else 400)
    size_t max_trailer = 4096;       // largest trailer section (else 431)
};

// The outcome of one chunked decoding step.
struct ChunkResult {
    Progress progress = Progress::incomplete;  // complete = the last chunk and trailers were read
    size_t consumed = 0;     // encoded input bytes used by this step
    size_t decoded = 0;      // decoded body bytes produced by this step
    std::string_view data;   // next(): the body bytes found, a view into the input; decode*(): empty
    uint16_t status = 0;     // failed: 400, 413 or 431
    Error error;             // failed: the reason (static message)

    // True when the whole body (with trailers) has been read.
    bool complete() const { return progress == Progress::complete; }
    // True when more input is needed (or, for decode(), more output room).
    bool incomplete() const { return progress == Progress::incomplete; }
    // True when the encoding is broken or over a limit; answer `status` and close.
    bool failed() const { return progress == Progress::failed; }
};

// An incremental decoder for the chunked transfer coding (RFC 9112 §7.1).
// Extensions and trailer fields are validated, bounded and ignored.
class ChunkedDecoder {
public:
    // A decoder at the start of a chunked body.
    explicit ChunkedDecoder(ChunkedLimits limits = {}) : limits_(limits) {}

    // Zero-copy step: reads framing from `in` and returns at most one run of body bytes
    // as `data` (a view into `in`, valid as long as `in`). Call again with in.substr(consumed).
    ChunkResult next(std::string_view in, size_t max_data = SIZE_MAX);

    // Decodes `buf` in place: body bytes are moved to the front of buf; returns consumed
    // (encoded bytes used, >= decoded) and decoded (body bytes now at buf[0, decoded)).
    ChunkResult decode_in_place(std::span<char> buf);

    // Decodes from `in` into `out` until out is full, the body ends or input runs out;
    // body bytes land in out[0, decoded). Returns incomplete when more input or room is needed.
    ChunkResult decode(std::string_view in, std::span<char> out);

    // Body bytes decoded so far.
    uint64_t total() const { return total_; }
    // Whether the whole body has been read.
    bool done() const { return state_ == kDone; }
    // Back to the start of a new chunked body, same limits.
    void reset();

private:
    enum : uint8_t { kSize, kSizeWs, kExt, kSizeLf, kData, kDataCr, kDataLf,
                     kTrailerStart, kTrailerName, kTrailerValue, kTrailerLf, kEndLf, kDone, kFailed };
    ChunkResult fail(uint16_t status, Errc code, const char* message);

    ChunkedLimits limits_;
    uint64_t remaining_ = 0;  // chunk-data bytes left in the current chunk (or the size being read)
    uint64_t total_ = 0;
    size_t line_ = 0;         // bytes of the current size line or of the trailer section
    uint8_t digits_ = 0;      // hex digits seen in the current size
    uint8_t state_ = kSize;
    uint16_t fail_status_ = 0;
    const char* fail_message_ = "";
    Errc fail_code_ = Errc::ok;
};

}  // namespace gust::http
