/* Check suite for src/proxyproto.c: PROXY protocol v1 and v2 headers, valid and broken,
 * whole and cut at every length, and the address ranges of
 * RemoteIPProxyProtocolExceptions. Every input ends right before an unreadable page, so
 * a read past `len` crashes the test. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spliced/proxyproto.h"
#include "guard.h"
#include "suite.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every prefix of a valid header is "need more"; the whole is its length. */
static void check_prefixes(const char *h, size_t n)
{
	struct pp_info pi;

	for (size_t k = 0; k < n; k++)
		ck_assert_msg(pp_parse(guard_at_end(h, k), k, &pi) == -2, "prefix %zu of %zu", k, n);
}

/* ---- version 1 ---- */

static const struct {
	const char *in;
	bool local;
	const char *ip;
	unsigned port;
} v1_ok[] = {
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", false, "192.0.2.1", 56324 },
	{ "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", false, "0.0.0.0", 0 },
	{ "PROXY TCP6 2001:db8::1 2001:db8::2 1 80\r\n", false, "2001:db8::1", 1 },
	{ "PROXY TCP6 ::ffff:192.0.2.7 ::1 65535 8080\r\n", false, "::ffff:192.0.2.7", 65535 },
	{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:"
	  "ffff:ffff 65535 65535\r\n", false, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535 },
	{ "PROXY UNKNOWN\r\n", true, "", 0 },
	{ "PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n", true, "", 0 },
	{ "PROXY UNKNOWN anything at all, ignored\r\n", true, "", 0 },
};

START_TEST(test_v1_ok)
{
	const char *h = v1_ok[_i].in;
	size_t n = strlen(h);
	char req[256];
	struct pp_info pi;

	ck_assert_uint_le(n, PP_V1_MAX);
	ck_assert_int_eq(pp_parse(guard_at_end(h, n), n, &pi), (ssize_t)n);
	ck_assert_uint_eq(pi.version, 1);
	ck_assert(pi.local == v1_ok[_i].local);
	if (!pi.local) {
		ck_assert_str_eq(pi.ip, v1_ok[_i].ip);
		ck_assert_uint_eq(pi.port, v1_ok[_i].port);
		ck_assert_int_eq(pi.family, strchr(pi.ip, ':') ? AF_INET6 : AF_INET);
	}
	/* what follows the header (the request) is not part of it */
	snprintf(req, sizeof(req), "%sGET / HTTP/1.1\r\n\r\n", h);
	ck_assert_int_eq(pp_parse(guard_at_end(req, strlen(req)), strlen(req), &pi), (ssize_t)n);
	check_prefixes(h, n);
}
END_TEST

static const char *const v1_bad[] = {
	"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n",        /* LF alone */
	"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\rX",       /* CR without LF */
	"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",          /* a port missing */
	"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 9\r\n",    /* one field too many */
	"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 \r\n",     /* trailing space */
	"PROXY TCP4  192.0.2.1 198.51.100.2 56324 443\r\n",     /* two spaces */
	"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",      /* port too large */
	"PROXY TCP4 192.0.2.1 198.51.100.2 99999 443\r\n",
	"PROXY TCP4 192.0.2.1 198.51.100.2 123456 443\r\n",
	"PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n",
	"PROXY TCP4 192.0.2.1 198.51.100.2 +1 443\r\n",
	"PROXY TCP4 192.0.2.1 198.51.100.2 080 443\r\n",        /* leading zero */
	"PROXY TCP4 192.0.2.1 198.51.100.2 80 4x3\r\n",
	"PROXY TCP4 192.0.2.256 198.51.100.2 80 443\r\n",       /* bad addresses */
	"PROXY TCP4 192.0.2 198.51.100.2 80 443\r\n",
	"PROXY TCP4 192.0.2.1 198.51.100 80 443\r\n",
	"PROXY TCP4 ::1 198.51.100.2 80 443\r\n",               /* family mismatch */
	"PROXY TCP6 192.0.2.1 ::1 80 443\r\n",
	"PROXY TCP6 2001:db8:::1 ::1 80 443\r\n",
	"PROXY TCP4 host.example 198.51.100.2 80 443\r\n",
	"PROXY UDP4 192.0.2.1 198.51.100.2 80 443\r\n",         /* unknown protocol */
	"PROXY tcp4 192.0.2.1 198.51.100.2 80 443\r\n",
	"PROXY \r\n",
	"PROXY TCP4\r\n",
	"PROXY TCP4 192.0.2.1\x01 198.51.100.2 80 443\r\n",     /* control byte */
	"PROXY TCP4 192.0.2.1\xc3\xa9 198.51.100.2 80 443\r\n", /* non-ASCII */
	"proxy TCP4 192.0.2.1 198.51.100.2 80 443\r\n",         /* not a header at all */
	"PROXYTCP4 192.0.2.1 198.51.100.2 80 443\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"\r\n\r\nGET / HTTP/1.1\r\n",
	"P\r",
};

