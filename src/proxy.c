/* The proxy exchange; the contract is in include/spliced/proxy.h.
 *
 * request head (+ the body bytes that came with it) -> [100 Continue to the client] ->
 * backend connection (pool | connect | wait for autostart) -> rest of the request body ->
 * response head (1xx forwarded) -> response head to the client -> rest of the response
 * body -> EV_DONE. Each step's submission sits next to its completion handler. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spliced/autostart.h"
#include "spliced/body.h"
#include "spliced/config.h"
#include "spliced/exch.h"
#include "spliced/forward.h"
#include "spliced/http.h"
#include "spliced/log.h"
#include "spliced/member.h"
#include "spliced/proxy.h"
#include "spliced/ring-t.h"
#include "spliced/slot.h"
#include "spliced/stats.h"
#include "spliced/trace.h"
#include "spliced/tunnel.h"
#include "spliced/upstream.h"
#include "spliced/worker.h"

static enum conn_ev proxy_resp_recv(struct conn *c);
static enum conn_ev proxy_resp_head(struct conn *c);

void proxy_drop_upstream(struct conn *c)
{
	exch_unwatch(c);   /* a poll holds the file: it must not outlive the exchange */
	if (c->ufd >= 0) {
		close(c->ufd);
		c->ufd = -1;
		slot_put(c);
	}
}

void proxy_release(struct conn *c)
{
	struct worker *w = c->w;

	/* A retiring worker (reload) keeps none: its successor has pools of its own, and a
	 * kept connection would hold the backend's max= count it shares with the successor. */
	if (c->ufd >= 0 && c->up_reusable && !w->stopping && !w->retiring &&
	    !exch_backend(c)->p.disablereuse && slot_pool(c)) {
		up_pool_put(&w->pools[c->pass->backend], c->ufd, w->now_ms);
		c->ufd = -1;
	}
	proxy_drop_upstream(c);
}

static bool proxy_idempotent(const struct http_request *req)
{
	switch (req->meth) {
	case HTTP_METHOD_GET:
	case HTTP_METHOD_HEAD:
	case HTTP_METHOD_OPTIONS:
	case HTTP_METHOD_TRACE:
	case HTTP_METHOD_PUT:
	case HTTP_METHOD_DELETE:
		return true;
	default:
		return false;
	}
}

/* ---- the request head ---------------------------------------------------------------- */

/* Sets up c->body for the request body and builds the upstream head with the body bytes
 * that came with the head. A chunked body goes upstream with canonical chunk-size lines
 * (http_chunked_canon), rewritten in place: `take` bytes of input become `send` bytes
 * (send <= take), and the next request begins after the input. */
static int proxy_prepare_request(struct conn *c)
{
	struct worker *w = c->w;
	struct conn_body *b = &c->body;
	char *head = c->buf + c->start;
	char *body = head + c->req.head_len;
	uint32_t avail = c->end - c->start - c->req.head_len;
	uint32_t take = 0, send;
	struct fwd_target t = {
		.pass = c->pass,
		.match_len = c->pass_match,
		.backend = exch_backend(c),
		.preserve_host = config_preserve_host(w->cfg, c->scope),
		.underscores = w->cfg->underscores_in_headers,
		.host = c->has_host ? c->host : NULL,
		.host_len = c->host_len,
		.client_ip = c->ip,
		.proto = c->tls.on ? "https" : "http",
		.xff_cut = c->xff_cut,
		.xff_keep = c->xff_keep,
		.keep_forwarded = c->from_proxy,
	};
	int ret;

	memset(b, 0, sizeof(*b));
	b->framing = c->req.framing;
	b->response = false;
	b->buf = c->buf + CONN_HEADROOM;
	b->cap = CONN_HEAD_MAX;
	if (b->framing == HTTP_FRAMING_LENGTH) {
		take = avail < c->req.content_length ? avail : (uint32_t)c->req.content_length;
		b->left = c->req.content_length - take;
	}
	send = take;
	if (b->framing == HTTP_FRAMING_CHUNKED) {
		size_t out;
		ssize_t n;

		b->rd = HTTP_CHUNK_SLACK;
		http_chunked_init(&b->ck);
		n = http_chunked_canon(&b->ck, body, avail, body, &out);
		if (n < 0)
			return -EBADMSG;
		take = (uint32_t)n;
		send = (uint32_t)out;
	}
	c->next = c->start + c->req.head_len + take;
	tunnel_offer(c);
	t.upgrade = c->upgrade;
	t.upgrade_len = c->upgrade_len;
	ret = fwd_request_head(&c->head, head, c->start, &c->req, &t, body, send);
	if (ret == 0)
		ret = exch_headers_fwd(c, HDR_REQUEST, body, send);  /* RequestHeader */
	w->stats.fields_dropped += c->head.dropped;
	return ret;
}

