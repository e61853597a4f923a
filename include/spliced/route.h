/* Routing: one decision per request, from the rewrite rules of its virtual host, then
 * ProxyPass, Alias and DocumentRoot. Pure: no I/O, no connection; conn.c acts on the
 * result (tests/check_route.c tests it on its own). */
#ifndef SPLICED_ROUTE_H
#define SPLICED_ROUTE_H

#include "spliced/rewrite-t.h"
#include "spliced/route-t.h"

/* Decides what to do with the request `in` (rw_input: path as normalized, host, etc.;
 * in->dst receives a rewritten target, which out->target, out->location and out->file
 * point into). files may be NULL (no DocumentRoot or Alias). Always fills *out. */
void route_request(const struct config *cfg, const struct file_roots *files,
		   struct rw_ctx *rw, const struct rw_input *in, struct route *out);

/* The root a URL-path is served from: the longest Alias prefix (at a segment boundary),
 * else DocumentRoot. *rel gets the offset of the path below that root. NULL: nothing
 * serves it. */
const struct file_root *route_file_root(const struct config *cfg, const struct file_roots *f,
					const char *path, uint32_t len, uint32_t *rel);

/* Percent-decodes a normalized URL-path (its escapes valid) into out[0..len] (out has
 * room for len + 1 bytes; a NUL is written after the path for the file probe). An encoded
 * slash or NUL does not name a file (as httpd with AllowEncodedSlashes Off): -1. */
int route_decode_path(const char *in, uint32_t len, char *out, uint32_t *outlen);

#endif
