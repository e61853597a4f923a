/* The status page (SetHandler server-status); the contract is in include/spliced/status.h.
 * It reads what the metrics page reads (stats_view()) and, of the workers of the
 * configuration in use, their backend, pool and autostart state: plain loads of values
 * their owners write, so a figure may be a moment old but never torn. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spliced/authz.h"
#include "spliced/hcheck-t.h"
#include "spliced/stats.h"
#include "spliced/status.h"
#include "spliced/version.h"
#include "spliced/worker-t.h"

/* ---- the query ----------------------------------------------------------------------- */

void status_query(const char *q, size_t len, struct status_req *out)
{
	size_t i = 0;

	out->autoform = false;
	out->refresh = 0;
	while (i < len) {
		size_t n = 0;

		while (i + n < len && q[i + n] != '&' && q[i + n] != ';')
			n++;
		if (n == 4 && memcmp(q + i, "auto", 4) == 0) {
			out->autoform = true;
		} else if (n > 8 && memcmp(q + i, "refresh=", 8) == 0) {
			unsigned v = 0;
			size_t k = i + 8;

			for (; k < i + n && q[k] >= '0' && q[k] <= '9'; k++)
				v = v > 3600 ? v : v * 10 + (unsigned)(q[k] - '0');
			if (k == i + n)
				out->refresh = v < 1 ? 1 : v > 3600 ? 3600 : v;
		}
		i += n + 1;
	}
}

/* ---- escaping ------------------------------------------------------------------------ */

void status_html(struct stats_text *t, const char *s, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *ent = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
				: ch == '"' ? "&quot;" : ch == '\'' ? "&#39;" : NULL;

		if (!ent && ch >= 0x20 && ch < 0x7f) {
			run++;
			continue;
		}
		stats_text_add(t, "%.*s", (int)run, s + i - run);
		run = 0;
		if (ent)
			stats_text_add(t, "%s", ent);
		else
			stats_text_add(t, "\\x%02X", ch);
	}
	stats_text_add(t, "%.*s", (int)run, s + len - run);
}

static void status_htmls(struct stats_text *t, const char *s)
{
	status_html(t, s, strlen(s));
}

/* ---- the load check ------------------------------------------------------------------ */

static bool status_loopback(const struct cfg_listen *l)
{
	if (l->addr.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&l->addr;

		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (l->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&l->addr;

		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	return true; /* a unix socket: whoever may open it */
}

int status_check(const struct config *cfg, unsigned *line, char *msg, size_t msglen)
{
	const struct authz *az = &cfg->authz;
	bool loopback = true;

	for (unsigned i = 0; i < cfg->nlisten; i++)
		loopback = loopback && status_loopback(&cfg->listen[i]);
	for (unsigned i = 0; i < az->nloc && !loopback; i++) {
		const struct authz_loc *h = &az->loc[i];
		bool ruled = false;

		if (h->handler != AUTHZ_HANDLER_STATUS)
			continue;
		/* a section with rules that covers the handler's (its own included) */
		for (unsigned k = 0; k < az->nloc && !ruled; k++)
			ruled = az->loc[k].root >= 0 && (az->loc[k].scope == 0 ||
							  az->loc[k].scope == h->scope) &&
				authz_prefix_match(az->loc[k].prefix, az->loc[k].prefix_len,
						   h->prefix, h->prefix_len);
		if (!ruled) {
			*line = h->line;
			snprintf(msg, msglen, "server-status in <Location %s> without an access rule "
				 "while a Listen address is not loopback: add \"Require ip ...\" to it "
				 "(or serve the page on MetricsListen, at /server-status)", h->prefix);
			return -1;
		}
	}
	return 0;
}

/* ---- the slowest requests ------------------------------------------------------------ */

static void status_copy(char *dst, size_t cap, const char *s, size_t len)
{
	if (!s)
		len = 0;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, s ? s : "", len);
	dst[len] = '\0';
}

void status_slow_note(struct status_slow *s, uint64_t now_ms, uint64_t ns, unsigned status,
		      const char *method, size_t mlen, const char *host, size_t hlen,
		      const char *path, size_t plen, const char *backend)
{
	struct status_slow_entry *e = NULL;

	/* an old entry, else the fastest one if this request is slower */
	for (unsigned i = 0; i < STATUS_SLOW_N; i++) {
		struct status_slow_entry *x = &s->e[i];

		if (!x->end_ms || now_ms - x->end_ms > STATUS_SLOW_WINDOW_MS) {
			e = x;
			break;
		}
		if (x->ns < ns && (!e || x->ns < e->ns))
			e = x;
	}
	if (!e)
		return;
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->status = (uint16_t)status;
	e->end_ms = now_ms ? now_ms : 1;
	e->ns = ns;
	status_copy(e->method, sizeof(e->method), method, mlen);
	status_copy(e->host, sizeof(e->host), host, hlen);
	status_copy(e->path, sizeof(e->path), path, plen);
	status_copy(e->backend, sizeof(e->backend), backend, backend ? strlen(backend) : 0);
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
}

/* A consistent copy of entry e of a running worker (false: being written, or empty). */
static bool status_slow_read(const struct status_slow_entry *e, struct status_slow_entry *out)
{
	uint32_t a = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);

	if (a & 1)
		return false;
	memcpy(out, e, sizeof(*out));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == a && out->end_ms;
}

