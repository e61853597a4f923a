/* `spliced -t` beyond the syntax: what start-up would find missing, looked up without
 * starting anything, binding a configured port or changing privileges. */
#ifndef SPLICED_CFGCHECK_H
#define SPLICED_CFGCHECK_H

#include <stdbool.h>

#include "spliced/config-t.h"

/* Called once per finding, in configuration order (file by file, the main one first;
 * then what no directive gave). e->file and e->line name the directive (line 0: none, a
 * default); e->msg starts with the directive's name. A warning is what start-up only
 * logs; an error stops it. */
typedef void cfgcheck_report(void *arg, bool warning, const struct config_error *e);

/* Checks a configuration config_load() accepted: every Listen and MetricsListen address is
 * one of this host's (asked with port 0: the configured ports, which a running spliced may
 * hold, are never bound); DocumentRoot and every Alias directory open as directories;
 * TypesConfig (or the default types file) reads; the directories of ErrorLog,
 * CustomLog/TransferLog and PidFile exist; User and Group, and each ProxyAutostart's
 * User=/Group=, name existing accounts; each ProxyAutostart's Dir= is a directory and its
 * Output='s directory exists. Warnings: RewriteRule file roots that do not exist
 * (start-up serves 404 for them). Returns the number of errors. */
unsigned cfgcheck_run(const struct config *cfg, cfgcheck_report *report, void *arg);

#endif
