/* Types of the active health checks of pool members (src/hcheck.c). Types only. */
#ifndef SPLICED_HCHECK_T_H
#define SPLICED_HCHECK_T_H

#include <stdbool.h>
#include <stdint.h>

enum hc_step {
	HC_IDLE = 0,                   /* waiting for next_ms */
	HC_CONNECT,                    /* the connect is in the ring */
	HC_SEND,                       /* the request */
	HC_RECV,                       /* the status line */
};

#define HC_REQ_MAX 640             /* "GET hcuri HTTP/1.0" + Host + User-Agent: the
				    * longest hcuri and authority fit (hcheck.c) */
#define HC_BUF 64                  /* enough of the response for its status line */

/* One member's checks on one worker: one step in the ring at a time. */
struct hc_probe {
	int fd;                        /* -1: none */
	uint8_t step;                  /* enum hc_step */
	bool cancelled;                /* past its deadline: a cancel is in the ring */
	uint16_t passes, fails;        /* in a row */
	uint64_t next_ms;              /* when the next check starts */
	uint64_t deadline_ms;          /* the check in flight fails after this */
	uint32_t reqlen, sent, len;
	char req[HC_REQ_MAX];
	char buf[HC_BUF];
};

#endif
