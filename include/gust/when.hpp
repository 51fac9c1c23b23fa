// Combinators over awaitables (Tasks, Futures, sleep(), anything awaitable
// whose result is a gust::Result):
//   auto [a, b] = co_await when_all(fetch(x), fetch(y));   // Tornado's gen.multi
//   auto first  = co_await when_any(fetch(x), sleep(1s));  // std::variant, index() says who won
//   auto r      = co_await with_timeout(500ms, fetch(x));  // Errc::timeout when late
// Each awaitable runs in a child frame from the frame pool (no heap); a child
// whose frame cannot be allocated yields Errc::no_memory. Children of
// when_any/with_timeout that lose are destroyed, which cancels what they
// awaited (timers, fd waits, futures) — they are never resumed afterwards.
// Rvalue awaitables are moved into the combinator; lvalues are referenced and
// must outlive the co_await.
#pragma once

#include <coroutine>
#include <cstddef>
#include <tuple>
#include <utility>
#include <variant>

#include <gust/loop.hpp>
#include <gust/task.hpp>

namespace gust {

namespace detail {

template <typename Aw>
decltype(auto) get_awaiter(Aw& a) {
    if constexpr (requires { a.operator co_await(); }) return a.operator co_await();
    else return (a);
}
template <typename Aw>
using await_result_t = decltype(get_awaiter(std::declval<Aw&>()).await_resume());

// Decides whom a finishing child hands control to.
struct Join {
    virtual std::coroutine_handle<> child_done(size_t index) noexcept = 0;

protected:
    ~Join() = default;
};

template <typename R>
struct ChildPromise;

template <typename R>
struct Child {
    using promise_type = ChildPromise<R>;
    std::coroutine_handle<promise_type> handle;

    Child() = default;
    explicit Child(std::coroutine_handle<promise_type> h) : handle(h) {}
    Child(Child&& o) noexcept : handle(std::exchange(o.handle, nullptr)) {}
    Child& operator=(Child&& o) noexcept {
        if (this != &o) {
            if (handle) handle.destroy();
            handle = std::exchange(o.handle, nullptr);
        }
        return *this;
    }
    ~Child() {
        if (handle) handle.destroy();
    }
    R take_result() {
        if (!handle) return frame_pool_exhausted();
        return handle.promise().result.take();
    }
};

template <typename R>
struct ChildPromise : PooledFrame {
    Join* join = nullptr;
    size_t index = 0;
    Slot<R> result;

    Child<R> get_return_object() noexcept { return Child<R>(std::coroutine_handle<ChildPromise>::from_promise(*this)); }
    static Child<R> get_return_object_on_allocation_failure() noexcept { return Child<R>(); }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct Final {
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<ChildPromise> h) const noexcept {
            return h.promise().join->child_done(h.promise().index);
        }
        void await_resume() const noexcept {}
    };
    Final final_suspend() const noexcept { return {}; }
    void return_value(R v) { result.emplace(std::move(v)); }
    void unhandled_exception() const noexcept { std::abort(); }
};

template <typename Aw>
Child<await_result_t<Aw>> make_child(Aw& awaitable) {
    co_return co_await awaitable;
}

template <typename Aw>
using child_of_t = Child<await_result_t<std::remove_reference_t<Aw>>>;

// Shared by when_all and when_any: owns the awaitables and their children.
template <typename... Aws>
class ChildrenBase {
public:
    static_assert(sizeof...(Aws) > 0, "needs at least one awaitable");
    template <typename... A>
    explicit ChildrenBase(std::in_place_t, A&&... a) : awaitables_(std::forward<A>(a)...) {}
    // Movable until awaited (children exist only after await_suspend).
    ChildrenBase(ChildrenBase&& o) : awaitables_(std::move(o.awaitables_)) {}
    ChildrenBase& operator=(const ChildrenBase&) = delete;

protected:
    static constexpr size_t N = sizeof...(Aws);

    template <size_t... I>
    void create(Join* join, std::index_sequence<I...>) {
        ((std::get<I>(children_) = make_child(std::get<I>(awaitables_)),
          std::get<I>(children_).handle ? (void)(std::get<I>(children_).handle.promise().join = join,
                                                 std::get<I>(children_).handle.promise().index = I)
                                        : (void)0),
         ...);
    }
    std::coroutine_handle<> handle_at(size_t i) {
        std::coroutine_handle<> h;
        size_t k = 0;
        std::apply([&](auto&... c) { ((k++ == i ? (void)(h = c.handle) : (void)0), ...); }, children_);
        return h;
    }
    template <size_t... I>
    auto results(std::index_sequence<I...>) {
        return std::tuple<await_result_t<std::remove_reference_t<Aws>>...>(std::get<I>(children_).take_result()...);
    }

