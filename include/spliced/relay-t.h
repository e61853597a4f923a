/* Types of the splice relay and pipe pool (src/relay.c). Types only. */
#ifndef SPLICED_RELAY_T_H
#define SPLICED_RELAY_T_H

#include <stdbool.h>
#include <stdint.h>

/* Bodies whose remainder (or chunk payload) is at least this many bytes go through a pipe
 * with splice; smaller ones are copied through the connection's buffer. See README
 * ("Splice threshold") for the measurement behind the number. */
#ifndef RELAY_SPLICE_MIN
#define RELAY_SPLICE_MIN (16 * 1024)
#endif
/* Pipes are grown to this size: 256 KiB needs no privilege (pipe-max-size is 1 MiB);
 * 32 pipes per worker are 8 MiB, so up to 7 workers stay inside pipe-user-pages-soft
 * (64 MiB per user, shared with the user's other processes). Past it the kernel refuses
 * to grow a pipe and relay_pipe_get() keeps the default 64 KiB: slower, still correct. */
#define RELAY_PIPE_SIZE (256 * 1024)
#define RELAY_POOL_MAX 32

struct relay_pipe {
	int rfd;
	int wfd;
	uint32_t size;
};

/* Per-worker pool: a pipe per active transfer, never one that still holds data. */
struct relay_pool {
	struct relay_pipe *free[RELAY_POOL_MAX];
	unsigned nfree;
	unsigned live;        /* pipes that exist (free or lent) */
};

#define RELAY_UNTIL_EOF UINT64_MAX

/* One socket -> pipe -> socket transfer of an exact byte count (or until EOF). */
struct relay_splice {
	struct relay_pipe *pipe;
	int from;
	int to;
	uint64_t left;        /* bytes still to read from `from`, or RELAY_UNTIL_EOF */
	uint32_t in_pipe;     /* bytes read into the pipe, not yet written to `to` */
	uint64_t moved;       /* bytes written to `to` */
	int err;              /* errno of a failure */
};

enum relay_result {
	RELAY_DONE,           /* everything moved (or EOF reached with RELAY_UNTIL_EOF) */
	RELAY_WAIT_IN,        /* `from` has nothing now: wait for POLLIN */
	RELAY_WAIT_OUT,       /* `to` is full: wait for POLLOUT */
	RELAY_EOF,            /* `from` closed before `left` bytes came */
	RELAY_ERROR,          /* err says why */
};

#endif
