// JSON without a heap: JsonWriter renders into a caller-provided buffer and
// JsonReader pulls tokens out of a caller-owned body (RFC 8259, strict).
//
// Writer:
//     char buf[512];
//     JsonWriter j(buf);
//     j.begin_object();
//     j.kv("uptime", 1234); j.kv("name", "gw-1");
//     j.key("load"); j.begin_array(); j.value(0.25); j.end_array();
//     j.end_object();
//     Result<std::string_view> text = j.result();   // or too_large: j.size() says how much is needed
//
// Reader:
//     JsonReader r(body);
//     for (JsonToken t = r.next(); t != JsonToken::end; t = r.next()) {
//         if (t == JsonToken::error) return r.error();   // r.error_offset() says where
//         ...
//     }
//     auto name = json_find(body, "name");            // one top-level key, the common case
//
// Numbers are converted with std::to_chars / std::from_chars: exact, shortest
// round-trip, and independent of the C locale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include <gust/result.hpp>

// Deepest nesting of arrays and objects the writer and the reader accept.
#ifndef GUST_JSON_MAX_DEPTH
#define GUST_JSON_MAX_DEPTH 32
#endif

namespace gust {

inline constexpr int kJsonMaxDepth = GUST_JSON_MAX_DEPTH;
static_assert(kJsonMaxDepth > 0 && kJsonMaxDepth <= 255, "GUST_JSON_MAX_DEPTH must be 1..255");

// ---------------------------------------------------------------------------
// JsonWriter

/* Errors are sticky: after the first one every call is ignored (except that
 * an overflow keeps counting bytes for size(), so a caller can learn the
 * buffer size it needs). Misuse (invalid_argument) outranks overflow
 * (too_large), because a bigger buffer would not fix it. The writer never
 * writes outside its span. */
class JsonWriter {
public:
    // Writes into `out`; the text stays in `out`, which the caller owns.
    explicit JsonWriter(std::span<char> out) : buf_(out.data()), cap_(out.size()) {}
    JsonWriter(const JsonWriter&) = delete;
    JsonWriter& operator=(const JsonWriter&) = delete;

    // Opens an object (as a value: at top level, in an array, or after key()).
    void begin_object();
    // Closes the innermost object; invalid_argument if it is not an object or a key is dangling.
    void end_object();
    // Opens an array (as a value).
    void begin_array();
    // Closes the innermost array; invalid_argument if it is not an array.
    void end_array();
    // Writes an object member name (escaped); only directly inside an object, once per value.
    void key(std::string_view name);

    // Writes a string value, escaped; invalid UTF-8 bytes become U+FFFD.
    void value(std::string_view s);
    // Writes a NUL-terminated string value; a null pointer writes null.
    void value(const char* s);
    // Writes true or false.
    void value(bool b);
    // Writes null.
    void value(std::nullptr_t);
    // Writes a double in the shortest form that parses back exactly; NaN and infinities as null.
    void value(double d);
    // Writes any integer exactly (char is excluded: write a string or cast it).
    template <typename T>
        requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>)
    void value(T v) {
        if constexpr (std::is_signed_v<T>) value_int(static_cast<int64_t>(v));
        else value_uint(static_cast<uint64_t>(v));
    }
    // Writes `fragment` verbatim as one value; the caller guarantees it is valid JSON.
    void raw(std::string_view fragment);

    // key(k) then value(v), for every type value() accepts.
    template <typename T>
    void kv(std::string_view k, const T& v) { key(k); value(v); }
    // key(k) then value(nullptr).
    void kv(std::string_view k, std::nullptr_t) { key(k); value(nullptr); }
    // key(k) then raw(fragment).
    void kv_raw(std::string_view k, std::string_view fragment) { key(k); raw(fragment); }

    // The complete text (a view into the caller's buffer), or the first error:
    // too_large on overflow, invalid_argument on misuse or an unclosed container.
    Result<std::string_view> result() const;
    // Bytes the text needs so far, counted even past the end of the buffer.
    size_t size() const { return needed_; }
    // Bytes actually written into the buffer (at most its size).
    size_t written() const { return pos_; }
    // True until the first error.
    bool ok() const { return err_.code == Errc::ok; }
    // Open containers.
    int depth() const { return depth_; }

private:
    void value_int(int64_t v);
    void value_uint(uint64_t v);
    bool before_value();
    void after_value();
    bool close(uint8_t kind);
    void fail(Errc code, const char* message);
    void put(char c);
    void put(std::string_view s);
    void put_string(std::string_view s);

    char* buf_;
    size_t cap_;
    size_t pos_ = 0;
    size_t needed_ = 0;
    Error err_;
    int depth_ = 0;
    bool top_done_ = false;
    uint8_t frames_[kJsonMaxDepth] = {};
};

// Builds a whole top-level object in `out`: begin_object(), fill(writer), end_object(), result().
// The view lives as long as `out`.
template <typename F>
Result<std::string_view> write_json_object(std::span<char> out, F&& fill) {
    JsonWriter j(out);
    j.begin_object();
    fill(j);
    j.end_object();
    return j.result();
}

// ---------------------------------------------------------------------------
// JsonReader

// What JsonReader::next() found.
enum class JsonToken : uint8_t {
    begin_object,
    end_object,
    begin_array,
    end_array,
    key,          // an object member name; the member's value follows
    string,
    number,
    true_value,
    false_value,
    null_value,
    end,          // the document is complete and nothing but whitespace follows
    error,        // the document is malformed; see JsonReader::error()
};

