/* Check suite for src/uri.c: percent-decoding, escaping, dot segments, validity.
 * Every input ends right before an unreadable page, so a read past `len` crashes the test;
 * outputs are checked against exact bytes and against their bounds. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spliced/uri.h"
#include "guard.h"
#include "suite.h"

static char out[4096];
static uint8_t esc[4096];

/* ---- decoding ---- */

static const struct {
	const char *in, *out, *flags;  /* flags: '1' where URI_ESC, '0' elsewhere */
} dec_ok[] = {
	{ "", "", "" },
	{ "/a/b", "/a/b", "0000" },
	{ "%20", " ", "1" },
	{ "/a%20b", "/a b", "00100" },
	{ "%2F%2f", "//", "11" },
	{ "%41%7e%7E", "A~~", "111" },
	{ "%C3%A9", "\xc3\xa9", "11" },
	{ "%3F%23%25", "?#%", "111" },
	{ "a%0Ab", "a\nb", "010" },
};

START_TEST(test_decode_ok)
{
	const char *in = dec_ok[_i].in;
	char *s = guard_at_end(in, strlen(in));
	ssize_t n;

	memset(esc, 0x55, sizeof(esc));
	n = uri_decode(s, strlen(in), out, sizeof(out), esc);
	ck_assert_int_eq(n, (ssize_t)strlen(dec_ok[_i].out));
	ck_assert(memcmp(out, dec_ok[_i].out, (size_t)n) == 0);
	for (ssize_t i = 0; i < n; i++)
		ck_assert_uint_eq(esc[i], dec_ok[_i].flags[i] == '1' ? URI_ESC : 0);
	ck_assert_int_eq(uri_decode(s, strlen(in), out, sizeof(out), NULL), n);
}
END_TEST

static const char *const dec_bad[] = {
	"%", "%2", "a%", "a%4", "%zz", "%2G", "%G2", "/a%%20", "% 20", "%-1",
};

START_TEST(test_decode_bad)
{
	const char *in = dec_bad[_i];

	ck_assert_int_eq(uri_decode(guard_at_end(in, strlen(in)), strlen(in), out, sizeof(out), esc), -1);
}
END_TEST

START_TEST(test_decode_bounds)
{
	char *s = guard_at_end("%41bc", 5);

	ck_assert_int_eq(uri_decode(s, 5, out, 3, NULL), 3);
	ck_assert_int_eq(uri_decode(s, 5, out, 2, NULL), -1);
	ck_assert_int_eq(uri_decode(s, 5, out, 0, NULL), -1);
	ck_assert_int_eq(uri_decode(s, 0, out, 0, NULL), 0);
}
END_TEST

static const struct {
	const char *in, *out;
} unesc[] = {
	{ "a%20b", "a b" },
	{ "%2f", "/" },
	{ "100%", "100%" },
	{ "%zz%4", "%zz%4" },
	{ "%00x", "%00x" },     /* a NUL never enters a path */
	{ "%%41", "%A" },
	{ "", "" },
};

START_TEST(test_unescape)
{
	const char *in = unesc[_i].in;
	ssize_t n = uri_unescape(guard_at_end(in, strlen(in)), strlen(in), out, sizeof(out));

	ck_assert_int_eq(n, (ssize_t)strlen(unesc[_i].out));
	ck_assert(memcmp(out, unesc[_i].out, (size_t)n) == 0);
}
END_TEST

/* ---- escaping ---- */

static const struct {
	const char *in, *out;
} esc_path[] = {
	{ "/a b/c", "/a%20b/c" },
	{ "a?b#c%d", "a%3Fb%23c%25d" },
	{ "%20", "%2520" },                        /* text, not a URL: escaped again */
	{ "AZaz09-._~!$&'()*+,;=:@/", "AZaz09-._~!$&'()*+,;=:@/" },
	{ "\"<>\\^`{|}[]", "%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5D" },
	{ "\x01\x7f\xff", "%01%7F%FF" },
	{ "", "" },
};

START_TEST(test_escape_path)
{
	const char *in = esc_path[_i].in;
	ssize_t n = uri_escape_path(guard_at_end(in, strlen(in)), strlen(in), out, sizeof(out));

	ck_assert_int_eq(n, (ssize_t)strlen(esc_path[_i].out));
	ck_assert(memcmp(out, esc_path[_i].out, (size_t)n) == 0);
}
END_TEST

START_TEST(test_escape_bounds)
{
	char *s = guard_at_end("a b", 3);

	ck_assert_int_eq(uri_escape_path(s, 3, out, 5), 5);
	ck_assert_int_eq(uri_escape_path(s, 3, out, 4), -1);
	ck_assert_int_eq(uri_escape_path(s, 3, out, 1), -1);
	ck_assert_int_eq(uri_escape_path(s, 1, out, 1), 1);
}
END_TEST

