/* Check suite for src/sdlisten.c: LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES read as systemd
 * documents them (sd_listen_fds(3)), and passed sockets matched to Listen lines by their
 * bound address. The variables' values sit right before an unreadable page (guard.h); the
 * matching runs on real sockets the test binds on loopback, port 0. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"
#include "spliced/config.h"
#include "spliced/sdlisten.h"
#include "suite.h"

static struct sdlisten sl;
static struct config cfg;
static char msg[1024];

/* s with its NUL as the last readable byte; NULL stays NULL. */
static const char *g(const char *s)
{
	return s ? guard_at_end(s, strlen(s) + 1) : NULL;
}

static int parse(const char *pid, const char *fds, const char *names, pid_t self)
{
	memset(&sl, 0x55, sizeof(sl));
	msg[0] = '\0';
	return sdlisten_parse(g(pid), g(fds), g(names), self, &sl, msg, sizeof(msg));
}

/* A TCP socket of `family` bound to loopback port 0 (listening when asked); *port set. */
static int tcp_socket(int family, bool listening, int *port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -errno;
	}
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (listening)
		ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

static void config_text(const char *text)
{
	struct config_error err;

	config_free(&cfg);
	config_defaults(&cfg);
	ck_assert_msg(config_parse(&cfg, text, strlen(text), "test.conf", &err) == 0, "%s: %s",
		      text, err.msg);
}

static void passed(const int *fds, unsigned n)
{
	ck_assert_int_eq(sdlisten_parse(NULL, NULL, NULL, getpid(), &sl, msg, sizeof(msg)), 0);
	for (unsigned i = 0; i < n; i++) {
		sl.fd[i] = fds[i];
		snprintf(sl.name[i], sizeof(sl.name[i]), "sock%u", i);
	}
	sl.n = n;
}

static void teardown(void)
{
	config_free(&cfg);
}

/* ---- the variables ------------------------------------------------------------------ */

START_TEST(test_parse_ours)
{
	ck_assert_int_eq(parse("4242", "2", "web:metrics", 4242), 0);
	ck_assert_uint_eq(sl.n, 2);
	ck_assert_int_eq(sl.fd[0], 3);
	ck_assert_int_eq(sl.fd[1], 4);
	ck_assert_str_eq(sl.name[0], "web");
	ck_assert_str_eq(sl.name[1], "metrics");
	for (unsigned i = 0; i <= SDLISTEN_METRICS; i++)
		ck_assert_int_eq(sl.of[i], -1);
	ck_assert_int_eq(parse("4242", "0", NULL, 4242), 0);
	ck_assert_uint_eq(sl.n, 0);
	ck_assert_int_eq(parse("1", "17", NULL, 1), 0);   /* SDLISTEN_MAX */
	ck_assert_uint_eq(sl.n, SDLISTEN_MAX);
	ck_assert_int_eq(sl.fd[16], 19);
}
END_TEST

/* Not for this process, or not set: nothing passed, and no error (sd_listen_fds(3)). */
START_TEST(test_parse_not_ours)
{
	ck_assert_int_eq(parse("4243", "1", "web", 4242), 0);
	ck_assert_uint_eq(sl.n, 0);
	ck_assert_int_eq(parse(NULL, "1", "web", 4242), 0);
	ck_assert_uint_eq(sl.n, 0);
	ck_assert_int_eq(parse("4242", NULL, "web", 4242), 0);
	ck_assert_uint_eq(sl.n, 0);
	ck_assert_int_eq(sdlisten_fd(&sl, 0), -1);
	/* Another process's LISTEN_FDS is not ours to judge. */
	ck_assert_int_eq(parse("4243", "junk", NULL, 4242), 0);
	ck_assert_uint_eq(sl.n, 0);
}
END_TEST

