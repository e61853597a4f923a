/* The PROXY protocol header, versions 1 and 2 (HAProxy's proxy-protocol.txt): the
 * address a load balancer in front saw the client connect from. Pure: bytes in, what
 * they say out. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spliced/proxyproto.h"

static const char pp_v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* ---- version 1: "PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n" ---------------------------- */

static ssize_t pp_fail(struct pp_info *out, const char *reason)
{
	out->reason = reason;
	return -1;
}

/* The next space-separated word of line[*pos..n): its start and length; *pos moves past
 * it and the one space after it. Returns false when there is none. */
static bool pp_v1_word(const char *line, size_t n, size_t *pos, const char **w, size_t *wl)
{
	size_t i = *pos;

	if (i >= n)
		return false;
	*w = line + i;
	while (i < n && line[i] != ' ')
		i++;
	*wl = (size_t)(line + i - *w);
	if (*wl == 0)
		return false;
	*pos = i < n ? i + 1 : i;
	return true;
}

static bool pp_v1_addr(const char *w, size_t wl, int family, void *dst)
{
	char tmp[INET6_ADDRSTRLEN];

	if (wl >= sizeof(tmp))
		return false;
	memcpy(tmp, w, wl);
	tmp[wl] = '\0';
	return inet_pton(family, tmp, dst) == 1;
}

/* 0..65535, decimal; no sign, no leading zero (senders write none; a lenient reading
 * would let two spellings of one port through). */
