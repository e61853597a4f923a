/* Types of the HTTP/1.x head scanner (src/http.c). Types only. */
#ifndef SPLICED_HTTP_T_H
#define SPLICED_HTTP_T_H

#include <stdbool.h>
#include <stdint.h>

/* Fields a proxy must act on (drop, replace or append to) are noted by the scanner; at most
 * this many per head. A head with more noted fields is rejected (400/502). */
#define HTTP_MAX_NOTED 32
/* At most this many header names listed in Connection (besides close/keep-alive/upgrade). */
#define HTTP_MAX_CONN_TOKENS 8

/* A byte range inside the buffer that was scanned; never a pointer, so the buffer may move. */
struct http_span {
	uint32_t off;
	uint32_t len;
};

enum http_method {
	HTTP_METHOD_OTHER = 0,
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_CONNECT,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_TRACE,
	HTTP_METHOD_PATCH,
};

/* How the message body is delimited. */
enum http_framing {
	HTTP_FRAMING_NONE = 0,  /* no body at all */
	HTTP_FRAMING_LENGTH,    /* content_length bytes (may be 0) */
	HTTP_FRAMING_CHUNKED,   /* Transfer-Encoding: chunked */
	HTTP_FRAMING_CLOSE,     /* responses only: until the server closes */
};

/* What a noted field is. */
enum http_field_kind {
	HTTP_F_HOST = 1,
	HTTP_F_CONTENT_LENGTH,
	HTTP_F_TRANSFER_ENCODING,
	HTTP_F_CONNECTION,
	HTTP_F_KEEP_ALIVE,
	HTTP_F_PROXY_CONNECTION,
	HTTP_F_TE,
	HTTP_F_UPGRADE,
	HTTP_F_EXPECT,
	HTTP_F_X_FORWARDED_FOR,
	HTTP_F_X_FORWARDED_HOST,
	HTTP_F_X_FORWARDED_PROTO,
	HTTP_F_CONNECTION_LISTED, /* a field whose name a Connection token lists */
	HTTP_F_FORWARDED,         /* requests only, from here on */
	HTTP_F_X_REAL_IP,
	/* A name with '_': WSGI and CGI map '-' and '_' alike (X_Forwarded_For and
	 * X-Forwarded-For both become HTTP_X_FORWARDED_FOR), so such a field can pass for
	 * another. ALIAS: it folds onto a name above, which the proxy acts on. */
	HTTP_F_UNDERSCORE,
	HTTP_F_UNDERSCORE_ALIAS,
	/* Responses only, when asked for (ProxyPassReverse*: src/forward.c rewrites them). */
	HTTP_F_LOCATION,
	HTTP_F_CONTENT_LOCATION,
	HTTP_F_URI,
	HTTP_F_SET_COOKIE,
};

/* Longest Host (or absolute-form authority) accepted: a DNS name of 253 bytes and a port. */
#define HTTP_HOST_MAX 260

struct http_field {
	struct http_span line;   /* the whole field line including its CRLF */
	struct http_span value;  /* the value with leading/trailing OWS removed */
	uint8_t kind;            /* enum http_field_kind */
};

/* Scanner limits (from LimitRequestFieldSize, LimitRequestFields, LimitRequestLine). */
struct http_limits {
	uint32_t max_head;    /* whole head incl. blank line; larger -> 431 */
	uint32_t max_line;    /* request line without CRLF; longer -> 414 */
	uint32_t max_field;   /* one field line without CRLF; longer -> 431 */
	uint32_t max_fields;  /* number of field lines; more -> 431 */
};

struct http_request {
	uint32_t head_len;        /* bytes of the head including the final CRLFCRLF */
	uint32_t fields_off;      /* first byte after the request line's CRLF */
	struct http_span method;
	struct http_span target;  /* the request-target exactly as received */
	struct http_span path;    /* origin-form path (for absolute-form: the path part), never empty */
	struct http_span query;   /* bytes after the first '?', without it; valid if has_query */
	struct http_span host;    /* Host value (or the absolute-form authority), OWS trimmed */
	enum http_method meth;
	uint8_t version;          /* 10 or 11 */
	bool has_query;
	bool has_host;
	bool absolute_form;       /* target was http://authority/path */
	bool asterisk_form;       /* target was "*" (OPTIONS only) */
	bool conn_close;          /* Connection: close */
	bool conn_keep_alive;     /* Connection: keep-alive */
	bool expect_continue;     /* Expect: 100-continue */
	bool has_upgrade;         /* an Upgrade field is present */
	bool conn_upgrade;        /* Connection: upgrade */
	enum http_framing framing; /* NONE, LENGTH or CHUNKED */
	uint64_t content_length;  /* valid when framing == LENGTH */
	uint16_t nfields;         /* field lines seen */
	uint16_t nnoted;
	struct http_field noted[HTTP_MAX_NOTED];
	/* On -1: the status to answer (400, 414, 417, 431, 501, 505) and a static reason. */
	uint16_t status;
	const char *reason;
};

struct http_response {
	uint32_t head_len;
	uint32_t fields_off;
	uint16_t status;          /* 100..999 */
	uint8_t version;          /* 10 or 11 */
	bool conn_close;
	bool conn_keep_alive;
	bool conn_upgrade;        /* Connection: upgrade */
	enum http_framing framing;
	uint64_t content_length;  /* valid when framing == LENGTH */
	uint16_t nfields;
	uint16_t nnoted;
	struct http_field noted[HTTP_MAX_NOTED];
	const char *reason;       /* on -1: static reason */
};

/* http_chunked_canon() writes at most this many bytes more than it reads in one call (a
 * chunk-size line cut by the previous call: 16 hex digits and CRLF for its LF). */
#define HTTP_CHUNK_SLACK 32

/* Incremental validator of a chunked body; see http_chunked_scan(). */
struct http_chunked {
	uint8_t state;
	bool done;            /* the last chunk and trailer section have been seen */
	uint32_t line;        /* bytes of the current size/trailer line so far */
	uint32_t trailer;     /* bytes of trailer section so far */
	uint64_t left;        /* payload bytes left in the current chunk */
	uint64_t total;       /* payload bytes so far */
};

#endif
