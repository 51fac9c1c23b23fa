// WebSocket on the server: the handshake and its refusals, echo, fragments,
// ping, every close-code rule, idle connections holding no buffer, and the
// hub (fan-out, slow subscribers dropped or disconnected).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gust/frame_pool.hpp>
#include <gust/http.hpp>
#include <gust/hub.hpp>
#include <gust/testing.hpp>
#include <gust/websocket.hpp>

#include "test_support.hpp"

using namespace gust;
using testing::TestOptions;
using testing::TestServer;

namespace {

const char kKey[] = "dGhlIHNhbXBsZSBub25jZQ==";
const char kAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

std::string upgrade_request(const std::string& path = "/ws", const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: " + std::string(kKey) + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n";
}

// A client frame: masked with a fixed mask.
std::string frame(int first_byte, const std::string& payload, bool masked = true) {
    std::string f;
    f.push_back(char(first_byte));
    size_t n = payload.size();
    uint8_t m = masked ? 0x80 : 0;
    if (n < 126) {
        f.push_back(char(m | n));
    } else if (n <= 0xFFFF) {
        f.push_back(char(m | 126));
        f.push_back(char(n >> 8));
        f.push_back(char(n));
    } else {
        f.push_back(char(m | 127));
        for (int i = 7; i >= 0; --i) f.push_back(char(uint64_t(n) >> (8 * i)));
    }
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) f.append(reinterpret_cast<const char*>(mask), 4);
    for (size_t i = 0; i < n; ++i) f.push_back(char(payload[i] ^ (masked ? mask[i % 4] : 0)));
    return f;
}

std::string close_payload(uint16_t code, const std::string& reason = "") {
    std::string p;
    p.push_back(char(code >> 8));
    p.push_back(char(code));
    return p + reason;
}

struct Frame {
    int op = -1;
    bool fin = false;
    std::string payload;
};

// Splits what the server sent after its 101 head into (unmasked) frames.
std::vector<Frame> server_frames(const std::string& raw, std::string* head = nullptr) {
    std::vector<Frame> out;
    size_t end = raw.find("\r\n\r\n");
    if (end == std::string::npos) return out;
    if (head) *head = raw.substr(0, end + 4);
    size_t at = end + 4;
    while (at + 2 <= raw.size()) {
        uint8_t b0 = uint8_t(raw[at]), b1 = uint8_t(raw[at + 1]);
        uint64_t len = b1 & 0x7F;
        size_t h = 2;
        if (len == 126) {
            if (at + 4 > raw.size()) break;
            len = uint64_t(uint8_t(raw[at + 2])) << 8 | uint8_t(raw[at + 3]);
            h = 4;
        } else if (len == 127) {
            if (at + 10 > raw.size()) break;
            len = 0;
            for (int i = 0; i < 8; ++i) len = len << 8 | uint8_t(raw[at + 2 + i]);
            h = 10;
        }
        if (b1 & 0x80 || at + h + len > raw.size()) break;
        out.push_back({b0 & 0x0F, (b0 & 0x80) != 0, raw.substr(at + h, size_t(len))});
        at += h + size_t(len);
    }
    return out;
}

uint16_t close_code_of(const Frame& f) {
    if (f.op != 0x8 || f.payload.size() < 2) return 0;
    return uint16_t(uint8_t(f.payload[0]) << 8 | uint8_t(f.payload[1]));
}

Task<> echo(WebSocket& ws) {
    for (;;) {
        auto m = co_await ws.receive();
        if (!m || m->is_close()) co_return;
        if (!co_await ws.send(m->type, m->data)) co_return;
    }
}

TestOptions small_limits() {
    TestOptions o;
    o.limits = gust_test::test_limits();
    o.limits.max_connections = 64;
    return o;
}

