/* Types of the client address from trusted proxies (src/remoteip.c, httpd's
 * mod_remoteip RemoteIPHeader). Types only. */
#ifndef SPLICED_REMOTEIP_T_H
#define SPLICED_REMOTEIP_T_H

#include <stdbool.h>
#include <stdint.h>

/* At most this many addresses are taken from one header value: a longer chain of trusted
 * proxies is not believed (the peer's address stays). */
#define RIP_MAX_HOPS 32
#define RIP_IP_MAX 46              /* INET6_ADDRSTRLEN */

/* One RemoteIPTrustedProxy / RemoteIPInternalProxy address or CIDR. IPv4 is kept as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d, its prefix + 96), so a v4 peer on a v6 socket
 * matches the same entries. */
struct rip_net {
	uint8_t addr[16];          /* bits past `bits` are zero */
	uint8_t bits;              /* 0..128 */
	bool internal;             /* RemoteIPInternalProxy: may present private addresses */
};

/* RemoteIPHeader and the proxies it is believed from (server level). */
struct rip_conf {
	bool on;                   /* RemoteIPHeader X-Forwarded-For was given */
	struct rip_net *net;       /* heap (rip_conf_free), file order */
	unsigned nnet;
	unsigned cap;
	unsigned header_line;      /* where RemoteIPHeader and the first proxy are, for */
	unsigned proxy_line;       /* messages about the pair */
};

/* What rip_resolve() found in a header value. */
struct rip_result {
	char ip[RIP_IP_MAX];       /* the client address as text (IPv4-mapped shown as v4) */
	uint32_t keep;             /* value[0..keep) is what is left of it, without the
				    * addresses used (trailing blanks and comma removed) */
	unsigned hops;             /* addresses taken from the value */
	const char *stop;          /* why the walk stopped before the value's start (for
				    * the debug log), or NULL */
};

#endif
