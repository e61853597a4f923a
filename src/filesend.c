/* Static files sent to the client; the contract is in include/spliced/filesend.h.
 *
 * file_serve() (src/file.c) decides the status and writes the response head into the
 * second half of c->rbuf; the head goes out with MSG_MORE so that it shares a segment
 * with the first bytes of a small file, then relay_file_pump() moves the bytes with
 * sendfile(2), waiting for POLLOUT when the socket is full. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "spliced/exch.h"
#include "spliced/file.h"
#include "spliced/filesend.h"
#include "spliced/http.h"
#include "spliced/log.h"
#include "spliced/relay.h"
#include "spliced/ring-t.h"
#include "spliced/route.h"
#include "spliced/stats.h"
#include "spliced/tls.h"
#include "spliced/trace.h"

/* Sends the head out[0..rep->head_len) and then rep's body, if any. */
static enum conn_ev filesend_head(struct conn *c, const struct file_reply *rep, char *out)
{
	/* Header: a 2xx is the file's own response (onsuccess and always); httpd makes a 304
	 * or an error as an error response ("always" only) */
	ssize_t hl = exch_headers(c, rep->status < 300 ? HDR_ONSUCCESS : HDR_ALWAYS, out,
				  rep->head_len, CONN_RESP_MAX / 2);

	/* sendfile and splice need a socket: over TLS, a socketpair from now on */
	if (c->tsess && rep->ent && tls_c_detach(c) < 0)
		return EV_CLOSE;
	if (hl < 0)
		return exch_fail(c, 500, "static file response head too large once the Header "
				 "rules are applied");
	c->status = rep->status;
	stats_count_status(&c->w->stats, rep->status);
	c->resp_started = true;
	c->fent = rep->ent;
	c->foff = (int64_t)rep->offset;
	memset(&c->body, 0, sizeof(c->body));
	c->body.sp.from = rep->ent ? rep->ent->fd : -1;
	c->body.sp.to = c->fd;
	c->body.sp.left = rep->length;
	c->fhead = out;
	c->page_len = (uint32_t)hl;
	c->out_head_len += (uint64_t)hl;
	c->page_off = 0;
	c->state = CS_FILE_HEAD;
	exch_touch(c, exch_timeout_ms(c));
	/* The head waits for the first bytes of the body: one segment for a small file. */
	return (rep->ent ? exch_send_more : exch_send)(c, OP_CLIENT_SEND, c->fd, out,
						       (size_t)hl) ? EV_CLOSE : EV_WAIT;
}

enum conn_ev filesend_path(struct conn *c, const struct file_root *root, const char *dpath,
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
	if (file_serve(&w->fcache, root, w->files->mime, &rq, out, CONN_RESP_MAX / 2, &rep) < 0)
		return exch_fail(c, 500, "static file response head too large");
	TRACE_FILE(c->id, dpath, rep.status, rep.size);
	if (rep.head_len == 0) {
		/* an error page of ours, with the fields file_serve() asks for (Allow, Location) */
		if (rep.status == 503 && rep.err) {   /* out of descriptors or memory: counted */
			stats_resource_error(&w->stats, rep.err == -ENOMEM ? STATS_RES_MEMORY :
					     STATS_RES_FD_FILE, -rep.err, w->now_ms, "a static file");
			c->keep_alive = false;   /* as for a proxied request: the 503 closes */
		}
		if (rep.status == 500)
			log_error("file", "[client %s:%u] %.*s: %s", c->ip, c->port,
				  (int)c->req.path.len, path, strerror(-rep.err));
		c->next = c->start + c->req.head_len;
		c->page_keep = c->keep_alive && c->req.framing == HTTP_FRAMING_NONE;
		c->page_hdr = (uint16_t)snprintf(c->page, sizeof(c->page), "%s",
						 rep.extra ? rep.extra : "");
		c->fail_status = rep.status;
		return EV_PAGE;
	}
	c->next = c->req.framing == HTTP_FRAMING_NONE ? c->start + c->req.head_len : c->end;
	return filesend_head(c, &rep, out);
}

enum conn_ev filesend_url(struct conn *c, const struct file_root *root, uint32_t rel)
{
	const char *path = c->buf + c->start + c->req.path.off;
	uint32_t dlen;

	if (rel > c->req.path.len)
		rel = c->req.path.len;
	if (c->req.path.len - rel >= CONN_RESP_MAX / 2 ||
	    route_decode_path(path + rel, c->req.path.len - rel, c->rbuf, &dlen) < 0)
		return exch_fail(c, 404, "no file for %.*s", (int)c->req.path.len, path);
	return filesend_path(c, root, c->rbuf, dlen);
}

bool filesend_errdoc(struct conn *c, unsigned status, const char *url, enum conn_ev *ev)
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
	root = route_file_root(w->cfg, w->files, norm, (uint32_t)nl, &rel);
	if (!root || rel > (uint32_t)nl ||
	    route_decode_path(norm + rel, (uint32_t)nl - rel, dpath, &dlen) < 0)
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
	c->page_keep = false;
	c->timed_out = false;
	*ev = filesend_head(c, &rep, out);
	return true;
}

static enum conn_ev filesend_done(struct conn *c)
{
	file_release(c->fent);
	c->fent = NULL;
	return EV_DONE;
}

static enum conn_ev filesend_pump(struct conn *c)
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
		exch_touch(c, exch_timeout_ms(c));
	switch (r) {
	case RELAY_DONE:
		exch_trace_splice(c, b->sp.moved, 2);
		b->splicing = false;
		return filesend_done(c);
	case RELAY_WAIT_OUT:
		return exch_poll(c, c->fd, POLLOUT) ? EV_CLOSE : EV_WAIT;
	case RELAY_EOF:
		return exch_fail(c, 0, "static file shrank while it was being sent");
	default:
		return exch_fail(c, 0, "sending a static file: %s", strerror(b->sp.err));
	}
}

static enum conn_ev filesend_head_sent(struct conn *c, int res)
{
	enum conn_ev ev;

	if (exch_send_rest(c, c->fhead, res, c->fent != NULL, &ev))
		return ev;
	if (!c->fent)
		return EV_DONE;
	c->state = CS_FILE_BODY;
	return filesend_pump(c);
}

enum conn_ev filesend_complete(struct conn *c, int op, int res)
{
	if (c->state == CS_FILE_HEAD && op == OP_CLIENT_SEND)
		return filesend_head_sent(c, res);
	if (c->state == CS_FILE_BODY && op == OP_SPLICE_POLL) {
		if (res < 0)
			return exch_fail(c, 0, "sending a static file: %s", strerror(-res));
		return filesend_pump(c);
	}
	return EV_CLOSE;
}
