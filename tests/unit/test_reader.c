/* test_reader.c — the incremental manifest reader: complete lines only, each
 * event once and in order, malformed lines reported by line number. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/manifest.h"

#define MAXBAD 16

/* What the callbacks saw. Events carry their sequence number in pid. */
struct seen {
    int *pids;
    size_t n, cap;
    uint64_t bad_lineno[MAXBAD];
    size_t bad_len[MAXBAD];
    char bad_start[MAXBAD][16];
    size_t nbad;
};

static char path[64];
static int wfd = -1, rfd = -1;
static struct ps_reader rd;
static struct seen seen;

static void setup(void)
{
    strcpy(path, "/tmp/portshim-unit-reader.XXXXXX");
    wfd = mkstemp(path);
    cr_assert_geq(wfd, 0, "mkstemp: %s", strerror(errno));
    rfd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(rfd, 0);
    ps_reader_init(&rd, rfd);
    memset(&seen, 0, sizeof seen);
}

static void teardown(void)
{
    ps_reader_free(&rd);
    free(seen.pids);
    if (wfd >= 0) close(wfd);
    if (rfd >= 0) close(rfd);
    unlink(path);
}

TestSuite(reader, .init = setup, .fini = teardown);

static void on_event(void *ctx, const struct ps_event *e)
{
    struct seen *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->pids = realloc(s->pids, s->cap * sizeof *s->pids);
        cr_assert_not_null(s->pids);
    }
    s->pids[s->n++] = e->pid;
}

static void on_bad(void *ctx, uint64_t lineno, const char *line, size_t len)
{
    struct seen *s = ctx;
    cr_assert_lt(s->nbad, MAXBAD);
    s->bad_lineno[s->nbad] = lineno;
    s->bad_len[s->nbad] = len;
    snprintf(s->bad_start[s->nbad], sizeof s->bad_start[0], "%.*s",
             (int)(len < 15 ? len : 15), line);
    s->nbad++;
}

static void put(const char *s, size_t n)
{
    cr_assert_eq(ps_manifest_append(wfd, s, n), 0);
}

static void puts_(const char *s) { put(s, strlen(s)); }

/* One well-formed line for event number seq, without the newline unless nl. */
static size_t line_for(int seq, char *buf, size_t cap, bool nl)
{
    struct ps_event e;
    ps_event_init(&e, PS_EV_LISTEN);
    e.pid = seq;
    e.ts = 1795312345.0 + seq;
    snprintf(e.sid, sizeof e.sid, "%d.1", seq);
    size_t n = ps_event_encode(&e, buf, cap);
    cr_assert_gt(n, 0);
    return nl ? n : n - 1;
}

static void put_event(int seq)
{
    char buf[PS_LINE_MAX];
    put(buf, line_for(seq, buf, sizeof buf, true));
}

static long poll_(void)
{
    return ps_reader_poll(&rd, on_event, on_bad, &seen);
}

static void assert_seen_1_to(int last)
{
    cr_assert_eq(seen.n, (size_t)last, "saw %zu events, want %d", seen.n, last);
    for (int i = 0; i < last; i++)
        cr_assert_eq(seen.pids[i], i + 1, "event %d is #%d", i + 1, seen.pids[i]);
}

Test(reader, empty_file_reads_nothing)
{
    cr_assert_eq(poll_(), 0);
    cr_assert_eq(poll_(), 0);
    cr_assert_eq(seen.n, 0);
    cr_assert_eq(rd.lineno, 0);
}

Test(reader, delivers_each_event_once_in_order_across_polls)
{
    put_event(1);
    put_event(2);
    put_event(3);
    cr_assert_eq(poll_(), 3);
    assert_seen_1_to(3);
    cr_assert_eq(poll_(), 0, "nothing new");
    assert_seen_1_to(3);
    put_event(4);
    put_event(5);
    cr_assert_eq(poll_(), 2);
    assert_seen_1_to(5);
    cr_assert_eq(rd.lineno, 5);
    cr_assert_eq(rd.bad, 0);
}

Test(reader, partial_line_waits_for_its_newline)
{
    char buf[PS_LINE_MAX];
    put_event(1);
    size_t n = line_for(2, buf, sizeof buf, true);
    put(buf, n / 2);                       /* a writer mid-line */
    cr_assert_eq(poll_(), 1);
    assert_seen_1_to(1);
    cr_assert_eq(poll_(), 0, "the half line is not read twice or early");
    assert_seen_1_to(1);
    put(buf + n / 2, n - 1 - n / 2);       /* the rest, still no newline */
    cr_assert_eq(poll_(), 0);
    assert_seen_1_to(1);
    put("\n", 1);
    put_event(3);
    cr_assert_eq(poll_(), 2);
    assert_seen_1_to(3);
    cr_assert_eq(seen.nbad, 0, "a line split across polls is not malformed");
}

