/* The connection module's pure helpers, without a ring. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spliced/conn.h"
#include "suite.h"

/* A connected loopback pair: *cli connected to *srv (accepted). */
static void tcp_pair(int *cli, int *srv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	*cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(*cli, (struct sockaddr *)&a, sizeof(a)), 0);
	*srv = accept(lfd, NULL, NULL);
	ck_assert_int_ge(*srv, 0);
	close(lfd);
}

START_TEST(test_peer_name_ok)
{
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);
	char ip[INET6_ADDRSTRLEN];
	uint16_t port = 0;
	int cli, srv;

	tcp_pair(&cli, &srv);
	ck_assert_int_eq(getsockname(cli, (struct sockaddr *)&me, &ml), 0);
	ck_assert_int_eq(conn_peer_name(srv, ip, sizeof(ip), &port), 0);
	ck_assert_str_eq(ip, "127.0.0.1");
	ck_assert_uint_eq(port, ntohs(me.sin_port));
	close(cli);
	close(srv);
}
END_TEST

/* A peer that is gone, or no IP socket at all: an error, never an address made up from
 * uninitialised memory (the connection is then not served). */
START_TEST(test_peer_name_errors)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char ip[INET6_ADDRSTRLEN];
	uint16_t port = 7;
	int cli, srv, sv[2], p[2];

	tcp_pair(&cli, &srv);
	/* the client resets the connection: the accepted socket has no peer any more */
	ck_assert_int_eq(setsockopt(cli, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(cli);
	/* the reset arrived once the socket reports an error (bounded wait) */
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = srv, .events = POLLIN }, 1, 5000), 1);
	memset(ip, 'x', sizeof(ip));
	ck_assert_int_eq(conn_peer_name(srv, ip, sizeof(ip), &port), -ENOTCONN);
	close(srv);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(conn_peer_name(sv[0], ip, sizeof(ip), &port), -EAFNOSUPPORT);
	close(sv[0]);
	close(sv[1]);

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(conn_peer_name(p[0], ip, sizeof(ip), &port), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(conn_peer_name(-1, ip, sizeof(ip), &port), -EBADF);
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	const struct ck_case cases[] = {
		{ "peer_name_ok", test_peer_name_ok, 0 },
		{ "peer_name_errors", test_peer_name_errors, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(conn_suite());
}
