/* The supervisor's state (supervise.h). */
#ifndef SPLICED_SUPERVISE_T_H
#define SPLICED_SUPERVISE_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SUPERVISE_WINDOW_MS 60000    /* crashes counted over this long */
#define SUPERVISE_CRASH_MAX 8        /* one more within the window: the supervisor gives up */
#define SUPERVISE_BACKOFF_MIN_MS 100 /* the second crash in the window waits this long, */
#define SUPERVISE_BACKOFF_MAX_MS 5000 /* doubling each time up to this; the first: none */
#define SUPERVISE_REOPEN_MS 1000     /* SIGUSR1: the error log reopened this long after */

/* When the last crashes happened (milliseconds, CLOCK_MONOTONIC): a ring of the most
 * recent SUPERVISE_CRASH_MAX + 1. */
struct supervise_crashes {
	uint64_t at_ms[SUPERVISE_CRASH_MAX + 1];
	unsigned n;                  /* crashes noted since start */
};

struct supervise {
	pid_t self;                  /* the supervisor: the PidFile's and systemd's MainPID */
	pid_t child;                 /* the serving process now, 0: none (back-off) */
	pid_t helper;                /* the privileged helper, 0: none or it ended */
	unsigned started;            /* serving processes started; in a child, its number */
	unsigned reloads;            /* SIGHUPs passed on since start */
	bool stopping;               /* SIGTERM or SIGINT came */
	int ready[2];                /* a serving process writes one byte once it serves */
	struct supervise_crashes crashes;
};

#endif
