/* Check suite for src/park.c's table: records lent most recently freed first, bounded,
 * small, and the sockets of records still in use closed when the table goes. (Parking
 * through a real ring: check_e2e_idle.) */
#include <check.h>
#include <fcntl.h>
#include <unistd.h>

#include "spliced/park.h"
#include "suite.h"

START_TEST(test_table)
{
	struct park_table t;
	struct conn_park *k[3];
	int p[2];

	/* what an idle connection costs, beside its socket */
	ck_assert_uint_le(sizeof(struct conn_park), 128);
	ck_assert_int_eq(park_init(&t, 3), 0);
	for (int i = 0; i < 3; i++) {
		k[i] = park_get(&t);
		ck_assert_ptr_nonnull(k[i]);
		ck_assert_int_eq(k[i]->fd, -1);
		ck_assert(!k[i]->pending && !k[i]->closing && !k[i]->handoff);
		for (int j = 0; j < i; j++)
			ck_assert_ptr_ne(k[i], k[j]);
	}
	ck_assert_uint_eq(t.parked, 3);
	ck_assert_ptr_null(park_get(&t));
	ck_assert_int_eq(pipe(p), 0);
	k[0]->fd = p[0];
	k[2]->fd = p[1];
	park_destroy(NULL, &t);
	ck_assert_int_eq(fcntl(p[0], F_GETFD), -1);
	ck_assert_int_eq(fcntl(p[1], F_GETFD), -1);
	ck_assert_ptr_null(t.recs);
}
END_TEST

static Suite *park_suite(void)
{
	const struct ck_case cases[] = {
		{ "table", test_table, 0 },
	};
	Suite *s = suite_create("park");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(park_suite());
}
