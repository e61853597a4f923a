/* Access log: Apache mod_log_config's LogFormat compiled once at load into a small program,
 * rendered per request without allocating, into a per-worker double buffer that the event
 * loop writes with io_uring (IORING_OP_WRITE, offset -1, on an O_APPEND descriptor) while
 * the other half fills. Nothing here does I/O or blocks. */
#ifndef SPLICED_ACCESSLOG_H
#define SPLICED_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spliced/accesslog-t.h"

/* The formats httpd's default configuration names. */
#define ALOG_FMT_COMMON "%h %l %u %t \"%r\" %>s %b"
#define ALOG_FMT_COMBINED ALOG_FMT_COMMON " \"%{Referer}i\" \"%{User-Agent}i\""

/* Compiles the LogFormat string `fmt` (after the config reader's unquoting) into *f.
 * Supported: %h %a %{c}a %l %u %t %r %s %>s %<s %b %B %{Name}i %D %T %{s|ms|us}T %v %p
 * %{local|canonical|remote}p %m %U %q %H %I %O %%, and the escapes \n \t \r \\ in literal
 * text (any other backslash is kept, as httpd does). Refused, with the reason in err:
 * unknown directives (named), %{Name}o (response headers are not seen by the log),
 * status conditions (%400,501{..}i), other %{..}t formats, a format over ALOG_MAX_ITEMS
 * items or ALOG_TEXT_MAX bytes of text. Returns 0 or -EINVAL; *f is garbage on error. */
int alog_compile(struct alog_format *f, const char *fmt, char *err, size_t errlen);

/* The built-in nicknames: "common" and "combined" (case-sensitive, as httpd). Returns the
 * format string, or NULL for another name. */
const char *alog_builtin(const char *nickname);

/* Renders one line for entry *e into out[0..cap), ending with '\n' (not NUL-terminated).
 * Returns the bytes written: 0 only when cap is 0. A line longer than cap is cut at an
 * item boundary or inside one (never inside an escape sequence) and still ends with '\n'.
 * Bytes taken from the request (%r %m %U %q %{..}i) are escaped as httpd's
 * ap_escape_logitem(): '"' -> \", '\' -> \\, \b \n \r \t \v, other bytes outside
 * 0x20..0x7e -> \xhh, so a client can neither end a line nor forge a field. %t formats
 * e->start in local time (TZ at the last tzset()), cached per thread for the second. */
size_t alog_render(const struct alog_format *f, const struct alog_entry *e, char *out,
		   size_t cap);

/* The double buffer, one per worker and log. The write is the caller's, one at a time:
 *
 *     if (alog_buf_log(&b, fmt, &entry))            // threshold crossed, nothing in flight
 *             submit_write(alog_buf_take(&b, &len), len);
 *     ...on the write's completion, with its res:
 *     if ((buf = alog_buf_done(&b, res, &len)))     // short write: the rest
 *             submit_write(buf, len);
 *     else if (alog_buf_pending(&b, false))
 *             submit_write(alog_buf_take(&b, &len), len);
 *     ...on a timer (e.g. every second) and at shutdown:
 *     if (alog_buf_pending(&b, true)) submit_write(alog_buf_take(&b, &len), len);
 *
 * Lines never block and memory never grows: a line that does not fit while the other
 * half is in flight is dropped and counted in b->dropped. */

/* Allocates two halves of `size` bytes (>= 2 * ALOG_LINE_MAX) and asks for a write once
 * a half holds `threshold` bytes (0: size / 2). Returns 0, -EINVAL or -ENOMEM. */
int alog_buf_init(struct alog_buf *b, size_t size, size_t threshold);
void alog_buf_free(struct alog_buf *b);

/* Appends line[0..len). Returns true when the caller should start a write now (the
 * filling half reached the threshold and no write is in flight). A line that does not
 * fit in the filling half is dropped (b->dropped++). */
bool alog_buf_append(struct alog_buf *b, const char *line, size_t len);

/* alog_render() straight into the filling half (no copy), then as alog_buf_append(). */
bool alog_buf_log(struct alog_buf *b, const struct alog_format *f, const struct alog_entry *e);

/* True when a write can start and there is something to write: no write in flight, and
 * the filling half holds at least the threshold (or anything, with `any`). */
bool alog_buf_pending(const struct alog_buf *b, bool any);

/* Hands the filling half to the caller for writing and starts filling the other one.
 * Returns the bytes to write and *len, valid until alog_buf_done(); NULL (*len = 0) when
 * a write is in flight already or nothing is buffered. */
char *alog_buf_take(struct alog_buf *b, size_t *len);

/* The write of the taken half completed with `res` (a completion's res). res >= 0 and
 * short: the half stays in flight and the rest is returned (*len bytes) to be written
 * next. Otherwise (all written, or res < 0: the half's bytes are dropped and added to
 * b->lost_bytes) the half is free again and NULL is returned (*len = 0). */
char *alog_buf_done(struct alog_buf *b, ssize_t res, size_t *len);

#endif
