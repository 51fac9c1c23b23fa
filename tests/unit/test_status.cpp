// Device status: read_system on this machine and on a fake thermal directory,
// the JSON members parsed back, the Prometheus text checked line by line
// against a strict reading of exposition format 0.0.4, label escaping, every
// short buffer size against a canary, and no heap use.
#include <doctest/doctest.h>

#include <gust/json.hpp>
#include <gust/status.hpp>

#include "alloc_counter.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace gust;

namespace {

// ---- helpers ----------------------------------------------------------------

template <size_t N>
void set_name(char (&dst)[N], const char* src) {
    std::memset(dst, 0, N);
    std::strncpy(dst, src, N - 1);
}

// A snapshot with every fact present and values that need 64 bits.
SystemSnapshot sample_snapshot() {
    SystemSnapshot s;
    s.has_hostname = true;
    set_name(s.hostname, "gw-1");
    s.has_uptime = true;
    s.uptime_s = 12.5;
    s.has_load = true;
    s.load1 = 0.25;
    s.load5 = 0.5;
    s.load15 = 1;
    s.has_memory = true;
    s.memory_total_bytes = 8589934593ull;  // 2^33 + 1
    s.memory_available_bytes = 1048576;
    s.temperature_count = 1;
    set_name(s.temperatures[0].name, "cpu-thermal");
    s.temperatures[0].millicelsius = 48250;
    s.has_interfaces = true;
    s.interface_count = 1;
    set_name(s.interfaces[0].name, "eth0");
    s.interfaces[0].rx_bytes = 5000000000ull;
    s.interfaces[0].tx_bytes = 2;
    s.interfaces[0].rx_packets = 3;
    s.interfaces[0].tx_packets = 4;
    s.has_rss = true;
    s.rss_bytes = 4096;
    s.has_open_fds = true;
    s.open_fds = 7;
    return s;
}

ServerFigures sample_figures() {
    ServerFigures f;
    f.connections_accepted = 10;
    f.connections_refused = 1;
    f.connections_open = 2;
    f.connections_high_water = 3;
    f.requests = 20;
    f.responses_4xx = 4;
    f.responses_5xx = 5;
    f.bytes_in = 6000000000ull;
    f.bytes_out = 7;
    f.buffers_in_use = 1;
    f.buffers_high_water = 2;
    f.buffers_capacity = 8;
    f.frames_in_use = 3;
    f.frames_high_water = 4;
    f.frames_capacity = 64;
    f.frames_request_capacity = 16;
    return f;
}

std::string status_json(const SystemSnapshot& sys, const ServerFigures& fig) {
    static char buf[16384];
    auto r = write_json_object(buf, [&](JsonWriter& j) { write_status_json(j, sys, fig); });
    REQUIRE(r.ok());
    return std::string(*r);
}

std::string metrics(const SystemSnapshot& sys, const ServerFigures& fig) {
    static char buf[32768];
    auto r = write_metrics(buf, sys, fig);
    REQUIRE(r.ok());
    return std::string(*r);
}

// Follows a path of keys through nested objects.
Result<JsonValue> find_path(std::string_view body, std::initializer_list<std::string_view> keys) {
    Result<JsonValue> v = Error(Errc::not_found, "empty path");
    for (std::string_view k : keys) {
        v = json_find(body, k);
        if (!v.ok()) return v;
        body = v->text;
    }
    return v;
}

uint64_t json_u64(std::string_view body, std::initializer_list<std::string_view> keys) {
    auto v = find_path(body, keys);
    REQUIRE(v.ok());
    auto n = v->as_uint64();
    REQUIRE(n.ok());
    return *n;
}

double json_double(std::string_view body, std::initializer_list<std::string_view> keys) {
    auto v = find_path(body, keys);
    REQUIRE(v.ok());
    auto d = v->as_double();
    REQUIRE(d.ok());
    return *d;
}

std::string json_string(std::string_view body, std::initializer_list<std::string_view> keys) {
    auto v = find_path(body, keys);
    REQUIRE(v.ok());
    REQUIRE(v->token == JsonToken::string);
    char buf[256];
    auto s = v->decode_string(buf);
    REQUIRE(s.ok());
    return std::string(*s);
}

// The elements of a JSON array (given as its fragment), each as its own fragment.
std::vector<std::string> array_items(std::string_view array) {
    std::vector<std::string> items;
    JsonReader r(array);
    REQUIRE(r.next() == JsonToken::begin_array);
    for (JsonToken t = r.next(); t != JsonToken::end_array; t = r.next()) {
        REQUIRE(t != JsonToken::error);
        auto item = r.skip();
        REQUIRE(item.ok());
        items.emplace_back(*item);
    }
    return items;
}

// True if the whole document parses without error.
bool json_valid(std::string_view body) {
    JsonReader r(body);
    for (JsonToken t = r.next();; t = r.next()) {
        if (t == JsonToken::error) return false;
        if (t == JsonToken::end) return true;
    }
}

// ---- a strict reader for Prometheus text format 0.0.4 -----------------------

struct Sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
    std::string value;
};

