/* The client connection: its lifecycle (open, keep-alive, linger, close), the request
 * head (read, parse, normalize), the routing decision and the one place that acts on what
 * the role modules return (proxy.c, body.c, filesend.c, autostart.c), pages spliced makes
 * itself, the metrics page, the access log and the request probes.
 *
 * One exchange at a time per client connection (pipelined requests wait in the buffer
 * and are answered in order). Every completion arrives in conn_complete(), which hands it
 * to the role that owns the state and acts on the enum conn_ev it returns in conn_act():
 * EV_PAGE (a failure, or a page: conn_page()), EV_DONE (conn_finish()), EV_CLOSE. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "spliced/accesslog.h"
#include "spliced/authz.h"
#include "spliced/autostart.h"
#include "spliced/body.h"
#include "spliced/config.h"
#include "spliced/conn.h"
#include "spliced/exch.h"
#include "spliced/hbuf.h"
#include "spliced/file.h"
#include "spliced/filesend.h"
#include "spliced/headers.h"
#include "spliced/http.h"
#include "spliced/log.h"
#include "spliced/member.h"
#include "spliced/park.h"
#include "spliced/proxy.h"
#include "spliced/remoteip.h"
#include "spliced/proxyproto.h"
#include "spliced/rewrite.h"
#include "spliced/ring.h"
#include "spliced/route.h"
#include "spliced/slot.h"
#include "spliced/stats.h"
#include "spliced/status.h"
#include "spliced/tls.h"
#include "spliced/trace.h"
#include "spliced/tunnel.h"
#include "spliced/uri.h"
#include "spliced/worker.h"

static enum conn_ev conn_head_bytes(struct conn *c);
static void conn_request_end(struct conn *c);
static bool conn_park(struct conn *c);

/* ---- closing ---------------------------------------------------------------------- */

/* ---- the request's buffers (a slot of the worker's pool, src/hbuf.c) ------------------ */

void conn_buf_attach(struct conn *c, char *slot)
{
	c->buf = slot;
	c->rbuf = slot + CONN_SLOT_RBUF;
	c->loghead = slot + CONN_SLOT_LOGHEAD;
}

/* A slot taken from the pool directly (no receive selected one). 0 or -ENOMEM. */
static int conn_buf_get(struct conn *c)
{
	char *slot = hbuf_get(&c->w->hb);

	if (!slot) {   /* the connection closes: counted, and logged a line a second */
		stats_resource_error(&c->w->stats, STATS_RES_MEMORY, ENOMEM, c->w->now_ms,
				     "a request buffer (the worker's pool is empty or cannot grow)");
		return -ENOMEM;
	}
	conn_buf_attach(c, slot);
	return 0;
}

/* The slot goes back to the pool: the connection holds no bytes (nor may anything in
 * flight still write there). */
static void conn_buf_release(struct conn *c)
{
	hbuf_put(&c->w->hb, c->buf);
	c->buf = c->rbuf = c->loghead = NULL;
}

/* The client socket and the buffers. */
static void conn_free_io(struct conn *c)
{
	if (c->tsess)
		tls_c_close(c);   /* (the session owns the socket: close_notify, then FIN) */
	else if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	conn_buf_release(c);
	free(c->text);
	free(c->hdrbuf);
	c->text = c->hdrbuf = NULL;
}

/* Frees the slot once nothing is in flight; until then cancels what is. */
static void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	as_leave(c);
	slot_leave(c);
	c->state = CS_CLOSING;
	if (c->pending) {
		if (!c->cancel_sent) {
			c->cancel_sent = true;
			exch_cancel(c);
		}
		return;
	}
	body_release_pipe(c);
	proxy_drop_upstream(c);
	file_release(c->fent);
	c->fent = NULL;
	conn_request_end(c);
	TRACE_CONN_CLOSE(c->id, c->nreq);
	conn_free_io(c);
	/* the slot goes back to the worker's free list */
	c->state = CS_FREE;
	w->free_slots[w->nfree++] = c->idx;
	w->active--;
	if (c->metrics)
		w->metrics_active--;
}

/* Shuts our side, then reads and discards until the client closes too (or for
 * CONN_LINGER_MS), so a client still sending gets our response instead of a reset. */
static enum conn_ev conn_linger(struct conn *c)
{
	conn_request_end(c); /* the exchange ended with what was sent, not with the linger */
	body_release_pipe(c);
	proxy_drop_upstream(c);
	/* over TLS the session lingers the same way once the connection closes */
	if (c->tsess || shutdown(c->fd, SHUT_WR) < 0)
		return EV_CLOSE;
	c->state = CS_LINGER;
	c->timed_out = false;
	c->linger_bytes = 0;
	exch_touch(c, CONN_LINGER_MS);
	if (!c->buf && conn_buf_get(c) < 0)
		return EV_CLOSE;
	return exch_recv(c, OP_CLIENT_RECV, c->fd, c->buf, CONN_HEADROOM + CONN_HEAD_MAX)
		       ? EV_CLOSE : EV_WAIT;
}

static enum conn_ev conn_linger_recv(struct conn *c, int res)
{
	c->linger_bytes += res > 0 ? (uint64_t)res : 0;
	if (res <= 0 || c->linger_bytes > (1u << 20) ||
	    exch_recv(c, OP_CLIENT_RECV, c->fd, c->buf, CONN_HEADROOM + CONN_HEAD_MAX))
		return EV_CLOSE;
	return EV_WAIT;
}

static void conn_count_status(struct conn *c, unsigned status)
{
	c->status = (uint16_t)status;
	stats_count_status(&c->w->stats, status);
}

/* ---- pages spliced makes itself --------------------------------------------------- */

/* "Header always" rules (src/headers.c) for a response spliced makes: their fields are
 * added to the NUL-terminated hdr (cap bytes), as httpd adds them to an error response.
 * Fields that do not fit are left out (a page of ours is small by design). */
static void conn_page_headers(const struct conn *c, char *hdr, size_t cap)
{
	const struct config *cfg = c->w->cfg;
	size_t hl = strlen(hdr);
	ssize_t n;

	if (!cfg->headers.any[HDR_ALWAYS])
		return;
	n = headers_apply(&cfg->headers, &cfg->authz, HDR_ALWAYS, c->scope,
			  c->hdrbuf ? c->hdrbuf + CONN_HDRBUF : NULL, c->hdr_path_len, hdr + hl, 0,
			  cap - hl - 1);
	hdr[n < 0 ? hl : hl + (size_t)n] = '\0';
}

/* Answers with a short page made here, then closes the connection (lingering), unless
 * c->page_keep says the exchange ended cleanly (a static file error on a request without
 * a body) and the connection may serve the next request. extra: header fields to add
 * (may live in c->page). */
static enum conn_ev conn_send_page(struct conn *c, unsigned status, const char *extra)
{
	bool keep = c->page_keep;
	const char *text = http_status_text(status);
	const struct cfg_errdoc *doc = status >= 400 ? config_errdoc(c->w->cfg, c->scope, status)
						    : NULL;
	char body[CFG_PATH_MAX + 1];
	char hdr[sizeof(c->page)];
	enum conn_ev ev;
	int blen, n;

