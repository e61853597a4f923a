/* The rewrite engine: runs a scope's compiled rules (src/rwcompile.c) against one request.
 * The contract, and the escaping model, are in include/spliced/rewrite.h.
 *
 * How escaping-exactly-once works here. The URL being rewritten is a run of "cells": a
 * decoded byte and a flag (URI_ESC: it arrived percent-encoded or an escaping map marked
 * it; RW_RAW: [NE] text of the configuration). Patterns match the bytes, as in httpd.
 * Expansion writes into a "sink" that knows where it is: in the path it appends cells,
 * after the configuration's '?' it appends already-escaped query text, in a map key or a
 * condition's TestString it appends plain bytes. Each source of text has one routine
 * (sk_text: the configuration's, sk_data: decoded request data, sk_wire: text that is
 * already escaped, sk_escaped: ${escape:} output, sk_bref: a back-reference under [B]),
 * so a byte is escaped by exactly one decision, made once, at the end for the path.
 *
 * Nothing here allocates: every buffer is in struct rw_ctx, sized by RW_PATH_MAX. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "spliced/config.h"
#include "spliced/log.h"
#include "spliced/rewrite.h"
#include "spliced/uri.h"

#define RW_RAW 0x02                   /* cell flag: [NE] configuration text, written as is */
#define RW_MATCH_LIMIT 1000000        /* PCRE2 backtracking bound per match (ReDoS) */
#define RW_OUT_DEFAULT (3 * RW_PATH_MAX + 65536 + 16)  /* escaped path + '?' + any query */

struct rw_cells {
	char b[RW_PATH_MAX + 1];      /* +1: room to put a missing leading '/' */
	uint8_t f[RW_PATH_MAX + 1];
	uint32_t len;
};

/* Where $N or %N come from: the subject of the last match and its offsets. */
struct rw_bref {
	const char *src;
	const uint8_t *f;             /* flags of src, or NULL */
	PCRE2_SIZE ov[2 * RW_NBACKREF];
	uint32_t n;                   /* valid pairs; 0: no back-references */
};

/* The URL being rewritten, between rules. */
struct rw_state {
	struct rw_cells *cur;         /* the subject of the next rule */
	const char *query;            /* escaped, without '?'; in->query or a ctx->qbuf */
	uint32_t qlen;
	bool has_query;
	bool changed;                 /* a substitution (or [PT]) happened */
	bool proxy, pt;
	uint32_t prefix_len;          /* an absolute URL: "scheme://authority" cells */
	bool local_prefix;            /* ... added by [R] to a local path */
	int root;                     /* a filesystem path under cfg->file_root[root] */
	uint32_t root_len;
	int backend;
	uint16_t redirect;            /* status of the rule that made the URL absolute */
	uint16_t status;              /* the decision is this status */
	int rule;                     /* the last rule that matched */
};

struct rw_ctx {
	const struct config *cfg;
	const struct rw_prog *p;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	rw_trace_fn *trace;
	void *trace_opaque;
	unsigned trace_force;
	int root_fd[CFG_MAX_ROOTS];
	/* per decision */
	const struct rw_input *in;
	unsigned scope, tlevel, depth, test_cur;
	struct rw_bref rref, cref;
	struct rw_cells orig;         /* the request's path, decoded: REQUEST_URI */
	struct rw_cells cells[2];
	char qbuf[2][RW_PATH_MAX];
	char test[2][RW_PATH_MAX];    /* TestStrings: the last matched one stays for %N */
	char key[RW_MAP_DEPTH][RW_PATH_MAX];
	uint8_t keyf[RW_MAP_DEPTH][RW_PATH_MAX];
	char sname[CFG_NAME_MAX];
	char tline[1024];
	char out[RW_OUT_DEFAULT];
};

/* ---- tracing ---- */

__attribute__((format(printf, 3, 4)))
static void rw_tr(struct rw_ctx *ctx, unsigned level, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ctx->tline, sizeof(ctx->tline), "[scope %u] (%u) ", ctx->scope, level);

	va_start(ap, fmt);
	vsnprintf(ctx->tline + n, sizeof(ctx->tline) - (size_t)n, fmt, ap);
	va_end(ap);
	for (char *c = ctx->tline; *c; c++)  /* request bytes never drive a terminal */
		if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
			*c = '?';
	ctx->trace(ctx->trace_opaque, level, ctx->tline);
}

/* Costs one comparison when tracing is off; not a hidden return. */
#define RW_TRACE(ctx, lv, ...) do { \
	if ((ctx)->tlevel >= (lv)) \
		rw_tr((ctx), (lv), __VA_ARGS__); \
} while (0)

static void rw_log_trace(void *opaque, unsigned level, const char *line)
{
	(void)opaque;
	log_trace("rewrite", level, "%s", line);
}

/* A decision that must not go out: answer `status`, and say which rule in the log. */
__attribute__((format(printf, 5, 6)))
static void rw_fail(struct rw_ctx *ctx, struct rw_state *st, int ri, uint16_t status,
		    const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	st->status = status;
	if (ri >= 0)
		log_error("rewrite", "RewriteRule \"%s\" (line %u): %s", ctx->p->str +
			  ctx->p->rule[ri].pat_off, ctx->p->rule[ri].line, why);
	else
		log_error("rewrite", "%s", why);
	RW_TRACE(ctx, 1, "%s: status %u", why, status);
}

/* ---- sinks ---- */

enum { SK_PATH, SK_QUERY, SK_PLAIN };

struct rw_sink {
	uint8_t mode;
	bool split;                   /* PATH: the configuration's '?' starts the query */
	bool qseen;
	bool ne;                      /* [NE]: the configuration's text is written as is */
	bool overflow;
	const struct rw_rule *rule;   /* [B] for back-references; NULL: none */
	char *b;                      /* PATH, PLAIN */
	uint8_t *f;                   /* flags of b, or NULL */
	uint32_t len, cap;
	char *q;                      /* QUERY: escaped text */
	uint32_t qlen, qcap;
};

static void sk_cell(struct rw_sink *s, unsigned char c, uint8_t fl)
{
	if (s->len >= s->cap) {
		s->overflow = true;
		return;
	}
	s->b[s->len] = (char)c;
	if (s->f)
		s->f[s->len] = fl;
	s->len++;
}

static void sk_q(struct rw_sink *s, const char *p, size_t n)
{
	if (n > s->qcap - s->qlen) {
		s->overflow = true;
		return;
	}
	memcpy(s->q + s->qlen, p, n);
	s->qlen += (uint32_t)n;
}

