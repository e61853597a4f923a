/* A worker thread: its own io_uring, its own SO_REUSEPORT listeners, connection slab,
 * backend pools and pipe pool. Nothing is shared with other workers on the request path. */
#ifndef SPLICED_WORKER_H
#define SPLICED_WORKER_H

#include "spliced/worker-t.h"

/* Prepares w (slab, eventfd; the ring is made by the thread itself) for the listeners in w->listen_fd. Returns 0 or -errno. */
int worker_init(struct worker *w, const struct config *cfg, unsigned id, unsigned max_conns);

/* Thread body: runs the event loop until a graceful stop completes. */
void *worker_main(void *arg);

/* Asks the worker to stop accepting and finish in-flight requests (async-signal-safe). */
void worker_stop(struct worker *w);

void worker_destroy(struct worker *w);

/* Submission helpers used by the connection state machine; each counts an operation in
 * flight on c. They return 0 or -EBUSY when the ring cannot take an entry. */
struct conn;
int worker_recv(struct worker *w, struct conn *c, int op, int fd, void *buf, size_t len);
int worker_send(struct worker *w, struct conn *c, int op, int fd, const void *buf, size_t len);
/* The same with MSG_MORE: more follows at once (a head before its body). */
int worker_send_more(struct worker *w, struct conn *c, int op, int fd, const void *buf,
		     size_t len);
int worker_sendmsg(struct worker *w, struct conn *c, int op, int fd, struct iovec *iov,
		   unsigned niov);
int worker_connect(struct worker *w, struct conn *c, int fd, const struct sockaddr *sa,
		   socklen_t len);
int worker_poll(struct worker *w, struct conn *c, int fd, unsigned events);
/* A timeout of `ms` whose completion is (op, idx): a worker-level timer, not tied to a
 * connection. ts must stay valid until the ring was submitted. 0 or -EBUSY. */
int worker_timer(struct worker *w, int op, unsigned idx, struct __kernel_timespec *ts,
		 unsigned ms);
/* Moves the pending timer (op, idx) to `ms` from now (when it already fired, nothing
 * happens). ts: as for worker_timer(). 0 or -EBUSY. */
int worker_timer_update(struct worker *w, int op, unsigned idx, struct __kernel_timespec *ts,
			unsigned ms);
/* Cancels everything in flight on fd (the completions still arrive, with -ECANCELED). */
void worker_cancel_fd(struct worker *w, int fd);
/* Starts writing access log i's buffer when it is due (or, with `any`, when it holds
 * anything) and no write of it is in flight. */
void worker_alog_flush(struct worker *w, unsigned i, bool any);

/* Sums the counters of workers all[0..n) into *out (parse errors by reason are left out:
 * their keys differ per worker). Safe while they run: plain 64-bit loads. */
void worker_stats_sum(const struct worker *all, unsigned n, struct stats *out);

/* Returns slot c to the free list. */
void worker_release(struct worker *w, struct conn *c);

#endif