Test(reader, line_split_at_every_byte)
{
    char buf[PS_LINE_MAX];
    size_t n = line_for(1, buf, sizeof buf, true);
    for (size_t i = 0; i < n; i++) {
        put(buf + i, 1);
        poll_();
        cr_assert_eq(seen.n, i + 1 == n ? 1u : 0u, "after byte %zu", i);
    }
    cr_assert_eq(seen.nbad, 0);
}

Test(reader, malformed_lines_reported_by_number_and_good_lines_still_read)
{
    char buf[PS_LINE_MAX];
    put_event(1);
    puts_("not json\n");                                  /* line 2 */
    put_event(2);
    put_event(3);
    puts_("{\"v\":3,\"ev\":\"bind\"}\n");                 /* line 5 */
    puts_("{\"v\":1,\"ev\":\"bind\",\"pid\":\"x\"}\n");   /* line 6 */
    put_event(4);
    cr_assert_eq(poll_(), 7);
    assert_seen_1_to(4);
    cr_assert_eq(seen.nbad, 3);
    cr_assert_eq(rd.bad, 3);
    cr_assert_eq(seen.bad_lineno[0], 2);
    cr_assert_str_eq(seen.bad_start[0], "not json");
    cr_assert_eq(seen.bad_len[0], 8, "the bad line is passed without its newline");
    cr_assert_eq(seen.bad_lineno[1], 5);
    cr_assert_eq(seen.bad_lineno[2], 6);
    /* numbering continues across polls */
    puts_("}\n");                                         /* line 8 */
    put(buf, line_for(5, buf, sizeof buf, true));
    cr_assert_eq(poll_(), 2);
    assert_seen_1_to(5);
    cr_assert_eq(seen.nbad, 4);
    cr_assert_eq(seen.bad_lineno[3], 8);
}

Test(reader, unknown_event_kinds_and_blank_lines_are_skipped_silently)
{
    put_event(1);
    puts_("{\"v\":1,\"ev\":\"teleport\",\"pid\":99}\n");  /* line 2 */
    puts_("\n");                                          /* line 3 */
    puts_("garbage\n");                                   /* line 4 */
    put_event(2);
    cr_assert_eq(poll_(), 5);
    assert_seen_1_to(2);
    cr_assert_eq(seen.nbad, 1);
    cr_assert_eq(seen.bad_lineno[0], 4, "blank and unknown lines still count as lines");
}

Test(reader, callbacks_may_be_null)
{
    put_event(1);
    puts_("garbage\n");
    cr_assert_eq(ps_reader_poll(&rd, NULL, NULL, NULL), 2);
    cr_assert_eq(rd.bad, 1);
    put_event(2);
    cr_assert_eq(poll_(), 1);
    cr_assert_eq(seen.n, 1);
    cr_assert_eq(seen.pids[0], 2);
}

Test(reader, reads_100000_events_completely, .timeout = 60)
{
    enum { N = 100000 };
    size_t cap = (size_t)N * 128, len = 0;
    char *all = malloc(cap);
    cr_assert_not_null(all);
    for (int i = 1; i <= N; i++) {
        cr_assert_lt(len + PS_LINE_MAX, cap + PS_LINE_MAX);
        len += line_for(i, all + len, cap - len, true);
    }
    /* in two writes, the second starting mid-line */
    size_t half = len / 2 + 17;
    put(all, half);
    long a = poll_();
    put(all + half, len - half);
    long b = poll_();
    free(all);
    cr_assert_eq(a + b, N);
    assert_seen_1_to(N);
    cr_assert_eq(seen.nbad, 0);
    cr_assert_eq(rd.lineno, (uint64_t)N);
}

/* A line longer than 64 KiB cannot be a record (PS_LINE_MAX is far less):
 * it is malformed, even if it parses, and the reader must not buffer it. */
static char *long_valid_line(size_t len)
{
    const char *head = "{\"v\":1,\"ev\":\"listen\",\"pid\":500,\"pad\":\"";
    char *s = malloc(len + 1);
    cr_assert_not_null(s);
    size_t h = strlen(head);
    memcpy(s, head, h);
    memset(s + h, 'x', len - h - 3);
    memcpy(s + len - 3, "\"}\n", 3);
    s[len] = 0;
    return s;
}

Test(reader, line_longer_than_64k_is_malformed_and_next_line_kept)
{
    char *big = long_valid_line(100 * 1024);
    put_event(1);
    put(big, strlen(big));                 /* line 2 */
    put_event(2);
    poll_();
    free(big);
    assert_seen_1_to(2);
    cr_assert_eq(seen.nbad, 1);
    cr_assert_eq(seen.bad_lineno[0], 2);
    cr_assert_eq(rd.lineno, 3);
}

