/* Counters, the latency histogram and the metrics page; the contract is in
 * include/spliced/stats.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spliced/log.h"
#include "spliced/stats.h"
#include "spliced/worker-t.h"

/* 1 ms .. 10 s, as Prometheus' defaults roughly are. */
const uint64_t stats_lat_bounds_ns[STATS_LAT_BUCKETS - 1] = {
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000,
	500000000, 1000000000, 10000000000ull,
};

void stats_count_status(struct stats *st, unsigned status)
{
	st->status[status >= 100 && status < 600 ? status / 100 : 0]++;
}

void stats_count_parse_error(struct stats *st, const char *reason)
{
	unsigned i;

	st->parse_errors++;
	for (i = 0; i < st->nperr && st->perr[i].reason != reason; i++)
		;
	if (i == st->nperr && i < STATS_REASONS) {
		st->perr[i].reason = reason;
		/* The metrics endpoint reads nperr from another thread: the entry first. */
		__atomic_store_n(&st->nperr, i + 1, __ATOMIC_RELEASE);
	}
	if (i < STATS_REASONS)
		st->perr[i].n++;
}

static const char *const stats_res_name[STATS_RES_N] = {
	"fd_accept", "fd_connect", "fd_file", "pipe", "pipe_pool", "memory",
};

void stats_resource_error(struct stats *st, enum stats_resource r, int err, uint64_t now_ms,
			  const char *what)
{
	uint64_t last = st->resource_log_ms[r];   /* 0: never logged; else the time + 1 */

	st->resource_errors[r]++;
	if (last && now_ms + 1 - last < 1000)
		return;
	st->resource_log_ms[r] = now_ms + 1;
	log_error("resource", "%s: %s (%s, %llu so far; at most one line a second)", what,
		  strerror(err), stats_res_name[r], (unsigned long long)st->resource_errors[r]);
}

static const char *const stats_to_name[STATS_TO_N] = { "idle", "head", "exchange" };

/* The count of lines left out for stage, logged; the window starts again from now. */
static void stats_timeout_summary(struct stats *st, enum stats_timeout stage, uint64_t now_ms)
{
	log_info("proxy", "%llu more clients closed at their deadline (%s) since the last line "
		 "(at most one line a second per stage and worker; each at debug level)",
		 (unsigned long long)st->timeout_quiet[stage], stats_to_name[stage]);
	st->timeout_quiet[stage] = 0;
	st->timeout_log_ms[stage] = now_ms + 1;
}

bool stats_timeout_line(struct stats *st, enum stats_timeout stage, uint64_t now_ms)
{
	uint64_t last = st->timeout_log_ms[stage];   /* 0: never logged; else the time + 1 */

	if (last && now_ms + 1 - last < 1000) {
		st->timeout_quiet[stage]++;
		return false;
	}
	if (st->timeout_quiet[stage])
		stats_timeout_summary(st, stage, now_ms);
	st->timeout_log_ms[stage] = now_ms + 1;
	return true;
}

void stats_timeout_flush(struct stats *st, uint64_t now_ms)
{
	for (unsigned k = 0; k < STATS_TO_N; k++)
		if (st->timeout_quiet[k] && now_ms + 1 - st->timeout_log_ms[k] >= 1000)
			stats_timeout_summary(st, (enum stats_timeout)k, now_ms);
}

void stats_latency(struct stats *st, uint64_t ns)
{
	unsigned b = 0;

	while (b < STATS_LAT_BUCKETS - 1 && ns > stats_lat_bounds_ns[b])
		b++;
	st->lat_bucket[b]++;
	st->lat_sum_ns += ns;
}

/* The index in `to` of backend b of `from` (same name), or -1. */
static int stats_backend_map(const struct config *from, unsigned b, const struct config *to)
{
	if (from == to)
		return (int)b;
	for (unsigned i = 0; i < to->nbackend; i++)
		if (strcmp(to->backend[i].name, from->backend[b].name) == 0)
			return (int)i;
	return -1;
}

/* Adds s (counted under configuration `from`) to out (under `to`); per-backend counters
 * follow their backend's name, those of a backend `to` no longer has are dropped. With
 * perr, the parse errors by reason too. */
