/* udperr — the UDP send and receive calls, made wrongly and oddly, to
 * compare what the program sees with and without the shim.
 *
 *   udperr PORT1 PORT2
 *
 * A receiver bound to 127.0.0.1:PORT1 and a sender bound to
 * 127.0.0.1:PORT2 (both virtual under the shim; the test picks ports free
 * on the host for the bare run). Prints "CASE <name> <ENAME or OK>
 * [details]" for each case; a name the receiver gets is printed as its
 * length and whether its bytes are the sender's getsockname bytes (never
 * the number itself, which a bare run and a shimmed one share anyway).
 * Truncated names (a length shorter than the address), MSG_PEEK,
 * MSG_DONTWAIT, negative lengths and bad pointers ((void *)1, NULL, a
 * PROT_NONE page) must answer as the kernel does, including whether the
 * datagram was taken ("then" names the next non-blocking receive). */
#include "common.h"

#include <stdbool.h>
#include <sys/mman.h>
#include <sys/uio.h>

static int rx, tx;
static struct sockaddr_storage rx_name, tx_name;
static socklen_t rx_len, tx_len;

#define SA(x) ((struct sockaddr *)(x))
#define BAD ((void *)1)

static int call_errno;   /* errno right after the call a case reports */
#define CALL(x) (errno = 0, rc = (x), call_errno = errno)

static void report(const char *name, long rc, const char *extra)
{
    say("CASE %s %s%s%s", name, rc < 0 ? errname(call_errno) : "OK", extra ? " " : "",
        extra ? extra : "");
}

static void send_one(const char *text)
{
    if (sendto(tx, text, strlen(text), 0, SA(&rx_name), rx_len) < 0)
        die("sendto: %s", strerror(errno));
    if (wait_readable(rx, 10000) <= 0)
        die("the datagram '%s' did not arrive", text);
}

/* "len=N match=yes|no": n bytes of name against the sender's own name. */
static const char *name_says(const void *name, socklen_t len, socklen_t shown)
{
    static char out[64];
    size_t n = shown < len ? shown : len;
    bool match = n <= tx_len && memcmp(name, &tx_name, n) == 0;
    snprintf(out, sizeof out, "len=%u match=%s", (unsigned)len, match ? "yes" : "no");
    return out;
}

/* Whether a datagram is still queued: the next non-blocking receive. */
static const char *then(void)
{
    static char out[64];
    char b[64];
    ssize_t n = recv(rx, b, sizeof b, MSG_DONTWAIT);
    snprintf(out, sizeof out, "then=%s", n < 0 ? errname(errno) : "OK");
    return out;
}

