/* supervise.c — the seccomp supervisor (supervise.h).
 *
 * One thread, one poll loop: the socket processes attach through, the
 * listener fd of each attached process tree, and the sockets of connects
 * still under way. A notification is answered at once, or (a connect of a
 * blocking socket that the kernel has not completed yet) when its socket
 * becomes writable: no call of one process ever waits for another's.
 *
 * Every socket operation is made on the target's own socket, fetched with
 * pidfd_getfd, through bare system calls: a `portshim run` nested in
 * another run has the outer run's library preloaded, and its wrappers must
 * not see the supervisor's binds. The target's memory is read and written
 * with process_vm_readv/writev, each checked with SECCOMP_IOCTL_NOTIF_ID_VALID
 * afterwards (read) or before (write): a notification of a process that
 * exited, whose pid may be another's by now, is dropped unanswered.
 *
 * A process whose socket calls the preload library already handles (a
 * dynamic program exec'd under the filter: libportshim.so is mapped in it)
 * gets SECCOMP_USER_NOTIF_FLAG_CONTINUE: its library decided already. */
#include "cli/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/execkind.h"
#include "core/holder.h"
#include "core/inject.h"
#include "core/log.h"
#include "core/manifest.h"
#include "core/ns.h"
#include "core/probe.h"
#include "core/sockaddr.h"
#include "core/trust.h"
#include "engine/engine.h"
#include "seccomp/attach.h"

#define SUP_SOCK_NAME "supervisor"
#define MAX_LISTENERS 256
#define MAX_PENDING 256
#define MAX_PROCS 64

/* ---- bare system calls --------------------------------------------------- */

static int sys_bind(int fd, const void *a, socklen_t l) { return (int)syscall(SYS_bind, fd, a, l); }
static int sys_connect(int fd, const void *a, socklen_t l)
{
    return (int)syscall(SYS_connect, fd, a, l);
}
static int sys_listen(int fd, int b) { return (int)syscall(SYS_listen, fd, b); }
static int sys_getsockname(int fd, void *a, socklen_t *l)
{
    return (int)syscall(SYS_getsockname, fd, a, l);
}
static int sys_getpeername(int fd, void *a, socklen_t *l)
{
    return (int)syscall(SYS_getpeername, fd, a, l);
}
static int sys_getsockopt(int fd, int lv, int n, void *v, socklen_t *l)
{
    return (int)syscall(SYS_getsockopt, fd, lv, n, v, l);
}
static int sockopt_int(int fd, int level, int name)
{
    int v = 0;
    socklen_t l = sizeof v;
    return sys_getsockopt(fd, level, name, &v, &l) == 0 ? v : 0;
}

/* ---- state ----------------------------------------------------------------- */

/* An attached process (a thread group), as far as the supervisor knows it. */
struct proc {
    int tgid;
    int pidfd;
    dev_t exe_dev;
    ino_t exe_ino;
    bool preloaded;       /* libportshim.so is mapped: its library answers */
    unsigned long long used;   /* LRU tick */
};

/* A connect the kernel is still completing (a blocking socket's). */
struct pending {
    int lfd;              /* a dup of the listener it came through */
    uint64_t id;
    int sock;             /* our copy of the target's socket */
    int fl;               /* its status flags, to restore */
    long deadline_ms;
    struct ps_event ev;   /* the connect's record, ok/err filled on completion */
    bool record;
};

struct ps_supervisor {
    pthread_t th;
    bool started;
    int lsock;
    int wake[2];
    char path[PATH_MAX];
    char own_dir[128];        /* a private directory made for the socket, or "" */
    struct ps_config cfg;
    /* The manifest session: read incrementally, appended to. */
    int mfd;
    struct ps_reader rd;
    struct ps_ns ns;
    unsigned sid_counter;
    uint64_t fresh_at;
    bool write_warned;
    struct ps_session sess;
    struct ps_proc who;       /* the process the current call is about */
    char who_prog[PS_PROG_MAX];
    int listeners[MAX_LISTENERS];
    int nl;
    struct pending pend[MAX_PENDING];
    int np;
    struct proc procs[MAX_PROCS];
    unsigned long long tick;
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    size_t req_size, resp_size;
};

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- the manifest session ------------------------------------------------ */

static void apply_event(void *ctx, const struct ps_event *e)
{
    struct ps_supervisor *s = ctx;
    /* A socket file outside PORTSHIM_DIR is not one this namespace made. */
    if (e->rpath[0] && !ps_path_in_dir(e->rpath, s->cfg.dir))
        return;
    ps_ns_apply_cb(&s->ns, e);
}

static void refresh(struct ps_supervisor *s)
{
    if (ps_reader_poll(&s->rd, apply_event, NULL, s) < 0 && !s->write_warned) {
        s->write_warned = true;
        cli_log(PS_LOG_ERROR, "supervisor: cannot read manifest %s: %s", s->cfg.manifest,
                strerror(errno));
    }
}