static void stats_add(struct stats *out, const struct stats *s, const struct config *from,
		      const struct config *to, bool perr)
{
	out->accepted += s->accepted;
	out->requests += s->requests;
	for (unsigned k = 0; k < 6; k++)
		out->status[k] += s->status[k];
	out->parse_errors += s->parse_errors;
	out->bytes_spliced += s->bytes_spliced;
	out->bytes_copied += s->bytes_copied;
	out->splice_transfers += s->splice_transfers;
	out->up_connects += s->up_connects;
	out->up_reuses += s->up_reuses;
	out->up_retries += s->up_retries;
	out->autostarts += s->autostarts;
	out->autostart_waits += s->autostart_waits;
	out->autostart_fails += s->autostart_fails;
	out->fields_dropped += s->fields_dropped;
	out->tunnels += s->tunnels;
	out->tunnels_active += s->tunnels_active;
	out->authz_denied += s->authz_denied;
	out->refused += s->refused;
	for (unsigned k = 0; k < STATS_TO_N; k++)
		out->timeouts[k] += s->timeouts[k];
	for (unsigned k = 0; k < STATS_RES_N; k++)
		out->resource_errors[k] += s->resource_errors[k];
	out->tls_handshakes += s->tls_handshakes;
	out->tls_active += s->tls_active;
	out->tls_buffers += s->tls_buffers;
	out->tls_detached += s->tls_detached;
	for (unsigned i = 0; i < TLS_FAIL_N; i++)
		out->tls_fail[i] += s->tls_fail[i];
	for (unsigned b = 0; from && to && b < from->nbackend && b < CFG_MAX_BACKENDS; b++) {
		int nb = stats_backend_map(from, b, to);

		for (unsigned o = 0; nb >= 0 && o < SLOT_OUTCOMES; o++)
			out->slot_waits[nb][o] += s->slot_waits[b][o];
		for (unsigned k = 0; nb >= 0 && k < STATS_MEMBER_COUNTS; k++)
			out->member[nb][k] += s->member[b][k];
	}
	out->lat_sum_ns += s->lat_sum_ns;
	for (unsigned k = 0; k < STATS_LAT_BUCKETS; k++)
		out->lat_bucket[k] += s->lat_bucket[k];
	for (unsigned k = 0; perr && k < __atomic_load_n(&s->nperr, __ATOMIC_ACQUIRE); k++) {
		unsigned i;

		for (i = 0; i < out->nperr && out->perr[i].reason != s->perr[k].reason; i++)
			;
		if (i == out->nperr && i < STATS_REASONS) {
			out->perr[i].reason = s->perr[k].reason;
			out->nperr++;
		}
		if (i < STATS_REASONS)
			out->perr[i].n += s->perr[k].n;
	}
}

static void stats_render_locked(const struct config *cfg, struct stats_text *t);

/* ---- every worker of every configuration -------------------------------------------- */

/* The workers that run (the current configuration's, and those of earlier ones still
 * finishing their requests after a reload) and, per worker number, the sums of the
 * workers that ended, counted under the current configuration: so no counter goes back
 * at a reload. */
static struct {
	pthread_mutex_t lock;
	struct {
		const struct worker *w;
		unsigned n;
	} live[STATS_GENS];
	unsigned nlive;
	struct stats *ended;         /* [nended], by worker number */
	unsigned nended;
	const struct config *cur;    /* what `ended` is counted under */
	uint64_t reloads[2];         /* failed, done */
	uint64_t generation;
	uint64_t start_s, start_mono_s; /* the first workers ran (realtime, monotonic) */
	uint64_t reload_s;           /* the last reload (realtime), 0: none */
	bool reload_ok;
} stats_reg = { .lock = PTHREAD_MUTEX_INITIALIZER, .generation = 1 };

static uint64_t stats_clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec;
}

