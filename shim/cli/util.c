/* util.c — option scanning, manifest lookup and clocks shared by the subcommands. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

int usage_hint(const char *cmd)
{
    if (cmd)
        fprintf(stderr, "Try 'portshim %s --help'.\n", cmd);
    else
        fputs("Try 'portshim --help'.\n", stderr);
    return EXIT_USAGE;
}

bool cli_is_help(const char *arg)
{
    return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n))
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        (*i)++;
        return 1;
    }
    if (a[n])
        return 0;
    if (*i + 1 >= argc) {
        cli_log(PS_LOG_ERROR, "%s needs a value", name);
        return -1;
    }
    *val = argv[*i + 1];
    *i += 2;
    return 1;
}

const char *cli_manifest_path(const char *opt)
{
    if (opt && *opt)
        return opt;
    if (opt) {
        cli_log(PS_LOG_ERROR, "--manifest is empty");
        return NULL;
    }
    const char *env = getenv("PORTSHIM_MANIFEST");
    if (env && *env)
        return env;
    cli_log(PS_LOG_ERROR, "no manifest: give --manifest FILE, or run inside 'portshim run' "
                         "(PORTSHIM_MANIFEST is not set)");
    return NULL;
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)(t.tv_nsec / 1000) / 1e6;
}

double cli_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void cli_log_init(void)
{
    const char *v = getenv("PORTSHIM_LOG");
    if (!v) return;
    if (!strcmp(v, "error")) ps_log_set_level(PS_LOG_ERROR);
    else if (!strcmp(v, "warn")) ps_log_set_level(PS_LOG_WARN);
    else if (!strcmp(v, "info")) ps_log_set_level(PS_LOG_INFO);
    else if (!strcmp(v, "debug")) ps_log_set_level(PS_LOG_DEBUG);
}

void cli_log(enum ps_loglevel level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Values from the command line or a file are quoted into messages: keep
     * each message one line whatever they hold. */
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    ps_log(level, "%s", msg);
}
