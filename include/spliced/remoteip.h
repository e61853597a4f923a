/* The client address from trusted proxies, as httpd's mod_remoteip: addresses and CIDRs
 * parsed strictly, and a proxy header's list walked from the right. Pure: no socket, no
 * configuration file (tests/check_remoteip.c). */
#ifndef SPLICED_REMOTEIP_H
#define SPLICED_REMOTEIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spliced/remoteip-t.h"

/* s[0..len) as an IPv4 (dotted quad, no leading zeros) or IPv6 address (no zone, no
 * brackets) into out[16], IPv4 as ::ffff:a.b.c.d. 0, or -EINVAL. */
int rip_parse_addr(const char *s, size_t len, uint8_t out[16]);

/* The address a[16] as text in ip[RIP_IP_MAX]: an IPv4-mapped address as IPv4. */
void rip_format(const uint8_t a[16], char *ip);

/* "ADDR" or "ADDR/BITS" (IPv4 bits 0..32, IPv6 0..128, no leading zeros), or for IPv4
 * "ADDR/NETMASK" with a contiguous mask. Bits set past the prefix are refused, as are
 * hostnames (httpd resolves them at start-up; spliced does not) and httpd's partial
 * addresses ("10.1"). 0, or -EINVAL with *why saying what is wrong. */
int rip_parse_net(const char *s, struct rip_net *out, const char **why);

/* Whether a[16] is in n. */
bool rip_net_match(const struct rip_net *n, const uint8_t a[16]);

/* The first entry of c that a[16] is in, or NULL: a peer that may present the header. */
const struct rip_net *rip_find(const struct rip_conf *c, const uint8_t a[16]);

/* What a proxy that is not internal may not present as the client (httpd's rule):
 * IPv4 10/8, 127/8, 169.254/16, 172.16/12, 192.168/16, and IPv6 outside 2000::/3. */
bool rip_private(const uint8_t a[16]);

/* Adds one RemoteIPTrustedProxy (internal false) or RemoteIPInternalProxy word.
 * 0, -EINVAL (*why set), or -ENOMEM. */
int rip_conf_add(struct rip_conf *c, const char *word, bool internal, const char **why);

/* Adds the words of a RemoteIP*ProxyList file text[0..len): blank-separated, a word
 * starting with '#' comments out the rest of its line. 0, or -EINVAL with *line (1-based)
 * and bad[0..badlen) (the word, truncated) set and *why, or -ENOMEM. */
int rip_conf_add_list(struct rip_conf *c, const char *text, size_t len, bool internal,
		      unsigned *line, char *bad, size_t badlen, const char **why);

/* Frees c->net and empties c. */
void rip_conf_free(struct rip_conf *c);

/* httpd's walk over a RemoteIPHeader value v[0..len) received from peer[16]: while the
 * address at hand (the peer first) is a configured proxy, the rightmost item not yet used
 * becomes the client address. An item that is empty or not an address, a private
 * address presented through a proxy that is not internal (from the first trusted, not
 * internal, proxy on, the rest of the chain counts as not internal) stop the walk and stay
 * in the value. Returns 1 with *out set when the client address comes from the value; 0
 * when the peer's address stays: the peer is not a proxy (out->stop NULL), the rightmost
 * item is unusable, or the chain of proxies is longer than RIP_MAX_HOPS (out->stop says
 * why). */
int rip_resolve(const struct rip_conf *c, const uint8_t peer[16], const char *v, size_t len,
		struct rip_result *out);

#endif