	snprintf(hdr, sizeof(hdr), "%s", extra ? extra : "");
	/* before any way out, a local ErrorDocument included */
	as_leave(c);
	slot_leave(c);
	body_release_pipe(c);
	proxy_drop_upstream(c);
	if (doc && doc->kind == CFG_ERRDOC_LOCAL && filesend_errdoc(c, status, doc->value, &ev))
		return ev;
	if (doc && doc->kind == CFG_ERRDOC_TEXT) {
		blen = snprintf(body, sizeof(body), "%s", doc->value);
	} else if (doc && doc->kind == CFG_ERRDOC_URL) {
		/* An absolute URL: the client is sent there, as httpd does. */
		snprintf(hdr, sizeof(hdr), "Location: %s\r\n", doc->value);
		status = 302;
		text = http_status_text(status);
		blen = snprintf(body, sizeof(body), "<!DOCTYPE html>\n<html><head><title>%u %s"
				"</title></head><body><h1>%s</h1></body></html>\n", status, text, text);
	} else {
		blen = snprintf(body, sizeof(body), "<!DOCTYPE html>\n<html><head><title>%u %s"
				"</title></head><body><h1>%s</h1></body></html>\n", status, text, text);
	}
	conn_page_headers(c, hdr, sizeof(hdr) - (size_t)blen - 256);
	n = snprintf(c->page, sizeof(c->page),
		     "HTTP/1.1 %u %s\r\nContent-Type: text/html; charset=utf-8\r\n"
		     "Content-Length: %d\r\n%s%s\r\n%s",
		     status, text, blen, hdr,
		     keep ? (c->req.version == 10 ? "Connection: keep-alive\r\n" : "")
			  : "Connection: close\r\n",
		     c->head_only ? "" : body);
	if (n < 0 || (size_t)n >= sizeof(c->page))
		return EV_CLOSE;
	conn_count_status(c, status);
	c->resp_started = true;
	c->timed_out = false;
	c->state = CS_ERROR;
	c->out_head_len += (uint64_t)n - (c->head_only ? 0 : (uint64_t)blen);
	c->page_len = (uint32_t)n;
	c->page_off = 0;
	exch_touch(c, exch_timeout_ms(c));
	return exch_send(c, OP_CLIENT_SEND, c->fd, c->page, c->page_len) ? EV_CLOSE : EV_WAIT;
}

static enum conn_ev conn_page_sent(struct conn *c, int res)
{
	enum conn_ev ev;

	if (exch_send_rest(c, c->page, res, false, &ev))
		return ev;
	if (!c->page_keep)
		return conn_linger(c);
	c->page_keep = false;
	return EV_DONE;
}

/* EV_PAGE: the exchange ends with c->fail_status (logged by whoever returned it): a page
 * if nothing was sent yet, else a close. */
static enum conn_ev conn_page(struct conn *c)
{
	unsigned status = c->fail_status;
	char hdr[sizeof(c->page)];

	memcpy(hdr, c->page, c->page_hdr);
	hdr[c->page_hdr] = '\0';
	c->page_hdr = 0;
	c->fail_status = 0;
	if (c->resp_started || status == 0) {
		if (!c->resp_started)
			conn_count_status(c, 0);
		return EV_CLOSE;
	}
	return conn_send_page(c, status, hdr);
}

/* ---- the exchange: start and end -------------------------------------------------- */

/* The per-exchange state, in one place: a connection's first exchange and every later
 * one start from the same values (a head timeout on the tenth request answers 408 as on
 * the first). */
static void conn_exchange_reset(struct conn *c)
{
	/* the client is the peer until a request says otherwise (conn_remote_ip) */
	memcpy(c->ip, c->peer_ip, sizeof(c->ip));
	c->from_proxy = false;
	c->xff_cut = false;
	c->head_started = false;
	c->timed_out = false;
	c->resp_started = false;
	c->keep_alive = false;
	c->head_only = false;
	c->page_keep = false;
	c->up_reused = false;
	c->up_reusable = false;
	c->retried = false;
	c->up_answered = false;
	c->ninterim = 0;
	c->up_resets = 0;
	c->body_streamed = false;
	c->early_response = false;
	c->wait_client = false;
	c->upgrade_len = 0;
	c->wait_until_ms = 0;
	c->slot_until_ms = 0;
	c->slot_waited = false;
	c->slot_tried = false;
	c->status = 0;
	c->fail_status = 0;
	c->page_hdr = 0;
	c->scope = 0;
	c->pass = NULL;
	c->pass_match = 0;
	c->has_host = false;
	c->host_len = 0;
	c->backend_name = "";
	c->state = CS_HEAD;
}

static uint64_t conn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The access log prints the request as received, but the head buffer is rewritten (the
 * request line in place) and reused (body bytes): keep a copy while logs are on. */
static void conn_log_keep_head(struct conn *c)
{
	uint32_t n = c->req.head_len;

	clock_gettime(CLOCK_REALTIME, &c->t_wall);
	memcpy(c->loghead, c->buf + c->start, n);
	c->logreq = c->req;
}

/* One line in each access log for the exchange that ends (the worker writes the buffers
 * out when they are due). */
static void conn_log_request(struct conn *c, uint64_t ns)
{
	struct worker *w = c->w;
	const struct config *cfg = w->cfg;
	struct alog_entry e = {
		.client_ip = c->ip,
		.peer_ip = c->peer_ip,
		.client_port = c->port,
		.local_port = c->server_port,
		.head = c->loghead,
		.req = c->logreq.head_len ? &c->logreq : NULL,
		.status = c->status,
		.body_out = c->bytes_out > c->out_head_len ? c->bytes_out - c->out_head_len : 0,
		.bytes_in = c->bytes_in,
		.bytes_out = c->bytes_out,
		.start = c->t_wall,
		.duration_ns = ns,
		.server_name = cfg->scope[c->scope].server_name,
		.tls_protocol = c->tls.protocol,
		.tls_cipher = c->tls.cipher,
	};

	for (unsigned i = 0; i < cfg->ncustomlog; i++)
		alog_buf_log(&w->alog[i], &cfg->customlog[i].fmt, &e);
}

/* A parsed request starts: its clock, its byte counts, its probe. */
static void conn_request_begin(struct conn *c)
{
	const char *head = c->buf + c->start;
	bool host = c->req.has_host || c->req.absolute_form;

	c->in_request = true;
	c->t_start_ns = conn_now_ns();
	c->bytes_in = c->req.head_len;
	c->bytes_out = 0;
	c->out_head_len = 0;
	/* the status page's slowest requests read the copy too: forwarding rewrites the
	 * request line in place */
	if (c->w->cfg->ncustomlog || !c->w->cfg->status_brief)
		conn_log_keep_head(c);
	c->backend_name = "";
	TRACE_REQUEST_START(c->id, head + c->req.method.off, c->req.method.len,
			    head + c->req.target.off, c->req.target.len,
			    host ? head + c->req.host.off : NULL);
}

/* The status page's slowest requests (src/status.c): what the request asked for. */
static void conn_slow_note(struct conn *c, uint64_t ns)
{
	const struct http_request *r = &c->logreq;

	if (!c->loghead || !r->head_len)  /* the parser refused the head */
		return;
	status_slow_note(&c->w->slow, c->w->now_ms, ns, c->status, c->loghead + r->method.off,
			 r->method.len, c->has_host ? c->host : NULL, c->host_len,
			 c->loghead + r->path.off, r->path.len, c->backend_name);
}

/* The exchange is over (answered, or abandoned): latency, probe. */
static void conn_request_end(struct conn *c)
{
	uint64_t ns;

	if (!c->in_request)
		return;
	c->in_request = false;
	member_done(c);
	if (c->inflight_be) {
		c->w->be_inflight[c->inflight_be - 1]--;
		c->inflight_be = 0;
	}
	ns = conn_now_ns() - c->t_start_ns;
	if (c->tunneled)
		tunnel_end(c); /* its latency was the time to the switch */
	else
		stats_latency(&c->w->stats, ns);
	if (!c->w->cfg->status_brief)
		conn_slow_note(c, ns);
	if (c->w->cfg->ncustomlog)
		conn_log_request(c, ns);
	TRACE_REQUEST_END(c->id, c->status, c->bytes_in, c->bytes_out, ns, c->backend_name);
}

