// Percent-decoding and query-string look-ups (declared in <gust/router.hpp>):
// pure functions over caller-owned bytes, kept apart from the router so the
// URL fuzz harness links them alone.
#include <gust/router.hpp>

namespace gust {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes one character of `in` at `i` (advancing i); false for a bad escape.
bool decode_one(std::string_view in, size_t& i, bool plus_is_space, char& out) {
    char c = in[i++];
    if (c == '+' && plus_is_space) {
        out = ' ';
    } else if (c == '%') {
        if (in.size() - i < 2) return false;
        int hi = hex_value(in[i]), lo = hex_value(in[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out = static_cast<char>(hi * 16 + lo);
        i += 2;
    } else {
        out = c;
    }
    return true;
}

// Whether `raw` decodes ('+' as space) to exactly `name`.
bool decoded_equals(std::string_view raw, std::string_view name) {
    size_t i = 0, j = 0;
    while (i < raw.size()) {
        char c;
        if (!decode_one(raw, i, true, c)) return false;
        if (j == name.size() || name[j] != c) return false;
        ++j;
    }
    return j == name.size();
}

}  // namespace

Result<std::string_view> percent_decode(std::string_view in, std::span<char> out, bool plus_is_space) {
    // Validate first, so a bad escape is reported as such whatever the buffer size.
    for (size_t i = 0; i < in.size();) {
        char c;
        if (!decode_one(in, i, plus_is_space, c)) return Error(Errc::protocol, "bad percent-escape");
    }
    size_t n = 0;
    for (size_t i = 0; i < in.size();) {
        char c;
        (void)decode_one(in, i, plus_is_space, c);
        if (n == out.size()) return Error(Errc::too_large, "percent_decode: output buffer too small");
        out[n++] = c;
    }
    return std::string_view(out.data(), n);
}

std::string_view query_raw(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        if (!pair.empty()) {
            size_t eq = pair.find('=');
            if (decoded_equals(pair.substr(0, eq), name))
                return eq == std::string_view::npos ? pair.substr(pair.size()) : pair.substr(eq + 1);
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

Result<std::string_view> query_value(std::string_view query, std::string_view name, std::span<char> out) {
    std::string_view raw = query_raw(query, name);
    if (raw.data() == nullptr) return Error(Errc::not_found, "query parameter not present");
    return percent_decode(raw, out, true);
}

}  // namespace gust
