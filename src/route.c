/* Routing: one decision per request; the contract is in include/spliced/route.h. */
#include <string.h>

#include "spliced/authz.h"
#include "spliced/config.h"
#include "spliced/rewrite.h"
#include "spliced/route.h"
#include "spliced/uri.h"

const struct file_root *route_file_root(const struct config *cfg, const struct file_roots *f,
					const char *path, uint32_t len, uint32_t *rel)
{
	int best = -1;

	for (unsigned i = 0; i < cfg->nalias; i++) {
		const struct cfg_alias *a = &cfg->alias[i];
		uint32_t n = a->prefix_len;

		/* "/static/" matches below it; "/static" also at a segment boundary. */
		if (n > len || memcmp(path, a->prefix, n) != 0)
			continue;
		if (a->prefix[n - 1] != '/' && n < len && path[n] != '/')
			continue;
		if (best < 0 || n > cfg->alias[best].prefix_len)
			best = (int)i;
	}
	if (best >= 0 && f) {
		uint32_t n = cfg->alias[best].prefix_len;

		/* "/static" + "/a.txt": the path below the root starts after the slash. */
		*rel = n < len && path[n] == '/' ? n + 1 : n;
		return &f->alias[best];
	}
	if (f && f->docroot.fd >= 0) {
		*rel = 1;
		return &f->docroot;
	}
	return NULL;
}

int route_decode_path(const char *in, uint32_t len, char *out, uint32_t *outlen)
{
	ssize_t n;

	if (memmem(in, len, "%2F", 3) || memmem(in, len, "%00", 3))
		return -1;
	n = uri_decode(in, len, out, len, NULL);
	if (n < 0)
		return -1;
	out[n] = 0;
	*outlen = (uint32_t)n;
	return 0;
}

static void route_status(struct route *out, unsigned status, const char *why, bool malformed)
{
	out->kind = ROUTE_STATUS;
	out->status = (uint16_t)status;
	out->why = why;
	out->malformed = malformed;
}

/* ProxyPass, then Alias and DocumentRoot, for the URL-path path[0..len). */
static void route_path(const struct config *cfg, const struct file_roots *files,
		       const char *path, uint32_t len, struct route *out)
{
	const struct cfg_pass *pass = config_route_scope(cfg, out->scope, path, len, &out->match);

	if (pass && pass->backend >= 0) {
		out->kind = ROUTE_PROXY;
		out->pass = pass;
		out->backend = pass->backend;
		return;
	}
	/* Not proxied: a <Location>'s SetHandler (a ProxyPass covering it wins, as in httpd) */
	if (cfg->authz.nloc) {
		int loc;
		enum authz_handler h = authz_handler(&cfg->authz, out->scope, path, len, &loc);

		if (h != AUTHZ_HANDLER_NONE) {
			out->kind = ROUTE_HANDLER;
			out->handler = (uint8_t)h;
			return;
		}
	}
	/* Not proxied ("ProxyPass /x !" included): Alias, then DocumentRoot. */
	out->root = route_file_root(cfg, files, path, len, &out->rel);
	if (!out->root) {
		route_status(out, 404, "nothing serves", false);
		return;
	}
	out->kind = ROUTE_FILE;
	if (out->rel > len)
		out->rel = len;
}

void route_request(const struct config *cfg, const struct file_roots *files,
		   struct rw_ctx *rw, const struct rw_input *in, struct route *out)
{
	struct rw_result res;

	memset(out, 0, sizeof(*out));
	out->rule = -1;
	out->backend = -1;
	if (rw_apply(cfg, rw, in, &res) < 0) {
		route_status(out, 500, "rewrite: invalid input", false);
		return;
	}
	out->scope = res.scope;
	out->rule = res.rule;
	out->rewrite = (uint8_t)res.kind;
	switch (res.kind) {
	case RW_NONE:
		route_path(cfg, files, in->path, (uint32_t)in->path_len, out);
		return;
	case RW_URL:
		out->target = res.out;
		out->target_len = res.out_len;
		route_path(cfg, files, res.out, (uint32_t)res.path_len, out);
		return;
	case RW_PROXY:
		out->kind = ROUTE_PROXY;
		out->target = res.out;
		out->target_len = res.out_len;
		out->backend = res.backend;
		return;
	case RW_FILE:
		if (res.root < 0 || !files || files->rwroot[res.root].fd < 0) {
			route_status(out, 404, "file root missing", false);
			return;
		}
		out->kind = ROUTE_FILE;
		out->root = &files->rwroot[res.root];
		out->file = res.out;
		out->file_len = (uint32_t)res.out_len;
		return;
	case RW_REDIRECT:
		out->kind = ROUTE_REDIRECT;
		out->status = res.status;
		out->location = res.out;
		return;
	case RW_STATUS:
	default:
		if (res.rule < 0 && res.status < 500)
			/* no rule decided: the engine could not take the path (an escape that
			 * decodes to NUL, a path too long) */
			route_status(out, res.status ? res.status : 400,
				     "path the rewrite engine cannot decode", true);
		else
			route_status(out, res.status ? res.status : 500, NULL, false);
		return;
	}
}
