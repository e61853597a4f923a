/* Check suite for src/stats.c: the counters of every worker of every configuration
 * (stats_live_*), so that a reload never makes a counter go back; per-backend counters
 * follow their backend's name into the next configuration; the metrics page. Workers here
 * are plain structs with counters (no ring, no thread). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spliced/config.h"
#include "spliced/log.h"
#include "spliced/stats.h"
#include "spliced/worker-t.h"
#include "suite.h"

static struct config c1, c2;
static struct worker g1[2], g2[2];

/* configuration 1: backends a (max=), b (max=); configuration 2: b first, then c (max=),
 * and a is gone */
static void setup(void)
{
	static const char t1[] = "ProxyPass /a/ http://127.0.0.1:1/ max=1\n"
				 "ProxyPass /b/ http://127.0.0.1:2/ max=1\n";
	static const char t2[] = "ProxyPass /b/ http://127.0.0.1:2/ max=1\n"
				 "ProxyPass /c/ http://127.0.0.1:3/ max=1\n";
	struct config_error err;

	config_defaults(&c1);
	config_defaults(&c2);
	ck_assert_int_eq(config_parse(&c1, t1, sizeof(t1) - 1, "1.conf", &err), 0);
	ck_assert_int_eq(config_parse(&c2, t2, sizeof(t2) - 1, "2.conf", &err), 0);
	memset(g1, 0, sizeof(g1));
	memset(g2, 0, sizeof(g2));
	for (unsigned i = 0; i < 2; i++) {
		g1[i].cfg = &c1;
		g1[i].id = i;
		g2[i].cfg = &c2;
		g2[i].id = i;
	}
	stats_live_clear();
}

static void teardown(void)
{
	stats_live_clear();
	config_free(&c1);
	config_free(&c2);
}

static char *page(const struct config *cfg)
{
	struct stats_text t = { malloc(256), 0, 256, false };

	ck_assert_ptr_nonnull(t.p);
	stats_render(cfg, &t);
	ck_assert(!t.failed);
	return t.p;
}

/* The value after "\n" name " " on the page, -1 when the line is not there. */
static long long value(const char *text, const char *name)
{
	char needle[256];
	const char *p;

	snprintf(needle, sizeof(needle), "\n%s ", name);
	p = strstr(text, needle);
	return p ? atoll(p + strlen(needle)) : -1;
}

START_TEST(test_counts_survive_the_end_of_workers)
{
	struct stats sum;

	ck_assert_int_eq(stats_live_add(g1, 2), 0);
	stats_set_current(&c1);
	g1[0].stats.requests = 10;
	g1[1].stats.requests = 5;
	g1[0].stats.status[2] = 12;
	g1[1].stats.status[5] = 3;
	g1[0].stats.lat_bucket[0] = 15;
	stats_total(&sum);
	ck_assert_uint_eq(sum.requests, 15);

	/* a reload: the new workers run beside the old ones, which then end */
	ck_assert_int_eq(stats_live_add(g2, 2), 0);
	stats_set_current(&c2);
	g2[1].stats.requests = 7;
	g2[1].stats.status[2] = 7;
	stats_total(&sum);
	ck_assert_uint_eq(sum.requests, 22);
	stats_live_end(g1);
	memset(g1, 0xff, sizeof(g1)); /* freed: nothing may read it any more */
	stats_total(&sum);
	ck_assert_uint_eq(sum.requests, 22);
	ck_assert_uint_eq(sum.status[2], 19);
	ck_assert_uint_eq(sum.status[5], 3);
	ck_assert_uint_eq(sum.lat_bucket[0], 15);
}
END_TEST

/* slot_waits are per backend index: they follow the backend's name into configuration 2
 * (b moves from index 1 to 0), and those of a backend that is gone are dropped. */
