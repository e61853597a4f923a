/* Types of the PROXY protocol parser (src/proxyproto.c). Types only. */
#ifndef SPLICED_PROXYPROTO_T_H
#define SPLICED_PROXYPROTO_T_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* A version 1 header is at most 107 bytes with its CRLF (HAProxy's proxy-protocol.txt). */
#define PP_V1_MAX 107
/* A version 2 header (16 bytes, then the address block and TLVs) longer than this is
 * refused as oversized; the protocol allows 16 + 65535, which no sender needs: addresses
 * and the usual TLVs (ALPN, authority, SSL, cloud endpoint ids) take a few hundred. */
#define PP_V2_MAX 4096

/* What a complete header says. */
struct pp_info {
	uint8_t version;             /* 1 or 2 */
	bool local;                  /* use the connection's own addresses: v2 LOCAL, v1
				      * UNKNOWN, v2 UNSPEC family or transport, AF_UNIX */
	int family;                  /* AF_INET or AF_INET6 when !local, else AF_UNSPEC */
	char ip[INET6_ADDRSTRLEN];   /* the source address as text, when !local */
	uint16_t port;               /* the source port, when !local */
	const char *reason;          /* when pp_parse() returns -1: why (static text) */
};

/* An address or CIDR range: RemoteIPProxyProtocolExceptions. */
struct pp_range {
	uint8_t family;              /* AF_INET or AF_INET6 */
	uint8_t bits;                /* prefix length */
	uint8_t addr[16];            /* network byte order, host bits zero */
};

#endif