START_TEST(test_parse_bad_numbers)
{
	static const char *const bad[] = { "", "abc", "-1", "+5", " 5", "5 ", "12x", "0x10",
					   "007", "99999999999999999999", "2147483648" };

	for (unsigned i = 0; i < CK_N(bad); i++) {
		ck_assert_int_eq(parse(bad[i], "1", NULL, 4242), -EINVAL);
		ck_assert_msg(strstr(msg, "LISTEN_PID=") && strstr(msg, "not a process id"),
			      "%s: %s", bad[i], msg);
		ck_assert_uint_eq(sl.n, 0);
		ck_assert_int_eq(parse("4242", bad[i], NULL, 4242), -EINVAL);
		ck_assert_msg(strstr(msg, "LISTEN_FDS=") != NULL, "%s: %s", bad[i], msg);
		ck_assert_uint_eq(sl.n, 0);
	}
	ck_assert_int_eq(parse("0", "1", NULL, 0), -EINVAL);
	ck_assert_int_eq(parse("4242", "18", NULL, 4242), -EINVAL);
	ck_assert_msg(strstr(msg, "LISTEN_FDS=18: more sockets") != NULL, "%s", msg);
	ck_assert_uint_eq(sl.n, 0);
}
END_TEST

START_TEST(test_parse_names)
{
	char longname[400];

	ck_assert_int_eq(parse("7", "2", NULL, 7), 0);
	ck_assert_str_eq(sl.name[0], "unknown");
	ck_assert_str_eq(sl.name[1], "unknown");
	ck_assert_int_eq(parse("7", "2", "a:", 7), 0);
	ck_assert_str_eq(sl.name[0], "a");
	ck_assert_str_eq(sl.name[1], "");
	ck_assert_int_eq(parse("7", "2", "a:b:c", 7), -EINVAL);
	ck_assert_msg(strstr(msg, "names 3 sockets, LISTEN_FDS says 2") != NULL, "%s", msg);
	ck_assert_uint_eq(sl.n, 0);
	ck_assert_int_eq(parse("7", "2", "a", 7), -EINVAL);
	ck_assert_msg(strstr(msg, "names 1 sockets, LISTEN_FDS says 2") != NULL, "%s", msg);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(parse("7", "1", longname, 7), -EINVAL);
	ck_assert_msg(strstr(msg, "longer than 255") != NULL, "%s", msg);
	longname[255] = '\0';
	ck_assert_int_eq(parse("7", "1", longname, 7), 0);
	ck_assert_str_eq(sl.name[0], longname);
}
END_TEST

/* In a child: fd 3 a listening socket, the variables set for it (or, with wrong_pid, for
 * another process). Exit codes say which check failed. */
static int from_env_child(bool wrong_pid, bool fd_open)
{
	char pid[32];
	int port, s = tcp_socket(AF_INET, true, &port);

	if (fd_open) {
		if (dup2(s, 3) != 3)
			return 10;
	} else {
		close(3);
	}
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + wrong_pid);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "web", 1);
	if (!fd_open)
		return sdlisten_from_env(&sl, msg, sizeof(msg)) == -EBADF &&
		       strstr(msg, "descriptor 3 (name \"web\")") && !getenv("LISTEN_FDS") ? 0 : 11;
	if (sdlisten_from_env(&sl, msg, sizeof(msg)) != 0)
		return 12;
	if (getenv("LISTEN_PID") || getenv("LISTEN_FDS") || getenv("LISTEN_FDNAMES"))
		return 13;
	if (sl.n != (wrong_pid ? 0u : 1u))
		return 14;
	/* ours: close-on-exec now; another process's: left as it was */
	if (((fcntl(3, F_GETFD) & FD_CLOEXEC) != 0) != !wrong_pid)
		return 15;
	return 0;
}

static void from_env_case(bool wrong_pid, bool fd_open)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(from_env_child(wrong_pid, fd_open));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child check %d failed",
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* The variables are removed whatever they said; ours become close-on-exec. */
START_TEST(test_from_env)
{
	from_env_case(false, true);
	from_env_case(true, true);
	from_env_case(false, false);
}
END_TEST

/* ---- matching ------------------------------------------------------------------------ */

