/* MIME types by extension: /etc/mime.types format or a built-in table. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spliced/mime.h"

static const char *const mime_builtin_list[][2] = {
	{ "html", "text/html" },
	{ "htm", "text/html" },
	{ "css", "text/css" },
	{ "js", "text/javascript" },
	{ "mjs", "text/javascript" },
	{ "json", "application/json" },
	{ "txt", "text/plain" },
	{ "xml", "application/xml" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "avif", "image/avif" },
	{ "pdf", "application/pdf" },
	{ "wasm", "application/wasm" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "mp4", "video/mp4" },
	{ "webm", "video/webm" },
	{ "mp3", "audio/mpeg" },
	{ "csv", "text/csv" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
	{ "tar", "application/x-tar" },
};

static unsigned char mime_lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

/* FNV-1a over the lower-cased bytes. */
static uint32_t mime_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ mime_lower((unsigned char)s[i])) * 16777619u;
	return h;
}

static bool mime_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* type "/" subtype, both tokens (RFC 9110 section 8.3.1). */
static bool mime_type_valid(const char *t, size_t n)
{
	size_t slash = 0, i;

	if (n == 0 || n > MIME_TYPE_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (t[i] == '/') {
			if (slash)
				return false;
			slash = i;
		} else if (!mime_tchar((unsigned char)t[i])) {
			return false;
		}
	}
	return slash > 0 && slash < n - 1;
}

static struct mime_table *mime_alloc(uint32_t next, char *pool)
{
	struct mime_table *t = calloc(1, sizeof(*t));
	uint32_t slots = 16;

	if (!t)
		return NULL;
	while (slots < 2 * next)
		slots *= 2;
	t->slot = calloc(slots, sizeof(*t->slot));
	if (!t->slot) {
		free(t);
		return NULL;
	}
	t->mask = slots - 1;
	t->pool = pool;
	return t;
}

/* ext must be lower case and NUL-terminated, and live as long as the table. The table has
 * room (at most half full). A second insert of an extension replaces its type. */
static void mime_insert(struct mime_table *t, const char *ext, const char *type)
{
	size_t n = strlen(ext);
	uint32_t i = mime_hash(ext, n) & t->mask;

	while (t->slot[i].ext) {
		if (strcmp(t->slot[i].ext, ext) == 0) {
			t->slot[i].type = type;
			return;
		}
		i = (i + 1) & t->mask;
	}
	t->slot[i].ext = ext;
	t->slot[i].type = type;
	t->n++;
}

void mime_free(struct mime_table *t)
{
	if (!t)
		return;
	free(t->slot);
	free(t->pool);
	free(t);
}

struct mime_table *mime_builtin(void)
{
	size_t n = sizeof(mime_builtin_list) / sizeof(mime_builtin_list[0]);
	struct mime_table *t = mime_alloc((uint32_t)n, NULL);

	if (!t)
		return NULL;
	for (size_t i = 0; i < n; i++)
		mime_insert(t, mime_builtin_list[i][0], mime_builtin_list[i][1]);
	return t;
}

static void mime_err(struct config_error *err, const char *path, unsigned line, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
static void mime_err(struct config_error *err, const char *path, unsigned line, const char *fmt,
		     ...)
{
	va_list ap;

	if (!err)
		return;
	snprintf(err->file, sizeof(err->file), "%s", path);
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Reads the whole file into a buffer with one spare byte (set to '\n'). */
static char *mime_read(const char *path, size_t *lenp, struct config_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		goto out_errno;
	if (fstat(fd, &st) < 0)
		goto out_close_fd;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		close(fd);
		mime_err(err, path, 0, "%s", "not a regular file");
		return NULL;
	}
	if ((uint64_t)st.st_size > MIME_FILE_MAX) {
		errno = EFBIG;
		close(fd);
		mime_err(err, path, 0, "larger than %u bytes", MIME_FILE_MAX);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 2);
	if (!buf)
		goto out_close_fd;
	for (;;) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out_free;
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > (size_t)st.st_size) { /* grew while read */
			errno = EFBIG;
			goto out_free;
		}
	}
	close(fd);
	buf[len] = '\n';
	*lenp = len;
	return buf;

out_free:
	free(buf);
out_close_fd:
	e = errno;
	close(fd);
	errno = e;
