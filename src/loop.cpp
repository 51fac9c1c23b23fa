#include <gust/loop.hpp>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <new>

#include <gust/frame_pool.hpp>
#include <gust/log.hpp>

#include "port.hpp"

namespace gust {

namespace {
thread_local Loop* t_current = nullptr;
constexpr uint32_t kNone = UINT32_MAX;

// Memory for n slots, none constructed: a slot is built on first use, so
// pages no slot has reached cost address space, not resident memory.
template <typename T>
T* reserve_array(size_t n) {
    return static_cast<T*>(std::malloc(sizeof(T) * (n ? n : 1)));
}
template <typename T>
void free_array(T* a, size_t n) {
    if (!a) return;
    for (size_t i = 0; i < n; ++i) a[i].~T();
    std::free(a);
}
}  // namespace

struct Loop::TimerSlot {
    TimePoint deadline{};
    Duration period{0};
    uint64_t sequence = 0;
    Callback fn;
    uint32_t heap_pos = kNone;  // kNone when not in the heap
    uint32_t next_free = kNone;
    uint32_t generation = 1;
    bool running = false;       // a periodic timer inside its callback
    bool cancelled = false;     // cancelled while running
};

struct Loop::WatchSlot {
    int fd = -1;
    Callback on_readable;
    Callback on_writable;
    uint32_t next_free = kNone;
    uint32_t generation = 1;
    uint32_t readable_version = 1;
    uint8_t registered_events = 0;
    bool in_use = false;
};

struct Loop::Posted {
    Callback fn;
};

ReadyNode::~ReadyNode() {
    if (loop) loop->unschedule(*this);
}

Loop::Loop(const Limits& limits) : limits_(limits) {
    previous_current_ = t_current;
    t_current = this;
    loop_thread_ = std::this_thread::get_id();
    ready_head_.prev = ready_head_.next = &ready_head_;
    detached_head_.prev = detached_head_.next = &detached_head_;
    update_now();
    port::ignore_sigpipe();

    if (!FramePool::local().configure(limits_.frame_counts))
        log_warn("loop: frame pool kept its old size (frames still in use)");

    switch (limits_.poller) {
    case PollerKind::poll: poller_ = port::poller_poll_create(limits_.max_watches); break;
    case PollerKind::select: poller_ = port::poller_select_create(limits_.max_watches); break;
    case PollerKind::epoll: poller_ = port::poller_epoll_create(limits_.max_watches); break;
    }
    timers_ = reserve_array<TimerSlot>(limits_.max_timers);
    // Raw memory: heap entries and fired events are written before they are
    // read, and a posted callback is built in its slot by post() and destroyed
    // once run, so none of these pages is touched before it is needed.
    heap_ = reserve_array<uint32_t>(limits_.max_timers);
    watches_ = reserve_array<WatchSlot>(limits_.max_watches);
    fired_ = reserve_array<port::Fired>(limits_.max_watches);
    posted_ = reserve_array<Posted>(limits_.post_queue);
    wake_ = new (std::nothrow) port::WakeFd();
    if (!poller_) {
        init_error_ = Error(Errc::not_supported, "loop: the chosen poller is not available here");
        return;
    }
    if (!timers_ || !heap_ || !watches_ || !fired_ || !posted_ || !wake_) {
        init_error_ = Error(Errc::no_memory, "loop: cannot reserve its pools");
        return;
    }

    auto w = port::wake_open();
    if (!w) {
        init_error_ = w.error();
        return;
    }
    *wake_ = *w;
    auto id = add_watch(wake_->read_fd);
    if (!id) {
        init_error_ = id.error();
        return;
    }
    wake_watch_ = *id;
    (void)on_readable(wake_watch_, [this] {
        port::wake_drain(*wake_);
        run_posted();
    });
}

Loop::~Loop() {
    // Detached tasks still suspended are destroyed first: their awaiters
    // unregister from the structures below while those still exist.
    while (detached_head_.next != &detached_head_) {
        DetachedNode* n = detached_head_.next;
        release_detached(*n);
        std::coroutine_handle<>::from_address(n->frame).destroy();
    }
    {
        std::lock_guard<std::mutex> lock(post_mutex_);
        post_closed_ = true;
    }
    post_space_.notify_all();
    while (ready_head_.next != &ready_head_) unschedule(*ready_head_.next);
    if (wake_watch_) remove_watch(wake_watch_);
    if (wake_) port::wake_close(*wake_);
    delete wake_;
    delete poller_;
    free_array(timers_, timers_made_);
    std::free(heap_);
    free_array(watches_, watches_made_);
    std::free(fired_);
    if (posted_)
        for (uint32_t i = 0; i < post_count_; ++i) posted_[(post_head_ + i) % limits_.post_queue].~Posted();
    std::free(posted_);
    if (t_current == this) t_current = previous_current_;
}

Loop* Loop::current() { return t_current; }

const char* Loop::poller_name() const { return poller_ ? poller_->name() : "none"; }

void Loop::update_now() { now_ = Clock::now(); }

// ---- Running ------------------------------------------------------------------

int Loop::run() {
    if (init_error_.code != Errc::ok) {
        log_error("loop: %s", init_error_.message);
        return 1;
    }
    t_current = this;
    loop_thread_ = std::this_thread::get_id();
    stop_requested_.store(false);
    port::catch_stop_signals(&signal_caught_, wake_);
    while (!stop_requested_.load(std::memory_order_relaxed)) run_once();
    port::catch_stop_signals(nullptr, nullptr);
    return 0;
}

void Loop::stop() {
    stop_requested_.store(true);
    if (wake_ && wake_->write_fd >= 0) port::wake_signal(*wake_);
}

bool Loop::run_until(InplaceFunction<bool()> done, Duration limit) {
    if (init_error_.code != Errc::ok) return false;
    update_now();
    TimePoint end = now_ + limit;
    // `done` may watch another thread (a test's client), which does not wake
    // the loop: look again every 10 ms of real time.
    const Duration slice = port::fake_clock_enabled() ? limit : Duration(std::chrono::milliseconds(10));
    while (!done()) {
        if (now_ >= end) return false;
        run_once(std::min(end - now_, slice));
    }
    return true;
}

int Loop::poll_timeout_ms() {
    if (ready_head_.next != &ready_head_ || post_pending_.load(std::memory_order_acquire) != 0 || signal_caught_)
        return 0;
    if (heap_size_ == 0) return -1;
    Duration wait = timers_[heap_[0]].deadline - now_;
    if (wait <= Duration(0)) return 0;
    auto ms = (wait.count() + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : int(ms);
}

void Loop::run_once(Duration max_wait) {
    update_now();
    int timeout = poll_timeout_ms();
    bool fake = port::fake_clock_enabled();
    if (max_wait >= Duration(0)) {
        auto cap = (max_wait.count() + 999999) / 1000000;
        if (timeout < 0 || cap < timeout) timeout = int(cap > INT_MAX ? INT_MAX : cap);
    }
    // With the fake clock, time jumps instead of passing: poll without waiting
    // whenever a deadline exists. Only a loop with nothing timed blocks for real.
    if (fake && timeout > 0) timeout = 0;
    auto fired = poller_->wait(timeout, std::span<port::Fired>(fired_, limits_.max_watches));
    if (!fired) log_error("loop: %s wait failed: %s", poller_->name(), fired.error().message);
    size_t n = fired ? *fired : 0;
    if (fake && n == 0 && ready_head_.next == &ready_head_ && post_pending_.load() == 0) {
        int64_t jump = -1;
        if (heap_size_) jump = (timers_[heap_[0]].deadline - now_).count();
        if (max_wait >= Duration(0) && (jump < 0 || max_wait.count() < jump)) jump = max_wait.count();
        if (jump > 0) port::fake_clock_advance(jump);
    }
    update_now();
    dispatch(n);
    run_timers();
    if (post_pending_.load(std::memory_order_acquire)) run_posted();
    // Last, so whatever this turn made ready runs before run_once() returns
    // and callers (run_until) see its effects without another wait.
    run_ready();
    check_signals();
}

void Loop::check_signals() {
    if (!signal_caught_) return;
    int sig = signal_caught_;
    signal_caught_ = 0;
    log_info("loop: signal %d, stopping", sig);
    if (stop_signal_handler_) stop_signal_handler_();
    else stop();
}

// ---- Ready queue ----------------------------------------------------------------

void Loop::schedule(ReadyNode& node) {
    if (node.loop) return;
    node.loop = this;
    node.prev = ready_head_.prev;
    node.next = &ready_head_;
    ready_head_.prev->next = &node;
    ready_head_.prev = &node;
}

void Loop::unschedule(ReadyNode& node) {
    if (!node.loop) return;
    node.prev->next = node.next;
    node.next->prev = node.prev;
    node.prev = node.next = nullptr;
    node.loop = nullptr;
}

void Loop::run_ready() {
    // Only what is queued now runs this turn; work it queues waits for the next,
    // so a busy coroutine cannot starve I/O.
    ReadyNode* last = ready_head_.prev;
    while (ready_head_.next != &ready_head_) {
        ReadyNode* n = ready_head_.next;
        bool was_last = n == last;
        unschedule(*n);
        n->run(n);
        if (was_last) break;
    }
}

void Loop::adopt_detached(DetachedNode& node) {
    node.prev = detached_head_.prev;
    node.next = &detached_head_;
    detached_head_.prev->next = &node;
    detached_head_.prev = &node;
}

void Loop::release_detached(DetachedNode& node) {
    if (!node.prev) return;
    node.prev->next = node.next;
    node.next->prev = node.prev;
    node.prev = node.next = nullptr;
}

// ---- Timers: a binary heap of slot indices; ties keep scheduling order --------

bool Loop::heap_less(uint32_t a, uint32_t b) const {
    const TimerSlot& x = timers_[heap_[a]];
    const TimerSlot& y = timers_[heap_[b]];
    return x.deadline < y.deadline || (x.deadline == y.deadline && x.sequence < y.sequence);
}

void Loop::heap_up(uint32_t pos) {
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!heap_less(pos, parent)) break;
        std::swap(heap_[pos], heap_[parent]);
        timers_[heap_[pos]].heap_pos = pos;
        timers_[heap_[parent]].heap_pos = parent;
        pos = parent;
    }
}

