/* Access rules of <Location> sections; the contract is in include/spliced/authz.h.
 *
 * Semantics of httpd 2.4 (mod_authz_core): a rule gives granted, denied or neutral;
 * "not" turns granted into denied and denied into neutral; <RequireAll> is denied by its
 * first denied child, else granted if a child was, else neutral; <RequireAny> is granted
 * by its first granted child, else denied if a child was, else neutral; <RequireNone> is
 * a negated <RequireAny>. The Require lines of a section sit in an implicit
 * <RequireAny>. A final neutral is a denial. Sections merge in order: one with rules
 * replaces what applied before (AuthMerging Off, the default), or is combined with it
 * (And, Or); one without rules inherits. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spliced/authz.h"
#include "spliced/http.h"

enum { AZ_NEUTRAL = 0, AZ_GRANTED, AZ_DENIED };

__attribute__((format(printf, 3, 4)))
static int az_fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Room for one more element of a heap array of `size`-byte elements. */
static int az_grow(void **arr, unsigned n, unsigned *cap, size_t size)
{
	unsigned ncap = *cap ? *cap * 2 : 8;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* A new node (-1: out of memory), linked as the last child of the innermost open
 * container. */
static int32_t az_node_add(struct authz *az, enum authz_kind kind, bool negate)
{
	struct authz_node *n;
	int32_t id;

	if (az_grow((void **)&az->node, az->nnode, &az->cap_node, sizeof(*az->node)) < 0)
		return -1;
	id = (int32_t)az->nnode++;
	n = &az->node[id];
	*n = (struct authz_node){ .kind = (uint8_t)kind, .negate = negate, .first = -1,
				  .last = -1, .next = -1 };
	if (az->depth) {
		struct authz_node *parent = &az->node[az->stack[az->depth - 1]];

		if (parent->last >= 0)
			az->node[parent->last].next = id;
		else
			parent->first = id;
		parent->last = id;
	}
	return id;
}

/* ---- parsing ------------------------------------------------------------------------ */

int authz_location_open(struct authz *az, unsigned scope, const char *path, unsigned line,
			char *msg, size_t msglen)
{
	struct authz_loc *l;
	size_t len = strlen(path);
	ssize_t n;

	if (az->open)
		return az_fail(msg, msglen, "<Location> cannot be nested in <Location>");
	if (path[0] == '~')
		return az_fail(msg, msglen, "regular expressions (<Location ~ ...>) are not "
			       "supported; use a path prefix");
	if (strpbrk(path, "*?["))
		return az_fail(msg, msglen, "wildcards (* ? [) are not supported; use a path prefix");
	if (path[0] != '/')
		return az_fail(msg, msglen, "the path must start with '/'");
	if (len >= AUTHZ_PREFIX_MAX)
		return az_fail(msg, msglen, "the path is longer than %d bytes", AUTHZ_PREFIX_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f)
			return az_fail(msg, msglen, "a space or control character in the path: "
				       "write it percent-encoded");
	if (az_grow((void **)&az->loc, az->nloc, &az->cap_loc, sizeof(*az->loc)) < 0)
		return az_fail(msg, msglen, "out of memory");
	l = &az->loc[az->nloc];
	memset(l, 0, sizeof(*l));
	memcpy(l->prefix, path, len);
	/* the same spelling requests are matched in: "/%61dmin/./x//" is "/admin/x/" */
	n = http_path_normalize(l->prefix, len);
	if (n <= 0)
		return az_fail(msg, msglen, "the path is malformed or climbs above the root");
	l->prefix[n] = '\0';
	l->prefix_len = (uint32_t)n;
	l->scope = (uint16_t)scope;
	l->root = -1;
	l->line = line;
	az->nloc++;
	az->open = true;
	az->depth = 0;
	return 0;
}

/* Whether container id has a child that is not negated (httpd refuses a container of
 * negations only: nothing in it could ever grant). */
static bool az_has_positive(const struct authz *az, int32_t id)
{
	for (int32_t c = az->node[id].first; c >= 0; c = az->node[c].next)
		if (!az->node[c].negate)
			return true;
	return false;
}

int authz_location_close(struct authz *az, char *msg, size_t msglen)
{
	const struct authz_loc *l;

	if (!az->open)
		return az_fail(msg, msglen, "without matching <Location> section");
	l = &az->loc[az->nloc - 1];
	if (az->depth > 1)  /* stack[0] is the section's implicit <RequireAny> */
		return az_fail(msg, msglen, "<%s> is not closed",
			       az->node[az->stack[az->depth - 1]].negate ? "RequireNone"
			       : az->node[az->stack[az->depth - 1]].kind == AUTHZ_AND ? "RequireAll"
			       : "RequireAny");
	if (l->root >= 0 && !az_has_positive(az, l->root))
		return az_fail(msg, msglen, "<Location %s> contains only negative authorization "
			       "directives", l->prefix);
	az->open = false;
	return 0;
}

/* The implicit <RequireAny> of the open section, made on its first rule. */
static int az_section_root(struct authz *az)
{
	struct authz_loc *l = &az->loc[az->nloc - 1];
	int32_t id;

	if (l->root >= 0)
		return 0;
	id = az_node_add(az, AUTHZ_OR, false);
	if (id < 0)
		return -1;
	l->root = id;
	az->stack[0] = id;
	az->depth = 1;
	return 0;
}

static bool az_container(const char *name, enum authz_kind *kind, bool *negate)
{
	*negate = false;
	if (strcasecmp(name, "RequireAll") == 0)
		*kind = AUTHZ_AND;
	else if (strcasecmp(name, "RequireAny") == 0)
		*kind = AUTHZ_OR;
	else if (strcasecmp(name, "RequireNone") == 0)
		*kind = AUTHZ_OR, *negate = true;
	else
		return false;
	return true;
}

/* A negated rule or <RequireNone> straight in a <RequireAny> could never change its
 * result: httpd refuses it. */
static int az_check_negate(const struct authz *az, bool negate, const char *what,
			   char *msg, size_t msglen)
{
	const struct authz_node *parent = &az->node[az->stack[az->depth - 1]];

	if (negate && parent->kind == AUTHZ_OR && !parent->negate)
		return az_fail(msg, msglen, "negative %s has no effect in <RequireAny> (the "
			       "section's own Require lines are in one): put it in <RequireAll> "
			       "with a positive rule", what);
	return 0;
}

int authz_section_open(struct authz *az, const char *name, char *msg, size_t msglen)
{
	enum authz_kind kind;
	bool negate;
	int32_t id;

	if (!az_container(name, &kind, &negate))
		return az_fail(msg, msglen, "unknown section <%s>", name);
	if (!az->open)
		return az_fail(msg, msglen, "<%s> is only allowed in <Location>", name);
	if (az_section_root(az) < 0)
		return az_fail(msg, msglen, "out of memory");
	if (az->depth == AUTHZ_DEPTH_MAX)
		return az_fail(msg, msglen, "nested more than %d deep", AUTHZ_DEPTH_MAX - 1);
	if (az_check_negate(az, negate, "<RequireNone>", msg, msglen) < 0)
		return -1;
	id = az_node_add(az, kind, negate);
	if (id < 0)
		return az_fail(msg, msglen, "out of memory");
	az->stack[az->depth++] = id;
	return 0;
}

int authz_section_close(struct authz *az, const char *name, char *msg, size_t msglen)
{
	enum authz_kind kind;
	bool negate;
	const struct authz_node *n;

	if (!az_container(name, &kind, &negate))
		return az_fail(msg, msglen, "unknown section </%s>", name);
	if (!az->open || az->depth < 2)
		return az_fail(msg, msglen, "</%s> without matching <%s> section", name, name);
	n = &az->node[az->stack[az->depth - 1]];
	if (n->kind != kind || n->negate != negate)
		return az_fail(msg, msglen, "</%s> without matching <%s> section", name, name);
	if (n->first < 0)
		return az_fail(msg, msglen, "<%s> contains no authorization directives", name);
	/* httpd checks every container for a positive child (a <RequireNone> in a
	 * <RequireAll> counts as the negated rules it stands for, by De Morgan: negative) */
	if (!az_has_positive(az, az->stack[az->depth - 1]))
		return az_fail(msg, msglen, "<%s> contains only negative authorization directives",
			       name);
	az->depth--;
	return 0;
}

/* "a.b.c.d", or fewer leading bytes ("10.1": the rest 0, *nbytes = 2). */
static int az_ipv4_partial(const char *s, uint8_t *addr, unsigned *nbytes)
{
	unsigned n = 0;

	memset(addr, 0, 4);
	while (*s) {
		unsigned v = 0, digits = 0;

		if (n == 4)
			return -1;
		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			v = v * 10 + (unsigned)(*s - '0');
			if (v > 255 || digits == 3)
				return -1;
		}
		if (!digits)
			return -1;
		addr[n++] = (uint8_t)v;
		if (*s == '.' && s[1])
			s++;
		else if (*s)
			return -1;
	}
	*nbytes = n;
	return n ? 0 : -1;
}

