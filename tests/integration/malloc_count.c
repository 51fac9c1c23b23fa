/* malloc_count.so: an LD_PRELOAD library that counts heap allocations.
 *
 *   cc -shared -fPIC -O2 -o malloc_count.so tests/integration/malloc_count.c -ldl
 *   MALLOC_COUNT_FILE=/tmp/count LD_PRELOAD=./malloc_count.so statusd ...
 *   kill -USR2 <pid>   ->  /tmp/count holds "<allocations> <frees>\n"
 *
 * Interposes malloc, calloc, realloc, free, posix_memalign, aligned_alloc,
 * memalign, valloc and pvalloc; each call that returns a new block (realloc
 * included, except realloc(p, 0)) adds one to an atomic counter, each free of
 * a non-null pointer adds one to a second counter. The real functions come
 * from dlsym(RTLD_NEXT): that works under ASan too, where glibc's __libc_*
 * would bypass the sanitizer's allocator. dlsym itself may call calloc before
 * the real one is known; those calls are served from a small static arena
 * whose blocks are never freed.
 *
 * On SIGUSR2 the counts go to $MALLOC_COUNT_FILE with open/write/rename only
 * (async-signal-safe, no stdio, no allocation): written to "<file>.tmp" first
 * and renamed, so a reader never sees half a line.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* rename() only: no stdio streams */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long long g_allocs;
static unsigned long long g_frees;

static void* (*real_malloc)(size_t);
static void* (*real_calloc)(size_t, size_t);
static void* (*real_realloc)(void*, size_t);
static void (*real_free)(void*);
static int (*real_posix_memalign)(void**, size_t, size_t);
static void* (*real_aligned_alloc)(size_t, size_t);
static void* (*real_memalign)(size_t, size_t);
static void* (*real_valloc)(size_t);
static void* (*real_pvalloc)(size_t);

/* The bootstrap arena for allocations made while dlsym runs. */
static _Alignas(16) unsigned char g_arena[64 * 1024];
static size_t g_arena_used;
static int g_resolving;

static int in_arena(const void* p) {
    return (const unsigned char*)p >= g_arena && (const unsigned char*)p < g_arena + sizeof g_arena;
}

static void* arena_alloc(size_t n) {
    size_t at = (__atomic_fetch_add(&g_arena_used, (n + 15) & ~(size_t)15, __ATOMIC_RELAXED));
    if (at + n > sizeof g_arena) return NULL;
    return g_arena + at; /* static storage: already zero */
}

static void count_alloc(void) { __atomic_fetch_add(&g_allocs, 1, __ATOMIC_RELAXED); }

static void resolve(void) {
    if (real_malloc || g_resolving) return;
    g_resolving = 1;
    real_calloc = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void* (*)(void*, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void*))dlsym(RTLD_NEXT, "free");
    real_posix_memalign = (int (*)(void**, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    real_valloc = (void* (*)(size_t))dlsym(RTLD_NEXT, "valloc");
    real_pvalloc = (void* (*)(size_t))dlsym(RTLD_NEXT, "pvalloc");
    void* m = dlsym(RTLD_NEXT, "malloc");
    __atomic_store_n(&real_malloc, (void* (*)(size_t))m, __ATOMIC_RELEASE);
    g_resolving = 0;
}

void* malloc(size_t n) {
    resolve();
    if (!real_malloc) return arena_alloc(n);
    count_alloc();
    return real_malloc(n);
}

void* calloc(size_t a, size_t b) {
    resolve();
    if (!real_calloc || !real_malloc) {
        size_t n;
        if (__builtin_mul_overflow(a, b, &n)) return NULL;
        return arena_alloc(n);
    }
    count_alloc();
    return real_calloc(a, b);
}

void* realloc(void* p, size_t n) {
    resolve();
    if (in_arena(p)) { /* move a bootstrap block to the real heap */
        void* q = malloc(n);
        if (q) {
            size_t room = (size_t)(g_arena + sizeof g_arena - (unsigned char*)p);
            memcpy(q, p, n < room ? n : room);
        }
        return q;
    }
    if (!real_realloc) return NULL;
    if (n != 0 || !p) count_alloc();
    if (p && n == 0) __atomic_fetch_add(&g_frees, 1, __ATOMIC_RELAXED);
    return real_realloc(p, n);
}

void free(void* p) {
    if (!p || in_arena(p)) return;
    resolve();
    __atomic_fetch_add(&g_frees, 1, __ATOMIC_RELAXED);
    if (real_free) real_free(p);
}

int posix_memalign(void** out, size_t align, size_t n) {
    resolve();
    if (!real_posix_memalign) return ENOMEM;
    count_alloc();
    return real_posix_memalign(out, align, n);
}

void* aligned_alloc(size_t align, size_t n) {
    resolve();
    if (!real_aligned_alloc) return NULL;
    count_alloc();
    return real_aligned_alloc(align, n);
}

void* memalign(size_t align, size_t n) {
    resolve();
    if (!real_memalign) return NULL;
    count_alloc();
    return real_memalign(align, n);
}

void* valloc(size_t n) {
    resolve();
    if (!real_valloc) return NULL;
    count_alloc();
    return real_valloc(n);
}

void* pvalloc(size_t n) {
    resolve();
    if (!real_pvalloc) return NULL;
    count_alloc();
    return real_pvalloc(n);
}

/* ---- reporting ---------------------------------------------------------------- */

static char g_path[4096];
static char g_tmp_path[4100];

static size_t fmt_u64(char* out, unsigned long long v) {
    char rev[24];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; ++i) out[i] = rev[n - 1 - i];
    return n;
}

static void on_usr2(int sig) {
    (void)sig;
    int saved = errno;
    if (g_path[0]) {
        char line[64];
        size_t n = fmt_u64(line, __atomic_load_n(&g_allocs, __ATOMIC_RELAXED));
        line[n++] = ' ';
        n += fmt_u64(line + n, __atomic_load_n(&g_frees, __ATOMIC_RELAXED));
        line[n++] = '\n';
        int fd = open(g_tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            size_t off = 0;
            while (off < n) {
                ssize_t w = write(fd, line + off, n - off);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) break;
                off += (size_t)w;
            }
            close(fd);
            rename(g_tmp_path, g_path);
        }
    }
    errno = saved;
}

__attribute__((constructor)) static void malloc_count_init(void) {
    resolve();
    const char* p = getenv("MALLOC_COUNT_FILE");
    if (p && strlen(p) < sizeof g_path) {
        memcpy(g_path, p, strlen(p) + 1);
        memcpy(g_tmp_path, p, strlen(p));
        memcpy(g_tmp_path + strlen(p), ".tmp", 5);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
}
