/* rwbench: time of one rewrite decision (rw_apply) for the configuration of issue 3:
 *
 *   RewriteEngine on
 *   RewriteMap escape int:escape
 *   RewriteCond %{SCRIPT_FILENAME} !autostart\.cgi$
 *   RewriteCond %{HTTP_HOST} www\.example\.info
 *   RewriteRule ^/static/(.*) /home/user/files/static/$1 [last]
 *   RewriteRule ^(.*)$ http://localhost:6674/${escape:$1} [proxy]
 *   ErrorDocument 502 /cgi-bin/autostart.cgi
 *
 * over a mix of requests: static hits, proxied paths with escapes, a Host that does not
 * match, a query. Each round runs every request of the mix BATCH times; the time of a
 * round divided by the decisions in it is one sample; the median of ROUNDS samples is
 * printed, with the minimum and the 90th percentile, and per kind of request.
 *
 *   make && build/tools/rwbench [ROUNDS [BATCH]]      (defaults: 201 rounds of 2000)
 *
 * The target of issue 3: under 1 microsecond median per decision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "spliced/config.h"
#include "spliced/rewrite.h"

static const char rb_conf[] =
	"RewriteEngine on\n"
	"RewriteMap escape int:escape\n"
	"RewriteCond %{SCRIPT_FILENAME} !autostart\\.cgi$\n"
	"RewriteCond %{HTTP_HOST} www\\.example\\.info\n"
	"RewriteRule ^/static/(.*) /home/user/files/static/$1 [last]\n"
	"RewriteRule ^(.*)$ http://localhost:6674/${escape:$1} [proxy]\n"
	"ErrorDocument 502 /cgi-bin/autostart.cgi\n";

struct rb_req {
	const char *what, *host, *path, *query, *expect;
};

static const struct rb_req rb_mix[] = {
	{ "static hit", "www.example.info", "/static/css/site.css", NULL, "file" },
	{ "static hit, escapes", "www.example.info", "/static/img/a%20b.png", NULL, "file" },
	{ "proxy", "www.example.info", "/app/orders/42", NULL, "proxy" },
	{ "proxy, escapes", "www.example.info", "/a%20b/c%3Fd/%2F", NULL, "proxy" },
	{ "proxy, query", "www.example.info", "/search", "q=spliced&page=2", "proxy" },
	{ "Host mismatch", "other.example", "/static/css/site.css", NULL, "proxy" },
	{ "autostart", "www.example.info", "/cgi-bin/autostart.cgi", NULL, "proxy" },
};

#define RB_N (sizeof(rb_mix) / sizeof(rb_mix[0]))

static struct config rb_cfg;

static double rb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char *rb_header(void *opaque, const char *name, size_t len, size_t *vlen)
{
	(void)opaque;
	(void)name;
	(void)len;
	*vlen = 0;
	return NULL;
}

static void rb_input(const struct rb_req *r, struct rw_input *in, char *dst, size_t cap)
{
	memset(in, 0, sizeof(*in));
	in->method = "GET";
	in->method_len = 3;
	in->path = r->path;
	in->path_len = strlen(r->path);
	in->query = r->query;
	in->query_len = r->query ? strlen(r->query) : 0;
	in->has_query = r->query != NULL;
	in->host = r->host;
	in->host_len = strlen(r->host);
	in->request_line = "GET / HTTP/1.1";
	in->request_line_len = 14;
	in->remote_addr = "192.0.2.7";
	in->remote_addr_len = 9;
	in->remote_port = 50123;
	in->server_port = 80;
	in->header = rb_header;
	in->dst = dst;
	in->dst_cap = cap;
}

static int rb_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, min and p90 of `rounds` samples of ns per decision over requests [from, to). */
static void rb_measure(struct rw_ctx *ctx, const char *label, size_t from, size_t to,
		       unsigned rounds, unsigned batch)
{
	static char dst[4][8192];
	struct rw_input in[RB_N];
	struct rw_result res;
	double *s = calloc(rounds, sizeof(*s));

	for (size_t i = from; i < to; i++)
		rb_input(&rb_mix[i], &in[i], dst[i % 4], sizeof(dst[0]));
	for (unsigned r = 0; r < rounds; r++) {
		double t0 = rb_now();

		for (unsigned b = 0; b < batch; b++)
			for (size_t i = from; i < to; i++)
				rw_apply(&rb_cfg, ctx, &in[i], &res);
		s[r] = (rb_now() - t0) / ((double)batch * (double)(to - from));
	}
	qsort(s, rounds, sizeof(*s), rb_cmp);
	printf("%-22s median %7.1f ns   min %7.1f ns   p90 %7.1f ns\n", label, s[rounds / 2],
	       s[0], s[rounds * 9 / 10]);
	free(s);
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 201;
	unsigned batch = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	struct config_error err;
	struct rw_result res;
	struct rw_input in;
	struct rw_ctx *ctx;
	char msg[1400];

	if (rounds == 0 || batch == 0)
		return 2;
	config_defaults(&rb_cfg);
	if (config_parse(&rb_cfg, rb_conf, sizeof(rb_conf) - 1, "rwbench.conf", &err) < 0) {
		config_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "rwbench: %s\n", msg);
		return 1;
	}
	if (!(ctx = rw_ctx_create(&rb_cfg)))
		return 1;
	/* the decisions first: a benchmark of wrong answers measures nothing */
	for (size_t i = 0; i < RB_N; i++) {
		rb_input(&rb_mix[i], &in, NULL, 0);
		rw_apply(&rb_cfg, ctx, &in, &res);
		printf("%-22s %-6s %s\n", rb_mix[i].what, rw_kind_name(res.kind), res.out ? res.out : "");
		if (strcmp(rw_kind_name(res.kind), rb_mix[i].expect) != 0) {
			fprintf(stderr, "rwbench: unexpected decision for %s\n", rb_mix[i].path);
			return 1;
		}
	}
	printf("\n%u rounds x %u batches, ns per decision:\n", rounds, batch);
	rb_measure(ctx, "mix", 0, RB_N, rounds, batch);
	for (size_t i = 0; i < RB_N; i++)
		rb_measure(ctx, rb_mix[i].what, i, i + 1, rounds / 4 + 1, batch);
	rw_ctx_free(ctx);
	config_free(&rb_cfg);
	return 0;
}
