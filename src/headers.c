/* mod_headers; the contract is in include/spliced/headers.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spliced/authz.h"
#include "spliced/headers.h"

static const struct {
	const char *name;
	enum hdr_action action;
} hdr_actions[] = {
	{ "set", HDR_SET }, { "append", HDR_APPEND }, { "merge", HDR_MERGE },
	{ "add", HDR_ADD }, { "unset", HDR_UNSET }, { "setifempty", HDR_SETIFEMPTY },
};

/* Fields that frame the message or belong to one hop: never edited. */
static const char *const hdr_framing[] = {
	"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection",
	"TE", "Trailer", "Upgrade",
};

/* Request fields spliced writes itself, or acts on, when forwarding. */
static const char *const hdr_request_own[] = {
	"Host", "Expect", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"Forwarded", "X-Real-IP",
};

__attribute__((format(printf, 3, 4)))
static int hdr_fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool hdr_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return true;
	return false;
}

/* RFC 9110 token characters. */
static bool hdr_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The literal value of v: "%%" is '%'; any other '%' is a format httpd would expand. */
static int hdr_value(struct hdr_rule *r, const char *v, char *msg, size_t msglen)
{
	size_t o = 0;

	for (const char *p = v; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '%') {
			if (p[1] != '%')
				return hdr_fail(msg, msglen, "the format \"%%%.16s\" in the value is not "
						"supported (values are literal; write %%%% for a %%)",
						p + 1);
			p++;
		} else if ((ch < ' ' && ch != '\t') || ch == 0x7f) {
			return hdr_fail(msg, msglen, "a control character in the value");
		}
		if (o + 1 >= sizeof(r->value))
			return hdr_fail(msg, msglen, "the value is longer than %d bytes",
					HDR_VALUE_MAX - 1);
		r->value[o++] = (char)ch;
	}
	/* a field value has no leading or trailing whitespace */
	while (o && (r->value[o - 1] == ' ' || r->value[o - 1] == '\t'))
		o--;
	r->value[o] = '\0';
	r->value_len = (uint16_t)o;
	return 0;
}

int headers_parse(struct hdr_conf *hc, unsigned scope, int loc, unsigned argc, char **argv,
		  char *msg, size_t msglen)
{
	bool request = strcasecmp(argv[0], "RequestHeader") == 0;
	struct hdr_rule r = { .scope = (uint16_t)scope, .loc = loc,
			      .table = request ? HDR_REQUEST : HDR_ONSUCCESS };
	unsigned k = 1;
	size_t nl;
	bool found = false;

	if (!request && k < argc && strcasecmp(argv[k], "always") == 0)
		r.table = HDR_ALWAYS, k++;
	else if (!request && k < argc && strcasecmp(argv[k], "onsuccess") == 0)
		k++;
	if (k >= argc)
		return hdr_fail(msg, msglen, "needs an action and a field name");
	for (size_t i = 0; i < sizeof(hdr_actions) / sizeof(hdr_actions[0]); i++)
		if (strcasecmp(argv[k], hdr_actions[i].name) == 0) {
			r.action = (uint8_t)hdr_actions[i].action;
			found = true;
		}
	if (!found)
		return hdr_fail(msg, msglen, "the action \"%.32s\" is not supported (set, append, "
				"merge, add, unset, setifempty are)", argv[k]);
	if (++k >= argc)
		return hdr_fail(msg, msglen, "needs a field name");
	nl = strlen(argv[k]);
	if (nl == 0 || nl >= sizeof(r.name))
		return hdr_fail(msg, msglen, "bad field name length");
	for (size_t i = 0; i < nl; i++)
		if (!hdr_tchar((unsigned char)argv[k][i]))
			return hdr_fail(msg, msglen, "\"%.64s\" is not a field name", argv[k]);
	if (hdr_in(argv[k], hdr_framing, sizeof(hdr_framing) / sizeof(hdr_framing[0])))
		return hdr_fail(msg, msglen, "%s frames the message or belongs to one hop: spliced "
				"sets it and it cannot be edited", argv[k]);
	if (request && hdr_in(argv[k], hdr_request_own,
			      sizeof(hdr_request_own) / sizeof(hdr_request_own[0])))
		return hdr_fail(msg, msglen, "%s is written by spliced itself when it forwards a "
				"request: it cannot be edited", argv[k]);
	memcpy(r.name, argv[k], nl + 1);
	r.name_len = (uint16_t)nl;
	k++;
	if (r.action == HDR_UNSET) {
		if (k < argc)
			return hdr_fail(msg, msglen, "unset takes no value");
	} else {
		if (k >= argc)
			return hdr_fail(msg, msglen, "%s needs a value", argv[k - 2]);
		if (hdr_value(&r, argv[k], msg, msglen) < 0)
			return -1;
		k++;
	}
	if (k < argc)
		return hdr_fail(msg, msglen, "\"%.64s\": conditions (env=, expr=, early) are not "
				"supported", argv[k]);
	if (hc->n == hc->cap) {
		unsigned ncap = hc->cap ? hc->cap * 2 : 8;
		struct hdr_rule *p = realloc(hc->rule, ncap * sizeof(*p));

		if (!p)
			return hdr_fail(msg, msglen, "out of memory");
		hc->rule = p;
		hc->cap = ncap;
	}
	hc->rule[hc->n++] = r;
	hc->any[r.table] = true;
	return 0;
}

