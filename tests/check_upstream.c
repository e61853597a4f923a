/* Check suite for src/upstream.c's keep-alive pool: it keeps as many idle connections as
 * were given back together (past its first 64), up to its limit, where the oldest goes;
 * takes the newest first and skips one the backend closed; sheds the older half when
 * descriptors run out; frees everything with prune(all). (Through the real binary:
 * check_e2e_proxy keepalive_reuse and pool_burst_reuse.) */
#include <check.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spliced/upstream.h"
#include "suite.h"

#define NPAIR 300

static struct cfg_backend be;
static int ours[NPAIR], theirs[NPAIR];

static void setup(void)
{
	be.p.ttl_ms = 15000;
	for (int i = 0; i < NPAIR; i++) {
		int sv[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
		ours[i] = sv[0];
		theirs[i] = sv[1];
	}
}

static void teardown(void)
{
	for (int i = 0; i < NPAIR; i++) {
		close(ours[i]);   /* (EBADF for those the pool closed) */
		close(theirs[i]);
	}
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

START_TEST(test_grows_past_start)
{
	struct up_pool p;

	up_pool_init(&p, &be, NULL, 1000);
	for (int i = 0; i < 250; i++)
		up_pool_put(&p, ours[i], 1000);
	ck_assert_uint_eq(p.n, 250);
	ck_assert_uint_ge(p.cap, 250);
	for (int i = 0; i < 250; i++)
		ck_assert(is_open(ours[i]));
	/* newest first */
	ck_assert_int_eq(up_pool_take(&p, 1001), ours[249]);
	ck_assert_int_eq(up_pool_take(&p, 1001), ours[248]);
	/* one the backend closed is closed and skipped */
	close(theirs[247]);
	theirs[247] = -1;
	ck_assert_int_eq(up_pool_take(&p, 1001), ours[246]);
	ck_assert(!is_open(ours[247]));
	ck_assert_uint_eq(p.n, 246);
	up_pool_prune(&p, 0, true);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_ptr_null(p.idle);
	ck_assert(!is_open(ours[0]) && !is_open(ours[245]));
	/* the three taken are the caller's */
	ck_assert(is_open(ours[249]) && is_open(ours[248]) && is_open(ours[246]));
}
END_TEST

START_TEST(test_limit_drops_oldest)
{
	struct up_pool p;

	up_pool_init(&p, &be, NULL, 100);
	for (int i = 0; i < 130; i++)
		up_pool_put(&p, ours[i], 1000 + (uint64_t)i);
	ck_assert_uint_eq(p.n, 100);
	ck_assert_uint_le(p.cap, 100);
	for (int i = 0; i < 30; i++)
		ck_assert_msg(!is_open(ours[i]), "connection %d of 130 (limit 100) still open", i);
	for (int i = 30; i < 130; i++)
		ck_assert(is_open(ours[i]));
	ck_assert_int_eq(up_pool_take(&p, 2000), ours[129]);
	up_pool_prune(&p, 0, true);
}
END_TEST

START_TEST(test_shed_and_ttl)
{
	struct up_pool p;

	up_pool_init(&p, &be, NULL, 1000);
	for (int i = 0; i < 200; i++)
		up_pool_put(&p, ours[i], i < 100 ? 1000 : 9000);
	/* out of descriptors: the older half goes */
	ck_assert_uint_eq(up_pool_shed(&p), 100);
	ck_assert_uint_eq(p.n, 100);
	ck_assert(!is_open(ours[0]) && !is_open(ours[99]));
	ck_assert(is_open(ours[100]) && is_open(ours[199]));
	/* ttl=: idle 15 s or longer are closed at the tick */
	up_pool_put(&p, ours[200], 20000);
	up_pool_prune(&p, 24000, false);
	ck_assert_uint_eq(p.n, 1);
	ck_assert(!is_open(ours[150]) && is_open(ours[200]));
	ck_assert_uint_eq(up_pool_shed(&p), 1);
	ck_assert_uint_eq(up_pool_shed(&p), 0);
	up_pool_prune(&p, 0, true);
	/* a pool that never had a connection has no array: shedding it closes nothing */
	up_pool_init(&p, &be, NULL, 10);
	ck_assert_uint_eq(up_pool_shed(&p), 0);
	ck_assert_ptr_null(p.idle);
}
END_TEST

static Suite *upstream_suite(void)
{
	const struct ck_case cases[] = {
		{ "grows_past_start", test_grows_past_start, 0 },
		{ "limit_drops_oldest", test_limit_drops_oldest, 0 },
		{ "shed_and_ttl", test_shed_and_ttl, 0 },
	};
	Suite *s = suite_create("upstream");

	ck_add_cases(s, cases, CK_N(cases), 0, setup, teardown);
	return s;
}

int main(void)
{
	return ck_run_suite(upstream_suite());
}