START_TEST(test_backend_counters_follow_the_name)
{
	char *text;

	ck_assert_int_eq(stats_live_add(g1, 2), 0);
	stats_set_current(&c1);
	g1[0].stats.slot_waits[0][0] = 4;  /* a */
	g1[0].stats.slot_waits[1][0] = 6;  /* b */
	g1[1].stats.slot_waits[1][1] = 1;  /* b, 503 */
	text = page(&c1);
	ck_assert_int_eq(value(text, "spliced_backend_waits_total{backend=\"http://127.0.0.1:1\","
				     "outcome=\"connected\"}"), 4);
	ck_assert_int_eq(value(text, "spliced_backend_waits_total{backend=\"http://127.0.0.1:2\","
				     "outcome=\"connected\"}"), 6);
	free(text);

	ck_assert_int_eq(stats_live_add(g2, 2), 0);
	stats_set_current(&c2);
	g2[0].stats.slot_waits[0][0] = 2;  /* b */
	g2[0].stats.slot_waits[1][0] = 9;  /* c */
	stats_live_end(g1);
	text = page(&c2);
	ck_assert_int_eq(value(text, "spliced_backend_waits_total{backend=\"http://127.0.0.1:2\","
				     "outcome=\"connected\"}"), 6 + 2);
	ck_assert_int_eq(value(text, "spliced_backend_waits_total{backend=\"http://127.0.0.1:2\","
				     "outcome=\"503\"}"), 1);
	ck_assert_int_eq(value(text, "spliced_backend_waits_total{backend=\"http://127.0.0.1:3\","
				     "outcome=\"connected\"}"), 9);
	ck_assert_ptr_null(strstr(text, "http://127.0.0.1:1\""));
	free(text);
}
END_TEST

/* Parse errors by reason and worker number: the ended workers' counts are added to the
 * same worker number's. */
START_TEST(test_parse_errors_by_worker)
{
	static const char *const r1 = "bad request line", *const r2 = "header too large";
	char *text;

	ck_assert_int_eq(stats_live_add(g1, 2), 0);
	stats_set_current(&c1);
	stats_count_parse_error(&g1[0].stats, r1);
	stats_count_parse_error(&g1[0].stats, r1);
	stats_count_parse_error(&g1[1].stats, r2);
	ck_assert_int_eq(stats_live_add(g2, 2), 0);
	stats_set_current(&c2);
	stats_count_parse_error(&g2[0].stats, r1);
	stats_count_parse_error(&g2[0].stats, r2);
	stats_live_end(g1);
	text = page(&c2);
	ck_assert_int_eq(value(text, "spliced_parse_errors_total{reason=\"bad request line\","
				     "worker=\"0\"}"), 3);
	ck_assert_int_eq(value(text, "spliced_parse_errors_total{reason=\"header too large\","
				     "worker=\"0\"}"), 1);
	ck_assert_int_eq(value(text, "spliced_parse_errors_total{reason=\"header too large\","
				     "worker=\"1\"}"), 1);
	free(text);
}
END_TEST

START_TEST(test_reloads_on_the_page)
{
	char *text;

	ck_assert_int_eq(stats_live_add(g1, 2), 0);
	stats_set_current(&c1);
	stats_reload_count(false, 1);
	stats_reload_count(true, 2);
	stats_reload_count(true, 3);
	text = page(&c1);
	ck_assert_int_eq(value(text, "spliced_reloads_total{result=\"ok\"}"), 2);
	ck_assert_int_eq(value(text, "spliced_reloads_total{result=\"failed\"}"), 1);
	ck_assert_int_eq(value(text, "spliced_config_generation"), 3);
	free(text);
}
END_TEST

/* Gauges: the connections of every live worker, the ended ones' not. */
START_TEST(test_active_connections)
{
	char *text;

	ck_assert_int_eq(stats_live_add(g1, 2), 0);
	stats_set_current(&c1);
	ck_assert_int_eq(stats_live_add(g2, 2), 0);
	stats_set_current(&c2);
	g1[0].active = 3;
	g2[1].active = 4;
	text = page(&c2);
	ck_assert_int_eq(value(text, "spliced_connections_active"), 7);
	free(text);
	stats_live_end(g1);
	text = page(&c2);
	ck_assert_int_eq(value(text, "spliced_connections_active"), 4);
	free(text);
}
END_TEST

