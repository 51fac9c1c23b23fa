// gust::Hub: one message to many long-lived connections (WebSocket clients
// and Server-Sent Events streams) without a copy per connection and without
// growing memory.
//
//   Hub hub({.backlog = 8, .max_message = 4096});      // start-up: backlog * ~2 * max_message bytes
//   hub.subscribe(ws);                                  // in a WebSocket handler (or an EventStream)
//   hub.publish("status", json);                        // anywhere on the loop thread
//
// How: the hub keeps the last `backlog` messages in a ring of fixed slots,
// each already encoded once as a WebSocket text frame and as an SSE event.
// A subscriber holds only a cursor (the next message it has to write) and how
// far into that message it got. publish() writes into the next slot, then
// lets every subscriber whose socket is free write what it has not sent yet,
// straight from the slot with non-blocking writes; a subscriber whose socket
// is full continues when it becomes writable. No coroutine frame, buffer or
// copy is spent per subscriber.
//
// Slow clients: a subscriber more than `backlog` messages behind has lost
// messages. With SlowPolicy::drop it skips to the oldest message still held
// (HubStats::dropped counts what it missed); with SlowPolicy::disconnect its
// connection is closed. Half a message cannot be taken back, so a subscriber
// stuck in the middle of one pins that message's slot until it is written;
// `spare_slots` extra slots take the place of pinned ones, and when none is
// left the subscribers pinning the oldest slot are disconnected. Memory is
// (backlog + spare_slots) slots, fixed. Loop-thread only.
#pragma once

#include <coroutine>
#include <cstdint>
#include <span>
#include <string_view>

#include <gust/loop.hpp>
#include <gust/result.hpp>
#include <gust/stream.hpp>

namespace gust {

class Hub;

namespace detail {

// What a connection shares between its own writes and a hub's: a write lock
// (so frames never interleave) and its place in the hub's ring. WebSocket and
// EventStream derive from it.
class Outbox {
public:
    Outbox() = default;
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    // Ends the hub subscription, if any.
    ~Outbox();

    class Guard;
    // co_await lock(): waits until no frame or hub message is being written.
    class [[nodiscard]] LockAwaiter : ReadyNode {
    public:
        explicit LockAwaiter(Outbox& box) : box_(box) {}
        LockAwaiter(LockAwaiter&& o) : box_(o.box_) {}
        ~LockAwaiter();
        bool await_ready();
        void await_suspend(std::coroutine_handle<> h);
        Guard await_resume();

    private:
        friend class Outbox;
        Outbox& box_;
        std::coroutine_handle<> handle_;
        LockAwaiter* next_ = nullptr;
        bool waiting_ = false;  // in the queue
        bool granted_ = false;  // handed the lock, not yet resumed
    };
    // Holds the lock; set dirty() while a frame is half written, so that
    // cancelling the writer mid-frame closes the connection instead of
    // leaving a broken frame on the wire.
    class Guard {
    public:
        explicit Guard(Outbox* box) : box_(box) {}
        Guard(Guard&& o) : box_(o.box_), dirty_(o.dirty_) { o.box_ = nullptr; }
        Guard& operator=(Guard&&) = delete;
        ~Guard();
        void dirty(bool d) { dirty_ = d; }

    private:
        Outbox* box_;
        bool dirty_ = false;
    };
    LockAwaiter lock() { return LockAwaiter(*this); }

    // True once the connection failed (write error, slow-client disconnect).
    bool broken() const { return broken_; }

protected:
    // How hub messages go on this connection's wire.
    enum class Format : uint8_t { websocket, sse_chunked, sse_plain };
    void bind(Loop* loop, Stream* io, Format format) {
        loop_ = loop;
        io_ = io;
        format_ = format;
    }
    // Marks the connection broken and closes its stream: pending reads and
    // writes end with Errc::closed on the next turn.
    void fail();
    // True while a frame or hub message is being written.
    bool locked() const { return held_; }
    bool subscribed() const { return hub_ != nullptr; }
    // Leaves the hub (before a close frame: nothing may follow it).
    void leave_hub();

    Loop* loop_ = nullptr;
    Stream* io_ = nullptr;
    bool broken_ = false;
    bool ready_ = true;  // hub bytes may go out (an event stream's head is out)

private:
    friend class gust::Hub;
    void unlock();
    void start_pump();
    void pump();
    bool pending() const;