START_TEST(test_v1_bad)
{
	const char *h = v1_bad[_i];
	struct pp_info pi;

	ck_assert_int_eq(pp_parse(guard_at_end(h, strlen(h)), strlen(h), &pi), -1);
	ck_assert_ptr_nonnull(pi.reason);
}
END_TEST

/* 107 bytes is the most a v1 header may take: one more and it is refused, before the
 * CRLF arrives (an endless line cannot hold the connection). */
START_TEST(test_v1_length)
{
	char h[256];
	struct pp_info pi;
	size_t n;

	strcpy(h, "PROXY UNKNOWN ");
	n = strlen(h);
	memset(h + n, 'x', PP_V1_MAX - 2 - n);
	memcpy(h + PP_V1_MAX - 2, "\r\n", 2);
	ck_assert_int_eq(pp_parse(guard_at_end(h, PP_V1_MAX), PP_V1_MAX, &pi), PP_V1_MAX);
	h[PP_V1_MAX - 2] = h[PP_V1_MAX - 1] = 'x';
	ck_assert_int_eq(pp_parse(guard_at_end(h, PP_V1_MAX - 1), PP_V1_MAX - 1, &pi), -2);
	ck_assert_int_eq(pp_parse(guard_at_end(h, PP_V1_MAX), PP_V1_MAX, &pi), -1);
	ck_assert_str_eq(pi.reason, "PROXY v1: header longer than 107 bytes");
	memset(h + PP_V1_MAX, 'x', 100);
	ck_assert_int_eq(pp_parse(guard_at_end(h, 200), 200, &pi), -1);
	/* the CR is the 107th byte, the LF would be the 108th */
	h[PP_V1_MAX - 1] = '\r';
	ck_assert_int_eq(pp_parse(guard_at_end(h, PP_V1_MAX), PP_V1_MAX, &pi), -1);
	h[PP_V1_MAX] = '\n';
	ck_assert_int_eq(pp_parse(guard_at_end(h, PP_V1_MAX + 1), PP_V1_MAX + 1, &pi), -1);
}
END_TEST

/* ---- version 2 ---- */

static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
				       0x55, 0x49, 0x54, 0x0a };

/* A v2 header in b: ver_cmd, fam byte, the address block of alen bytes (given), then
 * tlv_len bytes of TLVs (given); `lie` is added to the length field. Returns its size. */
static size_t v2(unsigned char *b, unsigned ver_cmd, unsigned fam, const void *addr,
		 size_t alen, const void *tlv, size_t tlv_len, int lie)
{
	size_t len = alen + tlv_len;

	memcpy(b, sig, 12);
	b[12] = (unsigned char)ver_cmd;
	b[13] = (unsigned char)fam;
	b[14] = (unsigned char)((len + (size_t)lie) >> 8);
	b[15] = (unsigned char)(len + (size_t)lie);
	if (alen)
		memcpy(b + 16, addr, alen);
	if (tlv_len)
		memcpy(b + 16 + alen, tlv, tlv_len);
	return 16 + len;
}

static const unsigned char a4[12] = { 192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb };
static unsigned char a6[36];
static unsigned char au[216];

