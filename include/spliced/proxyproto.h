/* The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy's proxy-protocol.txt
 * describes it: a pure parser, no sockets. src/conn.c calls it on the first bytes of a
 * connection on a listener with RemoteIPProxyProtocol On. */
#ifndef SPLICED_PROXYPROTO_H
#define SPLICED_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spliced/proxyproto-t.h"

/* Parses the PROXY header at buf[0..len). Never reads past len. Returns the header's
 * length in bytes (what follows is the client's first request), -2 when the bytes so far
 * are the beginning of a valid header and more are needed, -1 when they cannot begin one
 * (out->reason says why: no header, malformed, oversized). On success *out is filled;
 * otherwise only out->reason is meaningful. */
ssize_t pp_parse(const char *buf, size_t len, struct pp_info *out);

/* Parses "ADDR" or "ADDR/BITS" (IPv4 or IPv6, no host names) into *r. Returns 0, or
 * -EINVAL. */
int pp_range_parse(const char *s, struct pp_range *r);

/* True when the address ip (text, as conn_peer_name() writes it) is inside r. An
 * IPv4-mapped IPv6 address matches IPv4 ranges. */
bool pp_range_match(const struct pp_range *r, const char *ip);

#endif
