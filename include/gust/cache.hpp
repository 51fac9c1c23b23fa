// gust::Cache: a bounded key/value cache for bytes, with per-entry TTL, LRU
// eviction and single-flight computation; and the response cache that
// Router builds on it (RouteOptions::cache).
//
//   Cache cache(loop.limits());                       // cache_entries, cache_bytes: reserved once
//   auto v = co_await cache.get_or_compute("sensors", 500ms, [&]() -> Task<Result<CacheFill>> {
//       auto n = co_await read_sensors(buf);          // runs once however many callers miss together
//       if (!n) co_return n.error();                  // every waiter gets the error; the next call retries
//       co_return CacheFill(std::string_view(buf, *n));
//   });
//   if (v) use(v->text());
//
//   app.get("/api/status", status, {.cache = {.store = &cache, .ttl = 500ms}});
//
// Memory: an arena of cache_bytes (keys and values) and cache_entries entry
// slots are allocated by the constructor; nothing is allocated afterwards,
// hits included. A value larger than the arena is refused (Errc::too_large);
// room is made by evicting the least recently used entries, and the arena is
// compacted when its free space is fragmented.
//
// Entries in use are pinned: a CacheRef keeps its entry (and its bytes) alive
// across evictions, replacements and erase(). A view from a CacheRef lives
// until the cache next stores something (put, a finished get_or_compute, or
// any co_await in between), because storing may compact the arena.
// Loop-thread only; the Cache must outlive every CacheRef and every
// get_or_compute still running.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include <gust/clock.hpp>
#include <gust/limits.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>
#include <gust/task.hpp>

namespace gust {

class Cache;
class Request;
class Response;
struct Route;

// A pinned handle to one entry. Copies pin again; the last one to go unpins.
class CacheRef {
public:
    CacheRef() = default;
    CacheRef(const CacheRef& o);
    CacheRef(CacheRef&& o) noexcept : cache_(std::exchange(o.cache_, nullptr)), index_(o.index_) {}
    CacheRef& operator=(const CacheRef& o);
    CacheRef& operator=(CacheRef&& o) noexcept;
    ~CacheRef() { reset(); }

    explicit operator bool() const { return cache_ != nullptr; }
    // The value; a view into the arena (see the header comment for how long it lives).
    std::span<const uint8_t> value() const;
    std::string_view text() const;
    // The key, a view like value().
    std::string_view key() const;
    // When the value was stored, and until when it is fresh (the loop's clock).
    TimePoint stored_at() const;
    TimePoint expires_at() const;
    // False for a value handed to the callers of one get_or_compute but not kept (TTL 0).
    bool stored() const;
    // Unpins.
    void reset();

private:
    friend class Cache;
    CacheRef(Cache* c, uint32_t i) : cache_(c), index_(i) {}
    Cache* cache_ = nullptr;
    uint32_t index_ = 0;
};

// What a producer hands to the cache: up to kMaxParts byte ranges stored one
// after the other as one value. The views must stay valid until the producer's
// task has finished (they may point into its own frame), and must not point
// into this cache's own values (storing may move them).
struct CacheFill {
    static constexpr size_t kMaxParts = 4;
    CacheFill() = default;
    CacheFill(std::span<const uint8_t> bytes) { add(bytes); }
    CacheFill(std::string_view text) { add(text); }
    // Appends a part; past kMaxParts the fill is refused by the cache (Errc::invalid_argument).
    CacheFill& add(std::span<const uint8_t> bytes);
    CacheFill& add(std::string_view text) {
        return add(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    }
    // Total bytes of the parts.
    size_t size() const;

    std::span<const uint8_t> parts[kMaxParts];
    size_t count = 0;
    bool overflow = false;
    // Negative: the TTL given to get_or_compute. Zero: hand the value to the
    // callers waiting now and keep nothing (a "no-store" answer).
    Duration ttl{-1};
};

// Options of one get_or_compute call.
struct ComputeOptions {
    // Errors are not cached unless this is positive: then a producer error is
    // stored and answers get_or_compute for this long.
    Duration error_ttl{0};
};

// Counters since construction, and what is held now.
struct CacheStats {
    uint64_t hits = 0;       // lookups answered by a fresh entry (find and get_or_compute)
    uint64_t misses = 0;     // find() calls that found none (get_or_compute counts its misses as fills or waits)
    uint64_t fills = 0;      // producer runs
    uint64_t waits = 0;      // get_or_compute calls that joined a producer already running
    uint64_t evictions = 0;  // entries dropped to make room
    uint64_t errors = 0;     // producers that failed
    uint64_t compactions = 0;
    uint32_t entries = 0;    // slots in use (stored, or pinned after replacement)
    uint32_t max_entries = 0;
    size_t bytes = 0;        // key and value bytes held
    size_t max_bytes = 0;
};

namespace detail {

struct CacheFlight;

// A caller parked on another caller's computation; lives in the waiting frame.
struct CacheWaiter : ResumeNode {
    CacheWaiter* prev = nullptr;
    CacheWaiter* next = nullptr;
    CacheFlight* flight = nullptr;  // set while linked
    bool retry = false;             // the computation was abandoned: look again
    Result<CacheRef> result{Error(Errc::cancelled, "cache: computation abandoned")};
};

// A computation in progress for one key; lives in the computing frame.
struct CacheFlight {
    Cache* cache = nullptr;
    std::string_view key;
    uint64_t hash = 0;
    CacheFlight* prev = nullptr;
    CacheFlight* next = nullptr;
    CacheWaiter* waiters = nullptr;
    bool active = false;
    CacheFlight() = default;
    CacheFlight(const CacheFlight&) = delete;
    CacheFlight& operator=(const CacheFlight&) = delete;
    ~CacheFlight();
};

// What one lookup found for get_or_compute.
struct CacheProbe {
    uint64_t hash = 0;
    bool hit = false;                   // `result` answers the call
    Result<CacheRef> result{CacheRef()};
    CacheFlight* flight = nullptr;      // a computation to join
};

}  // namespace detail

class Cache {
public:
    // Sizes the cache from limits.cache_entries and limits.cache_bytes.
    explicit Cache(const Limits& limits = Limits());
    // At most `max_entries` entries holding at most `max_bytes` of keys and values (< 4 GiB).
    Cache(uint32_t max_entries, size_t max_bytes);
    ~Cache();
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;