struct Exposition {
    std::string problem;  // empty when the text is well-formed
    std::vector<Sample> samples;
    std::map<std::string, std::string> types;
    std::map<std::string, std::string> helps;
};

bool metric_name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

bool valid_metric_name(std::string_view s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i)
        if (!metric_name_char(s[i], i == 0)) return false;
    return true;
}

bool valid_label_name(std::string_view s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i)
        if (s[i] == ':' || !metric_name_char(s[i], i == 0)) return false;
    return true;
}

bool valid_value(const std::string& v) {
    if (v == "NaN" || v == "+Inf" || v == "-Inf") return true;
    if (v.empty()) return false;
    char* end = nullptr;
    std::strtod(v.c_str(), &end);
    return end == v.c_str() + v.size();
}

/* Reads the format as Prometheus does, but stricter: every sample's family
 * has a TYPE line before its first sample, HELP and TYPE at most once each,
 * a family's lines stay together, counters end in _total, label values use
 * only the three escapes, and no series appears twice. */
Exposition parse_exposition(std::string_view text) {
    Exposition e;
    auto fail = [&](const std::string& why, std::string_view line) {
        if (e.problem.empty()) e.problem = why + ": " + std::string(line);
    };
    if (text.empty() || text.back() != '\n') {
        e.problem = "text does not end with a newline";
        return e;
    }
    std::string current;
    std::set<std::string> finished, series, sampled;
    auto enter_family = [&](const std::string& name, std::string_view line) {
        if (name == current) return;
        if (finished.count(name)) fail("family split in two", line);
        if (!current.empty()) finished.insert(current);
        current = name;
    };
    size_t pos = 0;
    while (pos < text.size() && e.problem.empty()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) continue;
        if (line[0] == '#') {
            bool help = line.substr(0, 7) == "# HELP ";
            bool type = line.substr(0, 7) == "# TYPE ";
            if (!help && !type) continue;  // a plain comment
            std::string_view rest = line.substr(7);
            size_t sp = rest.find(' ');
            if (sp == std::string_view::npos) { fail("no text after the name", line); break; }
            std::string name(rest.substr(0, sp));
            std::string arg(rest.substr(sp + 1));
            if (!valid_metric_name(name)) { fail("bad metric name", line); break; }
            enter_family(name, line);
            if (help) {
                if (e.helps.count(name)) fail("second HELP", line);
                if (arg.find('\\') != std::string::npos) fail("backslash in HELP", line);
                e.helps[name] = arg;
            } else {
                if (e.types.count(name)) fail("second TYPE", line);
                if (sampled.count(name)) fail("TYPE after a sample", line);
                if (arg != "counter" && arg != "gauge" && arg != "histogram" && arg != "summary" && arg != "untyped")
                    fail("unknown type", line);
                if (arg == "counter" && !name.ends_with("_total")) fail("counter without _total", line);
                e.types[name] = arg;
            }
            continue;
        }
        Sample s;
        size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
        s.name = std::string(line.substr(0, i));
        if (!valid_metric_name(s.name)) { fail("bad sample name", line); break; }
        std::string key = s.name;
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (e.problem.empty()) {
                if (i < line.size() && line[i] == '}') { ++i; break; }
                size_t eq = line.find('=', i);
                if (eq == std::string_view::npos) { fail("label without =", line); break; }
                std::string label(line.substr(i, eq - i));
                if (!valid_label_name(label)) { fail("bad label name", line); break; }
                i = eq + 1;
                if (i >= line.size() || line[i] != '"') { fail("label value not quoted", line); break; }
                ++i;
                std::string value;
                bool closed = false;
                while (i < line.size()) {
                    char c = line[i++];
                    if (c == '"') { closed = true; break; }
                    if (c != '\\') { value += c; continue; }
                    if (i >= line.size()) break;
                    char x = line[i++];
                    if (x == '\\') value += '\\';
                    else if (x == '"') value += '"';
                    else if (x == 'n') value += '\n';
                    else { fail("bad escape in a label value", line); break; }
                }
                if (!closed) { fail("unterminated label value", line); break; }
                s.labels.emplace_back(label, value);
                key += "\x01" + label + "=" + value;
                if (i < line.size() && line[i] == ',') ++i;
            }
        }
        if (!e.problem.empty()) break;
        if (i >= line.size() || line[i] != ' ') { fail("no space before the value", line); break; }
        s.value = std::string(line.substr(i + 1));
        if (!valid_value(s.value)) { fail("bad value", line); break; }
        enter_family(s.name, line);
        if (!e.types.count(s.name)) fail("sample without TYPE", line);
        if (!series.insert(key).second) fail("duplicate series", line);
        sampled.insert(s.name);
        e.samples.push_back(std::move(s));
    }
    return e;
}

// The value of the one sample with this name and (optionally) this label, or "" if none.
std::string sample_value(const Exposition& e, std::string_view name, std::string_view label = {},
                         std::string_view label_value = {}) {
    for (const Sample& s : e.samples) {
        if (s.name != name) continue;
        if (label.empty()) return s.value;
        for (auto& [k, v] : s.labels)
            if (k == label && v == label_value) return s.value;
    }
    return "";
}