/* A byte that must come out percent-encoded, wherever the sink is. */
static void sk_enc(struct rw_sink *s, unsigned char c)
{
	char t[3];

	uri_pct(t, c);
	if (s->mode == SK_PATH)
		sk_cell(s, c, URI_ESC);
	else if (s->mode == SK_QUERY)
		sk_q(s, t, 3);
	else
		for (int i = 0; i < 3; i++)
			sk_cell(s, (unsigned char)t[i], 0);
}

/* Decoded request data: escaped where it must be, and where it arrived escaped. */
static void sk_data(struct rw_sink *s, const char *p, const uint8_t *f, size_t n)
{
	for (size_t i = 0; i < n && !s->overflow; i++) {
		unsigned char c = (unsigned char)p[i];
		uint8_t fl = f ? f[i] & URI_ESC : 0;

		if (s->mode != SK_QUERY)
			sk_cell(s, c, fl);
		else if (fl || !uri_is(c, URI_C_QUERY))
			sk_enc(s, c);
		else
			sk_q(s, (const char *)&c, 1);
	}
}

/* The configuration's own text. Its first '?' in a substitution's path starts the query
 * (unless written "\?"); under [NE] it is written unescaped. */
static void sk_text(struct rw_sink *s, const char *p, size_t n, bool may_split)
{
	for (size_t i = 0; i < n && !s->overflow; i++) {
		unsigned char c = (unsigned char)p[i];

		if (s->mode == SK_PATH && c == '?' && may_split && s->split) {
			s->mode = SK_QUERY;
			s->qseen = true;
		} else if (s->mode == SK_QUERY) {
			if (s->ne || uri_is(c, URI_C_QUERY))
				sk_q(s, (const char *)&c, 1);
			else
				sk_enc(s, c);
		} else {
			sk_cell(s, c, s->mode == SK_PATH && s->ne ? RW_RAW : 0);
		}
	}
}

/* Text that is escaped already (QUERY_STRING, THE_REQUEST): its "%XX" stay escapes. */
static void sk_wire(struct rw_sink *s, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !s->overflow) {
		unsigned char c = (unsigned char)p[i];
		bool pct = uri_is_pct(p + i, n - i);

		if (s->mode == SK_PLAIN || (!pct && s->mode == SK_PATH)) {
			sk_cell(s, c, 0);
		} else if (s->mode == SK_PATH) {
			sk_cell(s, (unsigned char)(uri_hexval((unsigned char)p[i + 1]) << 4 |
						   uri_hexval((unsigned char)p[i + 2])), URI_ESC);
		} else if (pct || uri_is(c, URI_C_QLAX)) {
			sk_q(s, p + i, pct ? 3 : 1);
		} else {
			sk_enc(s, c);
		}
		i += s->mode != SK_PLAIN && pct ? 3 : 1;
	}
}

/* ${escape:key}: the bytes it escapes are marked, not written as "%XX" text, so the final
 * escape of the path cannot escape them a second time. */
static void sk_escaped(struct rw_sink *s, const char *p, const uint8_t *f, size_t n)
{
	for (size_t i = 0; i < n && !s->overflow; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((f && (f[i] & URI_ESC)) || !uri_is(c, URI_C_PATH))
			sk_enc(s, c);
		else if (s->mode == SK_QUERY)
			sk_q(s, (const char *)&c, 1);
		else
			sk_cell(s, c, 0);
	}
}

/* A back-reference; under [B] the bytes of the rule's set are escaped (space: '+'). */
static void sk_bref(struct rw_sink *s, const char *p, const uint8_t *f, size_t n)
{
	const struct rw_rule *r = s->rule;

	if (!r || !(r->flags & RWF_B)) {
		sk_data(s, p, f, n);
		return;
	}
	for (size_t i = 0; i < n && !s->overflow; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!uri_bset_has(r->bset, c))
			sk_data(s, p + i, f ? f + i : NULL, 1);
		else if (c == ' ' && !(r->flags & RWF_BNP))
			sk_data(s, "+", NULL, 1);
		else
			sk_enc(s, c);
	}
}

/* ---- expansion ---- */

static void rw_expand(struct rw_ctx *ctx, const struct rw_state *st, uint32_t first,
		      uint32_t n, struct rw_sink *s);

static void rw_put_ref(struct rw_sink *s, const struct rw_bref *b, unsigned k)
{
	PCRE2_SIZE so, eo;

	if (k >= b->n)
		return;
	so = b->ov[2 * k];
	eo = b->ov[2 * k + 1];
	if (so == PCRE2_UNSET || eo <= so)
		return;
	sk_bref(s, b->src + so, b->f ? b->f + so : NULL, eo - so);
}

/* SERVER_NAME: the Host's name (UseCanonicalName Off), else the ServerName. */
static void rw_put_server_name(struct rw_ctx *ctx, struct rw_sink *s)
{
	const struct rw_input *in = ctx->in;
	const struct config *cfg = ctx->cfg;
	size_t n = 0;

	if (in->host && in->host_len) {
		const char *end = in->host[0] == '[' ? memchr(in->host, ']', in->host_len) :
				  memchr(in->host, ':', in->host_len);

		n = end ? (size_t)(end - in->host) + (in->host[0] == '[') : in->host_len;
		n = n < sizeof(ctx->sname) ? n : sizeof(ctx->sname) - 1;
		memcpy(ctx->sname, in->host, n);
		uri_tolower(ctx->sname, n);
		sk_data(s, ctx->sname, NULL, n);
	} else if (cfg->scope[ctx->scope].server_name[0]) {
		sk_data(s, cfg->scope[ctx->scope].server_name, NULL,
			strlen(cfg->scope[ctx->scope].server_name));
	} else {
		sk_data(s, cfg->scope[0].server_name, NULL, strlen(cfg->scope[0].server_name));
	}
}