/* ---- the page ------------------------------------------------------------------------ */

struct status_ctx {
	const struct config *cfg;
	const struct status_req *rq;
	struct stats_text *t;
	uint64_t now_ms;           /* CLOCK_MONOTONIC */
};

static uint64_t status_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "3 days 4 hours 5 minutes 6 seconds", httpd's ServerUptime */
static void status_duration(struct stats_text *t, uint64_t s)
{
	uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

	if (d)
		stats_text_add(t, "%llu day%s ", (unsigned long long)d, d == 1 ? "" : "s");
	if (d || h)
		stats_text_add(t, "%llu hour%s ", (unsigned long long)h, h == 1 ? "" : "s");
	if (d || h || m)
		stats_text_add(t, "%llu minute%s ", (unsigned long long)m, m == 1 ? "" : "s");
	stats_text_add(t, "%llu second%s", (unsigned long long)(s % 60), s % 60 == 1 ? "" : "s");
}

static void status_time(struct stats_text *t, uint64_t s)
{
	time_t tt = (time_t)s;
	struct tm tm;
	char buf[64];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%A, %d-%b-%Y %H:%M:%S UTC", &tm);
	stats_text_add(t, "%s", buf);
}

/* The workers of the configuration in use (the others finish old requests). */
#define STATUS_FOR_CUR(v, cur, wp)                                                         \
	for (unsigned g_ = 0; g_ < (v)->ngen; g_++)                                        \
		for (unsigned i_ = 0; i_ < (v)->gen[g_].n; i_++)                            \
			if (((wp) = &(v)->gen[g_].w[i_])->cfg == (cur))

static unsigned status_busy_workers(const struct stats_view *v, unsigned *all)
{
	unsigned busy = 0;

	*all = 0;
	for (unsigned g = 0; g < v->ngen; g++)
		for (unsigned i = 0; i < v->gen[g].n; i++) {
			(*all)++;
			busy += v->gen[g].w[i].active > 0;
		}
	return busy;
}

static uint64_t status_requests(const struct stats *s)
{
	uint64_t n = 0;

	for (unsigned k = 0; k < 6; k++)
		n += s->status[k];
	return n;
}

