/* Head rewriting for proxied requests and responses: zero-copy iovecs over the receive
 * buffer, the request line rewritten in place in the headroom in front of it. */
#include <errno.h>
#include <string.h>

#include "spliced/forward.h"
#include "spliced/http.h"

static void fwd_reset(struct fwd_head *h)
{
	h->niov = 0;
	h->first = 0;
	h->total = 0;
	h->left = 0;
	h->extra_len = 0;
	h->dropped = 0;
}

/* Appends base[0..len) to the head, merging with the previous piece when contiguous. */
static int fwd_push(struct fwd_head *h, const char *base, size_t len)
{
	struct iovec *last = h->niov ? &h->iov[h->niov - 1] : NULL;

	if (len == 0)
		return 0;
	if (last && (const char *)last->iov_base + last->iov_len == base) {
		last->iov_len += len;
	} else {
		if (h->niov == FWD_MAX_IOV)
			return -ENOSPC;
		h->iov[h->niov].iov_base = (void *)base;
		h->iov[h->niov].iov_len = len;
		h->niov++;
	}
	h->total += len;
	return 0;
}

/* Appends text copied into h->extra. */
static int fwd_push_text(struct fwd_head *h, const char *s, size_t len)
{
	char *dst = h->extra + h->extra_len;

	if (len > FWD_EXTRA - h->extra_len)
		return -ENOSPC;
	memcpy(dst, s, len);
	h->extra_len += len;
	return fwd_push(h, dst, len);
}

static int fwd_push_str(struct fwd_head *h, const char *s)
{
	return fwd_push_text(h, s, strlen(s));
}

static void fwd_finish(struct fwd_head *h)
{
	memcpy(h->cur, h->iov, h->niov * sizeof(h->iov[0]));
	h->first = 0;
	h->left = h->total;
}

/* Noted fields in the order they appear (the parser adds Connection-listed ones last). */
static unsigned fwd_sorted(const struct http_field *in, unsigned n, const struct http_field **out)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned j = i;

		while (j > 0 && out[j - 1]->line.off > in[i].line.off) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = &in[i];
	}
	return n;
}

static bool fwd_request_drops(const struct fwd_target *t, unsigned kind)
{
	switch (kind) {
	case HTTP_F_UNDERSCORE:
		return !t->underscores;
	case HTTP_F_HOST:             /* written anew from t->host or the backend */
	case HTTP_F_FORWARDED:        /* spliced speaks for the client in X-Forwarded-* */
	case HTTP_F_X_REAL_IP:
	case HTTP_F_UNDERSCORE_ALIAS: /* would pass for a field spliced acts on */
	case HTTP_F_CONNECTION:
	case HTTP_F_KEEP_ALIVE:
	case HTTP_F_PROXY_CONNECTION:
	case HTTP_F_TE:
	case HTTP_F_UPGRADE:
	case HTTP_F_EXPECT:
	case HTTP_F_CONNECTION_LISTED:
	case HTTP_F_X_FORWARDED_HOST:
	case HTTP_F_X_FORWARDED_PROTO:
		return true;
	default:
		return false;
	}
}

/* Writes "METHOD SP backend-path rest" so that it ends where the received target's
 * remainder begins; the remainder, query and version stay where they are. A prefix mapped
 * to itself leaves the path as received (";params" in it included). Returns the offset
 * (<= 0 means in the headroom) where the new line starts, via *start. */
static int fwd_request_line(char *head, size_t headroom, const struct http_request *req,
			    const struct fwd_target *t, long *start)
{
	const struct cfg_pass *pass = t->pass;
	bool same = pass->path_len == pass->prefix_len &&
		    memcmp(pass->path, pass->prefix, pass->prefix_len) == 0;
	uint32_t tail = req->path.off + (same ? 0 : t->match_len);
	uint32_t plen = same ? 0 : pass->path_len;
	long pos = (long)tail - (long)plen - 1 - (long)req->method.len;

	if (pos < 0 && (size_t)-pos > headroom)
		return -ENOSPC;
	/* Method first: the path written next may cover where the method was. */
	memmove(head + pos, head + req->method.off, req->method.len);
	head[pos + (long)req->method.len] = ' ';
	memcpy(head + pos + (long)req->method.len + 1, pass->path, plen);
	*start = pos;
	return 0;
}