static void rw_put_time(struct rw_sink *s, unsigned v)
{
	time_t now = time(NULL);
	struct tm tm;
	char t[32];
	int n;

	localtime_r(&now, &tm);
	switch (v) {
	case RW_V_TIME:
		n = snprintf(t, sizeof(t), "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		break;
	case RW_V_TIME_YEAR: n = snprintf(t, sizeof(t), "%04d", tm.tm_year + 1900); break;
	case RW_V_TIME_MON: n = snprintf(t, sizeof(t), "%02d", tm.tm_mon + 1); break;
	case RW_V_TIME_DAY: n = snprintf(t, sizeof(t), "%02d", tm.tm_mday); break;
	case RW_V_TIME_HOUR: n = snprintf(t, sizeof(t), "%02d", tm.tm_hour); break;
	case RW_V_TIME_MIN: n = snprintf(t, sizeof(t), "%02d", tm.tm_min); break;
	case RW_V_TIME_SEC: n = snprintf(t, sizeof(t), "%02d", tm.tm_sec); break;
	default: n = snprintf(t, sizeof(t), "%d", tm.tm_wday); break;
	}
	sk_data(s, t, NULL, n > 0 ? (size_t)n : 0);
}

static void rw_put_str(struct rw_sink *s, const char *p, size_t n)
{
	sk_data(s, p ? p : "", NULL, p ? n : 0);
}

static void rw_put_var(struct rw_ctx *ctx, const struct rw_state *st, struct rw_sink *s,
		       unsigned v)
{
	const struct rw_input *in = ctx->in;
	const char *sp;
	char num[16];

	switch (v) {
	case RW_V_HTTP_HOST: rw_put_str(s, in->host, in->host_len); break;
	case RW_V_REQUEST_URI: sk_data(s, ctx->orig.b, ctx->orig.f, ctx->orig.len); break;
	case RW_V_QUERY_STRING: sk_wire(s, st->query, st->has_query ? st->qlen : 0); break;
	case RW_V_THE_REQUEST: sk_wire(s, in->request_line ? in->request_line : "",
				       in->request_line ? in->request_line_len : 0); break;
	case RW_V_REQUEST_METHOD: rw_put_str(s, in->method, in->method_len); break;
	case RW_V_REQUEST_SCHEME: sk_data(s, in->https ? "https" : "http", NULL, 4 + in->https); break;
	case RW_V_SERVER_PROTOCOL:
		sp = in->request_line ? memrchr(in->request_line, ' ', in->request_line_len) : NULL;
		if (sp)
			sk_data(s, sp + 1, NULL, in->request_line_len -
				(size_t)(sp + 1 - in->request_line));
		break;
	case RW_V_REMOTE_ADDR: rw_put_str(s, in->remote_addr, in->remote_addr_len); break;
	case RW_V_REMOTE_PORT:
	case RW_V_SERVER_PORT:
		snprintf(num, sizeof(num), "%u", v == RW_V_REMOTE_PORT ? in->remote_port :
			 in->server_port);
		sk_data(s, num, NULL, strlen(num));
		break;
	case RW_V_SERVER_NAME: rw_put_server_name(ctx, s); break;
	case RW_V_SERVER_SOFTWARE: sk_data(s, "spliced", NULL, 7); break;
	case RW_V_REQUEST_FILENAME: sk_data(s, st->cur->b, st->cur->f, st->cur->len); break;
	case RW_V_HTTPS: sk_data(s, in->https ? "on" : "off", NULL, in->https ? 2 : 3); break;
	case RW_V_IS_SUBREQ: sk_data(s, "false", NULL, 5); break;
	case RW_V_IPV6:
		sp = in->remote_addr && memchr(in->remote_addr, ':', in->remote_addr_len) ? "on" : "off";
		sk_data(s, sp, NULL, strlen(sp));
		break;
	case RW_V_TIME ... RW_V_TIME_WDAY: rw_put_time(s, v); break;
	case RW_V_DOCUMENT_ROOT:
		sk_data(s, ctx->cfg->document_root, NULL, strlen(ctx->cfg->document_root));
		break;
	default: break;  /* RW_V_EMPTY */
	}
}

static void rw_put_header(struct rw_ctx *ctx, struct rw_sink *s, const char *name, size_t n)
{
	const struct rw_input *in = ctx->in;
	const char *v = NULL;
	size_t vlen = 0;

	if (n == 4 && strncasecmp(name, "host", 4) == 0) {
		rw_put_str(s, in->host, in->host_len);
		return;
	}
	if (in->header)
		v = in->header(in->opaque, name, n, &vlen);
	rw_put_str(s, v, vlen);
}

static bool rw_txt_find(const struct rw_prog *p, const struct rw_map *m, const char *key,
			size_t klen, const char **val, size_t *vlen)
{
	uint32_t lo = m->first, hi = m->first + m->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct rw_ment *e = &p->ment[mid];
		size_t n = e->key_len < klen ? e->key_len : klen;
		int c = memcmp(p->str + e->key_off, key, n);

		if (c == 0 && e->key_len != klen)
			c = e->key_len < klen ? -1 : 1;
		if (c == 0) {
			*val = p->str + e->val_off;
			*vlen = e->val_len;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* int:unescape: "%XX" decoded, anything else (and "%00") as it is. */
static void rw_put_unescaped(struct rw_sink *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !s->overflow; i++) {
		char c = p[i];

		if (uri_is_pct(p + i, n - i) && !(p[i + 1] == '0' && p[i + 2] == '0')) {
			c = (char)(uri_hexval((unsigned char)p[i + 1]) << 4 |
				   uri_hexval((unsigned char)p[i + 2]));
			i += 2;
		}
		sk_data(s, &c, NULL, 1);
	}
}

/* ${map:key|default}. The key is expanded into ctx->key[depth] first. */
static void rw_put_map(struct rw_ctx *ctx, const struct rw_state *st, uint32_t i,
		       struct rw_sink *s)
{
	const struct rw_prog *p = ctx->p;
	const struct rw_tok *t = &p->tok[i];
	const struct rw_map *m = &p->map[t->map];
	unsigned d = ctx->depth;
	struct rw_sink k = { .mode = SK_PLAIN, .rule = s->rule, .cap = RW_PATH_MAX };
	const char *val;
	size_t vlen;

	if (d >= RW_MAP_DEPTH) {
		s->overflow = true;
		return;
	}
	k.b = ctx->key[d];
	k.f = ctx->keyf[d];
	ctx->depth++;
	rw_expand(ctx, st, i + 1, t->keyspan, &k);
	ctx->depth--;
	if (k.overflow) {
		s->overflow = true;
		return;
	}
	switch (m->type) {
	case RW_MAP_ESCAPE: sk_escaped(s, k.b, k.f, k.len); return;
	case RW_MAP_UNESCAPE: rw_put_unescaped(s, k.b, k.len); return;
	case RW_MAP_TOLOWER: uri_tolower(k.b, k.len); sk_data(s, k.b, k.f, k.len); return;
	case RW_MAP_TOUPPER: uri_toupper(k.b, k.len); sk_data(s, k.b, k.f, k.len); return;
	}
	if (rw_txt_find(p, m, k.b, k.len, &val, &vlen)) {
		RW_TRACE(ctx, 5, "map lookup OK: map=%s key=%.*s -> val=%.*s", m->name,
			 (int)k.len, k.b, (int)vlen, val);
		sk_text(s, val, vlen, true);
	} else {
		RW_TRACE(ctx, 5, "map lookup FAILED: map=%s key=%.*s", m->name, (int)k.len, k.b);
		if (t->has_default)
			rw_expand(ctx, st, i + 1 + t->keyspan, t->span - 1 - t->keyspan, s);
	}
}

static void rw_expand(struct rw_ctx *ctx, const struct rw_state *st, uint32_t first,
		      uint32_t n, struct rw_sink *s)
{
	const struct rw_prog *p = ctx->p;

	for (uint32_t i = first; i < first + n && !s->overflow; i += p->tok[i].span) {
		const struct rw_tok *t = &p->tok[i];

		switch (t->type) {
		case RW_TK_TEXT: sk_text(s, p->str + t->off, t->len, true); break;
		case RW_TK_QUOTED: sk_text(s, p->str + t->off, 1, false); break;
		case RW_TK_RULEREF: rw_put_ref(s, &ctx->rref, t->arg); break;
		case RW_TK_CONDREF: rw_put_ref(s, &ctx->cref, t->arg); break;
		case RW_TK_VAR: rw_put_var(ctx, st, s, t->arg); break;
		case RW_TK_HEADER: rw_put_header(ctx, s, p->str + t->off, t->len); break;
		case RW_TK_MAP: rw_put_map(ctx, st, i, s); break;
		}
	}
}

/* ---- matching ---- */

/* 1 when `re` matches subj[0..len); *b (if not NULL) gets the back-references. A match
 * error (the backtracking limit) counts as no match, as in httpd. */
static int rw_match(struct rw_ctx *ctx, const pcre2_code *re, const char *subj, size_t len,
		    struct rw_bref *b, const uint8_t *f)
{
	int rc = pcre2_match(re, (PCRE2_SPTR)subj, len, 0, 0, ctx->md, ctx->mctx);
	uint32_t n;

	if (rc < 0) {
		if (rc != PCRE2_ERROR_NOMATCH)
			RW_TRACE(ctx, 1, "pattern match failed (PCRE2 error %d): no match", rc);
		return 0;
	}
	if (b) {
		n = rc == 0 || rc > RW_NBACKREF ? RW_NBACKREF : (uint32_t)rc;  /* 0: more groups */
		memcpy(b->ov, pcre2_get_ovector_pointer(ctx->md), 2 * n * sizeof(PCRE2_SIZE));
		b->n = n;
		b->src = subj;
		b->f = f;
	}
	return 1;
}

/* ---- conditions ---- */

/* httpd's compare_lexicography(): a longer string is greater, then bytes; with [NC] it
 * is strcasecmp(). */
static int rw_strcmp(const char *a, size_t al, const char *b, size_t bl, bool nocase)
{
	size_t n = al < bl ? al : bl;
	int c = nocase ? strncasecmp(a, b, n) : 0;

	if (nocase)
		return c ? c : (al > bl) - (al < bl);
	if (al != bl)
		return al > bl ? 1 : -1;
	c = memcmp(a, b, n);
	return (c > 0) - (c < 0);
}

static bool rw_fs_stat(int dirfd, const char *rel, uint8_t op)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd = dirfd < 0 ? -1 : (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	struct stat sb;
	bool ok;

	if (fd < 0)
		return false;
	ok = fstat(fd, &sb) == 0 &&
	     (op == RW_OP_DIR ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode)) &&
	     (op != RW_OP_SIZE || sb.st_size > 0);
	close(fd);
	return ok;
}

/* -f -d -s: only beneath a file root, resolved with RESOLVE_BENEATH, never elsewhere. */
static bool rw_fs_test(struct rw_ctx *ctx, char *path, size_t len, uint8_t op)
{
	const struct config *cfg = ctx->cfg;
	ssize_t n = len && path[0] == '/' ? uri_normalize(path, len, NULL, URI_MERGE_SLASHES) : -1;

	if (n < 0 || memchr(path, '\0', (size_t)n))
		return false;
	path[n] = '\0';
	for (unsigned r = 0; r < cfg->nroot; r++) {
		const char *root = cfg->file_root[r], *rel;
		size_t rl = strlen(root);

		if (rl == 1)
			rel = path + 1;
		else if ((size_t)n >= rl && memcmp(path, root, rl) == 0 &&
			 (path[rl] == '/' || path[rl] == '\0'))
			rel = path + rl + (path[rl] == '/');
		else
			continue;
		return rw_fs_stat(ctx->root_fd[r], *rel ? rel : ".", op);
	}
	return false;
}

static bool rw_cond_test(struct rw_ctx *ctx, const struct rw_cond *c, char *buf, size_t len)
{
	const char *arg = ctx->p->str + c->arg_off;
	struct rw_bref b;
	int64_t v;
	int cmp;

	switch (c->op) {
	case RW_OP_REGEX:
		if (!rw_match(ctx, c->re, buf, len, &b, NULL))
			return false;
		if (!c->negate) {  /* %N: the last condition that matched, not a negated one */
			ctx->cref = b;
			ctx->test_cur ^= 1;
		}
		return true;
	case RW_OP_FILE:
	case RW_OP_DIR:
	case RW_OP_SIZE:
		return rw_fs_test(ctx, buf, len, c->op);
	case RW_OP_INT_LT ... RW_OP_INT_GE:
		v = rw_atoi(buf, len);
		return c->op == RW_OP_INT_LT ? v < c->num : c->op == RW_OP_INT_LE ? v <= c->num :
		       c->op == RW_OP_INT_EQ ? v == c->num : c->op == RW_OP_INT_GT ? v > c->num :
		       v >= c->num;
	}
	cmp = rw_strcmp(buf, len, arg, c->arg_len, c->nocase);
	return c->op == RW_OP_STR_LT ? cmp < 0 : c->op == RW_OP_STR_LE ? cmp <= 0 :
	       c->op == RW_OP_STR_EQ ? cmp == 0 : c->op == RW_OP_STR_GT ? cmp > 0 : cmp >= 0;
}

static bool rw_cond(struct rw_ctx *ctx, const struct rw_state *st, const struct rw_cond *c)
{
	char *buf = ctx->test[ctx->test_cur];
	struct rw_sink s = { .mode = SK_PLAIN, .b = buf, .cap = RW_PATH_MAX - 1 };
	bool ok;

	rw_expand(ctx, st, c->test.first, c->test.n, &s);
	buf[s.len] = '\0';
	if (s.overflow) {
		RW_TRACE(ctx, 4, "RewriteCond: TestString longer than %d bytes => not-matched",
			 RW_PATH_MAX - 1);
		return false;
	}
	ok = rw_cond_test(ctx, c, buf, s.len) != c->negate;
	RW_TRACE(ctx, 4, "RewriteCond: input='%s' pattern='%s'%s => %s (line %u)", buf,
		 ctx->p->str + c->pat_off, c->nocase ? " [NC]" : "", ok ? "matched" : "not-matched",
		 c->line);
	return ok;
}

/* All conditions of a rule, [OR] groups as httpd evaluates them; a group that ends the
 * list without one true member fails (httpd would let the rule apply). */
static bool rw_conds(struct rw_ctx *ctx, const struct rw_state *st, const struct rw_rule *r)
{
	const struct rw_cond *c;
	bool open_or = false;

	if (r->ncond == 0)
		return true;  /* and p->cond may be NULL */
	c = ctx->p->cond + r->cond_first;
	for (uint32_t i = 0; i < r->ncond; i++) {
		bool ok = rw_cond(ctx, st, &c[i]);

		if (!ok && !c[i].ornext)
			return false;
		open_or = !ok;   /* a false [OR] member: the next one decides */
		if (ok && c[i].ornext)
			while (i < r->ncond && c[i].ornext)  /* skip the rest of the group */
				i++;
	}
	return !open_or;
}

/* ---- substitution ---- */

/* The query after a substitution, as httpd's splitout_queryargs(). */
static bool rw_query(struct rw_state *st, const struct rw_rule *r, struct rw_sink *s)
{
	bool keep = st->has_query && !(r->flags & RWF_QSD);
	uint32_t n = s->qlen;

	if (!s->qseen || ((r->flags & RWF_QSA) && n == 0)) {
		st->has_query = keep;
		return true;
	}
	if ((r->flags & RWF_QSA) && keep) {
		if (1 + st->qlen > s->qcap - n)
			return false;
		s->q[n++] = '&';
		memcpy(s->q + n, st->query, st->qlen);
		n += st->qlen;
	}
	if (n > 0 && s->q[n - 1] == '&')
		n--;
	st->query = s->q;
	st->qlen = n;
	st->has_query = n > 0;
	return true;
}

/* "http://" or "https://" at the start of the cells (the configuration's or data, but not
 * escaped bytes); 0 otherwise. */
static uint32_t rw_scheme(const struct rw_cells *c)
{
	uint32_t n = c->len >= 8 && strncasecmp(c->b, "https://", 8) == 0 ? 8 :
		     c->len >= 7 && strncasecmp(c->b, "http://", 7) == 0 ? 7 : 0;

	for (uint32_t i = 0; i < n; i++)
		if (c->f[i] & URI_ESC)
			return 0;
	return n;
}

static bool rw_host_is(const char *h, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(h, name, n) == 0;
}

/* httpd's reduce_uri(): an absolute URL naming this server (the Host's name, or a name
 * of the virtual host) and its port is a local URL-path. */
static bool rw_reduce(struct rw_ctx *ctx, struct rw_state *st, uint32_t sl)
{
	const struct cfg_scope *sc = &ctx->cfg->scope[ctx->scope];
	const struct rw_input *in = ctx->in;
	struct rw_cells *c = st->cur;
	const char *h = c->b + sl, *colon = memchr(h, ':', st->prefix_len - sl);
	size_t hl = colon ? (size_t)(colon - h) : st->prefix_len - sl;
	int64_t port = colon ? rw_atoi(colon + 1, (size_t)(c->b + st->prefix_len - colon - 1))
			     : sl == 8 ? 443 : 80;
	bool same = in->host && hl <= in->host_len && strncasecmp(h, in->host, hl) == 0 &&
		    (hl == in->host_len || in->host[hl] == ':');

	if (hl == 0 || h[0] == '[' || port != in->server_port || (sl == 8) != in->https)
		return false;
	same |= rw_host_is(h, hl, sc->server_name) || rw_host_is(h, hl, ctx->cfg->scope[0].server_name);
	for (uint32_t i = 0; i < sc->nname && !same; i++)
		same = rw_host_is(h, hl, ctx->cfg->vname[sc->name_first + i].name);
	if (!same)
		return false;
	memmove(c->b, c->b + st->prefix_len, c->len - st->prefix_len);
	memmove(c->f, c->f + st->prefix_len, c->len - st->prefix_len);
	c->len -= st->prefix_len;
	st->prefix_len = 0;
	if (c->len == 0) {
		c->b[0] = '/';
		c->f[0] = 0;
		c->len = 1;
	}
	return true;
}

/* [R] on a local path: httpd qualifies it with this server's name, so later rules see
 * "http://host/path"; the Location stays the path. */
static bool rw_qualify(struct rw_ctx *ctx, struct rw_state *st)
{
	struct rw_cells *c = st->cur;
	char pre[CFG_NAME_MAX + 16];
	const char *h = ctx->in->host ? ctx->in->host : ctx->cfg->scope[ctx->scope].server_name;
	size_t hl = ctx->in->host ? ctx->in->host_len : strlen(h);
	int n = snprintf(pre, sizeof(pre), "%s://%.*s%s", ctx->in->https ? "https" : "http",
			 (int)(hl < CFG_NAME_MAX ? hl : 0), h,
			 c->len && c->b[0] == '/' ? "" : "/");

	if (n < 0 || (size_t)n + c->len > RW_PATH_MAX)
		return false;
	memmove(c->b + n, c->b, c->len);
	memmove(c->f + n, c->f, c->len);
	memcpy(c->b, pre, (size_t)n);
	memset(c->f, 0, (size_t)n);
	c->len += (uint32_t)n;
	st->prefix_len = (uint32_t)n - (pre[n - 1] == '/');
	st->local_prefix = true;
	return true;
}

/* After a substitution: an absolute URL (a redirect, unless it names this server), or a
 * local path that [R] turns into one. */
static void rw_absolute(struct rw_ctx *ctx, struct rw_state *st, int ri)
{
	const struct rw_rule *r = &ctx->p->rule[ri];
	struct rw_cells *c = st->cur;
	uint32_t sl = rw_scheme(c), e = sl;

	if (sl) {
		while (e < c->len && !(c->b[e] == '/' && !(c->f[e] & URI_ESC)))
			e++;
		st->prefix_len = e;
		if (!(r->flags & RWF_REDIRECT) && rw_reduce(ctx, st, sl)) {
			RW_TRACE(ctx, 3, "reduce to local path %.*s", (int)c->len, c->b);
			return;
		}
		st->redirect = r->status;
		RW_TRACE(ctx, 2, "%s forcing redirect with %.*s", r->flags & RWF_REDIRECT ?
			 "explicitly" : "implicitly", (int)c->len, c->b);
	} else if (r->flags & RWF_REDIRECT) {
		if (!rw_qualify(ctx, st)) {
			rw_fail(ctx, st, ri, 500, "the redirect is longer than %d bytes", RW_PATH_MAX);
			return;
		}
		st->redirect = r->status;
		RW_TRACE(ctx, 2, "explicitly forcing redirect with %.*s", (int)c->len, c->b);
	}
}

static void rw_subst(struct rw_ctx *ctx, struct rw_state *st, int ri)
{
	const struct rw_rule *r = &ctx->p->rule[ri];
	struct rw_cells *next = st->cur == &ctx->cells[0] ? &ctx->cells[1] : &ctx->cells[0];
	struct rw_sink s = {
		.mode = SK_PATH, .split = true, .ne = r->flags & RWF_NE, .rule = r,
		.b = next->b, .f = next->f, .cap = RW_PATH_MAX,
		.q = st->query == ctx->qbuf[0] ? ctx->qbuf[1] : ctx->qbuf[0], .qcap = RW_PATH_MAX,
	};

	rw_expand(ctx, st, r->sub.first, r->sub.n, &s);
	if (s.overflow || !rw_query(st, r, &s)) {
		rw_fail(ctx, st, ri, 500, "the substitution is longer than %d bytes", RW_PATH_MAX);
		return;
	}
	next->len = s.len;
	RW_TRACE(ctx, 2, "rewrite '%.*s' -> '%.*s%s%.*s'", (int)st->cur->len, st->cur->b,
		 (int)next->len, next->b, st->has_query ? "?" : "",
		 (int)(st->has_query ? st->qlen : 0), st->query);
	st->cur = next;
	st->changed = true;
	st->prefix_len = 0;
	st->local_prefix = false;
	st->root = -1;
	if (r->flags & RWF_PROXY) {
		st->proxy = true;
		st->backend = r->backend;
	} else if (r->root >= 0) {
		st->root = r->root;
		st->root_len = r->root_len;
	} else {
		rw_absolute(ctx, st, ri);
	}
}

/* ---- rules ---- */

static bool rw_rule(struct rw_ctx *ctx, struct rw_state *st, uint32_t ri)
{
	const struct rw_rule *r = &ctx->p->rule[ri];
	bool neg = r->flags & RWF_NEGATE;

	RW_TRACE(ctx, 3, "applying pattern '%s' to uri '%.*s' (line %u)", ctx->p->str + r->pat_off,
		 (int)st->cur->len, st->cur->b, r->line);
	if (rw_match(ctx, r->re, st->cur->b, st->cur->len, &ctx->rref, st->cur->f) == neg)
		return false;
	if (neg)
		ctx->rref.n = 0;
	ctx->cref.n = 0;
	if (!rw_conds(ctx, st, r))
		return false;
	st->rule = (int)ri;
	if (r->flags & RWF_STATUS) {
		st->status = r->status;
		RW_TRACE(ctx, 2, "forcing responsecode %u for %.*s", r->status, (int)st->cur->len,
			 st->cur->b);
	} else if (!(r->flags & RWF_NOSUB)) {
		rw_subst(ctx, st, (int)ri);
	}
	return true;
}

/* One pass over the list; true when [N] asks for another. */
static bool rw_pass(struct rw_ctx *ctx, struct rw_state *st, const uint32_t *list, uint32_t n,
		    uint32_t *round)
{
	const struct rw_prog *p = ctx->p;

	for (uint32_t i = 0; i < n; i++) {
		const struct rw_rule *r = &p->rule[list[i]];

		if (!rw_rule(ctx, st, list[i])) {
			while (i < n && (p->rule[list[i]].flags & RWF_CHAIN))  /* skip the chain */
				i++;
			continue;
		}
		if (st->status)
			return false;
		if (r->flags & RWF_PT) {
			st->pt = st->changed = true;
			return false;
		}
		if (r->flags & (RWF_END | RWF_LAST | RWF_PROXY))
			return false;
		if (r->flags & RWF_NEXT) {
			if (++*round < r->max_rounds)
				return true;
			rw_fail(ctx, st, (int)list[i], 500, "more than %u rounds of [N]",
				r->max_rounds);
			return false;
		}
		i += r->skip < n - i ? r->skip : n - i;
	}
	return false;
}

/* ---- results ---- */

struct rw_w {
	char *d;
	size_t cap, len;
	bool full;
};

static void w_put(struct rw_w *w, const char *p, size_t n)
{
	if (w->full || n + 1 > w->cap - w->len) {  /* keeps a byte for the NUL */
		w->full = true;
		return;
	}
	memcpy(w->d + w->len, p, n);
	w->len += n;
}

/* Cells as an escaped path: once, here. */
static void w_cells(struct rw_w *w, const char *b, const uint8_t *f, size_t n)
{
	for (size_t i = 0; i < n && !w->full; i++) {
		unsigned char c = (unsigned char)b[i];
		char t[3];

		if ((f[i] & RW_RAW) || (!(f[i] & URI_ESC) && uri_is(c, URI_C_PATH))) {
			w_put(w, (const char *)&c, 1);
		} else {
			uri_pct(t, c);
			w_put(w, t, 3);
		}
	}
}

static void w_query(struct rw_w *w, const struct rw_state *st)
{
	if (st->has_query) {
		w_put(w, "?", 1);
		w_put(w, st->query, st->qlen);
	}
}

/* The local path of cells [from, len): normalised (dots, "//"), escaped, with the query.
 * -1 when it does not start with '/' and `add_slash` is false, or climbs above "/". */
static int rw_out_local(struct rw_state *st, uint32_t from, bool add_slash, struct rw_w *w,
			size_t *path_len)
{
	struct rw_cells *c = st->cur;
	ssize_t n;

	if ((c->len == from || c->b[from] != '/' || (c->f[from] & URI_ESC)) && !add_slash)
		return -1;
	if (c->len == from || c->b[from] != '/' || (c->f[from] & URI_ESC)) {
		memmove(c->b + from + 1, c->b + from, c->len - from);
		memmove(c->f + from + 1, c->f + from, c->len - from);
		c->b[from] = '/';
		c->f[from] = 0;
		c->len++;
	}
	if ((n = uri_normalize(c->b + from, c->len - from, c->f + from, URI_MERGE_SLASHES)) < 0)
		return -1;
	c->len = from + (uint32_t)n;
	w_cells(w, c->b + from, c->f + from, c->len - from);
	*path_len = w->len;
	w_query(w, st);
	return 0;
}

static void rw_out_proxy(struct rw_ctx *ctx, struct rw_state *st, struct rw_w *w,
			 struct rw_result *out)
{
	if (rw_out_local(st, 0, true, w, &out->path_len) < 0) {
		rw_fail(ctx, st, st->rule, 500, "the proxied path climbs above \"/\"");
		return;
	}
	if (!w->full && !uri_target_valid(w->d, w->len)) {
		rw_fail(ctx, st, st->rule, 500, "[NE] made an invalid request-target");
		return;
	}
	out->kind = RW_PROXY;
	out->backend = (int16_t)st->backend;
}

static void rw_out_url(struct rw_ctx *ctx, struct rw_state *st, struct rw_w *w,
		       struct rw_result *out)
{
	if (st->cur == &ctx->orig) {  /* [PT] without a substitution: the path as received */
		w_put(w, ctx->in->path, ctx->in->path_len);
		out->path_len = w->len;
		w_query(w, st);
	} else if (rw_out_local(st, 0, false, w, &out->path_len) < 0) {
		st->status = 400;   /* httpd: a local result must be an absolute path */
		RW_TRACE(ctx, 1, "local path result is not an absolute path: status 400");
		return;
	}
	if (!w->full && !uri_target_valid(w->d, w->len)) {
		rw_fail(ctx, st, st->rule, 500, "[NE] made an invalid URL");
		return;
	}
	out->kind = RW_URL;
	out->passthrough = st->pt;
}

/* "scheme://authority" of an absolute URL, checked byte by byte. */
static bool rw_authority_ok(const struct rw_cells *c, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++)
		if ((c->f[i] & URI_ESC) || !(uri_is((unsigned char)c->b[i], URI_C_PATH) ||
					     c->b[i] == '[' || c->b[i] == ']') || c->b[i] == '/')
			return false;
	return to > from;
}