START_TEST(test_escape_backref)
{
	uint8_t set[32];
	char *s = guard_at_end("x & y/z_1", 9);

	uri_bset_default(set);
	ck_assert_int_eq(uri_escape_backref(s, 9, out, sizeof(out), set, false), 13);
	ck_assert(memcmp(out, "x+%26+y%2Fz_1", 13) == 0);
	ck_assert_int_eq(uri_escape_backref(s, 9, out, sizeof(out), set, true), 17);
	ck_assert(memcmp(out, "x%20%26%20y%2Fz_1", 17) == 0);
	memset(set, 0, sizeof(set));
	set['&' >> 3] |= 1u << ('&' & 7);
	ck_assert_int_eq(uri_escape_backref(s, 9, out, sizeof(out), set, false), 11);
	ck_assert(memcmp(out, "x %26 y/z_1", 11) == 0);
	ck_assert_int_eq(uri_escape_backref(s, 9, out, 10, set, false), -1);
	ck_assert_int_eq(uri_escape_backref(s, 3, out, 4, set, false), -1);
	ck_assert_int_eq(uri_escape_backref(s, 3, out, 5, set, false), 5);
}
END_TEST

/* ---- dot segments ---- */

static const struct {
	const char *in, *out;  /* out NULL: rejected */
	unsigned flags;
} norm[] = {
	/* RFC 3986 5.2.4 examples, made absolute */
	{ "/a/b/c/./../../g", "/a/g", 0 },
	{ "/mid/content=5/../6", "/mid/6", 0 },
	{ "/", "/", 0 },
	{ "/.", "/", 0 },
	{ "/./", "/", 0 },
	{ "/a/.", "/a/", 0 },
	{ "/a/..", "/", 0 },
	{ "/a/../", "/", 0 },
	{ "/a/b/..", "/a/", 0 },
	{ "/a/./b", "/a/b", 0 },
	{ "/a/.b/..c", "/a/.b/..c", 0 },
	{ "/...", "/...", 0 },
	{ "/..", NULL, 0 },
	{ "/../a", NULL, 0 },
	{ "/a/../..", NULL, 0 },
	{ "/a/../../b", NULL, 0 },
	{ "a/b", NULL, 0 },
	{ "", NULL, 0 },
	{ "/a//b", "/a//b", 0 },
	{ "/a//b", "/a/b", URI_MERGE_SLASHES },
	{ "//a", "/a", URI_MERGE_SLASHES },
	{ "/a//", "/a/", URI_MERGE_SLASHES },
	{ "//", "/", URI_MERGE_SLASHES },
	{ "/a//../b", "/a/b", 0 },
	{ "/a//../b", "/b", URI_MERGE_SLASHES },
};

START_TEST(test_normalize)
{
	const char *in = norm[_i].in;
	size_t len = strlen(in);
	ssize_t n;

	memcpy(out, in, len);
	n = uri_normalize(out, len, NULL, norm[_i].flags);
	if (!norm[_i].out) {
		ck_assert_int_eq(n, -1);
		return;
	}
	ck_assert_int_eq(n, (ssize_t)strlen(norm[_i].out));
	ck_assert(memcmp(out, norm[_i].out, (size_t)n) == 0);
}
END_TEST

/* With flags: an escaped '/' is data, and the flags move with their bytes. */
START_TEST(test_normalize_escaped)
{
	const char *in = "/a%2F..%2Fb/./c/../%2E%2E/d";
	ssize_t n = uri_decode(guard_at_end(in, strlen(in)), strlen(in), out, sizeof(out), esc);

	ck_assert_int_eq(n, 19);
	/* "a/../b" is one segment; "%2E%2E" is ".." and removes it */
	n = uri_normalize(out, (size_t)n, esc, URI_MERGE_SLASHES);
	ck_assert_int_eq(n, 2);
	ck_assert(memcmp(out, "/d", 2) == 0);

	in = "/x/a%2F..%2Fb//c";
	n = uri_decode(in, strlen(in), out, sizeof(out), esc);
	ck_assert_int_eq(n, 12);
	n = uri_normalize(out, (size_t)n, esc, URI_MERGE_SLASHES);
	ck_assert_int_eq(n, 11);
	ck_assert(memcmp(out, "/x/a/../b/c", 11) == 0);
	ck_assert_uint_eq(esc[2], 0);
	ck_assert_uint_eq(esc[4], URI_ESC);
	ck_assert_uint_eq(esc[7], URI_ESC);
	ck_assert_uint_eq(esc[9], 0);
	/* the same bytes without flags: "a", "..", "b" are segments */
	ck_assert_int_eq(uri_normalize(out, 11, NULL, 0), 6);
	ck_assert(memcmp(out, "/x/b/c", 6) == 0);
	/* an escaped first '/' is not the root */
	out[0] = '/';
	esc[0] = URI_ESC;
	ck_assert_int_eq(uri_normalize(out, 1, esc, 0), -1);
}
END_TEST

/* ---- validity ---- */

static const struct {
	const char *s;
	bool target, location;
} valid[] = {
	{ "/", true, true },
	{ "/a%20b?x=%2f&y=[1]|^`{}\\", true, true },
	{ "/a b", false, false },
	{ "/a#b", false, true },
	{ "/a?b#c", false, true },
	{ "/a\"b", false, true },
	{ "/a%2", false, true },
	{ "/a%zz", false, true },
	{ "/a?b%", false, true },
	{ "/a[b]", false, true },
	{ "a/b", false, true },
	{ "", false, true },
	{ "/a\x01", false, false },
	{ "/a\x7f", false, false },
	{ "/\xc3\xa9", false, false },
	{ "http://x/y", false, true },
	{ "/a?b?c", true, true },
};

