/* Types of the access rules of <Location> sections (src/authz.c). Types only. */
#ifndef SPLICED_AUTHZ_T_H
#define SPLICED_AUTHZ_T_H

#include <stdbool.h>
#include <stdint.h>

#define AUTHZ_PREFIX_MAX 1024      /* bytes of a <Location> path */
#define AUTHZ_DEPTH_MAX 8          /* <RequireAll>/<RequireAny>/<RequireNone> nesting */

/* One node of a section's rule tree (mod_authz_core): a Require line or a container. */
enum authz_kind {
	AUTHZ_ALL_GRANTED = 1,     /* Require all granted */
	AUTHZ_ALL_DENIED,          /* Require all denied */
	AUTHZ_IP,                  /* Require [not] ip CIDR... */
	AUTHZ_AND,                 /* <RequireAll> */
	AUTHZ_OR,                  /* <RequireAny>, the implicit container of a section,
				    * <RequireNone> (negated) */
};

struct authz_node {
	uint8_t kind;              /* enum authz_kind */
	bool negate;               /* Require not ..., <RequireNone> */
	int32_t first;             /* AND/OR: first child, -1 = none */
	int32_t last;              /* ... and last (while parsing) */
	int32_t next;              /* the next sibling, -1 = none */
	uint32_t net_first;        /* IP: authz.net[net_first..+nnet) */
	uint32_t nnet;
};

/* An address block of Require ip: family AF_INET (addr[0..4)) or AF_INET6. */
struct authz_net {
	uint8_t family;
	uint8_t bits;
	uint8_t addr[16];
};

/* AuthMerging, as a section sets it (UNSET: the section does not say). */
enum authz_merge {
	AUTHZ_MERGE_UNSET = 0,
	AUTHZ_MERGE_OFF,
	AUTHZ_MERGE_AND,
	AUTHZ_MERGE_OR,
};

/* SetHandler in a <Location>: what answers its requests instead of routing. */
enum authz_handler {
	AUTHZ_HANDLER_UNSET = 0,   /* the section does not say */
	AUTHZ_HANDLER_NONE,        /* SetHandler None: routing as usual */
	AUTHZ_HANDLER_STATUS,      /* SetHandler server-status (src/status.c) */
};

/* <Location /prefix> ... </Location> */
struct authz_loc {
	char prefix[AUTHZ_PREFIX_MAX]; /* normalized like a request path */
	uint32_t prefix_len;
	uint16_t scope;            /* the <VirtualHost> it is in (0: the main server) */
	uint8_t merge;             /* enum authz_merge */
	uint8_t handler;           /* enum authz_handler */
	int32_t root;              /* the implicit <RequireAny>; -1: no Require in it */
	unsigned line;             /* where it starts, for messages */
};

/* Every <Location> section of a configuration, in file order, and their rules. Heap
 * arrays owned here (authz_free()). The parse state lives here too. */
struct authz {
	struct authz_loc *loc;
	unsigned nloc, cap_loc;
	struct authz_node *node;
	unsigned nnode, cap_node;
	struct authz_net *net;
	unsigned nnet, cap_net;
	/* parsing */
	bool open;                 /* inside loc[nloc - 1] */
	int32_t stack[AUTHZ_DEPTH_MAX]; /* open containers, innermost last */
	unsigned depth;
};

/* The outcome of the rules for one request. */
struct authz_result {
	bool denied;
	int loc;                   /* the last <Location> with rules that applied; -1: none */
};

#endif
