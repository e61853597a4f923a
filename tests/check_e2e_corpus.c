/* End-to-end suite for the request corpus (tests/corpus/requests.txt): malformed,
 * ambiguous and tricky-but-valid requests sent raw through the real spliced binary to a
 * recording tools/testbackend. For each case: the statuses the client gets, whether
 * spliced closes the connection, and what the backend received (nothing for a refused
 * request; for an accepted one exactly the expected number of heads, with the expected
 * request lines, fields and bodies). The file's format is described at its top.
 *
 * One spliced and one backend serve every case of a group (a TCase per group), the record
 * emptied between cases; each group prints one summary line. Environment:
 *   CORPUS_FRESH=1      a fresh spliced and backend for every case (for debugging)
 *   CORPUS_CASE=NAME    run only that case
 *   CORPUS_FILE=PATH    another corpus file (default SPLICED_DATADIR/tests/corpus/...)
 * Needs SPLICED_BIN and TESTBACKEND_BIN (absolute paths; `make test` sets both). */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

#define CORPUS_DEFAULT SPLICED_DATADIR "/tests/corpus/requests.txt"

/* The limits the cases are written against (as check_e2e_reject's), and an idle
 * keep-alive connection kept well past the 10 s a "close" case waits for the close. */
#define CORPUS_LIMITS "LimitRequestFieldSize 1024\nLimitRequestFields 10\nLimitRequestLine 512\n" \
	"KeepAliveTimeout 60\n"

#define MAX_RESP   8
#define MAX_CHECKS 8
#define MAX_GROUPS 32
#define FAIL_CAP   (64 * 1024)

enum listener { L_PLAIN, L_PROXY };

struct corpus_case {
	char name[64];
	int lineno;
	unsigned group;
	char *req;                       /* raw bytes */
	size_t len;
	char *then;                      /* sent after the first response; NULL: none */
	size_t then_len;
	enum listener listener;
	int status[MAX_RESP];            /* 0: "none" (closed without a response) */
	unsigned nstatus;
	bool close;
	bool head;                       /* responses to HEAD: no bodies */
	int backend;                     /* heads the backend must receive; -1: default */
	char *line[MAX_CHECKS];          /* request line of the i-th head */
	unsigned nline;
	char *has[MAX_CHECKS];           /* lines some head holds */
	unsigned nhas;
	char *lacks[MAX_CHECKS];         /* field names no head holds */
	unsigned nlacks;
	char *body[MAX_CHECKS];          /* body the backend received, per 2xx response */
	size_t body_len[MAX_CHECKS];
	unsigned nbody;
	char *echo[MAX_CHECKS];          /* response body, per 2xx response (?body=wire) */
	size_t echo_len[MAX_CHECKS];
	unsigned necho;
};

struct corpus_group {
	char name[64];
	unsigned first, count;
};

static struct corpus_case *cases;
static unsigned ncases;
static struct corpus_group groups[MAX_GROUPS];
static unsigned ngroups;

/* ---- the corpus file ----------------------------------------------------------------- */

