/* HTTP/1.x head scanner; the contract is in include/spliced/http.h.
 *
 * The head parsers keep no state between calls: they rescan from the first byte each time.
 * http_head_end() is the cheap test run on every receive; the full parse runs once a head
 * is complete (or to reject garbage before it is). Every rule that decides where a message
 * ends lives here and nowhere else, and any input that two reasonable implementations could
 * read differently is refused, never guessed at.
 *
 * Decisions a caller must know, beyond what http.h says:
 * - absolute-form needs a path: "http://a" and "http://a?q" are refused (400), because
 *   req->path must be a non-empty span of the buffer and there is no "/" to point at.
 *   req->host is then the target's authority; a Host field must still be valid (and, on
 *   HTTP/1.1, present).
 * - CONNECT must use authority-form (host:port, port required); req->path is the whole
 *   target, req->host stays the Host field. Authority-form with another method is 400.
 * - '%' must start a pct-encoded triplet in the query as in the path (no raw '%').
 * - Transfer-Encoding lists with empty elements ("chunked,") or parameters are refused
 *   (400): framing fields get no leniency.
 * - Expect: 100-continue on HTTP/1.0 is accepted but expect_continue stays false.
 * - Responses: Content-Length with Transfer-Encoding, or Transfer-Encoding in an HTTP/1.0
 *   response, is refused even when the response has no body; max_line bounds the status
 *   line too.
 * - req->noted[] and resp->noted[] are in the order the fields appear in the head.
 */

#include <limits.h>
#include <string.h>

#include "spliced/http.h"
#include "spliced/uri.h"

#define HTTP_NEED (-2)

/* Largest Content-Length or chunked total accepted: far beyond any real body, and far
 * from every overflow a consumer adding offsets to it could hit. */
#define HTTP_MAX_LENGTH (UINT64_C(1) << 62)

#define HTTP_MAX_CHUNK_LINE 4096  /* chunk-size line without CRLF */
#define HTTP_MAX_TRAILER 8192     /* trailer section including its CRLFs (bounds each line) */

/* Character classes (RFC 9110 5.6.2, 5.5; RFC 3986 2.3, 3.2.2, 3.3, 3.4). */
enum {
	C_TCHAR = 1 << 0, /* token */
	C_PATH = 1 << 1,  /* pchar without pct-encoded, and '/' */
	C_QUERY = 1 << 2, /* C_PATH, '?', and what browsers send unescaped in a query */
	C_REG = 1 << 3,   /* unreserved / sub-delims (reg-name without pct-encoded) */
	C_VALUE = 1 << 4, /* field-vchar / obs-text / SP / HTAB */
	C_HEX = 1 << 5,
	C_DIGIT = 1 << 6,
	C_OWS = 1 << 7,   /* SP / HTAB */
};

/* unreserved, and the sub-delims that are also tchars: ! $ & ' * + */
#define CL_UNRES (C_TCHAR | C_PATH | C_QUERY | C_REG | C_VALUE)
/* the sub-delims that are not tchars: ( ) , ; = */
#define CL_SUBD (C_PATH | C_QUERY | C_REG | C_VALUE)
/* allowed in a query only */
#define CL_QONLY (C_QUERY | C_VALUE)

static const uint8_t http_cls[256] = {
	['\t'] = C_VALUE | C_OWS,
	[' '] = C_VALUE | C_OWS,
	['!'] = CL_UNRES,
	['"'] = C_VALUE,
	['#'] = C_TCHAR | C_VALUE,
	['$'] = CL_UNRES,
	['%'] = C_TCHAR | C_VALUE,
	['&'] = CL_UNRES,
	['\''] = CL_UNRES,
	['('] = CL_SUBD,
	[')'] = CL_SUBD,
	['*'] = CL_UNRES,
	['+'] = CL_UNRES,
	[','] = CL_SUBD,
	['-'] = CL_UNRES,
	['.'] = CL_UNRES,
	['/'] = C_PATH | C_QUERY | C_VALUE,
	['0' ... '9'] = CL_UNRES | C_HEX | C_DIGIT,
	[':'] = C_PATH | C_QUERY | C_VALUE,
	[';'] = CL_SUBD,
	['<'] = C_VALUE,
	['='] = CL_SUBD,
	['>'] = C_VALUE,
	['?'] = CL_QONLY,
	['@'] = C_PATH | C_QUERY | C_VALUE,
	['A' ... 'F'] = CL_UNRES | C_HEX,
	['G' ... 'Z'] = CL_UNRES,
	['['] = CL_QONLY,
	['\\'] = CL_QONLY,
	[']'] = CL_QONLY,
	['^'] = C_TCHAR | CL_QONLY,
	['_'] = CL_UNRES,
	['`'] = C_TCHAR | CL_QONLY,
	['a' ... 'f'] = CL_UNRES | C_HEX,
	['g' ... 'z'] = CL_UNRES,
	['{'] = CL_QONLY,
	['|'] = C_TCHAR | CL_QONLY,
	['}'] = CL_QONLY,
	['~'] = CL_UNRES,
	[0x80 ... 0xff] = C_VALUE,
};

static inline bool http_is(char c, unsigned cls)
{
	return http_cls[(unsigned char)c] & cls;
}

static inline unsigned char http_lower(char c)
{
	unsigned char u = (unsigned char)c;

	return (u >= 'A' && u <= 'Z') ? u + ('a' - 'A') : u;
}

static inline unsigned http_hexval(char c)
{
	unsigned char u = (unsigned char)c;

	if (u <= '9')
		return u - '0';
	return (u | 0x20) - 'a' + 10;
}

static inline struct http_span http_span_of(uint32_t from, uint32_t to)
{
	return (struct http_span){ .off = from, .len = to - from };
}

const char *http_field_next(const char *head, const struct http_request *req,
			    const char *name, size_t nlen, uint32_t *pos, size_t *vlen)
{
	uint32_t p = *pos < req->fields_off ? req->fields_off : *pos, end = req->head_len - 2;

	while (p < end) {
		const char *line = head + p;
		const char *eol = memchr(line, '\r', end - p);
		size_t llen = eol ? (size_t)(eol - line) : end - p;
		const char *colon = memchr(line, ':', llen);
		size_t i = 0;

		p += (uint32_t)llen + 2;
		if (colon && (size_t)(colon - line) == nlen) {
			while (i < nlen && http_lower(line[i]) == http_lower(name[i]))
				i++;
		}
		if (colon && (size_t)(colon - line) == nlen && i == nlen) {
			const char *v = colon + 1, *ve = line + llen;

			while (v < ve && http_is(*v, C_OWS))
				v++;
			while (ve > v && http_is(ve[-1], C_OWS))
				ve--;
			*vlen = (size_t)(ve - v);
			*pos = p;
			return v;
		}
	}
	*pos = p;
	return NULL;
}

const char *http_field_value(const char *head, const struct http_request *req,
			     const char *name, size_t nlen, size_t *vlen)
{
	uint32_t pos = 0;

	return http_field_next(head, req, name, nlen, &pos, vlen);
}

