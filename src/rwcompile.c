/* The rewrite compiler: RewriteRule, RewriteCond and RewriteMap lines into struct rw_prog
 * (include/spliced/rewrite-t.h). Runs once, at configuration load; everything that can be
 * decided here (flags, operators, variable names, the backend of [P], whether a
 * substitution is a filesystem path) is, so rw_apply() only matches and expands.
 *
 * Templates follow httpd's do_expand(): "\x" is a literal x, "$N"/"%N" back-references,
 * "%{NAME}" variables, "${map:key|default}" map lookups (key and default are templates
 * themselves); a "${" or "%{" without its closing brace is literal text. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spliced/rewrite.h"
#include "spliced/uri.h"

#define RW_MAX_ITEMS (1u << 24)       /* of any array: a config is never that big */
#define RW_TXT_MAX (16u << 20)        /* a txt: map file */
#define RW_SHOW_MAX 64                /* bytes of a value quoted back in a message */
/* Apache 2.4's default RegexDefaultOptions: DOTALL DOLLAR_ENDONLY */
#define RW_PCRE_OPTS (PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY)

/* ---- messages ---- */

__attribute__((format(printf, 3, 4)))
static int rw_err(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* s[0..len) bounded and without control bytes, for messages. */
static const char *rw_show(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i = 0, n = 0;

	for (; n < len && i + 4 < outlen; n++)
		out[i++] = (unsigned char)s[n] < 0x20 || (unsigned char)s[n] >= 0x7f ? '?' : s[n];
	strcpy(out + i, n < len ? "..." : "");
	return out;
}

static int rw_nomem(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "out of memory");
	return -ENOMEM;
}

/* ---- storage ---- */

static int rw_grow(void **arr, uint32_t *cap, uint64_t need, size_t el)
{
	uint64_t ncap = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return 0;
	if (need > RW_MAX_ITEMS)
		return -ENOMEM;
	while (ncap < need)
		ncap *= 2;
	if (!(n = realloc(*arr, (size_t)ncap * el)))
		return -ENOMEM;
	*arr = n;
	*cap = (uint32_t)ncap;
	return 0;
}

/* Copies s[0..len) into the string pool (NUL-terminated, so traces can print it). */
static int rw_str(struct rw_prog *p, const char *s, size_t len, uint32_t *off)
{
	if (rw_grow((void **)&p->str, &p->capstr, (uint64_t)p->nstr + len + 1, 1) < 0)
		return -ENOMEM;
	memcpy(p->str + p->nstr, s, len);
	p->str[p->nstr + len] = '\0';
	*off = p->nstr;
	p->nstr += (uint32_t)len + 1;
	return 0;
}

static struct rw_tok *rw_tok_new(struct rw_prog *p, uint8_t type)
{
	struct rw_tok *t;

