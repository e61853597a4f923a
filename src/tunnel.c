/* Protocol upgrades and the tunnel after a 101; the contract is in include/spliced/tunnel.h.
 *
 * 101 head to the client (+ the first bytes of the new protocol) -> both directions at
 * once, each one step at a time (tunnel_step()): send what is buffered; else pass an EOF
 * on; else splice while the sender keeps the buffer full; else read. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "spliced/exch.h"
#include "spliced/forward.h"
#include "spliced/http.h"
#include "spliced/relay.h"
#include "spliced/ring-t.h"
#include "spliced/stats.h"
#include "spliced/tls.h"
#include "spliced/trace.h"
#include "spliced/tunnel.h"

/* ---- what may switch (pure) ------------------------------------------------------- */

bool tunnel_pick(const char *v, size_t len, const char *allowed, struct http_span *out)
{
	size_t pos = 0, alen = strlen(allowed);
	struct http_span el;

	while (http_list_next(v, len, &pos, &el)) {
		size_t apos = 0;
		struct http_span a;

		if (http_proto_is(v, el, "h2c", 3))
			continue;
		while (http_list_next(allowed, alen, &apos, &a))
			if (http_proto_is(v, el, allowed + a.off, a.len)) {
				*out = el;
				return true;
			}
	}
	return false;
}

bool tunnel_confirms(const char *v, size_t len, const char *proto, size_t plen)
{
	size_t pos = 0, n = 0;
	struct http_span el;

	while (n < plen && proto[n] != '/')
		n++;
	if (!http_list_next(v, len, &pos, &el) || !http_proto_is(v, el, proto, n))
		return false;
	return !http_list_next(v, len, &pos, &el);
}

void tunnel_offer(struct conn *c)
{
	const struct http_request *req = &c->req;
	const char *v;
	size_t vlen;
	struct http_span el;

	c->upgrade_len = 0;
	if (!c->pass->upgrade[0] || !req->has_upgrade || !req->conn_upgrade ||
	    req->version != 11 || req->framing != HTTP_FRAMING_NONE)
		return;
	v = http_field_value(c->buf + c->start, req, "upgrade", 7, &vlen);
	if (!v || !tunnel_pick(v, vlen, c->pass->upgrade, &el) || el.len > sizeof(c->upgrade))
		return;
	memcpy(c->upgrade, v + el.off, el.len);
	c->upgrade_len = (uint8_t)el.len;
}

/* ---- the switch ------------------------------------------------------------------- */

static uint64_t tunnel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum conn_ev tunnel_switch(struct conn *c, uint32_t hl)
{
	struct worker *w = c->w;
	const char *name = exch_backend(c)->name;
	const struct http_field *up = NULL;

	if (!c->upgrade_len)
		return exch_fail(c, 502, "backend %s: 101 Switching Protocols was not asked for",
				 name);
	for (unsigned i = 0; i < c->resp.nnoted; i++)
		if (c->resp.noted[i].kind == HTTP_F_UPGRADE)
			up = &c->resp.noted[i];
	if (c->resp.version != 11 || !up ||
	    !tunnel_confirms(c->rbuf + up->value.off, up->value.len, c->upgrade, c->upgrade_len))
		return exch_fail(c, 502, "backend %s: 101 to a protocol other than the %.*s asked "
				 "for", name, (int)c->upgrade_len, c->upgrade);
	if (fwd_switch_head(&c->head, c->rbuf, &c->resp, c->rbuf + hl, c->rlen - hl))
		return exch_fail(c, 502, "backend %s: response head too large to forward", name);
	w->stats.bytes_copied += c->rlen - hl;
	c->out_head_len += c->head.total - (c->rlen - hl);
	c->status = 101;
	stats_count_status(&w->stats, 101);
	/* the request's latency is the time to the switch; the log gets the tunnel's life */
	stats_latency(&w->stats, tunnel_now_ns() - c->t_start_ns);
	w->stats.tunnels++;
	w->stats.tunnels_active++;
	c->tunneled = true;
	c->resp_started = true;
	c->keep_alive = false;
	c->up_reusable = false;
	c->state = CS_TUNNEL_HEAD;
	exch_touch(c, exch_timeout_ms(c));
	return exch_sendmsg(c, OP_CLIENT_SEND, c->fd, c->head.cur, c->head.niov) ? EV_CLOSE
										   : EV_WAIT;
}