int stats_live_add(const struct worker *w, unsigned n)
{
	int ret = 0;

	pthread_mutex_lock(&stats_reg.lock);
	if (stats_reg.nlive == STATS_GENS) {
		ret = -EBUSY;
		goto out;
	}
	if (n > stats_reg.nended) {
		struct stats *e = realloc(stats_reg.ended, n * sizeof(*e));

		if (!e) {
			ret = -ENOMEM;
			goto out;
		}
		memset(e + stats_reg.nended, 0, (n - stats_reg.nended) * sizeof(*e));
		stats_reg.ended = e;
		stats_reg.nended = n;
	}
	if (!stats_reg.start_s) {
		stats_reg.start_s = stats_clock_s(CLOCK_REALTIME);
		stats_reg.start_mono_s = stats_clock_s(CLOCK_MONOTONIC);
	}
	stats_reg.live[stats_reg.nlive].w = w;
	stats_reg.live[stats_reg.nlive++].n = n;
out:
	pthread_mutex_unlock(&stats_reg.lock);
	return ret;
}

void stats_set_current(const struct config *cur)
{
	pthread_mutex_lock(&stats_reg.lock);
	/* the ended workers' per-backend counts follow the new configuration */
	for (unsigned i = 0; stats_reg.cur && stats_reg.cur != cur && i < stats_reg.nended; i++) {
		struct stats t;

		memset(&t, 0, sizeof(t));
		stats_add(&t, &stats_reg.ended[i], stats_reg.cur, cur, true);
		stats_reg.ended[i] = t;
	}
	stats_reg.cur = cur;
	pthread_mutex_unlock(&stats_reg.lock);
}

void stats_live_end(const struct worker *w)
{
	pthread_mutex_lock(&stats_reg.lock);
	for (unsigned g = 0; g < stats_reg.nlive; g++) {
		if (stats_reg.live[g].w != w)
			continue;
		for (unsigned i = 0; i < stats_reg.live[g].n && i < stats_reg.nended; i++)
			stats_add(&stats_reg.ended[i], &w[i].stats, w[i].cfg, stats_reg.cur, true);
		stats_reg.live[g] = stats_reg.live[--stats_reg.nlive];
		break;
	}
	pthread_mutex_unlock(&stats_reg.lock);
}

void stats_live_clear(void)
{
	pthread_mutex_lock(&stats_reg.lock);
	free(stats_reg.ended);
	stats_reg.ended = NULL;
	stats_reg.nended = 0;
	stats_reg.nlive = 0;
	stats_reg.cur = NULL;
	pthread_mutex_unlock(&stats_reg.lock);
}

void stats_reload_count(bool ok, uint64_t generation)
{
	pthread_mutex_lock(&stats_reg.lock);
	stats_reg.reloads[ok]++;
	stats_reg.reload_s = stats_clock_s(CLOCK_REALTIME);
	stats_reg.reload_ok = ok;
	if (ok)
		stats_reg.generation = generation;
	pthread_mutex_unlock(&stats_reg.lock);
}

/* Under the lock: worker number i's counters (i < 0: all of them) under cfg. */
static void stats_collect(int i, const struct config *cfg, struct stats *out, uint64_t *active)
{
	memset(out, 0, sizeof(*out));
	*active = 0;
	for (unsigned k = 0; k < stats_reg.nended; k++)
		if (i < 0 || (unsigned)i == k)
			stats_add(out, &stats_reg.ended[k], stats_reg.cur, cfg, i >= 0);
	for (unsigned g = 0; g < stats_reg.nlive; g++) {
		for (unsigned k = 0; k < stats_reg.live[g].n; k++) {
			const struct worker *w = &stats_reg.live[g].w[k];

			if (i >= 0 && (unsigned)i != k)
				continue;
			stats_add(out, &w->stats, w->cfg, cfg, i >= 0);
			*active += w->active;
		}
	}
}

/* Under the lock: the head buffers lent to connections now, over the live workers (an
 * ended worker lent none). */
static uint64_t stats_head_buffers(void)
{
	uint64_t n = 0;

	for (unsigned g = 0; g < stats_reg.nlive; g++)
		for (unsigned k = 0; k < stats_reg.live[g].n; k++)
			n += stats_reg.live[g].w[k].hb.in_use;
	return n;
}

void stats_total(struct stats *out)
{
	uint64_t active;

	pthread_mutex_lock(&stats_reg.lock);
	stats_collect(-1, stats_reg.cur, out, &active);
	pthread_mutex_unlock(&stats_reg.lock);
}

