/* The bench's allocation counter: tests/integration/malloc_count.c, reporting
 * on SIGRTMIN+7 instead of SIGUSR2, because nginx and lighttpd install their
 * own SIGUSR2 handlers over the counter's. No peer uses real-time signals.
 *
 *   cc -shared -fPIC -O2 -o malloc_count_rt.so tests/bench/malloc_count_rt.c -ldl
 *   MALLOC_COUNT_FILE=f LD_PRELOAD=./malloc_count_rt.so server ...
 *   kill -s RTMIN+7 <pid>   ->  f holds "<allocations> <frees>\n" */
#include <signal.h>
#undef SIGUSR2
#define SIGUSR2 (SIGRTMIN + 7)
#include "../integration/malloc_count.c"
