/* MIME types by file extension, from a file in /etc/mime.types format or a built-in table.
 * Built once at start-up; afterwards the table is immutable and shared by all workers. */
#ifndef SPLICED_MIME_H
#define SPLICED_MIME_H

#include <stddef.h>

#include "spliced/config-t.h"
#include "spliced/mime-t.h"

/* Reads `path` in /etc/mime.types format: one media type per line followed by its
 * extensions, separated by blanks; '#' starts a comment (at the start of a line or of a
 * word); lines with a type and no extension are skipped. Extensions are matched case-
 * insensitively; an extension listed twice gets the LAST type (as Apache's mod_mime does).
 * Returns the table, or NULL with *err set to the file, the line (0 if none) and the reason:
 * unreadable file (err->msg has strerror), larger than MIME_FILE_MAX, a type that is not
 * token/token or longer than MIME_TYPE_MAX, an extension longer than MIME_EXT_MAX or with
 * a '/' in it. err->line is 0 for I/O errors. errno is set (ENOENT for a missing file). */
struct mime_table *mime_load(const char *path, struct config_error *err);

/* The built-in table: html htm css js mjs json txt xml svg png jpg jpeg gif webp ico avif
 * pdf wasm woff woff2 mp4 webm mp3 csv zip gz tar. NULL only when out of memory. */
struct mime_table *mime_builtin(void);

/* What spliced uses without TypesConfig: MIME_DEFAULT_FILE, or the built-in table when that
 * file does not exist (any other error is returned as from mime_load()). */
struct mime_table *mime_load_default(struct config_error *err);

void mime_free(struct mime_table *t);

/* The type for the file name name[0..len) (a path: only its last component counts), by
 * the extension after its last '.'. A name without an extension (or whose only dot is its
 * first character, ".profile"), an unknown extension or a NULL table gives
 * MIME_DEFAULT_TYPE. The result is a NUL-terminated string owned by the table (or static),
 * valid until mime_free(). Never NULL; no charset is ever added (as Apache). */
const char *mime_lookup(const struct mime_table *t, const char *name, size_t len);

#endif
