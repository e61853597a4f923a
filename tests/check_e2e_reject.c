/* End-to-end suite for strict request parsing: malformed or ambiguous requests sent raw
 * through the real spliced binary must get the right error status, the connection must
 * then be closed by spliced, and the backend (tools/testbackend -r RECORDFILE) must never
 * see them. Each case runs against a fresh spliced (one TCase per case); a last test sends
 * them all to one spliced, which must still serve a valid request and exit 0.
 *
 * Needs SPLICED_BIN and TESTBACKEND_BIN (absolute paths; `make test` sets both). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "suite.h"

/* The limits the cases are written against. */
#define LIMITS "LimitRequestFieldSize 1024\nLimitRequestFields 10\nLimitRequestLine 512\n"

#define H "Host: a.example\r\n"
#define RAW(s) s, sizeof(s) - 1

enum {
	R_BODY_ERROR = 1,      /* the error is in the body: the head may have reached the backend */
	R_DEFAULT_LIMITS = 2,  /* run without LIMITS (the default field size/count limits) */
};

struct reject_case {
	const char *name;
	const char *req;       /* NULL: built by gen */
	size_t len;
	int status;
	unsigned flags;
	char *(*gen)(size_t *len);
};

/* A header field of 1100 bytes, over LimitRequestFieldSize 1024. */
static char *gen_field_too_big(size_t *len)
{
	char *s = malloc(2048);
	int n = snprintf(s, 2048, "GET / HTTP/1.1\r\n" H "X-Big: %01100d\r\n\r\n", 0);

	*len = (size_t)n;
	return s;
}

/* 12 header fields, over LimitRequestFields 10. */
static char *gen_too_many_fields(size_t *len)
{
	char *s = malloc(4096);
	int n = snprintf(s, 4096, "GET / HTTP/1.1\r\n" H);

	for (int i = 0; i < 11; i++)
		n += snprintf(s + n, 4096 - (size_t)n, "X-F%d: v\r\n", i);
	n += snprintf(s + n, 4096 - (size_t)n, "\r\n");
	*len = (size_t)n;
	return s;
}

/* A 600-byte request line, over LimitRequestLine 512. */
static char *gen_line_too_long(size_t *len)
{
	char *s = malloc(2048);
	int n = snprintf(s, 2048, "GET /%0595d HTTP/1.1\r\n" H "\r\n", 0);

	*len = (size_t)n;
	return s;
}

/* A 40 KiB head of 44 fields of 930 bytes: every field and the count within the default
 * limits, the whole head over 32 KiB. */
static char *gen_head_too_big(size_t *len)
{
	size_t cap = 64 * 1024;
	char *s = malloc(cap);
	int n = snprintf(s, cap, "GET / HTTP/1.1\r\n" H);

	for (int i = 0; i < 44; i++)
		n += snprintf(s + n, cap - (size_t)n, "X-Pad-%02d: %0920d\r\n", i, i);
	n += snprintf(s + n, cap - (size_t)n, "\r\n");
	*len = (size_t)n;
	return s;
}