/* A request the parser refused: logged and timed like any exchange, with "-" for what
 * could not be read. */
static enum conn_ev conn_parse_error(struct conn *c, unsigned status, const char *reason)
{
	c->in_request = true;
	c->t_start_ns = conn_now_ns();
	clock_gettime(CLOCK_REALTIME, &c->t_wall);
	c->bytes_in = c->end - c->start;
	c->bytes_out = 0;
	c->out_head_len = 0;
	c->logreq.head_len = 0;
	c->backend_name = "";
	/* A response to HEAD has no body, also when the head could not be parsed (RFC 9110
	 * 9.3.2): the method is the first token whatever comes after it. */
	c->head_only = c->end - c->start >= 5 && memcmp(c->buf + c->start, "HEAD ", 5) == 0;
	c->page_keep = false;
	c->resp_started = false;
	exch_count_parse_error(c, reason);
	TRACE_PARSE_ERROR(c->id, status, reason);
	return exch_refuse(c, status, "bad request: %s", reason);
}

/* Reload: the idle client connection goes to the successor worker (the new
 * configuration), which reads its next request; here its slot is freed. */
static void conn_handoff(struct conn *c)
{
	struct conn_origin o = { .fd = c->fd, .server_port = c->server_port,
				 .metrics = c->metrics, .carried = c->pp_carried, .port = c->port,
				 .nreq = c->nreq, .tls = c->tls,
				 .idle_since_ms = exch_idle_since(c->deadline_ms,
								  c->w->cfg->keepalive_timeout_ms) };

	c->w->handed++;
	/* the client a PROXY header named stays the client: no header comes again */
	if (c->pp_carried)
		memcpy(o.ip, c->peer_ip, sizeof(o.ip));
	if (c->tsess)   /* over TLS its session goes too, once nothing of it is in flight */
		tls_c_export(c, &o);
	else
		worker_handoff(c->w->successor, &o);
	c->fd = -1;
	conn_close(c);
}

/* The exchange is over: the backend connection goes back to the pool if it can, the
 * client connection waits for (or already holds) the next request. */
static enum conn_ev conn_finish(struct conn *c)
{
	struct worker *w = c->w;
	uint32_t left;

	conn_request_end(c);
	body_release_pipe(c);
	proxy_release(c);
	c->nreq++;
	if (!c->keep_alive || w->stopping)
		return conn_linger(c);
	/* Keep the pipelined bytes that follow, at the front, with headroom again; with none,
	 * the buffers go back to the pool while the connection waits (unless an operation
	 * still in flight may write there: then at the next request's end). */
	left = c->end - c->next;
	if (left)
		memmove(c->buf + CONN_HEADROOM, c->buf + c->next, left);
	else if (!c->pending)
		conn_buf_release(c);
	c->start = c->scanned = CONN_HEADROOM;
	c->end = CONN_HEADROOM + left;
	free(c->text);
	c->text = NULL;
	free(c->hdrbuf);
	c->hdrbuf = NULL;
	conn_exchange_reset(c);
	if (w->retiring && !left && !c->pending) {
		conn_handoff(c);
		return EV_WAIT;
	}
	exch_touch(c, w->cfg->keepalive_timeout_ms);
	if (!left && conn_park(c))
		return EV_WAIT;
	if (w->retiring && !left) {
		/* an operation of the exchange is still finishing: the connection waits for
		 * its next request here, and goes over once that is done */
		enum conn_ev ev = conn_head_bytes(c);

		if (ev == EV_WAIT)
			conn_retire_if_idle(c);
		return ev;
	}
	return conn_head_bytes(c);
}

/* The one place that acts on what a step returned. */
static void conn_act(struct conn *c, enum conn_ev ev)
{
	for (;;) {
		switch (ev) {
		case EV_WAIT:
			return;
		case EV_CLOSE:
			conn_close(c);
			return;
		case EV_PAGE:
			ev = conn_page(c);
			break;
		case EV_DONE:
			ev = conn_finish(c);
			break;
		}
	}
}

/* ---- the request head ------------------------------------------------------------- */

