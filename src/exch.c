/* Submissions, deadlines and failures of one exchange; the contract is in
 * include/spliced/exch.h. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spliced/exch.h"
#include "spliced/forward.h"
#include "spliced/hbuf.h"
#include "spliced/headers.h"
#include "spliced/log.h"
#include "spliced/relay.h"
#include "spliced/ring.h"
#include "spliced/stats.h"
#include "spliced/tls.h"
#include "spliced/trace.h"

static struct io_uring_sqe *exch_sqe(struct conn *c, int op)
{
	struct io_uring_sqe *sqe = ring_sqe(&c->w->ring);

	if (!sqe)
		return NULL;
	io_uring_sqe_set_data64(sqe, RING_UD(op, c->idx));
	c->pending++;
	return sqe;
}

/* The client's fd of a connection over TLS without a socketpair: its bytes go through
 * its session (src/tls.c), which completes the operation as the ring would. */
static inline bool exch_via_tls(const struct conn *c, int fd)
{
	return c->tsess && fd == c->fd;
}

int exch_recv(struct conn *c, int op, int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe;

	if (exch_via_tls(c, fd))
		return tls_c_recv(c, op, buf, len, false);
	sqe = exch_sqe(c, op);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	return 0;
}

int exch_recv_later(struct conn *c, int op, int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe;

	if (exch_via_tls(c, fd))
		return tls_c_recv(c, op, buf, len, false);
	sqe = exch_sqe(c, op);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	/* (the kernels with buffer rings, 5.19 on, have the flag; older ones refuse it) */
	if (hbuf_ring_on(&c->w->hb))
		sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	return 0;
}

int exch_recv_select(struct conn *c, int op, int fd, unsigned len, uint16_t group)
{
	struct io_uring_sqe *sqe;

	if (exch_via_tls(c, fd))
		return tls_c_recv(c, op, NULL, len, true);
	sqe = exch_sqe(c, op);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, fd, NULL, len, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = group;
	return 0;
}

static int exch_send_flags(struct conn *c, int op, int fd, const void *buf, size_t len,
			   int flags)
{
	struct io_uring_sqe *sqe;

	if (exch_via_tls(c, fd)) {
		struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

		return tls_c_send(c, op, &iov, 1);
	}
	sqe = exch_sqe(c, op);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_send(sqe, fd, buf, len, flags);
	return 0;
}

int exch_send(struct conn *c, int op, int fd, const void *buf, size_t len)
{
	return exch_send_flags(c, op, fd, buf, len, MSG_NOSIGNAL);
}

int exch_send_more(struct conn *c, int op, int fd, const void *buf, size_t len)
{
	return exch_send_flags(c, op, fd, buf, len, MSG_NOSIGNAL | MSG_MORE);
}

int exch_sendmsg(struct conn *c, int op, int fd, struct iovec *iov, unsigned niov)
{
	struct io_uring_sqe *sqe;

	if (exch_via_tls(c, fd))
		return tls_c_send(c, op, iov, niov);
	sqe = exch_sqe(c, op);

	if (!sqe)
		return -EBUSY;
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = iov;
	c->msg.msg_iovlen = niov;
	io_uring_prep_sendmsg(sqe, fd, &c->msg, MSG_NOSIGNAL);
	return 0;
}

int exch_connect(struct conn *c, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct io_uring_sqe *sqe = exch_sqe(c, OP_UP_CONNECT);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_connect(sqe, fd, sa, len);
	return 0;
}

int exch_poll(struct conn *c, int fd, unsigned events)
{
	return exch_poll_as(c, OP_SPLICE_POLL, fd, events);
}

int exch_poll_as(struct conn *c, int op, int fd, unsigned events)
{
	struct io_uring_sqe *sqe;

	if (exch_via_tls(c, fd)) {   /* (what polls the client detaches first) */
		log_error("exch", "a poll of a TLS connection's socket (op %d)", op);
		return -EINVAL;
	}
	sqe = exch_sqe(c, op);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, events);
	return 0;
}

bool exch_send_rest(struct conn *c, const char *base, int res, bool more, enum conn_ev *ev)
{
	c->page_off += (uint32_t)res;
	if (c->page_off >= c->page_len)
		return false;
	*ev = exch_send_flags(c, OP_CLIENT_SEND, c->fd, base + c->page_off,
			      c->page_len - c->page_off,
			      more ? MSG_NOSIGNAL | MSG_MORE : MSG_NOSIGNAL) ? EV_CLOSE : EV_WAIT;
	return true;
}

int exch_watch(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->watching)
		return 0;
	sqe = exch_sqe(c, OP_UP_WATCH);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, c->ufd, POLLIN | POLLRDHUP);
	c->watching = true;
	return 0;
}

void exch_unwatch(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (!c->watching)
		return;
	sqe = ring_sqe(&c->w->ring);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, RING_UD(OP_UP_WATCH, c->idx), 0);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_NONE, 0));
}

void exch_cancel_client(struct conn *c)
{
	if (c->tsess)
		tls_c_cancel(c);
	else
		ring_cancel_fd(&c->w->ring, c->fd);
}

void exch_cancel(struct conn *c)
{
	exch_unwatch(c);
	exch_cancel_client(c);
	if (c->ufd >= 0)
		ring_cancel_fd(&c->w->ring, c->ufd);
}