// A temporary thermal directory with zones (index, type, temp), removed at the end of scope.
class FakeThermal {
public:
    struct Zone { int index; const char* type; const char* temp; };
    explicit FakeThermal(std::initializer_list<Zone> zones) : zones_(zones) {
        REQUIRE(::mkdtemp(dir_) != nullptr);
        for (const Zone& z : zones_) {
            REQUIRE(::mkdir(path(z.index, nullptr).c_str(), 0700) == 0);
            write(path(z.index, "type"), z.type);
            write(path(z.index, "temp"), z.temp);
        }
    }
    ~FakeThermal() {
        for (const Zone& z : zones_) {
            ::unlink(path(z.index, "type").c_str());
            ::unlink(path(z.index, "temp").c_str());
            ::rmdir(path(z.index, nullptr).c_str());
        }
        ::rmdir(dir_);
    }
    const char* dir() const { return dir_; }

private:
    std::string path(int index, const char* file) const {
        std::string p = std::string(dir_) + "/thermal_zone" + std::to_string(index);
        return file ? p + "/" + file : p;
    }
    static void write(const std::string& p, const char* text) {
        int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, text, std::strlen(text)) == static_cast<ssize_t>(std::strlen(text)));
        ::close(fd);
    }

    char dir_[32] = "/tmp/gust_status_XXXXXX";
    std::vector<Zone> zones_;
};

}  // namespace

// ---- read_system --------------------------------------------------------------

TEST_CASE("read_system gives plausible facts for this machine") {
    SystemSnapshot s;
    REQUIRE(read_system(s, "/nonexistent/thermal").ok());
    CHECK(s.has_hostname);
    CHECK(std::strlen(s.hostname) > 0);
    CHECK(s.has_uptime);
    CHECK(s.uptime_s > 0);
    CHECK(s.has_load);
    CHECK(s.load1 >= 0);
    CHECK(s.has_memory);
    CHECK(s.memory_total_bytes > 0);
    CHECK(s.memory_available_bytes <= s.memory_total_bytes);
    CHECK(s.temperature_count == 0);  // a missing thermal dir is not an error
    REQUIRE(s.has_interfaces);
    CHECK(s.interface_count > 0);
    CHECK(s.interface_count <= kStatusMaxInterfaces);
    bool lo = false;
    for (size_t i = 0; i < s.interface_count; ++i) lo = lo || std::string_view(s.interfaces[i].name) == "lo";
    CHECK(lo);
    CHECK(s.has_rss);
    CHECK(s.rss_bytes > 0);
    CHECK(s.has_open_fds);
    CHECK(s.open_fds >= 3);

    // Both outputs render it, and the JSON agrees with the snapshot.
    std::string json = status_json(s, ServerFigures{});
    CHECK(json_valid(json));
    CHECK(json_string(json, {"hostname"}) == s.hostname);
    CHECK(json_u64(json, {"memory", "total_bytes"}) == s.memory_total_bytes);
    CHECK(array_items(find_path(json, {"temperatures"})->text).empty());
    CHECK(array_items(find_path(json, {"interfaces"})->text).size() == s.interface_count);
    Exposition e = parse_exposition(metrics(s, ServerFigures{}));
    CHECK(e.problem == "");
    CHECK(sample_value(e, "gust_network_receive_bytes_total", "interface", "lo") != "");
    CHECK(sample_value(e, "gust_host_info", "hostname", s.hostname) == "1");
    CHECK(e.types.count("gust_temperature_celsius") == 0);

    // The real thermal zones, if this machine has any, read without error too.
    SystemSnapshot real;
    REQUIRE(read_system(real, "/sys/class/thermal").ok());
    MESSAGE(real.temperature_count << " thermal zone(s), " << real.interface_count << " interface(s)");
    CHECK(parse_exposition(metrics(real, ServerFigures{})).problem == "");
}

TEST_CASE("read_system takes temperatures from a fake thermal directory into both outputs") {
    FakeThermal thermal({{0, "cpu-thermal\n", "48250\n"}, {1, "gpu\n", "-1500\n"}, {3, "cpu-thermal\n", "51000\n"}});
    SystemSnapshot s;
    REQUIRE(read_system(s, thermal.dir()).ok());
    REQUIRE(s.temperature_count == 3);
    CHECK(std::string_view(s.temperatures[0].name) == "cpu-thermal");
    CHECK(s.temperatures[0].millicelsius == 48250);
    CHECK(std::string_view(s.temperatures[1].name) == "gpu");
    CHECK(s.temperatures[1].millicelsius == -1500);
    CHECK(s.temperatures[2].millicelsius == 51000);

    std::string json = status_json(s, ServerFigures{});
    auto temps = find_path(json, {"temperatures"});
    REQUIRE(temps.ok());
    auto items = array_items(temps->text);
    REQUIRE(items.size() == 3);
    CHECK(json_string(items[0], {"name"}) == "cpu-thermal");
    CHECK(json_double(items[0], {"celsius"}) == 48.25);
    CHECK(json_string(items[1], {"name"}) == "gpu");
    CHECK(json_double(items[1], {"celsius"}) == -1.5);
    CHECK(json_double(items[2], {"celsius"}) == 51);

    std::string text = metrics(s, ServerFigures{});
    Exposition e = parse_exposition(text);
    CHECK(e.problem == "");
    CHECK(e.types["gust_temperature_celsius"] == "gauge");
    CHECK(text.find("gust_temperature_celsius{zone=\"cpu-thermal\"} 48.25\n") != std::string::npos);
    CHECK(text.find("gust_temperature_celsius{zone=\"gpu\"} -1.5\n") != std::string::npos);
    // The second zone of the same type becomes its own series.
    CHECK(text.find("gust_temperature_celsius{zone=\"cpu-thermal_2\"} 51\n") != std::string::npos);
}

