/* Types of the static file module (src/file.c). Types only. */
#ifndef SPLICED_FILE_T_H
#define SPLICED_FILE_T_H

#include <stdbool.h>
#include <stdint.h>

#include "spliced/config-t.h"
#include "spliced/http-t.h"

/* DirectoryIndex: at most this many names, each shorter than FILE_INDEX_NAME_MAX. */
#define FILE_INDEX_MAX 8
#define FILE_INDEX_NAME_MAX 64
/* Lines of If-Match / If-None-Match kept; a field sent on more lines is ignored. */
#define FILE_LIST_MAX 4
/* The open-file cache: FILE_CACHE_WAYS entries per hash set, least recently used evicted. */
#define FILE_CACHE_WAYS 4
#define FILE_CACHE_SLOTS_DEFAULT 128
#define FILE_CACHE_TTL_MS_DEFAULT 1000
/* Request paths longer than this are served but never cached (bounds an entry's size). */
#define FILE_CACHE_KEY_MAX 512
/* '"' + 3 x 16 hex digits + 2 dashes + '"' + NUL */
#define FILE_ETAG_MAX 56
/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", without NUL */
#define FILE_DATE_LEN 29

/* A directory files are served from (DocumentRoot, Alias target), opened once at start-up.
 * Immutable afterwards: workers share it. */
struct file_root {
	int fd;                   /* O_PATH|O_DIRECTORY|O_CLOEXEC; -1 when closed */
	bool follow_symlinks;     /* Options FollowSymLinks: symlinks inside the root allowed */
	uint8_t nindex;
	char index[FILE_INDEX_MAX][FILE_INDEX_NAME_MAX]; /* DirectoryIndex, tried in order */
};

/* Where static files come from: opened by the main thread before privileges are
 * dropped, read-only afterwards and shared by the workers. */
struct mime_table;
struct file_roots {
	struct file_root docroot;      /* fd -1: no DocumentRoot */
	struct file_root alias[CFG_MAX_ALIAS];
	struct file_root rwroot[CFG_MAX_ROOTS]; /* roots of RewriteRule file substitutions */
	const struct mime_table *mime;
};

/* A header field value (OWS trimmed), pointing into the caller's request head. */
struct file_val {
	const char *p;            /* NULL: the field is absent */
	uint32_t len;
};

/* The request fields static file handling looks at; see file_cond_scan(). A single-valued
 * field that appeared twice has the value "" (invalid, so it is ignored). */
struct file_cond {
	struct file_val if_match[FILE_LIST_MAX];
	struct file_val if_none_match[FILE_LIST_MAX];
	uint8_t n_if_match;       /* lines seen; more than FILE_LIST_MAX: field ignored */
	uint8_t n_if_none_match;
	struct file_val if_modified_since;
	struct file_val if_unmodified_since;
	struct file_val if_range;
	struct file_val range;
};

/* An open file with its stat results and validators: a cache entry, or a private one when
 * the request is not cacheable. Worker-local: no locks, no atomics. */
struct file_ent {
	int fd;                   /* O_RDONLY|O_CLOEXEC, blocking, a regular file */
	uint32_t refs;            /* 1 for the cache while linked + 1 per file_reply holding it */
	bool linked;              /* in a cache slot */
	int root_fd;              /* key: the root ... */
	uint32_t hash;
	uint64_t checked_ms;      /* when it was opened or last revalidated */
	uint64_t used_ms;         /* last lookup: the least recently used of a set is evicted */
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	int64_t mtime;            /* seconds */
	int64_t mtime_ns;         /* seconds * 1e9 + nanoseconds */
	const char *type;         /* Content-Type, owned by the mime table */
	uint8_t etag_len;
	char etag[FILE_ETAG_MAX]; /* "ino-size-mtime_ns" in hex, quoted, NUL-terminated */
	uint16_t key_len;
	char key[];               /* ... and the request path it answers (not NUL-terminated) */
};

/* Per-worker open-file cache. */
struct file_cache {
	struct file_ent **slot;   /* nsets * FILE_CACHE_WAYS */
	uint32_t nsets;           /* a power of two */
	uint32_t ttl_ms;          /* an entry older than this is revalidated before use */
	uint64_t hits;            /* used without a system call */
	uint64_t misses;          /* opened (not in the cache) */
	uint64_t revalidated;     /* expired, re-opened and found unchanged */
	uint64_t replaced;        /* expired and changed (or gone) */
	uint64_t evicted;         /* pushed out of a full set */
};

/* One static-file request, as the connection hands it over. Every pointer is only read
 * during file_serve(). */
struct file_req {
	enum http_method meth;
	/* The file path relative to the root: percent-decoded, dot-segments removed, no leading
	 * '/'. "" or a path ending in '/' names a directory. */
	const char *path;
	uint32_t path_len;
	/* The request's URL path as received (still percent-encoded), used only to build the
	 * Location of a 301 (a directory asked for without its trailing slash); and whether it
	 * ends in '/'. len 0: unknown (then path decides, and a 301 cannot be made: 403). */
	const char *url_path;
	uint32_t url_path_len;
	const char *query;        /* the query without '?', kept in the Location of a 301 */
	uint32_t query_len;
	bool has_query;
	struct file_cond cond;
	bool close;               /* "Connection: close" in the head */
	bool keep_alive_10;       /* "Connection: keep-alive" (HTTP/1.0 client kept open) */
	int64_t now;              /* wall clock (time(2)): Date, If-Modified-Since */
	uint64_t now_ms;          /* monotonic milliseconds: cache lifetime */
};

enum file_range {
	FILE_RANGE_IGNORE = 0,    /* no Range, malformed, several ranges, or empty file: 200 */
	FILE_RANGE_ONE,           /* one satisfiable range: 206 */
	FILE_RANGE_UNSATISFIABLE, /* 416 */
};

/* What file_serve() decided. */
struct file_reply {
	uint16_t status;          /* 200 206 304 | 301 403 404 405 412 416 500 */
	int err;                  /* status 500: the -errno behind it, for the error log */
	/* 200/206/304: the complete response head is buf[0..head_len), ready to send.
	 * Other statuses: head_len is 0 and the caller makes the response. */
	uint32_t head_len;
	/* 301 (Location), 405 (Allow), 416 (Content-Range): header lines for the caller's
	 * page, CRLF- and NUL-terminated, in buf (405: a static string); else "", never NULL. */
	const char *extra;
	uint32_t extra_len;
	/* The body: file bytes [offset, offset + length) of `fd`. Non-NULL `ent` exactly when
	 * there is a body to send (GET, 200/206, length > 0): the caller holds one reference
	 * and calls file_release(ent) when done sending (or on failure). fd belongs to ent:
	 * never close it. ent == NULL: fd is -1 and length 0 (HEAD, 304, empty file, errors). */
	struct file_ent *ent;
	int fd;
	uint64_t offset;
	uint64_t length;
	uint64_t size;            /* the whole file (for logs); 0 when no file was found */
};

#endif