START_TEST(test_match_lines)
{
	char text[256];
	int p1, p2, p3, fds[2];

	fds[0] = tcp_socket(AF_INET, true, &p1);
	fds[1] = tcp_socket(AF_INET, true, &p2);
	close(tcp_socket(AF_INET, false, &p3));
	snprintf(text, sizeof(text), "Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n"
		 "MetricsListen 127.0.0.1:%d\n", p3, p1, p2);
	config_text(text);
	passed(fds, 2);
	ck_assert_msg(sdlisten_match(&sl, &cfg, msg, sizeof(msg)) == 0, "%s", msg);
	ck_assert_int_eq(sdlisten_fd(&sl, 0), -1);          /* bound by spliced */
	ck_assert_int_eq(sdlisten_fd(&sl, 1), fds[0]);
	ck_assert_int_eq(sdlisten_fd(&sl, SDLISTEN_METRICS), fds[1]);
	ck_assert_int_eq(sdlisten_fd(&sl, SDLISTEN_METRICS + 1), -1);
	sdlisten_close(&sl);
	ck_assert_uint_eq(sl.n, 0);
	ck_assert_int_eq(sdlisten_fd(&sl, 1), -1);
	ck_assert_int_eq(fcntl(fds[0], F_GETFD), -1);       /* closed */
	ck_assert_int_eq(fcntl(fds[1], F_GETFD), -1);
}
END_TEST

START_TEST(test_match_ipv6)
{
	char text[256];
	int port, fd = tcp_socket(AF_INET6, true, &port);

	if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT) {
		fprintf(stderr, "match_ipv6: no IPv6 loopback here (%s): skipped\n", strerror(-fd));
		return;
	}
	ck_assert_int_ge(fd, 0);
	/* the same port on IPv4 is another address */
	snprintf(text, sizeof(text), "Listen 127.0.0.1:%d\n", port);
	config_text(text);
	passed(&fd, 1);
	ck_assert_int_eq(sdlisten_match(&sl, &cfg, msg, sizeof(msg)), -EINVAL);
	snprintf(text, sizeof(text), "Listen [::1]:%d\n", port);
	config_text(text);
	passed(&fd, 1);
	ck_assert_msg(sdlisten_match(&sl, &cfg, msg, sizeof(msg)) == 0, "%s", msg);
	ck_assert_int_eq(sdlisten_fd(&sl, 0), fd);
	close(fd);
}
END_TEST

/* A passed socket no line names: the error names its descriptor, name and address. */
START_TEST(test_match_unnamed)
{
	char text[256], want[128];
	int p1, p2, fds[2];

	fds[0] = tcp_socket(AF_INET, true, &p1);
	fds[1] = tcp_socket(AF_INET, true, &p2);
	snprintf(text, sizeof(text), "Listen 127.0.0.1:%d\n", p1);
	config_text(text);
	passed(fds, 2);
	ck_assert_int_eq(sdlisten_match(&sl, &cfg, msg, sizeof(msg)), -EINVAL);
	snprintf(want, sizeof(want), "descriptor %d (name \"sock1\", 127.0.0.1:%d) is not the "
		 "address of any Listen", fds[1], p2);
	ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
	ck_assert_int_ne(fcntl(fds[1], F_GETFD), -1);       /* still open */
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* Bound but not listening, a datagram socket, a Unix socket, not a socket at all. */
START_TEST(test_match_not_listening)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char text[256], want[128];
	int port, udp_port, fd = tcp_socket(AF_INET, false, &port), udp, un, pfd[2];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl_len = sizeof(sin);

	snprintf(text, sizeof(text), "Listen 127.0.0.1:%d\n", port);
	config_text(text);
	passed(&fd, 1);
	ck_assert_int_eq(sdlisten_match(&sl, &cfg, msg, sizeof(msg)), -EINVAL);
	snprintf(want, sizeof(want), "descriptor %d (name \"sock0\", 127.0.0.1:%d) is not a "
		 "listening stream socket", fd, port);
	ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
	close(fd);

	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(udp, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(udp, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(udp, (struct sockaddr *)&sin, &sl_len), 0);
	udp_port = ntohs(sin.sin_port);
	snprintf(text, sizeof(text), "Listen 127.0.0.1:%d\n", udp_port);
	config_text(text);
	passed(&udp, 1);
	ck_assert_int_eq(sdlisten_match(&sl, &cfg, msg, sizeof(msg)), -EINVAL);
	ck_assert_msg(strstr(msg, "is not a listening stream socket") != NULL, "%s", msg);
	close(udp);

	un = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(un, 0);
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "check-sdlisten-%d", (int)getpid());
	ck_assert_int_eq(bind(un, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un,
		sun_path) + 1 + strlen(sun.sun_path + 1))), 0);
	ck_assert_int_eq(listen(un, 4), 0);
	passed(&un, 1);
	ck_assert_int_eq(sdlisten_match(&sl, &cfg, msg, sizeof(msg)), -EINVAL);
	snprintf(want, sizeof(want), "(name \"sock0\", unix:@check-sdlisten-%d) is not the address",
		 (int)getpid());
	ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
	close(un);

	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	passed(pfd, 1);
	ck_assert_int_eq(sdlisten_match(&sl, &cfg, msg, sizeof(msg)), -EINVAL);
	ck_assert_msg(strstr(msg, "Socket operation on non-socket") != NULL, "%s", msg);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