bool http_span_eq(const char *buf, struct http_span s, const char *lower)
{
	size_t n = strlen(lower);

	if (n != s.len)
		return false;
	for (size_t i = 0; i < n; i++)
		if (http_lower(buf[s.off + i]) != (unsigned char)lower[i])
			return false;
	return true;
}

bool http_list_next(const char *v, size_t len, size_t *pos, struct http_span *el)
{
	size_t i = *pos, s, e;

	for (;;) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i >= len) {
			*pos = len;
			return false;
		}
		for (s = i; i < len && v[i] != ','; i++)
			;
		for (e = i; e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'); e--)
			;
		if (e > s)
			break;
	}
	*pos = i;
	el->off = (uint32_t)s;
	el->len = (uint32_t)(e - s);
	return true;
}

bool http_proto_is(const char *v, struct http_span el, const char *name, size_t nlen)
{
	size_t n = 0;

	while (n < el.len && v[el.off + n] != '/')
		n++;
	if (n != nlen)
		return false;
	for (size_t i = 0; i < n; i++)
		if (http_lower(v[el.off + i]) != http_lower(name[i]))
			return false;
	return true;
}

static bool http_span_eq_span(const char *buf, struct http_span a, struct http_span b)
{
	if (a.len != b.len)
		return false;
	for (uint32_t i = 0; i < a.len; i++)
		if (http_lower(buf[a.off + i]) != http_lower(buf[b.off + i]))
			return false;
	return true;
}

/* Head end */

ssize_t http_head_end(const char *buf, size_t len, size_t from)
{
	size_t i = from < len ? from : len;

	/* Only an LF at or after `from` can end the head, but it looks back up to 3 bytes, so a
	 * terminator straddling `from` is found; every LF before `from` was checked already. */
	while (i < len) {
		const char *lf = memchr(buf + i, '\n', len - i);
		size_t stop = lf ? (size_t)(lf - buf) : len;

		if (memchr(buf + i, '\0', stop - i))
			return -1;
		if (!lf)
			return 0;
		if (stop == 0 || buf[stop - 1] != '\r')
			return -1;
		/* CR CR LF: the first CR is bare. Left to the full parse, a head ending
		 * "\r\n\r\r\n" would wait for more bytes (until the head timeout) instead of
		 * getting its 400 at once. */
		if (stop >= 2 && buf[stop - 2] == '\r')
			return -1;
		if (stop >= 3 && buf[stop - 2] == '\n' && buf[stop - 3] == '\r')
			return (ssize_t)(stop + 1);
		i = stop + 1;
	}
	return 0;
}

/* State of one head scan, shared by the request and response parsers. */
struct http_scan {
	const char *buf;
	uint32_t max_head;      /* lim->max_head, at most INT_MAX (heads are returned as int) */
	uint32_t end;           /* bytes that may be looked at: min(len, max_head) */
	const struct http_limits *lim;
	unsigned kinds;         /* bit (1 << kind) for each kind to note */
	struct http_field *noted;
	uint16_t nnoted;
	uint16_t nfields;
	uint16_t status;        /* on -1 */
	const char *reason;
	struct http_span conn_tok[HTTP_MAX_CONN_TOKENS];
	unsigned nconn_tok;
	bool conn_close;
	bool conn_keep_alive;
	bool conn_upgrade;
};

static int http_fail(struct http_scan *sc, uint16_t status, const char *reason)
{
	sc->status = status;
	sc->reason = reason;
	return -1;
}

/* Field names the proxy acts on. */
static const struct {
	const char *name;
	uint8_t len;
	uint8_t kind;
} http_known[] = {
	{ "host", 4, HTTP_F_HOST },
	{ "content-length", 14, HTTP_F_CONTENT_LENGTH },
	{ "transfer-encoding", 17, HTTP_F_TRANSFER_ENCODING },
	{ "connection", 10, HTTP_F_CONNECTION },
	{ "keep-alive", 10, HTTP_F_KEEP_ALIVE },
	{ "proxy-connection", 16, HTTP_F_PROXY_CONNECTION },
	{ "te", 2, HTTP_F_TE },
	{ "upgrade", 7, HTTP_F_UPGRADE },
	{ "expect", 6, HTTP_F_EXPECT },
	{ "x-forwarded-for", 15, HTTP_F_X_FORWARDED_FOR },
	{ "x-forwarded-host", 16, HTTP_F_X_FORWARDED_HOST },
	{ "x-forwarded-proto", 17, HTTP_F_X_FORWARDED_PROTO },
	{ "forwarded", 9, HTTP_F_FORWARDED },
	{ "x-real-ip", 9, HTTP_F_X_REAL_IP },
	{ "location", 8, HTTP_F_LOCATION },
	{ "content-location", 16, HTTP_F_CONTENT_LOCATION },
	{ "uri", 3, HTTP_F_URI },
	{ "set-cookie", 10, HTTP_F_SET_COOKIE },
};

/* name equals lower, '_' in name standing for '-' (the CGI/WSGI folding). */
static bool http_span_eq_folded(const char *buf, struct http_span name, const char *lower,
				size_t n)
{
	if (n != name.len)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = http_lower(buf[name.off + i]);

		if ((c == '_' ? '-' : c) != (unsigned char)lower[i])
			return false;
	}
	return true;
}

/* The kind of a field name if the scan notes that kind, else 0. */
static unsigned http_field_kind(const struct http_scan *sc, struct http_span name)
{
	for (size_t i = 0; i < sizeof(http_known) / sizeof(http_known[0]); i++) {
		if (http_known[i].len != name.len || !(sc->kinds & (1u << http_known[i].kind)))
			continue;
		if (http_span_eq(sc->buf, name, http_known[i].name))
			return http_known[i].kind;
	}
	if (!(sc->kinds & (1u << HTTP_F_UNDERSCORE)) || !memchr(sc->buf + name.off, '_', name.len))
		return 0;
	for (size_t i = 0; i < sizeof(http_known) / sizeof(http_known[0]); i++)
		if (http_known[i].kind < HTTP_F_LOCATION && /* request fields */
		    http_span_eq_folded(sc->buf, name, http_known[i].name, http_known[i].len))
			return HTTP_F_UNDERSCORE_ALIAS;
	return HTTP_F_UNDERSCORE;
}

/* Validates the field line buf[s..e) (without its CRLF; a prefix of it when !complete)
 * and on success gives the name and the OWS-trimmed value. */
static int http_field_line(struct http_scan *sc, uint32_t s, uint32_t e, bool complete,
			   struct http_span *name, struct http_span *value)
{
	const char *buf = sc->buf;
	uint32_t i = s, vs, ve;

	while (i < e && http_is(buf[i], C_TCHAR))
		i++;
	if (i == e)
		return complete ? http_fail(sc, 400, "field line without colon") : 0;
	if (buf[i] != ':') {
		if (http_is(buf[i], C_OWS))
			return http_fail(sc, 400, "whitespace before colon");
		return http_fail(sc, 400, "invalid character in field name");
	}
	if (i == s)
		return http_fail(sc, 400, "empty field name");
	*name = http_span_of(s, i);
	for (vs = ++i; i < e; i++)
		if (!http_is(buf[i], C_VALUE))
			return http_fail(sc, 400, "invalid character in field value");
	while (vs < e && http_is(buf[vs], C_OWS))
		vs++;
	for (ve = e; ve > vs && http_is(buf[ve - 1], C_OWS); ve--)
		;
	*value = http_span_of(vs, ve);
	return 0;
}

