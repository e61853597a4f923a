/* Types of the privileged helper and its messages (src/helper.c). Types only. */
#ifndef SPLICED_HELPER_T_H
#define SPLICED_HELPER_T_H

#include <stdint.h>

#include "spliced/config-t.h"
#include "spliced/tls-t.h"

/* Every message, both ways, is one struct helper_msg in one SOCK_SEQPACKET datagram of
 * exactly sizeof(struct helper_msg) bytes. */
#define HELPER_MSG_MAGIC 0x484c5053u   /* "SPLH" */

/* Backends are named by a slot, a stable identity the helper gives each ProxyAutostart
 * process definition. At start-up slot i is config.autostart[i]; a reload (HMSG_RELOAD)
 * maps the new config.autostart onto slots (HMSG_MAPPED). An entry that did not change
 * keeps its slot; a removed one's slot is retired once its process group is gone, and
 * may be given to another entry by a later reload. Twice CFG_MAX_AUTOSTART: a whole new
 * set of lines fits while the old set is still stopping. */
#define HELPER_MAX_SLOTS (2 * CFG_MAX_AUTOSTART)

/* HMSG_BIND names a Listen line by its index, or MetricsListen by this one. */
#define HELPER_LISTEN_METRICS CFG_MAX_LISTEN
/* Sockets one HMSG_BIND may ask for (Workers is at most 256), and one HMSG_BOUND
 * carries (below the kernel's SCM_MAX_FD, 253). */
#define HELPER_BIND_MAX 256
#define HELPER_BOUND_MAX 128

enum helper_msg_type {
	/* serving process -> helper: `backend` is a slot; every other field but magic and
	 * type is zero */
	HMSG_START = 1,                /* start backend N unless it runs (or is in backoff) */
	HMSG_STATUS = 2,               /* report backend N's state */
	HMSG_STOP = 3,                 /* stop backend N (SIGTERM, then SIGKILL); not
					* restarted until the next HMSG_START */
	HMSG_RELOAD = 4,               /* re-read the configuration file (last conversation
					* only; `backend` is zero too) */
	HMSG_BIND = 5,                 /* bind `starts` (1..HELPER_BIND_MAX) listening sockets
					* on Listen line `backend` (< CFG_MAX_LISTEN, or
					* HELPER_LISTEN_METRICS) of the configuration file
					* as the helper reads it now (last conversation
					* only); answered by HMSG_BOUND */
	HMSG_OPEN = 6,                 /* open the certificate or key file `backend` (an
					* index of config.tls->file, < TLS_MAX_FILES) of
					* the configuration file as the helper reads it now
					* (last conversation only); answered by HMSG_OPENED */
	/* helper -> serving process: the answer to each request, and sent unasked to every
	 * conversation when a backend's state changes */
	HMSG_STATE = 0x81,
	/* helper -> serving process, once, on the last conversation only, before anything
	 * else: its set-up is done and its privileges are set and verified. `backend` and
	 * every field after it are zero. helper_spawn() waits for it. */
	HMSG_READY = 0x82,
	/* helper -> serving process, the answer to HMSG_RELOAD when it succeeded, one per
	 * entry of the new config.autostart, in order: `backend` = the entry's index,
	 * `starts` = its slot, `backoff_ms` = helper_autostart_digest() of the entry as the
	 * helper parsed it; state and pid zero. */
	HMSG_MAPPED = 0x83,
	/* helper -> serving process, the end of the answer to HMSG_RELOAD: `state` = 0 and
	 * `backend` = the number of MAPPED messages before it; or `state` = a positive errno
	 * (the reload failed, nothing changed, the error log says why) and `backend` = 0. */
	HMSG_RELOADED = 0x84,
	/* helper -> serving process, the answer to HMSG_BIND: `backend` as asked; `state` 0
	 * and `starts` descriptors attached (SCM_RIGHTS; 1..HELPER_BOUND_MAX per datagram,
	 * as many datagrams as it takes to carry the number asked, in a row); or one
	 * datagram with `state` = a positive errno, `starts` 0 and nothing attached. */
	HMSG_BOUND = 0x85,
	/* helper -> serving process, the answer to HMSG_OPEN: `backend` as asked; `state` 0,
	 * `starts` 1, one read-only descriptor attached (SCM_RIGHTS) and `backoff_ms` =
	 * helper_tls_file_digest() of the file as the helper parsed it; or `state` = a
	 * positive errno, `starts` and `backoff_ms` 0 and nothing attached. */
	HMSG_OPENED = 0x86,
};

enum helper_bstate {
	HB_STOPPED = 0,                /* not running, nothing scheduled */
	HB_RUNNING = 1,                /* the process runs (it may not listen yet) */
	HB_BACKOFF = 2,                /* it exited; the next start waits backoff_ms (or, with
					* backoff_ms 0, for the process of a changed entry of
					* the same backend to be gone: see HMSG_RELOAD) */
	HB_STOPPING = 3,               /* SIGTERM sent, waiting for the group to go */
};

struct helper_msg {
	uint32_t magic;                /* HELPER_MSG_MAGIC */
	uint16_t type;                 /* enum helper_msg_type */
	uint16_t backend;              /* a slot (HMSG_MAPPED, HMSG_RELOADED, HMSG_BIND,
					* HMSG_BOUND, HMSG_OPEN, HMSG_OPENED: see there) */
	uint32_t state;                /* HMSG_STATE: enum helper_bstate; HMSG_RELOADED,
					* HMSG_BOUND: 0 or an errno; else 0 */
	int32_t pid;                   /* HMSG_STATE: the running process, else 0 */
	uint32_t starts;               /* HMSG_STATE: processes started so far; HMSG_MAPPED:
					* the slot; HMSG_BIND, HMSG_BOUND: sockets */
	uint32_t backoff_ms;           /* HMSG_STATE, HB_BACKOFF: time until the next start;
					* HMSG_MAPPED, HMSG_OPENED: the digest */
	uint32_t last_exit;            /* HMSG_STATE: how its last process ended: 0 none yet,
					* 1 + its exit code (1..256), or 257 + the signal that
					* killed it; else 0 */
};

#endif
