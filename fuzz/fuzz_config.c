/* libFuzzer target for the config parser: any text must parse or fail with every error
 * found (a message and a line each, the first one what config_parse() reports), never
 * crash, hang or read outside the given bytes; what parses must be internally consistent.
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

/* A ProxyPass or [P] target: "!" (-1), a backend, or a pool (CFG_BALANCER_BASE on). */
static int target_ok(const struct config *cfg, int t)
{
	if (t >= CFG_BALANCER_BASE)
		return t - CFG_BALANCER_BASE < (int)cfg->nbalancer;
	return t < (int)cfg->nbackend;
}

static void check_config(const struct config *cfg)
{
	static const char *paths[] = { "/", "/a", "/a/", "/a?b", "/apple", "" };

	if (cfg->nlisten > CFG_MAX_LISTEN || cfg->npass > CFG_MAX_PASS ||
	    cfg->nbackend > CFG_MAX_BACKENDS || cfg->nbalancer > CFG_MAX_BALANCERS ||
	    cfg->nhcexpr > CFG_MAX_HCEXPR)
		abort();
	for (unsigned i = 0; i < cfg->rw.nrule; i++)
		if (cfg->rw.rule[i].backend >= 0 && !target_ok(cfg, cfg->rw.rule[i].backend))
			abort();
	for (unsigned i = 0; i < cfg->npass; i++) {
		const struct cfg_pass *p = &cfg->pass[i];

		if (p->prefix[0] != '/' || p->prefix_len != strlen(p->prefix) ||
		    p->path_len != strlen(p->path) || !target_ok(cfg, p->backend) ||
		    (p->backend >= 0 && p->path[0] != '/'))
			abort();
	}
	for (unsigned i = 0; i < cfg->nbalancer; i++) {
		const struct cfg_balancer *b = &cfg->balancer[i];

		if (b->nmember == 0 || b->nmember > CFG_MAX_MEMBERS)
			abort();
		for (unsigned m = 0; m < b->nmember; m++)
			if (b->member[m].backend < 0 || b->member[m].backend >= (int)cfg->nbackend ||
			    b->member[m].lbfactor < 1 || b->member[m].lbfactor > 100 ||
			    b->member[m].hcexpr >= (int)cfg->nhcexpr || b->member[m].hcpasses < 1 ||
			    b->member[m].hcfails < 1 || b->member[m].hcinterval_ms < 1000)
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

/* An error of the text itself is tied to a line of it; one in a file an Include read may
 * be that file's (an unreadable one has no line). */
static void check_error(const struct config_error *e)
{
	char out[2048];

	if (e->msg[0] == '\0' || !memchr(e->msg, '\0', sizeof(e->msg)) ||
	    !memchr(e->file, '\0', sizeof(e->file)) || e->file[0] == '\0' ||
	    (strcmp(e->file, "fuzz.conf") == 0 && e->line == 0))
		abort();
	config_error_format(e, out, sizeof(out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static struct config_errors errs;
	struct config_error err;
	int rc, rc1;

	config_defaults(&cfg);
	rc = config_parse_all(&cfg, (const char *)data, size, "fuzz.conf", &errs);
	if (rc == 0) {
		if (errs.n != 0)
			abort();
		check_config(&cfg);
		config_free(&cfg);  /* rewrite rules and maps are allocated */
		return 0;
	}
	config_free(&cfg);
	/* a failure is -EINVAL with 1..CFG_MAX_ERRORS errors, each with a message */
	if (rc != -EINVAL || errs.n == 0 || errs.n > CFG_MAX_ERRORS)
		abort();
	for (unsigned i = 0; i < errs.n; i++)
		check_error(&errs.e[i]);
	/* config_parse() reports the first of them */
	config_defaults(&cfg);
	memset(&err, 0, sizeof(err));
	rc1 = config_parse(&cfg, (const char *)data, size, "fuzz.conf", &err);
	config_free(&cfg);
	if (rc1 != rc || err.line != errs.e[0].line || strcmp(err.msg, errs.e[0].msg) != 0 ||
	    strcmp(err.file, errs.e[0].file) != 0)
		abort();
	return 0;
}
