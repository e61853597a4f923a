/* The client connection state machine.
 *
 * One exchange at a time per client connection (pipelined requests wait in the buffer
 * and are answered in order): head -> route -> backend connection (pool, or connect) ->
 * request head (+ body bytes that came with it) -> rest of the request body -> response
 * head -> rest of the response body -> keep-alive or close. Every completion arrives in
 * conn_complete(); every failure goes through conn_fail(). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "spliced/accesslog.h"
#include "spliced/config.h"
#include "spliced/conn.h"
#include "spliced/file.h"
#include "spliced/forward.h"
#include "spliced/helper.h"
#include "spliced/http.h"
#include "spliced/log.h"
#include "spliced/relay.h"
#include "spliced/trace.h"
#include "spliced/rewrite.h"
#include "spliced/uri.h"
#include "spliced/ring-t.h"
#include "spliced/upstream.h"
#include "spliced/worker.h"

static void conn_read_head(struct conn *c);
static void conn_head_ready(struct conn *c);
static void conn_body_step(struct conn *c);
static void conn_resp_recv(struct conn *c);
static void conn_resp_head(struct conn *c);
static void conn_static(struct conn *c);
static void conn_metrics(struct conn *c);
static void conn_request_end(struct conn *c);
static void conn_count_parse_error(struct conn *c, const char *reason);
static void conn_parse_error(struct conn *c, unsigned status, const char *reason);
static void conn_request_begin(struct conn *c);
static bool conn_errdoc_local(struct conn *c, unsigned status, const char *url);
struct file_reply;
static void conn_file_start(struct conn *c, const struct file_reply *r, char *out);
static void conn_proxy(struct conn *c);
static bool conn_rewrite(struct conn *c);
static void conn_finish(struct conn *c);
static void conn_close(struct conn *c);
static void conn_connect(struct conn *c);
static void conn_send_head_upstream(struct conn *c);
static void conn_autostart_leave(struct conn *c);

static uint64_t conn_timeout_ms(const struct conn *c)
{
	return c->w->cfg->timeout_ms;
}

static void conn_touch(struct conn *c, uint64_t ms)
{
	c->deadline_ms = c->w->now_ms + ms;
}

static const struct cfg_backend *conn_backend(const struct conn *c)
{
	return &c->w->cfg->backend[c->pass->backend];
}

static bool conn_idempotent(const struct http_request *req)
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

/* ---- closing ---------------------------------------------------------------------- */

static void conn_drop_upstream(struct conn *c)
{
	if (c->ufd >= 0) {
		close(c->ufd);
		c->ufd = -1;
	}
}

static void conn_release_pipe(struct conn *c)
{
	struct conn_body *b = &c->body;

	if (b->sp.pipe)
		relay_pipe_put(&c->w->pipes, b->sp.pipe, b->sp.in_pipe != 0 || b->splicing);
	b->sp.pipe = NULL;
	b->splicing = false;
}

/* Frees the slot once nothing is in flight; until then cancels what is. */
static void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	conn_autostart_leave(c);
	c->state = CS_CLOSING;
	if (c->pending) {
		if (!c->cancel_sent) {
			c->cancel_sent = true;
			worker_cancel_fd(w, c->fd);
			if (c->ufd >= 0)
				worker_cancel_fd(w, c->ufd);
		}
		return;
	}
	conn_release_pipe(c);
	conn_drop_upstream(c);
	file_release(c->fent);
	c->fent = NULL;
	conn_request_end(c);
	TRACE_CONN_CLOSE(c->id, c->nreq);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	free(c->rbuf);
	free(c->loghead);
	c->buf = c->rbuf = c->loghead = NULL;
	c->loghead_cap = 0;
	worker_release(w, c);
}

/* Shuts our side, then reads and discards until the client closes too (or for
 * CONN_LINGER_MS), so a client still sending gets our response instead of a reset. */
static void conn_linger(struct conn *c)
{
	conn_request_end(c); /* the exchange ended with what was sent, not with the linger */
	conn_release_pipe(c);
	conn_drop_upstream(c);
	if (shutdown(c->fd, SHUT_WR) < 0) {
		conn_close(c);
		return;
	}
	c->state = CS_LINGER;
	c->timed_out = false;
	c->linger_bytes = 0;
	conn_touch(c, CONN_LINGER_MS);
	if (worker_recv(c->w, c, OP_CLIENT_RECV, c->fd, c->buf, CONN_HEADROOM + CONN_HEAD_MAX))
		conn_close(c);
}

static void conn_count_status(struct conn *c, unsigned status)
{
	c->status = (uint16_t)status;
	c->w->stats.status[status >= 100 && status < 600 ? status / 100 : 0]++;
}

/* Answers with a short page made here, then closes the connection (lingering), unless
 * c->page_keep says the exchange ended cleanly (a static file error on a request without
 * a body) and the connection may serve the next request. */
static void conn_send_page(struct conn *c, unsigned status, const char *extra_headers)
{
	bool keep = c->page_keep;
	const char *text = http_status_text(status);
	const struct cfg_errdoc *doc = status >= 400 ? config_errdoc(c->w->cfg, c->scope, status)
						    : NULL;
	char body[CFG_PATH_MAX + 1];
	char location[CFG_PATH_MAX + 16];
	int blen, n;

	conn_autostart_leave(c);   /* before any way out, a local ErrorDocument included */
	if (doc && doc->kind == CFG_ERRDOC_LOCAL) {
		/* extra_headers may live where the document's head is about to be made. */
		snprintf(location, sizeof(location), "%s", extra_headers ? extra_headers : "");
		extra_headers = location;
		if (conn_errdoc_local(c, status, doc->value))
			return;
	}
	if (doc && doc->kind == CFG_ERRDOC_TEXT) {
		blen = snprintf(body, sizeof(body), "%s", doc->value);
	} else if (doc && doc->kind == CFG_ERRDOC_URL) {
		/* An absolute URL: the client is sent there, as httpd does. */
		snprintf(location, sizeof(location), "Location: %s\r\n", doc->value);
		extra_headers = location;
		status = 302;
		text = http_status_text(status);
		blen = snprintf(body, sizeof(body), "<!DOCTYPE html>\n<html><head><title>%u %s"
				"</title></head><body><h1>%s</h1></body></html>\n", status, text, text);
	} else {
		blen = snprintf(body, sizeof(body), "<!DOCTYPE html>\n<html><head><title>%u %s"
				"</title></head><body><h1>%s</h1></body></html>\n", status, text, text);
	}
	n = snprintf(c->page, sizeof(c->page),
		     "HTTP/1.1 %u %s\r\nContent-Type: text/html; charset=utf-8\r\n"
		     "Content-Length: %d\r\n%s%s\r\n%s",
		     status, text, blen, extra_headers ? extra_headers : "",
		     keep ? (c->req.version == 10 ? "Connection: keep-alive\r\n" : "")
			  : "Connection: close\r\n",
		     c->head_only ? "" : body);
	if (n < 0 || (size_t)n >= sizeof(c->page)) {
		conn_close(c);
		return;
	}
	conn_count_status(c, status);
	conn_release_pipe(c);
	conn_drop_upstream(c);
	c->resp_started = true;
	c->timed_out = false;
	c->state = CS_ERROR;
	c->out_head_len += (uint64_t)n - (c->head_only ? 0 : (uint64_t)blen);
	c->page_len = (uint32_t)n;
	c->page_off = 0;
	conn_touch(c, conn_timeout_ms(c));
	if (worker_send(c->w, c, OP_CLIENT_SEND, c->fd, c->page, c->page_len))
		conn_close(c);
}

/* The one way out of a failed exchange: a page if nothing was sent yet, else a close. */
static void conn_fail(struct conn *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void conn_fail(struct conn *c, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status >= 500)
		log_error("proxy", "[client %s:%u] %s", c->ip, c->port, msg);
	else
		log_info("proxy", "[client %s:%u] %s", c->ip, c->port, msg);
	if (c->resp_started || status == 0) {
		if (!c->resp_started)
			conn_count_status(c, 0);
		conn_release_pipe(c);
		conn_drop_upstream(c);
		conn_close(c);
		return;
	}
	conn_send_page(c, status, NULL);
}

/* ---- the request head ------------------------------------------------------------- */

int conn_open(struct worker *w, struct conn *c, int fd, uint16_t server_port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(c, 0, offsetof(struct conn, head));
	memset(&c->body, 0, sizeof(c->body));
	c->w = w;
	c->idx = (uint32_t)(c - w->conns);
	c->fd = fd;
	c->ufd = -1;
	c->server_port = server_port;
	c->buf = malloc(CONN_HEADROOM + CONN_HEAD_MAX);
	c->rbuf = malloc(CONN_RESP_MAX);
	if (!c->buf || !c->rbuf) {
		free(c->buf);
		free(c->rbuf);
		close(fd);
		return -ENOMEM;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, c->ip, sizeof(c->ip));
		c->port = ntohs(s6->sin6_port);
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, c->ip, sizeof(c->ip));
		c->port = ntohs(s4->sin_port);
	} else {
		strcpy(c->ip, "unknown");
	}
	c->in_request = false;
	c->id = ((uint64_t)w->id << 48) | ++w->conn_seq;
	TRACE_CONN_OPEN(c->id, c->ip, c->port);
	c->start = c->end = c->scanned = CONN_HEADROOM;
	c->state = CS_HEAD;
	conn_touch(c, conn_timeout_ms(c));
	conn_read_head(c);
	return 0;
}