void Loop::heap_down(uint32_t pos) {
    for (;;) {
        uint32_t l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < heap_size_ && heap_less(l, m)) m = l;
        if (r < heap_size_ && heap_less(r, m)) m = r;
        if (m == pos) break;
        std::swap(heap_[pos], heap_[m]);
        timers_[heap_[pos]].heap_pos = pos;
        timers_[heap_[m]].heap_pos = m;
        pos = m;
    }
}

void Loop::heap_push(uint32_t slot) {
    uint32_t pos = heap_size_++;
    heap_[pos] = slot;
    timers_[slot].heap_pos = pos;
    timers_[slot].sequence = timer_sequence_++;
    heap_up(pos);
}

void Loop::heap_remove(uint32_t pos) {
    uint32_t slot = heap_[pos];
    timers_[slot].heap_pos = kNone;
    --heap_size_;
    if (pos == heap_size_) return;
    heap_[pos] = heap_[heap_size_];
    timers_[heap_[pos]].heap_pos = pos;
    heap_down(pos);
    heap_up(pos);
}

void Loop::free_timer(uint32_t slot) {
    TimerSlot& t = timers_[slot];
    t.fn.reset();
    t.running = t.cancelled = false;
    if (++t.generation == 0) t.generation = 1;
    t.next_free = timer_free_;
    timer_free_ = slot;
}

