/* log.h — one-line diagnostics to stderr, prefixed "portshim:".
 * The level is set once; each line goes out in a single write(2) so lines
 * from concurrent processes never interleave. */
#ifndef PS_LOG_H
#define PS_LOG_H

#include "core/config.h"

void ps_log_set_level(enum ps_loglevel level);
enum ps_loglevel ps_log_level(void);
void ps_log(enum ps_loglevel level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "Log once and degrade": for a failure the program survives with less
 * (records incomplete, a claim not serialised), one line the first time
 * this call site meets it in the process, then silence. Each use has a
 * flag of its own. */
#define ps_log_once(level, ...)                                      \
    do {                                                             \
        static int ps_log_once_;                                     \
        if (!__atomic_exchange_n(&ps_log_once_, 1, __ATOMIC_RELAXED)) \
            ps_log(level, __VA_ARGS__);                              \
    } while (0)

#endif
