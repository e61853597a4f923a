/* Check suite for src/supervise.c: the crash window and the back-off (pure), and the
 * supervisor's loop with real children: a first child that fails before it serves is
 * not started again, a crash after it served is, a SIGTERM is passed on and ends it, the
 * serving process cannot ptrace the supervisor. */
#include <cap-ng.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spliced/privdrop.h"
#include "spliced/supervise.h"
#include "suite.h"

START_TEST(test_backoff)
{
	static const unsigned want[] = { 0, 0, 100, 200, 400, 800, 1600, 3200, 5000, 5000 };

	for (unsigned n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		ck_assert_uint_eq(supervise_backoff_ms(n), want[n]);
	ck_assert_uint_eq(supervise_backoff_ms(1000), SUPERVISE_BACKOFF_MAX_MS);
}
END_TEST

/* crashes 1 ms apart are counted up to the ring's size, and stay there */
START_TEST(test_crash_burst)
{
	struct supervise_crashes c = { 0 };

	for (unsigned i = 1; i <= SUPERVISE_CRASH_MAX + 1; i++)
		ck_assert_uint_eq(supervise_crash_note(&c, 1000 + i), i);
	ck_assert_uint_eq(supervise_crash_note(&c, 2000), SUPERVISE_CRASH_MAX + 1);
	ck_assert_uint_eq(c.n, SUPERVISE_CRASH_MAX + 2);
}
END_TEST

/* only the crashes within SUPERVISE_WINDOW_MS before the new one count */
START_TEST(test_crash_window)
{
	struct supervise_crashes c = { 0 };

	ck_assert_uint_eq(supervise_crash_note(&c, 5000), 1);
	ck_assert_uint_eq(supervise_crash_note(&c, 6000), 2);
	ck_assert_uint_eq(supervise_crash_note(&c, 5000 + SUPERVISE_WINDOW_MS - 1), 3);
	ck_assert_uint_eq(supervise_crash_note(&c, 6000 + SUPERVISE_WINDOW_MS), 2);
	ck_assert_uint_eq(supervise_crash_note(&c, 100000 + 3 * SUPERVISE_WINDOW_MS), 1);
}
END_TEST

static sigset_t fwd;

static void setup(void)
{
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGHUP);
	sigaddset(&fwd, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &fwd, NULL);
}

/* The first serving process fails before it served: its status, not started again. */
START_TEST(test_first_fails)
{
	struct supervise sv = { .helper = 0 };
	int code = -1, ret = supervise_run(&sv, &fwd, &code);

	if (ret == 0)
		_exit(3);
	ck_assert_int_eq(ret, 1);
	ck_assert_int_eq(code, 3);
	ck_assert_uint_eq(sv.started, 1);
}
END_TEST

/* A serving process killed after it served is replaced at once (the first crash); the
 * second one gets the supervisor's SIGTERM passed on and exits 0: so does the supervisor. */
START_TEST(test_respawn_then_stop)
{
	struct supervise sv = { .helper = 0 };
	int code = -1, ret = supervise_run(&sv, &fwd, &code), sig = 0;

	if (ret == 0) {
		supervise_ready(&sv);
		if (sv.started == 1)
			raise(SIGKILL);
		/* the second: asks the supervisor to stop, waits for its SIGTERM (bounded) */
		kill(sv.self, SIGTERM);
		for (unsigned i = 0; i < 100 && sig != SIGTERM; i++) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };

			sig = sigtimedwait(&fwd, NULL, &ts);
		}
		_exit(sig == SIGTERM ? 0 : 9);
	}
	ck_assert_int_eq(ret, 1);
	ck_assert_int_eq(code, 0);
	ck_assert_uint_eq(sv.started, 2);
	ck_assert_uint_eq(sv.crashes.n, 1);
	ck_assert(sv.stopping);
}
END_TEST

/* A start by a user: the serving process has the supervisor's uid, and cannot read its
 * memory (ptrace access: the supervisor is not dumpable); it is dumpable itself. As root,
 * the test takes uid nobody in a child first (root's CAP_SYS_PTRACE passes the check). */
START_TEST(test_not_ptraceable)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct supervise sv = { .helper = 0 };
		int code = -1, ret;

		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
					setuid(65534) < 0))
			_exit(10);
		/* the uid change made it not dumpable: as a process a user started is */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		ret = supervise_run(&sv, &fwd, &code);
		if (ret == 0) {
			char path[64];
			int fd;

			if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
				_exit(11);
			snprintf(path, sizeof(path), "/proc/%d/mem", (int)sv.self);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				_exit(12);
			_exit(errno == EACCES || errno == EPERM ? 0 : 13);
		}
		_exit(ret == 1 ? code : 14);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d (11: the serving process "
		      "is not dumpable, 12: it opened the supervisor's memory)",
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
END_TEST

/* Started by a user with file capabilities (setcap cap_net_bind_service on the binary):
 * the supervisor keeps none of them (binding is done; its children run as its uid). The
 * start is made in a child: root taking uid nobody with cap_net_bind_service kept. */
START_TEST(test_user_start_keeps_no_caps)
{
	char msg[256];
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		printf("check_supervise: user_start_keeps_no_caps needs root to set up: skipped\n");
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		capng_clear(CAPNG_SELECT_BOTH);
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_BIND_SERVICE);
		if (capng_change_id(65534, 65534, CAPNG_DROP_SUPP_GRP) < 0 || geteuid() == 0)
			_exit(10);
		capng_get_caps_process();
		if (!capng_have_capability(CAPNG_PERMITTED, CAP_NET_BIND_SERVICE))
			_exit(11);
		if (privdrop_supervisor(msg, sizeof(msg)) < 0)
			_exit(12);
		capng_get_caps_process();
		_exit(capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d (1: a capability kept)",
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "backoff", test_backoff, 0 },
		{ "crash_burst", test_crash_burst, 0 },
		{ "crash_window", test_crash_window, 0 },
		{ "first_fails", test_first_fails, 0 },
		{ "respawn_then_stop", test_respawn_then_stop, 0 },
		{ "user_start_keeps_no_caps", test_user_start_keeps_no_caps, 0 },
		{ "not_ptraceable", test_not_ptraceable, 0 },
	};
	Suite *s = suite_create("supervise");

	ck_add_cases(s, cases, CK_N(cases), 30, setup, NULL);
	return ck_run_suite(s);
}