enum conn_ev proxy_start(struct conn *c)
{
	const struct config *cfg = c->w->cfg;
	int ret;

	if (cfg->limit_request_body && c->req.framing == HTTP_FRAMING_LENGTH &&
	    c->req.content_length > cfg->limit_request_body)
		return exch_fail(c, 413, "request body of %llu bytes over LimitRequestBody",
				 (unsigned long long)c->req.content_length);
	ret = proxy_prepare_request(c);
	if (ret == -EBADMSG) {
		exch_count_parse_error(c, "invalid chunked body");
		return exch_refuse(c, 400, "bad request: invalid chunked body");
	}
	if (body_chunked_over_limit(c))
		return exch_fail(c, 413, "chunked request body over LimitRequestBody");
	if (ret < 0)
		return exch_fail(c, 431, "request head too large to forward");
	/* We answer "100 Continue" ourselves (and do not forward Expect): the body is only
	 * read once it is going somewhere. */
	if (c->req.expect_continue && c->req.version == 11 && c->next == c->end &&
	    ((c->body.framing == HTTP_FRAMING_LENGTH && c->body.left) ||
	     (c->body.framing == HTTP_FRAMING_CHUNKED && !c->body.ck.done))) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		c->state = CS_CONTINUE;
		exch_touch(c, exch_timeout_ms(c));
		return exch_send(c, OP_CLIENT_SEND, c->fd, cont, sizeof(cont) - 1) ? EV_CLOSE
										       : EV_WAIT;
	}
	return proxy_connect(c);
}

static enum conn_ev proxy_send_head(struct conn *c)
{
	c->state = CS_REQ_HEAD;
	return exch_sendmsg(c, OP_UP_SEND, c->ufd, c->head.cur, c->head.niov) ? EV_CLOSE
										 : EV_WAIT;
}

/* ---- the backend connection ---------------------------------------------------------- */

/* retry=: the backend's last connect failed less than retry seconds ago: 503 with the
 * seconds left, and no connect (fd: a pooled connection taken, given back). */
static enum conn_ev proxy_in_error(struct conn *c, int fd)
{
	struct worker *w = c->w;
	const struct cfg_backend *be = exch_backend(c);
	uint64_t left = w->pools[c->pass->backend].error_until_ms - w->now_ms;

	if (fd >= 0)
		up_pool_put(&w->pools[c->pass->backend], fd, w->now_ms);
	c->page_hdr = (uint16_t)snprintf(c->page, sizeof(c->page), "Retry-After: %llu\r\n",
					 (unsigned long long)(left + 999) / 1000);
	return exch_fail(c, 503, "backend %s: a connect failed less than retry=%u s ago, not "
			 "tried again before %llu ms", be->name, be->p.retry_s,
			 (unsigned long long)left);
}

/* retry=: a connect to c's backend failed; nothing goes to it from this worker for retry
 * seconds. */
static void proxy_connect_failed(struct conn *c)
{
	unsigned retry_s = exch_backend(c)->p.retry_s;

	if (retry_s)
		c->w->pools[c->pass->backend].error_until_ms = c->w->now_ms + retry_s * 1000ull;
}

enum conn_ev proxy_connect(struct conn *c)
{
	struct worker *w = c->w;
	const struct cfg_backend *be = exch_backend(c);
	/* a probe tests whether the backend listens: only a new connection tells */
	int fd = c->retried || c->as_probe ? -1 : up_pool_take(&w->pools[c->pass->backend],
								 w->now_ms);
	enum conn_ev ev;

