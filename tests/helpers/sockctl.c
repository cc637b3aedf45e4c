/* sockctl — a socket program a test drives one call at a time.
 *
 * Reads commands on stdin, one per line, and answers each with one line:
 * "OK [result]" or "ERR <ENAME>". Sockets are named by their fd number.
 *
 *   tcp4 | tcp6 | udp4 | udp6      new socket            -> OK FD
 *   opt FD reuseaddr|reuseport|v6only VALUE
 *   bind FD ADDR PORT | connect FD ADDR PORT | listen FD | close FD
 *   name FD | peer FD              getsockname/getpeername -> OK ADDR PORT
 *   accept FD                      waits up to 10 s       -> OK NEWFD
 *   acceptfrom FD                  the same, with the address accept() itself
 *                                  returned                -> OK NEWFD ADDR PORT
 *   blockaccept FD                 a blocking accept that SIGUSR1 interrupts
 *                                  (its handler has no SA_RESTART) -> ERR EINTR
 *   sigrestart                     SIGUSR1 gets a handler with SA_RESTART: an
 *                                  interrupted call is restarted -> OK
 *   serve FD NAME                  a thread answers every connection on FD
 *                                  with the echo protocol (common.h)
 *   talk ADDR PORT MSG             one echo request        -> OK PEERPORT REPLY
 *   send FD TEXT | recv FD         one line out / in       -> OK [LINE]
 *   dup FD | dup2 FD NEW | dup3 FD NEW | fcntl FD   duplicate -> OK NEWFD
 *   sendto FD ADDR PORT TEXT [sendto|sendmsg|sendmmsg]
 *                                  one datagram (sendmmsg: TEXT-1 and TEXT-2
 *                                  in one call)            -> OK COUNT
 *   sendc FD TEXT                  send() on a connected socket -> OK
 *   recvfrom FD [recvfrom|recvmsg|recvmmsg]
 *                                  waits up to 10 s for datagrams (recvmmsg:
 *                                  every one queued)        -> OK ADDR PORT TEXT[|...]
 *   reply FD                       one datagram in (recvfrom), "ECHO:TEXT"
 *                                  back to its source (sendto) -> OK ADDR PORT TEXT
 *   reexec                         exec itself: the sockets stay open, the
 *                                  shim starts afresh (answers OK first)
 *   rawclose FD                    close(2) by syscall(2): unseen by the shim
 *   pid | exit N | kill            kill: SIGKILL itself, no chance to clean up
 *
 * The test sees every errno exactly as the program would, and decides the
 * order of calls across processes. EOF on stdin ends the program. */
#include "common.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static void on_usr1(int sig) { (void)sig; }

struct served {
    int fd;
    char name[64];
};

static void *serve_thread(void *arg)
{
    struct served *s = arg;
    while (serve_one(s->fd, s->name, -1) == 0)
        ;
    return NULL;
}

static int fdarg(const char *s)
{
    return s ? parse_int(s) : -1;
}

static void result(int rc)
{
    if (rc < 0)
        say("ERR %s", errname(errno));
    else
        say("OK");
}

/* "ADDR PORT TEXT" of a datagram from ss into out. */
static void dgram_text(const struct sockaddr_storage *ss, const char *text, size_t n, char *out,
                       size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
        port = ntohs(s4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
        port = ntohs(s6->sin6_port);
    }
    snprintf(out, len, "%s %d %.*s", a, port, (int)n, text);
}

