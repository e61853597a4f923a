/* The member choice of a balancer:// pool; the contract is in include/spliced/balancer.h.
 * The arithmetic is httpd's (mod_lbmethod_byrequests, _bybusyness, _bytraffic), so a pool
 * moved from httpd shares its requests out the same way. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spliced/balancer.h"
#include "spliced/http.h"

/* Is member i a better choice than the best so far (-1: none yet)? The byrequests credit
 * is given here, to every member looked at, as httpd does. */
static bool bal_better(const struct cfg_balancer *b, struct bal_state *st, int best, unsigned i,
		       uint64_t *min_traffic, int64_t *total)
{
	struct bal_member_state *m = &st->m[i];
	const struct bal_member_state *p = best >= 0 ? &st->m[best] : NULL;
	unsigned f = b->member[i].lbfactor ? b->member[i].lbfactor : 1;
	uint64_t t;

	switch (b->lbmethod) {
	case CFG_LB_BYTRAFFIC:
		t = m->traffic / f;
		if (p && t >= *min_traffic)
			return false;
		*min_traffic = t;
		return true;
	case CFG_LB_BYBUSYNESS:
		m->lbstatus += f;
		*total += f;
		return !p || m->busy < p->busy || (m->busy == p->busy && m->lbstatus > p->lbstatus);
	case CFG_LB_BYREQUESTS:
	default:
		m->lbstatus += f;
		*total += f;
		return !p || m->lbstatus > p->lbstatus;
	}
}

int bal_pick(const struct cfg_balancer *b, struct bal_state *st, uint32_t usable)
{
	int best = -1;

	/* first the members that are not hot standbys; the standbys when none is usable */
	for (unsigned standby = 0; standby < 2 && best < 0; standby++) {
		uint64_t min_traffic = 0;
		int64_t total = 0;

		for (unsigned i = 0; i < b->nmember && i < CFG_MAX_MEMBERS; i++) {
			if (!(usable & (1u << i)) ||
			    !!(b->member[i].status & CFG_MEMBER_STANDBY) != standby)
				continue;
			if (bal_better(b, st, best, i, &min_traffic, &total))
				best = (int)i;
		}
		if (best >= 0)
			st->m[best].lbstatus -= total;
	}
	return best;
}

/* The value of `name` in a list of name=value items separated by any of `seps`, blanks
 * after a separator skipped. */
