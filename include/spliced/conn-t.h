/* Types of the client connection state machine (src/conn.c). Types only. */
#ifndef SPLICED_CONN_T_H
#define SPLICED_CONN_T_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <stdbool.h>
#include <stdint.h>

#include "spliced/config-t.h"
#include "spliced/file-t.h"
#include "spliced/forward-t.h"
#include "spliced/http-t.h"
#include "spliced/relay-t.h"
#include "spliced/tls-t.h"

/* Room in front of each request head for a longer rewritten request line. */
#define CONN_HEADROOM 4096
/* The whole request head (request line and fields) must fit in this many bytes (431). */
#define CONN_HEAD_MAX (32 * 1024)
/* The whole response head from a backend must fit in this many bytes (502). */
#define CONN_RESP_MAX (32 * 1024)
/* A closing connection reads and discards what the client still sends for at most this
 * long, so the client sees the response rather than a reset. */
#define CONN_LINGER_MS 2000
/* Room to edit a head in for Header/RequestHeader: the largest head and what the edits
 * may add. */
#define CONN_HDRBUF (CONN_HEAD_MAX + 8192)
/* A request's buffers are one slot of the worker's head buffer pool (src/hbuf.c), lent
 * from the moment its first bytes arrive until it is answered: buf (headroom + head),
 * then rbuf, then the access log's copy of the head. */
#define CONN_SLOT_RBUF (CONN_HEADROOM + CONN_HEAD_MAX)
#define CONN_SLOT_LOGHEAD (CONN_SLOT_RBUF + CONN_RESP_MAX)
#define CONN_SLOT_SIZE (CONN_SLOT_LOGHEAD + CONN_HEAD_MAX)

enum conn_state {
	CS_FREE = 0,
	CS_HEAD,          /* reading a request head */
	CS_CONTINUE,      /* sending "100 Continue" */
	CS_CONNECT,       /* connecting to the backend */
	CS_UP_WAIT,       /* the backend refused: waiting while the helper starts it */
	CS_SLOT_WAIT,     /* waiting for one of the backend's max= connections */
	CS_REQ_HEAD,      /* sending the request head (and buffered body) upstream */
	CS_REQ_BODY,      /* moving the rest of the request body */
	CS_RESP_HEAD,     /* reading the response head */
	CS_RESP_INTERIM,  /* sending a 1xx response to the client */
	CS_RESP_SEND,     /* sending the response head (and buffered body) */
	CS_RESP_BODY,     /* moving the rest of the response body */
	CS_TUNNEL_HEAD,   /* sending a backend's 101 response head */
	CS_TUNNEL,        /* relaying both ways after a 101 (src/tunnel.c) */
	CS_FILE_HEAD,     /* sending a static file's response head */
	CS_FILE_BODY,     /* moving a static file's bytes: sendfile(2) to the socket */
	CS_ERROR,         /* sending a response spliced made itself, then closing */
	CS_METRICS,       /* sending the metrics page (c->text) */
	CS_LINGER,        /* write side shut, discarding input until EOF or time */
	CS_CLOSING,       /* waiting for the last operations to finish */
};

/* What a step of an exchange asks the connection to do next. Role modules (proxy, body,
 * filesend, autostart) return it; conn.c alone acts on it (closes, sends pages, moves to
 * the next request). */
enum conn_ev {
	EV_WAIT = 0,      /* an operation is in flight, or the request waits in a queue */
	EV_CLOSE,         /* close the connection now (the ring refused an operation) */
	EV_PAGE,          /* the exchange ends with status c->fail_status, already logged: a
			   * page made here when nothing was sent yet (extra header fields in
			   * c->page[0..c->page_hdr)), else (or with status 0) a close */
	EV_DONE,          /* the exchange is over: the next request, or close */
};

/* One body in one direction: bytes that came with the head are sent with it; the rest is
 * copied through `buf` or, above RELAY_SPLICE_MIN, spliced through a pipe. */
struct conn_body {
	int from;
	int to;
	bool response;            /* backend -> client; else client -> backend */
	enum http_framing framing;
	uint64_t left;            /* LENGTH: bytes not yet read from `from` */
	struct http_chunked ck;   /* CHUNKED: framing state */
	bool eof;                 /* CLOSE: `from` reached EOF */
	bool big;                 /* CLOSE: a read filled the buffer: splice the rest */
	char *buf;                /* bounce buffer and its capacity */
	uint32_t cap;
	uint32_t rd;              /* reads land at buf + rd (a chunked request body is read
				   * HTTP_CHUNK_SLACK in and rewritten from buf) */
	uint32_t off;             /* buf[off..off+len) is waiting to be sent */
	uint32_t len;
	bool splicing;
	bool nopipe;              /* a pipe was refused (pool in use, or the system's
				   * limits): copied to the end, counted once */
	bool wait_out;            /* the last poll waited for `to` to drain */
	bool shut;                /* tunnel: the EOF of `from` was passed on (`to` shut for
				   * writing) */
	struct relay_splice sp;
};