	if (rw_grow((void **)&p->tok, &p->captok, (uint64_t)p->ntok + 1, sizeof(*p->tok)) < 0)
		return NULL;
	t = &p->tok[p->ntok++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->span = 1;
	return t;
}

/* ---- templates ---- */

struct rw_varname {
	const char *name;
	uint8_t var;          /* enum rw_var, or 0 with a header name */
	const char *header;
};

static const struct rw_varname rw_vars[] = {
	{ "HTTP_HOST", RW_V_HTTP_HOST, NULL },
	{ "HTTP_USER_AGENT", 0, "User-Agent" },
	{ "HTTP_REFERER", 0, "Referer" },
	{ "HTTP_COOKIE", 0, "Cookie" },
	{ "HTTP_FORWARDED", 0, "Forwarded" },
	{ "HTTP_PROXY_CONNECTION", 0, "Proxy-Connection" },
	{ "HTTP_ACCEPT", 0, "Accept" },
	{ "REQUEST_URI", RW_V_REQUEST_URI, NULL },
	{ "QUERY_STRING", RW_V_QUERY_STRING, NULL },
	{ "THE_REQUEST", RW_V_THE_REQUEST, NULL },
	{ "REQUEST_METHOD", RW_V_REQUEST_METHOD, NULL },
	{ "REQUEST_SCHEME", RW_V_REQUEST_SCHEME, NULL },
	{ "SERVER_PROTOCOL", RW_V_SERVER_PROTOCOL, NULL },
	{ "REMOTE_ADDR", RW_V_REMOTE_ADDR, NULL },
	{ "REMOTE_HOST", RW_V_REMOTE_ADDR, NULL },        /* no HostnameLookups */
	{ "CONN_REMOTE_ADDR", RW_V_REMOTE_ADDR, NULL },
	{ "REMOTE_PORT", RW_V_REMOTE_PORT, NULL },
	{ "SERVER_PORT", RW_V_SERVER_PORT, NULL },
	{ "SERVER_NAME", RW_V_SERVER_NAME, NULL },
	{ "SERVER_SOFTWARE", RW_V_SERVER_SOFTWARE, NULL },
	{ "SCRIPT_FILENAME", RW_V_REQUEST_FILENAME, NULL },
	{ "REQUEST_FILENAME", RW_V_REQUEST_FILENAME, NULL },
	{ "HTTPS", RW_V_HTTPS, NULL },
	{ "IS_SUBREQ", RW_V_IS_SUBREQ, NULL },
	{ "IPV6", RW_V_IPV6, NULL },
	{ "TIME", RW_V_TIME, NULL },
	{ "TIME_YEAR", RW_V_TIME_YEAR, NULL },
	{ "TIME_MON", RW_V_TIME_MON, NULL },
	{ "TIME_DAY", RW_V_TIME_DAY, NULL },
	{ "TIME_HOUR", RW_V_TIME_HOUR, NULL },
	{ "TIME_MIN", RW_V_TIME_MIN, NULL },
	{ "TIME_SEC", RW_V_TIME_SEC, NULL },
	{ "TIME_WDAY", RW_V_TIME_WDAY, NULL },
	{ "DOCUMENT_ROOT", RW_V_DOCUMENT_ROOT, NULL },
	{ "CONTEXT_DOCUMENT_ROOT", RW_V_DOCUMENT_ROOT, NULL },
};

static bool rw_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* %{name}: a variable, a header (HTTP:Name) or "" (unknown, ENV:, SSL:). LA-U:/LA-F:
 * look-ahead needs subrequests, which do not exist here: the variable's value now. */
static int rw_tpl_var(struct rw_prog *p, const char *s, size_t len)
{
	const struct rw_varname *v = NULL;
	struct rw_tok *t;

	if (len > 5 && (strncasecmp(s, "LA-U:", 5) == 0 || strncasecmp(s, "LA-F:", 5) == 0)) {
		s += 5;
		len -= 5;
	}
	if (len > 5 && strncasecmp(s, "HTTP:", 5) == 0) {
		if (!(t = rw_tok_new(p, RW_TK_HEADER)))
			return -ENOMEM;
		t->len = (uint32_t)len - 5;
		return rw_str(p, s + 5, len - 5, &p->tok[p->ntok - 1].off);
	}
	for (size_t i = 0; i < sizeof(rw_vars) / sizeof(rw_vars[0]) && !v; i++)
		if (rw_is(s, len, rw_vars[i].name))
			v = &rw_vars[i];
	if (v && v->header) {
		if (!(t = rw_tok_new(p, RW_TK_HEADER)))
			return -ENOMEM;
		t->len = (uint32_t)strlen(v->header);
		return rw_str(p, v->header, t->len, &p->tok[p->ntok - 1].off);
	}
	if (!(t = rw_tok_new(p, RW_TK_VAR)))
		return -ENOMEM;
	t->arg = v ? v->var : RW_V_EMPTY;
	return 0;
}

static int rw_tpl_text(struct rw_prog *p, const char *s, size_t len, uint8_t type)
{
	struct rw_tok *t;

	if (len == 0)
		return 0;
	if (!(t = rw_tok_new(p, type)))
		return -ENOMEM;
	t->len = (uint32_t)len;
	return rw_str(p, s, len, &p->tok[p->ntok - 1].off);
}

/* s points after a '{'; the matching '}' before end, or NULL (httpd's find_closing_curly) */
static const char *rw_closing(const char *s, const char *end)
{
	unsigned depth = 1;

	for (; s < end; s++) {
		if (*s == '}' && --depth == 0)
			return s;
		if (*s == '{')
			depth++;
	}
	return NULL;
}

/* c at nesting depth 1 from s (after a '{'), before the closing brace; else NULL */
static const char *rw_in_curlies(const char *s, const char *end, char c)
{
	unsigned depth = 1;

	for (; s < end; s++) {
		if (*s == c && depth == 1)
			return s;
		if (*s == '}' && --depth == 0)
			return NULL;
		if (*s == '{')
			depth++;
	}
	return NULL;
}

static int rw_tpl(struct rw_prog *p, const char *s, size_t len, unsigned depth,
		  uint32_t *ntok, char *msg, size_t msglen);

/* ${name:key|default}, inner = s[0..len) between the braces, colon at s + klen0. */
static int rw_tpl_map(struct rw_prog *p, const char *s, size_t len, const char *colon,
		      unsigned depth, char *msg, size_t msglen)
{
	const char *key = colon + 1, *end = s + len, *bar = rw_in_curlies(key, end, '|');
	uint32_t idx = p->ntok, kn = 0, dn = 0;
	struct rw_tok *t;
	int rc;

	if (depth >= RW_MAP_DEPTH)
		return rw_err(msg, msglen, "maps nested more than %d deep", RW_MAP_DEPTH);
	if (!(t = rw_tok_new(p, RW_TK_MAP)))
		return rw_nomem(msg, msglen);
	t->len = (uint32_t)(colon - s);
	if (rw_str(p, s, t->len, &p->tok[idx].off) < 0)
		return rw_nomem(msg, msglen);
	if ((rc = rw_tpl(p, key, (size_t)((bar ? bar : end) - key), depth + 1, &kn, msg,
			 msglen)) < 0)
		return rc;
	if (bar && (rc = rw_tpl(p, bar + 1, (size_t)(end - bar - 1), depth + 1, &dn, msg,
				msglen)) < 0)
		return rc;
	t = &p->tok[idx];  /* the array may have moved */
	t->keyspan = kn;
	t->has_default = bar != NULL;
	t->span = 1 + kn + dn;
	return 0;
}

/* A "$" or "%" at s[i] that starts something; returns the bytes it took (0: literal). */
static int rw_tpl_special(struct rw_prog *p, const char *s, size_t len, size_t i,
			  unsigned depth, size_t *took, char *msg, size_t msglen)
{
	const char *end, *colon;
	struct rw_tok *t;
	int rc = 0;

	*took = 0;
	if (i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9') {
		if (!(t = rw_tok_new(p, s[i] == '$' ? RW_TK_RULEREF : RW_TK_CONDREF)))
			return rw_nomem(msg, msglen);
		t->arg = (uint8_t)(s[i + 1] - '0');
		*took = 2;
		return 0;
	}
	if (i + 1 >= len || s[i + 1] != '{' || !(end = rw_closing(s + i + 2, s + len)))
		return 0;
	if (s[i] == '%') {
		rc = rw_tpl_var(p, s + i + 2, (size_t)(end - s - i - 2));
	} else {
		if (!(colon = rw_in_curlies(s + i + 2, end + 1, ':')))
			return 0;  /* "${" without "name:" is text, as in httpd */
		rc = rw_tpl_map(p, s + i + 2, (size_t)(end - s - i - 2), colon, depth, msg, msglen);
	}
	if (rc == -ENOMEM)
		return rw_nomem(msg, msglen);
	*took = (size_t)(end - s - i) + 1;
	return rc;
}

/* Compiles s[0..len) into tokens appended to p->tok; *ntok gets how many. */
static int rw_tpl(struct rw_prog *p, const char *s, size_t len, unsigned depth,
		  uint32_t *ntok, char *msg, size_t msglen)
{
	uint32_t start = p->ntok;
	size_t i = 0, lit = 0, took;
	int rc;

	while (i < len) {
		if (s[i] != '\\' && s[i] != '$' && s[i] != '%') {
			i++;
			continue;
		}
		if (s[i] == '\\') {
			bool one = i + 1 < len;

			if (rw_tpl_text(p, s + lit, i - lit, RW_TK_TEXT) < 0 ||
			    rw_tpl_text(p, s + i + one, 1, one ? RW_TK_QUOTED : RW_TK_TEXT) < 0)
				return rw_nomem(msg, msglen);
			i += 1 + one;
			lit = i;
			continue;
		}
		if (rw_tpl_text(p, s + lit, i - lit, RW_TK_TEXT) < 0)
			return rw_nomem(msg, msglen);
		lit = i;
		if ((rc = rw_tpl_special(p, s, len, i, depth, &took, msg, msglen)) < 0)
			return rc;
		i += took ? took : 1;
		if (took)
			lit = i;
	}
	if (rw_tpl_text(p, s + lit, len - lit, RW_TK_TEXT) < 0)
		return rw_nomem(msg, msglen);
	*ntok = p->ntok - start;
	return 0;
}

static int rw_tpl_top(struct rw_prog *p, const char *s, size_t len, struct rw_tpl *out,
		      char *msg, size_t msglen)
{
	out->first = p->ntok;
	return rw_tpl(p, s, len, 0, &out->n, msg, msglen);
}

/* ---- patterns ---- */

static int rw_regex(const char *what, const char *pat, bool nocase,
		    struct pcre2_real_code_8 **out, char *msg, size_t msglen)
{
	PCRE2_UCHAR emsg[256];
	PCRE2_SIZE off;
	char show[RW_SHOW_MAX + 8];
	int ecode;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
				       RW_PCRE_OPTS | (nocase ? PCRE2_CASELESS : 0), &ecode, &off,
				       NULL);

