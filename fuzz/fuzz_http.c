/* libFuzzer target for the HTTP/1.x head scanner and the chunked validator.
 *
 * The input is copied into an exact-size heap buffer, so ASan reports any read past `len`.
 * Split points, limits and the request method of responses are derived from a hash of the
 * input, so every run of an input is reproducible. Besides memory safety it checks the
 * contract: spans inside the head, consistent return codes, http_head_end() agreeing with
 * the parser, and the incremental scanners giving the same answer however the input is cut;
 * field values walked as lists (http_list_next) stay inside the input. A parsed response
 * head also goes through the ProxyPassReverse rewriter (forward.c), whose output must add
 * up and keep the head's status line.
 *
 *   make build/fuzz/fuzz_http && build/fuzz/fuzz_http -runs=200000 fuzz/corpus/fuzz_http
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/forward.h"
#include "spliced/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_assert(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_http: invariant broken: %s\n", what);
		abort();
	}
}

/* xorshift64*: split points and limits from the input's hash. */
static uint64_t fz_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static uint64_t fz_seed(const uint8_t *d, size_t n)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * UINT64_C(1099511628211);
	return h | 1;
}

static void fz_span(struct http_span s, uint32_t head_len, const char *what)
{
	fz_assert((uint64_t)s.off + s.len <= head_len, what);
}

/* A kind a request (or, with response, a response) may note: the common ones, then the
 * request-only ones (Forwarded, X-Real-IP, names with '_') or the response-only ones
 * (ProxyPassReverse's). */
static bool fz_kind_ok(uint8_t k, bool response)
{
	if (k >= HTTP_F_HOST && k <= HTTP_F_CONNECTION_LISTED)
		return true;
	if (response)
		return k >= HTTP_F_LOCATION && k <= HTTP_F_SET_COOKIE;
	return k >= HTTP_F_FORWARDED && k <= HTTP_F_UNDERSCORE_ALIAS;
}

static void fz_noted(const char *buf, const struct http_field *f, unsigned n, uint32_t fields_off,
		     uint32_t head_len, bool response)
{
	fz_assert(n <= HTTP_MAX_NOTED, "nnoted bound");
	for (unsigned i = 0; i < n; i++) {
		const struct http_field *x = &f[i];

		fz_span(x->line, head_len, "noted line inside head");
		fz_assert(x->line.off >= fields_off, "noted line after first line");
		fz_assert(x->line.len >= 3, "noted line length");
		fz_assert(memcmp(buf + x->line.off + x->line.len - 2, "\r\n", 2) == 0,
			  "noted line ends in CRLF");
		fz_assert(x->value.off >= x->line.off &&
				  x->value.off + x->value.len <= x->line.off + x->line.len - 2,
			  "noted value inside its line");
		fz_assert(fz_kind_ok(x->kind, response), "kind");
		if (i > 0)
			fz_assert(f[i - 1].line.off + f[i - 1].line.len <= x->line.off,
				  "noted in head order");
	}
}

/* http_head_end() fed in pieces gives what one call over the whole buffer gives. */
static ssize_t fz_head_end(const char *buf, size_t len, uint64_t *rng)
{
	ssize_t whole = http_head_end(buf, len, 0), r = 0;
	size_t at = 0;

	while (at < len) {
		size_t step = 1 + fz_next(rng) % (len - at);

		r = http_head_end(buf, at + step, at);
		at += step;
		if (r != 0)
			break;
	}
	fz_assert(r == whole, "incremental http_head_end agrees");
	fz_assert(whole == -1 || (whole >= 0 && (size_t)whole <= len), "http_head_end range");
	return whole;
}