__attribute__((format(printf, 4, 0)))
static enum conn_ev exch_failv(struct conn *c, unsigned status, bool client, const char *fmt,
			       va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (status >= 500 && !client)
		log_error("proxy", "[client %s:%u] %s", c->ip, c->port, msg);
	else if (!c->timed_out || stats_timeout_line(&c->w->stats, c->state == CS_HEAD ?
						     STATS_TO_HEAD : STATS_TO_EXCHANGE,
						     c->w->now_ms))
		log_info("proxy", "[client %s:%u] %s", c->ip, c->port, msg);
	else   /* one of a wave of slow clients: counted, summed up a second later */
		log_debug("proxy", "[client %s:%u] %s", c->ip, c->port, msg);
	c->fail_status = (uint16_t)status;
	return EV_PAGE;
}

enum conn_ev exch_fail(struct conn *c, unsigned status, const char *fmt, ...)
{
	enum conn_ev ev;
	va_list ap;

	va_start(ap, fmt);
	ev = exch_failv(c, status, false, fmt, ap);
	va_end(ap);
	return ev;
}

enum conn_ev exch_refuse(struct conn *c, unsigned status, const char *fmt, ...)
{
	enum conn_ev ev;
	va_list ap;

	va_start(ap, fmt);
	ev = exch_failv(c, status, true, fmt, ap);
	va_end(ap);
	return ev;
}

enum conn_ev exch_upstream_error(struct conn *c, int err, const char *what)
{
	const struct cfg_backend *be = exch_backend(c);

	if (c->timed_out)
		return exch_fail(c, 504, "backend %s timed out (%s)", be->name, what);
	return exch_fail(c, 502, "backend %s: %s: %s", be->name, what,
			 err ? strerror(err) : "connection closed");
}

struct relay_pipe *exch_pipe_get(struct conn *c, struct conn_body *b)
{
	struct relay_pipe *p = b->nopipe ? NULL : relay_pipe_get(&c->w->pipes);
	int err = errno;

	if (p || b->nopipe)
		return p;
	b->nopipe = true;
	if (err == EBUSY)
		stats_resource_error(&c->w->stats, STATS_RES_PIPE_POOL, err, c->w->now_ms,
				     "every pipe of the pool in use, body copied");
	else
		stats_resource_error(&c->w->stats, err == ENOMEM ? STATS_RES_MEMORY :
				     STATS_RES_PIPE, err, c->w->now_ms, "pipe, body copied");
	return NULL;
}

void exch_count_parse_error(struct conn *c, const char *reason)
{
	stats_count_parse_error(&c->w->stats, reason);
}

__attribute__((noinline)) void exch_trace_connect(const struct conn *c, unsigned b, int kind)
{
	TRACE_BACKEND_CONNECT(c->id, (int)b, c->w->cfg->backend[b].name, kind);
}

__attribute__((noinline)) void exch_trace_splice(const struct conn *c, uint64_t bytes, int dir)
{
	TRACE_SPLICE(c->id, bytes, dir);
}

/* Whether some rule would edit a head of kind t. */
static bool exch_headers_any(const struct conn *c, enum hdr_table t)
{
	const bool *any = c->w->cfg->headers.any;

	return t == HDR_REQUEST ? any[HDR_REQUEST]
	       : any[HDR_ALWAYS] || (t == HDR_ONSUCCESS && any[HDR_ONSUCCESS]);
}

ssize_t exch_headers(struct conn *c, enum hdr_table t, char *head, size_t len, size_t cap)
{
	const struct config *cfg = c->w->cfg;
	const char *path = c->hdrbuf ? c->hdrbuf + CONN_HDRBUF : NULL;
	const char *eol = memchr(head, '\n', len);
	size_t a, end;
	ssize_t n;

	if (!exch_headers_any(c, t) || !eol || len < 2 || cap < len)
		return (ssize_t)len;
	a = (size_t)(eol - head) + 1;
	end = len - 2;  /* the fields end where the empty line begins */
	if (a > end)
		return (ssize_t)len;
	cap -= 2;
	if (t != HDR_ALWAYS) {
		n = headers_apply(&cfg->headers, &cfg->authz, t, c->scope, path, c->hdr_path_len,
				  head + a, end - a, cap - a);
		if (n < 0)
			return -1;
		end = a + (size_t)n;
	}
	if (t != HDR_REQUEST) {
		/* httpd's err_headers_out: made anew, sent after the response's own fields */
		n = headers_apply(&cfg->headers, &cfg->authz, HDR_ALWAYS, c->scope, path,
				  c->hdr_path_len, head + end, 0, cap - end);
		if (n < 0)
			return -1;
		end += (size_t)n;
	}
	memcpy(head + end, "\r\n", 2);
	return (ssize_t)end + 2;
}

int exch_headers_fwd(struct conn *c, enum hdr_table t, const char *body, size_t body_len)
{
	size_t len = c->head.total - body_len;
	ssize_t n;

	if (!c->hdrbuf || !exch_headers_any(c, t))
		return 0;
	if (len > CONN_HDRBUF)
		return -ENOSPC;
	fwd_copy(&c->head, c->hdrbuf, len);
	n = exch_headers(c, t, c->hdrbuf, len, CONN_HDRBUF);
	if (n < 0)
		return -ENOSPC;
	fwd_replace(&c->head, c->hdrbuf, (size_t)n, body, body_len);
	return 0;
}