	if (!re) {
		pcre2_get_error_message(ecode, emsg, sizeof(emsg));
		return rw_err(msg, msglen, "bad %s \"%s\": %s at offset %zu", what,
			      rw_show(pat, strlen(pat), show, sizeof(show)), (const char *)emsg,
			      (size_t)off);
	}
	/* JIT when the platform has it; the interpreter otherwise (same results, slower) */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	*out = re;
	return 0;
}

int64_t rw_atoi(const char *s, size_t len)
{
	size_t i = 0;
	int64_t v = 0;
	bool neg = false;

	while (i < len && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
		i++;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (s[i] - '0');
	return neg ? -v : v;
}

/* ---- flags ---- */

typedef int rw_flag_fn(void *obj, const char *k, size_t kl, const char *v, size_t vl,
		       bool hasv, char *msg, size_t msglen);

/* "[flag,flag=value,...]", as httpd's cmd_parseflagfield(): blanks around each flag are
 * ignored, an empty flag is an error. */
static int rw_flags(const char *text, rw_flag_fn *fn, void *obj, char *msg, size_t msglen)
{
	size_t len = strlen(text);
	const char *s, *end;
	char show[RW_SHOW_MAX + 8];

	if (len < 2 || text[0] != '[' || text[len - 1] != ']')
		return rw_err(msg, msglen, "bad flag delimiters in \"%s\": flags are written "
			      "[flag,flag=value]", rw_show(text, len, show, sizeof(show)));
	s = text + 1;
	end = text + len - 1;
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s)), *e = comma ? comma : end;
		const char *eq, *ke;
		int rc;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		eq = memchr(s, '=', (size_t)(e - s));
		ke = eq ? eq : e;
		if (ke == s)
			return rw_err(msg, msglen, "empty flag in \"%s\"",
				      rw_show(text, len, show, sizeof(show)));
		if ((rc = fn(obj, s, (size_t)(ke - s), eq ? eq + 1 : e,
			     eq ? (size_t)(e - eq - 1) : 0, eq != NULL, msg, msglen)) < 0)
			return rc;
		if (!comma)
			break;
		s = comma + 1;
	}
	return 0;
}

static int rw_flag_unknown(const char *k, size_t kl, char *msg, size_t msglen)
{
	char show[RW_SHOW_MAX + 8];

	return rw_err(msg, msglen, "unknown flag \"%s\"", rw_show(k, kl, show, sizeof(show)));
}

static int rw_cond_flag(void *obj, const char *k, size_t kl, const char *v, size_t vl,
			bool hasv, char *msg, size_t msglen)
{
	struct rw_cond *c = obj;

	(void)v;
	(void)vl;
	if (hasv)
		return rw_flag_unknown(k, kl, msg, msglen);
	if (rw_is(k, kl, "NC") || rw_is(k, kl, "nocase"))
		c->nocase = true;
	else if (rw_is(k, kl, "OR") || rw_is(k, kl, "ornext"))
		c->ornext = true;
	else if (!(rw_is(k, kl, "NV") || rw_is(k, kl, "novary")))  /* no Vary to vary */
		return rw_flag_unknown(k, kl, msg, msglen);
	return 0;
}

/* The rule being compiled and the [B]-family settings, combined once all flags are read. */
struct rw_rflags {
	struct rw_rule *r;
	bool b_all, b_list, bctls;
	uint8_t list[32], bne[32];
};

static void rw_bits(uint8_t set[32], const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		set[(unsigned char)s[i] >> 3] |= (uint8_t)(1u << ((unsigned char)s[i] & 7));
}

