/* manifest.h — the namespace's record: JSON Lines, one event per line.
 *
 * Writers append whole lines under an exclusive flock; readers never lock:
 * they read only complete lines, from where they stopped last time, and skip
 * (and count) malformed ones. docs/manifest.md is the format's contract. */
#ifndef PS_MANIFEST_H
#define PS_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sockaddr.h"

/* Writers write version 2; readers read 1 and 2 (v1: a line per routed
 * connect; v2: the first per process and listener, the rest counted, see
 * PS_EV_CONNS). */
#define PS_MANIFEST_VERSION 2
#define PS_MANIFEST_VERSION_MIN 1

enum ps_ev {
    PS_EV_NONE = 0,
    PS_EV_BIND,      /* a bind (ok or failed); ok binds claim a virtual port */
    PS_EV_LISTEN,    /* a listen; the mapping becomes connectable */
    PS_EV_CONNECT,   /* a connect (routed, or any in observe mode) */
    PS_EV_ACCEPT,    /* an accept (observe mode) */
    PS_EV_CLOSE,     /* the socket is gone: its last descriptor closed */
    PS_EV_INHERIT,   /* a forked child holds the socket too (holder = child) */
    PS_EV_RELEASE,   /* one holder closed its copy; others may still hold it */
    PS_EV_EXIT,      /* a process exited; it holds nothing any more */
    PS_EV_STALE,     /* a reader found the socket gone without a close */
    PS_EV_START,     /* a namespace was created (written by portshim run) */
    PS_EV_CONNS,     /* v2: routed connects to listener sid counted, not lined */
};

/* A namespace's connect counters (preload/counts.h): "<manifest>.cnt", a
 * 64-byte header starting with PS_CNT_MAGIC, then PS_CSLOT_MAX 64-bit
 * counters in the host's byte order. */
#define PS_CSLOT_MAX 4096
#define PS_CNT_HDR 64
#define PS_CNT_MAGIC "PSCNT\0\0\1"
#define PS_CNT_GEN 8      /* header offset of the table's generation (uint64) */
#define PS_CNT_SIZE (PS_CNT_HDR + PS_CSLOT_MAX * 8)
#define PS_SID_MAX 32
#define PS_PROG_MAX 64
#define PS_NOTE_MAX 160
#define PS_UPATH_MAX 108
#define PS_HCMD_MAX 128
#define PS_HUSER_MAX 33

/* The protocol of a socket an event is about. The namespace serves TCP
 * today (engine.h, ps_engine_serves); UDP is next. A protocol this reader
 * does not know is PS_PROTO_OTHER: recorded, and in nobody's way. Zero is
 * TCP, so an event or entry without the field is TCP, as every manifest
 * written before the field was. */
enum ps_proto { PS_PROTO_TCP = 0, PS_PROTO_UDP, PS_PROTO_OTHER };
const char *ps_proto_name(enum ps_proto p);   /* "tcp", "udp", "other" */
enum ps_proto ps_proto_parse(const char *name);

struct ps_event {
    int v;                    /* format version */
    enum ps_ev ev;
    double ts;                /* seconds since the epoch, microsecond resolution */
    int pid;
    char prog[PS_PROG_MAX];
    char sid[PS_SID_MAX];     /* socket id "pid.n", unique in the namespace */
    bool ok;                  /* the call succeeded */
    int err;                  /* errno when !ok */
    int fam;                  /* socket family: AF_INET or AF_INET6 (0: absent);
                                 the line says 4 or 6 */
    enum ps_proto proto;      /* "proto", written only when not tcp */
    bool v6only;
    bool has_addr, has_raddr;
    struct ps_addr addr;      /* requested (virtual) address */
    int port;                 /* requested (virtual) port, -1 when absent */
    struct ps_addr raddr;     /* real address */
    int rport;                /* real port, -1 when absent */
    char rpath[PS_UPATH_MAX]; /* real endpoint as a socket path (unix mode) */
    bool reuseaddr, reuseport;
    bool chosen;              /* bind: to port 0; the namespace chose the number */
    int cslot;                /* bind: its connect counter's slot (-1 absent) */
    long long cbase;          /* bind: the counter's value at the bind (-1 absent) */
    long long count;          /* conns: connects counted so far (-1 absent) */
    long uid;                 /* -1 when absent */
    unsigned long long ino;   /* bind: the socket's inode (0: absent) */
    bool routed;              /* connect: sent to a namespace listener */
    int holder;               /* inherit/release: the holding pid */
    char mode[12];            /* bind/start: remap, unix, observe */
    char note[PS_NOTE_MAX];   /* free text: why a call failed, who held a port */
    /* A bind failed with EADDRINUSE: who holds the port (hpid 0: unknown). */
    int hpid;
    long huid;                /* -1 when absent */
    char hcmd[PS_HCMD_MAX];
    char huser[PS_HUSER_MAX];
    double hsince;            /* the holder's start (or bind), epoch seconds; 0 absent */
    /* A fault injected into this call (docs/inject.md): its kind, and for a
     * delay its length. */
    char inj[20];             /* "connect-delay", ...; "" none */
    long long inj_us;         /* -1 when absent */
    /* The backend that saw the call: "" for the preload library (never
     * written), "seccomp" for the supervisor (docs/manifest.md). */
    char be[8];
};