TEST_CASE("read_system without a thermal directory leaves temperatures out") {
    SystemSnapshot s;
    s.temperature_count = 5;  // overwritten: read_system starts from scratch
    REQUIRE(read_system(s, nullptr).ok());
    CHECK(s.temperature_count == 0);
    CHECK(s.has_memory);
}

// ---- JSON -------------------------------------------------------------------------

TEST_CASE("write_status_json writes every fact and figure of a hand-filled snapshot") {
    std::string json = status_json(sample_snapshot(), sample_figures());
    CHECK(json_valid(json));
    CHECK(json_string(json, {"hostname"}) == "gw-1");
    CHECK(json_double(json, {"uptime_s"}) == 12.5);
    CHECK(json_double(json, {"load", "1"}) == 0.25);
    CHECK(json_double(json, {"load", "5"}) == 0.5);
    CHECK(json_double(json, {"load", "15"}) == 1.0);
    CHECK(json_u64(json, {"memory", "total_bytes"}) == 8589934593ull);
    CHECK(json_u64(json, {"memory", "available_bytes"}) == 1048576);

    auto temps = array_items(find_path(json, {"temperatures"})->text);
    REQUIRE(temps.size() == 1);
    CHECK(json_string(temps[0], {"name"}) == "cpu-thermal");
    CHECK(json_double(temps[0], {"celsius"}) == 48.25);

    auto itfs = array_items(find_path(json, {"interfaces"})->text);
    REQUIRE(itfs.size() == 1);
    CHECK(json_string(itfs[0], {"name"}) == "eth0");
    CHECK(json_u64(itfs[0], {"rx_bytes"}) == 5000000000ull);
    CHECK(json_u64(itfs[0], {"tx_bytes"}) == 2);
    CHECK(json_u64(itfs[0], {"rx_packets"}) == 3);
    CHECK(json_u64(itfs[0], {"tx_packets"}) == 4);

    CHECK(json_u64(json, {"process", "rss_bytes"}) == 4096);
    CHECK(json_u64(json, {"process", "open_fds"}) == 7);

    CHECK(json_u64(json, {"server", "connections_open"}) == 2);
    CHECK(json_u64(json, {"server", "connections_accepted"}) == 10);
    CHECK(json_u64(json, {"server", "connections_refused"}) == 1);
    CHECK(json_u64(json, {"server", "connections_high_water"}) == 3);
    CHECK(json_u64(json, {"server", "requests"}) == 20);
    CHECK(json_u64(json, {"server", "responses_4xx"}) == 4);
    CHECK(json_u64(json, {"server", "responses_5xx"}) == 5);
    CHECK(json_u64(json, {"server", "bytes_in"}) == 6000000000ull);
    CHECK(json_u64(json, {"server", "bytes_out"}) == 7);
    CHECK(json_u64(json, {"server", "buffers", "in_use"}) == 1);
    CHECK(json_u64(json, {"server", "buffers", "high_water"}) == 2);
    CHECK(json_u64(json, {"server", "buffers", "capacity"}) == 8);
    CHECK(json_u64(json, {"server", "frames", "in_use"}) == 3);
    CHECK(json_u64(json, {"server", "frames", "high_water"}) == 4);
    CHECK(json_u64(json, {"server", "frames", "capacity"}) == 64);
    CHECK(json_u64(json, {"server", "frames", "request_capacity"}) == 16);
}

TEST_CASE("write_status_json leaves out facts that are not available") {
    SystemSnapshot s;  // nothing available
    std::string json = status_json(s, ServerFigures{});
    CHECK(json_valid(json));
    for (const char* key : {"hostname", "uptime_s", "load", "memory", "interfaces", "process"})
        CHECK_MESSAGE(json_find(json, key).error() == Errc::not_found, key);
    CHECK(find_path(json, {"temperatures"})->text == "[]");
    CHECK(json_u64(json, {"server", "frames", "capacity"}) == 0);

    s.has_open_fds = true;  // one of the two process facts
    s.open_fds = 9;
    json = status_json(s, ServerFigures{});
    CHECK(json_u64(json, {"process", "open_fds"}) == 9);
    CHECK(find_path(json, {"process", "rss_bytes"}).error() == Errc::not_found);
}