static void rw_out_redirect(struct rw_ctx *ctx, struct rw_state *st, struct rw_w *w,
			    struct rw_result *out)
{
	struct rw_cells *c = st->cur;
	uint32_t sl = rw_scheme(c);

	if (st->local_prefix) {
		if (rw_out_local(st, st->prefix_len, true, w, &out->path_len) < 0) {
			rw_fail(ctx, st, st->rule, 500, "the redirect climbs above \"/\"");
			return;
		}
	} else {
		if (!rw_authority_ok(c, sl, st->prefix_len)) {
			rw_fail(ctx, st, st->rule, 500, "bad host in the redirect URL");
			return;
		}
		w_put(w, c->b, st->prefix_len);
		if (c->len == st->prefix_len && st->has_query)
			w_put(w, "/", 1);
		w_cells(w, c->b + st->prefix_len, c->f + st->prefix_len, c->len - st->prefix_len);
		out->path_len = w->len;
		w_query(w, st);
	}
	if (!w->full && !uri_location_valid(w->d, w->len)) {
		rw_fail(ctx, st, st->rule, 500, "[NE] made an invalid Location");
		return;
	}
	out->kind = RW_REDIRECT;
	out->status = st->redirect ? st->redirect : 302;
}

static void rw_out_file(struct rw_ctx *ctx, struct rw_state *st, struct rw_w *w,
			struct rw_result *out)
{
	struct rw_cells *c = st->cur;
	char *b = c->b + st->root_len;
	size_t n = c->len - st->root_len;
	ssize_t m = n && b[0] == '/' && !memchr(b, '\0', n) ?
		    uri_normalize(b, n, NULL, URI_MERGE_SLASHES) : -1;