static void recv_cases(void)
{
    char buf[64];
    struct sockaddr_storage ss;
    socklen_t l;
    long rc;
    char extra[160];

    send_one("a");
    l = 0;
    CALL(recvfrom(rx, buf, sizeof buf, 0, SA(&ss), &l));
    report("recvfrom_len_0", rc, name_says(&ss, l, 0));
    for (int shown = 1; shown <= 8; shown++) {
        send_one("b");
        memset(&ss, 0xAB, sizeof ss);
        l = (socklen_t)shown;
        CALL(recvfrom(rx, buf, sizeof buf, 0, SA(&ss), &l));
        char name[32];
        snprintf(name, sizeof name, "recvfrom_len_%d", shown);
        bool untouched = ((unsigned char *)&ss)[shown] == 0xAB;
        snprintf(extra, sizeof extra, "%s rest_untouched=%s", name_says(&ss, l, (socklen_t)shown),
                 untouched ? "yes" : "no");
        report(name, rc, extra);
    }
    send_one("c");
    l = sizeof ss;
    CALL(recvfrom(rx, buf, sizeof buf, MSG_PEEK, SA(&ss), &l));
    report("recvfrom_peek", rc, name_says(&ss, l, l));
    l = sizeof ss;
    CALL(recvfrom(rx, buf, sizeof buf, 0, SA(&ss), &l));
    report("recvfrom_after_peek", rc, name_says(&ss, l, l));
    l = sizeof ss;
    CALL(recvfrom(rx, buf, sizeof buf, MSG_DONTWAIT, SA(&ss), &l));
    report("recvfrom_dontwait_empty", rc, NULL);
    send_one("d");
    l = (socklen_t)-1;
    CALL(recvfrom(rx, buf, sizeof buf, 0, SA(&ss), &l));
    report("recvfrom_len_negative", rc, then());
    send_one("e");
    CALL(recvfrom(rx, buf, sizeof buf, 0, SA(&ss), NULL));
    report("recvfrom_len_null", rc, then());
    send_one("e2");
    CALL(recvfrom(rx, buf, sizeof buf, 0, NULL, &l));
    report("recvfrom_addr_null", rc, then());

    struct iovec iov = {buf, sizeof buf};
    struct msghdr m;
    send_one("f");
    m = (struct msghdr){.msg_name = &ss, .msg_namelen = 3, .msg_iov = &iov, .msg_iovlen = 1};
    CALL(recvmsg(rx, &m, 0));
    snprintf(extra, sizeof extra, "%s flags=%d", name_says(&ss, m.msg_namelen, 3), m.msg_flags);
    report("recvmsg_namelen_3", rc, extra);
    send_one("g");
    m = (struct msghdr){.msg_name = &ss, .msg_namelen = (socklen_t)-1, .msg_iov = &iov,
                        .msg_iovlen = 1};
    CALL(recvmsg(rx, &m, 0));
    report("recvmsg_namelen_negative", rc, then());
    send_one("hello");
    char small[2];
    struct iovec siov = {small, sizeof small};
    m = (struct msghdr){.msg_name = &ss, .msg_namelen = sizeof ss, .msg_iov = &siov,
                        .msg_iovlen = 1};
    CALL(recvmsg(rx, &m, 0));
    snprintf(extra, sizeof extra, "%s trunc=%s", name_says(&ss, m.msg_namelen, m.msg_namelen),
             m.msg_flags & MSG_TRUNC ? "yes" : "no");
    report("recvmsg_datagram_truncated", rc, extra);

    send_one("i");
    send_one("j");
    struct mmsghdr v[4];
    struct sockaddr_storage vs[4];
    char vb[4][16];
    struct iovec viov[4];
    memset(v, 0, sizeof v);
    for (int i = 0; i < 4; i++) {
        viov[i] = (struct iovec){vb[i], sizeof vb[i]};
        v[i].msg_hdr = (struct msghdr){.msg_name = &vs[i], .msg_namelen = i == 1 ? 5 : sizeof vs[i],
                                       .msg_iov = &viov[i], .msg_iovlen = 1};
    }
    CALL(recvmmsg(rx, v, 4, MSG_DONTWAIT, NULL));
    snprintf(extra, sizeof extra, "n=%ld [%s] ", rc, name_says(&vs[0], v[0].msg_hdr.msg_namelen,
                                                            v[0].msg_hdr.msg_namelen));
    snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "[%s] len0=%u",
             name_says(&vs[1], v[1].msg_hdr.msg_namelen, 5), v[0].msg_len);
    report("recvmmsg_two", rc, extra);

#if defined(__SANITIZE_ADDRESS__)
    say("CASE bad_pointers skipped_under_asan");
#else
    send_one("k");
    l = sizeof ss;
    CALL(recvfrom(rx, buf, sizeof buf, 0, BAD, &l));
    report("recvfrom_addr_bad", rc, then());
    send_one("l");
    CALL(recvfrom(rx, buf, sizeof buf, 0, SA(&ss), BAD));
    report("recvfrom_len_ptr_bad", rc, then());
    send_one("m");
    CALL(recvmsg(rx, BAD, 0));
    report("recvmsg_msghdr_bad", rc, then());
    send_one("n");
    m = (struct msghdr){.msg_name = BAD, .msg_namelen = sizeof ss, .msg_iov = &iov,
                        .msg_iovlen = 1};
    CALL(recvmsg(rx, &m, 0));
    report("recvmsg_name_bad", rc, then());
    send_one("o");
    CALL(recvmmsg(rx, BAD, 2, MSG_DONTWAIT, NULL));
    report("recvmmsg_vec_bad", rc, then());
#endif
}