// A blocking client socket for tests that interleave with the loop (run on a thread).
struct Client {
    int fd = -1;
    explicit Client(uint16_t port) : fd(gust_test::connect_loopback(port)) {}
    ~Client() {
        if (fd >= 0) ::close(fd);
    }
    void send(const std::string& s) const { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }
    // Reads until `n` bytes arrived (or the peer closed / 10 s passed).
    std::string read(size_t n) const {
        std::string out;
        char buf[65536];
        while (out.size() < n) {
            ssize_t r = ::recv(fd, buf, n - out.size() < sizeof buf ? n - out.size() : sizeof buf, 0);
            if (r <= 0) break;
            out.append(buf, size_t(r));
        }
        return out;
    }
    // One unmasked server frame: its opcode and payload (op -1 when the connection ended).
    Frame read_frame() const {
        Frame f;
        std::string h = read(2);
        if (h.size() < 2) return f;
        uint64_t len = uint8_t(h[1]) & 0x7F;
        if (len >= 126) {
            std::string ext = read(len == 126 ? 2 : 8);
            len = 0;
            for (char c : ext) len = len << 8 | uint8_t(c);
        }
        f.payload = read(size_t(len));
        if (f.payload.size() != len) return f;
        f.op = uint8_t(h[0]) & 0x0F;
        f.fin = (uint8_t(h[0]) & 0x80) != 0;
        return f;
    }
    std::string read_head() const {
        std::string out;
        char c;
        while (out.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) out.push_back(c);
        return out;
    }
};

}  // namespace

TEST_CASE("websocket: handshake, echo of text and binary, closing handshake echoes the code") {
    Router app;
    REQUIRE(app.websocket("/ws", echo));
    TestServer srv(app, small_limits());
    std::string bin("\x00\x01\xfe\xff", 4);
    std::string raw = srv.raw(upgrade_request() + frame(0x81, "hello") + frame(0x82, bin) +
                              frame(0x88, close_payload(1000, "bye")));
    std::string head;
    auto frames = server_frames(raw, &head);
    CHECK(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
    CHECK(head.find("Sec-WebSocket-Accept: " + std::string(kAccept) + "\r\n") != std::string::npos);
    CHECK(head.find("Upgrade: websocket\r\n") != std::string::npos);
    CHECK(head.find("Content-Length") == std::string::npos);
    REQUIRE(frames.size() == 3);
    CHECK((frames[0].op == 1 && frames[0].fin && frames[0].payload == "hello"));
    CHECK((frames[1].op == 2 && frames[1].payload == bin));
    CHECK(close_code_of(frames[2]) == 1000);
    srv.loop().run_until([&] { return srv.server().stats().connections_open == 0; }, std::chrono::seconds(5));
    auto st = srv.server().stats();
    CHECK(st.websockets_accepted == 1);
    CHECK(st.websockets_open == 0);
    CHECK(st.connections_open == 0);
    CHECK(st.buffers_in_use == 0);
}

TEST_CASE("websocket: fragments are joined, pings answered between them, messages in order") {
    Router app;
    REQUIRE(app.websocket("/ws", echo));
    TestServer srv(app, small_limits());
    std::string raw = srv.raw(upgrade_request() + frame(0x01, "frag") + frame(0x89, "pi") + frame(0x00, "men") +
                              frame(0x80, "ted") + frame(0x82, "") + frame(0x88, close_payload(1001)));
    auto frames = server_frames(raw);
    REQUIRE(frames.size() == 4);
    CHECK((frames[0].op == 0xA && frames[0].payload == "pi"));
    CHECK((frames[1].op == 1 && frames[1].payload == "fragmented"));
    CHECK((frames[2].op == 2 && frames[2].payload.empty()));
    CHECK(close_code_of(frames[3]) == 1001);
}

TEST_CASE("websocket: a large message in a message buffer; over max_message is 1009") {
    Router app;
    REQUIRE(app.websocket("/ws", echo));
    REQUIRE(app.websocket("/small", echo, {.max_message = 100}));
    TestOptions o = small_limits();
    o.server.websocket_max_message = 65536;
    TestServer srv(app, o);
    std::string big(65536, 'x');
    for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
    auto frames = server_frames(srv.raw(upgrade_request() + frame(0x81, big) + frame(0x88, close_payload(1000))));
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].payload == big);
    frames = server_frames(srv.raw(upgrade_request() + frame(0x81, big + "y")));
    REQUIRE(frames.size() == 1);
    CHECK(close_code_of(frames[0]) == 1009);
    frames = server_frames(srv.raw(upgrade_request("/small") + frame(0x01, std::string(60, 'a')) +
                                   frame(0x80, std::string(41, 'b'))));
    REQUIRE(frames.size() == 1);
    CHECK(close_code_of(frames[0]) == 1009);
    srv.loop().run_until([&] { return srv.server().stats().connections_open == 0; }, std::chrono::seconds(5));
    CHECK(srv.server().stats().buffers_in_use == 0);
}

