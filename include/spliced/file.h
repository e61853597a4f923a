/* Static files: resolution beneath a root with openat2(2), validators, conditionals and
 * Range, the response head, and a per-worker cache of open files. Knows nothing of the
 * ring or the socket: the caller sends the head (send with MSG_MORE) and moves the body
 * to the socket with sendfile(2) (relay_file_pump()).
 *
 * Security: every path is opened with openat2(root, path, RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS [| RESOLVE_NO_SYMLINKS unless FollowSymLinks]), so neither "..",
 * an absolute path nor a symlink (absolute or relative) can reach outside the root; the
 * path is also checked first (no "." or ".." segment, no NUL, no leading '/'). A path
 * refused by that check or not found is 404; a symlink when they are not allowed, an
 * escape attempt (EXDEV/ELOOP from openat2), a permission error and anything but a
 * regular file (FIFO, socket, device) is 403. No response ever contains a filesystem path.
 * Files are opened O_NONBLOCK (a FIFO never blocks the open), then the flag is cleared. */
#ifndef SPLICED_FILE_H
#define SPLICED_FILE_H

#include <stddef.h>

#include "spliced/file-t.h"
#include "spliced/mime-t.h"

/* Opens `dir` as a root (O_PATH|O_DIRECTORY|O_CLOEXEC; symlinks in `dir` itself are
 * followed: it is the administrator's). DirectoryIndex is "index.html". Returns 0 or
 * -errno (r->fd is -1 then). */
int file_root_open(struct file_root *r, const char *dir, bool follow_symlinks);

/* Sets DirectoryIndex to names[0..n). Returns 0; -E2BIG for more than FILE_INDEX_MAX
 * names; -EINVAL for an empty name, ".", "..", a name with '/', or one of
 * FILE_INDEX_NAME_MAX bytes or more (the index is then unchanged). n == 0 means no index:
 * every directory is 403. */
int file_root_set_index(struct file_root *r, const char *const *names, unsigned n);

void file_root_close(struct file_root *r);

/* A cache of `slots` entries (rounded up to a power of two, at least FILE_CACHE_WAYS) whose
 * entries are used without a system call for ttl_ms after they were opened or revalidated;
 * an older one is re-opened by its path and kept only if dev, inode, size and mtime are
 * unchanged. Within ttl_ms a changed file may still be served from the old stat results
 * (a truncated file then ends early: the sender must treat a short splice as an error and
 * close). Returns 0 or -ENOMEM. Worker-local: no locks. */
int file_cache_init(struct file_cache *c, unsigned slots, unsigned ttl_ms);

/* Drops the cache's references; entries still held by a file_reply stay open until their
 * file_release(). The mime table entries point into must outlive every entry. */
void file_cache_destroy(struct file_cache *c);

/* Releases the reference a file_reply returned; the last one closes the fd and frees the
 * entry. Must be called on the worker that got it. NULL is ignored. */
void file_release(struct file_ent *e);

/* Fills *c from the header fields of a request head that http_parse_request() accepted:
 * the field lines are head[from..head_len) (from = req->fields_off). Never reads outside
 * that range; lines it cannot read are skipped. Pointers in *c point into head. */
void file_cond_scan(struct file_cond *c, const char *head, size_t from, size_t head_len);