void tunnel_end(struct conn *c)
{
	struct conn_body *d = &c->tun;

	if (!c->tunneled)
		return;
	c->tunneled = false;
	if (d->sp.pipe)
		relay_pipe_put(&c->w->pipes, d->sp.pipe, d->sp.in_pipe != 0 || d->splicing);
	d->sp.pipe = NULL;
	d->splicing = false;
	c->w->stats.tunnels_active--;
	TRACE_TUNNEL(c->id, c->bytes_in, c->bytes_out, tunnel_now_ns() - c->t_start_ns);
}

/* ---- both directions ---------------------------------------------------------------- */

static bool tunnel_is_up(const struct conn *c, const struct conn_body *d)
{
	return d == &c->tun;
}

static enum conn_ev tunnel_error(struct conn *c, struct conn_body *d, int err, const char *what)
{
	if (c->timed_out)
		return exch_fail(c, 0, "tunnel to %s idle for %llu ms: closed",
				 exch_backend(c)->name,
				 (unsigned long long)tunnel_timeout_ms(c));
	return exch_fail(c, 0, "tunnel to %s: %s %s: %s", exch_backend(c)->name,
			 tunnel_is_up(c, d) ? "client -> backend" : "backend -> client", what,
			 strerror(err));
}

/* Bytes moved: the idle clock starts again, and they are counted. */
static void tunnel_moved(struct conn *c, struct conn_body *d, uint64_t n, bool spliced)
{
	if (!n)
		return;
	if (spliced)
		c->w->stats.bytes_spliced += n;
	else
		c->w->stats.bytes_copied += n;
	if (tunnel_is_up(c, d))
		c->bytes_in += n;
	else if (spliced)
		c->bytes_out += n; /* a copied send is counted by conn.c */
	exch_touch(c, tunnel_timeout_ms(c));
}

static enum conn_ev tunnel_step(struct conn *c, struct conn_body *d);

/* A splice run ends when the sender pauses (the pipe goes back to the pool: an idle
 * tunnel holds none) or at EOF. */
static void tunnel_splice_stop(struct conn *c, struct conn_body *d)
{
	exch_trace_splice(c, d->sp.moved, tunnel_is_up(c, d) ? 0 : 1);
	relay_pipe_put(&c->w->pipes, d->sp.pipe, false);
	d->sp.pipe = NULL;
	d->splicing = false;
	d->big = false;
}

static enum conn_ev tunnel_pump(struct conn *c, struct conn_body *d)
{
	uint64_t before = d->sp.moved;
	enum relay_result r = relay_pump(&d->sp);
	int poll_op = tunnel_is_up(c, d) ? OP_TUNNEL_POLL : OP_SPLICE_POLL;

	tunnel_moved(c, d, d->sp.moved - before, true);
	switch (r) {
	case RELAY_DONE:
		d->eof = true;
		tunnel_splice_stop(c, d);
		return tunnel_step(c, d);
	case RELAY_WAIT_IN:
		tunnel_splice_stop(c, d); /* the pipe is empty: the drain came first */
		return tunnel_step(c, d);
	case RELAY_WAIT_OUT:
		return exch_poll_as(c, poll_op, d->to, POLLOUT) ? EV_CLOSE : EV_WAIT;
	case RELAY_EOF:
	case RELAY_ERROR:
	default:
		return tunnel_error(c, d, d->sp.err ? d->sp.err : EPIPE, "splice");
	}
}

static bool tunnel_try_splice(struct conn *c, struct conn_body *d)
{
	d->sp.pipe = exch_pipe_get(c, d);
	if (!d->sp.pipe)
		return false;
	d->sp.from = d->from;
	d->sp.to = d->to;
	d->sp.left = RELAY_UNTIL_EOF;
	d->sp.in_pipe = 0;
	d->sp.moved = 0;
	d->sp.err = 0;
	d->splicing = true;
	c->w->stats.splice_transfers++;
	return true;
}

/* The next move of one direction; EV_WAIT once it is done while the other is not. */
static enum conn_ev tunnel_step(struct conn *c, struct conn_body *d)
{
	bool up = tunnel_is_up(c, d);

