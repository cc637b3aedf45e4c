/* log.c — the only place that writes diagnostics. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static enum ps_loglevel g_level = PS_LOG_WARN;

void ps_log_set_level(enum ps_loglevel level) { g_level = level; }
enum ps_loglevel ps_log_level(void) { return g_level; }

void ps_log(enum ps_loglevel level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "portshim: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    /* One line, whatever the arguments hold (a program named with a newline
     * or an escape sequence): control bytes become '?'. */
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[n++] = '\n';
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}
