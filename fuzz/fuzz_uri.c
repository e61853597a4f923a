/* libFuzzer target for src/uri.c: decoding, escaping, dot segments. Properties checked:
 * decoding never grows; what uri_escape_path() writes decodes back to its input and is a
 * valid request-target when it starts with '/'; normalisation leaves no dot segment, keeps
 * the leading '/', is idempotent and only shrinks; the flags follow their bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dec[8192], enc[3 * 8192], back[8192];
static uint8_t esc[8192];

static bool has_dot_segment(const char *p, size_t n, const uint8_t *f)
{
	for (size_t i = 1; i <= n; i++) {
		size_t e = i;

		while (e < n && !(p[e] == '/' && !(f && (f[e] & URI_ESC))))
			e++;
		if ((e - i == 1 && p[i] == '.') || (e - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			return true;
		i = e;
	}
	return false;
}

static void check_normalize(char *p, size_t n, uint8_t *f, unsigned flags)
{
	ssize_t m = uri_normalize(p, n, f, flags), m2;

	if (m < 0)
		return;
	if ((size_t)m > n || m == 0 || p[0] != '/' || has_dot_segment(p, (size_t)m, f))
		abort();
	if ((flags & URI_MERGE_SLASHES) && memmem(p, (size_t)m, "//", 2) && !f)
		abort();
	m2 = uri_normalize(p, (size_t)m, f, flags);
	if (m2 != m)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	uint8_t set[32];
	ssize_t n, e, b;

	if (size > sizeof(dec))
		return 0;
	n = uri_decode(in, size, dec, sizeof(dec), esc);
	if (n > (ssize_t)size)
		abort();
	if (n >= 0 && n && dec[0] == '/' && !esc[0])
		check_normalize(dec, (size_t)n, esc, URI_MERGE_SLASHES);
	if ((n = uri_unescape(in, size, dec, sizeof(dec))) < 0 || n > (ssize_t)size)
		abort();
	/* escape, then decode: the input again, and a valid target if it is a path */
	e = uri_escape_path(in, size, enc, sizeof(enc));
	if (e < 0 || uri_decode(enc, (size_t)e, back, sizeof(back), NULL) != (ssize_t)size ||
	    memcmp(back, in, size) != 0)
		abort();
	if (size && in[0] == '/' && !uri_target_valid(enc, (size_t)e))
		abort();
	if (!uri_location_valid(enc, (size_t)e))
		abort();
	uri_bset_default(set);
	b = uri_escape_backref(in, size, enc, sizeof(enc), set, size & 1);
	if (b < 0 || (size_t)b < size)
		abort();
	for (ssize_t i = 0; i < b; i++)
		if (!uri_is((unsigned char)enc[i], URI_C_ALNUM) && !strchr("_%+", enc[i]))
			abort();
	if (size && in[0] == '/') {
		memcpy(back, in, size);
		check_normalize(back, size, NULL, size & 2 ? URI_MERGE_SLASHES : 0);
	}
	return 0;
}