static void emit(struct ps_supervisor *s, struct ps_event *e)
{
    char buf[PS_LINE_MAX + 1];
    memcpy(e->be, "seccomp", 8);
    size_t n = ps_event_encode(e, buf + 1, sizeof buf - 1);
    if (!n)
        return;
    char *line = buf + 1;
    uint64_t tail = s->rd.off + s->rd.len;
    if (ps_reader_mid_line(&s->rd) && tail != s->fresh_at) {
        *--line = '\n';
        n++;
        s->fresh_at = tail;
    }
    if (ps_manifest_append(s->mfd, line, n) < 0 && !s->write_warned) {
        s->write_warned = true;
        cli_log(PS_LOG_ERROR, "supervisor: cannot write manifest %s: %s", s->cfg.manifest,
                strerror(errno));
    }
}

/* "<pid>.s<n>": the library's sids are "<pid>.<n>", so a supervised
 * process that later execs a preloaded program never gets one twice. */
static void next_sid(struct ps_supervisor *s, char sid[PS_SID_MAX])
{
    snprintf(sid, PS_SID_MAX, "%d.s%u", s->who.pid, ++s->sid_counter);
}

static void claim_begin(struct ps_supervisor *s)
{
    ps_manifest_lock(s->mfd);
    refresh(s);
}

static void claim_end(struct ps_supervisor *s) { ps_manifest_unlock(s->mfd); }

static void event_new(struct ps_supervisor *s, struct ps_event *e, enum ps_ev ev)
{
    ps_engine_event_new(&s->who, e, ev);
}

/* ---- the engine's operations ------------------------------------------- */

static bool op_alive(void *ctx, const struct ps_entry *e)
{
    return ps_probe_any_alive(&e->holders, 0);
}

static bool op_live(void *ctx, const struct ps_entry *e) { return ps_probe_entry_live(e, 0); }

static void op_retire(void *ctx, const struct ps_entry *c)
{
    struct ps_supervisor *s = ctx;
    struct ps_event st;
    event_new(s, &st, PS_EV_STALE);
    memcpy(st.sid, c->sid, sizeof st.sid);
    emit(s, &st);
    refresh(s);
}

static bool op_refuses_first(void *ctx, int fd, int fam)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    uint16_t port;
    if (sys_getsockname(fd, &ss, &l) < 0)
        return true;
    return ss.ss_family != (fam == 4 ? AF_INET : AF_INET6) ||
           ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, &port) < 0 || port != 0;
}

static bool op_local_address(void *ctx, const struct ps_addr *dst)
{
    struct ps_addr tmp = *dst;
    if (ps_addr_is_v4(&tmp))
        tmp.fam = 4;
    struct sockaddr_storage ss;
    socklen_t l = ps_addr_to_sockaddr(&tmp, 0, &ss);
    int u = (int)syscall(SYS_socket, ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u < 0)
        return false;
    bool local = sys_bind(u, &ss, l) == 0;
    close(u);
    return local;
}

static const struct ps_engine_ops sup_ops = {
    .alive = op_alive,
    .live = op_live,
    .retire = op_retire,
    .refuses_first = op_refuses_first,
    .local_address = op_local_address,
};

/* ---- the target process ------------------------------------------------ */

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return (int)n;
}

/* The thread group of task tid and its effective uid, from its status. */
static int task_ids(int tid, int *tgid, long *euid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    if (read_small(path, buf, sizeof buf) < 0)
        return -1;
    const char *t = strstr(buf, "\nTgid:"), *u = strstr(buf, "\nUid:");
    if (!t)
        return -1;
    *tgid = atoi(t + 6);
    long r, e;
    *euid = u && sscanf(u + 5, "%ld %ld", &r, &e) == 2 ? e : -1;
    return *tgid > 0 ? 0 : -1;
}

/* Does the preload library answer pid's socket calls? It is mapped, and
 * pid is not a Go program: Go makes its socket calls itself, and the
 * library, loaded into a dynamically linked one, stays off there
 * (preload/state.c). The maps are read in pieces. */
static bool maps_preloaded(int pid)
{
    char exe[64];
    snprintf(exe, sizeof exe, "/proc/%d/exe", pid);
    if (ps_exec_kind_of(exe) == PS_EXEC_GO)
        return false;
    static const char needle[] = "/libportshim.so";
    char path[64], buf[8192 + sizeof needle];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t keep = 0;
    bool found = false;
    ssize_t n;
    while (!found && (n = read(fd, buf + keep, sizeof buf - 1 - keep)) > 0) {
        size_t len = keep + (size_t)n;
        buf[len] = 0;
        found = memmem(buf, len, needle, sizeof needle - 1) != NULL;
        keep = len < sizeof needle ? len : sizeof needle - 1;
        memmove(buf, buf + len - keep, keep);
    }
    close(fd);
    return found;
}