TEST_CASE("write_status_json escapes names and fits a nested object") {
    SystemSnapshot s = sample_snapshot();
    set_name(s.interfaces[0].name, "e\"t\\h\n0");
    set_name(s.hostname, "gw\xff");  // invalid UTF-8 becomes U+FFFD
    char buf[4096];
    JsonWriter j(buf);
    j.begin_object();
    j.key("status");
    j.begin_object();
    write_status_json(j, s, sample_figures());
    j.end_object();
    j.end_object();
    auto r = j.result();
    REQUIRE(r.ok());
    auto itfs = array_items(find_path(*r, {"status", "interfaces"})->text);
    REQUIRE(itfs.size() == 1);
    CHECK(json_string(itfs[0], {"name"}) == "e\"t\\h\n0");
    CHECK(json_string(*r, {"status", "hostname"}) == "gw\xEF\xBF\xBD");

    char small[64];
    JsonWriter k(small);
    k.begin_object();
    write_status_json(k, s, sample_figures());
    k.end_object();
    CHECK(k.result().error() == Errc::too_large);
}

// ---- Prometheus text --------------------------------------------------------------

TEST_CASE("write_metrics renders a hand-filled snapshot exactly") {
    const char* expected =
        "# HELP gust_host_info Constant 1, labelled with the host name.\n"
        "# TYPE gust_host_info gauge\n"
        "gust_host_info{hostname=\"gw-1\"} 1\n"
        "# HELP gust_uptime_seconds Seconds since the system booted.\n"
        "# TYPE gust_uptime_seconds gauge\n"
        "gust_uptime_seconds 12.5\n"
        "# HELP gust_load1 System load average over 1 minute.\n"
        "# TYPE gust_load1 gauge\n"
        "gust_load1 0.25\n"
        "# HELP gust_load5 System load average over 5 minutes.\n"
        "# TYPE gust_load5 gauge\n"
        "gust_load5 0.5\n"
        "# HELP gust_load15 System load average over 15 minutes.\n"
        "# TYPE gust_load15 gauge\n"
        "gust_load15 1\n"
        "# HELP gust_memory_total_bytes Total usable memory in bytes.\n"
        "# TYPE gust_memory_total_bytes gauge\n"
        "gust_memory_total_bytes 8589934593\n"
        "# HELP gust_memory_available_bytes Memory available for new work without swapping, in bytes.\n"
        "# TYPE gust_memory_available_bytes gauge\n"
        "gust_memory_available_bytes 1048576\n"
        "# HELP gust_temperature_celsius Thermal zone temperature in degrees Celsius.\n"
        "# TYPE gust_temperature_celsius gauge\n"
        "gust_temperature_celsius{zone=\"cpu-thermal\"} 48.25\n"
        "# HELP gust_network_receive_bytes_total Bytes received by the interface.\n"
        "# TYPE gust_network_receive_bytes_total counter\n"
        "gust_network_receive_bytes_total{interface=\"eth0\"} 5000000000\n"
        "# HELP gust_network_transmit_bytes_total Bytes sent by the interface.\n"
        "# TYPE gust_network_transmit_bytes_total counter\n"
        "gust_network_transmit_bytes_total{interface=\"eth0\"} 2\n"
        "# HELP gust_network_receive_packets_total Packets received by the interface.\n"
        "# TYPE gust_network_receive_packets_total counter\n"
        "gust_network_receive_packets_total{interface=\"eth0\"} 3\n"
        "# HELP gust_network_transmit_packets_total Packets sent by the interface.\n"
        "# TYPE gust_network_transmit_packets_total counter\n"
        "gust_network_transmit_packets_total{interface=\"eth0\"} 4\n"
        "# HELP gust_process_resident_memory_bytes Resident memory of this process in bytes.\n"
        "# TYPE gust_process_resident_memory_bytes gauge\n"
        "gust_process_resident_memory_bytes 4096\n"
        "# HELP gust_process_open_fds Open file descriptors of this process.\n"
        "# TYPE gust_process_open_fds gauge\n"
        "gust_process_open_fds 7\n"
        "# HELP gust_http_connections_accepted_total HTTP connections accepted.\n"
        "# TYPE gust_http_connections_accepted_total counter\n"
        "gust_http_connections_accepted_total 10\n"
        "# HELP gust_http_connections_refused_total HTTP connections turned away at the connection limit.\n"
        "# TYPE gust_http_connections_refused_total counter\n"
        "gust_http_connections_refused_total 1\n"
        "# HELP gust_http_connections_open HTTP connections open now.\n"
        "# TYPE gust_http_connections_open gauge\n"
        "gust_http_connections_open 2\n"
        "# HELP gust_http_connections_high_water Most HTTP connections open at once.\n"
        "# TYPE gust_http_connections_high_water gauge\n"
        "gust_http_connections_high_water 3\n"
        "# HELP gust_http_requests_total HTTP requests received.\n"
        "# TYPE gust_http_requests_total counter\n"
        "gust_http_requests_total 20\n"
        "# HELP gust_http_responses_total HTTP error responses sent, by status class.\n"
        "# TYPE gust_http_responses_total counter\n"
        "gust_http_responses_total{class=\"4xx\"} 4\n"
        "gust_http_responses_total{class=\"5xx\"} 5\n"
        "# HELP gust_http_receive_bytes_total Bytes received on HTTP connections.\n"
        "# TYPE gust_http_receive_bytes_total counter\n"
        "gust_http_receive_bytes_total 6000000000\n"
        "# HELP gust_http_transmit_bytes_total Bytes sent on HTTP connections.\n"
        "# TYPE gust_http_transmit_bytes_total counter\n"
        "gust_http_transmit_bytes_total 7\n"
        "# HELP gust_buffers_in_use I/O buffers lent to connections now.\n"
        "# TYPE gust_buffers_in_use gauge\n"
        "gust_buffers_in_use 1\n"
        "# HELP gust_buffers_high_water Most I/O buffers lent at once.\n"
        "# TYPE gust_buffers_high_water gauge\n"
        "gust_buffers_high_water 2\n"
        "# HELP gust_buffers_capacity I/O buffers in the pool.\n"
        "# TYPE gust_buffers_capacity gauge\n"
        "gust_buffers_capacity 8\n"
        "# HELP gust_frames_in_use Coroutine frames in use now.\n"
        "# TYPE gust_frames_in_use gauge\n"
        "gust_frames_in_use 3\n"
        "# HELP gust_frames_high_water Most coroutine frames in use at once.\n"
        "# TYPE gust_frames_high_water gauge\n"
        "gust_frames_high_water 4\n"
        "# HELP gust_frames_capacity Coroutine frames in the pool.\n"
        "# TYPE gust_frames_capacity gauge\n"
        "gust_frames_capacity 64\n"
        "# HELP gust_frames_request_capacity Requests that can be in flight at once (frames of 4 KiB or more).\n"
        "# TYPE gust_frames_request_capacity gauge\n"
        "gust_frames_request_capacity 16\n";
    std::string text = metrics(sample_snapshot(), sample_figures());
    // Line by line first, so a mismatch names the line.
    size_t a = 0, b = 0;
    std::string_view want(expected);
    int line = 1;
    while (a < text.size() && b < want.size()) {
        size_t ea = text.find('\n', a), eb = want.find('\n', b);
        INFO("line " << line);
        CHECK(text.substr(a, ea - a) == want.substr(b, eb - b));
        a = ea + 1;
        b = eb + 1;
        ++line;
    }
    CHECK(text == expected);
    Exposition e = parse_exposition(text);
    CHECK(e.problem == "");
    CHECK(e.samples.size() == 30);
}