static void udp_send(int fd, int argc, char **argv)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr(argv[2], parse_port(argv[3]), &ss, &sl);
    const char *api = argc > 5 ? argv[5] : "sendto";
    const char *text = argv[4];
    if (!strcmp(api, "sendto")) {
        ssize_t n = sendto(fd, text, strlen(text), 0, (struct sockaddr *)&ss, sl);
        n < 0 ? say("ERR %s", errname(errno)) : say("OK 1");
    } else if (!strcmp(api, "sendmsg")) {
        struct iovec iov = {(void *)text, strlen(text)};
        struct msghdr m = {.msg_name = &ss, .msg_namelen = sl, .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = sendmsg(fd, &m, 0);
        n < 0 ? say("ERR %s", errname(errno)) : say("OK 1");
    } else {
        char t[2][256];
        struct iovec iov[2];
        struct mmsghdr v[2];
        memset(v, 0, sizeof v);
        for (int i = 0; i < 2; i++) {
            snprintf(t[i], sizeof t[i], "%s-%d", text, i + 1);
            iov[i] = (struct iovec){t[i], strlen(t[i])};
            v[i].msg_hdr = (struct msghdr){.msg_name = &ss, .msg_namelen = sl,
                                           .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int n = sendmmsg(fd, v, 2, 0);
        n < 0 ? say("ERR %s", errname(errno)) : say("OK %d", n);
    }
}

static void udp_recv(int fd, const char *api, bool reply)
{
    int r = wait_readable(fd, 10000);
    if (r <= 0) {
        say("ERR %s", errname(r == 0 ? ETIMEDOUT : errno));
        return;
    }
    char out[2048] = "";
    char buf[8][512];
    struct sockaddr_storage ss[8];
    if (!strcmp(api, "recvmmsg")) {
        struct iovec iov[8];
        struct mmsghdr v[8];
        memset(v, 0, sizeof v);
        for (int i = 0; i < 8; i++) {
            iov[i] = (struct iovec){buf[i], sizeof buf[i]};
            v[i].msg_hdr = (struct msghdr){.msg_name = &ss[i], .msg_namelen = sizeof ss[i],
                                           .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(fd, v, 8, MSG_DONTWAIT, NULL);
        if (n < 0) {
            say("ERR %s", errname(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            char one[600];
            dgram_text(&ss[i], buf[i], v[i].msg_len, one, sizeof one);
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "|" : "", one);
        }
        say("OK %s", out);
        return;
    }
    ssize_t n;
    socklen_t sl = sizeof ss[0];
    if (!strcmp(api, "recvmsg")) {
        struct iovec iov = {buf[0], sizeof buf[0]};
        struct msghdr m = {.msg_name = &ss[0], .msg_namelen = sl, .msg_iov = &iov, .msg_iovlen = 1};
        n = recvmsg(fd, &m, 0);
        sl = m.msg_namelen;
    } else {
        n = recvfrom(fd, buf[0], sizeof buf[0], 0, (struct sockaddr *)&ss[0], &sl);
    }
    if (n < 0) {
        say("ERR %s", errname(errno));
        return;
    }
    dgram_text(&ss[0], buf[0], (size_t)n, out, sizeof out);
    if (reply) {
        char echo[600];
        int m = snprintf(echo, sizeof echo, "ECHO:%.*s", (int)n, buf[0]);
        if (sendto(fd, echo, (size_t)m, 0, (struct sockaddr *)&ss[0], sl) < 0) {
            say("ERR %s", errname(errno));
            return;
        }
    }
    say("OK %s", out);
}

static void command(char *line)
{
    char *argv[8] = {0};
    int argc = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t", &save); t && argc < 7; t = strtok_r(NULL, " \t", &save))
        argv[argc++] = t;
    /* words are split on blanks: messages for talk/send are one word */
    if (argc == 0)
        return;
    const char *cmd = argv[0];
    int fd = argc > 1 && strcmp(cmd, "talk") ? fdarg(argv[1]) : -1;
    struct sockaddr_storage ss;
    socklen_t sl;

    if (!strcmp(cmd, "tcp4") || !strcmp(cmd, "tcp6") || !strcmp(cmd, "udp4") ||
        !strcmp(cmd, "udp6")) {
        int s = socket(cmd[3] == '4' ? AF_INET : AF_INET6,
                       cmd[0] == 't' ? SOCK_STREAM : SOCK_DGRAM, 0);
        if (s < 0)
            say("ERR %s", errname(errno));
        else
            say("OK %d", s);
    } else if (!strcmp(cmd, "opt") && argc == 4) {
        int v = parse_int(argv[3]);
        int level = SOL_SOCKET, name;
        if (!strcmp(argv[2], "reuseaddr"))
            name = SO_REUSEADDR;
        else if (!strcmp(argv[2], "reuseport"))
            name = SO_REUSEPORT;
        else if (!strcmp(argv[2], "v6only"))
            level = IPPROTO_IPV6, name = IPV6_V6ONLY;
        else {
            say("ERR unknown-option");
            return;
        }
        result(setsockopt(fd, level, name, &v, sizeof v));
    } else if (!strcmp(cmd, "bind") && argc == 4) {
        parse_addr(argv[2], parse_port(argv[3]), &ss, &sl);
        result(bind(fd, (struct sockaddr *)&ss, sl));
    } else if (!strcmp(cmd, "connect") && argc == 4) {
        parse_addr(argv[2], parse_port(argv[3]), &ss, &sl);
        result(connect(fd, (struct sockaddr *)&ss, sl));
    } else if (!strcmp(cmd, "listen") && argc == 2) {
        result(listen(fd, 128));
    } else if (!strcmp(cmd, "close") && argc == 2) {
        result(close(fd));
    } else if ((!strcmp(cmd, "name") || !strcmp(cmd, "peer")) && argc == 2) {
        char addr[INET6_ADDRSTRLEN + 16];
        int port = sock_addr(fd, cmd[0] == 'p', addr, sizeof addr);
        if (port < 0)
            say("ERR %s", errname(errno));
        else
            say("OK %s %d", addr, port);
    } else if (!strcmp(cmd, "accept") && argc == 2) {
        int r = wait_readable(fd, 10000);
        if (r == 0)
            errno = ETIMEDOUT;
        int c = r > 0 ? accept(fd, NULL, NULL) : -1;
        if (c < 0)
            say("ERR %s", errname(errno));
        else
            say("OK %d", c);
    } else if (!strcmp(cmd, "acceptfrom") && argc == 2) {
        int r = wait_readable(fd, 10000);
        if (r == 0)
            errno = ETIMEDOUT;
        sl = sizeof ss;
        memset(&ss, 0, sizeof ss);
        int c = r > 0 ? accept(fd, (struct sockaddr *)&ss, &sl) : -1;
        char addr[INET6_ADDRSTRLEN] = "?";
        int port = -1;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
            port = ntohs(in6->sin6_port);
        } else {
            snprintf(addr, sizeof addr, "family-%d", ss.ss_family);
        }
        if (c < 0)
            say("ERR %s", errname(errno));
        else
            say("OK %d %s %d", c, addr, port);
    } else if (!strcmp(cmd, "blockaccept") && argc == 2) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR1, &sa, &old);
        int c = accept(fd, NULL, NULL);
        int e = errno;
        sigaction(SIGUSR1, &old, NULL);
        if (c < 0)
            say("ERR %s", errname(e));
        else
            say("OK %d", c);
    } else if (!strcmp(cmd, "sigrestart")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &sa, NULL);
        say("OK");
    } else if (!strcmp(cmd, "serve") && argc == 3) {
        struct served *s = calloc(1, sizeof *s);
        s->fd = fd;
        snprintf(s->name, sizeof s->name, "%s", argv[2]);
        pthread_t t;
        if (pthread_create(&t, NULL, serve_thread, s) != 0)
            die("pthread_create failed");
        pthread_detach(t);
        say("OK");
    } else if (!strcmp(cmd, "talk") && argc >= 3) {
        char reply[1200];
        int peer = -1;
        if (echo_request(argv[1], parse_port(argv[2]), argc > 3 ? argv[3] : "hello", reply,
                         sizeof reply, &peer) < 0)
            say("ERR %s", errname(errno));
        else
            say("OK %d %s", peer, reply);
    } else if (!strcmp(cmd, "send") && argc >= 2) {
        char text[1100];
        int n = snprintf(text, sizeof text, "%s\n", argc > 2 ? argv[2] : "");
        result(write_all(fd, text, (size_t)n));
    } else if (!strcmp(cmd, "recv") && argc == 2) {
        char in[1200];
        if (read_reply(fd, in, sizeof in, 10000, 1) < 0) {
            say("ERR %s", errname(errno ? errno : ETIMEDOUT));
        } else {
            chomp(in);
            say("OK %s", in);
        }
    } else if (!strcmp(cmd, "dup") && argc == 2) {
        int n = dup(fd);
        if (n < 0)
            say("ERR %s", errname(errno));
        else
            say("OK %d", n);
    } else if ((!strcmp(cmd, "dup2") || !strcmp(cmd, "dup3")) && argc == 3) {
        int want = parse_int(argv[2]);
        int n = cmd[3] == '2' ? dup2(fd, want) : dup3(fd, want, O_CLOEXEC);
        if (n < 0)
            say("ERR %s", errname(errno));
        else
            say("OK %d", n);
    } else if (!strcmp(cmd, "fcntl") && argc == 2) {
        int n = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (n < 0)
            say("ERR %s", errname(errno));
        else
            say("OK %d", n);
    } else if (!strcmp(cmd, "sendto") && argc >= 5) {
        udp_send(fd, argc, argv);
    } else if (!strcmp(cmd, "sendc") && argc == 3) {
        result(send(fd, argv[2], strlen(argv[2]), 0) < 0 ? -1 : 0);
    } else if (!strcmp(cmd, "recvfrom") && argc >= 2) {
        udp_recv(fd, argc > 2 ? argv[2] : "recvfrom", false);
    } else if (!strcmp(cmd, "reply") && argc == 2) {
        udp_recv(fd, "recvfrom", true);
    } else if (!strcmp(cmd, "reexec")) {
        say("OK");
        execl("/proc/self/exe", "sockctl", (char *)NULL);
        die("exec: %s", strerror(errno));
    } else if (!strcmp(cmd, "rawclose") && argc == 2) {
        result((int)syscall(SYS_close, fd));
    } else if (!strcmp(cmd, "pid")) {
        say("OK %d", (int)getpid());
    } else if (!strcmp(cmd, "exit")) {
        say("OK");
        exit(argc > 1 ? parse_int(argv[1]) : 0);
    } else if (!strcmp(cmd, "kill")) {
        say("OK");
        raise(SIGKILL);
    } else {
        say("ERR unknown-command");
    }
}

int main(void)
{
    lifetime(120);
    char line[2048];
    while (fgets(line, sizeof line, stdin)) {
        chomp(line);
        errno = 0;
        command(line);
    }
    return 0;
}
