// The broadcast hub and the per-connection write lock it shares with
// coroutine senders. A slot holds a message encoded once per wire format; a
// subscriber writes straight from the slot with non-blocking writes, and only
// a full socket makes it wait (for writability, on the loop, without a frame).
#include <gust/hub.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <gust/log.hpp>
#include <gust/sse.hpp>
#include <gust/websocket.hpp>

namespace gust {

namespace detail {

Outbox::~Outbox() {
    if (hub_) hub_->unsubscribe(*this);
    if (armed_ && io_ && io_->is_open()) (void)loop_->on_writable(io_->watch(), nullptr);
}

bool Outbox::LockAwaiter::await_ready() {
    if (box_.held_) return false;
    box_.held_ = true;
    return true;
}

void Outbox::LockAwaiter::await_suspend(std::coroutine_handle<> h) {
    handle_ = h;
    waiting_ = true;
    if (box_.last_) box_.last_->next_ = this;
    else box_.first_ = this;
    box_.last_ = this;
}

Outbox::Guard Outbox::LockAwaiter::await_resume() {
    granted_ = false;
    return Guard(&box_);
}

Outbox::LockAwaiter::~LockAwaiter() {
    if (waiting_) {
        LockAwaiter** p = &box_.first_;
        LockAwaiter* prev = nullptr;
        while (*p && *p != this) {
            prev = *p;
            p = &(*p)->next_;
        }
        if (*p) *p = next_;
        if (box_.last_ == this) box_.last_ = prev;
    }
    if (granted_) {
        // Handed the lock but destroyed before running: pass it on.
        box_.loop_->unschedule(*this);
        box_.unlock();
    }
}

Outbox::Guard::~Guard() {
    if (!box_) return;
    if (dirty_) box_->fail();  // cancelled in the middle of a frame
    box_->unlock();
}

bool Outbox::pending() const { return hub_ && ready_ && !broken_ && cursor_ < hub_->next_seq_; }

void Outbox::unlock() {
    if (pending()) {
        pump();  // keeps the lock while hub messages go out
        return;
    }
    if (first_) {
        LockAwaiter* a = first_;
        first_ = a->next_;
        if (!first_) last_ = nullptr;
        a->next_ = nullptr;
        a->waiting_ = false;
        a->granted_ = true;
        a->run = [](ReadyNode* n) {
            auto* w = static_cast<LockAwaiter*>(n);
            w->handle_.resume();
        };
        loop_->schedule(*a);
        return;
    }
    held_ = false;
}

void Outbox::start_pump() {
    if (held_ || broken_) return;
    held_ = true;
    pump();
}

void Outbox::pump() {
    while (pending()) {
        uint32_t slot = hub_->slot_for(*this);
        if (slot == UINT32_MAX) {
            // Its next message left the window (SlowPolicy::drop): skip to the oldest kept.
            uint64_t oldest = hub_->next_seq_ - hub_->options_.backlog;
            hub_->stats_.dropped += oldest - cursor_;
            cursor_ = oldest;
            continue;
        }
        std::span<const uint8_t> b = hub_->bytes(slot, uint8_t(format_));
        if (offset_ >= b.size()) {
            hub_->unpin(*this);
            ++cursor_;
            offset_ = 0;
            continue;
        }
        uint8_t need = 0;
        auto r = io_->try_write(b.subspan(offset_), need);
        if (!r) {
            if (r.error().code == Errc::again) {
                if (!armed_) {
                    auto w = loop_->on_writable(io_->watch(), [this] { pump(); });
                    if (!w) break;
                    armed_ = true;
                    ++hub_->stats_.behind;
                }
                return;
            }
            break;
        }
        offset_ += uint32_t(*r);
        if (offset_ < b.size() && pin_ == UINT32_MAX) {
            pin_ = slot;  // half written: the slot must outlive its place in the window
            ++hub_->slots_[slot].pins;
        }
    }
    if (armed_) {
        armed_ = false;
        --hub_->stats_.behind;
        if (io_->is_open()) (void)loop_->on_writable(io_->watch(), nullptr);
    }
    if (pending()) {  // a write failed
        ++hub_->stats_.disconnected;
        fail();
    }
    unlock();
}

void Outbox::fail() {
    if (broken_) return;
    broken_ = true;
    if (hub_) hub_->unsubscribe(*this);
    if (io_ && io_->is_open()) io_->close();
}

void Outbox::leave_hub() {
    if (hub_) hub_->unsubscribe(*this);
}

}  // namespace detail

namespace {

// "<hex>\r\n" chunk framing in front of an SSE event, and "\r\n" after it.
constexpr uint32_t kChunkHead = 10;

// Bytes the SSE form of an event takes (without chunk framing); 0 when a
// field would break the format.
size_t sse_size(std::string_view event, std::string_view data, std::string_view id) {
    for (char c : event)
        if (c == '\r' || c == '\n') return 0;
    for (char c : id)
        if (c == '\r' || c == '\n' || c == 0) return 0;
    size_t n = 0;
    if (!event.empty()) n += 7 + event.size() + 1;  // "event: " name "\n"
    if (!id.empty()) n += 4 + id.size() + 1;         // "id: " id "\n"
    size_t lines = 1, content = 0;
    for (size_t i = 0; i < data.size(); ++i) {
        if (data[i] == '\r' || data[i] == '\n') {
            if (data[i] == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
            ++lines;
        } else {
            ++content;
        }
    }
    return n + lines * 7 + content + 1;  // "data: " line "\n" per line, then the blank line
}

size_t put(uint8_t* at, std::string_view s) {
    std::memcpy(at, s.data(), s.size());
    return s.size();
}

}  // namespace

Hub::Hub(const HubOptions& options) : options_(options) {
    if (options_.backlog == 0 || options_.max_message == 0) {
        error_ = Error(Errc::invalid_argument, "hub: backlog and max_message must be positive");
        return;
    }
    ws_cap_ = options_.max_message + uint32_t(ws::kMaxFrameHeader);
    sse_cap_ = options_.max_message + 256 + kChunkHead + 2;
    slot_bytes_ = (size_t(ws_cap_) + sse_cap_ + 7) & ~size_t(7);
    nslots_ = options_.backlog + options_.spare_slots;
    // Start-up only; the slots' pages are touched as messages fill them.
    memory_ = static_cast<uint8_t*>(std::malloc(slot_bytes_ * nslots_));
    slots_ = static_cast<Slot*>(std::calloc(nslots_, sizeof(Slot)));
    window_ = static_cast<uint32_t*>(std::calloc(options_.backlog, sizeof(uint32_t)));
    free_ = static_cast<uint32_t*>(std::calloc(nslots_, sizeof(uint32_t)));
    if (!memory_ || !slots_ || !window_ || !free_) {
        error_ = Error(Errc::no_memory, "hub: cannot reserve its slots");
        return;
    }
    for (uint32_t i = 0; i < nslots_; ++i) free_[i] = nslots_ - 1 - i;
    free_count_ = nslots_;
}

Hub::~Hub() {
    while (first_) unsubscribe(*first_);
    std::free(memory_);
    std::free(slots_);
    std::free(window_);
    std::free(free_);
}

Result<void> Hub::status() const {
    if (error_.code != Errc::ok) return error_;
    return {};
}

Result<void> Hub::add(detail::Outbox& who, bool with_last) {
    if (error_.code != Errc::ok) return error_;
    if (who.hub_ == this) return {};
    if (who.hub_) return Error(Errc::invalid_argument, "hub: already subscribed to another hub");
    if (who.broken_ || !who.io_ || !who.io_->is_open()) return Error(Errc::closed, "hub: connection closed");
    who.hub_ = this;
    who.prev_ = nullptr;
    who.next_ = first_;
    if (first_) first_->prev_ = &who;
    first_ = &who;
    who.cursor_ = with_last && next_seq_ > 0 ? next_seq_ - 1 : next_seq_;
    who.offset_ = 0;
    ++stats_.subscribers;
    who.start_pump();
    return {};
}

Result<void> Hub::subscribe(WebSocket& ws, bool with_last) {
    if (!ws.is_open()) return Error(Errc::closed, "hub: the WebSocket is closing");
    return add(ws, with_last);
}

Result<void> Hub::subscribe(EventStream& events, bool with_last) {
    if (!events.is_open()) return Error(Errc::closed, "hub: the event stream is closed");
    return add(events, with_last);
}

void Hub::unsubscribe(detail::Outbox& who) {
    if (who.hub_ != this) return;
    if (who.prev_) who.prev_->next_ = who.next_;
    else first_ = who.next_;
    if (who.next_) who.next_->prev_ = who.prev_;
    who.prev_ = who.next_ = nullptr;
    --stats_.subscribers;
    bool pumping = who.armed_;
    bool half = who.offset_ > 0;
    unpin(who);
    who.offset_ = 0;
    who.hub_ = nullptr;
    if (pumping) {
        who.armed_ = false;
        --stats_.behind;
        if (who.io_->is_open()) (void)who.loop_->on_writable(who.io_->watch(), nullptr);
    }
    if (half) who.fail();  // part of a message is on the wire
    if (pumping) who.unlock();
}

uint32_t Hub::slot_for(const detail::Outbox& who) const {
    if (who.pin_ != UINT32_MAX) return who.pin_;
    if (!in_window(who.cursor_)) return UINT32_MAX;
    return window_[who.cursor_ % options_.backlog];
}

void Hub::unpin(detail::Outbox& who) {
    if (who.pin_ == UINT32_MAX) return;
    Slot& s = slots_[who.pin_];
    // A pinned slot that left the window goes back to the free list with its last pin.
    if (--s.pins == 0 && !in_window(s.seq)) free_[free_count_++] = who.pin_;
    who.pin_ = UINT32_MAX;
}

std::span<const uint8_t> Hub::bytes(uint32_t slot, uint8_t format) const {
    const Slot& s = slots_[slot];
    const uint8_t* base = memory_ + slot_bytes_ * slot;
    switch (detail::Outbox::Format(format)) {
    case detail::Outbox::Format::websocket: return {base, s.ws_len};
    case detail::Outbox::Format::sse_chunked: return {base + ws_cap_, s.sse_len};
    case detail::Outbox::Format::sse_plain: return {base + ws_cap_ + s.sse_head, s.sse_len - s.sse_head - 2u};
    }
    return {};
}

Result<void> Hub::publish(std::string_view event, std::string_view data, std::string_view id) {
    if (error_.code != Errc::ok) return error_;
    size_t sse = sse_size(event, data, id);
    if (data.size() > options_.max_message || sse == 0 || sse + kChunkHead + 2 > sse_cap_) {
        ++stats_.refused;
        return Error(Errc::too_large, "hub: message over max_message (or a bad event name or id)");
    }
    uint64_t seq = next_seq_;
    uint32_t w = uint32_t(seq % options_.backlog);
    uint32_t phys;
    if (seq < options_.backlog) {
        phys = free_[--free_count_];
    } else {
        uint32_t leaving = window_[w];  // holds seq - backlog
        if (slots_[leaving].pins == 0) {
            phys = leaving;
        } else if (free_count_ > 0) {
            phys = free_[--free_count_];  // `leaving` stays for its pinners
        } else {
            // Every spare is pinned: whoever is stuck in the leaving message goes.
            for (detail::Outbox* s = first_; s;) {
                detail::Outbox* next = s->next_;
                if (s->pin_ == leaving) {
                    ++stats_.disconnected;
                    s->fail();
                }
                s = next;
            }
            phys = leaving;  // (still in the window while they unpinned it, so not on the free list)
        }
        if (options_.policy == SlowPolicy::disconnect) {
            uint64_t oldest = seq + 1 - options_.backlog;  // the oldest message kept after this one
            for (detail::Outbox* s = first_; s;) {
                detail::Outbox* next = s->next_;
                if (s->cursor_ < oldest) {
                    ++stats_.disconnected;
                    s->fail();
                }
                s = next;
            }
        }
    }
    window_[w] = phys;
    Slot& slot = slots_[phys];
    slot.seq = seq;
    uint8_t* base = memory_ + slot_bytes_ * phys;
    // The WebSocket text frame: server frames are unmasked, so one copy serves everyone.
    size_t hl = ws::encode_frame_header(base, ws::Opcode::text, true, data.size(), nullptr);
    if (!data.empty()) std::memcpy(base + hl, data.data(), data.size());
    slot.ws_len = uint32_t(hl + data.size());
    // The SSE event, behind its chunk size line.
    uint8_t* e = base + ws_cap_;
    char head[kChunkHead + 1];
    int hn = std::snprintf(head, sizeof head, "%zx\r\n", sse);
    std::memcpy(e, head, size_t(hn));
    size_t at = size_t(hn);
    if (!event.empty()) {
        at += put(e + at, "event: ");
        at += put(e + at, event);
        at += put(e + at, "\n");
    }
    if (!id.empty()) {
        at += put(e + at, "id: ");
        at += put(e + at, id);
        at += put(e + at, "\n");
    }
    at += put(e + at, "data: ");
    for (size_t i = 0; i < data.size(); ++i) {
        char c = data[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
            at += put(e + at, "\ndata: ");
        } else {
            e[at++] = uint8_t(c);
        }
    }
    at += put(e + at, "\n\n\r\n");
    slot.sse_head = uint8_t(hn);
    slot.sse_len = uint32_t(at);
    next_seq_ = seq + 1;
    ++stats_.published;
    for (detail::Outbox* s = first_; s;) {
        detail::Outbox* next = s->next_;  // a failing write unsubscribes s
        s->start_pump();
        s = next;
    }
    return {};
}

HubStats Hub::stats() const { return stats_; }

}  // namespace gust