Result<TimerId> Loop::call_at(TimePoint deadline, Callback fn) {
    uint32_t slot = timer_free_;
    if (slot != kNone) {
        timer_free_ = timers_[slot].next_free;
    } else if (timers_made_ < limits_.max_timers) {
        slot = timers_made_++;
        new (&timers_[slot]) TimerSlot();
    } else {
        return Error(Errc::no_memory, "loop: all timers are in use (raise Limits::max_timers)");
    }
    TimerSlot& t = timers_[slot];
    t.deadline = deadline;
    t.period = Duration(0);
    t.fn = static_cast<Callback&&>(fn);
    heap_push(slot);
    return TimerId{slot, t.generation};
}

Result<TimerId> Loop::call_later(Duration delay, Callback fn) {
    return call_at(now_ + delay, static_cast<Callback&&>(fn));
}

Result<TimerId> Loop::every(Duration period, Callback fn) {
    if (period <= Duration(0)) return Error(Errc::invalid_argument, "loop: every() needs a positive period");
    auto id = call_at(now_ + period, static_cast<Callback&&>(fn));
    if (id) timers_[id->slot].period = period;
    return id;
}

bool Loop::cancel(TimerId id) {
    if (!id || id.slot >= timers_made_) return false;
    TimerSlot& t = timers_[id.slot];
    if (t.generation != id.generation) return false;
    if (t.running) {  // a periodic timer cancelling itself from its callback
        if (t.cancelled) return false;
        t.cancelled = true;
        return true;
    }
    if (t.heap_pos == kNone) return false;
    heap_remove(t.heap_pos);
    free_timer(id.slot);
    return true;
}

