// libFuzzer harness for gust::http::ChunkedDecoder.
// The input is decoded three ways: next() zero-copy (with a max_data from the
// first byte), decode() into a small output buffer, and decode_in_place() on a
// copy. Invariants: same outcome (progress, status), same decoded bytes, same
// encoded bytes consumed on completion; every data view lies inside the input.
#include <gust/http_parser.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_check.hpp"

using namespace gust::http;

namespace {

constexpr ChunkedLimits kLimits{1 << 20, 64, 256};

struct Outcome {
    Progress progress = Progress::incomplete;
    uint16_t status = 0;
    size_t consumed = 0;  // total encoded bytes used
    std::string body;
    uint64_t total = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    size_t max_data = 1 + (data[0] % 17);
    size_t out_room = 1 + (data[0] >> 4);
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

    // 1. next(), zero copy.
    Outcome a;
    {
        ChunkedDecoder d(kLimits);
        size_t pos = 0;
        for (;;) {
            std::string_view rest = in.substr(pos);
            ChunkResult r = d.next(rest, max_data);
            FUZZ_CHECK(r.consumed <= rest.size());
            FUZZ_CHECK(r.data.size() <= max_data);
            FUZZ_CHECK(fuzz::inside(r.data, rest.data(), rest.size()));
            FUZZ_CHECK(r.decoded == r.data.size());
            a.body.append(r.data);
            pos += r.consumed;
            a.progress = r.progress;
            a.status = r.status;
            if (!r.incomplete()) break;
            if (r.consumed == 0 && r.data.empty()) break;  // needs more input
        }
        a.consumed = pos;
        a.total = d.total();
        // A failing call drops the run it had found (total() still counts it).
        if (a.progress != Progress::failed) FUZZ_CHECK(a.total == a.body.size());
        FUZZ_CHECK(d.done() == (a.progress == Progress::complete));
    }

    // 2. decode() into a small buffer.
    Outcome b;
    {
        ChunkedDecoder d(kLimits);
        char out[16];
        size_t pos = 0;
        for (;;) {
            std::string_view rest = in.substr(pos);
            ChunkResult r = d.decode(rest, std::span<char>(out, out_room));
            FUZZ_CHECK(r.consumed <= rest.size());
            FUZZ_CHECK(r.decoded <= out_room);
            FUZZ_CHECK(r.data.empty());
            b.body.append(out, r.decoded);
            pos += r.consumed;
            b.progress = r.progress;
            b.status = r.status;
            if (!r.incomplete()) break;
            if (r.consumed == 0 && r.decoded == 0) break;
        }
        b.consumed = pos;
        b.total = d.total();
    }

    // 3. decode_in_place() on a copy, in one step.
    Outcome c;
    {
        ChunkedDecoder d(kLimits);
        std::vector<char> copy(in.begin(), in.end());
        ChunkResult r = d.decode_in_place(copy);
        FUZZ_CHECK(r.consumed <= copy.size());
        FUZZ_CHECK(r.decoded <= r.consumed);
        c.body.assign(copy.data(), r.decoded);
        c.progress = r.progress;
        c.status = r.status;
        c.consumed = r.consumed;
        c.total = d.total();
    }

    FUZZ_CHECK(a.progress == b.progress && b.progress == c.progress);
    FUZZ_CHECK(a.status == b.status && b.status == c.status);
    if (a.progress != Progress::failed) {
        FUZZ_CHECK(a.body == b.body && b.body == c.body);
        FUZZ_CHECK(a.total == b.total && b.total == c.total);
    }
    if (a.progress == Progress::complete) {
        FUZZ_CHECK(a.consumed == b.consumed && b.consumed == c.consumed);
    }
    if (a.progress == Progress::incomplete) {
        FUZZ_CHECK(a.consumed == in.size() && b.consumed == in.size() && c.consumed == in.size());
    }
    return 0;
}
