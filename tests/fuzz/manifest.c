/* manifest.c — libFuzzer target: the manifest as hostile input.
 *
 * The input is a manifest file: it is read by the incremental reader (in
 * pieces, with and without a skip mask) into a namespace table and a pid
 * map, and each line is decoded on its own. Properties beyond "no crash,
 * no sanitizer report": a decoded event encodes, and its encoding is a
 * fixed point (encode(decode(line)) decodes and encodes to itself); the
 * table agrees with its indexes. Run by `make fuzz` (scripts/fuzz). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/manifest.h"
#include "core/ns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fixed_point(const char *line, size_t len)
{
    struct ps_event e, e2;
    char a[PS_LINE_MAX], b[PS_LINE_MAX];
    if (ps_event_decode(line, len, &e) != 0)
        return;
    size_t na = ps_event_encode(&e, a, sizeof a);
    if (!na)
        abort();                              /* a decoded event must fit a line */
    if (ps_event_decode(a, na - 1, &e2) != 0)
        abort();                              /* and what we write must read back */
    if (e2.ev != e.ev || e2.pid != e.pid || e2.port != e.port || e2.rport != e.rport ||
        e2.ino != e.ino || e2.ok != e.ok || e2.uid != e.uid || e2.holder != e.holder)
        abort();
    /* Byte for byte only while a double holds a time to the microsecond
     * (2^32 s: the year 2106); past it the last digit may move. */
    if (e.ts >= 4294967296.0 || e.hsince >= 4294967296.0)
        return;
    size_t nb = ps_event_encode(&e2, b, sizeof b);
    if (nb != na || memcmp(a, b, na))
        abort();
}

static void check_table(const struct ps_ns *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        if (ps_ns_find(ns, ns->v[i].sid) != &ns->v[i])
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size;) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t len = nl ? (size_t)(nl - (data + i)) : size - i;
        if (len <= PS_READ_LINE_MAX)
            check_fixed_point((const char *)data + i, len);
        i += len + 1;
    }

    int fd = memfd_create("fuzz-manifest", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    struct ps_ns ns;
    struct ps_reader rd;
    ps_ns_init(&ns);
    ps_reader_init(&rd, fd);
    if (size && data[0] & 1)
        rd.skip = PS_EV_BIT(PS_EV_CONNECT) | PS_EV_BIT(PS_EV_ACCEPT) | PS_EV_BIT(PS_EV_START);
    /* in two pieces, the second starting wherever the first ended */
    size_t half = size ? data[size - 1] * size / 256 : 0;
    if (write(fd, data, half) == (ssize_t)half) {
        ps_reader_poll(&rd, ps_ns_apply_cb, NULL, &ns);
        check_table(&ns);
        (void)ps_reader_mid_line(&rd);
        if (write(fd, data + half, size - half) == (ssize_t)(size - half))
            ps_reader_poll(&rd, ps_ns_apply_cb, NULL, &ns);
        check_table(&ns);
    }
    ps_reader_free(&rd);
    ps_ns_free(&ns);
    close(fd);
    return 0;
}