// Name of a token ("begin_object", "key", ...), static storage.
const char* json_token_name(JsonToken t);

// One token's text. Views point into the parsed body and live as long as it.
struct JsonValue {
    JsonToken token = JsonToken::end;
    // key/string: the raw escaped text between the quotes; number, true, false,
    // null: their text; begin_object/begin_array from json_find: the whole
    // subtree as a JSON fragment.
    std::string_view text;
    bool escaped = false;  // key/string: text contains backslash escapes
    bool integer = false;  // number: no fraction and no exponent

    // Unescapes a key/string into `out` (UTF-8) and returns a view into `out`;
    // too_large if `out` is short, protocol on a bad escape or lone surrogate.
    Result<std::string_view> decode_string(std::span<char> out) const;
    // True if this is a key/string whose unescaped text equals `s`.
    bool equals(std::string_view s) const;
    // An integer number as int64; invalid_argument if not an integer, too_large if out of range.
    Result<int64_t> as_int64() const;
    // A non-negative integer number as uint64; invalid_argument if not, too_large if out of range.
    Result<uint64_t> as_uint64() const;
    // Any number as the nearest double; too_large if beyond ±DBL_MAX (tiny values become ±0).
    Result<double> as_double() const;
    // true/false as a bool; invalid_argument for any other token.
    Result<bool> as_bool() const;
};

/* The reader keeps a fixed stack of kJsonMaxDepth bytes and never allocates.
 * Once next() returns error or end it keeps returning it. Syntax errors are
 * Errc::protocol (the body is malformed); nesting past the depth limit is
 * Errc::too_large. Strings are checked in full as they are scanned (escapes,
 * surrogate pairs, control characters, UTF-8), so decoding a string the
 * reader returned fails only if the output buffer is short. */
class JsonReader {
public:
    // Parses `text`, which the caller owns and keeps alive while views are used.
    explicit JsonReader(std::string_view text) : in_(text) {}

    // Advances to the next token and returns it.
    JsonToken next();
    // The current token (the last one next() returned; end before the first call).
    JsonToken token() const { return cur_.token; }
    // The current token's text and flags; views into the body.
    const JsonValue& value() const { return cur_; }
    // The current token's text (see JsonValue::text); a view into the body.
    std::string_view text() const { return cur_.text; }
    // Unescapes the current key/string into `out`; see JsonValue::decode_string.
    Result<std::string_view> decode_string(std::span<char> out) const { return cur_.decode_string(out); }
    // True if the current token is a key/string equal to `s` once unescaped.
    bool equals(std::string_view s) const { return cur_.equals(s); }
    // The current number as int64; see JsonValue::as_int64.
    Result<int64_t> as_int64() const { return cur_.as_int64(); }
    // The current number as uint64; see JsonValue::as_uint64.
    Result<uint64_t> as_uint64() const { return cur_.as_uint64(); }
    // The current number as double; see JsonValue::as_double.
    Result<double> as_double() const { return cur_.as_double(); }
    // The current true/false as bool; see JsonValue::as_bool.
    Result<bool> as_bool() const { return cur_.as_bool(); }

    // Skips the current value: a begin_* token is read through its matching
    // end_*, a key through its value, a scalar stays. Afterwards the current
    // token is the value's last token. Returns the value's raw JSON text (a
    // view into the body, usable with JsonWriter::raw) or the parse error.
    Result<std::string_view> skip();

    // Open containers around the current position.
    int depth() const { return depth_; }
    // Byte offset of the current token's first character in the body.
    size_t offset() const { return tok_start_; }
    // The parse error (Errc::ok unless token() is error); the message is static.
    Error error() const { return err_; }
    // Byte offset in the body where the error was detected.
    size_t error_offset() const { return err_offset_; }

private:
    enum class Expect : uint8_t { value, value_or_close, key, key_or_close, colon, comma_or_close, done };
    JsonToken fail(Errc code, const char* message, size_t at);
    JsonToken parse_value();
    JsonToken scan_string(JsonToken as);
    JsonToken scan_number();
    JsonToken scan_literal(std::string_view word, JsonToken as);
    JsonToken open(uint8_t kind, JsonToken as);
    JsonToken close(JsonToken as);
    JsonToken scalar(JsonToken as, std::string_view text);
    void skip_ws();

    std::string_view in_;
    size_t pos_ = 0;
    size_t tok_start_ = 0;
    JsonValue cur_;
    Error err_;
    size_t err_offset_ = 0;
    int depth_ = 0;
    Expect expect_ = Expect::value;
    uint8_t kinds_[kJsonMaxDepth] = {};
};

// Finds `key` among the members of the top-level object in `body` (first match
// wins) and returns its value, views into `body`; a container value comes back
// as its whole JSON fragment. The whole body is checked: protocol/too_large on
// malformed input, invalid_argument if the top value is not an object,
// not_found if the key is absent.
Result<JsonValue> json_find(std::string_view body, std::string_view key);

namespace detail {
// Length of the UTF-8 sequence at p[0..n) (n >= 1): sets `valid`, and returns
// the sequence length if valid, else the length of the maximal ill-formed subpart (>= 1).
size_t utf8_sequence(const unsigned char* p, size_t n, bool& valid);
}  // namespace detail

}  // namespace gust
