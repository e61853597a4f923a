/* The supervisor (see include/spliced/supervise.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spliced/log.h"
#include "spliced/supervise.h"

unsigned supervise_crash_note(struct supervise_crashes *c, uint64_t now_ms)
{
	unsigned cap = SUPERVISE_CRASH_MAX + 1, in = 0;

	c->at_ms[c->n % cap] = now_ms;
	c->n++;
	for (unsigned i = 0; i < cap && i < c->n; i++)
		in += now_ms - c->at_ms[i] < SUPERVISE_WINDOW_MS;
	return in;
}

unsigned supervise_backoff_ms(unsigned n)
{
	unsigned ms = SUPERVISE_BACKOFF_MIN_MS;

	if (n <= 1)
		return 0;
	for (unsigned i = 2; i < n && ms < SUPERVISE_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < SUPERVISE_BACKOFF_MAX_MS ? ms : SUPERVISE_BACKOFF_MAX_MS;
}

static uint64_t supervise_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *supervise_signame(int sig)
{
	const char *n = sigabbrev_np(sig);

	return n ? n : "?";
}

/* Forks the next serving process. 1 in the child, 0 in the supervisor, -errno. */
static int supervise_spawn(struct supervise *sv, const sigset_t *fwd)
{
	pid_t pid;

	sv->started++;
	pid = fork();
	if (pid < 0) {
		sv->started--;
		return -errno;
	}
	if (pid == 0) {
		close(sv->ready[0]);
		sv->ready[0] = -1;
		sv->child = 0;
		/* the supervisor's protection is not the serving process's (its core dumps, its
		 * /proc files; a privilege drop clears it anyway) */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		pthread_sigmask(SIG_SETMASK, fwd, NULL);
		return 1;
	}
	sv->child = pid;
	log_notice("supervise", "serving process %u started (pid %d)", sv->started, (int)pid);
	return 0;
}

/* Did the serving process that ended say it served? Reads what it wrote. */
static bool supervise_was_ready(const struct supervise *sv)
{
	char b[16];
	bool ready = false;

	while (read(sv->ready[0], b, sizeof(b)) > 0)
		ready = true;
	return ready;
}

/* The serving process ended with status st. Returns 1 when the supervisor is done (*code
 * set), else 0 with *respawn_at set. */
static int supervise_ended(struct supervise *sv, int st, int *code, uint64_t *respawn_at)
{
	pid_t pid = sv->child;
	bool ready = supervise_was_ready(sv);
	uint64_t now = supervise_now_ms();
	char how[96];
	unsigned n, delay;

	sv->child = 0;
	*code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (sv->stopping || (WIFEXITED(st) && WEXITSTATUS(st) == 0))
		return 1;
	if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "was killed by signal %d (SIG%s)%s", WTERMSIG(st),
			 supervise_signame(WTERMSIG(st)), WCOREDUMP(st) ? ", core dumped" : "");
	else
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(st));
	if (sv->started == 1 && !ready) {
		log_error("supervise", "the serving process (pid %d) %s before it served: "
			  "not started again", (int)pid, how);
		return 1;
	}
	n = supervise_crash_note(&sv->crashes, now);
	if (n > SUPERVISE_CRASH_MAX) {
		log_error("supervise", "the serving process (pid %d) %s: %u crashes within %u s, "
			  "giving up (backends stop; the service manager may start spliced again)",
			  (int)pid, how, n, SUPERVISE_WINDOW_MS / 1000);
		*code = 1;
		return 1;
	}
	delay = supervise_backoff_ms(n);
	log_error("supervise", "the serving process (pid %d) %s: starting a new one in %u ms "
		  "(crash %u within %u s; the listeners and backends stay)", (int)pid, how, delay,
		  n, SUPERVISE_WINDOW_MS / 1000);
	*respawn_at = now + delay;
	return 0;
}

/* The helper ended on its own: said once, as the serving process used to. */
static void supervise_helper_check(struct supervise *sv)
{
	int st;

	if (sv->helper <= 0 || waitpid(sv->helper, &st, WNOHANG) != sv->helper)
		return;
	if (WIFSIGNALED(st))
		log_error("supervise", "the helper (pid %d) was killed by signal %d: backends are "
			  "no longer started or supervised", (int)sv->helper, WTERMSIG(st));
	else
		log_error("supervise", "the helper (pid %d) exited with status %d: backends are no "
			  "longer started or supervised", (int)sv->helper, WEXITSTATUS(st));
	sv->helper = 0;
}

/* A signal for the serving process. Returns 1 when the supervisor is done (a stop while
 * none runs). */
