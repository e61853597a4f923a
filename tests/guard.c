/* Guarded buffers for the parser tests (see guard.h). */
#include <check.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"

static struct {
	char *map;
	size_t maplen;
} guard_slot[GUARD_SLOTS];
static unsigned guard_next;

char *guard_at_end(const void *data, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (n + page - 1) / page + 1;
	unsigned k = guard_next++ % GUARD_SLOTS;
	char *map;

	if (guard_slot[k].map)
		munmap(guard_slot[k].map, guard_slot[k].maplen);
	map = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	ck_assert_int_eq(mprotect(map + (pages - 1) * page, page, PROT_NONE), 0);
	guard_slot[k].map = map;
	guard_slot[k].maplen = pages * page;
	map += (pages - 1) * page - n;
	if (n)
		memcpy(map, data, n);
	return map;
}
