// Device status: reads system facts through the port layer and renders them,
// with the server's counters, as JSON members or Prometheus text.
#include <gust/status.hpp>

#include "port.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace gust {

namespace {

// A fixed name array as a view, stopping at the first NUL or the array's end
// (a hand-filled name need not be terminated).
template <size_t N>
std::string_view name_view(const char (&name)[N]) {
    const void* nul = std::memchr(name, '\0', N);
    return std::string_view(name, nul ? static_cast<size_t>(static_cast<const char*>(nul) - name) : N);
}

// Copies a fixed name array into another, cut to fit and NUL-terminated.
template <size_t N, size_t M>
void copy_name(char (&dst)[N], const char (&src)[M]) {
    size_t n = name_view(src).size();
    if (n > N - 1) n = N - 1;
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

}  // namespace

Result<void> read_system(SystemSnapshot& out, const char* thermal_dir) {
    out = SystemSnapshot{};
    Error first;
    bool any = false;
    auto note = [&](Error e) {
        if (first.code == Errc::ok) first = e;
    };

    if (auto host = port::hostname(out.hostname)) {
        out.has_hostname = true;
        any = true;
    } else {
        out.hostname[0] = '\0';  // gethostname may have left a partial name
        note(host.error());
    }

    if (auto up = port::uptime_s()) {
        out.has_uptime = true;
        out.uptime_s = *up;
        any = true;
    } else {
        note(up.error());
    }

    if (auto load = port::load_average()) {
        out.has_load = true;
        out.load1 = load->one;
        out.load5 = load->five;
        out.load15 = load->fifteen;
        any = true;
    } else {
        note(load.error());
    }

    if (auto mem = port::memory()) {
        out.has_memory = true;
        out.memory_total_bytes = mem->total_bytes;
        out.memory_available_bytes = mem->available_bytes;
        any = true;
    } else {
        note(mem.error());
    }

    // A board without thermal zones (or without the directory) has no temperatures; that is not a failure.
    if (thermal_dir) {
        port::Temperature zones[kStatusMaxTemperatures];
        if (auto n = port::temperatures(zones, thermal_dir)) {
            for (size_t i = 0; i < *n; ++i) {
                copy_name(out.temperatures[i].name, zones[i].name);
                out.temperatures[i].millicelsius = zones[i].millicelsius;
            }
            out.temperature_count = *n;
        }
    }

    {
        port::Interface itfs[kStatusMaxInterfaces];
        if (auto n = port::interfaces(itfs)) {
            for (size_t i = 0; i < *n; ++i) {
                InterfaceCounters& c = out.interfaces[i];
                copy_name(c.name, itfs[i].name);
                c.rx_bytes = itfs[i].rx_bytes;
                c.tx_bytes = itfs[i].tx_bytes;
                c.rx_packets = itfs[i].rx_packets;
                c.tx_packets = itfs[i].tx_packets;
            }
            out.interface_count = *n;
            out.has_interfaces = true;
            any = true;
        } else {
            note(n.error());
        }
    }

    if (auto rss = port::process_rss()) {
        out.has_rss = true;
        out.rss_bytes = *rss;
        any = true;
    } else {
        note(rss.error());
    }

    if (auto fds = port::process_open_fds()) {
        out.has_open_fds = true;
        out.open_fds = *fds;
        any = true;
    } else {
        note(fds.error());
    }

    if (!any) return first;
    return ok();
}

// ---- JSON -------------------------------------------------------------------

void write_status_json(JsonWriter& j, const SystemSnapshot& sys, const ServerFigures& fig) {
    if (sys.has_hostname) j.kv("hostname", name_view(sys.hostname));
    if (sys.has_uptime) j.kv("uptime_s", sys.uptime_s);
    if (sys.has_load) {
        j.key("load");
        j.begin_object();
        j.kv("1", sys.load1);
        j.kv("5", sys.load5);
        j.kv("15", sys.load15);
        j.end_object();
    }
    if (sys.has_memory) {
        j.key("memory");
        j.begin_object();
        j.kv("total_bytes", sys.memory_total_bytes);
        j.kv("available_bytes", sys.memory_available_bytes);
        j.end_object();
    }

    j.key("temperatures");
    j.begin_array();
    size_t temps = sys.temperature_count < kStatusMaxTemperatures ? sys.temperature_count : kStatusMaxTemperatures;
    for (size_t i = 0; i < temps; ++i) {
        j.begin_object();
        j.kv("name", name_view(sys.temperatures[i].name));
        j.kv("celsius", sys.temperatures[i].millicelsius / 1000.0);
        j.end_object();
    }
    j.end_array();

    if (sys.has_interfaces) {
        j.key("interfaces");
        j.begin_array();
        size_t n = sys.interface_count < kStatusMaxInterfaces ? sys.interface_count : kStatusMaxInterfaces;
        for (size_t i = 0; i < n; ++i) {
            const InterfaceCounters& c = sys.interfaces[i];
            j.begin_object();
            j.kv("name", name_view(c.name));
            j.kv("rx_bytes", c.rx_bytes);
            j.kv("tx_bytes", c.tx_bytes);
            j.kv("rx_packets", c.rx_packets);
            j.kv("tx_packets", c.tx_packets);
            j.end_object();
        }
        j.end_array();
    }

    if (sys.has_rss || sys.has_open_fds) {
        j.key("process");
        j.begin_object();
        if (sys.has_rss) j.kv("rss_bytes", sys.rss_bytes);
        if (sys.has_open_fds) j.kv("open_fds", sys.open_fds);
        j.end_object();
    }

    j.key("server");
    j.begin_object();
    j.kv("connections_open", fig.connections_open);
    j.kv("connections_accepted", fig.connections_accepted);
    j.kv("connections_refused", fig.connections_refused);
    j.kv("connections_high_water", fig.connections_high_water);
    j.kv("requests", fig.requests);
    j.kv("responses_4xx", fig.responses_4xx);
    j.kv("responses_5xx", fig.responses_5xx);
    j.kv("bytes_in", fig.bytes_in);
    j.kv("bytes_out", fig.bytes_out);
    j.key("buffers");
    j.begin_object();
    j.kv("in_use", fig.buffers_in_use);
    j.kv("high_water", fig.buffers_high_water);
    j.kv("capacity", fig.buffers_capacity);
    j.end_object();
    j.key("frames");
    j.begin_object();
    j.kv("in_use", fig.frames_in_use);
    j.kv("high_water", fig.frames_high_water);
    j.kv("capacity", fig.frames_capacity);
    j.kv("request_capacity", fig.frames_request_capacity);
    j.end_object();
    if (fig.tls) {
        j.key("tls");
        j.begin_object();
        j.kv("connections_open", fig.tls_connections_open);
        j.kv("handshakes", fig.tls_handshakes);
        j.kv("handshake_failures", fig.tls_handshake_failures);
        j.kv("refused", fig.tls_refused);
        j.kv("handshake_seconds", double(fig.tls_handshake_ns) / 1e9);
        j.end_object();
    }
    j.end_object();
}

// ---- Prometheus text --------------------------------------------------------

namespace {

/* Appends into a fixed span; the first append that does not fit sets
 * overflow and every later one is ignored, so nothing lands past the end. */
class TextOut {
public:
    explicit TextOut(std::span<char> out) : buf_(out.data()), cap_(out.size()) {}