static void fz_request(const char *buf, size_t len, const struct http_limits *lim,
		       ssize_t head_end, uint64_t *rng)
{
	struct http_request r;
	int rc = http_parse_request(buf, len, lim, &r);

	fz_assert(rc == -1 || rc == -2 || rc > 0, "request rc");
	if (rc == -1) {
		fz_assert(r.reason && r.reason[0], "request reason");
		fz_assert(r.status == 400 || r.status == 414 || r.status == 417 ||
				  r.status == 431 || r.status == 501 || r.status == 505,
			  "request status");
		return;
	}
	if (rc == -2) {
		fz_assert(len < lim->max_head, "-2 only below max_head");
		return;
	}
	fz_assert((size_t)rc == r.head_len && r.head_len <= len && r.head_len <= lim->max_head,
		  "head_len");
	fz_assert(head_end == rc, "http_head_end agrees with the parser");
	fz_assert(memcmp(buf + rc - 4, "\r\n\r\n", 4) == 0, "head ends in CRLFCRLF");
	fz_assert(r.version == 10 || r.version == 11, "version");
	fz_assert(r.fields_off <= r.head_len - 2, "fields_off");
	fz_span(r.method, r.fields_off, "method");
	fz_span(r.target, r.fields_off, "target");
	fz_span(r.path, r.fields_off, "path");
	fz_span(r.query, r.fields_off, "query");
	fz_span(r.host, r.head_len, "host");
	fz_assert(r.method.len > 0 && r.target.len > 0 && r.path.len > 0, "non-empty spans");
	fz_assert(r.path.off >= r.target.off &&
			  r.path.off + r.path.len <= r.target.off + r.target.len,
		  "path inside target");
	fz_assert(r.framing == HTTP_FRAMING_NONE || r.framing == HTTP_FRAMING_LENGTH ||
			  r.framing == HTTP_FRAMING_CHUNKED,
		  "request framing");
	fz_assert(r.framing != HTTP_FRAMING_LENGTH || r.content_length <= (UINT64_C(1) << 62),
		  "content_length bound");
	fz_assert(r.version == 10 || r.has_host, "HTTP/1.1 has Host");
	fz_assert(r.nfields <= lim->max_fields, "nfields bound");
	fz_noted(buf, r.noted, r.nnoted, r.fields_off, r.head_len, false);

	/* Every shorter prefix is a valid prefix. */
	{
		size_t k = fz_next(rng) % (size_t)rc;
		struct http_request p;

		fz_assert(http_parse_request(buf, k, lim, &p) == -2, "prefix needs more");
	}
}

static void fz_response(const char *buf, size_t len, const struct http_limits *lim,
			ssize_t head_end, uint64_t *rng)
{
	struct http_response r;
	enum http_method m = (enum http_method)(fz_next(rng) % (HTTP_METHOD_PATCH + 1));
	int rc = http_parse_response(buf, len, lim, m, &r);

	fz_assert(rc == -1 || rc == -2 || rc > 0, "response rc");
	if (rc == -1) {
		fz_assert(r.reason && r.reason[0], "response reason");
		return;
	}
	if (rc == -2) {
		fz_assert(len < lim->max_head, "-2 only below max_head");
		return;
	}
	fz_assert((size_t)rc == r.head_len && r.head_len <= len, "response head_len");
	fz_assert(head_end == rc, "http_head_end agrees with the response parser");
	fz_assert(r.status >= 100 && r.status <= 999, "status range");
	fz_assert(r.version == 10 || r.version == 11, "response version");
	if (m == HTTP_METHOD_HEAD || r.status < 200 || r.status == 204 || r.status == 304)
		fz_assert(r.framing == HTTP_FRAMING_NONE, "no body");
	fz_assert(r.fields_off <= r.head_len - 2, "response fields_off");
	fz_noted(buf, r.noted, r.nnoted, r.fields_off, r.head_len, true);
	{
		size_t k = fz_next(rng) % (size_t)rc;
		struct http_response p;

		fz_assert(http_parse_response(buf, k, lim, m, &p) == -2, "response prefix");
	}
}

/* Mappings for the rewriter: a URL, a path entry, cookie path and domain, and one of a
 * virtual host. */
static struct config fz_cfg;

static void fz_rev_add(uint8_t kind, unsigned scope, const char *to, const char *from)
{
	struct cfg_reverse *e = &fz_cfg.reverse[fz_cfg.nreverse++];

	snprintf(e->to, sizeof(e->to), "%s", to);
	snprintf(e->from, sizeof(e->from), "%s", from);
	e->to_len = (uint16_t)strlen(e->to);
	e->from_len = (uint16_t)strlen(e->from);
	e->kind = kind;
	e->scope = (uint16_t)scope;
}

