/* Types of the MIME type table (src/mime.c). Types only. */
#ifndef SPLICED_MIME_T_H
#define SPLICED_MIME_T_H

#include <stdint.h>

/* A file in /etc/mime.types format larger than this is refused (Debian's is ~75 KiB). */
#define MIME_FILE_MAX (4u * 1024 * 1024)
/* Longest extension and type kept; a longer one in the file is an error. */
#define MIME_EXT_MAX 63
#define MIME_TYPE_MAX 127

#define MIME_DEFAULT_TYPE "application/octet-stream"
#define MIME_DEFAULT_FILE "/etc/mime.types"

struct mime_slot {
	const char *ext;          /* lower case, NUL-terminated; NULL = empty slot */
	const char *type;         /* as written in the file */
};

/* Extension -> type, an open-addressing hash table built once at start-up and read-only
 * afterwards (so every worker may read it without locks). All strings live in `pool`. */
struct mime_table {
	struct mime_slot *slot;
	uint32_t mask;            /* number of slots - 1 (a power of two) */
	uint32_t n;               /* extensions stored */
	char *pool;
};

#endif