/* Inserts a noted field, keeping noted[] in head order. */
static int http_note(struct http_scan *sc, unsigned kind, uint32_t ls, uint32_t le,
		     struct http_span value)
{
	unsigned i = sc->nnoted;

	if (sc->nnoted == HTTP_MAX_NOTED)
		return http_fail(sc, 400, kind >= HTTP_F_LOCATION ?
				 "too many fields to rewrite for ProxyPassReverse "
				 "(Location, Set-Cookie...)" :
				 "too many framing and hop-by-hop fields");
	while (i > 0 && sc->noted[i - 1].line.off > ls) {
		sc->noted[i] = sc->noted[i - 1];
		i--;
	}
	sc->noted[i] = (struct http_field){ .line = http_span_of(ls, le), .value = value,
					    .kind = (uint8_t)kind };
	sc->nnoted++;
	return 0;
}

/* Scans field lines from `pos` up to and including the empty line. Returns the head
 * length, HTTP_NEED, or -1. */
static int http_scan_fields(struct http_scan *sc, uint32_t pos)
{
	const char *buf = sc->buf;
	uint64_t window_max = (uint64_t)sc->lim->max_field + 2;

	for (;;) {
		struct http_span name, value;
		uint32_t avail, window, e;
		const char *lf;
		unsigned kind;

		if (pos >= sc->end)
			return HTTP_NEED;
		if (buf[pos] == '\r') {
			if (pos + 1 == sc->end)
				return HTTP_NEED;
			if (buf[pos + 1] != '\n')
				return http_fail(sc, 400, "bare CR");
			return (int)(pos + 2);
		}
		if (buf[pos] == '\n')
			return http_fail(sc, 400, "bare LF");
		if (http_is(buf[pos], C_OWS))
			return http_fail(sc, 400, "obs-fold or whitespace before field name");
		if (sc->nfields >= sc->lim->max_fields || sc->nfields == UINT16_MAX)
			return http_fail(sc, 431, "too many header fields");

		avail = sc->end - pos;
		window = avail < window_max ? avail : (uint32_t)window_max;
		lf = memchr(buf + pos, '\n', window);
		if (!lf) {
			/* no LF in the window: too long already, or a valid prefix so far */
			e = sc->end;
			if (buf[e - 1] == '\r')
				e--;
			if (e - pos > sc->lim->max_field)
				return http_fail(sc, 431, "header field too long");
			if (http_field_line(sc, pos, e, false, &name, &value) < 0)
				return -1;
			return HTTP_NEED;
		}
		e = (uint32_t)(lf - buf);
		if (buf[e - 1] != '\r')
			return http_fail(sc, 400, "bare LF");
		e--;
		if (http_field_line(sc, pos, e, true, &name, &value) < 0)
			return -1;
		sc->nfields++;
		kind = http_field_kind(sc, name);
		if (kind && http_note(sc, kind, pos, e + 2, value) < 0)
			return -1;
		pos = e + 2;
	}
}

/* Connection = #connection-option: sets close/keep-alive and collects the other names. */
static int http_connection(struct http_scan *sc, struct http_span v)
{
	const char *buf = sc->buf;
	uint32_t i = v.off, e = v.off + v.len;

	while (i < e) {
		struct http_span tok;
		uint32_t s;

		if (http_is(buf[i], C_OWS) || buf[i] == ',') {
			i++;
			continue;
		}
		for (s = i; i < e && http_is(buf[i], C_TCHAR); i++)
			;
		if (s == i)
			return http_fail(sc, 400, "invalid Connection option");
		tok = http_span_of(s, i);
		while (i < e && http_is(buf[i], C_OWS))
			i++;
		if (i < e && buf[i] != ',')
			return http_fail(sc, 400, "invalid Connection option");

		if (http_span_eq(buf, tok, "close")) {
			sc->conn_close = true;
		} else if (http_span_eq(buf, tok, "keep-alive")) {
			sc->conn_keep_alive = true;
		} else if (http_span_eq(buf, tok, "upgrade")) {
			sc->conn_upgrade = true;
		} else {
			unsigned k;

			for (k = 0; k < sc->nconn_tok; k++)
				if (http_span_eq_span(buf, sc->conn_tok[k], tok))
					break;
			if (k == sc->nconn_tok) {
				if (sc->nconn_tok == HTTP_MAX_CONN_TOKENS)
					return http_fail(sc, 400, "too many Connection options");
				sc->conn_tok[sc->nconn_tok++] = tok;
			}
		}
	}
	return 0;
}

/* Notes buf[ls..le) as listed in Connection; a field noted already (a name with '_')
 * becomes a listed one instead of being noted twice. */
static int http_note_listed(struct http_scan *sc, uint32_t ls, uint32_t le,
			    struct http_span value)
{
	for (unsigned i = 0; i < sc->nnoted; i++) {
		if (sc->noted[i].line.off == ls) {
			sc->noted[i].kind = HTTP_F_CONNECTION_LISTED;
			return 0;
		}
	}
	return http_note(sc, HTTP_F_CONNECTION_LISTED, ls, le, value);
}

/* Connection may not list a field the message's framing depends on (Content-Length,
 * Transfer-Encoding) nor, in a request, Host, which routing depends on: removing it as
 * hop-by-hop would change how the next hop reads the message, keeping it would forward a
 * field the sender said is not for it. Either way the hops disagree, so the message is
 * refused with `status` (400 for a request, 0 for a response: the proxy answers 502). */
static int http_connection_protected(struct http_scan *sc, uint16_t status, bool host)
{
	for (unsigned k = 0; k < sc->nconn_tok; k++) {
		struct http_span t = sc->conn_tok[k];

		if (http_span_eq(sc->buf, t, "content-length"))
			return http_fail(sc, status, "Connection lists Content-Length");
		if (http_span_eq(sc->buf, t, "transfer-encoding"))
			return http_fail(sc, status, "Connection lists Transfer-Encoding");
		if (host && http_span_eq(sc->buf, t, "host"))
			return http_fail(sc, status, "Connection lists Host");
	}
	return 0;
}

/* Second pass, once every Connection value is known: notes the fields Connection lists.
 * The lines were validated by the first pass. A listed field that is noted under its own
 * kind keeps it (the caller drops or replaces those by their own rules); the framing
 * fields and Host never get here (http_connection_protected refused the head). */
static int http_connection_listed(struct http_scan *sc, uint32_t pos, uint32_t head_len)
{
	const char *buf = sc->buf;

	while (pos + 2 < head_len) {
		const char *lf = memchr(buf + pos, '\n', head_len - pos);
		uint32_t e = (uint32_t)(lf - buf) - 1;
		struct http_span name, value;
		unsigned kind;

		if (http_field_line(sc, pos, e, true, &name, &value) < 0)
			return -1;
		kind = http_field_kind(sc, name);
		/* a name with '_' listed in Connection is hop-by-hop like any other */
		if (!kind || kind == HTTP_F_UNDERSCORE) {
			for (unsigned k = 0; k < sc->nconn_tok; k++) {
				if (!http_span_eq_span(buf, sc->conn_tok[k], name))
					continue;
				if (http_note_listed(sc, pos, e + 2, value) < 0)
					return -1;
				break;
			}
		}
		pos = e + 2;
	}
	return 0;
}

