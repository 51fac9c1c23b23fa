// WebSocket wire format: frame headers (one table row per case, parsed at
// every truncation point against a guard page), masking, close codes, the
// handshake keys (RFC 6455's own example) and the incremental UTF-8 validator.
#include <doctest/doctest.h>
#include <gust/websocket_frame.hpp>

#include <cstring>
#include <string>

#include "guarded.hpp"

using namespace gust;
using namespace gust::ws;

namespace {

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int v : b) s.push_back(char(v));
    return s;
}

struct Row {
    const char* name;
    std::string in;
    Role role;
    uint16_t close = 0;  // 0: parses
    Opcode op = Opcode::text;
    bool fin = true;
    uint64_t length = 0;
    size_t header = 0;
};

const Row kRows[] = {
    {"masked text, 5 bytes", bytes({0x81, 0x85, 1, 2, 3, 4}), Role::server, 0, Opcode::text, true, 5, 6},
    {"unmasked binary from a server", bytes({0x82, 0x03}), Role::client, 0, Opcode::binary, true, 3, 2},
    {"continuation, not final", bytes({0x00, 0x80, 0, 0, 0, 0}), Role::server, 0, Opcode::continuation, false, 0, 6},
    {"16-bit length", bytes({0x82, 0xFE, 0x01, 0x00, 9, 9, 9, 9}), Role::server, 0, Opcode::binary, true, 256, 8},
    {"64-bit length", bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 0, 9, 9, 9, 9}), Role::server, 0, Opcode::binary,
     true, 1u << 20, 14},
    {"ping 125 bytes", bytes({0x89, 0xFD, 1, 1, 1, 1}), Role::server, 0, Opcode::ping, true, 125, 6},
    {"close", bytes({0x88, 0x82, 1, 1, 1, 1}), Role::server, 0, Opcode::close, true, 2, 6},
    {"unmasked client frame", bytes({0x81, 0x05}), Role::server, close_code::protocol_error},
    {"masked server frame", bytes({0x81, 0x85, 1, 2, 3, 4}), Role::client, close_code::protocol_error},
    {"RSV1", bytes({0xC1, 0x80, 0, 0, 0, 0}), Role::server, close_code::protocol_error},
    {"RSV3", bytes({0x91, 0x80, 0, 0, 0, 0}), Role::server, close_code::protocol_error},
    {"opcode 3", bytes({0x83, 0x80, 0, 0, 0, 0}), Role::server, close_code::protocol_error},
    {"opcode 0xB", bytes({0x8B, 0x80, 0, 0, 0, 0}), Role::server, close_code::protocol_error},
    {"fragmented ping", bytes({0x09, 0x80, 0, 0, 0, 0}), Role::server, close_code::protocol_error},
    {"ping of 126 bytes", bytes({0x89, 0xFE, 0, 126, 0, 0, 0, 0}), Role::server, close_code::protocol_error},
    {"64-bit length top bit", bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}), Role::server,
     close_code::protocol_error},
};

}  // namespace

TEST_CASE("websocket: frame headers, whole and at every truncation point") {
    gust_test::Guarded g;
    for (const Row& row : kRows) {
        CAPTURE(row.name);
        FrameHeader h;
        FrameParse p = parse_frame_header(g.place(reinterpret_cast<const uint8_t*>(row.in.data()), row.in.size()),
                                          row.role, h);
        if (row.close) {
            CHECK(p.failed());
            CHECK(p.close_code == row.close);
            CHECK(p.consumed == 0);
        } else {
            REQUIRE(!p.failed());
            CHECK(p.consumed == row.header);
            CHECK(h.header_size == row.header);
            CHECK(h.opcode == row.op);
            CHECK(h.fin == row.fin);
            CHECK(h.length == row.length);
            CHECK(h.masked == (row.role == Role::server));
        }
        // Every prefix is incomplete, or already fails with the same code.
        for (size_t n = 0; n < (row.close ? row.in.size() : row.header); ++n) {
            CAPTURE(n);
            FrameHeader t;
            FrameParse q = parse_frame_header(g.place(reinterpret_cast<const uint8_t*>(row.in.data()), n), row.role, t);
            if (row.close && q.failed()) CHECK(q.close_code == row.close);
            else CHECK(q.incomplete());
        }
    }
}