int conn_peer_name(int fd, char *ip, size_t iplen, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

		if (!inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)iplen))
			return -errno;
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		if (!inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)iplen))
			return -errno;
		*port = ntohs(s4->sin_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* Without a buffer (no bytes held) the receive selects a slot from the worker's ring
 * only once bytes arrive, so that an idle connection holds none. */
static enum conn_ev conn_read_head(struct conn *c)
{
	uint32_t room = CONN_HEADROOM + CONN_HEAD_MAX - c->end;

	c->state = CS_HEAD;
	if (!c->buf && hbuf_ring_on(&c->w->hb))
		return exch_recv_select(c, OP_CLIENT_RECV, c->fd, CONN_HEAD_MAX, HBUF_GROUP)
			       ? EV_CLOSE : EV_WAIT;
	if (!c->buf && conn_buf_get(c) < 0)
		return EV_CLOSE;
	return exch_recv(c, OP_CLIENT_RECV, c->fd, c->buf + c->end, room) ? EV_CLOSE : EV_WAIT;
}

/* A slab slot made ready for the connection on fd: nothing of a previous one left. */
static void conn_slot_clear(struct worker *w, struct conn *c, int fd, uint16_t server_port)
{
	memset(c, 0, offsetof(struct conn, head));
	memset(&c->body, 0, sizeof(c->body));
	memset(&c->tun, 0, sizeof(c->tun));
	c->w = w;
	c->idx = (uint32_t)(c - w->conns);
	c->fd = fd;
	c->ufd = -1;
	c->server_port = server_port;
	c->text = NULL;
	c->buf = c->rbuf = c->loghead = NULL;   /* lent when bytes arrive */
}

int conn_open(struct worker *w, struct conn *c, const struct conn_origin *o)
{
	int fd = o->fd;
	uint16_t server_port = o->server_port;
	int ret;

	conn_slot_clear(w, c, fd, server_port);
	/* The client's address goes into X-Forwarded-For and the logs: a connection whose
	 * peer cannot be named (reset before we got here) is not served. */
	/* over TLS, fd is our end of a socketpair: the client's address came with it */
	ret = o->tls.on ? 0 : conn_peer_name(fd, c->peer_ip, sizeof(c->peer_ip), &c->port);
	if (ret < 0) {
		log_info("proxy", "a connection closed before its address could be read: %s",
			 strerror(-ret));
		close(fd);
		return ret;
	}
	if (o->carried) {
		/* handed over at a reload: its PROXY header was read by the previous worker */
		memcpy(c->peer_ip, o->ip, sizeof(c->peer_ip));
		c->port = o->port;
	}
	conn_exchange_reset(c);
	c->in_request = false;
	c->id = ((uint64_t)w->id << 48) | ++w->conn_seq;
	/* With RemoteIPProxyProtocol the client is known once the PROXY header is read: the
	 * probe waits for it */
	c->pp_carried = o->carried;
	c->tls = o->tls;
	c->tsess = o->tsess;
	c->metrics = false;       /* the worker sets it (a previous one's must not count) */
	c->pp_wait = !o->carried && config_proxy_protocol(w->cfg, server_port) &&
		     !config_proxy_exception(w->cfg, server_port, c->ip);
	if (!c->pp_wait)
		TRACE_CONN_OPEN(c->id, c->ip, c->port);
	c->start = c->end = c->scanned = CONN_HEADROOM;
	c->rt_start_ms = w->now_ms;
	c->rt_bytes = 0;
	c->nreq = o->nreq;
	if (c->nreq)   /* handed over between two requests: it waits as a keep-alive one */
		exch_touch_idle(c, o->idle_since_ms);
	else
		exch_touch_client(c, &w->cfg->rt_header);
	conn_act(c, conn_read_head(c));
	return 0;
}

/* ---- parking (src/park.c) ----------------------------------------------------------- */

/* The exchange is over, nothing is held or in flight: the connection leaves its slab slot
 * for a parked record until its next request's bytes come. False when it cannot (then
 * it waits here as before). */
static bool conn_park(struct conn *c)
{
	struct worker *w = c->w;
	struct conn_park *k;

	if (!hbuf_ring_on(&w->hb) || c->buf || c->pending || c->metrics || c->pp_wait ||
	    c->ufd >= 0 || c->fent || c->text || c->hdrbuf || c->slot_held || c->waiting ||
	    c->slot_waiting || c->handoff)
		return false;
	k = park_get(&w->park);
	if (!k)
		return false;
	k->fd = c->fd;
	k->tsess = c->tsess;
	k->server_port = c->server_port;
	k->port = c->port;
	k->pp_carried = c->pp_carried;
	k->tls = c->tls;
	k->nreq = c->nreq;
	k->id = c->id;
	k->deadline_ms = c->deadline_ms;
	memcpy(k->peer_ip, c->peer_ip, sizeof(k->peer_ip));
	if (park_wait(w, k) < 0)
		return false;
	/* the slot goes back to the worker's free list; the connection stays open (active) */
	c->fd = -1;
	c->tsess = 0;
	c->state = CS_FREE;
	w->free_slots[w->nfree++] = c->idx;
	return true;
}

void conn_unpark(struct worker *w, const struct conn_park *k, char *slot, int res)
{
	struct conn *c;

	if (!w->nfree) {   /* cannot happen: a slot per connection counted in active */
		hbuf_put(&w->hb, slot);
		if (k->tsess)
			tls_k_close(w, k->tsess);
		else
			close(k->fd);
		w->active--;
		return;
	}
	c = &w->conns[w->free_slots[--w->nfree]];
	conn_slot_clear(w, c, k->fd, k->server_port);
	memcpy(c->peer_ip, k->peer_ip, sizeof(c->peer_ip));
	c->port = k->port;
	c->pp_carried = k->pp_carried;
	c->tls = k->tls;           /* (not the slot's previous connection's) */
	c->tsess = k->tsess;
	c->pp_wait = false;
	c->metrics = false;       /* (a previous connection's in this slot must not count) */
	c->in_request = false;
	c->nreq = k->nreq;
	c->id = k->id;
	c->deadline_ms = k->deadline_ms;
	conn_exchange_reset(c);
	c->start = c->end = c->scanned = CONN_HEADROOM;
	c->rt_start_ms = w->now_ms;
	if (slot)
		conn_buf_attach(c, slot);
	conn_complete(c, OP_CLIENT_RECV, res);
}

static bool conn_wants_keep_alive(const struct conn *c)
{
	const struct config *cfg = c->w->cfg;
	const struct http_request *req = &c->req;

	if (!cfg->keepalive || req->conn_close || c->w->stopping)
		return false;
	if (cfg->max_keepalive_requests && c->nreq + 1 >= cfg->max_keepalive_requests)
		return false;
	return req->version == 11 || req->conn_keep_alive;
}

/* Routes and forwards the normalized path (see http_path_normalize()), so that no
 * spelling of a path can slip past a ProxyPass prefix or exclusion. The result is moved
 * to end where the path ended: the query and version after it stay in place for the
 * in-place request line rewrite. */
static int conn_normalize_path(struct conn *c)
{
	char *p = c->buf + c->start + c->req.path.off;
	ssize_t n = http_path_normalize(p, c->req.path.len);

	if (n < 0)
		return -1;
	memmove(p + c->req.path.len - (size_t)n, p, (size_t)n);
	c->req.path.off += c->req.path.len - (uint32_t)n;
	c->req.path.len = (uint32_t)n;
	return 0;
}

/* RemoteIPHeader: the request's client address stays the peer's, or, when the peer is a
 * trusted proxy, becomes what httpd's mod_remoteip finds in the last X-Forwarded-For field
 * (src/remoteip.c). An unusable value leaves the peer's address and says why at debug. */
static void conn_remote_ip(struct conn *c)
{
	const struct rip_conf *rc = &c->w->cfg->remoteip;
	const char *head = c->buf + c->start;
	const struct http_field *xff = NULL;
	struct rip_result r;
	uint8_t peer[16];

	if (!rc->on || rip_parse_addr(c->peer_ip, strlen(c->peer_ip), peer) < 0 ||
	    !rip_find(rc, peer))
		return;
	c->from_proxy = true;
	for (unsigned i = 0; i < c->req.nnoted; i++)
		if (c->req.noted[i].kind == HTTP_F_X_FORWARDED_FOR &&
		    (!xff || c->req.noted[i].line.off > xff->line.off))
			xff = &c->req.noted[i];
	if (!xff)
		return;
	if (rip_resolve(rc, peer, head + xff->value.off, xff->value.len, &r) == 1) {
		memcpy(c->ip, r.ip, sizeof(c->ip));
		c->xff_cut = true;
		c->xff_keep = r.keep;
		TRACE_REMOTE_IP(c->id, c->ip, c->peer_ip);
	}
	if (r.stop)
		log_debug("proxy", "[client %s:%u] X-Forwarded-For from a trusted proxy: stopped "
			  "at %s; the client is %s", c->peer_ip, c->port, r.stop, c->ip);
}

/* The host of the request, decided once (see struct conn), copied out of the head before
 * anything rewrites it. */
static void conn_take_host(struct conn *c)
{
	uint32_t n = c->req.host.len < sizeof(c->host) ? c->req.host.len : sizeof(c->host);

	c->has_host = c->req.has_host;
	c->host_len = c->has_host ? (uint16_t)n : 0;
	memcpy(c->host, c->buf + c->start + c->req.host.off, c->host_len);
}

/* RewriteRule's %{HTTP:Name}: the first field of that name in the current head (Host:
 * the request's host). */
static const char *conn_header(void *opaque, const char *name, size_t nlen, size_t *vlen)
{
	const struct conn *c = opaque;

	if (nlen == 4 && strncasecmp(name, "host", 4) == 0) {
		*vlen = c->host_len;
		return c->has_host ? c->host : NULL;
	}
	return http_field_value(c->buf + c->start, &c->req, name, nlen, vlen);
}

/* Makes out[0..len) the request-target: "METHOD out HTTP/1.x" is written so that it ends
 * where the request line ended (reaching into the headroom when longer), and the head is
 * parsed again from there, so every span, check and later step sees the new target
 * exactly as if the client had sent it. Returns 0, or the status to answer. */
static unsigned conn_set_target(struct conn *c, const char *out, size_t len)
{
	char *head = c->buf + c->start;
	uint32_t ml = c->req.method.len;
	/* " HTTP/1.x\r\n" stays where it is, at the end of the old line. */
	long nl = (long)ml + 1 + (long)len + 11;
	long start = (long)c->req.fields_off - nl;

	if ((long)c->start + start < 0)
		return 414;
	memmove(head + start, head + c->req.method.off, ml);
	head[start + ml] = ' ';
	memcpy(head + start + ml + 1, out, len);
	c->start = (uint32_t)((long)c->start + start);
	if (http_parse_request(c->buf + c->start, c->end - c->start, &c->w->lim, &c->req) <= 0)
		return c->req.status == 414 ? 414 : 500;
	return 0;
}

/* The target sent upstream is always a valid URI: bytes our parser takes raw in a query
 * ([ ] { } | ^ \ `, which browsers send) are escaped on the way out. 0, or the status to
 * answer. */
static unsigned conn_escape_query(struct conn *c)
{
	const char *head = c->buf + c->start;
	uint32_t plen = c->req.path.len;
	ssize_t n;

	if (!c->req.has_query || !uri_query_unsafe(head + c->req.query.off, c->req.query.len))
		return 0;
	if (plen + 1 > CONN_RESP_MAX)
		return 414;
	n = uri_escape_query_unsafe(head + c->req.query.off, c->req.query.len,
				    c->rbuf + plen + 1, CONN_RESP_MAX - plen - 1);
	if (n < 0)
		return 414;
	memcpy(c->rbuf, head + c->req.path.off, plen);
	c->rbuf[plen] = '?';
	return conn_set_target(c, c->rbuf, plen + 1 + (size_t)n);
}

/* Carries out the routing decision. */
static enum conn_ev conn_server_status(struct conn *c);

static enum conn_ev conn_route_act(struct conn *c, const struct route *rt)
{
	const char *path;
	enum conn_ev ev;
	unsigned st;

	c->scope = rt->scope;
	TRACE_REWRITE(c->id, rt->rule, (int)rt->rewrite, rt->scope);
	if (rt->target) {
		st = conn_set_target(c, rt->target, rt->target_len);
		if (st)
			return exch_fail(c, st, "RewriteRule %d: %s target %.200s not usable", rt->rule,
					 rt->rewrite == RW_PROXY ? "proxy" : "rewritten", rt->target);
	}
	path = c->buf + c->start + c->req.path.off;
	switch (rt->kind) {
	case ROUTE_PROXY:
		if (rt->pass) {
			c->pass = rt->pass;
			c->pass_match = rt->match;
		} else {
			memset(&c->rwpass, 0, sizeof(c->rwpass));
			c->rwpass.backend = rt->backend;
			c->pass = &c->rwpass;
			c->pass_match = 0;
		}
		st = conn_escape_query(c);
		if (st)
			return exch_fail(c, st, "target too long once its query is escaped");
		if (config_balancer(c->w->cfg, c->pass->backend)) {
			if (!member_choose(c, &ev))
				return ev;
		} else if (c->pass->backend >= 0 && c->pass->backend < CFG_MAX_BACKENDS) {
			/* (a pool's members count theirs: member.c) */
			c->inflight_be = (uint8_t)(c->pass->backend + 1);
			c->w->be_inflight[c->pass->backend]++;
		}
		return proxy_start(c);
	case ROUTE_FILE:
		if (rt->file)
			return filesend_path(c, rt->root, rt->file, rt->file_len);
		return filesend_url(c, rt->root, rt->rel);
	case ROUTE_REDIRECT:
		if (strlen(rt->location) + 13 > sizeof(c->page) - 512)
			return exch_fail(c, 500, "RewriteRule %d: Location too long", rt->rule);
		c->page_hdr = (uint16_t)snprintf(c->page, sizeof(c->page), "Location: %s\r\n",
						 rt->location);
		c->page_keep = c->keep_alive && c->req.framing == HTTP_FRAMING_NONE;
		c->next = c->start + c->req.head_len;
		c->fail_status = rt->status;
		return EV_PAGE;
	case ROUTE_HANDLER:
		return conn_server_status(c);
	case ROUTE_STATUS:
	default:
		if (rt->malformed) {
			exch_count_parse_error(c, rt->why);
			return exch_refuse(c, rt->status, "bad request: path %.*s cannot be decoded "
					   "for the rewrite rules", (int)c->req.path.len, path);
		}
		if (!rt->why)
			return exch_fail(c, rt->status, "RewriteRule %d: status %u", rt->rule,
					 rt->status);
		if (rt->rule >= 0)
			return exch_fail(c, rt->status, "RewriteRule %d: %s", rt->rule, rt->why);
		return exch_fail(c, rt->status, "%s %.*s", rt->why, (int)c->req.path.len, path);
	}
}

/* The client address the access rules see: the peer of the connection, or the client a
 * trusted proxy named (conn_remote_ip, run before), as httpd's Require ip with
 * mod_remoteip. */
static const char *conn_client_addr(const struct conn *c)
{
	return c->ip;
}

/* <Location> access rules (src/authz.c) on the normalized path, and, when a RewriteRule
 * rewrote it to another URL-path, on that path too (normalized the same way): both must
 * grant. True when the request is denied; *loc: the deciding section. */
static bool conn_authz_denied(const struct conn *c, const struct rw_input *in,
			      const struct route *rt, int *loc)
{
	const struct authz *az = &c->w->cfg->authz;
	struct authz_result res;
	size_t n;
	ssize_t nn;
	char *p;

	authz_decide(az, rt->scope, in->path, in->path_len, conn_client_addr(c), &res);
	*loc = res.loc;
	if (res.denied || !rt->target || rt->rewrite != RW_URL)
		return res.denied;
	n = strcspn(rt->target, "?");
	if (n > rt->target_len)
		n = rt->target_len;
	p = malloc(n + 1);
	if (!p)
		return true;
	memcpy(p, rt->target, n);
	nn = http_path_normalize(p, n);
	if (nn < 0) {
		free(p);
		return true;
	}
	authz_decide(az, rt->scope, p, (size_t)nn, conn_client_addr(c), &res);
	free(p);
	*loc = res.loc;
	return res.denied;
}

/* 403 from spliced: the request goes nowhere. The connection is kept when no body
 * follows the head. */
static enum conn_ev conn_forbid(struct conn *c, int loc)
{
	const struct authz_loc *l = loc >= 0 ? &c->w->cfg->authz.loc[loc] : NULL;

	c->w->stats.authz_denied++;
	c->page_keep = c->keep_alive && c->req.framing == HTTP_FRAMING_NONE;
	c->next = c->start + c->req.head_len;
	return exch_refuse(c, 403, "client denied by server configuration: %.*s "
			   "(<Location %s> line %u)", (int)c->req.path.len,
			   c->buf + c->start + c->req.path.off, l ? l->prefix : "?", l ? l->line : 0);
}

/* An allocation for this request failed: 503 (a shortage passes, the request may be
 * tried again), counted and logged (a line a second), and the connection closes. */
static enum conn_ev conn_out_of_memory(struct conn *c, const char *what)
{
	stats_resource_error(&c->w->stats, STATS_RES_MEMORY, ENOMEM, c->w->now_ms, what);
	c->keep_alive = false;
	return exch_fail(c, 503, "out of memory for %s", what);
}

/* Header/RequestHeader are configured: c->hdrbuf for the exchange, with the path its
 * <Location> sections are matched on (the normalized path, or the one a RewriteRule
 * rewrote it to, normalized) kept behind the room for a head. 0, or -ENOMEM. */
static int conn_headers_begin(struct conn *c, const struct rw_input *in, const struct route *rt)
{
	const char *path = in->path;
	size_t len = in->path_len;
	ssize_t n;

	if (rt->target && rt->rewrite == RW_URL) {
		path = rt->target;
		len = strcspn(rt->target, "?");
		if (len > rt->target_len)
			len = rt->target_len;
	}
	free(c->hdrbuf);
	c->hdrbuf = malloc(CONN_HDRBUF + len + 1);
	if (!c->hdrbuf)
		return -ENOMEM;
	memcpy(c->hdrbuf + CONN_HDRBUF, path, len);
	n = path == in->path ? (ssize_t)len : http_path_normalize(c->hdrbuf + CONN_HDRBUF, len);
	c->hdr_path_len = n < 0 ? (uint32_t)len : (uint32_t)n;
	return 0;
}

static enum conn_ev conn_metrics(struct conn *c);

/* A parsed request: what it asks for. */
static enum conn_ev conn_dispatch(struct conn *c)
{
	struct worker *w = c->w;
	const char *head = c->buf + c->start;
	uint32_t line_len;
	struct route rt;
	struct rw_input in;
	int loc;

	if (c->metrics)
		return conn_metrics(c);
	if (c->req.meth == HTTP_METHOD_CONNECT)
		return exch_refuse(c, 501, "CONNECT is not supported");
	if (c->req.asterisk_form) {
		c->page_hdr = (uint16_t)snprintf(c->page, sizeof(c->page), "Allow: GET, HEAD, POST, "
						 "PUT, DELETE, OPTIONS, PATCH\r\n");
		c->fail_status = 200;
		return EV_PAGE;
	}
	/* %{THE_REQUEST} is the request line as the client sent it: kept before the path is
	 * normalized in place (the rewrite rules read it from there). */
	line_len = c->req.fields_off - 2;
	if (line_len > CONN_RESP_MAX / 2)
		line_len = CONN_RESP_MAX / 2; /* only with LimitRequestLine above 16 KiB */
	if (w->cfg->rw.nrule)
		memcpy(c->rbuf + CONN_RESP_MAX / 2, head, line_len);
	if (conn_normalize_path(c) < 0) {
		exch_count_parse_error(c, "path climbs above the root");
		return exch_refuse(c, 400, "bad request: path %.*s climbs above the root or is "
				   "malformed", (int)c->req.target.len, head + c->req.target.off);
	}
	if (uri_dot_params(head + c->req.path.off, c->req.path.len)) {
		exch_count_parse_error(c, "dot segment with parameters");
		return exch_refuse(c, 400, "bad request: path %.*s has a dot segment with "
				   "parameters", (int)c->req.target.len, head + c->req.target.off);
	}
	in = (struct rw_input){
		.method = head + c->req.method.off, .method_len = c->req.method.len,
		.path = head + c->req.path.off, .path_len = c->req.path.len,
		.query = head + c->req.query.off, .query_len = c->req.query.len,
		.has_query = c->req.has_query,
		.host = c->has_host ? c->host : NULL,
		.host_len = c->host_len,
		.request_line = c->rbuf + CONN_RESP_MAX / 2, .request_line_len = line_len,
		.remote_addr = c->ip, .remote_addr_len = strlen(c->ip),
		.remote_port = c->port, .server_port = c->server_port,
		.https = c->tls.on,
		.header = conn_header, .opaque = c,
		.dst = c->rbuf, .dst_cap = CONN_RESP_MAX / 2,
	};
	if (tls_sni_without_host(&c->tls, in.host, in.host_len))
		return exch_refuse(c, 400, "bad request: the client named a host by SNI, but the "
				   "request names none (no Host)");
	/* (a session made before a reload numbered its sections in the old configuration:
	 * not compared) */
	if (c->tls.gen == (uint32_t)w->gen &&
	    tls_host_misdirected(w->cfg, &c->tls, c->server_port, in.host, in.host_len))
		return exch_fail(c, 421, "Host %.*s selects a <VirtualHost> whose SSL settings are "
				 "not those the SNI name's gave the session", (int)in.host_len,
				 in.host ? in.host : "");
	route_request(w->cfg, w->files, w->rw, &in, &rt);
	if (w->cfg->headers.n && conn_headers_begin(c, &in, &rt) < 0)
		return conn_out_of_memory(c, "the Header rules");
	if (w->cfg->authz.nloc && conn_authz_denied(c, &in, &rt, &loc))
		return conn_forbid(c, loc);
	return conn_route_act(c, &rt);
}

static enum conn_ev conn_head_ready(struct conn *c)
{
	struct worker *w = c->w;
	int ret = http_parse_request(c->buf + c->start, c->end - c->start, &w->lim, &c->req);

	if (ret == -2) {
		/* http_head_end() saw the end, so the parser cannot need more: only a full buffer
		 * gets here, and that is a head too large. */
		c->req.status = 431;
		c->req.reason = "request head too large";
		ret = -1;
	}
	if (ret < 0)
		return conn_parse_error(c, c->req.status ? c->req.status : 400,
					c->req.reason ? c->req.reason : "malformed head");
	w->stats.requests++;
	conn_request_begin(c);
	c->head_only = c->req.meth == HTTP_METHOD_HEAD;
	c->keep_alive = conn_wants_keep_alive(c);
	conn_take_host(c);
	conn_remote_ip(c);
	return conn_dispatch(c);
}

/* New head bytes arrived (or, for a pipelined request, were already there). */
static enum conn_ev conn_head_bytes(struct conn *c)
{
	uint32_t have;
	ssize_t hl;

	if (!c->buf)   /* no bytes held: wait for some */
		return conn_read_head(c);
	/* RFC 9112 2.2: a server SHOULD ignore empty lines before a request line (clients
	 * add one after a body); at most two, so this cannot be used to stall us. */
	for (int k = 0; k < 2 && !c->head_started && c->end - c->start >= 2 &&
			c->buf[c->start] == '\r' && c->buf[c->start + 1] == '\n'; k++) {
		c->start += 2;
		c->scanned = c->start;
	}
	have = c->end - c->start;
	hl = http_head_end(c->buf + c->start, have, c->scanned - c->start);
	if (!c->head_started && have) {
		c->head_started = true;
		/* RequestReadTimeout header=: from accept for the first request, from its
		 * first byte for a later one (the idle time before is KeepAliveTimeout's) */
		if (c->nreq)
			c->rt_start_ms = c->w->now_ms;
	}
	if (have) {
		c->rt_bytes = have;
		exch_touch_client(c, &c->w->cfg->rt_header);
	}
	c->scanned = c->end;
	if (hl == 0 && have < CONN_HEAD_MAX)
		return conn_read_head(c);
	return conn_head_ready(c);
}

/* ---- the PROXY protocol header (RemoteIPProxyProtocol) ------------------------------ */

/* A connection without a valid PROXY header is closed without a response: what it sent
 * is not HTTP to us, and a balancer that lost its header must not be answered as if the
 * client were the balancer. Counted with the parse errors, by reason. */
static enum conn_ev conn_pp_fail(struct conn *c, const char *reason)
{
	exch_count_parse_error(c, reason);
	log_info("proxy", "[client %s:%u] %s: connection closed", c->ip, c->port, reason);
	return EV_CLOSE;
}

/* Bytes at buf[start..end) on a connection whose PROXY header is still to come. */
static enum conn_ev conn_pp_bytes(struct conn *c)
{
	struct pp_info pi;
	ssize_t n = pp_parse(c->buf + c->start, c->end - c->start, &pi);
	uint32_t left;

	if (n == -2)
		return conn_read_head(c);
	if (n < 0)
		return conn_pp_fail(c, pi.reason);
	c->pp_wait = false;
	if (!pi.local) {
		log_debug("proxy", "[client %s:%u] PROXY v%u header: client %s:%u", c->ip, c->port,
			  pi.version, pi.ip, pi.port);
		memcpy(c->ip, pi.ip, sizeof(c->ip));
		/* the connection's peer from now on (RemoteIPHeader starts from it, and every
		 * request of the connection resets the client to it) */
		memcpy(c->peer_ip, pi.ip, sizeof(c->peer_ip));
		c->port = pi.port;
		c->pp_carried = true;
	}
	TRACE_CONN_OPEN(c->id, c->ip, c->port);
	/* the request follows at the front of the buffer, with its headroom */
	left = c->end - c->start - (uint32_t)n;
	memmove(c->buf + CONN_HEADROOM, c->buf + c->start + n, left);
	c->start = c->scanned = CONN_HEADROOM;
	c->end = CONN_HEADROOM + left;
	if (!left)
		return conn_read_head(c);
	return conn_head_bytes(c);
}

/* A receive on a connection that owes a PROXY header. */
static enum conn_ev conn_pp_recv(struct conn *c, int res)
{
	if (res <= 0)
		return c->end > c->start ? conn_pp_fail(c, "closed in the middle of a PROXY header")
					 : EV_CLOSE;
	c->end += (uint32_t)res;
	return conn_pp_bytes(c);
}

static enum conn_ev conn_head_recv(struct conn *c, int res)
{
	/* the ring had no slot left when the bytes came: take one from the pool */
	if (res == -ENOBUFS && !c->buf)
		return conn_buf_get(c) < 0 ? EV_CLOSE : conn_read_head(c);
	if (c->pp_wait && c->metrics) {
		/* the metrics listener never takes a PROXY header (conn_open() cannot tell it
		 * from a Listen one: the worker says so after) */
		c->pp_wait = false;
		TRACE_CONN_OPEN(c->id, c->ip, c->port);
	}
	if (c->pp_wait)
		return conn_pp_recv(c, res);
	if (res < 0 && c->timed_out && c->head_started)
		return exch_refuse(c, 408, "timed out reading the request head");
	if (res <= 0) {
		if (c->head_started && res == 0)
			log_info("proxy", "[client %s:%u] closed in the middle of a request head",
				 c->ip, c->port);
		return EV_CLOSE;
	}
	c->end += (uint32_t)res;
	return conn_head_bytes(c);
}

/* ---- the metrics page --------------------------------------------------------------- */

/* GET /health: 200 while serving, 503 from the moment a graceful stop begins (the
 * metrics listener keeps accepting until the exchanges in flight are over, see
 * worker_stop_metrics()), so a balancer that checks it stops sending before we close. A
 * reload is not a stop: the new workers answer 200. */
static enum conn_ev conn_health(struct conn *c)
{
	bool up = !c->w->stopping;
	const char *body = up ? "ok\n" : "stopping\n";
	int n;

	c->text = malloc(256);
	if (!c->text)
		return conn_out_of_memory(c, "the health page");
	n = snprintf(c->text, 256, "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
		     "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n%s",
		     up ? "200 OK" : "503 Service Unavailable", strlen(body), body);
	c->keep_alive = false;
	conn_count_status(c, up ? 200 : 503);
	c->resp_started = true;
	c->fhead = c->text;
	c->out_head_len += (uint64_t)n - strlen(body);
	c->page_len = (uint32_t)n - (c->head_only ? (uint32_t)strlen(body) : 0);
	c->page_off = 0;
	c->state = CS_METRICS;
	exch_touch(c, exch_timeout_ms(c));
	return exch_send(c, OP_CLIENT_SEND, c->fd, c->fhead, c->page_len) ? EV_CLOSE : EV_WAIT;
}

/* Sends the page rendered in t after its first CONN_TEXT_HEAD bytes (kept for the response
 * head), of type ctype (a header line's value and, with extra, more header lines); t->p
 * becomes the connection's. The connection closes after it, as after the metrics page. */
enum { CONN_TEXT_HEAD = 384 };
static enum conn_ev conn_text_send(struct conn *c, struct stats_text *t, const char *ctype,
				   const char *extra, const char *what)
{
	char head[CONN_TEXT_HEAD];
	size_t blen;
	int hl;

	if (t->failed) {
		free(t->p);
		return conn_out_of_memory(c, what);
	}
	blen = t->len - CONN_TEXT_HEAD;
	hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%s"
		      "Content-Length: %zu\r\nConnection: close\r\n\r\n", ctype, extra, blen);
	memcpy(t->p + CONN_TEXT_HEAD - hl, head, (size_t)hl);
	c->text = t->p;
	c->keep_alive = false;
	conn_count_status(c, 200);
	c->resp_started = true;
	c->fhead = t->p + CONN_TEXT_HEAD - hl;
	c->out_head_len += (uint64_t)hl;
	c->page_len = (uint32_t)hl + (c->head_only ? 0 : (uint32_t)blen);
	c->page_off = 0;
	c->state = CS_METRICS;
	exch_touch(c, exch_timeout_ms(c));
	return exch_send(c, OP_CLIENT_SEND, c->fd, c->fhead, c->page_len) ? EV_CLOSE : EV_WAIT;
}