static struct proc *proc_get(struct ps_supervisor *s, int tgid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", tgid);
    bool have_exe = stat(path, &st) == 0;
    struct proc *p = NULL, *lru = &s->procs[0];
    for (int i = 0; i < MAX_PROCS; i++) {
        if (s->procs[i].tgid == tgid) {
            p = &s->procs[i];
            break;
        }
        if (s->procs[i].used < lru->used)
            lru = &s->procs[i];
    }
    if (p && (!have_exe || p->exe_dev != st.st_dev || p->exe_ino != st.st_ino)) {
        /* An exec (or a new process with a reused pid): looked at afresh. */
        p->preloaded = maps_preloaded(tgid);
        p->exe_dev = have_exe ? st.st_dev : 0;
        p->exe_ino = have_exe ? st.st_ino : 0;
    }
    if (!p) {
        p = lru;
        if (p->pidfd >= 0)
            close(p->pidfd);
        p->tgid = tgid;
        p->pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
        p->preloaded = maps_preloaded(tgid);
        p->exe_dev = have_exe ? st.st_dev : 0;
        p->exe_ino = have_exe ? st.st_ino : 0;
    }
    p->used = ++s->tick;
    return p;
}

static bool id_valid(int lfd, uint64_t id)
{
    return ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static int mem_read(int tid, void *dst, uint64_t src, size_t len)
{
    struct iovec l = {dst, len}, r = {(void *)(uintptr_t)src, len};
    return process_vm_readv(tid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

static int mem_write(int tid, uint64_t dst, const void *src, size_t len)
{
    struct iovec l = {(void *)src, len}, r = {(void *)(uintptr_t)dst, len};
    return process_vm_writev(tid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* ---- one call -------------------------------------------------------------- */

/* What a handler says to do with the notification. */
enum verdict { V_CONTINUE, V_ANSWER, V_DROP, V_LATER };

struct call {
    struct ps_supervisor *s;
    int lfd;
    const struct seccomp_notif *n;
    int tid;
    struct proc *p;
    int sock;             /* our copy of the target's socket, or -1 */
    long long val;        /* V_ANSWER: the result, or -errno */
};

static enum verdict answer(struct call *c, long long val)
{
    c->val = val;
    return V_ANSWER;
}

/* Our copy of the target's descriptor argument 0; -1 when it has none
 * (the kernel answers the call: EBADF, ENOTSOCK). */
static int get_sock(struct call *c)
{
    if (c->sock >= 0)
        return c->sock;
    if (c->p->pidfd < 0)
        return -1;
    c->sock = (int)syscall(SYS_pidfd_getfd, c->p->pidfd, (int)c->n->data.args[0], 0);
    return c->sock;
}

static bool is_tcp(int fd)
{
    int proto = sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL);
    return (proto == IPPROTO_TCP || proto == IPPROTO_MPTCP) &&
           sockopt_int(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM;
}

/* The program's sockaddr argument (args[1], length args[2]): 0, or -1 when
 * it is none the namespace reads (the kernel answers: EFAULT, EINVAL). */
static int read_addr(struct call *c, struct sockaddr_storage *ss, socklen_t *len)
{
    uint64_t ptr = c->n->data.args[1];
    uint64_t l = c->n->data.args[2] & 0xffffffffu;
    if (!ptr || l > sizeof *ss || l < sizeof(sa_family_t))
        return -1;
    memset(ss, 0, sizeof *ss);
    if (mem_read(c->tid, ss, ptr, (size_t)l) < 0)
        return -1;
    *len = (socklen_t)l;
    return 0;
}

static void who_is(struct call *c, long euid)
{
    struct ps_supervisor *s = c->s;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", c->p->tgid);
    if (read_small(path, s->who_prog, sizeof s->who_prog) < 0)
        s->who_prog[0] = 0;
    s->who_prog[strcspn(s->who_prog, "\n")] = 0;
    s->who.pid = c->p->tgid;
    s->who.prog = s->who_prog;
    s->who.uid = euid;
}

static void record(struct ps_supervisor *s, struct ps_event *e, bool track)
{
    if (track)
        next_sid(s, e->sid);
    emit(s, e);
}

/* The holder of a virtual port, into the failed bind's record, and one
 * line on stderr, as the library says it (preload/faults.c). */
static void name_holder(struct ps_supervisor *s, struct ps_event *e, const struct ps_entry *h)
{
    struct ps_holder ho;
    memset(&ho, 0, sizeof ho);
    ho.uid = h->uid;
    int pid = 0;
    for (int i = 0; i < h->holders.n && !pid; i++)
        if (ps_probe_pid_alive(h->holders.v[i]))
            pid = h->holders.v[i];
    snprintf(e->note, sizeof e->note, "virtual port %d is held by pid %d (%s), sid %s", e->port,
             h->pid, h->prog, h->sid);
    char a[PS_ADDRSTRLEN], who[256];
    ps_addr_format(&e->addr, a);
    if (!pid || ps_holder_describe("/proc", pid, &ho)) {
        cli_log(PS_LOG_WARN, "bind %s:%d in pid %d (%s): EADDRINUSE, holder not found", a,
                e->port, e->pid, e->prog);
        return;
    }
    if (h->ts_bind > 0)
        ho.since = h->ts_bind;
    e->hpid = ho.pid;
    snprintf(e->hcmd, sizeof e->hcmd, "%s", ho.cmd);
    e->huid = ho.uid;
    snprintf(e->huser, sizeof e->huser, "%s", ho.user);
    e->hsince = ho.since;
    ps_holder_format(&ho, who, sizeof who);
    cli_log(PS_LOG_WARN, "bind %s:%d in pid %d (%s): EADDRINUSE in this namespace, held by %s",
            a, e->port, e->pid, e->prog, who);
}

static int real_port(int fd, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    if (sys_getsockname(fd, &ss, &l) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, port) < 0)
        return -1;
    return 0;
}

static void note_inode(int fd, struct ps_event *e)
{
    struct stat st;
    if (fstat(fd, &st) == 0)
        e->ino = (unsigned long long)st.st_ino;
}

/* Unix mode for a supervised program would replace its socket by an
 * AF_UNIX one (SECCOMP_IOCTL_NOTIF_ADDFD); not done yet: refused, loudly,
 * never a silent TCP socket outside the namespace. */
static enum verdict refuse_unix(struct call *c, const char *what, struct ps_event *e)
{
    struct ps_supervisor *s = c->s;
    static unsigned said;
    if (said++ < 10)
        cli_log(PS_LOG_ERROR, "%s of port %d in pid %d (%s): unix mode is not available to "
                "programs under the seccomp supervisor (static and Go programs); refused "
                "with EAFNOSUPPORT: use --mode remap", what, e->port, s->who.pid, s->who.prog);
    e->ok = false;
    e->err = EAFNOSUPPORT;
    snprintf(e->note, sizeof e->note, "unix mode: not for supervised programs");
    record(s, e, false);
    return answer(c, -EAFNOSUPPORT);
}

static enum verdict do_bind(struct call *c, long euid)
{
    struct ps_supervisor *s = c->s;
    struct sockaddr_storage ss;
    socklen_t len;
    struct ps_addr a;
    uint16_t port;
    if (read_addr(c, &ss, &len) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&ss, len, &a, &port) < 0)
        return V_CONTINUE;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    int fd = get_sock(c);
    if (fd < 0 || !is_tcp(fd))
        return V_CONTINUE;
    int dom = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
    /* The kernel's own answers before the port (another family, a short
     * length, a bound socket): its to give. */
    if (dom != ss.ss_family ||
        len < (dom == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
        return V_CONTINUE;
    who_is(c, euid);
    struct ps_event e;
    event_new(s, &e, PS_EV_BIND);
    e.fam = dom == AF_INET ? 4 : 6;
    if (e.fam == 6)
        e.v6only = sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    e.has_addr = true;
    e.addr = a;
    e.port = port;
    e.reuseaddr = sockopt_int(fd, SOL_SOCKET, SO_REUSEADDR);
    e.reuseport = sockopt_int(fd, SOL_SOCKET, SO_REUSEPORT);
    e.uid = ps_engine_uid(&s->who);
    e.proto = PS_PROTO_TCP;
    const char *mode;
    enum ps_bind_kind k = ps_engine_bind_kind(&s->cfg, port, &mode);
    snprintf(e.mode, sizeof e.mode, "%s", mode);
    int rc, err = 0;
    uint16_t r = 0;
    if (k == PS_BIND_RECORD) {
        rc = sys_bind(fd, &ss, len);
        err = rc ? errno : 0;
        e.ok = rc == 0;
        e.err = err;
        if (rc == 0 && real_port(fd, &r) == 0) {
            e.has_raddr = true;
            e.raddr = e.addr;
            e.rport = r;
        }
        record(s, &e, rc == 0 && s->cfg.mode == PS_MODE_OBSERVE);
        return answer(c, rc ? -err : 0);
    }
    if (k == PS_BIND_ANY) {
        rc = sys_bind(fd, &ss, len);
        err = rc ? errno : 0;
        if (rc == 0 && (real_port(fd, &r) < 0 || !r)) {
            rc = -1;
            err = EINVAL;
        }
        claim_begin(s);
        e.chosen = true;
        if (rc == 0 && !(e.port = ps_engine_bind_any(&s->sess, r))) {
            rc = -1;
            err = EADDRINUSE;
        }
        if (rc == 0) {
            e.has_raddr = true;
            e.raddr = e.addr;
            e.rport = r;
            note_inode(fd, &e);
        } else {
            e.ok = false;
            e.err = err;
        }
        record(s, &e, rc == 0);
        claim_end(s);
        return answer(c, rc ? -err : 0);
    }
    struct ps_bindreq req = {
        .proto = e.proto,
        .baddr = {.addr = e.addr, .v6only = e.v6only},
        .port = port,
        .reuseaddr = e.reuseaddr,
        .reuseport = e.reuseport,
        .uid = e.uid,
    };
    struct ps_bind_plan plan;
    claim_begin(s);
    ps_engine_bind_decide(&s->sess, fd, e.fam, &req, &plan);
    e.port = plan.vport;
    e.chosen = plan.chosen;
    enum verdict v = V_ANSWER;
    switch (plan.plan) {
    case PS_PLAN_KERNEL:
        v = V_CONTINUE;
        break;
    case PS_PLAN_REFUSE:
        e.ok = false;
        e.err = plan.err;
        if (plan.holder)
            name_holder(s, &e, plan.holder);
        record(s, &e, false);
        c->val = -plan.err;
        break;
    case PS_PLAN_UNIX_PATH:
        v = refuse_unix(c, "bind", &e);
        break;
    case PS_PLAN_REAL_PORT: {
        struct sockaddr_storage rs = ss;
        ps_sockaddr_set_port((struct sockaddr *)&rs, plan.rport);
        rc = sys_bind(fd, &rs, len);
        err = rc ? errno : 0;
        if (rc == 0 && real_port(fd, &r) < 0) {
            rc = -1;
            err = EINVAL;
        }
        if (rc == 0) {
            e.has_raddr = true;
            e.raddr = e.addr;
            e.rport = r;
            note_inode(fd, &e);
        } else {
            e.ok = false;
            e.err = err;
        }
        record(s, &e, rc == 0);
        c->val = rc ? -err : 0;
        if (rc == 0) {
            char ab[PS_ADDRSTRLEN];
            ps_log(PS_LOG_DEBUG, "bind %s:%u -> real port %u (pid %d, %s, seccomp)",
                   ps_addr_format(&e.addr, ab), port, (unsigned)r, e.pid, e.prog);
        }
        break;
    }
    }
    claim_end(s);
    return v;
}

/* The table entry of the socket fd (by its inode), bound by the namespace. */
static const struct ps_entry *entry_of(struct ps_supervisor *s, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL;
    for (size_t i = 0; i < s->ns.n; i++)
        if (s->ns.v[i].ino == (unsigned long long)st.st_ino)
            return &s->ns.v[i];
    return NULL;
}

static enum verdict do_listen(struct call *c, long euid)
{
    struct ps_supervisor *s = c->s;
    int fd = get_sock(c);
    if (fd < 0 || !is_tcp(fd))
        return V_CONTINUE;
    refresh(s);
    const struct ps_entry *en = entry_of(s, fd);
    if (s->cfg.mode != PS_MODE_OBSERVE && (!en || en->listening))
        return V_CONTINUE;
    who_is(c, euid);
    int rc = sys_listen(fd, (int)c->n->data.args[1]);
    int err = rc ? errno : 0;
    struct ps_event e;
    event_new(s, &e, PS_EV_LISTEN);
    e.ok = rc == 0;
    e.err = err;
    if (en) {
        memcpy(e.sid, en->sid, sizeof e.sid);
        emit(s, &e);
        return answer(c, rc ? -err : 0);
    }
    /* Observe mode: a listener the kernel bound itself gets an id too. */
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    uint16_t port;
    if (sys_getsockname(fd, &ss, &l) == 0 &&
        ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, &port) == 0) {
        e.fam = a.fam;
        e.has_addr = e.has_raddr = true;
        e.addr = e.raddr = a;
        e.port = e.rport = port;
        record(s, &e, rc == 0);
    }
    return answer(c, rc ? -err : 0);
}

static void connect_event(struct ps_supervisor *s, struct ps_event *e, const struct ps_addr *a,
                          uint16_t port, int rport, bool routed)
{
    event_new(s, e, PS_EV_CONNECT);
    e->fam = a->fam;
    e->has_addr = e->has_raddr = true;
    e->addr = e->raddr = *a;
    e->port = port;
    e->rport = rport;
    e->routed = routed;
}

static void connect_done(struct ps_supervisor *s, struct ps_event *e, int rc, int err)
{
    e->ok = rc == 0;
    e->err = rc ? err : 0;
    bool started = rc == 0 || err == EINPROGRESS;
    record(s, e, false);
    (void)started;
}

/* The connect itself, on the target's socket: at once for a non-blocking
 * socket (EINPROGRESS as the kernel says it); for a blocking one, made
 * non-blocking for the call and, when the kernel needs time, answered
 * when the socket becomes writable (pending), as long as TCP would try. */
static enum verdict connect_now(struct call *c, const struct sockaddr_storage *to, socklen_t len,
                                struct ps_event *e)
{
    struct ps_supervisor *s = c->s;
    int fd = c->sock;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK)) {
        int rc = sys_connect(fd, to, len);
        int err = rc ? errno : 0;
        connect_done(s, e, rc, err);
        return answer(c, rc ? -err : 0);
    }
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = sys_connect(fd, to, len);
    int err = rc ? errno : 0;
    if (rc == 0 || err != EINPROGRESS || s->np == MAX_PENDING) {
        fcntl(fd, F_SETFL, fl);
        if (rc < 0 && err == EINPROGRESS) {
            /* No room to wait here: the kernel's own wait, with the
             * original address... not possible any more; say so. */
            err = EAGAIN;
        }
        connect_done(s, e, rc, err);
        return answer(c, rc ? -err : 0);
    }
    struct pending *p = &s->pend[s->np];
    p->lfd = fcntl(c->lfd, F_DUPFD_CLOEXEC, 0);
    if (p->lfd < 0) {
        fcntl(fd, F_SETFL, fl);
        connect_done(s, e, -1, EAGAIN);
        return answer(c, -EAGAIN);
    }
    s->np++;
    p->id = c->n->id;
    p->sock = fd;
    c->sock = -1;   /* the pending connect keeps it */
    p->fl = fl;
    p->deadline_ms = now_ms() + 127 * 1000;
    p->ev = *e;
    return V_LATER;
}

static enum verdict do_connect(struct call *c, long euid)
{
    struct ps_supervisor *s = c->s;
    struct sockaddr_storage ss;
    socklen_t len;
    struct ps_addr a;
    uint16_t port;
    if (read_addr(c, &ss, &len) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&ss, len, &a, &port) < 0 || port == 0)
        return V_CONTINUE;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    enum ps_connect_kind k = ps_engine_connect_kind(&s->cfg, port);
    if (k == PS_CONNECT_PASS)
        return V_CONTINUE;
    int fd = get_sock(c);
    if (fd < 0 || !is_tcp(fd))
        return V_CONTINUE;
    int dom = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
    if (dom != ss.ss_family)
        return V_CONTINUE;
    /* A v4-mapped destination on a v6-only socket: the kernel's ENETUNREACH. */
    if (a.fam == 6 && ps_addr_is_v4(&a) && sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY))
        return V_CONTINUE;
    who_is(c, euid);
    struct ps_event e;
    if (k == PS_CONNECT_OBSERVE) {
        connect_event(s, &e, &a, port, port, false);
        return connect_now(c, &ss, len, &e);
    }
    struct ps_route r;
    refresh(s);
    ps_engine_connect_route(&s->sess, k, &a, port, &r);
    switch (r.kind) {
    case PS_ROUTE_PASS:
        return V_CONTINUE;
    case PS_ROUTE_REFUSE: {
        char ab[PS_ADDRSTRLEN];
        ps_log(PS_LOG_INFO, "connect %s:%u in pid %d: ECONNREFUSED: no listener for this "
               "strictly virtual port", ps_addr_format(&a, ab), port, s->who.pid);
        connect_event(s, &e, &a, port, -1, true);
        e.has_raddr = false;
        snprintf(e.note, sizeof e.note, "no listener in the namespace");
        connect_done(s, &e, -1, ECONNREFUSED);
        return answer(c, -ECONNREFUSED);
    }
    case PS_ROUTE_PATH:
        connect_event(s, &e, &a, port, -1, true);
        e.has_raddr = false;
        return refuse_unix(c, "connect", &e);
    case PS_ROUTE_PORT:
        break;
    }
    connect_event(s, &e, &a, port, r.rport, true);
    struct sockaddr_storage to = ss;
    ps_sockaddr_set_port((struct sockaddr *)&to, r.rport);
    return connect_now(c, &to, len, &e);
}