Test(reader, long_line_written_in_pieces_is_malformed_once)
{
    char *big = long_valid_line(300 * 1024);
    size_t n = strlen(big);
    put_event(1);
    put(big, 50 * 1024);                   /* line 2 begins: not yet too long */
    poll_();
    cr_assert_eq(seen.nbad, 0);
    put(big + 50 * 1024, 100 * 1024);      /* now past 64 KiB, still no newline */
    poll_();
    put(big + 150 * 1024, n - 150 * 1024); /* the end of it */
    put_event(2);
    poll_();
    put_event(3);
    poll_();
    free(big);
    assert_seen_1_to(3);
    cr_assert_eq(seen.nbad, 1, "one long line is one bad line");
    cr_assert_eq(seen.bad_lineno[0], 2);
    cr_assert_eq(rd.lineno, 4);
}

Test(reader, line_without_newline_does_not_grow_the_buffer_without_bound, .timeout = 60)
{
    enum { MB = 1024 * 1024 };
    char *junk = malloc(MB);
    cr_assert_not_null(junk);
    memset(junk, 'j', MB);
    put_event(1);
    for (int i = 0; i < 8; i++) {
        put(junk, MB);
        poll_();
    }
    put("\n", 1);
    put_event(2);
    poll_();
    free(junk);
    assert_seen_1_to(2);
    cr_assert_eq(seen.nbad, 1);
    cr_assert_leq(rd.cap, (size_t)512 * 1024, "reader holds %zu bytes for one bad line", rd.cap);
}

Test(reader, line_just_under_64k_is_read)
{
    char *big = long_valid_line(60 * 1024);
    put(big, strlen(big));
    put_event(1);
    poll_();
    free(big);
    cr_assert_eq(seen.nbad, 0);
    cr_assert_eq(seen.n, 2);
    cr_assert_eq(seen.pids[0], 500);
    cr_assert_eq(seen.pids[1], 1);
}

Test(reader, read_error_returns_minus_1_with_errno)
{
    struct ps_reader bad;
    ps_reader_init(&bad, -1);
    errno = 0;
    cr_assert_eq(ps_reader_poll(&bad, on_event, on_bad, &seen), -1);
    cr_assert_eq(errno, EBADF);
    ps_reader_free(&bad);
}

Test(reader, appends_under_the_lock_are_whole_lines)
{
    char buf[PS_LINE_MAX];
    cr_assert_eq(ps_manifest_lock(wfd), 0);
    put(buf, line_for(1, buf, sizeof buf, true));
    cr_assert_eq(ps_manifest_unlock(wfd), 0);
    cr_assert_eq(poll_(), 1);
    assert_seen_1_to(1);
}

/* Kinds in the skip mask are passed over, undecoded, when a writer wrote
 * them (the canonical prefix); everything else is read as usual. */
Test(reader, skipped_kinds_are_not_delivered_and_others_are)
{
    rd.skip = PS_EV_BIT(PS_EV_CONNECT) | PS_EV_BIT(PS_EV_ACCEPT);
    char buf[PS_LINE_MAX];
    struct ps_event e;
    ps_event_init(&e, PS_EV_CONNECT);
    e.pid = 900;
    put(buf, ps_event_encode(&e, buf, sizeof buf));   /* skipped */
    put_event(1);                                      /* a listen: delivered */
    ps_event_init(&e, PS_EV_ACCEPT);
    e.pid = 901;
    put(buf, ps_event_encode(&e, buf, sizeof buf));   /* skipped */
    put_event(2);
    cr_assert_eq(poll_(), 4, "every line is still counted");
    cr_assert_eq(seen.n, 2);
    cr_assert_eq(seen.pids[0], 1);
    cr_assert_eq(seen.pids[1], 2);
    cr_assert_eq(seen.nbad, 0);
}

Test(reader, a_skipped_kind_in_another_shape_is_still_decoded)
{
    rd.skip = PS_EV_BIT(PS_EV_CONNECT);
    /* not the writers' prefix (a space, other key order): decoded, delivered */
    puts_("{ \"v\":1,\"ev\":\"connect\",\"pid\":902}\n");
    puts_("{\"ev\":\"connect\",\"v\":1,\"pid\":903}\n");
    cr_assert_eq(poll_(), 2);
    cr_assert_eq(seen.n, 2);
    cr_assert_eq(seen.pids[0], 902);
    cr_assert_eq(seen.pids[1], 903);
}

