/* Backend connection pool. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spliced/conn-t.h"
#include "spliced/upstream.h"

static bool up_alive(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int up_pool_take(struct up_pool *p, uint64_t now_ms)
{
	while (p->n) {
		struct up_idle *e = &p->idle[--p->n];

		if (now_ms - e->since_ms < UP_IDLE_MS && up_alive(e->fd))
			return e->fd;
		close(e->fd);
	}
	return -1;
}

void up_pool_put(struct up_pool *p, int fd, uint64_t now_ms)
{
	if (p->n == UP_POOL_MAX) {
		/* Keep the newest: drop the oldest at the bottom of the stack. */
		close(p->idle[0].fd);
		for (unsigned i = 1; i < p->n; i++)
			p->idle[i - 1] = p->idle[i];
		p->n--;
	}
	p->idle[p->n].fd = fd;
	p->idle[p->n].since_ms = now_ms;
	p->n++;
}

void up_pool_prune(struct up_pool *p, uint64_t now_ms, bool all)
{
	unsigned keep = 0;

	for (unsigned i = 0; i < p->n; i++) {
		if (all || now_ms - p->idle[i].since_ms >= UP_IDLE_MS)
			close(p->idle[i].fd);
		else
			p->idle[keep++] = p->idle[i];
	}
	p->n = keep;
}

int up_socket(const struct cfg_backend *b)
{
	int one = 1;
	int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

void up_wait_init(struct up_wait *q)
{
	memset(q, 0, sizeof(*q));
	q->head = q->tail = UP_WAIT_NONE;
	q->delay_ms = UP_RETRY_FIRST_MS;
}

void up_wait_push(struct up_wait *q, struct conn *conns, struct conn *c, bool front)
{
	uint32_t idx = (uint32_t)(c - conns);

	if (c->waiting)
		return;
	c->waiting = true;
	if (q->head == UP_WAIT_NONE) {
		c->wait_prev = c->wait_next = UP_WAIT_NONE;
		q->head = q->tail = idx;
	} else if (front) {
		c->wait_prev = UP_WAIT_NONE;
		c->wait_next = q->head;
		conns[q->head].wait_prev = idx;
		q->head = idx;
	} else {
		c->wait_next = UP_WAIT_NONE;
		c->wait_prev = q->tail;
		conns[q->tail].wait_next = idx;
		q->tail = idx;
	}
	q->n++;
}

void up_wait_remove(struct up_wait *q, struct conn *conns, struct conn *c)
{
	if (!c->waiting)
		return;
	if (c->wait_prev == UP_WAIT_NONE)
		q->head = c->wait_next;
	else
		conns[c->wait_prev].wait_next = c->wait_next;
	if (c->wait_next == UP_WAIT_NONE)
		q->tail = c->wait_prev;
	else
		conns[c->wait_next].wait_prev = c->wait_prev;
	c->wait_prev = c->wait_next = UP_WAIT_NONE;
	c->waiting = false;
	q->n--;
}

struct conn *up_wait_pop(struct up_wait *q, struct conn *conns)
{
	struct conn *c;

	if (q->head == UP_WAIT_NONE)
		return NULL;
	c = &conns[q->head];
	up_wait_remove(q, conns, c);
	return c;
}

unsigned up_retry_next(unsigned cur_ms)
{
	return cur_ms >= UP_RETRY_MAX_MS / 2 ? UP_RETRY_MAX_MS : cur_ms * 2;
}