/* The status page (SetHandler server-status, or /server-status on MetricsListen). */
static enum conn_ev conn_server_status(struct conn *c)
{
	struct status_req rq;
	struct stats_text t;

	if (c->req.meth != HTTP_METHOD_GET && c->req.meth != HTTP_METHOD_HEAD)
		return exch_refuse(c, 405, "server-status: only GET and HEAD");
	t = (struct stats_text){ malloc(65536), CONN_TEXT_HEAD, 65536, false };
	status_query(c->buf + c->start + c->req.query.off, c->req.has_query ? c->req.query.len : 0,
		     &rq);
	t.failed = !t.p;
	if (t.p)
		status_render(c->w->cfg, &rq, &t);
	if (rq.autoform)
		return conn_text_send(c, &t, "text/plain; charset=ISO-8859-1",
				      "Cache-Control: no-store\r\n", "the status page");
	return conn_text_send(c, &t, "text/html; charset=utf-8", "Cache-Control: no-store\r\n"
			      "Content-Security-Policy: default-src 'none'; style-src "
			      "'unsafe-inline'\r\n", "the status page");
}

/* GET /metrics, /health and /server-status on the MetricsListen socket; anything else
 * there is 404. */
static enum conn_ev conn_metrics(struct conn *c)
{
	const char *path = c->buf + c->start + c->req.path.off;
	struct stats_text t;

