/* Backend connection pool. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spliced/upstream.h"

static bool up_alive(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void up_pool_init(struct up_pool *p, const struct cfg_backend *b, unsigned *open,
		  unsigned limit)
{
	p->idle = NULL;
	p->cap = 0;
	p->limit = limit ? limit : 1;
	p->n = 0;
	p->ttl_ms = b->p.ttl_ms;
	p->open = open;
}

/* Every close of a pooled connection: its count goes back to the backend's. */
static void up_close(struct up_pool *p, int fd)
{
	close(fd);
	if (p->open)
		__atomic_fetch_sub(p->open, 1, __ATOMIC_ACQ_REL);
}

/* Closes the k oldest idle connections (the bottom of the stack). */
static void up_close_oldest(struct up_pool *p, unsigned k)
{
	if (!k)
		return;   /* (an empty pool may have no array: memmove() must not see NULL) */
	for (unsigned i = 0; i < k; i++)
		up_close(p, p->idle[i].fd);
	memmove(p->idle, p->idle + k, (p->n - k) * sizeof(*p->idle));
	p->n -= k;
}

void up_pool_close_one(struct up_pool *p)
{
	up_close_oldest(p, 1);
}

unsigned up_pool_shed(struct up_pool *p)
{
	unsigned k = (p->n + 1) / 2;

	up_close_oldest(p, k);
	return k;
}

int up_pool_take(struct up_pool *p, uint64_t now_ms)
{
	while (p->n) {
		struct up_idle *e = &p->idle[--p->n];

		if (now_ms - e->since_ms < p->ttl_ms && up_alive(e->fd))
			return e->fd;
		up_close(p, e->fd);
	}
	return -1;
}

void up_pool_put(struct up_pool *p, int fd, uint64_t now_ms)
{
	if (p->n >= p->limit)
		up_pool_close_one(p); /* keep the newest: drop the oldest, at the bottom */
	if (p->n == p->cap) {
		/* as many idle as were in use together: the next burst finds them all */
		unsigned cap = p->cap ? p->cap * 2 : UP_POOL_START;
		struct up_idle *a;

		if (cap > p->limit)
			cap = p->limit;
		a = realloc(p->idle, cap * sizeof(*a));
		if (!a) {
			up_close(p, fd);
			return;
		}
		p->idle = a;
		p->cap = cap;
	}
	p->idle[p->n].fd = fd;
	p->idle[p->n].since_ms = now_ms;
	p->n++;
}

void up_pool_prune(struct up_pool *p, uint64_t now_ms, bool all)
{
	unsigned keep = 0;

	for (unsigned i = 0; i < p->n; i++) {
		if (all || now_ms - p->idle[i].since_ms >= p->ttl_ms)
			up_close(p, p->idle[i].fd);
		else
			p->idle[keep++] = p->idle[i];
	}
	p->n = keep;
	if (all) {
		free(p->idle);
		p->idle = NULL;
		p->cap = 0;
	}
}

int up_socket(const struct cfg_backend *b)
{
	int one = 1;
	int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (b->addr.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* keepalive=On, as httpd: the kernel's probes keep a firewall between us and the
	 * backend from dropping an idle connection (the interval is the system's) */
	if (b->p.keepalive && setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}
