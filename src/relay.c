/* Splice relay and the per-worker pipe pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "spliced/relay.h"

struct relay_pipe *relay_pipe_get(struct relay_pool *pool)
{
	struct relay_pipe *p;
	int fds[2];
	int size;

	if (pool->nfree)
		return pool->free[--pool->nfree];
	if (pool->live >= RELAY_POOL_MAX) {
		errno = EBUSY;
		return NULL;
	}
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return NULL;
	p = malloc(sizeof(*p));
	if (!p) {
		close(fds[0]);
		close(fds[1]);
		errno = ENOMEM;
		return NULL;
	}
	/* Over the per-user soft limit the kernel refuses to grow the pipe; the default
	 * 64 KiB still works, only with more splice calls. */
	size = fcntl(fds[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	if (size < 0)
		size = fcntl(fds[1], F_GETPIPE_SZ);
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->size = size > 0 ? (uint32_t)size : 65536;
	pool->live++;
	return p;
}

void relay_pipe_put(struct relay_pool *pool, struct relay_pipe *p, bool dirty)
{
	if (!p)
		return;
	if (dirty || pool->nfree == RELAY_POOL_MAX) {
		close(p->rfd);
		close(p->wfd);
		free(p);
		pool->live--;
		return;
	}
	pool->free[pool->nfree++] = p;
}

void relay_pool_destroy(struct relay_pool *pool)
{
	while (pool->nfree)
		relay_pipe_put(pool, pool->free[--pool->nfree], true);
}

/* Drains the pipe into `to`. */
static enum relay_result relay_drain(struct relay_splice *s)
{
	while (s->in_pipe) {
		/* No SPLICE_F_MORE: a stalled sender would leave a partial segment corked. */
		ssize_t n = splice(s->pipe->rfd, NULL, s->to, NULL, s->in_pipe,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

		if (n > 0) {
			s->in_pipe -= (uint32_t)n;
			s->moved += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return RELAY_WAIT_OUT;
		s->err = n < 0 ? errno : EPIPE;
		return RELAY_ERROR;
	}
	return RELAY_DONE;
}

enum relay_result relay_pump(struct relay_splice *s)
{
	for (;;) {
		enum relay_result r = relay_drain(s);
		size_t want;
		ssize_t n;

		if (r != RELAY_DONE)
			return r;
		if (s->left == 0)
			return RELAY_DONE;
		want = s->pipe->size;
		if (s->left != RELAY_UNTIL_EOF && s->left < want)
			want = (size_t)s->left;
		n = splice(s->from, NULL, s->pipe->wfd, NULL, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			s->in_pipe += (uint32_t)n;
			if (s->left != RELAY_UNTIL_EOF)
				s->left -= (uint64_t)n;
			continue;
		}
		if (n == 0) {
			if (s->left == RELAY_UNTIL_EOF) {
				s->left = 0;
				return RELAY_DONE;
			}
			return RELAY_EOF;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return RELAY_WAIT_IN;
		s->err = errno;
		return RELAY_ERROR;
	}
}

enum relay_result relay_file_pump(struct relay_splice *s, int64_t *off)
{
	while (s->left) {
		off_t o = (off_t)*off;
		size_t want = s->left < (1u << 30) ? (size_t)s->left : (1u << 30);
		ssize_t n = sendfile(s->to, s->from, &o, want);

		if (n > 0) {
			*off = o;
			s->left -= (uint64_t)n;
			s->moved += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return RELAY_EOF;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return RELAY_WAIT_OUT;
		s->err = errno;
		return RELAY_ERROR;
	}
	return RELAY_DONE;
}