	if (c->req.meth != HTTP_METHOD_GET && c->req.meth != HTTP_METHOD_HEAD)
		return exch_refuse(c, 404, "metrics: only GET /metrics, /health and /server-status "
				   "are served here");
	if (c->req.path.len == 7 && memcmp(path, "/health", 7) == 0)
		return conn_health(c);
	if (c->req.path.len == 14 && memcmp(path, "/server-status", 14) == 0)
		return conn_server_status(c);
	if (c->req.path.len != 8 || memcmp(path, "/metrics", 8) != 0)
		return exch_refuse(c, 404, "metrics: only GET /metrics, /health and /server-status "
				   "are served here");
	t = (struct stats_text){ malloc(16384), CONN_TEXT_HEAD, 16384, false };
	t.failed = !t.p;
	if (t.p)
		stats_render(c->w->cfg, &t);
	return conn_text_send(c, &t, "text/plain; version=0.0.4", "", "the metrics page");
}

static enum conn_ev conn_metrics_sent(struct conn *c, int res)
{
	enum conn_ev ev;

	return exch_send_rest(c, c->fhead, res, false, &ev) ? ev : EV_DONE;
}

/* ---- completions ------------------------------------------------------------------ */

/* Hands a completion to the role that owns c's state. */
static enum conn_ev conn_step(struct conn *c, int op, int res)
{
	if (op == OP_CLIENT_SEND) {
		if (res <= 0) {
			if (c->state == CS_RESP_BODY || c->state == CS_RESP_SEND)
				c->up_reusable = false;
			return exch_fail(c, 0, "sending to the client: %s",
					 strerror(res ? -res : EPIPE));
		}
		c->bytes_out += (uint64_t)res;
		exch_touch(c, exch_timeout_ms(c));
	}
	switch (c->state) {
	case CS_HEAD:
		return op == OP_CLIENT_RECV ? conn_head_recv(c, res) : EV_CLOSE;
	case CS_LINGER:
		return op == OP_CLIENT_RECV ? conn_linger_recv(c, res) : EV_CLOSE;
	case CS_ERROR:
		return op == OP_CLIENT_SEND ? conn_page_sent(c, res) : EV_CLOSE;
	case CS_METRICS:
		return op == OP_CLIENT_SEND ? conn_metrics_sent(c, res) : EV_CLOSE;
	case CS_FILE_HEAD:
	case CS_FILE_BODY:
		return filesend_complete(c, op, res);
	case CS_CONTINUE:
	case CS_CONNECT:
	case CS_REQ_HEAD:
	case CS_REQ_BODY:
	case CS_RESP_HEAD:
	case CS_RESP_INTERIM:
	case CS_RESP_SEND:
	case CS_RESP_BODY:
		return proxy_complete(c, op, res);
	case CS_TUNNEL_HEAD:
	case CS_TUNNEL:
		return tunnel_complete(c, op, res);
	default:
		return EV_CLOSE;
	}
}

