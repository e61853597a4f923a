/* Apache httpd 2.4 style configuration: the line reader, the argument splitter, a table
 * of directives and their handlers, and the checks of the whole.
 *
 * Reading follows httpd's ap_cfg_getline() + ap_getword_conf(): a backslash that ends a
 * physical line (and is not itself escaped) joins the next one, the first word of a
 * logical line is the directive, '#' starts a comment only as the first non-blank
 * character (after joining, so a comment that ends in a backslash swallows the next line,
 * as in httpd), and arguments may be "double" or 'single' quoted with \" and \\ escapes.
 * Where httpd is silently lenient (an unterminated quote) we report an error instead.
 *
 * Errors carry the number of the first physical line of the logical line, which is the
 * line the directive's name is on. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "spliced/accesslog.h"
#include "spliced/authz.h"
#include "spliced/status.h"
#include "spliced/balancer.h"
#include "spliced/config.h"
#include "spliced/headers.h"
#include "spliced/remoteip.h"
#include "spliced/http.h"
#include "spliced/log.h"
#include "spliced/proxyproto.h"
#include "spliced/rewrite.h"
#include "spliced/tls.h"
#include "spliced/uri.h"

#define CFG_LINE_MAX 16384             /* bytes of one logical line, after joining */
#define CFG_MAX_ARGS 32                /* words on one line, the directive included */
#define CFG_FILE_MAX (4u << 20)        /* a config bigger than this is a mistake */
#define CFG_SHOW_MAX 64                /* bytes of a bad value quoted back in a message */

/* What a handler needs: the config being filled and where errors go. */
#define CFG_INCLUDE_DEPTH 16           /* Include nesting (a loop ends here) */
#define CFG_MAX_DEFINE 64
#define CFG_DEFINE_VALUE_MAX 512
#define CFG_COND_MAX 16                /* nested <IfModule>/<IfDefine> */

/* Define NAME [VALUE]: a variable for ${NAME} and <IfDefine>. */
struct cfg_define {
	char name[64];
	char value[CFG_DEFINE_VALUE_MAX];
};

struct cfg_ctx {
	struct config *cfg;
	struct config_error *err;      /* where the parse is (file, line) and the message */
	struct config_errors *errs;    /* every error so far */
	bool stop;                     /* the error being made ends the parse */
	const char *directive;         /* canonical name, prefixed to messages; NULL = none */
	unsigned scope;                /* the <VirtualHost> being read; 0 = main server */
	char root[CFG_PATH_MAX];       /* ServerRoot, absolute: where relative paths start;
					* by default the main file's directory */
	unsigned depth;                /* Include nesting */
	struct cfg_define *def;        /* Define'd variables (parse time only) */
	unsigned ndef;
	uint8_t cond[CFG_COND_MAX];    /* open <IfModule>/<IfDefine> (CFG_COND_*) */
	unsigned ncond;
	unsigned skip;                 /* > 0: inside the false condition cond[skip - 1] */
	unsigned proxy;                /* inside <Proxy balancer://...>: its index + 1 */
};

enum { CFG_COND_MODULE = 1, CFG_COND_DEFINE };

/* Walks text[0..len) physical line by physical line. */
struct cfg_reader {
	const char *text;
	size_t len;
	size_t pos;
	unsigned lineno;               /* physical lines consumed so far */
};

typedef int cfg_handler(struct cfg_ctx *ctx, unsigned argc, char **argv);

struct cfg_directive {
	const char *name;
	unsigned min_args;             /* arguments after the name */
	unsigned max_args;
	cfg_handler *handler;
	bool vhost;                    /* allowed inside <VirtualHost> */
};

/* Where the demo site and application are: the source tree (the Makefile passes it). */
#ifndef SPLICED_DATADIR
#define SPLICED_DATADIR "/usr/share/spliced"
#endif

/* Without -c: the demo (a static site, and a CherryPy application under /app/ that the
 * helper starts on the first request), or, when the demo's files are not there, a plain
 * proxy to the usual application port. */
static const char cfg_builtin_demo[] =
	"Listen 127.0.0.1:8080\n"
	"DocumentRoot \"" SPLICED_DATADIR "/demo/site\"\n"
	"ProxyPass /app/ http://127.0.0.1:8000/\n"
	"ProxyPassReverse /app/ http://127.0.0.1:8000/\n"
	"ProxyAutostart http://127.0.0.1:8000 \"Dir=" SPLICED_DATADIR "/demo\" -- "
	"/usr/bin/python3 \"" SPLICED_DATADIR "/demo/app.py\"\n";
static const char cfg_builtin_text[] =
	"Listen 127.0.0.1:8080\n"
	"ProxyPass / http://127.0.0.1:8000/\n";

/* ---- messages ---- */

__attribute__((format(printf, 2, 3)))
static int cfg_fail(struct cfg_ctx *ctx, const char *fmt, ...)
{
	struct config_error *err = ctx->err;
	size_t off = 0;
	va_list ap;

	if (ctx->directive) {
		int n = snprintf(err->msg, sizeof(err->msg), "%s: ", ctx->directive);
		off = n > 0 && (size_t)n < sizeof(err->msg) ? (size_t)n : 0;
	}
	va_start(ap, fmt);
	vsnprintf(err->msg + off, sizeof(err->msg) - off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Keeps the error in ctx->err (cfg_fail()'s) in the list. Returns 0 to read on, or
 * -ECANCELED when the parse ends there (ctx->stop, or the list is full). */
static int cfg_record(struct cfg_ctx *ctx)
{
	struct config_errors *errs = ctx->errs;

	if (errs->n < CFG_MAX_ERRORS)
		errs->e[errs->n++] = *ctx->err;
	return ctx->stop || errs->n == CFG_MAX_ERRORS ? -ECANCELED : 0;
}

/* Ends the parse with the error cfg_fail() just formatted: the block structure is broken
 * or the text cannot be read on, so what follows would only give errors that are not. */
static int cfg_record_stop(struct cfg_ctx *ctx)
{
	ctx->stop = true;
	return cfg_record(ctx);
}

/* Where the line being read is, into *w (its file added to cfg->src_file). */
static void cfg_here(struct cfg_ctx *ctx, struct cfg_where *w)
{
	struct config *cfg = ctx->cfg;
	unsigned i = cfg->nsrc_file;

	while (i > 0 && strcmp(cfg->src_file[i - 1], ctx->err->file) != 0)
		i--;
	if (i == 0 && cfg->nsrc_file < CFG_MAX_SRCFILES) {
		memcpy(cfg->src_file[cfg->nsrc_file++], ctx->err->file, sizeof(cfg->src_file[0]));
		i = cfg->nsrc_file;
	}
	w->file = i ? (uint16_t)(i - 1) : CFG_WHERE_NOFILE;
	w->line = ctx->err->line;
}

/* A value quoted back to the user: bounded, and without control bytes, so a hostile or
 * binary config cannot drive the terminal that shows the message. */
static const char *cfg_show(const char *s, char *out, size_t outlen)
{
	size_t i = 0;

	for (; *s && i + 4 < outlen; s++)
		out[i++] = (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ? '?' : *s;
	strcpy(out + i, *s ? "..." : "");
	return out;
}

/* ---- values ---- */

/* Decimal digits only: no sign, no blanks, no hex, no overflow. */
static int cfg_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* arg[0..len) as a number in min..max; `unit` completes "is not a number of ...". */
static int cfg_number_n(struct cfg_ctx *ctx, const char *arg, size_t len, uint64_t min,
			uint64_t max, const char *unit, uint64_t *out)
{
	char show[CFG_SHOW_MAX + 8];
	int rc = cfg_u64(arg, len, out);

	if (rc == -EINVAL)
		return cfg_fail(ctx, "\"%s\" is not a number of %s",
				cfg_show(arg, show, sizeof(show)), unit);
	if (rc < 0 || *out < min || *out > max)
		return cfg_fail(ctx, "%s is out of range %" PRIu64 "..%" PRIu64,
				cfg_show(arg, show, sizeof(show)), min, max);
	return 0;
}

static int cfg_number(struct cfg_ctx *ctx, const char *arg, uint64_t min, uint64_t max,
		      const char *unit, uint64_t *out)
{
	return cfg_number_n(ctx, arg, strlen(arg), min, max, unit, out);
}

/* On|Off, any case (httpd's FLAG directives). */
static int cfg_flag(struct cfg_ctx *ctx, const char *arg, bool *out)
{
	char show[CFG_SHOW_MAX + 8];

	if (strcasecmp(arg, "on") == 0)
		*out = true;
	else if (strcasecmp(arg, "off") == 0)
		*out = false;
	else
		return cfg_fail(ctx, "\"%s\" must be On or Off", cfg_show(arg, show, sizeof(show)));
	return 0;
}

/* Copies a string that must be non-empty and fit in dst. */
static int cfg_copy(struct cfg_ctx *ctx, char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n == 0)
		return cfg_fail(ctx, "empty argument");
	if (n >= dstlen)
		return cfg_fail(ctx, "argument is too long (more than %zu bytes)", dstlen - 1);
	memcpy(dst, src, n + 1);
	return 0;
}

static bool cfg_has_ctl(const char *s, bool space_too)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || (space_too && *s == ' '))
			return true;
	return false;
}

/* ---- addresses ---- */

/* Splits "host", "host:port", "[v6]" or "[v6]:port" (s[0..len)) into host (brackets
 * removed), *v6 (it was bracketed) and *port (0 when absent). */
static int cfg_split_hostport(struct cfg_ctx *ctx, const char *s, size_t len, char *host,
			      size_t hostlen, bool *v6, unsigned *port)
{
	const char *h = s, *end = s + len, *colon;
	size_t hlen;
	uint64_t p;

	*v6 = s[0] == '[';
	if (*v6) {
		const char *rb = memchr(s, ']', len);

		if (!rb)
			return cfg_fail(ctx, "missing ']' after IPv6 address");
		h = s + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon && *colon != ':')
			return cfg_fail(ctx, "unexpected text after ']'");
	} else {
		colon = memchr(s, ':', len);
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return cfg_fail(ctx, "an IPv6 address must be in brackets, e.g. [::1]:80");
		hlen = colon ? (size_t)(colon - s) : len;
	}
	if (hlen == 0)
		return cfg_fail(ctx, "empty host");
	if (hlen >= hostlen)
		return cfg_fail(ctx, "host name is too long");
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = 0;
	if (!colon)
		return 0;
	if (cfg_u64(colon + 1, (size_t)(end - colon - 1), &p) < 0 || p < 1 || p > 65535) {
		char tmp[CFG_SHOW_MAX + 1], show[CFG_SHOW_MAX + 8];
		size_t plen = (size_t)(end - colon - 1);

		plen = plen < sizeof(tmp) ? plen : sizeof(tmp) - 1;
		memcpy(tmp, colon + 1, plen);
		tmp[plen] = '\0';
		return cfg_fail(ctx, "bad port \"%s\" (1..65535)", cfg_show(tmp, show, sizeof(show)));
	}
	*port = (unsigned)p;
	return 0;
}

/* A name through the resolver, once, at load: the first IPv4 address, else the first. */
static int cfg_lookup(struct cfg_ctx *ctx, const char *host, struct sockaddr_storage *ss,
		      socklen_t *sslen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai, *pick = NULL;
	char show[CFG_SHOW_MAX + 8];
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0)
		return cfg_fail(ctx, "cannot resolve \"%s\": %s", cfg_show(host, show, sizeof(show)),
				gai_strerror(rc));
	for (ai = res; ai && !pick; ai = ai->ai_next)
		if (ai->ai_family == AF_INET)
			pick = ai;
	for (ai = res; ai && !pick; ai = ai->ai_next)
		if (ai->ai_family == AF_INET6)
			pick = ai;
	if (!pick || pick->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return cfg_fail(ctx, "no IPv4 or IPv6 address for \"%s\"",
				cfg_show(host, show, sizeof(show)));
	}
	memcpy(ss, pick->ai_addr, pick->ai_addrlen);
	*sslen = pick->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* host as an address with `port`: a bracketed IPv6 literal, an IPv4 literal, or (when
 * `names` allows) a name. Literals never touch the resolver. */
static int cfg_resolve(struct cfg_ctx *ctx, const char *host, bool v6, bool names,
		       unsigned port, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char show[CFG_SHOW_MAX + 8];
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return cfg_fail(ctx, "\"%s\" is not an IPv6 address",
					cfg_show(host, show, sizeof(show)));
		sin6->sin6_family = AF_INET6;
		*sslen = sizeof(*sin6);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*sslen = sizeof(*sin);
	} else if (!names) {
		return cfg_fail(ctx, "\"%s\" is not a numeric IPv4 address, [IPv6] or localhost",
				cfg_show(host, show, sizeof(show)));
	} else if ((rc = cfg_lookup(ctx, host, ss, sslen)) < 0) {
		return rc;
	}
	if (ss->ss_family == AF_INET)
		sin->sin_port = htons((uint16_t)port);
	else
		sin6->sin6_port = htons((uint16_t)port);
	return 0;
}

static bool cfg_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
}

/* ---- directives ---- */

/* Listen [addr:]port [http] */
static int cfg_listen(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_listen *l = &cfg->listen[cfg->nlisten];
	const char *arg = argv[1];
	char host[CFG_NAME_MAX] = "0.0.0.0", show[CFG_SHOW_MAX + 8];
	unsigned port = 0;
	uint64_t p = 0;
	bool v6 = false;
	int rc;

	if (argc == 3 && strcasecmp(argv[2], "http") != 0 && strcasecmp(argv[2], "https") != 0)
		return cfg_fail(ctx, "unknown protocol \"%s\"", cfg_show(argv[2], show, sizeof(show)));
	if (cfg->nlisten == CFG_MAX_LISTEN)
		return cfg_fail(ctx, "more than %d Listen directives", CFG_MAX_LISTEN);
	if (arg[0] != '[' && !strchr(arg, ':')) {
		rc = 0;
		if (cfg_u64(arg, strlen(arg), &p) < 0 || p < 1 || p > 65535)
			rc = cfg_fail(ctx, "\"%s\" is not a port (1..65535) or address:port",
				      cfg_show(arg, show, sizeof(show)));
		port = (unsigned)p;
	} else {
		rc = cfg_split_hostport(ctx, arg, strlen(arg), host, sizeof(host), &v6, &port);
		if (rc == 0 && port == 0)
			rc = cfg_fail(ctx, "\"%s\" has no port", cfg_show(arg, show, sizeof(show)));
		if (rc == 0 && !v6 && !inet_pton(AF_INET, host, &(struct in_addr){0}) &&
		    strcasecmp(host, "localhost") != 0)
			rc = cfg_fail(ctx, "\"%s\" is not a numeric IPv4 address, [IPv6] or localhost",
				      cfg_show(host, show, sizeof(show)));
	}
	if (rc < 0)
		return rc;
	if ((rc = cfg_resolve(ctx, host, v6, true, port, &l->addr, &l->addrlen)) < 0)
		return rc;
	for (unsigned i = 0; i < cfg->nlisten; i++)
		if (cfg_same_addr(&cfg->listen[i].addr, &l->addr))
			return cfg_fail(ctx, "cannot define multiple listeners on the same address "
					"(%s and %s)", cfg->listen[i].name, cfg_show(arg, show, sizeof(show)));
	if ((rc = cfg_copy(ctx, l->name, sizeof(l->name), arg)) < 0)
		return rc;
	cfg_here(ctx, &l->at);
	l->https = argc == 3 && strcasecmp(argv[2], "https") == 0;
	cfg->nlisten++;
	return 0;
}

/* MetricsListen addr:port: Prometheus text on GET /metrics, on its own socket. */
static int cfg_metrics_listen(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	unsigned saved = cfg->nlisten;
	int ret;

	(void)argc;
	/* Parse it as a Listen line would, into the metrics slot. */
	ret = cfg_listen(ctx, 2, argv);
	if (ret < 0)
		return ret;
	cfg->metrics = cfg->listen[saved];
	cfg->nlisten = saved;
	return 0;
}

/* RemoteIPProxyProtocol On|Off (mod_remoteip), server config or <VirtualHost>. */
static int cfg_pp(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	bool on;
	int rc;

	(void)argc;
	if ((rc = cfg_flag(ctx, argv[1], &on)) < 0)
		return rc;
	ctx->cfg->pp_on[ctx->scope] = on ? 2 : 1;
	return 0;
}

/* RemoteIPProxyProtocolExceptions host|range ...: numeric addresses and CIDR ranges
 * (httpd also takes host names, resolved at start-up: refused here, no DNS at load). */
static int cfg_pp_exceptions(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	char show[CFG_SHOW_MAX + 8];

	for (unsigned i = 1; i < argc; i++) {
		struct cfg_pp_exc *e = &cfg->pp_exc[cfg->npp_exc];

		if (cfg->npp_exc == CFG_MAX_PP_EXC)
			return cfg_fail(ctx, "more than %d addresses", CFG_MAX_PP_EXC);
		if (pp_range_parse(argv[i], &e->r) < 0)
			return cfg_fail(ctx, "\"%s\" is not a numeric IP address or CIDR range "
					"(host names are not supported)",
					cfg_show(argv[i], show, sizeof(show)));
		e->scope = (uint16_t)ctx->scope;
		cfg->npp_exc++;
	}
	return 0;
}

/* upgrade=PROTOCOL[,PROTOCOL...] (httpd 2.4.47 mod_proxy_http): the protocols a client
 * may switch to through this route, stored lower case. h2c is refused: spliced speaks
 * HTTP/1.1 to backends and tunnels what it does not speak, and an h2c backend behind it
 * would get a second protocol on a connection spliced believes is HTTP/1.1. httpd's
 * special values NONE and ANY are refused too: a tunnel opens only for a protocol named
 * here, which the client asked for and the backend confirmed. */
static int cfg_upgrade(struct cfg_ctx *ctx, const char *val, char *dst, size_t dstlen)
{
	char show[CFG_SHOW_MAX + 8];
	size_t n = strlen(val), pos = 0;
	struct http_span el;

	if (n == 0 || n >= dstlen)
		return cfg_fail(ctx, "upgrade= takes protocol names, at most %zu bytes", dstlen - 1);
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)val[i]) && !strchr("!#$%&'*+-.^_`|~,", val[i]))
			return cfg_fail(ctx, "upgrade=\"%s\": not a list of protocol names",
					cfg_show(val, show, sizeof(show)));
		dst[i] = (char)tolower((unsigned char)val[i]);
	}
	dst[n] = '\0';
	while (http_list_next(dst, n, &pos, &el)) {
		if (http_proto_is(dst, el, "h2c", 3))
			return cfg_fail(ctx, "upgrade=h2c is not supported (HTTP/2 is not proxied)");
		if (http_proto_is(dst, el, "any", 3) || http_proto_is(dst, el, "none", 4))
			return cfg_fail(ctx, "upgrade=ANY and upgrade=NONE are not supported: name "
					"the protocol");
	}
	return 0;
}

static int cfg_duration_unit(struct cfg_ctx *ctx, const char *arg, size_t len, unsigned scale,
			     unsigned min_ms, unsigned max_ms, unsigned *out_ms);

/* One ProxyPass (or BalancerMember) parameter key=val that belongs to the backend, with
 * httpd's names and units (timeout, connectiontimeout, ttl, max, acquire, retry,
 * disablereuse, keepalive), into *bp. Returns 1 when it was one of them, 0 when key is
 * something else (nothing said), or < 0 after cfg_fail(). One `else if` per key. */
