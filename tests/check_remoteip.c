/* Check suite for src/remoteip.c: strict address and CIDR parsing, matching (IPv4-mapped
 * IPv6 included), proxy list files, and httpd's right-to-left walk of X-Forwarded-For.
 * Header values end right before an unreadable page, so a read past `len` crashes. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "spliced/config.h"
#include "spliced/remoteip.h"
#include "guard.h"
#include "suite.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void addr_of(const char *s, uint8_t a[16])
{
	ck_assert_msg(rip_parse_addr(s, strlen(s), a) == 0, "address %s", s);
}

/* ---- addresses and networks ---- */

static const struct {
	const char *in;
	const char *shown;   /* rip_format() of it; NULL: refused */
} addrs[] = {
	{ "192.0.2.1", "192.0.2.1" },
	{ "0.0.0.0", "0.0.0.0" },
	{ "255.255.255.255", "255.255.255.255" },
	{ "2001:db8::1", "2001:db8::1" },
	{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
	{ "::1", "::1" },
	{ "::ffff:203.0.113.7", "203.0.113.7" },     /* v4-mapped is shown as v4 */
	{ "::FFFF:cb00:7107", "203.0.113.7" },
	{ "192.0.2.256", NULL },
	{ "192.0.2", NULL },                          /* httpd's partial address */
	{ "10.1", NULL },
	{ "010.0.0.1", NULL },                        /* no octal, no leading zero */
	{ "0x0a.0.0.1", NULL },
	{ "1.2.3.4.5", NULL },
	{ " 1.2.3.4", NULL },
	{ "1.2.3.4 ", NULL },
	{ "1.2.3.4:80", NULL },
	{ "[2001:db8::1]", NULL },
	{ "fe80::1%eth0", NULL },
	{ "localhost", NULL },
	{ "", NULL },
	{ "2001:db8::1::2", NULL },
	{ "12345::", NULL },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999", NULL },
};

START_TEST(test_addr)
{
	const char *in = addrs[_i].in;
	char *s = guard_at_end(in, strlen(in));
	uint8_t a[16];
	char ip[RIP_IP_MAX];
	int ret = rip_parse_addr(s, strlen(in), a);

	if (!addrs[_i].shown) {
		ck_assert_msg(ret == -EINVAL, "%s accepted", in);
		return;
	}
	ck_assert_msg(ret == 0, "%s refused", in);
	rip_format(a, ip);
	ck_assert_str_eq(ip, addrs[_i].shown);
}
END_TEST

/* A long value is refused without reading past it (and without a NUL in it). */
START_TEST(test_addr_bounds)
{
	char *s = guard_at_end("1.2.3.4", 7);
	uint8_t a[16];

	ck_assert_int_eq(rip_parse_addr(s, 7, a), 0);
	ck_assert_int_eq(rip_parse_addr(s, 5, a), -EINVAL);  /* "1.2.3" */
	ck_assert_int_eq(rip_parse_addr("1.2.3.4\0", 8, a), -EINVAL);
}
END_TEST

static const struct {
	const char *in;
	int bits;            /* over 128 bits; -1: refused */
	const char *why;     /* a word of the reason, for refusals */
} nets[] = {
	{ "10.0.0.0/8", 104, NULL },
	{ "10.0.0.1", 128, NULL },
	{ "0.0.0.0/0", 96, NULL },
	{ "192.0.2.128/25", 121, NULL },
	{ "192.0.2.1/32", 128, NULL },
	{ "172.16.0.0/255.240.0.0", 108, NULL },
	{ "10.0.0.0/255.0.0.0", 104, NULL },
	{ "2001:db8::/32", 32, NULL },
	{ "::/0", 0, NULL },
	{ "::1/128", 128, NULL },
	{ "::ffff:10.0.0.0/104", 104, NULL },
	{ "10.0.0.1/8", -1, "bits set" },
	{ "2001:db8::1/32", -1, "bits set" },
	{ "10.0.0.0/33", -1, "prefix" },
	{ "2001:db8::/129", -1, "prefix" },
	{ "10.0.0.0/08", -1, "prefix" },
	{ "10.0.0.0/", -1, "prefix" },
	{ "10.0.0.0/-1", -1, "prefix" },
	{ "10.0.0.0/8x", -1, "prefix" },
	{ "10.0.0.0/255.0.255.0", -1, "prefix" },       /* not contiguous */
	{ "10.0.0.0/255.0.0", -1, "prefix" },
	{ "2001:db8::/ffff::", -1, "prefix" },
	{ "10.1", -1, "partial" },
	{ "10.1.0.0/16/16", -1, "prefix" },
	{ "localhost", -1, "hostname" },
	{ "proxy.example.com", -1, "hostname" },
	{ "proxy.example.com/24", -1, "hostname" },
	{ "", -1, "not an" },
	{ "/8", -1, "not an" },
};

START_TEST(test_net)
{
	struct rip_net n;
	const char *why = NULL;
	int ret = rip_parse_net(nets[_i].in, &n, &why);

	if (nets[_i].bits < 0) {
		ck_assert_msg(ret == -EINVAL, "%s accepted", nets[_i].in);
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(strstr(why, nets[_i].why), "%s: %s", nets[_i].in, why);
		return;
	}
	ck_assert_msg(ret == 0, "%s refused: %s", nets[_i].in, why);
	ck_assert_int_eq(n.bits, nets[_i].bits);
}
END_TEST

static bool in_net(const char *net, const char *addr)
{
	struct rip_net n;
	const char *why;
	uint8_t a[16];

	ck_assert_msg(rip_parse_net(net, &n, &why) == 0, "%s", net);
	addr_of(addr, a);
	return rip_net_match(&n, a);
}

START_TEST(test_match)
{
	ck_assert(in_net("10.0.0.0/8", "10.255.255.255"));
	ck_assert(!in_net("10.0.0.0/8", "11.0.0.0"));
	ck_assert(in_net("192.0.2.128/25", "192.0.2.200"));
	ck_assert(!in_net("192.0.2.128/25", "192.0.2.127"));
	ck_assert(in_net("172.16.0.0/12", "172.31.1.1"));
	ck_assert(!in_net("172.16.0.0/12", "172.32.0.0"));
	ck_assert(in_net("127.0.0.1", "127.0.0.1"));
	ck_assert(!in_net("127.0.0.1", "127.0.0.2"));
	/* an IPv4 peer on an IPv6 socket is ::ffff:a.b.c.d: the IPv4 entries match it */
	ck_assert(in_net("127.0.0.0/8", "::ffff:127.0.0.1"));
	ck_assert(in_net("::ffff:127.0.0.0/104", "127.1.2.3"));
	/* 0.0.0.0/0 is every IPv4 address, not every address */
	ck_assert(in_net("0.0.0.0/0", "198.51.100.1"));
	ck_assert(!in_net("0.0.0.0/0", "2001:db8::1"));
	ck_assert(in_net("::/0", "2001:db8::1"));
	ck_assert(in_net("::/0", "198.51.100.1"));
	ck_assert(in_net("2001:db8::/33", "2001:db8:7fff::1"));
	ck_assert(!in_net("2001:db8::/33", "2001:db8:8000::1"));
	ck_assert(!in_net("::1", "127.0.0.1"));
}
END_TEST

START_TEST(test_private)
{
	static const char *const priv[] = {
		"10.1.2.3", "127.0.0.1", "169.254.1.1", "172.16.0.1", "172.31.255.255",
		"192.168.0.1", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "::",
	};
	static const char *const pub[] = {
		"203.0.113.7", "172.32.0.1", "172.15.0.1", "169.253.0.1", "192.169.0.1",
		"2001:db8::1", "2600::1", "3fff::1", "::ffff:198.51.100.1", "11.0.0.1",
	};
	uint8_t a[16];

	for (size_t i = 0; i < N(priv); i++) {
		addr_of(priv[i], a);
		ck_assert_msg(rip_private(a), "%s", priv[i]);
	}
	for (size_t i = 0; i < N(pub); i++) {
		addr_of(pub[i], a);
		ck_assert_msg(!rip_private(a), "%s", pub[i]);
	}
}
END_TEST

/* ---- configuration ---- */

START_TEST(test_conf_list)
{
	static const char text[] =
		"# proxies in front\n"
		"10.0.0.0/8 192.0.2.1\t# the edge\n"
		"\n"
		"   2001:db8::/32\r\n"
		"198.51.100.7 # 1.2.3.4 is commented out\n";
	struct rip_conf c = { 0 };
	const char *why = NULL;
	unsigned line = 0;
	char bad[32];
	uint8_t a[16];

	ck_assert_int_eq(rip_conf_add_list(&c, text, sizeof(text) - 1, true, &line, bad,
					   sizeof(bad), &why), 0);
	ck_assert_uint_eq(c.nnet, 4);
	ck_assert(c.net[0].internal && c.net[3].internal);
	addr_of("1.2.3.4", a);
	ck_assert_ptr_null(rip_find(&c, a));
	addr_of("198.51.100.7", a);
	ck_assert_ptr_eq(rip_find(&c, a), &c.net[3]);
	ck_assert_int_eq(rip_conf_add(&c, "203.0.113.0/24", false, &why), 0);
	addr_of("203.0.113.9", a);
	ck_assert(!rip_find(&c, a)->internal);
	rip_conf_free(&c);
	ck_assert_uint_eq(c.nnet, 0);
	ck_assert_ptr_null(c.net);
}
END_TEST

START_TEST(test_conf_list_bad)
{
	static const char text[] = "10.0.0.0/8\n\n# x\n192.0.2.0/24 proxy.example.com\n";
	struct rip_conf c = { 0 };
	const char *why = NULL;
	unsigned line = 0;
	char bad[8];

	ck_assert_int_eq(rip_conf_add_list(&c, text, sizeof(text) - 1, false, &line, bad,
					   sizeof(bad), &why), -EINVAL);
	ck_assert_uint_eq(line, 4);
	ck_assert_str_eq(bad, "proxy.e");   /* truncated to the room given */
	ck_assert_ptr_nonnull(strstr(why, "hostname"));
	rip_conf_free(&c);
}
END_TEST

/* ---- the walk ---- */

static struct rip_conf walk_conf;

static void walk_setup(void)
{
	const char *why;

	memset(&walk_conf, 0, sizeof(walk_conf));
	/* 127.0.0.1 and 10/8 internal (a local terminator, the internal network), 192.0.2/24
	 * and 2001:db8:1::/48 trusted (a CDN) */
	ck_assert_int_eq(rip_conf_add(&walk_conf, "127.0.0.1", true, &why), 0);
	ck_assert_int_eq(rip_conf_add(&walk_conf, "10.0.0.0/8", true, &why), 0);
	ck_assert_int_eq(rip_conf_add(&walk_conf, "192.0.2.0/24", false, &why), 0);
	ck_assert_int_eq(rip_conf_add(&walk_conf, "2001:db8:1::/48", false, &why), 0);
}

static void walk_teardown(void)
{
	rip_conf_free(&walk_conf);
}

static const struct {
	const char *peer, *value;
	int ret;
	const char *client;    /* when ret 1 */
	const char *kept;      /* value[0..keep) when ret 1 */
	unsigned hops;
} walks[] = {
	/* the peer is no proxy: nothing is read */
	{ "203.0.113.9", "198.51.100.1", 0, NULL, NULL, 0 },
	{ "11.0.0.1", "198.51.100.1", 0, NULL, NULL, 0 },
	/* one hop */
	{ "127.0.0.1", "203.0.113.7", 1, "203.0.113.7", "", 1 },
	{ "::ffff:127.0.0.1", "203.0.113.7", 1, "203.0.113.7", "", 1 },
	{ "127.0.0.1", "  203.0.113.7\t ", 1, "203.0.113.7", "", 1 },
	{ "127.0.0.1", "::ffff:203.0.113.7", 1, "203.0.113.7", "", 1 },
	{ "127.0.0.1", "2001:DB8:2::7", 1, "2001:db8:2::7", "", 1 },
	/* what the client wrote stays in front; the first untrusted one from the right wins */
	{ "127.0.0.1", "6.6.6.6, 203.0.113.7", 1, "203.0.113.7", "6.6.6.6", 1 },
	{ "127.0.0.1", "6.6.6.6 ,203.0.113.7, 10.1.1.1", 1, "203.0.113.7", "6.6.6.6", 2 },
	{ "10.0.0.5", "1.1.1.1, 203.0.113.7, 192.0.2.10, 10.2.2.2", 1, "203.0.113.7",
	  "1.1.1.1", 3 },
	/* all of it proxies: the leftmost is the client */
	{ "127.0.0.1", "10.9.9.9, 10.1.1.1", 1, "10.9.9.9", "", 2 },
	/* an internal proxy may present a private client */
	{ "127.0.0.1", "192.168.1.20", 1, "192.168.1.20", "", 1 },
	/* a trusted (not internal) proxy may not: the walk stops at it, the CDN is the client */
	{ "127.0.0.1", "192.168.1.20, 192.0.2.10", 1, "192.0.2.10", "192.168.1.20", 1 },
	{ "192.0.2.10", "10.1.1.1", 0, NULL, NULL, 0 },
	{ "192.0.2.10", "fd00::1", 0, NULL, NULL, 0 },
	/* ... nor present an internal proxy that would then be believed */
	{ "192.0.2.10", "203.0.113.7, 10.1.1.1", 0, NULL, NULL, 0 },
	{ "2001:db8:1::5", "203.0.113.7", 1, "203.0.113.7", "", 1 },
	/* garbage and empty items stop the walk, and stay */
	{ "127.0.0.1", "garbage", 0, NULL, NULL, 0 },
	{ "127.0.0.1", "", 0, NULL, NULL, 0 },
	{ "127.0.0.1", "   ", 0, NULL, NULL, 0 },
	{ "127.0.0.1", "203.0.113.7,", 0, NULL, NULL, 0 },
	{ "127.0.0.1", "203.0.113.7:443", 0, NULL, NULL, 0 },
	{ "127.0.0.1", "[2001:db8::1]", 0, NULL, NULL, 0 },
	{ "127.0.0.1", "unknown, 10.1.1.1", 1, "10.1.1.1", "unknown", 1 },
	{ "127.0.0.1", "1.1.1.1,, 10.1.1.1", 1, "10.1.1.1", "1.1.1.1,", 1 },
	{ "127.0.0.1", "1.1.1.1, garbage, 10.1.1.1", 1, "10.1.1.1", "1.1.1.1, garbage", 1 },
	{ "127.0.0.1", "1.1.1.1, 203.0.113.7 garbage", 0, NULL, NULL, 0 },
	{ "127.0.0.1", "1.1.1.1;203.0.113.7", 0, NULL, NULL, 0 },
};

START_TEST(test_walk)
{
	const char *v = walks[_i].value;
	size_t len = strlen(v);
	char *s = guard_at_end(v, len);
	struct rip_result r;
	uint8_t peer[16];
	int ret;

	addr_of(walks[_i].peer, peer);
	ret = rip_resolve(&walk_conf, peer, s, len, &r);
	ck_assert_msg(ret == walks[_i].ret, "%s from %s: %d", v, walks[_i].peer, ret);
	if (ret == 0) {
		ck_assert_uint_eq(r.hops, 0);
		return;
	}
	ck_assert_str_eq(r.ip, walks[_i].client);
	ck_assert_uint_eq(r.keep, strlen(walks[_i].kept));
	ck_assert(memcmp(v, walks[_i].kept, r.keep) == 0);
	ck_assert_uint_eq(r.hops, walks[_i].hops);
}
END_TEST

/* Why a walk stopped is said (the connection logs it at debug). */
START_TEST(test_walk_stop)
{
	struct rip_result r;
	uint8_t peer[16];

	addr_of("127.0.0.1", peer);
	ck_assert_int_eq(rip_resolve(&walk_conf, peer, "x", 1, &r), 0);
	ck_assert_ptr_nonnull(strstr(r.stop, "not an IP"));
	ck_assert_int_eq(rip_resolve(&walk_conf, peer, " ", 1, &r), 0);
	ck_assert_ptr_nonnull(strstr(r.stop, "empty"));
	addr_of("192.0.2.1", peer);
	ck_assert_int_eq(rip_resolve(&walk_conf, peer, "10.0.0.1", 8, &r), 0);
	ck_assert_ptr_nonnull(strstr(r.stop, "private"));
	addr_of("203.0.113.1", peer);
	ck_assert_int_eq(rip_resolve(&walk_conf, peer, "10.0.0.1", 8, &r), 0);
	ck_assert_ptr_null(r.stop);
}
END_TEST

/* RIP_MAX_HOPS proxies are walked; one more and the header is not believed at all. */
START_TEST(test_walk_hops)
{
	char v[16 * (RIP_MAX_HOPS + 2)];
	size_t len = 0;
	struct rip_result r;
	uint8_t peer[16];
	char *s;

	addr_of("127.0.0.1", peer);
	len += (size_t)sprintf(v + len, "203.0.113.7");
	for (unsigned i = 1; i < RIP_MAX_HOPS; i++)
		len += (size_t)sprintf(v + len, ", 10.0.0.%u", i);
	s = guard_at_end(v, len);
	ck_assert_int_eq(rip_resolve(&walk_conf, peer, s, len, &r), 1);
	ck_assert_uint_eq(r.hops, RIP_MAX_HOPS);
	ck_assert_str_eq(r.ip, "203.0.113.7");
	ck_assert_uint_eq(r.keep, 0);
	len += (size_t)sprintf(v + len, ", 10.0.1.1");
	s = guard_at_end(v, len);
	ck_assert_int_eq(rip_resolve(&walk_conf, peer, s, len, &r), 0);
	ck_assert_uint_eq(r.hops, 0);
	ck_assert_ptr_nonnull(strstr(r.stop, "RIP_MAX_HOPS"));
	/* an untrusted address in reach ends the walk before the limit matters */
	len = (size_t)sprintf(v, "10.0.0.1");
	for (unsigned i = 0; i < RIP_MAX_HOPS + 5; i++)
		len += (size_t)sprintf(v + len, ", 10.0.0.1");
	len += (size_t)sprintf(v + len, ", 203.0.113.7");
	s = guard_at_end(v, len);
	ck_assert_int_eq(rip_resolve(&walk_conf, peer, s, len, &r), 1);
	ck_assert_str_eq(r.ip, "203.0.113.7");
	ck_assert_uint_eq(r.hops, 1);
}
END_TEST

/* No proxies configured: nobody is believed. */
START_TEST(test_walk_empty_conf)
{
	struct rip_conf c = { 0 };
	struct rip_result r;
	uint8_t peer[16];

	addr_of("127.0.0.1", peer);
	ck_assert_int_eq(rip_resolve(&c, peer, "203.0.113.7", 11, &r), 0);
}
END_TEST

/* ---- the directives (config_parse) ---- */

static struct config ccfg;
static struct config_error cerr;

static int cparse(const char *text)
{
	config_free(&ccfg);
	config_defaults(&ccfg);
	return config_parse(&ccfg, text, strlen(text), "/tmp/test.conf", &cerr);
}

#define BASE "Listen 127.0.0.1:8080\nProxyPass / http://127.0.0.1:8000/\n"

/* The load fails on `line` with a message containing `part`. */
static void cparse_err(const char *text, unsigned line, const char *part)
{
	ck_assert_msg(cparse(text) == -EINVAL, "accepted: %s", text);
	ck_assert_msg(strstr(cerr.msg, part), "\"%s\" has no \"%s\"", cerr.msg, part);
	ck_assert_uint_eq(cerr.line, line);
}

START_TEST(test_config_ok)
{
	uint8_t a[16];

	ck_assert_int_eq(cparse(BASE "RemoteIPHeader x-forwarded-for\n"
				"RemoteIPTrustedProxy 192.0.2.0/24 2001:db8::/32\n"
				"remoteipinternalproxy 127.0.0.1 10.0.0.0/255.0.0.0\n"), 0);
	ck_assert(ccfg.remoteip.on);
	ck_assert_uint_eq(ccfg.remoteip.nnet, 4);
	addr_of("10.3.3.3", a);
	ck_assert(rip_find(&ccfg.remoteip, a)->internal);
	addr_of("192.0.2.3", a);
	ck_assert(!rip_find(&ccfg.remoteip, a)->internal);
	/* <IfModule mod_remoteip.c> is taken: its directives are not skipped silently */
	ck_assert_int_eq(cparse(BASE "<IfModule mod_remoteip.c>\nRemoteIPHeader X-Forwarded-For\n"
				"RemoteIPInternalProxy 127.0.0.1\n</IfModule>\n"), 0);
	ck_assert(ccfg.remoteip.on);
	/* a configuration without them does nothing of the kind */
	ck_assert_int_eq(cparse(BASE), 0);
	ck_assert(!ccfg.remoteip.on);
	ck_assert_uint_eq(ccfg.remoteip.nnet, 0);
}
END_TEST

START_TEST(test_config_errors)
{
	cparse_err(BASE "RemoteIPHeader X-Real-IP\nRemoteIPTrustedProxy 10.0.0.1\n", 3,
		   "RemoteIPHeader: only X-Forwarded-For is implemented");
	cparse_err(BASE "RemoteIPHeader X-Forwarded-For\n", 3, "name the proxies");
	cparse_err(BASE "RemoteIPTrustedProxy 10.0.0.1\n", 3, "without RemoteIPHeader");
	cparse_err(BASE "RemoteIPHeader X-Forwarded-For\nRemoteIPTrustedProxy 10.0.0.1 localhost\n",
		   4, "\"localhost\" is a hostname");
	cparse_err(BASE "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 10.0.0.1/8\n", 4,
		   "bits set past");
	cparse_err(BASE "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy\n", 4,
		   "at least 1");
	cparse_err(BASE "<VirtualHost *:8080>\nRemoteIPHeader X-Forwarded-For\n</VirtualHost>\n",
		   4, "not allowed in <VirtualHost>");
	cparse_err(BASE "RemoteIPProxiesHeader X-Forwarded-By\n", 3, "unknown directive");
	cparse_err(BASE "RemoteIPTrustedProxyList /nonexistent/proxies.lst\n", 3,
		   "/nonexistent/proxies.lst: cannot open");
}
END_TEST

START_TEST(test_config_list)
{
	char path[] = "/tmp/check_remoteip.XXXXXX", text[512];
	static const char good[] = "# the balancers\n192.0.2.0/24 # edge\n198.51.100.7\n";
	static const char bad[] = "192.0.2.0/24\n\nbalancer.example\n";
	int fd = mkstemp(path);
	uint8_t a[16];

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, good, sizeof(good) - 1), (ssize_t)sizeof(good) - 1);
	snprintf(text, sizeof(text), BASE "RemoteIPHeader X-Forwarded-For\n"
		 "RemoteIPTrustedProxyList %s\nRemoteIPInternalProxy 127.0.0.1\n", path);
	ck_assert_int_eq(cparse(text), 0);
	ck_assert_uint_eq(ccfg.remoteip.nnet, 3);
	addr_of("198.51.100.7", a);
	ck_assert(!rip_find(&ccfg.remoteip, a)->internal);
	snprintf(text, sizeof(text), BASE "RemoteIPHeader X-Forwarded-For\n"
		 "RemoteIPInternalProxyList %s\n", path);
	ck_assert_int_eq(cparse(text), 0);
	ck_assert(rip_find(&ccfg.remoteip, a)->internal);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, bad, sizeof(bad) - 1, 0), (ssize_t)sizeof(bad) - 1);
	cparse_err(text, 4, "line 3: \"balancer.example\" is a hostname");
	close(fd);
	unlink(path);
	config_free(&ccfg);
}
END_TEST

static Suite *remoteip_suite(void)
{
	Suite *s = suite_create("remoteip");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_addr, 0, N(addrs));
	tcase_add_test(tc, test_addr_bounds);
	tcase_add_loop_test(tc, test_net, 0, N(nets));
	suite_add_tcase(s, tc);
	tc = tcase_create("match");
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_private);
	suite_add_tcase(s, tc);
	tc = tcase_create("conf");
	tcase_add_test(tc, test_conf_list);
	tcase_add_test(tc, test_conf_list_bad);
	suite_add_tcase(s, tc);
	tc = tcase_create("walk");
	tcase_add_checked_fixture(tc, walk_setup, walk_teardown);
	tcase_add_loop_test(tc, test_walk, 0, N(walks));
	tcase_add_test(tc, test_walk_stop);
	tcase_add_test(tc, test_walk_hops);
	tcase_add_test(tc, test_walk_empty_conf);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, test_config_ok);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_config_list);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(remoteip_suite());
}
