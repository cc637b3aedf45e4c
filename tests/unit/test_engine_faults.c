/* test_engine_faults.c — one process's injected faults as the engine decides
 * them (engine/faults.h), whichever backend asks: the same seed, key and
 * counters give the same decisions, and each decision fills its record. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/faults.h"

static struct ps_config cfg(const char *spec, uint64_t seed)
{
    struct ps_config c;
    char err[256];
    memset(&c, 0, sizeof c);
    c.mode = PS_MODE_REMAP;
    c.seed = seed;
    cr_assert_eq(ps_inject_parse(spec, &c.inject, err, sizeof err), 0, "%s", err);
    return c;
}

Test(engine_faults, a_certain_bind_fault_fills_the_record_as_an_injected_eaddrinuse)
{
    struct ps_config c = cfg("bind-eaddrinuse=100%", 1);
    struct ps_inj_counts *cnt = calloc(1, sizeof *cnt);
    struct ps_event e;
    ps_event_init(&e, PS_EV_BIND);
    e.port = 8000;
    cr_assert(ps_engine_inj_bind(&c, 42, cnt, &e));
    cr_assert(!e.ok);
    cr_assert_eq(e.err, EADDRINUSE);
    cr_assert_str_eq(e.note, "injected");
    cr_assert_str_eq(e.inj, "bind-eaddrinuse");
    cr_assert_str_eq(e.mode, "remap");
    cr_assert_eq(cnt->n[PS_INJ_BIND_EADDRINUSE][8000], 1, "the decision was not counted");
    free(cnt);
}

Test(engine_faults, without_a_bind_fault_the_record_is_untouched)
{
    struct ps_config c = cfg("connect-refused=100%", 1);
    struct ps_inj_counts *cnt = calloc(1, sizeof *cnt);
    struct ps_event e;
    ps_event_init(&e, PS_EV_BIND);
    e.port = 8000;
    cr_assert(!ps_engine_inj_bind(&c, 42, cnt, &e));
    cr_assert(e.ok && !e.inj[0] && !e.mode[0]);
    free(cnt);
}

/* Two backends (or a run and its replay) with the same seed and key: the
 * same sequence of decisions, drawn from counters of their own. */
Test(engine_faults, connect_decisions_replay_from_seed_key_and_counters)
{
    struct ps_config c = cfg("connect-refused=50%,connect-delay=1ms-5ms@0.5", 7);
    struct ps_inj_counts *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    int refused = 0, delayed = 0;
    for (int i = 0; i < 200; i++) {
        struct ps_inj_connect x, y;
        ps_engine_inj_connect(&c, 99, a, 8000, &x);
        ps_engine_inj_connect(&c, 99, b, 8000, &y);
        cr_assert_eq(x.refused, y.refused, "decision %d differs", i);
        cr_assert_eq(x.delay_us, y.delay_us, "delay %d differs", i);
        refused += x.refused;
        delayed += x.delay_us != 0;
        cr_assert(!x.delay_us || (x.delay_us >= 1000 && x.delay_us <= 5000));
        struct ps_event e;
        ps_event_init(&e, PS_EV_CONNECT);
        e.ok = !x.refused;
        ps_engine_inj_take(&x, &e);
        if (x.refused) {
            cr_assert_str_eq(e.inj, "connect-refused");
            cr_assert_str_eq(e.note, "injected");
            cr_assert_eq(e.inj_us, x.delay_us ? (long long)x.delay_us : -1);
        } else if (x.delay_us) {
            cr_assert_str_eq(e.inj, "connect-delay");
            cr_assert_eq(e.inj_us, (long long)x.delay_us);
        } else {
            cr_assert(!e.inj[0]);
        }
    }
    cr_assert(refused > 50 && refused < 150, "refused %d of 200 at 50%%", refused);
    cr_assert(delayed > 50 && delayed < 150, "delayed %d of 200 at 50%%", delayed);
    free(a);
    free(b);
}

Test(engine_faults, the_key_is_the_command_line_read_from_proc)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)getpid());
    uint64_t self = ps_inj_cmdline_key("/proc/self/cmdline");
    cr_assert_eq(ps_inj_cmdline_key(path), self);
    cr_assert_neq(self, ps_inject_key("", 0));
    cr_assert_eq(ps_inj_cmdline_key("/nonexistent/cmdline"), ps_inject_key("", 0));
}