START_TEST(test_valid)
{
	const char *s = valid[_i].s;
	char *g = guard_at_end(s, strlen(s));

	ck_assert_int_eq(uri_target_valid(g, strlen(s)), valid[_i].target);
	ck_assert_int_eq(uri_location_valid(g, strlen(s)), valid[_i].location);
}
END_TEST

START_TEST(test_case)
{
	char s[] = "AbC-xYz~%2f";

	uri_tolower(s, strlen(s));
	ck_assert_str_eq(s, "abc-xyz~%2f");
	uri_toupper(s, 3);
	ck_assert_str_eq(s, "ABC-xyz~%2f");
	uri_toupper(s, strlen(s));
	ck_assert_str_eq(s, "ABC-XYZ~%2F");
}
END_TEST

START_TEST(test_classes)
{
	for (unsigned c = 0; c < 256; c++) {
		bool unres = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("-._~", (int)c);
		bool path = c && (unres || strchr("!$&'()*+,;=:@/", (int)c));

		ck_assert_int_eq(uri_is((unsigned char)c, URI_C_PATH), path);
		ck_assert_int_eq(uri_is((unsigned char)c, URI_C_QUERY), path || c == '?');
		if (path || c == '?')
			ck_assert(uri_is((unsigned char)c, URI_C_QLAX));
	}
}
END_TEST

/* The bytes our parser takes raw in a query but a URI cannot hold go upstream escaped. */
START_TEST(test_query_unsafe)
{
	static const char q[] = "a=[1]&b={x}|^\\`&c=%5B&d=?/:@";
	char eout[128];
	ssize_t n;

	ck_assert_uint_eq(uri_query_unsafe(q, strlen(q)), 8);
	n = uri_escape_query_unsafe(q, strlen(q), eout, sizeof(eout));
	ck_assert_int_eq(n, (ssize_t)strlen(q) + 16);
	eout[n] = 0;
	ck_assert_str_eq(eout, "a=%5B1%5D&b=%7Bx%7D%7C%5E%5C%60&c=%5B&d=?/:@");
	ck_assert(uri_target_valid("/p?a=%5B1%5D&b=%7Bx%7D%7C%5E%5C%60", 34));
	ck_assert_uint_eq(uri_query_unsafe("x=1&y=%7C", 9), 0);
	/* every byte of the output is counted against cap */
	ck_assert_int_eq(uri_escape_query_unsafe("a[", 2, eout, 3), -1);
	ck_assert_int_eq(uri_escape_query_unsafe("a[", 2, eout, 4), 4);
	for (unsigned c = 1; c < 256; c++) {
		char in = (char)c;

		if (uri_is((unsigned char)c, URI_C_QLAX))
			ck_assert_uint_eq(uri_query_unsafe(&in, 1), !uri_is((unsigned char)c, URI_C_QUERY));
	}
}
END_TEST

/* Dot segments with parameters, which Java servers read as dot segments. */
START_TEST(test_dot_params)
{
	static const char *const yes[] = { "/..;/admin", "/public/..;x/admin", "/.;/admin",
					   "/a/.;", "/..;" };
	static const char *const no[] = { "/admin", "/a;b/c", "/...;/x", "/a..;/x", "/.x;/y",
					  "/..", "/a/.", "/a/..%3B/b", "/;/x" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(uri_dot_params(yes[i], strlen(yes[i])), "%s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(!uri_dot_params(no[i], strlen(no[i])), "%s", no[i]);
	/* only len bytes are looked at */
	ck_assert(!uri_dot_params("/..;", 3));
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *uri_suite(void)
{
	Suite *s = suite_create("uri");
	TCase *tc;

	tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_decode_ok, 0, N(dec_ok));
	tcase_add_loop_test(tc, test_decode_bad, 0, N(dec_bad));
	tcase_add_test(tc, test_decode_bounds);
	tcase_add_loop_test(tc, test_unescape, 0, N(unesc));
	suite_add_tcase(s, tc);
	tc = tcase_create("escape");
	tcase_add_loop_test(tc, test_escape_path, 0, N(esc_path));
	tcase_add_test(tc, test_escape_bounds);
	tcase_add_test(tc, test_escape_backref);
	suite_add_tcase(s, tc);
	tc = tcase_create("normalize");
	tcase_add_loop_test(tc, test_normalize, 0, N(norm));
	tcase_add_test(tc, test_normalize_escaped);
	suite_add_tcase(s, tc);
	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_valid, 0, N(valid));
	tcase_add_test(tc, test_case);
	tcase_add_test(tc, test_classes);
	suite_add_tcase(s, tc);
	tc = tcase_create("what_goes_upstream");
	tcase_add_test(tc, test_query_unsafe);
	tcase_add_test(tc, test_dot_params);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(uri_suite());
}