static void v2_setup(void)
{
	inet_pton(AF_INET6, "2001:db8::17", a6);
	inet_pton(AF_INET6, "2001:db8::1", a6 + 16);
	a6[32] = 0x30;
	a6[33] = 0x39;
	a6[34] = 0;
	a6[35] = 80;
	memset(au, 0, sizeof(au));
	strcpy((char *)au, "/run/lb.sock");
}

static ssize_t parse_v2(const unsigned char *b, size_t n, struct pp_info *pi)
{
	return pp_parse(guard_at_end(b, n), n, pi);
}

START_TEST(test_v2_inet)
{
	unsigned char b[512];
	struct pp_info pi;
	size_t n = v2(b, 0x21, 0x11, a4, sizeof(a4), NULL, 0, 0);

	ck_assert_uint_eq(n, 28);
	ck_assert_int_eq(parse_v2(b, n, &pi), 28);
	ck_assert(!pi.local);
	ck_assert_uint_eq(pi.version, 2);
	ck_assert_int_eq(pi.family, AF_INET);
	ck_assert_str_eq(pi.ip, "192.0.2.1");
	ck_assert_uint_eq(pi.port, 56324);
	check_prefixes((const char *)b, n);
	/* the request after it is left alone */
	memcpy(b + n, "GET / HTTP/1.1\r\n\r\n", 18);
	ck_assert_int_eq(parse_v2(b, n + 18, &pi), 28);
}
END_TEST

START_TEST(test_v2_inet6)
{
	unsigned char b[512];
	struct pp_info pi;
	size_t n = v2(b, 0x21, 0x21, a6, sizeof(a6), NULL, 0, 0);

	ck_assert_int_eq(parse_v2(b, n, &pi), 52);
	ck_assert_int_eq(pi.family, AF_INET6);
	ck_assert_str_eq(pi.ip, "2001:db8::17");
	ck_assert_uint_eq(pi.port, 12345);
	check_prefixes((const char *)b, n);
}
END_TEST

/* TLVs after the addresses are walked and skipped; an address block longer than the
 * family's (extra bytes made of TLVs) too. */
START_TEST(test_v2_tlvs)
{
	static const unsigned char tlv[] = {
		0x01, 0x00, 0x02, 'h', '2',                     /* ALPN */
		0x02, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
		0x04, 0x00, 0x00,                               /* NOOP, empty */
		0x03, 0x00, 0x04, 1, 2, 3, 4,                   /* CRC32C: not checked */
		0xea, 0x00, 0x03, 'v', 'p', 'c',                /* a vendor's */
	};
	unsigned char b[8192], big[2000];
	struct pp_info pi;
	size_t n = v2(b, 0x21, 0x11, a4, sizeof(a4), tlv, sizeof(tlv), 0);

	ck_assert_int_eq(parse_v2(b, n, &pi), (ssize_t)n);
	ck_assert_str_eq(pi.ip, "192.0.2.1");
	check_prefixes((const char *)b, n);
	n = v2(b, 0x21, 0x21, a6, sizeof(a6), tlv, sizeof(tlv), 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), (ssize_t)n);
	ck_assert_str_eq(pi.ip, "2001:db8::17");
	/* one large TLV, within PP_V2_MAX */
	memset(big, 'z', sizeof(big));
	big[0] = 0xe0;
	big[1] = (sizeof(big) - 3) >> 8;
	big[2] = (sizeof(big) - 3) & 0xff;
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), big, sizeof(big), 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), (ssize_t)n);
}
END_TEST

/* TLVs whose lengths lie: they would run past the header. */
START_TEST(test_v2_tlv_bad)
{
	static const unsigned char bad[][6] = {
		{ 0x01, 0x00, 0x04, 'h', '2' },    /* says 4, has 2 */
		{ 0x01, 0x00 },                    /* a type and half a length */
		{ 0x01 },                          /* a type alone */
		{ 0x04, 0xff, 0xff, 0, 0, 0 },     /* 65535 */
	};
	static const size_t blen[] = { 5, 2, 1, 6 };
	unsigned char b[512];
	struct pp_info pi;

	for (size_t i = 0; i < N(bad); i++) {
		size_t n = v2(b, 0x21, 0x11, a4, sizeof(a4), bad[i], blen[i], 0);

		ck_assert_int_eq(parse_v2(b, n, &pi), -1);
		ck_assert_str_eq(pi.reason, "PROXY v2: a TLV runs past the header");
	}
}
END_TEST

