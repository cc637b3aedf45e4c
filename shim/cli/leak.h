/* leak.h — listeners left open when a run's command exits (leak.c). */
#ifndef PS_CLI_LEAK_H
#define PS_CLI_LEAK_H

#include <stdbool.h>

/* Reads the manifest, prints one "leaked listener ..." line on stderr per
 * listener bound since this process's start event that a live process of
 * the namespace still holds, and with reap ends those processes (SIGTERM,
 * then SIGKILL after 2 s). With root (a --per-worker run's private
 * directory), the same in every worker's sub-namespace under it. Returns
 * the number of leaked listeners. */
int leak_check(const char *manifest, const char *root, bool reap);

#endif
