#include <gust/timeout_queue.hpp>

namespace gust {

TimeoutQueue::TimeoutQueue(Loop& loop, Duration timeout, Expire expire, void* context)
    : loop_(loop), timeout_(timeout), expire_(expire), context_(context) {
    head_.prev = head_.next = &head_;
}

TimeoutQueue::~TimeoutQueue() {
    while (!empty()) remove(*head_.next);
    if (timer_) loop_.cancel(timer_);
}

Result<void> TimeoutQueue::add(TimeoutEntry& e) {
    remove(e);
    e.deadline = loop_.now() + timeout_;
    // The loop's time never goes back, so the tail is the latest deadline.
    // An armed timer is left alone even when its entry has gone: firing early
    // costs one wake-up per timeout period, re-arming costs a heap operation per add.
    if (!timer_) {
        if (auto r = arm(e.deadline); !r) return r;
    }
    e.prev = head_.prev;
    e.next = &head_;
    head_.prev->next = &e;
    head_.prev = &e;
    return {};
}

Result<void> TimeoutQueue::arm(TimePoint at) {
    auto t = loop_.call_at(at, [this] { fire(); });
    if (!t) return t.error();
    timer_ = *t;
    return {};
}

void TimeoutQueue::fire() {
    timer_ = TimerId();
    TimePoint now = loop_.now();
    // expire_ may remove or add other entries (closing a connection): take
    // the head afresh each time.
    while (!empty() && head_.next->deadline <= now) {
        TimeoutEntry& e = *head_.next;
        remove(e);
        expire_(e, context_);
    }
    // With no timer left, the remaining entries would never expire: a failed
    // re-arm expires them now rather than holding them forever.
    while (!empty() && !timer_ && !arm(head_.next->deadline)) {
        TimeoutEntry& e = *head_.next;
        remove(e);
        expire_(e, context_);
    }
}

}  // namespace gust
