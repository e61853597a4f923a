/* libFuzzer target for the config parser: any text must parse or fail with a message and
 * a line, never crash, hang or read outside the given bytes; what parses must be
 * internally consistent.
 *
 * Names resolve through fuzz/resolver.c (127.0.0.1, no DNS). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const struct config *cfg)
{
	static const char *paths[] = { "/", "/a", "/a/", "/a?b", "/apple", "" };

	if (cfg->nlisten > CFG_MAX_LISTEN || cfg->npass > CFG_MAX_PASS ||
	    cfg->nbackend > CFG_MAX_BACKENDS)
		abort();
	for (unsigned i = 0; i < cfg->npass; i++) {
		const struct cfg_pass *p = &cfg->pass[i];

		if (p->prefix[0] != '/' || p->prefix_len != strlen(p->prefix) ||
		    p->path_len != strlen(p->path) || p->backend >= (int)cfg->nbackend ||
		    (p->backend >= 0 && p->path[0] != '/'))
			abort();
	}
	for (unsigned i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].addrlen == 0 || cfg->listen[i].name[0] == '\0')
			abort();
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const struct cfg_pass *p = config_route(cfg, paths[i], strlen(paths[i]));

		if (p && (p < cfg->pass || p >= cfg->pass + cfg->npass))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	struct config_error err;
	char out[2048];
	int rc;

	config_defaults(&cfg);
	memset(&err, 0, sizeof(err));
	rc = config_parse(&cfg, (const char *)data, size, "fuzz.conf", &err);
	if (rc == 0) {
		check_config(&cfg);
		config_free(&cfg);  /* rewrite rules and maps are allocated */
		return 0;
	}
	config_free(&cfg);
	/* a failure is -EINVAL, tied to a line, with a message */
	if (rc != -EINVAL || err.line == 0 || err.msg[0] == '\0' ||
	    strcmp(err.file, "fuzz.conf") != 0 || !memchr(err.msg, '\0', sizeof(err.msg)))
		abort();
	config_error_format(&err, out, sizeof(out));
	return 0;
}
