// gust: Tornado's programming model for constrained Linux devices.
// Includes every public module except testing.hpp (the host-side test kit).
#pragma once

#include <gust/auth.hpp>
#include <gust/buffer_pool.hpp>
#include <gust/cache.hpp>
#include <gust/client.hpp>
#include <gust/clock.hpp>
#include <gust/config.hpp>
#include <gust/dns.hpp>
#include <gust/executor.hpp>
#include <gust/frame_pool.hpp>
#include <gust/function.hpp>
#include <gust/future.hpp>
#include <gust/http.hpp>
#include <gust/http_parser.hpp>
#include <gust/hub.hpp>
#include <gust/json.hpp>
#include <gust/limits.hpp>
#include <gust/log.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>
#include <gust/router.hpp>
#include <gust/sse.hpp>
#include <gust/static_files.hpp>
#include <gust/status.hpp>
#include <gust/stream.hpp>
#include <gust/task.hpp>
#include <gust/tls.hpp>
#include <gust/url.hpp>
#include <gust/websocket.hpp>
#include <gust/websocket_frame.hpp>
#include <gust/when.hpp>
