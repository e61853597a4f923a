/* Percent-encoding, escaping and path normalisation for URLs (src/uri.c).
 *
 * Every function works on explicit lengths (never on NUL termination), never reads past
 * the length it is given, and writes at most `cap` bytes; output buffers are never
 * NUL-terminated by these functions. Functions returning ssize_t return the number of
 * bytes written, or -1 when the input is invalid or the output does not fit.
 *
 * The character sets (RFC 3986):
 *   path-safe  = unreserved / sub-delims / ":" / "@" / "/"      (a path byte kept as is)
 *   query-safe = path-safe / "?"                                  (a query byte kept as is)
 * Apache's ap_escape_uri() keeps exactly the path-safe set, so int:escape is
 * uri_escape_path(). '%', '#', '?', SP, CTLs, DEL and non-ASCII bytes are always escaped
 * in a path. */
#ifndef SPLICED_URI_H
#define SPLICED_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Per-byte flag of a decoded string (see uri_decode()): the byte was percent-encoded in
 * its source, so it must be written percent-encoded again ("%2F" stays "%2F"). */
#define URI_ESC 0x01

/* uri_normalize() flags */
#define URI_MERGE_SLASHES 0x01  /* "//" -> "/" (Apache's MergeSlashes On, the default) */

enum {
	URI_C_PATH = 1 << 0,   /* path-safe */
	URI_C_QUERY = 1 << 1,  /* query-safe */
	URI_C_QLAX = 1 << 2,   /* accepted raw in a query by our request parser (http.c):
				* query-safe and [ ] { } | ^ \ ` */
	URI_C_ALNUM = 1 << 3,
	URI_C_HEX = 1 << 4,
};

extern const uint8_t uri_cls[256];

static inline bool uri_is(unsigned char c, unsigned cls)
{
	return uri_cls[c] & cls;
}

static inline unsigned uri_hexval(unsigned char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Writes "%XX" (upper-case hex) for c at dst[0..3). */
static inline void uri_pct(char *dst, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";

	dst[0] = '%';
	dst[1] = hex[c >> 4];
	dst[2] = hex[c & 15];
}

/* True when s[0..len) starts with a valid "%XX" triplet. */
static inline bool uri_is_pct(const char *s, size_t len)
{
	return len >= 3 && s[0] == '%' && uri_is((unsigned char)s[1], URI_C_HEX) &&
	       uri_is((unsigned char)s[2], URI_C_HEX);
}

/* Strict percent-decoding of src[0..len): every '%' must start a "%XX" triplet. If `esc`
 * is not NULL, esc[i] is set to URI_ESC for each output byte i that came from a triplet
 * and to 0 for the others (esc must have room for `cap` bytes). The output is never
 * longer than the input, so cap >= len means -1 can only mean a malformed escape. */
ssize_t uri_decode(const char *src, size_t len, char *dst, size_t cap, uint8_t *esc);

/* Lenient decoding for RewriteMap int:unescape (Apache's ap_unescape_url): a '%' that
 * does not start a triplet is copied as is, and so is "%00" (a NUL never enters a path). */
ssize_t uri_unescape(const char *src, size_t len, char *dst, size_t cap);

/* Escapes every byte outside the path-safe set as "%XX" (RewriteMap int:escape). An
 * existing "%XX" is escaped too ("%" -> "%25"): the input is text, not a URL. */
ssize_t uri_escape_path(const char *src, size_t len, char *dst, size_t cap);

/* The [B] flag: escapes the bytes whose bit is set in set[256/8] ("%XX"); a space in the
 * set becomes '+' unless `noplus` ([BNP]). uri_bset_default() fills the set of plain [B]:
 * everything but ASCII letters, digits and '_' (as Apache's escape_backref()). */
ssize_t uri_escape_backref(const char *src, size_t len, char *dst, size_t cap,
			   const uint8_t set[32], bool noplus);
void uri_bset_default(uint8_t set[32]);

static inline bool uri_bset_has(const uint8_t set[32], unsigned char c)
{
	return set[c >> 3] & (1u << (c & 7));
}

/* RFC 3986 5.2.4 remove_dot_segments, in place, on a decoded absolute path p[0..len)
 * (p[0] must be '/'). With `esc` (parallel flags, compacted along with p), a '/' flagged
 * URI_ESC is data, not a separator ("a%2F..%2Fb" is one segment); without it every '/'
 * separates. "." and ".." are recognised by their decoded bytes ("%2E%2E" is ".."), as
 * RFC 3986 6.2.2.2 makes them equivalent. Returns the new length, or -1 when p[0] is not
 * '/' or a ".." would climb above the root (the path is rejected, never clamped). */
ssize_t uri_normalize(char *p, size_t len, uint8_t *esc, unsigned flags);

/* True when s[0..len) is an origin-form request-target our own request parser accepts:
 * "/" path bytes path-safe or "%XX", then optionally "?" and query bytes URI_C_QLAX or
 * "%XX". What the proxy sends upstream always passes this. */
bool uri_target_valid(const char *s, size_t len);

/* How many bytes of the query s[0..len) our parser accepts raw but a URI cannot hold
 * ([ ] { } | ^ \ and backquote: URI_C_QLAX but not query-safe). */
size_t uri_query_unsafe(const char *s, size_t len);

/* Copies the query s[0..len), writing those bytes as "%XX" (so the target sent upstream is
 * a valid URI); everything else, "%XX" triplets included, as is. */
ssize_t uri_escape_query_unsafe(const char *s, size_t len, char *dst, size_t cap);

/* True when a segment of path[0..len) is "." or ".." followed by ";params": Java servers
 * strip the parameters and then take the dot segment ("/public/..;/admin" is /admin for
 * them), so such a path cannot be routed by its prefix. */
bool uri_dot_params(const char *path, size_t len);

/* True when s[0..len) may be a Location value: no SP, CTL, DEL or non-ASCII byte. */
bool uri_location_valid(const char *s, size_t len);

void uri_tolower(char *s, size_t len);
void uri_toupper(char *s, size_t len);

#endif
