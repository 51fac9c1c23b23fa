// gust::Loop: one thread's event loop. It waits on a poller (poll, select or
// epoll), then dispatches ready fds, runs due timers, runs callbacks posted
// from other threads and resumes ready coroutines, in that order on every turn
// (redis's aeProcessEvents shape: nearest timer -> timeout -> poll -> dispatch
// fds -> timers -> posted work -> ready coroutines).
// Every structure is sized once from gust::Limits; running out is an error value.
// All members are loop-thread only, except post() and stop().
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <mutex>
#include <thread>

#include <gust/clock.hpp>
#include <gust/function.hpp>
#include <gust/limits.hpp>
#include <gust/result.hpp>

namespace gust {

namespace port { class Poller; struct Fired; struct WakeFd; }
class Executor;

// Names a timer; default-constructed means "none". Stale ids are harmless.
struct TimerId {
    uint32_t slot = 0;
    uint32_t generation = 0;  // 0 = none
    explicit operator bool() const { return generation != 0; }
};

// Names an fd registration; default-constructed means "none".
struct WatchId {
    uint32_t slot = 0;
    uint32_t generation = 0;
    explicit operator bool() const { return generation != 0; }
};

// An intrusive node in the loop's ready queue: the owner embeds it, sets `run`,
// and must call Loop::unschedule() (or let ~ReadyNode do it) before it dies.
struct ReadyNode {
    ReadyNode* prev = nullptr;
    ReadyNode* next = nullptr;
    void (*run)(ReadyNode*) = nullptr;
    class Loop* loop = nullptr;  // set while queued
    bool queued() const { return loop != nullptr; }
    ReadyNode() = default;
    ReadyNode(const ReadyNode&) = delete;
    ReadyNode& operator=(const ReadyNode&) = delete;
    ~ReadyNode();
};

// A ReadyNode that resumes a coroutine when it runs.
struct ResumeNode : ReadyNode {
    std::coroutine_handle<> handle;
    ResumeNode() { run = [](ReadyNode* n) { static_cast<ResumeNode*>(n)->handle.resume(); }; }
};

// Links a detached task into its loop, so ~Loop can destroy tasks still suspended.
struct DetachedNode {
    DetachedNode* prev = nullptr;
    DetachedNode* next = nullptr;
    void* frame = nullptr;  // the coroutine frame ~Loop destroys
};

class Loop {
public:
    // Sizes all structures from `limits`. Check ok() (or run()'s return) for failure.
    explicit Loop(const Limits& limits = Limits());
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    // Success, or why construction failed (no memory, poller unavailable).
    Result<void> status() const { return init_error_.code == Errc::ok ? Result<void>() : Result<void>(init_error_); }
    // The loop created last on this thread (or running on it); nullptr if none.
    static Loop* current();
    // The limits this loop was sized with.
    const Limits& limits() const { return limits_; }
    // "poll", "select" or "epoll".
    const char* poller_name() const;

    // Runs until stop(); returns 0, or 1 when the loop could not start.
    // SIGINT/SIGTERM call the stop-signal handler (default: stop()).
    int run();
    // Runs one turn, waiting at most `max_wait` (negative: until something happens).
    void run_once(Duration max_wait = Duration(-1));
    // Runs until `done` returns true or `limit` passes on the loop clock (tests).
    // `done` is looked at after every turn and at least every 10 ms, so it may
    // watch another thread.
    bool run_until(InplaceFunction<bool()> done, Duration limit);
    // Makes run() return after the current turn. Thread-safe.
    void stop();
    // True once stop() was called and until run() starts again.
    bool stopping() const { return stop_requested_.load(std::memory_order_relaxed); }
    // Replaces what SIGINT/SIGTERM do while run() is running (graceful drain, then stop()).
    void on_stop_signal(Callback handler) { stop_signal_handler_ = static_cast<Callback&&>(handler); }

    // ---- Timers ------------------------------------------------------------
    // The loop's time (cached per turn; advances with the fake clock in tests).
    TimePoint now() const { return now_; }
    // Runs `fn` once at `deadline`; Errc::no_memory when max_timers are pending.
    Result<TimerId> call_at(TimePoint deadline, Callback fn);
    // Runs `fn` once after `delay`.
    Result<TimerId> call_later(Duration delay, Callback fn);
    // Runs `fn` every `period` (first after one period) until cancelled.
    Result<TimerId> every(Duration period, Callback fn);
    // Runs `fn` on the next turn (a zero-delay timer).
    Result<TimerId> call_soon(Callback fn) { return call_later(Duration(0), static_cast<Callback&&>(fn)); }
    // Cancels a pending timer; returns false if it already ran or was cancelled.
    bool cancel(TimerId id);
    // Pending timers.
    uint32_t timers_pending() const { return heap_size_; }

    // ---- File descriptors ---------------------------------------------------
    // Starts watching `fd` (initially for nothing); Errc::no_memory when full.
    Result<WatchId> add_watch(int fd);
    // Calls `fn` while `fd` is readable (level-triggered); an empty fn stops it.
    Result<void> on_readable(WatchId id, Callback fn);
    // Changes whenever the watch's readable callback is set, cleared or the watch
    // removed (never 0 for a live watch; 0 for an unknown one). An owner that
    // installed a callback can tell from it whether that callback is still there.
    uint32_t readable_version(WatchId id) const;
    // Calls `fn` while `fd` is writable; an empty fn stops it.
    Result<void> on_writable(WatchId id, Callback fn);
    // Stops watching; call before closing the fd. Pending events for it are dropped.
    void remove_watch(WatchId id);
    // Watches in use.
    uint32_t watches_in_use() const { return watches_used_; }

