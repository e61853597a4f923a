/* Percent-encoding, escaping and dot-segment removal; the contract is in
 * include/spliced/uri.h. Nothing here allocates; everything is bounded by the lengths given. */
#include <string.h>

#include "spliced/uri.h"

/* unreserved and sub-delims: kept in paths and queries */
#define U_SAFE (URI_C_PATH | URI_C_QUERY | URI_C_QLAX)
#define U_ALNUM (U_SAFE | URI_C_ALNUM)

const uint8_t uri_cls[256] = {
	['!'] = U_SAFE, ['$'] = U_SAFE, ['&'] = U_SAFE, ['\''] = U_SAFE,
	['('] = U_SAFE, [')'] = U_SAFE, ['*'] = U_SAFE, ['+'] = U_SAFE,
	[','] = U_SAFE, [';'] = U_SAFE, ['='] = U_SAFE,
	['-'] = U_SAFE, ['.'] = U_SAFE, ['_'] = U_SAFE, ['~'] = U_SAFE,
	[':'] = U_SAFE, ['@'] = U_SAFE, ['/'] = U_SAFE,
	['?'] = URI_C_QUERY | URI_C_QLAX,
	['['] = URI_C_QLAX, [']'] = URI_C_QLAX, ['{'] = URI_C_QLAX, ['}'] = URI_C_QLAX,
	['|'] = URI_C_QLAX, ['^'] = URI_C_QLAX, ['\\'] = URI_C_QLAX, ['`'] = URI_C_QLAX,
	['0' ... '9'] = U_ALNUM | URI_C_HEX,
	['A' ... 'F'] = U_ALNUM | URI_C_HEX,
	['G' ... 'Z'] = U_ALNUM,
	['a' ... 'f'] = U_ALNUM | URI_C_HEX,
	['g' ... 'z'] = U_ALNUM,
};

ssize_t uri_decode(const char *src, size_t len, char *dst, size_t cap, uint8_t *esc)
{
	size_t i = 0, o = 0;

	while (i < len) {
		bool enc = src[i] == '%';

		if (o == cap)
			return -1;
		if (enc && !uri_is_pct(src + i, len - i))
			return -1;
		if (enc) {
			dst[o] = (char)(uri_hexval((unsigned char)src[i + 1]) << 4 |
					uri_hexval((unsigned char)src[i + 2]));
			i += 3;
		} else {
			dst[o] = src[i++];
		}
		if (esc)
			esc[o] = enc ? URI_ESC : 0;
		o++;
	}
	return (ssize_t)o;
}

ssize_t uri_unescape(const char *src, size_t len, char *dst, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < len) {
		if (o == cap)
			return -1;
		if (uri_is_pct(src + i, len - i) && (src[i + 1] != '0' || src[i + 2] != '0')) {
			dst[o++] = (char)(uri_hexval((unsigned char)src[i + 1]) << 4 |
					  uri_hexval((unsigned char)src[i + 2]));
			i += 3;
		} else {
			dst[o++] = src[i++];
		}
	}
	return (ssize_t)o;
}

ssize_t uri_escape_path(const char *src, size_t len, char *dst, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (uri_is(c, URI_C_PATH)) {
			if (o == cap)
				return -1;
			dst[o++] = (char)c;
		} else {
			if (cap - o < 3)
				return -1;
			uri_pct(dst + o, c);
			o += 3;
		}
	}
	return (ssize_t)o;
}

void uri_bset_default(uint8_t set[32])
{
	for (unsigned c = 0; c < 256; c++) {
		bool keep = uri_is((unsigned char)c, URI_C_ALNUM) || c == '_';

		if (keep)
			set[c >> 3] &= (uint8_t)~(1u << (c & 7));
		else
			set[c >> 3] |= (uint8_t)(1u << (c & 7));
	}
}

ssize_t uri_escape_backref(const char *src, size_t len, char *dst, size_t cap,
			   const uint8_t set[32], bool noplus)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = !uri_bset_has(set, c);

		if (plain || (c == ' ' && !noplus)) {
			if (o == cap)
				return -1;
			dst[o++] = plain ? (char)c : '+';
		} else {
			if (cap - o < 3)
				return -1;
			uri_pct(dst + o, c);
			o += 3;
		}
	}
	return (ssize_t)o;
}

static inline bool uri_sep(const char *p, const uint8_t *esc, size_t i)
{
	return p[i] == '/' && !(esc && (esc[i] & URI_ESC));
}

/* One segment p[s..e) copied to p[w..); the caller moves w. */
static void uri_move(char *p, uint8_t *esc, size_t w, size_t s, size_t e)
{
	memmove(p + w, p + s, e - s);
	if (esc)
		memmove(esc + w, esc + s, e - s);
}

ssize_t uri_normalize(char *p, size_t len, uint8_t *esc, unsigned flags)
{
	size_t r = 1, w = 1;  /* read and write positions, both right after a separator */

	if (len == 0 || !uri_sep(p, esc, 0))
		return -1;
	while (r <= len) {
		size_t e = r;
		bool last;

		while (e < len && !uri_sep(p, esc, e))
			e++;
		last = e == len;
		if (e - r == 1 && p[r] == '.') {
			/* "." : dropped; a trailing one leaves the slash before it */
		} else if (e - r == 2 && p[r] == '.' && p[r + 1] == '.') {
			if (w == 1)
				return -1;
			for (w--; !uri_sep(p, esc, w - 1); w--)
				;
		} else if (e == r && !last && (flags & URI_MERGE_SLASHES)) {
			/* an empty segment inside the path: "//" merged */
		} else {
			uri_move(p, esc, w, r, e);
			w += e - r;
			if (!last) {
				p[w] = '/';
				if (esc)
					esc[w] = 0;
				w++;
			}
		}
		r = e + 1;
	}
	return (ssize_t)w;
}

bool uri_target_valid(const char *s, size_t len)
{
	unsigned cls = URI_C_PATH;
	size_t i = 0;

	if (len == 0 || s[0] != '/')
		return false;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (!uri_is_pct(s + i, len - i))
				return false;
			i += 3;
			continue;
		}
		if (c == '?' && cls == URI_C_PATH)
			cls = URI_C_QLAX;
		else if (!uri_is(c, cls))
			return false;
		i++;
	}
	return true;
}

static bool uri_query_byte_unsafe(unsigned char c)
{
	return uri_is(c, URI_C_QLAX) && !uri_is(c, URI_C_QUERY);
}

size_t uri_query_unsafe(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += uri_query_byte_unsafe((unsigned char)s[i]);
	return n;
}

ssize_t uri_escape_query_unsafe(const char *s, size_t len, char *dst, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool esc = uri_query_byte_unsafe(c);

		if (cap - o < (esc ? 3u : 1u))
			return -1;
		if (esc) {
			uri_pct(dst + o, c);
			o += 3;
		} else {
			dst[o++] = (char)c;
		}
	}
	return (ssize_t)o;
}

bool uri_dot_params(const char *path, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t dots = 0;

		if (path[i] != '/')
			continue;
		while (i + 1 + dots < len && dots < 3 && path[i + 1 + dots] == '.')
			dots++;
		if ((dots == 1 || dots == 2) && i + 1 + dots < len && path[i + 1 + dots] == ';')
			return true;
	}
	return false;
}

bool uri_location_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

void uri_tolower(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] + ('a' - 'A'));
}

void uri_toupper(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - ('a' - 'A'));
}
