/* libFuzzer target for src/remoteip.c: any X-Forwarded-For value from any peer must walk
 * without reading past its length and give a consistent answer; any proxy word must parse
 * or be refused with a reason, and what parses must match its own address.
 *
 * Input: byte 0 picks the peer, the rest is the header value (and, NUL-terminated, a
 * RemoteIPTrustedProxy word). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/remoteip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const peers[] = { "127.0.0.1", "10.1.2.3", "192.0.2.9", "2001:db8:1::1",
				     "203.0.113.1", "::ffff:127.0.0.1" };

static struct rip_conf conf;

static void setup(void)
{
	const char *why;

	if (conf.nnet)
		return;
	if (rip_conf_add(&conf, "127.0.0.0/8", true, &why) || rip_conf_add(&conf, "10.0.0.0/8", true, &why) ||
	    rip_conf_add(&conf, "192.0.2.0/24", false, &why) ||
	    rip_conf_add(&conf, "2001:db8:1::/48", false, &why))
		abort();
}

static void check_walk(const uint8_t *data, size_t size)
{
	const char *p = peers[data[0] % (sizeof(peers) / sizeof(peers[0]))];
	char *v = malloc(size - 1 ? size - 1 : 1);
	struct rip_result r;
	uint8_t peer[16], a[16];
	int ret;

	if (!v || rip_parse_addr(p, strlen(p), peer))
		abort();
	memcpy(v, data + 1, size - 1);
	ret = rip_resolve(&conf, peer, v, size - 1, &r);
	if (ret == 1) {
		if (r.hops == 0 || r.hops > RIP_MAX_HOPS || r.keep > size - 1 ||
		    rip_parse_addr(r.ip, strlen(r.ip), a) ||
		    (r.keep && (v[r.keep - 1] == ' ' || v[r.keep - 1] == '\t')))
			abort();
	} else if (ret != 0 || r.hops != 0) {
		abort();
	}
	free(v);
}

static void check_word(const uint8_t *data, size_t size)
{
	char word[64];
	size_t n = size - 1 < sizeof(word) - 1 ? size - 1 : sizeof(word) - 1;
	struct rip_net net;
	const char *why = NULL;

	memcpy(word, data + 1, n);
	word[n] = '\0';
	if (rip_parse_net(word, &net, &why) == 0) {
		if (net.bits > 128 || !rip_net_match(&net, net.addr))
			abort();
	} else if (!why) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	setup();
	check_walk(data, size);
	check_word(data, size);
	return 0;
}