static bool pp_v1_port(const char *w, size_t wl, uint16_t *port)
{
	unsigned v = 0;

	if (wl == 0 || wl > 5 || (wl > 1 && w[0] == '0'))
		return false;
	for (size_t i = 0; i < wl; i++) {
		if (w[i] < '0' || w[i] > '9')
			return false;
		v = v * 10 + (unsigned)(w[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* line[0..n) is the header without its CRLF, "PROXY " already checked. */
static ssize_t pp_v1_line(const char *line, size_t n, struct pp_info *out)
{
	size_t pos = 6, wl[5];
	const char *w[5];
	unsigned char a[16];
	int family;

	if (!pp_v1_word(line, n, &pos, &w[0], &wl[0]))
		return pp_fail(out, "PROXY v1: no protocol");
	if (wl[0] == 7 && memcmp(w[0], "UNKNOWN", 7) == 0) {
		/* the rest of the line, whatever it is, is to be ignored */
		out->local = true;
		return 0;
	}
	if (wl[0] == 4 && memcmp(w[0], "TCP4", 4) == 0)
		family = AF_INET;
	else if (wl[0] == 4 && memcmp(w[0], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return pp_fail(out, "PROXY v1: unknown protocol");
	for (int i = 1; i < 5; i++)
		if (!pp_v1_word(line, n, &pos, &w[i], &wl[i]))
			return pp_fail(out, "PROXY v1: missing address or port");
	if (pos != n || line[n - 1] == ' ')
		return pp_fail(out, "PROXY v1: extra fields");
	if (!pp_v1_addr(w[2], wl[2], family, a))
		return pp_fail(out, "PROXY v1: bad destination address");
	if (!pp_v1_port(w[4], wl[4], &out->port))
		return pp_fail(out, "PROXY v1: bad destination port");
	if (!pp_v1_port(w[3], wl[3], &out->port))
		return pp_fail(out, "PROXY v1: bad source port");
	if (!pp_v1_addr(w[1], wl[1], family, a))
		return pp_fail(out, "PROXY v1: bad source address");
	out->family = family;
	inet_ntop(family, a, out->ip, sizeof(out->ip));
	return 0;
}

static ssize_t pp_v1(const char *buf, size_t len, struct pp_info *out)
{
	size_t lim = len < PP_V1_MAX ? len : PP_V1_MAX;

	out->version = 1;
	for (size_t i = 0; i < lim; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\r') {
			if (i + 2 > PP_V1_MAX)
				break;   /* its LF would be the 108th byte */
			if (i + 1 == len)
				return -2;
			if (buf[i + 1] != '\n')
				return pp_fail(out, "PROXY v1: CR without LF");
			if (pp_v1_line(buf, i, out) < 0)
				return -1;
			return (ssize_t)(i + 2);
		}
		if (ch < 0x20 || ch > 0x7e)
			return pp_fail(out, "PROXY v1: control or non-ASCII byte");
	}
	if (len >= PP_V1_MAX)
		return pp_fail(out, "PROXY v1: header longer than 107 bytes");
	return -2;
}

/* ---- version 2: the 12-byte signature, then ver/cmd, fam/proto, length ------------- */

static uint16_t pp_be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The TLVs in p[0..n): each a type byte, a 2-byte length and that many bytes; none may
 * run past the header. Their contents are not used. */
static bool pp_v2_tlvs(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (n - i < 3 || pp_be16(p + i + 1) > n - i - 3)
			return false;
		i += 3 + pp_be16(p + i + 1);
	}
	return true;
}

static ssize_t pp_v2(const unsigned char *p, size_t len, struct pp_info *out)
{
	size_t total, alen;
	unsigned cmd, fam, proto;

	out->version = 2;
	if (len < 16)
		return -2;
	if ((p[12] >> 4) != 2)
		return pp_fail(out, "PROXY v2: unknown version");
	cmd = p[12] & 0x0f;
	fam = p[13] >> 4;
	proto = p[13] & 0x0f;
	if (cmd > 1)
		return pp_fail(out, "PROXY v2: unknown command");
	if (fam > 3 || proto > 2)
		return pp_fail(out, "PROXY v2: unknown address family or transport");
	total = 16 + (size_t)pp_be16(p + 14);
	if (total > PP_V2_MAX)
		return pp_fail(out, "PROXY v2: header longer than allowed");
	if (len < total)
		return -2;
	if (cmd == 0 || fam == 0 || proto == 0) {
		/* LOCAL (health checks of the balancer itself), or an address the sender could
		 * not tell: the connection's own endpoints stand, the block is skipped */
		out->local = true;
		return (ssize_t)total;
	}
	if (proto == 2)
		return pp_fail(out, "PROXY v2: datagram transport on a stream connection");
	alen = fam == 1 ? 12 : fam == 2 ? 36 : 216;
	if (total - 16 < alen)
		return pp_fail(out, "PROXY v2: address block shorter than its family needs");
	if (!pp_v2_tlvs(p + 16 + alen, total - 16 - alen))
		return pp_fail(out, "PROXY v2: a TLV runs past the header");
	if (fam == 3) {
		/* AF_UNIX: no IP address to give the client; keep the connection's */
		out->local = true;
		return (ssize_t)total;
	}
	out->family = fam == 1 ? AF_INET : AF_INET6;
	inet_ntop(out->family, p + 16, out->ip, sizeof(out->ip));
	out->port = pp_be16(p + 16 + (fam == 1 ? 8 : 32));
	return (ssize_t)total;
}

ssize_t pp_parse(const char *buf, size_t len, struct pp_info *out)
{
	size_t n;

	memset(out, 0, sizeof(*out));
	out->family = AF_UNSPEC;
	if (len == 0)
		return -2;
	n = len < 12 ? len : 12;
	if (memcmp(buf, pp_v2_sig, n) == 0)
		return n < 12 ? -2 : pp_v2((const unsigned char *)buf, len, out);
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) == 0)
		return n < 6 ? -2 : pp_v1(buf, len, out);
	return pp_fail(out, "no PROXY protocol header");
}

/* ---- address ranges ---------------------------------------------------------------- */

int pp_range_parse(const char *s, struct pp_range *r)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t al = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, bits;

	memset(r, 0, sizeof(*r));
	if (al == 0 || al >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(tmp, s, al);
	tmp[al] = '\0';
	if (inet_pton(AF_INET, tmp, r->addr) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, r->addr) == 1)
		r->family = AF_INET6;
	else
		return -EINVAL;
	max = r->family == AF_INET ? 32 : 128;
	bits = max;
	if (slash) {
		const char *d = slash + 1;

		if (!*d || strlen(d) > 3 || (d[0] == '0' && d[1]))
			return -EINVAL;
		bits = 0;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			bits = bits * 10 + (unsigned)(*d - '0');
		}
		if (bits > max)
			return -EINVAL;
	}
	r->bits = (uint8_t)bits;
	for (unsigned i = bits; i < max; i++)
		r->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	return 0;
}

bool pp_range_match(const struct pp_range *r, const char *ip)
{
	unsigned char a[16];
	const unsigned char *p = a;

	if (inet_pton(AF_INET, ip, a) == 1) {
		if (r->family != AF_INET)
			return false;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

		if (r->family == AF_INET && memcmp(a, mapped, 12) == 0)
			p = a + 12;
		else if (r->family != AF_INET6)
			return false;
	} else {
		return false;
	}
	for (unsigned i = 0; i < r->bits; i++)
		if ((p[i / 8] ^ r->addr[i / 8]) & (0x80u >> (i % 8)))
			return false;
	return true;
}
