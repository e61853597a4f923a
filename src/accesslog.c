/* Access log: LogFormat compiler, line renderer and the per-worker double buffer.
 *
 * A format compiles to an array of items (literal spans and directives) so the request
 * path runs a switch per item, with no parsing, no allocation and no stdio. Values from
 * the request are escaped as httpd's ap_escape_logitem() does, so a hostile header can
 * neither end the line nor close a quoted field. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spliced/accesslog.h"

/* ---- compiling ---- */

__attribute__((format(printf, 3, 4)))
static int alog_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int alog_item_add(struct alog_format *f, enum alog_op op, uint16_t off, uint16_t len,
			 char *err, size_t errlen)
{
	if (f->nitem == ALOG_MAX_ITEMS)
		return alog_fail(err, errlen, "format has too many items (more than %d)",
				 ALOG_MAX_ITEMS);
	f->item[f->nitem++] = (struct alog_item){ .op = (uint8_t)op, .off = off, .len = len };
	return 0;
}

/* One literal byte: extends the last item when it is the literal ending the text. */
static int alog_literal(struct alog_format *f, char c, char *err, size_t errlen)
{
	struct alog_item *last = f->nitem ? &f->item[f->nitem - 1] : NULL;

	if (f->text_len == ALOG_TEXT_MAX)
		return alog_fail(err, errlen, "format is too long (more than %d bytes of text)",
				 ALOG_TEXT_MAX);
	f->text[f->text_len] = c;
	if (last && last->op == ALOG_LITERAL && last->off + last->len == f->text_len) {
		last->len++;
		f->text_len++;
		return 0;
	}
	f->text_len++;
	return alog_item_add(f, ALOG_LITERAL, (uint16_t)(f->text_len - 1), 1, err, errlen);
}

/* %{Name}i: the name goes into the text. */
static int alog_header(struct alog_format *f, const char *name, size_t len, char *err,
		       size_t errlen)
{
	uint16_t off = f->text_len;

	if (len == 0)
		return alog_fail(err, errlen, "%%{}i needs a header name");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] <= 0x20 || name[i] == 0x7f || name[i] == ':')
			return alog_fail(err, errlen, "bad header name in %%{...}i");
	if (len > (size_t)(ALOG_TEXT_MAX - f->text_len))
		return alog_fail(err, errlen, "format is too long (more than %d bytes of text)",
				 ALOG_TEXT_MAX);
	memcpy(f->text + off, name, len);
	f->text_len = (uint16_t)(f->text_len + len);
	return alog_item_add(f, ALOG_REQ_HEADER, off, (uint16_t)len, err, errlen);
}

static bool alog_arg_is(const char *arg, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(arg, word, len) == 0;
}