void Loop::run_timers() {
    // Timers that a callback schedules for "now" wait for the next turn, so a
    // zero-delay chain cannot keep the loop from polling.
    uint64_t sequence_limit = timer_sequence_;
    while (heap_size_ && timers_[heap_[0]].deadline <= now_ && timers_[heap_[0]].sequence < sequence_limit) {
        uint32_t slot = heap_[0];
        TimerSlot& t = timers_[slot];
        heap_remove(0);
        if (t.period == Duration(0)) {
            Callback fn = static_cast<Callback&&>(t.fn);
            free_timer(slot);
            fn();
            continue;
        }
        t.running = true;
        t.fn();
        t.running = false;
        if (t.cancelled) {
            free_timer(slot);
            continue;
        }
        // Fixed rate, but a late loop does not fire a burst to catch up.
        t.deadline += t.period;
        if (t.deadline <= now_) t.deadline = now_ + t.period;
        heap_push(slot);
    }
}

// ---- File descriptors -----------------------------------------------------------

Loop::WatchSlot* Loop::find_watch(WatchId id) {
    if (!id || id.slot >= watches_made_) return nullptr;
    WatchSlot& w = watches_[id.slot];
    return w.in_use && w.generation == id.generation ? &w : nullptr;
}

uint8_t Loop::wanted_events(const WatchSlot& w) const {
    return uint8_t((w.on_readable ? port::kReadable : 0) | (w.on_writable ? port::kWritable : 0));
}

Result<WatchId> Loop::add_watch(int fd) {
    if (fd < 0) return Error(Errc::invalid_argument, "loop: add_watch needs an open fd");
    uint32_t slot = watch_free_;
    if (slot == kNone) {
        if (watches_made_ == limits_.max_watches)
            return Error(Errc::no_memory, "loop: all fd watches are in use (raise Limits::max_watches)");
        // Built and put on the free list first, so a refused add leaves it there.
        slot = watches_made_++;
        new (&watches_[slot]) WatchSlot();
        watches_[slot].next_free = kNone;
        watch_free_ = slot;
    }
    WatchSlot& w = watches_[slot];
    auto r = poller_->add(fd, slot, 0);
    if (!r) return r.error();
    watch_free_ = w.next_free;
    w.fd = fd;
    w.in_use = true;
    w.registered_events = 0;
    ++watches_used_;
    return WatchId{slot, w.generation};
}

// Interest is dropped lazily: clearing a callback leaves the poller armed until
// an unwanted event actually fires, so a coroutine that waits, reads and waits
// again costs no poller call per wait.
Result<void> Loop::update_interest(uint32_t slot) {
    WatchSlot& w = watches_[slot];
    uint8_t ev = wanted_events(w);
    if ((ev & ~w.registered_events) == 0) return {};
    ev |= w.registered_events;
    auto r = poller_->modify(w.fd, slot, ev);
    if (r) w.registered_events = ev;
    return r;
}

Result<void> Loop::on_readable(WatchId id, Callback fn) {
    WatchSlot* w = find_watch(id);
    if (!w) return Error(Errc::invalid_argument, "loop: unknown watch");
    w->on_readable = static_cast<Callback&&>(fn);
    if (++w->readable_version == 0) w->readable_version = 1;
    return update_interest(id.slot);
}

uint32_t Loop::readable_version(WatchId id) const {
    if (!id || id.slot >= watches_made_) return 0;
    const WatchSlot& w = watches_[id.slot];
    return w.in_use && w.generation == id.generation ? w.readable_version : 0;
}

Result<void> Loop::on_writable(WatchId id, Callback fn) {
    WatchSlot* w = find_watch(id);
    if (!w) return Error(Errc::invalid_argument, "loop: unknown watch");
    w->on_writable = static_cast<Callback&&>(fn);
    return update_interest(id.slot);
}

void Loop::remove_watch(WatchId id) {
    WatchSlot* w = find_watch(id);
    if (!w) return;
    poller_->remove(w->fd, id.slot);
    w->on_readable.reset();
    if (++w->readable_version == 0) w->readable_version = 1;
    w->on_writable.reset();
    w->fd = -1;
    w->in_use = false;
    if (++w->generation == 0) w->generation = 1;
    w->next_free = watch_free_;
    watch_free_ = id.slot;
    --watches_used_;
    // Events already reported for this slot must not reach whoever reuses it.
    for (size_t i = 0; i < fired_count_; ++i)
        if (fired_[i].token == id.slot) fired_[i].events = 0;
}

