// Static files: conditional requests, one byte range, gzip forms, content
// types, and path checks, shared by embedded bundles and directories.
#include <gust/static_files.hpp>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include <gust/http.hpp>
#include <gust/log.hpp>
#include <gust/router.hpp>

#include "port.hpp"

namespace gust {

namespace {

constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// If-None-Match: "*" or a list holding one of the tags (weak comparison, RFC 9110 §13.1.2).
bool none_match(std::string_view header, std::string_view a, std::string_view b) {
    while (!header.empty()) {
        size_t comma = header.find(',');
        std::string_view t = trim(header.substr(0, comma));
        if (t.size() > 2 && t.substr(0, 2) == "W/") t.remove_prefix(2);
        if (t == "*" || (!a.empty() && t == a) || (!b.empty() && t == b)) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

bool accepts_gzip(std::string_view accept) {
    while (!accept.empty()) {
        size_t comma = accept.find(',');
        std::string_view item = trim(accept.substr(0, comma));
        size_t semi = item.find(';');
        std::string_view coding = trim(item.substr(0, semi));
        if (http::iequals(coding, "gzip") || coding == "*") {
            std::string_view params = semi == std::string_view::npos ? std::string_view() : item.substr(semi + 1);
            size_t q = params.find("q=");
            // q=0 (or 0.0, 0.00, ...) refuses it.
            if (q == std::string_view::npos) return true;
            std::string_view v = params.substr(q + 2);
            bool zero = !v.empty() && v[0] == '0';
            for (size_t i = 1; zero && i < v.size() && v[i] != ';' && v[i] != ' '; ++i)
                if (v[i] != '.' && v[i] != '0') zero = false;
            if (!zero) return true;
        }
        if (comma == std::string_view::npos) break;
        accept.remove_prefix(comma + 1);
    }
    return false;
}

bool parse_u64(std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + uint64_t(c - '0');
    }
    out = v;
    return true;
}

enum class RangeKind { none, ok, unsatisfiable };

// One "bytes=" range against a representation of `size` bytes; multiple
// ranges and bad syntax are ignored (a whole 200 is always a valid answer).
RangeKind parse_range(std::string_view header, uint64_t size, uint64_t& first, uint64_t& last) {
    header = trim(header);
    if (header.substr(0, 6) != "bytes=") return RangeKind::none;
    std::string_view spec = trim(header.substr(6));
    if (spec.find(',') != std::string_view::npos) return RangeKind::none;
    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return RangeKind::none;
    std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
    uint64_t x = 0, y = 0;
    if (a.empty()) {  // suffix: the last y bytes
        if (!parse_u64(b, y)) return RangeKind::none;
        if (y == 0 || size == 0) return RangeKind::unsatisfiable;
        first = y >= size ? 0 : size - y;
        last = size - 1;
        return RangeKind::ok;
    }
    if (!parse_u64(a, x)) return RangeKind::none;
    if (b.empty()) y = UINT64_MAX;
    else if (!parse_u64(b, y) || y < x) return RangeKind::none;
    if (x >= size) return RangeKind::unsatisfiable;
    first = x;
    last = y >= size ? size - 1 : y;
    return RangeKind::ok;
}

// A representation to send: in memory (bundle) or in a file (directory).
struct Body {
    std::span<const uint8_t> bytes;  // when in memory
    const char* path = nullptr;      // when on disk
    uint64_t size = 0;
};

Task<> answer(Request& req, Response& res, Body plain, Body gz, std::string_view etag, std::string_view etag_gz,
              std::string_view type, const StaticOptions& opt) {
    bool has_gz = gz.size > 0 || gz.bytes.size() > 0;
    std::string_view range = req.header("Range");
    bool want_gz = has_gz && !range.data() && accepts_gzip(req.header("Accept-Encoding"));
    const Body& body = want_gz ? gz : plain;
    std::string_view tag = want_gz ? etag_gz : etag;
    if (!opt.cache_control.empty()) res.header("Cache-Control", opt.cache_control);
    if (has_gz) res.header("Vary", "Accept-Encoding");
    if (opt.security_headers) {
        res.header("X-Content-Type-Options", "nosniff");
        res.header("Referrer-Policy", "no-referrer");
        res.header("Content-Security-Policy", kCsp);
    }
    res.header("ETag", tag);
    std::string_view inm = req.header("If-None-Match");
    if (inm.data() && none_match(inm, etag, has_gz ? etag_gz : std::string_view())) {
        res.status(304).send({}, {});
        co_return;
    }
    res.header("Content-Type", type);
    res.header("Accept-Ranges", "bytes");
    if (want_gz) res.header("Content-Encoding", "gzip");
    uint64_t first = 0, last = body.size ? body.size - 1 : 0;
    uint64_t length = body.size;
    std::string_view if_range = req.header("If-Range");
    if (range.data() && (!if_range.data() || trim(if_range) == etag)) {
        RangeKind k = parse_range(range, body.size, first, last);
        char cr[64];
        if (k == RangeKind::unsatisfiable) {
            int n = std::snprintf(cr, sizeof cr, "bytes */%" PRIu64, body.size);
            res.status(416).header("Content-Range", std::string_view(cr, size_t(n))).send({}, "text/plain");
            co_return;
        }
        if (k == RangeKind::ok) {
            int n = std::snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, body.size);
            res.status(206).header("Content-Range", std::string_view(cr, size_t(n)));
            length = last - first + 1;
        }
    }
    res.content_length(length);
    if (body.path) {
        // From disk, one I/O buffer at a time, as fast as the client takes it.
        uint8_t chunk[2048];
        uint64_t at = first, left = length;
        while (left > 0) {
            size_t want = left < sizeof chunk ? size_t(left) : sizeof chunk;
            auto n = port::read_file_at(body.path, at, {chunk, want});
            if (!n || *n == 0) co_return;  // the file shrank: the short body closes the connection
            if (!co_await res.write(std::span<const uint8_t>(chunk, *n))) co_return;
            at += *n;
            left -= *n;
        }
    } else if (length > 0) {
        (void)co_await res.write(body.bytes.subspan(size_t(first), size_t(length)));
    }
    (void)co_await res.finish();
}

}  // namespace

std::string_view content_type_for(std::string_view path) {
    struct Type {
        std::string_view ext, type;
    };
    static constexpr Type kTypes[] = {
        {".html", "text/html; charset=utf-8"},     {".htm", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".json", "application/json"},
        {".svg", "image/svg+xml"},                 {".png", "image/png"},
        {".jpg", "image/jpeg"},                    {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},                     {".webp", "image/webp"},
        {".ico", "image/x-icon"},                  {".txt", "text/plain; charset=utf-8"},
        {".xml", "application/xml"},               {".wasm", "application/wasm"},
        {".woff2", "font/woff2"},                  {".woff", "font/woff"},
        {".pdf", "application/pdf"},               {".webmanifest", "application/manifest+json"},
        {".map", "application/json"},              {".csv", "text/csv; charset=utf-8"},
    };
    size_t dot = path.rfind('.');
    size_t slash = path.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "application/octet-stream";
    std::string_view ext = path.substr(dot);
    for (const Type& t : kTypes)
        if (http::iequals(t.ext, ext)) return t.type;
    return "application/octet-stream";
}

Task<> serve_static(Request& req, Response& res, const StaticFile& file, const StaticOptions& options) {
    Body plain{file.data, nullptr, file.data.size()};
    Body gz{file.gzip, nullptr, file.gzip.size()};
    std::string_view type = file.content_type.empty() ? content_type_for(file.path) : file.content_type;
    co_await answer(req, res, plain, gz, file.etag, file.etag_gzip, type, options);
}

Result<void> add_static(Router& app, const StaticBundle& bundle, const StaticOptions& options) {
    // The options live beside the bundle's routes: a copy in a small fixed table.
    static constexpr int kMaxBundles = 4;
    static StaticOptions saved[kMaxBundles];
    static int used = 0;
    if (used == kMaxBundles) return Error(Errc::no_memory, "add_static: too many bundles");
    const StaticOptions* opt = &(saved[used++] = options);
    for (size_t i = 0; i < bundle.count; ++i) {
        const StaticFile* f = &bundle.files[i];
        auto h = [f, opt](Request& req, Response& res) { return serve_static(req, res, *f, *opt); };
        if (auto r = app.get(f->path, h); !r) return r;
        if (f->path == bundle.index) {
            if (auto r = app.get("/", h); !r) return r;
        }
    }
    return {};
}

// ---- Directories ------------------------------------------------------------------

StaticDir::StaticDir(const char* root, std::string_view prefix, const StaticOptions& options)
    : root_(root), options_(options) {
    if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    if (prefix.size() > 100) prefix = prefix.substr(0, 100);
    prefix_len_ = prefix.size();
    for (int d = 0; d < kMaxDepth; ++d) {
        size_t at = 0;
        std::memcpy(patterns_[d], prefix.data(), prefix.size());
        at = prefix.size();
        for (int k = 0; k <= d; ++k) at += size_t(std::snprintf(patterns_[d] + at, sizeof patterns_[d] - at, "/{p%d}", k + 1));
    }
}

Task<> StaticDir::serve(Request& req, Response& res, std::string_view relative) const {
    // root + "/" + decoded segments; each segment is checked on its own.
    char path[512];
    size_t at = std::strlen(root_);
    if (at + 2 >= sizeof path) co_return;
    std::memcpy(path, root_, at);
    bool bad = false;
    while (!relative.empty() && !bad) {
        size_t slash = relative.find('/');
        std::string_view seg = relative.substr(0, slash);
        relative = slash == std::string_view::npos ? std::string_view() : relative.substr(slash + 1);
        if (seg.empty()) continue;
        path[at++] = '/';
        auto d = percent_decode(seg, std::span<char>(path + at, sizeof path - at - 16));
        if (!d || d->empty() || (*d)[0] == '.') {
            bad = true;
            break;
        }
        for (char c : *d)
            if (c == '/' || c == '\\' || c == 0) bad = true;
        at += d->size();
    }
    path[at] = 0;
    auto st = bad ? Result<port::FileStamp>(Error(Errc::not_found, "")) : port::file_stamp(path);
    if (st && st->directory) {
        std::memcpy(path + at, "/index.html", 12);
        at += 11;
        st = port::file_stamp(path);
    }
    if (!st || st->directory) {
        res.status(404).text("404 Not Found\n");
        co_return;
    }
    char etag[48], etag_gz[52];
    std::snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "\"", st->size, uint64_t(st->mtime_ns));
    Body plain{{}, path, st->size};
    Body gz;
    char gz_path[520];
    std::snprintf(gz_path, sizeof gz_path, "%s.gz", path);
    auto gst = port::file_stamp(gz_path);
    if (gst && !gst->directory && gst->size > 0) {
        gz = Body{{}, gz_path, gst->size};
        std::snprintf(etag_gz, sizeof etag_gz, "\"%" PRIx64 "-%" PRIx64 "-gz\"", gst->size, uint64_t(gst->mtime_ns));
    } else {
        etag_gz[0] = 0;
    }
    co_await answer(req, res, plain, gz, etag, etag_gz, content_type_for(std::string_view(path, at)), options_);
}

Result<void> add_static(Router& app, StaticDir& dir) {
    StaticDir* d = &dir;
    for (int depth = 0; depth < StaticDir::kMaxDepth; ++depth) {
        auto h = [d, depth](Request& req, Response& res) {
            // The path after the prefix, from the request itself (raw).
            std::string_view rel = req.path().substr(d->prefix_len_);
            (void)depth;
            return d->serve(req, res, rel);
        };
        if (auto r = app.get(d->patterns_[depth], h); !r) return r;
    }
    std::string_view root = d->prefix_len_ ? std::string_view(d->patterns_[0], d->prefix_len_) : std::string_view("/");
    return app.get(root, [d](Request& req, Response& res) { return d->serve(req, res, {}); });
}

}  // namespace gust