Test(reader, without_a_mask_every_kind_is_delivered)
{
    char buf[PS_LINE_MAX];
    struct ps_event e;
    ps_event_init(&e, PS_EV_CONNECT);
    e.pid = 904;
    put(buf, ps_event_encode(&e, buf, sizeof buf));
    cr_assert_eq(poll_(), 1);
    cr_assert_eq(seen.n, 1);
    cr_assert_eq(seen.pids[0], 904);
}

/* ---- a torn line: a killed writer's fragment, the next record glued on --- */

Test(reader, record_glued_onto_a_fragment_is_read_and_the_fragment_reported)
{
    char buf[PS_LINE_MAX];
    size_t n = line_for(2, buf, sizeof buf, true);
    put_event(1);
    put(buf, n / 2);                       /* line 2: a writer killed mid-line */
    put_event(3);                          /* glued onto it */
    put_event(4);
    cr_assert_eq(poll_(), 3);
    cr_assert_eq(seen.n, 3);
    cr_assert_eq(seen.pids[0], 1);
    cr_assert_eq(seen.pids[1], 3, "the glued record was lost");
    cr_assert_eq(seen.pids[2], 4);
    cr_assert_eq(seen.nbad, 1);
    cr_assert_eq(seen.bad_lineno[0], 2);
    cr_assert_eq(seen.bad_len[0], n / 2, "only the fragment is malformed");
}

Test(reader, several_fragments_before_a_record_are_one_bad_line)
{
    char buf[PS_LINE_MAX];
    size_t n = line_for(9, buf, sizeof buf, true);
    put(buf, 10);
    put(buf, n / 2);
    puts_("{\"v\":");
    put_event(1);
    cr_assert_eq(poll_(), 1);
    assert_seen_1_to(1);
    cr_assert_eq(seen.nbad, 1);
    cr_assert_eq(seen.bad_len[0], 10);
}

Test(reader, glued_record_behind_a_kind_the_caller_skips_is_still_read)
{
    /* connects are passed over undecoded; a torn connect must not hide the
     * bind glued onto it */
    rd.skip = PS_EV_BIT(PS_EV_CONNECT);
    char buf[PS_LINE_MAX], tail[PS_LINE_MAX];
    struct ps_event e;
    ps_event_init(&e, PS_EV_CONNECT);
    e.pid = 900;
    size_t n = ps_event_encode(&e, buf, sizeof buf);
    put(buf, n - 5);
    put(tail, line_for(1, tail, sizeof tail, true));
    put(buf, n);                           /* a whole connect: still skipped */
    cr_assert_eq(poll_(), 2);
    assert_seen_1_to(1);
    cr_assert_eq(seen.nbad, 1);
    cr_assert_eq(seen.bad_lineno[0], 1);
}

Test(reader, brace_in_free_text_does_not_make_a_skipped_kind_malformed)
{
    rd.skip = PS_EV_BIT(PS_EV_CONNECT);
    puts_("{\"v\":1,\"ev\":\"connect\",\"pid\":901,\"note\":\"a {brace} and {\\\"v\\\":2\"}\n");
    put_event(1);
    cr_assert_eq(poll_(), 2);
    assert_seen_1_to(1);
    cr_assert_eq(seen.nbad, 0);
}

Test(reader, malformed_line_without_a_record_start_is_one_bad_line)
{
    puts_("{\"v\":1,\"ev\":\"bind\",\"pid\":{\"x\"\n");
    put_event(1);
    cr_assert_eq(poll_(), 2);
    assert_seen_1_to(1);
    cr_assert_eq(seen.nbad, 1);
    cr_assert_eq(seen.bad_len[0], strlen("{\"v\":1,\"ev\":\"bind\",\"pid\":{\"x\""));
}

Test(reader, mid_line_tells_whether_the_file_ends_inside_a_line)
{
    char buf[PS_LINE_MAX];
    size_t n = line_for(1, buf, sizeof buf, true);
    poll_();
    cr_assert_not(ps_reader_mid_line(&rd), "an empty file");
    put(buf, n);
    poll_();
    cr_assert_not(ps_reader_mid_line(&rd), "the file ends with a newline");
    put(buf, 7);
    poll_();
    cr_assert(ps_reader_mid_line(&rd), "the file ends in a fragment");
    puts_("\n");
    poll_();
    cr_assert_not(ps_reader_mid_line(&rd));
}

Test(reader, mid_line_inside_an_over_long_line)
{
    char *junk = malloc(100 * 1024);
    cr_assert_not_null(junk);
    memset(junk, 'j', 100 * 1024);
    put(junk, 100 * 1024);
    free(junk);
    poll_();
    cr_assert_eq(seen.nbad, 1);
    cr_assert(ps_reader_mid_line(&rd), "the dropped line has not ended");
}