/* httpd's ?auto, with spliced's additions after its fields. */
static void status_auto(struct status_ctx *x, const struct stats_view *v)
{
	static const char *const cls[6] = { "None", "1xx", "2xx", "3xx", "4xx", "5xx" };
	struct stats_text *t = x->t;
	const struct stats *s = &v->sum;
	uint64_t req = status_requests(s), bytes = s->bytes_spliced + s->bytes_copied;
	uint64_t up = v->uptime_s ? v->uptime_s : 1;
	unsigned all, busy = status_busy_workers(v, &all);
	uint64_t dur_ms = s->lat_sum_ns / 1000000;

	stats_text_add(t, "ServerVersion: spliced/%s\nServerMPM: io_uring\n", SPLICED_VERSION);
	stats_text_add(t, "CurrentTime: ");
	status_time(t, status_clock_ms(CLOCK_REALTIME) / 1000);
	stats_text_add(t, "\nRestartTime: ");
	status_time(t, v->start_s);
	stats_text_add(t, "\nParentServerConfigGeneration: %llu\nServerUptimeSeconds: %llu\n"
		       "ServerUptime: ", (unsigned long long)v->generation,
		       (unsigned long long)v->uptime_s);
	status_duration(t, v->uptime_s);
	stats_text_add(t, "\nTotal Accesses: %llu\nTotal kBytes: %llu\nTotal Duration: %llu\n"
		       "Uptime: %llu\nReqPerSec: %g\nBytesPerSec: %g\nBytesPerReq: %g\n"
		       "DurationPerReq: %g\nBusyWorkers: %u\nIdleWorkers: %u\nConnsTotal: %llu\n",
		       (unsigned long long)req, (unsigned long long)(bytes / 1024),
		       (unsigned long long)dur_ms, (unsigned long long)v->uptime_s,
		       (double)req / (double)up, (double)bytes / (double)up,
		       req ? (double)bytes / (double)req : 0.0,
		       req ? (double)dur_ms / (double)req : 0.0, busy, all - busy,
		       (unsigned long long)v->active);
	stats_text_add(t, "ConnectionsAccepted: %llu\nConnectionsRefused: %llu\n",
		       (unsigned long long)s->accepted, (unsigned long long)s->refused);
	for (unsigned k = 0; k < 6; k++)
		stats_text_add(t, "Requests%s: %llu\n", cls[k], (unsigned long long)s->status[k]);
	stats_text_add(t, "BytesSpliced: %llu\nBytesCopied: %llu\nReloadsOK: %llu\n"
		       "ReloadsFailed: %llu\nTunnelsActive: %llu\nTunnelsTotal: %llu\n"
		       "TLSSessionsActive: %llu\nTLSHandshakes: %llu\nRequestsDenied: %llu\n",
		       (unsigned long long)s->bytes_spliced, (unsigned long long)s->bytes_copied,
		       (unsigned long long)v->reloads_ok, (unsigned long long)v->reloads_failed,
		       (unsigned long long)s->tunnels_active, (unsigned long long)s->tunnels,
		       (unsigned long long)s->tls_active, (unsigned long long)s->tls_handshakes,
		       (unsigned long long)s->authz_denied);
}

static const char status_css[] =
	"body{font:14px/1.4 sans-serif;margin:1.5em;color:#222;background:#fafafa}"
	"h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .4em;"
	"border-bottom:1px solid #ccc}"
	"table{border-collapse:collapse;margin:.2em 0}td,th{padding:.15em .6em;"
	"border:1px solid #ddd;text-align:left}th{background:#eee}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}"
	".bar{display:inline-block;height:.9em;background:#4a7fb5;vertical-align:middle}"
	".s{display:inline-block;padding:0 .5em;border-radius:.3em;color:#fff;font-weight:bold}"
	".up{background:#2e8b3a}.down{background:#c0392b}.starting{background:#d68910}"
	".draining{background:#7d5ba6}.stopped,.unchecked{background:#888}"
	"dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{font-weight:bold}"
	"dd{margin:0}.fail{color:#c0392b;font-weight:bold}.ok{color:#2e8b3a}";

static void status_state(struct stats_text *t, const char *state)
{
	stats_text_add(t, "<span class=\"s %s\">%s</span>", state, state);
}

/* A row of bars: label, count, a bar as wide as count / max. */
static void status_bar(struct stats_text *t, const char *label, uint64_t n, uint64_t max)
{
	unsigned px = max ? (unsigned)(n * 400 / max) : 0;

	stats_text_add(t, "<tr><td>%s</td><td class=\"n\">%llu</td><td><span class=\"bar\" "
		       "style=\"width:%upx\"></span></td></tr>", label, (unsigned long long)n, px);
}

