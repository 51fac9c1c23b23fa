// libFuzzer harness for gust::JsonReader (and JsonWriter on the way back).
// Invariants: the token stream is bounded by the input (at most one token per
// byte, every view and offset inside it), depth stays within kJsonMaxDepth, and
// a document that parses re-emits through JsonWriter (strings via
// decode_string, numbers as their raw text) into text that parses again to the
// same token sequence.
#include <gust/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"

using namespace gust;

namespace {

struct Tok {
    JsonToken token;
    std::string text;  // decoded for key/string, raw for number
    bool operator==(const Tok& o) const { return token == o.token && text == o.text; }
};

// Reads `in` fully; returns true when it is a complete valid document.
bool read_all(std::string_view in, std::vector<Tok>& out) {
    JsonReader r(in);
    std::vector<char> scratch(in.size() + 1);
    size_t count = 0;
    for (;;) {
        JsonToken t = r.next();
        FUZZ_CHECK(++count <= in.size() + 1);
        FUZZ_CHECK(r.depth() >= 0 && r.depth() <= kJsonMaxDepth);
        FUZZ_CHECK(r.offset() <= in.size());
        FUZZ_CHECK(fuzz::inside(r.text(), in.data(), in.size()));
        if (t == JsonToken::error) {
            FUZZ_CHECK(r.error().code != Errc::ok);
            FUZZ_CHECK(r.error_offset() <= in.size());
            FUZZ_CHECK(r.next() == JsonToken::error);  // sticky
            return false;
        }
        if (t == JsonToken::end) {
            FUZZ_CHECK(r.depth() == 0);
            FUZZ_CHECK(r.next() == JsonToken::end);
            return true;
        }
        Tok k{t, {}};
        if (t == JsonToken::key || t == JsonToken::string) {
            // The reader validated the string, so decoding fails only on room; the
            // unescaped text is never longer than the escaped one.
            auto d = r.decode_string(scratch);
            FUZZ_CHECK(d.ok());
            FUZZ_CHECK(d->size() <= r.text().size());
            k.text.assign(d->data(), d->size());
            if (!d->empty()) FUZZ_CHECK(r.equals(*d));
        } else if (t == JsonToken::number) {
            FUZZ_CHECK(!r.text().empty());
            k.text.assign(r.text());
            (void)r.as_int64();
            (void)r.as_uint64();
            (void)r.as_double();
        } else if (t == JsonToken::true_value || t == JsonToken::false_value) {
            FUZZ_CHECK(r.as_bool().ok());
        }
        out.push_back(std::move(k));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<Tok> toks;
    bool valid = read_all(in, toks);

    // json_find walks the same body: its views must stay inside too.
    auto found = json_find(in, "a");
    if (found.ok()) FUZZ_CHECK(fuzz::inside(found->text, in.data(), in.size()));

    if (!valid) return 0;
    FUZZ_CHECK(!toks.empty());

    // Re-emit. Escaping grows a byte to at most 6 ("\u001f").
    std::vector<char> out(6 * size + 64);
    JsonWriter w(out);
    for (const Tok& t : toks) {
        switch (t.token) {
            case JsonToken::begin_object: w.begin_object(); break;
            case JsonToken::end_object: w.end_object(); break;
            case JsonToken::begin_array: w.begin_array(); break;
            case JsonToken::end_array: w.end_array(); break;
            case JsonToken::key: w.key(t.text); break;
            case JsonToken::string: w.value(std::string_view(t.text)); break;
            case JsonToken::number: w.raw(t.text); break;
            case JsonToken::true_value: w.value(true); break;
            case JsonToken::false_value: w.value(false); break;
            case JsonToken::null_value: w.value(nullptr); break;
            default: FUZZ_CHECK(false);
        }
    }
    auto text = w.result();
    if (!text.ok()) {
        std::fprintf(stderr, "writer error: %s\n", text.error().message);
    }
    FUZZ_CHECK(text.ok());
    FUZZ_CHECK(w.size() == text->size());

    std::vector<Tok> again;
    FUZZ_CHECK(read_all(*text, again));
    FUZZ_CHECK(again == toks);
    return 0;
}