	if (m < 0) {  /* "..%2F.." would leave the root: as if the file did not exist */
		st->status = 404;
		RW_TRACE(ctx, 1, "file path leaves its root %s: status 404",
			 ctx->cfg->file_root[st->root]);
		return;
	}
	w_put(w, b + 1, (size_t)m - 1);
	out->kind = RW_FILE;
	out->root = (int16_t)st->root;
}

static void rw_trace_result(struct rw_ctx *ctx, const struct rw_result *out)
{
	const struct config *cfg = ctx->cfg;

	switch (out->kind) {
	case RW_PROXY:
		RW_TRACE(ctx, 1, "go-ahead with proxy request %s%s [OK]",
			 config_target_name(cfg, out->backend), out->out);
		break;
	case RW_REDIRECT:
		RW_TRACE(ctx, 1, "redirect to %s [REDIRECT/%u]", out->out, out->status);
		break;
	case RW_FILE:
		RW_TRACE(ctx, 1, "go-ahead with file %s under %s [OK]", out->out,
			 cfg->file_root[out->root]);
		break;
	case RW_URL:
		RW_TRACE(ctx, 1, "local path result: %s%s", out->out,
			 out->passthrough ? " [PT]" : "");
		break;
	case RW_STATUS:
		RW_TRACE(ctx, 1, "answer with status %u", out->status);
		break;
	case RW_NONE:
		RW_TRACE(ctx, 1, "pass through %.*s", (int)ctx->in->path_len, ctx->in->path);
		break;
	}
}