static int rw_flag_number(const char *name, const char *v, size_t vl, uint32_t min,
			  uint32_t max, uint32_t *out, char *msg, size_t msglen)
{
	uint64_t n = 0;
	char show[RW_SHOW_MAX + 8];

	for (size_t i = 0; i < vl && n <= max; i++) {
		if (v[i] < '0' || v[i] > '9')
			n = (uint64_t)max + 1;
		else
			n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (vl == 0 || n < min || n > max)
		return rw_err(msg, msglen, "flag %s: \"%s\" is not a number in %u..%u", name,
			      rw_show(v, vl, show, sizeof(show)), min, max);
	*out = (uint32_t)n;
	return 0;
}

/* R[=code|permanent|temp|seeother]: 3xx redirects; 4xx/5xx answer the status, as httpd. */
static int rw_flag_redirect(struct rw_rule *r, const char *v, size_t vl, char *msg,
			    size_t msglen)
{
	uint32_t code = 302;
	int rc;

	if (rw_is(v, vl, "permanent"))
		code = 301;
	else if (rw_is(v, vl, "seeother"))
		code = 303;
	else if (vl && !rw_is(v, vl, "temp") &&
		 (rc = rw_flag_number("R", v, vl, 300, 599, &code, msg, msglen)) < 0)
		return rc;
	r->status = (uint16_t)code;
	r->flags |= code < 400 ? RWF_REDIRECT : RWF_STATUS | RWF_NOSUB;
	return 0;
}

/* Flags that take a value: B=, BNE=, R=, S=, N=. */
static int rw_rule_vflag(struct rw_rflags *rf, const char *k, size_t kl, const char *v,
			 size_t vl, bool hasv, char *msg, size_t msglen)
{
	struct rw_rule *r = rf->r;
	uint32_t n;
	int rc;

	if (rw_is(k, kl, "B") || rw_is(k, kl, "backrefescaping")) {
		r->flags |= RWF_B;
		rf->b_all |= !hasv || vl == 0;
		rf->b_list |= hasv && vl > 0;
		rw_bits(rf->list, v, hasv ? vl : 0);
	} else if (rw_is(k, kl, "BNE") && hasv) {
		rw_bits(rf->bne, v, vl);
	} else if (rw_is(k, kl, "R") || rw_is(k, kl, "redirect")) {
		return rw_flag_redirect(r, v, hasv ? vl : 0, msg, msglen);
	} else if (rw_is(k, kl, "S") || rw_is(k, kl, "skip")) {
		if ((rc = rw_flag_number("S", v, vl, 0, 65535, &n, msg, msglen)) < 0)
			return rc;
		r->skip = (uint16_t)n;
	} else if (rw_is(k, kl, "N") || rw_is(k, kl, "next")) {
		r->flags |= RWF_NEXT;
		if (hasv && (rc = rw_flag_number("N", v, vl, 1, 1000000, &r->max_rounds, msg,
						 msglen)) < 0)
			return rc;
	} else {
		return 1;
	}
	return 0;
}

static const struct {
	const char *s, *l;
	uint32_t flags;
	uint16_t status;
} rw_simple_flags[] = {
	{ "L", "last", RWF_LAST, 0 },
	{ "END", NULL, RWF_END, 0 },
	{ "C", "chain", RWF_CHAIN, 0 },
	{ "P", "proxy", RWF_PROXY, 0 },
	{ "PT", "passthrough", RWF_PT, 0 },
	{ "NC", "nocase", RWF_NOCASE, 0 },
	{ "NE", "noescape", RWF_NE, 0 },
	{ "QSA", "qsappend", RWF_QSA, 0 },
	{ "QSD", "qsdiscard", RWF_QSD, 0 },
	{ "BNP", "backrefnoplus", RWF_BNP, 0 },
	{ "BCTLS", NULL, RWF_B, 0 },
	{ "F", "forbidden", RWF_STATUS | RWF_NOSUB, 403 },
	{ "G", "gone", RWF_STATUS | RWF_NOSUB, 410 },
	/* nothing to do here: no subrequests, no PATH_INFO, '?' is always re-escaped */
	{ "NS", "nosubreq", 0, 0 },
	{ "DPI", "discardpath", 0, 0 },
	{ "UnsafeAllow3F", NULL, 0, 0 },
	{ "UnsafePrefixStat", NULL, 0, 0 },
};

static int rw_rule_flag(void *obj, const char *k, size_t kl, const char *v, size_t vl,
			bool hasv, char *msg, size_t msglen)
{
	static const char *const unsupported[] = { "CO", "cookie", "E", "env", "T", "type",
						   "H", "handler", "QSL", "qslast" };
	struct rw_rflags *rf = obj;
	char show[RW_SHOW_MAX + 8];
	int rc = rw_rule_vflag(rf, k, kl, v, vl, hasv, msg, msglen);

	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (rw_is(k, kl, unsupported[i]))
			return rw_err(msg, msglen, "flag \"%s\" is not supported",
				      rw_show(k, kl, show, sizeof(show)));
	for (size_t i = 0; i < sizeof(rw_simple_flags) / sizeof(rw_simple_flags[0]); i++) {
		if (!rw_is(k, kl, rw_simple_flags[i].s) &&
		    !(rw_simple_flags[i].l && rw_is(k, kl, rw_simple_flags[i].l)))
			continue;
		if (hasv)
			return rw_err(msg, msglen, "flag \"%s\" takes no value",
				      rw_show(k, kl, show, sizeof(show)));
		rf->r->flags |= rw_simple_flags[i].flags;
		if (rw_simple_flags[i].status)
			rf->r->status = rw_simple_flags[i].status;
		rf->bctls |= rw_is(k, kl, "BCTLS");
		return 0;
	}
	return rw_flag_unknown(k, kl, msg, msglen);
}

/* The set of bytes [B] escapes, from B, B=list, BCTLS and BNE=list together. */
static void rw_bset(struct rw_rflags *rf)
{
	uint8_t *set = rf->r->bset;

	memset(set, 0, 32);
	if (rf->b_all)
		uri_bset_default(set);
	for (int i = 0; i < 32; i++) {
		if (rf->b_list)
			set[i] |= rf->list[i];
		if (rf->bctls)
			set[i] |= i < 4 ? 0xff : 0;   /* bytes 0x00..0x1f */
		set[i] &= (uint8_t)~rf->bne[i];
	}
	if (rf->bctls) {
		set[' ' >> 3] |= 1u << (' ' & 7);
		set[0x7f >> 3] |= 1u << (0x7f & 7);
	}
}

/* ---- RewriteCond ---- */

/* The CondPattern's operator, as httpd's cmd_rewritecond() reads it. */
static const char *rw_cond_op(struct rw_cond *c, const char *a, char *msg, size_t msglen,
			      int *rc)
{
	size_t n = strlen(a);

	*rc = 0;
	c->op = RW_OP_REGEX;
	if (n < 2)
		return a;
	if (a[0] == '-' && n == 2) {
		switch (a[1]) {
		case 'f': c->op = RW_OP_FILE; return a + 2;
		case 'd': c->op = RW_OP_DIR; return a + 2;
		case 's': c->op = RW_OP_SIZE; return a + 2;
		case 'x': case 'h': case 'l': case 'L': case 'U': case 'F':
			*rc = rw_err(msg, msglen, "test \"%s\" is not supported", a);
			return a;
		}
		return a;
	}
	if (a[0] == '-' && n > 3) {
		static const char *const ops[] = { "-lt", "-le", "-eq", "-gt", "-ge", "-ne" };
		static const uint8_t codes[] = { RW_OP_INT_LT, RW_OP_INT_LE, RW_OP_INT_EQ,
						 RW_OP_INT_GT, RW_OP_INT_GE, RW_OP_INT_EQ };

		for (int i = 0; i < 6; i++)
			if (strncmp(a, ops[i], 3) == 0) {
				c->op = codes[i];
				c->negate ^= i == 5;   /* !-ne is -eq */
				return a + 3;
			}
		return a;
	}
	if (a[0] == '>' || a[0] == '<') {
		bool eq = a[1] == '=';

		c->op = a[0] == '>' ? (eq ? RW_OP_STR_GE : RW_OP_STR_GT) :
				      (eq ? RW_OP_STR_LE : RW_OP_STR_LT);
		return a + 1 + eq;
	}
	if (a[0] == '=') {
		c->op = RW_OP_STR_EQ;
		return strcmp(a, "=\"\"") == 0 ? a + 3 : a + 1;  /* ="" is the empty string */
	}
	return a;
}

int rw_cond_add(struct rw_prog *p, unsigned scope, unsigned line, unsigned argc,
		char **argv, char *msg, size_t msglen)
{
	struct rw_cond c = { .line = line };
	const char *pat = argv[1], *arg;
	int rc;

	if (argc < 2 || argc > 3)
		return rw_err(msg, msglen, "takes 2 or 3 arguments, %u given", argc);
	if (p->pending && p->pending_scope != scope)
		return rw_err(msg, msglen, "RewriteCond without a RewriteRule after it");
	if (argc == 3 && (rc = rw_flags(argv[2], rw_cond_flag, &c, msg, msglen)) < 0)
		return rc;
	if (strcasecmp(argv[0], "expr") == 0)
		return rw_err(msg, msglen, "expr conditions are not supported");
	c.negate = pat[0] == '!';
	arg = rw_cond_op(&c, pat + c.negate, msg, msglen, &rc);
	if (rc < 0)
		return rc;
	if (c.op >= RW_OP_INT_LT && c.op <= RW_OP_INT_GE)
		c.num = rw_atoi(arg, strlen(arg));
	if (c.op == RW_OP_REGEX && (rc = rw_regex("pattern", arg, c.nocase, &c.re, msg,
						  msglen)) < 0)
		return rc;
	if (rw_grow((void **)&p->cond, &p->capcond, (uint64_t)p->ncond + 1, sizeof(c)) < 0 ||
	    rw_str(p, pat, strlen(pat), &c.pat_off) < 0 ||
	    rw_str(p, arg, strlen(arg), &c.arg_off) < 0)
		goto out_nomem;
	c.pat_len = (uint32_t)strlen(pat);
	c.arg_len = (uint32_t)strlen(arg);
	if ((rc = rw_tpl_top(p, argv[0], strlen(argv[0]), &c.test, msg, msglen)) < 0)
		goto out_free;
	p->has_fs_cond |= c.op >= RW_OP_FILE;
	if (p->pending++ == 0) {
		p->pending_scope = (uint16_t)scope;
		p->pending_line = line;
	}
	p->cond[p->ncond++] = c;
	return (int)p->ncond - 1;
out_nomem:
	rc = rw_nomem(msg, msglen);
out_free:
	pcre2_code_free(c.re);
	return rc;
}

/* ---- RewriteRule ---- */

/* [P]: "http://authority" or "unix:/socket|http://authority" (httpd's syntax) must be
 * literal; returns where the path template starts. config.c checks the socket path. */
static int rw_proxy_sub(const char *sub, struct rw_rule_info *info, size_t *path_off,
			char *msg, size_t msglen)
{
	size_t a = 7, e;
	char show[RW_SHOW_MAX + 8];
	const char *bar = strncasecmp(sub, "unix:", 5) == 0 ? strchr(sub, '|') : NULL;

	if (bar) {
		if (strcspn(sub, "$%\\") < (size_t)(bar - sub))
			return rw_err(msg, msglen, "[P]: the socket path of \"%s\" must be literal",
				      rw_show(sub, strlen(sub), show, sizeof(show)));
		a = (size_t)(bar + 1 - sub);
		if (strncasecmp(sub + a, "http://", 7) != 0)
			return rw_err(msg, msglen, "[P] needs a substitution "
				      "unix:/PATH|http://host[:port]/..., not \"%s\"",
				      rw_show(sub, strlen(sub), show, sizeof(show)));
		a += 7;
	} else if (strncasecmp(sub, "balancer://", 11) == 0) {
		a = 11;  /* a pool (config.c: <Proxy balancer://NAME>) */
	} else if (strncasecmp(sub, "https://", 8) == 0) {
		return rw_err(msg, msglen, "TLS to backends is not supported");
	} else if (strncasecmp(sub, "http://", 7) != 0) {
		return rw_err(msg, msglen, "[P] needs a substitution http://host[:port]/..., "
			      "unix:/PATH|http://host/... or balancer://NAME/..., not \"%s\"",
			      rw_show(sub, strlen(sub), show, sizeof(show)));
	}
	for (e = a; sub[e] && !strchr("/?$%\\", sub[e]); e++)
		if (!uri_is((unsigned char)sub[e], URI_C_ALNUM) && !strchr(".-_~:[]", sub[e]))
			return rw_err(msg, msglen, "[P]: the host of \"%s\" must be literal",
				      rw_show(sub, strlen(sub), show, sizeof(show)));
	if (e == a || sub[e] == '\\')
		return rw_err(msg, msglen, "[P]: the host of \"%s\" must be literal",
			      rw_show(sub, strlen(sub), show, sizeof(show)));
	if (e >= sizeof(info->proxy_url))
		return rw_err(msg, msglen, "[P]: host name is too long");
	memcpy(info->proxy_url, sub, e);
	info->proxy_url[e] = '\0';
	*path_off = e;
	return 0;
}

/* A substitution in server context: a local path, an absolute URL or a variable. */
static int rw_sub_check(const char *sub, char *msg, size_t msglen)
{
	char show[RW_SHOW_MAX + 8];

	if (sub[0] == '/' || strncasecmp(sub, "http://", 7) == 0 ||
	    strncasecmp(sub, "https://", 8) == 0)
		return 0;
	if ((sub[0] == '$' || sub[0] == '%') && (sub[1] == '{' || (sub[1] >= '0' && sub[1] <= '9')))
		return 0;
	return rw_err(msg, msglen, "substitution \"%s\" must be a URL-path or filesystem path "
		      "starting with '/', an http:// or https:// URL, a variable, or \"-\"",
		      rw_show(sub, strlen(sub), show, sizeof(show)));
}

/* A substitution is a filesystem path when its first segment is literal and exists (as
 * httpd's prefix_stat(), but once). Its root is the literal directory prefix. Returns 1
 * (info->root set), 0 (a URL-path) or -EINVAL. */
static int rw_file_sub(const char *sub, struct rw_rule *r, struct rw_rule_info *info,
		       char *msg, size_t msglen)
{
	size_t lit = strcspn(sub, "$%\\?"), seg, last = 0;
	char first[CFG_PATH_MAX], norm[CFG_PATH_MAX];
	struct stat st;

	if (sub[0] != '/' || (r->flags & (RWF_PT | RWF_REDIRECT)))
		return 0;
	seg = 1 + strcspn(sub + 1, "/$%\\?");
	if (seg == 1 || seg >= sizeof(first) || (sub[seg] != '/' && sub[seg] != '?' && sub[seg]))
		return 0;
	memcpy(first, sub, seg);
	first[seg] = '\0';
	if (stat(first, &st) < 0)
		return 0;
	for (size_t i = 0; i < lit; i++)
		last = sub[i] == '/' ? i : last;
	if (last >= sizeof(info->root) || last > UINT16_MAX)
		return rw_err(msg, msglen, "the directory of the substitution is too long");
	memcpy(info->root, sub, last ? last : 1);
	info->root[last ? last : 1] = '\0';
	memcpy(norm, info->root, strlen(info->root) + 1);
	if (uri_normalize(norm, strlen(norm), NULL, URI_MERGE_SLASHES) != (ssize_t)strlen(norm))
		return rw_err(msg, msglen, "the directory \"%s\" is not a plain absolute path "
			      "(no \".\", \"..\" or \"//\")", info->root);
	r->root_len = (uint16_t)last;
	return 1;
}

static int rw_rule_sub(struct rw_prog *p, struct rw_rule *r, const char *sub,
		       struct rw_rule_info *info, char *msg, size_t msglen)
{
	size_t off = 0;
	int rc;

	if (strcmp(sub, "-") == 0)
		r->flags |= RWF_NOSUB;
	if ((r->flags & RWF_NOSUB) && (r->flags & RWF_PROXY))
		return rw_err(msg, msglen, strcmp(sub, "-") == 0 ?
			      "[P] needs a substitution, not \"-\"" :
			      "[P] cannot go with F, G or R=4xx/5xx");
	if (r->flags & RWF_NOSUB)
		return 0;
	if (r->flags & RWF_PROXY)
		rc = rw_proxy_sub(sub, info, &off, msg, msglen);
	else if ((rc = rw_sub_check(sub, msg, msglen)) == 0)
		rc = rw_file_sub(sub, r, info, msg, msglen);
	if (rc < 0)
		return rc;
	return rw_tpl_top(p, sub + off, strlen(sub + off), &r->sub, msg, msglen);
}

int rw_rule_add(struct rw_prog *p, unsigned scope, unsigned line, unsigned argc,
		char **argv, struct rw_rule_info *info, char *msg, size_t msglen)
{
	struct rw_rule r = { .line = line, .scope = (uint16_t)scope, .backend = -1, .root = -1,
			     .status = 302, .max_rounds = RW_MAX_ROUNDS };
	struct rw_rflags rf = { .r = &r };
	const char *pat = argv[0];
	int rc;

	memset(info, 0, sizeof(*info));
	if (argc < 2 || argc > 3)
		return rw_err(msg, msglen, "takes 2 or 3 arguments, %u given", argc);
	if (p->pending && p->pending_scope != scope)
		return rw_err(msg, msglen, "RewriteCond without a RewriteRule after it");
	if (argc == 3 && (rc = rw_flags(argv[2], rw_rule_flag, &rf, msg, msglen)) < 0)
		return rc;
	rw_bset(&rf);
	if (pat[0] == '!')
		r.flags |= RWF_NEGATE;
	if ((rc = rw_regex("pattern", pat + (pat[0] == '!'), r.flags & RWF_NOCASE, &r.re, msg,
			   msglen)) < 0)
		return rc;
	if ((rc = rw_rule_sub(p, &r, argv[1], info, msg, msglen)) < 0)
		goto out_free;
	if (rw_grow((void **)&p->rule, &p->caprule, (uint64_t)p->nrule + 1, sizeof(r)) < 0 ||
	    rw_str(p, pat, strlen(pat), &r.pat_off) < 0 ||
	    rw_str(p, argv[1], strlen(argv[1]), &r.sub_off) < 0) {
		rc = rw_nomem(msg, msglen);
		goto out_free;
	}
	r.pat_len = (uint32_t)strlen(pat);
	r.sub_len = (uint32_t)strlen(argv[1]);
	r.cond_first = p->ncond - p->pending;
	r.ncond = p->pending;
	p->pending = 0;
	p->rule[p->nrule++] = r;
	return (int)p->nrule - 1;
out_free:
	pcre2_code_free(r.re);
	return rc;
}

/* ---- RewriteMap ---- */

struct rw_txt {
	struct rw_prog *p;
	uint32_t first;
};

static int rw_ment_cmp(const void *a, const void *b, void *arg)
{
	const struct rw_ment *x = a, *y = b;
	const char *str = arg;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(str + x->key_off, str + y->key_off, n);

	if (c)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return x->key_off < y->key_off ? -1 : x->key_off > y->key_off;  /* file order */
}

static bool rw_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One line of a txt: map, as httpd's lookup_map_txtfile(): "key value", the rest of the
 * line ignored; '#' or a blank at the start makes the whole line a comment. */
static int rw_txt_line(struct rw_prog *p, const char *s, size_t n)
{
	size_t k = 0, v, ve;
	struct rw_ment e;

	if (n == 0 || s[0] == '#' || rw_space(s[0]))
		return 0;
	while (k < n && !rw_space(s[k]))
		k++;
	for (v = k; v < n && rw_space(s[v]); v++)
		;
	for (ve = v; ve < n && !rw_space(s[ve]); ve++)
		;
	if (ve == v)
		return 0;
	if (rw_grow((void **)&p->ment, &p->capment, (uint64_t)p->nment + 1, sizeof(e)) < 0 ||
	    rw_str(p, s, k, &e.key_off) < 0 || rw_str(p, s + v, ve - v, &e.val_off) < 0)
		return -ENOMEM;
	e.key_len = (uint32_t)k;
	e.val_len = (uint32_t)(ve - v);
	p->ment[p->nment++] = e;
	return 0;
}

static int rw_txt_read(const char *path, char **buf, size_t *len, char *msg, size_t msglen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	struct stat st;
	ssize_t n = 0;
	size_t got = 0;

	if (fd < 0)
		return rw_err(msg, msglen, "cannot open map file \"%s\": %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > RW_TXT_MAX) {
		rc = rw_err(msg, msglen, "map file \"%s\" is not a regular file of at most %u bytes",
			    path, RW_TXT_MAX);
		goto out_close;
	}
	if (!(*buf = malloc((size_t)st.st_size + 1))) {
		rc = rw_nomem(msg, msglen);
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, *buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (n < 0) {
		rc = rw_err(msg, msglen, "cannot read map file \"%s\": %s", path, strerror(errno));
		free(*buf);
		*buf = NULL;
	}
	*len = got;
out_close:
	close(fd);
	return rc;
}

static int rw_txt_load(struct rw_prog *p, struct rw_map *m, const char *path, char *msg,
		       size_t msglen)
{
	char *buf = NULL;
	size_t len = 0, pos = 0;
	uint32_t w;
	int rc = rw_txt_read(path, &buf, &len, msg, msglen);

	m->first = p->nment;
	while (rc == 0 && pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - buf - pos) : len - pos;

		if (rw_txt_line(p, buf + pos, n) < 0)
			rc = rw_nomem(msg, msglen);
		pos += n + 1;
	}
	free(buf);
	if (rc < 0)
		return rc;
	qsort_r(p->ment + m->first, p->nment - m->first, sizeof(*p->ment), rw_ment_cmp, p->str);
	/* a key twice: the first line wins, as in httpd's linear scan */
	for (uint32_t i = w = m->first; i < p->nment; i++)
		if (i == m->first || p->ment[w - 1].key_len != p->ment[i].key_len ||
		    memcmp(p->str + p->ment[w - 1].key_off, p->str + p->ment[i].key_off,
			   p->ment[i].key_len) != 0)
			p->ment[w++] = p->ment[i];
	p->nment = w;
	m->n = w - m->first;
	return 0;
}

static int rw_map_type(struct rw_prog *p, struct rw_map *m, const char *spec, char *msg,
		       size_t msglen)
{
	static const char *const ints[] = { "escape", "unescape", "tolower", "toupper" };
	static const char *const others[] = { "rnd:", "prg:", "dbd:", "fastdbd:", "dbm:", "dbm=" };
	char show[RW_SHOW_MAX + 8];

	if (strncasecmp(spec, "int:", 4) == 0) {
		for (int i = 0; i < 4; i++)
			if (strcasecmp(spec + 4, ints[i]) == 0) {
				m->type = (uint8_t)(RW_MAP_ESCAPE + i);
				return 0;
			}
		return rw_err(msg, msglen, "unknown internal map \"%s\" (int:escape, unescape, "
			      "tolower or toupper)", rw_show(spec, strlen(spec), show, sizeof(show)));
	}
	for (int i = 0; i < 6; i++)
		if (strncasecmp(spec, others[i], strlen(others[i])) == 0)
			return rw_err(msg, msglen, "map type \"%s\" is not supported",
				      rw_show(spec, strcspn(spec, ":="), show, sizeof(show)));
	m->type = RW_MAP_TXT;
	return rw_txt_load(p, m, spec + (strncasecmp(spec, "txt:", 4) == 0 ? 4 : 0), msg, msglen);
}

int rw_map_add(struct rw_prog *p, unsigned scope, const char *name, const char *spec,
	       char *msg, size_t msglen)
{
	struct rw_map m = { .scope = (uint16_t)scope };
	size_t n = strlen(name);
	char show[RW_SHOW_MAX + 8];
	int rc;

	if (n == 0 || n >= RW_NAME_MAX || strpbrk(name, ":|{}$%\\"))
		return rw_err(msg, msglen, "bad map name \"%s\"", rw_show(name, n, show, sizeof(show)));
	for (uint32_t i = 0; i < p->nmap; i++)
		if (p->map[i].scope == scope && strcmp(p->map[i].name, name) == 0)
			return rw_err(msg, msglen, "map \"%s\" is already defined", name);
	memcpy(m.name, name, n + 1);
	if ((rc = rw_map_type(p, &m, spec, msg, msglen)) < 0)
		return rc;
	if (rw_grow((void **)&p->map, &p->capmap, (uint64_t)p->nmap + 1, sizeof(m)) < 0)
		return rw_nomem(msg, msglen);
	p->map[p->nmap++] = m;
	return (int)p->nmap - 1;
}

/* ---- the whole ---- */

static bool rw_same(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(s, name, len) == 0;
}

/* A map's name in a template (case-sensitive, as httpd's hash): the rule's scope first,
 * then the main server's. */
static int rw_resolve(struct rw_prog *p, const struct rw_tpl *t, unsigned scope,
		      const char *what, char *msg, size_t msglen)
{
	char show[RW_SHOW_MAX + 8];

	for (uint32_t i = t->first; i < t->first + t->n; i++) {
		struct rw_tok *k = &p->tok[i];
		int found = -1;

		if (k->type != RW_TK_MAP)
			continue;
		for (int pass = 0; pass < 2 && found < 0; pass++)
			for (uint32_t m = 0; m < p->nmap && found < 0; m++)
				if (p->map[m].scope == (pass ? 0 : scope) &&
				    rw_same(p->str + k->off, k->len, p->map[m].name))
					found = (int)m;
		if (found < 0)
			return rw_err(msg, msglen, "%s: unknown map \"%s\"", what,
				      rw_show(p->str + k->off, k->len, show, sizeof(show)));
		k->map = (uint16_t)found;
	}
	return 0;
}

static int rw_lists(struct rw_prog *p, const struct config *cfg)
{
	uint32_t total = 0, pos = 0;

	if (p->nrule == 0)
		return 0;  /* nothing to run: no allocation for configurations without rules */
	p->nscope = cfg->nscope;
	if (!(p->lfirst = calloc(p->nscope, sizeof(*p->lfirst))) ||
	    !(p->ln = calloc(p->nscope, sizeof(*p->ln))))
		return -ENOMEM;
	for (uint32_t s = 0; s < p->nscope; s++)
		for (uint32_t r = 0; r < p->nrule; r++)
			p->ln[s] += p->rule[r].scope == s ||
				    (s > 0 && p->rule[r].scope == 0 && cfg->scope[s].rewrite_inherit);
	for (uint32_t s = 0; s < p->nscope; s++)
		total += p->ln[s];
	if (!(p->list = calloc(total ? total : 1, sizeof(*p->list))))
		return -ENOMEM;
	for (uint32_t s = 0; s < p->nscope; s++) {
		bool before = cfg->scope[s].rewrite_inherit == CFG_INHERIT_BEFORE;

		p->lfirst[s] = pos;
		for (int pass = 0; pass < 3; pass++)
			for (uint32_t r = 0; r < p->nrule; r++) {
				bool own = p->rule[r].scope == s, inh = s > 0 && p->rule[r].scope == 0 &&
					   cfg->scope[s].rewrite_inherit;

				if ((pass == 0 && inh && before) || (pass == 1 && own) ||
				    (pass == 2 && inh && !before))
					p->list[pos++] = r;
			}
	}
	return 0;
}

int rw_prog_finish(struct rw_prog *p, const struct config *cfg, unsigned *line, char *msg,
		   size_t msglen)
{
	int rc;

	if (p->pending) {
		*line = p->pending_line;
		return rw_err(msg, msglen, "RewriteCond without a RewriteRule after it");
	}
	for (uint32_t r = 0; r < p->nrule; r++) {
		const struct rw_rule *rule = &p->rule[r];

		*line = rule->line;
		if ((rc = rw_resolve(p, &rule->sub, rule->scope, "RewriteRule", msg, msglen)) < 0)
			return rc;
		for (uint32_t c = rule->cond_first; c < rule->cond_first + rule->ncond; c++) {
			*line = p->cond[c].line;
			if ((rc = rw_resolve(p, &p->cond[c].test, rule->scope, "RewriteCond", msg,
					     msglen)) < 0)
				return rc;
		}
	}
	*line = 0;
	free(p->list);
	free(p->lfirst);
	free(p->ln);
	p->list = p->lfirst = p->ln = NULL;
	p->nscope = 0;
	if (rw_lists(p, cfg) < 0)
		return rw_nomem(msg, msglen);
	return 0;
}

void rw_prog_free(struct rw_prog *p)
{
	for (uint32_t i = 0; i < p->nrule; i++)
		pcre2_code_free(p->rule[i].re);
	for (uint32_t i = 0; i < p->ncond; i++)
		pcre2_code_free(p->cond[i].re);
	free(p->rule);
	free(p->cond);
	free(p->tok);
	free(p->map);
	free(p->ment);
	free(p->str);
	free(p->list);
	free(p->lfirst);
	free(p->ln);
	memset(p, 0, sizeof(*p));
}
