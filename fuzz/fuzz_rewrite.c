/* libFuzzer target for the rewrite compiler and the substitution expander.
 *
 * Input: rewrite directives, then optionally a NUL, a request-target ("/path?query") and
 * another NUL and a Host. The directives go through config_parse() (with RewriteEngine on
 * already set, so the fuzzer need not find it); whatever parses runs against a fixed
 * request and against the fuzzed one. A decision must respect the contract of rewrite.h
 * whatever the rules: a PROXY or URL target our own parser would accept, a Location
 * without SP/CTL, a FILE path relative and without "..", a status in range.
 *
 * Names resolve through fuzz/resolver.c (127.0.0.1, no DNS). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/config.h"
#include "spliced/log.h"
#include "spliced/rewrite.h"
#include "spliced/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fz_header(void *opaque, const char *name, size_t len, size_t *vlen)
{
	(void)opaque;
	if (len == 6 && strncasecmp(name, "X-Test", 6) == 0) {
		*vlen = 7;
		return "a b?c%d";
	}
	return NULL;
}

static bool fz_file_ok(const char *p, size_t n)
{
	if (n && p[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t e = i;

		while (e < n && p[e] != '/')
			e++;
		if ((e - i == 1 && p[i] == '.') || (e - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			return false;
		i = e;
	}
	return !memchr(p, '\0', n);
}

static void fz_check(const struct config *cfg, const struct rw_result *r)
{
	switch (r->kind) {
	case RW_NONE:
		if (r->out)
			abort();
		return;
	case RW_STATUS:
		if (r->out || r->status < 400 || r->status > 599)
			abort();
		return;
	case RW_PROXY:
		if (r->backend < 0 || (unsigned)r->backend >= cfg->nbackend)
			abort();
		if (r->out_len > 1 && r->out[1] == '/')  /* never "//host" to a backend */
			abort();
		/* fallthrough */
	case RW_URL:
		if (!uri_target_valid(r->out, r->out_len))
			abort();
		break;
	case RW_REDIRECT:
		if (r->status < 300 || r->status > 399 || !uri_location_valid(r->out, r->out_len) ||
		    (r->out[0] == '/' && r->out_len > 1 && r->out[1] == '/'))
			abort();
		break;
	case RW_FILE:
		if (r->root < 0 || (unsigned)r->root >= cfg->nroot || !fz_file_ok(r->out, r->out_len))
			abort();
		break;
	}
	if (!r->out || strlen(r->out) != r->out_len || r->path_len > r->out_len)
		abort();
}

static void fz_run(const struct config *cfg, struct rw_ctx *ctx, const char *target,
		   size_t tlen, const char *host, size_t hlen)
{
	static char dst[65536];
	const char *q = memchr(target, '?', tlen);
	struct rw_input in = {
		.method = "GET", .method_len = 3,
		.path = target, .path_len = q ? (size_t)(q - target) : tlen,
		.query = q ? q + 1 : NULL, .query_len = q ? tlen - (size_t)(q - target) - 1 : 0,
		.has_query = q != NULL,
		.host = host, .host_len = hlen,
		.request_line = "GET / HTTP/1.1", .request_line_len = 14,
		.remote_addr = "192.0.2.1", .remote_addr_len = 9, .remote_port = 1234,
		.server_port = 80, .header = fz_header,
		.dst = dst, .dst_cap = sizeof(dst),
	};
	struct rw_result r;

	/* what the request parser would have refused never reaches the engine */
	if (!uri_target_valid(target, tlen) || (host && memchr(host, '\0', hlen)))
		return;
	if (rw_apply(cfg, ctx, &in, &r) != 0)
		abort();
	fz_check(cfg, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static const char fixed[] = "/static/a%20b/../c%2Fd%3F?x=%41&y";
	const char *text = (const char *)data, *target = NULL, *host = NULL;
	const char *nul = memchr(text, '\0', size);
	size_t tlen = nul ? (size_t)(nul - text) : size, rest;
	struct config_error err;
	struct rw_ctx *ctx;

	log_set_level(LOG_LV_EMERG);
	if (nul) {
		target = nul + 1;
		rest = size - tlen - 1;
		host = memchr(target, '\0', rest);
		if (host)
			host++;
	}
	config_defaults(&cfg);
	cfg.scope[0].rewrite_engine = 1;
	if (config_parse(&cfg, text, tlen, "fuzz.conf", &err) == 0 && (ctx = rw_ctx_create(&cfg))) {
		fz_run(&cfg, ctx, fixed, sizeof(fixed) - 1, "www.example.info", 16);
		if (target)
			fz_run(&cfg, ctx, target, host ? (size_t)(host - 1 - target) : rest,
			       host, host ? size - (size_t)(host - text) : 0);
		rw_ctx_free(ctx);
	}
	config_free(&cfg);
	return 0;
}