TEST_CASE("write_metrics leaves out unavailable facts but keeps the server figures") {
    SystemSnapshot s;
    std::string text = metrics(s, ServerFigures{});
    Exposition e = parse_exposition(text);
    CHECK(e.problem == "");
    CHECK(text.rfind("# HELP gust_http_connections_accepted_total ", 0) == 0);  // the first line
    for (const char* name : {"gust_host_info", "gust_uptime_seconds", "gust_load1", "gust_memory_total_bytes",
                             "gust_temperature_celsius", "gust_network_receive_bytes_total", "gust_process_open_fds"})
        CHECK_MESSAGE(e.types.count(name) == 0, name);
    CHECK(sample_value(e, "gust_http_responses_total", "class", "5xx") == "0");
    CHECK(sample_value(e, "gust_frames_capacity") == "0");

    s.has_interfaces = true;  // present but empty: no samples, no family
    text = metrics(s, ServerFigures{});
    CHECK(text.find("gust_network") == std::string::npos);
}

TEST_CASE("TLS figures appear in both outputs only for a server with an HTTPS listener") {
    ServerFigures f = sample_figures();
    std::string json = status_json(sample_snapshot(), f);
    CHECK(find_path(json, {"server", "tls"}).error() == Errc::not_found);
    CHECK(metrics(sample_snapshot(), f).find("gust_tls_") == std::string::npos);

    f.tls = true;
    f.tls_connections_open = 3;
    f.tls_handshakes = 40;
    f.tls_handshake_failures = 2;
    f.tls_refused = 1;
    f.tls_handshake_ns = 1500000000;
    json = status_json(sample_snapshot(), f);
    CHECK(json_valid(json));
    CHECK(json_u64(json, {"server", "tls", "connections_open"}) == 3);
    CHECK(json_u64(json, {"server", "tls", "handshakes"}) == 40);
    CHECK(json_u64(json, {"server", "tls", "handshake_failures"}) == 2);
    CHECK(json_u64(json, {"server", "tls", "refused"}) == 1);
    CHECK(json_double(json, {"server", "tls", "handshake_seconds"}) == 1.5);
    std::string text = metrics(sample_snapshot(), f);
    Exposition e = parse_exposition(text);
    CHECK(e.problem == "");
    CHECK(sample_value(e, "gust_tls_connections_open") == "3");
    CHECK(sample_value(e, "gust_tls_handshakes_total") == "40");
    CHECK(sample_value(e, "gust_tls_handshake_failures_total") == "2");
    CHECK(sample_value(e, "gust_tls_refused_total") == "1");
    CHECK(sample_value(e, "gust_tls_handshake_nanoseconds_total") == "1500000000");
}