/* A reload that fails after its workers were counted (they never ran): the running
 * configuration stays the one the page names, and the failed one is not read after it
 * is gone. */
START_TEST(test_failed_reload_keeps_current)
{
	char *text;

	ck_assert_int_eq(stats_live_add(g1, 2), 0);
	stats_set_current(&c1);
	g1[0].stats.slot_waits[1][0] = 5;   /* b */
	ck_assert_int_eq(stats_live_add(g2, 2), 0);
	stats_live_end(g2);
	config_free(&c2);
	memset(&c2, 0xff, sizeof(c2));       /* gone */
	text = page(&c1);
	ck_assert_int_eq(value(text, "spliced_backend_waits_total{backend=\"http://127.0.0.1:2\","
				     "outcome=\"connected\"}"), 5);
	free(text);
	config_defaults(&c2);                /* for teardown */
}
END_TEST

/* A shortage is counted each time and logged at most once a second per resource and
 * worker; the page sums the workers, the ended ones included. */
START_TEST(test_resource_errors)
{
	char path[] = "/tmp/check_stats_log.XXXXXX";
	char msg[256];
	char line[512];
	char *text;
	unsigned lines = 0;
	bool counted = false;
	FILE *f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_msg(log_open(path, 0, msg, sizeof(msg)) == 0, "%s", msg);
	ck_assert_int_eq(stats_live_add(g1, 2), 0);
	stats_set_current(&c1);
	stats_resource_error(&g1[0].stats, STATS_RES_FD_ACCEPT, EMFILE, 0, "accept on x");
	stats_resource_error(&g1[0].stats, STATS_RES_FD_ACCEPT, EMFILE, 100, "accept on x");
	stats_resource_error(&g1[0].stats, STATS_RES_FD_ACCEPT, EMFILE, 999, "accept on x");
	stats_resource_error(&g1[0].stats, STATS_RES_PIPE, ENFILE, 999, "pipe");
	stats_resource_error(&g1[0].stats, STATS_RES_FD_ACCEPT, EMFILE, 1000, "accept on x");
	stats_resource_error(&g1[1].stats, STATS_RES_FD_ACCEPT, EMFILE, 0, "accept on y");
	g1[0].stats.refused = 2;
	g1[1].stats.refused = 3;
	g1[1].stats.timeouts[STATS_TO_HEAD] = 4;
	stats_live_end(g1);
	ck_assert_int_eq(stats_live_add(g2, 2), 0);
	stats_set_current(&c2);
	stats_resource_error(&g2[0].stats, STATS_RES_MEMORY, ENOMEM, 5, "buffers");
	g2[0].stats.timeouts[STATS_TO_HEAD] = 1;
	text = page(&c2);
	ck_assert_int_eq(value(text, "spliced_resource_errors_total{resource=\"fd_accept\"}"), 5);
	ck_assert_int_eq(value(text, "spliced_resource_errors_total{resource=\"pipe\"}"), 1);
	ck_assert_int_eq(value(text, "spliced_resource_errors_total{resource=\"memory\"}"), 1);
	ck_assert_int_eq(value(text, "spliced_resource_errors_total{resource=\"fd_connect\"}"), 0);
	ck_assert_int_eq(value(text, "spliced_connections_refused_total"), 5);
	ck_assert_int_eq(value(text, "spliced_timeouts_total{stage=\"head\"}"), 5);
	ck_assert_int_eq(value(text, "spliced_timeouts_total{stage=\"idle\"}"), 0);
	free(text);
	/* lines: x at 0 and at 1000 (with the count so far), y at 0, the pipe, the memory */
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		lines++;
		if (strstr(line, "accept on x: Too many open files (fd_accept, 4 so far"))
			counted = true;
	}
	fclose(f);
	ck_assert_msg(counted, "no line with the count in %s", path);
	ck_assert_uint_eq(lines, 5);
	log_open(NULL, 0, msg, sizeof(msg));
	if (counted)
		unlink(path);
}
END_TEST

