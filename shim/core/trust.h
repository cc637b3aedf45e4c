/* trust.h — may this process trust a namespace file or directory?
 *
 * A namespace's manifest decides where connects go and which socket files
 * get removed, so a file another user can write is a way in. One rule,
 * shared by the library (PORTSHIM_MANIFEST, PORTSHIM_DIR) and the command
 * (run --manifest, port, report): it judges a struct stat taken from the
 * opened descriptor (fstat) or from lstat, never from a stat that follows
 * a link, so what is judged is what is used. */
#ifndef PS_TRUST_H
#define PS_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Who may own or write a namespace besides the caller. */
struct ps_trust {
    uid_t euid;          /* the caller */
    long share_uid;      /* PORTSHIM_SHARE_UID: files may be owned by it too; -1 none */
    long share_gid;      /* PORTSHIM_SHARE_GID: files may be group-writable by it; -1 none */
};

enum ps_trust_verdict {
    PS_TRUST_OK,
    PS_TRUST_TYPE,       /* not a regular file (or not a directory), or a symbolic link */
    PS_TRUST_OWNER,      /* owned by someone other than the caller, root or the shared uid */
    PS_TRUST_MODE,       /* writable by others, or by a group that is not the shared one */
};

/* Judges st as a manifest (dir false: a regular file) or a namespace
 * directory (dir true). Root-owned is trusted: root can already rewrite
 * whatever the caller runs, so it gains nothing. On anything but
 * PS_TRUST_OK, why holds the reason, e.g. "is writable by others (mode
 * 0666)", to follow the path in a one-line message. */
enum ps_trust_verdict ps_trust_check(const struct stat *st, bool dir, const struct ps_trust *t,
                                     char *why, size_t len);

/* Opens path with flags | O_NOFOLLOW | O_NONBLOCK (so a FIFO cannot block
 * the open; cleared again once the file is known to be regular), fstats
 * the descriptor and judges it as a manifest. Returns the descriptor, or
 * -1 with why set (a symbolic link, or the open's error, is a reason too)
 * and *verdict saying which check failed (PS_TRUST_OK: the open failed,
 * errno kept). follow: a reader's open, which may follow a symbolic link
 * (the file it reaches is judged). */
int ps_trust_open(const char *path, int flags, bool follow, const struct ps_trust *t,
                  enum ps_trust_verdict *verdict, char *why, size_t len);

/* path names an entry directly inside dir ("DIR/NAME", NAME without '/',
 * not "." or ".."): the only paths from a manifest the shim may unlink or
 * route to. An empty dir contains nothing. */
bool ps_path_in_dir(const char *path, const char *dir);

/* Gives the namespace file or directory open on fd to the shared group
 * (mode 0660/0770) or, failing that, the shared user (0600/0700): what
 * `run --share-with` does to the namespace, and the library to a worker's
 * sub-namespace (docs/design.md). Nothing to do without a share: 0.
 * -1 with errno when fchown or fchmod fails. */
int ps_trust_give(int fd, bool dir, const struct ps_trust *t);

/* "1001" as a uid or gid for PORTSHIM_SHARE_*: decimal, 0..4294967294. */
int ps_trust_id_parse(const char *s, long *id);

#endif