TEST_CASE("write_metrics escapes label values") {
    SystemSnapshot s = sample_snapshot();
    set_name(s.interfaces[0].name, "e\"t\\h\n0");
    s.interface_count = 2;
    set_name(s.interfaces[1].name, "wl\xff\xfe");  // invalid UTF-8
    set_name(s.hostname, "a\\\"b");
    set_name(s.temperatures[0].name, "cpu\nzone");
    std::string text = metrics(s, sample_figures());
    CHECK(text.find("gust_network_receive_bytes_total{interface=\"e\\\"t\\\\h\\n0\"} 5000000000\n") !=
          std::string::npos);
    CHECK(text.find("gust_host_info{hostname=\"a\\\\\\\"b\"} 1\n") != std::string::npos);
    CHECK(text.find("gust_temperature_celsius{zone=\"cpu\\nzone\"} 48.25\n") != std::string::npos);
    CHECK(text.find("{interface=\"wl\xEF\xBF\xBD\xEF\xBF\xBD\"}") != std::string::npos);

    Exposition e = parse_exposition(text);
    CHECK(e.problem == "");
    CHECK(sample_value(e, "gust_network_transmit_bytes_total", "interface", "e\"t\\h\n0") == "2");
    CHECK(sample_value(e, "gust_host_info", "hostname", "a\\\"b") == "1");
    CHECK(sample_value(e, "gust_temperature_celsius", "zone", "cpu\nzone") == "48.25");
}

TEST_CASE("write_metrics writes odd doubles and full-width names") {
    SystemSnapshot s = sample_snapshot();
    s.uptime_s = 1e300;
    s.load1 = 0.1;
    s.temperatures[0].millicelsius = -273150;
    std::memset(s.interfaces[0].name, 'x', sizeof s.interfaces[0].name);  // no NUL: all 16 bytes are the name
    s.memory_total_bytes = UINT64_MAX;
    std::string text = metrics(s, sample_figures());
    Exposition e = parse_exposition(text);
    CHECK(e.problem == "");
    CHECK(sample_value(e, "gust_uptime_seconds") == "1e+300");
    CHECK(sample_value(e, "gust_load1") == "0.1");
    CHECK(sample_value(e, "gust_temperature_celsius", "zone", "cpu-thermal") == "-273.15");
    CHECK(sample_value(e, "gust_network_receive_bytes_total", "interface", std::string(16, 'x')) == "5000000000");
    CHECK(sample_value(e, "gust_memory_total_bytes") == "18446744073709551615");

    s.load5 = __builtin_nan("");
    s.load15 = __builtin_inf();
    e = parse_exposition(metrics(s, sample_figures()));
    CHECK(e.problem == "");
    CHECK(sample_value(e, "gust_load5") == "NaN");
    CHECK(sample_value(e, "gust_load15") == "+Inf");
}

TEST_CASE("write_metrics numbers repeated zone types and keeps every series unique") {
    SystemSnapshot s = sample_snapshot();
    s.temperature_count = kStatusMaxTemperatures;
    for (size_t i = 0; i < kStatusMaxTemperatures; ++i) {
        set_name(s.temperatures[i].name, i % 2 ? "acpitz" : "x86_pkg_temp");
        s.temperatures[i].millicelsius = static_cast<int32_t>(i * 1000);
    }
    s.interface_count = kStatusMaxInterfaces;
    for (size_t i = 0; i < kStatusMaxInterfaces; ++i) {
        set_name(s.interfaces[i].name, ("veth" + std::to_string(i)).c_str());
        s.interfaces[i].tx_packets = i * 10;
    }
    Exposition e = parse_exposition(metrics(s, sample_figures()));
    CHECK(e.problem == "");
    CHECK(sample_value(e, "gust_temperature_celsius", "zone", "acpitz") == "1");
    CHECK(sample_value(e, "gust_temperature_celsius", "zone", "acpitz_2") == "3");
    CHECK(sample_value(e, "gust_temperature_celsius", "zone", "x86_pkg_temp_8") == "14");
    CHECK(sample_value(e, "gust_network_transmit_packets_total", "interface", "veth15") == "150");

    s.temperature_count = 1000;  // a bad count is clamped to the arrays
    s.interface_count = 1000;
    e = parse_exposition(metrics(s, sample_figures()));
    CHECK(e.problem == "");
    std::string json = status_json(s, sample_figures());
    CHECK(array_items(find_path(json, {"temperatures"})->text).size() == kStatusMaxTemperatures);
    CHECK(array_items(find_path(json, {"interfaces"})->text).size() == kStatusMaxInterfaces);
}

