/* A message body moved in one direction; the contract is in include/spliced/body.h.
 *
 * One step at a time (body_step()): send what is buffered; else the body is complete;
 * else splice the rest of this part if it is worth it and a pipe is free; else read into
 * the buffer. A chunked body is scanned as it passes, so the chunk payloads (and only
 * they) may be spliced, and the bytes of a pipelined request that follow a request body
 * stay in the connection's buffer for the next exchange. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "spliced/body.h"
#include "spliced/exch.h"
#include "spliced/http.h"
#include "spliced/relay.h"
#include "spliced/ring-t.h"

void body_release_pipe(struct conn *c)
{
	struct conn_body *b = &c->body;

	if (b->sp.pipe)
		relay_pipe_put(&c->w->pipes, b->sp.pipe, b->sp.in_pipe != 0 || b->splicing);
	b->sp.pipe = NULL;
	b->splicing = false;
}

bool body_chunked_over_limit(const struct conn *c)
{
	uint64_t limit = c->w->cfg->limit_request_body;
	const struct http_chunked *ck = &c->body.ck;

	return limit && c->body.framing == HTTP_FRAMING_CHUNKED && ck->total + ck->left > limit;
}

static bool body_done(const struct conn_body *b)
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

static enum conn_ev body_error(struct conn *c, int err, const char *what)
{
	if (c->body.response)
		return exch_fail(c, 0, "response body: %s: %s", what,
				 err ? strerror(err) : "closed early");
	if (c->timed_out)
		return exch_fail(c, 408, "request body: timed out");
	return exch_fail(c, 0, "request body: %s: %s", what, err ? strerror(err) : "closed early");
}

/* Bytes readable on socket fd now (0 when it cannot tell). */
static int body_readable(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* Ends a splice run whose pipe is empty before the end of its part: the pipe goes back
 * to the pool, the body's framing state takes what was moved. */
static void body_splice_pause(struct conn *c)
{
	struct conn_body *b = &c->body;

	exch_trace_splice(c, b->sp.moved, b->response ? 1 : 0);
	if (b->framing == HTTP_FRAMING_LENGTH)
		b->left = b->sp.left;
	else if (b->framing == HTTP_FRAMING_CHUNKED)
		http_chunked_skip(&b->ck, b->sp.moved);
	b->splicing = false;
	relay_pipe_put(&c->w->pipes, b->sp.pipe, false);
	b->sp.pipe = NULL;
}

/* Starts a splice run if this part of the body is worth it and a pipe is free. */
static bool body_try_splice(struct conn *c)
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
	/* over TLS (no socketpair) the bytes are records made here: copied */
	if (c->tsess && (b->from == c->fd || b->to == c->fd))
		return false;
	/* A request body takes a pipe only once a splice's worth is there to read: a client
	 * that trickles its upload is copied, not left holding one of the worker's pipes. */
	if (!b->response && body_readable(b->from) < RELAY_SPLICE_MIN)
		return false;
	b->sp.pipe = exch_pipe_get(c, b);
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

static enum conn_ev body_step(struct conn *c);

/* Before waiting for more of the request body from the client: has the backend already
 * answered (or closed)? A peek, no byte is taken. */
static bool body_backend_spoke(struct conn *c)
{
	char byte;

	if (c->body.response || recv(c->body.to, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0)
		return false;
	c->early_response = true;
	return true;
}

/* A response body waits on the backend (its timeout=), a request body on the client
 * (Timeout). */
static uint64_t body_timeout_ms(const struct conn *c)
{
	return c->body.response ? exch_up_timeout_ms(c) : exch_timeout_ms(c);
}

/* A send waits on the receiver: the client (Timeout) for a response body, the backend
 * (its timeout=, ProxyTimeout) for a request body, so a backend that accepts an upload and
 * never reads it gets a 504 after its own timeout. */
static uint64_t body_send_timeout_ms(const struct conn *c)
{
	return c->body.response ? exch_timeout_ms(c) : exch_up_timeout_ms(c);
}

static enum conn_ev body_pump(struct conn *c)
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
		exch_touch(c, body_timeout_ms(c));
	if (!b->response)
		c->rt_bytes += b->sp.moved - before;
	switch (r) {
	case RELAY_DONE:
		exch_trace_splice(c, b->sp.moved, b->response ? 1 : 0);
		if (b->framing == HTTP_FRAMING_LENGTH)
			b->left = 0;
		else if (b->framing == HTTP_FRAMING_CHUNKED)
			http_chunked_skip(&b->ck, b->sp.moved);
		else
			b->eof = true;
		b->splicing = false;
		relay_pipe_put(&c->w->pipes, b->sp.pipe, false);
		b->sp.pipe = NULL;
		return body_step(c);
	case RELAY_WAIT_IN:
		b->wait_out = false;
		if (b->response) {
			exch_touch(c, exch_up_timeout_ms(c));  /* the backend's pace */
		} else {
			if (body_backend_spoke(c))
				return EV_DONE;
			if (b->sp.in_pipe == 0) {   /* the client paused: no pipe while it waits */
				body_splice_pause(c);
				return body_step(c);
			}
			if (exch_watch(c))
				return EV_CLOSE;
			c->wait_client = true;
			exch_touch_client(c, &c->w->cfg->rt_body);
		}
		ret = exch_poll(c, b->from, POLLIN | POLLRDHUP);
		break;
	case RELAY_WAIT_OUT:
		/* a backend that stops reading may have answered: POLLIN says so */
		b->wait_out = true;
		exch_touch(c, body_send_timeout_ms(c));
		ret = exch_poll(c, b->to, b->response ? POLLOUT : POLLOUT | POLLIN);
		break;
	case RELAY_EOF:
		return body_error(c, 0, "splice");
	case RELAY_ERROR:
		return body_error(c, b->sp.err, "splice");
	}
	return ret ? EV_CLOSE : EV_WAIT;
}

/* Decides the next move of the current body: send what is buffered, splice, or read. */
static enum conn_ev body_step(struct conn *c)
{
	struct conn_body *b = &c->body;
	int send_op = b->response ? OP_CLIENT_SEND : OP_UP_SEND;
	int recv_op = b->response ? OP_UP_RECV : OP_CLIENT_RECV;
	size_t want;

	if (b->len) {
		exch_touch(c, body_send_timeout_ms(c));
		return exch_send(c, send_op, b->to, b->buf + b->off, b->len) ? EV_CLOSE : EV_WAIT;
	}
	if (body_done(b))
		return EV_DONE;
	if (!b->response)
		c->body_streamed = true;
	if (!b->response && body_chunked_over_limit(c))
		return exch_fail(c, 413, "chunked request body over LimitRequestBody");
	if (b->splicing || body_try_splice(c))
		return body_pump(c);
	want = b->cap - b->rd;
	if (b->framing == HTTP_FRAMING_LENGTH && b->left < want)
		want = (size_t)b->left;
	if (!b->response) {
		/* the backend may answer while we wait for the client: watch it */
		if (body_backend_spoke(c))
			return EV_DONE;
		if (exch_watch(c))
			return EV_CLOSE;
		c->wait_client = true;
		/* the client's pace: RequestReadTimeout body= */
		exch_touch_client(c, &c->w->cfg->rt_body);
	} else {
		/* the backend's (timeout=, ProxyTimeout): the send to the client before this
		 * left the client's Timeout as the deadline */
		exch_touch(c, exch_up_timeout_ms(c));
	}
	return exch_recv(c, recv_op, b->from, b->buf + b->rd, want) ? EV_CLOSE : EV_WAIT;
}

enum conn_ev body_start(struct conn *c, int from, int to, bool response)
{
	c->body.from = from;
	c->body.to = to;
	c->body.response = response;
	if (!response) {
		c->rt_start_ms = c->w->now_ms;
		c->rt_bytes = 0;
	}
	c->state = response ? CS_RESP_BODY : CS_REQ_BODY;
	return body_step(c);
}

static enum conn_ev body_received(struct conn *c, int res)
{
	struct conn_body *b = &c->body;
	uint32_t n = (uint32_t)res;

	if (res < 0)
		return body_error(c, -res, "receive");
	if (res == 0) {
		if (b->framing != HTTP_FRAMING_CLOSE)
			return body_error(c, 0, "receive");
		b->eof = true;
		return body_step(c);
	}
	exch_touch(c, body_timeout_ms(c));
	c->w->stats.bytes_copied += n;
	if (!b->response) {
		c->bytes_in += n;
		c->rt_bytes += n;
	}
	b->off = 0;
	if (b->framing == HTTP_FRAMING_LENGTH) {
		b->left -= n;
		b->len = n;
	} else if (b->framing == HTTP_FRAMING_CHUNKED && b->response) {
		ssize_t used = http_chunked_scan(&b->ck, b->buf, n);

		if (used < 0)
			return body_error(c, EBADMSG, "invalid chunked framing");
		b->len = (uint32_t)used;
		if ((uint32_t)used < n)
			c->up_reusable = false;
	} else if (b->framing == HTTP_FRAMING_CHUNKED) {
		/* Read at buf + rd, written canonical from buf: out never overtakes in. */
		uint32_t in = (uint32_t)(b->buf - c->buf) + b->rd;
		size_t out;
		ssize_t used = http_chunked_canon(&b->ck, c->buf + in, n, b->buf, &out);

		if (used < 0) {
			exch_count_parse_error(c, "invalid chunked body");
			return body_error(c, EBADMSG, "invalid chunked framing");
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
	if (!b->response && body_chunked_over_limit(c))
		return exch_fail(c, 413, "chunked request body over LimitRequestBody");
	return body_step(c);
}

static enum conn_ev body_sent(struct conn *c, int res)
{
	struct conn_body *b = &c->body;

	b->off += (uint32_t)res;
	b->len -= (uint32_t)res;
	return body_step(c);
}

enum conn_ev body_complete(struct conn *c, int op, int res)
{
	struct conn_body *b = &c->body;

	switch (op) {
	case OP_CLIENT_RECV:
		c->wait_client = false;
		return body_received(c, res);
	case OP_UP_RECV:
		return body_received(c, res);
	case OP_CLIENT_SEND:        /* conn.c has dealt with a failed send to the client */
		return body_sent(c, res);
	case OP_UP_SEND:
		if (res <= 0)
			return exch_upstream_error(c, res ? -res : EPIPE, "sending request");
		exch_touch(c, exch_up_timeout_ms(c));
		return body_sent(c, res);
	case OP_SPLICE_POLL:
		if (!b->response && !b->wait_out)
			c->wait_client = false;
		if (res < 0 && c->timed_out && !b->response && b->wait_out)
			return exch_upstream_error(c, 0, "sending request body");
		if (res < 0 && c->timed_out)
			return body_error(c, ETIMEDOUT, "waiting");
		if (res < 0)
			return body_error(c, -res, "poll");
		if (!b->response && b->wait_out && (res & POLLIN)) {
			c->early_response = true;
			return EV_DONE;
		}
		return body_pump(c);
	default:
		return EV_CLOSE;
	}
}
