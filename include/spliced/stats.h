/* Counters of a worker, the latency histogram, and the Prometheus page over all workers.
 * Counting is plain stores by the worker that owns the counters; the page and the exit
 * summary read every worker's counters while they run (aligned 64-bit loads: a
 * consistent-enough snapshot, never a torn number). */
#ifndef SPLICED_STATS_H
#define SPLICED_STATS_H

#include <stdbool.h>

#include "spliced/config-t.h"
#include "spliced/stats-t.h"

/* Upper bounds (ns) of the latency histogram buckets; the last bucket is +Inf. */
extern const uint64_t stats_lat_bounds_ns[STATS_LAT_BUCKETS - 1];

/* A response of `status` went out (0 or out of 100..599: closed without one). */
void stats_count_status(struct stats *st, unsigned status);

/* A request refused by the parser, under its reason (a static string: compared by
 * address). The first STATS_REASONS reasons get their own counter. */
void stats_count_parse_error(struct stats *st, const char *reason);

/* The system refused a resource (err: the errno, positive) while doing `what`: counted
 * under r, and an error-log line naming it, at most one a second per resource and worker
 * (now_ms: the worker's clock), since a shortage repeats for every request meanwhile. */
void stats_resource_error(struct stats *st, enum stats_resource r, int err, uint64_t now_ms,
			  const char *what);
/* A connection closed at its deadline in `stage` has a line to log: true when it is the
 * first of its stage and worker in a second, to be logged as usual; false when it is only
 * counted (and goes to the debug level), its count logged by stats_timeout_flush(). So a
 * wave of a thousand slow clients writes a line a second, not a thousand. */
bool stats_timeout_line(struct stats *st, enum stats_timeout stage, uint64_t now_ms);
/* From the worker's tick: one info line per stage with lines left out, once the second
 * of its last line is over ("N more ... closed at their deadline"); with now_ms
 * UINT64_MAX - 1 (a worker ending), whatever is left. */
void stats_timeout_flush(struct stats *st, uint64_t now_ms);
/* One exchange took ns nanoseconds. */
void stats_latency(struct stats *st, uint64_t ns);

struct worker;

/* The workers the metrics page counts. stats_live_add(): the n workers w[0..n) run
 * (0, -EBUSY: too many configurations still running, or -ENOMEM). stats_set_current():
 * cur is the configuration in use from now (the page names backends as it does; the
 * ended workers' per-backend counts follow their backend's name into it); it must stay
 * valid until the next call or stats_live_clear(). stats_live_end(): the workers of that
 * stats_live_add() ended (before they are freed): their counts are kept, per worker
 * number, so no counter goes back at a reload. stats_live_clear(): forget everything. */
int stats_live_add(const struct worker *w, unsigned n);
void stats_set_current(const struct config *cur);
void stats_live_end(const struct worker *w);
void stats_live_clear(void);

/* A reload was tried: ok or failed; generation: the configuration in use after it. */
void stats_reload_count(bool ok, uint64_t generation);

/* Every worker's counters, the ended ones' included, under the current configuration. */
void stats_total(struct stats *out);

/* The Prometheus text of every worker's counters (stats_live_*) appended to t, backends
 * named as cfg names them (t->p may be realloc'd; t->failed on allocation failure). */
void stats_render(const struct config *cfg, struct stats_text *t);

/* Calls fn(v, arg) with a view of every worker's counters under cfg, under the lock that
 * keeps the running workers from being freed meanwhile (fn must not call stats_*). The
 * workers are not stopped: what fn reads of them is approximate, never torn. */
void stats_view(const struct config *cfg, void (*fn)(const struct stats_view *v, void *arg),
		void *arg);

/* printf into t, growing it. */
void stats_text_add(struct stats_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
