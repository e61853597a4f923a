/* Head buffer pool and provided buffer ring; the contract is in include/spliced/hbuf.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spliced/hbuf.h"

int hbuf_init(struct hbuf_pool *p, uint32_t nslots, size_t slot_size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	memset(p, 0, sizeof(*p));
	if (!nslots)
		return -EINVAL;
	p->slot = (slot_size + page - 1) / page * page;
	/* Reserved, not committed: PROT_NONE is charged to no commit limit, the chunks are
	 * when the pool grows into them (hbuf_commit()), and a page costs memory only once a
	 * request writes into it. (MAP_NORESERVE alone is ignored with strict accounting.) */
	p->base = mmap(NULL, p->slot * nslots, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->base == MAP_FAILED) {
		p->base = NULL;
		return -errno;
	}
	p->free = malloc(nslots * sizeof(*p->free));
	p->dirty = calloc(nslots, 1);
	if (!p->free || !p->dirty) {
		hbuf_destroy(p);
		return -ENOMEM;
	}
	p->nslots = nslots;
	/* slot 0 on top: the first requests use the lowest addresses */
	for (uint32_t i = 0; i < nslots; i++)
		p->free[i] = nslots - 1 - i;
	p->nfree = nslots;
	return 0;
}

void hbuf_destroy(struct hbuf_pool *p)
{
	if (p->base)
		munmap(p->base, p->slot * p->nslots);
	if (p->br)
		munmap(p->br, HBUF_RING_ENTRIES * sizeof(struct io_uring_buf));
	free(p->free);
	free(p->dirty);
	memset(p, 0, sizeof(*p));
}

/* Makes slot i usable: the slots from the committed ones up to the end of i's chunk
 * become readable and writable (free slots are lent lowest first, so that is one chunk).
 * 0, or -errno (ENOMEM: over the commit limit or RLIMIT_DATA; nothing changed). */
static int hbuf_commit(struct hbuf_pool *p, uint32_t i)
{
	uint32_t upto = (i / HBUF_CHUNK + 1) * HBUF_CHUNK;

	if (i < p->committed)
		return 0;
	if (upto > p->nslots)
		upto = p->nslots;
	if (mprotect(p->base + (size_t)p->committed * p->slot,
		     (size_t)(upto - p->committed) * p->slot, PROT_READ | PROT_WRITE) < 0) {
		p->commit_failed++;
		return -errno;
	}
	p->committed = upto;
	return 0;
}

/* The top free slot, committed, off the stack (the caller lends or arms it); -1 when
 * none is free or its chunk cannot be committed (it stays on top). */
static int64_t hbuf_pop(struct hbuf_pool *p)
{
	uint32_t i;

	if (!p->nfree || hbuf_commit(p, p->free[p->nfree - 1]) < 0)
		return -1;
	i = p->free[--p->nfree];
	if (p->dirty[i])
		p->nfree_dirty--;
	return i;
}

/* The top free slot that a buffer ring can name (its id is 16 bits: with more than
 * HBUF_BID_LIMIT slots, a lower one is brought to the top first), off the stack. */
static int64_t hbuf_pop_armable(struct hbuf_pool *p)
{
	for (uint32_t k = p->nfree; k-- > 0;) {
		uint32_t i = p->free[k];

		if (i < HBUF_BID_LIMIT) {
			p->free[k] = p->free[p->nfree - 1];
			p->free[p->nfree - 1] = i;
			return hbuf_pop(p);
		}
	}
	return -1;
}

/* Fills the ring up with free slots. */
static void hbuf_arm(struct hbuf_pool *p)
{
	int n = 0;

	while (p->armed < HBUF_RING_ENTRIES) {
		int64_t i = hbuf_pop_armable(p);

		if (i < 0)
			break;
		io_uring_buf_ring_add(p->br, p->base + (size_t)i * p->slot + p->recv_off,
				      p->recv_len, (unsigned short)i,
				      io_uring_buf_ring_mask(HBUF_RING_ENTRIES), n++);
		p->armed++;
	}
	if (n)
		io_uring_buf_ring_advance(p->br, n);
}

int hbuf_ring_setup(struct hbuf_pool *p, struct io_uring *ring, uint32_t recv_off,
		    uint32_t recv_len)
{
	struct io_uring_buf_reg reg;
	size_t len = HBUF_RING_ENTRIES * sizeof(struct io_uring_buf);
	void *mem;
	int ret;

	if (recv_off >= p->slot || recv_len > p->slot - recv_off)
		return -EINVAL;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)mem;
	reg.ring_entries = HBUF_RING_ENTRIES;
	reg.bgid = HBUF_GROUP;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret < 0) {
		munmap(mem, len);
		return ret;
	}
	p->br = mem;
	p->recv_off = recv_off;
	p->recv_len = recv_len;
	io_uring_buf_ring_init(p->br);
	hbuf_arm(p);
	return 0;
}

char *hbuf_get(struct hbuf_pool *p)
{
	int64_t i = hbuf_pop(p);

	if (i < 0)
		return NULL;
	p->dirty[i] = 1;
	p->in_use++;
	return p->base + (size_t)i * p->slot;
}

char *hbuf_take_selected(struct hbuf_pool *p, unsigned cqe_flags)
{
	uint32_t i = cqe_flags >> IORING_CQE_BUFFER_SHIFT;

	if (!p->br || i >= p->nslots || i >= HBUF_BID_LIMIT || !p->armed)
		return NULL;
	p->armed--;
	p->dirty[i] = 1;
	p->in_use++;
	hbuf_arm(p);
	return p->base + (size_t)i * p->slot;
}

void hbuf_put(struct hbuf_pool *p, char *slot)
{
	uint32_t i;

	if (!slot)
		return;
	i = (uint32_t)((size_t)(slot - p->base) / p->slot);
	p->free[p->nfree++] = i;
	if (p->dirty[i])
		p->nfree_dirty++;
	p->in_use--;
	if (p->br && p->armed < HBUF_RING_ENTRIES)
		hbuf_arm(p);
}

void hbuf_trim(struct hbuf_pool *p)
{
	/* the bottom of the stack was used longest ago */
	for (uint32_t k = 0; k < p->nfree && p->nfree_dirty > HBUF_KEEP; k++) {
		uint32_t i = p->free[k];

		if (!p->dirty[i])
			continue;
		if (madvise(p->base + (size_t)i * p->slot, p->slot, MADV_DONTNEED) < 0)
			return;
		p->dirty[i] = 0;
		p->nfree_dirty--;
		p->trimmed++;
	}
}