static bool bal_list_value(const char *s, size_t len, const char *seps, const char *name,
			   const char **out, size_t *outlen)
{
	size_t n = strlen(name), i = 0;

	while (i < len) {
		size_t e = i;

		while (e < len && !strchr(seps, s[e]))
			e++;
		while (i < e && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (e - i > n && s[i + n] == '=' && memcmp(s + i, name, n) == 0 && e - i - n - 1 > 0) {
			*out = s + i + n + 1;
			*outlen = e - i - n - 1;
			return true;
		}
		i = e + 1;
	}
	return false;
}

bool bal_cookie_value(const char *v, size_t len, const char *name, const char **out,
		      size_t *outlen)
{
	return bal_list_value(v, len, ";", name, out, outlen);
}

bool bal_param_value(const char *q, size_t len, const char *name, const char **out,
		     size_t *outlen)
{
	return bal_list_value(q, len, "&;?", name, out, outlen);
}

int bal_route_member(const struct cfg_balancer *b, const char *value, size_t len)
{
	const char *dot = memchr(value, '.', len);
	size_t rlen;

	if (!dot)
		return -1;
	rlen = len - (size_t)(dot + 1 - value);
	for (unsigned i = 0; i < b->nmember; i++)
		if (b->member[i].route[0] && strlen(b->member[i].route) == rlen &&
		    memcmp(b->member[i].route, dot + 1, rlen) == 0)
			return (int)i;
	return -1;
}

int bal_sticky_member(const struct cfg_balancer *b, const char *head,
		      const struct http_request *req)
{
	const char *v, *val;
	size_t vlen, n;
	uint32_t pos = 0;

	if (!b->sticky_cookie[0])
		return -1;
	/* httpd's order (find_session_route()): the URL first, then the cookie */
	if (bal_param_value(head + req->target.off, req->target.len, b->sticky_param, &val, &n))
		return bal_route_member(b, val, n);
	while ((v = http_field_next(head, req, "cookie", 6, &pos, &vlen)))
		if (bal_cookie_value(v, vlen, b->sticky_cookie, &val, &n))
			return bal_route_member(b, val, n);
	return -1;
}

/* ---- health checks (mod_proxy_hcheck) ---------------------------------------------- */

static const char *bal_skip_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* "/RE/" at s, compiled, evaluated on every status into pass[]. */
static int bal_hc_regex(const char *expr, const char *s, bool negate, uint8_t pass[125],
			char *msg, size_t msglen)
{
	const char *end = s[0] == '/' ? strrchr(s + 1, '/') : NULL;
	pcre2_code *re;
	pcre2_match_data *md;
	int err;
	PCRE2_SIZE off;

	if (!end || *bal_skip_blank(end + 1)) {
		snprintf(msg, msglen, "expression \"%.100s\" is not supported: only one "
			 "comparison, its regular expression written /.../", expr);
		return -1;
	}
	re = pcre2_compile((PCRE2_SPTR)(s + 1), (PCRE2_SIZE)(end - s - 1), 0, &err, &off, NULL);
	if (!re) {
		snprintf(msg, msglen, "expression \"%.100s\": bad regular expression at offset %zu",
			 expr, (size_t)off);
		return -1;
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md) {
		pcre2_code_free(re);
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	for (unsigned st = 100; st < 1000; st++) {
		char txt[4];
		bool m;

		snprintf(txt, sizeof(txt), "%u", st);
		m = pcre2_match(re, (PCRE2_SPTR)txt, 3, 0, 0, md, NULL) >= 0;
		if (m != negate)
			pass[st / 8] |= (uint8_t)(1u << (st % 8));
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return 0;
}

int bal_hcexpr_compile(const char *expr, uint8_t pass[125], char *msg, size_t msglen)
{
	static const struct { const char *op; int lt, eq, gt; } cmp[] = {
		{ "-eq", 0, 1, 0 }, { "-ne", 1, 0, 1 }, { "-lt", 1, 0, 0 }, { "-le", 1, 1, 0 },
		{ "-gt", 0, 0, 1 }, { "-ge", 0, 1, 1 }, { "==", 0, 1, 0 }, { "!=", 1, 0, 1 },
		{ "<=", 1, 1, 0 }, { ">=", 0, 1, 1 }, { "<", 1, 0, 0 }, { ">", 0, 0, 1 },
	};
	static const char var[] = "%{REQUEST_STATUS}";
	const char *s = bal_skip_blank(expr);
	char *end;
	long n;

	memset(pass, 0, 125);
	if (strncmp(s, var, sizeof(var) - 1) != 0) {
		snprintf(msg, msglen, "expression \"%.100s\" is not supported: only comparisons of "
			 "%%{REQUEST_STATUS} are", expr);
		return -1;
	}
	s = bal_skip_blank(s + sizeof(var) - 1);
	if (strncmp(s, "=~", 2) == 0 || strncmp(s, "!~", 2) == 0)
		return bal_hc_regex(expr, bal_skip_blank(s + 2), s[0] == '!', pass, msg, msglen);
	for (unsigned i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++) {
		size_t ol = strlen(cmp[i].op);

		if (strncmp(s, cmp[i].op, ol) != 0)
			continue;
		s = bal_skip_blank(s + ol);
		if (*s == '\'' && s[1] && strchr(s + 1, '\''))
			s++;   /* '200' as well as 200 */
		n = strtol(s, &end, 10);
		if (end == s || (*end == '\'' ? *bal_skip_blank(end + 1) : *bal_skip_blank(end))) {
			snprintf(msg, msglen, "expression \"%.100s\": %s needs a number", expr,
				 cmp[i].op);
			return -1;
		}
		for (long st = 100; st < 1000; st++)
			if ((st < n && cmp[i].lt) || (st == n && cmp[i].eq) || (st > n && cmp[i].gt))
				pass[st / 8] |= (uint8_t)(1u << (st % 8));
		return 0;
	}
	snprintf(msg, msglen, "expression \"%.100s\" is not supported: the operators are =~ !~ "
		 "-eq -ne -lt -le -gt -ge == != < <= > >=", expr);
	return -1;
}

unsigned bal_hc_status(const char *buf, size_t len)
{
	unsigned st = 0;

	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
		return 0;
	for (unsigned i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return 0;
		st = st * 10 + (unsigned)(buf[i] - '0');
	}
	return st >= 100 ? st : 0;
}

bool bal_hc_passes(const struct cfg_hcexpr *expr, unsigned status)
{
	if (status < 100 || status > 999)
		return false;
	if (!expr)
		return status >= 200 && status < 400;
	return expr->pass[status / 8] & (1u << (status % 8));
}

/* ---- members by load (ondemandmin=, spliced's own) ----------------------------------- */

uint32_t bal_od_step(const struct cfg_balancer *b, struct bal_od_view *v, uint64_t now,
		     uint64_t *sat_since)
{
	uint32_t stop = 0;
	unsigned running = 0, kept = 0;
	bool all_saturated = true;

	for (unsigned i = 0; i < b->nmember; i++) {
		if (v[i].od == BAL_OD_DRAINING && v[i].busy == 0) {
			v[i].od = BAL_OD_PARKED;
			stop |= 1u << i;
		}
		if (v[i].od != BAL_OD_RUNNING)
			continue;
		/* the first od_min running members stay; the others may leave when idle */
		if (kept < b->od_min) {
			kept++;
		} else if (v[i].busy == 0 && v[i].last_ms <= now &&
			   now - v[i].last_ms >= b->od_idle_ms) {
			/* last_ms is the clock of the worker that gave the request, which may
			 * be ahead of this one's: then it was just used */
			v[i].od = BAL_OD_DRAINING;
			continue;
		}
		running++;
		all_saturated &= v[i].saturated;
	}
	if (!running || !all_saturated) {
		*sat_since = 0;
		return stop;
	}
	if (!*sat_since) {
		*sat_since = now;
		return stop;
	}
	if (now - *sat_since < b->od_wait_ms)
		return stop;
	for (unsigned i = 0; i < b->nmember; i++)
		if (v[i].od == BAL_OD_PARKED) {
			v[i].od = BAL_OD_RUNNING;
			v[i].last_ms = now;
			*sat_since = 0;
			break;
		}
	return stop;
}
