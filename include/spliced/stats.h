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

/* One exchange took ns nanoseconds. */
void stats_latency(struct stats *st, uint64_t ns);

/* Sums n workers' counters (parse errors by reason are left out: their keys differ per
 * worker). */
struct worker;
void stats_sum(const struct worker *all, unsigned n, struct stats *out);

/* The Prometheus text of all workers' counters appended to t (t->p may be realloc'd;
 * t->failed on allocation failure). */
void stats_render(const struct worker *all, unsigned n, const struct config *cfg,
		  struct stats_text *t);

/* printf into t, growing it. */
void stats_text_add(struct stats_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
