/* libFuzzer target for the static-file parsers: Range, HTTP-date, entity-tag lists, path
 * validation, the request-field scan and the MIME lookup.
 *
 * The input is copied into an exact-size heap buffer, so ASan reports any read past `len`.
 * Representation sizes and the clock come from a hash of the input, so every run of an input
 * is reproducible. Besides memory safety it checks each contract: a range lies inside the
 * file, a parsed date formats and parses back to itself, a path that passes the check has
 * no NUL, no leading '/' and no dot segment, a strong match implies a weak one, scanned
 * values lie inside the head.
 *
 *   make build/fuzz/fuzz_file && build/fuzz/fuzz_file -runs=200000 fuzz/corpus/fuzz_file
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/file.h"
#include "spliced/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mime_table *fz_mime;

static void fz_assert(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_file: invariant broken: %s\n", what);
		abort();
	}
}

static uint64_t fz_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static uint64_t fz_seed(const uint8_t *d, size_t n)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * UINT64_C(1099511628211);
	return h | 1;
}

static void fz_range(const char *buf, size_t len, uint64_t *rng)
{
	const uint64_t sizes[] = { 0, 1, 2, 4096, UINT64_MAX, fz_next(rng) % 100000,
				   fz_next(rng) };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t off = 0, n = 0, size = sizes[i];
		enum file_range r = file_range_parse(buf, len, size, &off, &n);

		fz_assert(r == FILE_RANGE_IGNORE || r == FILE_RANGE_ONE ||
				  r == FILE_RANGE_UNSATISFIABLE,
			  "range result");
		if (r == FILE_RANGE_ONE)
			fz_assert(n >= 1 && off < size && n <= size - off, "range inside the file");
		if (r != FILE_RANGE_IGNORE)
			fz_assert(size > 0, "empty file ignores Range");
	}
}

static void fz_date(const char *buf, size_t len, uint64_t *rng)
{
	int64_t now = (int64_t)(fz_next(rng) % UINT64_C(253402300799));
	int64_t t, back;
	char out[FILE_DATE_LEN + 1];

	/* If-Range: a weak tag never matches; a date matches only Last-Modified to the second. */
	if (len >= 2 && buf[0] == 'W' && buf[1] == '/')
		fz_assert(!file_if_range(buf, len, buf + 2, len - 2, 0, now), "weak If-Range");
	if (file_date_parse(buf, len, now, &t) != 0)
		return;
	fz_assert(file_if_range(buf, len, "\"x\"", 3, t, now) &&
			  !file_if_range(buf, len, "\"x\"", 3, t + 1, now),
		  "If-Range by date");
	fz_assert(len == 24 || len == 29 || (len >= 30 && len <= 33), "date length");
	fz_assert(file_date_format(t, out) == FILE_DATE_LEN && strlen(out) == FILE_DATE_LEN,
		  "format length");
	fz_assert(file_date_parse(out, FILE_DATE_LEN, now, &back) == 0 && back == t,
		  "date round trip");
}

static void fz_path(const char *buf, size_t len)
{
	int r = file_path_check(buf, len);
	size_t seg = 0;

	fz_assert(r == 0 || r == -EINVAL || r == -ENAMETOOLONG, "path result");
	if (r != 0)
		return;
	fz_assert(len == 0 || buf[0] != '/', "no leading slash");
	fz_assert(!memchr(buf, '\0', len), "no NUL");
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != '/')
			continue;
		fz_assert(!(i - seg == 1 && buf[seg] == '.'), "no . segment");
		fz_assert(!(i - seg == 2 && buf[seg] == '.' && buf[seg + 1] == '.'),
			  "no .. segment");
		seg = i + 1;
	}
}

static void fz_etag(const char *buf, size_t len)
{
	static const char *const tags[] = { "\"abc\"", "\"\"", "\"1-2-3\"" };

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		int s = file_etag_match(buf, len, tags[i], strlen(tags[i]), true);
		int w = file_etag_match(buf, len, tags[i], strlen(tags[i]), false);

		fz_assert(s >= -1 && s <= 1 && w >= -1 && w <= 1, "etag result");
		fz_assert((s < 0) == (w < 0), "strong and weak agree on syntax");
		fz_assert(s != 1 || w == 1, "strong match implies weak match");
	}
}

static void fz_val(const struct file_val *v, const char *buf, size_t len)
{
	if (!v->p || v->len == 0)
		return;
	fz_assert(v->p >= buf && v->p + v->len <= buf + len, "value inside the head");
	fz_assert(v->p[0] != ' ' && v->p[0] != '\t' && v->p[v->len - 1] != ' ' &&
			  v->p[v->len - 1] != '\t',
		  "value trimmed");
}

static void fz_cond(const char *buf, size_t len, uint64_t *rng)
{
	struct file_cond c;
	size_t from = len ? fz_next(rng) % (len + 1) : 0;

	file_cond_scan(&c, buf, from, len);
	fz_assert(c.n_if_match <= FILE_LIST_MAX + 1 && c.n_if_none_match <= FILE_LIST_MAX + 1,
		  "list counts");
	for (unsigned i = 0; i < c.n_if_match && i < FILE_LIST_MAX; i++)
		fz_val(&c.if_match[i], buf, len);
	for (unsigned i = 0; i < c.n_if_none_match && i < FILE_LIST_MAX; i++)
		fz_val(&c.if_none_match[i], buf, len);
	fz_val(&c.range, buf, len);
	fz_val(&c.if_range, buf, len);
	fz_val(&c.if_modified_since, buf, len);
	fz_val(&c.if_unmodified_since, buf, len);
	/* What the scan found goes through the parsers it is meant for. */
	if (c.range.p)
		fz_range(c.range.p, c.range.len, rng);
	if (c.if_modified_since.p)
		fz_date(c.if_modified_since.p, c.if_modified_since.len, rng);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rng = fz_seed(data, size);
	char *buf = malloc(size ? size : 1); /* exact size: ASan flags a read of buf[size] */
	const char *type;

	if (!buf)
		return 0;
	if (!fz_mime)
		fz_mime = mime_builtin();
	if (size)
		memcpy(buf, data, size);

	fz_range(buf, size, &rng);
	fz_date(buf, size, &rng);
	fz_path(buf, size);
	fz_etag(buf, size);
	fz_cond(buf, size, &rng);
	type = mime_lookup(fz_mime, buf, size);
	fz_assert(type && type[0], "a type");

	free(buf);
	return 0;
}
