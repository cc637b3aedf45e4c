/* test_log.c — diagnostics: one line, prefixed "portshim:", filtered by the
 * level set once. stderr is captured through a pipe for each check. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static int saved = -1, pipefd[2] = {-1, -1};

static void capture_begin(void)
{
    cr_assert_eq(pipe(pipefd), 0);
    saved = dup(2);
    cr_assert_geq(saved, 0);
    cr_assert_eq(dup2(pipefd[1], 2), 2);
    close(pipefd[1]);
}

/* Everything logged since capture_begin, NUL-terminated. */
static size_t capture_end(char *buf, size_t cap)
{
    cr_assert_eq(dup2(saved, 2), 2);
    close(saved);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(pipefd[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = 0;
    close(pipefd[0]);
    return len;
}

Test(log, default_level_is_warn)
{
    cr_assert_eq(ps_log_level(), PS_LOG_WARN);
}

Test(log, line_is_prefixed_and_ends_with_newline)
{
    char out[2048];
    capture_begin();
    ps_log(PS_LOG_WARN, "bind 127.0.0.1:%d: %s", 8000, "held by pid 4101");
    capture_end(out, sizeof out);
    cr_assert_str_eq(out, "portshim: bind 127.0.0.1:8000: held by pid 4101\n");
}

Test(log, messages_above_the_level_are_dropped)
{
    char out[2048];
    capture_begin();
    ps_log(PS_LOG_INFO, "info");
    ps_log(PS_LOG_DEBUG, "debug");
    ps_log(PS_LOG_ERROR, "error");
    ps_log(PS_LOG_WARN, "warn");
    capture_end(out, sizeof out);
    cr_assert_str_eq(out, "portshim: error\nportshim: warn\n");
}

Test(log, set_level_changes_what_is_written)
{
    char out[2048];
    ps_log_set_level(PS_LOG_DEBUG);
    cr_assert_eq(ps_log_level(), PS_LOG_DEBUG);
    capture_begin();
    ps_log(PS_LOG_DEBUG, "debug");
    ps_log_set_level(PS_LOG_ERROR);
    ps_log(PS_LOG_WARN, "warn");
    ps_log(PS_LOG_ERROR, "error");
    capture_end(out, sizeof out);
    cr_assert_str_eq(out, "portshim: debug\nportshim: error\n");
}

Test(log, long_message_is_cut_to_one_line)
{
    static char big[4000], out[8192];
    memset(big, 'x', sizeof big - 1);
    capture_begin();
    ps_log(PS_LOG_ERROR, "%s", big);
    size_t n = capture_end(out, sizeof out);
    cr_assert_leq(n, 1024);
    cr_assert_gt(n, 900, "cut, not dropped");
    cr_assert_eq(strncmp(out, "portshim: x", 11), 0);
    cr_assert_eq(out[n - 1], '\n');
    cr_assert_null(memchr(out, '\n', n - 1), "exactly one line");
    cr_assert_null(memchr(out, 0, n), "no NUL written");
}

Test(log, control_bytes_in_arguments_stay_on_one_line)
{
    char buf[256];
    ps_log_set_level(PS_LOG_WARN);
    capture_begin();
    ps_log(PS_LOG_WARN, "bind in pid 1 (%s): EADDRINUSE", "bin\nder\x1b[2J");
    capture_end(buf, sizeof buf);
    cr_assert_str_eq(buf, "portshim: bind in pid 1 (bin?der?[2J): EADDRINUSE\n");
}
