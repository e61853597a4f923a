/* The configuration fixture of the unit suites (see cfx.h). */
#include <check.h>
#include <string.h>

#include "cfx.h"

struct config cfx_cfg;
static struct config_error cfx_err;

void cfx_setup(void)
{
	config_defaults(&cfx_cfg);
}

void cfx_teardown(void)
{
	config_free(&cfx_cfg);
}

/* config_free() leaves the defaults: the next text loads into a fresh configuration. */
static int cfx_parse(const char *text)
{
	config_free(&cfx_cfg);
	return config_parse(&cfx_cfg, text, strlen(text), "test.conf", &cfx_err);
}

void cfx_load(const char *text)
{
	ck_assert_msg(cfx_parse(text) == 0, "%s: %s", text, cfx_err.msg);
}

void cfx_refused(const char *text, const char *needle)
{
	ck_assert_msg(cfx_parse(text) < 0, "accepted: %s", text);
	ck_assert_msg(strstr(cfx_err.msg, needle), "message \"%s\" lacks \"%s\"",
		      cfx_err.msg, needle);
}