struct worker;

/* A client connection as it reaches a worker: accepted on a listener, or handed over by
 * a retiring worker at a reload, then with the client a PROXY header named (carried). */
struct tls_sess;

struct conn_origin {
	int fd;
	uint16_t server_port;     /* the local port it came in on */
	bool metrics;             /* accepted on MetricsListen */
	bool carried;             /* ip/port: the client a PROXY header named */
	unsigned nreq;            /* handed over: requests it had answered (0: new) */
	uint64_t idle_since_ms;   /* handed over: idle since then (the workers' clock; 0: now) */
	bool tls_raw;             /* accepted on a TLS port: the handshake is still to come */
	uint16_t port;
	char ip[INET6_ADDRSTRLEN];
	struct tls_facts tls;     /* it came over TLS (src/tls.c) */
	uint32_t tsess;           /* over TLS without a socketpair: fd is the TCP socket, and
				   * its bytes go through this TLS session (its index + 1) */
	struct tls_sess *tls_moved; /* a reload: the TLS session comes along, out of the
				   * previous worker's table (tls_adopt()) */
	bool tls_relay;           /* ... alone: it relays a socketpair, no connection comes */
};

struct conn {
	struct worker *w;
	uint32_t idx;
	enum conn_state state;
	int fd;                   /* client socket */
	uint32_t tsess;           /* the TLS session fd's bytes go through (index + 1), 0:
				   * none (plain, or the plaintext end of a socketpair);
				   * exch.c sends its client I/O there (tls_c_*()) */
	int ufd;                  /* backend socket or -1 */
	uint16_t pending;         /* operations in flight that name this connection */
	bool cancel_sent;
	bool timed_out;
	bool head_started;        /* some bytes of the current head have arrived */
	bool resp_started;        /* bytes of the current response went to the client */
	bool keep_alive;          /* the client connection stays open after this exchange */
	bool head_only;           /* a HEAD request: pages we make carry no body */
	bool page_keep;           /* the page being sent ends the exchange, not the connection */
	bool up_reused;           /* the backend connection came from the pool */
	bool up_reusable;         /* it may go back to the pool when done */
	bool retried;
	uint8_t up_resets;        /* retries after a new connection to an autostart backend
				   * broke too (proxy_retry) */
	bool body_streamed;       /* request body bytes went upstream after the head */
	bool early_response;      /* the backend answered before the whole request body went */
	bool watching;            /* an OP_UP_WATCH poll on the backend is in flight */
	bool wait_client;         /* the request body waits for the client (recv or poll) */
	bool swallow_client;      /* the cancelled client wait's completion is to be dropped */
	bool waiting;             /* in its backend's autostart wait queue (CS_UP_WAIT) */
	bool as_probe;            /* the connect that tries whether a started backend listens */
	bool tunneled;            /* a 101 went out: c->body and c->tun relay both ways */
	bool handoff;             /* idle, its receive cancelled: it goes to the successor
				   * worker when the cancel completes (reload) */
	uint8_t upgrade_len;      /* the protocol the request may switch to (see tunnel.h) */
	char upgrade[48];
	uint16_t wait_as;         /* waiting or as_probe: the ProxyAutostart (its queue) */
	uint8_t bal;              /* the request went to a balancer:// pool: its index + 1
				   * (0: not), its member `bal_member` (src/member.c) */
	uint8_t bal_member;
	uint16_t bal_tried;       /* the members this request was given to (bit per member) */
	bool up_answered;         /* the backend sent an interim response: it has seen the
				   * request, which never goes anywhere else */
	uint16_t ninterim;        /* interim responses of this request (PROXY_INTERIM_MAX) */
	bool slot_waiting;        /* in its backend's max= queue (CS_SLOT_WAIT) */
	bool slot_held;           /* ufd counts in its backend's max= connections */
	bool slot_waited;         /* this request waited for one (counted once it ends) */
	bool slot_tried;          /* ... and was let go to try once already */
	uint16_t slot_be;         /* the backend of slot_waiting / slot_held */
	uint64_t slot_until_ms;   /* it waits for a max= connection until then; 0 = never
				   * waited */
	uint32_t wait_prev;       /* wait queue links (slot indexes; in one queue at most:
				   * autostart's or max='s) */
	uint32_t wait_next;
	uint64_t wait_until_ms;   /* the request waits for its backend until then; 0 = never
				   * waited */
	uint64_t deadline_ms;
	uint64_t rt_start_ms;     /* RequestReadTimeout: when the head (or body) began */
	uint64_t rt_bytes;        /* ... and its bytes received since */
	uint64_t linger_bytes;
	unsigned nreq;            /* requests answered on this connection */

