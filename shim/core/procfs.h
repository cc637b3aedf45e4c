/* procfs.h — reading /proc's files: the one place that opens and parses
 * them for the library (probe.c, holder.c) and the command (leak.c). */
#ifndef PS_PROCFS_H
#define PS_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/* Up to len bytes of a small file, as they are (no terminator added):
 * the count, or -1 when it cannot be opened. */
ssize_t ps_proc_read(const char *path, char *buf, size_t len);
/* Up to len - 1 bytes, NUL-terminated: the count, or -1. */
ssize_t ps_proc_read_str(const char *path, char *buf, size_t len);
/* The whole file, NUL-terminated, in a malloc'd buffer; NULL on failure. */
char *ps_proc_read_all(const char *path);

/* A /proc/PID/stat line: its state (field 3, 'R', 'Z', ...) and its start
 * (field 22, clock ticks since boot). comm (field 2) may hold spaces and
 * parentheses: fields are counted from its last ')'. 0, or -1 when the
 * line is not one. */
int ps_proc_stat_parse(const char *stat, char *state, unsigned long long *start_ticks);

#endif