/* getsockname/getpeername: the kernel's answer, real ports of the
 * namespace's sockets named by their virtual numbers. */
static enum verdict do_name(struct call *c, bool peer)
{
    struct ps_supervisor *s = c->s;
    if (s->cfg.mode == PS_MODE_OBSERVE)
        return V_CONTINUE;
    uint64_t aptr = c->n->data.args[1], lptr = c->n->data.args[2];
    socklen_t want;
    if (!aptr || !lptr || mem_read(c->tid, &want, lptr, sizeof want) < 0 || (int)want < 0)
        return V_CONTINUE;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    int fd = get_sock(c);
    if (fd < 0)
        return V_CONTINUE;
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    int rc = peer ? sys_getpeername(fd, &ss, &l) : sys_getsockname(fd, &ss, &l);
    if (rc < 0)
        return answer(c, -errno);
    struct ps_addr a;
    uint16_t port;
    if (ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, &port) == 0 && port) {
        refresh(s);
        const struct ps_entry *en = ps_ns_by_real(&s->ns, &a, port, peer);
        if (en && op_alive(s, en))
            ps_sockaddr_set_port((struct sockaddr *)&ss, en->vport);
    }
    socklen_t n = want < l ? want : l;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    if ((n && mem_write(c->tid, aptr, &ss, n) < 0) || mem_write(c->tid, lptr, &l, sizeof l) < 0)
        return answer(c, -EFAULT);
    return answer(c, 0);
}

