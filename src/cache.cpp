// The cache's storage: entry slots with index links (hash chains, LRU order,
// arena order) and one byte arena. Values are contiguous so a hit is one
// memcpy into a response; the price is compaction when the free space is
// fragmented, an O(bytes held) memmove paid only by a store that would not
// otherwise fit, which is rare next to hits.
#include <gust/cache.hpp>

#include <cstdlib>
#include <cstring>
#include <new>

namespace gust {

namespace {
constexpr uint32_t kNone = UINT32_MAX;
}

struct Cache::Entry {
    enum State : uint8_t { free, stored, detached };
    uint64_t hash = 0;
    TimePoint stored_at{};
    TimePoint expires{};
    Error error;               // a cached error instead of a value
    uint32_t offset = 0;       // key then value, in the arena
    uint32_t key_len = 0;
    uint32_t value_len = 0;
    uint32_t pins = 0;
    uint32_t chain = kNone;    // next in the hash bucket
    uint32_t lru_prev = kNone, lru_next = kNone;
    uint32_t addr_prev = kNone, addr_next = kNone;  // arena order; addr_next links the free list
    State state = free;
    size_t bytes() const { return size_t(key_len) + value_len; }
};

// ---- CacheRef / CacheFill -----------------------------------------------------------

CacheRef::CacheRef(const CacheRef& o) : cache_(o.cache_), index_(o.index_) {
    if (cache_) cache_->pin(index_);
}

CacheRef& CacheRef::operator=(const CacheRef& o) {
    if (this != &o) {
        if (o.cache_) o.cache_->pin(o.index_);
        reset();
        cache_ = o.cache_;
        index_ = o.index_;
    }
    return *this;
}

CacheRef& CacheRef::operator=(CacheRef&& o) noexcept {
    if (this != &o) {
        reset();
        cache_ = std::exchange(o.cache_, nullptr);
        index_ = o.index_;
    }
    return *this;
}

void CacheRef::reset() {
    if (cache_) std::exchange(cache_, nullptr)->unpin(index_);
}

std::span<const uint8_t> CacheRef::value() const {
    if (!cache_) return {};
    const Cache::Entry& e = cache_->entries_[index_];
    return std::span<const uint8_t>(cache_->arena_ + e.offset + e.key_len, e.value_len);
}

std::string_view CacheRef::text() const {
    auto v = value();
    return std::string_view(reinterpret_cast<const char*>(v.data()), v.size());
}

std::string_view CacheRef::key() const {
    if (!cache_) return {};
    const Cache::Entry& e = cache_->entries_[index_];
    return std::string_view(reinterpret_cast<const char*>(cache_->arena_ + e.offset), e.key_len);
}

TimePoint CacheRef::stored_at() const { return cache_ ? cache_->entries_[index_].stored_at : TimePoint(); }
TimePoint CacheRef::expires_at() const { return cache_ ? cache_->entries_[index_].expires : TimePoint(); }
bool CacheRef::stored() const { return cache_ && cache_->entries_[index_].state == Cache::Entry::stored; }

CacheFill& CacheFill::add(std::span<const uint8_t> bytes) {
    if (count == kMaxParts) overflow = true;
    else parts[count++] = bytes;
    return *this;
}

size_t CacheFill::size() const {
    size_t n = 0;
    for (size_t i = 0; i < count; ++i) n += parts[i].size();
    return n;
}

// ---- Construction -------------------------------------------------------------------

Cache::Cache(const Limits& limits) : Cache(limits.cache_entries, limits.cache_bytes) {}

Cache::Cache(uint32_t max_entries, size_t max_bytes) {
    stats_.max_entries = max_entries;
    stats_.max_bytes = max_bytes;
    if (max_entries == 0 || max_entries >= kNone || max_bytes == 0 || max_bytes > UINT32_MAX) {
        error_ = Error(Errc::invalid_argument, "cache: entries must be 1..2^32-2 and bytes 1..4 GiB");
        return;
    }
    uint32_t buckets = 16;
    while (buckets < max_entries && buckets < (1u << 31)) buckets <<= 1;
    // Start-up only: everything the cache will ever use.
    // Entries are raw memory built on first use: an unused cache costs address space only.
    entries_ = static_cast<Entry*>(std::malloc(sizeof(Entry) * max_entries));
    buckets_ = static_cast<uint32_t*>(std::malloc(sizeof(uint32_t) * buckets));
    arena_ = static_cast<uint8_t*>(std::malloc(max_bytes));
    if (!entries_ || !buckets_ || !arena_) {
        error_ = Error(Errc::no_memory, "cache: cannot reserve its entries and arena");
        return;
    }
    max_entries_ = max_entries;
    max_bytes_ = max_bytes;
    bucket_mask_ = buckets - 1;
    for (uint32_t i = 0; i < buckets; ++i) buckets_[i] = kNone;
    free_list_ = kNone;
    lru_head_ = lru_tail_ = addr_head_ = addr_tail_ = kNone;
}

Cache::~Cache() {
    for (uint32_t i = 0; i < entries_made_; ++i) entries_[i].~Entry();
    std::free(entries_);
    std::free(buckets_);
    std::free(arena_);
}

Result<void> Cache::status() const {
    if (error_.code != Errc::ok) return error_;
    return {};
}

CacheStats Cache::stats() const {
    CacheStats s = stats_;
    s.entries = in_use_;
    s.bytes = used_bytes_;
    return s;
}

// ---- Lookup -------------------------------------------------------------------------

uint64_t Cache::hash_key(std::string_view key) {
    // FNV-1a: keys are short and not chosen to collide; chains compare the key anyway.
    uint64_t h = 14695981039346656037ull;
    for (char c : key) {
        h ^= uint8_t(c);
        h *= 1099511628211ull;
    }
    return h;
}

uint32_t Cache::lookup(std::string_view key, uint64_t hash) const {
    if (!entries_) return kNone;
    for (uint32_t i = buckets_[hash & bucket_mask_]; i != kNone; i = entries_[i].chain) {
        const Entry& e = entries_[i];
        if (e.hash == hash && e.key_len == key.size() && std::memcmp(arena_ + e.offset, key.data(), key.size()) == 0)
            return i;
    }
    return kNone;
}

void Cache::touch(uint32_t i) {
    if (lru_head_ == i) return;
    Entry& e = entries_[i];
    // Unlink, then push at the head.
    if (e.lru_prev != kNone) entries_[e.lru_prev].lru_next = e.lru_next;
    if (e.lru_next != kNone) entries_[e.lru_next].lru_prev = e.lru_prev;
    else lru_tail_ = e.lru_prev;
    e.lru_prev = kNone;
    e.lru_next = lru_head_;
    if (lru_head_ != kNone) entries_[lru_head_].lru_prev = i;
    lru_head_ = i;
    if (lru_tail_ == kNone) lru_tail_ = i;
}

CacheRef Cache::find(std::string_view key) {
    uint32_t i = lookup(key, hash_key(key));
    if (i == kNone || entries_[i].error.code != Errc::ok || Clock::now() >= entries_[i].expires) {
        ++stats_.misses;
        return {};
    }
    ++stats_.hits;
    touch(i);
    pin(i);
    return CacheRef(this, i);
}

CacheRef Cache::find_stale(std::string_view key) {
    uint32_t i = lookup(key, hash_key(key));
    if (i == kNone || entries_[i].error.code != Errc::ok) return {};
    pin(i);
    return CacheRef(this, i);
}

void Cache::pin(uint32_t i) { ++entries_[i].pins; }

void Cache::unpin(uint32_t i) {
    Entry& e = entries_[i];
    if (--e.pins == 0 && e.state == Entry::detached) free_entry(i);
}

// ---- Removal ------------------------------------------------------------------------

// Takes a stored entry out of the hash and the LRU order; its bytes stay while pinned.
void Cache::detach(uint32_t i) {
    Entry& e = entries_[i];
    if (e.state != Entry::stored) return;
    uint32_t* link = &buckets_[e.hash & bucket_mask_];
    while (*link != i) link = &entries_[*link].chain;
    *link = e.chain;
    e.chain = kNone;
    if (e.lru_prev != kNone) entries_[e.lru_prev].lru_next = e.lru_next;
    else lru_head_ = e.lru_next;
    if (e.lru_next != kNone) entries_[e.lru_next].lru_prev = e.lru_prev;
    else lru_tail_ = e.lru_prev;
    e.lru_prev = e.lru_next = kNone;
    e.state = Entry::detached;
}

void Cache::release(uint32_t i) {
    detach(i);
    if (entries_[i].pins == 0) free_entry(i);
}

void Cache::free_entry(uint32_t i) {
    Entry& e = entries_[i];
    if (e.addr_prev != kNone) entries_[e.addr_prev].addr_next = e.addr_next;
    else addr_head_ = e.addr_next;
    if (e.addr_next != kNone) {
        entries_[e.addr_next].addr_prev = e.addr_prev;
    } else {
        addr_tail_ = e.addr_prev;
        // The last allocation: its space goes straight back to the top.
        top_ = addr_tail_ == kNone ? 0 : entries_[addr_tail_].offset + entries_[addr_tail_].bytes();
    }
    used_bytes_ -= e.bytes();
    --in_use_;
    e = Entry();
    e.addr_next = free_list_;
    free_list_ = i;
}

bool Cache::erase(std::string_view key) {
    uint32_t i = lookup(key, hash_key(key));
    if (i == kNone) return false;
    release(i);
    return true;
}

void Cache::clear() {
    while (lru_head_ != kNone) release(lru_head_);
}

// ---- Storing ------------------------------------------------------------------------

bool Cache::make_room(size_t bytes) {
    while ((free_list_ == kNone && entries_made_ == max_entries_) || max_bytes_ - used_bytes_ < bytes) {
        // The least recently used entry nobody holds.
        uint32_t victim = lru_tail_;
        while (victim != kNone && entries_[victim].pins != 0) victim = entries_[victim].lru_prev;
        if (victim == kNone) return false;
        ++stats_.evictions;
        release(victim);
    }
    return true;
}

void Cache::compact() {
    ++stats_.compactions;
    size_t at = 0;
    for (uint32_t i = addr_head_; i != kNone; i = entries_[i].addr_next) {
        Entry& e = entries_[i];
        if (e.offset != at) std::memmove(arena_ + at, arena_ + e.offset, e.bytes());
        e.offset = uint32_t(at);
        at += e.bytes();
    }
    top_ = at;
}

Result<CacheRef> Cache::store(std::string_view key, uint64_t hash, const CacheFill& value, Duration ttl,
                              Error error) {
    if (!entries_) return error_;
    if (value.overflow) return Error(Errc::invalid_argument, "cache: more than CacheFill::kMaxParts parts");
    size_t need = key.size() + value.size();
    if (need > max_bytes_) return Error(Errc::too_large, "cache: value larger than the cache (raise Limits::cache_bytes)");
    // The old entry goes first, so its room counts.
    if (uint32_t old = lookup(key, hash); old != kNone) release(old);
    if (!make_room(need)) return Error(Errc::no_memory, "cache: every entry is in use (pinned)");
    if (max_bytes_ - top_ < need) compact();

    uint32_t i = free_list_;
    if (i != kNone) {
        free_list_ = entries_[i].addr_next;
        entries_[i] = Entry();
    } else {
        i = entries_made_++;
        new (&entries_[i]) Entry();
    }
    Entry& e = entries_[i];
    e.hash = hash;
    e.error = error;
    e.offset = uint32_t(top_);
    e.key_len = uint32_t(key.size());
    e.value_len = uint32_t(need - key.size());
    e.stored_at = Clock::now();
    // Longer than anyone waits, and far from overflowing the clock (RFC 9111's 2^31 s).
    constexpr Duration kMaxTtl = std::chrono::seconds(int64_t(1) << 31);
    e.expires = e.stored_at + (ttl > kMaxTtl ? kMaxTtl : ttl > Duration(0) ? ttl : Duration(0));
    uint8_t* at = arena_ + top_;
    std::memcpy(at, key.data(), key.size());
    at += key.size();
    for (size_t p = 0; p < value.count; ++p) {
        if (!value.parts[p].empty()) std::memcpy(at, value.parts[p].data(), value.parts[p].size());
        at += value.parts[p].size();
    }
    top_ += need;
    used_bytes_ += need;
    ++in_use_;
    e.addr_prev = addr_tail_;
    if (addr_tail_ != kNone) entries_[addr_tail_].addr_next = i;
    else addr_head_ = i;
    addr_tail_ = i;

    if (ttl > Duration(0)) {
        e.state = Entry::stored;
        e.chain = buckets_[hash & bucket_mask_];
        buckets_[hash & bucket_mask_] = i;
        e.lru_next = lru_head_;
        if (lru_head_ != kNone) entries_[lru_head_].lru_prev = i;
        lru_head_ = i;
        if (lru_tail_ == kNone) lru_tail_ = i;
    } else {
        e.state = Entry::detached;  // freed when the returned ref (and its copies) go
    }
    pin(i);
    return CacheRef(this, i);
}

Result<CacheRef> Cache::put(std::string_view key, const CacheFill& value, Duration ttl) {
    return store(key, hash_key(key), value, ttl, Error());
}

// ---- Single flight ------------------------------------------------------------------

detail::CacheProbe Cache::probe(std::string_view key) {
    detail::CacheProbe p;
    p.hash = hash_key(key);
    uint32_t i = lookup(key, p.hash);
    if (i != kNone && Clock::now() < entries_[i].expires) {
        p.hit = true;
        ++stats_.hits;
        touch(i);
        if (entries_[i].error.code != Errc::ok) {
            p.result = entries_[i].error;
        } else {
            pin(i);
            p.result = CacheRef(this, i);
        }
        return p;
    }
    for (detail::CacheFlight* f = flights_; f; f = f->next) {
        if (f->hash == p.hash && f->key == key) {
            p.flight = f;
            ++stats_.waits;
            return p;
        }
    }
    return p;
}

void Cache::begin_flight(detail::CacheFlight& f, std::string_view key, uint64_t hash) {
    ++stats_.fills;
    f.cache = this;
    f.key = key;
    f.hash = hash;
    f.active = true;
    f.next = flights_;
    if (flights_) flights_->prev = &f;
    flights_ = &f;
}

namespace {

void unlink_flight(detail::CacheFlight*& head, detail::CacheFlight& f) {
    if (f.prev) f.prev->next = f.next;
    else head = f.next;
    if (f.next) f.next->prev = f.prev;
    f.prev = f.next = nullptr;
    f.active = false;
}

// Unlinks every waiter of `f` and queues it on the loop with what `set` gives it.
template <typename Set>
void wake_all(detail::CacheFlight& f, Set set) {
    Loop* loop = Loop::current();
    while (detail::CacheWaiter* w = f.waiters) {
        f.waiters = w->next;
        if (w->next) w->next->prev = nullptr;
        w->prev = w->next = nullptr;
        w->flight = nullptr;
        set(*w);
        // Never resumed inside the producer's stack: on the next loop turn.
        if (loop) loop->schedule(*w);
    }
}

}  // namespace

Result<CacheRef> Cache::finish_flight(detail::CacheFlight& f, Result<CacheFill>&& fill, Duration ttl,
                                      const ComputeOptions& options) {
    unlink_flight(flights_, f);
    Result<CacheRef> out{CacheRef()};
    if (fill) {
        Duration keep = fill->ttl < Duration(0) ? ttl : fill->ttl;
        out = store(f.key, f.hash, *fill, keep, Error());
    } else {
        ++stats_.errors;
        out = fill.error();
        if (options.error_ttl > Duration(0)) {
            auto kept = store(f.key, f.hash, CacheFill(), options.error_ttl, fill.error());
            (void)kept;  // a cached error is a bonus; the callers get the error either way
        }
    }
    wake_all(f, [&](detail::CacheWaiter& w) { w.result = out; });
    return out;
}

void Cache::abandon_flight(detail::CacheFlight& f) {
    unlink_flight(flights_, f);
    wake_all(f, [](detail::CacheWaiter& w) { w.retry = true; });
}

void Cache::join(detail::CacheFlight& f, detail::CacheWaiter& w) {
    w.flight = &f;
    w.next = f.waiters;
    if (f.waiters) f.waiters->prev = &w;
    f.waiters = &w;
}

void Cache::leave(detail::CacheWaiter& w) {
    detail::CacheFlight* f = w.flight;
    if (!f) return;
    if (w.prev) w.prev->next = w.next;
    else f->waiters = w.next;
    if (w.next) w.next->prev = w.prev;
    w.prev = w.next = nullptr;
    w.flight = nullptr;
}

detail::CacheFlight::~CacheFlight() {
    // The computing caller was cancelled before finishing.
    if (active) cache->abandon_flight(*this);
}

}  // namespace gust