/* Two passed sockets on one address (SO_REUSEPORT makes it possible): refused. */
START_TEST(test_match_twice)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char text[256];
	int one = 1, fds[2];

	for (unsigned i = 0; i < 2; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
		ck_assert_int_eq(getsockname(fds[i], (struct sockaddr *)&sin, &len), 0);
		ck_assert_int_eq(listen(fds[i], 4), 0);
	}
	snprintf(text, sizeof(text), "Listen 127.0.0.1:%d\n", ntohs(sin.sin_port));
	config_text(text);
	passed(fds, 2);
	ck_assert_int_eq(sdlisten_match(&sl, &cfg, msg, sizeof(msg)), -EINVAL);
	ck_assert_msg(strstr(msg, "are both bound to 127.0.0.1:") != NULL, "%s", msg);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_addr_format)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	char out[128];

	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(80);
	ck_assert_str_eq(sdlisten_addr_format(&ss, sizeof(*s4), out, sizeof(out)), "0.0.0.0:80");
	ck_assert_str_eq(sdlisten_addr_format(&ss, 0, out, sizeof(out)), "no address");
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(443);
	s6->sin6_addr = in6addr_loopback;
	ck_assert_str_eq(sdlisten_addr_format(&ss, sizeof(*s6), out, sizeof(out)), "[::1]:443");
	ss.ss_family = AF_PACKET;
	ck_assert_str_eq(sdlisten_addr_format(&ss, sizeof(ss), out, sizeof(out)),
			 "address family 17");
	/* the port and family count: 0.0.0.0:80 is not [::]:80 */
	config_text("Listen 80\n");
	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(80);
	ck_assert(sdlisten_addr_is(&ss, sizeof(*s4), &cfg.listen[0]));
	ck_assert(!sdlisten_addr_is(&ss, sizeof(*s4) - 1, &cfg.listen[0]));
	s4->sin_port = htons(81);
	ck_assert(!sdlisten_addr_is(&ss, sizeof(*s4), &cfg.listen[0]));
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(80);
	ck_assert(!sdlisten_addr_is(&ss, sizeof(*s6), &cfg.listen[0]));
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "parse_ours", test_parse_ours, 0 },
		{ "parse_not_ours", test_parse_not_ours, 0 },
		{ "parse_bad_numbers", test_parse_bad_numbers, 0 },
		{ "parse_names", test_parse_names, 0 },
		{ "from_env", test_from_env, 0 },
		{ "match_lines", test_match_lines, 0 },
		{ "match_ipv6", test_match_ipv6, 0 },
		{ "match_unnamed", test_match_unnamed, 0 },
		{ "match_not_listening", test_match_not_listening, 0 },
		{ "match_twice", test_match_twice, 0 },
		{ "addr_format", test_addr_format, 0 },
	};
	Suite *s = suite_create("sdlisten");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, teardown);
	return ck_run_suite(s);
}
