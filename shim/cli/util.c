/* util.c — option scanning, manifest lookup and clocks shared by the subcommands. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/trust.h"
#include "core/unixname.h"

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
    if (a[n] && a[n] != '=')
        return 0;
    /* Last-wins would hide a mistake (--mode unix ... --mode remap). */
    if (*val) {
        cli_log(PS_LOG_ERROR, "%s given twice ('%s' and '%s')", name, *val,
                a[n] == '=' ? a + n + 1 : *i + 1 < argc ? argv[*i + 1] : "");
        return -1;
    }
    if (a[n] == '=') {
        *val = a + n + 1;
        (*i)++;
        return 1;
    }
    /* "--manifest -- CMD": the "--" ends the options, it is not a file. */
    if (*i + 1 >= argc || !strcmp(argv[*i + 1], "--")) {
        cli_log(PS_LOG_ERROR, "%s needs a value", name);
        return -1;
    }
    *val = argv[*i + 1];
    *i += 2;
    return 1;
}

int cli_flag(const char *arg, const char *name, bool *flag)
{
    if (strcmp(arg, name))
        return 0;
    if (*flag) {
        cli_log(PS_LOG_ERROR, "%s given twice", name);
        return -1;
    }
    *flag = true;
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

static long env_id(const char *name)
{
    const char *v = getenv(name);
    long id;
    return v && !ps_trust_id_parse(v, &id) ? id : -1;
}

int cli_open_manifest(const char *path, bool refuse_writable)
{
    /* Readers follow a symbolic link (the file it reaches is judged) and
     * must not block on a FIFO; a file that is not regular is no manifest. */
    struct ps_trust t = {geteuid(), env_id("PORTSHIM_SHARE_UID"), env_id("PORTSHIM_SHARE_GID")};
    struct stat st;
    char why[200];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return -2;
        cli_log(PS_LOG_ERROR, "cannot read manifest %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        cli_log(PS_LOG_ERROR, "cannot read manifest %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    enum ps_trust_verdict v = ps_trust_check(&st, false, &t, why, sizeof why);
    if (v == PS_TRUST_OWNER) {
        /* Another user's manifest may be read (a kept run of theirs), but
         * what it says is their word. Its mode is judged as its owner's. */
        cli_log(PS_LOG_WARN, "manifest %s %s: what it says is that user's word", path, why);
        t.share_uid = (long)st.st_uid;
        v = ps_trust_check(&st, false, &t, why, sizeof why);
    }
    if (v == PS_TRUST_TYPE || (v == PS_TRUST_MODE && refuse_writable)) {
        cli_log(PS_LOG_ERROR, "manifest %s %s", path, why);
        close(fd);
        return -1;
    }
    if (v == PS_TRUST_MODE)
        cli_log(PS_LOG_WARN, "manifest %s %s: any of them may have written what it says",
                path, why);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
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

/* A JSON string of s: escaped, and valid UTF-8 whatever the bytes (a
 * manifest's or a program's output: '?' for a byte that starts no
 * well-formed sequence). */
void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(f, "\\u%04x", *c);
        else if (*c >= 0x80) {   /* a manifest's bytes: valid UTF-8 out, whatever came in */
            size_t n = ps_utf8_seq((const char *)c);
            if (n) {
                fwrite(c, 1, n, f);
                c += n - 1;
            } else {
                fputc('?', f);
            }
        } else
            fputc(*c, f);
    }
    fputc('"', f);
}

int cli_joined_dir(const char *manifest, char *out, size_t len)
{
    return (size_t)snprintf(out, len, "%s.d", manifest) < len ? 0 : -1;
}

bool cli_socket_dir_fits(const char *dir, bool unix_mode, bool workers)
{
    if (!unix_mode)
        return true;
    return workers ? strlen(dir) <= PS_WORKER_ROOT_MAX : ps_uname_dir_fits(dir);
}

static bool ns_dir_fits(const char *dir, bool unix_mode, bool workers, bool joined)
{
    char sd[PATH_MAX];
    if (!unix_mode)
        return true;
    if (joined) {
        if ((size_t)snprintf(sd, sizeof sd, "%s/" CLI_MANIFEST_NAME ".d", dir) >= sizeof sd)
            return false;
        dir = sd;
    }
    return cli_socket_dir_fits(dir, unix_mode, workers);
}

int cli_make_ns_dir(bool unix_mode, bool workers, bool joined, char *out)
{
    const char *tmp = getenv("TMPDIR");
    char templ[PATH_MAX];
    if (!tmp || !*tmp)
        tmp = "/tmp";
    for (;;) {
        /* Room for the manifest's and the log's names after it. */
        if ((size_t)snprintf(templ, sizeof templ, "%s/portshim.XXXXXX", tmp) >= sizeof templ - 32) {
            cli_log(PS_LOG_ERROR, "TMPDIR='%.64s...' is too long", tmp);
            return -1;
        }
        if (!mkdtemp(templ)) {
            cli_log(PS_LOG_ERROR, "cannot create a namespace directory in '%s' (TMPDIR): %s",
                    tmp, strerror(errno));
            return -1;
        }
        if (!realpath(templ, out))
            snprintf(out, PATH_MAX, "%s", templ);
        /* Unix mode's socket names must fit sun_path: from a long TMPDIR,
         * go to /tmp instead. */
        if (ns_dir_fits(out, unix_mode, workers, joined) || !strcmp(tmp, "/tmp"))
            return 0;
        rmdir(templ);
        cli_log(PS_LOG_DEBUG, "TMPDIR='%s' is too long for unix socket names: using /tmp", tmp);
        tmp = "/tmp";
    }
}
