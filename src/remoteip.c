/* The client address from trusted proxies (httpd's mod_remoteip RemoteIPHeader): strict
 * address and CIDR parsing, and the walk of a proxy header's list from the right. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/remoteip.h"

static const uint8_t rip_v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool rip_is_v4(const uint8_t a[16])
{
	return memcmp(a, rip_v4_prefix, sizeof(rip_v4_prefix)) == 0;
}

static bool rip_blank(char c)
{
	return c == ' ' || c == '\t';
}

int rip_parse_addr(const char *s, size_t len, uint8_t out[16])
{
	char tmp[RIP_IP_MAX];

	if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	/* glibc's inet_pton takes exactly a dotted quad for AF_INET: no "10.1", no octal */
	if (inet_pton(AF_INET, tmp, out + 12) == 1) {
		memcpy(out, rip_v4_prefix, sizeof(rip_v4_prefix));
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, out) == 1)
		return 0;
	return -EINVAL;
}

void rip_format(const uint8_t a[16], char *ip)
{
	if (rip_is_v4(a))
		inet_ntop(AF_INET, a + 12, ip, RIP_IP_MAX);
	else
		inet_ntop(AF_INET6, a, ip, RIP_IP_MAX);
}

/* Decimal digits s[0..len) without a leading zero, at most max. -1 when not. */
static int rip_bits(const char *s, size_t len, unsigned max)
{
	unsigned v = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= max ? (int)v : -1;
}

/* A contiguous IPv4 netmask "255.255.240.0" as its prefix length, or -1. */
static int rip_netmask(const char *s, size_t len)
{
	uint8_t m[16];
	uint32_t v;
	int bits = 0;

	if (strchr(s, ':') || rip_parse_addr(s, len, m) < 0)
		return -1;
	v = (uint32_t)m[12] << 24 | (uint32_t)m[13] << 16 | (uint32_t)m[14] << 8 | m[15];
	while (v & 0x80000000u) {
		v <<= 1;
		bits++;
	}
	return v ? -1 : bits;
}

static bool rip_looks_like_name(const char *s, size_t len)
{
	bool alpha = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == ':')
			return false;
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))
			alpha = true;
	}
	return alpha;
}

int rip_parse_net(const char *s, struct rip_net *out, const char **why)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int bits;

	memset(out, 0, sizeof(*out));
	if (rip_parse_addr(s, alen, out->addr) < 0) {
		*why = rip_looks_like_name(s, alen)
		       ? "is a hostname: spliced does not resolve names here, give addresses or CIDRs"
		       : "is not an IPv4 or IPv6 address (partial addresses such as 10.1 are "
			 "not accepted: write 10.1.0.0/16)";
		return -EINVAL;
	}
	if (!slash) {
		out->bits = 128;
		return 0;
	}
	if (rip_is_v4(out->addr) && !strchr(s, ':')) {
		bits = strchr(slash + 1, '.') ? rip_netmask(slash + 1, strlen(slash + 1))
					      : rip_bits(slash + 1, strlen(slash + 1), 32);
		if (bits >= 0)
			bits += 96;
	} else {
		bits = rip_bits(slash + 1, strlen(slash + 1), 128);
	}
	if (bits < 0) {
		*why = "has a bad prefix length (IPv4 /0 to /32 or a contiguous netmask, IPv6 "
		       "/0 to /128)";
		return -EINVAL;
	}
	out->bits = (uint8_t)bits;
	for (unsigned i = 0; i < 16; i++) {
		unsigned first = i * 8;
		uint8_t host = first >= (unsigned)bits ? 0xff
			     : first + 8 <= (unsigned)bits ? 0 : (uint8_t)(0xff >> (bits - first));

		if (out->addr[i] & host) {
			*why = "has bits set past its prefix length (write the network address)";
			return -EINVAL;
		}
	}
	return 0;
}