void stats_view(const struct config *cfg, void (*fn)(const struct stats_view *v, void *arg),
		void *arg)
{
	struct stats_view *v = calloc(1, sizeof(*v));

	if (!v) {
		fn(NULL, arg);
		return;
	}
	pthread_mutex_lock(&stats_reg.lock);
	stats_collect(-1, cfg, &v->sum, &v->active);
	v->head_buffers = stats_head_buffers();
	v->reloads_ok = stats_reg.reloads[1];
	v->reloads_failed = stats_reg.reloads[0];
	v->generation = stats_reg.generation;
	v->start_s = stats_reg.start_s;
	v->uptime_s = stats_reg.start_s ? stats_clock_s(CLOCK_MONOTONIC) - stats_reg.start_mono_s
					: 0;
	v->reload_s = stats_reg.reload_s;
	v->reload_ok = stats_reg.reload_ok;
	for (unsigned g = 0; g < stats_reg.nlive; g++) {
		v->gen[g].w = stats_reg.live[g].w;
		v->gen[g].n = stats_reg.live[g].n;
	}
	v->ngen = stats_reg.nlive;
	fn(v, arg);
	pthread_mutex_unlock(&stats_reg.lock);
	free(v);
}

void stats_text_add(struct stats_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int k = 0; k < 2 && !t->failed; k++) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
		} else if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		} else {
			size_t cap = 2 * t->cap + (size_t)n;
			char *p = realloc(t->p, cap);

			if (!p)
				t->failed = true;
			t->p = p ? p : t->p;
			t->cap = p ? cap : t->cap;
		}
	}
}

/* Prometheus text of every worker's counters. They are read while their workers run:
 * each value is a plain aligned 64-bit load, so a scrape is a consistent-enough snapshot,
 * never a torn number. */
void stats_render(const struct config *cfg, struct stats_text *t)
{
	pthread_mutex_lock(&stats_reg.lock);
	stats_render_locked(cfg, t);
	pthread_mutex_unlock(&stats_reg.lock);
}

/* One line per member of each balancer:// pool, labelled with the pool's name (without
 * "balancer://") and the member's backend. */
static void stats_member_lines(const struct config *cfg, struct stats_text *t,
			       const char *metric, const uint64_t *v)
{
	unsigned n = 0;

	for (unsigned p = 0; p < cfg->nbalancer; p++)
		for (unsigned m = 0; m < cfg->balancer[p].nmember; m++)
			stats_text_add(t, "%s{backend=\"%s\",member=\"%s\"} %llu\n", metric,
				       cfg->balancer[p].name + 11,
				       cfg->backend[cfg->balancer[p].member[m].backend].name,
				       (unsigned long long)v[n++]);
}

/* The members of the pools: up (every live worker of this configuration may give it a
 * request: not stopped, disabled or in error there), requests in flight (read while the
 * workers run, as the pools' idle counts are), and the counters. */
static void stats_render_members(const struct config *cfg, const struct stats *sum,
				 struct stats_text *t)
{
	static const struct { const char *name, *help; } cnt[STATS_MEMBER_COUNTS] = {
		{ "spliced_backend_member_requests_total", "Requests a pool gave the member" },
		{ "spliced_backend_member_failures_total", "Refused connects and closes before "
		  "any response byte" },
		{ "spliced_backend_member_errors_total", "Times the member went into error state" },
		{ "spliced_backend_member_back_total", "Times it answered again after that" },
		{ "spliced_backend_member_hc_down_total", "Times its health checks took it out of "
		  "rotation" },
		{ "spliced_backend_member_hc_up_total", "Times its health checks brought it back" },
	};
	uint64_t up[CFG_MAX_BALANCERS * CFG_MAX_MEMBERS], busy[CFG_MAX_BALANCERS * CFG_MAX_MEMBERS];
	unsigned n = 0;