static int cfg_bparam(struct cfg_ctx *ctx, const char *key, const char *val,
		      struct cfg_bparams *bp)
{
	uint64_t n = 0;
	int rc;

	if (strcasecmp(key, "timeout") == 0)
		rc = cfg_duration_unit(ctx, val, strlen(val), 1000, 1, 86400000u, &bp->timeout_ms);
	else if (strcasecmp(key, "connectiontimeout") == 0)
		rc = cfg_duration_unit(ctx, val, strlen(val), 1000, 1, 86400000u,
				       &bp->connect_timeout_ms);
	else if (strcasecmp(key, "acquire") == 0)
		rc = cfg_duration_unit(ctx, val, strlen(val), 1, 1, 86400000u, &bp->acquire_ms);
	else if (strcasecmp(key, "ttl") == 0) {
		rc = cfg_number(ctx, val, 1, 86400, "seconds", &n);
		bp->ttl_ms = (unsigned)n * 1000;
	} else if (strcasecmp(key, "max") == 0) {
		rc = cfg_number(ctx, val, 0, 1000000, "connections", &n);
		bp->max = (unsigned)n;
	} else if (strcasecmp(key, "retry") == 0) {
		rc = cfg_number(ctx, val, 0, 86400, "seconds", &n);
		bp->retry_s = (unsigned)n;
		bp->retry_given = true;
	} else if (strcasecmp(key, "disablereuse") == 0)
		rc = cfg_flag(ctx, val, &bp->disablereuse);
	else if (strcasecmp(key, "keepalive") == 0)
		rc = cfg_flag(ctx, val, &bp->keepalive);
	else
		return 0;
	return rc < 0 ? rc : 1;
}

/* A parameter word "key=value" split in place (the '=' becomes NUL); NULL after
 * cfg_fail() when it has no '='. cfg_param_join() puts the '=' back. */
static char *cfg_param_split(struct cfg_ctx *ctx, char *word)
{
	char show[CFG_SHOW_MAX + 8];
	char *eq = strchr(word, '=');

	if (!eq) {
		cfg_fail(ctx, "option \"%s\" is not supported", cfg_show(word, show, sizeof(show)));
		return NULL;
	}
	*eq = '\0';
	return eq + 1;
}

static void cfg_param_join(char *val)
{
	val[-1] = '=';
}

static int cfg_param_unknown(struct cfg_ctx *ctx, const char *key)
{
	char show[CFG_SHOW_MAX + 8];

	return cfg_fail(ctx, "parameter \"%s\" is not supported", cfg_show(key, show, sizeof(show)));
}

static int cfg_bparams_check(struct cfg_ctx *ctx, const struct cfg_bparams *bp)
{
	if (bp->acquire_ms && !bp->max)
		return cfg_fail(ctx, "acquire= needs max= (it is how long a request waits for "
				"one of the max connections)");
	return 0;
}

/* ProxyPass parameters: those of the backend (cfg_bparam()) go into *bp, upgrade= into
 * the route p; any other is refused rather than silently run with a setting the admin
 * believes is in force. */
static int cfg_pass_params(struct cfg_ctx *ctx, unsigned argc, char **argv,
			   struct cfg_bparams *bp, struct cfg_pass *p)
{
	memset(bp, 0, sizeof(*bp));
	for (unsigned i = 3; i < argc; i++) {
		char *val = cfg_param_split(ctx, argv[i]);
		int rc;

		if (!val)
			return -EINVAL;
		rc = cfg_bparam(ctx, argv[i], val, bp);
		if (rc == 0 && strcasecmp(argv[i], "upgrade") == 0)
			rc = cfg_upgrade(ctx, val, p->upgrade, sizeof(p->upgrade));
		else if (rc == 0)
			rc = cfg_param_unknown(ctx, argv[i]);
		cfg_param_join(val);
		if (rc < 0)
			return rc;
	}
	return cfg_bparams_check(ctx, bp);
}

/* The parameters of a ProxyPass line go to its backend: the first line that gives some
 * sets them; a later line may repeat them or give none, but giving different ones is an
 * error naming both lines (httpd warns and keeps the first). */
static int cfg_backend_params(struct cfg_ctx *ctx, struct cfg_backend *b,
			      const struct cfg_bparams *bp)
{
	static const struct cfg_bparams none;

	if (memcmp(bp, &none, sizeof(none)) == 0)
		return 0;
	if (b->params_line && memcmp(bp, &b->p, sizeof(*bp)) != 0)
		return cfg_fail(ctx, "parameters for %s differ from those given on line %u: "
				"they belong to the backend, give them once", b->name,
				b->params_line);
	if (!b->params_line) {
		b->p = *bp;
		b->params_line = ctx->err->line;
	}
	return 0;
}

/* The socket of "unix:/PATH|http://...": *sock and *slen set, the http:// part returned;
 * NULL after cfg_fail(). */
static const char *cfg_unix_url(struct cfg_ctx *ctx, const char *url, const char **sock,
				size_t *slen)
{
	const char *bar = strchr(url, '|');
	char show[CFG_SHOW_MAX + 8];

	if (!bar || strncasecmp(bar + 1, "http://", 7) != 0) {
		cfg_fail(ctx, "\"%s\": a Unix socket backend is written unix:/PATH|http://HOST/",
			 cfg_show(url, show, sizeof(show)));
		return NULL;
	}
	*sock = url + 5;
	*slen = (size_t)(bar - *sock);
	if (*slen == 0 || **sock != '/') {
		cfg_fail(ctx, "the socket path of \"%s\" must be absolute",
			 cfg_show(url, show, sizeof(show)));
		return NULL;
	}
	/* the path is quoted in messages, the access log and metrics labels */
	if (memchr(*sock, '"', *slen) || memchr(*sock, '\\', *slen)) {
		cfg_fail(ctx, "the socket path of \"%s\" must not contain '\"' or '\\'",
			 cfg_show(url, show, sizeof(show)));
		return NULL;
	}
	if (*slen >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		cfg_fail(ctx, "the socket path of \"%s\" is longer than %zu bytes",
			 cfg_show(url, show, sizeof(show)),
			 sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		return NULL;
	}
	return bar + 1;
}

/* The backend of "http://host[:port][/path]" or "unix:/socket|http://host[:port][/path]"
 * (httpd's syntax; the host is the Host sent): an existing entry with the same name, or a
 * new one, resolved now (a socket: its address). *path_out points at the URL's path ("" if
 * none). */
static int cfg_backend_of(struct cfg_ctx *ctx, const char *url, const char **path_out)
{
	struct config *cfg = ctx->cfg;
	struct cfg_backend *b = &cfg->backend[cfg->nbackend];
	const char *auth, *slash, *sock = NULL;
	size_t alen, slen = 0;
	char host[CFG_NAME_MAX], name[CFG_NAME_MAX], show[CFG_SHOW_MAX + 8];
	unsigned port;
	bool v6;
	int rc, n;

	if (strncasecmp(url, "unix:", 5) == 0 && !(url = cfg_unix_url(ctx, url, &sock, &slen)))
		return -EINVAL;
	if (strncasecmp(url, "https://", 8) == 0)
		return cfg_fail(ctx, "TLS to backends is not supported");
	if (strncasecmp(url, "http://", 7) != 0)
		return cfg_fail(ctx, "\"%s\" is not an http:// URL", cfg_show(url, show, sizeof(show)));
	if (cfg_has_ctl(url, true) || strpbrk(url, "?#") || (sock && cfg_has_ctl(sock, true)))
		return cfg_fail(ctx, "the URL must not contain blanks, a query or a fragment");
	auth = url + 7;
	slash = strchr(auth, '/');
	alen = slash ? (size_t)(slash - auth) : strlen(auth);
	if (alen >= sizeof(b->authority))
		return cfg_fail(ctx, "host name is too long");
	if (slash && strlen(slash) >= CFG_NAME_MAX)
		return cfg_fail(ctx, "the URL's path is too long (more than %d bytes)",
				CFG_NAME_MAX - 1);
	if (memchr(auth, '@', alen))
		return cfg_fail(ctx, "user information in the URL is not supported");
	if (alen == 0)
		return cfg_fail(ctx, "the URL has no host");
	if ((rc = cfg_split_hostport(ctx, auth, alen, host, sizeof(host), &v6, &port)) < 0)
		return rc;
	if (sock)
		n = snprintf(name, sizeof(name), "unix:%.*s|http://%.*s", (int)slen, sock,
			     (int)alen, auth);
	else
		n = snprintf(name, sizeof(name), v6 ? "http://[%s]:%u" : "http://%s:%u", host,
			     port ? port : 80);
	if (n < 0 || (size_t)n >= sizeof(name))
		return cfg_fail(ctx, "host name is too long");
	*path_out = slash ? slash : "";
	/* same scheme, host (any case) and port: the same origin, one pool; a socket is the
	 * same when its path and Host are the same bytes */
	for (unsigned i = 0; i < cfg->nbackend; i++)
		if ((sock ? strcmp : strcasecmp)(cfg->backend[i].name, name) == 0)
			return (int)i;
	if (cfg->nbackend == CFG_MAX_BACKENDS)
		return cfg_fail(ctx, "more than %d distinct backends", CFG_MAX_BACKENDS);
	if (sock) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&b->addr;

		memset(&b->addr, 0, sizeof(b->addr));
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, sock, slen);
		b->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + slen + 1);
	} else if ((rc = cfg_resolve(ctx, host, v6, true, port ? port : 80, &b->addr,
				     &b->addrlen)) < 0) {
		return rc;
	}
	memcpy(b->authority, auth, alen);
	b->authority[alen] = '\0';
	memcpy(b->name, name, (size_t)n + 1);
	b->autostart = -1;
	return (int)cfg->nbackend++;
}

/* ---- balancers (mod_proxy_balancer) ---- */

static bool cfg_is_balancer(const char *url)
{
	return strncasecmp(url, "balancer://", 11) == 0;
}

/* The pool of "balancer://NAME[/path]": the entry of that name (any case), or a new one
 * (a ProxyPass may name it before its <Proxy> section, as in httpd). *path_out points at
 * the URL's path ("" if none). Returns its index, or < 0 after cfg_fail(). */
static int cfg_balancer_of(struct cfg_ctx *ctx, const char *url, const char **path_out)
{
	struct config *cfg = ctx->cfg;
	const char *name = url + 11;
	size_t n = strcspn(name, "/");
	char show[CFG_SHOW_MAX + 8], full[CFG_NAME_MAX];
	struct cfg_balancer *b;

	if (n == 0 || n > 64)
		return cfg_fail(ctx, "\"%s\": a balancer is named balancer://NAME, NAME of 1 to "
				"64 letters, digits, '.', '-' or '_'", cfg_show(url, show, sizeof(show)));
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr(".-_", name[i]))
			return cfg_fail(ctx, "\"%s\": a balancer is named balancer://NAME, NAME of "
					"letters, digits, '.', '-' or '_'",
					cfg_show(url, show, sizeof(show)));
	if (cfg_has_ctl(name + n, true) || strpbrk(name + n, "?#"))
		return cfg_fail(ctx, "the URL must not contain blanks, a query or a fragment");
	if (strlen(name + n) >= CFG_NAME_MAX)
		return cfg_fail(ctx, "the URL's path is too long (more than %d bytes)",
				CFG_NAME_MAX - 1);
	memcpy(full, "balancer://", 11);
	for (size_t i = 0; i < n; i++)
		full[11 + i] = (char)tolower((unsigned char)name[i]);
	full[11 + n] = '\0';
	*path_out = name + n;
	for (unsigned i = 0; i < cfg->nbalancer; i++)
		if (strcmp(cfg->balancer[i].name, full) == 0)
			return (int)i;
	if (cfg->nbalancer == CFG_MAX_BALANCERS)
		return cfg_fail(ctx, "more than %d balancers", CFG_MAX_BALANCERS);
	b = &cfg->balancer[cfg->nbalancer];
	memset(b, 0, sizeof(*b));
	strcpy(b->name, full);
	b->line = ctx->err->line;
	return (int)cfg->nbalancer++;
}

/* The index of val in names[0..n) (any case), or -1. */
static int cfg_keyword(const char *val, const char *const *names, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (strcasecmp(val, names[i]) == 0)
			return (int)i;
	return -1;
}

/* A word of stickysession= or route=: letters, digits and "-_." (a cookie name, a URL
 * parameter name, a route), 1 to cap - 1 bytes. */
static int cfg_lb_token(struct cfg_ctx *ctx, const char *what, const char *v, size_t n,
			char *dst, size_t cap)
{
	char show[CFG_SHOW_MAX + 8];

	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i]))
			n = 0;
	if (n == 0 || n >= cap)
		return cfg_fail(ctx, "%s \"%s\": 1 to %zu letters, digits, '-', '_' or '.'", what,
				cfg_show(v, show, sizeof(show)), cap - 1);
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* spliced's own pool parameters (httpd has none of them): members started and stopped
 * by load. 1, 0 (not one), < 0. */
static int cfg_ondemand_param(struct cfg_ctx *ctx, struct cfg_balancer *b, const char *key,
			      const char *val)
{
	uint64_t n;
	int rc;

	if (strcasecmp(key, "ondemandmin") == 0) {
		rc = cfg_number(ctx, val, 1, CFG_MAX_MEMBERS, "members", &n);
		b->od_min = (unsigned)n;
	} else if (strcasecmp(key, "ondemandwait") == 0) {
		rc = cfg_duration_unit(ctx, val, strlen(val), 1, 1, 3600000u, &b->od_wait_ms);
	} else if (strcasecmp(key, "ondemandidle") == 0) {
		rc = cfg_duration_unit(ctx, val, strlen(val), 1000, 1, 86400000u, &b->od_idle_ms);
	} else {
		return 0;
	}
	return rc < 0 ? rc : 1;
}

/* A pool's parameter (ProxySet, or ProxyPass to a balancer://): 1 when key is one, 0
 * when not (nothing said), < 0 after cfg_fail(). */
static int cfg_balancer_param(struct cfg_ctx *ctx, struct cfg_balancer *b, const char *key,
			      const char *val)
{
	static const char *const lbm[] = { "byrequests", "bybusyness", "bytraffic" };
	char show[CFG_SHOW_MAX + 8];
	const char *bar;
	int rc;

	if (strcasecmp(key, "lbmethod") == 0) {
		int i = cfg_keyword(val, lbm, sizeof(lbm) / sizeof(lbm[0]));

		if (i >= 0) {
			b->lbmethod = (unsigned)i;
			return 1;
		}
		return cfg_fail(ctx, "lbmethod \"%s\" is not supported (byrequests, bybusyness "
				"and bytraffic are)", cfg_show(val, show, sizeof(show)));
	}
	if (strcasecmp(key, "stickysession") == 0) {
		/* NAME, or COOKIE|PARAMETER (httpd: JSESSIONID|jsessionid) */
		bar = strchr(val, '|');
		rc = cfg_lb_token(ctx, "stickysession", val, bar ? (size_t)(bar - val) : strlen(val),
				  b->sticky_cookie, sizeof(b->sticky_cookie));
		if (rc == 0)
			rc = cfg_lb_token(ctx, "stickysession", bar ? bar + 1 : val,
					  strlen(bar ? bar + 1 : val), b->sticky_param,
					  sizeof(b->sticky_param));
		return rc < 0 ? rc : 1;
	}
	if (strcasecmp(key, "nofailover") == 0) {
		rc = cfg_flag(ctx, val, &b->nofailover);
		return rc < 0 ? rc : 1;
	}
	return cfg_ondemand_param(ctx, b, key, val);
}

/* status= of a member: httpd's letters, each set by itself or a '+' before it, cleared by
 * a '-' ("+H", "S-E"); only those spliced acts on are accepted. */
static int cfg_member_status(struct cfg_ctx *ctx, const char *val, unsigned *status)
{
	char show[CFG_SHOW_MAX + 8];

	if (!*val)
		return cfg_fail(ctx, "status= needs a letter (H, D or S)");
	for (const char *v = val; *v; v++) {
		bool clear = *v == '-';
		unsigned bit;

		if (*v == '+' || *v == '-')
			v++;
		switch (toupper((unsigned char)*v)) {
		case 'H': bit = CFG_MEMBER_STANDBY; break;
		case 'D': bit = CFG_MEMBER_DISABLED; break;
		case 'S': bit = CFG_MEMBER_STOPPED; break;
		default:
			return cfg_fail(ctx, "status \"%s\": only H (hot standby), D (disabled) and "
					"S (stopped) are supported", cfg_show(val, show, sizeof(show)));
		}
		*status = clear ? *status & ~bit : *status | bit;
	}
	return 0;
}

/* mod_proxy_hcheck's parameters of a member: 1, 0 (not one), < 0. */
static int cfg_member_hc_param(struct cfg_ctx *ctx, struct cfg_member *m, const char *key,
			       const char *val)
{
	static const char *const meth[] = { "None", "TCP", "OPTIONS", "HEAD", "GET" };
	char show[CFG_SHOW_MAX + 8];
	uint64_t n;
	int rc = 0;

	if (strcasecmp(key, "hcmethod") == 0) {
		int i = cfg_keyword(val, meth, sizeof(meth) / sizeof(meth[0]));

		if (i >= 0) {
			m->hcmethod = (unsigned)i;
			return 1;
		}
		return cfg_fail(ctx, "hcmethod \"%s\" is not supported (None, TCP, OPTIONS, HEAD "
				"and GET are)", cfg_show(val, show, sizeof(show)));
	}
	if (strcasecmp(key, "hcuri") == 0) {
		if (cfg_has_ctl(val, true) || strchr(val, '#'))
			return cfg_fail(ctx, "hcuri must not contain blanks or a fragment");
		if (val[0] != '/')
			return cfg_fail(ctx, "hcuri \"%s\" must start with '/'",
					cfg_show(val, show, sizeof(show)));
		rc = cfg_copy(ctx, m->hcuri, sizeof(m->hcuri), val);
	} else if (strcasecmp(key, "hcinterval") == 0) {
		rc = cfg_number(ctx, val, 1, 86400, "seconds", &n);
		m->hcinterval_ms = (unsigned)n * 1000;
	} else if (strcasecmp(key, "hcpasses") == 0) {
		rc = cfg_number(ctx, val, 1, 1000, "checks", &n);
		m->hcpasses = (unsigned)n;
	} else if (strcasecmp(key, "hcfails") == 0) {
		rc = cfg_number(ctx, val, 1, 1000, "checks", &n);
		m->hcfails = (unsigned)n;
	} else if (strcasecmp(key, "hcexpr") == 0) {
		rc = cfg_copy(ctx, m->hcexpr_name, sizeof(m->hcexpr_name), val);
	} else {
		return 0;
	}
	return rc < 0 ? rc : 1;
}

/* ProxyHCExpr NAME {EXPR}: the expression is decided at load for every status
 * (bal_hcexpr_compile()); what it cannot decide is refused, naming it. */
