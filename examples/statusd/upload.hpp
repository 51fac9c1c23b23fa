// PUT /api/upload/{name}: the firmware-upload case. The body streams through a
// fixed buffer to a file (writes run on the Executor, so flash never blocks
// the loop) while mbedTLS computes its SHA-256; never the whole body in RAM.
#pragma once

#include <gust/http.hpp>

// Stores the body as `dir`/{name}; 201 with {name, bytes, sha256}; 400 for a
// bad name, 422 (file removed) when X-Expected-SHA256 does not match.
gust::Task<> upload(gust::Request& req, gust::Response& res, const char* dir);
