/* HTTP/1.x head scanner: strict (RFC 9112), zero-copy, never reads past `len`.
 *
 * Parsers return the number of bytes consumed (> 0), -2 for "need more input" and -1 for
 * "invalid". Every span in a result is an offset into the buffer that was scanned; the
 * scanner keeps no pointer into it and allocates nothing. */
#ifndef SPLICED_HTTP_H
#define SPLICED_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "spliced/http-t.h"

/* Cheap check run on every receive before a full parse: looks for the end of a head
 * (CRLFCRLF) in buf[0..len), starting at `from` (bytes before it were checked already).
 * Returns the head length (offset after CRLFCRLF), 0 if not found yet, -1 if a byte that can
 * never be valid in a head (NUL, LF not preceded by CR, or CR CR LF) was seen. */
ssize_t http_head_end(const char *buf, size_t len, size_t from);

/* Parses a request head in buf[0..len).
 * > 0: head length; *req filled. -2: a valid prefix, need more bytes (len < lim->max_head).
 * -1: invalid; req->status (400, 414, 417, 431, 501, 505) and req->reason say why.
 * Rules (strict RFC 9112): CRLF line endings only; no obs-fold; no whitespace before a
 * colon; no CTL (but HTAB) or bare CR in values; token field names; origin-, absolute-,
 * and asterisk-form targets only; exactly one Host on HTTP/1.1 (at most one on 1.0);
 * Content-Length all digits, once, not with Transfer-Encoding; Transfer-Encoding exactly
 * "chunked" (other codings 501), never on HTTP/1.0; Expect other than 100-continue 417;
 * Connection listing Content-Length, Transfer-Encoding or Host 400. */
int http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
		       struct http_request *req);

/* Parses a response head; `req_method` is the method of the request it answers (a response
 * to HEAD has no body). 1xx, 204 and 304 have no body; no Content-Length and no
 * Transfer-Encoding means a close-delimited body. Connection may not list Content-Length
 * or Transfer-Encoding. Same return convention; on -1 resp->reason says why (the proxy
 * answers 502). */
int http_parse_response(const char *buf, size_t len, const struct http_limits *lim,
			enum http_method req_method, struct http_response *resp);

/* The same, noting also the fields of `kinds` (bits 1 << HTTP_F_LOCATION,
 * HTTP_F_CONTENT_LOCATION, HTTP_F_URI, HTTP_F_SET_COOKIE; other bits are ignored) in
 * resp->noted, for the response head rewriter (fwd_response_kinds()). More noted fields
 * than HTTP_MAX_NOTED is -1. */
int http_parse_response_noting(const char *buf, size_t len, const struct http_limits *lim,
			       enum http_method req_method, unsigned kinds,
			       struct http_response *resp);

void http_chunked_init(struct http_chunked *c);

/* Validates chunked framing in buf[0..len), continuing where the last call stopped.
 * Consumes framing and payload bytes alike (responses are forwarded unchanged). Stops
 * early only at the end of the message (c->done). Returns bytes consumed (>= 0), or -1 on
 * invalid framing (bad hex, size overflow, bare LF, missing CRLF after data, line or
 * trailer section too long). */
ssize_t http_chunked_scan(struct http_chunked *c, const char *buf, size_t len);

/* Validates like http_chunked_scan (same state, same rules, same return) and writes the
 * canonical form of the bytes consumed to `out`, *out_len bytes: each chunk-size line
 * becomes the size in lower-case hex without leading zeros and CRLF ("0005;a=b\r\n" ->
 * "5\r\n", the last chunk "0\r\n"); chunk extensions and their BWS are dropped; payload,
 * the CRLF after it and the trailer section are copied unchanged. A size line cut by the
 * end of `in` is held in *c (its value only) and written whole when its LF arrives, so a
 * call may write up to HTTP_CHUNK_SLACK - 1 bytes more than it consumes.
 * `out` may overlap `in` (compaction in place): it may be `in` itself when the call starts
 * at a line start or in payload (always so for a fresh *c), and may always be at or below
 * in - HTTP_CHUNK_SLACK; the bytes written then never overtake the bytes read (the proof
 * is at http_chunked_run in http.c). A separate buffer needs len + HTTP_CHUNK_SLACK bytes.
 * The caller sends out[0..*out_len); the next message starts at in + (return value).
 * On -1, *out_len is 0 and `out` may hold partial output. */
ssize_t http_chunked_canon(struct http_chunked *c, const char *in, size_t len, char *out,
			   size_t *out_len);

/* True when the scanner is inside a chunk's payload: c->left bytes of payload may be moved
 * without being scanned (e.g. spliced); report them with http_chunked_skip(). */
bool http_chunked_in_payload(const struct http_chunked *c);
void http_chunked_skip(struct http_chunked *c, uint64_t n);

/* Longest path http_path_normalize() takes. */
#define HTTP_NORM_MAX 65536

/* Normalizes an origin-form path in place, as RFC 3986 6.2.2 allows without changing its
 * meaning: percent-escapes of unreserved characters are decoded (%61 -> a, %2E -> .),
 * other escapes keep their meaning with upper-case hex (%2f -> %2F, never a slash),
 * "." and ".." segments are removed (5.2.4) and empty segments merged ("//" -> "/").
 * Routing decisions (ProxyPass prefixes and exclusions) are made on the result, and the
 * result is what goes upstream, so "/%61dmin", "/./admin", "//admin" and "/x/../admin" all
 * become "/admin". Returns the new length (<= len), or -1 for a path that does not start
 * with '/', has a malformed escape, climbs above the root, or is over HTTP_NORM_MAX. */
ssize_t http_path_normalize(char *path, size_t len);

/* The value (OWS trimmed) of the first field named name[0..nlen) (case-insensitive) of
 * the request head parsed into req from head, and its length in *vlen; NULL when there is
 * none. Reads only head[0..req->head_len). */
const char *http_field_value(const char *head, const struct http_request *req,
			     const char *name, size_t nlen, size_t *vlen);

/* Every field named name[0..nlen), in order (a name that may come on several lines, such
 * as Cookie): *pos starts at 0, each call returns the value (OWS trimmed) of the next such
 * field and its length in *vlen and moves *pos past its line; NULL when none is left.
 * Reads only head[0..req->head_len). */
const char *http_field_next(const char *head, const struct http_request *req,
			    const char *name, size_t nlen, uint32_t *pos, size_t *vlen);

/* Case-insensitive comparison of a span against a NUL-terminated lower-case literal. */
bool http_span_eq(const char *buf, struct http_span s, const char *lower);

/* The next element of the comma-separated list v[*pos..len) (a field value such as
 * Upgrade's): its span in v with OWS trimmed, *pos moved past it. Empty elements are
 * skipped; false when none is left. Reads only v[0..len). */
bool http_list_next(const char *v, size_t len, size_t *pos, struct http_span *el);

/* Whether the protocol name of Upgrade element v[el] (the part before any "/version":
 * "websocket" of "WebSocket/13") is name[0..nlen), case-insensitively. */
bool http_proto_is(const char *v, struct http_span el, const char *name, size_t nlen);

const char *http_status_text(unsigned status);

#endif
