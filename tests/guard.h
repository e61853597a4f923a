/* Inputs placed right before an unreadable page, so that a parser reading one byte past
 * the length it was given crashes the test (picohttpparser's test.c does the same). */
#ifndef SPLICED_TESTS_GUARD_H
#define SPLICED_TESTS_GUARD_H

#include <stddef.h>

/* A writable copy of data[0..n) that ends right before a PROT_NONE page. It stays valid
 * until GUARD_SLOTS further calls. Fails the current Check test if mmap fails. */
#define GUARD_SLOTS 8
char *guard_at_end(const void *data, size_t n);

#endif