void headers_free(struct hdr_conf *hc)
{
	free(hc->rule);
	memset(hc, 0, sizeof(*hc));
}

/* ---- editing a block of fields ------------------------------------------------------ */

/* The field line at b[pos..): its end (after CRLF) and whether it is named name. */
static size_t hdr_line(const char *b, size_t len, size_t pos, const struct hdr_rule *r,
		       bool *named, size_t *vstart, size_t *vend)
{
	const char *nl = memchr(b + pos, '\n', len - pos);
	size_t end = nl ? (size_t)(nl - b) + 1 : len;
	size_t colon = pos;

	while (colon < end && b[colon] != ':')
		colon++;
	*named = colon - pos == r->name_len && strncasecmp(b + pos, r->name, r->name_len) == 0;
	*vstart = colon + 1;
	while (*vstart < end && (b[*vstart] == ' ' || b[*vstart] == '\t'))
		(*vstart)++;
	*vend = end;
	while (*vend > *vstart && (b[*vend - 1] == '\n' || b[*vend - 1] == '\r' ||
				   b[*vend - 1] == ' ' || b[*vend - 1] == '\t'))
		(*vend)--;
	return end;
}

/* Replaces b[at..at+del) by ins[0..n) within cap. */
static ssize_t hdr_splice(char *b, size_t len, size_t cap, size_t at, size_t del,
			  const char *ins, size_t n)
{
	if (len - del + n > cap)
		return -1;
	memmove(b + at + n, b + at + del, len - at - del);
	memcpy(b + at, ins, n);
	return (ssize_t)(len - del + n);
}

/* "Name: value\r\n" for r, into out (room for HDR_NAME_MAX + HDR_VALUE_MAX + 4). */
static size_t hdr_format(const struct hdr_rule *r, char *out)
{
	size_t n = 0;

	memcpy(out, r->name, r->name_len);
	n += r->name_len;
	memcpy(out + n, ": ", 2);
	n += 2;
	memcpy(out + n, r->value, r->value_len);
	n += r->value_len;
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

/* Whether the comma-separated list v[0..n) has the element r->value (as httpd's merge:
 * compared exactly, quotes included). */
static bool hdr_has_token(const char *v, size_t n, const struct hdr_rule *r)
{
	size_t i = 0;

	while (i <= n) {
		size_t s = i, e;

		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (s < e && (v[s] == ' ' || v[s] == '\t'))
			s++;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == r->value_len && memcmp(v + s, r->value, e - s) == 0)
			return true;
		i++;
	}
	return false;
}

