/* Head buffer pool: the memory a client connection needs only while a request is in
 * flight (its request head with headroom, the response head, the access log's copy),
 * lent per request from a per-worker pool, and the io_uring provided buffer ring that
 * idle connections receive through, so that an idle keep-alive connection holds no
 * buffer. Used by the worker (ring, completions, tick) and conn.c (lending). */
#ifndef SPLICED_HBUF_H
#define SPLICED_HBUF_H

#include <liburing.h>

#include "spliced/hbuf-t.h"

/* Reserves nslots slots of slot_size bytes (rounded up to pages), all free; the ring arms
 * only the first HBUF_BID_LIMIT. The reservation is PROT_NONE: slots are committed
 * (mprotect, HBUF_CHUNK at a time) when first lent or armed, so that with strict overcommit
 * accounting (vm.overcommit_memory=2, where MAP_NORESERVE is ignored) only the chunks the
 * pool grew into count against the commit limit. 0 or -errno. */
int hbuf_init(struct hbuf_pool *p, uint32_t nslots, size_t slot_size);
/* Unmaps everything (the ring that used the buffer ring must be gone). */
void hbuf_destroy(struct hbuf_pool *p);

/* Registers the provided buffer ring (group HBUF_GROUP) on ring and arms it with free
 * slots; a selected receive lands at slot + recv_off, at most recv_len bytes. 0, or
 * -errno when the kernel has no buffer rings (then hbuf_ring_on() stays false and
 * connections take slots with hbuf_get()). */
int hbuf_ring_setup(struct hbuf_pool *p, struct io_uring *ring, uint32_t recv_off,
		    uint32_t recv_len);
static inline bool hbuf_ring_on(const struct hbuf_pool *p)
{
	return p->br != NULL;
}

/* A free slot, lent to the caller until hbuf_put(); NULL when every slot is out, or when
 * the slot would be the first of a chunk and the kernel refuses to commit it (ENOMEM:
 * the commit limit; a later call tries again). The ring is armed the same way: a chunk
 * refused leaves it short until a later put or take refills it. */
char *hbuf_get(struct hbuf_pool *p);
/* The slot a receive selected (cqe_flags has IORING_CQE_F_BUFFER), lent to the caller;
 * another free slot takes its place in the ring. NULL for an id that is not armed. */
char *hbuf_take_selected(struct hbuf_pool *p, unsigned cqe_flags);
/* Gives a lent slot back (NULL: nothing). */
void hbuf_put(struct hbuf_pool *p, char *slot);
/* Gives the pages of the coldest free slots back to the kernel until at most HBUF_KEEP
 * free slots are resident (the worker's tick). */
void hbuf_trim(struct hbuf_pool *p);

#endif
