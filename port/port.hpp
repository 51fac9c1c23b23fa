// The whole contract between gust and the operating system. Nothing outside
// port/ calls the OS; a new OS is a new folder under port/ implementing this
// header. Each function has one line of contract. All functions are
// non-blocking unless they say otherwise, report failure as an Error value
// (Errc::again for "would block", which is ordinary control flow) and never
// allocate from the heap after start-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <gust/result.hpp>

namespace gust::port {

// ---- Clock ---------------------------------------------------------------

// Nanoseconds on a monotonic clock from an arbitrary origin; never decreases, ignores wall-clock steps.
int64_t monotonic_ns();
// Seconds since the Unix epoch from the wall clock (for Date headers and certificates).
int64_t wall_clock_s();
// Nanoseconds since the Unix epoch from the wall clock.
int64_t wall_clock_ns();

// The fake clock replaces monotonic_ns() for deterministic tests: it stands
// still until advanced, and the loop jumps it to the next timer instead of sleeping.
// Starts the fake clock at `start_ns`; monotonic_ns() returns fake time from now on.
void fake_clock_enable(int64_t start_ns);
// Returns monotonic_ns() to the real clock.
void fake_clock_disable();
// True while the fake clock is in use.
bool fake_clock_enabled();
// Moves the fake clock forward by `ns` (ignored when negative or disabled).
void fake_clock_advance(int64_t ns);

// ---- Addresses -----------------------------------------------------------

// An IPv4 or IPv6 socket address, stored in place (a sockaddr_in or sockaddr_in6).
struct Address {
    alignas(8) unsigned char storage[28] = {};
    uint32_t length = 0;  // 0 means "no address"