TEST_CASE("write_metrics refuses every short buffer without writing past it") {
    SystemSnapshot s = sample_snapshot();
    s.interface_count = 2;
    set_name(s.interfaces[1].name, "e\"t\\h");
    ServerFigures f = sample_figures();
    std::string full = metrics(s, f);
    REQUIRE(full.size() > 100);

    constexpr char kCanary = '\x7f';
    constexpr size_t kSlack = 64;
    std::vector<char> buf(full.size() + kSlack);
    for (size_t n = 0; n < full.size(); ++n) {
        std::fill(buf.begin(), buf.end(), kCanary);
        auto r = write_metrics(std::span<char>(buf.data(), n), s, f);
        CHECK_MESSAGE(r.error() == Errc::too_large, n);
        size_t clobbered = 0;
        for (size_t i = n; i < buf.size(); ++i) clobbered += buf[i] != kCanary;
        CHECK_MESSAGE(clobbered == 0, n);
        // An exact-size heap block too, so ASan sees any overrun.
        std::unique_ptr<char[]> exact(new char[n]);
        CHECK(write_metrics(std::span<char>(exact.get(), n), s, f).error() == Errc::too_large);
    }
    std::fill(buf.begin(), buf.end(), kCanary);
    auto r = write_metrics(std::span<char>(buf.data(), full.size()), s, f);
    REQUIRE(r.ok());
    CHECK(*r == full);
    CHECK(r->data() == buf.data());
    CHECK(buf[full.size()] == kCanary);
}

TEST_CASE("status output and snapshots use no heap") {
    SystemSnapshot s = sample_snapshot();
    ServerFigures f = sample_figures();
    static char buf[16384];
    gust_test::AllocationScope scope;
    auto m = write_metrics(buf, s, f);
    auto j = write_json_object(buf, [&](JsonWriter& w) { write_status_json(w, s, f); });
    auto r = read_system(s, "/sys/class/thermal");
    CHECK(scope.count() == 0);
    CHECK(m.ok());
    CHECK(j.ok());
    CHECK(r.ok());
}

TEST_CASE("write_metrics output parses with prometheus_client when it is installed") {
    if (std::system("python3 -c 'import prometheus_client' >/dev/null 2>&1") != 0) {
        MESSAGE("prometheus_client is not installed: skipped");
        return;
    }
    SystemSnapshot s = sample_snapshot();
    s.interface_count = 2;
    set_name(s.interfaces[1].name, "e\"t\\h\n0");
    std::string text = metrics(s, sample_figures());
    char path[] = "/tmp/gust_metrics_XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
    std::string cmd = std::string("python3 -c '"
                                  "import sys\n"
                                  "from prometheus_client.parser import text_string_to_metric_families as p\n"
                                  "fams = list(p(open(sys.argv[1]).read()))\n"
                                  "names = {s.labels.get(\"interface\") for f in fams for s in f.samples}\n"
                                  "assert \"e\\\"t\\\\h\\n0\" in names, names\n"
                                  "print(sum(len(f.samples) for f in fams))' ") +
                      path;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char out[64] = {};
    size_t n = std::fread(out, 1, sizeof out - 1, p);
    int status = ::pclose(p);
    ::unlink(path);
    CHECK(status == 0);
    CHECK(std::string(out, n) == std::to_string(parse_exposition(text).samples.size()) + "\n");
}

TEST_CASE("the worst-case snapshot fits the suggested buffer sizes") {
    SystemSnapshot s = sample_snapshot();
    std::memset(s.hostname, '"', sizeof s.hostname - 1);  // every byte escaped: twice as long
    s.uptime_s = -1.2345678901234567e-300;
    s.load1 = s.load5 = s.load15 = -1.2345678901234567e-300;
    s.memory_total_bytes = s.memory_available_bytes = UINT64_MAX;
    s.rss_bytes = s.open_fds = UINT64_MAX;
    s.temperature_count = kStatusMaxTemperatures;
    for (auto& t : s.temperatures) {
        std::memset(t.name, '"', sizeof t.name - 1);
        t.millicelsius = INT32_MIN + 1;
    }
    s.interface_count = kStatusMaxInterfaces;
    for (auto& i : s.interfaces) {
        std::memset(i.name, '"', sizeof i.name);
        i.rx_bytes = i.tx_bytes = i.rx_packets = i.tx_packets = UINT64_MAX;
    }
    ServerFigures f;
    f.connections_accepted = f.connections_refused = f.requests = f.responses_4xx = f.responses_5xx = UINT64_MAX;
    f.bytes_in = f.bytes_out = UINT64_MAX;
    f.connections_open = f.connections_high_water = f.buffers_in_use = f.buffers_high_water = f.buffers_capacity =
        UINT32_MAX;
    f.frames_in_use = f.frames_high_water = f.frames_capacity = f.frames_request_capacity = UINT32_MAX;
    f.tls = true;
    f.tls_connections_open = UINT32_MAX;
    f.tls_handshakes = f.tls_handshake_failures = f.tls_refused = f.tls_handshake_ns = UINT64_MAX;
    std::string text = metrics(s, f);
    std::string json = status_json(s, f);
    MESSAGE("worst case: metrics " << text.size() << " bytes, JSON " << json.size() << " bytes");
    CHECK(text.size() <= kStatusMetricsBufferSize);
    CHECK(json.size() + 2 <= kStatusJsonBufferSize);  // plus the caller's braces
}