/* A mask such as 255.255.0.0 as a prefix length; -1 when its bits are not contiguous. */
static int az_mask_bits(const uint8_t *m)
{
	uint32_t v = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
	int bits = 0;

	while (bits < 32 && (v & (0x80000000u >> bits)))
		bits++;
	return bits < 32 && (v << bits) ? -1 : bits;
}

/* Whether the bits of addr beyond `bits` are all 0 (httpd refuses "10.1.2.3/16"). */
static bool az_host_bits_clear(const uint8_t *addr, unsigned alen, unsigned bits)
{
	for (unsigned i = 0; i < alen; i++) {
		unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? bits - i * 8 : 0;
		uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);

		if (addr[i] & (uint8_t)~mask)
			return false;
	}
	return true;
}

int authz_net_parse(const char *s, struct authz_net *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	unsigned nbytes;
	long bits = -1;

	memset(out, 0, sizeof(*out));
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (slash) {
		char *end;

		if (slash[1] >= '0' && slash[1] <= '9' && !strchr(slash + 1, '.')) {
			bits = strtol(slash + 1, &end, 10);
			if (*end || end - (slash + 1) > 3)
				return -1;
		} else if (!strchr(host, ':')) {
			uint8_t m[4];

			if (inet_pton(AF_INET, slash + 1, m) != 1 || (bits = az_mask_bits(m)) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	if (strchr(host, ':')) {
		if (inet_pton(AF_INET6, host, out->addr) != 1 || bits > 128)
			return -1;
		out->family = AF_INET6;
		out->bits = (uint8_t)(bits < 0 ? 128 : bits);
		return az_host_bits_clear(out->addr, 16, out->bits) ? 0 : -1;
	}
	if (az_ipv4_partial(host, out->addr, &nbytes) < 0 || bits > 32)
		return -1;
	if (nbytes < 4 && slash)
		return -1;  /* "10.1/16": httpd takes a partial address alone only */
	out->family = AF_INET;
	out->bits = (uint8_t)(bits < 0 ? nbytes * 8 : bits);
	return az_host_bits_clear(out->addr, 4, out->bits) ? 0 : -1;
}

int authz_addr_parse(const char *s, struct authz_net *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(out, 0, sizeof(*out));
	if (!s)
		return -1;
	if (inet_pton(AF_INET, s, out->addr) == 1) {
		out->family = AF_INET;
		out->bits = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->addr) != 1)
		return -1;
	if (memcmp(out->addr, mapped, 12) == 0) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = AF_INET;
		out->bits = 32;
		return 0;
	}
	out->family = AF_INET6;
	out->bits = 128;
	return 0;
}

bool authz_net_holds(const struct authz_net *n, const struct authz_net *a)
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	if (n->family != a->family)
		return false;
	if (memcmp(n->addr, a->addr, full) != 0)
		return false;
	return !rest || ((n->addr[full] ^ a->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* Require [not] ip ADDR... */
static int az_require_ip(struct authz *az, int32_t id, unsigned argc, char **argv,
			 unsigned first, char *msg, size_t msglen)
{
	struct authz_node *n;

	if (first >= argc)
		return az_fail(msg, msglen, "Require ip needs at least one address");
	az->node[id].net_first = az->nnet;
	for (unsigned i = first; i < argc; i++) {
		if (az_grow((void **)&az->net, az->nnet, &az->cap_net, sizeof(*az->net)) < 0)
			return az_fail(msg, msglen, "out of memory");
		if (authz_net_parse(argv[i], &az->net[az->nnet]) < 0)
			return az_fail(msg, msglen, "Require ip: \"%.64s\" is not an address or "
				       "network (a.b.c.d, a.b, a.b.c.d/nn, a.b.c.d/m.m.m.m, ipv6/nn; "
				       "no host bits set past the prefix)", argv[i]);
		az->nnet++;
	}
	n = &az->node[id];
	n->nnet = az->nnet - n->net_first;
	return 0;
}

int authz_require(struct authz *az, unsigned argc, char **argv, char *msg, size_t msglen)
{
	bool negate = argc > 1 && strcasecmp(argv[1], "not") == 0;
	unsigned k = 1 + negate;
	const char *prov = k < argc ? argv[k] : "";
	int32_t id;

	if (!az->open)
		return az_fail(msg, msglen, "only allowed in <Location> (spliced has no "
			       "<Directory> or .htaccess)");
	if (!*prov)
		return az_fail(msg, msglen, "needs a provider (all, ip)");
	if (strcasecmp(prov, "all") == 0) {
		if (negate)
			return az_fail(msg, msglen, "\"Require not all\" is not supported; write "
				       "the opposite Require all");
		if (argc != k + 2 || (strcasecmp(argv[k + 1], "granted") != 0 &&
				      strcasecmp(argv[k + 1], "denied") != 0))
			return az_fail(msg, msglen, "Require all takes granted or denied");
	} else if (strcasecmp(prov, "ip") != 0) {
		return az_fail(msg, msglen, "Require %.32s is not supported (spliced implements "
			       "Require all granted|denied and Require [not] ip)", prov);
	}
	if (az_section_root(az) < 0)
		return az_fail(msg, msglen, "out of memory");
	if (az_check_negate(az, negate, "Require", msg, msglen) < 0)
		return -1;
	if (strcasecmp(prov, "all") == 0) {
		bool granted = strcasecmp(argv[k + 1], "granted") == 0;

		id = az_node_add(az, granted ? AUTHZ_ALL_GRANTED : AUTHZ_ALL_DENIED, false);
		return id < 0 ? az_fail(msg, msglen, "out of memory") : 0;
	}
	id = az_node_add(az, AUTHZ_IP, negate);
	if (id < 0)
		return az_fail(msg, msglen, "out of memory");
	return az_require_ip(az, id, argc, argv, k + 1, msg, msglen);
}

int authz_merging(struct authz *az, const char *arg, char *msg, size_t msglen)
{
	uint8_t m;

	if (!az->open)
		return az_fail(msg, msglen, "only allowed in <Location>");
	if (strcasecmp(arg, "Off") == 0)
		m = AUTHZ_MERGE_OFF;
	else if (strcasecmp(arg, "And") == 0)
		m = AUTHZ_MERGE_AND;
	else if (strcasecmp(arg, "Or") == 0)
		m = AUTHZ_MERGE_OR;
	else
		return az_fail(msg, msglen, "takes Off, And or Or");
	az->loc[az->nloc - 1].merge = m;
	return 0;
}

void authz_free(struct authz *az)
{
	free(az->loc);
	free(az->node);
	free(az->net);
	memset(az, 0, sizeof(*az));
}

/* ---- deciding ----------------------------------------------------------------------- */

static bool az_encoded_slash(const char *s, size_t n)
{
	return n >= 3 && memcmp(s, "%2F", 3) == 0;  /* normalized escapes are upper-case */
}

bool authz_prefix_match(const char *p, size_t plen, const char *path, size_t len)
{
	size_t i = 0, j = 0;

	/* A backend that decodes "%2F" sees a slash: so does the match (httpd refuses such
	 * paths with AllowEncodedSlashes Off; spliced passes them on). */
	while (i < plen) {
		if (j < len && p[i] == path[j]) {
			i++, j++;
		} else if (p[i] == '/' && az_encoded_slash(path + j, len - j)) {
			i++, j += 3;
		} else {
			return false;
		}
	}
	/* httpd: "/admin" covers "/admin" and "/admin/x", not "/administrator". A ';' ends
	 * the segment too: "/admin;x" is "/admin" to many backends (path parameters). */
	return p[plen - 1] == '/' || j == len || path[j] == '/' || path[j] == ';' ||
	       az_encoded_slash(path + j, len - j);
}

/* The client address, parsed on first use. */
struct az_client {
	const char *text;
	struct authz_net addr;
	int state;                 /* 0 not parsed, 1 valid, -1 invalid */
};

static int az_eval(const struct authz *az, int32_t id, struct az_client *cl)
{
	const struct authz_node *n = &az->node[id];
	int r = AZ_NEUTRAL;

	switch (n->kind) {
	case AUTHZ_ALL_GRANTED:
		r = AZ_GRANTED;
		break;
	case AUTHZ_ALL_DENIED:
		r = AZ_DENIED;
		break;
	case AUTHZ_IP:
		if (!cl->state)
			cl->state = authz_addr_parse(cl->text, &cl->addr) == 0 ? 1 : -1;
		r = AZ_DENIED;
		for (uint32_t i = 0; cl->state > 0 && i < n->nnet && r == AZ_DENIED; i++)
			if (authz_net_holds(&az->net[n->net_first + i], &cl->addr))
				r = AZ_GRANTED;
		break;
	case AUTHZ_AND:
	case AUTHZ_OR:
		for (int32_t c = n->first; c >= 0; c = az->node[c].next) {
			int cr = az_eval(az, c, cl);

			if (cr == AZ_NEUTRAL)
				continue;
			r = cr;
			if ((n->kind == AUTHZ_AND) == (cr == AZ_DENIED))
				break;  /* AND: a denial decides; OR: a grant does */
		}
		break;
	}
	if (n->negate)
		r = r == AZ_GRANTED ? AZ_DENIED : r == AZ_DENIED ? AZ_NEUTRAL : r;
	return r;
}

/* Two results combined as the children of a container of kind AND or OR. */
static int az_combine(bool and, int a, int b)
{
	if (a == AZ_NEUTRAL)
		return b;
	if (b == AZ_NEUTRAL)
		return a;
	if (and)
		return a == AZ_DENIED || b == AZ_DENIED ? AZ_DENIED : AZ_GRANTED;
	return a == AZ_GRANTED || b == AZ_GRANTED ? AZ_GRANTED : AZ_DENIED;
}

int authz_set_handler(struct authz *az, const char *name, char *msg, size_t msglen)
{
	struct authz_loc *l;

	if (!az->open)
		return az_fail(msg, msglen, "is only supported in <Location>");
	l = &az->loc[az->nloc - 1];
	if (strcasecmp(name, "server-status") == 0)
		l->handler = AUTHZ_HANDLER_STATUS;
	else if (strcasecmp(name, "None") == 0)
		l->handler = AUTHZ_HANDLER_NONE;
	else
		return az_fail(msg, msglen, "handler \"%.64s\" is not implemented (server-status "
			       "and None are)", name);
	return 0;
}

enum authz_handler authz_handler(const struct authz *az, unsigned scope, const char *path,
				 size_t len, int *loc)
{
	enum authz_handler h = AUTHZ_HANDLER_NONE;

	*loc = -1;
	for (unsigned pass = 0; pass < (scope ? 2u : 1u); pass++) {
		for (unsigned i = 0; i < az->nloc; i++) {
			const struct authz_loc *l = &az->loc[i];

			if (l->handler == AUTHZ_HANDLER_UNSET || l->scope != (pass ? scope : 0) ||
			    !authz_prefix_match(l->prefix, l->prefix_len, path, len))
				continue;
			h = (enum authz_handler)l->handler;
			*loc = h == AUTHZ_HANDLER_NONE ? -1 : (int)i;
		}
	}
	return h;
}

void authz_decide(const struct authz *az, unsigned scope, const char *path, size_t len,
		  const char *client, struct authz_result *out)
{
	struct az_client cl = { .text = client };
	bool have = false;         /* some rules apply so far (the merged "section") */
	uint8_t op = AUTHZ_MERGE_UNSET; /* AuthMerging of the merged configuration */
	int res = AZ_NEUTRAL;

	out->denied = false;
	out->loc = -1;
	/* the main server's sections first, then the virtual host's (httpd appends them) */
	for (unsigned pass = 0; pass < (scope ? 2u : 1u); pass++) {
		for (unsigned i = 0; i < az->nloc; i++) {
			const struct authz_loc *l = &az->loc[i];
			bool rules = l->root >= 0;

			if (l->scope != (pass ? scope : 0) ||
			    !authz_prefix_match(l->prefix, l->prefix_len, path, len))
				continue;
			/* as httpd's merge_authz_core_dir_config() */
			if (l->merge == AUTHZ_MERGE_UNSET && !rules)
				continue;
			if (l->merge <= AUTHZ_MERGE_OFF ||
			    !(have || op == AUTHZ_MERGE_AND || op == AUTHZ_MERGE_OR)) {
				have = rules;
				res = rules ? az_eval(az, l->root, &cl) : AZ_NEUTRAL;
			} else if (rules) {
				int r = az_eval(az, l->root, &cl);

				res = have ? az_combine(l->merge == AUTHZ_MERGE_AND, res, r) : r;
				have = true;
			}
			op = l->merge;
			if (rules)
				out->loc = (int)i;
		}
	}
	/* no rules: granted; rules that end neutral: denied, as httpd */
	out->denied = have && res != AZ_GRANTED;
}