/* LOCAL, UNSPEC and AF_UNIX: the connection's own address stays; the block (whatever it
 * holds, under LOCAL even garbage) is skipped. */
START_TEST(test_v2_local)
{
	static const unsigned char junk[7] = { 1, 2, 3, 4, 5, 6, 7 };
	unsigned char b[512];
	struct pp_info pi;
	size_t n;

	n = v2(b, 0x20, 0x00, NULL, 0, NULL, 0, 0);     /* LOCAL, as HAProxy's checks send */
	ck_assert_int_eq(parse_v2(b, n, &pi), 16);
	ck_assert(pi.local);
	n = v2(b, 0x20, 0x11, a4, sizeof(a4), NULL, 0, 0); /* LOCAL with addresses: ignored */
	ck_assert_int_eq(parse_v2(b, n, &pi), 28);
	ck_assert(pi.local);
	ck_assert_str_eq(pi.ip, "");
	n = v2(b, 0x20, 0x11, junk, sizeof(junk), NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), 23);
	ck_assert(pi.local);
	n = v2(b, 0x21, 0x00, junk, sizeof(junk), NULL, 0, 0); /* PROXY, UNSPEC */
	ck_assert_int_eq(parse_v2(b, n, &pi), 23);
	ck_assert(pi.local);
	n = v2(b, 0x21, 0x10, a4, sizeof(a4), NULL, 0, 0);  /* INET, transport UNSPEC */
	ck_assert_int_eq(parse_v2(b, n, &pi), 28);
	ck_assert(pi.local);
	n = v2(b, 0x21, 0x31, au, sizeof(au), NULL, 0, 0);  /* AF_UNIX stream */
	ck_assert_int_eq(parse_v2(b, n, &pi), 232);
	ck_assert(pi.local);
	n = v2(b, 0x21, 0x31, au, 215, NULL, 0, 0);         /* ... too short */
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
}
END_TEST

