/* Check suite for src/hbuf.c: the head buffer pool (lending, most recently used first,
 * pages given back past HBUF_KEEP, committed a chunk at a time, a refused commit) and its
 * provided buffer ring on a real io_uring. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spliced/hbuf.h"
#include "spliced/ring.h"
#include "suite.h"

START_TEST(test_get_put)
{
	struct hbuf_pool p;
	char *s[4];
	long page = sysconf(_SC_PAGESIZE);

	ck_assert_int_eq(hbuf_init(&p, 4, 5000), 0);
	ck_assert_uint_eq(p.slot % (size_t)page, 0);
	ck_assert_uint_ge(p.slot, 5000);
	for (int i = 0; i < 4; i++) {
		s[i] = hbuf_get(&p);
		ck_assert_ptr_nonnull(s[i]);
		ck_assert_uint_eq((size_t)(s[i] - p.base) % p.slot, 0);
		for (int k = 0; k < i; k++)
			ck_assert_ptr_ne(s[i], s[k]);
		memset(s[i], 'a' + i, 5000);   /* the whole slot is usable */
	}
	ck_assert_uint_eq(p.in_use, 4);
	ck_assert_ptr_null(hbuf_get(&p));  /* every slot is out */
	hbuf_put(&p, s[2]);
	hbuf_put(&p, s[0]);
	ck_assert_uint_eq(p.in_use, 2);
	/* the most recently returned comes back first (its pages are the warm ones) */
	ck_assert_ptr_eq(hbuf_get(&p), s[0]);
	ck_assert_ptr_eq(hbuf_get(&p), s[2]);
	hbuf_put(&p, NULL);
	ck_assert_uint_eq(p.in_use, 4);
	hbuf_destroy(&p);
	ck_assert_int_eq(hbuf_init(&p, 0, 4096), -EINVAL);
}
END_TEST

/* Past HBUF_KEEP free written slots, the tick gives the coldest ones' pages back: they
 * read as zeros again, the warm ones keep their bytes. */
START_TEST(test_trim)
{
	enum { N = HBUF_KEEP + 10 };
	struct hbuf_pool p;
	char *s[N];

	ck_assert_int_eq(hbuf_init(&p, N + 5, 8192), 0);
	for (int i = 0; i < N; i++) {
		s[i] = hbuf_get(&p);
		s[i][0] = 'x';
		s[i][4096] = 'y';
	}
	hbuf_trim(&p);                     /* nothing free: nothing to give back */
	ck_assert_uint_eq(p.trimmed, 0);
	for (int i = 0; i < N; i++)
		hbuf_put(&p, s[i]);
	ck_assert_uint_eq(p.nfree_dirty, N);
	hbuf_trim(&p);
	ck_assert_uint_eq(p.nfree_dirty, HBUF_KEEP);
	ck_assert_uint_eq(p.trimmed, 10);
	for (int i = 0; i < 10; i++)        /* returned first: coldest */
		ck_assert(s[i][0] == 0 && s[i][4096] == 0);
	for (int i = 10; i < N; i++)
		ck_assert(s[i][0] == 'x' && s[i][4096] == 'y');
	hbuf_trim(&p);
	ck_assert_uint_eq(p.trimmed, 10);
	hbuf_destroy(&p);
}
END_TEST

/* The permissions of the mapping holding addr in /proc/self/maps ("rw-p", "---p"); "" when
 * no mapping holds it. */
static const char *map_perms(const void *addr)
{
	static char perms[8];
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long a = (unsigned long)addr, lo, hi;

	ck_assert_ptr_nonnull(f);
	perms[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi)
			break;
		else
			perms[0] = 0;
	fclose(f);
	return perms;
}

/* The reservation is PROT_NONE (charged to no commit limit); the pool commits HBUF_CHUNK
 * slots the first time it grows into them, the last chunk cut at the end. */
