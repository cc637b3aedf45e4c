/* junit.c — a stress plan's runs as JUnit XML (--junit), the report CI
 * systems draw: one <testsuite> (named for the shard), one <testcase> per
 * run (named by index and seed, so a failure's name is its replay key),
 * a <failure> with the run's exit and output tail for each failed run.
 *
 * Everything from outside (command, output) is escaped for XML 1.0: the
 * five markup characters as entities, bytes XML cannot hold at all
 * (control bytes, invalid UTF-8) as '?'. */
#include "cli/stress.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/manifest.h"

static void xml(FILE *f, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; s && *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\t': case '\n': fputc(*c, f); break;
        default:
            if (*c < 0x20 || *c == 0x7f) {
                fputc('?', f);
            } else if (*c >= 0x80) {
                size_t n = ps_utf8_seq((const char *)c);
                if (n) {
                    fwrite(c, 1, n, f);
                    c += n - 1;
                } else {
                    fputc('?', f);
                }
            } else {
                fputc(*c, f);
            }
        }
    }
}

static void prop(FILE *f, const char *name, const char *value)
{
    fprintf(f, "      <property name=\"%s\" value=\"", name);
    xml(f, value);
    fputs("\"/>\n", f);
}

int junit_write(const char *path, const struct stress_plan *p, const char *cmdline,
                const struct stress_run *runs, long n, double started, double secs)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_log(PS_LOG_ERROR, "--junit: cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    long failed = 0;
    for (long i = 0; i < n; i++)
        failed += stress_run_failed(&runs[i]);
    char when[32] = "", host[256] = "", name[64], buf[64];
    time_t t = (time_t)started;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    if (gethostname(host, sizeof host - 1))
        host[0] = 0;
    if (p->shard.n > 1)
        snprintf(name, sizeof name, "portshim stress shard %ld of %ld", p->shard.k, p->shard.n);
    else
        snprintf(name, sizeof name, "portshim stress");
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<testsuites name=\"portshim stress\" tests=\"%ld\" failures=\"%ld\" errors=\"0\" "
               "skipped=\"0\" time=\"%.3f\">\n", n, failed, secs);
    fprintf(f, "  <testsuite name=\"%s\" tests=\"%ld\" failures=\"%ld\" errors=\"0\" "
               "skipped=\"0\" time=\"%.3f\" timestamp=\"%s\" hostname=\"", name, n, failed, secs,
            when);
    xml(f, host);
    fputs("\">\n    <properties>\n", f);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)p->base_seed);
    prop(f, "base_seed", buf);
    if (p->runs >= 0) {
        snprintf(buf, sizeof buf, "%ld", p->runs);
        prop(f, "runs", buf);
    }
    snprintf(buf, sizeof buf, "%ld/%ld", p->shard.k, p->shard.n);
    prop(f, "shard", buf);
    prop(f, "command", cmdline);
    fputs("    </properties>\n", f);
    for (long i = 0; i < n; i++) {
        const struct stress_run *r = &runs[i];
        fprintf(f, "    <testcase classname=\"portshim.stress\" name=\"run %ld seed %llu\" "
                   "time=\"%.3f\"", r->idx, (unsigned long long)r->seed, r->secs);
        if (!stress_run_failed(r)) {
            fputs("/>\n", f);
            continue;
        }
        char x[32];
        fprintf(f, ">\n      <failure type=\"%s\" message=\"exit %s",
                r->timeout ? "timeout" : r->sig ? "signal" : "exit",
                stress_exit_text(r, x, sizeof x));
        if (r->replay) {
            fputs("; replay: ", f);
            xml(f, r->replay);
        }
        fputs("\">", f);
        xml(f, r->tail);
        if (r->manifest) {
            fputs("\nmanifest: ", f);
            xml(f, r->manifest);
        }
        if (r->replay) {
            fputs("\nreplay: ", f);
            xml(f, r->replay);
        }
        fputs("</failure>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    if (ferror(f) | fclose(f)) {
        cli_log(PS_LOG_ERROR, "--junit: cannot write %s", path);
        return -1;
    }
    return 0;
}
