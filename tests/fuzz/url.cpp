// libFuzzer harness for gust::percent_decode, query_raw and query_value.
// Invariants: decoded text is never longer than its input and lies in the
// output buffer; query_raw views lie inside the query; decoding a
// percent-encoding of arbitrary bytes (made by the tiny encoder below, with
// mixed-case hex and optional '+' for space) gives the bytes back, both
// directly and through query_value.
#include <gust/router.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"

using namespace gust;

namespace {

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

// Percent-encodes `in`; `salt` picks hex case per byte; plus encodes space as '+'.
std::string encode(std::string_view in, uint8_t salt, bool plus) {
    static const char lower[] = "0123456789abcdef";
    static const char upper[] = "0123456789ABCDEF";
    std::string out;
    for (size_t i = 0; i < in.size(); i++) {
        unsigned char c = static_cast<unsigned char>(in[i]);
        if (plus && c == ' ') {
            out += '+';
        } else if (unreserved(c) && ((salt >> (i % 8)) & 1) == 0) {
            out += char(c);
        } else {
            const char* hex = ((salt + i) & 2) ? upper : lower;
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    uint8_t salt = data[0];
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::vector<char> out(in.size() + 1);

    // Arbitrary input: bounded output.
    for (bool plus : {false, true}) {
        auto d = percent_decode(in, std::span<char>(out.data(), in.size()), plus);
        if (d.ok()) {
            FUZZ_CHECK(d->size() <= in.size());
            FUZZ_CHECK(fuzz::inside(*d, out.data(), in.size()));
        } else {
            FUZZ_CHECK(d.error().code == Errc::protocol || d.error().code == Errc::too_large);
            FUZZ_CHECK(d.error().code != Errc::too_large);  // room for in.size() always suffices
        }
    }

    // The input as a query string, with a name from its first pair.
    size_t cut = salt % (in.size() + 1);
    std::string_view name = in.substr(0, cut);
    std::string_view query = in.substr(cut);
    std::string_view raw = query_raw(query, name);
    if (raw.data() != nullptr) FUZZ_CHECK(fuzz::inside(raw, query.data(), query.size()));
    auto v = query_value(query, name, std::span<char>(out.data(), query.size()));
    if (v.ok()) {
        FUZZ_CHECK(v->size() <= query.size());
        FUZZ_CHECK(raw.data() != nullptr);
        FUZZ_CHECK(v->size() <= raw.size());
    } else {
        FUZZ_CHECK(v.error().code != Errc::ok);
        FUZZ_CHECK(v.error().code != Errc::too_large);
        if (v.error().code == Errc::not_found) FUZZ_CHECK(raw.data() == nullptr);
    }

    // Round trip: encode the bytes, decode them back.
    for (bool plus : {false, true}) {
        std::string enc = encode(in, salt, plus);
        std::vector<char> dec(enc.size() + 1);
        auto d = percent_decode(enc, dec, plus);
        FUZZ_CHECK(d.ok());
        FUZZ_CHECK(*d == in);
        // Too small an output is too_large, never an overflow.
        if (!in.empty()) {
            auto small = percent_decode(enc, std::span<char>(dec.data(), in.size() - 1), plus);
            FUZZ_CHECK(!small.ok() && small.error().code == Errc::too_large);
        }
        if (plus) {
            std::string q = "x=1&k=" + enc + "&k=2";
            auto qv = query_value(q, "k", dec);
            FUZZ_CHECK(qv.ok());
            FUZZ_CHECK(*qv == in);
        }
    }
    return 0;
}
