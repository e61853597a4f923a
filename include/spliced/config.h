/* Apache-style configuration: parsed once at start-up into an immutable struct config. */
#ifndef SPLICED_CONFIG_H
#define SPLICED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "spliced/config-t.h"

/* Fills *cfg with the defaults of every directive and no Listen/ProxyPass. Call it on a
 * fresh or freed config only: it does not free what a parse allocated. */
void config_defaults(struct config *cfg);

/* Frees what config_parse() allocated (compiled rewrite rules, maps) and leaves *cfg as
 * config_defaults() does. Safe after a failed parse and on a defaulted config. */
void config_free(struct config *cfg);

/* Parses directives from text[0..len) into *cfg, which config_defaults() prepared.
 * `file` names the source in messages. Returns 0, or -EINVAL with *err set to the file, line
 * and reason of the first error (unknown directive, wrong argument count, bad value,
 * unresolvable address). Nothing is started by a failed parse. */
int config_parse(struct config *cfg, const char *text, size_t len, const char *file,
		 struct config_error *err);

/* config_parse() that goes on after an error: the rest of that line is skipped and the
 * next line read, except after an error in a section tag (<VirtualHost>, <IfModule>, ...)
 * or in the reading itself (a NUL byte, a line too long), which ends the parse, as does
 * the CFG_MAX_ERRORS-th error. Every error goes to errs (which it resets), in file order;
 * errs->e[0] is the error config_parse() reports. The checks of the whole (map names,
 * ProxyAutostart and retry=) run only when the lines had no error, so one mistake is not
 * reported twice. Returns 0, or -EINVAL when errs->n > 0. */
int config_parse_all(struct config *cfg, const char *text, size_t len, const char *file,
		     struct config_errors *errs);

/* config_defaults() (so *cfg must be fresh or freed) + reads and parses `path`; then checks the whole (at least one Listen,
 * something to serve: a ProxyPass, DocumentRoot, Alias, or a RewriteRule that proxies or
 * names a file). Returns 0 or -errno/-EINVAL with *err set to the first error (what
 * config_load_all() would put in errs->e[0]). */
int config_load(struct config *cfg, const char *path, struct config_error *err);

/* config_load() collecting every error (config_parse_all()); the checks of the whole run
 * only when the lines had no error. Returns 0, -errno when the file cannot be read, or
 * -EINVAL; errs->n > 0 whenever it fails. */
int config_load_all(struct config *cfg, const char *path, struct config_errors *errs);

/* config_load() without the checks of the whole: for tools that only look at rules
 * (tools/rewritetest). err must not be NULL. */
int config_load_file(struct config *cfg, const char *path, struct config_error *err);

/* The built-in configuration used without -c. When config_builtin_demo(): Listen
 * 127.0.0.1:8080, DocumentRoot DATADIR/demo/site, ProxyPass /app/ http://127.0.0.1:8000/
 * and a ProxyAutostart of DATADIR/demo/app.py (a CherryPy application) for it. Otherwise
 * Listen 127.0.0.1:8080 and ProxyPass / http://127.0.0.1:8000/. */
int config_builtin(struct config *cfg, struct config_error *err);

/* The demo's files (DATADIR/demo, DATADIR = the source tree the binary was built in) and
 * /usr/bin/python3 are there: looked at by the first call of the process, the answer kept
 * (a reload after the privilege drop reads the same built-in configuration). */
bool config_builtin_demo(void);

/* The first ProxyPass of the main server whose prefix matches the URL-path path[0..len),
 * or NULL. An excluded prefix ("!") is returned too: the caller checks backend < 0. */
const struct cfg_pass *config_route(const struct config *cfg, const char *path, size_t len);

/* The same for a scope (config_vhost(), rw_result.scope): the virtual host's own ProxyPass
 * lines first, then the main server's. Prefixes match at segment boundaries, and a
 * ";params" part of a segment counts as absent ("/admin;x/b" is matched by "/admin/");
 * *matched (when not NULL) gets the bytes of path the prefix covers. */
const struct cfg_pass *config_route_scope(const struct config *cfg, unsigned scope,
					  const char *path, size_t len, uint32_t *matched);

/* The <VirtualHost> for a request: the first whose port matches `port` (the local port)
 * and whose ServerName, or one of whose ServerAlias patterns ('*', '?'), matches the host
 * of host[0..len) (a Host value: port and trailing dots dropped, case-insensitive).
 * 0 (the main server) when none matches or host is NULL. */
unsigned config_vhost(const struct config *cfg, const char *host, size_t len, unsigned port);

/* The ErrorDocument for `status` in `scope`, else the main server's; NULL when none (or
 * "ErrorDocument CODE default" in the virtual host). */
const struct cfg_errdoc *config_errdoc(const struct config *cfg, unsigned scope,
				       unsigned status);

/* ProxyPreserveHost in `scope` (the main server's when the virtual host does not say). */
bool config_preserve_host(const struct config *cfg, unsigned scope);

/* Registers a directory files are served from (absolute, no trailing '/' but "/" itself;
 * the same directory twice is one entry). Returns its index in cfg->file_root, -EINVAL
 * or -ENOSPC (CFG_MAX_ROOTS). */
int config_file_root(struct config *cfg, const char *dir);

/* out->file and out->line of the directive at w (out->msg is left alone). */
/* The port of a Listen line. */
unsigned config_listen_port(const struct cfg_listen *l);

void config_where(const struct config *cfg, const struct cfg_where *w, struct config_error *out);
/* RemoteIPProxyProtocol for connections to local port `port`: the setting of the
 * <VirtualHost> sections naming that port (or any port), else the main server's (default
 * Off). A port two sections disagree on is refused when the configuration is read. */
bool config_proxy_protocol(const struct config *cfg, unsigned port);

/* RemoteIPProxyProtocolExceptions: the peer address ip (text) may speak plain HTTP on
 * local port `port` (a range of the main server, or of a <VirtualHost> naming the port). */
bool config_proxy_exception(const struct config *cfg, unsigned port, const char *ip);

/* A backend target (cfg_pass.backend, a [P] rule's backend): the balancer it names, or
 * NULL when it is a backend (config.backend[target]). */
static inline const struct cfg_balancer *config_balancer(const struct config *cfg, int target)
{
	return target >= CFG_BALANCER_BASE ? &cfg->balancer[target - CFG_BALANCER_BASE] : NULL;
}

/* The name of a backend target, for messages: "http://host:port" or "balancer://NAME". */
static inline const char *config_target_name(const struct config *cfg, int target)
{
	return target >= CFG_BALANCER_BASE ? cfg->balancer[target - CFG_BALANCER_BASE].name
					   : cfg->backend[target].name;
}

/* Formats "file:line: msg" (or "file: msg") into out. */
void config_error_format(const struct config_error *err, char *out, size_t outlen);

#endif
