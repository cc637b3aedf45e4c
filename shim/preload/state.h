/* state.h — the shim's per-process state and the operations every wrapper
 * shares: the re-entrancy guard, the namespace lock, reading the manifest
 * incrementally, and writing events.
 *
 * Locking: the process mutex (ps_lock; state.c keeps all its state in one
 * struct that says which lock guards each field) guards the namespace
 * table, the fd table's writers and the manifest descriptor; the
 * manifest's flock (held only inside
 * ps_claim_*) makes a read-check-bind-append sequence atomic across
 * processes. Neither is ever held across a call that can block on the
 * network (connect, accept). */
#ifndef PS_STATE_H
#define PS_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/fdtable.h"
#include "core/manifest.h"
#include "core/ns.h"

/* true: the caller is the outermost shim call on this thread and the shim
 * is active; it must call ps_leave(). false: call the real function. */
bool ps_enter(void);
void ps_leave(void);
/* The manifest is open: some socket call has been made in this process. */
bool ps_active(void);
const struct ps_config *ps_cfg(void);

void ps_lock(void);
void ps_unlock(void);
/* Under ps_lock: read what other processes appended; the table. */
void ps_refresh(void);
struct ps_ns *ps_table(void);
/* Under ps_lock: take/release the manifest's flock around a claim. */
void ps_claim_begin(void);
void ps_claim_end(void);

/* A new event with ts, pid and prog filled in: about this process (the
 * session's proc, ps_engine_event_new). */
void ps_event_new(struct ps_event *e, enum ps_ev ev);
/* Under ps_lock: append e as one whole line (one O_APPEND write). */
void ps_emit(const struct ps_event *e);
void ps_next_sid(char sid[PS_SID_MAX]);
/* The one way to record an event about socket fd. track: e gets a new sid
 * and fd becomes the socket it names (its last close will be recorded).
 * ps_record takes and releases ps_lock; ps_record_locked is for a caller
 * that holds it (a claim, or a record that updates more under one hold). */
void ps_record(int fd, struct ps_event *e, bool track);
void ps_record_locked(int fd, struct ps_event *e, bool track);

/* Under ps_lock. Cheap: some holder's pid exists (kill(pid, 0)). */
bool ps_entry_pid_alive(void *ctx, const struct ps_entry *e);
/* Under ps_lock. Thorough, for conflicts: a holder still has the socket
 * open, and a listener still listens (/proc; ps_probe_entry_live). */
bool ps_entry_still_held(const struct ps_entry *e);

/* Under ps_lock: the last descriptor of a bound socket is gone here. */
void ps_sock_gone(struct ps_sock *sk);
/* Under ps_lock: fd is the socket e->sid names (a bind of ours, or any
 * socket seen in observe mode); its last close will be recorded. */
void ps_track(int fd, const struct ps_event *e);
/* Under ps_lock: forget fd (a close or an implicit close by dup2); the
 * close of a socket whose last descriptor it was is recorded. */
void ps_fd_release(int fd);

/* The manifest descriptor must survive programs that close or dup2 over
 * every descriptor they did not open. */
bool ps_is_manifest_fd(int fd);
int ps_manifest_fd(void);   /* -1 when not open */
void ps_manifest_fd_lost(void);

/* In unix mode, unlinks path only if it is a socket file (lstat) directly
 * inside PORTSHIM_DIR: a path read from the manifest is never followed to
 * the filesystem. Other modes make no socket files and remove none. */
void ps_unlink_socket(const char *path);

/* The protocol of socket fd (MPTCP is TCP), one getsockopt; -1: not a
 * socket. Whether the namespace serves it is the engine's to say
 * (ps_engine_serves). */
int ps_sock_proto(int fd);

int ps_pid(void);
/* The process the events are about: this one (engine/engine.h). */
struct ps_proc;
const struct ps_proc *ps_proc(void);

/* Under ps_lock: this process's engine session (engine/engine.h), its
 * operations answered by this library (session.c). */
struct ps_session *ps_session(void);

/* In the parent, after fork() made child: the child holds every bound
 * socket too. Written by the parent, before fork() returns to it, so a
 * close that follows in the parent can never be read before it. */
void ps_forked(int child);

#endif
