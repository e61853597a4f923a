/* The member choice of a balancer:// pool; the contract is in include/spliced/balancer.h.
 * The arithmetic is httpd's (mod_lbmethod_byrequests, _bybusyness, _bytraffic), so a pool
 * moved from httpd shares its requests out the same way. */
#include <string.h>
#include <strings.h>

#include "spliced/balancer.h"

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
