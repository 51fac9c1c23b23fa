// A move-only callable stored in place: no heap, ever. A capture larger than
// the capacity is a compile error (static_assert), never an allocation.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include <gust/config.hpp>

namespace gust {

template <typename Signature, size_t Capacity = GUST_CALLBACK_CAPACITY>
class InplaceFunction;

template <typename R, typename... Args, size_t Capacity>
class InplaceFunction<R(Args...), Capacity> {
public:
    InplaceFunction() = default;
    InplaceFunction(std::nullptr_t) {}

    template <typename F,
              typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, InplaceFunction> &&
                                          std::is_invocable_r_v<R, std::decay_t<F>&, Args...>>>
    InplaceFunction(F&& f) {
        using Fn = std::decay_t<F>;
        static_assert(sizeof(Fn) <= Capacity,
                      "callable captures more than the in-place capacity; capture a pointer instead");
        static_assert(alignof(Fn) <= alignof(std::max_align_t), "callable over-aligned");
        new (storage_) Fn(std::forward<F>(f));
        ops_ = &ops_for<Fn>;
    }

    InplaceFunction(InplaceFunction&& o) noexcept { move_from(o); }
    InplaceFunction& operator=(InplaceFunction&& o) noexcept {
        if (this != &o) {
            reset();
            move_from(o);
        }
        return *this;
    }
    InplaceFunction(const InplaceFunction&) = delete;
    InplaceFunction& operator=(const InplaceFunction&) = delete;
    ~InplaceFunction() { reset(); }

    explicit operator bool() const { return ops_ != nullptr; }

    // Calls the stored callable; calling an empty function is a bug (abort).
    // Const so shared tables (routes) can call their entries; the callable itself may keep state.
    R operator()(Args... args) const { return ops_->call(storage_, std::forward<Args>(args)...); }

    // Destroys the stored callable, leaving this empty.
    void reset() {
        if (ops_) {
            ops_->destroy(storage_);
            ops_ = nullptr;
        }
    }

private:
    struct Ops {
        R (*call)(void*, Args&&...);
        void (*move)(void* dst, void* src);
        void (*destroy)(void*);
    };
    template <typename Fn>
    static constexpr Ops ops_for = {
        [](void* p, Args&&... a) -> R { return (*static_cast<Fn*>(p))(std::forward<Args>(a)...); },
        [](void* dst, void* src) {
            new (dst) Fn(std::move(*static_cast<Fn*>(src)));
            static_cast<Fn*>(src)->~Fn();
        },
        [](void* p) { static_cast<Fn*>(p)->~Fn(); },
    };

    void move_from(InplaceFunction& o) {
        if (o.ops_) {
            o.ops_->move(storage_, o.storage_);
            ops_ = o.ops_;
            o.ops_ = nullptr;
        }
    }

    alignas(std::max_align_t) mutable unsigned char storage_[Capacity];
    const Ops* ops_ = nullptr;
};

// The callback type the loop stores for timers, watches and post().
using Callback = InplaceFunction<void()>;

}  // namespace gust