void ps_event_init(struct ps_event *e, enum ps_ev ev);
const char *ps_ev_name(enum ps_ev ev);
enum ps_ev ps_ev_parse(const char *name);
const char *ps_errno_name(int err);    /* "EADDRINUSE", or NULL if unknown */

/* Encodes one line, '\n' included. Returns its length, or 0 if it does not
 * fit in len - 1 bytes. Every event fits in PS_LINE_MAX: the longest fields
 * (prog, sid, mode, rpath, note, hcmd, huser, inj), each fully \u-escaped,
 * need about 3,500. */
#define PS_LINE_MAX 4096
size_t ps_event_encode(const struct ps_event *e, char *buf, size_t len);

/* The length (2-4) of the well-formed UTF-8 sequence of a non-ASCII
 * character at s, or 0 when s[0] starts none (a stray byte, an overlong
 * form, a surrogate, past U+10FFFF, cut short). JSON writers put '?' for
 * such bytes: a string must be valid UTF-8 for any JSON reader. */
size_t ps_utf8_seq(const char *s);

/* Decodes one line (without the '\n'). Returns 0 on success, -1 if the line
 * is malformed (not a JSON object, a bad value, no "v" or "ev", or a version
 * this code does not read), 1 for a well-formed event of a kind this code
 * does not know (skipped silently: newer writers may add kinds). */
int ps_event_decode(const char *line, size_t len, struct ps_event *e);

/* Incremental reader. */
typedef void (*ps_event_fn)(void *ctx, const struct ps_event *e);
typedef void (*ps_badline_fn)(void *ctx, uint64_t lineno, const char *line, size_t len);

struct ps_reader {
    int fd;
    uint64_t off;             /* file offset of buf[0] */
    char *buf;
    size_t cap, len;          /* len: bytes held that do not yet end a line */
    uint64_t lineno;          /* lines consumed so far */
    uint64_t bad;             /* malformed lines skipped */
    bool skipping;            /* inside an over-long line: dropping up to its '\n' */
    unsigned skip;            /* bit (1u << kind): kinds the caller does not want */
};

/* A line longer than this is malformed (no record comes near it); the reader
 * reports it once and never buffers more of it. */
#define PS_READ_LINE_MAX (64 * 1024)

void ps_reader_init(struct ps_reader *r, int fd);
void ps_reader_free(struct ps_reader *r);
/* Lines of a kind in r->skip are passed over undecoded when they start the
 * way every writer starts them ({"v":1,"ev":"KIND",...): a process that
 * only needs the mappings reads a connect-heavy manifest at memchr speed.
 * Lines in any other shape are decoded (and judged) as usual. */
#define PS_EV_BIT(kind) (1u << (kind))

/* Reads every complete line appended since the last call and calls fn for
 * each event (bad for each malformed line; may be NULL). A malformed line
 * with a record start ({"v":) further on (a killed writer's fragment with
 * the next record glued on) is reported once, for the part before it, and
 * read on from there. Returns the number of lines read, or -1 with errno
 * set if reading failed. */
long ps_reader_poll(struct ps_reader *r, ps_event_fn fn, ps_badline_fn bad, void *ctx);

/* The last poll ended inside a line: the file did not end with a newline
 * (a writer killed mid-line, or one still writing). A writer that appends
 * after it starts a fresh line, so its record is not glued onto the
 * fragment. Under the claim's flock, after a poll to the end, this is
 * exact, and free. */
bool ps_reader_mid_line(const struct ps_reader *r);

/* Writers. lock/unlock: flock(LOCK_EX/LOCK_UN), retried on EINTR.
 * append: writes the whole line (the file is opened O_APPEND). */
int ps_manifest_lock(int fd);
int ps_manifest_unlock(int fd);
int ps_manifest_append(int fd, const char *line, size_t len);

#endif
