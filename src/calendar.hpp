// Proleptic Gregorian calendar arithmetic on Unix days (Howard Hinnant's
// algorithms): no OS call, no time zone, valid far beyond any certificate's
// or HTTP date's range. Internal to gust.
#pragma once

#include <stdint.h>

namespace gust::detail {

// Days since 1970-01-01 of year y, month m (1-12), day d (1-31).
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = unsigned(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + int64_t(doe) - 719468;
}

struct CivilDate {
    int64_t year;
    unsigned month;  // 1-12
    unsigned day;    // 1-31
};

// The date `z` days after 1970-01-01 (negative: before).
constexpr CivilDate civil_from_days(int64_t z) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = unsigned(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {int64_t(yoe) + era * 400 + (m <= 2), m, d};
}

// Whole days since 1970-01-01 of Unix time t, rounded down.
constexpr int64_t unix_day(int64_t t) { return t >= 0 ? t / 86400 : (t - 86399) / 86400; }

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);
static_assert(civil_from_days(-1).year == 1969 && civil_from_days(-1).day == 31);

}  // namespace gust::detail