    bool overflow() const { return overflow_; }
    std::string_view text() const { return std::string_view(buf_, len_); }

    void put(std::string_view s) {
        if (overflow_ || s.empty()) return;
        if (s.size() > cap_ - len_) {
            overflow_ = true;
            return;
        }
        std::memcpy(buf_ + len_, s.data(), s.size());
        len_ += s.size();
    }
    void put(char c) { put(std::string_view(&c, 1)); }

    void put_u64(uint64_t v) {
        char tmp[24];
        auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
        put(std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
    }

    // Shortest round-trip form, which Go's ParseFloat (Prometheus) reads back exactly.
    void put_double(double d) {
        if (std::isnan(d)) return put("NaN");
        if (std::isinf(d)) return put(d > 0 ? "+Inf" : "-Inf");
        char tmp[32];
        auto r = std::to_chars(tmp, tmp + sizeof tmp, d);
        put(std::string_view(tmp, static_cast<size_t>(r.ptr - tmp)));
    }

    // A label value: \ " and newline escaped, invalid UTF-8 replaced by U+FFFD.
    void put_label_value(std::string_view s) {
        const auto* p = reinterpret_cast<const unsigned char*>(s.data());
        size_t n = s.size();
        size_t i = 0;
        while (i < n) {
            unsigned char c = p[i];
            if (c == '\\') { put("\\\\"); ++i; continue; }
            if (c == '"') { put("\\\""); ++i; continue; }
            if (c == '\n') { put("\\n"); ++i; continue; }
            if (c < 0x80) { put(static_cast<char>(c)); ++i; continue; }
            bool valid = false;
            size_t len = detail::utf8_sequence(p + i, n - i, valid);
            if (valid) put(s.substr(i, len));
            else put("\xEF\xBF\xBD");
            i += len;
        }
    }

private:
    char* buf_;
    size_t cap_;
    size_t len_ = 0;
    bool overflow_ = false;
};

// "# HELP name help\n# TYPE name type\n"; help texts are literals without \ or newline.
void family(TextOut& o, std::string_view name, std::string_view type, std::string_view help) {
    o.put("# HELP ");
    o.put(name);
    o.put(' ');
    o.put(help);
    o.put("\n# TYPE ");
    o.put(name);
    o.put(' ');
    o.put(type);
    o.put('\n');
}

// "name{label="value"} " (the braces only when label is non-empty); the caller adds the value.
void sample_start(TextOut& o, std::string_view name, std::string_view label = {}, std::string_view value = {}) {
    o.put(name);
    if (!label.empty()) {
        o.put('{');
        o.put(label);
        o.put("=\"");
        o.put_label_value(value);
        o.put("\"}");
    }
    o.put(' ');
}

void gauge_u64(TextOut& o, std::string_view name, std::string_view help, uint64_t v) {
    family(o, name, "gauge", help);
    sample_start(o, name);
    o.put_u64(v);
    o.put('\n');
}

void gauge_double(TextOut& o, std::string_view name, std::string_view help, double v) {
    family(o, name, "gauge", help);
    sample_start(o, name);
    o.put_double(v);
    o.put('\n');
}

void counter_u64(TextOut& o, std::string_view name, std::string_view help, uint64_t v) {
    family(o, name, "counter", help);
    sample_start(o, name);
    o.put_u64(v);
    o.put('\n');
}

// One counter family with a sample per interface.
void interface_counter(TextOut& o, const SystemSnapshot& sys, size_t count, std::string_view name,
                       std::string_view help, uint64_t InterfaceCounters::*field) {
    family(o, name, "counter", help);
    for (size_t i = 0; i < count; ++i) {
        sample_start(o, name, "interface", name_view(sys.interfaces[i].name));
        o.put_u64(sys.interfaces[i].*field);
        o.put('\n');
    }
}

}  // namespace

Result<std::string_view> write_metrics(std::span<char> out, const SystemSnapshot& sys, const ServerFigures& fig) {
    TextOut o(out);

    if (sys.has_hostname) {
        family(o, "gust_host_info", "gauge", "Constant 1, labelled with the host name.");
        sample_start(o, "gust_host_info", "hostname", name_view(sys.hostname));
        o.put("1\n");
    }
    if (sys.has_uptime) gauge_double(o, "gust_uptime_seconds", "Seconds since the system booted.", sys.uptime_s);
    if (sys.has_load) {
        gauge_double(o, "gust_load1", "System load average over 1 minute.", sys.load1);
        gauge_double(o, "gust_load5", "System load average over 5 minutes.", sys.load5);
        gauge_double(o, "gust_load15", "System load average over 15 minutes.", sys.load15);
    }
    if (sys.has_memory) {
        gauge_u64(o, "gust_memory_total_bytes", "Total usable memory in bytes.", sys.memory_total_bytes);
        gauge_u64(o, "gust_memory_available_bytes", "Memory available for new work without swapping, in bytes.",
                  sys.memory_available_bytes);
    }

    size_t temps = sys.temperature_count < kStatusMaxTemperatures ? sys.temperature_count : kStatusMaxTemperatures;
    if (temps > 0) {
        family(o, "gust_temperature_celsius", "gauge", "Thermal zone temperature in degrees Celsius.");
        for (size_t i = 0; i < temps; ++i) {
            std::string_view zone = name_view(sys.temperatures[i].name);
            // Two zones of the same type would be one series twice; number the repeats.
            uint64_t seen = 0;
            for (size_t k = 0; k < i; ++k) seen += name_view(sys.temperatures[k].name) == zone;
            o.put("gust_temperature_celsius{zone=\"");
            o.put_label_value(zone);
            if (seen > 0) {
                o.put('_');
                o.put_u64(seen + 1);
            }
            o.put("\"} ");
            o.put_double(sys.temperatures[i].millicelsius / 1000.0);
            o.put('\n');
        }
    }

    size_t itfs = sys.has_interfaces ? sys.interface_count : 0;
    if (itfs > kStatusMaxInterfaces) itfs = kStatusMaxInterfaces;
    if (itfs > 0) {
        interface_counter(o, sys, itfs, "gust_network_receive_bytes_total", "Bytes received by the interface.",
                          &InterfaceCounters::rx_bytes);
        interface_counter(o, sys, itfs, "gust_network_transmit_bytes_total", "Bytes sent by the interface.",
                          &InterfaceCounters::tx_bytes);
        interface_counter(o, sys, itfs, "gust_network_receive_packets_total", "Packets received by the interface.",
                          &InterfaceCounters::rx_packets);
        interface_counter(o, sys, itfs, "gust_network_transmit_packets_total", "Packets sent by the interface.",
                          &InterfaceCounters::tx_packets);
    }

    if (sys.has_rss)
        gauge_u64(o, "gust_process_resident_memory_bytes", "Resident memory of this process in bytes.", sys.rss_bytes);
    if (sys.has_open_fds)
        gauge_u64(o, "gust_process_open_fds", "Open file descriptors of this process.", sys.open_fds);

    counter_u64(o, "gust_http_connections_accepted_total", "HTTP connections accepted.", fig.connections_accepted);
    counter_u64(o, "gust_http_connections_refused_total", "HTTP connections turned away at the connection limit.",
                fig.connections_refused);
    gauge_u64(o, "gust_http_connections_open", "HTTP connections open now.", fig.connections_open);
    gauge_u64(o, "gust_http_connections_high_water", "Most HTTP connections open at once.",
              fig.connections_high_water);
    counter_u64(o, "gust_http_requests_total", "HTTP requests received.", fig.requests);
    family(o, "gust_http_responses_total", "counter", "HTTP error responses sent, by status class.");
    sample_start(o, "gust_http_responses_total", "class", "4xx");
    o.put_u64(fig.responses_4xx);
    o.put('\n');
    sample_start(o, "gust_http_responses_total", "class", "5xx");
    o.put_u64(fig.responses_5xx);
    o.put('\n');
    counter_u64(o, "gust_http_receive_bytes_total", "Bytes received on HTTP connections.", fig.bytes_in);
    counter_u64(o, "gust_http_transmit_bytes_total", "Bytes sent on HTTP connections.", fig.bytes_out);
    gauge_u64(o, "gust_buffers_in_use", "I/O buffers lent to connections now.", fig.buffers_in_use);
    gauge_u64(o, "gust_buffers_high_water", "Most I/O buffers lent at once.", fig.buffers_high_water);
    gauge_u64(o, "gust_buffers_capacity", "I/O buffers in the pool.", fig.buffers_capacity);
    gauge_u64(o, "gust_frames_in_use", "Coroutine frames in use now.", fig.frames_in_use);
    gauge_u64(o, "gust_frames_high_water", "Most coroutine frames in use at once.", fig.frames_high_water);
    gauge_u64(o, "gust_frames_capacity", "Coroutine frames in the pool.", fig.frames_capacity);
    gauge_u64(o, "gust_frames_request_capacity", "Requests that can be in flight at once (frames of 4 KiB or more).",
              fig.frames_request_capacity);
    if (fig.tls) {
        gauge_u64(o, "gust_tls_connections_open", "TLS connections open now.", fig.tls_connections_open);
        counter_u64(o, "gust_tls_handshakes_total", "TLS handshakes completed.", fig.tls_handshakes);
        counter_u64(o, "gust_tls_handshake_failures_total", "TLS handshakes failed or timed out.",
                    fig.tls_handshake_failures);
        counter_u64(o, "gust_tls_refused_total", "TLS connections closed at accept: connection or handshake cap.",
                    fig.tls_refused);
        counter_u64(o, "gust_tls_handshake_nanoseconds_total", "Server time spent inside TLS handshake steps.",
                    fig.tls_handshake_ns);
    }

    if (o.overflow()) return Error(Errc::too_large, "metrics do not fit in the buffer");
    return o.text();
}

}  // namespace gust
