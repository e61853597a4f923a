/* What the connection and its role modules (proxy, body, filesend, autostart) share for
 * one exchange: submitting its operations to the worker's ring (each counted in
 * c->pending, completed through worker.c -> conn_complete()), its deadline, and recording
 * how it failed. Below conn.c and the role modules; calls nothing above it. */
#ifndef SPLICED_EXCH_H
#define SPLICED_EXCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "spliced/conn-t.h"
#include "spliced/headers-t.h"
#include "spliced/worker-t.h"

/* Submissions naming c; each returns 0 or -EBUSY when the ring cannot take an entry (the
 * caller returns EV_CLOSE). */
int exch_recv(struct conn *c, int op, int fd, void *buf, size_t len);
/* A receive of bytes that cannot have arrived yet (an answer to what was just sent): it
 * waits for readiness before its first try (IORING_RECVSEND_POLL_FIRST), which saves the
 * try that would find nothing. */
int exch_recv_later(struct conn *c, int op, int fd, void *buf, size_t len);
int exch_send(struct conn *c, int op, int fd, const void *buf, size_t len);
/* A receive into a buffer the kernel selects from the provided buffer ring `group` when
 * bytes arrive (the completion's flags name it; see hbuf_take_selected()). */
int exch_recv_select(struct conn *c, int op, int fd, unsigned len, uint16_t group);
/* The same with MSG_MORE: more follows at once (a head before its body). */
int exch_send_more(struct conn *c, int op, int fd, const void *buf, size_t len);
/* iov must stay valid until the completion; c->msg carries it. */
int exch_sendmsg(struct conn *c, int op, int fd, struct iovec *iov, unsigned niov);
int exch_connect(struct conn *c, int fd, const struct sockaddr *sa, socklen_t len);
/* Readiness of fd (OP_SPLICE_POLL). */
int exch_poll(struct conn *c, int fd, unsigned events);
/* The same completing as op (a tunnel polls for two directions at once). */
int exch_poll_as(struct conn *c, int op, int fd, unsigned events);

/* A send of base[0..c->page_len) completed with res (> 0) bytes: c->page_off moves on.
 * True while some is left, with the rest submitted (*ev: EV_WAIT, or EV_CLOSE when the
 * ring refused it); false once all of it went. more: MSG_MORE (a body follows). */
bool exch_send_rest(struct conn *c, const char *base, int res, bool more, enum conn_ev *ev);

/* Watches the backend for an answer (or its close) while the request body waits for the
 * client: OP_UP_WATCH, at most one in flight. exch_unwatch() cancels it (its completion
 * still arrives and is dropped by conn.c). */
int exch_watch(struct conn *c);
void exch_unwatch(struct conn *c);

/* Cancels what is in flight on c's sockets (the completions still arrive). */
void exch_cancel(struct conn *c);
/* ... on the client's only (through its TLS session when it has one). */
void exch_cancel_client(struct conn *c);

/* The exchange's deadline: `ms` from now. */
static inline void exch_touch(struct conn *c, uint64_t ms)
{
	c->deadline_ms = c->w->now_ms + ms;
}

/* When a keep-alive connection waiting until deadline_ms under a KeepAliveTimeout of
 * timeout_ms became idle: what a reload hands over, so that the successor's
 * KeepAliveTimeout counts from then and not from the hand-over (0: unknown). */
static inline uint64_t exch_idle_since(uint64_t deadline_ms, unsigned timeout_ms)
{
	return deadline_ms > timeout_ms ? deadline_ms - timeout_ms : 0;
}

/* A connection handed over idle since since_ms (0: now) waits for its next request for
 * the rest of this configuration's KeepAliveTimeout (at least until the next tick). */
static inline void exch_touch_idle(struct conn *c, uint64_t since_ms)
{
	uint64_t end = (since_ms ? since_ms : c->w->now_ms) + c->w->cfg->keepalive_timeout_ms;

	c->deadline_ms = end > c->w->now_ms ? end : c->w->now_ms + 1;
}

/* A read from the client: Timeout from now (no byte for that long), and no later than a
 * RequestReadTimeout stage (header or body) allows: begun at c->rt_start_ms with
 * c->rt_bytes received since, its initial time plus one second per MinRate bytes, at most
 * its maximum (a stage with initial time 0 is off). */
static inline void exch_touch_client(struct conn *c, const struct cfg_reqtimeout *rt)
{
	uint64_t ms, d = c->w->now_ms + c->w->cfg->timeout_ms;

	if (rt->initial_ms) {
		ms = rt->initial_ms + (rt->rate ? c->rt_bytes * 1000 / rt->rate : 0);
		if (rt->max_ms && ms > rt->max_ms)
			ms = rt->max_ms;
		if (c->rt_start_ms + ms < d)
			d = c->rt_start_ms + ms;
	}
	c->deadline_ms = d;
}

/* Timeout: each wait for the client. */
static inline uint64_t exch_timeout_ms(const struct conn *c)
{
	return c->w->cfg->timeout_ms;
}

/* The backend of c->pass. */
static inline const struct cfg_backend *exch_backend(const struct conn *c)
{
	return &c->w->cfg->backend[c->pass->backend];
}

/* Each wait on the backend (connect excepted): its timeout= (else ProxyTimeout, else
 * Timeout), resolved at load. */
static inline uint64_t exch_up_timeout_ms(const struct conn *c)
{
	return exch_backend(c)->p.timeout_ms;
}

/* Records that the exchange fails with `status` (0: close without a page): logs the
 * message with the client's address (error for 5xx, the backend's or our fault; info
 * below) and returns EV_PAGE. */
enum conn_ev exch_fail(struct conn *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same for a request the client got wrong, whatever the status (501, 505): info, so
 * that no client can write error-level lines at will. */
enum conn_ev exch_refuse(struct conn *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sending to or reading from the backend failed (err 0: it closed): 504 when the
 * exchange timed out, else 502, naming the backend and `what` was being done. */
enum conn_ev exch_upstream_error(struct conn *c, int err, const char *what);

/* Header/RequestHeader (src/headers.c) on the whole head head[0..len) (start line,
 * fields, empty line), in place within cap bytes: HDR_REQUEST edits the fields with the
 * RequestHeader rules; HDR_ONSUCCESS edits them with the Header rules, then adds what the
 * "Header always" rules make; HDR_ALWAYS only adds that (a response spliced makes for an
 * error, a redirect or a 304). The <Location> sections are those of c's path. Returns the
 * new length (len when nothing is configured), or -1 when the result does not fit. */
ssize_t exch_headers(struct conn *c, enum hdr_table t, char *head, size_t len, size_t cap);

/* The same on c->head, whose last body_len bytes are body[0..body_len): the head is
 * edited in c->hdrbuf and c->head made of it and body. 0, or -ENOSPC. */
int exch_headers_fwd(struct conn *c, enum hdr_table t, const char *body, size_t body_len);

/* A pipe of the worker's pool for a splice run of body b, or NULL: b is copied instead,
 * to its end (b->nopipe). The pool in use to the last pipe, or the system refusing a new
 * one (descriptors, memory), is counted once per body and logged (a line a second). */
struct relay_pipe *exch_pipe_get(struct conn *c, struct conn_body *b);

/* A request refused as malformed, counted under `reason` (a static string). */
void exch_count_parse_error(struct conn *c, const char *reason);

/* One call site for the splice probe: perf probe cannot set up a probe that has two. */
void exch_trace_splice(const struct conn *c, uint64_t bytes, int dir);

/* The same for backend_connect (kinds in README "Tracing"): backend b of c. */
void exch_trace_connect(const struct conn *c, unsigned b, int kind);

#endif
