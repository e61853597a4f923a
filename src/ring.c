/* io_uring set-up and submission helpers. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "spliced/ring.h"

int ring_init(struct io_uring *ring, unsigned entries)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	int ret = -EINVAL;

	for (unsigned i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, ring, &p);
		if (ret == 0)
			return 0;
	}
	return ret;
}

struct io_uring_sqe *ring_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

/* A timer's entry: a new one (update false), or a move of the pending ud. */
static int ring_timer_sqe(struct io_uring *ring, uint64_t ud, struct __kernel_timespec *ts,
			  unsigned ms, bool update)
{
	struct io_uring_sqe *sqe = ring_sqe(ring);

	if (!sqe)
		return -EBUSY;
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long long)(ms % 1000) * 1000000;
	if (update) {
		io_uring_prep_timeout_update(sqe, ts, ud, 0);
		io_uring_sqe_set_data64(sqe, RING_UD(OP_NONE, 0));
	} else {
		io_uring_prep_timeout(sqe, ts, 0, 0);
		io_uring_sqe_set_data64(sqe, ud);
	}
	return 0;
}

int ring_timer(struct io_uring *ring, uint64_t ud, struct __kernel_timespec *ts, unsigned ms)
{
	return ring_timer_sqe(ring, ud, ts, ms, false);
}

int ring_timer_update(struct io_uring *ring, uint64_t ud, struct __kernel_timespec *ts,
		      unsigned ms)
{
	return ring_timer_sqe(ring, ud, ts, ms, true);
}

void ring_cancel_fd(struct io_uring *ring, int fd)
{
	struct io_uring_sqe *sqe = ring_sqe(ring);

	if (!sqe)
		return;
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_NONE, 0));
}
