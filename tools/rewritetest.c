/* rewritetest: what spliced's rewrite rules decide for one request, and why.
 *
 *   rewritetest -c CONFIG [-H 'Name: value']... [-m METHOD] [-p PORT] [-a ADDR] [-t LEVEL] URL
 *
 * URL is "http://host[:port]/path?query" (the host becomes the Host header) or an
 * origin-form "/path?query" (give the Host with -H). The request goes through the same
 * head parser as a real one, so a target spliced would refuse is reported as such. The
 * trace (LogLevel rewrite:traceN, level 4 by default: rules and conditions) is printed,
 * then the decision:
 *
 *   proxy to http://127.0.0.1:6674 with target /a%20b/c
 *   file a/b under root /home/user/files/static
 *   redirect 301 Location: /new
 *   status 403
 *   url /new?x (routed as the request-target)
 *   unchanged
 *
 * Exit status: 0, 1 for a bad configuration, 2 for bad usage or a request refused. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spliced/config.h"
#include "spliced/http.h"
#include "spliced/rewrite.h"

#define RT_MAX_HEADERS 64
#define RT_HEAD_MAX 32768

struct rt_headers {
	const char *line[RT_MAX_HEADERS];
	unsigned n;
};

static struct config rt_cfg;

static const char *rt_header(void *opaque, const char *name, size_t len, size_t *vlen)
{
	const struct rt_headers *h = opaque;

	for (unsigned i = 0; i < h->n; i++) {
		const char *l = h->line[i], *v;

		if (strncasecmp(l, name, len) != 0 || l[len] != ':')
			continue;
		for (v = l + len + 1; *v == ' ' || *v == '\t'; v++)
			;
		*vlen = strlen(v);
		while (*vlen && (v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t'))
			(*vlen)--;
		return v;
	}
	return NULL;
}

static void rt_trace(void *opaque, unsigned level, const char *line)
{
	(void)opaque;
	(void)level;
	printf("  %s\n", line);
}

static void rt_usage(void)
{
	fprintf(stderr, "usage: rewritetest -c CONFIG [-H 'Name: value']... [-m METHOD] "
		"[-p SERVER_PORT] [-a CLIENT_ADDR] [-t TRACE_LEVEL] URL\n");
	exit(2);
}

/* "METHOD target HTTP/1.1" + Host (from an absolute URL) + the -H lines. */
static int rt_head(char *buf, size_t cap, const char *method, const char *url,
		   const struct rt_headers *h)
{
	size_t n = 0;
	int k = snprintf(buf, cap, "%s %s HTTP/1.1\r\n", method, url);

	if (k < 0 || (size_t)k >= cap)
		return -1;
	n = (size_t)k;
	for (unsigned i = 0; i < h->n; i++) {
		k = snprintf(buf + n, cap - n, "%s\r\n", h->line[i]);
		if (k < 0 || (size_t)k >= cap - n)
			return -1;
		n += (size_t)k;
	}
	if (cap - n < 3)
		return -1;
	memcpy(buf + n, "\r\n", 3);
	return (int)n + 2;
}

static void rt_print(const struct rw_result *r)
{
	const struct config *cfg = &rt_cfg;

	switch (r->kind) {
	case RW_PROXY:
		printf("proxy to %s with target %s\n", cfg->backend[r->backend].name, r->out);
		break;
	case RW_FILE:
		printf("file %s under root %s\n", r->out, cfg->file_root[r->root]);
		break;
	case RW_REDIRECT:
		printf("redirect %u Location: %s\n", r->status, r->out);
		break;
	case RW_STATUS:
		printf("status %u\n", r->status);
		break;
	case RW_URL:
		printf("url %s (routed as the request-target%s)\n", r->out,
		       r->passthrough ? ", [PT]" : "");
		break;
	case RW_NONE:
		printf("unchanged\n");
		break;
	}
	if (r->scope)
		printf("virtual host: #%u (%s, line %u)\n", r->scope,
		       cfg->scope[r->scope].server_name[0] ? cfg->scope[r->scope].server_name : "-",
		       cfg->scope[r->scope].line);
	if (r->rule >= 0)
		printf("decided by: RewriteRule %s %s (line %u)\n",
		       cfg->rw.str + cfg->rw.rule[r->rule].pat_off,
		       cfg->rw.str + cfg->rw.rule[r->rule].sub_off, cfg->rw.rule[r->rule].line);
}

int main(int argc, char **argv)
{
	static char head[RT_HEAD_MAX];
	static struct rt_headers h;
	const char *conf = NULL, *method = "GET", *addr = "127.0.0.1";
	struct http_limits lim = { RT_HEAD_MAX, 16384, 16384, RT_MAX_HEADERS + 1 };
	struct http_request req;
	struct config_error err;
	struct rw_result res;
	struct rw_input in = { 0 };
	struct rw_ctx *ctx;
	unsigned port = 80, level = 4;
	char msg[1400], hostline[512];
	int opt, n;

	while ((opt = getopt(argc, argv, "c:H:m:p:a:t:")) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 'H': if (h.n == RT_MAX_HEADERS - 1) rt_usage(); h.line[h.n++] = optarg; break;
		case 'm': method = optarg; break;
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'a': addr = optarg; break;
		case 't': level = (unsigned)atoi(optarg); break;
		default: rt_usage();
		}
	}
	if (!conf || optind != argc - 1 || port == 0 || port > 65535)
		rt_usage();
	if (config_load_file(&rt_cfg, conf, &err) < 0) {
		config_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "rewritetest: %s\n", msg);
		return 1;
	}
	if (strncasecmp(argv[optind], "http://", 7) == 0) {
		size_t hl = strcspn(argv[optind] + 7, "/?");

		snprintf(hostline, sizeof(hostline), "Host: %.*s", (int)hl, argv[optind] + 7);
		if (h.n < RT_MAX_HEADERS && !rt_header(&h, "Host", 4, &(size_t){ 0 }))
			h.line[h.n++] = hostline;
	}
	if ((n = rt_head(head, sizeof(head), method, argv[optind], &h)) < 0 ||
	    http_parse_request(head, (size_t)n, &lim, &req) < 0) {
		fprintf(stderr, "rewritetest: spliced would refuse this request: %s\n",
			n < 0 ? "too long" : req.reason);
		return 2;
	}
	in.method = head + req.method.off;
	in.method_len = req.method.len;
	in.path = head + req.path.off;
	in.path_len = req.path.len;
	in.query = head + req.query.off;
	in.query_len = req.query.len;
	in.has_query = req.has_query;
	in.host = req.has_host ? head + req.host.off : NULL;
	in.host_len = req.host.len;
	in.request_line = head;
	in.request_line_len = (size_t)(strstr(head, "\r\n") - head);
	in.remote_addr = addr;
	in.remote_addr_len = strlen(addr);
	in.remote_port = 40000;
	in.server_port = (uint16_t)port;
	in.header = rt_header;
	in.opaque = &h;
	if (!(ctx = rw_ctx_create(&rt_cfg))) {
		fprintf(stderr, "rewritetest: out of memory\n");
		return 1;
	}
	rw_ctx_trace(ctx, level ? rt_trace : NULL, NULL, level);
	rw_apply(&rt_cfg, ctx, &in, &res);
	rt_print(&res);
	rw_ctx_free(ctx);
	config_free(&rt_cfg);
	return 0;
}
