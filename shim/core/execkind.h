/* execkind.h — what a program about to be executed is, to decide at exec
 * whether the preload library will see its socket calls (a dynamic program
 * that loads it) or a seccomp supervisor must (a static ELF, any Go binary:
 * Go's net package makes raw system calls even when linked dynamically). */
#ifndef PS_EXECKIND_H
#define PS_EXECKIND_H

#include <stdbool.h>
#include <stddef.h>

enum ps_exec_kind { PS_EXEC_UNKNOWN, PS_EXEC_DYNAMIC, PS_EXEC_STATIC, PS_EXEC_GO };

/* What the file at path is: an ELF with a Go build id note, or a
 * .go.buildinfo / .note.go.buildid section -> GO (dynamic or static); an
 * ELF without PT_INTERP -> STATIC; a dynamic ELF -> DYNAMIC; a script (#!)
 * -> its interpreter's kind (one level: an interpreter that is itself a
 * script is UNKNOWN); anything else (missing, unreadable, not a regular
 * file, not an ELF of this machine's byte order, cut or malformed) ->
 * UNKNOWN. No malloc; at most four preads of 4 KiB; never opens anything but
 * a regular file, so a FIFO or a device is never blocked on or disturbed.
 * A dynamic ELF with a GNU build id note (every distribution's program)
 * costs one pread: its section headers are read only when its notes show
 * neither a Go nor a GNU build id. */
enum ps_exec_kind ps_exec_kind_of(const char *path);
/* The preload library cannot see its socket calls: STATIC or GO. */
bool ps_exec_needs_supervisor(enum ps_exec_kind k);
/* "dynamic", "static", "Go", "unknown": for diagnostics. */
const char *ps_exec_kind_name(enum ps_exec_kind k);
/* PATH search as execvp would do, into buf; false when not found (or buf
 * too small). A file naming a slash is taken as it is, as execvp does; PATH
 * unset searches /bin:/usr/bin (glibc's default), an empty element is the
 * current directory. Only executable regular files are found. */
bool ps_exec_resolve(const char *file, char *buf, size_t n);

#endif
