#include <doctest/doctest.h>

#include <gust/frame_pool.hpp>

using namespace gust;

// A pool of its own: the thread's pool serves the other tests' coroutines.
TEST_CASE("frame pool: each size lands in the smallest class that holds it") {
    FramePool pool;
    REQUIRE(pool.configure({1, 1, 1, 1, 1, 1, 1}));
    struct Case {
        size_t size;
        int cls;
    };
    const Case cases[] = {{1, 0}, {128, 0}, {129, 1}, {256, 1}, {257, 2}, {4096, 5}, {4097, 6}, {8192, 6}};
    for (const Case& c : cases) {
        CAPTURE(c.size);
        void* p = pool.allocate(c.size);
        REQUIRE(p);
        CHECK(pool.stats(c.cls).in_use == 1);
        CHECK(pool.in_use() == 1);
        pool.release(p, c.size);
        CHECK(pool.stats(c.cls).in_use == 0);
    }
    CHECK(pool.allocate(8193) == nullptr);
    CHECK(pool.in_use() == 0);
}

TEST_CASE("frame pool: a block that spilled into a larger class goes back to that class") {
    FramePool pool;
    REQUIRE(pool.configure({1, 1, 0, 0, 0, 0, 0}));
    void* small = pool.allocate(100);
    void* spilled = pool.allocate(100);  // class 0 is full: class 1 serves it
    REQUIRE(small);
    REQUIRE(spilled);
    CHECK(pool.stats(0).in_use == 1);
    CHECK(pool.stats(1).in_use == 1);
    CHECK(pool.allocate(100) == nullptr);
    CHECK(pool.stats(1).refused == 1);

    pool.release(spilled, 100);  // its size names class 0, its address class 1
    CHECK(pool.stats(0).in_use == 1);
    CHECK(pool.stats(1).in_use == 0);
    CHECK(pool.allocate(200) == spilled);  // class 1's free list holds it again

    pool.release(small, 100);
    CHECK(pool.stats(0).in_use == 0);
    CHECK(pool.allocate(100) == small);
    pool.release(small, 100);
    pool.release(spilled, 200);
    CHECK(pool.in_use() == 0);
}

TEST_CASE("frame pool: capacity_from counts a class and every larger one") {
    FramePool pool;
    REQUIRE(pool.configure({1, 2, 3, 4, 5, 6, 7}));
    CHECK(pool.capacity_from(0) == 28);
    CHECK(pool.capacity_from(kRequestFrameClass) == 13);
    CHECK(pool.capacity_from(kFrameClasses - 1) == 7);
    CHECK(pool.capacity_from(kFrameClasses) == 0);
}