/* The directive letter c with its optional {arg}. */
static int alog_directive(struct alog_format *f, char c, const char *arg, size_t alen,
			  char *err, size_t errlen)
{
	enum alog_op op;

	switch (c) {
	case 'h': op = ALOG_CLIENT_IP; break;
	case 'a':
		if (arg && !alog_arg_is(arg, alen, "c"))
			return alog_fail(err, errlen, "%%{%.*s}a is not supported (only %%a, %%{c}a)",
					 (int)(alen > 32 ? 32 : alen), arg);
		op = arg ? ALOG_PEER_IP : ALOG_CLIENT_IP;
		arg = NULL;
		break;
	case 'l': case 'u': op = ALOG_DASH; break;
	case 't':
		if (arg)
			return alog_fail(err, errlen, "%%{format}t is not supported (only %%t)");
		op = ALOG_TIME;
		break;
	case 'r': op = ALOG_REQUEST_LINE; break;
	case 's': op = ALOG_STATUS; break;
	case 'b': op = ALOG_BYTES_CLF; break;
	case 'B': op = ALOG_BYTES; break;
	case 'i':
		if (!arg)
			return alog_fail(err, errlen, "%%i needs a header name: %%{Name}i");
		return alog_header(f, arg, alen, err, errlen);
	case 'o':
		return alog_fail(err, errlen, "%%{...}o (response headers) is not supported");
	case 'D': op = ALOG_DURATION_US; break;
	case 'T':
		if (!arg || alog_arg_is(arg, alen, "s"))
			op = ALOG_DURATION_S;
		else if (alog_arg_is(arg, alen, "ms"))
			op = ALOG_DURATION_MS;
		else if (alog_arg_is(arg, alen, "us"))
			op = ALOG_DURATION_US;
		else
			return alog_fail(err, errlen, "%%{%.*s}T: the unit must be s, ms or us",
					 (int)(alen > 32 ? 32 : alen), arg);
		arg = NULL;
		break;
	case 'v': op = ALOG_VHOST; break;
	case 'p':
		if (!arg || alog_arg_is(arg, alen, "canonical") || alog_arg_is(arg, alen, "local"))
			op = ALOG_LOCAL_PORT;
		else if (alog_arg_is(arg, alen, "remote"))
			op = ALOG_CLIENT_PORT;
		else
			return alog_fail(err, errlen,
					 "%%{%.*s}p: must be canonical, local or remote",
					 (int)(alen > 32 ? 32 : alen), arg);
		arg = NULL;
		break;
	case 'm': op = ALOG_METHOD; break;
	case 'U': op = ALOG_PATH; break;
	case 'q': op = ALOG_QUERY; break;
	case 'H': op = ALOG_PROTOCOL; break;
	case 'I': op = ALOG_BYTES_IN; break;
	case 'O': op = ALOG_BYTES_OUT; break;
	case 'x':
		/* mod_ssl's variables: "-" for a request not over TLS */
		if (arg && alog_arg_is(arg, alen, "SSL_PROTOCOL"))
			op = ALOG_SSL_PROTOCOL;
		else if (arg && alog_arg_is(arg, alen, "SSL_CIPHER"))
			op = ALOG_SSL_CIPHER;
		else
			return alog_fail(err, errlen, "%%{%.*s}x is not supported (only "
					 "%%{SSL_PROTOCOL}x and %%{SSL_CIPHER}x)",
					 (int)(alen > 32 ? 32 : alen), arg ? arg : "");
		arg = NULL;
		break;
	case '%':
		return alog_literal(f, '%', err, errlen);
	default:
		if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
			return alog_fail(err, errlen, "unrecognized LogFormat directive %%\\x%02x",
					 (unsigned char)c);
		return alog_fail(err, errlen, "unrecognized LogFormat directive %%%c", c);
	}
	if (arg)
		return alog_fail(err, errlen, "%%{...}%c takes no argument", c);
	return alog_item_add(f, op, 0, 0, err, errlen);
}

/* One "%..." starting after the '%' at *pp; *pp moves past it. As httpd's
 * parse_log_item(): '<' and '>' (which request of an internal redirect) and {arg} may come
 * before the letter in any order; status conditions are refused. */
static int alog_percent(struct alog_format *f, const char **pp, char *err, size_t errlen)
{
	const char *p = *pp, *arg = NULL;
	size_t alen = 0;

	for (;; p++) {
		if (*p == '<' || *p == '>')
			continue;
		if (*p == '{') {
			const char *end = strchr(p + 1, '}');

			if (!end)
				return alog_fail(err, errlen, "missing '}' in %%{...}");
			arg = p + 1;
			alen = (size_t)(end - arg);
			p = end;
			continue;
		}
		if (*p == '!' || *p == ',' || (*p >= '0' && *p <= '9'))
			return alog_fail(err, errlen,
					 "status conditions (%%400,501...) are not supported");
		break;
	}
	if (*p == '\0')
		return alog_fail(err, errlen, "format ends with a lone %%");
	*pp = p + 1;
	return alog_directive(f, *p, arg, alen, err, errlen);
}

