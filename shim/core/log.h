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

#endif