    bool is_ipv6() const;
    uint16_t port() const;
    void set_port(uint16_t port);
};

// Parses "1.2.3.4:80", "[::1]:80", "0.0.0.0:8080" or, with default_port >= 0, a bare IP; no name lookup.
Result<Address> parse_address(std::string_view text, int default_port = -1);
// Parses a bare IPv4 or IPv6 literal (no brackets) with the given port.
Result<Address> parse_ip(std::string_view ip, uint16_t port);
// Writes "1.2.3.4:80" or "[::1]:80" into `out` (NUL-terminated); returns the length, 0 if it did not fit.
size_t format_address(const Address& addr, std::span<char> out);
// Writes only the IP ("1.2.3.4" or "::1") into `out` (NUL-terminated); returns the length, 0 if it did not fit.
size_t format_ip(const Address& addr, std::span<char> out);
// Copies the IP in network byte order into `out`: 4 bytes for IPv4, 16 for IPv6; returns the count, 0 for no address.
size_t ip_bytes(const Address& addr, std::span<uint8_t, 16> out);

// ---- Sockets (non-blocking, close-on-exec) -------------------------------

// Opens a TCP listener with SO_REUSEADDR (and IPV6_V6ONLY for IPv6); port 0 picks an ephemeral port.
Result<int> tcp_listen(const Address& addr, int backlog);
// Accepts one connection; Errc::again when none is pending; fills `peer` when non-null.
Result<int> tcp_accept(int listen_fd, Address* peer);
// Starts a connect; the fd is returned at once, the connect completes when it becomes writable.
Result<int> tcp_connect(const Address& addr);
// After writability: ok when the pending connect succeeded, else its error (refused, timeout...).
Result<void> tcp_connect_result(int fd);
// Sets TCP_NODELAY on or off.
Result<void> tcp_set_nodelay(int fd, bool on);
// The local address a socket is bound to (to learn an ephemeral port).
Result<Address> local_address(int fd);
// The connected peer's address.
Result<Address> peer_address(int fd);
// Reads up to out.size() bytes; 0 means the peer closed; Errc::again when nothing is ready.
Result<size_t> read(int fd, std::span<uint8_t> out);
// Writes up to data.size() bytes (never raises SIGPIPE); a short count is normal; Errc::again when full.
Result<size_t> write(int fd, std::span<const uint8_t> data);
// Writes from several buffers at once (writev); same rules as write().
Result<size_t> writev(int fd, std::span<const std::span<const uint8_t>> parts);
// Shuts down the sending side (FIN) so the peer sees end-of-stream.
Result<void> shutdown_write(int fd);
// Closes an fd; safe on -1; never retried on EINTR.
void close(int fd);
// Opens a UDP socket for the family of `bind_addr` and binds it (port 0 picks one).
Result<int> udp_open(const Address& bind_addr);
// Sends one datagram; Errc::again when the socket buffer is full.
Result<size_t> udp_send(int fd, std::span<const uint8_t> data, const Address& to);
// Receives one datagram into `out`, filling `from`; Errc::again when none is queued, Errc::too_large (datagram dropped) when it did not fit.
Result<size_t> udp_receive(int fd, std::span<uint8_t> out, Address* from);
// A connected pair of non-blocking stream sockets (for tests and in-process pipes).
Result<void> socket_pair(int fds[2]);

// ---- Fault injection (tests) ----------------------------------------------

// The socket calls a fault hook can fail or shorten.
enum class FaultSite : uint8_t { accept, read, write };
// Runs before the system call. Returns 0 to let it run (after lowering `*len`
// for a short read or write, never to 0), or an errno value (EINTR, EAGAIN,
// ECONNRESET, EMFILE, ...) that the call then fails with, exactly as if the
// kernel had returned it: EINTR is retried, EAGAIN becomes Errc::again, and so on.
using FaultHook = int (*)(void* user, FaultSite site, int fd, size_t* len);
// Installs the hook (nullptr removes it). For tests: set it while no other
// thread is inside a socket call. Without a hook a call costs one extra branch.
void set_fault_hook(FaultHook hook, void* user);
// The most file descriptors this process may open (RLIMIT_NOFILE soft limit).
int max_open_files();

// ---- Wake fd (lets other threads and signal handlers wake the poller) ---

struct WakeFd {
    int read_fd = -1;   // watch this for readability
    int write_fd = -1;  // same as read_fd for eventfd
};
// Opens an eventfd, or a non-blocking pipe where eventfd is missing.
Result<WakeFd> wake_open();
// Makes read_fd readable; async-signal-safe and thread-safe.
void wake_signal(const WakeFd& w);
// Consumes all pending wake-ups.
void wake_drain(const WakeFd& w);
// Closes both ends.
void wake_close(WakeFd& w);

// ---- Signals --------------------------------------------------------------

// Ignores SIGPIPE for the whole process (writes to closed sockets become errors).
void ignore_sigpipe();
// Routes SIGINT and SIGTERM to `flag` (set to the signal number) and wakes `w`; restores defaults when `w` is null.
void catch_stop_signals(volatile int* flag, const WakeFd* w);

// ---- Pollers --------------------------------------------------------------

enum : uint8_t { kReadable = 1, kWritable = 2, kError = 4 };

// One ready descriptor: the token given at add() and what it is ready for (kReadable|kWritable|kError).
// kError (error or hang-up) always comes with the watched directions, so a reader sees EOF and a writer the error;
// select cannot tell errors apart and reports them as readiness only.
struct Fired {
    uint32_t token;
    uint8_t events;
};

// A readiness backend (poll, select, epoll). It only reports readiness; the
// loop dispatches. Capacity is fixed at creation; tokens are the caller's
// but must be < capacity and unique (the loop uses its watch slot index).
// Level-triggered: a ready fd is reported by every wait() until handled.
class Poller {
public:
    virtual ~Poller() = default;
    // Starts watching `fd` for `events`, reporting `token` (< capacity); Errc::no_memory when full.
    virtual Result<void> add(int fd, uint32_t token, uint8_t events) = 0;
    // Changes the events of a watched fd (0 keeps it registered but quiet).
    virtual Result<void> modify(int fd, uint32_t token, uint8_t events) = 0;
    // Stops watching `fd`; must be called before the fd is closed.
    virtual void remove(int fd, uint32_t token) = 0;
    // Waits up to timeout_ms (-1 forever, 0 not at all); fills `out` (size it to capacity: the rest waits); returns how many fired (EINTR gives 0).
    virtual Result<size_t> wait(int timeout_ms, std::span<Fired> out) = 0;
    // "poll", "select" or "epoll".
    virtual const char* name() const = 0;
};

// Creates a poller that can watch `capacity` fds (allocates once, at start-up).
// select refuses fds >= FD_SETSIZE with Errc::invalid_argument at add().
Poller* poller_poll_create(size_t capacity);
Poller* poller_select_create(size_t capacity);
Poller* poller_epoll_create(size_t capacity);  // nullptr where epoll does not exist

// ---- Random and logging --------------------------------------------------

// Fills `out` with cryptographically strong random bytes (getrandom, else /dev/urandom); may block only before the kernel pool is seeded.
Result<void> random_bytes(std::span<uint8_t> out);

enum class LogLevel : uint8_t { debug = 0, info = 1, warn = 2, error = 3, off = 4 };
// Writes one complete log line (no newline in `line`) to the sink: stderr by default, or syslog.
void log_write(LogLevel level, std::string_view line);
// Chooses the sink: true for syslog (with `ident`), false for stderr.
void log_use_syslog(bool on, const char* ident);

// ---- System facts (for status APIs) --------------------------------------

struct LoadAvg { double one = 0, five = 0, fifteen = 0; };
struct Memory { uint64_t total_bytes = 0, available_bytes = 0; };
struct Temperature {
    char name[32] = {};   // thermal zone type, e.g. "cpu-thermal"
    int32_t millicelsius = 0;
};
struct Interface {
    char name[16] = {};
    uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
};
// Seconds since boot.
Result<double> uptime_s();
// 1, 5 and 15 minute load averages.
Result<LoadAvg> load_average();
// Total and available memory.
Result<Memory> memory();
// The host name into `out` (NUL-terminated); returns its length.
Result<size_t> hostname(std::span<char> out);
// Temperatures from thermal zones under `thermal_dir`, up to out.size(); returns how many.
Result<size_t> temperatures(std::span<Temperature> out, const char* thermal_dir);
// The IPv4 and IPv6 addresses of this host's interfaces that are up (port 0,
// link-local IPv6 skipped), up to out.size(); returns how many.
Result<size_t> local_addresses(std::span<Address> out);
// Network interfaces with byte and packet counters, up to out.size(); returns how many.
Result<size_t> interfaces(std::span<Interface> out);
// This process's resident set size in bytes.
Result<uint64_t> process_rss();
// Open file descriptors of this process.
Result<size_t> process_open_fds();

// ---- Small files (configuration such as /etc/resolv.conf and /etc/hosts) --

// What identifies a file's version: change detection compares all three.
struct FileStamp {
    int64_t mtime_ns = 0;
    uint64_t size = 0;
    uint64_t inode = 0;
    bool directory = false;
};
// The file's modification time, size and inode (one stat); Errc::not_found when it does not exist.
Result<FileStamp> file_stamp(const char* path);
// Reads up to out.size() bytes from the start of a small regular file (blocking; config files only); returns the count.
Result<size_t> read_file(const char* path, std::span<uint8_t> out);
// Reads up to out.size() bytes of a regular file from `offset` (blocking; local files); 0 past the end.
Result<size_t> read_file_at(const char* path, uint64_t offset, std::span<uint8_t> out);

}  // namespace gust::port
