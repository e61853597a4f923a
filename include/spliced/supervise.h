/* The supervisor: what the process that starts spliced becomes once the privileged set-up
 * is done (listeners bound, logs and roots opened, helper forked) and before privileges are
 * dropped. It forks the serving process, which drops them and serves; the supervisor keeps
 * its own copies of everything that process inherited (the listening sockets, so that the
 * kernel queues connections while no serving process runs; the helper's conversations,
 * so that the helper keeps the backends running; the log descriptors), reads no network
 * data and parses nothing. When the serving process is killed by a signal or exits with
 * a non-zero status without being asked to stop, the supervisor forks a new one from its
 * own, unchanged state: at once after the first crash within SUPERVISE_WINDOW_MS, then
 * after SUPERVISE_BACKOFF_MIN_MS doubling up to SUPERVISE_BACKOFF_MAX_MS; after more than
 * SUPERVISE_CRASH_MAX crashes within the window it gives up (the service manager then
 * decides). SIGHUP, SIGUSR1, SIGTERM and SIGINT are passed on to the serving process;
 * SUPERVISE_REOPEN_MS after a SIGUSR1 the supervisor reopens its own error log
 * descriptor (log_reopen_present(): it never creates the file). The supervisor is not
 * dumpable (PR_SET_DUMPABLE 0): a serving process with its uid (a start by a user) cannot
 * ptrace it; the serving processes are dumpable as before. */
#ifndef SPLICED_SUPERVISE_H
#define SPLICED_SUPERVISE_H

#include <signal.h>

#include "spliced/supervise-t.h"

/* Notes a crash at now_ms; returns how many crashes c holds within SUPERVISE_WINDOW_MS
 * before now_ms, this one included (at most SUPERVISE_CRASH_MAX + 1). Pure. */
unsigned supervise_crash_note(struct supervise_crashes *c, uint64_t now_ms);

/* The delay before the next serving process after the n-th crash within the window: 0 for
 * the first, SUPERVISE_BACKOFF_MIN_MS for the second, doubling, at most
 * SUPERVISE_BACKOFF_MAX_MS. Pure. */
unsigned supervise_backoff_ms(unsigned n);

/* Becomes the supervisor. fwd is the set of signals the caller blocked (SIGHUP, SIGUSR1,
 * SIGTERM, SIGINT); the process must be single-threaded. sv->helper is the helper's pid
 * or 0; sv is otherwise initialised here.
 * Returns 0 in a serving process (a child: its signal mask is fwd again, sv->started is its
 * number, 1 for the first, and sv->reloads says whether the configuration was reloaded
 * since start), 1 in the supervisor once it is done: *code is the exit code (the serving
 * process's at a stop; its status when the first one failed before it served; 1 after too
 * many crashes), the caller then stops the helper (sv->helper, 0 when it ended: reaped
 * here). -errno when the first serving process could not be forked (nothing runs then). */
int supervise_run(struct supervise *sv, const sigset_t *fwd, int *code);

/* In a serving process, once it serves: tells the supervisor (a crash after this is
 * restarted, a failure before this ends the first start). */
void supervise_ready(struct supervise *sv);

/* In a serving process, after its privilege drop (which clears it): it is SIGKILLed when
 * the supervisor ends, so that no serving process outlives it. 0, or -ESRCH when the
 * supervisor is already gone. */
int supervise_bind_to_parent(const struct supervise *sv);

#endif