bool rip_net_match(const struct rip_net *n, const uint8_t a[16])
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((n->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

const struct rip_net *rip_find(const struct rip_conf *c, const uint8_t a[16])
{
	for (unsigned i = 0; i < c->nnet; i++)
		if (rip_net_match(&c->net[i], a))
			return &c->net[i];
	return NULL;
}

bool rip_private(const uint8_t a[16])
{
	if (rip_is_v4(a)) {
		const uint8_t *b = a + 12;

		return b[0] == 10 || b[0] == 127 || (b[0] == 169 && b[1] == 254) ||
		       (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168);
	}
	return (a[0] & 0xe0) != 0x20;
}

int rip_conf_add(struct rip_conf *c, const char *word, bool internal, const char **why)
{
	struct rip_net n;

	if (rip_parse_net(word, &n, why) < 0)
		return -EINVAL;
	n.internal = internal;
	if (c->nnet == c->cap) {
		unsigned cap = c->cap ? 2 * c->cap : 8;
		struct rip_net *p = realloc(c->net, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->net = p;
		c->cap = cap;
	}
	c->net[c->nnet++] = n;
	return 0;
}

static bool rip_list_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

int rip_conf_add_list(struct rip_conf *c, const char *text, size_t len, bool internal,
		      unsigned *line, char *bad, size_t badlen, const char **why)
{
	char word[128];
	size_t pos = 0;
	int ret;

	*line = 1;
	while (pos < len) {
		size_t start, n;

		if (text[pos] == '\n') {
			(*line)++;
			pos++;
			continue;
		}
		if (rip_list_blank(text[pos])) {
			pos++;
			continue;
		}
		if (text[pos] == '#') {
			while (pos < len && text[pos] != '\n')
				pos++;
			continue;
		}
		start = pos;
		while (pos < len && text[pos] != '\n' && !rip_list_blank(text[pos]))
			pos++;
		n = pos - start;
		if (n >= sizeof(word) || memchr(text + start, '\0', n)) {
			*why = "is not an IPv4 or IPv6 address";
			ret = -EINVAL;
		} else {
			memcpy(word, text + start, n);
			word[n] = '\0';
			ret = rip_conf_add(c, word, internal, why);
		}
		if (ret == -EINVAL && badlen) {
			size_t k = n < badlen - 1 ? n : badlen - 1;

			memcpy(bad, text + start, k);
			bad[k] = '\0';
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

void rip_conf_free(struct rip_conf *c)
{
	free(c->net);
	memset(c, 0, sizeof(*c));
}

int rip_resolve(const struct rip_conf *c, const uint8_t peer[16], const char *v, size_t len,
		struct rip_result *out)
{
	uint8_t cur[16], addr[16];
	bool internal = true, left = len > 0;
	size_t end = len;

	memset(out, 0, sizeof(*out));
	memcpy(cur, peer, sizeof(cur));
	for (;;) {
		const struct rip_net *n = rip_find(c, cur);
		const char *comma;
		size_t s, e;

		if (!n || !left)
			break;
		/* an internal proxy may present a trusted one, not the other way round */
		internal = internal && n->internal;
		comma = memrchr(v, ',', end);
		s = comma ? (size_t)(comma - v) + 1 : 0;
		e = end;
		while (s < e && rip_blank(v[s]))
			s++;
		while (e > s && rip_blank(v[e - 1]))
			e--;
		if (s == e) {
			out->stop = "an empty item";
			break;
		}
		if (rip_parse_addr(v + s, e - s, addr) < 0) {
			out->stop = "an item that is not an IP address";
			break;
		}
		if (!internal && rip_private(addr)) {
			out->stop = "a private address presented by a proxy that is not internal";
			break;
		}
		if (out->hops == RIP_MAX_HOPS) {
			out->stop = "more proxies than RIP_MAX_HOPS";
			out->hops = 0;
			return 0;
		}
		out->hops++;
		memcpy(cur, addr, sizeof(cur));
		if (comma) {
			end = (size_t)(comma - v);
		} else {
			end = 0;
			left = false;
		}
	}
	if (!out->hops)
		return 0;
	while (end > 0 && rip_blank(v[end - 1]))
		end--;
	out->keep = (uint32_t)end;
	rip_format(cur, out->ip);
	return 1;
}
