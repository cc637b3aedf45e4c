/* porthog — the rest of a busy CI machine: keeps taking ephemeral ports.
 *
 *   porthog [--hold N] [--seconds S]
 *
 * Holds up to N sockets bound to kernel-chosen ports on 127.0.0.1 and keeps
 * cycling them (close the oldest, bind a new one), so a port freed by
 * someone else is soon taken again. Prints "HOGGING <n>" once N are held;
 * runs for S seconds (default 20) or until killed. */
#include "common.h"

int main(int argc, char **argv)
{
    int hold = 180, seconds = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--hold") && i + 1 < argc)
            hold = parse_int(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = parse_int(argv[++i]);
        else
            die("unknown option '%s'", argv[i]);
    }
    lifetime((unsigned)seconds + 5);

    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", 0, &ss, &sl);
    int *ring = calloc((size_t)hold, sizeof *ring);
    for (int i = 0; i < hold; i++)
        ring[i] = -1;
    int next = 0, held = 0, announced = 0;
    long until = now_ms() + seconds * 1000L;
    while (now_ms() < until) {
        for (int k = 0; k < 64; k++) {
            if (ring[next] >= 0) {
                close(ring[next]);
                ring[next] = -1;
                held--;
            }
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0)
                die("socket: %s", strerror(errno));
            if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
                close(fd); /* range full for a moment: fine */
            } else {
                ring[next] = fd;
                held++;
            }
            next = (next + 1) % hold;
        }
        if (!announced && held >= hold * 9 / 10) {
            say("HOGGING %d", held);
            announced = 1;
        }
    }
    return 0;
}
