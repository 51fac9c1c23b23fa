// gust: Tornado's programming model for constrained Linux devices.
// Includes every public module.
#pragma once

#include <gust/clock.hpp>
#include <gust/config.hpp>
#include <gust/executor.hpp>
#include <gust/frame_pool.hpp>
#include <gust/function.hpp>
#include <gust/future.hpp>
#include <gust/limits.hpp>
#include <gust/log.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>
#include <gust/task.hpp>
#include <gust/when.hpp>
