/* Types of the serving side of backend autostart (src/autostart.c). Types only. */
#ifndef SPLICED_AUTOSTART_T_H
#define SPLICED_AUTOSTART_T_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/time_types.h>

/* The requests of one worker that wait for one ProxyAutostart backend to listen: a FIFO
 * of connection slots linked through conn.wait_prev/wait_next, and the retry schedule. */
#define AS_NONE UINT32_MAX
#define AS_RETRY_FIRST_MS 5        /* first retry of the connection after a start request */
#define AS_RETRY_MAX_MS 250        /* the retry delay doubles up to this */

struct as_queue {
	uint32_t head, tail;       /* AS_NONE when empty */
	unsigned n;
	bool asked;                /* HMSG_START sent for the requests waiting now */
	bool timer_armed;
	bool probing;              /* the first waiter is trying to connect */
	bool released;             /* the backend listens: every waiter may connect now */
	unsigned delay_ms;         /* the next retry's delay */
	struct __kernel_timespec ts; /* the retry timer's (read by the kernel at submit) */
	uint32_t hstate;           /* the helper's last word: enum helper_bstate */
	uint32_t hbackoff_ms;      /* ... and its backoff when HB_BACKOFF */
	int32_t hpid;              /* ... the process running, 0: none */
	uint32_t hstarts;          /* ... processes started so far */
	uint32_t hlast_exit;       /* ... how the last one ended (helper_msg.last_exit) */
	uint64_t hsince_ms;        /* the worker's clock when hpid last changed */
	uint64_t hbackoff_at_ms;   /* ... when hbackoff_ms was said */
};

#endif
