// gust::Future<T> and Promise<T>: a single-shot value that one side sets and
// the other awaits (`co_await future` yields Result<T>) or observes with
// then(callback), as Tornado's Future.add_done_callback. No heap: the Future
// holds the value and the Promise points at it; each tells the other when it
// moves or dies. A Promise destroyed without a value fails the Future with
// Errc::broken_promise; setting a Promise whose Future is gone does nothing.
// Both are loop-thread objects: from another thread, use Loop::post() to set.
// Waiters are resumed on the loop's next turn, never inside set().
#pragma once

#include <coroutine>
#include <utility>

#include <gust/function.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>
#include <gust/task.hpp>

namespace gust {

template <typename T>
class Promise;

template <typename T = void>
class Future {
public:
    using result_type = Result<T>;
    using Callback = InplaceFunction<void(Result<T>)>;

    Future() {
        notify_.run = &Future::on_notify;
        notify_.owner = this;
    }
    Future(Future&& o) noexcept : Future() { take(o); }
    Future& operator=(Future&& o) noexcept {
        if (this != &o) {
            detach();
            take(o);
        }
        return *this;
    }
    Future(const Future&) = delete;
    Future& operator=(const Future&) = delete;
    ~Future() { detach(); }

    // The Promise that completes this Future; only one exists at a time.
    Promise<T> promise();
    // True once a value or an error has been set.
    bool ready() const { return result_.full(); }

    // Calls `fn` with the result on a later loop turn (at once on the next turn if ready).
    void then(Callback fn) {
        callback_ = std::move(fn);
        if (ready()) schedule();
    }

    // `co_await future` yields Result<T>; destroying the waiting coroutine stops the wait.
    class Awaiter {
    public:
        explicit Awaiter(Future& f) : f_(f) {}
        Awaiter(Awaiter&& o) : f_(o.f_) {}
        ~Awaiter() {
            if (f_.waiter_ == handle_ && handle_) f_.waiter_ = nullptr;
        }
        bool await_ready() const noexcept { return f_.ready(); }
        void await_suspend(std::coroutine_handle<> h) noexcept { f_.waiter_ = handle_ = h; }
        Result<T> await_resume() {
            f_.waiter_ = handle_ = nullptr;
            if (!f_.result_.full()) return Error(Errc::cancelled, "future: resumed without a value");
            return f_.result_.take();
        }

    private:
        Future& f_;
        std::coroutine_handle<> handle_;
    };
    Awaiter operator co_await() & { return Awaiter(*this); }

private:
    friend class Promise<T>;

    void complete(Result<T>&& r) {
        if (result_.full()) return;
        result_.emplace(std::move(r));
        if (waiter_ || callback_) schedule();
    }
    void schedule() {
        if (Loop* loop = Loop::current()) loop->schedule(notify_);
    }
    static void on_notify(ReadyNode* n) {
        Future* f = static_cast<Notify*>(n)->owner;
        if (f->waiter_) {
            std::coroutine_handle<> h = std::exchange(f->waiter_, nullptr);
            h.resume();
        } else if (f->callback_ && f->result_.full()) {
            Callback cb = std::move(f->callback_);
            cb(f->result_.take());
        }
    }
    void take(Future& o);
    void detach();

    struct Notify : ReadyNode {
        Future* owner;
    };
    Notify notify_;
    detail::Slot<Result<T>> result_;
    std::coroutine_handle<> waiter_;
    Callback callback_;
    Promise<T>* promise_ = nullptr;
};

template <typename T = void>
class Promise {
public:
    Promise() = default;
    Promise(Promise&& o) noexcept : future_(std::exchange(o.future_, nullptr)) {
        if (future_) future_->promise_ = this;
    }
    Promise& operator=(Promise&& o) noexcept {
        if (this != &o) {
            abandon();
            future_ = std::exchange(o.future_, nullptr);
            if (future_) future_->promise_ = this;
        }
        return *this;
    }
    Promise(const Promise&) = delete;
    Promise& operator=(const Promise&) = delete;
    ~Promise() { abandon(); }

    // Completes the Future with a value (Result<void> for Future<void>: call set()).
    template <typename... A>
    void set(A&&... value) { finish(Result<T>(std::forward<A>(value)...)); }
    // Completes the Future with an error.
    void fail(Error e) { finish(Result<T>(e)); }
    // True while the Future exists and has no value yet.
    bool pending() const { return future_ && !future_->ready(); }

private:
    friend class Future<T>;
    explicit Promise(Future<T>* f) : future_(f) {}
    void finish(Result<T>&& r) {
        if (!future_) return;
        Future<T>* f = std::exchange(future_, nullptr);
        f->promise_ = nullptr;
        f->complete(std::move(r));
    }
    void abandon() {
        if (future_) finish(Result<T>(Error(Errc::broken_promise, "promise destroyed without a value")));
    }

    Future<T>* future_ = nullptr;
};

template <typename T>
Promise<T> Future<T>::promise() {
    if (promise_) promise_->future_ = nullptr;  // the old promise loses its link
    Promise<T> p(this);
    promise_ = &p;
    return p;  // NRVO is not guaranteed: the move constructor re-points promise_
}

template <typename T>
void Future<T>::take(Future& o) {
    // Moving a Future that a coroutine awaits is a bug; the waiter stays with `o`.
    if (o.result_.full()) result_.emplace(o.result_.take());
    callback_ = std::move(o.callback_);
    promise_ = std::exchange(o.promise_, nullptr);
    if (promise_) promise_->future_ = this;
    if (o.notify_.queued()) {
        o.notify_.loop->unschedule(o.notify_);
        schedule();
    }
}

template <typename T>
void Future<T>::detach() {
    if (promise_) promise_->future_ = nullptr;
    promise_ = nullptr;
    if (notify_.queued()) notify_.loop->unschedule(notify_);
}

}  // namespace gust