static void status_head(struct status_ctx *x, const struct stats_view *v)
{
	struct stats_text *t = x->t;

	stats_text_add(t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		       "<title>spliced status</title>");
	if (x->rq->refresh)
		stats_text_add(t, "<meta http-equiv=\"refresh\" content=\"%u\">", x->rq->refresh);
	stats_text_add(t, "<style>%s</style></head><body>\n<h1>spliced server status</h1>\n<dl>"
		       "<dt>Server version</dt><dd>spliced/%s</dd><dt>Current time</dt><dd>",
		       status_css, SPLICED_VERSION);
	status_time(t, status_clock_ms(CLOCK_REALTIME) / 1000);
	stats_text_add(t, "</dd><dt>Started</dt><dd>");
	status_time(t, v->start_s);
	stats_text_add(t, "</dd><dt>Uptime</dt><dd>");
	status_duration(t, v->uptime_s);
	stats_text_add(t, "</dd><dt>Configuration</dt><dd>generation %llu; reloads: %llu done, "
		       "%llu failed</dd><dt>Last reload</dt><dd>",
		       (unsigned long long)v->generation, (unsigned long long)v->reloads_ok,
		       (unsigned long long)v->reloads_failed);
	if (v->reload_s) {
		status_time(t, v->reload_s);
		stats_text_add(t, v->reload_ok ? " <span class=\"ok\">took effect</span>"
			       : " <span class=\"fail\">failed: the previous configuration "
			       "stays</span>");
	} else {
		stats_text_add(t, "none");
	}
	stats_text_add(t, "</dd></dl>\n");
}

static void status_traffic(struct status_ctx *x, const struct stats_view *v)
{
	static const char *const cls[6] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };
	struct stats_text *t = x->t;
	const struct stats *s = &v->sum;
	uint64_t req = status_requests(s), max = 0, fails = 0, lmax = 0;
	char label[48];

	for (unsigned k = 0; k < TLS_FAIL_N; k++)
		fails += s->tls_fail[k];
	stats_text_add(t, "<h2>Traffic</h2><table>"
		       "<tr><th>Requests</th><td class=\"n\">%llu</td></tr>"
		       "<tr><th>Requests per second</th><td class=\"n\">%.2f</td></tr>"
		       "<tr><th>Body bytes spliced / copied</th><td class=\"n\">%llu / %llu</td></tr>"
		       "<tr><th>Connections open / accepted / refused</th><td class=\"n\">%llu / "
		       "%llu / %llu</td></tr>"
		       "<tr><th>Head buffers in use</th><td class=\"n\">%llu</td></tr>"
		       "<tr><th>Tunnels open / total</th><td class=\"n\">%llu / %llu</td></tr>"
		       "<tr><th>TLS sessions open / handshakes / failed</th><td class=\"n\">%llu / "
		       "%llu / %llu</td></tr>"
		       "<tr><th>Denied by Require</th><td class=\"n\">%llu</td></tr></table>\n",
		       (unsigned long long)req, (double)req / (double)(v->uptime_s ? v->uptime_s : 1),
		       (unsigned long long)s->bytes_spliced, (unsigned long long)s->bytes_copied,
		       (unsigned long long)v->active, (unsigned long long)s->accepted,
		       (unsigned long long)s->refused, (unsigned long long)v->head_buffers,
		       (unsigned long long)s->tunnels_active, (unsigned long long)s->tunnels,
		       (unsigned long long)s->tls_active, (unsigned long long)s->tls_handshakes,
		       (unsigned long long)fails, (unsigned long long)s->authz_denied);
	for (unsigned k = 0; k < 6; k++)
		max = s->status[k] > max ? s->status[k] : max;
	stats_text_add(t, "<h2>Responses by status class</h2><table>");
	for (unsigned k = 1; k < 6; k++)
		status_bar(t, cls[k], s->status[k], max);
	status_bar(t, "closed without one", s->status[0], max);
	stats_text_add(t, "</table>\n<h2>Latency (head parsed to response sent)</h2><table>");
	for (unsigned k = 0; k < STATS_LAT_BUCKETS; k++)
		lmax = s->lat_bucket[k] > lmax ? s->lat_bucket[k] : lmax;
	for (unsigned k = 0; k < STATS_LAT_BUCKETS; k++) {
		if (k < STATS_LAT_BUCKETS - 1)
			snprintf(label, sizeof(label), "&le; %g ms",
				 (double)stats_lat_bounds_ns[k] / 1e6);
		else
			snprintf(label, sizeof(label), "&gt; %g ms",
				 (double)stats_lat_bounds_ns[k - 1] / 1e6);
		status_bar(t, label, s->lat_bucket[k], lmax);
	}
	stats_text_add(t, "</table>\n");
}