static void conn_read_head(struct conn *c)
{
	uint32_t room = CONN_HEADROOM + CONN_HEAD_MAX - c->end;

	c->state = CS_HEAD;
	if (worker_recv(c->w, c, OP_CLIENT_RECV, c->fd, c->buf + c->end, room))
		conn_close(c);
}

/* New head bytes arrived (or, for a pipelined request, were already there). */
static void conn_head_bytes(struct conn *c)
{
	uint32_t have;

	/* RFC 9112 2.2: a server SHOULD ignore empty lines before a request line (clients
	 * add one after a body); at most two, so this cannot be used to stall us. */
	for (int k = 0; k < 2 && !c->head_started && c->end - c->start >= 2 &&
			c->buf[c->start] == '\r' && c->buf[c->start + 1] == '\n'; k++) {
		c->start += 2;
		c->scanned = c->start;
	}
	have = c->end - c->start;
	ssize_t hl = http_head_end(c->buf + c->start, have, c->scanned - c->start);

	if (!c->head_started && have) {
		c->head_started = true;
		conn_touch(c, conn_timeout_ms(c));
	}
	c->scanned = c->end;
	if (hl == 0 && have < CONN_HEAD_MAX) {
		conn_read_head(c);
		return;
	}
	conn_head_ready(c);
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

static uint64_t conn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts a parse error under its reason (the parser's reasons are static strings). */
static void conn_count_parse_error(struct conn *c, const char *reason)
{
	struct stats *st = &c->w->stats;
	unsigned i;

	st->parse_errors++;
	for (i = 0; i < st->nperr && st->perr[i].reason != reason; i++)
		;
	if (i == st->nperr && i < STATS_REASONS) {
		st->perr[i].reason = reason;
		/* The metrics endpoint reads nperr from another thread: the entry first. */
		__atomic_store_n(&st->nperr, i + 1, __ATOMIC_RELEASE);
	}
	if (i < STATS_REASONS)
		st->perr[i].n++;
}

static void conn_parse_error(struct conn *c, unsigned status, const char *reason)
{
	/* Logged and timed like any exchange, with "-" for what could not be read. */
	c->in_request = true;
	c->t_start_ns = conn_now_ns();
	clock_gettime(CLOCK_REALTIME, &c->t_wall);
	c->bytes_in = c->end - c->start;
	c->bytes_out = 0;
	c->out_head_len = 0;
	c->logreq.head_len = 0;
	c->backend_name = "";
	c->head_only = false;
	c->page_keep = false;
	c->resp_started = false;
	conn_count_parse_error(c, reason);
	TRACE_PARSE_ERROR(c->id, status, reason);
	conn_fail(c, status, "bad request: %s", reason);
}

/* The access log prints the request as received, but the head buffer is rewritten (the
 * request line in place) and reused (body bytes): keep a copy while logs are on. */
static void conn_log_keep_head(struct conn *c)
{
	uint32_t n = c->req.head_len;

	clock_gettime(CLOCK_REALTIME, &c->t_wall);
	if (n > c->loghead_cap) {
		char *p = realloc(c->loghead, n);

		if (!p) {
			c->logreq.head_len = 0;
			return;
		}
		c->loghead = p;
		c->loghead_cap = n;
	}
	memcpy(c->loghead, c->buf + c->start, n);
	c->logreq = c->req;
}

/* One line in each access log for the exchange that ends. */
static void conn_log_request(struct conn *c, uint64_t ns)
{
	struct worker *w = c->w;
	const struct config *cfg = w->cfg;
	struct alog_entry e = {
		.client_ip = c->ip,
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
	};

	for (unsigned i = 0; i < cfg->ncustomlog; i++)
		if (alog_buf_log(&w->alog[i], &cfg->customlog[i].fmt, &e))
			worker_alog_flush(w, i, false);
}

/* One call site for the splice probe: perf probe cannot set up a probe that has two. */
__attribute__((noinline)) static void conn_trace_splice(const struct conn *c, uint64_t bytes,
							 int dir)
{
	TRACE_SPLICE(c->id, bytes, dir);
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
	if (c->w->cfg->ncustomlog)
		conn_log_keep_head(c);
	c->backend_name = "";
	TRACE_REQUEST_START(c->id, head + c->req.method.off, c->req.method.len,
			    head + c->req.target.off, c->req.target.len,
			    host ? head + c->req.host.off : NULL);
}

/* The exchange is over (answered, or abandoned): latency, probe. */
static void conn_request_end(struct conn *c)
{
	struct stats *st = &c->w->stats;
	uint64_t ns;
	unsigned b = 0;

	if (!c->in_request)
		return;
	c->in_request = false;
	ns = conn_now_ns() - c->t_start_ns;
	while (b < STATS_LAT_BUCKETS - 1 && ns > stats_lat_bounds_ns[b])
		b++;
	st->lat_bucket[b]++;
	st->lat_sum_ns += ns;
	if (c->w->cfg->ncustomlog)
		conn_log_request(c, ns);
	TRACE_REQUEST_END(c->id, c->status, c->bytes_in, c->bytes_out, ns, c->backend_name);
}

/* RewriteRule's %{HTTP:Name}: the first field of that name in the current head. */
static const char *conn_header(void *opaque, const char *name, size_t nlen, size_t *vlen)
{
	const struct conn *c = opaque;
	const char *head = c->buf + c->start;
	uint32_t p = c->req.fields_off, end = c->req.head_len - 2;

	while (p < end) {
		const char *line = head + p;
		const char *eol = memchr(line, '\r', end - p);
		size_t llen = eol ? (size_t)(eol - line) : end - p;
		const char *colon = memchr(line, ':', llen);

		if (colon && (size_t)(colon - line) == nlen && strncasecmp(line, name, nlen) == 0) {
			const char *v = colon + 1, *ve = line + llen;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		p += (uint32_t)llen + 2;
	}
	return NULL;
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

static void conn_static_at(struct conn *c, const struct file_root *root, const char *path,
			   uint32_t len);

/* Runs the RewriteRules of the request's virtual host. True when the request was
 * answered (or handed on) here; false to go on with ProxyPass and files, maybe with a
 * rewritten target. */
static bool conn_rewrite(struct conn *c)
{
	struct worker *w = c->w;
	const char *head = c->buf + c->start;
	struct rw_result res;
	struct rw_input in = {
		.method = head + c->req.method.off, .method_len = c->req.method.len,
		.path = head + c->req.path.off, .path_len = c->req.path.len,
		.query = head + c->req.query.off, .query_len = c->req.query.len,
		.has_query = c->req.has_query,
		.host = c->req.has_host || c->req.absolute_form ? head + c->req.host.off : NULL,
		.host_len = c->req.host.len,
		.request_line = head, .request_line_len = c->req.fields_off - 2,
		.remote_addr = c->ip, .remote_addr_len = strlen(c->ip),
		.remote_port = c->port, .server_port = c->server_port,
		.header = conn_header, .opaque = c,
		.dst = c->rbuf, .dst_cap = CONN_RESP_MAX / 2,
	};
	char location[sizeof(c->page) - 512];
	unsigned st;

	if (rw_apply(w->cfg, w->rw, &in, &res) < 0) {
		conn_fail(c, 500, "rewrite: invalid input");
		return true;
	}
	c->scope = res.scope;
	TRACE_REWRITE(c->id, res.rule, (int)res.kind, res.scope);
	switch (res.kind) {
	case RW_NONE:
		return false;
	case RW_URL:
		st = conn_set_target(c, res.out, res.out_len);
		if (st)
			conn_fail(c, st, "RewriteRule %d: rewritten target %.200s not usable", res.rule,
				  res.out);
		return st != 0;
	case RW_PROXY:
		st = conn_set_target(c, res.out, res.out_len);
		if (st) {
			conn_fail(c, st, "RewriteRule %d: proxy target %.200s not usable", res.rule,
				  res.out);
			return true;
		}
		memset(&c->rwpass, 0, sizeof(c->rwpass));
		c->rwpass.backend = res.backend;
		c->pass = &c->rwpass;
		conn_proxy(c);
		return true;
	case RW_FILE:
		if (res.root < 0 || w->files->rwroot[res.root].fd < 0) {
			conn_fail(c, 404, "RewriteRule %d: file root missing", res.rule);
			return true;
		}
		conn_static_at(c, &w->files->rwroot[res.root], res.out, (uint32_t)res.out_len);
		return true;
	case RW_REDIRECT:
		if (res.out_len + 13 > sizeof(location)) {
			conn_fail(c, 500, "RewriteRule %d: Location too long", res.rule);
			return true;
		}
		snprintf(location, sizeof(location), "Location: %s\r\n", res.out);
		c->page_keep = c->keep_alive && c->req.framing == HTTP_FRAMING_NONE;
		c->next = c->start + c->req.head_len;
		conn_send_page(c, res.status, location);
		return true;
	case RW_STATUS:
	default:
		conn_fail(c, res.status ? res.status : 500, "RewriteRule %d: status %u", res.rule,
			  res.status);
		return true;
	}
}

static void conn_head_ready(struct conn *c)
{
	struct worker *w = c->w;
	char *head = c->buf + c->start;
	int ret = http_parse_request(head, c->end - c->start, &w->lim, &c->req);

	c->scope = 0;
	if (ret == -2) {
		/* http_head_end() saw the end, so the parser cannot need more: only a full buffer
		 * gets here, and that is a head too large. */
		c->req.status = 431;
		c->req.reason = "request head too large";
		ret = -1;
	}
	if (ret < 0) {
		conn_parse_error(c, c->req.status ? c->req.status : 400,
				 c->req.reason ? c->req.reason : "malformed head");
		return;
	}
	w->stats.requests++;
	conn_request_begin(c);
	c->head_only = c->req.meth == HTTP_METHOD_HEAD;
	c->page_keep = false;
	c->keep_alive = conn_wants_keep_alive(c);
	c->resp_started = false;
	c->retried = false;
	c->body_streamed = false;
	c->wait_until_ms = 0;
	c->status = 0;
	if (c->metrics) {
		conn_metrics(c);
		return;
	}

	if (c->req.meth == HTTP_METHOD_CONNECT) {
		conn_fail(c, 501, "CONNECT is not supported");
		return;
	}
	if (c->req.asterisk_form) {
		conn_send_page(c, 200, "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n");
		return;
	}
	if (conn_normalize_path(c) < 0) {
		conn_count_parse_error(c, "path climbs above the root");
		conn_fail(c, 400, "bad request: path %.*s climbs above the root or is malformed",
			  (int)c->req.target.len, head + c->req.target.off);
		return;
	}
	c->scope = 0;
	if (conn_rewrite(c))
		return;
	head = c->buf + c->start; /* a rewritten request line may start earlier */
	c->pass = config_route_scope(w->cfg, c->scope, head + c->req.path.off, c->req.path.len);
	if (!c->pass || c->pass->backend < 0) {
		/* Not proxied ("ProxyPass /x !" included): Alias, then DocumentRoot. */
		conn_static(c);
		return;
	}
	conn_proxy(c);
}

/* The request goes to c->pass's backend. */
static void conn_proxy(struct conn *c)
{
	struct worker *w = c->w;

	if (w->cfg->limit_request_body && c->req.framing == HTTP_FRAMING_LENGTH &&
	    c->req.content_length > w->cfg->limit_request_body) {
		conn_fail(c, 413, "request body of %llu bytes over LimitRequestBody",
			  (unsigned long long)c->req.content_length);
		return;
	}
	conn_send_head_upstream(c);
}

/* ---- the request goes upstream ---------------------------------------------------- */

/* A chunked request body (counting the chunk being read) over LimitRequestBody. */
static bool conn_chunked_over_limit(const struct conn *c)
{
	uint64_t limit = c->w->cfg->limit_request_body;
	const struct http_chunked *ck = &c->body.ck;

	return limit && c->body.framing == HTTP_FRAMING_CHUNKED && ck->total + ck->left > limit;
}

/* Sets up c->body for the request body and builds the upstream head with the body bytes
 * that came with the head. A chunked body goes upstream with canonical chunk-size lines
 * (http_chunked_canon), rewritten in place: `take` bytes of input become `send` bytes
 * (send <= take), and the next request begins after the input. */
static int conn_prepare_request(struct conn *c)
{
	struct worker *w = c->w;
	struct conn_body *b = &c->body;
	char *head = c->buf + c->start;
	char *body = head + c->req.head_len;
	uint32_t avail = c->end - c->start - c->req.head_len;
	uint32_t take = 0, send;
	struct fwd_target t = {
		.pass = c->pass,
		.backend = conn_backend(c),
		.preserve_host = config_preserve_host(w->cfg, c->scope),
		.client_ip = c->ip,
		.proto = "http",
	};

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
	return fwd_request_head(&c->head, head, c->start, &c->req, &t, body, send);
}

static void conn_send_head_upstream(struct conn *c)
{
	struct worker *w = c->w;
	int ret = conn_prepare_request(c);

	if (ret == -EBADMSG) {
		conn_count_parse_error(c, "invalid chunked body");
		conn_fail(c, 400, "bad request: invalid chunked body");
		return;
	}
	if (conn_chunked_over_limit(c)) {
		conn_fail(c, 413, "chunked request body over LimitRequestBody");
		return;
	}
	if (ret < 0) {
		conn_fail(c, 431, "request head too large to forward");
		return;
	}
	/* We answer "100 Continue" ourselves (and do not forward Expect): the body is only
	 * read once it is going somewhere. */
	if (c->req.expect_continue && c->req.version == 11 && c->next == c->end &&
	    ((c->body.framing == HTTP_FRAMING_LENGTH && c->body.left) ||
	     (c->body.framing == HTTP_FRAMING_CHUNKED && !c->body.ck.done))) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		c->state = CS_CONTINUE;
		conn_touch(c, conn_timeout_ms(c));
		if (worker_send(w, c, OP_CLIENT_SEND, c->fd, cont, sizeof(cont) - 1))
			conn_close(c);
		return;
	}
	conn_connect(c);
}

/* A pooled backend connection, or a new one. */
static void conn_connect(struct conn *c)
{
	struct worker *w = c->w;
	const struct cfg_backend *be = conn_backend(c);
	/* a probe tests whether the backend listens: only a new connection tells */
	int fd = c->retried || c->as_probe ? -1 : up_pool_take(&w->pools[c->pass->backend],
								 w->now_ms);

	conn_touch(c, conn_timeout_ms(c));
	if (c->as_probe && c->wait_until_ms < c->deadline_ms)
		c->deadline_ms = c->wait_until_ms;
	c->backend_name = be->name;
	TRACE_BACKEND_CONNECT(c->id, c->pass->backend, be->name, fd >= 0 ? 1 : c->retried ? 2 : 0);
	if (fd >= 0) {
		w->stats.up_reuses++;
		c->ufd = fd;
		c->up_reused = true;
		c->state = CS_REQ_HEAD;
		if (worker_sendmsg(w, c, OP_UP_SEND, c->ufd, c->head.cur, c->head.niov))
			conn_close(c);
		return;
	}
	fd = up_socket(be);
	if (fd < 0) {
		conn_fail(c, 502, "socket for %s: %s", be->name, strerror(-fd));
		return;
	}
	w->stats.up_connects++;
	c->ufd = fd;
	c->up_reused = false;
	c->state = CS_CONNECT;
	if (worker_connect(w, c, fd, (const struct sockaddr *)&be->addr, be->addrlen))
		conn_close(c);
}

/* The backend we reused had closed the connection, or the connection to a backend that
 * spliced starts itself broke before any byte of the response (it died: a new one is
 * started and the request waits for it): try once more on a new connection when the
 * request is idempotent and its body was not streamed. */
static bool conn_retry(struct conn *c)
{
	if ((!c->up_reused && conn_backend(c)->autostart < 0) || c->retried || c->body_streamed ||
	    !conn_idempotent(&c->req))
		return false;
	c->w->stats.up_retries++;
	conn_drop_upstream(c);
	c->retried = true;
	fwd_rewind(&c->head);
	conn_connect(c);
	return true;
}

static void conn_upstream_error(struct conn *c, int err, const char *what)
{
	const struct cfg_backend *be = conn_backend(c);

	if (c->timed_out) {
		conn_fail(c, 504, "backend %s timed out (%s)", be->name, what);
		return;
	}
	if (conn_retry(c))
		return;
	conn_fail(c, 502, "backend %s: %s: %s", be->name, what,
		  err ? strerror(err) : "connection closed");
}

static void conn_start_body(struct conn *c, int from, int to, bool response)
{
	c->body.from = from;
	c->body.to = to;
	c->body.response = response;
	c->state = response ? CS_RESP_BODY : CS_REQ_BODY;
	conn_body_step(c);
}

static void conn_request_sent(struct conn *c)
{
	c->rlen = 0;
	c->state = CS_RESP_HEAD;
	conn_touch(c, conn_timeout_ms(c));
	conn_resp_recv(c);
}

/* ---- bodies, both ways ------------------------------------------------------------ */

static bool conn_body_done(const struct conn_body *b)
{
	switch (b->framing) {
	case HTTP_FRAMING_LENGTH:
		return b->left == 0;
	case HTTP_FRAMING_CHUNKED:
		return b->ck.done;
	case HTTP_FRAMING_CLOSE:
		return b->eof;
	default:
		return true;
	}
}

static void conn_body_finished(struct conn *c);

static void conn_body_error(struct conn *c, int err, const char *what)
{
	if (c->body.response)
		conn_fail(c, 0, "response body: %s: %s", what, err ? strerror(err) : "closed early");
	else if (c->timed_out)
		conn_fail(c, 408, "request body: timed out");
	else
		conn_fail(c, 0, "request body: %s: %s", what, err ? strerror(err) : "closed early");
}

/* Starts a splice run if this part of the body is worth it and a pipe is free. */
static bool conn_body_try_splice(struct conn *c)
{
	struct conn_body *b = &c->body;
	uint64_t n;

	switch (b->framing) {
	case HTTP_FRAMING_LENGTH:
		n = b->left;
		break;
	case HTTP_FRAMING_CHUNKED:
		n = http_chunked_in_payload(&b->ck) ? b->ck.left : 0;
		break;
	case HTTP_FRAMING_CLOSE:
		n = b->big ? RELAY_UNTIL_EOF : 0;
		break;
	default:
		n = 0;
	}
	if (n < RELAY_SPLICE_MIN)
		return false;
	b->sp.pipe = relay_pipe_get(&c->w->pipes);
	if (!b->sp.pipe)
		return false;
	b->sp.from = b->from;
	b->sp.to = b->to;
	b->sp.left = n;
	b->sp.in_pipe = 0;
	b->sp.moved = 0;
	b->sp.err = 0;
	b->splicing = true;
	c->w->stats.splice_transfers++;
	return true;
}

static void conn_body_pump(struct conn *c)
{
	struct conn_body *b = &c->body;
	uint64_t before = b->sp.moved;
	enum relay_result r = relay_pump(&b->sp);
	int ret = 0;

	c->w->stats.bytes_spliced += b->sp.moved - before;
	if (b->response)
		c->bytes_out += b->sp.moved - before;
	else
		c->bytes_in += b->sp.moved - before;
	if (b->sp.moved != before)
		conn_touch(c, conn_timeout_ms(c));
	switch (r) {
	case RELAY_DONE:
		conn_trace_splice(c, b->sp.moved, b->response ? 1 : 0);
		if (b->framing == HTTP_FRAMING_LENGTH)
			b->left = 0;
		else if (b->framing == HTTP_FRAMING_CHUNKED)
			http_chunked_skip(&b->ck, b->sp.moved);
		else
			b->eof = true;
		b->splicing = false;
		relay_pipe_put(&c->w->pipes, b->sp.pipe, false);
		b->sp.pipe = NULL;
		conn_body_step(c);
		return;
	case RELAY_WAIT_IN:
		b->wait_out = false;
		ret = worker_poll(c->w, c, b->from, POLLIN | POLLRDHUP);
		break;
	case RELAY_WAIT_OUT:
		b->wait_out = true;
		ret = worker_poll(c->w, c, b->to, POLLOUT);
		break;
	case RELAY_EOF:
		conn_body_error(c, 0, "splice");
		return;
	case RELAY_ERROR:
		conn_body_error(c, b->sp.err, "splice");
		return;
	}
	if (ret)
		conn_close(c);
}

/* Decides the next move of the current body: send what is buffered, splice, or read. */
static void conn_body_step(struct conn *c)
{
	struct conn_body *b = &c->body;
	struct worker *w = c->w;
	int send_op = b->response ? OP_CLIENT_SEND : OP_UP_SEND;
	int recv_op = b->response ? OP_UP_RECV : OP_CLIENT_RECV;
	size_t want;

	if (b->len) {
		if (worker_send(w, c, send_op, b->to, b->buf + b->off, b->len))
			conn_close(c);
		return;
	}
	if (conn_body_done(b)) {
		conn_body_finished(c);
		return;
	}
	if (!b->response)
		c->body_streamed = true;
	if (!b->response && conn_chunked_over_limit(c)) {
		conn_fail(c, 413, "chunked request body over LimitRequestBody");
		return;
	}
	if (b->splicing || conn_body_try_splice(c)) {
		conn_body_pump(c);
		return;
	}
	want = b->cap - b->rd;
	if (b->framing == HTTP_FRAMING_LENGTH && b->left < want)
		want = (size_t)b->left;
	if (worker_recv(w, c, recv_op, b->from, b->buf + b->rd, want))
		conn_close(c);
}

static void conn_body_received(struct conn *c, int res)
{
	struct conn_body *b = &c->body;
	uint32_t n = (uint32_t)res;

	if (res < 0) {
		conn_body_error(c, -res, "receive");
		return;
	}
	if (res == 0) {
		if (b->framing == HTTP_FRAMING_CLOSE) {
			b->eof = true;
			conn_body_step(c);
		} else {
			conn_body_error(c, 0, "receive");
		}
		return;
	}
	conn_touch(c, conn_timeout_ms(c));
	c->w->stats.bytes_copied += n;
	if (!b->response)
		c->bytes_in += n;
	b->off = 0;
	if (b->framing == HTTP_FRAMING_LENGTH) {
		b->left -= n;
		b->len = n;
	} else if (b->framing == HTTP_FRAMING_CHUNKED && b->response) {
		ssize_t used = http_chunked_scan(&b->ck, b->buf, n);

		if (used < 0) {
			conn_body_error(c, EBADMSG, "invalid chunked framing");
			return;
		}
		b->len = (uint32_t)used;
		if ((uint32_t)used < n)
			c->up_reusable = false;
	} else if (b->framing == HTTP_FRAMING_CHUNKED) {
		/* Read at buf + rd, written canonical from buf: out never overtakes in. */
		uint32_t in = (uint32_t)(b->buf - c->buf) + b->rd;
		size_t out;
		ssize_t used = http_chunked_canon(&b->ck, c->buf + in, n, b->buf, &out);

		if (used < 0) {
			conn_count_parse_error(c, "invalid chunked body");
			conn_body_error(c, EBADMSG, "invalid chunked framing");
			return;
		}
		b->len = (uint32_t)out;
		/* The next pipelined request, if it began in this read, follows the input. */
		c->next = in + (uint32_t)used;
		c->end = in + n;
		if ((uint32_t)used == n)
			c->next = c->end = (uint32_t)(b->buf - c->buf);
	} else {
		b->len = n;
		b->big = n == b->cap;
	}
	if (!b->response && b->framing == HTTP_FRAMING_LENGTH)
		c->next = c->end = (uint32_t)(b->buf - c->buf);
	if (!b->response && conn_chunked_over_limit(c)) {
		conn_fail(c, 413, "chunked request body over LimitRequestBody");
		return;
	}
	conn_body_step(c);
}

static void conn_body_sent(struct conn *c, int res)
{
	struct conn_body *b = &c->body;

	if (res <= 0) {
		if (b->response)
			conn_fail(c, 0, "client went away: %s", strerror(res ? -res : EPIPE));
		else
			conn_upstream_error(c, res ? -res : EPIPE, "sending request body");
		return;
	}
	conn_touch(c, conn_timeout_ms(c));
	b->off += (uint32_t)res;
	b->len -= (uint32_t)res;
	conn_body_step(c);
}

/* ---- the response ----------------------------------------------------------------- */

static void conn_resp_recv(struct conn *c)
{
	if (c->rlen == CONN_RESP_MAX) {
		c->up_reusable = false;
		conn_fail(c, 502, "backend %s: response head over %u bytes", conn_backend(c)->name,
			  CONN_RESP_MAX);
		return;
	}
	if (worker_recv(c->w, c, OP_UP_RECV, c->ufd, c->rbuf + c->rlen, CONN_RESP_MAX - c->rlen))
		conn_close(c);
}

/* An interim (1xx) response: forwarded to HTTP/1.1 clients, except 100 Continue, which
 * we already answered ourselves (Expect is not forwarded). */
static void conn_resp_interim(struct conn *c, uint32_t hl)
{
	bool forward = c->resp.status != 100 && c->req.version == 11;

	if (forward) {
		memcpy(c->rbuf, "HTTP/1.1", 8);
		memcpy(c->page, c->rbuf, hl < sizeof(c->page) ? hl : 0);
		forward = hl < sizeof(c->page);
	}
	memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
	c->rlen -= hl;
	/* The backend has seen the request: never send it again elsewhere. */
	c->retried = true;
	if (!forward) {
		if (c->rlen)
			conn_resp_head(c);
		else
			conn_resp_recv(c);
		return;
	}
	c->state = CS_RESP_INTERIM;
	c->page_len = hl;
	c->page_off = 0;
	if (worker_send(c->w, c, OP_CLIENT_SEND, c->fd, c->page, hl))
		conn_close(c);
}

static void conn_resp_head(struct conn *c)
{
	struct worker *w = c->w;
	struct conn_body *b = &c->body;
	const char *name = conn_backend(c)->name;
	int ret = http_parse_response(c->rbuf, c->rlen, &w->lim, c->req.meth, &c->resp);
	uint32_t hl, avail, take = 0;

	if (ret == -2) {
		conn_resp_recv(c);
		return;
	}
	if (ret < 0) {
		conn_fail(c, 502, "backend %s: invalid response: %s", name,
			  c->resp.reason ? c->resp.reason : "malformed head");
		return;
	}
	hl = (uint32_t)ret;
	if (c->resp.status < 200) {
		if (c->resp.status == 101) {
			conn_fail(c, 502, "backend %s: 101 Switching Protocols was not asked for", name);
			return;
		}
		conn_resp_interim(c, hl);
		return;
	}
	if (c->resp.framing == HTTP_FRAMING_CHUNKED && c->req.version == 10) {
		conn_fail(c, 502, "backend %s: chunked response to an HTTP/1.0 request", name);
		return;
	}
	c->up_reusable = c->req.version == 11 && c->resp.version == 11 && !c->resp.conn_close &&
			 c->resp.framing != HTTP_FRAMING_CLOSE;
	if (c->resp.framing == HTTP_FRAMING_CLOSE || w->stopping)
		c->keep_alive = false;

	memset(b, 0, sizeof(*b));
	b->framing = c->resp.framing;
	b->buf = c->rbuf;
	b->cap = CONN_RESP_MAX;
	b->response = true;
	avail = c->rlen - hl;
	if (b->framing == HTTP_FRAMING_LENGTH) {
		take = avail < c->resp.content_length ? avail : (uint32_t)c->resp.content_length;
		b->left = c->resp.content_length - take;
	} else if (b->framing == HTTP_FRAMING_CHUNKED) {
		ssize_t n;

		http_chunked_init(&b->ck);
		n = http_chunked_scan(&b->ck, c->rbuf + hl, avail);
		if (n < 0) {
			conn_fail(c, 502, "backend %s: invalid chunked framing", name);
			return;
		}
		take = (uint32_t)n;
	} else if (b->framing == HTTP_FRAMING_CLOSE) {
		take = avail;
	}
	if (take < avail)
		c->up_reusable = false; /* bytes after the response: the backend is confused */
	w->stats.bytes_copied += take;
	if (fwd_response_head(&c->head, c->rbuf, &c->resp, !c->keep_alive,
			      c->keep_alive && c->req.version == 10, c->rbuf + hl, take)) {
		conn_fail(c, 502, "backend %s: response head too large to forward", name);
		return;
	}
	conn_count_status(c, c->resp.status);
	c->out_head_len += c->head.total - take;
	c->resp_started = true;
	c->state = CS_RESP_SEND;
	conn_touch(c, conn_timeout_ms(c));
	if (worker_sendmsg(w, c, OP_CLIENT_SEND, c->fd, c->head.cur, c->head.niov))
		conn_close(c);
}

/* The exchange is over: the backend connection goes back to the pool if it can, the
 * client connection waits for (or already holds) the next request. */
static void conn_finish(struct conn *c)
{
	struct worker *w = c->w;
	uint32_t left;

	conn_request_end(c);
	conn_release_pipe(c);
	if (c->ufd >= 0 && c->up_reusable && !w->stopping) {
		up_pool_put(&w->pools[c->pass->backend], c->ufd, w->now_ms);
		c->ufd = -1;
	}
	conn_drop_upstream(c);
	c->nreq++;
	if (!c->keep_alive || w->stopping) {
		conn_linger(c);
		return;
	}
	/* Keep the pipelined bytes that follow, at the front, with headroom again. */
	left = c->end - c->next;
	memmove(c->buf + CONN_HEADROOM, c->buf + c->next, left);
	c->start = c->scanned = CONN_HEADROOM;
	c->end = CONN_HEADROOM + left;
	c->head_started = false;
	c->timed_out = false;
	c->state = CS_HEAD;
	conn_touch(c, w->cfg->keepalive_timeout_ms);
	if (left)
		conn_head_bytes(c);
	else
		conn_read_head(c);
}

static void conn_body_finished(struct conn *c)
{
	if (c->body.response)
		conn_finish(c);
	else
		conn_request_sent(c);
}

/* ---- static files ------------------------------------------------------------- */

/* The root a URL-path is served from: the longest Alias prefix, else DocumentRoot. *rel
 * gets the offset of the path relative to that root. NULL: nothing serves it. */
static const struct file_root *conn_file_root(const struct conn *c, const char *path,
					      uint32_t len, uint32_t *rel)
{
	const struct config *cfg = c->w->cfg;
	const struct worker_files *f = c->w->files;
	int best = -1;

	for (unsigned i = 0; i < cfg->nalias; i++) {
		const struct cfg_alias *a = &cfg->alias[i];
		uint32_t n = a->prefix_len;

		/* "/static/" matches below it; "/static" also at a segment boundary. */
		if (n > len || memcmp(path, a->prefix, n) != 0)
			continue;
		if (a->prefix[n - 1] != '/' && n < len && path[n] != '/')
			continue;
		if (best < 0 || n > cfg->alias[best].prefix_len)
			best = (int)i;
	}
	if (best >= 0) {
		uint32_t n = cfg->alias[best].prefix_len;

		/* "/static" + "/a.txt": the path below the root starts after the slash. */
		*rel = n < len && path[n] == '/' ? n + 1 : n;
		return &f->alias[best];
	}
	if (f && f->docroot.fd >= 0) {
		*rel = 1;
		return &f->docroot;
	}
	return NULL;
}

/* Percent-decodes a normalized path (its escapes are valid and upper case) into out. An
 * encoded slash or NUL does not name a file (as httpd with AllowEncodedSlashes Off): -1. */
static int conn_decode_path(const char *in, uint32_t len, char *out, uint32_t *outlen)
{
	ssize_t n;

	if (memmem(in, len, "%2F", 3) || memmem(in, len, "%00", 3))
		return -1;
	n = uri_decode(in, len, out, len, NULL);
	if (n < 0)
		return -1;
	out[n] = 0; /* for the file probe; the caller's buffer has room */
	*outlen = (uint32_t)n;
	return 0;
}

static void conn_file_pump(struct conn *c);

static void conn_static(struct conn *c)
{
	const char *path = c->buf + c->start + c->req.path.off;
	const struct file_root *root;
	uint32_t rel = 0, dlen;

	root = conn_file_root(c, path, c->req.path.len, &rel);
	if (!root) {
		conn_fail(c, 404, "nothing serves %.*s", (int)c->req.path.len, path);
		return;
	}
	if (rel > c->req.path.len)
		rel = c->req.path.len;
	if (c->req.path.len - rel >= CONN_RESP_MAX / 2 ||
	    conn_decode_path(path + rel, c->req.path.len - rel, c->rbuf, &dlen) < 0) {
		conn_fail(c, 404, "no file for %.*s", (int)c->req.path.len, path);
		return;
	}
	conn_static_at(c, root, c->rbuf, dlen);
}

/* Serves the file path[0..len) (decoded, relative) beneath root. */
static void conn_static_at(struct conn *c, const struct file_root *root, const char *dpath,
			   uint32_t dlen)
{
	struct worker *w = c->w;
	char *head = c->buf + c->start;
	const char *path = head + c->req.path.off;
	struct file_req rq;
	struct file_reply rep;
	char *out = c->rbuf + CONN_RESP_MAX / 2;

	/* A body sent with a file request is not read: close after answering. */
	if (c->req.framing != HTTP_FRAMING_NONE)
		c->keep_alive = false;
	memset(&rq, 0, sizeof(rq));
	rq.meth = c->req.meth;
	rq.path = dpath;
	rq.path_len = dlen;
	rq.url_path = path;
	rq.url_path_len = c->req.path.len;
	rq.query = head + c->req.query.off;
	rq.query_len = c->req.query.len;
	rq.has_query = c->req.has_query;
	file_cond_scan(&rq.cond, head, c->req.fields_off, c->req.head_len);
	rq.close = !c->keep_alive;
	rq.keep_alive_10 = c->keep_alive && c->req.version == 10;
	rq.now = time(NULL);
	rq.now_ms = w->now_ms;
	if (file_serve(&w->fcache, root, w->files->mime, &rq, out, CONN_RESP_MAX / 2, &rep) < 0) {
		conn_fail(c, 500, "static file response head too large");
		return;
	}
	TRACE_FILE(c->id, dpath, rep.status, rep.size);
	if (rep.head_len == 0) {
		if (rep.status == 500)
			log_error("file", "[client %s:%u] %.*s: %s", c->ip, c->port,
				  (int)c->req.path.len, path, strerror(-rep.err));
		c->next = c->start + c->req.head_len;
		c->page_keep = c->keep_alive && c->req.framing == HTTP_FRAMING_NONE;
		conn_send_page(c, rep.status, rep.extra);
		return;
	}
	c->next = c->req.framing == HTTP_FRAMING_NONE ? c->start + c->req.head_len : c->end;
	conn_file_start(c, &rep, out);
}

/* Sends the head out[0..rep->head_len) and then rep's body, if any. */
static void conn_file_start(struct conn *c, const struct file_reply *r, char *out)
{
	struct file_reply rep = *r;
	struct worker *w = c->w;

	conn_count_status(c, rep.status);
	c->resp_started = true;
	c->fent = rep.ent;
	c->foff = (int64_t)rep.offset;
	memset(&c->body, 0, sizeof(c->body));
	c->body.sp.from = rep.ent ? rep.ent->fd : -1;
	c->body.sp.to = c->fd;
	c->body.sp.left = rep.length;
	c->fhead = out;
	c->page_len = rep.head_len;
	c->out_head_len += rep.head_len;
	c->page_off = 0;
	c->state = CS_FILE_HEAD;
	conn_touch(c, conn_timeout_ms(c));
	/* The head waits for the first bytes of the body: one segment for a small file. */
	if ((rep.ent ? worker_send_more : worker_send)(w, c, OP_CLIENT_SEND, c->fd, out,
						       rep.head_len))
		conn_close(c);
}

/* ErrorDocument CODE /local/path: the file that path maps to (Alias, DocumentRoot) is
 * sent with the error's status, as httpd's internal redirect would; false when there is
 * no such regular file (the caller sends the built-in page). The connection closes after. */
static bool conn_errdoc_local(struct conn *c, unsigned status, const char *url)
{
	struct worker *w = c->w;
	char *norm = c->rbuf, *dpath = c->rbuf + CONN_RESP_MAX / 4;
	char *out = c->rbuf + CONN_RESP_MAX / 2;
	size_t ulen = strlen(url);
	const struct file_root *root;
	struct file_req rq;
	struct file_reply rep;
	uint32_t rel = 0, dlen;
	ssize_t nl;
	char line[96];
	const char *eol;
	size_t n, rest;

	if (!w->files || ulen >= CONN_RESP_MAX / 4)
		return false;
	memcpy(norm, url, ulen);
	nl = http_path_normalize(norm, ulen);
	if (nl < 0)
		return false;
	root = conn_file_root(c, norm, (uint32_t)nl, &rel);
	if (!root || rel > (uint32_t)nl ||
	    conn_decode_path(norm + rel, (uint32_t)nl - rel, dpath, &dlen) < 0)
		return false;
	memset(&rq, 0, sizeof(rq));
	rq.meth = c->head_only ? HTTP_METHOD_HEAD : HTTP_METHOD_GET;
	rq.path = dpath;
	rq.path_len = dlen;
	/* A page that ends only the exchange (page_keep) keeps the connection; else close. */
	if (!c->page_keep)
		c->keep_alive = false;
	rq.close = !c->keep_alive;
	rq.keep_alive_10 = c->keep_alive && c->req.version == 10;
	rq.now = time(NULL);
	rq.now_ms = w->now_ms;
	if (file_serve(&w->fcache, root, w->files->mime, &rq, out, CONN_RESP_MAX / 2, &rep) < 0)
		return false;
	if (rep.status != 200) {
		file_release(rep.ent);
		return false;
	}
	/* The file's head with the error's status line. */
	eol = memchr(out, '\n', rep.head_len);
	n = (size_t)snprintf(line, sizeof(line), "HTTP/1.1 %u %s\r\n", status,
			     http_status_text(status));
	rest = rep.head_len - (size_t)(eol + 1 - out);
	memmove(out + n, eol + 1, rest);
	memcpy(out, line, n);
	rep.head_len = (uint32_t)(n + rest);
	rep.status = (uint16_t)status;
	conn_release_pipe(c);
	conn_drop_upstream(c);
	c->page_keep = false;
	c->timed_out = false;
	conn_file_start(c, &rep, out);
	return true;
}

static void conn_file_done(struct conn *c)
{
	file_release(c->fent);
	c->fent = NULL;
	conn_finish(c);
}

static void conn_file_pump(struct conn *c)
{
	struct conn_body *b = &c->body;
	uint64_t before = b->sp.moved;
	enum relay_result r;

	if (!b->splicing) {
		/* sendfile(2), not a pipe of ours: see relay_file_pump() */
		b->splicing = true;
		c->w->stats.splice_transfers++;
	}
	r = relay_file_pump(&b->sp, &c->foff);
	c->w->stats.bytes_spliced += b->sp.moved - before;
	c->bytes_out += b->sp.moved - before;
	if (b->sp.moved != before)
		conn_touch(c, conn_timeout_ms(c));
	switch (r) {
	case RELAY_DONE:
		conn_trace_splice(c, b->sp.moved, 2);
		b->splicing = false;
		conn_file_done(c);
		return;
	case RELAY_WAIT_OUT:
		if (worker_poll(c->w, c, c->fd, POLLOUT))
			conn_close(c);
		return;
	case RELAY_EOF:
		conn_fail(c, 0, "static file shrank while it was being sent");
		return;
	default:
		conn_fail(c, 0, "sending a static file: %s", strerror(b->sp.err));
		return;
	}
}

static void conn_file_sent(struct conn *c, int res)
{
	c->page_off += (uint32_t)res;
	if (c->page_off < c->page_len) {
		if ((c->fent ? worker_send_more : worker_send)(c->w, c, OP_CLIENT_SEND, c->fd,
								c->fhead + c->page_off,
								c->page_len - c->page_off))
			conn_close(c);
		return;
	}
	if (!c->fent) {
		conn_finish(c);
		return;
	}
	c->state = CS_FILE_BODY;
	conn_file_pump(c);
}

/* ---- metrics ------------------------------------------------------------------------ */

struct conn_text {
	char *p;
	size_t len;
	size_t cap;
};

__attribute__((format(printf, 2, 3)))
static void conn_text_add(struct conn_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len >= t->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len = n < 0 ? t->cap : t->len + (size_t)n;
}

/* Prometheus text of every worker's counters. They are read while their workers run:
 * each value is a plain aligned 64-bit load, so a scrape is a consistent-enough snapshot,
 * never a torn number. */
static void conn_metrics_render(struct conn *c, struct conn_text *t)
{
	const struct worker *all = c->w->all;
	const struct config *cfg = c->w->cfg;
	static const char *const cls[6] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };
	struct stats sum;
	uint64_t active = 0, cum = 0;

	worker_stats_sum(all, c->w->nall, &sum);
	for (unsigned i = 0; i < c->w->nall; i++)
		active += all[i].active;
	conn_text_add(t, "# HELP spliced_requests_total Requests answered, by status class.\n"
		      "# TYPE spliced_requests_total counter\n");
	for (unsigned k = 0; k < 6; k++)
		conn_text_add(t, "spliced_requests_total{class=\"%s\"} %llu\n", cls[k],
			      (unsigned long long)sum.status[k]);
	conn_text_add(t, "# HELP spliced_bytes_total Body bytes moved, by how.\n"
		      "# TYPE spliced_bytes_total counter\n"
		      "spliced_bytes_total{how=\"spliced\"} %llu\n"
		      "spliced_bytes_total{how=\"copied\"} %llu\n",
		      (unsigned long long)sum.bytes_spliced, (unsigned long long)sum.bytes_copied);
	conn_text_add(t, "# HELP spliced_connections_active Client connections open now.\n"
		      "# TYPE spliced_connections_active gauge\nspliced_connections_active %llu\n"
		      "# TYPE spliced_connections_total counter\nspliced_connections_total %llu\n",
		      (unsigned long long)active, (unsigned long long)sum.accepted);
	conn_text_add(t, "# HELP spliced_backend_connections_total Backend connections used, "
		      "by kind.\n# TYPE spliced_backend_connections_total counter\n"
		      "spliced_backend_connections_total{kind=\"new\"} %llu\n"
		      "spliced_backend_connections_total{kind=\"reused\"} %llu\n"
		      "spliced_backend_connections_total{kind=\"retry\"} %llu\n",
		      (unsigned long long)sum.up_connects, (unsigned long long)sum.up_reuses,
		      (unsigned long long)sum.up_retries);
	conn_text_add(t, "# HELP spliced_backend_pool_idle Idle keep-alive backend connections.\n"
		      "# TYPE spliced_backend_pool_idle gauge\n");
	for (unsigned b = 0; b < cfg->nbackend; b++) {
		uint64_t idle = 0;

		for (unsigned i = 0; i < c->w->nall; i++)
			idle += all[i].pools ? all[i].pools[b].n : 0;
		conn_text_add(t, "spliced_backend_pool_idle{backend=\"%s\"} %llu\n",
			      cfg->backend[b].name, (unsigned long long)idle);
	}
	conn_text_add(t, "# HELP spliced_autostarts_total Backend starts asked of the helper.\n"
		      "# TYPE spliced_autostarts_total counter\nspliced_autostarts_total %llu\n"
		      "# HELP spliced_autostart_requests_total Requests that waited for a "
		      "backend to start, by outcome.\n"
		      "# TYPE spliced_autostart_requests_total counter\n"
		      "spliced_autostart_requests_total{outcome=\"waited\"} %llu\n"
		      "spliced_autostart_requests_total{outcome=\"503\"} %llu\n",
		      (unsigned long long)sum.autostarts, (unsigned long long)sum.autostart_waits,
		      (unsigned long long)sum.autostart_fails);
	conn_text_add(t, "# HELP spliced_parse_errors_total Requests refused, by reason.\n"
		      "# TYPE spliced_parse_errors_total counter\n");
	for (unsigned i = 0; i < c->w->nall; i++) {
		const struct stats *s = &all[i].stats;

		unsigned np = __atomic_load_n(&s->nperr, __ATOMIC_ACQUIRE);

		for (unsigned k = 0; k < np && k < STATS_REASONS; k++)
			conn_text_add(t, "spliced_parse_errors_total{reason=\"%s\",worker=\"%u\"} %llu\n",
				      s->perr[k].reason, i, (unsigned long long)s->perr[k].n);
	}
	conn_text_add(t, "# HELP spliced_request_duration_seconds From a parsed head to the "
		      "end of the response.\n# TYPE spliced_request_duration_seconds histogram\n");
	for (unsigned k = 0; k < STATS_LAT_BUCKETS; k++) {
		cum += sum.lat_bucket[k];
		if (k < STATS_LAT_BUCKETS - 1)
			conn_text_add(t, "spliced_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
				      (double)stats_lat_bounds_ns[k] / 1e9, (unsigned long long)cum);
		else
			conn_text_add(t, "spliced_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				      (unsigned long long)cum);
	}
	conn_text_add(t, "spliced_request_duration_seconds_sum %.6f\n"
		      "spliced_request_duration_seconds_count %llu\n",
		      (double)sum.lat_sum_ns / 1e9, (unsigned long long)cum);
}

/* GET /metrics on the MetricsListen socket; anything else there is 404. */
static void conn_metrics(struct conn *c)
{
	const char *path = c->buf + c->start + c->req.path.off;
	struct conn_text t = { c->rbuf + 256, 0, CONN_RESP_MAX - 256 };
	char head[256];
	int hl;

	if ((c->req.meth != HTTP_METHOD_GET && c->req.meth != HTTP_METHOD_HEAD) ||
	    c->req.path.len != 8 || memcmp(path, "/metrics", 8) != 0) {
		conn_fail(c, 404, "metrics: only GET /metrics is served here");
		return;
	}
	conn_metrics_render(c, &t);
	if (t.len >= t.cap) {
		conn_fail(c, 500, "metrics: more than %u bytes", CONN_RESP_MAX - 256);
		return;
	}
	hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: text/plain; "
		      "version=0.0.4\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", t.len);
	memcpy(t.p - hl, head, (size_t)hl);
	c->keep_alive = false;
	conn_count_status(c, 200);
	c->resp_started = true;
	c->fent = NULL;
	c->fhead = t.p - hl;
	c->out_head_len += (uint64_t)hl;
	c->page_len = (uint32_t)hl + (c->head_only ? 0 : (uint32_t)t.len);
	c->page_off = 0;
	c->state = CS_FILE_HEAD;
	conn_touch(c, conn_timeout_ms(c));
	if (worker_send(c->w, c, OP_CLIENT_SEND, c->fd, c->fhead, c->page_len))
		conn_close(c);
}

/* ---- completions ------------------------------------------------------------------ */

static void conn_client_recv(struct conn *c, int res)
{
	switch (c->state) {
	case CS_HEAD:
		if (res < 0 && c->timed_out && c->head_started) {
			conn_fail(c, 408, "timed out reading the request head");
			return;
		}
		if (res <= 0) {
			if (c->head_started && res == 0)
				log_info("proxy", "[client %s:%u] closed in the middle of a request head",
					 c->ip, c->port);
			conn_close(c);
			return;
		}
		c->end += (uint32_t)res;
		conn_head_bytes(c);
		return;
	case CS_REQ_BODY:
		conn_body_received(c, res);
		return;
	case CS_LINGER:
		c->linger_bytes += res > 0 ? (uint64_t)res : 0;
		if (res <= 0 || c->linger_bytes > (1u << 20) ||
		    worker_recv(c->w, c, OP_CLIENT_RECV, c->fd, c->buf, CONN_HEADROOM + CONN_HEAD_MAX))
			conn_close(c);
		return;
	default:
		conn_close(c);
	}
}

static void conn_client_sent(struct conn *c, int res)
{
	if (res > 0)
		c->bytes_out += (uint64_t)res;
	if (res <= 0) {
		if (c->state == CS_RESP_BODY || c->state == CS_RESP_SEND)
			c->up_reusable = false;
		conn_fail(c, 0, "sending to the client: %s", strerror(res ? -res : EPIPE));
		return;
	}
	conn_touch(c, conn_timeout_ms(c));
	switch (c->state) {
	case CS_CONTINUE:
		conn_connect(c);
		return;
	case CS_ERROR:
	case CS_RESP_INTERIM:
		c->page_off += (uint32_t)res;
		if (c->page_off < c->page_len) {
			if (worker_send(c->w, c, OP_CLIENT_SEND, c->fd, c->page + c->page_off,
					c->page_len - c->page_off))
				conn_close(c);
		} else if (c->state == CS_ERROR && c->page_keep) {
			c->page_keep = false;
			conn_finish(c);
		} else if (c->state == CS_ERROR) {
			conn_linger(c);
		} else {
			c->state = CS_RESP_HEAD;
			if (c->rlen)
				conn_resp_head(c);
			else
				conn_resp_recv(c);
		}
		return;
	case CS_RESP_SEND:
		fwd_advance(&c->head, (size_t)res);
		if (c->head.left) {
			if (worker_sendmsg(c->w, c, OP_CLIENT_SEND, c->fd, c->head.cur + c->head.first,
					   c->head.niov - c->head.first))
				conn_close(c);
			return;
		}
		conn_start_body(c, c->ufd, c->fd, true);
		return;
	case CS_RESP_BODY:
		conn_body_sent(c, res);
		return;
	case CS_FILE_HEAD:
		conn_file_sent(c, res);
		return;
	default:
		conn_close(c);
	}
}

static void conn_up_sent(struct conn *c, int res)
{
	if (res <= 0) {
		conn_upstream_error(c, res ? -res : EPIPE, "sending request");
		return;
	}
	conn_touch(c, conn_timeout_ms(c));
	if (c->state == CS_REQ_BODY) {
		conn_body_sent(c, res);
		return;
	}
	fwd_advance(&c->head, (size_t)res);
	if (c->head.left) {
		if (worker_sendmsg(c->w, c, OP_UP_SEND, c->ufd, c->head.cur + c->head.first,
				   c->head.niov - c->head.first))
			conn_close(c);
		return;
	}
	conn_start_body(c, c->fd, c->ufd, false);
}

static void conn_up_recv(struct conn *c, int res)
{
	if (c->state == CS_RESP_BODY) {
		conn_body_received(c, res);
		return;
	}
	if (res <= 0) {
		if (c->rlen == 0) {
			conn_upstream_error(c, res ? -res : 0, "reading response");
			return;
		}
		if (c->timed_out)
			conn_upstream_error(c, 0, "reading response head");
		else
			conn_fail(c, 502, "backend %s: response head cut short", conn_backend(c)->name);
		return;
	}
	conn_touch(c, conn_timeout_ms(c));
	c->rlen += (uint32_t)res;
	conn_resp_head(c);
}

/* ---- waiting for a backend the helper starts (ProxyAutostart) ----------------------- */

/* The wait queue of c's backend, or NULL when it has no ProxyAutostart. */
static struct up_wait *conn_wait_queue(const struct conn *c)
{
	const struct cfg_backend *be = conn_backend(c);

	return be->autostart >= 0 && c->w->waits ? &c->w->waits[be->autostart] : NULL;
}

static void conn_autostart_arm(struct worker *w, unsigned a)
{
	struct up_wait *q = &w->waits[a];

	if (q->timer_armed || q->probing || !q->n)
		return;
	if (worker_timer(w, OP_AS_TIMER, a, &q->ts, q->delay_ms) == 0)
		q->timer_armed = true;
}

/* Asks the helper to start backend a, once for the requests waiting now. */
static void conn_autostart_ask(struct worker *w, unsigned a)
{
	struct up_wait *q = &w->waits[a];
	const struct cfg_autostart *as = &w->cfg->autostart[a];
	struct helper_msg m;

	if (q->asked || w->helper_gone)
		return;
	helper_msg_request(&m, HMSG_START, a);
	if (send(w->helper_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		log_error("proxy", "asking the helper to start %s: %s (asked again at the next "
			  "retry)", w->cfg->backend[as->backend].name, strerror(errno));
		return;
	}
	q->asked = true;
	w->stats.autostarts++;
	log_notice("proxy", "backend %s refused the connection: asked the helper to start it; "
		   "requests wait up to %u ms", w->cfg->backend[as->backend].name,
		   as->start_timeout_ms);
}

/* A request that waited for backend a and cannot be served: 503, with the time to come
 * back (the helper's backoff when it waits to restart a crashing backend). */
static void conn_autostart_fail(struct conn *c, unsigned a, const char *why)
{
	const struct up_wait *q = &c->w->waits[a];
	const struct cfg_autostart *as = &c->w->cfg->autostart[a];
	unsigned after = (as->start_timeout_ms + 999) / 1000;
	char hdr[64];

	if (q->hstate == HB_BACKOFF && q->hbackoff_ms)
		after = (q->hbackoff_ms + 999) / 1000;
	c->w->stats.autostart_fails++;
	log_error("proxy", "[client %s:%u] backend %s: %s", c->ip, c->port,
		  c->w->cfg->backend[as->backend].name, why);
	snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\n", after ? after : 1);
	conn_send_page(c, 503, hdr);   /* takes c out of the queue (conn_autostart_leave) */
}

/* The backend refused the connection: when the helper can start it, the request waits in
 * the backend's queue (true); false when it has no ProxyAutostart (the caller answers 502). */
static bool conn_autostart_wait(struct conn *c)
{
	struct worker *w = c->w;
	const struct cfg_backend *be = conn_backend(c);
	struct up_wait *q = conn_wait_queue(c);
	unsigned a = (unsigned)be->autostart;
	const struct cfg_autostart *as;
	bool probe = c->as_probe;

	if (!q || w->helper_fd < 0 || w->helper_gone)
		return false;
	as = &w->cfg->autostart[a];
	conn_drop_upstream(c);
	if (probe) {
		/* still not listening: the probe keeps its turn, the next try comes later */
		c->as_probe = false;
		q->probing = false;
		q->delay_ms = up_retry_next(q->delay_ms);
	} else if (q->n >= as->queue) {
		conn_autostart_fail(c, a, "too many requests wait for it to start (Queue)");
		return true;
	}
	if (!c->wait_until_ms) {
		c->wait_until_ms = w->now_ms + as->start_timeout_ms;
		w->stats.autostart_waits++;
		TRACE_BACKEND_CONNECT(c->id, c->pass->backend, be->name, 3);
	}
	if (w->now_ms >= c->wait_until_ms) {
		conn_autostart_fail(c, a, "did not accept connections within StartTimeout");
		conn_autostart_arm(w, a); /* for those still waiting */
		return true;
	}
	c->state = CS_UP_WAIT;
	c->deadline_ms = c->wait_until_ms;
	c->wait_as = (uint16_t)a;
	up_wait_push(q, w->conns, c, probe);
	conn_autostart_ask(w, a);
	conn_autostart_arm(w, a);
	return true;
}

/* A new connection to the backend succeeded: whoever waits for it goes now. */
static void conn_autostart_listening(struct conn *c)
{
	struct worker *w = c->w;
	struct up_wait *q = conn_wait_queue(c);
	struct conn *x;

	if (!q)
		return;
	if (c->as_probe) {
		c->as_probe = false;
		q->probing = false;
	}
	q->asked = false;
	q->delay_ms = UP_RETRY_FIRST_MS;
	while ((x = up_wait_pop(q, w->conns)) != NULL)
		conn_connect(x);
}

/* c leaves the autostart machinery, whatever state it is in (answered, closed): out of
 * the queue it is in, or no longer the probe, and the retries go on for the others. */
static void conn_autostart_leave(struct conn *c)
{
	struct up_wait *q;

	if (!c->waiting && !c->as_probe)
		return;
	q = &c->w->waits[c->wait_as];
	up_wait_remove(q, c->w->conns, c);
	if (c->as_probe) {
		c->as_probe = false;
		q->probing = false;
	}
	if (!q->n)
		q->asked = false;
	conn_autostart_arm(c->w, c->wait_as);
}

void conn_autostart_retry(struct worker *w, unsigned a)
{
	struct up_wait *q = &w->waits[a];
	struct conn *c;

	q->timer_armed = false;
	if (q->probing || !q->n)
		return;
	/* ask again when the first request went unanswered (the helper was busy) */
	conn_autostart_ask(w, a);
	c = up_wait_pop(q, w->conns);
	c->as_probe = true;
	c->wait_as = (uint16_t)a;
	q->probing = true;
	conn_connect(c);
}

void conn_autostart_state(struct worker *w, const struct helper_msg *m)
{
	struct up_wait *q = &w->waits[m->backend];

	q->hstate = m->state;
	q->hbackoff_ms = m->backoff_ms;
	if (m->state == HB_RUNNING && q->n && !q->probing) {
		/* it runs now: try soon, whatever the delay had grown to */
		q->delay_ms = UP_RETRY_FIRST_MS;
		if (q->timer_armed)
			worker_timer_update(w, OP_AS_TIMER, m->backend, &q->ts, q->delay_ms);
		else
			conn_autostart_arm(w, m->backend);
	}
	if (m->state == HB_STOPPED)
		q->asked = false; /* stopped, not restarting by itself: ask again */
}

void conn_autostart_helper_gone(struct worker *w)
{
	for (unsigned a = 0; a < w->cfg->nautostart; a++) {
		struct conn *c;

		while ((c = up_wait_pop(&w->waits[a], w->conns)) != NULL)
			conn_autostart_fail(c, a, "cannot be started: the helper is gone");
	}
}

static void conn_up_connected(struct conn *c, int res)
{
	if (res == -ECONNREFUSED && !c->timed_out && conn_autostart_wait(c))
		return;
	if (res < 0 && c->as_probe && c->timed_out && c->w->now_ms >= c->wait_until_ms) {
		/* the probe's connect outlived the request's wait */
		conn_autostart_fail(c, c->wait_as, "did not accept connections within StartTimeout");
		return;
	}
	if (res >= 0)
		conn_autostart_listening(c);
	if (res < 0) {
		if (c->timed_out)
			conn_upstream_error(c, 0, "connecting");
		else
			conn_fail(c, 502, "backend %s: connect: %s", conn_backend(c)->name,
				  strerror(-res));
		return;
	}
	c->state = CS_REQ_HEAD;
	conn_touch(c, conn_timeout_ms(c));
	if (worker_sendmsg(c->w, c, OP_UP_SEND, c->ufd, c->head.cur, c->head.niov))
		conn_close(c);
}

void conn_complete(struct conn *c, int op, int res)
{
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
	switch (op) {
	case OP_CLIENT_RECV:
		conn_client_recv(c, res);
		break;
	case OP_CLIENT_SEND:
		conn_client_sent(c, res);
		break;
	case OP_UP_CONNECT:
		conn_up_connected(c, res);
		break;
	case OP_UP_SEND:
		conn_up_sent(c, res);
		break;
	case OP_UP_RECV:
		conn_up_recv(c, res);
		break;
	case OP_SPLICE_POLL:
		if (c->state == CS_FILE_BODY) {
			if (res < 0)
				conn_fail(c, 0, "sending a static file: %s", strerror(-res));
			else
				conn_file_pump(c);
		} else if (res < 0 && c->timed_out && !c->body.response && c->body.wait_out)
			conn_upstream_error(c, 0, "sending request body");
		else if (res < 0 && c->timed_out)
			conn_body_error(c, ETIMEDOUT, "waiting");
		else if (res < 0)
			conn_body_error(c, -res, "poll");
		else
			conn_body_pump(c);
		break;
	default:
		conn_close(c);
	}
}

/* ---- deadlines and stopping ------------------------------------------------------- */

void conn_timeout(struct conn *c)
{
	switch (c->state) {
	case CS_HEAD:
		if (!c->head_started) {
			conn_close(c); /* idle keep-alive, or a connection that never spoke */
			return;
		}
		break; /* the cancelled receive answers 408 */
	case CS_LINGER:
	case CS_ERROR:
	case CS_CLOSING:
		conn_close(c);
		return;
	case CS_UP_WAIT:
		conn_autostart_fail(c, c->wait_as, "did not accept connections within StartTimeout");
		return;
	default:
		break;
	}
	/* Something is in flight: cancel it; its completion sees timed_out. Should the cancel
	 * miss, the deadline fires again a tick later and cancels again. */
	c->timed_out = true;
	conn_touch(c, 2 * 100);
	worker_cancel_fd(c->w, c->fd);
	if (c->ufd >= 0)
		worker_cancel_fd(c->w, c->ufd);
}

void conn_stop_if_idle(struct conn *c)
{
	if (c->state == CS_HEAD && !c->head_started)
		conn_close(c);
}

void conn_abort(struct conn *c)
{
	if (c->state != CS_FREE)
		conn_close(c);
}
