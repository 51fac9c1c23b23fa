// The chunked transfer-coding decoder (RFC 9112 §7.1). One byte-level state
// machine (next) hands out runs of body bytes as views into its input; the
// in-place and copying decoders are loops over it.
#include <gust/http_parser.hpp>

#include <cstring>

namespace gust::http {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

// Field-value and extension bytes: HTAB, SP, VCHAR, obs-text; no other control characters.
inline bool is_text(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
}

}  // namespace

void ChunkedDecoder::reset() { *this = ChunkedDecoder(limits_); }

ChunkResult ChunkedDecoder::fail(uint16_t status, Errc code, const char* message) {
    state_ = kFailed;
    fail_status_ = status;
    fail_code_ = code;
    fail_message_ = message;
    ChunkResult r;
    r.progress = Progress::failed;
    r.status = status;
    r.error = Error(code, message);
    return r;
}

ChunkResult ChunkedDecoder::next(std::string_view in, size_t max_data) {
    if (state_ == kFailed) return fail(fail_status_, fail_code_, fail_message_);
    ChunkResult r;
    size_t i = 0;
    while (i < in.size() && state_ != kDone) {
        char c = in[i];
        if (state_ == kData) {
            // One run of body bytes per call, so the caller gets a single view.
            if (!r.data.empty() || max_data == 0) break;
            uint64_t n = remaining_;
            if (n > in.size() - i) n = in.size() - i;
            if (n > max_data) n = max_data;
            r.data = in.substr(i, size_t(n));
            r.decoded = size_t(n);
            remaining_ -= n;
            total_ += n;
            i += size_t(n);
            if (remaining_ == 0) state_ = kDataCr;
            continue;
        }
        if (state_ <= kSizeLf && ++line_ > limits_.max_line) return fail(400, Errc::protocol, "chunk-size line too long");
        if (state_ >= kTrailerStart && ++line_ > limits_.max_trailer) return fail(431, Errc::too_large, "chunked trailer too large");
        switch (state_) {
        case kSize: {
            int h = hex_value(c);
            if (h >= 0) {
                if (remaining_ > (UINT64_MAX >> 4)) return fail(400, Errc::protocol, "chunk size overflows");
                remaining_ = (remaining_ << 4) | uint64_t(h);
                digits_ = 1;
            } else if (!digits_) {
                return fail(400, Errc::protocol, "bad chunk size");
            } else if (c == '\r') {
                state_ = kSizeLf;
            } else if (c == ';') {
                state_ = kExt;
            } else if (is_ows(c)) {
                state_ = kSizeWs;
            } else {
                return fail(400, Errc::protocol, "bad chunk size");
            }
            break;
        }
        case kSizeWs:
            if (c == ';') state_ = kExt;
            else if (!is_ows(c)) return fail(400, Errc::protocol, "bad chunk extension");
            break;
        case kExt:
            if (c == '\r') state_ = kSizeLf;
            else if (!is_text(c)) return fail(400, Errc::protocol, "control character in chunk extension");
            break;
        case kSizeLf:
            if (c != '\n') return fail(400, Errc::protocol, "bare CR in chunk-size line");
            line_ = 0;
            if (remaining_ == 0) {
                state_ = kTrailerStart;
            } else if (remaining_ > limits_.max_body - total_) {
                return fail(413, Errc::too_large, "chunked body too large");
            } else {
                state_ = kData;
            }
            break;
        case kDataCr:
            if (c != '\r') return fail(400, Errc::protocol, "missing CRLF after chunk data");
            state_ = kDataLf;
            break;
        case kDataLf:
            if (c != '\n') return fail(400, Errc::protocol, "missing CRLF after chunk data");
            state_ = kSize;
            digits_ = 0;
            line_ = 0;
            break;
        case kTrailerStart:
            if (c == '\r') state_ = kEndLf;
            else if (is_tchar(c)) state_ = kTrailerName;
            else return fail(400, Errc::protocol, "bad trailer field");
            break;
        case kTrailerName:
            if (c == ':') state_ = kTrailerValue;
            else if (!is_tchar(c)) return fail(400, Errc::protocol, "bad trailer field name");
            break;
        case kTrailerValue:
            if (c == '\r') state_ = kTrailerLf;
            else if (!is_text(c)) return fail(400, Errc::protocol, "control character in trailer");
            break;
        case kTrailerLf:
            if (c != '\n') return fail(400, Errc::protocol, "bare CR in trailer");
            state_ = kTrailerStart;
            break;
        case kEndLf:
            if (c != '\n') return fail(400, Errc::protocol, "bare CR after trailers");
            state_ = kDone;
            break;
        }
        ++i;
    }
    r.consumed = i;
    if (state_ == kDone) r.progress = Progress::complete;
    return r;
}

ChunkResult ChunkedDecoder::decode_in_place(std::span<char> buf) {
    size_t in = 0, out = 0;
    for (;;) {
        ChunkResult s = next(std::string_view(buf.data() + in, buf.size() - in));
        if (!s.data.empty()) {
            std::memmove(buf.data() + out, s.data.data(), s.data.size());
            out += s.data.size();
        }
        in += s.consumed;
        if (s.failed() || s.complete() || s.consumed == 0 || in == buf.size()) {
            s.consumed = in;
            s.decoded = out;
            s.data = {};
            return s;
        }
    }
}

ChunkResult ChunkedDecoder::decode(std::string_view in, std::span<char> out) {
    size_t used = 0, produced = 0;
    for (;;) {
        ChunkResult s = next(in.substr(used), out.size() - produced);
        if (!s.data.empty()) {
            std::memcpy(out.data() + produced, s.data.data(), s.data.size());
            produced += s.data.size();
        }
        used += s.consumed;
        if (s.failed() || s.complete() || s.consumed == 0 || used == in.size()) {
            s.consumed = used;
            s.decoded = produced;
            s.data = {};
            return s;
        }
    }
}

}  // namespace gust::http