static void fz_rewrite(const char *buf, size_t len, const struct http_limits *lim,
		       uint64_t *rng)
{
	static const char host[] = "client.example:8080";
	struct fwd_reverse rev = { .cfg = &fz_cfg, .scope = (unsigned)(fz_next(rng) % 3),
				   .host = fz_next(rng) % 4 ? host : NULL,
				   .host_len = sizeof(host) - 1 };
	struct http_response r;
	static struct fwd_head out;
	char *copy;
	size_t sum = 0;
	int rc;

	if (!fz_cfg.nreverse) {
		fz_rev_add(CFG_REV_URL, 0, "/app/", "http://127.0.0.1:8000/");
		fz_rev_add(CFG_REV_URL, 0, "/p/", "/internal/");
		fz_rev_add(CFG_REV_URL, 1, "/", "http://b/");
		fz_rev_add(CFG_REV_COOKIE_PATH, 0, "/app/", "/");
		fz_rev_add(CFG_REV_COOKIE_DOMAIN, 2, "example.org", "b");
	}
	rc = http_parse_response_noting(buf, len, lim, HTTP_METHOD_GET, fwd_response_kinds(&rev),
					&r);
	if (rc <= 0)
		return;
	copy = malloc(len);   /* exact size: the rewriter reads only the head and the body */
	fz_assert(copy != NULL, "malloc");
	memcpy(copy, buf, len);
	rc = fwd_response_head(&out, copy, &r, &rev, fz_next(rng) % 2, fz_next(rng) % 2,
			       copy + r.head_len, len - r.head_len);
	fz_assert(rc == 0 || rc == -E2BIG || rc == -ENOSPC, "rewriter rc");
	if (rc == 0) {
		for (unsigned i = 0; i < out.niov; i++)
			sum += out.iov[i].iov_len;
		fz_assert(sum == out.total && out.left == out.total, "rewritten head adds up");
		fz_assert(out.niov && out.iov[0].iov_base == copy && out.iov[0].iov_len >= 8 &&
			  memcmp(copy, "HTTP/1.1", 8) == 0, "status line first");
		fz_assert(out.extra_len <= FWD_EXTRA, "extra bound");
	}
	free(copy);
}

/* The chunked scanner over buf[0..len): once in one call, then in random pieces with some
 * payload skipped instead of scanned. Both must agree. */
static void fz_chunked(const char *buf, size_t len, uint64_t *rng)
{
	struct http_chunked a, b;
	ssize_t whole;
	size_t at = 0;
	bool failed = false;

	http_chunked_init(&a);
	whole = http_chunked_scan(&a, buf, len);
	fz_assert(whole == -1 || (whole >= 0 && (size_t)whole <= len), "chunked range");
	fz_assert(whole == -1 || a.done || (size_t)whole == len, "chunked stops only when done");

	http_chunked_init(&b);
	while (at < len && !b.done) {
		size_t step = 1 + fz_next(rng) % (len - at);
		ssize_t r;

		if (http_chunked_in_payload(&b) && fz_next(rng) % 2) {
			uint64_t n = b.left < step ? b.left : step;

			http_chunked_skip(&b, n);
			at += n;
			continue;
		}
		r = http_chunked_scan(&b, buf + at, step);
		if (r < 0) {
			failed = true;
			break;
		}
		fz_assert((size_t)r <= step && ((size_t)r == step || b.done), "piece consumed");
		at += (size_t)r;
	}
	fz_assert(failed == (whole == -1), "split chunked agrees on errors");
	if (!failed) {
		fz_assert(b.done == a.done && at == (size_t)whole, "split chunked agrees on end");
		fz_assert(b.total == a.total, "split chunked agrees on total");
	}
}

/* The canonical writer over buf[0..len): whole into its own buffer, then in random pieces
 * as conn.c feeds it (the first piece compacted in place, later ones read HTTP_CHUNK_SLACK
 * bytes into a buffer and written from its start). It agrees with the validator, the
 * pieces write what the whole did, and the output is its own canonical form. */