ssize_t headers_edit(const struct hdr_rule *r, char *b, size_t len, size_t cap)
{
	char line[HDR_NAME_MAX + HDR_VALUE_MAX + 4];
	size_t pos = 0, vs, ve, first = (size_t)-1, first_vs = 0, first_ve = 0;
	bool named;
	ssize_t n;

	/* the first field of the name; set and unset remove the others as they go */
	while (pos < len) {
		size_t end = hdr_line(b, len, pos, r, &named, &vs, &ve);

		if (named && first == (size_t)-1) {
			first = pos;
			first_vs = vs;
			first_ve = ve;
			if (r->action == HDR_UNSET) {
				len = (size_t)hdr_splice(b, len, cap, pos, end - pos, "", 0);
				first = (size_t)-1;
				continue;
			}
		} else if (named && (r->action == HDR_SET || r->action == HDR_UNSET)) {
			len = (size_t)hdr_splice(b, len, cap, pos, end - pos, "", 0);
			continue;
		}
		pos = end;
	}
	switch (r->action) {
	case HDR_UNSET:
		return (ssize_t)len;
	case HDR_SETIFEMPTY:
		if (first != (size_t)-1)
			return (ssize_t)len;
		/* fall through */
	case HDR_ADD:
		return hdr_splice(b, len, cap, len, 0, line, hdr_format(r, line));
	case HDR_SET:
		if (first == (size_t)-1)
			return hdr_splice(b, len, cap, len, 0, line, hdr_format(r, line));
		/* the first one keeps its place with the new value */
		return hdr_splice(b, len, cap, first_vs, first_ve - first_vs, r->value,
				  r->value_len);
	case HDR_MERGE:
		if (first != (size_t)-1 && hdr_has_token(b + first_vs, first_ve - first_vs, r))
			return (ssize_t)len;
		/* fall through */
	case HDR_APPEND:
	default:
		if (first == (size_t)-1)
			return hdr_splice(b, len, cap, len, 0, line, hdr_format(r, line));
		if (first_ve == first_vs)  /* an empty value becomes the new one */
			return hdr_splice(b, len, cap, first_vs, 0, r->value, r->value_len);
		n = snprintf(line, sizeof(line), ", %s", r->value);
		return hdr_splice(b, len, cap, first_ve, 0, line, (size_t)n);
	}
}

static ssize_t hdr_apply_where(const struct hdr_conf *hc, enum hdr_table table,
			       unsigned scope, int loc, char *b, ssize_t len, size_t cap)
{
	for (unsigned i = 0; i < hc->n && len >= 0; i++) {
		const struct hdr_rule *r = &hc->rule[i];

		if (r->table == table && r->scope == scope && r->loc == loc)
			len = headers_edit(r, b, (size_t)len, cap);
	}
	return len;
}

ssize_t headers_apply(const struct hdr_conf *hc, const struct authz *az, enum hdr_table table,
		      unsigned scope, const char *path, size_t plen, char *b, size_t len,
		      size_t cap)
{
	ssize_t n = (ssize_t)len;

	if (!hc->any[table])
		return n;
	n = hdr_apply_where(hc, table, 0, -1, b, n, cap);
	if (scope)
		n = hdr_apply_where(hc, table, scope, -1, b, n, cap);
	for (unsigned pass = 0; pass < (scope ? 2u : 1u); pass++) {
		for (unsigned i = 0; i < az->nloc && n >= 0; i++) {
			const struct authz_loc *l = &az->loc[i];

			if (l->scope == (pass ? scope : 0) && path &&
			    authz_prefix_match(l->prefix, l->prefix_len, path, plen))
				n = hdr_apply_where(hc, table, l->scope, (int)i, b, n, cap);
		}
	}
	return n;
}
