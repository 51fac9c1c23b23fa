// JsonReader: a strict RFC 8259 pull parser over a caller-owned body (see json.hpp).
#include <gust/json.hpp>

#include <charconv>
#include <cmath>
#include <limits>

namespace gust {

namespace {

constexpr uint8_t kArray = 0;
constexpr uint8_t kObject = 1;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// s[from, to) without substr()'s range check (and its throwing path); callers keep from <= to <= size.
std::string_view slice(std::string_view s, size_t from, size_t to) { return std::string_view(s.data() + from, to - from); }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Four hex digits at raw[i..i+4), or -1.
int32_t hex4(std::string_view raw, size_t i) {
    if (raw.size() - i < 4) return -1;
    int32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
        int h = hex_value(raw[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Unescapes the text between a string's quotes, handing each output byte to
 * `put` (which returns false to stop). Returns the error message, or nullptr on
 * success; a `put` refusal is reported as the static "stop" message so the
 * caller can tell it apart. One routine serves scanning (validation only),
 * decoding and comparison, so they cannot disagree. */
const char kStop[] = "stop";

template <typename Put>
const char* unescape(std::string_view raw, Put&& put) {
    size_t i = 0;
    while (i < raw.size()) {
        char c = raw[i];
        if (c != '\\') {
            if (!put(c)) return kStop;
            ++i;
            continue;
        }
        if (i + 1 >= raw.size()) return "json: bad escape";
        char e = raw[i + 1];
        i += 2;
        char simple = 0;
        switch (e) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        case 'u': break;
        default: return "json: bad escape";
        }
        if (simple) {
            if (!put(simple)) return kStop;
            continue;
        }
        int32_t cp = hex4(raw, i);
        if (cp < 0) return "json: bad \\u escape";
        i += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return "json: lone low surrogate";
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (raw.size() - i < 6 || raw[i] != '\\' || raw[i + 1] != 'u') return "json: lone high surrogate";
            int32_t lo = hex4(raw, i + 2);
            if (lo < 0xDC00 || lo > 0xDFFF) return "json: lone high surrogate";
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        char u[4];
        size_t n;
        if (cp < 0x80) { u[0] = static_cast<char>(cp); n = 1; }
        else if (cp < 0x800) {
            u[0] = static_cast<char>(0xC0 | (cp >> 6));
            u[1] = static_cast<char>(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            u[0] = static_cast<char>(0xE0 | (cp >> 12));
            u[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            u[2] = static_cast<char>(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            u[0] = static_cast<char>(0xF0 | (cp >> 18));
            u[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            u[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            u[3] = static_cast<char>(0x80 | (cp & 0x3F));
            n = 4;
        }
        for (size_t k = 0; k < n; ++k)
            if (!put(u[k])) return kStop;
    }
    return nullptr;
}

// Magnitude of an integer number's digits; false if over `limit`.
bool parse_magnitude(std::string_view digits, uint64_t limit, uint64_t& out) {
    uint64_t v = 0;
    for (char c : digits) {
        uint64_t d = static_cast<uint64_t>(c - '0');
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

// For a number std::from_chars called out of range: is it too big (else too small)?
// Estimates the decimal exponent of the first significant digit.
bool overflows(std::string_view t) {
    size_t i = (t[0] == '-') ? 1 : 0;
    long e10 = 0;
    bool seen = false;  // a nonzero digit
    for (; i < t.size() && is_digit(t[i]); ++i) {
        if (t[i] != '0') seen = true;
        if (seen) ++e10;
    }
    if (i < t.size() && t[i] == '.') {
        for (++i; i < t.size() && is_digit(t[i]); ++i) {
            if (seen) break;
            if (t[i] != '0') seen = true;
            else --e10;
        }
        while (i < t.size() && is_digit(t[i])) ++i;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        bool neg = i < t.size() && t[i] == '-';
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        long e = 0;
        for (; i < t.size() && is_digit(t[i]); ++i)
            if (e < 100000) e = e * 10 + (t[i] - '0');
        e10 += neg ? -e : e;
    }
    return e10 > 0;
}

}  // namespace

const char* json_token_name(JsonToken t) {
    switch (t) {
    case JsonToken::begin_object: return "begin_object";
    case JsonToken::end_object: return "end_object";
    case JsonToken::begin_array: return "begin_array";
    case JsonToken::end_array: return "end_array";
    case JsonToken::key: return "key";
    case JsonToken::string: return "string";
    case JsonToken::number: return "number";
    case JsonToken::true_value: return "true";
    case JsonToken::false_value: return "false";
    case JsonToken::null_value: return "null";
    case JsonToken::end: return "end";
    case JsonToken::error: return "error";
    }
    return "unknown";
}

// ---------------------------------------------------------------------------
// JsonValue

Result<std::string_view> JsonValue::decode_string(std::span<char> out) const {
    if (token != JsonToken::key && token != JsonToken::string)
        return Error(Errc::invalid_argument, "json: not a string");
    size_t n = 0;
    const char* err = unescape(text, [&](char c) {
        if (n == out.size()) return false;
        out[n++] = c;
        return true;
    });
    if (err == kStop) return Error(Errc::too_large, "json: string longer than the buffer");
    if (err) return Error(Errc::protocol, err);
    return std::string_view(out.data(), n);
}

bool JsonValue::equals(std::string_view s) const {
    if (token != JsonToken::key && token != JsonToken::string) return false;
    if (!escaped) return text == s;
    size_t n = 0;
    const char* err = unescape(text, [&](char c) {
        if (n == s.size() || s[n] != c) return false;
        ++n;
        return true;
    });
    return err == nullptr && n == s.size();
}

Result<int64_t> JsonValue::as_int64() const {
    if (token != JsonToken::number || !integer || text.empty()) return Error(Errc::invalid_argument, "json: not an integer");
    bool neg = text[0] == '-';
    uint64_t limit = neg ? uint64_t{1} << 63 : uint64_t{INT64_MAX};
    uint64_t m;
    if (!parse_magnitude(slice(text, neg ? 1 : 0, text.size()), limit, m)) return Error(Errc::too_large, "json: integer out of range");
    if (!neg) return static_cast<int64_t>(m);
    if (m == uint64_t{1} << 63) return std::numeric_limits<int64_t>::min();
    return -static_cast<int64_t>(m);
}

Result<uint64_t> JsonValue::as_uint64() const {
    if (token != JsonToken::number || !integer || text.empty()) return Error(Errc::invalid_argument, "json: not an integer");
    if (text[0] == '-') {
        if (text == "-0") return uint64_t{0};
        return Error(Errc::too_large, "json: integer out of range");
    }
    uint64_t m;
    if (!parse_magnitude(text, UINT64_MAX, m)) return Error(Errc::too_large, "json: integer out of range");
    return m;
}

Result<double> JsonValue::as_double() const {
    if (token != JsonToken::number || text.empty() || !(text[0] == '-' || is_digit(text[0])))
        return Error(Errc::invalid_argument, "json: not a number");
    double d = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), d);
    if (r.ec == std::errc::result_out_of_range && r.ptr == text.data() + text.size()) {
        if (overflows(text)) return Error(Errc::too_large, "json: number out of double range");
        return text[0] == '-' ? -0.0 : 0.0;
    }
    if (r.ec != std::errc() || r.ptr != text.data() + text.size())
        return Error(Errc::invalid_argument, "json: not a number");
    return d;
}

Result<bool> JsonValue::as_bool() const {
    if (token == JsonToken::true_value) return true;
    if (token == JsonToken::false_value) return false;
    return Error(Errc::invalid_argument, "json: not a boolean");
}

// ---------------------------------------------------------------------------
// JsonReader

JsonToken JsonReader::fail(Errc code, const char* message, size_t at) {
    err_ = Error(code, message);
    err_offset_ = at;
    cur_ = JsonValue{};
    cur_.token = JsonToken::error;
    expect_ = Expect::done;
    return JsonToken::error;
}

void JsonReader::skip_ws() {
    while (pos_ < in_.size()) {
        char c = in_[pos_];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        ++pos_;
    }
}

JsonToken JsonReader::next() {
    if (cur_.token == JsonToken::error) return JsonToken::error;
    if (cur_.token == JsonToken::end && expect_ == Expect::done) return JsonToken::end;
    skip_ws();
    tok_start_ = pos_;
    bool at_end = pos_ >= in_.size();
    char c = at_end ? '\0' : in_[pos_];
    switch (expect_) {
    case Expect::done:
        if (!at_end) return fail(Errc::protocol, "json: trailing characters after the value", pos_);
        cur_ = JsonValue{};  // token end: reported once, then sticky
        return JsonToken::end;
    case Expect::colon:
        if (at_end || c != ':') return fail(Errc::protocol, at_end ? "json: unexpected end" : "json: expected ':'", pos_);
        ++pos_;
        expect_ = Expect::value;
        return next();
    case Expect::comma_or_close: {
        if (at_end) return fail(Errc::protocol, "json: unexpected end", pos_);
        bool obj = kinds_[depth_ - 1] == kObject;
        if (c == ',') {
            ++pos_;
            expect_ = obj ? Expect::key : Expect::value;
            return next();
        }
        if (c == (obj ? '}' : ']')) return close(obj ? JsonToken::end_object : JsonToken::end_array);
        return fail(Errc::protocol, obj ? "json: expected ',' or '}'" : "json: expected ',' or ']'", pos_);
    }
    case Expect::key_or_close:
        if (!at_end && c == '}') return close(JsonToken::end_object);
        [[fallthrough]];
    case Expect::key:
        if (at_end) return fail(Errc::protocol, "json: unexpected end", pos_);
        if (c != '"') return fail(Errc::protocol, "json: expected a string key", pos_);
        return scan_string(JsonToken::key);
    case Expect::value_or_close:
        if (!at_end && c == ']') return close(JsonToken::end_array);
        [[fallthrough]];
    case Expect::value:
        if (at_end) return fail(Errc::protocol, "json: unexpected end", pos_);
        return parse_value();
    }
    return fail(Errc::protocol, "json: bad state", pos_);
}

JsonToken JsonReader::parse_value() {
    switch (in_[pos_]) {
    case '{': return open(kObject, JsonToken::begin_object);
    case '[': return open(kArray, JsonToken::begin_array);
    case '"': return scan_string(JsonToken::string);
    case 't': return scan_literal("true", JsonToken::true_value);
    case 'f': return scan_literal("false", JsonToken::false_value);
    case 'n': return scan_literal("null", JsonToken::null_value);
    default:
        if (in_[pos_] == '-' || is_digit(in_[pos_])) return scan_number();
        return fail(Errc::protocol, "json: expected a value", pos_);
    }
}

JsonToken JsonReader::open(uint8_t kind, JsonToken as) {
    if (depth_ >= kJsonMaxDepth) return fail(Errc::too_large, "json: nesting too deep", pos_);
    kinds_[depth_++] = kind;
    cur_ = JsonValue{};
    cur_.token = as;
    cur_.text = slice(in_, pos_, pos_ + 1);
    ++pos_;
    expect_ = kind == kObject ? Expect::key_or_close : Expect::value_or_close;
    return as;
}

JsonToken JsonReader::close(JsonToken as) {
    --depth_;
    cur_ = JsonValue{};
    cur_.token = as;
    cur_.text = slice(in_, pos_, pos_ + 1);
    ++pos_;
    expect_ = depth_ == 0 ? Expect::done : Expect::comma_or_close;
    return as;
}

// Makes the scalar just scanned the current token and sets what may follow it.
JsonToken JsonReader::scalar(JsonToken as, std::string_view text) {
    cur_.token = as;
    cur_.text = text;
    if (as == JsonToken::key) expect_ = Expect::colon;
    else expect_ = depth_ == 0 ? Expect::done : Expect::comma_or_close;
    return as;
}

JsonToken JsonReader::scan_string(JsonToken as) {
    size_t start = ++pos_;  // past the opening quote
    bool escaped = false;
    const auto* p = reinterpret_cast<const unsigned char*>(in_.data());
    while (true) {
        if (pos_ >= in_.size()) return fail(Errc::protocol, "json: unterminated string", in_.size());
        unsigned char c = p[pos_];
        if (c == '"') break;
        if (c < 0x20) return fail(Errc::protocol, "json: control character in string", pos_);
        if (c == '\\') {
            escaped = true;
            pos_ += 2;  // the escaped character cannot be a closing quote; unescape() checks the rest
            continue;
        }
        if (c < 0x80) { ++pos_; continue; }
        bool valid;
        size_t len = detail::utf8_sequence(p + pos_, in_.size() - pos_, valid);
        if (!valid) return fail(Errc::protocol, "json: invalid UTF-8 in string", pos_);
        pos_ += len;
    }
    std::string_view raw = slice(in_, start, pos_);
    ++pos_;  // past the closing quote
    if (escaped) {
        // Escapes only ever contain ASCII, so a control character hidden after
        // a backslash ("\<TAB>") is caught here as a bad escape.
        const char* err = unescape(raw, [](char) { return true; });
        if (err) return fail(Errc::protocol, err, start);
    }
    cur_ = JsonValue{};
    cur_.escaped = escaped;
    return scalar(as, raw);
}

JsonToken JsonReader::scan_number() {
    size_t start = pos_;
    size_t n = in_.size();
    bool integer = true;
    if (in_[pos_] == '-') ++pos_;
    if (pos_ >= n || !is_digit(in_[pos_])) return fail(Errc::protocol, "json: bad number", pos_);
    if (in_[pos_] == '0') {
        ++pos_;
        if (pos_ < n && is_digit(in_[pos_])) return fail(Errc::protocol, "json: leading zero in number", pos_);
    } else {
        while (pos_ < n && is_digit(in_[pos_])) ++pos_;
    }
    if (pos_ < n && in_[pos_] == '.') {
        integer = false;
        ++pos_;
        if (pos_ >= n || !is_digit(in_[pos_])) return fail(Errc::protocol, "json: bad number fraction", pos_);
        while (pos_ < n && is_digit(in_[pos_])) ++pos_;
    }
    if (pos_ < n && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
        integer = false;
        ++pos_;
        if (pos_ < n && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
        if (pos_ >= n || !is_digit(in_[pos_])) return fail(Errc::protocol, "json: bad number exponent", pos_);
        while (pos_ < n && is_digit(in_[pos_])) ++pos_;
    }
    cur_ = JsonValue{};
    cur_.integer = integer;
    return scalar(JsonToken::number, slice(in_, start, pos_));
}

JsonToken JsonReader::scan_literal(std::string_view word, JsonToken as) {
    size_t start = pos_;
    if (in_.size() - pos_ < word.size() || slice(in_, pos_, pos_ + word.size()) != word) return fail(Errc::protocol, "json: bad literal", pos_);
    pos_ += word.size();
    cur_ = JsonValue{};
    return scalar(as, slice(in_, start, start + word.size()));
}

Result<std::string_view> JsonReader::skip() {
    JsonToken t = cur_.token;
    if (t == JsonToken::error) return err_;
    size_t start = tok_start_;
    if (t == JsonToken::key) {
        t = next();
        if (t == JsonToken::error) return err_;
        start = tok_start_;
    }
    if (t == JsonToken::string) return slice(in_, start, pos_);  // with its quotes
    if (t != JsonToken::begin_object && t != JsonToken::begin_array) return cur_.text;
    int target = depth_ - 1;
    while (depth_ > target) {
        if (next() == JsonToken::error) return err_;
    }
    return slice(in_, start, pos_);
}

Result<JsonValue> json_find(std::string_view body, std::string_view key) {
    JsonReader r(body);
    if (r.next() != JsonToken::begin_object) {
        if (r.token() == JsonToken::error) return r.error();
        return Error(Errc::invalid_argument, "json: body is not an object");
    }
    JsonValue found;
    bool have = false;
    while (true) {
        JsonToken t = r.next();
        if (t == JsonToken::error) return r.error();
        if (t == JsonToken::end_object) break;
        bool match = !have && r.equals(key);  // t is key here
        auto v = r.skip();
        if (!v) return v.error();
        if (match) {
            found = r.value();
            if (found.token == JsonToken::end_object || found.token == JsonToken::end_array) {
                found = JsonValue{};
                found.token = r.value().token == JsonToken::end_object ? JsonToken::begin_object : JsonToken::begin_array;
                found.text = *v;
            }
            have = true;
        }
    }
    if (r.next() != JsonToken::end) return r.error();
    if (!have) return Error(Errc::not_found, "json: key not found");
    return found;
}

}  // namespace gust
