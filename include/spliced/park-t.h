/* Types of parked connections (src/park.c). Types only. */
#ifndef SPLICED_PARK_T_H
#define SPLICED_PARK_T_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "spliced/tls-t.h"

/* An idle keep-alive client connection parked off the connection slab: everything it
 * needs until the bytes of its next request arrive (then it takes a slab slot again, see
 * conn_unpark()). Kept small: this is what an idle connection costs. */
struct conn_park {
	int fd;                   /* -1: the record is free */
	uint32_t tsess;           /* fd's bytes go through this TLS session (src/tls.c) */
	bool pending;             /* its receive is in flight */
	bool closing;             /* cancelled to close (timeout, stop) */
	bool handoff;             /* cancelled to go to the successor worker (reload) */
	bool pp_carried;          /* peer_ip/port came from a PROXY header (or a TLS session) */
	struct tls_facts tls;     /* the client came over TLS: kept for its next requests */
	uint16_t server_port;
	uint16_t port;
	unsigned nreq;
	uint64_t id;
	uint64_t deadline_ms;     /* KeepAliveTimeout */
	char peer_ip[INET6_ADDRSTRLEN];
};

/* A worker's parked connections: records lent most recently freed first. */
struct park_table {
	struct conn_park *recs;
	uint32_t *free;
	uint32_t n;
	uint32_t nfree;
	uint32_t parked;          /* records in use */
};

#endif