static void send_resp(struct ps_supervisor *s, int lfd, uint64_t id, enum verdict v, long long val)
{
    memset(s->resp, 0, s->resp_size);
    s->resp->id = id;
    if (v == V_CONTINUE) {
        s->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (val < 0) {
        s->resp->error = (int)val;
    } else {
        s->resp->val = val;
    }
    /* ENOENT: the target is gone (killed, or interrupted by a signal). */
    ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, s->resp);
}

static void handle(struct ps_supervisor *s, int lfd)
{
    memset(s->req, 0, s->req_size);
    if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, s->req) < 0)
        return;
    const struct seccomp_notif *n = s->req;
    uint64_t id = n->id;
    struct call c = {.s = s, .lfd = lfd, .n = n, .tid = (int)n->pid, .sock = -1};
    enum verdict v = V_CONTINUE;
    int tgid;
    long euid;
    /* The task's ids are read before anything else, and believed only if
     * the notification is still valid afterwards: its pid is then still
     * that task's. */
    if (task_ids(c.tid, &tgid, &euid) < 0 || !id_valid(lfd, id)) {
        v = V_DROP;
        goto out;
    }
    c.p = proc_get(s, tgid);
    if (c.p->preloaded)
        goto out;
    switch (n->data.nr) {
    case __NR_bind:
        v = do_bind(&c, euid);
        break;
    case __NR_listen:
        v = do_listen(&c, euid);
        break;
    case __NR_connect:
        v = do_connect(&c, euid);
        break;
    case __NR_getsockname:
        v = do_name(&c, false);
        break;
    case __NR_getpeername:
        v = do_name(&c, true);
        break;
    default:
        break;
    }
