// JsonWriter and JsonReader: escaping, numbers, nesting, overflow at every
// buffer size, misuse, strict grammar tables, truncation at every byte against
// a guard page, and writer -> reader round trips.
#include <doctest/doctest.h>

#include <gust/json.hpp>

#include "guarded.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

using namespace gust;

namespace {

// Text of a single value written into a large buffer.
template <typename T>
std::string write_one(const T& v) {
    static char buf[4096];
    JsonWriter j(buf);
    j.value(v);
    auto r = j.result();
    REQUIRE(r.ok());
    return std::string(*r);
}


// Renders the whole token stream: "{ k:a n:1 [ s:x t f z ] }" and "!" on error.
std::string tokens(std::string_view doc, Error* err = nullptr, size_t* err_at = nullptr) {
    gust_test::Guarded g(doc.size());
    JsonReader r(g.place_view(doc));
    std::string out;
    for (int guard = 0; guard < 10000; ++guard) {
        JsonToken t = r.next();
        if (!out.empty()) out += ' ';
        switch (t) {
        case JsonToken::begin_object: out += '{'; break;
        case JsonToken::end_object: out += '}'; break;
        case JsonToken::begin_array: out += '['; break;
        case JsonToken::end_array: out += ']'; break;
        case JsonToken::key: out += "k:" + std::string(r.text()); break;
        case JsonToken::string: out += "s:" + std::string(r.text()); break;
        case JsonToken::number: out += "n:" + std::string(r.text()); break;
        case JsonToken::true_value: out += 't'; break;
        case JsonToken::false_value: out += 'f'; break;
        case JsonToken::null_value: out += 'z'; break;
        case JsonToken::end:
            out += '$';
            CHECK(r.next() == JsonToken::end);  // sticky
            return out;
        case JsonToken::error:
            out += '!';
            if (err) *err = r.error();
            if (err_at) *err_at = r.error_offset();
            CHECK(r.error().code != Errc::ok);
            CHECK(r.error_offset() <= doc.size());
            CHECK(r.next() == JsonToken::error);  // sticky
            return out;
        }
    }
    FAIL("token stream did not terminate");
    return out;
}

bool rejected(std::string_view doc) {
    std::string t = tokens(doc);
    return !t.empty() && t.back() == '!';
}

std::string hex_u(unsigned c) {
    char b[8];
    snprintf(b, sizeof b, "\\u%04x", c);
    return b;
}

uint64_t rng_state = 0x9E3779B97F4A7C15ull;
uint64_t rnd() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

void write_sample(JsonWriter& j) {
    j.begin_object();
    j.kv("name", "gw-\"1\"");
    j.kv("uptime", uint64_t{123456789});
    j.kv("temp", -12.5);
    j.kv("ok", true);
    j.kv("none", nullptr);
    j.key("load");
    j.begin_array();
    j.value(0.25);
    j.value(-1);
    j.begin_object();
    j.end_object();
    j.begin_array();
    j.end_array();
    j.raw("{\"x\":[1,2]}");
    j.end_array();
    j.key("nested");
    j.begin_object();
    j.kv("t\tab", "line\nbreak");
    j.end_object();
    j.end_object();
}

const char kSample[] =
    "{\"name\":\"gw-\\\"1\\\"\",\"uptime\":123456789,\"temp\":-12.5,\"ok\":true,\"none\":null,"
    "\"load\":[0.25,-1,{},[],{\"x\":[1,2]}],\"nested\":{\"t\\tab\":\"line\\nbreak\"}}";

}  // namespace

// ---------------------------------------------------------------------------
// Writer

TEST_CASE("json writer: every control character is escaped") {
    for (unsigned c = 0; c < 0x20; ++c) {
        std::string expect;
        switch (c) {
        case '\b': expect = "\\b"; break;
        case '\f': expect = "\\f"; break;
        case '\n': expect = "\\n"; break;
        case '\r': expect = "\\r"; break;
        case '\t': expect = "\\t"; break;
        default: expect = hex_u(c);
        }
        CAPTURE(c);
        // The byte itself: the first byte of `c` in memory is 0 on a big-endian board.
        const char byte = char(c);
        CHECK(write_one(std::string_view(&byte, 1)) == "\"" + expect + "\"");
    }
}