START_TEST(test_chunks)
{
	enum { N = 2 * HBUF_CHUNK + 5 };
	struct hbuf_pool p;
	static char *s[N];

	ck_assert_int_eq(hbuf_init(&p, N, 5000), 0);
	ck_assert_uint_eq(p.committed, 0);
	ck_assert_str_eq(map_perms(p.base), "---p");
	ck_assert_str_eq(map_perms(p.base + (N - 1) * p.slot), "---p");
	s[0] = hbuf_get(&p);
	ck_assert_ptr_eq(s[0], p.base);
	ck_assert_uint_eq(p.committed, HBUF_CHUNK);
	ck_assert_str_eq(map_perms(p.base), "rw-p");
	ck_assert_str_eq(map_perms(p.base + HBUF_CHUNK * p.slot - 1), "rw-p");
	ck_assert_str_eq(map_perms(p.base + HBUF_CHUNK * p.slot), "---p");
	for (int i = 1; i < HBUF_CHUNK; i++)
		s[i] = hbuf_get(&p);
	ck_assert_uint_eq(p.committed, HBUF_CHUNK);          /* the first chunk held them */
	s[HBUF_CHUNK] = hbuf_get(&p);
	ck_assert_uint_eq(p.committed, 2 * HBUF_CHUNK);
	memset(s[HBUF_CHUNK], 'x', p.slot);
	ck_assert_str_eq(map_perms(p.base + 2 * HBUF_CHUNK * p.slot), "---p");
	/* slots given back are lent again before the pool grows */
	hbuf_put(&p, s[3]);
	hbuf_put(&p, s[HBUF_CHUNK]);
	ck_assert_ptr_eq(hbuf_get(&p), s[HBUF_CHUNK]);
	ck_assert_ptr_eq(hbuf_get(&p), s[3]);
	for (int i = HBUF_CHUNK + 1; i < N; i++) {
		s[i] = hbuf_get(&p);
		ck_assert_ptr_nonnull(s[i]);
	}
	ck_assert_uint_eq(p.committed, N);                   /* the last chunk: 5 slots */
	memset(s[N - 1], 'y', p.slot);
	ck_assert_ptr_null(hbuf_get(&p));
	ck_assert_uint_eq(p.commit_failed, 0);
	hbuf_destroy(&p);
}
END_TEST

/* A refused commit (here RLIMIT_DATA, which mprotect() checks as strict overcommit
 * accounting checks the commit limit, both ENOMEM) is an empty pool for that call: NULL,
 * nothing lent, slots already committed still lent; once memory is there, the next call
 * succeeds. Nothing between the limit's set and reset may allocate (no ck_assert). */
START_TEST(test_commit_refused)
{
	struct hbuf_pool p;
	static char *s[HBUF_CHUNK];
	struct rlimit old, low;
	char *refused, *again, *grown;
	void *probe;
	uint32_t in_use;

	ck_assert_int_eq(hbuf_init(&p, 3 * HBUF_CHUNK, 8192), 0);
	for (int i = 0; i < HBUF_CHUNK; i++)
		s[i] = hbuf_get(&p);
	ck_assert_uint_eq(p.committed, HBUF_CHUNK);
	ck_assert_int_eq(getrlimit(RLIMIT_DATA, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)sysconf(_SC_PAGESIZE);   /* (0 is valgrind's: not enforced) */
	ck_assert_int_eq(setrlimit(RLIMIT_DATA, &low), 0);
	probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe != MAP_FAILED) {
		munmap(probe, 4096);
		setrlimit(RLIMIT_DATA, &old);
		fprintf(stderr, "SKIP commit_refused: the kernel does not enforce RLIMIT_DATA "
			"(ignore_rlimit_data)\n");
		hbuf_destroy(&p);
		return;
	}
	refused = hbuf_get(&p);
	in_use = p.in_use;
	hbuf_put(&p, s[5]);
	again = hbuf_get(&p);              /* committed already: lent under the limit too */
	setrlimit(RLIMIT_DATA, &old);

	ck_assert_ptr_null(refused);
	ck_assert_uint_eq(in_use, HBUF_CHUNK);
	ck_assert_uint_eq(p.commit_failed, 1);
	ck_assert_ptr_eq(again, s[5]);
	ck_assert_uint_eq(p.committed, HBUF_CHUNK);
	ck_assert_str_eq(map_perms(p.base + HBUF_CHUNK * p.slot), "---p");
	grown = hbuf_get(&p);              /* memory is there again */
	ck_assert_ptr_eq(grown, p.base + HBUF_CHUNK * p.slot);
	memset(grown, 'z', p.slot);
	ck_assert_uint_eq(p.committed, 2 * HBUF_CHUNK);
	ck_assert_uint_eq(p.in_use, HBUF_CHUNK + 1);
	hbuf_destroy(&p);
}
END_TEST

