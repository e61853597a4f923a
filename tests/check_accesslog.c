/* Check suite for src/accesslog.c: the LogFormat compiler, every directive rendered
 * against a parsed request head, escaping of hostile values, truncation, the built-in
 * formats, %t, and the double buffer. Heads are parsed from right before an unreadable
 * page and lines are rendered to right before one, so a read or write past a bound
 * crashes the test. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "spliced/accesslog.h"
#include "spliced/http.h"
#include "suite.h"

static const struct http_limits lim = {
	.max_head = 16384, .max_line = 8190, .max_field = 8190, .max_fields = 100,
};

static char *guard_map;
static size_t guard_len;

/* A buffer of n bytes ending right before a PROT_NONE page (one at a time). */
static char *guarded(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (n + page - 1) / page + 1;

	if (guard_map)
		munmap(guard_map, guard_len);
	guard_len = pages * page;
	guard_map = mmap(NULL, guard_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	ck_assert_ptr_ne(guard_map, MAP_FAILED);
	ck_assert_int_eq(mprotect(guard_map + guard_len - page, page, PROT_NONE), 0);
	return guard_map + guard_len - page - n;
}

static const char head_text[] =
	"GET /p/a%20b?x=1&y=2 HTTP/1.1\r\n"
	"Host: example.com\r\n"
	"User-Agent: curl/8.0\r\n"
	"Referer: http://ref.example/\r\n"
	"X-Multi: one\r\n"
	"x-multi:two  \r\n"
	"X-Empty:\r\n"
	"\r\n";

static struct http_request req;
static char head[4096];
static struct alog_entry ent;

/* Parses text into head/req and fills ent with fixed values. */
static void setup_entry(const char *text)
{
	size_t n = strlen(text);

	ck_assert_uint_lt(n, sizeof(head));
	memcpy(head, text, n);
	ck_assert_int_eq(http_parse_request(head, n, &lim, &req), (int)n);
	ent = (struct alog_entry){
		.client_ip = "192.0.2.7", .client_port = 50123, .local_port = 8080,
		.head = head, .req = &req, .status = 200, .body_out = 1234,
		.bytes_in = 180, .bytes_out = 1500,
		.start = { .tv_sec = 1795699479, .tv_nsec = 5 },
		.duration_ns = 2345678901ull, .server_name = "www.example.com",
	};
}

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

/* Compiles fmt and renders ent; the line without its '\n' into a static string. */
static const char *render(const char *fmt)
{
	static char line[ALOG_LINE_MAX + 1];
	struct alog_format f;
	char errbuf[256];
	size_t n;

	ck_assert_msg(alog_compile(&f, fmt, errbuf, sizeof(errbuf)) == 0, "%s: %s", fmt, errbuf);
	n = alog_render(&f, &ent, line, ALOG_LINE_MAX);
	ck_assert_uint_ge(n, 1);
	ck_assert_int_eq(line[n - 1], '\n');
	line[n - 1] = '\0';
	return line;
}

#define ck_render(fmt, want) ck_assert_str_eq(render(fmt), want)

/* alog_compile() fails with a message containing `part`. */
static void ck_compile_err(const char *fmt, const char *part)
{
	struct alog_format f;
	char errbuf[256] = "";

	ck_assert_int_eq(alog_compile(&f, fmt, errbuf, sizeof(errbuf)), -EINVAL);
	ck_assert_msg(strstr(errbuf, part), "%s: \"%s\" lacks \"%s\"", fmt, errbuf, part);
}

/* ---- directives ---- */

START_TEST(test_directives)
{
	utc();
	setup_entry(head_text);
	ck_render("%h", "192.0.2.7");
	ck_render("%a %{c}a", "192.0.2.7 192.0.2.7");
	ck_render("%l %u", "- -");
	ck_render("%t", "[26/Nov/2026:13:24:39 +0000]");
	ck_render("%r", "GET /p/a%20b?x=1&y=2 HTTP/1.1");
	ck_render("%s %>s %<s", "200 200 200");
	ck_render("%b %B", "1234 1234");
	ck_render("%{User-Agent}i|%{referer}i", "curl/8.0|http://ref.example/");
	ck_render("%{X-Multi}i", "one, two");
	ck_render("[%{X-Empty}i]", "[]");
	ck_render("%{X-Absent}i", "-");
	ck_render("%{User}i", "-");  /* a prefix of a name is not the name */
	ck_render("%D", "2345678");
	ck_render("%T %{s}T %{ms}T %{us}T", "2 2 2345 2345678");
	ck_render("%v", "www.example.com");
	ck_render("%p %{local}p %{canonical}p %{remote}p", "8080 8080 8080 50123");
	ck_render("%m", "GET");
	ck_render("%U", "/p/a%20b");
	ck_render("%q", "?x=1&y=2");
	ck_render("%H", "HTTP/1.1");
	ck_render("%I %O", "180 1500");
	ck_render("100%% sure", "100% sure");
	ck_render("", "");
	ck_render("plain text", "plain text");
}
END_TEST

START_TEST(test_zero_and_absent)
{
	setup_entry("HEAD / HTTP/1.0\r\n\r\n");
	ent.body_out = 0;
	ent.status = 0;
	ent.server_name = NULL;
	ent.client_ip = NULL;
	ck_render("%b %B %s %v %h", "- 0 - - -");
	ck_render("[%q] %U %H %m", "[] / HTTP/1.0 HEAD");
	ent.server_name = "";
	ck_render("%v", "-");
	ent.duration_ns = 999;
	ck_render("%D %T", "0 0");
	/* no parsed head (a 400 for garbage): request items print "-" */
	ent.req = NULL;
	ck_render("%r|%m|%U|[%q]|%H|%{Host}i", "-|-|-|[]|-|-");
	ent.req = &req;
	ent.head = NULL;
	ck_render("%r", "-");
}
END_TEST

START_TEST(test_escapes_in_format)
{
	setup_entry(head_text);
	ck_render("a\\tb\\\\c\\qd", "a\tb\\c\\qd");  /* unknown escape keeps the backslash */
	ck_render("%m\\n%U", "GET\n/p/a%20b");
	ck_render("x\\", "x\\");
}
END_TEST

START_TEST(test_compile_errors)
{
	struct alog_format f;
	char big[4 * ALOG_TEXT_MAX];

	ck_compile_err("%h %Z", "%Z");
	ck_compile_err("%Z", "unrecognized LogFormat directive");
	ck_compile_err("%{X-Foo}o", "response headers");
	ck_compile_err("abc %", "lone %");
	ck_compile_err("%{Host", "missing '}'");
	ck_compile_err("%400{Referer}i", "status conditions");
	ck_compile_err("%!200s", "status conditions");
	ck_compile_err("%{%Y}t", "%{format}t");
	ck_compile_err("%i", "header name");
	ck_compile_err("%{}i", "header name");
	ck_compile_err("%{a b}i", "bad header name");
	ck_compile_err("%{m}T", "unit");
	ck_compile_err("%{x}p", "remote");
	ck_compile_err("%{x}a", "%{c}a");
	ck_compile_err("%{x}h", "no argument");
	ck_compile_err("%\x01", "\\x01");
	memset(big, 0, sizeof(big));
	for (int i = 0; i < ALOG_MAX_ITEMS + 1; i++)
		strcat(big, "%h");
	ck_compile_err(big, "too many items");
	memset(big, 'a', ALOG_TEXT_MAX + 1);
	big[ALOG_TEXT_MAX + 1] = '\0';
	ck_compile_err(big, "too long");
	big[ALOG_TEXT_MAX] = '\0';
	ck_assert_int_eq(alog_compile(&f, big, NULL, 0), 0);  /* exactly the limit; NULL err */
	ck_assert_uint_eq(f.nitem, 1);
	ck_assert_int_eq(alog_compile(&f, "%Q", NULL, 0), -EINVAL);
	/* modifiers are accepted; literal runs merge into one item */
	ck_assert_int_eq(alog_compile(&f, "ab %<>s cd", NULL, 0), 0);
	ck_assert_uint_eq(f.nitem, 3);
}
END_TEST

/* ---- escaping ---- */

START_TEST(test_hostile_values)
{
	static const char raw[] = "GET /x\"y\xfe\n HTTP/1.1\r\n\r\n";

	setup_entry("GET /x HTTP/1.1\r\nHost: h\r\n"
		    "User-Agent: a\"b\\c\td\xff\x80 \" \r\n"
		    "Referer: \"-\" 200 9 \"evil\r\n\r\n");
	ck_render("%{User-Agent}i", "a\\\"b\\\\c\\td\\xff\\x80 \\\"");
	ck_render("\"%r\"", "\"GET /x HTTP/1.1\"");
	ck_render("\"%{Referer}i\"", "\"\\\"-\\\" 200 9 \\\"evil\"");
	/* values given by the caller are escaped too */
	ent.server_name = "a\nb\x1b[31m\b\v\r\"";
	ck_render("%v", "a\\nb\\x1b[31m\\b\\v\\r\\\"");
	/* a request line the strict scanner would refuse, described by hand: still escaped */
	ent.head = raw;
	req = (struct http_request){ .head_len = sizeof(raw) - 1, .fields_off = sizeof(raw) - 3,
				     .method = { 0, 3 }, .path = { 4, 6 }, .version = 11 };
	ck_render("\"%r\"", "\"GET /x\\\"y\\xfe\\n HTTP/1.1\"");
	ck_render("%U", "/x\\\"y\\xfe\\n");
}
END_TEST

/* ---- truncation ---- */

START_TEST(test_truncation)
{
	struct alog_format f;
	char full[ALOG_LINE_MAX];
	size_t nfull;

	utc();
	setup_entry("GET /a HTTP/1.1\r\nHost: h\r\nUser-Agent: \"\"\"\"\xff\xff\r\n\r\n");
	ck_assert_int_eq(alog_compile(&f, ALOG_FMT_COMBINED " %D", NULL, 0), 0);
	nfull = alog_render(&f, &ent, full, sizeof(full));
	ck_assert_uint_gt(nfull, 40);
	ck_assert_uint_eq(alog_render(&f, &ent, NULL, 0), 0);
	for (size_t cap = 1; cap <= nfull + 3; cap++) {
		char *out = guarded(cap);
		size_t n = alog_render(&f, &ent, out, cap);

		ck_assert_uint_ge(n, 1);
		ck_assert_uint_le(n, cap);
		ck_assert_int_eq(out[n - 1], '\n');
		ck_assert_mem_eq(out, full, n - 1);      /* a prefix: never half an escape */
		if (cap >= nfull)
			ck_assert_uint_eq(n, nfull);
		else
			ck_assert_uint_ge(n + 4, cap);   /* cut at most one escape short */
	}
}
END_TEST

/* ---- built-in formats and %t ---- */

START_TEST(test_common_combined)
{
	struct alog_format f;

	utc();
	setup_entry(head_text);
	ck_render(ALOG_FMT_COMMON, "192.0.2.7 - - [26/Nov/2026:13:24:39 +0000] "
		  "\"GET /p/a%20b?x=1&y=2 HTTP/1.1\" 200 1234");
	ck_render(alog_builtin("combined"), "192.0.2.7 - - [26/Nov/2026:13:24:39 +0000] "
		  "\"GET /p/a%20b?x=1&y=2 HTTP/1.1\" 200 1234 \"http://ref.example/\" "
		  "\"curl/8.0\"");
	ck_assert_str_eq(alog_builtin("common"), ALOG_FMT_COMMON);
	ck_assert_ptr_null(alog_builtin("Common"));
	ck_assert_ptr_null(alog_builtin("vhost_combined"));
	ck_assert_int_eq(alog_compile(&f, ALOG_FMT_COMBINED, NULL, 0), 0);
}
END_TEST

START_TEST(test_time)
{
	setup_entry(head_text);
	utc();
	ent.start.tv_sec = 0;
	ck_render("%t", "[01/Jan/1970:00:00:00 +0000]");
	ent.start.tv_sec = 1795699479;
	ck_render("%t", "[26/Nov/2026:13:24:39 +0000]");
	ent.start.tv_sec = 1795699479 + 86400 * 40;  /* the cache is per second */
	ck_render("%t", "[05/Jan/2027:13:24:39 +0000]");
	setenv("TZ", "EST5", 1);
	tzset();
	ent.start.tv_sec = 1795699480;
	ck_render("%t", "[26/Nov/2026:08:24:40 -0500]");
	setenv("TZ", "IST-5:30", 1);
	tzset();
	ent.start.tv_sec = 1795699481;
	ck_render("%t", "[26/Nov/2026:18:54:41 +0530]");
	utc();
}
END_TEST

/* ---- the double buffer ---- */

START_TEST(test_buf_swap)
{
	struct alog_buf b;
	char *p, *q;
	size_t len;

	ck_assert_int_eq(alog_buf_init(&b, 100, 0), -EINVAL);
	ck_assert_int_eq(alog_buf_init(&b, 2 * ALOG_LINE_MAX, 2 * ALOG_LINE_MAX + 1), -EINVAL);
	ck_assert_int_eq(alog_buf_init(&b, 2 * ALOG_LINE_MAX, 10), 0);
	ck_assert_ptr_null(alog_buf_take(&b, &len));      /* nothing buffered */
	ck_assert_uint_eq(len, 0);
	ck_assert(!alog_buf_pending(&b, true));
	ck_assert(!alog_buf_append(&b, "hello\n", 6));    /* under the threshold */
	ck_assert(alog_buf_pending(&b, true));
	ck_assert(!alog_buf_pending(&b, false));
	ck_assert(alog_buf_append(&b, "world\n", 6));     /* 12 >= 10: write now */
	p = alog_buf_take(&b, &len);
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(p, "hello\nworld\n", 12);
	ck_assert_ptr_null(alog_buf_take(&b, &len));      /* one write at a time */
	/* the other half fills while the first is in flight */
	ck_assert(!alog_buf_append(&b, "0123456789ab\n", 13));  /* over, but busy */
	ck_assert(!alog_buf_pending(&b, true));
	/* a short write gives the rest back */
	q = alog_buf_done(&b, 5, &len);
	ck_assert_ptr_eq(q, p + 5);
	ck_assert_uint_eq(len, 7);
	ck_assert(!alog_buf_pending(&b, false));
	ck_assert_ptr_null(alog_buf_done(&b, 7, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert(alog_buf_pending(&b, false));
	q = alog_buf_take(&b, &len);
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq(len, 13);
	ck_assert_mem_eq(q, "0123456789ab\n", 13);
	/* a failed write drops the half, counted in bytes */
	ck_assert_ptr_null(alog_buf_done(&b, -EIO, &len));
	ck_assert_uint_eq(b.lost_bytes, 13);
	ck_assert(!alog_buf_pending(&b, true));
	/* a stray completion changes nothing */
	ck_assert_ptr_null(alog_buf_done(&b, 3, &len));
	ck_assert_uint_eq(b.dropped, 0);
	/* the first half is reused */
	alog_buf_append(&b, "x\n", 2);
	ck_assert_ptr_eq(alog_buf_take(&b, &len), p);
	ck_assert_ptr_null(alog_buf_done(&b, 0, &len));   /* 0 bytes: a failure, no loop */
	ck_assert_uint_eq(b.lost_bytes, 15);
	alog_buf_free(&b);
	ck_assert_ptr_null(b.half[0]);
}
END_TEST

START_TEST(test_buf_drop)
{
	struct alog_buf b;
	static char line[2 * ALOG_LINE_MAX + 1];
	size_t len, filled = 0;
	unsigned n = 0;

	memset(line, 'z', sizeof(line));
	ck_assert_int_eq(alog_buf_init(&b, 2 * ALOG_LINE_MAX, 0), 0);
	ck_assert_uint_eq(b.threshold, ALOG_LINE_MAX);
	ck_assert(alog_buf_append(&b, line, 1000 * 9));
	ck_assert_ptr_nonnull(alog_buf_take(&b, &len));   /* half 0 in flight */
	/* half 1 fills up, then lines are dropped: no blocking, no growth */
	while (filled + 1000 <= b.size) {
		alog_buf_append(&b, line, 1000);
		filled += 1000;
		n++;
	}
	ck_assert_uint_eq(b.dropped, 0);
	ck_assert(!alog_buf_append(&b, line, 1000));
	ck_assert(!alog_buf_append(&b, line, 1000));
	ck_assert_uint_eq(b.dropped, 2);
	ck_assert(!alog_buf_append(&b, line, b.size + 1)); /* bigger than a half */
	ck_assert_uint_eq(b.dropped, 3);
	ck_assert_ptr_null(alog_buf_done(&b, (ssize_t)len, &len));
	ck_assert(alog_buf_pending(&b, false));
	ck_assert_ptr_nonnull(alog_buf_take(&b, &len));
	ck_assert_uint_eq(len, filled);
	alog_buf_free(&b);
}
END_TEST

START_TEST(test_buf_log)
{
	struct alog_buf b;
	struct alog_format f;
	static char longua[ALOG_LINE_MAX * 2];
	char text[sizeof(longua) + 128];
	size_t len, total = 0;
	char *p;

	utc();
	setup_entry(head_text);
	ck_assert_int_eq(alog_compile(&f, ALOG_FMT_COMMON, NULL, 0), 0);
	ck_assert_int_eq(alog_buf_init(&b, 2 * ALOG_LINE_MAX, 0), 0);
	ck_assert(!alog_buf_log(&b, &f, &ent));
	p = alog_buf_take(&b, &len);
	ck_assert_uint_eq(len, strlen(render(ALOG_FMT_COMMON)) + 1);
	ck_assert_mem_eq(p, render(ALOG_FMT_COMMON), len - 1);
	ck_assert_ptr_null(alog_buf_done(&b, (ssize_t)len, &len));
	/* lines fill the half through the stack path near its end, then are dropped */
	while (b.dropped == 0) {
		alog_buf_log(&b, &f, &ent);
		total++;
	}
	ck_assert_uint_le(b.len[b.fill], b.size);
	ck_assert_uint_gt(b.len[b.fill] + len + 200, b.size);
	/* a line over ALOG_LINE_MAX is cut and counted */
	memset(longua, 'u', sizeof(longua) - 1);
	snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: %s\r\n\r\n", longua);
	ck_assert_int_eq(alog_compile(&f, "%{User-Agent}i", NULL, 0), 0);
	{
		static char bighead[sizeof(text)];
		size_t n = strlen(text);

		memcpy(bighead, text, n);
		ck_assert_int_eq(http_parse_request(bighead, n, &(struct http_limits){
			.max_head = 65536, .max_line = 8190, .max_field = 65536, .max_fields = 10,
		}, &req), (int)n);
		ent.head = bighead;
	}
	p = alog_buf_take(&b, &len);
	ck_assert_ptr_null(alog_buf_done(&b, (ssize_t)len, &len));
	alog_buf_log(&b, &f, &ent);
	ck_assert_uint_eq(b.truncated, 1);
	ck_assert_uint_eq(b.len[b.fill], ALOG_LINE_MAX);
	ck_assert_int_eq(b.half[b.fill][ALOG_LINE_MAX - 1], '\n');
	alog_buf_free(&b);
}
END_TEST

static Suite *accesslog_suite(void)
{
	Suite *s = suite_create("accesslog");
	const struct ck_case cases[] = {
		{ "directives", test_directives, 0 },
		{ "zero_and_absent", test_zero_and_absent, 0 },
		{ "format_escapes", test_escapes_in_format, 0 },
		{ "compile_errors", test_compile_errors, 0 },
		{ "hostile_values", test_hostile_values, 0 },
		{ "truncation", test_truncation, 0 },
		{ "common_combined", test_common_combined, 0 },
		{ "time", test_time, 0 },
		{ "buf_swap", test_buf_swap, 0 },
		{ "buf_drop", test_buf_drop, 0 },
		{ "buf_log", test_buf_log, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(accesslog_suite());
}