    // Success, or Errc::no_memory when the constructor could not reserve its memory.
    Result<void> status() const;

    // The fresh entry for `key` (moved to the front of the LRU order), or an
    // empty ref. Counts a hit or a miss. Never allocates.
    CacheRef find(std::string_view key);
    // The stored entry for `key` even when expired; no counting, no LRU change.
    CacheRef find_stale(std::string_view key);
    // Stores `value` under `key` for `ttl`, replacing any entry for the key,
    // evicting least recently used entries as needed. A TTL <= 0 keeps the value
    // only as long as the returned ref. Errc::too_large when key and value exceed
    // the arena; Errc::no_memory when pinned entries leave no room.
    Result<CacheRef> put(std::string_view key, const CacheFill& value, Duration ttl);
    // Drops the entry for `key` (pinned bytes live on until unpinned); false when none.
    bool erase(std::string_view key);
    // Drops every entry.
    void clear();

    // The fresh value for `key`, or runs `producer` to make it. While it runs,
    // other callers for the same key wait for it instead of running their own
    // (single-flight) and receive the same result, errors included; a failed
    // computation is not stored (unless options.error_ttl > 0), so the next
    // call runs the producer again. If the computing caller is cancelled,
    // the waiters look again and one of them computes.
    // `producer()` must return an awaitable yielding Result<CacheFill> (a
    // Task<Result<CacheFill>>); it is moved into this coroutine's frame, so a
    // lambda's captures live as long as the computation. `key` must outlive
    // the co_await. When the value cannot be stored (too large, or no room),
    // every caller gets that error.
    template <typename F>
    Task<Result<CacheRef>> get_or_compute(std::string_view key, Duration ttl, F producer, ComputeOptions options = {});

    // Counters and occupancy.
    CacheStats stats() const;

private:
    friend class CacheRef;
    friend struct detail::CacheFlight;
    struct Entry;

    // get_or_compute's steps, out of line.
    detail::CacheProbe probe(std::string_view key);
    void begin_flight(detail::CacheFlight& f, std::string_view key, uint64_t hash);
    Result<CacheRef> finish_flight(detail::CacheFlight& f, Result<CacheFill>&& fill, Duration ttl,
                                   const ComputeOptions& options);
    void abandon_flight(detail::CacheFlight& f);
    void join(detail::CacheFlight& f, detail::CacheWaiter& w);
    static void leave(detail::CacheWaiter& w);