int alog_compile(struct alog_format *f, const char *fmt, char *err, size_t errlen)
{
	const char *p = fmt;
	int rc;

	f->nitem = 0;
	f->text_len = 0;
	while (*p) {
		char c = *p++;

		if (c == '%') {
			rc = alog_percent(f, &p, err, errlen);
		} else if (c == '\\' && (*p == 'n' || *p == 't' || *p == 'r' || *p == '\\')) {
			c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : '\\';
			p++;
			rc = alog_literal(f, c, err, errlen);
		} else {
			rc = alog_literal(f, c, err, errlen);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

const char *alog_builtin(const char *nickname)
{
	if (strcmp(nickname, "common") == 0)
		return ALOG_FMT_COMMON;
	if (strcmp(nickname, "combined") == 0)
		return ALOG_FMT_COMBINED;
	return NULL;
}

/* ---- rendering ---- */

/* Output bounded by cap; once something did not fit, nothing more is written, so a line
 * is cut at one place and never has a hole in it. */
struct alog_out {
	char *p;
	size_t len, cap;
	bool full;
};

static void alog_put(struct alog_out *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (n > o->cap - o->len) {
		n = o->cap - o->len;
		o->full = true;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void alog_puts(struct alog_out *o, const char *s)
{
	alog_put(o, s, strlen(s));
}

static void alog_u64(struct alog_out *o, uint64_t v)
{
	char buf[24];
	size_t i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	alog_put(o, buf + i, sizeof(buf) - i);
}

static bool alog_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* s[0..n) escaped as ap_escape_logitem(); an escape sequence is written whole or not. */
static void alog_escaped(struct alog_out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	while (i < n && !o->full) {
		size_t run = i;
		unsigned char c;
		char seq[4];
		size_t k = 2;

		while (run < n && alog_plain((unsigned char)s[run]))
			run++;
		alog_put(o, s + i, run - i);
		if (run == n || o->full)
			return;
		c = (unsigned char)s[run];
		seq[0] = '\\';
		switch (c) {
		case '"': seq[1] = '"'; break;
		case '\\': seq[1] = '\\'; break;
		case '\b': seq[1] = 'b'; break;
		case '\n': seq[1] = 'n'; break;
		case '\r': seq[1] = 'r'; break;
		case '\t': seq[1] = 't'; break;
		case '\v': seq[1] = 'v'; break;
		default:
			seq[1] = 'x';
			seq[2] = hex[c >> 4];
			seq[3] = hex[c & 15];
			k = 4;
		}
		if (k > o->cap - o->len) {
			o->full = true;
			return;
		}
		alog_put(o, seq, k);
		i = run + 1;
	}
}

static void alog_span(struct alog_out *o, const struct alog_entry *e, struct http_span s)
{
	alog_escaped(o, e->head + s.off, s.len);
}

static bool alog_has_head(const struct alog_entry *e)
{
	return e->head && e->req && e->req->head_len >= e->req->fields_off + 2 &&
	       e->req->fields_off >= 2;
}

/* %{Name}i: every field named so, joined with ", " as httpd merges repeated request
 * fields; "-" when there is none. */
static void alog_req_header(struct alog_out *o, const struct alog_entry *e, const char *name,
			    size_t nlen)
{
	const char *p, *end;
	bool found = false;

	if (!alog_has_head(e)) {
		alog_put(o, "-", 1);
		return;
	}
	p = e->head + e->req->fields_off;
	end = e->head + e->req->head_len - 2;        /* the blank line ending the head */
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		const char *v, *ve;

		ve = eol && eol > p && eol[-1] == '\r' ? eol - 1 : (eol ? eol : end);
		if ((size_t)(ve - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			for (v = p + nlen + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
				;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (found)
				alog_put(o, ", ", 2);
			alog_escaped(o, v, (size_t)(ve - v));
			found = true;
		}
		p = next;
	}
	if (!found)
		alog_put(o, "-", 1);
}

/* [26/Nov/2026:13:24:39 +0000], in local time; localtime_r() once per second per thread. */
static void alog_time(struct alog_out *o, const struct timespec *ts)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static __thread time_t cached_sec = (time_t)-1;
	static __thread char cached[40];
	static __thread size_t cached_len;

	if (ts->tv_sec != cached_sec) {
		struct tm tm;
		long off;
		char sign = '+';
		int n;

		if (!localtime_r(&ts->tv_sec, &tm)) {
			alog_put(o, "[-]", 3);
			return;
		}
		off = tm.tm_gmtoff / 60;
		if (off < 0) {
			sign = '-';
			off = -off;
		}
		n = snprintf(cached, sizeof(cached), "[%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld]",
			     tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
			     tm.tm_min, tm.tm_sec, sign, off / 60 % 100, off % 60);
		cached_len = n > 0 && (size_t)n < sizeof(cached) ? (size_t)n : 0;
		cached_sec = ts->tv_sec;
	}
	alog_put(o, cached, cached_len);
}

static void alog_item(struct alog_out *o, const struct alog_format *f,
		      const struct alog_item *it, const struct alog_entry *e)
{
	const struct http_request *r = e->req;
	const char *ip;
	bool head = alog_has_head(e);

	switch ((enum alog_op)it->op) {
	case ALOG_LITERAL:
		alog_put(o, f->text + it->off, it->len);
		break;
	case ALOG_CLIENT_IP:
		alog_puts(o, e->client_ip && e->client_ip[0] ? e->client_ip : "-");
		break;
	case ALOG_PEER_IP:
		ip = e->peer_ip ? e->peer_ip : e->client_ip;
		alog_puts(o, ip && ip[0] ? ip : "-");
		break;
	case ALOG_CLIENT_PORT:
		alog_u64(o, e->client_port);
		break;
	case ALOG_DASH:
		alog_put(o, "-", 1);
		break;
	case ALOG_SSL_PROTOCOL:
		alog_puts(o, e->tls_protocol ? e->tls_protocol : "-");
		break;
	case ALOG_SSL_CIPHER:
		alog_puts(o, e->tls_cipher ? e->tls_cipher : "-");
		break;
	case ALOG_TIME:
		alog_time(o, &e->start);
		break;
	case ALOG_REQUEST_LINE:
		if (head)
			alog_escaped(o, e->head, r->fields_off - 2);
		else
			alog_put(o, "-", 1);
		break;
	case ALOG_STATUS:
		if (e->status)
			alog_u64(o, e->status);
		else
			alog_put(o, "-", 1);
		break;
	case ALOG_BYTES_CLF:
		if (e->body_out)
			alog_u64(o, e->body_out);
		else
			alog_put(o, "-", 1);
		break;
	case ALOG_BYTES:
		alog_u64(o, e->body_out);
		break;
	case ALOG_REQ_HEADER:
		alog_req_header(o, e, f->text + it->off, it->len);
		break;
	case ALOG_DURATION_US:
		alog_u64(o, e->duration_ns / 1000);
		break;
	case ALOG_DURATION_MS:
		alog_u64(o, e->duration_ns / 1000000);
		break;
	case ALOG_DURATION_S:
		alog_u64(o, e->duration_ns / 1000000000);
		break;
	case ALOG_VHOST:
		if (e->server_name && e->server_name[0])
			alog_escaped(o, e->server_name, strlen(e->server_name));
		else
			alog_put(o, "-", 1);
		break;
	case ALOG_LOCAL_PORT:
		alog_u64(o, e->local_port);
		break;
	case ALOG_METHOD:
		if (head)
			alog_span(o, e, r->method);
		else
			alog_put(o, "-", 1);
		break;
	case ALOG_PATH:
		if (head)
			alog_span(o, e, r->path);
		else
			alog_put(o, "-", 1);
		break;
	case ALOG_QUERY:
		if (head && r->has_query) {
			alog_put(o, "?", 1);
			alog_span(o, e, r->query);
		}
		break;
	case ALOG_PROTOCOL:
		if (head)
			alog_puts(o, r->version == 10 ? "HTTP/1.0" : "HTTP/1.1");
		else
			alog_put(o, "-", 1);
		break;
	case ALOG_BYTES_IN:
		alog_u64(o, e->bytes_in);
		break;
	case ALOG_BYTES_OUT:
		alog_u64(o, e->bytes_out);
		break;
	}
}

/* alog_render(), also saying whether the line was cut. */
static size_t alog_render_cut(const struct alog_format *f, const struct alog_entry *e,
			      char *out, size_t cap, bool *cut)
{
	struct alog_out o = { .p = out, .cap = cap ? cap - 1 : 0 };

	*cut = false;
	if (cap == 0)
		return 0;
	for (unsigned i = 0; i < f->nitem && !o.full; i++)
		alog_item(&o, f, &f->item[i], e);
	*cut = o.full;
	out[o.len++] = '\n';
	return o.len;
}

size_t alog_render(const struct alog_format *f, const struct alog_entry *e, char *out,
		   size_t cap)
{
	bool cut;

	return alog_render_cut(f, e, out, cap, &cut);
}

/* ---- the double buffer ---- */

int alog_buf_init(struct alog_buf *b, size_t size, size_t threshold)
{
	memset(b, 0, sizeof(*b));
	if (size < 2 * ALOG_LINE_MAX || threshold > size)
		return -EINVAL;
	b->half[0] = malloc(2 * size);
	if (!b->half[0])
		return -ENOMEM;
	b->half[1] = b->half[0] + size;
	b->size = size;
	b->threshold = threshold ? threshold : size / 2;
	return 0;
}

void alog_buf_free(struct alog_buf *b)
{
	free(b->half[0]);
	memset(b, 0, sizeof(*b));
}

bool alog_buf_pending(const struct alog_buf *b, bool any)
{
	size_t n = b->len[b->fill];

	return !b->busy && (any ? n > 0 : n >= b->threshold);
}

bool alog_buf_append(struct alog_buf *b, const char *line, size_t len)
{
	if (len > b->size - b->len[b->fill])
		b->dropped++;
	else {
		memcpy(b->half[b->fill] + b->len[b->fill], line, len);
		b->len[b->fill] += len;
	}
	return alog_buf_pending(b, false);
}

bool alog_buf_log(struct alog_buf *b, const struct alog_format *f, const struct alog_entry *e)
{
	size_t room = b->size - b->len[b->fill];
	bool cut;

	if (room >= ALOG_LINE_MAX) {
		b->len[b->fill] += alog_render_cut(f, e, b->half[b->fill] + b->len[b->fill],
						   ALOG_LINE_MAX, &cut);
	} else {
		char line[ALOG_LINE_MAX];
		size_t n = alog_render_cut(f, e, line, sizeof(line), &cut);

		if (n > room) {
			b->dropped++;
			return alog_buf_pending(b, false);
		}
		memcpy(b->half[b->fill] + b->len[b->fill], line, n);
		b->len[b->fill] += n;
	}
	b->truncated += cut;
	return alog_buf_pending(b, false);
}

char *alog_buf_take(struct alog_buf *b, size_t *len)
{
	char *p;

	if (!alog_buf_pending(b, true)) {
		*len = 0;
		return NULL;
	}
	p = b->half[b->fill];
	*len = b->len[b->fill];
	b->busy = 1;
	b->woff = 0;
	b->fill ^= 1;
	return p;
}

char *alog_buf_done(struct alog_buf *b, ssize_t res, size_t *len)
{
	unsigned w = b->fill ^ 1;

	*len = 0;
	if (!b->busy)
		return NULL;
	/* a write of 0 bytes would repeat forever: treated as a failure */
	if (res <= 0 || (size_t)res > b->len[w] - b->woff) {
		b->lost_bytes += res < 0 || res == 0 ? b->len[w] - b->woff : 0;
	} else {
		b->woff += (size_t)res;
		if (b->woff < b->len[w]) {
			*len = b->len[w] - b->woff;
			return b->half[w] + b->woff;
		}
	}
	b->len[w] = 0;
	b->woff = 0;
	b->busy = 0;
	return NULL;
}