/* Serves rq from `root` through `cache` (NULL: no caching), typing files with `mime`
 * (NULL: everything is application/octet-stream). Writes the head (or the extra header
 * lines) into buf[0..cap). Order of decisions (RFC 9110 section 13.2.2):
 *   method other than GET/HEAD -> 405 ("Allow: GET, HEAD");
 *   path check, open, stat -> 404/403/500;
 *   a directory: URL path without trailing '/' -> 301 to url_path + "/" (+ "?" + query,
 *   bytes other than visible ASCII percent-encoded), else the first DirectoryIndex name that
 *   is a regular file, else 403 (no listings);
 *   If-Match (strong) / else If-Unmodified-Since -> 412;
 *   If-None-Match (weak comparison, "*" matches) / else If-Modified-Since (ignored when
 *   invalid or later than now) -> 304;
 *   GET with Range (and If-Range matching the ETag strongly or Last-Modified exactly) ->
 *   206 or 416; several ranges or a malformed Range -> 200 with the whole file.
 * Heads: "HTTP/1.1 <status>", Date, Content-Type, Content-Length (HEAD: the GET length),
 * Last-Modified, ETag, Accept-Ranges: bytes, Content-Range (206), then "Connection: close"
 * if rq->close or "Connection: keep-alive" if rq->keep_alive_10. A 304 has Date,
 * Last-Modified, ETag and Connection only. Last-Modified is min(mtime, now).
 * ETag: strong, "<inode>-<size>-<mtime in ns>" in lower-case hex.
 * Returns 0 with *out set (every status, see struct file_reply), or -ENOSPC when the head
 * does not fit in cap bytes (nothing is held then). */
int file_serve(struct file_cache *cache, const struct file_root *root,
	       const struct mime_table *mime, const struct file_req *rq, char *buf, size_t cap,
	       struct file_reply *out);

/* Helpers, strict and bounded: each reads only the bytes it is given. */

/* Checks a relative path: 0, -EINVAL for a NUL, a leading '/', or a "." or ".." segment,
 * -ENAMETOOLONG when it leaves no room in PATH_MAX for an index name. Empty segments
 * ("a//b") and trailing '/' are allowed; backslashes and '%' are ordinary characters. */
int file_path_check(const char *p, size_t len);

/* Evaluates a Range field value v[0..len) against a representation of `size` bytes (RFC
 * 9110 section 14): unit "bytes" (case-insensitive) '=' then a list of first-last,
 * first- or -suffix. One range: FILE_RANGE_ONE with [*off, *off + *n) clamped to the file,
 * or FILE_RANGE_UNSATISFIABLE (first >= size, or a suffix of 0). Anything else (another
 * unit, a syntax error, last < first, several ranges, size 0) is FILE_RANGE_IGNORE. */
enum file_range file_range_parse(const char *v, size_t len, uint64_t size, uint64_t *off,
				 uint64_t *n);

/* Parses an HTTP-date s[0..len) in any of RFC 9110's three forms: IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit
 * year more than 50 years after `now` is taken in the previous century) and asctime
 * ("Sun Nov  6 08:49:37 1994"). Exact syntax: no surrounding blanks, case-sensitive names;
 * the weekday is not checked against the date. 0 with *t in seconds since the epoch, or -1. */
int file_date_parse(const char *s, size_t len, int64_t now, int64_t *t);

/* Writes t as an IMF-fixdate into out (FILE_DATE_LEN bytes plus a NUL); years outside
 * 0..9999 are clamped. Returns FILE_DATE_LEN. */
size_t file_date_format(int64_t t, char *out);

/* Matches an entity tag etag[0..etag_len) (quoted, as made by file_serve) against the list
 * value v[0..len) of If-Match/If-None-Match: "*" or 1#entity-tag. Strong comparison: a W/
 * tag never matches; weak: W/ is ignored. Returns 1 match, 0 no match, -1 malformed. */
int file_etag_match(const char *v, size_t len, const char *etag, size_t etag_len, bool strong);

/* Evaluates an If-Range value v[0..len) (RFC 9110 section 13.1.5) for a representation
 * whose strong entity tag is etag[0..etag_len) and whose Last-Modified is `lastmod`:
 * a weak entity tag (exactly "W/" first) never matches; a value starting with '"' is an
 * entity tag, matched strongly (byte for byte); anything else must be an HTTP-date in one of
 * file_date_parse's forms (its weekday, "Wed" included, is not taken for a tag) equal to
 * lastmod to the second. false for NULL, a malformed value, or no match. */
bool file_if_range(const char *v, size_t len, const char *etag, size_t etag_len,
		   int64_t lastmod, int64_t now);

#endif
