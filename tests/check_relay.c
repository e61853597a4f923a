/* Splice relay and pipe pool over real loopback TCP sockets. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spliced/relay.h"
#include "suite.h"

/* Two connected TCP sockets on loopback: fds[0] <-> fds[1]. */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
	fds[1] = accept(l, NULL, NULL);
	ck_assert_int_ge(fds[1], 0);
	close(l);
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 7 + 3) % 251);
}

/* src_w -> [src_r => relay => dst_w] -> dst_r: moves `n` bytes of a pattern followed by
 * `extra` bytes that must stay unread in src_r. */
static void relay_roundtrip(size_t n, size_t extra)
{
	struct relay_pool pool = { 0 };
	struct relay_splice s = { 0 };
	int a[2], b[2];
	size_t sent = 0, got = 0;
	unsigned char buf[65536];
	enum relay_result r = RELAY_WAIT_IN;
	unsigned rounds = 0;

	tcp_pair(a);
	tcp_pair(b);
	nonblock(a[0]);
	nonblock(a[1]);
	nonblock(b[0]);
	nonblock(b[1]);
	s.pipe = relay_pipe_get(&pool);
	ck_assert_ptr_nonnull(s.pipe);
	s.from = a[1];
	s.to = b[0];
	s.left = n;
	while ((r != RELAY_DONE || got < n) && rounds++ < 1000000) {
		if (sent < n + extra) {
			size_t k = 0;
			ssize_t w;

			while (k < sizeof(buf) && sent + k < n + extra) {
				buf[k] = sent + k < n ? pattern(sent + k) : 'X';
				k++;
			}
			w = write(a[0], buf, k);
			if (w > 0)
				sent += (size_t)w;
		}
		if (r != RELAY_DONE) {
			r = relay_pump(&s);
			ck_assert_int_ne(r, RELAY_ERROR);
			ck_assert_int_ne(r, RELAY_EOF);
		}
		for (;;) {
			ssize_t k = read(b[1], buf, sizeof(buf));

			if (k <= 0)
				break;
			for (ssize_t i = 0; i < k; i++)
				ck_assert_uint_eq(buf[i], pattern(got + (size_t)i));
			got += (size_t)k;
		}
	}
	ck_assert_int_eq(r, RELAY_DONE);
	ck_assert_uint_eq(got, n);
	ck_assert_uint_eq(s.moved, n);
	ck_assert_uint_eq(s.in_pipe, 0);
	/* The bytes after the body were never taken from the source socket. */
	if (extra) {
		struct pollfd p = { .fd = a[1], .events = POLLIN };
		ssize_t k;

		ck_assert_int_eq(poll(&p, 1, 5000), 1);
		k = read(a[1], buf, sizeof(buf));
		ck_assert_int_eq(k, (ssize_t)extra);
		ck_assert_int_eq(buf[0], 'X');
	}
	relay_pipe_put(&pool, s.pipe, false);
	ck_assert_uint_eq(pool.nfree, 1);
	relay_pool_destroy(&pool);
	ck_assert_uint_eq(pool.live, 0);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

START_TEST(test_exact_small)
{
	relay_roundtrip(1, 0);
}
END_TEST

START_TEST(test_exact_large_with_pipelined_bytes)
{
	relay_roundtrip(10 * 1024 * 1024 + 7, 100);
}
END_TEST

START_TEST(test_until_eof)
{
	struct relay_pool pool = { 0 };
	struct relay_splice s = { 0 };
	int a[2], b[2];
	char buf[4096];
	enum relay_result r;
	ssize_t k;

	tcp_pair(a);
	tcp_pair(b);
	nonblock(a[1]);
	nonblock(b[0]);
	ck_assert_int_eq(write(a[0], "hello", 5), 5);
	close(a[0]);
	s.pipe = relay_pipe_get(&pool);
	s.from = a[1];
	s.to = b[0];
	s.left = RELAY_UNTIL_EOF;
	for (unsigned i = 0; i < 1000; i++) {
		r = relay_pump(&s);
		if (r == RELAY_DONE)
			break;
		ck_assert_int_eq(r, RELAY_WAIT_IN);
		poll(&(struct pollfd){ .fd = a[1], .events = POLLIN }, 1, 100);
	}
	ck_assert_int_eq(r, RELAY_DONE);
	ck_assert_uint_eq(s.moved, 5);
	k = read(b[1], buf, sizeof(buf));
	ck_assert_int_eq(k, 5);
	relay_pipe_put(&pool, s.pipe, false);
	relay_pool_destroy(&pool);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}
END_TEST

START_TEST(test_early_eof)
{
	struct relay_pool pool = { 0 };
	struct relay_splice s = { 0 };
	int a[2], b[2];
	enum relay_result r = RELAY_WAIT_IN;

	tcp_pair(a);
	tcp_pair(b);
	nonblock(a[1]);
	nonblock(b[0]);
	ck_assert_int_eq(write(a[0], "abc", 3), 3);
	close(a[0]);
	s.pipe = relay_pipe_get(&pool);
	s.from = a[1];
	s.to = b[0];
	s.left = 10;
	for (unsigned i = 0; i < 1000 && r == RELAY_WAIT_IN; i++) {
		r = relay_pump(&s);
		if (r == RELAY_WAIT_IN)
			poll(&(struct pollfd){ .fd = a[1], .events = POLLIN }, 1, 100);
	}
	ck_assert_int_eq(r, RELAY_EOF);
	ck_assert_uint_eq(s.moved, 3);
	relay_pipe_put(&pool, s.pipe, true);
	ck_assert_uint_eq(pool.live, 0);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}
END_TEST

START_TEST(test_pool_bounded)
{
	struct relay_pool pool = { 0 };
	struct relay_pipe *p[RELAY_POOL_MAX];

	for (unsigned i = 0; i < RELAY_POOL_MAX; i++) {
		p[i] = relay_pipe_get(&pool);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_uint_ge(p[i]->size, 65536);
	}
	ck_assert_ptr_null(relay_pipe_get(&pool));
	relay_pipe_put(&pool, p[0], false);
	ck_assert_ptr_eq(relay_pipe_get(&pool), p[0]);
	for (unsigned i = 0; i < RELAY_POOL_MAX; i++)
		relay_pipe_put(&pool, p[i], i % 2);
	relay_pool_destroy(&pool);
	ck_assert_uint_eq(pool.live, 0);
}
END_TEST


/* A temporary file of n pattern bytes, open for reading (unlinked already). */
static int pattern_file(size_t n)
{
	char path[] = "/tmp/check_relay.XXXXXX";
	int fd = mkstemp(path);
	unsigned char buf[4096];

	ck_assert_int_ge(fd, 0);
	unlink(path);
	for (size_t off = 0; off < n;) {
		size_t k = n - off < sizeof(buf) ? n - off : sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = pattern(off + i);
		ck_assert_int_eq(write(fd, buf, k), (ssize_t)k);
		off += k;
	}
	return fd;
}

/* A range of a file to a socket that fills up (RELAY_WAIT_OUT until the reader drains
 * it), byte-exact, the offset advanced; and a file shorter than promised: RELAY_EOF. */
START_TEST(test_file_pump)
{
	size_t n = 3u << 20, from = 12345, want = n - from - 1000, got = 0;
	int fds[2], fd = pattern_file(n), waits = 0;
	struct relay_splice sp = { 0 };
	int64_t off = (int64_t)from;
	unsigned char *buf = malloc(want + 1);
	enum relay_result r;

	ck_assert_ptr_nonnull(buf);
	tcp_pair(fds);
	nonblock(fds[0]);
	{
		int small = 65536;   /* so that 3 MiB cannot fit in the buffers at once */

		setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	sp.from = fd;
	sp.to = fds[0];
	sp.left = want;
	while ((r = relay_file_pump(&sp, &off)) == RELAY_WAIT_OUT) {
		ssize_t k;

		waits++;
		k = read(fds[1], buf + got, want + 1 - got);
		ck_assert_int_gt(k, 0);
		got += (size_t)k;
	}
	ck_assert_int_eq(r, RELAY_DONE);
	ck_assert_int_gt(waits, 0);
	shutdown(fds[0], SHUT_WR);
	for (ssize_t k; (k = read(fds[1], buf + got, want + 1 - got)) > 0;)
		got += (size_t)k;
	ck_assert_uint_eq(got, want);
	ck_assert_uint_eq(sp.moved, want);
	ck_assert_int_eq(off, (int64_t)(from + want));
	for (size_t i = 0; i < want; i++)
		ck_assert_msg(buf[i] == pattern(from + i), "byte %zu differs", i);
	close(fds[0]);
	close(fds[1]);

	/* the file ends before the promised length (truncated while being sent) */
	tcp_pair(fds);
	memset(&sp, 0, sizeof(sp));
	sp.from = fd;
	sp.to = fds[0];
	sp.left = 200;
	off = (int64_t)n - 100;
	ck_assert_int_eq(relay_file_pump(&sp, &off), RELAY_EOF);
	ck_assert_uint_eq(sp.moved, 100);
	ck_assert_uint_eq(sp.left, 100);
	close(fds[0]);
	close(fds[1]);
	close(fd);
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("splice");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exact_small);
	tcase_add_test(tc, test_exact_large_with_pipelined_bytes);
	tcase_add_test(tc, test_until_eof);
	tcase_add_test(tc, test_early_eof);
	tcase_add_test(tc, test_file_pump);
	suite_add_tcase(s, tc);
	tc = tcase_create("pool");
	tcase_add_test(tc, test_pool_bounded);
	suite_add_tcase(s, tc);
	return ck_run_suite(s);
}