START_TEST(test_v2_bad)
{
	unsigned char b[8192];
	struct pp_info pi;
	size_t n;

	/* version 1 in the high nibble, and 3 */
	n = v2(b, 0x11, 0x11, a4, sizeof(a4), NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	n = v2(b, 0x31, 0x11, a4, sizeof(a4), NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	/* commands 2..15 */
	for (unsigned cmd = 2; cmd < 16; cmd++) {
		n = v2(b, 0x20 | cmd, 0x11, a4, sizeof(a4), NULL, 0, 0);
		ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	}
	/* family 4..15, transport 3..15 */
	n = v2(b, 0x21, 0x41, a4, sizeof(a4), NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	n = v2(b, 0x21, 0x13, a4, sizeof(a4), NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	/* UDP */
	n = v2(b, 0x21, 0x12, a4, sizeof(a4), NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	/* address blocks shorter than their family: the length lies low */
	n = v2(b, 0x21, 0x11, a4, 11, NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	n = v2(b, 0x21, 0x21, a6, 12, NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	n = v2(b, 0x21, 0x11, NULL, 0, NULL, 0, 0);
	ck_assert_int_eq(parse_v2(b, n, &pi), -1);
	/* a length that lies high is a header not yet whole */
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), NULL, 0, 10);
	ck_assert_int_eq(parse_v2(b, n, &pi), -2);
	/* oversized: refused from the 16 bytes that say so */
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), NULL, 0, PP_V2_MAX);
	ck_assert_int_eq(parse_v2(b, 16, &pi), -1);
	ck_assert_str_eq(pi.reason, "PROXY v2: header longer than allowed");
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), NULL, 0, 65535 - 12);
	ck_assert_int_eq(parse_v2(b, 16, &pi), -1);
	/* exactly PP_V2_MAX is allowed */
	memset(b + 28, 0, sizeof(b) - 28);
	b[28] = 0x04;
	b[29] = (PP_V2_MAX - 28 - 3) >> 8;
	b[30] = (PP_V2_MAX - 28 - 3) & 0xff;
	b[14] = (PP_V2_MAX - 16) >> 8;
	b[15] = (PP_V2_MAX - 16) & 0xff;
	ck_assert_int_eq(parse_v2(b, PP_V2_MAX, &pi), PP_V2_MAX);
	ck_assert_int_eq(parse_v2(b, PP_V2_MAX - 1, &pi), -2);
	/* every byte of the signature matters */
	for (unsigned i = 0; i < 12; i++) {
		n = v2(b, 0x21, 0x11, a4, sizeof(a4), NULL, 0, 0);
		b[i] ^= 0x20;
		ck_assert_int_eq(parse_v2(b, n, &pi), -1);
		ck_assert_int_eq(parse_v2(b, i + 1, &pi), -1); /* refused as soon as it differs */
	}
}
END_TEST

/* ---- address ranges ---- */

static const struct {
	const char *range, *ip;
	bool match;
} ranges[] = {
	{ "10.0.0.0/8", "10.1.2.3", true },
	{ "10.0.0.0/8", "11.1.2.3", false },
	{ "10.1.2.3", "10.1.2.3", true },
	{ "10.1.2.3", "10.1.2.4", false },
	{ "10.1.2.3/32", "10.1.2.3", true },
	{ "0.0.0.0/0", "203.0.113.9", true },
	{ "0.0.0.0/0", "::1", false },
	{ "127.0.0.0/8", "::ffff:127.0.0.1", true },
	{ "192.168.1.128/25", "192.168.1.127", false },
	{ "192.168.1.128/25", "192.168.1.255", true },
	{ "192.168.1.200/24", "192.168.1.1", true },      /* host bits cleared */
	{ "2001:db8::/32", "2001:db8:ffff::1", true },
	{ "2001:db8::/32", "2001:db9::1", false },
	{ "::1", "::1", true },
	{ "::1/128", "127.0.0.1", false },
	{ "::/0", "fe80::1", true },
	{ "fe80::/10", "febf::1", true },
	{ "fe80::/10", "fec0::1", false },
};

START_TEST(test_range_match)
{
	struct pp_range r;

	ck_assert_int_eq(pp_range_parse(ranges[_i].range, &r), 0);
	ck_assert(pp_range_match(&r, ranges[_i].ip) == ranges[_i].match);
}
END_TEST

static const char *const range_bad[] = {
	"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/08", "10.0.0.0/8x",
	"10.0.0.0/-1", "10.0.0", "host.example", "10.0.0.0/1000", "1.2.3.4/ 8", "*",
	"10.0.0.0/8/8", "2001:db8:::/32",
};

START_TEST(test_range_bad)
{
	struct pp_range r;

	ck_assert_int_eq(pp_range_parse(range_bad[_i], &r), -EINVAL);
}
END_TEST

static Suite *proxyproto_suite(void)
{
	Suite *s = suite_create("proxyproto");
	TCase *tc;

	tc = tcase_create("v1");
	tcase_add_loop_test(tc, test_v1_ok, 0, N(v1_ok));
	tcase_add_loop_test(tc, test_v1_bad, 0, N(v1_bad));
	tcase_add_test(tc, test_v1_length);
	suite_add_tcase(s, tc);
	tc = tcase_create("v2");
	tcase_add_unchecked_fixture(tc, v2_setup, NULL);
	tcase_add_test(tc, test_v2_inet);
	tcase_add_test(tc, test_v2_inet6);
	tcase_add_test(tc, test_v2_tlvs);
	tcase_add_test(tc, test_v2_tlv_bad);
	tcase_add_test(tc, test_v2_local);
	tcase_add_test(tc, test_v2_bad);
	suite_add_tcase(s, tc);
	tc = tcase_create("ranges");
	tcase_add_loop_test(tc, test_range_match, 0, N(ranges));
	tcase_add_loop_test(tc, test_range_bad, 0, N(range_bad));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(proxyproto_suite());
}
