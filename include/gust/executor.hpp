// gust::Executor: a fixed set of worker threads for blocking work (password
// hashing, flash writes, SQLite) so the loop never blocks, Tornado's
// run_in_executor. `co_await run_blocking(fn)` runs fn on a worker and resumes
// the coroutine on the loop thread with fn's result (as a Result).
// Jobs live in a fixed table sized at construction; a full table is
// Errc::no_memory, never a wait on the loop thread. A coroutine destroyed while
// its job runs is never resumed: the job finishes and its result is dropped.
#pragma once

#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>

#include <gust/function.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>

namespace gust {

// Bytes a job's callable may capture, and bytes its result may take.
inline constexpr size_t kJobCapture = 64;
inline constexpr size_t kJobResult = 64;

class Executor {
public:
    struct Job;

    // Starts `threads` workers with room for `queue` jobs; registers itself as
    // `loop`'s executor for run_blocking(). Check status().
    Executor(Loop& loop, uint32_t threads, uint32_t queue);
    // Uses the loop's Limits (executor_threads, executor_queue).
    explicit Executor(Loop& loop) : Executor(loop, loop.limits().executor_threads, loop.limits().executor_queue) {}
    // Waits for running jobs, drops queued ones, joins the workers.
    ~Executor();
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    Result<void> status() const { return error_.code == Errc::ok ? Result<void>() : Result<void>(error_); }
    Loop& loop() const { return loop_; }

    // ---- used by run_blocking's awaiter -------------------------------------
    struct Waiter {
        std::coroutine_handle<> handle;
        void* owner = nullptr;
        void (*take)(void* owner, Job&) = nullptr;  // moves the result out of the job
    };
    struct Job {
        InplaceFunction<void(void*), kJobCapture> work;  // constructs the result in `result`
        void (*destroy_result)(void*) = nullptr;
        alignas(std::max_align_t) unsigned char result[kJobResult];
        Waiter* waiter = nullptr;  // null once the coroutine is gone
        uint32_t next = 0;
        bool done = false;
    };
    // Claims a job slot; nullptr when the table is full.
    Job* claim();
    // Queues a claimed job for the workers.
    void submit(Job* job);
    // The coroutine waiting on `job` is gone: drop its result when it finishes.
    void abandon(Job* job) { job->waiter = nullptr; }

private:
    void worker();
    void hand_back(Job* job);  // on a worker
    void finish(Job* job);     // on the loop thread
    void release(Job* job);

    Loop& loop_;
    Error error_;
    Job* jobs_ = nullptr;
    uint32_t capacity_ = 0;
    uint32_t free_ = UINT32_MAX;  // loop-thread free list of job slots
    uint32_t jobs_made_ = 0;      // slots built so far; the rest is untouched memory
    std::thread* threads_ = nullptr;
    uint32_t thread_count_ = 0;
    std::mutex mutex_;
    std::condition_variable work_ready_;
    uint32_t* queue_ = nullptr;  // ring of job indices
    uint32_t queue_head_ = 0, queue_count_ = 0;
    bool stopping_ = false;
    uint64_t epoch_ = 0;
};

template <typename F>
class [[nodiscard]] BlockingAwaiter {
public:
    using value_type = std::invoke_result_t<F&>;
    using result_type = result_of_t<value_type>;
    static_assert(sizeof(result_type) <= kJobResult, "run_blocking result too large; return a smaller value");
    static_assert(alignof(result_type) <= alignof(std::max_align_t));

    explicit BlockingAwaiter(F fn) : fn_(std::move(fn)) {}
    BlockingAwaiter(BlockingAwaiter&& o) : fn_(std::move(o.fn_)) {}
    ~BlockingAwaiter() {
        if (job_ && executor_) executor_->abandon(job_);
        if (has_result_) result().~result_type();
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        Loop* loop = Loop::current();
        executor_ = loop ? loop->executor() : nullptr;
        if (!executor_) return fail(Error(Errc::not_supported, "run_blocking: no Executor on this loop"));
        job_ = executor_->claim();
        if (!job_) return fail(Error(Errc::no_memory, "run_blocking: executor queue full (raise Limits::executor_queue)"));
        job_->work = [f = std::move(fn_)](void* out) mutable {
            if constexpr (std::is_void_v<value_type>) {
                f();
                new (out) result_type();
            } else {
                new (out) result_type(f());
            }
        };
        job_->destroy_result = [](void* p) { static_cast<result_type*>(p)->~result_type(); };
        waiter_.handle = h;
        waiter_.owner = this;
        waiter_.take = [](void* owner, Executor::Job& job) {
            auto* self = static_cast<BlockingAwaiter*>(owner);
            new (self->storage_) result_type(std::move(*reinterpret_cast<result_type*>(job.result)));
            self->has_result_ = true;
            self->job_ = nullptr;
        };
        job_->waiter = &waiter_;
        executor_->submit(job_);
        return true;
    }
    result_type await_resume() {
        if (!has_result_) return error_;
        return std::move(result());
    }

private:
    bool fail(Error e) {
        error_ = e;
        return false;
    }
    result_type& result() { return *reinterpret_cast<result_type*>(storage_); }

    F fn_;
    Executor* executor_ = nullptr;
    Executor::Job* job_ = nullptr;
    Executor::Waiter waiter_;
    Error error_;
    alignas(result_type) unsigned char storage_[sizeof(result_type)];
    bool has_result_ = false;
};

// Runs `fn` on the current loop's Executor; yields Result<R> for fn's return R.
template <typename F>
BlockingAwaiter<std::decay_t<F>> run_blocking(F&& fn) {
    return BlockingAwaiter<std::decay_t<F>>(std::forward<F>(fn));
}

}  // namespace gust