static void prep_select_recv(struct io_uring *ring, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = ring_sqe(ring);

	ck_assert_ptr_nonnull(sqe);
	io_uring_prep_recv(sqe, fd, NULL, 1 << 20, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = HBUF_GROUP;
	io_uring_sqe_set_data64(sqe, ud);
}

/* Receives select slots from the ring when bytes arrive; the bytes are at recv_off, the
 * ring is refilled from the pool, and with the pool dry a receive fails -ENOBUFS (what
 * conn.c answers by taking a slot with hbuf_get()). */
START_TEST(test_ring)
{
	struct io_uring ring;
	struct hbuf_pool p;
	int sv[3][2], ret;
	char *got[3] = { NULL, NULL, NULL };
	int nobufs = 0;

	ck_assert_int_eq(ring_init(&ring, 64), 0);
	ck_assert_int_eq(hbuf_init(&p, 2, 16384), 0);
	ret = hbuf_ring_setup(&p, &ring, 4096, 8192);
	if (ret == -EINVAL || ret == -ENOSYS || ret == -EOPNOTSUPP) {
		fprintf(stderr, "SKIP ring: the kernel has no provided buffer rings (%s)\n",
			strerror(-ret));
		hbuf_destroy(&p);
		io_uring_queue_exit(&ring);
		return;
	}
	ck_assert_int_eq(ret, 0);
	ck_assert(hbuf_ring_on(&p));
	ck_assert_uint_eq(p.armed, 2);      /* the pool had two */
	ck_assert_uint_eq(p.in_use, 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		prep_select_recv(&ring, sv[i][0], (uint64_t)i);
	}
	ck_assert_int_ge(io_uring_submit(&ring), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(write(sv[i][1], i == 0 ? "zero" : i == 1 ? "one!" : "two!", 4), 4);
	for (int n = 0; n < 3; n++) {
		struct io_uring_cqe *cqe;
		unsigned i;

		ck_assert_int_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		i = (unsigned)io_uring_cqe_get_data64(cqe);
		if (cqe->res == -ENOBUFS) {
			ck_assert(!(cqe->flags & IORING_CQE_F_BUFFER));
			nobufs++;
		} else {
			ck_assert_int_eq(cqe->res, 4);
			ck_assert(cqe->flags & IORING_CQE_F_BUFFER);
			got[i] = hbuf_take_selected(&p, cqe->flags);
			ck_assert_ptr_nonnull(got[i]);
			ck_assert_mem_eq(got[i] + 4096, i == 0 ? "zero" : i == 1 ? "one!" : "two!", 4);
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	ck_assert_int_eq(nobufs, 1);
	ck_assert_uint_eq(p.in_use, 2);
	ck_assert_uint_eq(p.armed, 0);      /* nothing free to refill with */
	ck_assert_ptr_null(hbuf_get(&p));
	for (int i = 0; i < 3; i++)
		hbuf_put(&p, got[i]);        /* back in the ring at once */
	ck_assert_uint_eq(p.in_use, 0);
	ck_assert_uint_eq(p.armed, 2);
	io_uring_queue_exit(&ring);
	hbuf_destroy(&p);
	for (int i = 0; i < 3; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
}
END_TEST

/* Arming the ring commits the chunks of the slots it arms, no more. */
START_TEST(test_ring_commits)
{
	enum { ARMED_CHUNKS = (HBUF_RING_ENTRIES + HBUF_CHUNK - 1) / HBUF_CHUNK };
	struct io_uring ring;
	struct hbuf_pool p;
	int ret;

	ck_assert_int_eq(ring_init(&ring, 8), 0);
	ck_assert_int_eq(hbuf_init(&p, (ARMED_CHUNKS + 2) * HBUF_CHUNK, 8192), 0);
	ret = hbuf_ring_setup(&p, &ring, 0, 8192);
	if (ret == -EINVAL || ret == -ENOSYS || ret == -EOPNOTSUPP) {
		fprintf(stderr, "SKIP ring_commits: no provided buffer rings (%s)\n",
			strerror(-ret));
	} else {
		ck_assert_int_eq(ret, 0);
		ck_assert_uint_eq(p.armed, HBUF_RING_ENTRIES);
		ck_assert_uint_eq(p.committed, ARMED_CHUNKS * HBUF_CHUNK);
		ck_assert_str_eq(map_perms(p.base + (HBUF_RING_ENTRIES - 1) * p.slot), "rw-p");
		ck_assert_str_eq(map_perms(p.base + ARMED_CHUNKS * HBUF_CHUNK * p.slot), "---p");
	}
	io_uring_queue_exit(&ring);
	hbuf_destroy(&p);
}
END_TEST

/* More slots than a ring's 16-bit ids name (MaxConnections past 65,536 per worker): the
 * ring is armed with the ones it can name, even when others are on top of the free list,
 * and the rest are lent by hbuf_get(). */
START_TEST(test_ring_ids)
{
	enum { N = HBUF_BID_LIMIT + 4 };
	struct io_uring ring;
	struct hbuf_pool p;
	static char *s[N];
	int ret;

	ck_assert_int_eq(ring_init(&ring, 8), 0);
	ck_assert_int_eq(hbuf_init(&p, N, 4096), 0);
	for (uint32_t i = 0; i < N; i++)
		s[i] = hbuf_get(&p);
	ck_assert_ptr_null(hbuf_get(&p));
	hbuf_put(&p, s[0]);
	hbuf_put(&p, s[1]);
	for (uint32_t i = HBUF_BID_LIMIT; i < N; i++)   /* the top of the free list */
		hbuf_put(&p, s[i]);
	ret = hbuf_ring_setup(&p, &ring, 0, 4096);
	if (ret == -EINVAL || ret == -ENOSYS || ret == -EOPNOTSUPP) {
		fprintf(stderr, "SKIP ring_ids: no provided buffer rings (%s)\n", strerror(-ret));
	} else {
		ck_assert_int_eq(ret, 0);
		ck_assert_uint_eq(p.armed, 2);
		for (int k = 0; k < 2; k++)
			ck_assert_uint_lt(p.br->bufs[k].bid, 2);
		/* what is left goes to hbuf_get(), high ids included */
		for (int k = 0; k < 4; k++)
			ck_assert_uint_ge((size_t)(hbuf_get(&p) - p.base) / p.slot, HBUF_BID_LIMIT);
		ck_assert_ptr_null(hbuf_get(&p));
	}
	io_uring_queue_exit(&ring);
	hbuf_destroy(&p);
}
END_TEST

static Suite *hbuf_suite(void)
{
	const struct ck_case cases[] = {
		{ "get_put", test_get_put, 0 },
		{ "trim", test_trim, 0 },
		{ "chunks", test_chunks, 0 },
		{ "commit_refused", test_commit_refused, 0 },
		{ "ring", test_ring, 0 },
		{ "ring_ids", test_ring_ids, 0 },
		{ "ring_commits", test_ring_commits, 0 },
	};
	Suite *s = suite_create("hbuf");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(hbuf_suite());
}
