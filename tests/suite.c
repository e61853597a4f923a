/* See suite.h. */
#include <stdlib.h>

#include "suite.h"

void ck_add_cases(Suite *s, const struct ck_case *cases, size_t n, int timeout, SFun setup,
		  SFun teardown)
{
	for (size_t i = 0; i < n; i++) {
		TCase *tc = tcase_create(cases[i].name);
		int t = cases[i].timeout ? cases[i].timeout : timeout;

		if (t)
			tcase_set_timeout(tc, t);
		if (setup || teardown)
			tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
}

int ck_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