/* The waiters of backends that listen now connect. */
static void conn_autostart_release(struct worker *w)
{
	w->as_released = false;
	for (unsigned a = 0; a < w->cfg->nautostart; a++) {
		struct conn *c;

		while ((c = as_next_released(w, a)) != NULL)
			conn_act(c, proxy_connect(c));
	}
}

/* The watch on the backend (OP_UP_WATCH) ended: when the request body waits for the
 * client and the backend has answered (or closed), the client's wait is cancelled (its
 * completion dropped) and the answer is relayed. Anything else: stale, dropped. */
static void conn_watch_done(struct conn *c, int res)
{
	c->watching = false;
	if (c->state == CS_CLOSING) {
		conn_close(c);
		return;
	}
	if (c->state != CS_REQ_BODY || !c->wait_client || c->timed_out || res <= 0)
		return;
	exch_cancel_client(c);
	c->wait_client = false;
	c->swallow_client = true;
	conn_act(c, proxy_early_response(c));
}

/* The waiters of backends with max= that have a connection for them now try again. Each
 * either gets one or waits again (at the front), so a queue is gone through once. */
static void conn_slot_release(struct worker *w)
{
	w->slot_released = false;
	for (unsigned b = 0; b < w->cfg->nbackend; b++) {
		unsigned n = w->slotq[b].n;
		struct conn *c;

		while (n-- && (c = slot_next(w, b)) != NULL)
			conn_act(c, proxy_connect(c));
	}
}

