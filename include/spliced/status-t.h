/* Types of the status page (src/status.c). Types only. */
#ifndef SPLICED_STATUS_T_H
#define SPLICED_STATUS_T_H

#include <stdbool.h>
#include <stdint.h>

#define STATUS_SLOW_N 10           /* the slowest requests a worker remembers */
#define STATUS_SLOW_WINDOW_MS 60000 /* ... among those that ended in the last minute */

/* One slow request, copied at its end. Written by its worker only; seq is odd while it
 * is being written, so the page (another thread) skips an entry it caught mid-write. */
struct status_slow_entry {
	uint32_t seq;
	uint16_t status;
	uint64_t end_ms;           /* the worker's clock (CLOCK_MONOTONIC ms) */
	uint64_t ns;               /* how long it took */
	char method[16];           /* NUL-terminated, cut to fit */
	char host[64];
	char path[160];
	char backend[64];          /* "" when not proxied */
};

/* A worker's slowest recent requests (ExtendedStatus On). */
struct status_slow {
	struct status_slow_entry e[STATUS_SLOW_N];
};

/* What the query of a status request asks for (httpd's ?auto, ?refresh=N). */
struct status_req {
	bool autoform;             /* ?auto: httpd's machine-readable text */
	unsigned refresh;          /* ?refresh=N: seconds (1..3600), 0: none */
};

#endif
