/* Apache-style configuration: parsed once at start-up into an immutable struct config. */
#ifndef SPLICED_CONFIG_H
#define SPLICED_CONFIG_H

#include <stddef.h>

#include "spliced/config-t.h"

/* Fills *cfg with the defaults of every directive and no Listen/ProxyPass. */
void config_defaults(struct config *cfg);

/* Parses directives from text[0..len) into *cfg, which config_defaults() prepared.
 * `file` names the source in messages. Returns 0, or -EINVAL with *err set to the file, line
 * and reason of the first error (unknown directive, wrong argument count, bad value,
 * unresolvable address). Nothing is started by a failed parse. */
int config_parse(struct config *cfg, const char *text, size_t len, const char *file,
		 struct config_error *err);

/* config_defaults() + reads and parses `path`; then checks the whole (at least one Listen,
 * at least one ProxyPass). Returns 0 or -errno/-EINVAL with *err set. */
int config_load(struct config *cfg, const char *path, struct config_error *err);

/* The built-in configuration used without -c: Listen 127.0.0.1:8080 and
 * ProxyPass / http://127.0.0.1:8000/. */
int config_builtin(struct config *cfg, struct config_error *err);

/* The first ProxyPass whose prefix matches the URL-path path[0..len), or NULL. An
 * excluded prefix ("!") is returned too: the caller checks backend < 0. */
const struct cfg_pass *config_route(const struct config *cfg, const char *path, size_t len);

/* Formats "file:line: msg" (or "file: msg") into out. */
void config_error_format(const struct config_error *err, char *out, size_t outlen);

#endif
