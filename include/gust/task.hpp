// gust::Task<T>: a lazy, stackless C++20 coroutine (cppcoro's task shape).
// It starts when awaited, resumes its awaiter by symmetric transfer (no stack
// growth), is move-only, and destroying it destroys its frame: that is how
// work is cancelled, and every gust awaiter unregisters itself when destroyed.
//
// Frames come from this thread's FramePool. When the pool is exhausted the
// Task is empty and awaiting it yields Error(Errc::no_memory); tasks already
// running are untouched.
//
// `co_await task` yields Result<T> (a Task<Result<U>> yields Result<U>, not a
// nested Result), so allocation failure reaches whoever awaits.
#pragma once

#include <coroutine>
#include <cstdlib>
#include <new>
#include <utility>

#include <gust/frame_pool.hpp>
#include <gust/function.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>

namespace gust {

template <typename T = void>
class Task;

namespace detail {

// Storage for a value constructed later (std::optional without the checks).
template <typename R>
class Slot {
public:
    Slot() {}
    ~Slot() { reset(); }
    template <typename... A>
    void emplace(A&&... a) {
        reset();
        new (&value_) R(std::forward<A>(a)...);
        full_ = true;
    }
    void reset() {
        if (full_) value_.~R();
        full_ = false;
    }
    bool full() const { return full_; }
    R& get() { return value_; }
    R take() {
        R r(std::move(value_));
        reset();
        return r;
    }

private:
    union {
        R value_;
    };
    bool full_ = false;
};

inline Error frame_pool_exhausted() {
    return Error(Errc::no_memory, "coroutine frame pool exhausted (raise Limits::frame_counts)");
}

// Frames from the pool; a null return makes the compiler call
// get_return_object_on_allocation_failure() instead of throwing.
struct PooledFrame {
    static void* operator new(size_t size) noexcept { return frame_allocate(size); }
    static void operator delete(void* p, size_t size) noexcept { frame_release(p, size); }
};

struct FinalTransfer {
    std::coroutine_handle<> continuation;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
        return continuation ? continuation : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
};

template <typename T>
struct TaskPromiseBase : PooledFrame {
    using result_type = result_of_t<T>;
    std::coroutine_handle<> continuation;
    Slot<result_type> result;

    std::suspend_always initial_suspend() const noexcept { return {}; }
    FinalTransfer final_suspend() const noexcept { return {continuation}; }
    void unhandled_exception() const noexcept { std::abort(); }
};

template <typename T>
struct TaskPromise : TaskPromiseBase<T> {
    Task<T> get_return_object() noexcept;
    static Task<T> get_return_object_on_allocation_failure() noexcept;
    void return_value(result_of_t<T> v) { this->result.emplace(std::move(v)); }
};

template <>
struct TaskPromise<void> : TaskPromiseBase<void> {
    Task<void> get_return_object() noexcept;
    static Task<void> get_return_object_on_allocation_failure() noexcept;
    void return_void() { result.emplace(); }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
public:
    using promise_type = detail::TaskPromise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    // What `co_await task` yields.
    using result_type = result_of_t<T>;

    Task() = default;
    explicit Task(handle_type h) : handle_(h) {}
    Task(Task&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(o.handle_, nullptr);
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task() {
        if (handle_) handle_.destroy();
    }

    // False when the frame could not be allocated (awaiting gives no_memory).
    explicit operator bool() const { return bool(handle_); }
    // True once the coroutine has finished.
    bool done() const { return !handle_ || handle_.done(); }

    bool await_ready() const noexcept { return !handle_ || handle_.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        handle_.promise().continuation = awaiting;
        return handle_;
    }
    result_type await_resume() {
        if (!handle_) return detail::frame_pool_exhausted();
        return handle_.promise().result.take();
    }

    // Starts the task now, running it until its first suspension; when it
    // finishes it transfers to `continuation` (default: nothing). The Task keeps
    // owning the frame: destroy it (or reassign) once done() or to cancel.
    void start(std::coroutine_handle<> continuation = std::noop_coroutine()) {
        if (!handle_ || handle_.done()) return;
        handle_.promise().continuation = continuation;
        handle_.resume();
    }

    // Releases the frame to the caller (used by spawn).
    handle_type release() { return std::exchange(handle_, nullptr); }

    // Runs this task detached on the current loop and calls `done` with its
    // result (Tornado's add_done_callback). Errc::no_memory if it could not start.
    Result<void> then(InplaceFunction<void(result_type)> done) &&;

private:
    handle_type handle_;
};

namespace detail {

template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
template <typename T>
Task<T> TaskPromise<T>::get_return_object_on_allocation_failure() noexcept {
    return Task<T>();
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object_on_allocation_failure() noexcept {
    return Task<void>();
}

// The root frame of a spawned task: started by the loop on its next turn,
// destroys itself when done, and is tracked by the loop until then.
struct Detached {
    struct promise_type : PooledFrame {
        ResumeNode start;
        DetachedNode node;
        Loop* loop = nullptr;

        Detached get_return_object() noexcept {
            return Detached{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        static Detached get_return_object_on_allocation_failure() noexcept { return Detached{}; }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept { std::abort(); }
        ~promise_type() {
            if (loop) loop->release_detached(node);
        }
    };
    std::coroutine_handle<promise_type> handle;

    void start(Loop& loop) {
        promise_type& p = handle.promise();
        p.loop = &loop;
        p.node.frame = handle.address();
        loop.adopt_detached(p.node);
        p.start.handle = handle;
        loop.schedule(p.start);
    }
};

template <typename T>
Detached run_detached(Task<T> task) {
    (void)co_await task;
}

template <typename T, typename F>
Detached run_detached_then(Task<T> task, F done) {
    done(co_await task);
}

}  // namespace detail

// Starts `task` on `loop`'s next turn, detached: it runs to completion on its own
// (its result is dropped) or is destroyed with the loop. Errc::no_memory when
// the task or its root frame could not be allocated.
template <typename T>
Result<void> spawn(Loop& loop, Task<T> task) {
    if (!task) return detail::frame_pool_exhausted();
    detail::Detached d = detail::run_detached(std::move(task));
    if (!d.handle) return detail::frame_pool_exhausted();
    d.start(loop);
    return {};
}

// Like spawn(), and calls `done(result)` on the loop thread when the task finishes.
template <typename T>
Result<void> spawn(Loop& loop, Task<T> task, InplaceFunction<void(result_of_t<T>)> done) {
    if (!task) return detail::frame_pool_exhausted();
    detail::Detached d = detail::run_detached_then(std::move(task), std::move(done));
    if (!d.handle) return detail::frame_pool_exhausted();
    d.start(loop);
    return {};
}

template <typename T>
Result<void> Task<T>::then(InplaceFunction<void(result_type)> done) && {
    Loop* loop = Loop::current();
    if (!loop) return Error(Errc::invalid_argument, "then: no loop on this thread");
    return spawn(*loop, std::move(*this), std::move(done));
}

}  // namespace gust