static const struct reject_case cases[] = {
	{ "ws_before_colon_host", RAW("GET / HTTP/1.1\r\nHost : a.example\r\n\r\n"), 400, 0, NULL },
	{ "ws_before_colon", RAW("GET / HTTP/1.1\r\n" H "X-Foo : b\r\n\r\n"), 400, 0, NULL },
	{ "tab_before_colon", RAW("GET / HTTP/1.1\r\n" H "X-Foo\t: b\r\n\r\n"), 400, 0, NULL },
	{ "obs_fold", RAW("GET / HTTP/1.1\r\n" H "X-Foo: a\r\n  folded\r\n\r\n"), 400, 0, NULL },
	{ "obs_fold_first_field", RAW("GET / HTTP/1.1\r\n " H "\r\n"), 400, 0, NULL },
	{ "bare_cr_in_value", RAW("GET / HTTP/1.1\r\n" H "X-Foo: a\rb\r\n\r\n"), 400, 0, NULL },
	{ "bare_lf_field_end", RAW("GET / HTTP/1.1\r\nX-Foo: a\n" H "\r\n"), 400, 0, NULL },
	{ "bare_lf_request_line", RAW("GET / HTTP/1.1\n" H "\r\n"), 400, 0, NULL },
	{ "nul_in_value", RAW("GET / HTTP/1.1\r\n" H "X-Foo: a\0b\r\n\r\n"), 400, 0, NULL },
	{ "ctl_in_name", RAW("GET / HTTP/1.1\r\n" H "X\x01" "Foo: b\r\n\r\n"), 400, 0, NULL },
	{ "ctl_in_value", RAW("GET / HTTP/1.1\r\n" H "X-Foo: a\x01" "b\r\n\r\n"), 400, 0, NULL },
	{ "del_in_value", RAW("GET / HTTP/1.1\r\n" H "X-Foo: a\x7f" "b\r\n\r\n"), 400, 0, NULL },
	{ "empty_field_name", RAW("GET / HTTP/1.1\r\n" H ": x\r\n\r\n"), 400, 0, NULL },
	{ "space_in_target", RAW("GET /a b HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "hash_in_target", RAW("GET /a#frag HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "quote_in_target", RAW("GET /a\"b HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "lt_in_target", RAW("GET /a<b HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "non_ascii_in_target", RAW("GET /caf\xc3\xa9 HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "bad_percent_escape", RAW("GET /%zz HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "truncated_percent_escape", RAW("GET /a%2 HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "double_space_request_line", RAW("GET  / HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "bad_method_char", RAW("G(T / HTTP/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "missing_host_http11", RAW("GET / HTTP/1.1\r\nX-Foo: b\r\n\r\n"), 400, 0, NULL },
	{ "two_hosts", RAW("GET / HTTP/1.1\r\n" H H "\r\n"), 400, 0, NULL },
	{ "cl_and_te", RAW("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400, 0, NULL },
	{ "two_cl_equal", RAW("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n"
			      "\r\nhello"), 400, 0, NULL },
	{ "cl_plus_sign", RAW("POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\nhello"), 400, 0,
	  NULL },
	{ "cl_list", RAW("POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\nhello"), 400, 0,
	  NULL },
	{ "cl_negative", RAW("POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n"), 400, 0, NULL },
	{ "cl_overflow", RAW("POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999999\r\n"
			     "\r\nhello"), 400, 0, NULL },
	{ "te_gzip_chunked", RAW("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n"
				 "\r\n0\r\n\r\n"), 501, 0, NULL },
	{ "te_identity", RAW("POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n"), 501, 0,
	  NULL },
	{ "te_chunked_gzip", RAW("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n"
				 "\r\n0\r\n\r\n"), 400, 0, NULL },
	{ "te_on_http10", RAW("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400,
	  0, NULL },
	{ "version_1_11", RAW("GET / HTTP/1.11\r\n" H "\r\n"), 400, 0, NULL },
	{ "version_2_0", RAW("GET / HTTP/2.0\r\n" H "\r\n"), 505, 0, NULL },
	{ "version_lowercase", RAW("GET / http/1.1\r\n" H "\r\n"), 400, 0, NULL },
	{ "expect_unknown", RAW("GET / HTTP/1.1\r\n" H "Expect: something\r\n\r\n"), 417, 0, NULL },
	{ "connect_method", RAW("CONNECT host.example:443 HTTP/1.1\r\nHost: host.example:443\r\n"
				"\r\n"), 501, 0, NULL },
	{ "field_too_big", NULL, 0, 431, 0, gen_field_too_big },
	{ "too_many_fields", NULL, 0, 431, 0, gen_too_many_fields },
	{ "request_line_too_long", NULL, 0, 414, 0, gen_line_too_long },
	{ "head_over_32k", NULL, 0, 431, R_DEFAULT_LIMITS, gen_head_too_big },
	/* Connection naming a field the framing or the routing depends on: removing it would
	 * change the message, keeping it would forward a field marked hop-by-hop */
	{ "conn_lists_cl", RAW("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
			       "Connection: Content-Length\r\n\r\nhello"), 400, 0, NULL },
	{ "conn_lists_te", RAW("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
			       "Connection: keep-alive, transfer-encoding\r\n\r\n5\r\nhello\r\n"
			       "0\r\n\r\n"), 400, 0, NULL },
	{ "conn_lists_host", RAW("GET / HTTP/1.1\r\n" H "Connection: Host\r\n\r\n"), 400, 0, NULL },
	{ "chunked_bad_size", RAW("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
				  "zz\r\nhello\r\n0\r\n\r\n"), 400, R_BODY_ERROR, NULL },
};

#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

/* Cases whose reason the error log must give. */
static const struct {
	const char *name;
	const char *log;
} case_logs[] = {
	{ "conn_lists_cl", "bad request: Connection lists Content-Length" },
	{ "conn_lists_te", "bad request: Connection lists Transfer-Encoding" },
	{ "conn_lists_host", "bad request: Connection lists Host" },
};

static const char *case_log(const struct reject_case *rc)
{
	for (size_t i = 0; i < sizeof(case_logs) / sizeof(case_logs[0]); i++)
		if (strcmp(case_logs[i].name, rc->name) == 0)
			return case_logs[i].log;
	return NULL;
}

static char *case_bytes(const struct reject_case *rc, size_t *len)
{
	char *s;

	if (rc->gen) {
		s = rc->gen(len);
	} else {
		s = malloc(rc->len + 1);
		ck_assert(s != NULL);
		memcpy(s, rc->req, rc->len);
		*len = rc->len;
	}
	ck_assert(s != NULL);
	return s;
}

static size_t record_size(const struct e2e_proc *be)
{
	size_t n = 0;
	char *rec = e2e_read_file(be->record, &n);

	free(rec);
	return n;
}

/* Sends case rc on a fresh connection: the status, then the close, then (unless the error
 * is in the body) the backend's record did not grow. */
static void check_reject(const struct e2e_proc *sp, const struct e2e_proc *be,
			 const struct reject_case *rc)
{
	struct e2e_client c;
	struct e2e_response r;
	size_t len, rec0 = record_size(be), rec1;
	char *req = case_bytes(rc, &len);
	int sent, st;

	e2e_client_open(&c, sp->port);
	sent = e2e_send(&c, req, len);   /* may fail if spliced answered and closed early */
	ck_assert_msg(e2e_read_response(&c, &r, false) == 0,
		      "[%s] sent \"%s\"%s%s: no complete response: %s", rc->name, e2e_esc(req, len),
		      sent ? ", send failed: " : "", sent ? strerror(-sent) : "", r.err);
	ck_assert_msg(r.status == rc->status, "[%s] sent \"%s\": expected status %d, got %d:\n%s",
		      rc->name, e2e_esc(req, len), rc->status, r.status,
		      e2e_esc(r.head, r.head_len));
	st = e2e_wait_closed(&c, 10000);
	ck_assert_msg(st == E2E_CLOSED_EOF || st == E2E_CLOSED_RESET,
		      "[%s] sent \"%s\", got %d, but spliced did not close the connection within "
		      "10 s (%s)", rc->name, e2e_esc(req, len), r.status,
		      st == E2E_OPEN ? "still open" :
		      e2e_esc(c.buf + c.start, c.end - c.start));
	e2e_response_free(&r);
	e2e_client_close(&c);
	if (case_log(rc) && !e2e_log_wait_for(sp, case_log(rc), 5000)) {
		char *log = e2e_spliced_log(sp);

		ck_abort_msg("[%s] the error log does not say \"%s\":\n%s", rc->name, case_log(rc),
			     log);
	}
	if (!(rc->flags & R_BODY_ERROR)) {
		rec1 = record_size(be);
		if (rec1 != rec0) {
			char *rec = e2e_read_file(be->record, NULL);

			ck_abort_msg("[%s] sent \"%s\": spliced answered %d but the backend received "
				     "a request head:\n%s", rc->name, e2e_esc(req, len), rc->status,
				     e2e_escs(rec ? rec + rec0 : "?"));
		}
	}
	free(req);
}

/* A valid request on a new connection works; the backend record then holds nothing but
 * heads that were allowed to reach it plus this one. */
static void check_valid_after(const struct e2e_proc *sp, const struct e2e_proc *be,
			      const char *tag, bool record_was_clean)
{
	struct e2e_client c;
	struct e2e_response r;
	char req[256], line[128];
	char *rec;
	size_t rl;
	int n;

	n = snprintf(req, sizeof(req), "GET /after-%s HTTP/1.1\r\n" H "\r\n", tag);
	e2e_client_open(&c, sp->port);
	e2e_roundtrip(&c, req, (size_t)n, &r, false);
	ck_assert_msg(r.status == 200, "[%s] a valid request after the rejection got %d:\n%s", tag,
		      r.status, e2e_escs(r.head));
	e2e_response_free(&r);
	e2e_client_close(&c);

	rec = e2e_read_file(be->record, &rl);
	snprintf(line, sizeof(line), "GET /after-%s HTTP/1.1\r\n", tag);
	ck_assert_msg(rec && strstr(rec, line), "[%s] the backend did not record the valid request; "
		      "record:\n%s", tag, rec ? e2e_esc(rec, rl) : "(unreadable)");
	if (record_was_clean)
		ck_assert_msg(strncmp(rec, line, strlen(line)) == 0 &&
			      memmem(rec, rl, "\r\n\r\n", 4) == (void *)(rec + rl - 4),
			      "[%s] the backend received more than the one valid request:\n%s", tag,
			      e2e_esc(rec, rl));
	free(rec);
}

static void start(struct e2e_proc *be, struct e2e_proc *sp, bool default_limits)
{
	e2e_backend_start_recording(be, NULL);
	e2e_spliced_startf(sp, "ProxyPass / http://127.0.0.1:%d/\n%s", be->port,
			   default_limits ? "" : LIMITS);
}

static void stop(struct e2e_proc *be, struct e2e_proc *sp, const char *tag)
{
	int code = e2e_spliced_stop(sp);

	if (code != 0) {
		char *rep = e2e_spliced_report(sp);

		ck_abort_msg("[%s] spliced exited with %d after SIGTERM (expected 0)\n%s", tag, code,
			     rep);
	}
	e2e_backend_stop(be);
}

/* One case (the loop index) against its own spliced. */
START_TEST(test_reject_one)
{
	const struct reject_case *rc = &cases[_i];
	struct e2e_proc be, sp;

	start(&be, &sp, rc->flags & R_DEFAULT_LIMITS);
	check_reject(&sp, &be, rc);
	check_valid_after(&sp, &be, rc->name, !(rc->flags & R_BODY_ERROR));
	stop(&be, &sp, rc->name);
}
END_TEST

/* All cases in a row against one spliced, which then still works and exits 0. */
START_TEST(test_reject_all_then_valid)
{
	struct e2e_proc be, sp;
	bool clean = true;

	start(&be, &sp, false);
	for (int i = 0; i < NCASES; i++) {
		check_reject(&sp, &be, &cases[i]);
		if (cases[i].flags & R_BODY_ERROR)
			clean = false;
	}
	check_valid_after(&sp, &be, "all", clean);
	stop(&be, &sp, "all");
}
END_TEST

static Suite *e2e_reject_suite(void)
{
	Suite *s = suite_create("e2e_reject");
	TCase *tc;

	for (int i = 0; i < NCASES; i++) {
		tc = tcase_create(cases[i].name);
		tcase_set_timeout(tc, 60);
		tcase_add_loop_test(tc, test_reject_one, i, i + 1);
		suite_add_tcase(s, tc);
	}
	tc = tcase_create("all_then_valid");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reject_all_then_valid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(e2e_reject_suite());
}