TEST_CASE("websocket: protocol violations close with the RFC's code") {
    Router app;
    REQUIRE(app.websocket("/ws", echo));
    TestServer srv(app, small_limits());
    struct Case {
        const char* name;
        std::string frames;
        uint16_t code;
    };
    const Case cases[] = {
        {"unmasked client frame", frame(0x81, "hi", false), 1002},
        {"RSV1 without an extension", frame(0xC1, "hi"), 1002},
        {"opcode 3", frame(0x83, "hi"), 1002},
        {"opcode 0xB", frame(0x8B, ""), 1002},
        {"fragmented ping", frame(0x09, "x"), 1002},
        {"ping over 125 bytes", frame(0x89, std::string(126, 'p')), 1002},
        {"continuation without a start", frame(0x80, "x"), 1002},
        {"text inside a fragmented message", frame(0x01, "a") + frame(0x81, "b"), 1002},
        {"invalid UTF-8", frame(0x81, "\xce\xba\xff"), 1007},
        {"UTF-8 cut across the last fragment", frame(0x01, "a\xce") + frame(0x80, ""), 1007},
        {"close of one byte", frame(0x88, "x"), 1002},
        {"close code 1005", frame(0x88, close_payload(1005)), 1002},
        {"close code 999", frame(0x88, close_payload(999)), 1002},
        {"close reason not UTF-8", frame(0x88, close_payload(1000, "\xff")), 1007},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        auto frames = server_frames(srv.raw(upgrade_request() + c.frames));
        REQUIRE(!frames.empty());
        CHECK(close_code_of(frames.back()) == c.code);
    }
    // An empty close frame is answered with an empty one.
    auto frames = server_frames(srv.raw(upgrade_request() + frame(0x88, "")));
    REQUIRE(frames.size() == 1);
    CHECK((frames[0].op == 8 && frames[0].payload.empty()));
    srv.loop().run_until([&] { return srv.server().stats().connections_open == 0; }, std::chrono::seconds(5));
    CHECK(srv.server().stats().connections_open == 0);
}

TEST_CASE("websocket: refused handshakes (426, 400, 403) and subprotocol choice") {
    Router app;
    REQUIRE(app.websocket("/ws", echo, {.subprotocols = "chat.v2, chat.v1"}));
    REQUIRE(app.websocket("/strict", echo, {.check_origin = [](const Request& r) {
                                              return r.header("Origin") == "https://device.local";
                                          }}));
    TestServer srv(app, small_limits());
    auto v8 = TestServer::parse(srv.raw(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
        std::string(kKey) + "\r\nSec-WebSocket-Version: 8\r\nConnection: close\r\n\r\n"));
    CHECK(v8.status == 426);
    CHECK(v8.header("Sec-WebSocket-Version") == "13");
    auto plain = srv.request("GET", "/ws", {}, {"Connection: close"});
    CHECK(plain.status == 400);
    auto bad_key = srv.request("GET", "/ws", {},
                               {"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: c2hvcnQ=",
                                "Sec-WebSocket-Version: 13"});
    CHECK(bad_key.status == 400);
    auto no_upgrade = srv.request("GET", "/ws", {},
                                  {"Connection: Upgrade", "Sec-WebSocket-Key: " + std::string(kKey),
                                   "Sec-WebSocket-Version: 13"});
    CHECK(no_upgrade.status == 400);
    // Cross-site by default; the route's own check elsewhere.
    std::string head;
    server_frames(srv.raw(upgrade_request("/ws", "Origin: http://evil.example\r\n")), &head);
    CHECK(head.rfind("HTTP/1.1 403", 0) == 0);
    server_frames(srv.raw(upgrade_request("/ws", "Origin: http://127.0.0.1\r\n") + frame(0x88, "")), &head);
    CHECK(head.rfind("HTTP/1.1 101", 0) == 0);
    server_frames(srv.raw(upgrade_request("/strict", "Origin: http://127.0.0.1\r\n")), &head);
    CHECK(head.rfind("HTTP/1.1 403", 0) == 0);
    server_frames(srv.raw(upgrade_request("/strict", "Origin: https://device.local\r\n") + frame(0x88, "")), &head);
    CHECK(head.rfind("HTTP/1.1 101", 0) == 0);
    // The first offered protocol the route accepts.
    server_frames(srv.raw(upgrade_request("/ws", "Sec-WebSocket-Protocol: mqtt, chat.v1, chat.v2\r\n") +
                          frame(0x88, "")),
                  &head);
    CHECK(head.find("Sec-WebSocket-Protocol: chat.v1\r\n") != std::string::npos);
    server_frames(srv.raw(upgrade_request("/ws", "Sec-WebSocket-Protocol: mqtt\r\n") + frame(0x88, "")), &head);
    CHECK(head.find("Sec-WebSocket-Protocol") == std::string::npos);
    CHECK(srv.server().stats().websockets_accepted == 4);
}

