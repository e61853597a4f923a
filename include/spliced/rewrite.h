/* mod_rewrite for spliced: RewriteRule/RewriteCond/RewriteMap as Apache httpd 2.4 runs them
 * in server and virtual-host context, with one deliberate difference: escaping.
 *
 * ESCAPING (where spliced is better than Apache). A rewrite works on decoded bytes (the
 * pattern sees the decoded, dot-normalised URL-path, as in Apache) but every byte carries
 * where it came from, and the output is escaped exactly once at the end:
 *  - bytes of the request path that arrived percent-encoded keep a mark and go out
 *    encoded again: "/a%2Fb" forwarded through ^(.*)$ stays "/a%2Fb", "%3F" stays "%3F";
 *  - a '?' splits path from query only when it is written in the configuration (the
 *    substitution, a txt: map value, a map default), never when it comes from the request:
 *    a decoded "%3F" in $1 goes out as "%3F" in the path;
 *  - ${escape:...} marks the bytes it escapes instead of writing "%XX" text, so the final
 *    escape does not escape them again: http://B/${escape:$1} sends "/a%20b", never
 *    "/a%2520b" (Apache 2.4's double escape);
 *  - %{QUERY_STRING} and THE_REQUEST are inserted as the escaped text they are; an
 *    unrewritten query is forwarded byte for byte;
 *  - runs of '/' in a rewritten local path are merged (Apache's MergeSlashes), so
 *    "http://B/" + "/x" sends "/x": a request-target or local Location never starts with
 *    "//", which many frameworks (and browsers, for Location) read as an authority;
 *  - [NE] emits the configuration's own text unescaped (Apache's example "\%3d" -> "%3d",
 *    "#$1" -> "#..."); request data is still escaped; a request-target must still be valid
 *    for our own parser and a Location must hold no SP, CTL, DEL or non-ASCII byte, else
 *    the decision is 500 and the error log names the rule.
 *
 * Other decisions, for the record:
 *  - virtual hosts: the first <VirtualHost> whose port matches and whose ServerName or a
 *    ServerAlias matches the Host header (port stripped, case-insensitive, wildcards) is
 *    chosen; if none does, the main server's rules apply (httpd would take the first
 *    virtual host of the address).
 *  - a substitution starting with '/' is a filesystem path when its first segment is
 *    literal and exists at load time (httpd stats it per request); its root is the
 *    literal directory prefix of the substitution. [PT] or [R] makes it a URL-path.
 *  - [P] needs a literal "http://host[:port]" in the substitution: the backend is fixed at
 *    load time; what follows it is the path (a '/' is added if it does not start with one).
 *  - local redirects use a path-absolute Location ("/new"); absolute URLs are kept. A
 *    redirect to http://<this host>/... without [R] becomes a local rewrite (as httpd).
 *  - %00 or a ".." above the root in the request path: 400. An expansion longer than
 *    RW_PATH_MAX: 500.
 *  - a trailing group of [OR] conditions that all fail makes the rule fail (httpd lets the
 *    rule apply).
 *  - not supported (a load error, never silently ignored): flags CO, E, T, H, QSL; map
 *    types prg, rnd, dbm, dbd; condition tests -l -L -h -x -F -U and expr. [NS], [DPI],
 *    [UnsafeAllow3F], [UnsafePrefixStat] are accepted and do nothing (no subrequests, no
 *    PATH_INFO, '?' is always safe here). */
#ifndef SPLICED_REWRITE_H
#define SPLICED_REWRITE_H

#include "spliced/config-t.h"
#include "spliced/rewrite-t.h"

/* ---- the decision, on the request path ---- */

/* A worker's scratch space: match data, JIT stack, expansion buffers, and O_PATH
 * descriptors of cfg->file_root[] for -f/-d/-s conditions (opened here; a root that cannot
 * be opened makes those tests false). One per thread; `cfg` must outlive it. NULL when out
 * of memory. If the configuration asks for rewrite tracing (LogLevel rewrite:traceN), the
 * trace goes to the error log (log_trace()). */