static void status_workers(struct status_ctx *x, const struct stats_view *v)
{
	struct stats_text *t = x->t;

	stats_text_add(t, "<h2>Workers</h2><table><tr><th>Generation</th><th>Worker</th>"
		       "<th>State</th><th>Connections</th><th>Requests</th><th>2xx</th><th>4xx</th>"
		       "<th>5xx</th><th>Body bytes</th></tr>");
	for (unsigned g = 0; g < v->ngen; g++) {
		for (unsigned i = 0; i < v->gen[g].n; i++) {
			const struct worker *w = &v->gen[g].w[i];

			stats_text_add(t, "<tr><td class=\"n\">%llu</td><td class=\"n\">%u</td><td>%s"
				       "</td><td class=\"n\">%u</td><td class=\"n\">%llu</td>"
				       "<td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
				       "<td class=\"n\">%llu</td><td class=\"n\">%llu</td></tr>",
				       (unsigned long long)w->gen, w->id,
				       w->stopping ? "stopping" : w->retiring ? "retiring" : "serving",
				       w->active, (unsigned long long)w->stats.requests,
				       (unsigned long long)w->stats.status[2],
				       (unsigned long long)w->stats.status[4],
				       (unsigned long long)w->stats.status[5],
				       (unsigned long long)(w->stats.bytes_spliced +
							    w->stats.bytes_copied));
		}
	}
	stats_text_add(t, "</table>\n");
}

/* The state of backend b of cfg, as the workers w[] of cfg see it. */
struct status_backend {
	const char *state;
	unsigned open, waiting, busy, idle, queued;
	unsigned inflight;         /* routed to it directly (busy: by a pool) */
	bool have_slot;
	const struct as_queue *as; /* autostarted: the helper's word, from one worker */
};

static void status_backend_read(const struct stats_view *v, const struct config *cfg,
				unsigned b, struct status_backend *out)
{
	const struct worker *w;
	int a = cfg->backend[b].autostart;

	memset(out, 0, sizeof(*out));
	out->state = "unchecked";
	STATUS_FOR_CUR(v, cfg, w) {
		out->inflight += w->be_inflight[b];
		if (w->pools)
			out->idle += w->pools[b].n;
		if (w->slotq)
			out->queued += w->slotq[b].n;
		if (a >= 0 && w->waits) {
			out->queued += w->waits[a].n;
			if (!out->as || w->waits[a].hsince_ms > out->as->hsince_ms)
				out->as = &w->waits[a];
		}
		if (w->slots && w->slots[b] && !out->have_slot) {
			out->have_slot = true;
			out->open = w->slots[b]->open;
			out->waiting = w->slots[b]->waiting;
			out->busy = w->slots[b]->busy;
		}
	}
	/* a pool's member: what the pools' workers saw of it */
	for (unsigned p = 0; p < cfg->nbalancer; p++) {
		for (unsigned m = 0; m < cfg->balancer[p].nmember; m++) {
			if (cfg->balancer[p].member[m].backend != (int)b)
				continue;
			if (strcmp(out->state, "down") != 0)
				out->state = "up";
			STATUS_FOR_CUR(v, cfg, w)
				if (w->bal[p].m[m].in_error || w->bal[p].m[m].hc_down)
					out->state = "down";
		}
	}
	if (out->as) {
		static const char *const st[4] = { "stopped", "up", "down", "draining" };

		out->state = out->as->hstate < 4 ? st[out->as->hstate] : "unchecked";
		if (out->as->hstate == HB_RUNNING && out->as->n)
			out->state = "starting";
	}
}

static void status_age(struct stats_text *t, uint64_t now, uint64_t then)
{
	if (!then || then > now)
		stats_text_add(t, "-");
	else
		status_duration(t, (now - then) / 1000);
}