static void rw_result(struct rw_ctx *ctx, struct rw_state *st, struct rw_result *out)
{
	const struct rw_input *in = ctx->in;
	struct rw_w w = { .d = in->dst ? in->dst : ctx->out,
			  .cap = in->dst ? in->dst_cap : sizeof(ctx->out) };

	if (!st->status) {
		if (st->proxy)
			rw_out_proxy(ctx, st, &w, out);
		else if (st->prefix_len)
			rw_out_redirect(ctx, st, &w, out);
		else if (st->root >= 0)
			rw_out_file(ctx, st, &w, out);
		else if (st->changed)
			rw_out_url(ctx, st, &w, out);
	}
	if (!st->status && w.full)
		rw_fail(ctx, st, st->rule, 500, "the result does not fit in %zu bytes", w.cap);
	if (st->status) {
		out->kind = RW_STATUS;
		out->status = st->status;
		out->backend = out->root = -1;
	} else if (out->kind != RW_NONE) {
		w.d[w.len] = '\0';
		out->out = w.d;
		out->out_len = w.len;
	}
	out->rule = out->kind == RW_NONE ? -1 : st->rule;
	if (out->kind != RW_STATUS && out->kind != RW_REDIRECT)
		out->status = 0;
	rw_trace_result(ctx, out);
}