    bool held_ = false;
    bool armed_ = false;  // waiting for the socket to take more hub bytes
    Format format_ = Format::websocket;
    LockAwaiter* first_ = nullptr;
    LockAwaiter* last_ = nullptr;
    Hub* hub_ = nullptr;
    Outbox* prev_ = nullptr;
    Outbox* next_ = nullptr;
    uint64_t cursor_ = 0;  // the next message sequence to write
    uint32_t offset_ = 0;  // bytes of that message already written
    uint32_t pin_ = UINT32_MAX;  // the slot this subscriber is in the middle of
};

}  // namespace detail

// What happens to a subscriber `backlog` messages behind.
enum class SlowPolicy : uint8_t { drop, disconnect };

struct HubOptions {
    uint32_t backlog = 8;         // messages kept; how far a subscriber may fall behind
    uint32_t spare_slots = 4;     // slots standing in for ones pinned by subscribers stuck mid-message
    uint32_t max_message = 4096;  // largest payload publish() accepts
    SlowPolicy policy = SlowPolicy::drop;
};

struct HubStats {
    uint64_t published = 0;     // messages accepted by publish()
    uint64_t refused = 0;       // publish() calls refused (too large)
    uint64_t dropped = 0;       // messages slow subscribers skipped (SlowPolicy::drop)
    uint64_t disconnected = 0;  // subscribers closed for being too slow or failing to write
    uint32_t subscribers = 0;   // now
    uint32_t behind = 0;        // subscribers now waiting for their socket to drain
};

class WebSocket;
class EventStream;

class Hub {
public:
    // Reserves backlog slots (start-up only). Check status().
    explicit Hub(const HubOptions& options = HubOptions());
    // Unsubscribes everyone (their connections stay open).
    ~Hub();
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    Result<void> status() const;

    // Adds a connection; it receives messages published from now on (and,
    // with `with_last`, the latest one first, so a new dashboard need not
    // wait for the next update). Errc::closed for a broken or closing
    // connection. A connection is in at most one hub.
    Result<void> subscribe(WebSocket& ws, bool with_last = false);
    Result<void> subscribe(EventStream& events, bool with_last = false);
    // Removes it (also done by its destructor).
    void unsubscribe(detail::Outbox& who);

    // Sends `data` to every subscriber: a text frame to WebSockets, an event
    // (with the optional `event` name and `id`) to SSE streams. `data` must be
    // UTF-8 for WebSocket clients; SSE splits it into one "data:" line per line.
    // Errc::too_large over max_message (counted in refused).
    Result<void> publish(std::string_view event, std::string_view data, std::string_view id = {});
    Result<void> publish(std::string_view data) { return publish({}, data, {}); }

    HubStats stats() const;
    const HubOptions& options() const { return options_; }

private:
    friend class detail::Outbox;
    struct Slot {
        uint64_t seq = 0;
        uint32_t ws_len = 0;
        uint32_t sse_len = 0;  // chunk-framed; the plain event is sse_len - chunk overhead
        uint32_t pins = 0;     // subscribers in the middle of this message
        uint8_t sse_head = 0;  // bytes of "<hex>\r\n" in front of the event
    };
    Result<void> add(detail::Outbox& who, bool with_last);
    // The slot `who` writes from next, or UINT32_MAX when its message is gone.
    uint32_t slot_for(const detail::Outbox& who) const;
    std::span<const uint8_t> bytes(uint32_t slot, uint8_t format) const;
    void unpin(detail::Outbox& who);
    bool in_window(uint64_t seq) const { return seq < next_seq_ && seq + options_.backlog >= next_seq_; }

    HubOptions options_;
    Error error_;
    uint8_t* memory_ = nullptr;
    Slot* slots_ = nullptr;
    uint32_t nslots_ = 0;
    size_t slot_bytes_ = 0;
    uint32_t* window_ = nullptr;  // backlog entries: the slot holding seq (by seq % backlog)
    uint32_t* free_ = nullptr;
    uint32_t free_count_ = 0;
    uint32_t ws_cap_ = 0, sse_cap_ = 0;
    uint64_t next_seq_ = 0;
    detail::Outbox* first_ = nullptr;
    HubStats stats_;
};

}  // namespace gust