	if (w->now_ms < w->pools[c->pass->backend].error_until_ms)
		return proxy_in_error(c, fd);
	if (fd >= 0)
		slot_from_pool(c); /* the pool gives its count with the connection */
	if (fd < 0 && !slot_take(c, &ev))
		return ev;
	slot_got(c);
	exch_touch(c, fd >= 0 ? exch_up_timeout_ms(c) : be->p.connect_timeout_ms);
	if (c->as_probe && c->wait_until_ms < c->deadline_ms)
		c->deadline_ms = c->wait_until_ms;
	c->backend_name = be->name;
	exch_trace_connect(c, (unsigned)c->pass->backend, fd >= 0 ? 1 : c->retried ? 2 : 0);
	if (fd >= 0) {
		w->stats.up_reuses++;
		c->ufd = fd;
		c->up_reused = true;
		return proxy_send_head(c);
	}
	fd = up_socket(be);
	if ((fd == -EMFILE || fd == -ENFILE) && worker_shed_idle(w))
		fd = up_socket(be);   /* idle backend connections gave their descriptors up */
	if (fd < 0) {
		slot_put(c);
		if (fd != -EMFILE && fd != -ENFILE && fd != -ENOMEM && fd != -ENOBUFS)
			return exch_fail(c, 502, "socket for %s: %s", be->name, strerror(-fd));
		/* spliced's own shortage, which passes: 503, as a full queue answers */
		stats_resource_error(&w->stats, fd == -EMFILE || fd == -ENFILE ?
				     STATS_RES_FD_CONNECT : STATS_RES_MEMORY, -fd, w->now_ms,
				     "socket for a backend");
		return exch_fail(c, 503, "socket for %s: %s", be->name, strerror(-fd));
	}
	w->stats.up_connects++;
	c->ufd = fd;
	c->up_reused = false;
	c->state = CS_CONNECT;
	return exch_connect(c, fd, (const struct sockaddr *)&be->addr, be->addrlen) ? EV_CLOSE
										    : EV_WAIT;
}

/* Nobody listens: refused, reset (the listener was closed with our connection in its
 * queue: the process is exiting), or a Unix socket's file is not there (yet). */
static bool proxy_not_listening(const struct cfg_backend *be, int res)
{
	return res == -ECONNREFUSED || res == -ECONNRESET ||
	       (res == -ENOENT && be->addr.ss_family == AF_UNIX);
}

/* A pool's member failed c before answering (src/member.c): the request goes to another
 * member, its head's Host following it. False when c went to no pool or no member is
 * left; the connection to the failed one is given up either way. */
static bool proxy_failover(struct conn *c, const char *why)
{
	const char *from = exch_backend(c)->authority;

	if (!c->bal)
		return false;
	proxy_drop_upstream(c);
	if (!member_failover(c, why))
		return false;
	fwd_retarget(&c->head, from, exch_backend(c)->authority);
	return true;
}

static enum conn_ev proxy_connected(struct conn *c, int res)
{
	const struct cfg_backend *be = exch_backend(c);
	enum conn_ev ev;

	if (proxy_not_listening(be, res) && !c->timed_out) {
		proxy_drop_upstream(c);
		if (as_wait(c, &ev))
			return ev;
	}
	if (res < 0 && c->as_probe && c->timed_out && c->w->now_ms >= c->wait_until_ms)
		/* the probe's connect outlived the request's wait */
		return as_fail(c, "did not accept connections within StartTimeout");
	if (res < 0 && !c->timed_out && c->bal) {
		/* nothing was sent: any request may go to another member */
		if (proxy_failover(c, strerror(-res)))
			return proxy_connect(c);
		return member_none_left(c);
	}
	if (res < 0) {
		proxy_connect_failed(c);
		member_failed(c, c->timed_out ? "connect timed out" : strerror(-res));
		if (c->timed_out)
			return exch_upstream_error(c, 0, "connecting");
		return exch_fail(c, 502, "backend %s: connect: %s%s", be->name, strerror(-res),
				 be->addr.ss_family == AF_UNIX && (res == -EACCES || res == -EPERM) ?
				 " (the socket must be writable by the serving User)" : "");
	}
	as_listening(c);
	exch_touch(c, exch_up_timeout_ms(c));
	return proxy_send_head(c);
}