    std::tuple<Aws...> awaitables_;
    std::tuple<child_of_t<Aws>...> children_;
};

template <typename... Aws>
class WhenAll : ChildrenBase<Aws...>, Join {
    using Base = ChildrenBase<Aws...>;

public:
    template <typename... A>
    explicit WhenAll(std::in_place_t, A&&... a) : Base(std::in_place, std::forward<A>(a)...) {}
    WhenAll(WhenAll&& o) : Base(std::move(o)) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> parent) {
        parent_ = parent;
        this->create(this, std::make_index_sequence<Base::N>());
        remaining_ = Base::N + 1;  // +1 so no child can resume us before we suspend
        for (size_t i = 0; i < Base::N; ++i) {
            if (auto h = this->handle_at(i)) h.resume();
            else --remaining_;  // no frame: its result is no_memory
        }
        return --remaining_ != 0;
    }
    auto await_resume() { return this->results(std::make_index_sequence<Base::N>()); }

private:
    std::coroutine_handle<> child_done(size_t) noexcept override {
        return --remaining_ == 0 ? parent_ : std::noop_coroutine();
    }
    std::coroutine_handle<> parent_;
    size_t remaining_ = 0;
};

template <typename... Aws>
class WhenAny : ChildrenBase<Aws...>, Join {
    using Base = ChildrenBase<Aws...>;

public:
    using result_type = std::variant<await_result_t<std::remove_reference_t<Aws>>...>;
    template <typename... A>
    explicit WhenAny(std::in_place_t, A&&... a) : Base(std::in_place, std::forward<A>(a)...) {}
    WhenAny(WhenAny&& o) : Base(std::move(o)) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> parent) {
        parent_ = parent;
        this->create(this, std::make_index_sequence<Base::N>());
        starting_ = true;
        for (size_t i = 0; i < Base::N && !winner_; ++i) {
            if (auto h = this->handle_at(i)) h.resume();
            else winner_ = i + 1;
        }
        starting_ = false;
        return !winner_;
    }
    result_type await_resume() { return pick<0>(); }
    // Index of the first awaitable to finish (valid after the co_await).
    size_t winner() const { return winner_ - 1; }

private:
    std::coroutine_handle<> child_done(size_t index) noexcept override {
        if (winner_) return std::noop_coroutine();
        winner_ = index + 1;
        return starting_ ? std::noop_coroutine() : parent_;
    }
    template <size_t I>
    result_type pick() {
        if constexpr (I + 1 < Base::N) {
            if (winner_ - 1 != I) return pick<I + 1>();
        }
        return result_type(std::in_place_index<I>, std::get<I>(this->children_).take_result());
    }
    std::coroutine_handle<> parent_;
    size_t winner_ = 0;  // index + 1; 0 while nobody has finished
    bool starting_ = false;
};

template <typename Aw>
class Timeout {
public:
    using result_type = await_result_t<std::remove_reference_t<Aw>>;
    template <typename A>
    Timeout(Duration limit, A&& aw) : race_(std::in_place, std::forward<A>(aw), SleepAwaiter(limit)) {}
    Timeout(Timeout&& o) : race_(std::move(o.race_)) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) { return race_.await_suspend(h); }
    result_type await_resume() {
        auto r = race_.await_resume();
        if (r.index() == 1) {
            if (!std::get<1>(r)) return std::get<1>(r).error();  // no timer: report why
            return Error(Errc::timeout, "operation timed out");
        }
        return std::move(std::get<0>(r));
    }

private:
    WhenAny<Aw, SleepAwaiter> race_;
};

}  // namespace detail

// Awaits every awaitable concurrently; yields a std::tuple of their results in order.
template <typename... Aws>
detail::WhenAll<Aws...> when_all(Aws&&... awaitables) {
    return detail::WhenAll<Aws...>(std::in_place, std::forward<Aws>(awaitables)...);
}

// Awaits the first to finish; yields a std::variant whose index() names it.
// The others are destroyed (cancelled) when the co_await expression ends.
template <typename... Aws>
detail::WhenAny<Aws...> when_any(Aws&&... awaitables) {
    return detail::WhenAny<Aws...>(std::in_place, std::forward<Aws>(awaitables)...);
}

// Awaits `awaitable` for at most `limit`; Errc::timeout when it takes longer
// (it is then destroyed, cancelling its work). The result type must be a Result.
template <typename Aw>
detail::Timeout<Aw> with_timeout(Duration limit, Aw&& awaitable) {
    return detail::Timeout<Aw>(limit, std::forward<Aw>(awaitable));
}

}  // namespace gust