	if (d->len)
		return exch_send(c, up ? OP_UP_SEND : OP_CLIENT_SEND, d->to, d->buf + d->off,
				 d->len) ? EV_CLOSE : EV_WAIT;
	if (d->eof) {
		if (!d->shut) {
			d->shut = true;
			/* the peer may be gone already: the other direction will tell */
			shutdown(d->to, SHUT_WR);
		}
		return c->tun.shut && c->body.shut ? EV_DONE : EV_WAIT;
	}
	if (d->splicing || (d->big && tunnel_try_splice(c, d)))
		return tunnel_pump(c, d);
	return exch_recv(c, up ? OP_CLIENT_RECV : OP_UP_RECV, d->from, d->buf, d->cap)
		       ? EV_CLOSE : EV_WAIT;
}

static enum conn_ev tunnel_received(struct conn *c, struct conn_body *d, int res)
{
	if (res < 0)
		return tunnel_error(c, d, -res, "receive");
	if (res == 0) {
		d->eof = true;
		return tunnel_step(c, d);
	}
	tunnel_moved(c, d, (uint64_t)res, false);
	d->off = 0;
	d->len = (uint32_t)res;
	d->big = (uint32_t)res == d->cap;
	return tunnel_step(c, d);
}

static enum conn_ev tunnel_sent(struct conn *c, struct conn_body *d, int res)
{
	if (res <= 0)
		return tunnel_error(c, d, res ? -res : EPIPE, "send");
	exch_touch(c, tunnel_timeout_ms(c));
	d->off += (uint32_t)res;
	d->len -= (uint32_t)res;
	return tunnel_step(c, d);
}

static enum conn_ev tunnel_polled(struct conn *c, struct conn_body *d, int res)
{
	if (res < 0)
		return tunnel_error(c, d, -res, "poll");
	return tunnel_pump(c, d);
}

/* The 101 head went out: both directions start, each with the bytes that came early
 * (the client's after its request head, the backend's after its 101). */
static enum conn_ev tunnel_head_sent(struct conn *c, int res)
{
	struct conn_body *up = &c->tun, *down = &c->body;
	enum conn_ev ev;

	fwd_advance(&c->head, (size_t)res);
	if (c->head.left)
		return exch_sendmsg(c, OP_CLIENT_SEND, c->fd, c->head.cur + c->head.first,
				    c->head.niov - c->head.first) ? EV_CLOSE : EV_WAIT;
	/* both ways at once, spliced when big: over TLS, a socketpair from now on */
	if (c->tsess && tls_c_detach(c) < 0)
		return EV_CLOSE;
	memset(up, 0, sizeof(*up));
	memset(down, 0, sizeof(*down));
	up->from = down->to = c->fd;
	up->to = down->from = c->ufd;
	up->buf = c->buf;
	up->cap = CONN_HEADROOM + CONN_HEAD_MAX;
	up->off = c->next;
	up->len = c->end - c->next;
	c->bytes_in += up->len;
	down->buf = c->rbuf;
	down->cap = CONN_RESP_MAX;
	down->response = true;
	c->state = CS_TUNNEL;
	exch_touch(c, tunnel_timeout_ms(c));
	ev = tunnel_step(c, up);
	if (ev != EV_WAIT)
		return ev;
	return tunnel_step(c, down);
}

enum conn_ev tunnel_complete(struct conn *c, int op, int res)
{
	if (c->state == CS_TUNNEL_HEAD)
		return op == OP_CLIENT_SEND ? tunnel_head_sent(c, res) : EV_CLOSE;
	switch (op) {
	case OP_CLIENT_RECV:
		return tunnel_received(c, &c->tun, res);
	case OP_UP_SEND:
		return tunnel_sent(c, &c->tun, res);
	case OP_TUNNEL_POLL:
		return tunnel_polled(c, &c->tun, res);
	case OP_UP_RECV:
		return tunnel_received(c, &c->body, res);
	case OP_CLIENT_SEND:        /* conn.c has dealt with a failed send to the client */
		return tunnel_sent(c, &c->body, res);
	case OP_SPLICE_POLL:
		return tunnel_polled(c, &c->body, res);
	default:
		return EV_CLOSE;
	}
}