	if (!cfg->nbalancer)
		return;
	for (unsigned p = 0; p < cfg->nbalancer; p++) {
		for (unsigned m = 0; m < cfg->balancer[p].nmember; m++, n++) {
			const struct cfg_member *cm = &cfg->balancer[p].member[m];

			up[n] = !(cm->status & (CFG_MEMBER_DISABLED | CFG_MEMBER_STOPPED));
			busy[n] = 0;
			for (unsigned g = 0; g < stats_reg.nlive; g++) {
				for (unsigned i = 0; i < stats_reg.live[g].n; i++) {
					const struct worker *w = &stats_reg.live[g].w[i];

					if (w->cfg != cfg)
						continue;
					busy[n] += w->bal[p].m[m].busy;
					if (w->bal[p].m[m].in_error || w->bal[p].m[m].hc_down)
						up[n] = 0;
				}
			}
		}
	}
	stats_text_add(t, "# HELP spliced_backend_up 1 when the member of a balancer:// pool can "
		       "take requests on every worker.\n# TYPE spliced_backend_up gauge\n");
	stats_member_lines(cfg, t, "spliced_backend_up", up);
	stats_text_add(t, "# HELP spliced_backend_member_in_flight Requests on the member now.\n"
		       "# TYPE spliced_backend_member_in_flight gauge\n");
	stats_member_lines(cfg, t, "spliced_backend_member_in_flight", busy);
	for (unsigned k = 0; k < STATS_MEMBER_COUNTS; k++) {
		uint64_t v[CFG_MAX_BALANCERS * CFG_MAX_MEMBERS];

		n = 0;
		for (unsigned p = 0; p < cfg->nbalancer; p++)
			for (unsigned m = 0; m < cfg->balancer[p].nmember; m++)
				v[n++] = sum->member[cfg->balancer[p].member[m].backend][k];
		stats_text_add(t, "# HELP %s %s.\n# TYPE %s counter\n", cnt[k].name, cnt[k].help,
			       cnt[k].name);
		stats_member_lines(cfg, t, cnt[k].name, v);
	}
}


