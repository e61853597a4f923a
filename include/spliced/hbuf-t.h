/* Types of the head buffer pool (src/hbuf.c). Types only. */
#ifndef SPLICED_HBUF_T_H
#define SPLICED_HBUF_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Slots armed in the provided buffer ring (a power of two): receives of idle connections
 * that complete in one batch take that many before one of them sees -ENOBUFS (and takes
 * a slot from the pool directly). */
#define HBUF_RING_ENTRIES 128
/* Slots a buffer ring can name (16-bit ids): past that many, the others are lent only by
 * hbuf_get(). */
#define HBUF_BID_LIMIT 65536u
/* The buffer group of the ring (one per worker ring). */
#define HBUF_GROUP 0
/* Free slots whose pages stay resident for the next requests; past that many, the tick
 * gives the coldest ones' pages back to the kernel. */
#define HBUF_KEEP 64
/* Slots made readable and writable at a time, the first time the pool grows into them:
 * the rest of the reservation is PROT_NONE, which no overcommit policy charges. */
#define HBUF_CHUNK 64

struct io_uring_buf_ring;

/* A worker's pool of equal slots in one anonymous mapping (reserved PROT_NONE, committed
 * HBUF_CHUNK slots at a time as the pool grows, and even then only the pages a request
 * writes become resident). A connection holds a slot only while a request is in flight;
 * an idle one waits with a receive that selects a slot from the ring when its bytes
 * arrive. */
struct hbuf_pool {
	char *base;
	size_t slot;               /* bytes per slot, a page multiple */
	uint32_t nslots;
	uint32_t committed;        /* slots [0, committed) are readable and writable */
	uint64_t commit_failed;    /* times the kernel refused to commit the next chunk */
	uint32_t *free;            /* free slot indexes; the most recently used on top */
	uint32_t nfree;
	uint8_t *dirty;            /* per slot: written since mapped or last trimmed */
	uint32_t nfree_dirty;      /* of the free ones, the dirty ones */
	uint32_t in_use;           /* lent out (not free, not armed in the ring) */
	uint64_t trimmed;          /* slots whose pages went back to the kernel */
	/* the provided buffer ring (none when the kernel refused it) */
	struct io_uring_buf_ring *br;
	uint32_t armed;            /* slots in the ring */
	uint32_t recv_off;         /* a selected receive lands at slot + recv_off ... */
	uint32_t recv_len;         /* ... and takes at most recv_len bytes */
};

#endif
