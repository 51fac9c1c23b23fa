#include <gust/result.hpp>

namespace gust {

const char* errc_name(Errc code) {
    switch (code) {
    case Errc::ok: return "ok";
    case Errc::again: return "again";
    case Errc::timeout: return "timeout";
    case Errc::no_memory: return "no_memory";
    case Errc::cancelled: return "cancelled";
    case Errc::closed: return "closed";
    case Errc::broken_promise: return "broken_promise";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_supported: return "not_supported";
    case Errc::io: return "io";
    case Errc::refused: return "refused";
    case Errc::reset: return "reset";
    case Errc::protocol: return "protocol";
    case Errc::too_large: return "too_large";
    case Errc::not_found: return "not_found";
    case Errc::dns: return "dns";
    case Errc::tls: return "tls";
    }
    return "unknown";
}

}  // namespace gust