static void status_backends(struct status_ctx *x, const struct stats_view *v)
{
	struct stats_text *t = x->t;
	const struct config *cfg = x->cfg;

	stats_text_add(t, "<h2>Backends</h2><table><tr><th>Backend</th><th>State</th>"
		       "<th>In flight</th><th>Queued</th><th>Open (max)</th><th>Idle pooled</th>"
		       "<th>Pid</th><th>Process uptime</th><th>Starts</th><th>Last exit</th>"
		       "<th>Next start in</th>"
		       "</tr>");
	for (unsigned b = 0; b < cfg->nbackend && t->len < STATUS_PAGE_MAX; b++) {
		struct status_backend sb;

		status_backend_read(v, cfg, b, &sb);
		stats_text_add(t, "<tr><td>");
		status_htmls(t, cfg->backend[b].name);
		stats_text_add(t, "</td><td>");
		status_state(t, sb.state);
		stats_text_add(t, "</td><td class=\"n\">%u</td><td class=\"n\">%u</td>"
			       "<td class=\"n\">%u (%u)</td><td class=\"n\">%u</td>",
			       sb.busy + sb.inflight, sb.queued, sb.open, cfg->backend[b].p.max,
			       sb.idle);
		if (!sb.as) {
			stats_text_add(t, "<td colspan=\"5\">not autostarted</td></tr>");
			continue;
		}
		stats_text_add(t, "<td class=\"n\">%d</td><td>", sb.as->hpid);
		if (sb.as->hpid)
			status_age(t, x->now_ms, sb.as->hsince_ms);
		else
			stats_text_add(t, "-");
		stats_text_add(t, "</td><td class=\"n\">%u</td><td>", sb.as->hstarts);
		if (!sb.as->hlast_exit)
			stats_text_add(t, "-");
		else if (sb.as->hlast_exit > 256)
			stats_text_add(t, "signal %u", sb.as->hlast_exit - 257);
		else
			stats_text_add(t, "status %u", sb.as->hlast_exit - 1);
		stats_text_add(t, "</td><td>");
		if (sb.as->hstate == HB_BACKOFF && sb.as->hbackoff_ms) {
			uint64_t at = sb.as->hbackoff_at_ms + sb.as->hbackoff_ms;

			stats_text_add(t, "%llu ms", (unsigned long long)(at > x->now_ms ?
									   at - x->now_ms : 0));
		} else {
			stats_text_add(t, "-");
		}
		stats_text_add(t, "</td></tr>");
	}
	stats_text_add(t, "</table>\n");
}

static void status_pools(struct status_ctx *x, const struct stats_view *v)
{
	struct stats_text *t = x->t;
	const struct config *cfg = x->cfg;

	if (!cfg->nbalancer)
		return;
	stats_text_add(t, "<h2>Pools (balancer://)</h2><table><tr><th>Pool</th><th>Member</th>"
		       "<th>State</th><th>In flight</th><th>Requests</th><th>Failures</th>"
		       "<th>Health check</th></tr>");
	for (unsigned p = 0; p < cfg->nbalancer; p++) {
		for (unsigned m = 0; m < cfg->balancer[p].nmember; m++) {
			const struct cfg_member *cm = &cfg->balancer[p].member[m];
			const struct worker *w;
			const char *state = cm->status & CFG_MEMBER_STOPPED ? "stopped"
				: cm->status & CFG_MEMBER_DISABLED ? "draining" : "up";
			unsigned busy = 0, passes = 0, fails = 0;
			bool down = false, hc = false;

			STATUS_FOR_CUR(v, cfg, w) {
				busy += w->bal[p].m[m].busy;
				down = down || w->bal[p].m[m].in_error || w->bal[p].m[m].hc_down;
				if (w->hc && !hc) {
					hc = true;
					passes = w->hc[p * CFG_MAX_MEMBERS + m].passes;
					fails = w->hc[p * CFG_MAX_MEMBERS + m].fails;
				}
				if (w->slots && w->slots[cm->backend] &&
				    w->slots[cm->backend]->od == BAL_OD_DRAINING)
					state = "draining";
			}
			if (down && strcmp(state, "up") == 0)
				state = "down";
			stats_text_add(t, "<tr><td>");
			status_htmls(t, cfg->balancer[p].name);
			stats_text_add(t, "</td><td>");
			status_htmls(t, cfg->backend[cm->backend].name);
			stats_text_add(t, "</td><td>");
			status_state(t, state);
			stats_text_add(t, "</td><td class=\"n\">%u</td><td class=\"n\">%llu</td>"
				       "<td class=\"n\">%llu</td><td>", busy,
				       (unsigned long long)v->sum.member[cm->backend][STATS_M_REQUESTS],
				       (unsigned long long)v->sum.member[cm->backend][STATS_M_FAILURES]);
			if (cm->hcmethod == CFG_HC_NONE || !hc)
				stats_text_add(t, "none");
			else
				stats_text_add(t, "%u passed, %u failed in a row", passes, fails);
			stats_text_add(t, "</td></tr>");
		}
	}
	stats_text_add(t, "</table>\n");
}

