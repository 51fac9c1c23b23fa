// JsonWriter: bounded, allocation-free JSON rendering (see json.hpp).
#include <gust/json.hpp>

#include <charconv>
#include <cmath>

namespace gust {

namespace {

// Frame bits: what the container is and where inside it the writer stands.
constexpr uint8_t kObject = 1;       // else array
constexpr uint8_t kHasItems = 2;     // a comma precedes the next member/element
constexpr uint8_t kKeyPending = 4;   // object: key() written, its value not yet

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

namespace detail {

size_t utf8_sequence(const unsigned char* p, size_t n, bool& valid) {
    unsigned char c = p[0];
    valid = false;
    if (c < 0x80) { valid = true; return 1; }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }         // no overlong 3-byte forms
    else if (c >= 0xE1 && c <= 0xEC) need = 2;
    else if (c == 0xED) { need = 2; hi = 0x9F; }         // no UTF-16 surrogates
    else if (c >= 0xEE && c <= 0xEF) need = 2;
    else if (c == 0xF0) { need = 3; lo = 0x90; }         // no overlong 4-byte forms
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) { need = 3; hi = 0x8F; }         // nothing above U+10FFFF
    else return 1;                                       // 80..C1, F5..FF never start a sequence
    for (size_t i = 1; i <= need; ++i) {
        if (i >= n) return i;
        unsigned char b = p[i];
        bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) return i;
    }
    valid = true;
    return need + 1;
}

}  // namespace detail

void JsonWriter::fail(Errc code, const char* message) {
    if (err_.code == Errc::invalid_argument) return;
    if (err_.code == Errc::too_large && code == Errc::too_large) return;
    err_ = Error(code, message);
}

void JsonWriter::put(char c) {
    if (pos_ < cap_ && err_.code == Errc::ok) buf_[pos_++] = c;
    else fail(Errc::too_large, "json: output buffer too small");
    ++needed_;
}

void JsonWriter::put(std::string_view s) {
    for (char c : s) put(c);
}

// Every value passes here first: checks the position is legal and writes the comma.
bool JsonWriter::before_value() {
    if (err_.code == Errc::invalid_argument) return false;
    if (depth_ == 0) {
        if (top_done_) { fail(Errc::invalid_argument, "json: second top-level value"); return false; }
        return true;
    }
    uint8_t& f = frames_[depth_ - 1];
    if (f & kObject) {
        if (!(f & kKeyPending)) { fail(Errc::invalid_argument, "json: value in an object without a key"); return false; }
        f &= static_cast<uint8_t>(~kKeyPending);
        return true;
    }
    if (f & kHasItems) put(',');
    f |= kHasItems;
    return true;
}

void JsonWriter::after_value() {
    if (depth_ == 0) top_done_ = true;
}

void JsonWriter::begin_object() {
    if (!before_value()) return;
    if (depth_ >= kJsonMaxDepth) { fail(Errc::invalid_argument, "json: nesting too deep"); return; }
    frames_[depth_++] = kObject;
    put('{');
}

void JsonWriter::begin_array() {
    if (!before_value()) return;
    if (depth_ >= kJsonMaxDepth) { fail(Errc::invalid_argument, "json: nesting too deep"); return; }
    frames_[depth_++] = 0;
    put('[');
}

bool JsonWriter::close(uint8_t kind) {
    if (err_.code == Errc::invalid_argument) return false;
    if (depth_ == 0) { fail(Errc::invalid_argument, "json: close without open"); return false; }
    uint8_t f = frames_[depth_ - 1];
    if ((f & kObject) != kind) { fail(Errc::invalid_argument, "json: close does not match open"); return false; }
    if (f & kKeyPending) { fail(Errc::invalid_argument, "json: key without a value"); return false; }
    --depth_;
    return true;
}

void JsonWriter::end_object() {
    if (!close(kObject)) return;
    put('}');
    after_value();
}

void JsonWriter::end_array() {
    if (!close(0)) return;
    put(']');
    after_value();
}

void JsonWriter::key(std::string_view name) {
    if (err_.code == Errc::invalid_argument) return;
    if (depth_ == 0 || !(frames_[depth_ - 1] & kObject)) { fail(Errc::invalid_argument, "json: key outside an object"); return; }
    uint8_t& f = frames_[depth_ - 1];
    if (f & kKeyPending) { fail(Errc::invalid_argument, "json: two keys in a row"); return; }
    if (f & kHasItems) put(',');
    f |= kHasItems | kKeyPending;
    put_string(name);
    put(':');
}

// Quotes and escapes per RFC 8259; valid UTF-8 passes through, each maximal
// ill-formed subpart becomes one U+FFFD (the Unicode-recommended practice).
void JsonWriter::put_string(std::string_view s) {
    put('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            put(static_cast<char>(c));
            ++i;
            continue;
        }
        if (c < 0x80) {
            put('\\');
            switch (c) {
            case '"': put('"'); break;
            case '\\': put('\\'); break;
            case '\b': put('b'); break;
            case '\f': put('f'); break;
            case '\n': put('n'); break;
            case '\r': put('r'); break;
            case '\t': put('t'); break;
            default:
                put("u00");
                put(kHex[c >> 4]);
                put(kHex[c & 15]);
            }
            ++i;
            continue;
        }
        bool valid;
        size_t len = detail::utf8_sequence(p + i, n - i, valid);
        if (valid) put(std::string_view(s.data() + i, len));
        else put("\xEF\xBF\xBD");
        i += len;
    }
    put('"');
}

void JsonWriter::value(std::string_view s) {
    if (!before_value()) return;
    put_string(s);
    after_value();
}

void JsonWriter::value(const char* s) {
    if (s == nullptr) value(nullptr);
    else value(std::string_view(s));
}

void JsonWriter::value(bool b) {
    if (!before_value()) return;
    put(b ? std::string_view("true") : std::string_view("false"));
    after_value();
}

void JsonWriter::value(std::nullptr_t) {
    if (!before_value()) return;
    put("null");
    after_value();
}

void JsonWriter::value_int(int64_t v) {
    if (!before_value()) return;
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    put(std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
    after_value();
}

void JsonWriter::value_uint(uint64_t v) {
    if (!before_value()) return;
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    put(std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
    after_value();
}

// std::to_chars without a format gives the shortest text that reads back to
// the same double, in plain or exponent form, whichever is shorter; both are
// valid JSON numbers ("1e+21", "-0", "5e-324"). It ignores the locale.
void JsonWriter::value(double d) {
    if (!std::isfinite(d)) { value(nullptr); return; }
    if (!before_value()) return;
    char tmp[32];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, d);
    put(std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
    after_value();
}

void JsonWriter::raw(std::string_view fragment) {
    if (!before_value()) return;
    put(fragment);
    after_value();
}

Result<std::string_view> JsonWriter::result() const {
    if (err_.code != Errc::ok) return err_;
    if (depth_ != 0) return Error(Errc::invalid_argument, "json: unclosed container");
    if (!top_done_) return Error(Errc::invalid_argument, "json: nothing written");
    return std::string_view(buf_, pos_);
}

}  // namespace gust