/* Lines of connections closed at their deadline: the first of each stage in a second
 * logged, the others counted and summed up in one line once the second is over (by the
 * tick, or by the next line); the stages apart. */
START_TEST(test_timeout_lines)
{
	char path[] = "/tmp/check_stats_log.XXXXXX";
	char msg[256], line[512];
	struct stats st;
	unsigned lines = 0, sum999 = 0, sum1 = 0;
	FILE *f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_msg(log_open(path, 0, msg, sizeof(msg)) == 0, "%s", msg);
	memset(&st, 0, sizeof(st));
	ck_assert(stats_timeout_line(&st, STATS_TO_HEAD, 0));
	for (unsigned i = 0; i < 999; i++)
		ck_assert(!stats_timeout_line(&st, STATS_TO_HEAD, 10 + i % 900));
	ck_assert(stats_timeout_line(&st, STATS_TO_EXCHANGE, 500));   /* its own stage */
	ck_assert(!stats_timeout_line(&st, STATS_TO_EXCHANGE, 600));
	stats_timeout_flush(&st, 998);   /* the second not over: nothing yet */
	ck_assert_uint_eq(st.timeout_quiet[STATS_TO_HEAD], 999);
	stats_timeout_flush(&st, 1000);  /* head's summary; exchange's second goes on */
	ck_assert_uint_eq(st.timeout_quiet[STATS_TO_HEAD], 0);
	ck_assert_uint_eq(st.timeout_quiet[STATS_TO_EXCHANGE], 1);
	/* the summary opened a second of its own: the next one is counted */
	ck_assert(!stats_timeout_line(&st, STATS_TO_HEAD, 1500));
	/* exchange's next line after its second: the summary first, then the line */
	ck_assert(stats_timeout_line(&st, STATS_TO_EXCHANGE, 1600));
	stats_timeout_flush(&st, 1600);   /* nothing quiet in exchange; head's second runs */
	ck_assert_uint_eq(st.timeout_quiet[STATS_TO_HEAD], 1);
	stats_timeout_flush(&st, UINT64_MAX - 1);   /* a worker ending: the rest */
	ck_assert_uint_eq(st.timeout_quiet[STATS_TO_HEAD], 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		lines++;
		sum999 += strstr(line, "999 more clients closed at their deadline (head)") != NULL;
		sum1 += strstr(line, "1 more clients closed at their deadline (exchange)") != NULL;
	}
	fclose(f);
	ck_assert_uint_eq(sum999, 1);
	ck_assert_uint_eq(sum1, 1);
	ck_assert_uint_eq(lines, 3);   /* the callers log the lines stats_timeout_line allows */
	log_open(NULL, 0, msg, sizeof(msg));
	unlink(path);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "counts_survive_the_end_of_workers", test_counts_survive_the_end_of_workers, 0 },
		{ "backend_counters_follow_the_name", test_backend_counters_follow_the_name, 0 },
		{ "parse_errors_by_worker", test_parse_errors_by_worker, 0 },
		{ "reloads_on_the_page", test_reloads_on_the_page, 0 },
		{ "active_connections", test_active_connections, 0 },
		{ "failed_reload_keeps_current", test_failed_reload_keeps_current, 0 },
		{ "resource_errors", test_resource_errors, 0 },
		{ "timeout_lines", test_timeout_lines, 0 },
	};
	Suite *s = suite_create("stats");

	ck_add_cases(s, cases, CK_N(cases), 0, setup, teardown);
	return ck_run_suite(s);
}