out_errno:
	e = errno;
	mime_err(err, path, 0, "%s", strerror(e));
	errno = e;
	return NULL;
}

static bool mime_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* One pass over buf[0..len] (buf[len] == '\n'), which is not modified. With t == NULL it
 * validates and counts extensions into *next; else it copies every type and extension,
 * NUL-terminated, into the table's pool (at most len + 1 bytes: each word is followed by
 * at least one separator) and inserts them. Returns 0 or -EINVAL with *err set. */
static int mime_parse(const char *buf, size_t len, struct mime_table *t, uint32_t *next,
		      const char *path, struct config_error *err)
{
	const char *type = NULL;
	char *out = t ? t->pool : NULL;
	bool comment = false;
	unsigned line = 1;
	size_t i = 0;

	*next = 0;
	while (i <= len) {
		size_t w;

		if (buf[i] == '\n') {
			line++;
			type = NULL;
			comment = false;
			i++;
			continue;
		}
		if (mime_blank(buf[i]) || buf[i] == '\0' || comment) {
			i++;
			continue;
		}
		if (buf[i] == '#') {
			comment = true;
			continue;
		}
		for (w = i; !mime_blank(buf[w]) && buf[w] != '\n' && buf[w] != '\0'; w++)
			;
		if (!type) {
			if (!mime_type_valid(buf + i, w - i)) {
				mime_err(err, path, line, "%s", "not a media type (type/subtype)");
				errno = EINVAL;
				return -EINVAL;
			}
			type = buf + i;
			if (out) {
				memcpy(out, buf + i, w - i);
				out[w - i] = '\0';
				type = out;
				out += w - i + 1;
			}
		} else {
			if (w - i > MIME_EXT_MAX || memchr(buf + i, '/', w - i)) {
				mime_err(err, path, line, "%s", "invalid extension");
				errno = EINVAL;
				return -EINVAL;
			}
			if (out) {
				for (size_t k = i; k < w; k++)
					out[k - i] = (char)mime_lower((unsigned char)buf[k]);
				out[w - i] = '\0';
				mime_insert(t, out, type);
				out += w - i + 1;
			}
			(*next)++;
		}
		i = w;
	}
	return 0;
}

struct mime_table *mime_load(const char *path, struct config_error *err)
{
	struct mime_table *t;
	uint32_t next;
	size_t len;
	char *buf = mime_read(path, &len, err);
	char *pool;

	if (!buf)
		return NULL;
	if (mime_parse(buf, len, NULL, &next, path, err) < 0)
		goto out_free_buf;
	pool = malloc(len + 2);
	t = pool ? mime_alloc(next, pool) : NULL;
	if (!t) {
		free(pool);
		mime_err(err, path, 0, "%s", strerror(ENOMEM));
		errno = ENOMEM;
		goto out_free_buf;
	}
	mime_parse(buf, len, t, &next, path, err);
	free(buf);
	return t;

out_free_buf:
	free(buf);
	return NULL;
}

struct mime_table *mime_load_default(struct config_error *err)
{
	struct mime_table *t = mime_load(MIME_DEFAULT_FILE, err);

	if (!t && errno == ENOENT)
		return mime_builtin();
	return t;
}

const char *mime_lookup(const struct mime_table *t, const char *name, size_t len)
{
	size_t base = len, dot = len;
	char ext[MIME_EXT_MAX + 1];
	size_t n;
	uint32_t i;

	if (!t || !name)
		return MIME_DEFAULT_TYPE;
	while (base > 0 && name[base - 1] != '/')
		base--;
	for (size_t k = len; k > base; k--) {
		if (name[k - 1] == '.') {
			dot = k - 1;
			break;
		}
	}
	if (dot == len || dot == base || dot + 1 == len)
		return MIME_DEFAULT_TYPE;
	n = len - dot - 1;
	if (n > MIME_EXT_MAX)
		return MIME_DEFAULT_TYPE;
	for (size_t k = 0; k < n; k++)
		ext[k] = (char)mime_lower((unsigned char)name[dot + 1 + k]);
	ext[n] = '\0';
	for (i = mime_hash(ext, n) & t->mask; t->slot[i].ext; i = (i + 1) & t->mask) {
		if (strlen(t->slot[i].ext) == n && memcmp(t->slot[i].ext, ext, n) == 0)
			return t->slot[i].type;
	}
	return MIME_DEFAULT_TYPE;
}