static int status_slow_cmp(const void *a, const void *b)
{
	const struct status_slow_entry *x = a, *y = b;

	return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

static void status_slowest(struct status_ctx *x, const struct stats_view *v)
{
	struct stats_text *t = x->t;
	struct status_slow_entry all[STATUS_SLOW_N * 4];
	unsigned n = 0;
	const struct worker *w;

	STATUS_FOR_CUR(v, x->cfg, w) {
		for (unsigned k = 0; k < STATUS_SLOW_N; k++) {
			struct status_slow_entry e;

			/* a worker's clock, read after the page's, may be ahead of it */
			if (!status_slow_read(&w->slow.e[k], &e) ||
			    (e.end_ms < x->now_ms && x->now_ms - e.end_ms > STATUS_SLOW_WINDOW_MS))
				continue;
			if (n < sizeof(all) / sizeof(all[0])) {
				all[n++] = e;
			} else {
				qsort(all, n, sizeof(all[0]), status_slow_cmp);
				if (e.ns > all[n - 1].ns)
					all[n - 1] = e;
			}
		}
	}
	qsort(all, n, sizeof(all[0]), status_slow_cmp);
	stats_text_add(t, "<h2>Slowest requests of the last minute</h2><table><tr>"
		       "<th>Duration</th><th>Status</th><th>Method</th><th>Host</th><th>Path</th>"
		       "<th>Backend</th></tr>");
	for (unsigned i = 0; i < n && i < STATUS_SLOW_N; i++) {
		stats_text_add(t, "<tr><td class=\"n\">%.3f ms</td><td class=\"n\">%u</td><td>",
			       (double)all[i].ns / 1e6, all[i].status);
		status_htmls(t, all[i].method);
		stats_text_add(t, "</td><td>");
		status_htmls(t, all[i].host);
		stats_text_add(t, "</td><td>");
		status_htmls(t, all[i].path);
		stats_text_add(t, "</td><td>");
		status_htmls(t, all[i].backend[0] ? all[i].backend : "-");
		stats_text_add(t, "</td></tr>");
	}
	stats_text_add(t, "</table>\n");
}

static void status_view(const struct stats_view *v, void *arg)
{
	struct status_ctx *x = arg;

	if (!v) {
		x->t->failed = true;
		return;
	}
	if (x->rq->autoform) {
		status_auto(x, v);
		return;
	}
	status_head(x, v);
	status_traffic(x, v);
	if (!x->cfg->status_brief)
		status_workers(x, v);
	status_backends(x, v);
	status_pools(x, v);
	if (!x->cfg->status_brief)
		status_slowest(x, v);
	if (x->t->len >= STATUS_PAGE_MAX)
		stats_text_add(x->t, "<p class=\"fail\">(the page was cut at %u bytes)</p>",
			       STATUS_PAGE_MAX);
	stats_text_add(x->t, "</body></html>\n");
}

void status_render(const struct config *cfg, const struct status_req *rq, struct stats_text *t)
{
	struct status_ctx x = { cfg, rq, t, status_clock_ms(CLOCK_MONOTONIC) };

	stats_view(cfg, status_view, &x);
}