TEST_CASE("websocket: encoded headers parse back, with the shortest length form") {
    const uint8_t mask[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    const uint64_t lengths[] = {0, 1, 125, 126, 65535, 65536, uint64_t(1) << 40};
    const size_t sizes[] = {2, 2, 2, 4, 4, 10, 10};
    for (size_t i = 0; i < std::size(lengths); ++i) {
        for (bool masked : {false, true}) {
            uint8_t buf[kMaxFrameHeader];
            size_t n = encode_frame_header(buf, Opcode::binary, i % 2 == 0, lengths[i], masked ? mask : nullptr);
            CHECK(n == sizes[i] + (masked ? 4 : 0));
            FrameHeader h;
            FrameParse p = parse_frame_header({buf, n}, masked ? Role::server : Role::client, h);
            REQUIRE(!p.failed());
            CHECK(p.consumed == n);
            CHECK(h.length == lengths[i]);
            CHECK(h.fin == (i % 2 == 0));
            if (masked) CHECK(std::memcmp(h.mask, mask, 4) == 0);
        }
    }
}

TEST_CASE("websocket: masking in pieces equals masking at once, and undoes itself") {
    const uint8_t mask[4] = {0x37, 0xFA, 0x21, 0x3D};
    // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
    uint8_t hello[] = {'H', 'e', 'l', 'l', 'o'};
    apply_mask(hello, mask, 0);
    const uint8_t expected[] = {0x7F, 0x9F, 0x4D, 0x51, 0x58};
    CHECK(std::memcmp(hello, expected, 5) == 0);

    uint8_t whole[301], pieces[301];
    for (size_t i = 0; i < sizeof whole; ++i) whole[i] = pieces[i] = uint8_t(i * 7);
    apply_mask(whole, mask, 0);
    size_t at = 0;
    for (size_t step : {1, 3, 7, 2, 64, 5, 219}) {
        apply_mask(std::span<uint8_t>(pieces + at, step), mask, at);
        at += step;
    }
    REQUIRE(at == sizeof pieces);
    CHECK(std::memcmp(whole, pieces, sizeof whole) == 0);
    apply_mask(whole, mask, 0);
    for (size_t i = 0; i < sizeof whole; ++i) CHECK(whole[i] == uint8_t(i * 7));
}

TEST_CASE("websocket: close codes a peer may send") {
    for (uint16_t c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999}) CHECK(valid_close_code(c));
    for (uint16_t c : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) CHECK(!valid_close_code(c));
}

TEST_CASE("websocket: Sec-WebSocket-Accept from RFC 6455's example, and key checks") {
    char out[32];
    auto a = accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    REQUIRE(a);
    CHECK(*a == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK(!valid_client_key(""));
    CHECK(!valid_client_key("dGhlIHNhbXBsZSBub25jZQ"));    // no padding
    CHECK(!valid_client_key("dGhlIHNhbXBsZSBub25jZQ=X"));  // bad padding
    CHECK(!valid_client_key("dGhlIHNhbXBsZSBub25j!Q=="));  // not base64
    CHECK(!valid_client_key("c2hvcnQ="));                  // 5 bytes
    char k1[32], k2[32];
    auto m1 = make_client_key(k1);
    auto m2 = make_client_key(k2);
    REQUIRE(m1);
    REQUIRE(m2);
    CHECK(valid_client_key(*m1));
    CHECK(*m1 != *m2);
}

TEST_CASE("websocket: UTF-8 validation, whole and byte by byte") {
    struct U {
        std::string s;
        bool valid;
    };
    const U cases[] = {
        {"", true},
        {"hello", true},
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true},  // κόσμε
        {"\xf0\x9f\x98\x80", true},                              // U+1F600
        {"\xf4\x8f\xbf\xbf", true},                              // U+10FFFF
        {"\xef\xbf\xbf", true},                                  // U+FFFF
        {"\xed\x9f\xbf", true},                                  // U+D7FF
        {"\xc0\xaf", false},                                     // overlong '/'
        {"\xe0\x80\xaf", false},                                 // overlong
        {"\xf0\x80\x80\xaf", false},                             // overlong
        {"\xed\xa0\x80", false},                                 // surrogate U+D800
        {"\xf4\x90\x80\x80", false},                             // above U+10FFFF
        {"\xf5\x80\x80\x80", false},
        {"\x80", false},                                         // lone continuation
        {"\xce", false},                                         // cut short
        {"\xf0\x9f\x98", false},                                 // cut short
        {"a\xffz", false},
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited", false},
    };
    for (const U& u : cases) {
        CAPTURE(u.s);
        CHECK(valid_utf8(u.s) == u.valid);
        Utf8Validator v;
        bool ok = true;
        for (char c : u.s) ok = v.feed(std::string_view(&c, 1)) && ok;
        CHECK((ok && v.complete()) == u.valid);
    }
    // Fails at the first impossible byte, before the rest arrives.
    Utf8Validator v;
    CHECK(v.feed(std::string_view("ab\xce")));
    CHECK(!v.complete());
    CHECK(!v.feed(std::string_view("\x41")));
    CHECK(v.failed());
}