TEST_CASE("json writer: string escaping table") {
    struct Row { std::string in, out; };
    const Row rows[] = {
        {"", "\"\""},
        {"plain", "\"plain\""},
        {"\"", "\"\\\"\""},
        {"\\", "\"\\\\\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"/", "\"/\""},
        {"\x7f", "\"\x7f\""},
        {std::string("nul\0in", 6), "\"nul\\u0000in\""},
        // valid UTF-8 passes through: 2, 3 and 4 bytes
        {"\xC3\xA9", "\"\xC3\xA9\""},
        {"\xE2\x82\xAC", "\"\xE2\x82\xAC\""},
        {"\xF0\x9D\x84\x9E", "\"\xF0\x9D\x84\x9E\""},
        {"\xEF\xBF\xBF\xF4\x8F\xBF\xBF", "\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\""},
        // invalid UTF-8: each maximal ill-formed subpart becomes U+FFFD
        {"\x80", "\"\xEF\xBF\xBD\""},
        {"\xFF", "\"\xEF\xBF\xBD\""},
        {"\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},                     // overlong
        {"\xE0\x80\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},     // overlong
        {"\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},     // surrogate
        {"\xF4\x90\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},  // > U+10FFFF
        {"a\xE2\x82z", "\"a\xEF\xBF\xBDz\""},                               // truncated 3-byte
        {"\xF0\x9F\x98", "\"\xEF\xBF\xBD\""},                               // truncated at the end
        {"\xC3", "\"\xEF\xBF\xBD\""},
        {"\xC3\xA9\xA9", "\"\xC3\xA9\xEF\xBF\xBD\""},
    };
    for (const Row& r : rows) {
        CAPTURE(r.in);
        CHECK(write_one(std::string_view(r.in)) == r.out);
    }
    CHECK(write_one("literal") == "\"literal\"");
    CHECK(write_one(static_cast<const char*>(nullptr)) == "null");
}

TEST_CASE("json writer: literals and integers are exact") {
    CHECK(write_one(true) == "true");
    CHECK(write_one(false) == "false");
    CHECK(write_one(nullptr) == "null");
    CHECK(write_one(0) == "0");
    CHECK(write_one(-1) == "-1");
    CHECK(write_one(std::numeric_limits<int64_t>::min()) == "-9223372036854775808");
    CHECK(write_one(std::numeric_limits<int64_t>::max()) == "9223372036854775807");
    CHECK(write_one(std::numeric_limits<uint64_t>::max()) == "18446744073709551615");
    CHECK(write_one(static_cast<int8_t>(-128)) == "-128");
    CHECK(write_one(static_cast<uint16_t>(65535)) == "65535");
    CHECK(write_one(static_cast<size_t>(4000000000u)) == "4000000000");
    CHECK(write_one(std::numeric_limits<int32_t>::min()) == "-2147483648");
    CHECK(write_one(static_cast<unsigned long long>(1) << 63) == "9223372036854775808");
}

TEST_CASE("json writer: doubles round-trip exactly, non-finite as null") {
    CHECK(write_one(0.0) == "0");
    CHECK(write_one(-0.0) == "-0");
    CHECK(write_one(0.1) == "0.1");
    CHECK(write_one(1.5f) == "1.5");
    CHECK(write_one(std::nan("")) == "null");
    CHECK(write_one(std::numeric_limits<double>::infinity()) == "null");
    CHECK(write_one(-std::numeric_limits<double>::infinity()) == "null");
    const double fixed[] = {1e300, -1e-300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                            0.30000000000000004, 123456789.123456789, 1e21, 1e-7, 9007199254740993.0, 3.141592653589793};
    int checked = 0;
    auto check = [&](double d) {
        std::string s = write_one(d);
        double back = strtod(s.c_str(), nullptr);
        CAPTURE(s);
        CHECK(memcmp(&back, &d, sizeof d) == 0);
        CHECK(s.size() <= 24);
        ++checked;
    };
    for (double d : fixed) check(d);
    for (int i = 0; i < 20000; ++i) {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!std::isfinite(d)) continue;
        check(d);
    }
    CHECK(checked > 19000);
}

TEST_CASE("json writer: nesting and commas") {
    char buf[512];
    JsonWriter j(buf);
    write_sample(j);
    auto r = j.result();
    REQUIRE(r.ok());
    CHECK(*r == kSample);
    CHECK(j.size() == strlen(kSample));
    CHECK(j.written() == strlen(kSample));

    char b2[64];
    JsonWriter a(b2);
    a.begin_array();
    a.begin_array();
    a.begin_array();
    a.end_array();
    a.value(1);
    a.end_array();
    a.value("x");
    a.end_array();
    CHECK(*a.result() == "[[[],1],\"x\"]");

    auto w = write_json_object(b2, [](JsonWriter& o) { o.kv("a", 1); o.kv("b", "two"); });
    REQUIRE(w.ok());
    CHECK(*w == "{\"a\":1,\"b\":\"two\"}");

    JsonWriter s(b2);
    s.value(42);  // a scalar is a document too
    CHECK(*s.result() == "42");
}

TEST_CASE("json writer: overflow at every buffer size never writes past the span") {
    const size_t full = strlen(kSample);
    const char canary[] = "CANARY!";
    for (size_t n = 0; n <= full; ++n) {
        std::string mem(n + sizeof canary, '\xAA');
        memcpy(&mem[n], canary, sizeof canary);
        JsonWriter j(std::span<char>(mem.data(), n));
        write_sample(j);
        CAPTURE(n);
        CHECK(memcmp(&mem[n], canary, sizeof canary) == 0);
        CHECK(j.size() == full);
        CHECK(j.written() <= n);
        auto r = j.result();
        if (n < full) {
            CHECK(!r.ok());
            CHECK(r.error().code == Errc::too_large);
            CHECK(!j.ok());
        } else {
            REQUIRE(r.ok());
            CHECK(*r == kSample);
        }
    }
    // Also for a long escaped string and a number straddling the end.
    for (size_t n = 0; n < 40; ++n) {
        std::string mem(n + 4, '#');
        JsonWriter j(std::span<char>(mem.data(), n));
        j.begin_array();
        j.value("\x01\xC3\xA9\xFF\"");
        j.value(std::numeric_limits<int64_t>::min());
        j.value(0.1);
        j.end_array();
        CHECK(mem.substr(n) == "####");
        CHECK(j.size() == strlen("[\"\\u0001\xC3\xA9\xEF\xBF\xBD\\\"\",-9223372036854775808,0.1]"));
    }
}

TEST_CASE("json writer: misuse is invalid_argument, not UB") {
    char buf[256];
    auto misuse = [&](auto&& body) {
        JsonWriter j(buf);
        body(j);
        auto r = j.result();
        return !r.ok() && r.error().code == Errc::invalid_argument;
    };
    CHECK(misuse([](JsonWriter& j) { j.end_object(); }));
    CHECK(misuse([](JsonWriter& j) { j.end_array(); }));
    CHECK(misuse([](JsonWriter& j) { j.begin_object(); j.value(1); j.end_object(); }));
    CHECK(misuse([](JsonWriter& j) { j.begin_array(); j.key("k"); j.end_array(); }));
    CHECK(misuse([](JsonWriter& j) { j.key("k"); }));
    CHECK(misuse([](JsonWriter& j) { j.begin_object(); j.key("a"); j.key("b"); }));
    CHECK(misuse([](JsonWriter& j) { j.begin_object(); j.key("a"); j.end_object(); }));
    CHECK(misuse([](JsonWriter& j) { j.begin_object(); j.end_array(); }));
    CHECK(misuse([](JsonWriter& j) { j.begin_array(); j.end_object(); }));
    CHECK(misuse([](JsonWriter& j) { j.begin_array(); }));
    CHECK(misuse([](JsonWriter&) {}));
    CHECK(misuse([](JsonWriter& j) { j.value(1); j.value(2); }));
    CHECK(misuse([](JsonWriter& j) { j.begin_object(); j.end_object(); j.end_object(); }));
    CHECK(misuse([](JsonWriter& j) {
        for (int i = 0; i <= kJsonMaxDepth; ++i) j.begin_array();
        for (int i = 0; i <= kJsonMaxDepth; ++i) j.end_array();
    }));
    // Exactly the depth limit is fine.
    JsonWriter d(buf);
    for (int i = 0; i < kJsonMaxDepth; ++i) d.begin_array();
    for (int i = 0; i < kJsonMaxDepth; ++i) d.end_array();
    CHECK(d.result().ok());
    // Misuse outranks overflow: a bigger buffer would not help.
    char tiny[2];
    JsonWriter t(tiny);
    t.begin_array();
    t.value("long enough to overflow");
    CHECK(t.result().error().code == Errc::too_large);
    t.end_object();
    CHECK(t.result().error().code == Errc::invalid_argument);
    // After misuse nothing more is written.
    JsonWriter m(buf);
    m.begin_object();
    m.value(1);
    size_t at = m.written();
    m.kv("a", 2);
    m.end_object();
    CHECK(m.written() == at);
    CHECK(m.result().error().code == Errc::invalid_argument);
}

// ---------------------------------------------------------------------------
// Reader

TEST_CASE("json reader: valid documents give the expected tokens") {
    struct Row { const char* doc; const char* toks; };
    const Row rows[] = {
        {"0", "n:0 $"},
        {"-0", "n:-0 $"},
        {" \t\r\n1 \n", "n:1 $"},
        {"-12.5e+3", "n:-12.5e+3 $"},
        {"1E-2", "n:1E-2 $"},
        {"0.0", "n:0.0 $"},
        {"true", "t $"},
        {"false", "f $"},
        {"null", "z $"},
        {"\"\"", "s: $"},
        {"\"a\\\"b\"", "s:a\\\"b $"},
        {"\"\\u00e9\\ud834\\udd1e\\/\"", "s:\\u00e9\\ud834\\udd1e\\/ $"},
        {"\"\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E\x7f\"", "s:\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E\x7f $"},
        {"{}", "{ } $"},
        {"[]", "[ ] $"},
        {" { } ", "{ } $"},
        {"[1,2,3]", "[ n:1 n:2 n:3 ] $"},
        {"{\"a\":1}", "{ k:a n:1 } $"},
        {"{\"a\" : [ true , false , null ] , \"b\" : { \"c\" : \"d\" } }", "{ k:a [ t f z ] k:b { k:c s:d } } $"},
        {"[[],[[]],{}]", "[ [ ] [ [ ] ] { } ] $"},
        {"{\"\":\"\"}", "{ k: s: } $"},
        {"{\"a\":1,\"a\":2}", "{ k:a n:1 k:a n:2 } $"},
        {"[-1,0.5,1e9,123456789012345678901234567890]", "[ n:-1 n:0.5 n:1e9 n:123456789012345678901234567890 ] $"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.doc);
        CHECK(tokens(r.doc) == r.toks);
    }
}

TEST_CASE("json reader: invalid documents are rejected") {
    const char* bad[] = {
        "", " ", "{", "}", "[", "]", "[1,]", "{\"a\":1,}", "[,1]", "{,}", "[1 2]", "{\"a\" 1}", "{\"a\":}",
        "{1:2}", "{'a':1}", "['a']", "{a:1}", "[01]", "-01", "00", "1.", ".5", "-", "+1", "1e", "1e+", "0x10",
        "1.e5", "NaN", "Infinity", "-Infinity", "tru", "truee", "nul", "True", "[true false]",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\'\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\udbff\\udbff\"", "\"a\tb\"", "\"a\nb\"",
        "\"\x01\"", "\"\\\x09\"", "1 2", "{} {}", "[] x", "{}x", "null,", "/*c*/1", "1 // c", "[1]]",
        "{\"a\":1}}", "\"\x80\"", "\"\xC0\xAF\"", "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\"", "\"\xC3\"",
        "[\"a\",", "{\"a\"", "{\"a\":", "\xEF\xBB\xBF{}", "[1,,2]", "{\"a\":1 \"b\":2}", "[\"a\":1]",
        "{\"a\",1}", "\x00",
    };
    for (const char* d : bad) {
        CAPTURE(d);
        CHECK(rejected(d));
    }
    CHECK(rejected(std::string_view("1\0", 2)));
    CHECK(rejected(std::string_view("\"a\0\"", 4)));

    Error e;
    size_t at = 0;
    CHECK(tokens("[1,]", &e, &at) == "[ n:1 !");
    CHECK(e.code == Errc::protocol);
    CHECK(at == 3);
    CHECK(tokens("[01]", &e, &at) == "[ !");
    CHECK(at == 2);
    CHECK(std::string(e.message).find("leading zero") != std::string::npos);
    CHECK(tokens("{\"a\":1} x", &e, &at) == "{ k:a n:1 } !");
    CHECK(at == 8);
    CHECK(tokens("\"a\x01\"", &e, &at) == "!");
    CHECK(at == 2);
}

TEST_CASE("json reader: nesting depth limit") {
    std::string ok(kJsonMaxDepth, '[');
    ok += std::string(kJsonMaxDepth, ']');
    CHECK(!rejected(ok));
    std::string deep(kJsonMaxDepth + 1, '[');
    deep += std::string(kJsonMaxDepth + 1, ']');
    Error e;
    size_t at = 0;
    CHECK(rejected(deep));
    tokens(deep, &e, &at);
    CHECK(e.code == Errc::too_large);
    CHECK(at == static_cast<size_t>(kJsonMaxDepth));
    std::string deep_obj;
    for (int i = 0; i <= kJsonMaxDepth; ++i) deep_obj += "{\"a\":";
    CHECK(rejected(deep_obj + "1" + std::string(kJsonMaxDepth + 1, '}')));
    // A hostile body of a million brackets costs nothing but the scan.
    std::string huge(1000000, '[');
    CHECK(rejected(huge));
}

TEST_CASE("json reader: truncation at every byte is an error, never a crash") {
    const char* docs[] = {
        kSample,
        "{\"a\":[1,-2.5e10,true,false,null,\"x\\u00e9\\ud834\\udd1e\"],\"b\":{\"c\":{}}}",
        "[\"\xF0\x9D\x84\x9E\",{\"\":[]},0,-0.0,1E+2]",
        "[[[[\"deep\"]]]]",
    };
    for (const char* doc : docs) {
        std::string_view d(doc);
        REQUIRE(!rejected(d));
        for (size_t n = 0; n < d.size(); ++n) {
            CAPTURE(n);
            CHECK(rejected(d.substr(0, n)));
        }
    }
}

TEST_CASE("json reader: mutated documents never crash") {
    std::string base = kSample;
    for (int i = 0; i < 20000; ++i) {
        std::string m = base;
        int edits = 1 + static_cast<int>(rnd() % 4);
        for (int k = 0; k < edits; ++k) {
            size_t at = rnd() % m.size();
            switch (rnd() % 3) {
            case 0: m[at] = static_cast<char>(rnd()); break;
            case 1: m.erase(at, 1); break;
            default: m.insert(at, 1, "{}[],:\"\\0-e."[rnd() % 12]); break;
            }
            if (m.empty()) m = "x";
        }
        gust_test::Guarded g(m.size());
        JsonReader r(g.place_view(m));
        int n = 0;
        for (JsonToken t = r.next(); t != JsonToken::end && t != JsonToken::error; t = r.next()) {
            if (t == JsonToken::key || t == JsonToken::string) {
                char out[256];
                CHECK(r.decode_string(out).ok());  // scanned strings always decode
            }
            REQUIRE(++n < 1000);
        }
    }
}

TEST_CASE("json reader: decode_string") {
    auto decode = [](std::string_view doc, size_t cap, Errc* code = nullptr) {
        JsonReader r(doc);
        JsonToken t = r.next();
        REQUIRE(t == JsonToken::string);
        std::string buf(cap + 1, '#');
        auto d = r.decode_string(std::span<char>(buf.data(), cap));
        CHECK(buf[cap] == '#');
        if (code) *code = d.error().code;
        return d.ok() ? std::string(*d) : std::string("<error>");
    };
    CHECK(decode("\"plain\"", 5) == "plain");
    CHECK(decode("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 8) == "\"\\/\b\f\n\r\t");
    CHECK(decode("\"\\u0041\\u00e9\\u20AC\"", 6) == "A\xC3\xA9\xE2\x82\xAC");
    CHECK(decode("\"\\ud834\\udd1e\"", 4) == "\xF0\x9D\x84\x9E");
    CHECK(decode("\"\\uDBFF\\uDFFF\"", 4) == "\xF4\x8F\xBF\xBF");
    CHECK(decode("\"\\u0000\"", 1) == std::string(1, '\0'));
    Errc code{};
    CHECK(decode("\"\\ud834\\udd1e\"", 3, &code) == "<error>");
    CHECK(code == Errc::too_large);
    CHECK(decode("\"hello\"", 0, &code) == "<error>");
    CHECK(code == Errc::too_large);
    CHECK(decode("\"\"", 0) == "");

    // A hand-made value with a bad escape reports protocol.
    JsonValue v;
    v.token = JsonToken::string;
    v.text = "\\ud800";
    v.escaped = true;
    char out[8];
    CHECK(v.decode_string(out).error().code == Errc::protocol);
    v.text = "\\q";
    CHECK(v.decode_string(out).error().code == Errc::protocol);
    v.token = JsonToken::number;
    CHECK(v.decode_string(out).error().code == Errc::invalid_argument);

    JsonReader r("{\"n\\u0061me\":\"x\",\"name2\":1}");
    REQUIRE(r.next() == JsonToken::begin_object);
    REQUIRE(r.next() == JsonToken::key);
    CHECK(r.equals("name"));
    CHECK(!r.equals("nam"));
    CHECK(!r.equals("names"));
    REQUIRE(r.next() == JsonToken::string);
    REQUIRE(r.next() == JsonToken::key);
    CHECK(r.equals("name2"));
    CHECK(!r.equals("name"));
}

TEST_CASE("json reader: number conversions") {
    auto num = [](const char* doc) {
        JsonValue v;
        v.token = JsonToken::number;
        JsonReader r(doc);
        REQUIRE(r.next() == JsonToken::number);
        return r.value();
    };
    CHECK(*num("0").as_int64() == 0);
    CHECK(*num("-0").as_int64() == 0);
    CHECK(*num("-9223372036854775808").as_int64() == std::numeric_limits<int64_t>::min());
    CHECK(*num("9223372036854775807").as_int64() == std::numeric_limits<int64_t>::max());
    CHECK(num("9223372036854775808").as_int64().error().code == Errc::too_large);
    CHECK(num("-9223372036854775809").as_int64().error().code == Errc::too_large);
    CHECK(num("99999999999999999999999").as_int64().error().code == Errc::too_large);
    CHECK(num("1.0").as_int64().error().code == Errc::invalid_argument);
    CHECK(num("1e2").as_int64().error().code == Errc::invalid_argument);
    CHECK(*num("18446744073709551615").as_uint64() == std::numeric_limits<uint64_t>::max());
    CHECK(num("18446744073709551616").as_uint64().error().code == Errc::too_large);
    CHECK(num("-1").as_uint64().error().code == Errc::too_large);
    CHECK(*num("-0").as_uint64() == 0);
    CHECK(*num("4294967296").as_uint64() == 4294967296ull);  // past 32-bit size_t

    CHECK(*num("0.1").as_double() == 0.1);
    CHECK(*num("-12.5e+3").as_double() == -12500.0);
    CHECK(*num("1E-2").as_double() == 0.01);
    CHECK(*num("123").as_double() == 123.0);
    CHECK(*num("1.7976931348623157e308").as_double() == 1.7976931348623157e308);
    CHECK(num("1e309").as_double().error().code == Errc::too_large);
    CHECK(num("-1e400").as_double().error().code == Errc::too_large);
    CHECK(*num("123456789e300").as_double() == 123456789e300);
    CHECK(num("123456789e301").as_double().error().code == Errc::too_large);
    double tiny = *num("1e-400").as_double();
    CHECK(tiny == 0.0);
    CHECK(!std::signbit(tiny));
    double ntiny = *num("-0.0000001e-400").as_double();
    CHECK(ntiny == 0.0);
    CHECK(std::signbit(ntiny));
    CHECK(*num("5e-324").as_double() == 5e-324);

    JsonReader b("[true,false,null,\"1\"]");
    b.next();
    b.next();
    CHECK(*b.as_bool() == true);
    b.next();
    CHECK(*b.as_bool() == false);
    b.next();
    CHECK(b.as_bool().error().code == Errc::invalid_argument);
    CHECK(b.as_int64().error().code == Errc::invalid_argument);
    b.next();
    CHECK(b.as_double().error().code == Errc::invalid_argument);
}

TEST_CASE("json reader: skip returns the raw value and leaves the reader after it") {
    const char* doc = "{\"a\":{\"x\":[1,{\"y\":2}]},\"b\":\"s\\\"q\",\"c\":[],\"d\":7,\"e\":[[1],[2]]}";
    JsonReader r(doc);
    REQUIRE(r.next() == JsonToken::begin_object);
    REQUIRE(r.next() == JsonToken::key);
    CHECK(*r.skip() == "{\"x\":[1,{\"y\":2}]}");  // a key: skips its value
    CHECK(r.token() == JsonToken::end_object);
    CHECK(r.depth() == 1);
    REQUIRE(r.next() == JsonToken::key);
    CHECK(*r.skip() == "\"s\\\"q\"");
    CHECK(r.token() == JsonToken::string);
    REQUIRE(r.next() == JsonToken::key);
    REQUIRE(r.next() == JsonToken::begin_array);
    CHECK(*r.skip() == "[]");
    REQUIRE(r.next() == JsonToken::key);
    REQUIRE(r.next() == JsonToken::number);
    CHECK(*r.skip() == "7");  // a scalar stays
    CHECK(r.token() == JsonToken::number);
    REQUIRE(r.next() == JsonToken::key);
    CHECK(r.equals("e"));
    REQUIRE(r.next() == JsonToken::begin_array);
    REQUIRE(r.next() == JsonToken::begin_array);
    CHECK(*r.skip() == "[1]");
    REQUIRE(r.next() == JsonToken::begin_array);
    REQUIRE(r.next() == JsonToken::number);
    REQUIRE(r.next() == JsonToken::end_array);
    REQUIRE(r.next() == JsonToken::end_array);
    REQUIRE(r.next() == JsonToken::end_object);
    CHECK(r.next() == JsonToken::end);

    JsonReader bad("[1,[2,]]");
    bad.next();
    bad.next();
    bad.next();
    auto s = bad.skip();
    CHECK(!s.ok());
    CHECK(s.error().code == Errc::protocol);
    CHECK(bad.token() == JsonToken::error);
}

TEST_CASE("json_find: a top-level key's value") {
    const char* body = " {\"name\":\"gw\\u002d1\",\"n\":-5,\"cfg\":{\"a\":[1,2]},\"list\":[],\"flag\":false,"
                       "\"inner\":{\"name\":\"no\"}} ";
    auto v = json_find(body, "name");
    REQUIRE(v.ok());
    CHECK(v->token == JsonToken::string);
    char out[16];
    CHECK(*v->decode_string(out) == "gw-1");
    CHECK(*json_find(body, "n")->as_int64() == -5);
    auto cfg = json_find(body, "cfg");
    REQUIRE(cfg.ok());
    CHECK(cfg->token == JsonToken::begin_object);
    CHECK(cfg->text == "{\"a\":[1,2]}");
    CHECK(json_find(cfg->text, "a")->text == "[1,2]");
    CHECK(json_find(body, "list")->token == JsonToken::begin_array);
    CHECK(*json_find(body, "flag")->as_bool() == false);
    CHECK(json_find(body, "missing").error().code == Errc::not_found);
    CHECK(json_find(body, "a").error().code == Errc::not_found);  // only top-level keys
    CHECK(json_find("[1]", "a").error().code == Errc::invalid_argument);
    CHECK(json_find("{\"a\":1,}", "a").error().code == Errc::protocol);
    CHECK(json_find("{\"a\":1} x", "a").error().code == Errc::protocol);
    CHECK(json_find("", "a").error().code == Errc::protocol);
    CHECK(*json_find("{\"a\":1,\"a\":2}", "a")->as_int64() == 1);  // first wins
    CHECK(*json_find("{\"\\u0061\":3}", "a")->as_int64() == 3);    // escaped key
}

TEST_CASE("json: writer -> reader round trips") {
    // Random byte strings: the writer's output is always valid JSON, and
    // decodes back to the input whenever the input was valid UTF-8.
    for (int i = 0; i < 5000; ++i) {
        std::string s(rnd() % 24, '\0');
        for (char& c : s) {
            uint64_t k = rnd() % 8;
            c = k < 3 ? static_cast<char>(rnd() % 0x20) : k < 5 ? static_cast<char>(0x20 + rnd() % 0x60) : static_cast<char>(rnd());
        }
        char buf[256];
        JsonWriter j(buf);
        j.begin_object();
        j.kv(s, s);
        j.end_object();
        auto text = j.result();
        REQUIRE(text.ok());
        JsonReader r(*text);
        REQUIRE(r.next() == JsonToken::begin_object);
        REQUIRE(r.next() == JsonToken::key);
        char k1[128], v1[128];
        auto k = r.decode_string(k1);
        REQUIRE(k.ok());
        REQUIRE(r.next() == JsonToken::string);
        auto v = r.decode_string(v1);
        REQUIRE(v.ok());
        CHECK(*k == *v);
        REQUIRE(r.next() == JsonToken::end_object);
        REQUIRE(r.next() == JsonToken::end);
        bool valid_utf8 = true;
        for (size_t p = 0; p < s.size();) {
            bool ok;
            p += detail::utf8_sequence(reinterpret_cast<const unsigned char*>(s.data()) + p, s.size() - p, ok);
            valid_utf8 = valid_utf8 && ok;
        }
        if (valid_utf8) CHECK(*v == s);
    }

    // Numbers come back exactly.
    for (int i = 0; i < 5000; ++i) {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!std::isfinite(d)) continue;
        int64_t si = static_cast<int64_t>(rnd());
        uint64_t ui = rnd();
        char buf[128];
        JsonWriter j(buf);
        j.begin_array();
        j.value(d);
        j.value(si);
        j.value(ui);
        j.end_array();
        JsonReader r(*j.result());
        REQUIRE(r.next() == JsonToken::begin_array);
        REQUIRE(r.next() == JsonToken::number);
        double back = *r.as_double();
        CHECK(memcmp(&back, &d, sizeof d) == 0);
        REQUIRE(r.next() == JsonToken::number);
        CHECK(*r.as_int64() == si);
        REQUIRE(r.next() == JsonToken::number);
        CHECK(*r.as_uint64() == ui);
    }

    // The sample document reads back token by token, and a skipped subtree
    // goes back through raw() unchanged.
    CHECK(tokens(kSample) ==
          "{ k:name s:gw-\\\"1\\\" k:uptime n:123456789 k:temp n:-12.5 k:ok t k:none z k:load "
          "[ n:0.25 n:-1 { } [ ] { k:x [ n:1 n:2 ] } ] k:nested { k:t\\tab s:line\\nbreak } } $");
    auto load = json_find(kSample, "load");
    REQUIRE(load.ok());
    char buf[128];
    JsonWriter j(buf);
    j.begin_object();
    j.kv_raw("load", load->text);
    j.end_object();
    CHECK(*j.result() == "{\"load\":[0.25,-1,{},[],{\"x\":[1,2]}]}");
}