int fwd_request_head(struct fwd_head *out, char *head, size_t headroom,
		     const struct http_request *req, const struct fwd_target *t,
		     const char *body, size_t body_len)
{
	const struct http_field *sorted[HTTP_MAX_NOTED];
	const struct http_field *last_xff = NULL;
	uint32_t end = req->head_len - 2; /* the final CRLF is sent after the added fields */
	uint32_t cur = req->fields_off;
	long start;
	int ret = 0;

	fwd_reset(out);
	if (fwd_request_line(head, headroom, req, t, &start))
		return -ENOSPC;
	ret |= fwd_push(out, head + start, (size_t)((long)req->fields_off - start));

	fwd_sorted(req->noted, req->nnoted, sorted);
	for (unsigned i = 0; i < req->nnoted; i++)
		if (sorted[i]->kind == HTTP_F_X_FORWARDED_FOR)
			last_xff = sorted[i];
	for (unsigned i = 0; i < req->nnoted; i++) {
		const struct http_field *f = sorted[i];

		if (f == last_xff) {
			uint32_t vend = f->value.off + f->value.len;

			ret |= fwd_push(out, head + cur, vend - cur);
			if (f->value.len)
				ret |= fwd_push_str(out, ", ");
			ret |= fwd_push_str(out, t->client_ip);
			cur = vend;
		} else if (fwd_request_drops(t, f->kind)) {
			ret |= fwd_push(out, head + cur, f->line.off - cur);
			cur = f->line.off + f->line.len;
			out->dropped += f->kind == HTTP_F_UNDERSCORE || f->kind == HTTP_F_UNDERSCORE_ALIAS;
		}
	}
	ret |= fwd_push(out, head + cur, end - cur);

	/* One host for the whole request: the one its virtual host was chosen by. */
	if (!t->preserve_host) {
		ret |= fwd_push_str(out, "Host: ");
		ret |= fwd_push_str(out, t->backend->authority);
		ret |= fwd_push_str(out, "\r\n");
	} else if (t->host) {
		ret |= fwd_push_str(out, "Host: ");
		ret |= fwd_push_text(out, t->host, t->host_len);
		ret |= fwd_push_str(out, "\r\n");
	}
	if (!last_xff) {
		ret |= fwd_push_str(out, "X-Forwarded-For: ");
		ret |= fwd_push_str(out, t->client_ip);
		ret |= fwd_push_str(out, "\r\n");
	}
	if (t->host) {
		ret |= fwd_push_str(out, "X-Forwarded-Host: ");
		ret |= fwd_push_text(out, t->host, t->host_len);
		ret |= fwd_push_str(out, "\r\n");
	}
	ret |= fwd_push_str(out, "X-Forwarded-Proto: ");
	ret |= fwd_push_str(out, t->proto);
	ret |= fwd_push_str(out, "\r\n");
	if (t->upgrade_len) {
		ret |= fwd_push_str(out, "Connection: Upgrade\r\nUpgrade: ");
		ret |= fwd_push_text(out, t->upgrade, t->upgrade_len);
		ret |= fwd_push_str(out, "\r\n");
	}
	ret |= fwd_push_str(out, "\r\n");
	ret |= fwd_push(out, body, body_len);
	if (ret)
		return -ENOSPC;
	fwd_finish(out);
	return 0;
}

static bool fwd_response_drops(unsigned kind, bool upgrade)
{
	return kind == HTTP_F_CONNECTION || kind == HTTP_F_KEEP_ALIVE ||
	       kind == HTTP_F_PROXY_CONNECTION || (kind == HTTP_F_UPGRADE && !upgrade) ||
	       kind == HTTP_F_CONNECTION_LISTED;
}

/* The response head without its hop-by-hop fields (Upgrade kept when upgrade), then
 * `conn` (a Connection field or ""), then body[0..body_len). */
static int fwd_response(struct fwd_head *out, char *head, const struct http_response *resp,
			bool upgrade, const char *conn, const char *body, size_t body_len)
{
	const struct http_field *sorted[HTTP_MAX_NOTED];
	uint32_t cur = 0, end = resp->head_len - 2;
	int ret = 0;

	fwd_reset(out);
	/* We speak HTTP/1.1 to the client whatever the backend speaks. */
	memcpy(head, "HTTP/1.1", 8);
	fwd_sorted(resp->noted, resp->nnoted, sorted);
	for (unsigned i = 0; i < resp->nnoted; i++) {
		if (!fwd_response_drops(sorted[i]->kind, upgrade))
			continue;
		ret |= fwd_push(out, head + cur, sorted[i]->line.off - cur);
		cur = sorted[i]->line.off + sorted[i]->line.len;
	}
	ret |= fwd_push(out, head + cur, end - cur);
	ret |= fwd_push_str(out, conn);
	ret |= fwd_push_str(out, "\r\n");
	ret |= fwd_push(out, body, body_len);
	if (ret)
		return -ENOSPC;
	fwd_finish(out);
	return 0;
}

int fwd_response_head(struct fwd_head *out, char *head, const struct http_response *resp,
		      bool close_client, bool keep_alive_10, const char *body, size_t body_len)
{
	const char *conn = close_client ? "Connection: close\r\n"
			 : keep_alive_10 ? "Connection: keep-alive\r\n" : "";

	return fwd_response(out, head, resp, false, conn, body, body_len);
}

int fwd_switch_head(struct fwd_head *out, char *head, const struct http_response *resp,
		    const char *body, size_t body_len)
{
	return fwd_response(out, head, resp, true, "Connection: Upgrade\r\n", body, body_len);
}

void fwd_advance(struct fwd_head *h, size_t n)
{
	h->left -= n;
	while (n && h->first < h->niov) {
		struct iovec *v = &h->cur[h->first];

		if (n < v->iov_len) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		h->first++;
	}
}

void fwd_rewind(struct fwd_head *h)
{
	fwd_finish(h);
}
