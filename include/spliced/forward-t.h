/* Types of the head rewriter (src/forward.c). Types only. */
#ifndef SPLICED_FORWARD_T_H
#define SPLICED_FORWARD_T_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "spliced/config-t.h"

/* A head is at most one request/status line, the kept field runs between noted fields
 * (HTTP_MAX_NOTED), a few added fields, and the body bytes that came with it. */
#define FWD_MAX_IOV (2 * 32 + 16)
#define FWD_EXTRA 1024

/* A head to send as one sendmsg(): pieces of the received buffer plus the added fields,
 * which live in `extra`. Pointers into the receive buffer stay valid while it is not
 * reused; pointers into `extra` while this struct lives. */
struct fwd_head {
	struct iovec iov[FWD_MAX_IOV];  /* the head as built, kept for a retry */
	struct iovec cur[FWD_MAX_IOV];  /* what is left to send: cur[first..niov) */
	unsigned niov;
	unsigned first;
	size_t total;       /* bytes over all iovecs */
	size_t left;        /* bytes not sent yet */
	size_t extra_len;
	unsigned dropped;   /* request fields left out because their name has a '_' */
	char extra[FWD_EXTRA];
};

/* What the proxy knows about the hop the request goes to. */
struct fwd_target {
	const struct cfg_pass *pass;       /* prefix -> backend path mapping */
	uint32_t match_len;                /* bytes of the path the prefix matched (see
					    * config_route_scope()) */
	const struct cfg_backend *backend; /* its authority replaces Host unless preserved */
	bool preserve_host;                /* ProxyPreserveHost On */
	bool underscores;                  /* UnderscoresInHeaders On: names with '_' pass */
	const char *host;                  /* the request's host (absolute-form authority,
					    * else Host), decided once; NULL: none */
	size_t host_len;
	const char *client_ip;             /* appended to X-Forwarded-For */
	const char *proto;                 /* X-Forwarded-Proto: "http" */
	const char *upgrade;               /* the protocol the client may switch to (an
					    * element of its Upgrade field), sent with
					    * "Connection: Upgrade"; upgrade_len 0: none */
	size_t upgrade_len;
	/* RemoteIPHeader (the request came from a trusted proxy): */
	bool xff_cut;                      /* client_ip came from the last X-Forwarded-For:
					    * only its first xff_keep bytes are kept before
					    * client_ip (the proxies' addresses are not) */
	uint32_t xff_keep;
	bool keep_forwarded;               /* the proxy's X-Forwarded-Proto/-Host pass; ours
					    * are added only when it sent none */
};

/* What the response head rewriter knows for ProxyPassReverse* (cfg->reverse[]): the
 * entries of the main server, then those of `scope`, apply (httpd's merge order). */
struct fwd_reverse {
	const struct config *cfg;
	unsigned scope;
	const char *host;                  /* the client's host (Host, as received): mapped
					    * URLs become "http://host" + path; NULL: the
					    * path alone (a relative reference) */
	size_t host_len;
	bool https;                        /* the client came over TLS: "https://host" */
};

#endif
