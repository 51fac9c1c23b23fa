// libFuzzer harness for the WebSocket wire format (websocket_frame.hpp).
// The input is read as a stream of frames, in both roles. Invariants: a
// complete header consumed exactly its header_size bytes and lies inside the
// input; re-encoding the header gives the same bytes when the peer used the
// shortest length form; masking twice restores the payload; UTF-8 validation
// fed in pieces agrees with the whole-string answer.
#include <gust/websocket_frame.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_check.hpp"

using namespace gust::ws;

namespace {

void frames(const uint8_t* data, size_t size, Role role) {
    size_t pos = 0;
    for (int guard = 0; guard < 4096 && pos < size; ++guard) {
        FrameHeader h;
        FrameParse p = parse_frame_header({data + pos, size - pos}, role, h);
        if (p.incomplete() || p.failed()) {
            FUZZ_CHECK(p.consumed == 0);
            if (p.failed()) FUZZ_CHECK(p.close_code == close_code::protocol_error);
            return;
        }
        FUZZ_CHECK(p.consumed == h.header_size);
        FUZZ_CHECK(p.consumed >= 2 && p.consumed <= kMaxFrameHeader);
        FUZZ_CHECK(pos + p.consumed <= size);
        FUZZ_CHECK(h.masked == (role == Role::server));
        if (h.is_control()) FUZZ_CHECK(h.fin && h.length <= kMaxControlPayload);
        uint8_t again[kMaxFrameHeader];
        size_t n = encode_frame_header(again, h.opcode, h.fin, h.length, h.masked ? h.mask : nullptr);
        bool shortest = (h.length < 126 && (data[pos + 1] & 0x7F) < 126) ||
                        (h.length >= 126 && h.length <= 0xFFFF && (data[pos + 1] & 0x7F) == 126) ||
                        (h.length > 0xFFFF && (data[pos + 1] & 0x7F) == 127);
        if (shortest) {
            FUZZ_CHECK(n == p.consumed);
            FUZZ_CHECK(std::memcmp(again, data + pos, n) == 0);
        }
        pos += p.consumed;
        size_t avail = size - pos;
        size_t take = h.length < avail ? size_t(h.length) : avail;
        std::vector<uint8_t> payload(data + pos, data + pos + take);
        std::vector<uint8_t> original = payload;
        // Unmask in two pieces, then mask back at once.
        size_t half = take / 3;
        apply_mask({payload.data(), half}, h.mask, 0);
        apply_mask({payload.data() + half, take - half}, h.mask, half);
        apply_mask(payload, h.mask, 0);
        FUZZ_CHECK(payload == original);
        pos += take;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    frames(data, size, Role::server);
    frames(data, size, Role::client);
    std::string_view s(reinterpret_cast<const char*>(data), size);
    bool whole = valid_utf8(s);
    Utf8Validator v;
    bool ok = true;
    size_t step = size ? 1 + data[0] % 5 : 1;
    for (size_t i = 0; i < size; i += step) ok = v.feed(s.substr(i, step)) && ok;
    FUZZ_CHECK((ok && v.complete()) == whole);
    if (!ok) FUZZ_CHECK(v.failed());
    return 0;
}