/* A new connection made while a backend that spliced starts is dying can land in the
 * dying process's accept queue and be reset in turn: that many more tries (tools/soak
 * found it; each is refused once the process is gone, and the request then waits). */
#define PROXY_DYING_RETRIES 3

/* The backend we reused had closed the connection, or the connection to a backend that
 * spliced starts itself broke before any byte of the response (it died: a new one is
 * started and the request waits for it): try once more on a new connection when the
 * request is idempotent and its body was not streamed; to a backend spliced starts, up
 * to PROXY_DYING_RETRIES more times while the retry's new connection breaks too. */
static bool proxy_retry(struct conn *c)
{
	bool autostart = exch_backend(c)->autostart >= 0;
	/* a new connection to a pool's member broke: another member, when one is left */
	bool other = c->bal && !c->up_reused && !autostart;
	/* to a backend spliced starts, a retry whose new connection broke too goes again (it
	 * reached the dying process's queue), a few times */
	bool again = autostart && !c->up_reused && c->up_resets < PROXY_DYING_RETRIES;

	if ((!c->up_reused && !autostart && !other) || (c->retried && !other && !again) ||
	    c->up_answered || c->body_streamed || !proxy_idempotent(&c->req))
		return false;
	if (other && !proxy_failover(c, "closed before responding"))
		return false;
	if (c->retried && !other)
		c->up_resets++;
	c->w->stats.up_retries++;
	proxy_drop_upstream(c);
	c->retried = true;
	fwd_rewind(&c->head);
	return true;
}

static enum conn_ev proxy_upstream_error(struct conn *c, int err, const char *what)
{
	if (!c->timed_out && proxy_retry(c))
		return proxy_connect(c);
	return exch_upstream_error(c, err, what);
}

/* What the request body's step returned: once the whole request went upstream (EV_DONE),
 * the response head is read. */
static enum conn_ev proxy_request_body(struct conn *c, enum conn_ev ev)
{
	if (ev != EV_DONE)
		return ev;
	exch_unwatch(c);
	if (c->early_response) {
		/* the rest of the body is not sent (and not read: the connection closes after
		 * the answer, lingering); neither connection can be reused */
		log_info("proxy", "[client %s:%u] backend %s answered before the whole request "
			 "body was sent", c->ip, c->port, exch_backend(c)->name);
		body_release_pipe(c);
		c->keep_alive = false;
	}
	c->rlen = 0;
	c->state = CS_RESP_HEAD;
	exch_touch(c, exch_up_timeout_ms(c));
	return proxy_resp_recv(c);
}

enum conn_ev proxy_early_response(struct conn *c)
{
	c->early_response = true;
	return proxy_request_body(c, EV_DONE);
}

static enum conn_ev proxy_head_sent(struct conn *c, int res)
{
	if (res <= 0)
		return proxy_upstream_error(c, res ? -res : EPIPE, "sending request");
	exch_touch(c, exch_up_timeout_ms(c));
	fwd_advance(&c->head, (size_t)res);
	if (c->head.left)
		return exch_sendmsg(c, OP_UP_SEND, c->ufd, c->head.cur + c->head.first,
				    c->head.niov - c->head.first) ? EV_CLOSE : EV_WAIT;
	return proxy_request_body(c, body_start(c, c->fd, c->ufd, false));
}

/* ---- the response -------------------------------------------------------------------- */

static enum conn_ev proxy_resp_recv(struct conn *c)
{
	if (c->rlen == CONN_RESP_MAX) {
		c->up_reusable = false;
		return exch_fail(c, 502, "backend %s: response head over %u bytes",
				 exch_backend(c)->name, CONN_RESP_MAX);
	}
	/* the first read of a response follows the request's send at once: the backend has
	 * not answered yet, so the receive waits for readiness before it tries */
	return (c->rlen ? exch_recv : exch_recv_later)(c, OP_UP_RECV, c->ufd, c->rbuf + c->rlen,
						       CONN_RESP_MAX - c->rlen) ? EV_CLOSE : EV_WAIT;
}