/* ---- the decision ---- */

static bool rw_engine_on(const struct config *cfg, unsigned s)
{
	int e = cfg->scope[s].rewrite_engine;

	if (e < 0 && s > 0)
		e = cfg->scope[0].rewrite_engine;
	return e > 0;
}

static unsigned rw_trace_level(const struct rw_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	int t = cfg->scope[ctx->scope].rewrite_trace;

	if (!ctx->trace)
		return 0;
	if (ctx->trace_force)
		return ctx->trace_force;
	if (t < 0)
		t = cfg->scope[0].rewrite_trace;
	return t > 0 ? (unsigned)t : 0;
}

/* The request's path, decoded and normalised, is the first subject. */
static int rw_start(struct rw_ctx *ctx, struct rw_state *st)
{
	const struct rw_input *in = ctx->in;
	ssize_t n;

	memset(st, 0, sizeof(*st));
	st->cur = &ctx->orig;
	st->query = in->query ? in->query : "";
	st->qlen = in->query ? (uint32_t)in->query_len : 0;
	st->has_query = in->has_query && in->query;
	st->root = st->backend = st->rule = -1;
	ctx->rref.n = ctx->cref.n = 0;
	ctx->test_cur = ctx->depth = 0;
	if (in->path_len > RW_PATH_MAX) {
		st->status = 414;
		return -1;
	}
	n = uri_decode(in->path, in->path_len, ctx->orig.b, RW_PATH_MAX, ctx->orig.f);
	if (n >= 0 && !memchr(ctx->orig.b, '\0', (size_t)n))
		n = uri_normalize(ctx->orig.b, (size_t)n, ctx->orig.f, URI_MERGE_SLASHES);
	else
		n = -1;
	if (n < 0 || in->query_len > UINT32_MAX) {
		st->status = 400;
		RW_TRACE(ctx, 1, "bad path %.*s: status 400", (int)in->path_len, in->path);
		return -1;
	}
	ctx->orig.len = (uint32_t)n;
	RW_TRACE(ctx, 2, "init rewrite engine with requested uri %.*s", (int)n, ctx->orig.b);
	return 0;
}

