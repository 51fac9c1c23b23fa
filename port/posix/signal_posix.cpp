// Process-wide signal dispositions: SIGPIPE ignored, SIGINT/SIGTERM turned
// into a flag plus a wake-up so the loop can drain and stop on its own thread.
#include <port.hpp>

#include <csignal>
#include <cerrno>

namespace gust::port {

namespace {

// Read by the handler, so plain volatile data set before the handler is installed.
volatile int* volatile stop_flag = nullptr;
volatile int stop_wake_read = -1;
volatile int stop_wake_write = -1;

void on_stop_signal(int sig) {
    int saved_errno = errno;  // the interrupted code may be about to read errno
    if (volatile int* flag = stop_flag) *flag = sig;
    WakeFd w;
    w.read_fd = stop_wake_read;
    w.write_fd = stop_wake_write;
    wake_signal(w);  // async-signal-safe: a single write(2)
    errno = saved_errno;
}

void set_handler(int sig, void (*handler)(int)) {
    struct sigaction sa{};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    // No SA_RESTART: a blocking wait returns EINTR at once and the loop sees the flag.
    sa.sa_flags = 0;
    ::sigaction(sig, &sa, nullptr);
}

}  // namespace

void ignore_sigpipe() { set_handler(SIGPIPE, SIG_IGN); }

void catch_stop_signals(volatile int* flag, const WakeFd* w) {
    if (!w) {
        set_handler(SIGINT, SIG_DFL);
        set_handler(SIGTERM, SIG_DFL);
        stop_flag = nullptr;
        stop_wake_read = -1;
        stop_wake_write = -1;
        return;
    }
    stop_flag = flag;
    stop_wake_read = w->read_fd;
    stop_wake_write = w->write_fd;
    set_handler(SIGINT, on_stop_signal);
    set_handler(SIGTERM, on_stop_signal);
}

}  // namespace gust::port
