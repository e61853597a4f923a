/* libFuzzer target for src/proxyproto.c. Properties checked: a header's length is within
 * its version's bound and the input; every shorter prefix of an accepted header is "need
 * more" and the same bytes with anything after them give the same answer; an address it
 * reports reads back as one of its family; a range that parses matches its own address. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spliced/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char more[PP_V2_MAX + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct pp_info pi, pj;
	ssize_t n = pp_parse(in, size, &pi);
	unsigned char a[16];
	struct pp_range r;
	char s[64];

	if (n < -2 || n == 0 || n > (ssize_t)size)
		abort();
	if (n == -1 && !pi.reason)
		abort();
	if (n > 0) {
		if (n > (pi.version == 1 ? PP_V1_MAX : PP_V2_MAX))
			abort();
		if (!pi.local && inet_pton(pi.family, pi.ip, a) != 1)
			abort();
		for (ssize_t k = 0; k < n; k += 1 + k / 8)
			if (pp_parse(in, (size_t)k, &pj) != -2)
				abort();
		memcpy(more, in, (size_t)n);
		memcpy(more + n, "GET / HTTP/1.1\r\n", 16);
		if (pp_parse(more, (size_t)n + 16, &pj) != n || strcmp(pj.ip, pi.ip) != 0 ||
		    pj.port != pi.port)
			abort();
	}
	/* the input as an address range */
	if (size < sizeof(s)) {
		memcpy(s, in, size);
		s[size] = '\0';
		if (pp_range_parse(s, &r) == 0) {
			if (r.bits > (r.family == AF_INET ? 32 : 128))
				abort();
			inet_ntop(r.family, r.addr, s, sizeof(s));
			if (!pp_range_match(&r, s))
				abort();
		}
	}
	return 0;
}
