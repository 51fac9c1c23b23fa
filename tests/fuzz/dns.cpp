// libFuzzer harness for the DNS wire format: gust::dns::parse_question and
// gust::dns::parse_response. The response is parsed against the input's own
// question when it has one (so the answer chain is reached), else against a
// fixed name, for A and AAAA. Invariants: no crash, offsets inside the message,
// at most kMaxAddresses addresses, each of the asked family.
#include <gust/dns.hpp>

#include <cstdint>

#include "fuzz_check.hpp"

using namespace gust;
using namespace gust::dns;

namespace {

void check_answer(const Result<Answer>& a, uint16_t qtype) {
    if (!a.ok()) {
        FUZZ_CHECK(a.error().code != Errc::ok);
        return;
    }
    FUZZ_CHECK(a->count <= kMaxAddresses);
    FUZZ_CHECK(a->cname_hops <= kMaxCnameHops);
    FUZZ_CHECK(a->rcode <= 15);
    for (size_t i = 0; i < a->count; i++) {
        if (qtype == kTypeA) FUZZ_CHECK(a->addresses[i].is_ipv4());
        if (qtype == kTypeAaaa) FUZZ_CHECK(a->addresses[i].is_ipv6());
        if (qtype == kTypeA || qtype == kTypeAaaa) {
            char text[64];
            FUZZ_CHECK(format_ip(a->addresses[i], text) > 0);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> msg(data, size);

    Name name;
    uint16_t id = size >= 2 ? uint16_t(data[0] << 8 | data[1]) : 0;
    uint16_t qtype = kTypeA;
    auto q = parse_question(msg);
    if (q.ok()) {
        FUZZ_CHECK(q->end <= size);
        FUZZ_CHECK(q->name.length >= 1 && q->name.length <= kMaxNameWire);
        FUZZ_CHECK(q->name.bytes[q->name.length - 1] == 0);
        FUZZ_CHECK(q->id == id);
        char text[kMaxNameWire + 1];
        (void)name_to_text(q->name, text);
        name = q->name;
        qtype = q->qtype;
    } else {
        FUZZ_CHECK(encode_name("example.com", name).ok());
    }

    // Other question types must be refused, not parsed (the regression in tests/fuzz/crashes/dns/).
    if (qtype != kTypeA && qtype != kTypeAaaa) FUZZ_CHECK(!parse_response(msg, id, name, qtype).ok());
    check_answer(parse_response(msg, id, name, kTypeA), kTypeA);
    check_answer(parse_response(msg, id, name, kTypeAaaa), kTypeAaaa);
    return 0;
}