static enum conn_ev proxy_resp_received(struct conn *c, int res)
{
	if (res <= 0) {
		if (c->rlen == 0)
			return proxy_upstream_error(c, res ? -res : 0, "reading response");
		if (c->timed_out)
			return exch_upstream_error(c, 0, "reading response head");
		return exch_fail(c, 502, "backend %s: response head cut short",
				 exch_backend(c)->name);
	}
	exch_touch(c, exch_up_timeout_ms(c));
	if (c->rlen == 0)
		member_answered(c);
	c->rlen += (uint32_t)res;
	return proxy_resp_head(c);
}

/* Interim responses one request may get: each one restarts the backend's timeout, so
 * without a bound a backend (or whatever answers in its place) could hold the exchange
 * open for ever with 102s. Real ones send a few (103 Early Hints, 102 Processing). */
#define PROXY_INTERIM_MAX 100

/* An interim (1xx) response: forwarded to HTTP/1.1 clients, except 100 Continue, which
 * we already answered ourselves (Expect is not forwarded). */
static enum conn_ev proxy_resp_interim(struct conn *c, uint32_t hl)
{
	bool forward = c->resp.status != 100 && c->req.version == 11;

	if (++c->ninterim > PROXY_INTERIM_MAX) {
		c->up_reusable = false;
		return exch_fail(c, 502, "backend %s: more than %d interim (1xx) responses",
				 exch_backend(c)->name, PROXY_INTERIM_MAX);
	}
	if (forward) {
		memcpy(c->rbuf, "HTTP/1.1", 8);
		memcpy(c->page, c->rbuf, hl < sizeof(c->page) ? hl : 0);
		forward = hl < sizeof(c->page);
	}
	memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
	c->rlen -= hl;
	/* The backend has seen the request: never send it again elsewhere. */
	c->retried = true;
	c->up_answered = true;
	if (!forward)
		return c->rlen ? proxy_resp_head(c) : proxy_resp_recv(c);
	c->state = CS_RESP_INTERIM;
	c->page_len = hl;
	c->page_off = 0;
	return exch_send(c, OP_CLIENT_SEND, c->fd, c->page, hl) ? EV_CLOSE : EV_WAIT;
}

static enum conn_ev proxy_interim_sent(struct conn *c, int res)
{
	enum conn_ev ev;

	if (exch_send_rest(c, c->page, res, false, &ev))
		return ev;
	c->state = CS_RESP_HEAD;
	return c->rlen ? proxy_resp_head(c) : proxy_resp_recv(c);
}

/* Sets up c->body for the response body; the bytes of it that came with the head are
 * sent with the head. Returns the bytes taken, or -1 on invalid chunked framing. */
static long proxy_prepare_response(struct conn *c, uint32_t hl)
{
	struct conn_body *b = &c->body;
	uint32_t avail = c->rlen - hl, take = 0;

	memset(b, 0, sizeof(*b));
	b->framing = c->resp.framing;
	b->buf = c->rbuf;
	b->cap = CONN_RESP_MAX;
	b->response = true;
	if (b->framing == HTTP_FRAMING_LENGTH) {
		take = avail < c->resp.content_length ? avail : (uint32_t)c->resp.content_length;
		b->left = c->resp.content_length - take;
	} else if (b->framing == HTTP_FRAMING_CHUNKED) {
		ssize_t n;

		http_chunked_init(&b->ck);
		n = http_chunked_scan(&b->ck, c->rbuf + hl, avail);
		if (n < 0)
			return -1;
		take = (uint32_t)n;
	} else if (b->framing == HTTP_FRAMING_CLOSE) {
		take = avail;
	}
	if (take < avail)
		c->up_reusable = false; /* bytes after the response: the backend is confused */
	return take;
}

static enum conn_ev proxy_resp_head(struct conn *c)
{
	struct worker *w = c->w;
	const char *name = exch_backend(c)->name;
	/* ProxyPassReverse*: mapped URLs name the origin the client asked */
	struct fwd_reverse rev = {
		.cfg = w->cfg,
		.scope = c->scope,
		.host = c->has_host ? c->host : NULL,
		.host_len = c->host_len,
		.https = c->tls.on,
	};
	int ret = http_parse_response_noting(c->rbuf, c->rlen, &w->rlim, c->req.meth,
					     fwd_response_kinds(&rev), &c->resp);
	uint32_t hl;
	long take;

