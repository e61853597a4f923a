/* Building and running a Check suite: the part every tests/check_*.c shares. */
#ifndef SPLICED_TESTS_SUITE_H
#define SPLICED_TESTS_SUITE_H

#include <check.h>
#include <stddef.h>

/* One test in a TCase of its own, named `name`; timeout in seconds, 0 = the suite's. */
struct ck_case {
	const char *name;
	const TTest *test;
	int timeout;
};

#define CK_N(a) (sizeof(a) / sizeof((a)[0]))

/* Adds a TCase per case to s. `timeout` (seconds) applies to cases without their own,
 * 0 leaves Check's default (CK_DEFAULT_TIMEOUT); setup/teardown, when not NULL, are a
 * checked fixture of every TCase. */
void ck_add_cases(Suite *s, const struct ck_case *cases, size_t n, int timeout, SFun setup,
		  SFun teardown);

/* Runs every test of s (CK_NORMAL output), frees it; EXIT_SUCCESS when none failed. */
int ck_run_suite(Suite *s);

#endif