static void fz_chunked_canon(const char *buf, size_t len, uint64_t *rng)
{
	struct http_chunked a, b, v;
	char *whole_out = malloc(len + HTTP_CHUNK_SLACK), *split_out = malloc(len + 1);
	char *io = malloc(len + HTTP_CHUNK_SLACK);
	size_t wo = 0, so = 0, at = 0, o;
	ssize_t whole, r;
	bool failed = false;

	if (!whole_out || !split_out || !io)
		goto out;
	http_chunked_init(&a);
	http_chunked_init(&v);
	whole = http_chunked_canon(&a, buf, len, whole_out, &wo);
	fz_assert(whole == http_chunked_scan(&v, buf, len), "canon consumes what scan does");
	fz_assert(whole < 0 || (a.done == v.done && a.total == v.total), "canon state as scan");
	fz_assert(whole < 0 || wo <= (size_t)whole, "canon output not longer than its input");

	http_chunked_init(&b);
	while (at < len && !b.done) {
		size_t step = 1 + fz_next(rng) % (len - at);
		char *in = at == 0 ? io : io + HTTP_CHUNK_SLACK;

		memcpy(in, buf + at, step);
		r = http_chunked_canon(&b, in, step, io, &o);
		if (r < 0) {
			failed = true;
			break;
		}
		fz_assert(o <= (size_t)r + (at == 0 ? 0 : HTTP_CHUNK_SLACK - 1), "canon slack");
		fz_assert(memcmp(in + r, buf + at + r, step - (size_t)r) == 0, "canon keeps the rest");
		fz_assert(so + o <= len, "canon split output bounded");
		memcpy(split_out + so, io, o);
		so += o;
		at += (size_t)r;
	}
	fz_assert(failed == (whole == -1), "split canon agrees on errors");
	if (!failed) {
		fz_assert(so == wo && memcmp(split_out, whole_out, wo) == 0, "split canon output");
		if (a.done) {
			http_chunked_init(&v);
			r = http_chunked_canon(&v, whole_out, wo, io, &o);
			fz_assert(r == (ssize_t)wo && v.done && o == wo &&
					  memcmp(io, whole_out, wo) == 0,
				  "canonical output is canonical");
		}
	}
out:
	free(whole_out);
	free(split_out);
	free(io);
}

/* A field value as a list (Upgrade's): every element inside the input, non-empty, not
 * starting or ending with OWS, in order, and the walk ends. */
static void fz_list(const char *buf, size_t size)
{
	struct http_span el;
	size_t pos = 0, prev_end = 0, n = 0;

	while (http_list_next(buf, size, &pos, &el)) {
		fz_assert(el.len > 0 && (uint64_t)el.off + el.len <= size, "list element inside");
		fz_assert(el.off >= prev_end && pos >= el.off + el.len && pos <= size,
			  "list elements in order");
		fz_assert(buf[el.off] != ' ' && buf[el.off] != '\t' &&
			  buf[el.off + el.len - 1] != ' ' && buf[el.off + el.len - 1] != '\t',
			  "list element trimmed");
		fz_assert(!memchr(buf + el.off, ',', el.len), "list element without a comma");
		http_proto_is(buf, el, "websocket", 9);
		prev_end = el.off + el.len;
		fz_assert(++n <= size, "list walk ends");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rng = fz_seed(data, size);
	char *buf = malloc(size); /* exact size: ASan flags a read of buf[size] */
	struct http_limits lim = { .max_head = 8192, .max_line = 4096, .max_field = 4096,
				   .max_fields = 100 };
	struct http_request r;
	ssize_t he;

	if (!buf && size)
		return 0;
	if (size)
		memcpy(buf, data, size);

	he = fz_head_end(buf, size, &rng);
	fz_request(buf, size, &lim, he, &rng);
	fz_response(buf, size, &lim, he, &rng);
	fz_rewrite(buf, size, &lim, &rng);
	fz_chunked(buf, size, &rng);
	fz_chunked_canon(buf, size, &rng);
	fz_list(buf, size);

	/* Small limits reach the 414/431 paths with small inputs. */
	lim.max_head = 1 + (uint32_t)(fz_next(&rng) % 512);
	lim.max_line = 1 + (uint32_t)(fz_next(&rng) % 128);
	lim.max_field = 1 + (uint32_t)(fz_next(&rng) % 128);
	lim.max_fields = (uint32_t)(fz_next(&rng) % 8);
	fz_request(buf, size, &lim, he, &rng);
	fz_response(buf, size, &lim, he, &rng);

	/* A chunked request body that follows its head. */
	lim = (struct http_limits){ .max_head = 8192, .max_line = 4096, .max_field = 4096,
				    .max_fields = 100 };
	if (http_parse_request(buf, size, &lim, &r) > 0 && r.framing == HTTP_FRAMING_CHUNKED) {
		fz_chunked(buf + r.head_len, size - r.head_len, &rng);
		fz_chunked_canon(buf + r.head_len, size - r.head_len, &rng);
	}

	free(buf);
	return 0;
}