static int cfg_proxy_hcexpr(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_hcexpr *e = &cfg->hcexpr[cfg->nhcexpr];
	char text[1024], msg[256];
	size_t used = 0, n;

	if (cfg->nhcexpr == CFG_MAX_HCEXPR)
		return cfg_fail(ctx, "more than %d expressions", CFG_MAX_HCEXPR);
	for (unsigned i = 0; i < cfg->nhcexpr; i++)
		if (strcmp(cfg->hcexpr[i].name, argv[1]) == 0)
			return cfg_fail(ctx, "%s is already defined on line %u", argv[1],
					cfg->hcexpr[i].line);
	for (unsigned i = 2; i < argc; i++)
		used += (size_t)snprintf(text + used, used < sizeof(text) ? sizeof(text) - used : 0,
					 "%s%s", i > 2 ? " " : "", argv[i]);
	n = strlen(text);
	if (used >= sizeof(text) || n < 2 || text[0] != '{' || text[n - 1] != '}')
		return cfg_fail(ctx, "the expression is written in braces: ProxyHCExpr NAME {EXPR}");
	text[n - 1] = '\0';
	memset(e, 0, sizeof(*e));
	if (bal_hcexpr_compile(text + 1, e->pass, msg, sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s", msg);
	if (cfg_copy(ctx, e->name, sizeof(e->name), argv[1]) < 0)
		return -EINVAL;
	e->line = ctx->err->line;
	cfg->nhcexpr++;
	return 0;
}

/* A member's own parameter (loadfactor=, status=, route=, hc...=): 1, 0 (not one), < 0. */
static int cfg_member_param(struct cfg_ctx *ctx, struct cfg_member *m, const char *key,
			    const char *val)
{
	uint64_t n;
	int rc;

	if (strcasecmp(key, "loadfactor") == 0) {
		char show[CFG_SHOW_MAX + 8];

		if (cfg_u64(val, strlen(val), &n) < 0 || n < 1 || n > 100)
			return cfg_fail(ctx, "loadfactor=%s: a whole number from 1 to 100",
					cfg_show(val, show, sizeof(show)));
		m->lbfactor = (unsigned)n;
		rc = 0;
	} else if (strcasecmp(key, "status") == 0)
		rc = cfg_member_status(ctx, val, &m->status);
	else if (strcasecmp(key, "route") == 0)
		rc = cfg_lb_token(ctx, "route", val, strlen(val), m->route, sizeof(m->route));
	else if (strncasecmp(key, "hc", 2) == 0)
		return cfg_member_hc_param(ctx, m, key, val);
	else
		return 0;
	return rc < 0 ? rc : 1;
}

/* The pool a BalancerMember or ProxySet line is about: the <Proxy> section it is in, or
 * its first argument ("balancer://NAME", outside sections). *first: the next argument. */
static int cfg_balancer_arg(struct cfg_ctx *ctx, unsigned argc, char **argv, unsigned *first)
{
	const char *path;
	int bi;

	*first = 1;
	if (ctx->proxy && !(argc > 1 && cfg_is_balancer(argv[1])))
		return (int)ctx->proxy - 1;
	if (argc < 2 || !cfg_is_balancer(argv[1]))
		return cfg_fail(ctx, "outside <Proxy balancer://NAME> the balancer comes first: "
				"%s balancer://NAME ...", ctx->directive);
	if ((bi = cfg_balancer_of(ctx, argv[1], &path)) < 0)
		return bi;
	if (ctx->proxy && (unsigned)bi != ctx->proxy - 1)
		return cfg_fail(ctx, "%s is not the balancer of this <Proxy> section",
				ctx->cfg->balancer[bi].name);
	if (path[0] && strcmp(path, "/") != 0)
		return cfg_fail(ctx, "a balancer has no path here");
	*first = 2;
	return bi;
}

/* BalancerMember [balancer://NAME] URL [key=value...]: the URL is a backend like a
 * ProxyPass's (its pool, max=, retry=, ProxyAutostart); loadfactor=, status=, route= are
 * the pool's view of it, every other parameter the backend's. */
static int cfg_balancer_member(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_member m = { .lbfactor = 1, .line = ctx->err->line, .hcexpr = -1 };
	struct cfg_bparams bp;
	struct cfg_balancer *b;
	const char *path;
	unsigned first;
	int bi, backend, rc;

	if ((bi = cfg_balancer_arg(ctx, argc, argv, &first)) < 0)
		return bi;
	b = &cfg->balancer[bi];
	if (first >= argc)
		return cfg_fail(ctx, "needs the member's URL");
	if (b->nmember == CFG_MAX_MEMBERS)
		return cfg_fail(ctx, "more than %d members in %s", CFG_MAX_MEMBERS, b->name);
	memset(&bp, 0, sizeof(bp));
	for (unsigned i = first + 1; i < argc; i++) {
		char *val = cfg_param_split(ctx, argv[i]);

		if (!val)
			return -EINVAL;
		rc = cfg_member_param(ctx, &m, argv[i], val);
		if (rc == 0)
			rc = cfg_bparam(ctx, argv[i], val, &bp);
		if (rc == 0)
			rc = cfg_param_unknown(ctx, argv[i]);
		cfg_param_join(val);
		if (rc < 0)
			return rc;
	}
	if ((rc = cfg_bparams_check(ctx, &bp)) < 0)
		return rc;
	if (cfg_is_balancer(argv[first]))
		return cfg_fail(ctx, "a member cannot be a balancer");
	if ((backend = cfg_backend_of(ctx, argv[first], &path)) < 0)
		return backend;
	if (path[0] && strcmp(path, "/") != 0)
		return cfg_fail(ctx, "a path in a member's URL is not supported (the path comes "
				"from the ProxyPass or RewriteRule)");
	for (unsigned i = 0; i < b->nmember; i++)
		if (b->member[i].backend == backend)
			return cfg_fail(ctx, "%s is already a member of %s (line %u)",
					cfg->backend[backend].name, b->name, b->member[i].line);
	if ((rc = cfg_backend_params(ctx, &cfg->backend[backend], &bp)) < 0)
		return rc;
	m.backend = backend;
	b->member[b->nmember++] = m;
	return 0;
}

/* ProxySet [balancer://NAME] key=value...: the pool's parameters (inside its <Proxy>
 * section the name may be left out). A backend's URL is refused: its parameters go on
 * its ProxyPass or BalancerMember line. */
static int cfg_proxy_set(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	char show[CFG_SHOW_MAX + 8];
	unsigned first;
	int bi, rc;

	if (!ctx->proxy && argc > 1 && !cfg_is_balancer(argv[1]) && !strchr(argv[1], '='))
		return cfg_fail(ctx, "\"%s\": only balancer:// pools take ProxySet; give a "
				"backend's parameters on its ProxyPass or BalancerMember line",
				cfg_show(argv[1], show, sizeof(show)));
	if ((bi = cfg_balancer_arg(ctx, argc, argv, &first)) < 0)
		return bi;
	if (first >= argc)
		return cfg_fail(ctx, "needs key=value parameters");
	for (unsigned i = first; i < argc; i++) {
		char *val = cfg_param_split(ctx, argv[i]);

		if (!val)
			return -EINVAL;
		rc = cfg_balancer_param(ctx, &ctx->cfg->balancer[bi], argv[i], val);
		if (rc == 0)
			rc = cfg_param_unknown(ctx, argv[i]);
		cfg_param_join(val);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* <Proxy balancer://NAME> ... </Proxy>: BalancerMember and ProxySet lines of one pool.
 * Main server only (the pools are the server's; a <VirtualHost>'s ProxyPass may name
 * any). Other <Proxy> sections (access rules for a backend URL) are refused. */
static int cfg_proxy_section(struct cfg_ctx *ctx, bool closing, unsigned argc, char **argv)
{
	char show[CFG_SHOW_MAX + 8];
	char *last = argv[argc - 1];
	size_t n = strlen(last);
	const char *path;
	int bi;

	ctx->directive = closing ? "</Proxy>" : "<Proxy>";
	if (closing) {
		if (!ctx->proxy)
			return cfg_fail(ctx, "without matching <Proxy> section");
		if (argc > 1)
			return cfg_fail(ctx, "takes no arguments");
		ctx->proxy = 0;
		return 0;
	}
	if (ctx->proxy)
		return cfg_fail(ctx, "sections cannot be nested");
	if (ctx->scope)
		return cfg_fail(ctx, "balancers are defined in the main server, not in "
				"<VirtualHost> (whose ProxyPass lines may name them)");
	if (last[n - 1] != '>')
		return cfg_fail(ctx, "missing '>' at the end of the line");
	last[n - 1] = '\0';
	argc -= last[0] == '\0';
	if (argc != 2)
		return cfg_fail(ctx, "takes one balancer://NAME");
	if (!cfg_is_balancer(argv[1]))
		return cfg_fail(ctx, "<Proxy %s>: only balancer:// sections are supported",
				cfg_show(argv[1], show, sizeof(show)));
	if ((bi = cfg_balancer_of(ctx, argv[1], &path)) < 0)
		return bi;
	if (path[0] && strcmp(path, "/") != 0)
		return cfg_fail(ctx, "a balancer has no path here");
	ctx->proxy = (unsigned)bi + 1;
	return 0;
}

/* ProxyPass PREFIX balancer://NAME[/path] [key=value...]: the pool's parameters may be
 * given here too (httpd), and upgrade=; a backend's belong on its BalancerMember line. */
static int cfg_proxypass_balancer(struct cfg_ctx *ctx, unsigned argc, char **argv,
				  struct cfg_pass *p)
{
	struct cfg_bparams bp;
	const char *path;
	int bi, rc;

	if ((bi = cfg_balancer_of(ctx, argv[2], &path)) < 0)
		return bi;
	for (unsigned i = 3; i < argc; i++) {
		char *val = cfg_param_split(ctx, argv[i]);

		if (!val)
			return -EINVAL;
		rc = cfg_balancer_param(ctx, &ctx->cfg->balancer[bi], argv[i], val);
		if (rc == 0 && strcasecmp(argv[i], "upgrade") == 0)
			rc = cfg_upgrade(ctx, val, p->upgrade, sizeof(p->upgrade));
		else if (rc == 0 && (rc = cfg_bparam(ctx, argv[i], val, &bp)) > 0)
			rc = cfg_fail(ctx, "%s= belongs to each member: give it on the "
				      "BalancerMember lines", argv[i]);
		else if (rc == 0)
			rc = cfg_param_unknown(ctx, argv[i]);
		cfg_param_join(val);
		if (rc < 0)
			return rc;
	}
	strcpy(p->path, path[0] ? path : "/");
	return CFG_BALANCER_BASE + bi;
}

/* ProxyPass PREFIX URL|! [key=value...] */
static int cfg_proxypass(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_pass *p = &cfg->pass[cfg->npass];
	const char *path = "", *url = argv[2];
	char show[CFG_SHOW_MAX + 8], http[CFG_PATH_MAX];
	struct cfg_bparams bp;
	int rc, backend = -1;

	if (cfg->npass == CFG_MAX_PASS)
		return cfg_fail(ctx, "more than %d ProxyPass directives", CFG_MAX_PASS);
	if (argv[1][0] != '/')
		return cfg_fail(ctx, "path \"%s\" must start with '/'",
				cfg_show(argv[1], show, sizeof(show)));
	if (cfg_has_ctl(argv[1], false))
		return cfg_fail(ctx, "control character in path");
	if (cfg_is_balancer(url)) {
		memset(p, 0, sizeof(*p));
		if ((rc = cfg_copy(ctx, p->prefix, sizeof(p->prefix), argv[1])) < 0 ||
		    (backend = cfg_proxypass_balancer(ctx, argc, argv, p)) < 0)
			return rc < 0 ? rc : backend;
		goto out_add;
	}
	if ((rc = cfg_pass_params(ctx, argc, argv, &bp, p)) < 0 ||
	    (rc = cfg_copy(ctx, p->prefix, sizeof(p->prefix), argv[1])) < 0)
		return rc;
	if (strcmp(url, "!") == 0 && argc > 3)
		return cfg_fail(ctx, "\"!\" has no backend to take parameters");
	/* ws://host/ is httpd's spelling of an http:// backend that a client may switch to
	 * WebSocket (upgrade=websocket unless upgrade= says otherwise) */
	if (strncasecmp(url, "wss://", 6) == 0)
		return cfg_fail(ctx, "TLS to backends is not supported");
	if (strncasecmp(url, "ws://", 5) == 0) {
		if (snprintf(http, sizeof(http), "http://%s", url + 5) >= (int)sizeof(http))
			return cfg_fail(ctx, "the URL is too long");
		url = http;
		if (!p->upgrade[0])
			strcpy(p->upgrade, "websocket");
	}
	/* the backend is the last thing that can fail, so no failed line leaves one behind */
	if (strcmp(url, "!") != 0 && (backend = cfg_backend_of(ctx, url, &path)) < 0)
		return backend;
	/* (a backend new with this line takes them: only an existing one can refuse) */
	if (backend >= 0 && (rc = cfg_backend_params(ctx, &cfg->backend[backend], &bp)) < 0)
		return rc;
	/* cfg_backend_of() checked that the path fits; "!" has none */
	strcpy(p->path, backend >= 0 && path[0] == '\0' ? "/" : path);
out_add:
	p->prefix_len = (uint32_t)strlen(p->prefix);
	p->path_len = (uint32_t)strlen(p->path);
	p->backend = backend;
	p->scope = (uint16_t)ctx->scope;
	cfg->npass++;
	return 0;
}

/* One value of a ProxyPassReverse* line: no control characters, blanks or ';' (a
 * mapped value is written into a response field as it is). */
static int cfg_reverse_value(struct cfg_ctx *ctx, char *dst, uint16_t *len, const char *v,
			     const char *what)
{
	char show[CFG_SHOW_MAX + 8];
	int rc;

	if (v[0] == '\0' || cfg_has_ctl(v, true) || strchr(v, ';'))
		return cfg_fail(ctx, "%s \"%s\" must be non-empty, without blanks, control "
				"characters or ';'", what, cfg_show(v, show, sizeof(show)));
	if ((rc = cfg_copy(ctx, dst, CFG_NAME_MAX, v)) < 0)
		return rc;
	*len = (uint16_t)strlen(dst);
	return 0;
}

/* ProxyPassReverse PATH URL: Location, Content-Location and URI values starting with URL
 * are rewritten to the client's origin + PATH + the rest (src/forward.c).
 * "unix:/path|http://host/" (a ProxyPass URL) maps as "http://host/", as httpd does.
 * ProxyPassReverseCookiePath / ProxyPassReverseCookieDomain INTERNAL PUBLIC: Set-Cookie's
 * Path= / Domain= values starting with INTERNAL become PUBLIC. */
static int cfg_pass_reverse(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_reverse *r = &cfg->reverse[cfg->nreverse];
	const char *d = ctx->directive;
	uint8_t kind = strcasecmp(d, "ProxyPassReverse") == 0 ? CFG_REV_URL :
		       strcasecmp(d, "ProxyPassReverseCookiePath") == 0 ? CFG_REV_COOKIE_PATH :
		       CFG_REV_COOKIE_DOMAIN;
	/* ProxyPassReverse PATH URL, but ProxyPassReverseCookie* INTERNAL PUBLIC */
	const char *to = kind == CFG_REV_URL ? argv[1] : argv[2];
	const char *from = kind == CFG_REV_URL ? argv[2] : argv[1], *bar;
	char show[CFG_SHOW_MAX + 8];
	int rc;

	(void)argc;
	if (cfg->nreverse == CFG_MAX_REVERSE)
		return cfg_fail(ctx, "more than %d ProxyPassReverse* directives", CFG_MAX_REVERSE);
	if (kind == CFG_REV_URL) {
		if (argv[1][0] != '/')
			return cfg_fail(ctx, "path \"%s\" must start with '/'",
					cfg_show(argv[1], show, sizeof(show)));
		if (strncasecmp(from, "unix:", 5) == 0 && (bar = strchr(from, '|')))
			from = bar + 1;
		if (strncasecmp(from, "http://", 7) != 0 && strncasecmp(from, "https://", 8) != 0 &&
		    from[0] != '/')
			return cfg_fail(ctx, "\"%s\" is not an http:// URL or a URL-path",
					cfg_show(from, show, sizeof(show)));
	}
	if ((rc = cfg_reverse_value(ctx, r->from, &r->from_len, from,
				    kind == CFG_REV_URL ? "URL" : "internal value")) < 0 ||
	    (rc = cfg_reverse_value(ctx, r->to, &r->to_len, to,
				    kind == CFG_REV_URL ? "path" : "public value")) < 0)
		return rc;
	r->kind = kind;
	r->scope = (uint16_t)ctx->scope;
	cfg->nreverse++;
	return 0;
}

static int cfg_preserve_host(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	bool on = false;
	int rc;

	(void)argc;
	if (ctx->scope == 0)
		return cfg_flag(ctx, argv[1], &ctx->cfg->preserve_host);
	if ((rc = cfg_flag(ctx, argv[1], &on)) == 0)
		ctx->cfg->scope[ctx->scope].preserve_host = on;
	return rc;
}

static int cfg_keepalive(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_flag(ctx, argv[1], &ctx->cfg->keepalive);
}

/* UnderscoresInHeaders On|Off (nginx's underscores_in_headers; httpd has no such
 * directive): request fields whose names hold '_' are left out unless On. */
static int cfg_underscores(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_flag(ctx, argv[1], &ctx->cfg->underscores_in_headers);
}

/* User/Group: a name, or "#uid" as in httpd; main.c looks it up after the parse. */
static int cfg_id(struct cfg_ctx *ctx, char *dst, size_t dstlen, const char *arg)
{
	char show[CFG_SHOW_MAX + 8];
	uint64_t id;

	if (arg[0] == '#' && cfg_u64(arg + 1, strlen(arg + 1), &id) < 0)
		return cfg_fail(ctx, "\"%s\" is not a name or #number", cfg_show(arg, show, sizeof(show)));
	if (cfg_has_ctl(arg, true))
		return cfg_fail(ctx, "\"%s\" is not a name or #number", cfg_show(arg, show, sizeof(show)));
	return cfg_copy(ctx, dst, dstlen, arg);
}

static int cfg_user(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	cfg_here(ctx, &ctx->cfg->at.user);
	return cfg_id(ctx, ctx->cfg->user, sizeof(ctx->cfg->user), argv[1]);
}

static int cfg_group(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	cfg_here(ctx, &ctx->cfg->at.group);
	return cfg_id(ctx, ctx->cfg->group, sizeof(ctx->cfg->group), argv[1]);
}

static int cfg_error_log(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	const char *arg = argv[1];

	(void)argc;
	if (strncasecmp(arg, "syslog", 6) == 0 && (arg[6] == '\0' || arg[6] == ':'))
		return cfg_fail(ctx, "syslog is not supported");
	if (arg[0] == '|')
		return cfg_fail(ctx, "piped logs are not supported");
	cfg_here(ctx, &ctx->cfg->at.error_log);
	return cfg_copy(ctx, ctx->cfg->error_log, sizeof(ctx->cfg->error_log), arg);
}

/* PidFile: absolute only (httpd 2.4 would resolve a relative one under DefaultRuntimeDir,
 * which spliced does not have; `-k stop` and logrotate must find the same file, and a
 * mistyped relative name is better refused than written somewhere unexpected). */
static int cfg_pid_file(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	if (argv[1][0] != '/')
		return cfg_fail(ctx, "\"%s\" is not an absolute path", argv[1]);
	if (cfg_has_ctl(argv[1], false))
		return cfg_fail(ctx, "control characters in the path");
	cfg_here(ctx, &ctx->cfg->at.pid_file);
	return cfg_copy(ctx, ctx->cfg->pid_file, sizeof(ctx->cfg->pid_file), argv[1]);
}

static int cfg_timeout(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	uint64_t n;
	int rc = cfg_number(ctx, argv[1], 1, 86400, "seconds", &n);

	(void)argc;
	if (rc == 0)
		ctx->cfg->timeout_ms = (unsigned)n * 1000;
	return rc;
}

/* ProxyTimeout N: each wait on a backend (timeout= of those that give none); default
 * Timeout. Seconds, as httpd. */
static int cfg_proxy_timeout(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	uint64_t n;
	int rc = cfg_number(ctx, argv[1], 1, 86400, "seconds", &n);

	(void)argc;
	if (rc == 0)
		ctx->cfg->proxy_timeout_ms = (unsigned)n * 1000;
	return rc;
}

/* A duration: N or Ns (seconds) or Nms, as httpd 2.4 takes for KeepAliveTimeout; in
 * min_ms..max_ms. */
static int cfg_duration_n(struct cfg_ctx *ctx, const char *arg, size_t len, unsigned min_ms,
			  unsigned max_ms, unsigned *out_ms)
{
	return cfg_duration_unit(ctx, arg, len, 1000, min_ms, max_ms, out_ms);
}

/* The same with `scale` ms for a number without a suffix (1: httpd's acquire=). */
static int cfg_duration_unit(struct cfg_ctx *ctx, const char *arg, size_t len, unsigned scale,
			     unsigned min_ms, unsigned max_ms, unsigned *out_ms)
{
	uint64_t n;
	int rc;

	if (len > 2 && strncasecmp(arg + len - 2, "ms", 2) == 0) {
		len -= 2;
		scale = 1;
	} else if (len > 1 && (arg[len - 1] == 's' || arg[len - 1] == 'S')) {
		len -= 1;
		scale = 1000;
	}
	rc = cfg_number_n(ctx, arg, len, (min_ms + scale - 1) / scale, max_ms / scale,
			  scale == 1 ? "milliseconds" : "seconds", &n);
	if (rc == 0)
		*out_ms = (unsigned)n * scale;
	return rc;
}

static int cfg_duration(struct cfg_ctx *ctx, const char *arg, unsigned min_ms, unsigned max_ms,
			unsigned *out_ms)
{
	return cfg_duration_n(ctx, arg, strlen(arg), min_ms, max_ms, out_ms);
}

static int cfg_keepalive_timeout(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_duration(ctx, argv[1], 0, 86400000u, &ctx->cfg->keepalive_timeout_ms);
}

/* The plain numeric directives: where the value goes and its range. */
static int cfg_unsigned(struct cfg_ctx *ctx, const char *arg, uint64_t min, uint64_t max,
			const char *unit, unsigned *dst)
{
	uint64_t n;
	int rc = cfg_number(ctx, arg, min, max, unit, &n);

	if (rc == 0)
		*dst = (unsigned)n;
	return rc;
}

static int cfg_max_keepalive_requests(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_unsigned(ctx, argv[1], 0, UINT_MAX, "requests",
			    &ctx->cfg->max_keepalive_requests);
}

static int cfg_limit_request_line(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_unsigned(ctx, argv[1], 1, 65536, "bytes", &ctx->cfg->limit_request_line);
}

static int cfg_limit_field_size(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_unsigned(ctx, argv[1], 1, 65536, "bytes", &ctx->cfg->limit_field_size);
}

static int cfg_limit_fields(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_unsigned(ctx, argv[1], 1, 10000, "fields", &ctx->cfg->limit_fields);
}

/* LimitResponseFieldSize / LimitResponseFields: httpd has no such directives (its proxy
 * reads backend heads with the request limits); a backend's Set-Cookie and field count
 * are not the client's. */
static int cfg_limit_resp_field_size(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_unsigned(ctx, argv[1], 1, 32760, "bytes", &ctx->cfg->limit_resp_field_size);
}

static int cfg_limit_resp_fields(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_unsigned(ctx, argv[1], 1, 10000, "fields", &ctx->cfg->limit_resp_fields);
}

/* One stage of RequestReadTimeout: "T[-MAX][,MinRate=R]" after "header=" or "body=". */
static int cfg_reqtimeout_stage(struct cfg_ctx *ctx, const char *v, struct cfg_reqtimeout *rt)
{
	char show[CFG_SHOW_MAX + 8];
	const char *comma = strchr(v, ','), *dash = strchr(v, '-');
	uint64_t t, max = 0, rate = 0;
	size_t tl;
	int rc;

	if (dash && comma && dash > comma)
		dash = NULL;
	tl = dash ? (size_t)(dash - v) : comma ? (size_t)(comma - v) : strlen(v);
	if ((rc = cfg_number_n(ctx, v, tl, 0, 86400, "seconds", &t)) < 0)
		return rc;
	if (dash && (rc = cfg_number_n(ctx, dash + 1, comma ? (size_t)(comma - dash - 1)
							   : strlen(dash + 1),
					 1, 86400, "seconds", &max)) < 0)
		return rc;
	if (comma) {
		if (strncasecmp(comma + 1, "MinRate=", 8) != 0)
			return cfg_fail(ctx, "\"%s\": expected MinRate=bytes after the comma",
					cfg_show(v, show, sizeof(show)));
		if ((rc = cfg_number(ctx, comma + 9, 1, UINT_MAX, "bytes per second", &rate)) < 0)
			return rc;
	}
	if (max && max < t)
		return cfg_fail(ctx, "\"%s\": the maximum is below the timeout",
				cfg_show(v, show, sizeof(show)));
	if (max && !rate)
		return cfg_fail(ctx, "\"%s\": a maximum needs MinRate", cfg_show(v, show, sizeof(show)));
	rt->initial_ms = (unsigned)t * 1000;
	rt->max_ms = (unsigned)max * 1000;
	rt->rate = (unsigned)rate;
	return 0;
}

/* RequestReadTimeout [header=...] [body=...] (mod_reqtimeout; handshake= is for TLS). */
static int cfg_request_read_timeout(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	char show[CFG_SHOW_MAX + 8];

	for (unsigned i = 1; i < argc; i++) {
		int rc;

		if (strncasecmp(argv[i], "header=", 7) == 0)
			rc = cfg_reqtimeout_stage(ctx, argv[i] + 7, &ctx->cfg->rt_header);
		else if (strncasecmp(argv[i], "body=", 5) == 0)
			rc = cfg_reqtimeout_stage(ctx, argv[i] + 5, &ctx->cfg->rt_body);
		else
			rc = cfg_fail(ctx, "\"%s\" is not supported (header= or body=; handshake= "
				      "needs TLS)", cfg_show(argv[i], show, sizeof(show)));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cfg_limit_request_body(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_number(ctx, argv[1], 0, INT64_MAX, "bytes", &ctx->cfg->limit_request_body);
}

static int cfg_max_connections(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_unsigned(ctx, argv[1], 1, 1000000, "connections", &ctx->cfg->max_connections);
}

static int cfg_workers(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	if (strcasecmp(argv[1], "auto") == 0) {
		ctx->cfg->workers = 0;
		return 0;
	}
	return cfg_unsigned(ctx, argv[1], 1, 256, "workers", &ctx->cfg->workers);
}

/* ---- virtual hosts ---- */

/* "host[:port]" of ServerName / a Host header: the host, lower case, without a trailing
 * dot ([v6] keeps its brackets). Returns its length, or 0 when it does not fit. */
static size_t cfg_hostname(const char *s, size_t len, char *out, size_t outlen)
{
	const char *rb = len && s[0] == '[' ? memchr(s, ']', len) : NULL;
	size_t n = rb ? (size_t)(rb - s) + 1 : len;

	if (!rb && memchr(s, ':', len))
		n = (size_t)((const char *)memchr(s, ':', len) - s);
	while (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen)
		return 0;
	memcpy(out, s, n);
	out[n] = '\0';
	uri_tolower(out, n);
	return n;
}

/* ServerName [scheme://]fqdn[:port] */
static int cfg_server_name(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct cfg_scope *sc = &ctx->cfg->scope[ctx->scope];
	const char *arg = argv[1], *sep = strstr(arg, "://");
	char show[CFG_SHOW_MAX + 8];

	(void)argc;
	if (sep)
		arg = sep + 3;
	if (cfg_has_ctl(arg, true) || strchr(arg, '/') ||
	    !cfg_hostname(arg, strlen(arg), sc->server_name, sizeof(sc->server_name)))
		return cfg_fail(ctx, "\"%s\" is not a host name", cfg_show(argv[1], show, sizeof(show)));
	return 0;
}

/* ServerAlias name... ('*' and '?' wildcards) */
static int cfg_server_alias(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_scope *sc = &cfg->scope[ctx->scope];
	char show[CFG_SHOW_MAX + 8];

	if (ctx->scope == 0)
		return cfg_fail(ctx, "only allowed in <VirtualHost>");
	for (unsigned i = 1; i < argc; i++) {
		if (cfg->nvname == CFG_MAX_VNAMES)
			return cfg_fail(ctx, "more than %d names in all", CFG_MAX_VNAMES);
		if (cfg_has_ctl(argv[i], true) || strchr(argv[i], '/') ||
		    !cfg_hostname(argv[i], strlen(argv[i]), cfg->vname[cfg->nvname].name,
				  CFG_NAME_MAX))
			return cfg_fail(ctx, "\"%s\" is not a host name",
					cfg_show(argv[i], show, sizeof(show)));
		cfg->nvname++;
		sc->nname++;
	}
	return 0;
}

/* One address of <VirtualHost addr[:port] ...>: only the port selects (0 = any). */
static int cfg_vhost_addr(struct cfg_ctx *ctx, struct cfg_scope *sc, const char *a)
{
	const char *rb = a[0] == '[' ? strchr(a, ']') : NULL;
	const char *colon = rb ? (rb[1] == ':' ? rb + 1 : NULL) : strrchr(a, ':');
	char show[CFG_SHOW_MAX + 8];
	uint64_t port;

	if ((a[0] == '[' && (!rb || (rb[1] && rb[1] != ':'))) ||
	    (!rb && colon && memchr(a, ':', (size_t)(colon - a))) || colon == a)
		return cfg_fail(ctx, "bad address \"%s\"", cfg_show(a, show, sizeof(show)));
	if (!colon || strcmp(colon + 1, "*") == 0) {
		sc->any_port = true;
		return 0;
	}
	if (cfg_u64(colon + 1, strlen(colon + 1), &port) < 0 || port < 1 || port > 65535)
		return cfg_fail(ctx, "bad port in \"%s\"", cfg_show(a, show, sizeof(show)));
	if (sc->nport == CFG_VHOST_PORTS)
		return cfg_fail(ctx, "more than %d addresses", CFG_VHOST_PORTS);
	sc->port[sc->nport++] = (uint16_t)port;
	return 0;
}

static void cfg_scope_init(struct cfg_scope *sc, unsigned line, unsigned name_first)
{
	memset(sc, 0, sizeof(*sc));
	sc->preserve_host = -1;
	sc->rewrite_engine = -1;
	sc->log_level = -1;
	sc->rewrite_trace = -1;
	sc->line = line;
	sc->name_first = name_first;
}

/* <VirtualHost addr[:port] ...> */
static int cfg_vhost_open(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_scope *sc = &cfg->scope[cfg->nscope];
	char *last = argv[argc - 1];
	size_t n = strlen(last);
	int rc;

	ctx->directive = "<VirtualHost>";
	if (ctx->scope)
		return cfg_fail(ctx, "sections cannot be nested");
	if (last[n - 1] != '>')
		return cfg_fail(ctx, "missing '>' at the end of the line");
	last[n - 1] = '\0';
	argc -= last[0] == '\0';
	if (argc < 2)
		return cfg_fail(ctx, "needs an address, e.g. <VirtualHost *:80>");
	if (cfg->nscope == CFG_MAX_VHOSTS + 1)
		return cfg_fail(ctx, "more than %d sections", CFG_MAX_VHOSTS);
	if (cfg->rw.pending)
		return cfg_fail(ctx, "a RewriteCond before it has no RewriteRule");
	cfg_scope_init(sc, ctx->err->line, cfg->nvname);
	for (unsigned i = 1; i < argc; i++)
		if ((rc = cfg_vhost_addr(ctx, sc, argv[i])) < 0)
			return rc;
	ctx->scope = cfg->nscope++;
	return 0;
}

static int cfg_vhost_close(struct cfg_ctx *ctx, unsigned argc)
{
	ctx->directive = "</VirtualHost>";
	if (!ctx->scope)
		return cfg_fail(ctx, "without matching <VirtualHost> section");
	if (argc > 1)
		return cfg_fail(ctx, "takes no arguments");
	if (ctx->cfg->rw.pending)
		return cfg_fail(ctx, "a RewriteCond in the section has no RewriteRule");
	ctx->scope = 0;
	return 0;
}

/* ---- rewriting ---- */

static int cfg_rewrite_engine(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	bool on = false;
	int rc = cfg_flag(ctx, argv[1], &on);

	(void)argc;
	if (rc == 0)
		ctx->cfg->scope[ctx->scope].rewrite_engine = on;
	return rc;
}

static int cfg_rewrite_options(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct cfg_scope *sc = &ctx->cfg->scope[ctx->scope];
	char show[CFG_SHOW_MAX + 8];

	for (unsigned i = 1; i < argc; i++) {
		if (strcasecmp(argv[i], "Inherit") == 0)
			sc->rewrite_inherit = CFG_INHERIT;
		else if (strcasecmp(argv[i], "InheritBefore") == 0)
			sc->rewrite_inherit = CFG_INHERIT_BEFORE;
		else
			return cfg_fail(ctx, "option \"%s\" is not supported (Inherit, InheritBefore)",
					cfg_show(argv[i], show, sizeof(show)));
	}
	return 0;
}

/* RewriteMap NAME SPEC: a txt: file with a relative path is under ServerRoot, as httpd
 * reads it (the ServerRoot given so far: the map is read here). */
static int cfg_rewrite_map(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	char msg[sizeof(ctx->err->msg) - 32], spec[CFG_PATH_MAX];
	const char *file = strncasecmp(argv[2], "txt:", 4) == 0 ? argv[2] + 4 : NULL;

	(void)argc;
	if (file && file[0] && file[0] != '/') {
		if ((size_t)snprintf(spec, sizeof(spec), "txt:%s%s%s", ctx->root,
				     strcmp(ctx->root, "/") ? "/" : "", file) >= sizeof(spec))
			return cfg_fail(ctx, "path too long");
		argv[2] = spec;
	}
	if (rw_map_add(&ctx->cfg->rw, ctx->scope, argv[1], argv[2], msg, sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s", msg);
	return 0;
}

static int cfg_rewrite_cond(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	char msg[sizeof(ctx->err->msg) - 32];

	if (rw_cond_add(&ctx->cfg->rw, ctx->scope, ctx->err->line, argc - 1, argv + 1, msg,
			sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s", msg);
	return 0;
}

/* The rule, then what it needs registered: its backend (the same pool as a ProxyPass to
 * the same host:port) and its file root. */
static int cfg_rewrite_rule(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct rw_rule_info info;
	char msg[sizeof(ctx->err->msg) - 32];
	const char *path;
	int idx = rw_rule_add(&cfg->rw, ctx->scope, ctx->err->line, argc - 1, argv + 1, &info,
			      msg, sizeof(msg));
	int n;

	if (idx < 0)
		return cfg_fail(ctx, "%s", msg);
	if (info.proxy_url[0] && cfg_is_balancer(info.proxy_url)) {
		if ((n = cfg_balancer_of(ctx, info.proxy_url, &path)) < 0)
			return n;
		cfg->rw.rule[idx].backend = (int16_t)(CFG_BALANCER_BASE + n);
	} else if (info.proxy_url[0]) {
		if ((n = cfg_backend_of(ctx, info.proxy_url, &path)) < 0)
			return n;
		cfg->rw.rule[idx].backend = (int16_t)n;
	}
	if (info.root[0]) {
		if ((n = config_file_root(cfg, info.root)) < 0)
			return cfg_fail(ctx, "more than %d directories to serve files from",
					CFG_MAX_ROOTS);
		cfg->rw.rule[idx].root = (int16_t)n;
	}
	return 0;
}

/* ErrorDocument CODE text|/path|URL|default, told apart as httpd does. */
static int cfg_error_document(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_errdoc *d = &cfg->errdoc[cfg->nerrdoc];
	const char *v = argv[2], *colon = strstr(v, "://");
	uint64_t code;
	int rc;

	(void)argc;
	if ((rc = cfg_number(ctx, argv[1], 400, 599, "an HTTP status", &code)) < 0)
		return rc;
	for (unsigned i = 0; i < cfg->nerrdoc; i++)
		if (cfg->errdoc[i].scope == ctx->scope && cfg->errdoc[i].code == code)
			d = &cfg->errdoc[i];   /* a later line replaces an earlier one */
	if (d == &cfg->errdoc[cfg->nerrdoc] && cfg->nerrdoc == CFG_MAX_ERRDOCS)
		return cfg_fail(ctx, "more than %d ErrorDocument lines", CFG_MAX_ERRDOCS);
	if ((rc = cfg_copy(ctx, d->value, sizeof(d->value), v)) < 0)
		return rc;
	d->code = (uint16_t)code;
	d->scope = (uint16_t)ctx->scope;
	if (strcasecmp(v, "default") == 0)
		d->kind = 0;
	else if (strchr(v, ' '))
		d->kind = CFG_ERRDOC_TEXT;
	else if (v[0] == '/')
		d->kind = CFG_ERRDOC_LOCAL;
	else if (colon && colon > v && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					       "0123456789+-.") == (size_t)(colon - v))
		d->kind = CFG_ERRDOC_URL;
	else
		d->kind = CFG_ERRDOC_TEXT;
	if (d->kind != CFG_ERRDOC_TEXT && cfg_has_ctl(v, true))
		return cfg_fail(ctx, "control character or blank in the URL");
	cfg->nerrdoc += d == &cfg->errdoc[cfg->nerrdoc];
	return 0;
}

/* A LogLevel word: emerg..debug -> enum log_level, traceN -> debug and *trace = N. */
static int cfg_log_word(const char *w, int *level, int *trace)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error", "warn",
					     "notice", "info", "debug" };
	static const int levels[] = { LOG_LV_EMERG, LOG_LV_EMERG, LOG_LV_EMERG, LOG_LV_ERROR,
				      LOG_LV_WARN, LOG_LV_NOTICE, LOG_LV_INFO, LOG_LV_DEBUG };

	*trace = 0;
	for (int i = 0; i < 8; i++)
		if (strcasecmp(w, names[i]) == 0) {
			*level = levels[i];
			return 0;
		}
	if (strncasecmp(w, "trace", 5) == 0 && w[5] >= '1' && w[5] <= '8' && !w[6]) {
		*level = LOG_LV_DEBUG;
		*trace = w[5] - '0';
		return 0;
	}
	return -EINVAL;
}

/* LogLevel [module:]level ...: the level, and mod_rewrite's trace (rewrite:traceN, or a
 * plain traceN for every module); other modules' levels are accepted and have no effect. */
static int cfg_log_level(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct cfg_scope *sc = &ctx->cfg->scope[ctx->scope];
	char show[CFG_SHOW_MAX + 8];

	for (unsigned i = 1; i < argc; i++) {
		const char *colon = strchr(argv[i], ':');
		int level, trace;

		if (cfg_log_word(colon ? colon + 1 : argv[i], &level, &trace) < 0)
			return cfg_fail(ctx, "\"%s\" is not a log level (emerg..debug, trace1..trace8)",
					cfg_show(argv[i], show, sizeof(show)));
		if (!colon) {
			sc->log_level = (int8_t)level;
			sc->rewrite_trace = (int8_t)trace;
		} else if (colon - argv[i] == 7 && strncasecmp(argv[i], "rewrite", 7) == 0) {
			sc->rewrite_trace = (int8_t)trace;
		}
	}
	return 0;
}

/* ---- static files ---- */

/* An absolute directory, stored as written without trailing '/' (but "/" itself). */
static int cfg_dir(struct cfg_ctx *ctx, char *dst, const char *arg)
{
	size_t n = strlen(arg);

	if (arg[0] != '/')
		return cfg_fail(ctx, "\"%.64s\" is not an absolute directory", arg);
	while (n > 1 && arg[n - 1] == '/')
		n--;
	if (n >= CFG_PATH_MAX)
		return cfg_fail(ctx, "directory name too long");
	memcpy(dst, arg, n);
	dst[n] = 0;
	return 0;
}

/* DocumentRoot DIR: a relative DIR is under ServerRoot (cfg_rooted(), after the parse). */
static int cfg_document_root(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	cfg_here(ctx, &ctx->cfg->at.document_root);
	if (argv[1][0] != '/' && argv[1][0]) {
		if (cfg_has_ctl(argv[1], false))
			return cfg_fail(ctx, "control characters in the path");
		return cfg_copy(ctx, ctx->cfg->document_root, sizeof(ctx->cfg->document_root),
				argv[1]);
	}
	return cfg_dir(ctx, ctx->cfg->document_root, argv[1]);
}

static int cfg_alias_dir(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_alias *a;
	size_t n = strlen(argv[1]);

	(void)argc;
	if (cfg->nalias == CFG_MAX_ALIAS)
		return cfg_fail(ctx, "more than %d Alias lines", CFG_MAX_ALIAS);
	if (argv[1][0] != '/' || n >= CFG_NAME_MAX)
		return cfg_fail(ctx, "\"%.64s\" is not a URL-path", argv[1]);
	a = &cfg->alias[cfg->nalias];
	if (cfg_dir(ctx, a->dir, argv[2]) < 0)
		return -EINVAL;
	memcpy(a->prefix, argv[1], n + 1);
	a->prefix_len = (uint32_t)n;
	cfg_here(ctx, &a->at);
	cfg->nalias++;
	return 0;
}

static int cfg_directory_index(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;

	if (argc - 1 > CFG_MAX_INDEX)
		return cfg_fail(ctx, "more than %d names", CFG_MAX_INDEX);
	for (unsigned i = 1; i < argc; i++) {
		size_t n = strlen(argv[i]);

		if (n == 0 || n >= sizeof(cfg->dir_index[0]) || strchr(argv[i], '/') ||
		    !strcmp(argv[i], ".") || !strcmp(argv[i], ".."))
			return cfg_fail(ctx, "\"%.64s\" is not a file name", argv[i]);
		memcpy(cfg->dir_index[i - 1], argv[i], n + 1);
	}
	cfg->ndir_index = argc - 1;
	return 0;
}

static int cfg_types_config(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	cfg_here(ctx, &ctx->cfg->at.types_config);
	return cfg_copy(ctx, ctx->cfg->types_config, sizeof(ctx->cfg->types_config), argv[1]);
}

/* Options: only FollowSymLinks means anything here; None/-FollowSymLinks turn it off.
 * Other httpd options (Indexes, ExecCGI, ...) are refused rather than silently ignored. */
static int cfg_options(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	for (unsigned i = 1; i < argc; i++) {
		const char *o = argv[i];

		if (!strcasecmp(o, "FollowSymLinks") || !strcasecmp(o, "+FollowSymLinks"))
			ctx->cfg->follow_symlinks = true;
		else if (!strcasecmp(o, "-FollowSymLinks") || !strcasecmp(o, "None"))
			ctx->cfg->follow_symlinks = false;
		else
			return cfg_fail(ctx, "option \"%.64s\" is not supported", o);
	}
	return 0;
}

/* ---- access logs ---- */

/* A named format: the LogFormat nicknames given so far (the last definition wins), then
 * the built-in common and combined. */
static const struct alog_format *cfg_logformat_find(struct cfg_ctx *ctx, const char *name,
						    struct alog_format *scratch)
{
	const char *builtin = alog_builtin(name);
	char msg[128];

	for (unsigned i = ctx->cfg->nlogformat; i-- > 0;)
		if (strcmp(ctx->cfg->logformat[i].name, name) == 0)
			return &ctx->cfg->logformat[i].fmt;
	if (builtin && alog_compile(scratch, builtin, msg, sizeof(msg)) == 0)
		return scratch;
	return NULL;
}

/* A format string (it has a '%') compiled, or a nickname looked up, into *out. Unlike
 * httpd, a word without '%' that names no format is an error, not a literal format:
 * a misspelt nickname would otherwise log that word on every line. */
static int cfg_logformat_of(struct cfg_ctx *ctx, const char *arg, struct alog_format *out)
{
	char msg[256], show[CFG_SHOW_MAX + 8];
	const struct alog_format *named;

	if (!strchr(arg, '%')) {
		named = cfg_logformat_find(ctx, arg, out);
		if (!named)
			return cfg_fail(ctx, "unknown log format nickname \"%s\" (a LogFormat "
					"line naming it must come first)",
					cfg_show(arg, show, sizeof(show)));
		if (named != out)
			*out = *named;
		return 0;
	}
	if (alog_compile(out, arg, msg, sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s", msg);
	return 0;
}

/* LogFormat format|nickname [nickname] */
static int cfg_log_format(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct alog_format fmt;
	struct cfg_logformat *lf = NULL;
	int rc;

	if (ctx->scope)
		return cfg_fail(ctx, "not supported in <VirtualHost> yet");
	if ((rc = cfg_logformat_of(ctx, argv[1], &fmt)) < 0)
		return rc;
	if (argc == 2) {
		cfg->default_logformat = fmt;
		return 0;
	}
	if (argv[2][0] == '\0' || strchr(argv[2], '%') || cfg_has_ctl(argv[2], true))
		return cfg_fail(ctx, "bad nickname (empty, or with '%%', a blank or a control byte)");
	if (strlen(argv[2]) >= CFG_LOGNAME_MAX)
		return cfg_fail(ctx, "nickname is too long (more than %d bytes)",
				CFG_LOGNAME_MAX - 1);
	for (unsigned i = 0; i < cfg->nlogformat && !lf; i++)
		if (strcmp(cfg->logformat[i].name, argv[2]) == 0)
			lf = &cfg->logformat[i];
	if (!lf) {
		if (cfg->nlogformat == CFG_MAX_LOGFORMAT)
			return cfg_fail(ctx, "more than %d named formats", CFG_MAX_LOGFORMAT);
		lf = &cfg->logformat[cfg->nlogformat++];
		strcpy(lf->name, argv[2]);
	}
	lf->fmt = fmt;
	return 0;
}

/* The path of a CustomLog or TransferLog, and a slot for it. */
static struct cfg_customlog *cfg_log_slot(struct cfg_ctx *ctx, const char *path)
{
	struct config *cfg = ctx->cfg;
	struct cfg_customlog *cl;

	if (ctx->scope) {
		cfg_fail(ctx, "not supported in <VirtualHost> yet");
		return NULL;
	}
	if (path[0] == '|') {
		cfg_fail(ctx, "piped logs are not supported");
		return NULL;
	}
	if (strncasecmp(path, "syslog", 6) == 0 && (path[6] == '\0' || path[6] == ':')) {
		cfg_fail(ctx, "syslog is not supported");
		return NULL;
	}
	if (cfg->ncustomlog == CFG_MAX_CUSTOMLOG) {
		cfg_fail(ctx, "more than %d access logs", CFG_MAX_CUSTOMLOG);
		return NULL;
	}
	cl = &cfg->customlog[cfg->ncustomlog];
	if (cfg_copy(ctx, cl->path, sizeof(cl->path), path) < 0)
		return NULL;
	cl->line = ctx->err->line;
	cfg_here(ctx, &cl->at);
	return cl;
}

/* CustomLog path format|nickname */
static int cfg_custom_log(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct cfg_customlog *cl;
	int rc;

	if (argc == 4)
		return cfg_fail(ctx, "conditional logging (\"%s\") is not supported",
				strncasecmp(argv[3], "env=", 4) == 0 ? "env=" :
				strncasecmp(argv[3], "expr=", 5) == 0 ? "expr=" : "third argument");
	if (!(cl = cfg_log_slot(ctx, argv[1])))
		return -EINVAL;
	if ((rc = cfg_logformat_of(ctx, argv[2], &cl->fmt)) < 0)
		return rc;
	ctx->cfg->ncustomlog++;
	return 0;
}

/* TransferLog path: the default format (the last LogFormat without a nickname so far). */
static int cfg_transfer_log(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct cfg_customlog *cl;

	(void)argc;
	if (!(cl = cfg_log_slot(ctx, argv[1])))
		return -EINVAL;
	cl->fmt = ctx->cfg->default_logformat;
	ctx->cfg->ncustomlog++;
	return 0;
}

/* Every directive we know. A new one is a row here and a handler above; argument counts
 * are checked before the handler runs, so argv[1..min_args] always exist. */
/* ---- backend autostart ---- */

/* Appends NUL-terminated word to a NUL-separated text; its offset in *off. */
static int cfg_text_add(struct cfg_ctx *ctx, char *text, size_t cap, size_t *used,
			uint16_t *off, const char *word, const char *what)
{
	size_t n = strlen(word) + 1;

	if (*used + n > cap)
		return cfg_fail(ctx, "%s longer than %zu bytes", what, cap - 1);
	memcpy(text + *used, word, n);
	*off = (uint16_t)*used;
	*used += n;
	return 0;
}

/* RestartBackoff MIN[,MAX] as one word (the Key=Value form) or two. */
static int cfg_backoff(struct cfg_ctx *ctx, const char *min, const char *max, size_t minlen,
		       unsigned *min_ms, unsigned *max_ms)
{
	int rc = cfg_duration_n(ctx, min, minlen, 1, 3600000u, min_ms);

	if (rc == 0 && max)
		rc = cfg_duration(ctx, max, 1, 3600000u, max_ms);
	if (rc == 0 && max && *max_ms < *min_ms)
		return cfg_fail(ctx, "the longest delay (%u ms) is shorter than the first (%u ms)",
				*max_ms, *min_ms);
	return rc;
}

static int cfg_autostart_option(struct cfg_ctx *ctx, struct cfg_autostart *a, const char *arg,
				size_t *envused)
{
	const char *eq = strchr(arg, '=');
	const char *v = eq ? eq + 1 : NULL;
	size_t klen = eq ? (size_t)(eq - arg) : 0;
	char show[CFG_SHOW_MAX + 8];
	uint64_t n;
	int rc;

#define KEY(k) (klen == sizeof(k) - 1 && strncasecmp(arg, k, klen) == 0)
	if (!eq)
		return cfg_fail(ctx, "\"%s\" is not Key=Value (the command follows \"--\")",
				cfg_show(arg, show, sizeof(show)));
	if ((KEY("User") || KEY("Group")) && (strcmp(v, "root") == 0 || strcmp(v, "#0") == 0))
		return cfg_fail(ctx, "%.*s=%s: a backend never runs as root", (int)klen, arg, v);
	if (KEY("User"))
		return cfg_id(ctx, a->user, sizeof(a->user), v);
	if (KEY("Group"))
		return cfg_id(ctx, a->group, sizeof(a->group), v);
	if (KEY("Dir"))
		return cfg_dir(ctx, a->dir, v);
	if (KEY("Output")) {
		if (v[0] != '/')
			return cfg_fail(ctx, "Output=%s is not an absolute path",
					cfg_show(v, show, sizeof(show)));
		return cfg_copy(ctx, a->output, sizeof(a->output), v);
	}
	if (KEY("StartTimeout"))
		return cfg_duration(ctx, v, 1, 3600000u, &a->start_timeout_ms);
	if (KEY("StopTimeout"))
		return cfg_duration(ctx, v, 1, 3600000u, &a->stop_timeout_ms);
	if (KEY("RestartBackoff")) {
		const char *comma = strchr(v, ',');

		return cfg_backoff(ctx, v, comma ? comma + 1 : NULL, comma ? (size_t)(comma - v)
						  : strlen(v), &a->backoff_min_ms, &a->backoff_max_ms);
	}
	if (KEY("Queue")) {
		if ((rc = cfg_number(ctx, v, 1, 65536, "requests", &n)) < 0)
			return rc;
		a->queue = (unsigned)n;
		return 0;
	}
	if (KEY("Env")) {
		const char *veq = strchr(v, '=');

		if (!veq || veq == v || (v[0] >= '0' && v[0] <= '9') || cfg_has_ctl(v, false) ||
		    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
			    (size_t)(veq - v))
			return cfg_fail(ctx, "Env=%s is not NAME=VALUE", cfg_show(v, show, sizeof(show)));
		if (a->nenv == CFG_AUTOSTART_ENV)
			return cfg_fail(ctx, "more than %d Env= options", CFG_AUTOSTART_ENV);
		return cfg_text_add(ctx, a->envtext, sizeof(a->envtext), envused,
				    &a->env_off[a->nenv++], v, "the Env= values are");
	}
#undef KEY
	return cfg_fail(ctx, "unknown option \"%s\" (User, Group, Dir, Output, Env, StartTimeout, "
			"StopTimeout, RestartBackoff, Queue)", cfg_show(arg, show, sizeof(show)));
}

/* ProxyAutostart URL [Key=Value ...] -- /absolute/command [ARG ...] */
static int cfg_proxy_autostart(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	struct cfg_autostart *a;
	char show[CFG_SHOW_MAX + 8];
	size_t used = 0, envused = 0;
	const char *path;
	unsigned i = 2;
	struct stat st;
	int rc, b;

	if (cfg->nautostart == CFG_MAX_AUTOSTART)
		return cfg_fail(ctx, "more than %d ProxyAutostart lines", CFG_MAX_AUTOSTART);
	a = &cfg->autostart[cfg->nautostart];
	memset(a, 0, sizeof(*a));
	a->line = ctx->err->line;
	cfg_here(ctx, &a->at);
	for (; i < argc && strcmp(argv[i], "--") != 0; i++)
		if ((rc = cfg_autostart_option(ctx, a, argv[i], &envused)) < 0)
			return rc;
	if (i + 1 >= argc)
		return cfg_fail(ctx, "no command: write it after \"--\", e.g. "
				"ProxyAutostart http://127.0.0.1:8000 -- /usr/bin/python3 /srv/app.py");
	if (argv[i + 1][0] != '/')
		return cfg_fail(ctx, "the command %s is not an absolute path",
				cfg_show(argv[i + 1], show, sizeof(show)));
	if (stat(argv[i + 1], &st) < 0)
		return cfg_fail(ctx, "the command %s: %s", cfg_show(argv[i + 1], show, sizeof(show)),
				strerror(errno));
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return cfg_fail(ctx, "the command %s is not an executable file",
				cfg_show(argv[i + 1], show, sizeof(show)));
	for (unsigned k = i + 1; k < argc; k++) {
		if (cfg_has_ctl(argv[k], false))
			return cfg_fail(ctx, "control characters in the command");
		if ((rc = cfg_text_add(ctx, a->text, sizeof(a->text), &used, &a->argv_off[a->argc++],
				       argv[k], "the command is")) < 0)
			return rc;
	}
	/* the backend is the last thing that can fail, so no failed line leaves one behind */
	if ((b = cfg_backend_of(ctx, argv[1], &path)) < 0)
		return b;
	if (cfg->backend[b].autostart >= 0)
		return cfg_fail(ctx, "%s already has a ProxyAutostart (line %u)", cfg->backend[b].name,
				cfg->autostart[cfg->backend[b].autostart].line);
	if (path[0] && strcmp(path, "/") != 0)
		return cfg_fail(ctx, "name the backend without a path (%s), as in ProxyPass's URL",
				cfg->backend[b].name);
	a->backend = b;
	cfg->backend[b].autostart = (int)cfg->nautostart++;
	return 0;
}

/* StartTimeout N[ms]: how long requests wait for a started backend (ProxyAutostart). */
static int cfg_start_timeout(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	(void)argc;
	return cfg_duration(ctx, argv[1], 1, 3600000u, &ctx->cfg->start_timeout_ms);
}

/* RestartBackoff MIN [MAX]: the delays between starts of a backend that keeps exiting. */
static int cfg_restart_backoff(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct config *cfg = ctx->cfg;
	unsigned max = cfg->backoff_max_ms;
	int rc = cfg_backoff(ctx, argv[1], argc > 2 ? argv[2] : NULL, strlen(argv[1]),
			     &cfg->backoff_min_ms, &max);

	if (rc == 0 && argc <= 2 && max < cfg->backoff_min_ms)
		max = cfg->backoff_min_ms;
	cfg->backoff_max_ms = max;
	return rc;
}

/* ---- Include, Define, ServerRoot, <IfModule>, <IfDefine> ---- */

static bool cfg_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}


static int cfg_parse_text(struct cfg_ctx *ctx, const char *text, size_t len);
static int cfg_read_file(const char *path, char **out, size_t *outlen,
			 struct config_error *err);

/* A name ${NAME} can reach: a letter or '_', then letters, digits, '_'. */
static bool cfg_var_name(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static struct cfg_define *cfg_define_find(struct cfg_ctx *ctx, const char *name, size_t n)
{
	for (unsigned i = 0; i < ctx->ndef; i++)
		if (strlen(ctx->def[i].name) == n && memcmp(ctx->def[i].name, name, n) == 0)
			return &ctx->def[i];
	return NULL;
}

/* Define NAME [VALUE] */
static int cfg_define(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct cfg_define *d = cfg_define_find(ctx, argv[1], strlen(argv[1]));
	const char *value = argc > 2 ? argv[2] : "";
	char show[CFG_SHOW_MAX + 8];

	if (!cfg_var_name(argv[1], strlen(argv[1])) || strlen(argv[1]) >= sizeof(d->name))
		return cfg_fail(ctx, "\"%s\" is not a variable name (letters, digits, '_', at most "
				"63)", cfg_show(argv[1], show, sizeof(show)));
	if (strlen(value) >= CFG_DEFINE_VALUE_MAX)
		return cfg_fail(ctx, "value longer than %d bytes", CFG_DEFINE_VALUE_MAX - 1);
	if (!d) {
		if (ctx->ndef == CFG_MAX_DEFINE)
			return cfg_fail(ctx, "more than %d variables", CFG_MAX_DEFINE);
		d = &ctx->def[ctx->ndef++];
		strcpy(d->name, argv[1]);
	}
	strcpy(d->value, value);
	return 0;
}

/* UnDefine NAME */
static int cfg_undefine(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct cfg_define *d = cfg_define_find(ctx, argv[1], strlen(argv[1]));

	(void)argc;
	if (d)
		*d = ctx->def[--ctx->ndef];
	return 0;
}

/* ServerRoot DIR: where relative paths start (Include, RewriteMap txt: from the next line
 * on; ErrorLog, CustomLog, TransferLog, TypesConfig and DocumentRoot after the parse). */
static int cfg_server_root(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct stat st;

	(void)argc;
	if (argv[1][0] != '/')
		return cfg_fail(ctx, "must be an absolute path");
	if (stat(argv[1], &st) < 0 || !S_ISDIR(st.st_mode))
		return cfg_fail(ctx, "%s is not a directory", argv[1]);
	return cfg_copy(ctx, ctx->root, sizeof(ctx->root), argv[1]);
}

/* Replaces ${NAME} by the value Define gave NAME, else the environment's (as httpd, whose
 * Debian packages export APACHE_LOG_DIR and the like); an undefined NAME, and ${...} that
 * is not a variable name (a RewriteMap reference such as ${escape:$1}), stay as written,
 * as in httpd. */
static int cfg_expand(struct cfg_ctx *ctx, const char *in, char *out)
{
	size_t o = 0;

	for (const char *p = in; *p;) {
		const char *e = p[0] == '$' && p[1] == '{' ? strchr(p + 2, '}') : NULL;
		size_t n = e ? (size_t)(e - p - 2) : 0;

		if (e && cfg_var_name(p + 2, n)) {
			struct cfg_define *d = cfg_define_find(ctx, p + 2, n);
			char name[64];
			const char *v;
			size_t vl;

			if (n >= sizeof(name))
				return cfg_fail(ctx, "variable name longer than 63 bytes");
			memcpy(name, p + 2, n);
			name[n] = '\0';
			v = d ? d->value : getenv(name);
			if (!v) {
				/* as httpd: an undefined one stays as written (a rule's text) */
				v = p;
				n += 3;
			}
			vl = v == p ? n : strlen(v);
			if (vl > CFG_LINE_MAX - o)
				return cfg_fail(ctx, "line is too long (more than %d bytes)", CFG_LINE_MAX);
			memcpy(out + o, v, vl);
			o += vl;
			p = e + 1;
			continue;
		}
		if (o == CFG_LINE_MAX)
			return cfg_fail(ctx, "line is too long (more than %d bytes)", CFG_LINE_MAX);
		out[o++] = *p++;
	}
	out[o] = '\0';
	return 0;
}

/* One file of an Include: parsed in place, errors name that file (and are recorded
 * here). Returns 0, or -ECANCELED when the parse ends. */
static int cfg_include_file(struct cfg_ctx *ctx, const char *path)
{
	char saved[sizeof(ctx->err->file)];
	unsigned line = ctx->err->line, scope = ctx->scope;
	const char *directive = ctx->directive;
	char *text = NULL;
	size_t len = 0;
	int rc;

	memcpy(saved, ctx->err->file, sizeof(saved));
	snprintf(ctx->err->file, sizeof(ctx->err->file), "%s", path);
	ctx->err->line = 0;
	if (cfg_read_file(path, &text, &len, ctx->err) < 0) {
		rc = cfg_record(ctx);
		goto out_restore;
	}
	ctx->depth++;
	rc = cfg_parse_text(ctx, text, len);
	ctx->depth--;
	free(text);
	if (rc == 0 && ctx->scope != scope) {
		ctx->directive = NULL;
		cfg_fail(ctx, "<VirtualHost> section is not closed at the end of the file");
		rc = cfg_record_stop(ctx);
	}
out_restore:
	memcpy(ctx->err->file, saved, sizeof(saved));
	ctx->err->line = line;
	ctx->directive = directive;
	return rc;
}

/* Include PATTERN / IncludeOptional PATTERN: the files a glob(7) pattern matches, in
 * order; a directory stands for every file below it. Relative patterns start at
 * ServerRoot (else the main file's directory). Include fails when nothing matches;
 * IncludeOptional does not. */
static int cfg_include_pattern(struct cfg_ctx *ctx, const char *pattern, bool optional)
{
	glob_t g;
	int rc;

	if (ctx->depth == CFG_INCLUDE_DEPTH)
		return cfg_fail(ctx, "Include nested more than %d deep (does a file include itself?)",
				CFG_INCLUDE_DEPTH);
	rc = glob(pattern, 0, NULL, &g);   /* sorted, as httpd reads them */
	if (rc == GLOB_NOMATCH) {
		globfree(&g);
		return optional ? 0 : cfg_fail(ctx, "%s matches no file", pattern);
	}
	if (rc != 0) {
		globfree(&g);
		return cfg_fail(ctx, "%s: cannot read the directory", pattern);
	}
	for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
		const char *path = g.gl_pathv[i];
		char sub[CFG_PATH_MAX];
		struct stat st;

		if (stat(path, &st) < 0) {
			rc = cfg_fail(ctx, "%s: %s", path, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if ((size_t)snprintf(sub, sizeof(sub), "%s/*", path) >= sizeof(sub))
				rc = cfg_fail(ctx, "path too long");
			else
				rc = cfg_include_pattern(ctx, sub, true);
		} else {
			rc = cfg_include_file(ctx, path);
		}
	}
	globfree(&g);
	return rc;
}

static int cfg_include(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	bool optional = strcasecmp(argv[0], "IncludeOptional") == 0;
	char pattern[CFG_PATH_MAX];
	int n;

	(void)argc;
	if (argv[1][0] == '/')
		n = snprintf(pattern, sizeof(pattern), "%s", argv[1]);
	else
		n = snprintf(pattern, sizeof(pattern), "%s/%s", ctx->root, argv[1]);
	if (n < 0 || (size_t)n >= sizeof(pattern))
		return cfg_fail(ctx, "path too long");
	return cfg_include_pattern(ctx, pattern, optional);
}

/* The modules whose directives spliced implements count as loaded for <IfModule>. */
static bool cfg_module_loaded(const char *name)
{
	static const char *const mods[] = {
		"core", "http_core", "mod_rewrite", "rewrite_module", "mod_proxy", "proxy_module",
		"mod_proxy_http", "proxy_http_module", "mod_alias", "alias_module", "mod_dir",
		"dir_module", "mod_mime", "mime_module", "mod_log_config", "log_config_module",
		"mod_unixd", "unixd_module",
		"mod_remoteip", "remoteip_module", "mod_ssl", "ssl_module",
	};
	size_t n = strlen(name);

	if (n > 2 && strcmp(name + n - 2, ".c") == 0)
		n -= 2;                 /* mod_rewrite.c */
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
		if (strlen(mods[i]) == n && strncmp(mods[i], name, n) == 0)
			return true;
	return false;
}

static const char *cfg_cond_name(unsigned kind)
{
	return kind == CFG_COND_MODULE ? "IfModule" : "IfDefine";
}

/* <IfModule [!]NAME> / <IfDefine [!]NAME>: what follows up to the closing tag is read
 * only when the test holds. */
static int cfg_cond_open(struct cfg_ctx *ctx, unsigned kind, unsigned argc, char **argv)
{
	char *last = argv[argc - 1], *name;
	size_t n = strlen(last);
	bool neg, hold;

	ctx->directive = kind == CFG_COND_MODULE ? "<IfModule>" : "<IfDefine>";
	if (last[n - 1] != '>')
		return cfg_fail(ctx, "missing '>' at the end of the line");
	last[n - 1] = '\0';
	argc -= last[0] == '\0';
	if (argc != 2)
		return cfg_fail(ctx, "takes one name");
	if (ctx->ncond == CFG_COND_MAX)
		return cfg_fail(ctx, "nested more than %d deep", CFG_COND_MAX);
	name = argv[1];
	neg = name[0] == '!';
	name += neg;
	if (kind == CFG_COND_MODULE)
		hold = cfg_module_loaded(name);
	else
		hold = cfg_define_find(ctx, name, strlen(name)) != NULL;
	ctx->cond[ctx->ncond++] = (uint8_t)kind;
	if (hold == neg)
		ctx->skip = ctx->ncond;
	return 0;
}

static int cfg_cond_close(struct cfg_ctx *ctx, unsigned kind, unsigned argc)
{
	if (argc != 1)
		return cfg_fail(ctx, "</%s> takes no arguments", cfg_cond_name(kind));
	if (!ctx->ncond || ctx->cond[ctx->ncond - 1] != kind)
		return cfg_fail(ctx, "</%s> without matching <%s> section", cfg_cond_name(kind),
				cfg_cond_name(kind));
	ctx->ncond--;
	return 0;
}

/* Inside a false condition: only the nesting of conditions is followed (the tags must
 * still match), until the tag that closes it. */
static int cfg_skip_line(struct cfg_ctx *ctx, const char *s)
{
	bool closing = s[1] == '/';
	const char *name = s + 1 + closing;
	unsigned kind = strncasecmp(name, "IfModule", 8) == 0 ? CFG_COND_MODULE
			: strncasecmp(name, "IfDefine", 8) == 0 ? CFG_COND_DEFINE : 0;

	if (s[0] != '<' || !kind || !(name[8] == '>' || cfg_blank(name[8])))
		return 0;
	if (!closing) {
		if (ctx->ncond == CFG_COND_MAX)
			return cfg_fail(ctx, "<%s> nested more than %d deep", cfg_cond_name(kind),
					CFG_COND_MAX);
		ctx->cond[ctx->ncond++] = (uint8_t)kind;
		return 0;
	}
	if (ctx->cond[ctx->ncond - 1] != kind)
		return cfg_fail(ctx, "</%s> without matching <%s> section", cfg_cond_name(kind),
				cfg_cond_name(kind));
	if (--ctx->ncond < ctx->skip)
		ctx->skip = 0;
	return 0;
}

/* ---- <Location> and Require (src/authz.c) ---- */

static int cfg_require(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	char msg[256];

	if (authz_require(&ctx->cfg->authz, argc, argv, msg, sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s", msg);
	return 0;
}

static int cfg_auth_merging(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	char msg[256];

	(void)argc;
	if (authz_merging(&ctx->cfg->authz, argv[1], msg, sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s", msg);
	return 0;
}

/* SetHandler server-status|None: only in <Location> (src/status.c makes the page). */
static int cfg_set_handler(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	char msg[256];

	(void)argc;
	if (authz_set_handler(&ctx->cfg->authz, argv[1], msg, sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s", msg);
	return 0;
}

/* ExtendedStatus On|Off: the status page's per-worker table and slowest requests. */
static int cfg_extended_status(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	bool on = true;
	int rc;

	(void)argc;
	rc = cfg_flag(ctx, argv[1], &on);
	ctx->cfg->status_brief = !on;
	return rc;
}

/* Header [always|onsuccess] ACTION NAME [VALUE], RequestHeader ACTION NAME [VALUE]: at
 * server level, in <VirtualHost> and in <Location>. */
static int cfg_header(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	const struct authz *az = &ctx->cfg->authz;
	int loc = authz_in_location(az) ? (int)az->nloc - 1 : -1;
	char msg[256];

	if (headers_parse(&ctx->cfg->headers, ctx->scope, loc, argc, argv, msg, sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s", msg);
	return 0;
}

/* <Location PATH>, </Location>, <RequireAll|Any|None> and their closing tags. name is
 * the section's name, len bytes. */
static int cfg_location_section(struct cfg_ctx *ctx, bool closing, const char *name, size_t len,
				unsigned argc, char **argv)
{
	struct authz *az = &ctx->cfg->authz;
	char sect[16], msg[256];
	char *last = argv[argc - 1];
	size_t n = strlen(last);
	int rc;

	snprintf(sect, sizeof(sect), "%.*s", (int)len, name);
	ctx->directive = NULL;
	if (closing) {
		if (argc > 1 || name[len] != '>' || name[len + 1])
			return cfg_fail(ctx, "</%s> takes no arguments", sect);
		rc = strcasecmp(sect, "Location") == 0 ? authz_location_close(az, msg, sizeof(msg))
			: authz_section_close(az, sect, msg, sizeof(msg));
		return rc < 0 ? cfg_fail(ctx, "</%s> %s", sect, msg) : 0;
	}
	if (last[n - 1] != '>')
		return cfg_fail(ctx, "<%s> missing '>' at the end of the line", sect);
	last[n - 1] = '\0';
	argc -= last[0] == '\0';
	if (strcasecmp(sect, "Location") != 0) {
		if (argc != 1)
			return cfg_fail(ctx, "<%s> takes no arguments", sect);
		rc = authz_section_open(az, sect, msg, sizeof(msg));
	} else if (argc == 2) {
		rc = authz_location_open(az, ctx->scope, argv[1], ctx->err->line, msg, sizeof(msg));
	} else {
		return cfg_fail(ctx, "<Location> takes one path%s", argc == 3 &&
				strcmp(argv[1], "~") == 0 ? " (regular expressions are not supported)"
				: "");
	}
	return rc < 0 ? cfg_fail(ctx, "<%s> %s", sect, msg) : 0;
}

/* ---- mod_remoteip ---- */

/* RemoteIPHeader X-Forwarded-For: the only field whose list spliced walks and rewrites. */
static int cfg_remoteip_header(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	char show[CFG_SHOW_MAX + 8];

	(void)argc;
	if (strcasecmp(argv[1], "X-Forwarded-For") != 0)
		return cfg_fail(ctx, "only X-Forwarded-For is implemented, not \"%s\"",
				cfg_show(argv[1], show, sizeof(show)));
	ctx->cfg->remoteip.on = true;
	ctx->cfg->remoteip.header_line = ctx->err->line;
	return 0;
}

/* RemoteIPTrustedProxy / RemoteIPInternalProxy ADDRESS|CIDR... */
static int cfg_remoteip_proxy(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct rip_conf *rc = &ctx->cfg->remoteip;
	bool internal = strcasecmp(argv[0], "RemoteIPInternalProxy") == 0;
	char show[CFG_SHOW_MAX + 8];
	const char *why = NULL;

	for (unsigned i = 1; i < argc; i++) {
		int ret = rip_conf_add(rc, argv[i], internal, &why);

		if (ret == -ENOMEM)
			return cfg_fail(ctx, "out of memory");
		if (ret < 0)
			return cfg_fail(ctx, "\"%s\" %s", cfg_show(argv[i], show, sizeof(show)), why);
	}
	if (!rc->proxy_line)
		rc->proxy_line = ctx->err->line;
	return 0;
}

/* RemoteIPTrustedProxyList / RemoteIPInternalProxyList FILE (relative to ServerRoot). */
static int cfg_remoteip_proxy_list(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct rip_conf *rc = &ctx->cfg->remoteip;
	bool internal = strcasecmp(argv[0], "RemoteIPInternalProxyList") == 0;
	char path[CFG_PATH_MAX], msg[sizeof(ctx->err->msg)], bad[64], show[CFG_SHOW_MAX + 8];
	const char *why = NULL;
	unsigned line = 0;
	char *text = NULL;
	size_t len = 0;
	int n, ret;

	(void)argc;
	if (argv[1][0] == '/')
		n = snprintf(path, sizeof(path), "%s", argv[1]);
	else
		n = snprintf(path, sizeof(path), "%s/%s", ctx->root, argv[1]);
	if (n < 0 || (size_t)n >= sizeof(path))
		return cfg_fail(ctx, "path too long");
	if ((ret = cfg_read_file(path, &text, &len, ctx->err)) < 0) {
		memcpy(msg, ctx->err->msg, sizeof(msg));
		return cfg_fail(ctx, "%s: %s", path, msg);
	}
	ret = rip_conf_add_list(rc, text, len, internal, &line, bad, sizeof(bad), &why);
	free(text);
	if (ret == -ENOMEM)
		return cfg_fail(ctx, "out of memory");
	if (ret < 0)
		return cfg_fail(ctx, "%s line %u: \"%s\" %s", path, line,
				cfg_show(bad, show, sizeof(show)), why);
	if (!rc->proxy_line)
		rc->proxy_line = ctx->err->line;
	return 0;
}

/* RemoteIPHeader and the proxies it is believed from go together: httpd believes every
 * peer when no proxy is named, which spliced refuses to do; proxies without the header
 * would be ignored. */
static int cfg_remoteip_finish(struct cfg_ctx *ctx)
{
	const struct rip_conf *rc = &ctx->cfg->remoteip;

	if (rc->on && rc->nnet == 0) {
		ctx->err->line = rc->header_line;
		ctx->directive = "RemoteIPHeader";
		return cfg_fail(ctx, "name the proxies it is believed from with "
				"RemoteIPTrustedProxy or RemoteIPInternalProxy (httpd would "
				"believe any peer; spliced does not)");
	}
	if (!rc->on && rc->nnet) {
		ctx->err->line = rc->proxy_line;
		ctx->directive = NULL;
		return cfg_fail(ctx, "RemoteIPTrustedProxy/RemoteIPInternalProxy without "
				"RemoteIPHeader X-Forwarded-For have no effect");
	}
	return 0;
}

static const struct cfg_directive cfg_directives[] = {
	{ "Include",               1, 1,                cfg_include,                true },
	{ "IncludeOptional",       1, 1,                cfg_include,                true },
	{ "Define",                1, 2,                cfg_define,                 true },
	{ "UnDefine",              1, 1,                cfg_undefine,               true },
	{ "ServerRoot",            1, 1,                cfg_server_root,            false },
	{ "Listen",                1, 2,                cfg_listen,                 false },
	{ "ProxyPass",             2, CFG_MAX_ARGS - 1, cfg_proxypass,              true },
	{ "ProxyPreserveHost",     1, 1,                cfg_preserve_host,          true },
	{ "ProxyPassReverse",      2, 2,                cfg_pass_reverse,           true },
	{ "ProxyPassReverseCookiePath", 2, 2,           cfg_pass_reverse,           true },
	{ "ProxyPassReverseCookieDomain", 2, 2,         cfg_pass_reverse,           true },
	{ "BalancerMember",        1, CFG_MAX_ARGS - 1, cfg_balancer_member,        false },
	{ "ProxySet",              1, CFG_MAX_ARGS - 1, cfg_proxy_set,              false },
	{ "ProxyHCExpr",           2, CFG_MAX_ARGS - 1, cfg_proxy_hcexpr,           false },
	{ "ProxyAutostart",        1, CFG_MAX_ARGS - 1, cfg_proxy_autostart,        false },
	{ "StartTimeout",          1, 1,                cfg_start_timeout,          false },
	{ "RestartBackoff",        1, 2,                cfg_restart_backoff,        false },
	{ "KeepAlive",             1, 1,                cfg_keepalive,              false },
	{ "UnderscoresInHeaders",  1, 1,                cfg_underscores,            false },
	{ "User",                  1, 1,                cfg_user,                   false },
	{ "Group",                 1, 1,                cfg_group,                  false },
	{ "ErrorLog",              1, 1,                cfg_error_log,              false },
	{ "PidFile",               1, 1,                cfg_pid_file,               false },
	{ "Timeout",               1, 1,                cfg_timeout,                false },
	{ "ProxyTimeout",          1, 1,                cfg_proxy_timeout,          false },
	{ "KeepAliveTimeout",      1, 1,                cfg_keepalive_timeout,      false },
	{ "MaxKeepAliveRequests",  1, 1,                cfg_max_keepalive_requests, false },
	{ "LimitRequestLine",      1, 1,                cfg_limit_request_line,     false },
	{ "LimitRequestFieldSize", 1, 1,                cfg_limit_field_size,       false },
	{ "LimitRequestFields",    1, 1,                cfg_limit_fields,           false },
	{ "LimitResponseFieldSize", 1, 1,               cfg_limit_resp_field_size,  false },
	{ "LimitResponseFields",   1, 1,                cfg_limit_resp_fields,      false },
	{ "RequestReadTimeout",    1, 2,                cfg_request_read_timeout,   false },
	{ "LimitRequestBody",      1, 1,                cfg_limit_request_body,     false },
	{ "MaxConnections",        1, 1,                cfg_max_connections,        false },
	{ "Workers",               1, 1,                cfg_workers,                false },
	{ "MetricsListen",         1, 1,                cfg_metrics_listen,         false },
	{ "RemoteIPProxyProtocol", 1, 1,                cfg_pp,                     true },
	{ "RemoteIPProxyProtocolExceptions", 1, CFG_MAX_ARGS - 1, cfg_pp_exceptions, true },
	{ "DocumentRoot",          1, 1,                cfg_document_root,          false },
	{ "Alias",                 2, 2,                cfg_alias_dir,              false },
	{ "DirectoryIndex",        1, CFG_MAX_INDEX,    cfg_directory_index,        false },
	{ "TypesConfig",           1, 1,                cfg_types_config,           false },
	{ "Options",               1, 4,                cfg_options,                false },
	{ "ServerName",            1, 1,                cfg_server_name,            true },
	{ "ServerAlias",           1, CFG_MAX_ARGS - 1, cfg_server_alias,           true },
	{ "RewriteEngine",         1, 1,                cfg_rewrite_engine,         true },
	{ "RewriteOptions",        1, CFG_MAX_ARGS - 1, cfg_rewrite_options,        true },
	{ "RewriteMap",            2, 2,                cfg_rewrite_map,            true },
	{ "RewriteCond",           2, 3,                cfg_rewrite_cond,           true },
	{ "RewriteRule",           2, 3,                cfg_rewrite_rule,           true },
	{ "ErrorDocument",         2, 2,                cfg_error_document,         true },
	{ "LogLevel",              1, CFG_MAX_ARGS - 1, cfg_log_level,              true },
	/* vhost: true so the handlers can say "not supported in <VirtualHost> yet" */
	{ "LogFormat",             1, 2,                cfg_log_format,             true },
	{ "CustomLog",             2, 3,                cfg_custom_log,             true },
	{ "TransferLog",           1, 1,                cfg_transfer_log,           true },
	{ "Require",               1, CFG_MAX_ARGS - 1, cfg_require,                true },
	{ "AuthMerging",           1, 1,                cfg_auth_merging,           true },
	{ "SetHandler",            1, 1,                cfg_set_handler,            true },
	{ "ExtendedStatus",        1, 1,                cfg_extended_status,        false },
	{ "Header",                2, CFG_MAX_ARGS - 1, cfg_header,                 true },
	{ "RequestHeader",         2, CFG_MAX_ARGS - 1, cfg_header,                 true },
	{ "RemoteIPHeader",        1, 1,                cfg_remoteip_header,        false },
	{ "RemoteIPTrustedProxy",  1, CFG_MAX_ARGS - 1, cfg_remoteip_proxy,         false },
	{ "RemoteIPInternalProxy", 1, CFG_MAX_ARGS - 1, cfg_remoteip_proxy,         false },
	{ "RemoteIPTrustedProxyList", 1, 1,             cfg_remoteip_proxy_list,    false },
	{ "RemoteIPInternalProxyList", 1, 1,            cfg_remoteip_proxy_list,    false },
};

/* ---- lines ---- */

/* The next logical line into buf (NUL-terminated, continuations joined, CR LF and the
 * joining backslashes removed). Returns 1, 0 at the end of the text, or -EINVAL. Sets
 * err->line to the line's first physical line. */
static int cfg_read_line(struct cfg_ctx *ctx, struct cfg_reader *rd, char *buf)
{
	size_t used = 0;
	bool join;

	if (rd->pos >= rd->len)
		return 0;
	ctx->err->line = rd->lineno + 1;
	do {
		const char *p = rd->text + rd->pos;
		const char *nl = memchr(p, '\n', rd->len - rd->pos);
		size_t n = nl ? (size_t)(nl - p) : rd->len - rd->pos;

		rd->pos += n + (nl != NULL);
		rd->lineno++;
		if (memchr(p, '\0', n)) {
			ctx->err->line = rd->lineno;
			return cfg_fail(ctx, "NUL byte in the text");
		}
		if (n > 0 && p[n - 1] == '\r')
			n--;
		/* httpd joins on [^\\]\\\n only: "\\\\" at the end is an escaped backslash */
		join = nl && n > 0 && p[n - 1] == '\\' && !(n > 1 && p[n - 2] == '\\');
		n -= join;
		if (n > CFG_LINE_MAX - used)
			return cfg_fail(ctx, "line is too long (more than %d bytes)", CFG_LINE_MAX);
		memcpy(buf + used, p, n);
		used += n;
	} while (join && rd->pos < rd->len);
	buf[used] = '\0';
	return 1;
}

/* One word starting at *rp, unescaped in place (a word never grows); *rp moves past it.
 * Quotes as in httpd's ap_getword_conf(): "..." or '...', with \<quote> and \\ inside;
 * \\ is unescaped outside quotes too. */
static int cfg_word(struct cfg_ctx *ctx, char **rp)
{
	char *r = *rp, *w = r;

	if (*r == '"' || *r == '\'') {
		char q = *r++;

		for (; *r && *r != q; *w++ = *r++)
			if (r[0] == '\\' && (r[1] == q || r[1] == '\\'))
				r++;
		if (*r != q)
			return cfg_fail(ctx, "unterminated quoted argument");
		r++;
		/* <Location "/x">: the '>' ending a section line stays with its word */
		if (r[0] == '>' && r[1] == '\0')
			*w++ = *r++;
		if (*r && !cfg_blank(*r))
			return cfg_fail(ctx, "text right after a closing quote");
	} else {
		for (; *r && !cfg_blank(*r); *w++ = *r++)
			if (r[0] == '\\' && r[1] == '\\')
				r++;
	}
	*rp = *r ? r + 1 : r;  /* skip the blank (or stay on the NUL) before w overwrites it */
	*w = '\0';
	return 0;
}

/* Splits a line into words; argv[0] is the directive. */
static int cfg_split(struct cfg_ctx *ctx, char *line, char **argv, unsigned *argc)
{
	char *r = line;
	unsigned n = 0;
	int rc;

	for (;;) {
		while (cfg_blank(*r))
			r++;
		if (!*r)
			break;
		if (n == CFG_MAX_ARGS)
			return cfg_fail(ctx, "too many arguments (more than %d)", CFG_MAX_ARGS - 1);
		argv[n++] = r;
		if ((rc = cfg_word(ctx, &r)) < 0)
			return rc;
	}
	*argc = n;
	return 0;
}

/* "<Name ...>" and "</Name>". Containers are where sections will hook in; until then
 * say plainly that the section is not understood rather than "unknown directive". */
static int cfg_section(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	const char *word = argv[0];
	bool closing = word[1] == '/';
	const char *name = word + 1 + closing;
	char show[CFG_SHOW_MAX + 8];
	size_t len = strcspn(name, ">");
	bool vhost = len == 11 && strncasecmp(name, "VirtualHost", 11) == 0;
	unsigned cond = len != 8 ? 0 : strncasecmp(name, "IfModule", 8) == 0 ? CFG_COND_MODULE
				  : strncasecmp(name, "IfDefine", 8) == 0 ? CFG_COND_DEFINE : 0;

	if (cond)
		return closing ? cfg_cond_close(ctx, cond, argc) : cfg_cond_open(ctx, cond, argc, argv);
	if (len == 5 && strncasecmp(name, "Proxy", 5) == 0)
		return cfg_proxy_section(ctx, closing, argc, argv);
	if (ctx->proxy)
		return cfg_fail(ctx, "<%.*s> is not allowed in <Proxy>", (int)(len > 32 ? 32 : len),
				name);
	if ((len == 8 && strncasecmp(name, "Location", 8) == 0) ||
	    ((len == 10 || len == 11) && strncasecmp(name, "Require", 7) == 0))
		return cfg_location_section(ctx, closing, name, len, argc, argv);
	if (len == 13 && strncasecmp(name, "LocationMatch", 13) == 0)
		return cfg_fail(ctx, "<LocationMatch> (regular expressions) is not supported; use "
				"<Location /prefix>");
	if (authz_in_location(&ctx->cfg->authz))
		return cfg_fail(ctx, "<%.*s> is not allowed in <Location>", (int)(len > 32 ? 32 : len),
				name);
	if (vhost && !closing)
		return cfg_vhost_open(ctx, argc, argv);
	if (vhost && ctx->scope)
		return cfg_vhost_close(ctx, argc);
	if (len == 0)
		return cfg_fail(ctx, "bad section \"%s\"", cfg_show(word, show, sizeof(show)));
	if (len > CFG_SHOW_MAX)
		len = CFG_SHOW_MAX;
	cfg_show(name, show, sizeof(show));
	show[len] = '\0';
	if (closing)
		return cfg_fail(ctx, "</%s> without matching <%s> section", show, show);
	return cfg_fail(ctx, "<%s> sections are not supported yet", show);
}

/* SSL* directives (mod_ssl): src/tlsconf.c reads them; unknown ones are refused there. */
static int cfg_ssl(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	struct cfg_where at;
	char msg[400], show[CFG_SHOW_MAX + 8];

	ctx->directive = NULL;
	cfg_show(argv[0], show, sizeof(show));
	if (authz_in_location(&ctx->cfg->authz))
		return cfg_fail(ctx, "%s is not supported in <Location>", show);
	if (!ctx->cfg->tls && !(ctx->cfg->tls = tls_conf_new()))
		return cfg_fail(ctx, "out of memory");
	cfg_here(ctx, &at);
	if (tls_conf_directive(ctx->cfg->tls, ctx->scope, argc, argv, ctx->root, &at, msg,
			       sizeof(msg)) < 0)
		return cfg_fail(ctx, "%s: %s", show, msg);
	return 0;
}

static int cfg_dispatch(struct cfg_ctx *ctx, unsigned argc, char **argv)
{
	const struct cfg_directive *d = NULL;
	char show[CFG_SHOW_MAX + 8];
	unsigned nargs = argc - 1;

	if (argv[0][0] == '<')
		return cfg_section(ctx, argc, argv);
	for (size_t i = 0; i < sizeof(cfg_directives) / sizeof(cfg_directives[0]) && !d; i++)
		if (strcasecmp(argv[0], cfg_directives[i].name) == 0)
			d = &cfg_directives[i];
	if (!d && strncasecmp(argv[0], "SSL", 3) == 0)
		return cfg_ssl(ctx, argc, argv);
	if (!d)
		return cfg_fail(ctx, "unknown directive \"%s\"", cfg_show(argv[0], show, sizeof(show)));
	if (ctx->scope && !d->vhost)
		return cfg_fail(ctx, "%s is not allowed in <VirtualHost>", d->name);
	if (ctx->proxy && d->handler != cfg_balancer_member && d->handler != cfg_proxy_set)
		return cfg_fail(ctx, "%s is not supported in <Proxy> (BalancerMember and ProxySet "
				"are)", d->name);
	if (authz_in_location(&ctx->cfg->authz) && d->handler != cfg_require &&
	    d->handler != cfg_auth_merging && d->handler != cfg_header &&
	    d->handler != cfg_set_handler)
		return cfg_fail(ctx, "%s is not supported in <Location> (Require, AuthMerging, "
				"Header, RequestHeader and SetHandler are)", d->name);
	ctx->directive = d->name;
	if (nargs < d->min_args || nargs > d->max_args) {
		if (d->min_args == d->max_args)
			return cfg_fail(ctx, "takes %u argument%s, %u given", d->min_args,
					d->min_args == 1 ? "" : "s", nargs);
		if (d->max_args == CFG_MAX_ARGS - 1)
			return cfg_fail(ctx, "takes at least %u arguments, %u given", d->min_args,
					nargs);
		return cfg_fail(ctx, "takes %u to %u arguments, %u given", d->min_args,
				d->max_args, nargs);
	}
	return d->handler(ctx, argc, argv);
}

/* ---- interface ---- */

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->keepalive = true;
	cfg->timeout_ms = 60 * 1000;
	cfg->keepalive_timeout_ms = 5 * 1000;
	cfg->max_keepalive_requests = 1000;
	cfg->limit_request_line = 8190;
	cfg->limit_field_size = 8190;
	cfg->limit_fields = 100;
	cfg->limit_resp_field_size = 32760;
	cfg->limit_resp_fields = 500;
	cfg->rt_header = (struct cfg_reqtimeout){ 20000, 40000, 500 };
	cfg->rt_body = (struct cfg_reqtimeout){ 20000, 0, 500 };
	cfg->limit_request_body = 0;
	cfg->max_connections = 4096;
	cfg->workers = 0;
	cfg->start_timeout_ms = 10 * 1000;
	cfg->backoff_min_ms = 1000;
	cfg->backoff_max_ms = 60 * 1000;
	strcpy(cfg->dir_index[0], "index.html");
	cfg->ndir_index = 1;
	cfg_scope_init(&cfg->scope[0], 0, 0);
	cfg->nscope = 1;
	if (alog_compile(&cfg->default_logformat, ALOG_FMT_COMMON, NULL, 0) < 0)
		abort();  /* a built-in format that does not compile is a broken invariant */
}

void config_free(struct config *cfg)
{
	rw_prog_free(&cfg->rw);
	authz_free(&cfg->authz);
	headers_free(&cfg->headers);
	rip_conf_free(&cfg->remoteip);
	tls_conf_free(cfg->tls);
	config_defaults(cfg);
}

static void cfg_error_init(struct config_error *err, const char *file)
{
	size_t n = strnlen(file, sizeof(err->file) - 1);

	memcpy(err->file, file, n);
	err->file[n] = '\0';
	err->line = 0;
	err->msg[0] = '\0';
}

/* A path a directive gave, made absolute as httpd's ap_server_root_relative(): a relative
 * one is under ServerRoot (the last one given, wherever it is: httpd applies ServerRoot
 * before the other directives). */
static int cfg_rooted(struct cfg_ctx *ctx, const struct cfg_where *w, const char *directive,
		      char *path)
{
	char tmp[CFG_PATH_MAX];
	int n;

	if (!path[0] || path[0] == '/')
		return 0;
	n = snprintf(tmp, sizeof(tmp), "%s%s%s", ctx->root, strcmp(ctx->root, "/") ? "/" : "",
		     path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		config_where(ctx->cfg, w, ctx->err);
		ctx->directive = directive;
		return cfg_fail(ctx, "%.64s...: too long under ServerRoot %.64s...", path, ctx->root);
	}
	memcpy(path, tmp, (size_t)n + 1);
	return 0;
}

/* ErrorLog, CustomLog/TransferLog, TypesConfig and DocumentRoot under ServerRoot. */
static int cfg_root_paths(struct cfg_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	size_t n;

	if (cfg_rooted(ctx, &cfg->at.error_log, "ErrorLog", cfg->error_log) < 0 ||
	    cfg_rooted(ctx, &cfg->at.types_config, "TypesConfig", cfg->types_config) < 0 ||
	    cfg_rooted(ctx, &cfg->at.document_root, "DocumentRoot", cfg->document_root) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < cfg->ncustomlog; i++)
		if (cfg_rooted(ctx, &cfg->customlog[i].at, "CustomLog", cfg->customlog[i].path) < 0)
			return -EINVAL;
	/* DocumentRoot's trailing '/' go, as cfg_dir() drops them from an absolute one */
	n = strlen(cfg->document_root);
	while (n > 1 && cfg->document_root[n - 1] == '/')
		cfg->document_root[--n] = '\0';
	return 0;
}

/* What needs the whole text: map names, conditions left without a rule, rule lists. */
static bool cfg_port_ok(const struct cfg_scope *sc, unsigned port);

unsigned config_listen_port(const struct cfg_listen *l)
{
	const struct sockaddr_storage *ss = &l->addr;

	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

/* RemoteIPProxyProtocol is a property of the listener (a PROXY header comes before any
 * Host says which virtual host a request is for): two <VirtualHost> sections that name
 * the same Listen port and disagree are refused. */
static int cfg_pp_finish(struct cfg_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;

	for (unsigned i = 0; i < cfg->nlisten; i++) {
		unsigned port = config_listen_port(&cfg->listen[i]), seen = 0, first = 0;

		for (unsigned s = 1; s < cfg->nscope; s++) {
			if (!cfg->pp_on[s] || !cfg_port_ok(&cfg->scope[s], port))
				continue;
			if (seen && seen != cfg->pp_on[s]) {
				ctx->directive = "RemoteIPProxyProtocol";
				ctx->err->line = cfg->scope[s].line;
				return cfg_fail(ctx, "the <VirtualHost> sections at lines %u and %u "
						"share Listen %s and disagree (the PROXY header comes "
						"before the virtual host is known)",
						cfg->scope[first].line, cfg->scope[s].line,
						cfg->listen[i].name);
			}
			seen = cfg->pp_on[s];
			first = first ? first : s;
		}
	}
	return 0;
}

/* ondemandmin=: no more than the members, every one started by a ProxyAutostart line
 * (a parked member is stopped through the helper, a needed one started by its first
 * request); the durations' defaults. */
static int cfg_ondemand_finish(struct cfg_ctx *ctx, struct cfg_balancer *b)
{
	if (!b->od_min) {
		if (b->od_wait_ms || b->od_idle_ms) {
			ctx->err->line = b->line;
			return cfg_fail(ctx, "%s: ondemandwait= and ondemandidle= need ondemandmin=",
					b->name);
		}
		return 0;
	}
	if (!b->od_wait_ms)
		b->od_wait_ms = 1000;
	if (!b->od_idle_ms)
		b->od_idle_ms = 60000;
	ctx->directive = "BalancerMember";
	for (unsigned m = 0; m < b->nmember; m++) {
		const struct cfg_backend *be = &ctx->cfg->backend[b->member[m].backend];

		ctx->err->line = b->member[m].line;
		if (be->autostart < 0)
			return cfg_fail(ctx, "%s is a member of %s (ondemandmin=) but no "
					"ProxyAutostart line starts it", be->name, b->name);
		if (b->member[m].status)
			return cfg_fail(ctx, "status= is not for members of %s: ondemandmin= "
					"decides which run", b->name);
	}
	if (b->od_min > b->nmember) {
		ctx->err->line = b->line;
		return cfg_fail(ctx, "%s: ondemandmin=%u but %u members", b->name, b->od_min,
				b->nmember);
	}
	return 0;
}

/* Every pool has a member; a member's retry= is httpd's 60 s unless written (or it is
 * started by ProxyAutostart, where a refused connect asks for a start). */
static int cfg_balancers_finish(struct cfg_ctx *ctx)
{
	struct config *cfg = ctx->cfg;

	for (unsigned i = 0; i < cfg->nbalancer; i++) {
		const struct cfg_balancer *b = &cfg->balancer[i];

		if (b->nmember == 0) {
			ctx->err->line = b->line;
			return cfg_fail(ctx, "%s has no BalancerMember", b->name);
		}
		if (cfg_ondemand_finish(ctx, &cfg->balancer[i]) < 0)
			return -EINVAL;
		for (unsigned m = 0; m < b->nmember; m++) {
			struct cfg_member *cm = &cfg->balancer[i].member[m];
			struct cfg_backend *be = &cfg->backend[cm->backend];

			if (!be->p.retry_given && be->autostart < 0)
				be->p.retry_s = 60;
			if (!cm->hcinterval_ms)
				cm->hcinterval_ms = 30000;
			if (!cm->hcpasses)
				cm->hcpasses = 1;
			if (!cm->hcfails)
				cm->hcfails = 1;
			if (!cm->hcuri[0])
				strcpy(cm->hcuri, "/");
			for (unsigned e = 0; cm->hcexpr_name[0] && e < cfg->nhcexpr; e++)
				if (strcmp(cfg->hcexpr[e].name, cm->hcexpr_name) == 0)
					cm->hcexpr = (int)e;
			if (cm->hcexpr_name[0] && cm->hcexpr < 0) {
				ctx->err->line = cm->line;
				ctx->directive = "BalancerMember";
				return cfg_fail(ctx, "hcexpr=%s: no ProxyHCExpr of that name",
						cm->hcexpr_name);
			}
		}
	}
	return 0;
}

static int cfg_finish(struct cfg_ctx *ctx)
{
	char msg[sizeof(ctx->err->msg)];
	unsigned line = 0;

	if (cfg_root_paths(ctx) < 0)
		return -EINVAL;
	ctx->directive = NULL;
	/* ProxyAutostart values not given on the line come from the server's directives,
	 * wherever those are in the file */
	for (unsigned i = 0; i < ctx->cfg->nautostart; i++) {
		struct cfg_autostart *a = &ctx->cfg->autostart[i];

		if (!a->start_timeout_ms)
			a->start_timeout_ms = ctx->cfg->start_timeout_ms;
		if (!a->backoff_min_ms) {
			a->backoff_min_ms = ctx->cfg->backoff_min_ms;
			a->backoff_max_ms = ctx->cfg->backoff_max_ms;
		}
		if (a->backoff_max_ms < a->backoff_min_ms)
			a->backoff_max_ms = a->backoff_min_ms;
		if (!a->stop_timeout_ms)
			a->stop_timeout_ms = 5000;
		if (!a->queue)
			a->queue = 256;
	}
	if (cfg_balancers_finish(ctx) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < ctx->cfg->nbackend; i++) {
		struct cfg_backend *b = &ctx->cfg->backend[i];
		struct cfg_bparams *p = &b->p;

		if (p->retry_s && b->autostart >= 0) {
			ctx->err->line = b->params_line;
			ctx->directive = "ProxyPass";
			return cfg_fail(ctx, "retry= for %s, which ProxyAutostart starts: a refused "
					"connection asks for a start instead", b->name);
		}
		if (!p->timeout_ms)
			p->timeout_ms = ctx->cfg->proxy_timeout_ms ? ctx->cfg->proxy_timeout_ms
								   : ctx->cfg->timeout_ms;
		if (!p->connect_timeout_ms)
			p->connect_timeout_ms = p->timeout_ms;
		if (!p->ttl_ms)
			p->ttl_ms = CFG_TTL_DEFAULT_MS;
		if (!p->acquire_ms)
			p->acquire_ms = p->timeout_ms;
	}
	/* -f/-d/-s conditions resolve beneath the file roots: DocumentRoot is one */
	if (ctx->cfg->document_root[0] && config_file_root(ctx->cfg, ctx->cfg->document_root) == -ENOSPC)
		return cfg_fail(ctx, "more than %d directories to serve files from", CFG_MAX_ROOTS);
	if (cfg_remoteip_finish(ctx) < 0)
		return -EINVAL;
	if (rw_prog_finish(&ctx->cfg->rw, ctx->cfg, &line, msg, sizeof(msg)) < 0) {
		ctx->err->line = line;
		return cfg_fail(ctx, "%s", msg);
	}
	ctx->err->line = 0;
	if (cfg_pp_finish(ctx) < 0)
		return -EINVAL;
	if (tls_conf_finish(ctx->cfg, &line, msg, sizeof(msg)) < 0) {
		ctx->err->line = line;
		return cfg_fail(ctx, "%s", msg);
	}
	if (status_check(ctx->cfg, &line, msg, sizeof(msg)) < 0) {
		ctx->err->line = line;
		ctx->directive = "SetHandler";
		return cfg_fail(ctx, "%s", msg);
	}
	return 0;
}

/* Reads text[0..len) line by line into ctx (the main file or an Include'd one),
 * recording errors as it goes. Returns 0 at the end of the text, or -ECANCELED when the
 * parse ends early (every error is recorded either way). */
static int cfg_parse_text(struct cfg_ctx *ctx, const char *text, size_t len)
{
	struct cfg_reader rd = { .text = text, .len = text ? len : 0 };
	char *line = malloc(2 * (CFG_LINE_MAX + 1)), *exp, *argv[CFG_MAX_ARGS];
	unsigned argc = 0, ncond = ctx->ncond;
	int rc;

	if (!line) {
		cfg_fail(ctx, "out of memory");
		return cfg_record_stop(ctx);
	}
	exp = line + CFG_LINE_MAX + 1;
	for (;;) {
		char *s = line;

		ctx->directive = NULL;
		if ((rc = cfg_read_line(ctx, &rd, line)) <= 0)
			break;
		while (cfg_blank(*s))
			s++;
		if (*s == '#' || *s == '\0')
			continue;
		if (ctx->skip) {
			if ((rc = cfg_skip_line(ctx, s)) < 0)
				break;
			continue;
		}
		if ((rc = cfg_expand(ctx, s, exp)) < 0 || (rc = cfg_split(ctx, exp, argv, &argc)) < 0 ||
		    (rc = cfg_dispatch(ctx, argc, argv)) < 0) {
			if (rc == -ECANCELED)   /* an Include'd file ended the parse */
				break;
			ctx->stop = *s == '<';  /* a section tag: the nesting is lost */
			if ((rc = cfg_record(ctx)) < 0)
				break;
		}
	}
	free(line);
	if (rc < 0 && rc != -ECANCELED)   /* the reader or a skipped section's tags */
		rc = cfg_record_stop(ctx);
	if (rc == 0 && ctx->ncond != ncond) {
		ctx->directive = NULL;
		cfg_fail(ctx, "<%s> section is not closed at the end of the file",
			 cfg_cond_name(ctx->cond[ctx->ncond - 1]));
		rc = cfg_record_stop(ctx);
	}
	return rc;
}

int config_parse_all(struct config *cfg, const char *text, size_t len, const char *file,
		     struct config_errors *errs)
{
	struct config_error cur;
	struct cfg_ctx ctx = { .cfg = cfg, .err = &cur, .errs = errs };
	const char *slash = file ? strrchr(file, '/') : NULL;
	int rc;

	errs->n = 0;
	cfg_error_init(ctx.err, file ? file : "(config)");
	/* relative paths start at ServerRoot, by default the main file's directory; absolute,
	 * so that a path does not change with the directory spliced runs in */
	if (slash && file[0] == '/')
		snprintf(ctx.root, sizeof(ctx.root), "%.*s", (int)(slash == file ? 1 : slash - file),
			 file);
	else if (!getcwd(ctx.root, sizeof(ctx.root)))
		strcpy(ctx.root, ".");
	else if (slash)
		snprintf(ctx.root + strlen(ctx.root), sizeof(ctx.root) - strlen(ctx.root), "/%.*s",
			 (int)(slash - file), file);
	ctx.def = calloc(CFG_MAX_DEFINE, sizeof(*ctx.def));
	if (!ctx.def) {
		cfg_fail(&ctx, "out of memory");
		cfg_record_stop(&ctx);
		return -EINVAL;
	}
	rc = cfg_parse_text(&ctx, text, len);
	if (rc == 0 && ctx.scope) {
		ctx.directive = NULL;
		ctx.err->line = cfg->scope[ctx.scope].line;
		cfg_fail(&ctx, "<VirtualHost> section is not closed");
		cfg_record_stop(&ctx);
	}
	if (rc == 0 && ctx.proxy) {
		ctx.directive = NULL;
		ctx.err->line = cfg->balancer[ctx.proxy - 1].line;
		cfg_fail(&ctx, "<Proxy> section is not closed");
		cfg_record_stop(&ctx);
	}
	if (rc == 0 && errs->n == 0 && authz_in_location(&cfg->authz)) {
		ctx.directive = NULL;
		ctx.err->line = cfg->authz.loc[cfg->authz.nloc - 1].line;
		cfg_fail(&ctx, "<Location> section is not closed");
		cfg_record_stop(&ctx);
	}
	if (errs->n == 0 && cfg_finish(&ctx) < 0)
		cfg_record_stop(&ctx);
	free(ctx.def);
	return errs->n ? -EINVAL : 0;
}

/* The error lists are too big for some stacks (a reload's thread): on the heap. */
static struct config_errors *cfg_errors_new(struct config_error *err)
{
	struct config_errors *errs = malloc(sizeof(*errs));

	if (!errs && err)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	return errs;
}

/* The first error of errs into *err (when errs has one and err is not NULL). */
static void cfg_errors_first(const struct config_errors *errs, struct config_error *err)
{
	if (err && errs->n)
		*err = errs->e[0];
}

int config_parse(struct config *cfg, const char *text, size_t len, const char *file,
		 struct config_error *err)
{
	struct config_errors *errs;
	int rc;

	if (err)
		cfg_error_init(err, file ? file : "(config)");
	if (!(errs = cfg_errors_new(err)))
		return -ENOMEM;
	rc = config_parse_all(cfg, text, len, file, errs);
	cfg_errors_first(errs, err);
	free(errs);
	return rc;
}

/* Reads fd to the end into a malloc'ed buffer of at most CFG_FILE_MAX bytes; -EFBIG
 * beyond, so a wrong path (a device, a huge log) fails fast instead of eating memory. */
static int cfg_read_fd(int fd, char **out, size_t *outlen)
{
	size_t cap = 0, len = 0;
	char *buf = NULL, *nbuf;
	ssize_t n;

	for (;;) {
		if (len == cap) {
			if (cap > CFG_FILE_MAX)
				goto out_free_efbig;
			cap = cap ? cap * 2 : 4096;
			cap = cap > CFG_FILE_MAX ? CFG_FILE_MAX + 1 : cap;
			if (!(nbuf = realloc(buf, cap)))
				goto out_free_enomem;
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;

			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*outlen = len;
	return 0;
out_free_efbig:
	free(buf);
	return -EFBIG;
out_free_enomem:
	free(buf);
	return -ENOMEM;
}

static int cfg_read_file(const char *path, char **out, size_t *outlen,
			 struct config_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "cannot open: %s", strerror(-rc));
		return rc;
	}
	rc = cfg_read_fd(fd, out, outlen);
	close(fd);
	if (rc == -EFBIG)
		snprintf(err->msg, sizeof(err->msg), "file is larger than %u bytes", CFG_FILE_MAX);
	else if (rc < 0)
		snprintf(err->msg, sizeof(err->msg), "cannot read: %s", strerror(-rc));
	return rc;
}

/* The checks that need the whole file: something to listen on and something to serve. */
static int cfg_validate(const struct config *cfg, struct config_error *err)
{
	bool serves = false;

	for (unsigned i = 0; i < cfg->npass; i++)
		serves |= cfg->pass[i].backend >= 0;
	serves |= cfg->document_root[0] != 0 || cfg->nalias > 0;
	for (unsigned i = 0; i < cfg->rw.nrule; i++)  /* RewriteRule [P] or to a file */
		serves |= cfg->rw.rule[i].backend >= 0 || cfg->rw.rule[i].root >= 0;
	err->line = 0;
	if (cfg->nlisten == 0) {
		snprintf(err->msg, sizeof(err->msg), "no Listen directive");
		return -EINVAL;
	}
	if (!serves) {
		snprintf(err->msg, sizeof(err->msg),
			 "no ProxyPass, DocumentRoot or Alias directive: nothing to serve");
		return -EINVAL;
	}
	return 0;
}

/* config_load_all() without the checks of the whole. */
static int cfg_load_file_all(struct config *cfg, const char *path, struct config_errors *errs)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	config_defaults(cfg);
	errs->n = 0;
	cfg_error_init(&errs->e[0], path);
	if ((rc = cfg_read_file(path, &text, &len, &errs->e[0])) < 0) {
		errs->n = 1;
		return rc;
	}
	rc = config_parse_all(cfg, text, len, path, errs);
	free(text);
	return rc;
}

int config_load_all(struct config *cfg, const char *path, struct config_errors *errs)
{
	int rc;

	if ((rc = cfg_load_file_all(cfg, path, errs)) < 0)
		return rc;
	cfg_error_init(&errs->e[0], path);
	if ((rc = cfg_validate(cfg, &errs->e[0])) < 0)
		errs->n = 1;
	return rc;
}

int config_load_file(struct config *cfg, const char *path, struct config_error *err)
{
	struct config_errors *errs;
	int rc;

	cfg_error_init(err, path);
	if (!(errs = cfg_errors_new(err)))
		return -ENOMEM;
	rc = cfg_load_file_all(cfg, path, errs);
	cfg_errors_first(errs, err);
	free(errs);
	return rc;
}

int config_load(struct config *cfg, const char *path, struct config_error *err)
{
	struct config_errors *errs;
	int rc;

	if (err)
		cfg_error_init(err, path);
	if (!(errs = cfg_errors_new(err)))
		return -ENOMEM;
	rc = config_load_all(cfg, path, errs);
	cfg_errors_first(errs, err);
	free(errs);
	return rc;
}

int config_builtin(struct config *cfg, struct config_error *err)
{
	config_defaults(cfg);
	if (config_builtin_demo())
		return config_parse(cfg, cfg_builtin_demo, sizeof(cfg_builtin_demo) - 1,
				    "(built-in)", err);
	return config_parse(cfg, cfg_builtin_text, sizeof(cfg_builtin_text) - 1, "(built-in)", err);
}

bool config_builtin_demo(void)
{
	/* Decided once per process (and inherited by the helper): after the privilege drop
	 * the tree may not be readable, and a reload of the built-in configuration, here or
	 * in the helper, must read the same one as the start did. */
	static int demo = -1;
	struct stat st;

	if (demo < 0)
		demo = access(SPLICED_DATADIR "/demo/app.py", R_OK) == 0 &&
		       stat(SPLICED_DATADIR "/demo/site", &st) == 0 && S_ISDIR(st.st_mode) &&
		       access("/usr/bin/python3", X_OK) == 0;
	return demo;
}

/* httpd matches ProxyPass prefixes as plain string prefixes, so "/app" would also take
 * "/apple"; we match only at a segment boundary, which is what such a line means.
 * The path is read as a Java server routes it: the ";params" part of each segment left
 * out and the empty segments that leaves merged, so "/admin;x/secret" and "/;x/admin/s"
 * are matched by "/admin/" and no "ProxyPass /admin/ !" can be passed by that way.
 * Returns the bytes of path the prefix covers, or -1. */
static long cfg_prefix_match(const struct cfg_pass *p, const char *path, size_t len)
{
	size_t plen = p->prefix_len, i = 0, k = 0;
	char last = 0;

	while (k < plen) {
		if (i < len && path[i] == ';' && p->prefix[k] != ';') {
			while (i < len && path[i] != '/')
				i++;
			continue;
		}
		if (i < len && path[i] == '/' && last == '/') {
			i++;
			continue;
		}
		if (i == len || path[i] != p->prefix[k])
			return -1;
		last = path[i++];
		k++;
	}
	if (i == len || p->prefix[plen - 1] == '/' || path[i] == '/' || path[i] == ';' ||
	    path[i] == '?')
		return (long)i;
	return -1;
}

const struct cfg_pass *config_route(const struct config *cfg, const char *path, size_t len)
{
	return config_route_scope(cfg, 0, path, len, NULL);
}

const struct cfg_pass *config_route_scope(const struct config *cfg, unsigned scope,
					  const char *path, size_t len, uint32_t *matched)
{
	for (unsigned pass = 0; pass < 2; pass++) {
		unsigned s = pass ? 0 : scope;

		for (unsigned i = 0; i < cfg->npass; i++) {
			long n = cfg->pass[i].scope == s ? cfg_prefix_match(&cfg->pass[i], path, len)
							 : -1;

			if (n < 0)
				continue;
			if (matched)
				*matched = (uint32_t)n;
			return &cfg->pass[i];
		}
		if (scope == 0)
			break;
	}
	return NULL;
}

/* ServerAlias wildcards, as httpd's ap_strcasecmp_match(): '*' any run, '?' one byte.
 * Both sides are lower case. Iterative: no backtracking blow-up on "*a*a*a*b". */
static bool cfg_wild(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == '?' || *pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

static bool cfg_port_ok(const struct cfg_scope *sc, unsigned port)
{
	if (sc->any_port || sc->nport == 0)
		return true;
	for (unsigned i = 0; i < sc->nport; i++)
		if (sc->port[i] == port)
			return true;
	return false;
}

unsigned config_vhost(const struct config *cfg, const char *host, size_t len, unsigned port)
{
	char name[CFG_NAME_MAX];

	if (cfg->nscope <= 1 || !host || !cfg_hostname(host, len, name, sizeof(name)))
		return 0;
	for (unsigned s = 1; s < cfg->nscope; s++) {
		const struct cfg_scope *sc = &cfg->scope[s];

		if (!cfg_port_ok(sc, port))
			continue;
		if (strcmp(sc->server_name, name) == 0)
			return s;
		for (unsigned i = 0; i < sc->nname; i++)
			if (cfg_wild(cfg->vname[sc->name_first + i].name, name))
				return s;
	}
	return 0;
}

const struct cfg_errdoc *config_errdoc(const struct config *cfg, unsigned scope,
				       unsigned status)
{
	for (unsigned pass = 0; pass < 2; pass++) {
		unsigned s = pass ? 0 : scope;

		for (unsigned i = 0; i < cfg->nerrdoc; i++)
			if (cfg->errdoc[i].scope == s && cfg->errdoc[i].code == status)
				return cfg->errdoc[i].kind ? &cfg->errdoc[i] : NULL;
		if (scope == 0)
			break;
	}
	return NULL;
}

bool config_preserve_host(const struct config *cfg, unsigned scope)
{
	if (scope < cfg->nscope && cfg->scope[scope].preserve_host >= 0)
		return cfg->scope[scope].preserve_host;
	return cfg->preserve_host;
}

int config_file_root(struct config *cfg, const char *dir)
{
	size_t n = strlen(dir);

	if (dir[0] != '/' || n >= CFG_PATH_MAX || (n > 1 && dir[n - 1] == '/'))
		return -EINVAL;
	for (unsigned i = 0; i < cfg->nroot; i++)
		if (strcmp(cfg->file_root[i], dir) == 0)
			return (int)i;
	if (cfg->nroot == CFG_MAX_ROOTS)
		return -ENOSPC;
	memcpy(cfg->file_root[cfg->nroot], dir, n + 1);
	return (int)cfg->nroot++;
}

void config_where(const struct config *cfg, const struct cfg_where *w, struct config_error *out)
{
	const char *file = w->file < cfg->nsrc_file ? cfg->src_file[w->file]
						    : "(an Include'd file)";

	snprintf(out->file, sizeof(out->file), "%s", file);
	out->line = w->line;
}

void config_error_format(const struct config_error *err, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	if (err->file[0] && err->line)
		snprintf(out, outlen, "%s:%u: %s", err->file, err->line, err->msg);
	else if (err->file[0])
		snprintf(out, outlen, "%s: %s", err->file, err->msg);
	else
		snprintf(out, outlen, "%s", err->msg);
}

bool config_proxy_protocol(const struct config *cfg, unsigned port)
{
	for (unsigned s = 1; s < cfg->nscope; s++)
		if (cfg->pp_on[s] && cfg_port_ok(&cfg->scope[s], port))
			return cfg->pp_on[s] == 2;
	return cfg->pp_on[0] == 2;
}

bool config_proxy_exception(const struct config *cfg, unsigned port, const char *ip)
{
	for (unsigned i = 0; i < cfg->npp_exc; i++) {
		const struct cfg_pp_exc *e = &cfg->pp_exc[i];

		if ((e->scope == 0 || cfg_port_ok(&cfg->scope[e->scope], port)) &&
		    pp_range_match(&e->r, ip))
			return true;
	}
	return false;
}