void Loop::dispatch(size_t n) {
    fired_count_ = n;
    for (size_t i = 0; i < n; ++i) {
        uint32_t slot = fired_[i].token;
        uint8_t ev = fired_[i].events;
        if (!ev || slot >= watches_made_) continue;
        WatchSlot& w = watches_[slot];
        if (!w.in_use) continue;
        uint32_t gen = w.generation;
        // An error wakes both directions so each side sees it on its next call.
        if ((ev & (port::kReadable | port::kError)) && w.on_readable) w.on_readable();
        if (!w.in_use || w.generation != gen || !fired_[i].events) continue;
        if ((ev & (port::kWritable | port::kError)) && w.on_writable) w.on_writable();
        if (w.in_use && w.generation == gen && (w.registered_events & ~wanted_events(w))) {
            uint8_t want = wanted_events(w);
            if (poller_->modify(w.fd, slot, want)) w.registered_events = want;
        }
    }
    fired_count_ = 0;
}

// ---- post() -------------------------------------------------------------------------

Result<void> Loop::post_impl(Callback fn, bool may_wait) {
    bool on_loop = std::this_thread::get_id() == loop_thread_;
    bool was_empty;
    {
        std::unique_lock<std::mutex> lock(post_mutex_);
        if (!on_loop && may_wait)
            post_space_.wait(lock, [this] { return post_closed_ || post_count_ < limits_.post_queue; });
        if (post_closed_) return Error(Errc::closed, "loop: post() after the loop was destroyed");
        if (post_count_ >= limits_.post_queue)
            return Error(Errc::no_memory, "loop: post queue full (raise Limits::post_queue)");
        new (&posted_[(post_head_ + post_count_) % limits_.post_queue]) Posted{static_cast<Callback&&>(fn)};
        was_empty = post_count_++ == 0;
        post_pending_.store(post_count_, std::memory_order_release);
    }
    if (was_empty && !on_loop) port::wake_signal(*wake_);
    return {};
}

void Loop::run_posted() {
    uint32_t head, n;
    {
        std::lock_guard<std::mutex> lock(post_mutex_);
        head = post_head_;
        n = post_count_;
    }
    // Producers only write past head+n, so these slots are ours without the lock.
    for (uint32_t i = 0; i < n; ++i) {
        Posted& p = posted_[(head + i) % limits_.post_queue];
        p.fn();
        p.~Posted();
    }
    {
        std::lock_guard<std::mutex> lock(post_mutex_);
        post_head_ = (head + n) % limits_.post_queue;
        post_count_ -= n;
        post_pending_.store(post_count_, std::memory_order_release);
    }
    if (n) post_space_.notify_all();
}

// ---- Awaitables -----------------------------------------------------------------------

SleepAwaiter::~SleepAwaiter() {
    if (timer_ && loop_) loop_->cancel(timer_);
}

bool SleepAwaiter::await_suspend(std::coroutine_handle<> h) {
    loop_ = Loop::current();
    if (!loop_) {
        error_ = Error(Errc::invalid_argument, "sleep: no loop on this thread");
        return false;
    }
    auto id = loop_->call_later(delay_, [this, h] {
        timer_ = TimerId();
        h.resume();
    });
    if (!id) {
        error_ = id.error();
        return false;
    }
    timer_ = *id;
    return true;
}

FdAwaiter::~FdAwaiter() {
    if (armed_ && loop_) {
        if (writable_) (void)loop_->on_writable(id_, nullptr);
        else (void)loop_->on_readable(id_, nullptr);
    }
}

bool FdAwaiter::await_suspend(std::coroutine_handle<> h) {
    loop_ = Loop::current();
    if (!loop_) {
        error_ = Error(Errc::invalid_argument, "wait: no loop on this thread");
        return false;
    }
    auto fire = [this, h] {
        // Clearing the interest destroys this lambda: copy what is needed first.
        FdAwaiter* self = this;
        std::coroutine_handle<> handle = h;
        self->armed_ = false;
        if (self->writable_) (void)self->loop_->on_writable(self->id_, nullptr);
        else (void)self->loop_->on_readable(self->id_, nullptr);
        handle.resume();
    };
    auto r = writable_ ? loop_->on_writable(id_, fire) : loop_->on_readable(id_, fire);
    if (!r) {
        error_ = r.error();
        return false;
    }
    armed_ = true;
    return true;
}

}  // namespace gust
