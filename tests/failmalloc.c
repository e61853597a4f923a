/* libfailmalloc.so: an LD_PRELOAD shim for tests that makes the heap refuse, on demand.
 *
 * While the file named by $FAILMALLOC_FILE exists, malloc, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign, valloc and pvalloc fail (NULL, ENOMEM) when
 * called from a thread that is not its process's main thread; free never fails.
 *
 * Why only other threads: spliced's serving process does its requests' work in its
 * worker threads only, while its main thread (signals, reloads, the supervisor's and the
 * helper's processes, all single-threaded) must stay up to tell a crash from a refusal.
 * Failing every allocation there, rather than one at random or above a size, makes the
 * outcome of each request a fact of the code, not of chance: the test can name it.
 *
 * The file is checked with stat() at most every 10 ms (CLOCK_MONOTONIC_COARSE, a vDSO
 * read), so an allocation costs a clock read and the effect follows the file within
 * about 10 ms; the path must be reachable by the process's user (after spliced drops
 * to nobody). Without $FAILMALLOC_FILE nothing ever fails.
 *
 * The real functions are found with dlsym(RTLD_NEXT), so this works on top of glibc and
 * of AddressSanitizer's allocator alike (with ASAN_OPTIONS=verify_asan_link_order=0). dlsym
 * may itself call calloc before they are known: that is served from a small static arena,
 * never freed to the real allocator. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*memalign_fn)(size_t, size_t);
typedef void *(*valloc_fn)(size_t);

static malloc_fn real_malloc;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static free_fn real_free;
static posix_memalign_fn real_posix_memalign;
static memalign_fn real_aligned_alloc, real_memalign;
static valloc_fn real_valloc, real_pvalloc;

/* dlsym's own allocations, before the real functions are known */
static _Alignas(16) char boot_arena[8192];
static size_t boot_used;
static bool booting;

static const char *fail_path;
static atomic_bool path_read;   /* by the first other thread: ASan allocates before environ */
static atomic_bool fail_on;
static atomic_llong next_check_ms;

static void fm_init(void)
{
	if (real_malloc || booting)
		return;
	booting = true;
	real_calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
	real_malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
	real_realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
	real_free = (free_fn)dlsym(RTLD_NEXT, "free");
	real_posix_memalign = (posix_memalign_fn)dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = (memalign_fn)dlsym(RTLD_NEXT, "aligned_alloc");
	real_memalign = (memalign_fn)dlsym(RTLD_NEXT, "memalign");
	real_valloc = (valloc_fn)dlsym(RTLD_NEXT, "valloc");
	real_pvalloc = (valloc_fn)dlsym(RTLD_NEXT, "pvalloc");
	booting = false;
}

static void *boot_alloc(size_t n)
{
	size_t at = (boot_used + 15) & ~(size_t)15;

	if (at + n > sizeof(boot_arena))
		return NULL;
	boot_used = at + n;
	return boot_arena + at;
}

static bool from_boot(const void *p)
{
	return (const char *)p >= boot_arena && (const char *)p < boot_arena + sizeof(boot_arena);
}

/* True when this allocation is to fail: the file exists (seen at most 10 ms ago) and the
 * caller is not its process's main thread. */
static bool fm_fail(void)
{
	struct timespec ts;
	struct stat st;
	long long now;

	if (syscall(SYS_gettid) == getpid())
		return false;
	if (!atomic_load_explicit(&path_read, memory_order_acquire)) {
		fail_path = getenv("FAILMALLOC_FILE");
		atomic_store_explicit(&path_read, true, memory_order_release);
	}
	if (!fail_path)
		return false;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (now >= atomic_load_explicit(&next_check_ms, memory_order_relaxed)) {
		atomic_store_explicit(&next_check_ms, now + 10, memory_order_relaxed);
		atomic_store_explicit(&fail_on, stat(fail_path, &st) == 0, memory_order_relaxed);
	}
	if (!atomic_load_explicit(&fail_on, memory_order_relaxed))
		return false;
	errno = ENOMEM;
	return true;
}

void *malloc(size_t n)
{
	fm_init();
	if (!real_malloc)
		return boot_alloc(n);
	return fm_fail() ? NULL : real_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	fm_init();
	if (!real_calloc)   /* zeroed: the arena is static and never reused */
		return n && k > SIZE_MAX / n ? NULL : boot_alloc(k * n);
	return fm_fail() ? NULL : real_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	fm_init();
	if (from_boot(p)) {   /* moved out of the arena; the arena's copy is left there */
		void *q = malloc(n);

		if (q)
			memcpy(q, p, n < sizeof(boot_arena) - (size_t)((char *)p - boot_arena) ?
			       n : sizeof(boot_arena) - (size_t)((char *)p - boot_arena));
		return q;
	}
	if (!real_realloc)
		return NULL;
	return fm_fail() ? NULL : real_realloc(p, n);
}

void free(void *p)
{
	if (!p || from_boot(p))
		return;
	fm_init();
	if (real_free)
		real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	fm_init();
	if (!real_posix_memalign)
		return ENOMEM;
	return fm_fail() ? ENOMEM : real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	fm_init();
	return !real_aligned_alloc || fm_fail() ? NULL : real_aligned_alloc(align, n);
}

void *memalign(size_t align, size_t n)
{
	fm_init();
	return !real_memalign || fm_fail() ? NULL : real_memalign(align, n);
}

void *valloc(size_t n)
{
	fm_init();
	return !real_valloc || fm_fail() ? NULL : real_valloc(n);
}

void *pvalloc(size_t n)
{
	fm_init();
	return !real_pvalloc || fm_fail() ? NULL : real_pvalloc(n);
}