/* Content-Length = 1*DIGIT, one value (a list, even "5, 5", is refused). */
static bool http_content_length(const char *buf, struct http_span v, uint64_t *out)
{
	uint64_t n = 0;

	if (v.len == 0)
		return false;
	for (uint32_t i = v.off; i < v.off + v.len; i++) {
		unsigned d;

		if (!http_is(buf[i], C_DIGIT))
			return false;
		d = (unsigned)(buf[i] - '0');
		if (n > (HTTP_MAX_LENGTH - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

enum http_te {
	HTTP_TE_CHUNKED,   /* exactly "chunked" */
	HTTP_TE_UNKNOWN,   /* only codings we do not implement, or them then chunked */
	HTTP_TE_BAD,       /* chunked not last, or chunked twice */
	HTTP_TE_SYNTAX,    /* not a list of tokens (parameters and empty elements included) */
};

static enum http_te http_transfer_encoding(const char *buf, struct http_span v)
{
	uint32_t i = v.off, e = v.off + v.len;
	unsigned n = 0, nchunked = 0;
	bool last_chunked = false;

	if (v.len == 0)
		return HTTP_TE_SYNTAX;
	for (;;) {
		uint32_t s = i;

		while (i < e && http_is(buf[i], C_TCHAR))
			i++;
		if (s == i)
			return HTTP_TE_SYNTAX;
		n++;
		last_chunked = http_span_eq(buf, http_span_of(s, i), "chunked");
		nchunked += last_chunked;
		while (i < e && http_is(buf[i], C_OWS))
			i++;
		if (i == e)
			break;
		if (buf[i++] != ',')
			return HTTP_TE_SYNTAX;
		while (i < e && http_is(buf[i], C_OWS))
			i++;
	}
	if (nchunked > 1 || (nchunked == 1 && !last_chunked))
		return HTTP_TE_BAD;
	if (n == 1 && nchunked == 1)
		return HTTP_TE_CHUNKED;
	return HTTP_TE_UNKNOWN;
}

/* IP-literal = "[" IPv6address "]": checked loosely (hex digits, ':' and '.', at least two
 * colons); IPvFuture and zone ids are refused. */
static bool http_ip_literal(const char *buf, uint32_t s, uint32_t e)
{
	unsigned colons = 0;

	if (e - s < 2 || e - s > 45)
		return false;
	for (uint32_t i = s; i < e; i++) {
		if (buf[i] == ':')
			colons++;
		else if (buf[i] != '.' && !http_is(buf[i], C_HEX))
			return false;
	}
	return colons >= 2;
}

/* authority without userinfo: host [ ":" port ], host non-empty, port 1*5DIGIT <= 65535
 * (required when need_port). */
static bool http_authority(const char *buf, uint32_t s, uint32_t e, bool need_port)
{
	uint32_t i = s, port = 0, p;

	if (s == e)
		return false;
	if (buf[s] == '[') {
		const char *rb = memchr(buf + s, ']', e - s);

		if (!rb || !http_ip_literal(buf, s + 1, (uint32_t)(rb - buf)))
			return false;
		i = (uint32_t)(rb - buf) + 1;
	} else {
		while (i < e) {
			if (buf[i] == '%' && e - i >= 3 && http_is(buf[i + 1], C_HEX) &&
			    http_is(buf[i + 2], C_HEX))
				i += 3;
			else if (http_is(buf[i], C_REG))
				i++;
			else
				break;
		}
		if (i == s)
			return false;
	}
	if (i == e)
		return !need_port;
	if (buf[i] != ':')
		return false;
	for (p = ++i; i < e; i++) {
		if (!http_is(buf[i], C_DIGIT) || i - p >= 5)
			return false;
		port = port * 10 + (uint32_t)(buf[i] - '0');
	}
	return i > p && port <= 65535;
}

/* Host = uri-host [ ":" port ] as a proxy forwards it: a DNS name or IPv4 address
 * (letters, digits, '-', '.', '_'), or an IPv6 literal in brackets; at most HTTP_HOST_MAX
 * bytes. Everything else a reg-name may hold (',', ';', '%', other sub-delims) is refused:
 * "a.example,admin.example" would be read as a list by the application behind. */
static bool http_host_ok(const char *buf, uint32_t s, uint32_t e)
{
	uint32_t i = s;

	if (e - s > HTTP_HOST_MAX)
		return false;
	if (i < e && buf[i] != '[') {
		while (i < e && (http_is(buf[i], C_DIGIT) || buf[i] == '-' || buf[i] == '.' ||
				 buf[i] == '_' || (unsigned)(http_lower(buf[i]) - 'a') < 26))
			i++;
		if (i == s || (i < e && buf[i] != ':'))
			return false;
	}
	return http_authority(buf, s, e, false);
}

/* Validates buf[s..e) against the class `cls` with pct-encoded triplets; returns the
 * offset of the first byte equal to `stop` (or e; -1 for no stop byte), or UINT32_MAX
 * when invalid. */
static uint32_t http_pchars(const char *buf, uint32_t s, uint32_t e, unsigned cls, int stop)
{
	uint32_t i = s;

	while (i < e && (unsigned char)buf[i] != stop) {
		if (buf[i] == '%') {
			if (e - i < 3 || !http_is(buf[i + 1], C_HEX) || !http_is(buf[i + 2], C_HEX))
				return UINT32_MAX;
			i += 3;
		} else if (http_is(buf[i], cls)) {
			i++;
		} else {
			return UINT32_MAX;
		}
	}
	return i;
}

/* absolute-path [ "?" query ] in buf[s..e), s at the first '/'. */
static int http_path_query(struct http_scan *sc, struct http_request *req, uint32_t s,
			   uint32_t e)
{
	uint32_t q = http_pchars(sc->buf, s, e, C_PATH, '?');

	if (q == UINT32_MAX)
		return http_fail(sc, 400, "invalid character in request-target path");
	req->path = http_span_of(s, q);
	if (q == e)
		return 0;
	if (http_pchars(sc->buf, q + 1, e, C_QUERY, -1) != e)
		return http_fail(sc, 400, "invalid character in request-target query");
	req->has_query = true;
	req->query = http_span_of(q + 1, e);
	return 0;
}

static bool http_prefix_ci(const char *buf, uint32_t s, uint32_t e, const char *lower)
{
	size_t n = strlen(lower);

	return e - s >= n && http_span_eq(buf, (struct http_span){ s, (uint32_t)n }, lower);
}

/* The request-target buf[s..e) (non-empty), once the method is known. */
static int http_target(struct http_scan *sc, struct http_request *req, uint32_t s, uint32_t e)
{
	const char *buf = sc->buf;
	uint32_t a, ae;

	req->target = http_span_of(s, e);
	if (req->meth == HTTP_METHOD_CONNECT) {
		if (!http_authority(buf, s, e, true))
			return http_fail(sc, 400, "CONNECT needs authority-form host:port");
		req->path = req->target;
		return 0;
	}
	if (buf[s] == '/')
		return http_path_query(sc, req, s, e);
	if (buf[s] == '*') {
		if (e - s != 1 || req->meth != HTTP_METHOD_OPTIONS)
			return http_fail(sc, 400, "asterisk-form is for OPTIONS only");
		req->asterisk_form = true;
		req->path = req->target;
		return 0;
	}
	if (http_prefix_ci(buf, s, e, "http://"))
		a = s + 7;
	else if (http_prefix_ci(buf, s, e, "https://"))
		a = s + 8;
	else
		return http_fail(sc, 400, "unsupported request-target form");
	for (ae = a; ae < e && buf[ae] != '/' && buf[ae] != '?'; ae++)
		;
	if (!http_host_ok(buf, a, ae))
		return http_fail(sc, 400, "invalid authority in absolute-form");
	/* req->path must be a non-empty span of the buffer: with no '/' to point at,
	 * "http://a" and "http://a?q" are refused rather than rewritten. */
	if (ae == e || buf[ae] != '/')
		return http_fail(sc, 400, "absolute-form without path");
	req->absolute_form = true;
	req->host = http_span_of(a, ae);
	req->has_host = true;
	return http_path_query(sc, req, ae, e);
}

static enum http_method http_method_of(const char *m, uint32_t n)
{
	static const struct {
		const char *name;
		enum http_method meth;
	} methods[] = {
		{ "GET", HTTP_METHOD_GET },       { "HEAD", HTTP_METHOD_HEAD },
		{ "POST", HTTP_METHOD_POST },     { "PUT", HTTP_METHOD_PUT },
		{ "DELETE", HTTP_METHOD_DELETE }, { "CONNECT", HTTP_METHOD_CONNECT },
		{ "OPTIONS", HTTP_METHOD_OPTIONS }, { "TRACE", HTTP_METHOD_TRACE },
		{ "PATCH", HTTP_METHOD_PATCH },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].name) == n && memcmp(methods[i].name, m, n) == 0)
			return methods[i].meth;
	return HTTP_METHOD_OTHER;
}

/* Checks buf[s..e) against a prefix of "HTTP/d.d" (all of it when complete). Returns the
 * version (major * 10 + minor), 0 for a valid prefix, -1 when malformed. */
static int http_version(const char *buf, uint32_t s, uint32_t e, bool complete)
{
	static const char pat[] = "HTTP/d.d";

	if (e - s > 8 || (complete && e - s != 8))
		return -1;
	for (uint32_t i = 0; i < e - s; i++) {
		if (pat[i] == 'd' ? !http_is(buf[s + i], C_DIGIT) : buf[s + i] != pat[i])
			return -1;
	}
	if (!complete)
		return 0;
	return (buf[s + 5] - '0') * 10 + (buf[s + 7] - '0');
}

/* request-line = method SP request-target SP HTTP-version, in buf[0..e) without CRLF. A
 * partial line (!complete) is checked as far as it goes, loosely for the target. */
static int http_request_line(struct http_scan *sc, struct http_request *req, uint32_t e,
			     bool complete)
{
	const char *buf = sc->buf;
	uint32_t i = 0, t, te;
	int v;

	while (i < e && http_is(buf[i], C_TCHAR))
		i++;
	if (i == e)
		return complete ? http_fail(sc, 400, "no request-target") : 0;
	if (buf[i] != ' ' || i == 0)
		return http_fail(sc, 400, "invalid character in method");
	req->method = http_span_of(0, i);
	req->meth = http_method_of(buf, i);

	for (t = ++i; i < e && (http_is(buf[i], C_QUERY) || buf[i] == '%'); i++)
		;
	if (i == e && !complete)
		return 0;
	if (i == e)
		return http_fail(sc, 400, "no HTTP version");
	if (buf[i] != ' ')
		return http_fail(sc, 400, "invalid character in request-target");
	if (i == t)
		return http_fail(sc, 400, "empty request-target");
	te = i++;

	v = http_version(buf, i, e, complete);
	if (v < 0)
		return http_fail(sc, 400, "malformed HTTP version");
	if (!complete)
		return 0;
	if (http_target(sc, req, t, te) < 0)
		return -1;
	if (v != 10 && v != 11)
		return http_fail(sc, 505, "HTTP version not supported");
	req->version = (uint8_t)v;
	return 0;
}

/* Applies the rules on noted request fields once the head is complete. */
static int http_request_fields(struct http_scan *sc, struct http_request *req)
{
	const char *buf = sc->buf;
	const struct http_field *cl = NULL, *te = NULL;
	unsigned nhost = 0;

	for (unsigned i = 0; i < sc->nnoted; i++) {
		const struct http_field *f = &sc->noted[i];

		switch (f->kind) {
		case HTTP_F_HOST:
			if (++nhost > 1)
				return http_fail(sc, 400, "duplicate Host");
			if (f->value.len && !http_host_ok(buf, f->value.off,
							  f->value.off + f->value.len))
				return http_fail(sc, 400, "invalid Host");
			if (!req->absolute_form) {
				req->host = f->value;
				req->has_host = true;
			}
			break;
		case HTTP_F_CONTENT_LENGTH:
			if (cl)
				return http_fail(sc, 400, "duplicate Content-Length");
			cl = f;
			if (!http_content_length(buf, f->value, &req->content_length))
				return http_fail(sc, 400, "invalid Content-Length");
			break;
		case HTTP_F_TRANSFER_ENCODING:
			if (te)
				return http_fail(sc, 400, "duplicate Transfer-Encoding");
			te = f;
			break;
		case HTTP_F_CONNECTION:
			if (http_connection(sc, f->value) < 0)
				return -1;
			break;
		case HTTP_F_EXPECT:
			if (!http_span_eq(buf, f->value, "100-continue"))
				return http_fail(sc, 417, "unsupported Expect");
			/* an HTTP/1.0 client does not wait for 100 (RFC 9110 10.1.1) */
			req->expect_continue = req->version == 11;
			break;
		case HTTP_F_UPGRADE:
			req->has_upgrade = true;
			break;
		}
	}
	if (req->version == 11 && nhost == 0)
		return http_fail(sc, 400, "missing Host");

	if (te) {
		if (req->version == 10)
			return http_fail(sc, 400, "Transfer-Encoding in HTTP/1.0 request");
		if (cl)
			return http_fail(sc, 400, "Content-Length with Transfer-Encoding");
		switch (http_transfer_encoding(buf, te->value)) {
		case HTTP_TE_CHUNKED:
			break;
		case HTTP_TE_UNKNOWN:
			return http_fail(sc, 501, "unsupported transfer coding");
		case HTTP_TE_BAD:
			return http_fail(sc, 400, "chunked is not the final transfer coding");
		case HTTP_TE_SYNTAX:
			return http_fail(sc, 400, "invalid Transfer-Encoding");
		}
		req->framing = HTTP_FRAMING_CHUNKED;
	} else if (cl) {
		req->framing = HTTP_FRAMING_LENGTH;
	} else {
		req->content_length = 0;
		req->framing = HTTP_FRAMING_NONE;
	}
	return 0;
}

/* Sets the scan window: the head may not be longer than max_head, and its length is
 * returned as an int. */
static void http_window(struct http_scan *sc, size_t len)
{
	sc->max_head = sc->lim->max_head > INT_MAX ? INT_MAX : sc->lim->max_head;
	sc->end = len < sc->max_head ? (uint32_t)len : sc->max_head;
}

/* Locates the first line (request or status line) of a head in buf[0..sc->end). Returns 1
 * with *e = end of the line content when complete (CRLF found), 0 with *e = end of the
 * content so far when not, -1 on a bare LF or a line longer than max_line (status 414). */
static int http_first_line(struct http_scan *sc, uint32_t *e, const char *too_long)
{
	uint64_t window_max = (uint64_t)sc->lim->max_line + 2;
	uint32_t window = sc->end < window_max ? sc->end : (uint32_t)window_max;
	const char *lf = memchr(sc->buf, '\n', window);

	if (lf) {
		*e = (uint32_t)(lf - sc->buf);
		if (*e == 0 || sc->buf[*e - 1] != '\r')
			return http_fail(sc, 400, "bare LF");
		(*e)--;
		return 1;
	}
	*e = sc->end;
	if (*e > 0 && sc->buf[*e - 1] == '\r')
		(*e)--;
	if (*e > sc->lim->max_line)
		return http_fail(sc, 414, too_long);
	return 0;
}

static int http_request_scan(struct http_scan *sc, struct http_request *req, size_t len)
{
	const char *buf = sc->buf;
	uint32_t e;
	int rc, complete, head;

	if (sc->end == 0)
		goto need;
	if (buf[0] == '\r' || buf[0] == '\n')
		return http_fail(sc, 400, "empty line before request line");
	complete = http_first_line(sc, &e, "request line too long");
	if (complete < 0)
		return -1;
	rc = http_request_line(sc, req, e, complete);
	if (rc < 0)
		return -1;
	if (!complete)
		goto need;
	req->fields_off = e + 2;

	head = http_scan_fields(sc, req->fields_off);
	if (head == HTTP_NEED)
		goto need;
	if (head < 0)
		return -1;
	req->head_len = (uint32_t)head;
	if (http_request_fields(sc, req) < 0)
		return -1;
	if (sc->nconn_tok && (http_connection_protected(sc, 400, true) < 0 ||
			      http_connection_listed(sc, req->fields_off, req->head_len) < 0))
		return -1;
	req->conn_close = sc->conn_close;
	req->conn_keep_alive = sc->conn_keep_alive;
	req->conn_upgrade = sc->conn_upgrade;
	return head;
need:
	if (len >= sc->max_head)
		return http_fail(sc, 431, "request head too large");
	return HTTP_NEED;
}

int http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
		       struct http_request *req)
{
	struct http_scan sc = {
		.buf = buf,
		.lim = lim,
		/* all of http_known[], and names with '_' */
		.kinds = (((1u << (HTTP_F_X_FORWARDED_PROTO + 1)) - 1) & ~1u) |
			 1u << HTTP_F_FORWARDED | 1u << HTTP_F_X_REAL_IP | 1u << HTTP_F_UNDERSCORE,
		.noted = req->noted,
	};
	int rc;

	memset(req, 0, sizeof(*req));
	http_window(&sc, len);
	rc = http_request_scan(&sc, req, len);
	req->nfields = sc.nfields;
	req->nnoted = sc.nnoted;
	if (rc == -1) {
		req->status = sc.status;
		req->reason = sc.reason;
	}
	return rc;
}

/* Response */

/* status-line = HTTP-version SP status-code [ SP [ reason-phrase ] ], in buf[0..e). */
static int http_status_line(struct http_scan *sc, struct http_response *resp, uint32_t e,
			    bool complete)
{
	static const char pat[] = "HTTP/1.v ddd";
	const char *buf = sc->buf;
	uint32_t i;

	for (i = 0; i < e && i < 12; i++) {
		char c = buf[i], p = pat[i];

		if (p == 'd' ? !http_is(c, C_DIGIT) : p == 'v' ? (c != '0' && c != '1') : c != p)
			return http_fail(sc, 0, "malformed status line");
	}
	if (i < 12)
		return complete ? http_fail(sc, 0, "malformed status line") : 0;
	if (buf[9] == '0')
		return http_fail(sc, 0, "status code below 100");
	if (e > 12 && buf[12] != ' ')
		return http_fail(sc, 0, "malformed status line");
	for (i = 13; i < e; i++)
		if (!http_is(buf[i], C_VALUE))
			return http_fail(sc, 0, "invalid character in reason phrase");
	resp->version = (uint8_t)(buf[7] == '1' ? 11 : 10);
	resp->status = (uint16_t)((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0'));
	return 0;
}

static int http_response_fields(struct http_scan *sc, struct http_response *resp,
				enum http_method req_method)
{
	const char *buf = sc->buf;
	const struct http_field *cl = NULL, *te = NULL;
	enum http_te coding = HTTP_TE_SYNTAX;
	bool no_body;

	for (unsigned i = 0; i < sc->nnoted; i++) {
		const struct http_field *f = &sc->noted[i];

		switch (f->kind) {
		case HTTP_F_CONTENT_LENGTH:
			if (cl)
				return http_fail(sc, 0, "duplicate Content-Length");
			cl = f;
			if (!http_content_length(buf, f->value, &resp->content_length))
				return http_fail(sc, 0, "invalid Content-Length");
			break;
		case HTTP_F_TRANSFER_ENCODING:
			if (te)
				return http_fail(sc, 0, "duplicate Transfer-Encoding");
			te = f;
			coding = http_transfer_encoding(buf, f->value);
			break;
		case HTTP_F_CONNECTION:
			if (http_connection(sc, f->value) < 0)
				return -1;
			break;
		}
	}
	if (cl && te)
		return http_fail(sc, 0, "Content-Length with Transfer-Encoding");
	if (te && resp->version == 10)
		return http_fail(sc, 0, "Transfer-Encoding in HTTP/1.0 response");
	if (te && coding == HTTP_TE_SYNTAX)
		return http_fail(sc, 0, "invalid Transfer-Encoding");

	no_body = req_method == HTTP_METHOD_HEAD || resp->status < 200 || resp->status == 204 ||
		  resp->status == 304;
	if (no_body) {
		resp->framing = HTTP_FRAMING_NONE;
		resp->content_length = 0;
	} else if (te) {
		if (coding != HTTP_TE_CHUNKED)
			return http_fail(sc, 0, "unsupported Transfer-Encoding");
		resp->framing = HTTP_FRAMING_CHUNKED;
	} else if (cl) {
		resp->framing = HTTP_FRAMING_LENGTH;
	} else {
		resp->framing = HTTP_FRAMING_CLOSE;
	}
	return 0;
}

static int http_response_scan(struct http_scan *sc, struct http_response *resp, size_t len,
			      enum http_method req_method)
{
	uint32_t e;
	int complete, head;

	if (sc->end == 0)
		goto need;
	complete = http_first_line(sc, &e, "status line too long");
	if (complete < 0)
		return -1;
	if (http_status_line(sc, resp, e, complete) < 0)
		return -1;
	if (!complete)
		goto need;
	resp->fields_off = e + 2;

	head = http_scan_fields(sc, resp->fields_off);
	if (head == HTTP_NEED)
		goto need;
	if (head < 0)
		return -1;
	resp->head_len = (uint32_t)head;
	if (http_response_fields(sc, resp, req_method) < 0)
		return -1;
	if (sc->nconn_tok && (http_connection_protected(sc, 0, false) < 0 ||
			      http_connection_listed(sc, resp->fields_off, resp->head_len) < 0))
		return -1;
	resp->conn_close = sc->conn_close;
	resp->conn_keep_alive = sc->conn_keep_alive;
	resp->conn_upgrade = sc->conn_upgrade;
	return head;
need:
	if (len >= sc->max_head)
		return http_fail(sc, 0, "response head too large");
	return HTTP_NEED;
}

int http_parse_response(const char *buf, size_t len, const struct http_limits *lim,
			enum http_method req_method, struct http_response *resp)
{
	return http_parse_response_noting(buf, len, lim, req_method, 0, resp);
}

int http_parse_response_noting(const char *buf, size_t len, const struct http_limits *lim,
			       enum http_method req_method, unsigned kinds,
			       struct http_response *resp)
{
	unsigned rewrite = 1u << HTTP_F_LOCATION | 1u << HTTP_F_CONTENT_LOCATION |
			   1u << HTTP_F_URI | 1u << HTTP_F_SET_COOKIE;
	struct http_scan sc = {
		.buf = buf,
		.lim = lim,
		.kinds = 1u << HTTP_F_CONTENT_LENGTH | 1u << HTTP_F_TRANSFER_ENCODING |
			 1u << HTTP_F_CONNECTION | 1u << HTTP_F_KEEP_ALIVE |
			 1u << HTTP_F_PROXY_CONNECTION | 1u << HTTP_F_UPGRADE | (kinds & rewrite),
		.noted = resp->noted,
	};
	int rc;

	memset(resp, 0, sizeof(*resp));
	http_window(&sc, len);
	rc = http_response_scan(&sc, resp, len, req_method);
	resp->nfields = sc.nfields;
	resp->nnoted = sc.nnoted;
	if (rc == -1)
		resp->reason = sc.reason;
	return rc;
}

/* Chunked transfer coding (RFC 9112 7.1) */

enum {
	CH_SIZE0,     /* first hex digit of chunk-size */
	CH_SIZE,      /* further hex digits */
	CH_EXT_WS,    /* BWS that must be followed by ';' */
	CH_EXT_NAME0, /* after ';': BWS, then ext-name */
	CH_EXT_NAME,
	CH_EXT_NAME_WS, /* BWS after ext-name: '=' or ';' must follow */
	CH_EXT_VAL0,  /* after '=': BWS, then token or quoted-string */
	CH_EXT_TOKEN,
	CH_EXT_QUOTED,
	CH_EXT_QESC,  /* after a backslash in quoted-string */
	CH_EXT_QEND,  /* after the closing quote */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TR_START,  /* start of a trailer line, or the final CRLF */
	CH_TR_NAME,
	CH_TR_VALUE,
	CH_TR_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_ERROR,
};

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE0;
}

bool http_chunked_in_payload(const struct http_chunked *c)
{
	return c->state == CH_DATA && c->left > 0;
}

void http_chunked_skip(struct http_chunked *c, uint64_t n)
{
	if (c->state != CH_DATA)
		return;
	if (n > c->left)
		n = c->left; /* caller bug: never skip beyond the chunk */
	c->left -= n;
	c->total += n;
	if (c->left == 0)
		c->state = CH_DATA_CR;
}

/* One byte of a chunk-size line (size and extensions, up to its CR). Returns the next
 * state, or CH_ERROR. */
static uint8_t http_chunk_size_byte(struct http_chunked *c, char ch)
{
	bool ws = ch == ' ' || ch == '\t';

	switch (c->state) {
	case CH_SIZE0:
		if (!http_is(ch, C_HEX))
			return CH_ERROR;
		c->left = http_hexval(ch);
		return CH_SIZE;
	case CH_SIZE:
		if (http_is(ch, C_HEX)) {
			if (c->left > (UINT64_MAX >> 4))
				return CH_ERROR;
			c->left = c->left << 4 | http_hexval(ch);
			return CH_SIZE;
		}
		break;
	case CH_EXT_WS:
	case CH_EXT_NAME_WS:
		if (ws)
			return c->state;
		if (ch == ';')
			return CH_EXT_NAME0;
		if (ch == '=' && c->state == CH_EXT_NAME_WS)
			return CH_EXT_VAL0;
		return CH_ERROR;
	case CH_EXT_NAME0:
		if (ws)
			return CH_EXT_NAME0;
		return http_is(ch, C_TCHAR) ? CH_EXT_NAME : CH_ERROR;
	case CH_EXT_NAME:
		if (http_is(ch, C_TCHAR))
			return CH_EXT_NAME;
		if (ch == '=')
			return CH_EXT_VAL0;
		if (ws)
			return CH_EXT_NAME_WS;
		break;
	case CH_EXT_VAL0:
		if (ws)
			return CH_EXT_VAL0;
		if (ch == '"')
			return CH_EXT_QUOTED;
		return http_is(ch, C_TCHAR) ? CH_EXT_TOKEN : CH_ERROR;
	case CH_EXT_TOKEN:
		if (http_is(ch, C_TCHAR))
			return CH_EXT_TOKEN;
		break;
	case CH_EXT_QUOTED:
		/* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
		if (ch == '"')
			return CH_EXT_QEND;
		if (ch == '\\')
			return CH_EXT_QESC;
		return http_is(ch, C_VALUE) ? CH_EXT_QUOTED : CH_ERROR;
	case CH_EXT_QESC:
		return http_is(ch, C_VALUE) ? CH_EXT_QUOTED : CH_ERROR;
	case CH_EXT_QEND:
		break;
	default:
		return CH_ERROR;
	}
	/* After the size, an ext-name, an ext-val: the line may end, or go on with ';'. */
	if (ch == '\r')
		return CH_SIZE_LF;
	if (ch == ';')
		return CH_EXT_NAME0;
	if (ws)
		return CH_EXT_WS;
	return CH_ERROR;
}

/* One byte of the trailer section (after the last chunk): field lines with the rules of
 * header fields, then CRLF. */
static uint8_t http_chunk_trailer_byte(struct http_chunked *c, char ch)
{
	if (++c->trailer > HTTP_MAX_TRAILER)
		return CH_ERROR;
	switch (c->state) {
	case CH_TR_START:
		if (ch == '\r')
			return CH_FINAL_LF;
		return http_is(ch, C_TCHAR) ? CH_TR_NAME : CH_ERROR;
	case CH_TR_NAME:
		if (ch == ':')
			return CH_TR_VALUE;
		return http_is(ch, C_TCHAR) ? CH_TR_NAME : CH_ERROR;
	case CH_TR_VALUE:
		if (ch == '\r')
			return CH_TR_LF;
		return http_is(ch, C_VALUE) ? CH_TR_VALUE : CH_ERROR;
	case CH_TR_LF:
		return ch == '\n' ? CH_TR_START : CH_ERROR;
	case CH_FINAL_LF:
		return ch == '\n' ? CH_DONE : CH_ERROR;
	}
	return CH_ERROR;
}

/* Writes the canonical chunk-size line for a size: lower-case hex without leading zeros,
 * CRLF. At most 16 + 2 bytes (sizes stay below HTTP_MAX_LENGTH). */
static size_t http_chunk_line_out(uint64_t size, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[HTTP_CHUNK_SLACK];
	size_t n = 0;

	do {
		tmp[n++] = hex[size & 15];
		size >>= 4;
	} while (size);
	for (size_t k = 0; k < n; k++)
		out[k] = tmp[n - 1 - k];
	out[n] = '\r';
	out[n + 1] = '\n';
	return n + 2;
}

/* The validator, and with `out` the canonical writer (see http_chunked_canon). Why output
 * never overtakes input when out + HTTP_CHUNK_SLACK <= buf: let i be the input bytes
 * consumed by this call and o the bytes written. A data, data-CRLF or trailer byte writes
 * itself (o and i both grow by 1); a size-line byte before its LF writes nothing; the LF
 * writes the size's significant hex digits (at most 16, never more than the digits the
 * line had) and CRLF. For a size line wholly inside this call that is at most the line's
 * own length, so o - i does not grow. Only the line that was cut by the previous call can
 * make it grow: its digits and CR were consumed then, so its LF (1 byte here) writes at
 * most 16 + 2 bytes, o - i <= 17 < HTTP_CHUNK_SLACK. So every byte written lands below
 * buf + i, on input already read; and when the call starts at a line start or in data (a
 * fresh struct, say), o <= i and out == buf is safe too. */
static ssize_t http_chunked_run(struct http_chunked *c, const char *buf, size_t len,
				char *out, size_t *olen)
{
	size_t i = 0, o = 0;

	if (olen)
		*olen = 0;
	if (c->state == CH_ERROR)
		return -1;
	while (i < len && c->state != CH_DONE) {
		char ch = buf[i];
		bool emit = false;

		switch (c->state) {
		case CH_DATA: {
			uint64_t n = len - i < c->left ? len - i : c->left;

			if (out)
				memmove(out + o, buf + i, (size_t)n);
			o += (size_t)n;
			i += n;
			c->left -= n;
			c->total += n;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		case CH_DATA_CR:
			c->state = ch == '\r' ? CH_DATA_LF : CH_ERROR;
			emit = true;
			break;
		case CH_DATA_LF:
			c->state = ch == '\n' ? CH_SIZE0 : CH_ERROR;
			c->line = 0;
			emit = true;
			break;
		case CH_SIZE_LF:
			if (ch != '\n') {
				c->state = CH_ERROR;
			} else if (c->left == 0) {
				c->state = CH_TR_START;
				c->trailer = 0;
			} else if (c->left > HTTP_MAX_LENGTH - c->total) {
				c->state = CH_ERROR;
			} else {
				c->state = CH_DATA;
			}
			if (out && c->state != CH_ERROR)
				o += http_chunk_line_out(c->left, out + o);
			break;
		case CH_TR_START:
		case CH_TR_NAME:
		case CH_TR_VALUE:
		case CH_TR_LF:
		case CH_FINAL_LF:
			c->state = http_chunk_trailer_byte(c, ch);
			emit = true;
			break;
		default:
			if (ch != '\r' && ++c->line > HTTP_MAX_CHUNK_LINE)
				c->state = CH_ERROR;
			else
				c->state = http_chunk_size_byte(c, ch);
			break;
		}
		if (c->state == CH_ERROR)
			return -1;
		if (emit) {
			if (out)
				out[o] = ch;
			o++;
		}
		i++;
	}
	if (c->state == CH_DONE)
		c->done = true;
	if (olen)
		*olen = out ? o : 0;
	return (ssize_t)i;
}

ssize_t http_chunked_scan(struct http_chunked *c, const char *buf, size_t len)
{
	return http_chunked_run(c, buf, len, NULL, NULL);
}

ssize_t http_chunked_canon(struct http_chunked *c, const char *in, size_t len, char *out,
			   size_t *out_len)
{
	return http_chunked_run(c, in, len, out, out_len);
}

const char *http_status_text(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 412: return "Precondition Failed";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- path normalization (RFC 3986 6.2.2) ---- */

/* RFC 3986 unreserved: decoding its escape changes no meaning. */
static bool http_unreserved(unsigned char c)
{
	return uri_is(c, URI_C_ALNUM) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Ends one segment of a normalized path: "." vanishes, ".." removes the previous
 * segment (false when there is none: the path climbs above the root), anything else is
 * appended as "/segment". out is written in place over the path being read, which is
 * safe because the output never gets ahead of the input. */
static bool http_end_segment(char *out, size_t *o, const char *seg, size_t len)
{
	if (len == 1 && seg[0] == '.')
		return true;
	if (len == 2 && seg[0] == '.' && seg[1] == '.') {
		if (*o == 0)
			return false;
		while (out[*o - 1] != '/')
			(*o)--;
		(*o)--;
		return true;
	}
	out[(*o)++] = '/';
	memmove(out + *o, seg, len);
	*o += len;
	return true;
}

ssize_t http_path_normalize(char *path, size_t len)
{
	char seg[HTTP_NORM_MAX];
	size_t o = 0, s = 0, i = 1;
	bool dir = false;

	if (len == 0 || len > HTTP_NORM_MAX || path[0] != '/')
		return -1;
	for (;;) {
		if (i == len || path[i] == '/') {
			/* Empty segments ("//") are merged, as Apache's MergeSlashes does; a path
			 * ending in "/", "/." or "/.." names a directory and keeps its slash. */
			dir = s == 0 || (seg[0] == '.' && (s == 1 || (s == 2 && seg[1] == '.')));
			if (s && !http_end_segment(path, &o, seg, s))
				return -1;
			s = 0;
			if (i++ == len)
				break;
			continue;
		}
		if (path[i] == '%') {
			unsigned hi, lo;
			unsigned char c;

			if (!uri_is_pct(path + i, len - i))
				return -1;
			hi = uri_hexval((unsigned char)path[i + 1]);
			lo = uri_hexval((unsigned char)path[i + 2]);
			c = (unsigned char)(hi * 16 + lo);
			/* Only unreserved characters are decoded: that changes no meaning. Other
			 * escapes stay escaped (%2F is not a slash), with upper-case hex. */
			if (http_unreserved(c)) {
				seg[s++] = (char)c;
			} else {
				seg[s++] = '%';
				seg[s++] = "0123456789ABCDEF"[hi];
				seg[s++] = "0123456789ABCDEF"[lo];
			}
			i += 3;
			continue;
		}
		seg[s++] = path[i++];
	}
	if (o == 0 || dir)
		path[o++] = '/';
	return (ssize_t)o;
}