static void stats_render_locked(const struct config *cfg, struct stats_text *t)
{
	static const char *const cls[6] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };
	struct stats sum;
	uint64_t active = 0, cum = 0;

	stats_collect(-1, cfg, &sum, &active);
	stats_text_add(t, "# HELP spliced_reloads_total Configuration reloads (SIGHUP), by "
		       "result.\n# TYPE spliced_reloads_total counter\n"
		       "spliced_reloads_total{result=\"ok\"} %llu\n"
		       "spliced_reloads_total{result=\"failed\"} %llu\n"
		       "# HELP spliced_config_generation The configuration in use: 1 at start, "
		       "one more at each reload that took effect.\n"
		       "# TYPE spliced_config_generation gauge\nspliced_config_generation %llu\n",
		       (unsigned long long)stats_reg.reloads[1],
		       (unsigned long long)stats_reg.reloads[0],
		       (unsigned long long)stats_reg.generation);
	stats_text_add(t, "# HELP spliced_requests_total Requests answered, by status class.\n"
		       "# TYPE spliced_requests_total counter\n");
	for (unsigned k = 0; k < 6; k++)
		stats_text_add(t, "spliced_requests_total{class=\"%s\"} %llu\n", cls[k],
			       (unsigned long long)sum.status[k]);
	stats_text_add(t, "# HELP spliced_bytes_total Body bytes moved, by how.\n"
		       "# TYPE spliced_bytes_total counter\n"
		       "spliced_bytes_total{how=\"spliced\"} %llu\n"
		       "spliced_bytes_total{how=\"copied\"} %llu\n",
		       (unsigned long long)sum.bytes_spliced, (unsigned long long)sum.bytes_copied);
	stats_text_add(t, "# HELP spliced_connections_active Client connections open now.\n"
		       "# TYPE spliced_connections_active gauge\nspliced_connections_active %llu\n"
		       "# TYPE spliced_connections_total counter\nspliced_connections_total %llu\n",
		       (unsigned long long)active, (unsigned long long)sum.accepted);
	stats_text_add(t, "# HELP spliced_head_buffers_in_use Request buffers lent to "
		       "connections now (an idle keep-alive connection holds none).\n"
		       "# TYPE spliced_head_buffers_in_use gauge\nspliced_head_buffers_in_use %llu\n",
		       (unsigned long long)stats_head_buffers());
	stats_text_add(t, "# HELP spliced_connections_refused_total Client connections closed "
		       "at once: MaxConnections was reached.\n"
		       "# TYPE spliced_connections_refused_total counter\n"
		       "spliced_connections_refused_total %llu\n"
		       "# HELP spliced_timeouts_total Client connections closed at a deadline, by "
		       "stage.\n# TYPE spliced_timeouts_total counter\n"
		       "spliced_timeouts_total{stage=\"idle\"} %llu\n"
		       "spliced_timeouts_total{stage=\"head\"} %llu\n"
		       "spliced_timeouts_total{stage=\"exchange\"} %llu\n",
		       (unsigned long long)sum.refused,
		       (unsigned long long)sum.timeouts[STATS_TO_IDLE],
		       (unsigned long long)sum.timeouts[STATS_TO_HEAD],
		       (unsigned long long)sum.timeouts[STATS_TO_EXCHANGE]);
	stats_text_add(t, "# HELP spliced_resource_errors_total Operations the system refused "
		       "a resource for, by resource.\n"
		       "# TYPE spliced_resource_errors_total counter\n");
	for (unsigned k = 0; k < STATS_RES_N; k++)
		stats_text_add(t, "spliced_resource_errors_total{resource=\"%s\"} %llu\n",
			       stats_res_name[k], (unsigned long long)sum.resource_errors[k]);
	stats_text_add(t, "# HELP spliced_backend_connections_total Backend connections used, "
		       "by kind.\n# TYPE spliced_backend_connections_total counter\n"
		       "spliced_backend_connections_total{kind=\"new\"} %llu\n"
		       "spliced_backend_connections_total{kind=\"reused\"} %llu\n"
		       "spliced_backend_connections_total{kind=\"retry\"} %llu\n",
		       (unsigned long long)sum.up_connects, (unsigned long long)sum.up_reuses,
		       (unsigned long long)sum.up_retries);
	stats_text_add(t, "# HELP spliced_backend_pool_idle Idle keep-alive backend connections.\n"
		       "# TYPE spliced_backend_pool_idle gauge\n");
	for (unsigned b = 0; b < cfg->nbackend; b++) {
		uint64_t idle = 0;

		for (unsigned g = 0; g < stats_reg.nlive; g++) {
			for (unsigned i = 0; i < stats_reg.live[g].n; i++) {
				const struct worker *w = &stats_reg.live[g].w[i];

				for (unsigned ob = 0; w->pools && ob < w->cfg->nbackend; ob++)
					if (stats_backend_map(w->cfg, ob, cfg) == (int)b)
						idle += w->pools[ob].n;
			}
		}
		stats_text_add(t, "spliced_backend_pool_idle{backend=\"%s\"} %llu\n",
			       cfg->backend[b].name, (unsigned long long)idle);
	}
	stats_text_add(t, "# HELP spliced_autostarts_total Backend starts asked of the helper.\n"
		       "# TYPE spliced_autostarts_total counter\nspliced_autostarts_total %llu\n"
		       "# HELP spliced_autostart_requests_total Requests that waited for a "
		       "backend to start, by outcome.\n"
		       "# TYPE spliced_autostart_requests_total counter\n"
		       "spliced_autostart_requests_total{outcome=\"waited\"} %llu\n"
		       "spliced_autostart_requests_total{outcome=\"503\"} %llu\n",
		       (unsigned long long)sum.autostarts, (unsigned long long)sum.autostart_waits,
		       (unsigned long long)sum.autostart_fails);
	stats_text_add(t, "# HELP spliced_backend_waits_total Requests that waited for one of "
		       "the connections of a backend with max=, by outcome.\n"
		       "# TYPE spliced_backend_waits_total counter\n");
	for (unsigned b = 0; b < cfg->nbackend; b++) {
		static const char *const outcome[SLOT_OUTCOMES] = { "connected", "503", "gone" };

		for (unsigned o = 0; cfg->backend[b].p.max && o < SLOT_OUTCOMES; o++)
			stats_text_add(t, "spliced_backend_waits_total{backend=\"%s\",outcome=\"%s\"} "
				       "%llu\n", cfg->backend[b].name, outcome[o],
				       (unsigned long long)sum.slot_waits[b][o]);
	}
	stats_render_members(cfg, &sum, t);
	stats_text_add(t, "# HELP spliced_requests_denied_total Requests answered 403 by the "
		       "Require rules of a <Location>.\n# TYPE spliced_requests_denied_total counter\n"
		       "spliced_requests_denied_total %llu\n", (unsigned long long)sum.authz_denied);
	stats_text_add(t, "# HELP spliced_request_fields_dropped_total Request fields not "
		       "forwarded because their name has '_' (UnderscoresInHeaders).\n"
		       "# TYPE spliced_request_fields_dropped_total counter\n"
		       "spliced_request_fields_dropped_total{reason=\"underscore\"} %llu\n",
		       (unsigned long long)sum.fields_dropped);
	stats_text_add(t, "# HELP spliced_tunnels_total Connections switched to another protocol "
		       "(101) and tunnelled.\n# TYPE spliced_tunnels_total counter\n"
		       "spliced_tunnels_total %llu\n"
		       "# HELP spliced_tunnels_active Tunnels open now.\n"
		       "# TYPE spliced_tunnels_active gauge\nspliced_tunnels_active %llu\n",
		       (unsigned long long)sum.tunnels, (unsigned long long)sum.tunnels_active);
	stats_text_add(t, "# HELP spliced_tls_handshakes_total TLS handshakes completed.\n"
		       "# TYPE spliced_tls_handshakes_total counter\n"
		       "spliced_tls_handshakes_total %llu\n"
		       "# HELP spliced_tls_sessions_active TLS sessions open now.\n"
		       "# TYPE spliced_tls_sessions_active gauge\nspliced_tls_sessions_active %llu\n"
		       "# HELP spliced_tls_buffers_in_use TLS sessions holding their buffers now "
		       "(82 KiB each; a session waiting for bytes holds none).\n"
		       "# TYPE spliced_tls_buffers_in_use gauge\nspliced_tls_buffers_in_use %llu\n"
		       "# HELP spliced_tls_socketpairs_total TLS connections that went on through a "
		       "socketpair (a static file, a tunnel).\n"
		       "# TYPE spliced_tls_socketpairs_total counter\n"
		       "spliced_tls_socketpairs_total %llu\n"
		       "# HELP spliced_tls_handshake_failures_total TLS handshakes failed, by reason.\n"
		       "# TYPE spliced_tls_handshake_failures_total counter\n",
		       (unsigned long long)sum.tls_handshakes, (unsigned long long)sum.tls_active,
		       (unsigned long long)sum.tls_buffers, (unsigned long long)sum.tls_detached);
	for (unsigned i = 0; i < TLS_FAIL_N; i++) {
		static const char *const why[TLS_FAIL_N] = {
			"plain_http", "protocol", "alpn", "closed", "timeout", "internal",
		};

		stats_text_add(t, "spliced_tls_handshake_failures_total{reason=\"%s\"} %llu\n",
			       why[i], (unsigned long long)sum.tls_fail[i]);
	}
	stats_text_add(t, "# HELP spliced_parse_errors_total Requests refused, by reason.\n"
		       "# TYPE spliced_parse_errors_total counter\n");
	for (unsigned i = 0; i < stats_reg.nended; i++) {
		struct stats s;
		uint64_t a;

		stats_collect((int)i, cfg, &s, &a);
		for (unsigned k = 0; k < s.nperr && k < STATS_REASONS; k++)
			stats_text_add(t, "spliced_parse_errors_total{reason=\"%s\",worker=\"%u\"} %llu\n",
				       s.perr[k].reason, i, (unsigned long long)s.perr[k].n);
	}
	stats_text_add(t, "# HELP spliced_request_duration_seconds From a parsed head to the "
		       "end of the response.\n# TYPE spliced_request_duration_seconds histogram\n");
	for (unsigned k = 0; k < STATS_LAT_BUCKETS; k++) {
		cum += sum.lat_bucket[k];
		if (k < STATS_LAT_BUCKETS - 1)
			stats_text_add(t, "spliced_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
				       (double)stats_lat_bounds_ns[k] / 1e9, (unsigned long long)cum);
		else
			stats_text_add(t, "spliced_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				       (unsigned long long)cum);
	}
	stats_text_add(t, "spliced_request_duration_seconds_sum %.6f\n"
		       "spliced_request_duration_seconds_count %llu\n",
		       (double)sum.lat_sum_ns / 1e9, (unsigned long long)cum);
}