TEST_CASE("websocket: idle connections hold no buffer; the callback API replies") {
    Router app;
    ws::Callbacks cb;
    int opened = 0, closed = 0;
    cb.on_open = [&opened](WebSocket&) { ++opened; };
    cb.on_message = [](WebSocket&, const ws::Message& m, ws::Reply& reply) {
        std::string s = "got " + std::string(m.text());
        CHECK(reply.text(s));
    };
    cb.on_close = [&closed](WebSocket&, uint16_t code) { closed += code == 1000; };
    ws::Callbacks* cbp = &cb;
    REQUIRE(app.websocket("/cb", [cbp](WebSocket& ws) { return ws::run(ws, *cbp); }));
    TestServer srv(app, small_limits());
    std::atomic<int> step{0};
    std::string got;
    std::thread client([&] {
        Client c(srv.port());
        c.send(upgrade_request("/cb"));
        std::string head = c.read_head();
        step = 1;
        while (step.load() != 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        c.send(frame(0x81, "ping me"));
        got = c.read(2 + 11);
        c.send(frame(0x88, close_payload(1000)));
        got += c.read(4);
        step = 3;
    });
    srv.loop().run_until([&] { return step.load() == 1; }, std::chrono::seconds(10));
    srv.loop().run_until([] { return false; }, std::chrono::milliseconds(50));
    auto st = srv.server().stats();
    CHECK(st.websockets_open == 1);
    CHECK(st.buffers_in_use == 0);  // waiting for a frame costs no buffer
    // Its coroutine frames (session, handler, receive, read) are all it holds.
    size_t frame_bytes = 0;
    for (int i = 0; i < kFrameClasses; ++i) frame_bytes += FramePool::local().stats(i).in_use * frame_class_size(i);
    MESSAGE("an idle WebSocket holds " << frame_bytes << " bytes of coroutine frames");
    CHECK(frame_bytes <= 3072);
    step = 2;
    srv.loop().run_until([&] { return step.load() == 3; }, std::chrono::seconds(10));
    client.join();
    srv.loop().run_until([&] { return srv.server().stats().connections_open == 0; }, std::chrono::seconds(5));
    auto frames = server_frames("\r\n\r\n" + got);
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].payload == "got ping me");
    CHECK(close_code_of(frames[1]) == 1000);
    CHECK(opened == 1);
    CHECK(closed == 1);
}