static void die(const char *file, int lineno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void die(const char *file, int lineno, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A double-quoted string with C escapes (\r \n \t \0 \\ \" \xHH) at *p; the bytes are
 * appended to *out (malloc'd, *len grows). Returns false on a syntax error. */
static bool parse_quoted(const char **p, char **out, size_t *len)
{
	const char *s = *p;
	size_t cap = *len + strlen(s) + 1;
	char *o = realloc(*out, cap);

	if (!o || *s != '"')
		return false;
	*out = o;
	for (s++; *s && *s != '"'; s++) {
		char ch = *s;

		if (ch == '\\') {
			s++;
			switch (*s) {
			case 'r': ch = '\r'; break;
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case '0': ch = '\0'; break;
			case '\\': ch = '\\'; break;
			case '"': ch = '"'; break;
			case 'x':
				if (hexval(s[1]) < 0 || hexval(s[2]) < 0)
					return false;
				ch = (char)(hexval(s[1]) << 4 | hexval(s[2]));
				s += 2;
				break;
			default:
				return false;
			}
		}
		o[(*len)++] = ch;
	}
	if (*s != '"')
		return false;
	o[*len] = '\0';
	*p = s + 1;
	return true;
}

static char *quoted_arg(const char *file, int ln, const char *arg, size_t *len)
{
	char *out = NULL;
	size_t n = 0;

	if (!parse_quoted(&arg, &out, &n))
		die(file, ln, "expected a double-quoted string with C escapes");
	while (*arg == ' ' || *arg == '\t')
		arg++;
	if (*arg && *arg != '#')
		die(file, ln, "text after the closing quote");
	if (len)
		*len = n;
	return out;
}

static void parse_expect(const char *file, int ln, struct corpus_case *c, char *arg)
{
	char *save = NULL;
	bool got_close = false;

	for (char *tok = strtok_r(arg, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (*tok == '#')
			break;
		if (strcmp(tok, "close") == 0 || strcmp(tok, "keep") == 0) {
			c->close = tok[0] == 'c';
			got_close = true;
		} else if (c->nstatus >= MAX_RESP) {
			die(file, ln, "more than %d responses", MAX_RESP);
		} else if (strcmp(tok, "none") == 0) {
			c->status[c->nstatus++] = 0;
		} else {
			char *end;
			long st = strtol(tok, &end, 10);

			if (*end || st < 100 || st > 599)
				die(file, ln, "bad status \"%s\"", tok);
			c->status[c->nstatus++] = (int)st;
		}
	}
	if (!c->nstatus || !got_close)
		die(file, ln, "expect needs statuses (or none) and close|keep");
}

/* The number of heads the backend gets unless the case says: one per 2xx response. */
static int default_backend(const struct corpus_case *c)
{
	int n = 0;

	for (unsigned i = 0; i < c->nstatus; i++)
		if (c->status[i] >= 200 && c->status[i] < 300)
			n++;
	return n;
}

static void case_done(const char *file, struct corpus_case *c)
{
	if (!c->req)
		die(file, c->lineno, "case %s: no send line", c->name);
	if (!c->nstatus)
		die(file, c->lineno, "case %s: no expect line", c->name);
	if (c->backend < 0)
		c->backend = default_backend(c);
	if (c->nline > (unsigned)c->backend)
		die(file, c->lineno, "case %s: more line checks than backend requests", c->name);
	if (c->status[0] == 0 && !c->close)
		die(file, c->lineno, "case %s: no response means a closed connection", c->name);
}

static void corpus_load(const char *file)
{
	FILE *f = fopen(file, "r");
	char buf[8192];
	int ln = 0;
	size_t cap = 0;
	struct corpus_case *c = NULL;

	if (!f)
		die(file, 0, "cannot open: %s", strerror(errno));
	while (fgets(buf, sizeof(buf), f)) {
		char *s = buf, *kw, *arg;
		size_t n = strlen(buf);

		ln++;
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		kw = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s)
			*s++ = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		arg = s;
		if (strcmp(kw, "group") == 0) {
			if (c)
				case_done(file, c);
			c = NULL;
			if (ngroups >= MAX_GROUPS || !*arg || strlen(arg) >= sizeof(groups[0].name))
				die(file, ln, "bad group line");
			memcpy(groups[ngroups].name, arg, strlen(arg) + 1);  /* length checked */
			groups[ngroups].first = ncases;
			ngroups++;
			continue;
		}
		if (strcmp(kw, "case") == 0) {
			if (!ngroups)
				die(file, ln, "case before the first group");
			if (c)
				case_done(file, c);
			if (!*arg || strlen(arg) >= sizeof(c->name) || strpbrk(arg, " \t"))
				die(file, ln, "bad case name");
			for (unsigned i = 0; i < ncases; i++)
				if (strcmp(cases[i].name, arg) == 0)
					die(file, ln, "duplicate case name %s", arg);
			if (ncases == cap) {
				cap = cap ? cap * 2 : 256;
				cases = realloc(cases, cap * sizeof(*cases));
				if (!cases)
					die(file, ln, "out of memory");
			}
			c = &cases[ncases++];
			memset(c, 0, sizeof(*c));
			memcpy(c->name, arg, strlen(arg) + 1);  /* length checked above */
			c->lineno = ln;
			c->group = ngroups - 1;
			c->backend = -1;
			groups[ngroups - 1].count++;
			continue;
		}
		if (!c)
			die(file, ln, "\"%s\" outside a case", kw);
		if (strcmp(kw, "send") == 0) {
			const char *p = arg;

			if (!parse_quoted(&p, &c->req, &c->len))
				die(file, ln, "expected a double-quoted string with C escapes");
			if (*p && *p != ' ' && *p != '\t' && *p != '#')
				die(file, ln, "text after the closing quote");
		} else if (strcmp(kw, "then") == 0) {
			const char *p = arg;

			if (!parse_quoted(&p, &c->then, &c->then_len))
				die(file, ln, "expected a double-quoted string with C escapes");
		} else if (strcmp(kw, "listener") == 0) {
			if (strcmp(arg, "proxy") == 0)
				c->listener = L_PROXY;
			else if (strcmp(arg, "plain") == 0)
				c->listener = L_PLAIN;
			else
				die(file, ln, "listener is plain or proxy");
		} else if (strcmp(kw, "expect") == 0) {
			parse_expect(file, ln, c, arg);
		} else if (strcmp(kw, "head") == 0) {
			c->head = true;
		} else if (strcmp(kw, "backend") == 0) {
			char *end;

			c->backend = (int)strtol(arg, &end, 10);
			if (end == arg || c->backend < 0 || c->backend > MAX_RESP)
				die(file, ln, "backend takes a count");
		} else if (strcmp(kw, "line") == 0 && c->nline < MAX_CHECKS) {
			c->line[c->nline++] = quoted_arg(file, ln, arg, NULL);
		} else if (strcmp(kw, "has") == 0 && c->nhas < MAX_CHECKS) {
			c->has[c->nhas++] = quoted_arg(file, ln, arg, NULL);
		} else if (strcmp(kw, "lacks") == 0 && c->nlacks < MAX_CHECKS) {
			c->lacks[c->nlacks++] = quoted_arg(file, ln, arg, NULL);
		} else if (strcmp(kw, "body") == 0 && c->nbody < MAX_CHECKS) {
			c->body[c->nbody] = quoted_arg(file, ln, arg, &c->body_len[c->nbody]);
			c->nbody++;
		} else if (strcmp(kw, "wire") == 0 && c->necho < MAX_CHECKS) {
			c->echo[c->necho] = quoted_arg(file, ln, arg, &c->echo_len[c->necho]);
			c->necho++;
		} else {
			die(file, ln, "unknown or repeated too often: \"%s\"", kw);
		}
	}
	if (c)
		case_done(file, c);
	fclose(f);
	if (!ncases)
		die(file, ln, "no cases");
}

/* ---- running a case ------------------------------------------------------------------ */

struct corpus_env {
	struct e2e_proc be, sp;
	int proxy_port;
};

static void env_start(struct corpus_env *env)
{
	memset(env, 0, sizeof(*env));
	env->proxy_port = e2e_free_port();
	e2e_backend_start_recording(&env->be, NULL);
	e2e_spliced_startf(&env->sp,
			   "Listen 127.0.0.1:%d\n"
			   "ProxyPass /ws/ http://127.0.0.1:%d/ws/ upgrade=websocket\n"
			   "ProxyPass / http://127.0.0.1:%d/\n%s"
			   "<VirtualHost *:%d>\nRemoteIPProxyProtocol On\n</VirtualHost>\n",
			   env->proxy_port, env->be.port, env->be.port, CORPUS_LIMITS,
			   env->proxy_port);
}

static void env_stop(struct corpus_env *env, const char *tag)
{
	int code = e2e_spliced_stop(&env->sp);

	if (code != 0) {
		char *rep = e2e_spliced_report(&env->sp);

		ck_abort_msg("[%s] spliced exited with %d after SIGTERM (expected 0)\n%s", tag, code,
			     rep);
	}
	e2e_backend_stop(&env->be);
}

/* Failure messages of a group, reported together at its end. */
static char failures[FAIL_CAP];
static size_t failures_len;

static bool case_fail(const struct corpus_case *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool case_fail(const struct corpus_case *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (failures_len + 512 >= FAIL_CAP)
		return false;
	n = snprintf(failures + failures_len, FAIL_CAP - failures_len, "\n[%s] (line %d) sent \"%s\": ",
		     c->name, c->lineno, e2e_esc(c->req, c->len));
	if (n > 0)
		failures_len += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(failures + failures_len, FAIL_CAP - failures_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		failures_len += (size_t)n;
	if (failures_len >= FAIL_CAP)
		failures_len = FAIL_CAP - 1;
	return false;
}

static void record_reset(const struct corpus_env *env)
{
	ck_assert_msg(truncate(env->be.record, 0) == 0, "truncate %s: %s", env->be.record,
		      strerror(errno));
}

/* The i-th head of the record (heads end with CRLFCRLF, which no head holds before its
 * end), *hl its length; NULL if there are fewer. */
static const char *record_head(const char *rec, size_t len, unsigned i, size_t *hl)
{
	const char *p = rec, *end = rec + len;

	for (;;) {
		const char *e = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);

		if (!e)
			return NULL;
		if (i-- == 0) {
			*hl = (size_t)(e + 4 - p);
			return p;
		}
		p = e + 4;
	}
}

static bool check_backend(const struct corpus_env *env, const struct corpus_case *c,
			  const struct e2e_response *r, unsigned nr)
{
	size_t len = 0, hl = 0;
	char *rec = e2e_read_file(env->be.record, &len);
	unsigned heads = 0, nb = 0;
	bool ok = true;

	if (!rec)
		return case_fail(c, "the backend record is unreadable");
	while (record_head(rec, len, heads, &hl))
		heads++;
	if (heads != (unsigned)c->backend) {
		case_fail(c, "the backend received %u request head(s), expected %d:\n%s", heads,
		     c->backend, e2e_esc(rec, len));
		free(rec);
		return false;
	}
	for (unsigned i = 0; i < c->nline; i++) {
		const char *h = record_head(rec, len, i, &hl);
		size_t ll = strlen(c->line[i]);

		if (hl < ll + 2 || memcmp(h, c->line[i], ll) != 0 || memcmp(h + ll, "\r\n", 2))
			ok = case_fail(c, "backend request %u: expected the line \"%s\", got:\n%s", i + 1,
				  e2e_escs(c->line[i]), e2e_esc(h, hl));
	}
	for (unsigned i = 0; i < c->nhas; i++)
		if (!e2e_head_has_line(rec, len, c->has[i]))
			ok = case_fail(c, "the backend did not receive the line \"%s\":\n%s",
				  e2e_escs(c->has[i]), e2e_esc(rec, len));
	for (unsigned i = 0; i < c->nlacks; i++)
		if (e2e_head_field_count(rec, len, c->lacks[i]))
			ok = case_fail(c, "the backend received a field %s:\n%s", c->lacks[i],
				  e2e_esc(rec, len));
	free(rec);
	for (unsigned i = 0; i < nr && nb < c->nbody; i++) {
		const char *blen, *bfnv;
		char want[32];

		if (r[i].status < 200 || r[i].status >= 300)
			continue;
		blen = e2e_header(&r[i], "X-Body-Len");
		bfnv = e2e_header(&r[i], "X-Body-Fnv");
		snprintf(want, sizeof(want), "%zu", c->body_len[nb]);
		if (!blen || !bfnv || strcmp(blen, want) != 0 ||
		    strcmp(bfnv, e2e_hex64(e2e_fnv1a64(c->body[nb], c->body_len[nb]))) != 0)
			ok = case_fail(c, "backend request %u: expected the body \"%s\" (%s bytes), the "
				  "backend says it got %s bytes", nb + 1,
				  e2e_esc(c->body[nb], c->body_len[nb]), want, blen ? blen : "?");
		nb++;
	}
	if (nb < c->nbody)
		ok = case_fail(c, "%u body checks but only %u 2xx responses", c->nbody, nb);
	nb = 0;
	for (unsigned i = 0; i < nr && nb < c->necho; i++) {
		if (r[i].status < 200 || r[i].status >= 300)
			continue;
		if (r[i].body_len != c->echo_len[nb] ||
		    memcmp(r[i].body, c->echo[nb], r[i].body_len) != 0)
			ok = case_fail(c, "backend request %u: expected the body on the wire \"%s\", "
				       "the backend echoed \"%s\"", nb + 1,
				       e2e_esc(c->echo[nb], c->echo_len[nb]),
				       e2e_esc(r[i].body, r[i].body_len));
		nb++;
	}
	if (nb < c->necho)
		ok = case_fail(c, "%u wire checks but only %u 2xx responses", c->necho, nb);
	return ok;
}

/* A request on the same connection after the case's responses is answered: the
 * connection stayed open and in step. */
static bool check_kept(const struct corpus_case *c, struct e2e_client *cl)
{
	static const char probe[] = "GET /corpus-probe HTTP/1.1\r\nHost: a.example\r\n\r\n";
	struct e2e_response r;
	bool ok = true;

	if (e2e_client_pending(cl))
		return case_fail(c, "unexpected bytes after the responses: \"%s\"",
			    e2e_esc(cl->buf + cl->start, cl->end - cl->start));
	if (e2e_send(cl, probe, sizeof(probe) - 1) != 0)
		return case_fail(c, "the connection was closed, expected it kept open");
	if (e2e_read_response(cl, &r, false) != 0)
		return case_fail(c, "a request after the case's got no response (%s): the connection "
			    "was closed or is out of step", r.err);
	if (r.status != 200 || !e2e_head_has_line(r.body, r.body_len,
						  "GET /corpus-probe HTTP/1.1"))
		ok = case_fail(c, "a request after the case's got %d:\n%s", r.status,
			  e2e_esc(r.body, r.body_len));
	e2e_response_free(&r);
	return ok;
}

static bool check_closed(const struct corpus_case *c, struct e2e_client *cl)
{
	int st = e2e_wait_closed(cl, 10000);

	if (st == E2E_CLOSED_EOF || st == E2E_CLOSED_RESET)
		return true;
	return case_fail(c, "the connection was not closed within 10 s (%s)",
		    st == E2E_OPEN ? "still open" :
		    e2e_esc(cl->buf + cl->start, cl->end - cl->start));
}

/* Runs one case; false (with the reasons in failures[]) when it does not hold. */
static bool run_case(const struct corpus_env *env, const struct corpus_case *c)
{
	struct e2e_client cl;
	struct e2e_response r[MAX_RESP];
	unsigned nr = 0;
	bool ok = true;

	record_reset(env);
	e2e_client_open(&cl, c->listener == L_PROXY ? env->proxy_port : env->sp.port);
	cl.timeout_ms = 10000;
	(void)e2e_send(&cl, c->req, c->len);  /* may fail once spliced answered and closed */
	for (unsigned i = 0; i < c->nstatus && ok; i++) {
		if (c->status[i] == 0) {
			unsigned char *out = NULL;
			size_t n = 0;
			int rc = e2e_read_until_eof(&cl, &out, &n, 10000);

			if ((rc != 0 && rc != -ECONNRESET) || n)
				ok = case_fail(c, "expected a close without a response, got %s \"%s\"",
					  rc == -ETIMEDOUT ? "no close and" : "", e2e_esc(out, n));
			free(out);
			continue;
		}
		if (e2e_read_response(&cl, &r[nr], c->head) != 0) {
			ok = case_fail(c, "response %u: expected %d, got none: %s", i + 1, c->status[i],
				  r[nr].err);
			e2e_response_free(&r[nr]);
			break;
		}
		if (r[nr].status != c->status[i])
			ok = case_fail(c, "response %u: expected %d, got %d:\n%s", i + 1, c->status[i],
				  r[nr].status, e2e_esc(r[nr].head, r[nr].head_len));
		nr++;
		if (i == 0 && c->then && e2e_send(&cl, c->then, c->then_len) != 0)
			ok = case_fail(c, "the connection closed before the bytes after response 1");
	}
	if (ok && c->close && c->status[c->nstatus - 1] != 0)
		ok = check_closed(c, &cl);
	/* for a refused case the close came first: whatever spliced forwarded is recorded */
	if (ok)
		ok = check_backend(env, c, r, nr);
	if (ok && !c->close)
		ok = check_kept(c, &cl);
	for (unsigned i = 0; i < nr; i++)
		e2e_response_free(&r[i]);
	e2e_client_close(&cl);
	return ok;
}

static bool refused(const struct corpus_case *c)
{
	return c->status[0] == 0 || c->status[0] >= 400;
}

START_TEST(test_group)
{
	const struct corpus_group *g = &groups[_i];
	const char *only = getenv("CORPUS_CASE");
	bool fresh = getenv("CORPUS_FRESH") && *getenv("CORPUS_FRESH") == '1';
	unsigned run = 0, nref = 0, nacc = 0, nfail = 0;
	struct corpus_env env;

	failures_len = 0;
	failures[0] = '\0';
	if (only) {
		bool found = false;

		for (unsigned i = g->first; i < g->first + g->count; i++)
			found = found || strcmp(only, cases[i].name) == 0;
		if (!found)
			return;
	}
	if (!fresh)
		env_start(&env);
	for (unsigned i = g->first; i < g->first + g->count; i++) {
		const struct corpus_case *c = &cases[i];

		if (only && strcmp(only, c->name) != 0)
			continue;
		if (fresh)
			env_start(&env);
		run++;
		if (refused(c))
			nref++;
		else
			nacc++;
		if (!run_case(&env, c))
			nfail++;
		if (fresh)
			env_stop(&env, c->name);
	}
	if (!fresh)
		env_stop(&env, g->name);
	printf("corpus %-14s %3u cases (%u refused, %u accepted): %u failed\n", g->name, run,
	       nref, nacc, nfail);
	fflush(stdout);
	ck_assert_msg(nfail == 0, "group %s: %u of %u cases failed:%s", g->name, nfail, run,
		      failures);
}
END_TEST

static Suite *e2e_corpus_suite(void)
{
	Suite *s = suite_create("e2e_corpus");

	for (unsigned i = 0; i < ngroups; i++) {
		TCase *tc = tcase_create(groups[i].name);

		tcase_set_timeout(tc, 300);
		tcase_add_loop_test(tc, test_group, (int)i, (int)i + 1);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	const char *file = getenv("CORPUS_FILE");
	unsigned nref = 0;

	corpus_load(file && *file ? file : CORPUS_DEFAULT);
	for (unsigned i = 0; i < ncases; i++)
		nref += refused(&cases[i]);
	printf("corpus: %u cases in %u groups, %u refused, %u accepted\n", ncases, ngroups, nref,
	       ncases - nref);
	fflush(stdout);
	return ck_run_suite(e2e_corpus_suite());
}