static int supervise_signal(struct supervise *sv, int sig, int *code)
{
	if (sig == SIGTERM || sig == SIGINT) {
		sv->stopping = true;
		if (!sv->child) {
			log_notice("supervise", "caught SIG%s while no serving process runs: stopping",
				   supervise_signame(sig));
			*code = 0;
			return 1;
		}
	}
	if (sig == SIGHUP)
		sv->reloads++;
	if (sv->child && kill(sv->child, sig) < 0)
		log_warn("supervise", "SIG%s to the serving process (pid %d): %s",
			 supervise_signame(sig), (int)sv->child, strerror(errno));
	return 0;
}

/* SIGUSR1: this process writes to the error log too. It reopens the file a moment after
 * the serving process did, never creating it: made by root, a file the serving process
 * could not reopen next time. */
static void supervise_log_reopen(void)
{
	char why[1024];

	if (log_reopen_present(why, sizeof(why)) < 0)
		log_error("supervise", "SIGUSR1: reopening the error log: %s (the old file stays "
			  "in use by the supervisor)", why);
}

int supervise_run(struct supervise *sv, const sigset_t *fwd, int *code)
{
	sigset_t set = *fwd;
	uint64_t respawn_at = 0, reopen_at = 0;
	int ret;

	sv->self = getpid();
	sv->child = 0;
	sv->started = 0;
	sv->reloads = 0;
	sv->stopping = false;
	memset(&sv->crashes, 0, sizeof(sv->crashes));
	if (pipe2(sv->ready, O_CLOEXEC) < 0)
		return -errno;
	fcntl(sv->ready[0], F_SETFL, O_NONBLOCK);
	/* Started by a user, the serving process has the supervisor's uid: not dumpable, the
	 * supervisor cannot be ptraced (nor its /proc/PID/mem read) by it, which would hand
	 * the serving process what the supervisor keeps (listeners, the helper's sockets). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		ret = -errno;
		close(sv->ready[0]);
		close(sv->ready[1]);
		return ret;
	}
	/* an inherited SIG_IGN would have the kernel reap the serving process unseen: no
	 * restart after a crash, and a stop waiting for ever */
	signal(SIGCHLD, SIG_DFL);
	/* blocked before the first fork: a child that ends at once is still seen */
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ret = supervise_spawn(sv, fwd);
	if (ret != 0) {
		if (ret < 0) {
			close(sv->ready[0]);
			close(sv->ready[1]);
			pthread_sigmask(SIG_SETMASK, fwd, NULL);
		}
		return ret < 0 ? ret : 0;
	}
	for (;;) {
		uint64_t now = supervise_now_ms();
		uint64_t next = respawn_at && (!reopen_at || respawn_at < reopen_at) ? respawn_at
										   : reopen_at;
		uint64_t wait = next ? (next > now ? next - now : 0) : 1000;
		struct timespec ts = { .tv_sec = (time_t)(wait / 1000),
				       .tv_nsec = (long)(wait % 1000) * 1000000 };
		int sig = wait ? sigtimedwait(&set, NULL, &ts) : -1, st;

		if (sig > 0 && sig != SIGCHLD && supervise_signal(sv, sig, code))
			break;
		if (sig == SIGUSR1)
			reopen_at = supervise_now_ms() + SUPERVISE_REOPEN_MS;
		if (reopen_at && supervise_now_ms() >= reopen_at) {
			reopen_at = 0;
			supervise_log_reopen();
		}
		supervise_helper_check(sv);
		if (sv->child && waitpid(sv->child, &st, WNOHANG) == sv->child &&
		    supervise_ended(sv, st, code, &respawn_at))
			break;
		if (!sv->child && respawn_at && supervise_now_ms() >= respawn_at) {
			respawn_at = 0;
			ret = supervise_spawn(sv, fwd);
			if (ret == 1)
				return 0;
			if (ret < 0) {
				log_error("supervise", "fork: %s; trying again in %u ms", strerror(-ret),
					  SUPERVISE_BACKOFF_MAX_MS);
				respawn_at = supervise_now_ms() + SUPERVISE_BACKOFF_MAX_MS;
			}
		}
	}
	close(sv->ready[0]);
	close(sv->ready[1]);
	pthread_sigmask(SIG_SETMASK, fwd, NULL);
	return 1;
}

void supervise_ready(struct supervise *sv)
{
	char b = 1;

	if (sv->ready[1] < 0)
		return;
	if (write(sv->ready[1], &b, 1) < 0)
		log_warn("supervise", "telling the supervisor: %s", strerror(errno));
	close(sv->ready[1]);
	sv->ready[1] = -1;
}

int supervise_bind_to_parent(const struct supervise *sv)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	return getppid() == sv->self ? 0 : -ESRCH;
}