    // ---- Cross-thread ----------------------------------------------------------
    // Queues `fn` to run on the loop thread, in order per posting thread, and
    // wakes the loop. From another thread it waits while the queue is full; on the
    // loop thread a full queue gives Errc::no_memory; after ~Loop begins, Errc::closed.
    Result<void> post(Callback fn) { return post_impl(static_cast<Callback&&>(fn), true); }
    // Like post(), but never waits: a full queue gives Errc::no_memory on any thread.
    Result<void> try_post(Callback fn) { return post_impl(static_cast<Callback&&>(fn), false); }

    // ---- Coroutine plumbing ----------------------------------------------------
    // Queues `node` to run on the next turn (no allocation; the node is the storage).
    void schedule(ReadyNode& node);
    // Removes a queued node; harmless if not queued.
    void unschedule(ReadyNode& node);

    // The executor run_blocking() uses on this loop (set by Executor).
    Executor* executor() const { return executor_; }
    // Changes on every set_executor(), so late callbacks can tell their executor is gone.
    uint64_t executor_epoch() const { return executor_epoch_; }
    void set_executor(Executor* e) {
        executor_ = e;
        ++executor_epoch_;
    }

    // Called by Task when a detached task starts and finishes (so ~Loop can destroy survivors).
    void adopt_detached(DetachedNode& node);
    void release_detached(DetachedNode& node);

private:
    struct TimerSlot;
    struct WatchSlot;
    struct Posted;

    Result<void> post_impl(Callback fn, bool may_wait);
    void update_now();
    int poll_timeout_ms();
    void dispatch(size_t fired);
    void run_timers();
    void run_ready();
    void run_posted();
    void check_signals();
    uint8_t wanted_events(const WatchSlot& w) const;
    Result<void> update_interest(uint32_t slot);
    void heap_push(uint32_t slot);
    void heap_remove(uint32_t pos);
    void heap_up(uint32_t pos);
    void heap_down(uint32_t pos);
    bool heap_less(uint32_t a, uint32_t b) const;
    void free_timer(uint32_t slot);
    WatchSlot* find_watch(WatchId id);

    Limits limits_;
    Error init_error_;
    TimePoint now_{};

    port::Poller* poller_ = nullptr;
    port::Fired* fired_ = nullptr;
    size_t fired_count_ = 0;  // entries of fired_ being dispatched

    TimerSlot* timers_ = nullptr;
    uint32_t* heap_ = nullptr;  // slot indices ordered by (deadline, sequence)
    uint32_t heap_size_ = 0;
    uint32_t timer_free_ = UINT32_MAX;
    uint32_t timers_made_ = 0;  // slots constructed so far; the rest are untouched memory
    uint64_t timer_sequence_ = 0;

    WatchSlot* watches_ = nullptr;
    uint32_t watch_free_ = UINT32_MAX;
    uint32_t watches_made_ = 0;
    uint32_t watches_used_ = 0;

    ReadyNode ready_head_;  // sentinel of a circular list
    DetachedNode detached_head_;

    Posted* posted_ = nullptr;  // ring of post_queue callbacks
    std::mutex post_mutex_;
    std::condition_variable post_space_;
    uint32_t post_head_ = 0, post_count_ = 0;
    std::atomic<uint32_t> post_pending_{0};
    bool post_closed_ = false;

    port::WakeFd* wake_ = nullptr;
    WatchId wake_watch_;
    std::thread::id loop_thread_;
    std::atomic<bool> stop_requested_{false};
    volatile int signal_caught_ = 0;
    Callback stop_signal_handler_;
    Executor* executor_ = nullptr;
    uint64_t executor_epoch_ = 0;
    Loop* previous_current_ = nullptr;
};

// ---- Awaitables on the current loop -------------------------------------------

// co_await sleep(10ms): resumes after `delay`, blocking nothing. Result is
// Errc::no_memory when no timer is free. Destroying the waiting coroutine cancels the timer.
class [[nodiscard]] SleepAwaiter {
public:
    explicit SleepAwaiter(Duration delay) : delay_(delay) {}
    SleepAwaiter(SleepAwaiter&& o) : delay_(o.delay_) {}
    ~SleepAwaiter();
    bool await_ready() const { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    Result<void> await_resume() const { return error_.code == Errc::ok ? Result<void>() : Result<void>(error_); }

private:
    Duration delay_;
    TimerId timer_;
    Loop* loop_ = nullptr;
    Error error_;
};
inline SleepAwaiter sleep(Duration delay) { return SleepAwaiter(delay); }

// co_await wait_readable(id) / wait_writable(id): resumes once the watched fd is ready.
// Destroying the waiting coroutine removes the interest.
class [[nodiscard]] FdAwaiter {
public:
    FdAwaiter(WatchId id, bool writable) : id_(id), writable_(writable) {}
    FdAwaiter(FdAwaiter&& o) : id_(o.id_), writable_(o.writable_) {}
    ~FdAwaiter();
    bool await_ready() const { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    Result<void> await_resume() const { return error_.code == Errc::ok ? Result<void>() : Result<void>(error_); }

private:
    WatchId id_;
    bool writable_;
    bool armed_ = false;
    Loop* loop_ = nullptr;
    Error error_;
};
inline FdAwaiter wait_readable(WatchId id) { return FdAwaiter(id, false); }
inline FdAwaiter wait_writable(WatchId id) { return FdAwaiter(id, true); }

}  // namespace gust