out:
    if (c.sock >= 0)
        close(c.sock);
    if (v == V_CONTINUE || v == V_ANSWER)
        send_resp(s, lfd, id, v, c.val);
}

/* A pending connect's socket is writable (or its time is up). */
static void finish_pending(struct ps_supervisor *s, int i, bool timed_out)
{
    struct pending *p = &s->pend[i];
    int err = 0;
    socklen_t l = sizeof err;
    if (timed_out)
        err = ETIMEDOUT;
    else if (sys_getsockopt(p->sock, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
        err = errno;
    fcntl(p->sock, F_SETFL, p->fl);
    s->who.pid = p->ev.pid;
    connect_done(s, &p->ev, err ? -1 : 0, err);
    send_resp(s, p->lfd, p->id, V_ANSWER, err ? -err : 0);
    close(p->sock);
    close(p->lfd);
    s->pend[i] = s->pend[--s->np];
}

/* ---- attaching ----------------------------------------------------------- */

static bool peer_trusted(int c)
{
    struct ucred cr;
    socklen_t l = sizeof cr;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0)
        return false;
    /* The run's own user, root, or the user it shares the namespace with. */
    return cr.uid == getuid() || cr.uid == 0 ||
           (long)cr.uid == (long)strtol(getenv("PORTSHIM_SHARE_UID") ? getenv("PORTSHIM_SHARE_UID")
                                                                       : "-1", NULL, 10);
}

static void take_listener(struct ps_supervisor *s)
{
    int c = accept4(s->lsock, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    struct timeval tv = {2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    char byte;
    struct iovec iov = {&byte, 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
    int fd = -1;
    struct cmsghdr *cm = n == 1 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    if (fd >= 0 && (!peer_trusted(c) || s->nl == MAX_LISTENERS)) {
        cli_log(PS_LOG_WARN, "supervisor: refused a process's listener (%s)",
                s->nl == MAX_LISTENERS ? "too many attached process trees" : "another user");
        close(fd);
        fd = -1;
    }
    if (fd >= 0) {
        s->listeners[s->nl++] = fd;
        byte = 'A';
        ssize_t w = write(c, &byte, 1);
        (void)w;
    }
    close(c);
}

static void *loop(void *arg)
{
    struct ps_supervisor *s = arg;
    struct pollfd pf[2 + MAX_LISTENERS + MAX_PENDING];
    for (;;) {
        int n = 0;
        pf[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = s->lsock, .events = POLLIN};
        for (int i = 0; i < s->nl; i++)
            pf[n++] = (struct pollfd){.fd = s->listeners[i], .events = POLLIN};
        for (int i = 0; i < s->np; i++)
            pf[n++] = (struct pollfd){.fd = s->pend[i].sock, .events = POLLOUT};
        long timeout = -1;
        long now = now_ms();
        for (int i = 0; i < s->np; i++) {
            long left = s->pend[i].deadline_ms - now;
            if (timeout < 0 || left < timeout)
                timeout = left < 0 ? 0 : left;
        }
        int r = poll(pf, (nfds_t)n, (int)(timeout > INT_MAX ? INT_MAX : timeout));
        if (r < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            break;
        if (pf[1].revents & POLLIN)
            take_listener(s);
        /* Pending connects first, from the end (finishing one moves the last). */
        now = now_ms();
        int nl = s->nl, np = s->np;
        for (int i = np - 1; i >= 0; i--) {
            short re = pf[2 + nl + i].revents;
            if (re || s->pend[i].deadline_ms <= now)
                finish_pending(s, i, !re);
        }
        for (int i = nl - 1; i >= 0; i--) {
            short re = pf[2 + i].revents;
            if (re & POLLIN) {
                handle(s, s->listeners[i]);
            } else if (re & (POLLHUP | POLLERR | POLLNVAL)) {
                /* Every process of that tree is gone. */
                close(s->listeners[i]);
                s->listeners[i] = s->listeners[--s->nl];
            }
        }
    }
    return NULL;
}

/* ---- start and stop -------------------------------------------------------- */

static const char *env_get(const char *name) { return getenv(name); }

static void sup_free(struct ps_supervisor *s)
{
    if (s->lsock >= 0)
        close(s->lsock);
    if (s->path[0])
        unlink(s->path);
    if (s->own_dir[0])
        rmdir(s->own_dir);
    for (int i = 0; i < s->nl; i++)
        close(s->listeners[i]);
    for (int i = 0; i < s->np; i++) {
        close(s->pend[i].sock);
        close(s->pend[i].lfd);
    }
    for (int i = 0; i < MAX_PROCS; i++)
        if (s->procs[i].pidfd >= 0)
            close(s->procs[i].pidfd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    if (s->mfd >= 0)
        close(s->mfd);
    ps_reader_free(&s->rd);
    ps_ns_free(&s->ns);
    free(s->req);
    free(s->resp);
    free(s);
}

struct ps_supervisor *ps_supervise_start(const char *dir, bool dir_private)
{
    const char *why = ps_seccomp_unavailable();
    if (why) {
        cli_log(PS_LOG_DEBUG, "no seccomp supervisor: %s", why);
        return NULL;
    }
    struct ps_supervisor *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->lsock = s->mfd = s->wake[0] = s->wake[1] = -1;
    for (int i = 0; i < MAX_PROCS; i++)
        s->procs[i].pidfd = -1;
    ps_ns_init(&s->ns);
    char err[PS_PATH_MAX + 200];
    if (ps_config_load(&s->cfg, env_get, err, sizeof err)) {
        cli_log(PS_LOG_ERROR, "supervisor: %s", err);
        goto fail;
    }
    struct seccomp_notif_sizes sz;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
        goto fail;
    s->req_size = sz.seccomp_notif > sizeof *s->req ? sz.seccomp_notif : sizeof *s->req;
    s->resp_size = sz.seccomp_notif_resp > sizeof *s->resp ? sz.seccomp_notif_resp
                                                           : sizeof *s->resp;
    s->req = calloc(1, s->req_size);
    s->resp = calloc(1, s->resp_size);
    if (!s->req || !s->resp)
        goto fail;
    s->mfd = open(s->cfg.manifest, O_RDWR | O_APPEND | O_CLOEXEC);
    if (s->mfd < 0) {
        cli_log(PS_LOG_ERROR, "supervisor: cannot open manifest %s: %s", s->cfg.manifest,
                strerror(errno));
        goto fail;
    }
    ps_reader_init(&s->rd, s->mfd);
    s->rd.skip = PS_EV_BIT(PS_EV_CONNECT) | PS_EV_BIT(PS_EV_ACCEPT) | PS_EV_BIT(PS_EV_START) |
                 PS_EV_BIT(PS_EV_CONNS);
    s->sess.cfg = &s->cfg;
    s->sess.table = &s->ns;
    s->sess.ops = &sup_ops;
    s->sess.ctx = s;
    s->sess.proc = &s->who;
    s->who.uid = -1;
    /* The socket: in the run's own private directory when the name fits,
     * else in a private directory of its own. */
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    if (!dir_private || (size_t)snprintf(s->path, sizeof s->path, "%s/" SUP_SOCK_NAME, dir) >=
                            sizeof su.sun_path) {
        const char *tmp = getenv("TMPDIR");
        snprintf(s->own_dir, sizeof s->own_dir, "%s/portshim-sup.XXXXXX",
                 tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp");
        if (!mkdtemp(s->own_dir)) {
            cli_log(PS_LOG_ERROR, "supervisor: cannot make a directory for its socket: %s",
                    strerror(errno));
            s->own_dir[0] = 0;
            s->path[0] = 0;
            goto fail;
        }
        snprintf(s->path, sizeof s->path, "%s/" SUP_SOCK_NAME, s->own_dir);
    }
    memcpy(su.sun_path, s->path, strlen(s->path) + 1);
    s->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lsock < 0 || bind(s->lsock, (struct sockaddr *)&su, sizeof su) < 0 ||
        listen(s->lsock, 128) < 0) {
        cli_log(PS_LOG_ERROR, "supervisor: cannot listen on %s: %s", s->path, strerror(errno));
        if (s->lsock >= 0 && errno == EADDRINUSE)
            s->path[0] = 0;   /* not ours to remove */
        goto fail;
    }
    if (pipe2(s->wake, O_CLOEXEC) < 0 || setenv(PS_SUPERVISOR_ENV, s->path, 1) < 0)
        goto fail;
    if (pthread_create(&s->th, NULL, loop, s)) {
        unsetenv(PS_SUPERVISOR_ENV);
        goto fail;
    }
    s->started = true;
    return s;
fail:
    sup_free(s);
    return NULL;
}

void ps_supervise_stop(struct ps_supervisor *s)
{
    if (!s)
        return;
    if (s->started) {
        ssize_t w = write(s->wake[1], "x", 1);
        (void)w;
        pthread_join(s->th, NULL);
    }
    sup_free(s);
}