struct rw_ctx *rw_ctx_create(const struct config *cfg);
void rw_ctx_free(struct rw_ctx *ctx);

/* Sends the trace to fn (NULL: off). level > 0 traces every request at that level
 * whatever the configuration says (the rewrite tester); 0 follows LogLevel. */
void rw_ctx_trace(struct rw_ctx *ctx, rw_trace_fn *fn, void *opaque, unsigned level);

/* Runs the rules that apply to `in` and fills *out. Allocates nothing, never blocks
 * (except stat-like lookups of -f/-d/-s conditions under a file root). Returns 0, or
 * -EINVAL when an argument is NULL. Every request-level problem is a result, not an
 * error. What the caller does with out->kind:
 *  RW_NONE     no rule changed anything: route the original target (config_route_scope()).
 *  RW_URL      route out[0..out_len) = escaped path[?query] as if it were the request's
 *              target (ProxyPass of out->scope, then local files). passthrough = [PT].
 *  RW_PROXY    send "METHOD out HTTP/1.x" to cfg->backend[out->backend]: out is an
 *              origin-form target, escaped once, valid (uri_target_valid()), with query.
 *  RW_FILE     serve out (decoded, normalised, relative: no leading '/', no ".."; "" is
 *              the root itself) beneath cfg->file_root[out->root]; the query is dropped.
 *  RW_REDIRECT answer out->status (3xx) with Location: out.
 *  RW_STATUS   answer out->status: 403 [F], 410 [G], R=4xx/5xx, 400 bad path, 404 a file
 *              path that leaves its root, 500 loop limit or invalid output.
 * out->scope is the chosen virtual host (always set, also for RW_NONE), out->rule the
 * index in cfg->rw.rule of the rule that decided (-1: none). `out` points into in->dst
 * (or into ctx when in->dst is NULL) and is NUL-terminated; if it does not fit in
 * in->dst_cap the decision is RW_STATUS 500. */
int rw_apply(const struct config *cfg, struct rw_ctx *ctx, const struct rw_input *in,
	     struct rw_result *out);

const char *rw_kind_name(enum rw_kind kind);

/* ---- the compiler, called by config.c while parsing ---- */

/* What config.c registers for a rule it just added: a backend for [P], a file root for a
 * filesystem substitution; it stores the indexes in rule.backend / rule.root. */
struct rw_rule_info {
	char proxy_url[CFG_NAME_MAX];   /* "http://authority" or "unix:/socket|http://authority",
					 * or "" */
	char root[CFG_PATH_MAX];        /* directory, or "" */
};

/* argv holds the directive's arguments (not its name). Each returns >= 0 (an index) or
 * -EINVAL/-ENOMEM with a message (without the directive's name) in msg. */
int rw_cond_add(struct rw_prog *p, unsigned scope, unsigned line, unsigned argc,
		char **argv, char *msg, size_t msglen);
int rw_rule_add(struct rw_prog *p, unsigned scope, unsigned line, unsigned argc,
		char **argv, struct rw_rule_info *info, char *msg, size_t msglen);
int rw_map_add(struct rw_prog *p, unsigned scope, const char *name, const char *spec,
	       char *msg, size_t msglen);

/* After the whole file: resolves map names, refuses conditions without a rule, and builds
 * each scope's rule list (RewriteOptions Inherit). *line gets the line of an error. */
int rw_prog_finish(struct rw_prog *p, const struct config *cfg, unsigned *line, char *msg,
		   size_t msglen);

/* Frees everything; *p is then empty (all zero). */
void rw_prog_free(struct rw_prog *p);

/* httpd's atoi() for -eq & co: blanks, a sign, digits; saturates instead of overflowing. */
int64_t rw_atoi(const char *s, size_t len);

#endif
