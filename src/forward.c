/* Head rewriting for proxied requests and responses: zero-copy iovecs over the receive
 * buffer, the request line rewritten in place in the headroom in front of it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
		return true;
	case HTTP_F_X_FORWARDED_HOST:
	case HTTP_F_X_FORWARDED_PROTO:
		return !t->keep_forwarded;
	default:
		return false;
	}
}

/* A Content-Length value as a backend should read it: no leading zero. RFC 9112 allows
 * "005", but a parser that takes a leading 0 for octal reads "010" as 8, and one that
 * keeps a fixed number of digits reads "0000000000000000000005" as 0: either way the
 * body's end moves, and the next request begins inside it. */
static bool fwd_length_canonical(const char *head, const struct http_field *f)
{
	return f->value.len == 1 || head[f->value.off] != '0';
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
	bool had_xfh = false, had_xfp = false, length_anew = false;
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

		had_xfh |= f->kind == HTTP_F_X_FORWARDED_HOST;
		had_xfp |= f->kind == HTTP_F_X_FORWARDED_PROTO;
		if (f == last_xff) {
			uint32_t vend = f->value.off + f->value.len;
			uint32_t kept = t->xff_cut && t->xff_keep < f->value.len
					? f->value.off + t->xff_keep : vend;

			ret |= fwd_push(out, head + cur, kept - cur);
			if (kept > f->value.off)
				ret |= fwd_push_str(out, ", ");
			ret |= fwd_push_str(out, t->client_ip);
			cur = vend;
		} else if (fwd_request_drops(t, f->kind)) {
			ret |= fwd_push(out, head + cur, f->line.off - cur);
			cur = f->line.off + f->line.len;
			out->dropped += f->kind == HTTP_F_UNDERSCORE || f->kind == HTTP_F_UNDERSCORE_ALIAS;
		} else if (f->kind == HTTP_F_CONTENT_LENGTH && !fwd_length_canonical(head, f)) {
			ret |= fwd_push(out, head + cur, f->line.off - cur);
			cur = f->line.off + f->line.len;
			length_anew = true;
		}
	}
	ret |= fwd_push(out, head + cur, end - cur);
	if (length_anew) {
		char cl[48];
		int n = snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n",
				 (unsigned long long)req->content_length);

		ret |= fwd_push_text(out, cl, (size_t)n);
	}

	/* One host for the whole request: the one its virtual host was chosen by. */
	if (!t->preserve_host) {
		/* an iovec of its own, pointing at the configuration: fwd_retarget() */
		ret |= fwd_push_str(out, "Host: ");
		ret |= fwd_push(out, t->backend->authority, strlen(t->backend->authority));
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
	if (t->host && !(t->keep_forwarded && had_xfh)) {
		ret |= fwd_push_str(out, "X-Forwarded-Host: ");
		ret |= fwd_push_text(out, t->host, t->host_len);
		ret |= fwd_push_str(out, "\r\n");
	}
	if (!(t->keep_forwarded && had_xfp)) {
		ret |= fwd_push_str(out, "X-Forwarded-Proto: ");
		ret |= fwd_push_str(out, t->proto);
		ret |= fwd_push_str(out, "\r\n");
	}
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

/* The first entry of `kind` (main server's, then rev->scope's) that `match` accepts for
 * v[0..len), or NULL. */
static const struct cfg_reverse *fwd_rev_find(const struct fwd_reverse *rev, uint8_t kind,
					      const char *v, size_t len,
					      bool (*match)(const struct cfg_reverse *,
							    const char *, size_t))
{
	const struct config *cfg = rev->cfg;

	for (unsigned round = 0; round < 2; round++) {
		unsigned scope = round ? rev->scope : 0;

		if (round && scope == 0)
			break;
		for (unsigned i = 0; i < cfg->nreverse; i++) {
			const struct cfg_reverse *e = &cfg->reverse[i];

			if (e->kind == kind && e->scope == scope && match(e, v, len))
				return e;
		}
	}
	return NULL;
}

/* Where a ProxyPassReverse URL is compared: the whole value, or for an entry whose URL is
 * a path, the path of an absolute value ("scheme://authority/path"). */
static const char *fwd_url_part(const struct cfg_reverse *e, const char *v, size_t len)
{
	const char *sep = e->from[0] == '/' ? memmem(v, len, "://", 3) : NULL;
	const char *slash = sep ? memchr(sep + 3, '/', (size_t)(v + len - (sep + 3))) : NULL;

	return slash ? slash : v;
}

static bool fwd_url_match(const struct cfg_reverse *e, const char *v, size_t len)
{
	const char *part = fwd_url_part(e, v, len);
	size_t plen = len - (size_t)(part - v);

	return plen >= e->from_len && strncasecmp(e->from, part, e->from_len) == 0;
}

static bool fwd_path_match(const struct cfg_reverse *e, const char *v, size_t len)
{
	return len >= e->from_len && strncmp(e->from, v, e->from_len) == 0;
}

static bool fwd_domain_match(const struct cfg_reverse *e, const char *v, size_t len)
{
	return len >= e->from_len && strncasecmp(e->from, v, e->from_len) == 0;
}

unsigned fwd_response_kinds(const struct fwd_reverse *rev)
{
	unsigned kinds = 0;

	if (!rev)
		return 0;
	for (unsigned i = 0; i < rev->cfg->nreverse; i++) {
		const struct cfg_reverse *e = &rev->cfg->reverse[i];

		if (e->scope != 0 && e->scope != rev->scope)
			continue;
		if (e->kind == CFG_REV_URL)
			kinds |= 1u << HTTP_F_LOCATION | 1u << HTTP_F_CONTENT_LOCATION |
				 1u << HTTP_F_URI;
		else
			kinds |= 1u << HTTP_F_SET_COOKIE;
	}
	return kinds;
}

/* A Location, Content-Location or URI value f: up to it from *cur, then the mapped value
 * in its place. Sets *rewrote when it maps. */
static int fwd_rewrite_url(struct fwd_head *out, const char *head, const struct http_field *f,
			   const struct fwd_reverse *rev, uint32_t *cur, bool *rewrote)
{
	const char *v = head + f->value.off;
	const struct cfg_reverse *e = fwd_rev_find(rev, CFG_REV_URL, v, f->value.len,
						   fwd_url_match);
	const char *rest;
	int ret = 0;

	if (!e)
		return 0;
	rest = fwd_url_part(e, v, f->value.len) + e->from_len;
	ret |= fwd_push(out, head + *cur, f->value.off - *cur);
	if (rev->host) {
		ret |= fwd_push_str(out, rev->https ? "https://" : "http://");
		ret |= fwd_push_text(out, rev->host, rev->host_len);
	}
	ret |= fwd_push_text(out, e->to, e->to_len);
	*cur = (uint32_t)(rest - head);
	*rewrote = true;
	return ret;
}

/* A Set-Cookie value f: each Path= / Domain= attribute (after the cookie-pair, name in any
 * case) whose value a ProxyPassReverseCookie* entry matches gets that entry's PUBLIC. */
static int fwd_rewrite_cookie(struct fwd_head *out, const char *head,
			      const struct http_field *f, const struct fwd_reverse *rev,
			      uint32_t *cur, bool *rewrote)
{
	uint32_t end = f->value.off + f->value.len;
	const char *semi = memchr(head + f->value.off, ';', f->value.len);
	uint32_t pos = semi ? (uint32_t)(semi - head) + 1 : end;
	int ret = 0;

	while (pos < end) {
		const char *next = memchr(head + pos, ';', end - pos);
		uint32_t te = next ? (uint32_t)(next - head) : end, vs;
		const struct cfg_reverse *e = NULL;

		while (pos < te && (head[pos] == ' ' || head[pos] == '\t'))
			pos++;
		while (te > pos && (head[te - 1] == ' ' || head[te - 1] == '\t'))
			te--;
		if (te - pos >= 5 && strncasecmp(head + pos, "path=", 5) == 0) {
			vs = pos + 5;
			e = fwd_rev_find(rev, CFG_REV_COOKIE_PATH, head + vs, te - vs,
					 fwd_path_match);
		} else if (te - pos >= 7 && strncasecmp(head + pos, "domain=", 7) == 0) {
			vs = pos + 7;
			e = fwd_rev_find(rev, CFG_REV_COOKIE_DOMAIN, head + vs, te - vs,
					 fwd_domain_match);
		}
		if (e) {
			ret |= fwd_push(out, head + *cur, vs - *cur);
			ret |= fwd_push_text(out, e->to, e->to_len);
			*cur = te;
			*rewrote = true;
		}
		pos = next ? (uint32_t)(next - head) + 1 : end;
	}
	return ret;
}

/* The response head without its hop-by-hop fields (Upgrade kept when upgrade), mapped
 * by ProxyPassReverse* when rev, then `conn` (a Connection field or ""), then
 * body[0..body_len). -ENOSPC, or -E2BIG when a rewritten head did not fit. */
static int fwd_response(struct fwd_head *out, char *head, const struct http_response *resp,
			const struct fwd_reverse *rev, bool upgrade, const char *conn,
			const char *body, size_t body_len)
{
	const struct http_field *sorted[HTTP_MAX_NOTED];
	uint32_t cur = 0, end = resp->head_len - 2;
	bool rewrote = false;
	int ret = 0;

	fwd_reset(out);
	/* We speak HTTP/1.1 to the client whatever the backend speaks. */
	memcpy(head, "HTTP/1.1", 8);
	fwd_sorted(resp->noted, resp->nnoted, sorted);
	for (unsigned i = 0; i < resp->nnoted; i++) {
		const struct http_field *f = sorted[i];

		if (fwd_response_drops(f->kind, upgrade)) {
			ret |= fwd_push(out, head + cur, f->line.off - cur);
			cur = f->line.off + f->line.len;
		} else if (rev && (f->kind == HTTP_F_LOCATION || f->kind == HTTP_F_URI ||
				   f->kind == HTTP_F_CONTENT_LOCATION)) {
			ret |= fwd_rewrite_url(out, head, f, rev, &cur, &rewrote);
		} else if (rev && f->kind == HTTP_F_SET_COOKIE) {
			ret |= fwd_rewrite_cookie(out, head, f, rev, &cur, &rewrote);
		}
	}
	ret |= fwd_push(out, head + cur, end - cur);
	ret |= fwd_push_str(out, conn);
	ret |= fwd_push_str(out, "\r\n");
	ret |= fwd_push(out, body, body_len);
	if (ret)
		return rewrote ? -E2BIG : -ENOSPC;
	fwd_finish(out);
	return 0;
}

int fwd_response_head(struct fwd_head *out, char *head, const struct http_response *resp,
		      const struct fwd_reverse *rev, bool close_client, bool keep_alive_10,
		      const char *body, size_t body_len)
{
	const char *conn = close_client ? "Connection: close\r\n"
			 : keep_alive_10 ? "Connection: keep-alive\r\n" : "";

	return fwd_response(out, head, resp, rev, false, conn, body, body_len);
}

int fwd_switch_head(struct fwd_head *out, char *head, const struct http_response *resp,
		    const char *body, size_t body_len)
{
	return fwd_response(out, head, resp, NULL, true, "Connection: Upgrade\r\n", body,
			    body_len);
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

void fwd_retarget(struct fwd_head *h, const char *from, const char *to)
{
	for (unsigned i = 0; i < h->niov; i++)
		if (h->iov[i].iov_base == (const void *)from) {
			h->total = h->total - h->iov[i].iov_len + strlen(to);
			h->iov[i].iov_base = (void *)to;
			h->iov[i].iov_len = strlen(to);
		}
	fwd_finish(h);
}

void fwd_copy(const struct fwd_head *h, char *out, size_t n)
{
	for (unsigned i = 0; i < h->niov && n; i++) {
		size_t k = h->iov[i].iov_len < n ? h->iov[i].iov_len : n;

		memcpy(out, h->iov[i].iov_base, k);
		out += k;
		n -= k;
	}
}

void fwd_replace(struct fwd_head *h, const char *text, size_t len, const char *body,
		 size_t body_len)
{
	unsigned dropped = h->dropped;

	fwd_reset(h);
	h->dropped = dropped;
	fwd_push(h, text, len);
	fwd_push(h, body, body_len);
	fwd_finish(h);
}