static void send_cases(void)
{
    struct sockaddr_storage big[8];
    memset(big, 0, sizeof big);
    memcpy(big, &rx_name, rx_len);
    long rc;
    char b[8];
    CALL(sendto(tx, "x", 1, 0, SA(&rx_name), 15));
    report("sendto_len_15", rc, NULL);
    CALL(sendto(tx, "x", 1, 0, SA(big), 1000));
    report("sendto_len_1000", rc, NULL);
    CALL(sendto(tx, "x", 1, 0, SA(big), 129));
    report("sendto_len_129", rc, NULL);
    struct sockaddr_in z;
    memcpy(&z, &rx_name, sizeof z);
    z.sin_port = 0;
    CALL(sendto(tx, "x", 1, 0, SA(&z), sizeof z));
    report("sendto_port_0", rc, NULL);
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = ((struct sockaddr_in *)&rx_name)->sin_port;
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    CALL(sendto(tx, "x", 1, 0, SA(&s6), sizeof s6));
    report("sendto_v6_on_v4_socket", rc, NULL);
    int v6 = socket(AF_INET6, SOCK_DGRAM, 0), one = 1;
    setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    CALL(sendto(v6, "x", 1, 0, SA(&s6), sizeof s6));
    report("sendto_v4_mapped_on_v6only", rc, NULL);
    close(v6);
    struct sockaddr_in u;
    memcpy(&u, &rx_name, sizeof u);
    u.sin_family = AF_UNSPEC;
    CALL(sendto(tx, "x", 1, 0, SA(&u), sizeof u));
    report("sendto_unspec", rc, then());

    /* sendmsg clamps a long name to a sockaddr_storage and sends */
    struct iovec iov = {"y", 1};
    struct msghdr m = {.msg_name = big, .msg_namelen = 200, .msg_iov = &iov, .msg_iovlen = 1};
    CALL(sendmsg(tx, &m, 0));
    if (rc >= 0 && wait_readable(rx, 10000) <= 0)
        die("sendmsg_namelen_200's datagram did not arrive");
    report("sendmsg_namelen_200", rc, rc >= 0 ? then() : NULL);
    m.msg_namelen = 15;
    CALL(sendmsg(tx, &m, 0));
    report("sendmsg_namelen_15", rc, NULL);
    (void)b;
#if defined(__SANITIZE_ADDRESS__)
    say("CASE bad_send_pointers skipped_under_asan");
#else
    CALL(sendto(tx, "x", 1, 0, BAD, sizeof(struct sockaddr_in)));
    report("sendto_addr_bad", rc, NULL);
    CALL(sendto(tx, BAD, 10, 0, SA(&rx_name), rx_len));
    report("sendto_buf_bad", rc, NULL);
    CALL(sendmsg(tx, BAD, 0));
    report("sendmsg_msghdr_bad", rc, NULL);
    m = (struct msghdr){.msg_name = BAD, .msg_namelen = rx_len, .msg_iov = &iov, .msg_iovlen = 1};
    CALL(sendmsg(tx, &m, 0));
    report("sendmsg_name_bad", rc, NULL);
    CALL(sendmmsg(tx, BAD, 2, 0));
    report("sendmmsg_vec_bad", rc, NULL);
    /* a vector whose second entry lies on a page nobody may read: the
     * kernel sends the first and says 1 */
    char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || mprotect(pages + 4096, 4096, PROT_NONE) < 0)
        die("mmap: %s", strerror(errno));
    struct mmsghdr *vec = (struct mmsghdr *)(pages + 4096 - sizeof *vec);
    memset(vec, 0, sizeof *vec);
    vec->msg_hdr = (struct msghdr){.msg_name = &rx_name, .msg_namelen = rx_len, .msg_iov = &iov,
                                   .msg_iovlen = 1};
    CALL(sendmmsg(tx, vec, 2, 0));
    if (rc > 0 && wait_readable(rx, 10000) <= 0)
        die("sendmmsg_second_entry_unreadable's datagram did not arrive");
    char extra[64];
    snprintf(extra, sizeof extra, "n=%ld len=%u %s", rc, vec->msg_len, then());
    report("sendmmsg_second_entry_unreadable", rc, extra);
#endif
}

int main(int argc, char **argv)
{
    if (argc != 3)
        die("usage: udperr PORT1 PORT2");
    lifetime(30);
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", parse_port(argv[1]), &ss, &sl);
    rx = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(rx, SA(&ss), sl) < 0)
        die("bind %s: %s", argv[1], strerror(errno));
    parse_addr("127.0.0.1", parse_port(argv[2]), &ss, &sl);
    tx = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(tx, SA(&ss), sl) < 0)
        die("bind %s: %s", argv[2], strerror(errno));
    rx_len = sizeof rx_name;
    tx_len = sizeof tx_name;
    if (getsockname(rx, SA(&rx_name), &rx_len) < 0 || getsockname(tx, SA(&tx_name), &tx_len) < 0)
        die("getsockname: %s", strerror(errno));
    recv_cases();
    send_cases();
    /* a connected socket's peer is the receiver's own name */
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage p;
    socklen_t pl = sizeof p;
    long rc;
    CALL(connect(c, SA(&rx_name), rx_len));
    if (rc == 0)
        rc = getpeername(c, SA(&p), &pl);
    report("connected_peer", rc,
           rc == 0 && pl == rx_len && !memcmp(&p, &rx_name, pl) ? "match=yes" : "match=no");
    return 0;
}
