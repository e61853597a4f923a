/* Types of the access log (src/accesslog.c). Types only. */
#ifndef SPLICED_ACCESSLOG_T_H
#define SPLICED_ACCESSLOG_T_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "spliced/http-t.h"

#define ALOG_MAX_ITEMS 64          /* literal spans + directives of one LogFormat */
#define ALOG_TEXT_MAX 1024         /* literal text and %{Name}i names, all together */
#define ALOG_LINE_MAX 8192         /* longest line alog_buf_log() renders; longer: truncated */

/* What one item of a compiled format prints. */
enum alog_op {
	ALOG_LITERAL = 1,          /* text[off..off+len) as is */
	ALOG_CLIENT_IP,            /* %h %a (the client a trusted proxy names, else the peer) */
	ALOG_CLIENT_PORT,          /* %{remote}p */
	ALOG_DASH,                 /* %l %u: "-" (no identd, no authentication) */
	ALOG_TIME,                 /* %t: [26/Nov/2026:13:24:39 +0000], local time */
	ALOG_REQUEST_LINE,         /* %r, escaped */
	ALOG_STATUS,               /* %s %>s %<s */
	ALOG_BYTES_CLF,            /* %b: body bytes sent, "-" for 0 */
	ALOG_BYTES,                /* %B: body bytes sent */
	ALOG_REQ_HEADER,           /* %{Name}i: name in text[off..off+len); escaped; "-" if absent */
	ALOG_DURATION_US,          /* %D, %{us}T */
	ALOG_DURATION_MS,          /* %{ms}T */
	ALOG_DURATION_S,           /* %T, %{s}T: whole seconds */
	ALOG_VHOST,                /* %v: ServerName, "-" if none */
	ALOG_LOCAL_PORT,           /* %p %{canonical}p %{local}p */
	ALOG_METHOD,               /* %m, escaped */
	ALOG_PATH,                 /* %U: the path as received, escaped */
	ALOG_QUERY,                /* %q: "?query" or "", escaped */
	ALOG_PROTOCOL,             /* %H: HTTP/1.1 or HTTP/1.0 */
	ALOG_BYTES_IN,             /* %I: bytes received, head and body */
	ALOG_BYTES_OUT,            /* %O: bytes sent, head and body */
	ALOG_PEER_IP,              /* %{c}a: the connection's peer */
	ALOG_SSL_PROTOCOL,         /* %{SSL_PROTOCOL}x: "TLSv1.3", "-" without TLS */
	ALOG_SSL_CIPHER,           /* %{SSL_CIPHER}x */
};

struct alog_item {
	uint8_t op;                /* enum alog_op */
	uint16_t off, len;         /* into alog_format.text (ALOG_LITERAL, ALOG_REQ_HEADER) */
};

/* A LogFormat compiled by alog_compile(): a flat program run by alog_render(). Plain data,
 * no pointers: it may be copied freely (config.c copies named formats into logs). */
struct alog_format {
	struct alog_item item[ALOG_MAX_ITEMS];
	uint16_t nitem;
	uint16_t text_len;
	char text[ALOG_TEXT_MAX];
};

/* Everything one access-log line may show. The caller fills it when a request ends (the
 * response is fully sent, or the connection ends mid-response); alog_render() only reads
 * it and keeps nothing. Pointers must stay valid for the call only.
 *
 * head/req may be NULL (or req->head_len 0) for a request whose head could not be parsed
 * (e.g. a 400 for garbage): %r %m %U %q %H and %{..}i then print "-" (%q ""). */
struct alog_entry {
	const char *client_ip;         /* "192.0.2.1" or "2001:db8::1" (no brackets); NULL: "-" */
	uint16_t client_port;          /* %{remote}p */
	uint16_t local_port;           /* %p: the port the request came in on */
	const char *head;              /* the request head as received: head[0..req->head_len) */
	const struct http_request *req; /* spans into head, as http_parse_request() left them */
	uint16_t status;               /* the status sent to the client; 0 prints "-" */
	uint64_t body_out;             /* %b %B: response body bytes sent (not the head) */
	uint64_t bytes_in;             /* %I: bytes received on this request, head + body */
	uint64_t bytes_out;            /* %O: bytes sent for this request, head + body */
	struct timespec start;         /* %t: CLOCK_REALTIME when the request head began */
	uint64_t duration_ns;          /* %D %T: from reading the head to the last byte sent */
	const char *server_name;       /* %v: ServerName of the vhost that answered; NULL or "": "-" */
	const char *peer_ip;           /* %{c}a: the peer, when a trusted proxy named another
					* client (RemoteIPHeader); NULL: client_ip */
	const char *tls_protocol;      /* %{SSL_PROTOCOL}x; NULL: "-" (not over TLS) */
	const char *tls_cipher;        /* %{SSL_CIPHER}x */
};

/* A per-worker, per-log double buffer of lines waiting to be written; see accesslog.h.
 * half[fill] receives lines; half[!fill] is in the kernel while busy. */
struct alog_buf {
	char *half[2];                 /* each `size` bytes, one allocation */
	size_t len[2];
	size_t woff;                   /* bytes of half[!fill] written so far */
	size_t size;                   /* bytes of one half */
	size_t threshold;              /* alog_buf_log() asks for a write once len[fill] >= this */
	uint8_t fill;                  /* the half lines go into */
	uint8_t busy;                  /* half[!fill] is being written */
	uint64_t dropped;              /* lines lost because both halves were full */
	uint64_t truncated;            /* lines cut at ALOG_LINE_MAX */
	uint64_t lost_bytes;           /* bytes of failed writes */
};

#endif
