/* real.h — the libc functions the shim wraps, resolved lazily with
 * dlsym(RTLD_NEXT) so the next definition (libc's, or another preloaded
 * library's) is the one called. The shim's own code calls these, never the
 * exported names. */
#ifndef PS_REAL_H
#define PS_REAL_H

#include <sys/socket.h>
#include <sys/types.h>

int real_bind(int fd, const struct sockaddr *addr, socklen_t len);
int real_listen(int fd, int backlog);
int real_connect(int fd, const struct sockaddr *addr, socklen_t len);
int real_accept(int fd, struct sockaddr *addr, socklen_t *len);
int real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int real_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
int real_getpeername(int fd, struct sockaddr *addr, socklen_t *len);
int real_close(int fd);
int real_close_range(unsigned first, unsigned last, int flags);
int real_dup(int fd);
int real_dup2(int fd, int fd2);
int real_dup3(int fd, int fd2, int flags);
int real_fcntl(int fd, int cmd, void *arg);
int real_fcntl64(int fd, int cmd, void *arg);
pid_t real_fork(void);
int real_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int real_setsockopt(int fd, int level, int name, const void *val, socklen_t len);

#endif
