/* libFuzzer target for the parsers of src/balancer.c that read what clients and backends
 * send: the sticky session's cookie and URL parameter (bal_cookie_value(),
 * bal_param_value()), its ".route" suffix (bal_route_member()), and a health check's
 * status line (bal_hc_status()). The first byte picks the session's name (a short one,
 * one that is a prefix of others, one with a '.'); the rest is the Cookie value, the
 * request target and the response's first bytes. Properties checked: a value found is
 * non-empty, bytes of the input, and right after "NAME="; a route found is a member's,
 * equal to what follows the value's first '.'; a status is 0 or 100..999 and then the
 * input's digits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/balancer.h"
#include "spliced/config-t.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_value(const char *s, size_t len, const char *name, bool cookie,
		       const struct cfg_balancer *b)
{
	size_t n = strlen(name), vlen;
	const char *v;
	bool found = cookie ? bal_cookie_value(s, len, name, &v, &vlen)
			    : bal_param_value(s, len, name, &v, &vlen);
	int m;

	if (!found)
		return;
	if (vlen == 0 || v < s + n + 1 || v + vlen > s + len || v[-1] != '=' ||
	    memcmp(v - n - 1, name, n) != 0)
		abort();
	m = bal_route_member(b, v, vlen);
	if (m >= 0) {
		const char *dot = memchr(v, '.', vlen);
		size_t rlen = strlen(b->member[m].route);

		if (m >= (int)b->nmember || !dot || (size_t)(v + vlen - dot - 1) != rlen ||
		    memcmp(dot + 1, b->member[m].route, rlen) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "JSESSIONID", "a", "s.id" };
	static const char *const routes[] = { "node1", "n", "", "r.2" };
	static struct cfg_balancer b;
	const char *s = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	unsigned st;

	if (!size)
		return 0;
	if (!b.nmember) {
		b.nmember = 4;
		for (unsigned i = 0; i < 4; i++)
			strcpy(b.member[i].route, routes[i]);
	}
	fuzz_value(s, len, names[data[0] % 3], true, &b);
	fuzz_value(s, len, names[data[0] % 3], false, &b);
	st = bal_hc_status(s, len);
	if (st && (st < 100 || st > 999 || len < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
		   st != (unsigned)(s[9] - '0') * 100 + (unsigned)(s[10] - '0') * 10 +
			 (unsigned)(s[11] - '0')))
		abort();
	return 0;
}
