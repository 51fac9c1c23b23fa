// Server-Sent Events: a streamed text/event-stream response that a browser's
// EventSource (or curl) reads as events.
//
//   Task<> events(Request& req, Response& res) {
//       EventStream events = res.event_stream();           // 200, text/event-stream, no caching
//       std::string_view since = events.last_event_id();   // the reconnecting client's Last-Event-ID
//       (void)hub.subscribe(events);                        // published messages go out as events
//       co_await events.run();                              // heartbeats until the client leaves
//   }
//
// Or send events of your own: `co_await events.send("tick", data, id)`, and
// `co_await events.wait(1s)` between them (it sends heartbeats and returns
// Errc::closed as soon as the client disconnects).
//
// The response is chunked (HTTP/1.1) or ends with the connection (HTTP/1.0).
// While a handler waits, the connection is read, so a disconnect is noticed
// at once and the handler's next wait() or send() fails; the connection is
// then closed. A hub subscription (<gust/hub.hpp>) gives an event stream the
// same bounded backlog and slow-client policy as a WebSocket subscriber.
// Memory: the head and each send() borrow the connection's output buffer
// only while they are written; waiting holds none.
#pragma once

#include <cstdint>
#include <string_view>

#include <gust/clock.hpp>
#include <gust/hub.hpp>
#include <gust/result.hpp>
#include <gust/task.hpp>

namespace gust {

class Request;
class Response;

struct EventStreamOptions {
    // A comment line goes out after this much quiet, so proxies and the
    // browser keep the stream open and a vanished client is found out.
    Duration heartbeat = std::chrono::seconds(15);
    // Sent once with the head as "retry: N": the client's reconnect delay (0: not sent).
    Duration retry{0};
};

class EventStream : public detail::Outbox {
public:
    // Prefer Response::event_stream(). Sets the head (200, Content-Type:
    // text/event-stream, Cache-Control: no-cache); it goes out with the first
    // send(), wait() or run(). `req` and `res` must be the handler's own.
    EventStream(Request& req, Response& res, const EventStreamOptions& options = {});
    ~EventStream();

    // The Last-Event-ID header of the request (empty when absent); valid until the handler returns.
    std::string_view last_event_id() const { return last_id_; }

    // One event: "event: <event>" (when not empty), "id: <id>" (when not
    // empty), and one "data:" line per line of `data`. Waits while the client
    // is slow. Errc::closed once the client left; Errc::too_large when the
    // event does not fit an I/O buffer; Errc::invalid_argument for a line
    // break in `event` or `id`.
    Task<Result<void>> send(std::string_view event, std::string_view data, std::string_view id = {});
    // A comment line (": text"), which clients ignore.
    Task<Result<void>> comment(std::string_view text = {});
    // Waits `d`, sending heartbeats; Errc::closed as soon as the client leaves.
    Task<Result<void>> wait(Duration d);
    // Waits until the client leaves (with heartbeats); for hub subscribers.
    Task<Result<void>> run() { return wait(Duration::max()); }

    // True until the client left or a write failed.
    bool is_open() const { return !broken_ && !gone_; }
    // Ends the stream now (the server calls it when it shuts down): the
    // connection closes and the handler's wait() or send() fails.
    void end();
    // Events written by send() and by the hub are counted by the hub; these are send()'s.
    uint64_t events_sent() const { return sent_; }

private:
    Task<Result<void>> start();  // the head, under the lock
    Task<Result<void>> write_locked(std::string_view text);

    Request* req_;
    Response* res_;
    EventStreamOptions options_;
    std::string_view last_id_;
    TimePoint last_write_{};
    uint64_t sent_ = 0;
    bool started_ = false;
    bool gone_ = false;
};

}  // namespace gust