	/* buf, rbuf and loghead: the pool slot lent for the current request (see
	 * CONN_SLOT_SIZE); NULL while the connection is idle with no bytes to keep */
	char *buf;                /* CONN_HEADROOM + CONN_HEAD_MAX */
	uint32_t start;           /* the current request begins at buf[start] */
	uint32_t end;             /* received bytes end at buf[end] */
	uint32_t scanned;         /* bytes of the head checked for its end so far */
	uint32_t next;            /* after the current request: the next one begins here */
	char *rbuf;               /* CONN_RESP_MAX: the response head and bounce buffer */
	uint32_t rlen;

	struct http_request req;
	struct http_response resp;
	const struct cfg_pass *pass;
	struct fwd_head head;
	struct msghdr msg;        /* for the sendmsg in flight */
	struct conn_body body;    /* a tunnel's backend -> client direction too */
	struct conn_body tun;     /* a tunnel's client -> backend direction */
	uint16_t status;          /* status sent to the client, for the log and stats */
	uint16_t fail_status;     /* EV_PAGE: the status to answer (0: close) */
	uint16_t page_hdr;        /* EV_PAGE: bytes of extra header fields at page[0] */
	uint16_t server_port;     /* the local port the connection came in on */
	uint16_t scope;           /* the <VirtualHost> of the current request (0: main) */
	struct cfg_pass rwpass;   /* the backend a RewriteRule [P] chose, as a pass */
	uint32_t pass_match;      /* bytes of the path c->pass's prefix matched */
	/* The request's host, decided once from the absolute-form authority or else Host,
	 * before anything rewrites the head: the virtual host, %{HTTP_HOST}, the Host sent
	 * upstream and X-Forwarded-Host all use it. */
	char host[HTTP_HOST_MAX];
	uint16_t host_len;
	bool has_host;
	char *text;               /* a page spliced renders on the heap (/metrics), or NULL */
	uint64_t id;              /* unique per connection (worker << 48 | sequence), probes */
	bool in_request;          /* between request_start and request_end */
	uint8_t inflight_be;      /* 1 + the backend counted in worker.be_inflight, 0: none */
	bool metrics;             /* accepted on MetricsListen: serves /metrics only */
	uint64_t t_start_ns;      /* when the current request's head was parsed */
	uint64_t bytes_in;        /* of the current request: head and body from the client */
	uint64_t bytes_out;       /* of the current response: everything sent to the client */
	const char *backend_name; /* "http://host:port" of the backend, "" when not proxied */
	uint64_t out_head_len;    /* of bytes_out, the heads (the rest is body) */
	struct timespec t_wall;   /* wall clock at request start, for the access log's %t */
	char *loghead;            /* the request head as received, for the access log */
	struct http_request logreq; /* its parse, spans into loghead */
	struct file_ent *fent;    /* the static file being sent (a cache reference) */
	int64_t foff;             /* its next byte */
	const char *fhead;        /* its response head, in rbuf */

	char ip[INET6_ADDRSTRLEN];
	uint16_t port;
	char page[4096];          /* a response spliced makes itself */
	uint32_t page_len;
	uint32_t page_off;
	/* Header/RequestHeader (src/headers.c), when configured: CONN_HDRBUF bytes where a
	 * head is edited, then the path <Location> sections are matched on (hdr_path_len
	 * bytes), kept for the whole exchange because the request line is rewritten in
	 * place. NULL between exchanges. */
	char *hdrbuf;
	uint32_t hdr_path_len;
	/* RemoteIPHeader: ip is the current request's client, which a trusted proxy may name
	 * in X-Forwarded-For; peer_ip is the connection's peer, which ip is reset to at each
	 * request. */
	char peer_ip[INET6_ADDRSTRLEN];
	bool from_proxy;          /* the peer is a RemoteIP{Trusted,Internal}Proxy */
	bool xff_cut;             /* ip came from the last X-Forwarded-For, whose first
				   * xff_keep bytes go upstream before it */
	uint32_t xff_keep;
	/* RemoteIPProxyProtocol (src/proxyproto.c): ip and port above are the client's as a
	 * PROXY header in front of the first request says, once it has been read. */
	bool pp_wait;             /* the PROXY header is still to come: no HTTP before it */
	bool pp_carried;          /* ip/port came from it (handed over with them at a reload) */
	struct tls_facts tls;     /* the client came over TLS (src/tls.c): on, names */
};

#endif