    class JoinAwaiter {
    public:
        JoinAwaiter(Cache& c, detail::CacheFlight& f) : cache_(c), flight_(f) {}
        ~JoinAwaiter() { Cache::leave(node_); }
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) noexcept {
            node_.handle = h;
            cache_.join(flight_, node_);
        }
        detail::CacheWaiter& await_resume() noexcept { return node_; }

    private:
        Cache& cache_;
        detail::CacheFlight& flight_;
        detail::CacheWaiter node_;
    };

    Result<CacheRef> store(std::string_view key, uint64_t hash, const CacheFill& value, Duration ttl, Error error);
    uint32_t lookup(std::string_view key, uint64_t hash) const;
    void touch(uint32_t i);
    void detach(uint32_t i);
    void release(uint32_t i);
    void free_entry(uint32_t i);
    bool make_room(size_t bytes);
    void compact();
    void pin(uint32_t i);
    void unpin(uint32_t i);
    static uint64_t hash_key(std::string_view key);

    Entry* entries_ = nullptr;
    uint32_t* buckets_ = nullptr;
    uint8_t* arena_ = nullptr;
    uint32_t max_entries_ = 0;
    uint32_t bucket_mask_ = 0;
    size_t max_bytes_ = 0;
    size_t used_bytes_ = 0;   // held by entries
    size_t top_ = 0;          // end of the last allocation in the arena
    uint32_t free_list_ = 0;
    uint32_t entries_made_ = 0;  // entries built so far; the rest is untouched memory
    uint32_t lru_head_ = 0, lru_tail_ = 0;    // stored entries, most recent first
    uint32_t addr_head_ = 0, addr_tail_ = 0;  // entries with bytes, in arena order
    uint32_t in_use_ = 0;
    detail::CacheFlight* flights_ = nullptr;
    CacheStats stats_;
    Error error_;
};

template <typename F>
Task<Result<CacheRef>> Cache::get_or_compute(std::string_view key, Duration ttl, F producer, ComputeOptions options) {
    for (;;) {
        detail::CacheProbe p = probe(key);
        if (p.hit) co_return std::move(p.result);
        if (p.flight) {
            JoinAwaiter join(*this, *p.flight);
            detail::CacheWaiter& w = co_await join;
            if (w.retry) continue;
            co_return std::move(w.result);
        }
        detail::CacheFlight flight;
        begin_flight(flight, key, p.hash);
        // Kept until the value is stored: the fill may point into its frame.
        auto work = producer();
        Result<CacheFill> fill = co_await work;
        co_return finish_flight(flight, std::move(fill), ttl, options);
    }
}

namespace http {

// Whole-body responses served through the cache of a Router route
// (RouteOptions::cache), for GET (and HEAD) requests:
//  - The key is the method, path and query (raw), plus the values of the
//    route's `vary` headers. HEAD reads GET's entry; a HEAD miss runs the handler.
//  - Requests with Authorization bypass the cache unless the route sets
//    `authenticated` (then one answer is shared by every caller, unless `vary`
//    names Authorization). Targets too long for a key (512 bytes) bypass it.
//  - Concurrent misses run the handler once; the others wait and get the same
//    response. A handler's status other than 200, and a handler's
//    Cache-Control no-store, no-cache or private, are shared with the requests
//    waiting at that moment and not stored. A handler's max-age=N sets the TTL.
//    Streamed responses are not cached: each waiter then runs the handler.
//  - 200 responses carry a strong ETag (the handler's, or SHA-256 of the
//    Content-Type and body, first 96 bits in hex), Last-Modified (the
//    handler's, or when the body last changed) and, unless the handler set
//    Cache-Control, "Cache-Control: max-age=<seconds of freshness left>".
//  - If-None-Match (lists, "*", weak comparison) and, only without it,
//    If-Modified-Since are answered 304 with ETag, Last-Modified,
//    Cache-Control, Vary, Date and no body (RFC 9110 §13.1.2, §13.2.2).
//    Request Cache-Control directives are ignored: clients cannot force a
//    recomputation, which is the point of the cache.
// The Router calls this; applications use RouteOptions::cache.
Task<> serve_cached(const Route& route, Request& req, Response& res);

// "Sun, 06 Nov 1994 08:49:37 GMT" for Unix time `t` into `out` (>= 29 bytes); a view into out.
std::string_view format_http_date(int64_t t, std::span<char> out);
// Unix time of an HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime
// forms (RFC 9110 §5.6.7). Errc::invalid_argument for anything else.
Result<int64_t> parse_http_date(std::string_view text);

}  // namespace http

}  // namespace gust