int rw_apply(const struct config *cfg, struct rw_ctx *ctx, const struct rw_input *in,
	     struct rw_result *out)
{
	const struct rw_prog *p;
	struct rw_state st;
	uint32_t round = 1;

	if (!cfg || !ctx || !in || !out || cfg != ctx->cfg)
		return -EINVAL;
	p = &cfg->rw;
	memset(out, 0, sizeof(*out));
	out->backend = out->root = -1;
	out->rule = -1;
	out->scope = (uint16_t)config_vhost(cfg, in->host, in->host ? in->host_len : 0,
					    in->server_port);
	ctx->in = in;
	ctx->scope = out->scope;
	ctx->tlevel = rw_trace_level(ctx);
	if (out->scope >= p->nscope || p->ln[out->scope] == 0 || !rw_engine_on(cfg, out->scope) ||
	    !in->path || in->path_len == 0 || in->path[0] != '/')
		return 0;  /* also "*" and CONNECT targets: not URL-paths, as httpd declines */
	if (rw_start(ctx, &st) == 0)
		while (rw_pass(ctx, &st, p->list + p->lfirst[out->scope], p->ln[out->scope], &round))
			;
	rw_result(ctx, &st, out);
	return 0;
}

const char *rw_kind_name(enum rw_kind kind)
{
	static const char *const names[] = { "none", "url", "proxy", "file", "redirect", "status" };

	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* ---- the context ---- */

static bool rw_config_traces(const struct config *cfg)
{
	for (unsigned s = 0; s < cfg->nscope; s++)
		if (cfg->scope[s].rewrite_trace > 0)
			return true;
	return false;
}

struct rw_ctx *rw_ctx_create(const struct config *cfg)
{
	struct rw_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->cfg = cfg;
	ctx->p = &cfg->rw;
	for (unsigned r = 0; r < CFG_MAX_ROOTS; r++)
		ctx->root_fd[r] = -1;
	ctx->md = pcre2_match_data_create(RW_NBACKREF, NULL);
	ctx->mctx = pcre2_match_context_create(NULL);
	ctx->jstack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
	if (!ctx->md || !ctx->mctx || !ctx->jstack) {
		rw_ctx_free(ctx);
		return NULL;
	}
	pcre2_jit_stack_assign(ctx->mctx, NULL, ctx->jstack);
	pcre2_set_match_limit(ctx->mctx, RW_MATCH_LIMIT);
	for (unsigned r = 0; r < cfg->nroot && cfg->rw.has_fs_cond; r++)
		ctx->root_fd[r] = open(cfg->file_root[r], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rw_config_traces(cfg))
		ctx->trace = rw_log_trace;
	return ctx;
}

void rw_ctx_free(struct rw_ctx *ctx)
{
	if (!ctx)
		return;
	for (unsigned r = 0; r < CFG_MAX_ROOTS; r++)
		if (ctx->root_fd[r] >= 0)
			close(ctx->root_fd[r]);
	pcre2_match_data_free(ctx->md);
	pcre2_match_context_free(ctx->mctx);
	pcre2_jit_stack_free(ctx->jstack);
	free(ctx);
}

void rw_ctx_trace(struct rw_ctx *ctx, rw_trace_fn *fn, void *opaque, unsigned level)
{
	ctx->trace = fn;
	ctx->trace_opaque = opaque;
	ctx->trace_force = level > 8 ? 8 : level;
}