TEST_CASE("websocket: a hub sends one message to every subscriber, in order") {
    Router app;
    Hub hub({.backlog = 4, .max_message = 256});
    REQUIRE(hub.status());
    Hub* h = &hub;
    REQUIRE(app.websocket("/feed", [h](WebSocket& ws) -> Task<> {
        (void)h->subscribe(ws);
        for (;;) {
            auto m = co_await ws.receive();
            if (!m || m->is_close()) co_return;
        }
    }));
    TestServer srv(app, small_limits());
    constexpr int kClients = 5;
    std::atomic<int> ready{0}, done{0};
    std::string got[kClients];
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            Client c(srv.port());
            c.send(upgrade_request("/feed"));
            c.read_head();
            ++ready;
            got[i] = c.read(3 * 7);  // three frames of "msg n" + header
            c.send(frame(0x88, close_payload(1000)));
            c.read(4);
            ++done;
        });
    }
    srv.loop().run_until([&] { return hub.stats().subscribers == kClients; }, std::chrono::seconds(10));
    for (int i = 0; i < 3; ++i) {
        std::string m = "msg " + std::to_string(i);
        REQUIRE(hub.publish(m));
    }
    srv.loop().run_until([&] { return done.load() == kClients; }, std::chrono::seconds(10));
    for (auto& t : threads) t.join();
    for (int i = 0; i < kClients; ++i) {
        auto frames = server_frames("\r\n\r\n" + got[i]);
        REQUIRE(frames.size() == 3);
        for (int k = 0; k < 3; ++k) CHECK(frames[size_t(k)].payload == "msg " + std::to_string(k));
    }
    srv.loop().run_until([&] { return hub.stats().subscribers == 0; }, std::chrono::seconds(5));
    CHECK(hub.stats().published == 3);
    CHECK(hub.publish(std::string(257, 'x')).error().code == Errc::too_large);
}

TEST_CASE("websocket: a subscriber that stops reading is dropped behind or disconnected, memory stays fixed") {
    for (SlowPolicy policy : {SlowPolicy::drop, SlowPolicy::disconnect}) {
        CAPTURE(int(policy));
        Router app;
        Hub hub({.backlog = 4, .spare_slots = 1, .max_message = 65536, .policy = policy});
        Hub* h = &hub;
        REQUIRE(app.websocket("/feed", [h](WebSocket& ws) -> Task<> {
            (void)h->subscribe(ws);
            for (;;) {
                auto m = co_await ws.receive();
                if (!m || m->is_close()) co_return;
            }
        }));
        TestServer srv(app, small_limits());
        std::atomic<bool> stop{false}, go{false};
        std::atomic<uint64_t> received{0};
        std::thread client([&] {
            Client c(srv.port());
            c.send(upgrade_request("/feed"));
            c.read_head();
            while (!stop.load() && !go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
            if (!go.load()) return;
            for (;;) {  // reads again: everything it is sent, until "last"
                Frame f = c.read_frame();
                if (f.op != 1) break;
                ++received;
                if (f.payload == "last") break;
            }
            c.send(frame(0x88, close_payload(1000)));
            c.read(4);
        });
        srv.loop().run_until([&] { return hub.stats().subscribers == 1; }, std::chrono::seconds(10));
        std::string payload(60000, 'z');
        // Far more than the socket buffers hold: the subscriber falls behind.
        for (int i = 0; i < 400 && hub.stats().subscribers == 1; ++i) {
            REQUIRE(hub.publish(payload));
            srv.loop().run_until([] { return false; }, std::chrono::milliseconds(1));
        }
        HubStats st = hub.stats();
        if (policy == SlowPolicy::drop) {
            // Still subscribed, stuck in one message; once it reads again it
            // finishes that one and skips to the oldest kept: every message is
            // either delivered or counted as dropped.
            CHECK(st.subscribers == 1);
            CHECK(st.behind == 1);
            go = true;
            REQUIRE(hub.publish("last"));
            srv.loop().run_until([&] { return hub.stats().subscribers == 0; }, std::chrono::seconds(20));
            CHECK(hub.stats().dropped > 0);
            CHECK(hub.stats().disconnected == 0);
            CHECK(received.load() + hub.stats().dropped == hub.stats().published);
            CHECK(received.load() >= 4);
        } else {
            CHECK(st.disconnected == 1);
            CHECK(st.subscribers == 0);
        }
        stop = true;
        while (!client.joinable()) {}
        srv.loop().run_until([&] { return srv.server().stats().connections_open == 0; }, std::chrono::seconds(10));
        client.join();
        CHECK(srv.server().stats().buffers_in_use == 0);
    }
}
