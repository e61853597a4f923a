/* Types of the routing decision (src/route.c). Types only. */
#ifndef SPLICED_ROUTE_T_H
#define SPLICED_ROUTE_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spliced/config-t.h"
#include "spliced/file-t.h"

/* What to do with a request. */
enum route_kind {
	ROUTE_PROXY,      /* to a backend: `pass` (ProxyPass), or `backend` ([P] rule) */
	ROUTE_FILE,       /* a static file beneath `root` */
	ROUTE_REDIRECT,   /* `status` (3xx) with Location `location` */
	ROUTE_STATUS,     /* a page of `status` (4xx/5xx) */
	ROUTE_HANDLER,    /* a <Location>'s SetHandler answers: `handler` */
};

struct route {
	enum route_kind kind;
	uint16_t scope;           /* the <VirtualHost> (0: the main server) */
	int32_t rule;             /* the RewriteRule that decided, -1: none */
	uint8_t rewrite;          /* enum rw_kind of the rewrite decision (for the probe) */
	uint16_t status;          /* REDIRECT, STATUS */
	/* Set: the request-target becomes target[0..target_len) before anything is done (a
	 * rule rewrote it; [P] included). It lives in the rewrite's output buffer. */
	const char *target;
	size_t target_len;
	/* PROXY */
	const struct cfg_pass *pass; /* NULL: the backend of a [P] rule */
	uint32_t match;           /* bytes of the path the ProxyPass prefix matched */
	int backend;              /* index into config.backend */
	/* FILE */
	const struct file_root *root;
	const char *file;         /* set: a rule's decoded file path below root; NULL: the
				   * URL-path from byte `rel` on, to decode (route_decode_path) */
	uint32_t file_len;
	uint32_t rel;
	/* REDIRECT */
	const char *location;     /* NUL-terminated, in the rewrite's output buffer */
	/* HANDLER */
	uint8_t handler;          /* enum authz_handler */
	/* STATUS */
	const char *why;          /* static text for the error log; NULL: a rule's status */
	bool malformed;           /* a malformed request: a parse error counted under `why`,
				   * logged at info */
};

#endif