	if (ret == -2)
		return proxy_resp_recv(c);
	if (ret < 0)
		return exch_fail(c, 502, "backend %s: invalid response: %s", name,
				 c->resp.reason ? c->resp.reason : "malformed head");
	hl = (uint32_t)ret;
	if (c->resp.status < 200) {
		if (c->resp.status == 101)
			return tunnel_switch(c, hl);
		return proxy_resp_interim(c, hl);
	}
	if (c->resp.framing == HTTP_FRAMING_CHUNKED && c->req.version == 10)
		return exch_fail(c, 502, "backend %s: chunked response to an HTTP/1.0 request",
				 name);
	c->up_reusable = c->req.version == 11 && c->resp.version == 11 && !c->resp.conn_close &&
			 c->resp.framing != HTTP_FRAMING_CLOSE && !c->early_response;
	if (c->resp.framing == HTTP_FRAMING_CLOSE || w->stopping)
		c->keep_alive = false;
	take = proxy_prepare_response(c, hl);
	if (take < 0)
		return exch_fail(c, 502, "backend %s: invalid chunked framing", name);
	w->stats.bytes_copied += (uint64_t)take;
	ret = fwd_response_head(&c->head, c->rbuf, &c->resp, &rev, !c->keep_alive,
				c->keep_alive && c->req.version == 10, c->rbuf + hl, (size_t)take);
	if (ret == -E2BIG)
		return exch_fail(c, 502, "backend %s: response head cannot be rewritten for "
				 "ProxyPassReverse within %u bytes of new text and %u pieces", name,
				 FWD_EXTRA, FWD_MAX_IOV);
	if (ret < 0)
		return exch_fail(c, 502, "backend %s: response head too large to forward", name);
	/* Header: a proxied response is the backend's, whatever its status (onsuccess) */
	if (exch_headers_fwd(c, HDR_ONSUCCESS, c->rbuf + hl, (size_t)take) < 0)
		return exch_fail(c, 502, "backend %s: response head too large once the Header "
				 "rules are applied", name);
	c->status = c->resp.status;
	stats_count_status(&w->stats, c->resp.status);
	c->out_head_len += c->head.total - (size_t)take;
	c->resp_started = true;
	c->state = CS_RESP_SEND;
	exch_touch(c, exch_timeout_ms(c));
	return exch_sendmsg(c, OP_CLIENT_SEND, c->fd, c->head.cur, c->head.niov) ? EV_CLOSE
										   : EV_WAIT;
}

static enum conn_ev proxy_resp_head_sent(struct conn *c, int res)
{
	fwd_advance(&c->head, (size_t)res);
	if (c->head.left)
		return exch_sendmsg(c, OP_CLIENT_SEND, c->fd, c->head.cur + c->head.first,
				    c->head.niov - c->head.first) ? EV_CLOSE : EV_WAIT;
	return body_start(c, c->ufd, c->fd, true);
}

/* ---- completions --------------------------------------------------------------------- */

enum conn_ev proxy_complete(struct conn *c, int op, int res)
{
	switch (c->state) {
	case CS_CONTINUE:           /* "100 Continue" went out (conn.c checked res) */
		return op == OP_CLIENT_SEND ? proxy_connect(c) : EV_CLOSE;
	case CS_CONNECT:
		return op == OP_UP_CONNECT ? proxy_connected(c, res) : EV_CLOSE;
	case CS_REQ_HEAD:
		return op == OP_UP_SEND ? proxy_head_sent(c, res) : EV_CLOSE;
	case CS_REQ_BODY:
		return proxy_request_body(c, body_complete(c, op, res));
	case CS_RESP_HEAD:
		return op == OP_UP_RECV ? proxy_resp_received(c, res) : EV_CLOSE;
	case CS_RESP_INTERIM:
		return op == OP_CLIENT_SEND ? proxy_interim_sent(c, res) : EV_CLOSE;
	case CS_RESP_SEND:
		return op == OP_CLIENT_SEND ? proxy_resp_head_sent(c, res) : EV_CLOSE;
	case CS_RESP_BODY:
		return body_complete(c, op, res);
	default:
		return EV_CLOSE;
	}
}