void conn_slot_tick(struct worker *w)
{
	slot_tick(w);
	if (w->slot_released)
		conn_slot_release(w);
}

/* A completion for c while it waits to go to the successor worker (its operations were
 * cancelled by conn_retire_if_idle()). True when it was consumed here. */
static bool conn_handoff_step(struct conn *c, int op, int res)
{
	if (op == OP_CLIENT_RECV && res >= 0 && !c->swallow_client) {
		/* bytes (or the end) came before the cancel: this worker serves them */
		c->handoff = false;
		return false;
	}
	if (op == OP_UP_WATCH)
		c->watching = false;
	if (op == OP_CLIENT_RECV || op == OP_SPLICE_POLL)
		c->swallow_client = false;
	if (c->pending)
		return true;      /* the others are still to complete */
	c->handoff = false;
	if (c->state == CS_HEAD && !c->head_started && c->end == c->start && !c->timed_out)
		conn_handoff(c);
	else
		conn_close(c);    /* nothing waits on it any more */
	return true;
}

void conn_complete(struct conn *c, int op, int res)
{
	if (c->handoff && c->state != CS_CLOSING && conn_handoff_step(c, op, res))
		return;
	if (op == OP_UP_WATCH) {
		conn_watch_done(c, res);
		return;
	}
	if (c->swallow_client && (op == OP_CLIENT_RECV || op == OP_SPLICE_POLL)) {
		c->swallow_client = false;   /* the client wait cancelled by conn_watch_done() */
		if (c->state == CS_CLOSING)
			conn_close(c);
		return;
	}
	if (c->state == CS_CLOSING) {
		conn_close(c);
		return;
	}
	if (res == -ECANCELED && !c->timed_out) {
		conn_close(c);
		return;
	}
	/* An operation that completed before the cancel reached it still ends the exchange:
	 * otherwise the next operation would run with no deadline. */
	if (c->timed_out && res >= 0)
		res = -ECANCELED;
	conn_act(c, conn_step(c, op, res));
	if (c->w->as_released)
		conn_autostart_release(c->w);
	if (c->w->slot_released)
		conn_slot_release(c->w);
}

/* ---- waiting for a backend the helper starts (ProxyAutostart) ----------------------- */

void conn_autostart_retry(struct worker *w, unsigned a)
{
	struct conn *c = as_next_probe(w, a);

	if (c)
		conn_act(c, proxy_connect(c));
}

void conn_autostart_state(struct worker *w, const struct helper_msg *m)
{
	as_state(w, m);
}

void conn_autostart_helper_gone(struct worker *w)
{
	for (unsigned a = 0; a < w->cfg->nautostart; a++) {
		struct conn *c;

		while ((c = as_queue_pop(&w->waits[a], w->conns)) != NULL)
			conn_act(c, as_fail(c, "cannot be started: the helper is gone"));
	}
}

/* ---- deadlines and stopping ------------------------------------------------------- */

void conn_timeout(struct conn *c)
{
	/* once per connection closed for it: not again for a linger, nor when a missed cancel
	 * makes the deadline fire again */
	bool first = !c->timed_out && c->state != CS_LINGER && c->state != CS_ERROR &&
		     c->state != CS_CLOSING;

	if (first)
		c->w->stats.timeouts[c->state != CS_HEAD ? STATS_TO_EXCHANGE :
				     c->head_started ? STATS_TO_HEAD : STATS_TO_IDLE]++;
	switch (c->state) {
	case CS_HEAD:
		if (!c->head_started) {
			/* idle keep-alive, or a connection that never spoke */
			if (c->pp_wait && c->end > c->start)
				conn_pp_fail(c, "PROXY header timed out");
			conn_close(c);
			return;
		}
		break; /* the cancelled receive answers 408 */
	case CS_LINGER:
	case CS_ERROR:
	case CS_CLOSING:
		conn_close(c);
		return;
	case CS_UP_WAIT:
		conn_act(c, as_fail(c, "did not accept connections within StartTimeout"));
		return;
	case CS_SLOT_WAIT:
		conn_act(c, slot_fail(c));
		return;
	default:
		break;
	}
	/* Something is in flight: cancel it; its completion sees timed_out. Should the cancel
	 * miss, the deadline fires again a tick later and cancels again. */
	c->timed_out = true;
	exch_touch(c, 2 * 100);
	exch_cancel(c);
}

void conn_retire_if_idle(struct conn *c)
{
	if (c->state != CS_HEAD || c->head_started || c->end != c->start || c->handoff)
		return;
	if (!c->pending) {
		conn_handoff(c);
		return;
	}
	c->handoff = true;
	exch_cancel_client(c);
}

/* How long a connection that has not sent its first request yet may still send it once a
 * graceful stop began. */
#define CONN_STOP_FRESH_MS 1000

void conn_stop_if_idle(struct conn *c)
{
	if (c->state != CS_HEAD || c->head_started)
		return;
	/* One accepted a moment ago may have its first request on the way (a balancer sent it
	 * before it saw /health's 503): it gets a moment for it, then closes as an idle one */
	if (c->nreq == 0) {
		if (c->deadline_ms > c->w->now_ms + CONN_STOP_FRESH_MS)
			exch_touch(c, CONN_STOP_FRESH_MS);
		return;
	}
	conn_close(c);
}

void conn_reclaim(struct conn *c)
{
	/* the ring is gone: nothing is in flight, nothing may be submitted */
	c->pending = 0;
	c->watching = false;
	body_release_pipe(c);
	proxy_drop_upstream(c);   /* a max= count shared with the next configuration */
	file_release(c->fent);
	c->fent = NULL;
	conn_free_io(c);
	c->state = CS_FREE;
}

void conn_abort(struct conn *c)
{
	if (c->state != CS_FREE)
		conn_close(c);
}
