// gust::TimeoutQueue: many timeouts of one fixed duration (a server's idle or
// header timeout) for the price of one loop timer. Entries join at the tail
// with deadline now + duration, so the list stays in deadline order; starting,
// restarting and stopping an entry's timeout are O(1) list moves, and an entry
// is three words embedded in its owner: no timer slot per connection, no heap
// operation per request.
//
//   struct Conn : TimeoutEntry { ... };
//   TimeoutQueue idle(loop, 60s, [](TimeoutEntry& e, void* server) { ... close static_cast<Conn&>(e) ... }, this);
//   idle.add(conn);              // (re)starts conn's timeout
//   TimeoutQueue::remove(conn);  // stops it (harmless when not queued)
#pragma once

#include <gust/clock.hpp>
#include <gust/loop.hpp>

namespace gust {

// The link an owner embeds (or derives from) to sit in one TimeoutQueue at a time.
struct TimeoutEntry {
    TimeoutEntry* prev = nullptr;
    TimeoutEntry* next = nullptr;
    TimePoint deadline{};
    // True while the entry waits in a queue.
    bool queued() const { return prev != nullptr; }
    TimeoutEntry() = default;
    TimeoutEntry(const TimeoutEntry&) = delete;
    TimeoutEntry& operator=(const TimeoutEntry&) = delete;
};

class TimeoutQueue {
public:
    // Called on the loop thread for each entry whose deadline passed; the entry is
    // already out of the queue. `context` is the pointer given to the constructor.
    using Expire = void (*)(TimeoutEntry& entry, void* context);

    // A queue whose entries time out `timeout` after add(). Holds no loop timer until an entry joins.
    TimeoutQueue(Loop& loop, Duration timeout, Expire expire, void* context);
    // Leaves queued entries unlinked and cancels the loop timer.
    ~TimeoutQueue();
    TimeoutQueue(const TimeoutQueue&) = delete;
    TimeoutQueue& operator=(const TimeoutQueue&) = delete;

    // Starts (or restarts) `e`'s timeout: out of whatever queue it was in, to this one's tail.
    // Errc::no_memory when the loop had no timer for an empty queue's first entry (e is not queued then).
    Result<void> add(TimeoutEntry& e);
    // Stops `e`'s timeout; harmless when it is not queued.
    static void remove(TimeoutEntry& e) {
        if (!e.prev) return;
        e.prev->next = e.next;
        e.next->prev = e.prev;
        e.prev = e.next = nullptr;
    }
    // The duration every entry gets.
    Duration timeout() const { return timeout_; }
    // True when no entry waits.
    bool empty() const { return head_.next == &head_; }

private:
    Result<void> arm(TimePoint at);
    void fire();

    Loop& loop_;
    Duration timeout_;
    Expire expire_;
    void* context_;
    TimeoutEntry head_;  // sentinel of a circular list, oldest first
    TimerId timer_;      // armed while entries wait; may fire early (its entry left), then re-arms
};

}  // namespace gust
