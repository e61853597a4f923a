/* Types of the privileged helper and its messages (src/helper.c). Types only. */
#ifndef SPLICED_HELPER_T_H
#define SPLICED_HELPER_T_H

#include <stdint.h>

/* Every message, both ways, is one struct helper_msg in one SOCK_SEQPACKET datagram of
 * exactly sizeof(struct helper_msg) bytes. */
#define HELPER_MSG_MAGIC 0x484c5053u   /* "SPLH" */

enum helper_msg_type {
	/* serving process -> helper: `backend` indexes config.autostart; every other
	 * field but magic and type is zero */
	HMSG_START = 1,                /* start backend N unless it runs (or is in backoff) */
	HMSG_STATUS = 2,               /* report backend N's state */
	HMSG_STOP = 3,                 /* stop backend N (SIGTERM, then SIGKILL); not
					* restarted until the next HMSG_START */
	/* helper -> serving process: the answer to each request, and sent unasked to every
	 * conversation when a backend's state changes */
	HMSG_STATE = 0x81,
	/* helper -> serving process, once, on the last conversation only, before anything
	 * else: its set-up is done and its privileges are set and verified. `backend` and
	 * every field after it are zero. helper_spawn() waits for it. */
	HMSG_READY = 0x82,
};

enum helper_bstate {
	HB_STOPPED = 0,                /* not running, nothing scheduled */
	HB_RUNNING = 1,                /* the process runs (it may not listen yet) */
	HB_BACKOFF = 2,                /* it exited; the next start waits backoff_ms */
	HB_STOPPING = 3,               /* SIGTERM sent, waiting for the group to go */
};

struct helper_msg {
	uint32_t magic;                /* HELPER_MSG_MAGIC */
	uint16_t type;                 /* enum helper_msg_type */
	uint16_t backend;              /* index into config.autostart */
	uint32_t state;                /* HMSG_STATE: enum helper_bstate; else 0 */
	int32_t pid;                   /* HMSG_STATE: the running process, else 0 */
	uint32_t starts;               /* HMSG_STATE: processes started so far */
	uint32_t backoff_ms;           /* HMSG_STATE, HB_BACKOFF: time until the next start */
};

#endif
