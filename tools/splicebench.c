/* splicebench: how should a proxy move a body from one TCP socket to another?
 *
 *   copy   io_uring recv into a 32 KiB buffer, io_uring send out of it
 *   poll   what spliced does: io_uring POLL_ADD for readiness, then non-blocking
 *          splice(2) socket -> pipe -> socket from the event loop (src/relay.c)
 *   uring  IORING_OP_SPLICE socket -> pipe and pipe -> socket (run by io-wq threads)
 *
 * A child process writes bodies of SIZE bytes into one loopback connection and reads them
 * back from another; this process relays COUNT bodies between the two with each method.
 * Printed: wall time per body and this process's CPU (user+system, io-wq threads
 * included, since they belong to this process) per body and per MB.
 *
 *   build/tools/splicebench [SIZE [COUNT]]       e.g. 16384 20000, 10485760 50
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spliced/relay.h"

static size_t body_size;
static unsigned bodies;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		die("listen");
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fds[0], (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0)
		die("accept");
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
}

/* The child: writes `bodies` bodies into w, reads as many bytes back from r. */
static void *child_writer(void *arg)
{
	int fd = *(int *)arg;
	static char buf[1 << 16];
	uint64_t left = (uint64_t)body_size * bodies;

	while (left) {
		ssize_t n = write(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n <= 0)
			die("child write");
		left -= (uint64_t)n;
	}
	return NULL;
}

static void child(int w, int r)
{
	static char buf[1 << 16];
	uint64_t left = (uint64_t)body_size * bodies;
	pthread_t t;

	pthread_create(&t, NULL, child_writer, &w);
	while (left) {
		ssize_t n = read(r, buf, sizeof(buf));

		if (n <= 0)
			die("child read");
		left -= (uint64_t)n;
	}
	pthread_join(t, NULL);
	_exit(0);
}

static struct io_uring ring;

static int wait_one(void)
{
	struct io_uring_cqe *cqe;
	int res;

	io_uring_submit(&ring);
	if (io_uring_wait_cqe(&ring, &cqe))
		die("wait_cqe");
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

static void relay_copy(int from, int to)
{
	static char buf[32768];

	for (unsigned b = 0; b < bodies; b++) {
		size_t left = body_size;

		while (left) {
			int n;

			io_uring_prep_recv(io_uring_get_sqe(&ring), from, buf,
					   left < sizeof(buf) ? left : sizeof(buf), 0);
			n = wait_one();
			if (n <= 0)
				die("recv");
			left -= (size_t)n;
			for (int off = 0; off < n;) {
				int k;

				io_uring_prep_send(io_uring_get_sqe(&ring), to, buf + off,
						   (size_t)(n - off), MSG_NOSIGNAL);
				k = wait_one();
				if (k <= 0)
					die("send");
				off += k;
			}
		}
	}
}

static void relay_poll(int from, int to)
{
	struct relay_pool pool = { 0 };

	for (unsigned b = 0; b < bodies; b++) {
		struct relay_splice s = { .from = from, .to = to, .left = body_size };
		enum relay_result r;

		s.pipe = relay_pipe_get(&pool);
		while ((r = relay_pump(&s)) != RELAY_DONE) {
			if (r != RELAY_WAIT_IN && r != RELAY_WAIT_OUT)
				die("relay_pump");
			io_uring_prep_poll_add(io_uring_get_sqe(&ring), r == RELAY_WAIT_IN ? from : to,
					       r == RELAY_WAIT_IN ? POLLIN : POLLOUT);
			if (wait_one() < 0)
				die("poll");
		}
		relay_pipe_put(&pool, s.pipe, false);
	}
	relay_pool_destroy(&pool);
}

static void relay_uring(int from, int to)
{
	struct relay_pool pool = { 0 };
	struct relay_pipe *p = relay_pipe_get(&pool);

	/* IORING_OP_SPLICE wants blocking sockets: on non-blocking ones it fails -EAGAIN. */
	fcntl(from, F_SETFL, fcntl(from, F_GETFL) & ~O_NONBLOCK);
	fcntl(to, F_SETFL, fcntl(to, F_GETFL) & ~O_NONBLOCK);
	fcntl(p->rfd, F_SETFL, 0);
	fcntl(p->wfd, F_SETFL, 0);
	for (unsigned b = 0; b < bodies; b++) {
		size_t left = body_size;

		while (left) {
			unsigned want = left < p->size ? (unsigned)left : p->size;
			int n, k;

			io_uring_prep_splice(io_uring_get_sqe(&ring), from, -1, p->wfd, -1, want, 0);
			n = wait_one();
			if (n <= 0)
				die("splice in");
			left -= (size_t)n;
			for (int moved = 0; moved < n; moved += k) {
				io_uring_prep_splice(io_uring_get_sqe(&ring), p->rfd, -1, to, -1,
						     (unsigned)(n - moved), 0);
				k = wait_one();
				if (k <= 0)
					die("splice out");
			}
		}
	}
	relay_pipe_put(&pool, p, false);
	relay_pool_destroy(&pool);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(const char *name, void (*fn)(int, int))
{
	int in[2], out[2];
	double c0, w0, c1, w1;
	pid_t pid;
	int st;

	tcp_pair(in);
	tcp_pair(out);
	pid = fork();
	if (pid == 0) {
		close(in[1]);
		close(out[0]);
		child(in[0], out[1]);
	}
	close(in[0]);
	close(out[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	c0 = cpu_seconds();
	w0 = wall_seconds();
	fn(in[1], out[0]);
	c1 = cpu_seconds();
	w1 = wall_seconds();
	waitpid(pid, &st, 0);
	close(in[1]);
	close(out[0]);
	printf("%-6s size %9zu  wall %9.2f us/body  cpu %9.2f us/body  %8.3f ms/MB\n", name,
	       body_size, (w1 - w0) * 1e6 / bodies, (c1 - c0) * 1e6 / bodies,
	       (c1 - c0) * 1e3 / ((double)body_size * bodies / (1 << 20)));
}

int main(int argc, char **argv)
{
	body_size = argc > 1 ? strtoull(argv[1], NULL, 10) : 65536;
	bodies = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2000;
	if (!body_size || !bodies) {
		fprintf(stderr, "usage: splicebench [SIZE [COUNT]]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (io_uring_queue_init(8, &ring, 0))
		die("io_uring_queue_init");
	run("copy", relay_copy);
	run("poll", relay_poll);
	run("uring", relay_uring);
	return 0;
}
