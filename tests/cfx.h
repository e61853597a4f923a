/* The configuration fixture of the unit suites that load configurations through
 * config_parse() (so that config.c's hooks are tested with them): one configuration,
 * loaded from a text as the file "test.conf". */
#ifndef SPLICED_TESTS_CFX_H
#define SPLICED_TESTS_CFX_H

#include "spliced/config.h"

/* The configuration the last cfx_load()/cfx_refused() made (defaults after
 * cfx_setup()). */
extern struct config cfx_cfg;

/* Checked fixture (ck_add_cases()): a default configuration before each test, freed
 * after it. */
void cfx_setup(void);
void cfx_teardown(void);

/* Loads text into cfx_cfg (the previous one freed); fails the test, quoting the
 * error, unless it is accepted. */
void cfx_load(const char *text);

/* Fails the test unless text is refused with a message containing needle. */
void cfx_refused(const char *text, const char *needle);

#endif
