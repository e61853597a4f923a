/* Check suite for the rewrite engine (src/rewrite.c, src/rwcompile.c) and the rewrite
 * directives of src/config.c.
 *
 * Most of it is one table: configuration text, a request (target as received, Host,
 * headers, method) and the decision expected (kind, status, out, backend or root), written
 * from the mod_rewrite documentation (RewriteRule flags, RewriteCond, RewriteMap, server
 * variables) and from issue 3's escaping rules. Every configuration goes through
 * config_parse() from right before an unreadable page, and so do the request's target and
 * Host: a read past their end crashes the test.
 *
 * "@D@" in a configuration or an expected value is a scratch directory made by main():
 * @D@/file.txt (5 bytes), @D@/empty (0 bytes), @D@/sub/, @D@/link -> /etc/passwd, and
 * @D@/map.txt (a txt: RewriteMap). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spliced/config.h"
#include "spliced/log.h"
#include "spliced/rewrite.h"
#include "guard.h"
#include "suite.h"

/* The table leaves a request's trailing fields (headers, method) out when they are not
 * used: one line per case reads better than designated initializers on every line. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static char dir[64];
static bool have_home;  /* the sample's substitution is a filesystem path only if /home exists */
static struct config cfg;
static struct config_error err;

/* s with every "@D@" replaced by the scratch directory */
static const char *subst(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s; s++) {
		if (strncmp(s, "@D@", 3) == 0) {
			ck_assert_uint_lt(o + strlen(dir), cap);
			memcpy(out + o, dir, strlen(dir));
			o += strlen(dir);
			s += 2;
		} else {
			ck_assert_uint_lt(o + 1, cap);
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

static int parse(const char *text)
{
	static char buf[16384];
	const char *t = subst(text, buf, sizeof(buf));

	config_free(&cfg);
	memset(&err, 0x55, sizeof(err));
	return config_parse(&cfg, guard_at_end(t, strlen(t)), strlen(t), "test.conf", &err);
}

/* ---- requests ---- */

struct req {
	const char *target;     /* as received: path[?query] */
	const char *host;       /* NULL: no Host */
	const char *headers;    /* "Name: value\n"..., or NULL */
	const char *method;     /* NULL: GET */
};

static const char *hdr_lookup(void *opaque, const char *name, size_t len, size_t *vlen)
{
	const char *h = opaque;

	while (h && *h) {
		const char *nl = strchr(h, '\n'), *colon = strchr(h, ':');

		if (colon && (size_t)(colon - h) == len && strncasecmp(h, name, len) == 0) {
			const char *v = colon + 1 + (colon[1] == ' ');

			*vlen = (size_t)((nl ? nl : v + strlen(v)) - v);
			return v;
		}
		h = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static char request_line[9000];

static void make_input(const struct req *r, struct rw_input *in, char *dst, size_t cap)
{
	size_t tlen = strlen(r->target);
	const char *t = guard_at_end(r->target, tlen);  /* no NUL after it */
	const char *q = memchr(t, '?', tlen);
	const char *m = r->method ? r->method : "GET";

	memset(in, 0, sizeof(*in));
	in->method = m;
	in->method_len = strlen(m);
	in->path = t;
	in->path_len = q ? (size_t)(q - t) : tlen;
	in->query = q ? q + 1 : NULL;
	in->query_len = q ? tlen - in->path_len - 1 : 0;
	in->has_query = q != NULL;
	in->host = r->host ? guard_at_end(r->host, strlen(r->host)) : NULL;
	in->host_len = r->host ? strlen(r->host) : 0;
	snprintf(request_line, sizeof(request_line), "%s %s HTTP/1.1", m, r->target);
	in->request_line = request_line;
	in->request_line_len = strlen(request_line);
	in->remote_addr = "192.0.2.1";
	in->remote_addr_len = 9;
	in->remote_port = 50000;
	in->server_port = 80;
	in->header = hdr_lookup;
	in->opaque = (void *)r->headers;
	in->dst = dst;
	in->dst_cap = cap;
}

static struct rw_result run(const struct req *r)
{
	static char dst[32768];
	struct rw_input in;
	struct rw_result res;
	struct rw_ctx *ctx = rw_ctx_create(&cfg);

	ck_assert_ptr_nonnull(ctx);
	make_input(r, &in, dst, sizeof(dst));
	ck_assert_int_eq(rw_apply(&cfg, ctx, &in, &res), 0);
	rw_ctx_free(ctx);
	return res;
}

/* ---- the table ---- */

struct rwt {
	const char *name;
	const char *conf;
	struct req req;
	enum rw_kind kind;
	unsigned status;
	const char *out;        /* exact, "@D@" substituted; NULL for NONE and STATUS */
	const char *where;      /* PROXY: backend name; FILE: root; URL: "PT" if [PT] */
};

#define ON "RewriteEngine on\n"
#define B9 "http://127.0.0.1:9000"
#define SAMPLE \
	"RewriteEngine on\n" \
	"RewriteMap escape int:escape\n" \
	"RewriteCond %{SCRIPT_FILENAME} !autostart\\.cgi$\n" \
	"RewriteCond %{HTTP_HOST} www\\.example\\.info\n" \
	"RewriteRule ^/static/(.*) /home/user/files/static/$1 [last]\n" \
	"RewriteRule ^(.*)$ http://localhost:6674/${escape:$1} [proxy]\n" \
	"ErrorDocument 502 /cgi-bin/autostart.cgi\n"
#define WWW "www.example.info"
#define STATIC "/home/user/files/static"
#define L6674 "http://localhost:6674"
#define VARS(v) ON "RewriteRule ^/v$ /v?" v " [L]\n"
#define MAPTXT "RewriteMap m txt:@D@/map.txt\n"
#define VHOSTS \
	"RewriteEngine on\n" \
	"RewriteRule ^/main /from-main\n" \
	"<VirtualHost *:80>\n" \
	"ServerName a.example\n" \
	"ServerAlias *.b.example b?.example\n" \
	"RewriteEngine on\n" \
	"RewriteRule ^/v /from-a\n" \
	"</VirtualHost>\n" \
	"<VirtualHost *:8080>\n" \
	"ServerName c.example\n" \
	"RewriteEngine on\n" \
	"RewriteRule ^/v /from-c\n" \
	"</VirtualHost>\n"
#define INHERIT(opt) \
	"RewriteEngine on\n" \
	"RewriteRule ^/y /z\n" \
	"<VirtualHost *>\n" \
	"ServerName i.example\n" \
	"RewriteEngine on\n" \
	"RewriteOptions " opt "\n" \
	"RewriteRule ^/x /y\n" \
	"</VirtualHost>\n"
#define FS ON "DocumentRoot @D@\n"

static const struct rwt cases[] = {
	/* ---- the configuration of issue 3, as written ---- */
	{ "sample: static file", SAMPLE, { "/static/site.css", WWW }, RW_FILE, 0, "site.css", STATIC },
	{ "sample: escaped name", SAMPLE, { "/static/a%20b.css", WWW }, RW_FILE, 0, "a b.css", STATIC },
	{ "sample: subdirectory", SAMPLE, { "/static/js/app.js", WWW }, RW_FILE, 0, "js/app.js", STATIC },
	{ "sample: the directory itself", SAMPLE, { "/static/", WWW }, RW_FILE, 0, "", STATIC },
	{ "sample: dots removed first", SAMPLE, { "/static/x/../y.css", WWW }, RW_FILE, 0, "y.css", STATIC },
	{ "sample: Host with a port", SAMPLE, { "/static/y.css", WWW ":8080" }, RW_FILE, 0, "y.css", STATIC },
	{ "sample: other Host is proxied", SAMPLE, { "/static/y.css", "other.example" }, RW_PROXY, 0, "/static/y.css", L6674 },
	{ "sample: no Host is proxied", SAMPLE, { "/static/y.css", NULL }, RW_PROXY, 0, "/static/y.css", L6674 },
	{ "sample: autostart.cgi never a file", SAMPLE, { "/static/autostart.cgi", WWW }, RW_PROXY, 0, "/static/autostart.cgi", L6674 },
	{ "sample: ErrorDocument target proxied", SAMPLE, { "/cgi-bin/autostart.cgi", WWW }, RW_PROXY, 0, "/cgi-bin/autostart.cgi", L6674 },
	{ "sample: %20 escaped once", SAMPLE, { "/a%20b/c", WWW }, RW_PROXY, 0, "/a%20b/c", L6674 },
	{ "sample: %2F kept", SAMPLE, { "/a%2Fb", WWW }, RW_PROXY, 0, "/a%2Fb", L6674 },
	{ "sample: %3F stays in the path", SAMPLE, { "/a%3Fb?c=d", WWW }, RW_PROXY, 0, "/a%3Fb?c=d", L6674 },
	{ "sample: query byte for byte", SAMPLE, { "/s?q=a%2fb&x=[1]|y", WWW }, RW_PROXY, 0, "/s?q=a%2fb&x=[1]|y", L6674 },
	{ "sample: root", SAMPLE, { "/", WWW }, RW_PROXY, 0, "/", L6674 },
	{ "sample: non-ASCII", SAMPLE, { "/caf%C3%A9", WWW }, RW_PROXY, 0, "/caf%C3%A9", L6674 },
	{ "sample: %7E stays as sent", SAMPLE, { "/%7Euser", WWW }, RW_PROXY, 0, "/%7Euser", L6674 },
	{ "sample: //x never reaches the backend", SAMPLE, { "//evil.example/x", WWW }, RW_PROXY, 0, "/evil.example/x", L6674 },
	{ "sample: file path leaving its root", SAMPLE, { "/static/..%2F..%2Fetc/passwd", WWW }, RW_STATUS, 404, NULL, NULL },
	{ "sample: %00", SAMPLE, { "/a%00b", WWW }, RW_STATUS, 400, NULL, NULL },
	{ "sample: above the root", SAMPLE, { "/%2E%2E/x", WWW }, RW_STATUS, 400, NULL, NULL },

	/* ---- L, END, C, S, N ---- */
	{ "rules run in order", ON "RewriteRule ^/a$ /b\nRewriteRule ^/b$ /c\n", { "/a" }, RW_URL, 0, "/c", NULL },
	{ "L stops", ON "RewriteRule ^/a$ /b [L]\nRewriteRule ^/b$ /c\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "last", ON "RewriteRule ^/a$ /b [last]\nRewriteRule ^/b$ /c\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "END stops", ON "RewriteRule ^/a$ /b [END]\nRewriteRule ^/b$ /c\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "flags are case-insensitive", ON "RewriteRule ^/a$ /b [l]\nRewriteRule ^/b$ /c\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "C: the chain runs", ON "RewriteRule ^/a(.*) /b$1 [C]\nRewriteRule ^/b(.*) /c$1\n", { "/ax" }, RW_URL, 0, "/cx", NULL },
	{ "C: a failed head skips the chain", ON "RewriteRule ^/z /y [C]\nRewriteRule ^/(.*) /c1/$1 [chain]\nRewriteRule ^/(.*) /c2/$1\nRewriteRule ^/(.*) /after/$1\n", { "/a" }, RW_URL, 0, "/after/a", NULL },
	{ "C: a failed link skips the rest", ON "RewriteRule ^/a /b [C]\nRewriteRule ^/zzz /q [C]\nRewriteRule ^/b /chained\nRewriteRule ^/b /after\n", { "/a" }, RW_URL, 0, "/after", NULL },
	{ "S=1", ON "RewriteRule ^/a /b [S=1]\nRewriteRule ^/b /skipped\nRewriteRule ^/b /c\n", { "/a" }, RW_URL, 0, "/c", NULL },
	{ "skip=2", ON "RewriteRule ^/a /b [skip=2]\nRewriteRule ^/b /s1\nRewriteRule ^/b /s2\nRewriteRule ^/b /c\n", { "/a" }, RW_URL, 0, "/c", NULL },
	{ "S past the end", ON "RewriteRule ^/a /b [S=9]\nRewriteRule ^/b /c\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "S only when matched", ON "RewriteRule ^/z /y [S=1]\nRewriteRule ^/a /b\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "N repeats", ON "RewriteRule ^(.*)-(.*)$ $1_$2 [N]\n", { "/a-b-c" }, RW_URL, 0, "/a_b_c", NULL },
	{ "next", ON "RewriteRule ^(.*)-(.*)$ $1_$2 [next]\n", { "/a-b" }, RW_URL, 0, "/a_b", NULL },
	{ "N: the round limit is 500", ON "RewriteRule ^(.*)$ $1 [N]\n", { "/a" }, RW_STATUS, 500, NULL, NULL },
	{ "N=3", ON "RewriteRule ^/(.*)$ /x$1 [N=3]\n", { "/a" }, RW_STATUS, 500, NULL, NULL },
	{ "N=3: two more rounds at most (httpd)", ON "RewriteRule ^/a(.*)$ /$1 [N=3]\n", { "/aab" }, RW_STATUS, 500, NULL, NULL },
	{ "N=4 within bounds", ON "RewriteRule ^/a(.*)$ /$1 [N=4]\n", { "/aab" }, RW_URL, 0, "/b", NULL },

	/* ---- F, G, R ---- */
	{ "F", ON "RewriteRule ^/secret - [F]\n", { "/secret" }, RW_STATUS, 403, NULL, NULL },
	{ "forbidden drops the substitution", ON "RewriteRule ^/secret /other [forbidden]\n", { "/secret/x" }, RW_STATUS, 403, NULL, NULL },
	{ "F stops", ON "RewriteRule ^/a - [F]\nRewriteRule ^/a /b\n", { "/a" }, RW_STATUS, 403, NULL, NULL },
	{ "G", ON "RewriteRule ^/old - [G]\n", { "/old" }, RW_STATUS, 410, NULL, NULL },
	{ "gone", ON "RewriteRule ^/old - [gone]\n", { "/old" }, RW_STATUS, 410, NULL, NULL },
	{ "R=404 answers 404", ON "RewriteRule ^/x /y [R=404]\n", { "/x" }, RW_STATUS, 404, NULL, NULL },
	{ "R=503", ON "RewriteRule ^/x - [R=503]\n", { "/x" }, RW_STATUS, 503, NULL, NULL },
	{ "R: 302", ON "RewriteRule ^/old$ /new [R]\n", { "/old", "h" }, RW_REDIRECT, 302, "/new", NULL },
	{ "R=301", ON "RewriteRule ^/old$ /new [R=301,L]\n", { "/old", "h" }, RW_REDIRECT, 301, "/new", NULL },
	{ "R=permanent", ON "RewriteRule ^/old$ /new [R=permanent]\n", { "/old", "h" }, RW_REDIRECT, 301, "/new", NULL },
	{ "R=temp", ON "RewriteRule ^/old$ /new [R=temp]\n", { "/old", "h" }, RW_REDIRECT, 302, "/new", NULL },
	{ "R=seeother", ON "RewriteRule ^/old$ /new [R=seeother]\n", { "/old", "h" }, RW_REDIRECT, 303, "/new", NULL },
	{ "redirect=307", ON "RewriteRule ^/old$ /new [redirect=307]\n", { "/old", "h" }, RW_REDIRECT, 307, "/new", NULL },
	{ "R=308", ON "RewriteRule ^/old$ /new [R=308]\n", { "/old", "h" }, RW_REDIRECT, 308, "/new", NULL },
	{ "R without Host", ON "RewriteRule ^/old$ /new [R]\n", { "/old", NULL }, RW_REDIRECT, 302, "/new", NULL },
	{ "R keeps the query", ON "RewriteRule ^/old$ /new [R]\n", { "/old?a=1", "h" }, RW_REDIRECT, 302, "/new?a=1", NULL },
	{ "R with QSD", ON "RewriteRule ^/old$ /new [R,QSD]\n", { "/old?a=1", "h" }, RW_REDIRECT, 302, "/new", NULL },
	{ "R to an absolute URL", ON "RewriteRule ^/old$ http://other.example/new [R=301]\n", { "/old", "h" }, RW_REDIRECT, 301, "http://other.example/new", NULL },
	{ "R to https", ON "RewriteRule ^/(.*)$ https://h/$1 [R,L]\n", { "/a%20b?x=1", "h" }, RW_REDIRECT, 302, "https://h/a%20b?x=1", NULL },
	{ "an absolute URL redirects without R", ON "RewriteRule ^/old$ http://other.example/new\n", { "/old", "h" }, RW_REDIRECT, 302, "http://other.example/new", NULL },
	{ "an absolute URL to this host is local", ON "RewriteRule ^/old$ http://www.example.com/new\n", { "/old", "www.example.com" }, RW_URL, 0, "/new", NULL },
	{ "... to this ServerName", "ServerName me.example\n" ON "RewriteRule ^/old$ http://me.example/new\n", { "/old", "x" }, RW_URL, 0, "/new", NULL },
	{ "... but not on another port", ON "RewriteRule ^/old$ http://www.example.com:8080/new\n", { "/old", "www.example.com" }, RW_REDIRECT, 302, "http://www.example.com:8080/new", NULL },
	{ "R without L: later rules see the absolute URL", ON "RewriteRule ^/old$ /new [R]\nRewriteRule ^/new$ /other\n", { "/old", "h" }, RW_REDIRECT, 302, "/new", NULL },
	{ "R: path escaped once", ON "RewriteRule ^/old/(.*)$ /new/$1 [R]\n", { "/old/a%20b", "h" }, RW_REDIRECT, 302, "/new/a%20b", NULL },
	{ "R: %2F kept", ON "RewriteRule ^/old/(.*)$ /new/$1 [R]\n", { "/old/a%2Fb", "h" }, RW_REDIRECT, 302, "/new/a%2Fb", NULL },
	{ "R: control byte escaped", ON "RewriteRule ^/old/(.*)$ /new/$1 [R]\n", { "/old/a%0Ab", "h" }, RW_REDIRECT, 302, "/new/a%0Ab", NULL },
	{ "R: a Location never starts with //", ON "RewriteRule ^/r/(.*)$ //$1 [R]\n", { "/r/evil.example/x", "h" }, RW_REDIRECT, 302, "/evil.example/x", NULL },
	{ "R: a space in the substitution is escaped", ON "RewriteRule ^/x \"/a b\" [R]\n", { "/x", "h" }, RW_REDIRECT, 302, "/a%20b", NULL },

	/* ---- NE ---- */
	{ "NE: # as written", ON "RewriteRule ^/anchor/(.+) /bigpage.html#$1 [NE,R]\n", { "/anchor/xyz", "h" }, RW_REDIRECT, 302, "/bigpage.html#xyz", NULL },
	{ "no NE: # escaped", ON "RewriteRule ^/anchor/(.+) /bigpage.html#$1 [R]\n", { "/anchor/xyz", "h" }, RW_REDIRECT, 302, "/bigpage.html%23xyz", NULL },
	{ "noescape", ON "RewriteRule ^/anchor/(.+) /page#$1 [noescape,R]\n", { "/anchor/xyz", "h" }, RW_REDIRECT, 302, "/page#xyz", NULL },
	{ "NE: \\%3d as written", ON "RewriteRule ^/foo/(.*) /bar?arg=P1\\%3d$1 [R,NE]\n", { "/foo/zed", "h" }, RW_REDIRECT, 302, "/bar?arg=P1%3dzed", NULL },
	{ "no NE: \\%3d escaped", ON "RewriteRule ^/foo/(.*) /bar?arg=P1\\%3d$1 [R]\n", { "/foo/zed", "h" }, RW_REDIRECT, 302, "/bar?arg=P1%253dzed", NULL },
	{ "NE: request data still escaped", ON "RewriteRule ^/x/(.*) /y/$1 [NE,R]\n", { "/x/a%20b%0A", "h" }, RW_REDIRECT, 302, "/y/a%20b%0A", NULL },
	{ "NE: a space of the configuration is 500", ON "RewriteRule ^/x \"/a b\" [NE,R]\n", { "/x", "h" }, RW_STATUS, 500, NULL, NULL },
	{ "NE: internal rewrite, valid", ON "RewriteRule ^/x /a\\%41 [NE]\n", { "/x" }, RW_URL, 0, "/a%41", NULL },
	{ "NE: internal rewrite, invalid target 500", ON "RewriteRule ^/x /a#b [NE]\n", { "/x" }, RW_STATUS, 500, NULL, NULL },
	{ "[P,NE]: # would be a fragment: 500", ON "RewriteRule ^/x$ " B9 "/y#z [P,NE]\n", { "/x" }, RW_STATUS, 500, NULL, NULL },
	{ "[P]: # escaped", ON "RewriteRule ^/x$ " B9 "/y#z [P]\n", { "/x" }, RW_PROXY, 0, "/y%23z", B9 },
	{ "[P,NE]: data stays escaped", ON "RewriteRule ^/x/(.*)$ " B9 "/$1 [P,NE]\n", { "/x/a%20b" }, RW_PROXY, 0, "/a%20b", B9 },

	/* ---- B, BNP, B=list, BNE, BCTLS ---- */
	{ "no B: & splits the query (httpd)", ON "RewriteRule ^/search/(.*)$ /search.php?term=$1\n", { "/search/x%20&%20y/z" }, RW_URL, 0, "/search.php?term=x%20&%20y/z", NULL },
	{ "no B: an escaped & stays escaped", ON "RewriteRule ^/search/(.*)$ /search.php?term=$1\n", { "/search/x%20%26%20y/z" }, RW_URL, 0, "/search.php?term=x%20%26%20y/z", NULL },
	{ "B", ON "RewriteRule ^/search/(.*)$ /search.php?term=$1 [B]\n", { "/search/x%20&%20y/z" }, RW_URL, 0, "/search.php?term=x+%26+y%2Fz", NULL },
	{ "B, BNP", ON "RewriteRule ^/search/(.*)$ /search.php?term=$1 [B,BNP]\n", { "/search/x%20&%20y/z" }, RW_URL, 0, "/search.php?term=x%20%26%20y%2Fz", NULL },
	{ "B, backrefnoplus", ON "RewriteRule ^/s/(.*)$ /s?t=$1 [B,backrefnoplus]\n", { "/s/a%20b" }, RW_URL, 0, "/s?t=a%20b", NULL },
	{ "B=list", ON "RewriteRule ^/search/(.*)$ /search.php?term=$1 [B=&]\n", { "/search/x%20&%20y/z" }, RW_URL, 0, "/search.php?term=x%20%26%20y/z", NULL },
	{ "B in the path", ON "RewriteRule ^/a/(.*) /b/$1 [B]\n", { "/a/x/y%20z" }, RW_URL, 0, "/b/x%2Fy+z", NULL },
	{ "B, BNE=/", ON "RewriteRule ^/a/(.*) /b/$1 [B,BNE=/]\n", { "/a/x/y%20z" }, RW_URL, 0, "/b/x/y+z", NULL },
	{ "BCTLS", ON "RewriteRule ^/a/(.*) /b?q=$1 [BCTLS]\n", { "/a/x%20y&z%09" }, RW_URL, 0, "/b?q=x+y&z%09", NULL },
	{ "B escapes %N too", ON "RewriteCond %{QUERY_STRING} ^q=(.*)$\nRewriteRule ^/s /t?x=%1 [B]\n", { "/s?q=a%20b" }, RW_URL, 0, "/t?x=a%2520b", NULL },
	{ "B leaves literal text alone", ON "RewriteRule ^/a/(.*) /b+c/$1 [B]\n", { "/a/d" }, RW_URL, 0, "/b+c/d", NULL },

	/* ---- query strings ---- */
	{ "QSA", ON "RewriteRule ^/page$ /index?p=1 [QSA]\n", { "/page?x=1" }, RW_URL, 0, "/index?p=1&x=1", NULL },
	{ "QSA without a query", ON "RewriteRule ^/page$ /index?p=1 [QSA]\n", { "/page" }, RW_URL, 0, "/index?p=1", NULL },
	{ "qsappend", ON "RewriteRule ^/page$ /index?p=1 [qsappend]\n", { "/page?x=%2f" }, RW_URL, 0, "/index?p=1&x=%2f", NULL },
	{ "QSD", ON "RewriteRule ^/page$ /index [QSD]\n", { "/page?x=1" }, RW_URL, 0, "/index", NULL },
	{ "qsdiscard", ON "RewriteRule ^/page$ /index [qsdiscard]\n", { "/page?x=1" }, RW_URL, 0, "/index", NULL },
	{ "a trailing ? drops the query", ON "RewriteRule ^/page$ /index?\n", { "/page?x=1" }, RW_URL, 0, "/index", NULL },
	{ "a ? replaces the query", ON "RewriteRule ^/page$ /index?a=b\n", { "/page?x=1" }, RW_URL, 0, "/index?a=b", NULL },
	{ "no ? keeps it, byte for byte", ON "RewriteRule ^/page$ /index\n", { "/page?x=%2f&y=[1]" }, RW_URL, 0, "/index?x=%2f&y=[1]", NULL },
	{ "QSA and QSD", ON "RewriteRule ^/page$ /index?p=1 [QSA,QSD]\n", { "/page?x=1" }, RW_URL, 0, "/index?p=1", NULL },
	{ "QSA with an empty new query keeps the old", ON "RewriteRule ^/page$ /index? [QSA]\n", { "/page?x=1" }, RW_URL, 0, "/index?x=1", NULL },
	{ "a trailing & is dropped", ON "RewriteRule ^/page$ /index?a=1&\n", { "/page" }, RW_URL, 0, "/index?a=1", NULL },
	{ "\\? is not a separator", ON "RewriteRule ^/a$ /b\\?c\n", { "/a" }, RW_URL, 0, "/b%3Fc", NULL },
	{ "a decoded %3F never splits", ON "RewriteRule ^/(.*)$ /x/$1\n", { "/a%3Fb" }, RW_URL, 0, "/x/a%3Fb", NULL },
	{ "escapes of $1 kept in the query", ON "RewriteRule ^/p/(.*)$ /q?v=$1\n", { "/p/a%3Fb%26c%23d" }, RW_URL, 0, "/q?v=a%3Fb%26c%23d", NULL },
	{ "%{QUERY_STRING} kept as it is", ON "RewriteRule ^/a$ /b?%{QUERY_STRING}&z=1\n", { "/a?x=%2f&y=[1]" }, RW_URL, 0, "/b?x=%2f&y=[1]&z=1", NULL },
	{ "the second ? is query text", ON "RewriteRule ^/a$ /b?c?d\n", { "/a" }, RW_URL, 0, "/b?c?d", NULL },

	/* ---- PT, filesystem paths ---- */
	{ "PT", ON "RewriteRule ^/a$ /b [PT]\n", { "/a" }, RW_URL, 0, "/b", "PT" },
	{ "passthrough stops the rules", ON "RewriteRule ^/a$ /b [passthrough]\nRewriteRule ^/b$ /c\n", { "/a" }, RW_URL, 0, "/b", "PT" },
	{ "PT on - passes the path as received", ON "RewriteRule ^/a - [PT]\n", { "/a%7e?q" }, RW_URL, 0, "/a%7e?q", "PT" },
	{ "PT makes a filesystem path a URL-path", ON "RewriteRule ^/e/(.*) /etc/$1 [PT]\n", { "/e/x" }, RW_URL, 0, "/etc/x", "PT" },
	{ "a filesystem path", ON "RewriteRule ^/e/(.*) /etc/$1\n", { "/e/x" }, RW_FILE, 0, "x", "/etc" },
	{ "a literal file", ON "RewriteRule ^/e$ /etc/passwd\n", { "/e" }, RW_FILE, 0, "passwd", "/etc" },
	{ "a file at the filesystem root", ON "RewriteRule ^/e$ /etc\n", { "/e" }, RW_FILE, 0, "etc", "/" },
	{ "first segment missing: a URL-path", ON "RewriteRule ^/x/(.*) /nonexistent-spliced-dir/$1\n", { "/x/y" }, RW_URL, 0, "/nonexistent-spliced-dir/y", NULL },
	{ "first segment a variable: a URL-path", ON "RewriteRule ^/x/(.*) /$1\n", { "/x/etc/passwd" }, RW_URL, 0, "/etc/passwd", NULL },
	{ "a later rule sees the filesystem path", ON "RewriteRule ^/e/(.*) /etc/$1\nRewriteRule ^/etc/(.*) /other/$1\n", { "/e/x" }, RW_URL, 0, "/other/x", NULL },
	{ "file: %2F is a separator on disk", ON "RewriteRule ^/e/(.*) /etc/$1\n", { "/e/a%2Fb" }, RW_FILE, 0, "a/b", "/etc" },
	{ "file: ..%2F leaving the root is 404", ON "RewriteRule ^/e/(.*) /etc/$1\n", { "/e/..%2Fshadow" }, RW_STATUS, 404, NULL, NULL },
	{ "file: ..%2F staying inside is fine", ON "RewriteRule ^/e/(.*) /etc/$1\n", { "/e/a/..%2Fb" }, RW_FILE, 0, "b", "/etc" },
	{ "file: the query is dropped", ON "RewriteRule ^/e/(.*) /etc/$1\n", { "/e/passwd?x=1" }, RW_FILE, 0, "passwd", "/etc" },
	{ "R makes a filesystem path a URL", ON "RewriteRule ^/e/(.*) /etc/$1 [R]\n", { "/e/x", "h" }, RW_REDIRECT, 302, "/etc/x", NULL },

	/* ---- P ---- */
	{ "P", ON "RewriteRule ^/app/(.*)$ " B9 "/v1/$1 [P]\n", { "/app/a%20b?x=1" }, RW_PROXY, 0, "/v1/a%20b?x=1", B9 },
	{ "proxy", ON "RewriteRule ^/app/(.*)$ " B9 "/v1/$1 [proxy]\n", { "/app/c" }, RW_PROXY, 0, "/v1/c", B9 },
	{ "P: http://B$1", ON "RewriteRule ^(.*)$ " B9 "$1 [P]\n", { "/a%20b/c" }, RW_PROXY, 0, "/a%20b/c", B9 },
	{ "P: ${escape:$1} never doubles", ON "RewriteMap esc int:escape\nRewriteRule ^(.*)$ " B9 "/${esc:$1} [P]\n", { "/a%20b/c" }, RW_PROXY, 0, "/a%20b/c", B9 },
	{ "P: ${escape:} of a decoded %25", ON "RewriteMap esc int:escape\nRewriteRule ^(.*)$ " B9 "/${esc:$1} [P]\n", { "/100%25" }, RW_PROXY, 0, "/100%25", B9 },
	{ "P: no path", ON "RewriteRule ^/x$ " B9 " [P]\n", { "/x" }, RW_PROXY, 0, "/", B9 },
	{ "P: a variable path gets its /", ON "RewriteRule ^/x/(.*)$ " B9 "$1 [P]\n", { "/x/abc" }, RW_PROXY, 0, "/abc", B9 },
	{ "P: dots in the result removed", ON "RewriteRule ^/x/(.*)$ " B9 "/a/../$1 [P]\n", { "/x/b" }, RW_PROXY, 0, "/b", B9 },
	{ "P: a result above the root is 500", ON "RewriteRule ^/x$ " B9 "/../b [P]\n", { "/x" }, RW_STATUS, 500, NULL, NULL },
	{ "P: QSA", ON "RewriteRule ^/x$ " B9 "/y?a=1 [P,QSA]\n", { "/x?b=2" }, RW_PROXY, 0, "/y?a=1&b=2", B9 },
	{ "P implies L", ON "RewriteRule ^/x$ " B9 "/y [P]\nRewriteRule ^ - [F]\n", { "/x" }, RW_PROXY, 0, "/y", B9 },
	{ "P: one pool per backend", ON "RewriteRule ^/a http://127.0.0.1:9001/ [P]\nRewriteRule ^/b http://127.0.0.1:9002/ [P]\n", { "/b" }, RW_PROXY, 0, "/", "http://127.0.0.1:9002" },
	{ "P: the method does not matter", ON "RewriteRule ^/x$ " B9 "/y [P]\n", { "/x", NULL, NULL, "POST" }, RW_PROXY, 0, "/y", B9 },

	/* ---- patterns, back-references, '-' ---- */
	{ "- changes nothing", ON "RewriteRule ^/a - [L]\nRewriteRule ^/a /b\n", { "/a" }, RW_NONE, 0, NULL, NULL },
	{ "- goes on", ON "RewriteRule ^/a -\nRewriteRule ^/a /b\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "- ignores QSD (httpd)", ON "RewriteRule ^/a - [QSD]\n", { "/a?x" }, RW_NONE, 0, NULL, NULL },
	{ "- with R does nothing (httpd)", ON "RewriteRule ^/a - [R=301]\n", { "/a" }, RW_NONE, 0, NULL, NULL },
	{ "no rule matches", ON "RewriteRule ^/a /b\n", { "/c?d" }, RW_NONE, 0, NULL, NULL },
	{ "!pattern", ON "RewriteRule !^/keep /other\n", { "/x" }, RW_URL, 0, "/other", NULL },
	{ "!pattern that matches", ON "RewriteRule !^/keep /other\n", { "/keep" }, RW_NONE, 0, NULL, NULL },
	{ "!pattern has no $1", ON "RewriteRule !^/k(.*) /o$1\n", { "/x" }, RW_URL, 0, "/o", NULL },
	{ "$0", ON "RewriteRule ^/a(.*) /b$0\n", { "/ax" }, RW_URL, 0, "/b/ax", NULL },
	{ "an unmatched group is empty", ON "RewriteRule ^/(a)?b(.*)$ /x$1y$2\n", { "/bz" }, RW_URL, 0, "/xyz", NULL },
	{ "$9 of twelve groups", ON "RewriteRule ^/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)$ /$9$1\n", { "/abcdefghijkl" }, RW_URL, 0, "/ia", NULL },
	{ "$5 of two groups is empty", ON "RewriteRule ^/(a)(b)$ /x$5y\n", { "/ab" }, RW_URL, 0, "/xy", NULL },
	{ "NC", ON "RewriteRule ^/ABC$ /x [NC]\n", { "/abc" }, RW_URL, 0, "/x", NULL },
	{ "nocase", ON "RewriteRule ^/ABC$ /x [nocase]\n", { "/aBc" }, RW_URL, 0, "/x", NULL },
	{ "case matters without NC", ON "RewriteRule ^/ABC$ /x\n", { "/abc" }, RW_NONE, 0, NULL, NULL },
	{ "the pattern sees the decoded path", ON "RewriteRule \"^/a b$\" /x\n", { "/a%20b" }, RW_URL, 0, "/x", NULL },
	{ "... with // merged", ON "RewriteRule ^/a/b$ /x\n", { "/a//b" }, RW_URL, 0, "/x", NULL },
	{ "... without the query", ON "RewriteRule ^/a$ /x\n", { "/a?b" }, RW_URL, 0, "/x?b", NULL },
	{ "$ is the end, not before a newline", ON "RewriteRule ^/a$ /x\n", { "/a%0A" }, RW_NONE, 0, NULL, NULL },
	{ ". matches a newline", ON "RewriteRule ^/a.b$ /x\n", { "/a%0Ab" }, RW_URL, 0, "/x", NULL },
	{ "dots in the result removed", ON "RewriteRule ^/x /a/../b\n", { "/x" }, RW_URL, 0, "/b", NULL },
	{ "a result above the root is 400", ON "RewriteRule ^/x /x/../../b\n", { "/x" }, RW_STATUS, 400, NULL, NULL },
	{ "a relative result is 400", ON "RewriteRule ^/(.*)$ $1\n", { "/abc" }, RW_STATUS, 400, NULL, NULL },
	{ "\\$1 is literal", ON "RewriteRule ^/(v)$ /w?\\$1\n", { "/v" }, RW_URL, 0, "/w?$1", NULL },
	{ "an unclosed %{ is text", ON "RewriteRule ^/v$ /v?a=%{X\n", { "/v" }, RW_URL, 0, "/v?a=%25%7BX", NULL },
	{ "${x} without a map name is text", ON "RewriteRule ^/v$ /v?${x}\n", { "/v" }, RW_URL, 0, "/v?$%7Bx%7D", NULL },

	/* ---- RewriteEngine ---- */
	{ "RewriteEngine off", "RewriteEngine off\nRewriteRule ^/a /b\n", { "/a" }, RW_NONE, 0, NULL, NULL },
	{ "no RewriteEngine", "RewriteRule ^/a /b\n", { "/a" }, RW_NONE, 0, NULL, NULL },
	{ "RewriteEngine after the rules", "RewriteRule ^/a /b\nRewriteEngine on\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "not a URL-path", ON "RewriteRule ^ - [F]\n", { "*", NULL, NULL, "OPTIONS" }, RW_NONE, 0, NULL, NULL },

	/* ---- RewriteCond ---- */
	{ "cond: %1", ON "RewriteCond %{HTTP_HOST} ^([a-z]+)\\.example\\.com$\nRewriteRule ^/(.*)$ /%1/$1\n", { "/x", "shop.example.com" }, RW_URL, 0, "/shop/x", NULL },
	{ "cond: fails", ON "RewriteCond %{HTTP_HOST} ^([a-z]+)\\.example\\.com$\nRewriteRule ^/(.*)$ /%1/$1\n", { "/x", "example.org" }, RW_NONE, 0, NULL, NULL },
	{ "cond: %N of the last that matched", ON "RewriteCond %{HTTP_HOST} ^(a)\nRewriteCond %{REQUEST_METHOD} ^(G)ET\nRewriteRule ^/ /%1\n", { "/", "abc" }, RW_URL, 0, "/G", NULL },
	{ "cond: a negated one keeps %N", ON "RewriteCond %{HTTP_HOST} ^(a)\nRewriteCond %{HTTP_HOST} !^(z)\nRewriteRule ^/ /%1\n", { "/", "abc" }, RW_URL, 0, "/a", NULL },
	{ "cond: %N in the next TestString", ON "RewriteCond %{HTTP_HOST} ^(a+)\nRewriteCond %1 ^aa$\nRewriteRule ^/ /ok\n", { "/", "aab" }, RW_URL, 0, "/ok", NULL },
	{ "cond: sees $1", ON "RewriteCond $1 ^x\nRewriteRule ^/(.*) /y\n", { "/xz" }, RW_URL, 0, "/y", NULL },
	{ "cond: $1 fails", ON "RewriteCond $1 ^x\nRewriteRule ^/(.*) /y\n", { "/az" }, RW_NONE, 0, NULL, NULL },
	{ "cond: only for its rule", ON "RewriteCond %{HTTP_HOST} =nomatch\nRewriteRule ^/a /b\nRewriteRule ^/a /c\n", { "/a", "h" }, RW_URL, 0, "/c", NULL },
	{ "cond: NC", ON "RewriteCond %{HTTP_HOST} ^WWW [NC]\nRewriteRule ^/ /w\n", { "/", "www.a" }, RW_URL, 0, "/w", NULL },
	{ "cond: nocase", ON "RewriteCond %{HTTP_HOST} ^WWW [nocase]\nRewriteRule ^/ /w\n", { "/", "wWw.a" }, RW_URL, 0, "/w", NULL },
	{ "cond: case matters", ON "RewriteCond %{HTTP_HOST} ^WWW\nRewriteRule ^/ /w\n", { "/", "www.a" }, RW_NONE, 0, NULL, NULL },
	{ "cond: OR, second", ON "RewriteCond %{HTTP_HOST} ^a [OR]\nRewriteCond %{HTTP_HOST} ^b\nRewriteRule ^/ /ok\n", { "/", "b" }, RW_URL, 0, "/ok", NULL },
	{ "cond: OR, first", ON "RewriteCond %{HTTP_HOST} ^a [OR]\nRewriteCond %{HTTP_HOST} ^b\nRewriteRule ^/ /ok\n", { "/", "a" }, RW_URL, 0, "/ok", NULL },
	{ "cond: OR, none", ON "RewriteCond %{HTTP_HOST} ^a [ornext]\nRewriteCond %{HTTP_HOST} ^b\nRewriteRule ^/ /ok\n", { "/", "c" }, RW_NONE, 0, NULL, NULL },
	{ "cond: OR then AND", ON "RewriteCond %{HTTP_HOST} ^a [OR]\nRewriteCond %{HTTP_HOST} ^b\nRewriteCond %{REQUEST_METHOD} =POST\nRewriteRule ^/ /ok\n", { "/", "a", NULL, "POST" }, RW_URL, 0, "/ok", NULL },
	{ "cond: OR then AND fails", ON "RewriteCond %{HTTP_HOST} ^a [OR]\nRewriteCond %{HTTP_HOST} ^b\nRewriteCond %{REQUEST_METHOD} =POST\nRewriteRule ^/ /ok\n", { "/", "a" }, RW_NONE, 0, NULL, NULL },
	{ "cond: a last OR group all false", ON "RewriteCond %{HTTP_HOST} ^a [OR]\nRewriteCond %{HTTP_HOST} ^b [OR]\nRewriteRule ^/ /ok\n", { "/", "c" }, RW_NONE, 0, NULL, NULL },
	{ "cond: NV accepted", ON "RewriteCond %{HTTP:X} ^1 [NV]\nRewriteRule ^/ /ok\n", { "/", "h", "X: 1\n" }, RW_URL, 0, "/ok", NULL },
	{ "cond: =", ON "RewriteCond %{REQUEST_METHOD} =POST\nRewriteRule ^/ /post\n", { "/", NULL, NULL, "POST" }, RW_URL, 0, "/post", NULL },
	{ "cond: = fails", ON "RewriteCond %{REQUEST_METHOD} =POST\nRewriteRule ^/ /post\n", { "/" }, RW_NONE, 0, NULL, NULL },
	{ "cond: = is not a regex", ON "RewriteCond %{HTTP_HOST} =a.c\nRewriteRule ^/ /ok\n", { "/", "abc" }, RW_NONE, 0, NULL, NULL },
	{ "cond: = NC", ON "RewriteCond %{HTTP_HOST} =WWW.A [NC]\nRewriteRule ^/ /ok\n", { "/", "www.a" }, RW_URL, 0, "/ok", NULL },
	{ "cond: =\"\"", ON "RewriteCond %{QUERY_STRING} =\"\"\nRewriteRule ^/ /noq\n", { "/" }, RW_URL, 0, "/noq", NULL },
	{ "cond: =\"\" with a query", ON "RewriteCond %{QUERY_STRING} =\"\"\nRewriteRule ^/ /noq\n", { "/?a" }, RW_NONE, 0, NULL, NULL },
	{ "cond: !=\"\"", ON "RewriteCond %{QUERY_STRING} !=\"\"\nRewriteRule ^/$ /q\n", { "/?a" }, RW_URL, 0, "/q?a", NULL },
	{ "cond: <", ON "RewriteCond %{HTTP:X-V} <b\nRewriteRule ^/ /lt\n", { "/", "h", "X-V: a\n" }, RW_URL, 0, "/lt", NULL },
	{ "cond: < fails", ON "RewriteCond %{HTTP:X-V} <b\nRewriteRule ^/ /lt\n", { "/", "h", "X-V: c\n" }, RW_NONE, 0, NULL, NULL },
	{ "cond: < compares lengths first (httpd)", ON "RewriteCond %{HTTP:X-V} <b\nRewriteRule ^/ /lt\n", { "/", "h", "X-V: ab\n" }, RW_NONE, 0, NULL, NULL },
	{ "cond: <=", ON "RewriteCond %{HTTP:X-V} <=b\nRewriteRule ^/ /le\n", { "/", "h", "X-V: b\n" }, RW_URL, 0, "/le", NULL },
	{ "cond: >", ON "RewriteCond %{HTTP:X-V} >b\nRewriteRule ^/ /gt\n", { "/", "h", "X-V: c\n" }, RW_URL, 0, "/gt", NULL },
	{ "cond: > fails", ON "RewriteCond %{HTTP:X-V} >b\nRewriteRule ^/ /gt\n", { "/", "h", "X-V: b\n" }, RW_NONE, 0, NULL, NULL },
	{ "cond: >=", ON "RewriteCond %{HTTP:X-V} >=b\nRewriteRule ^/ /ge\n", { "/", "h", "X-V: b\n" }, RW_URL, 0, "/ge", NULL },
	{ "cond: < NC", ON "RewriteCond %{HTTP:X-V} <B [NC]\nRewriteRule ^/ /lt\n", { "/", "h", "X-V: a\n" }, RW_URL, 0, "/lt", NULL },
	{ "cond: -eq", ON "RewriteCond %{SERVER_PORT} -eq80\nRewriteRule ^/ /p80\n", { "/" }, RW_URL, 0, "/p80", NULL },
	{ "cond: -eq fails", ON "RewriteCond %{SERVER_PORT} -eq443\nRewriteRule ^/ /p\n", { "/" }, RW_NONE, 0, NULL, NULL },
	{ "cond: -ne", ON "RewriteCond %{SERVER_PORT} -ne80\nRewriteRule ^/ /p\n", { "/" }, RW_NONE, 0, NULL, NULL },
	{ "cond: !-ne", ON "RewriteCond %{SERVER_PORT} !-ne80\nRewriteRule ^/ /p\n", { "/" }, RW_URL, 0, "/p", NULL },
	{ "cond: -lt", ON "RewriteCond %{HTTP:X-N} -lt10\nRewriteRule ^/ /n\n", { "/", "h", "X-N: 9\n" }, RW_URL, 0, "/n", NULL },
	{ "cond: -le", ON "RewriteCond %{HTTP:X-N} -le9\nRewriteRule ^/ /n\n", { "/", "h", "X-N: 9\n" }, RW_URL, 0, "/n", NULL },
	{ "cond: -gt", ON "RewriteCond %{HTTP:X-N} -gt9\nRewriteRule ^/ /n\n", { "/", "h", "X-N: 10\n" }, RW_URL, 0, "/n", NULL },
	{ "cond: -gt with text is 0", ON "RewriteCond %{HTTP:X-N} -gt9\nRewriteRule ^/ /n\n", { "/", "h", "X-N: x\n" }, RW_NONE, 0, NULL, NULL },
	{ "cond: \"-ge 10\"", ON "RewriteCond %{HTTP:X-N} \"-ge 10\"\nRewriteRule ^/ /n\n", { "/", "h", "X-N: 10\n" }, RW_URL, 0, "/n", NULL },
	{ "cond: -eq negative", ON "RewriteCond %{HTTP:X-N} -eq-5\nRewriteRule ^/ /n\n", { "/", "h", "X-N: -5\n" }, RW_URL, 0, "/n", NULL },
	{ "cond: -f", FS "RewriteCond @D@%{REQUEST_URI} -f\nRewriteRule ^/(.*) /found/$1\n", { "/file.txt" }, RW_URL, 0, "/found/file.txt", NULL },
	{ "cond: -f missing", FS "RewriteCond @D@%{REQUEST_URI} -f\nRewriteRule ^/(.*) /found/$1\n", { "/nope" }, RW_NONE, 0, NULL, NULL },
	{ "cond: -f on a directory", FS "RewriteCond @D@%{REQUEST_URI} -f\nRewriteRule ^/(.*) /found/$1\n", { "/sub" }, RW_NONE, 0, NULL, NULL },
	{ "cond: !-f", FS "RewriteCond @D@%{REQUEST_URI} !-f\nRewriteRule ^/(.*) /index.php?p=$1\n", { "/nope" }, RW_URL, 0, "/index.php?p=nope", NULL },
	{ "cond: -d", FS "RewriteCond @D@%{REQUEST_URI} -d\nRewriteRule ^/(.*) /dir/$1\n", { "/sub" }, RW_URL, 0, "/dir/sub", NULL },
	{ "cond: -s", FS "RewriteCond @D@%{REQUEST_URI} -s\nRewriteRule ^/(.*) /s/$1\n", { "/file.txt" }, RW_URL, 0, "/s/file.txt", NULL },
	{ "cond: -s empty", FS "RewriteCond @D@%{REQUEST_URI} -s\nRewriteRule ^/(.*) /s/$1\n", { "/empty" }, RW_NONE, 0, NULL, NULL },
	{ "cond: -f outside every root", FS "RewriteCond /etc/passwd -f\nRewriteRule ^/ /yes\n", { "/" }, RW_NONE, 0, NULL, NULL },
	{ "cond: !-f outside every root", FS "RewriteCond /etc/passwd !-f\nRewriteRule ^/ /yes\n", { "/" }, RW_URL, 0, "/yes", NULL },
	{ "cond: -f through .. out of the root", FS "RewriteCond @D@/sub/../../../etc/passwd -f\nRewriteRule ^/ /yes\n", { "/" }, RW_NONE, 0, NULL, NULL },
	{ "cond: -f through a symlink out of the root", FS "RewriteCond @D@/link -f\nRewriteRule ^/ /yes\n", { "/" }, RW_NONE, 0, NULL, NULL },
	{ "cond: -f under a rule's root", ON "RewriteCond /etc/passwd -f\nRewriteRule ^/a /b\nRewriteRule ^/e/(.*) /etc/$1\n", { "/a" }, RW_URL, 0, "/b", NULL },
	{ "cond: -f without roots", ON "RewriteCond /etc/passwd -f\nRewriteRule ^/ /yes\n", { "/" }, RW_NONE, 0, NULL, NULL },

	/* ---- variables ---- */
	{ "var: HTTP_HOST", VARS("%{HTTP_HOST}"), { "/v", "Ex.com:81" }, RW_URL, 0, "/v?Ex.com:81", NULL },
	{ "var: REQUEST_URI decoded, re-escaped", ON "RewriteRule ^/(.*)$ /x%{REQUEST_URI}\n", { "/a%20b%2Fc" }, RW_URL, 0, "/x/a%20b%2Fc", NULL },
	{ "var: REQUEST_URI is the original", ON "RewriteRule ^/a$ /b\nRewriteRule ^/b$ /c?u=%{REQUEST_URI}\n", { "/a" }, RW_URL, 0, "/c?u=/a", NULL },
	{ "var: REQUEST_FILENAME is the current", ON "RewriteRule ^/a$ /b\nRewriteRule ^/b$ /c?f=%{REQUEST_FILENAME}\n", { "/a" }, RW_URL, 0, "/c?f=/b", NULL },
	{ "var: SCRIPT_FILENAME", ON "RewriteRule ^/a$ /b\nRewriteRule ^/b$ /c?f=%{SCRIPT_FILENAME}\n", { "/a" }, RW_URL, 0, "/c?f=/b", NULL },
	{ "var: QUERY_STRING as received", ON "RewriteCond %{QUERY_STRING} ^a=%2f$\nRewriteRule ^/v$ /ok\n", { "/v?a=%2f" }, RW_URL, 0, "/ok?a=%2f", NULL },
	{ "var: THE_REQUEST", ON "RewriteCond %{THE_REQUEST} \"^GET /t%20x HTTP/1.1$\"\nRewriteRule ^/ /ok\n", { "/t%20x" }, RW_URL, 0, "/ok", NULL },
	{ "var: REQUEST_METHOD", VARS("%{REQUEST_METHOD}"), { "/v", NULL, NULL, "PUT" }, RW_URL, 0, "/v?PUT", NULL },
	{ "var: REMOTE_ADDR", VARS("%{REMOTE_ADDR}"), { "/v" }, RW_URL, 0, "/v?192.0.2.1", NULL },
	{ "var: REMOTE_HOST", VARS("%{REMOTE_HOST}"), { "/v" }, RW_URL, 0, "/v?192.0.2.1", NULL },
	{ "var: REMOTE_PORT", VARS("%{REMOTE_PORT}"), { "/v" }, RW_URL, 0, "/v?50000", NULL },
	{ "var: SERVER_PORT", VARS("%{SERVER_PORT}"), { "/v" }, RW_URL, 0, "/v?80", NULL },
	{ "var: SERVER_NAME from Host", VARS("%{SERVER_NAME}"), { "/v", "WWW.Ex.com:81" }, RW_URL, 0, "/v?www.ex.com", NULL },
	{ "var: SERVER_NAME, Host without port", VARS("%{SERVER_NAME}"), { "/v", "Www.Ex.com" }, RW_URL, 0, "/v?www.ex.com", NULL },
	{ "var: SERVER_NAME, IPv6 Host", VARS("%{SERVER_NAME}"), { "/v", "[::1]:8080" }, RW_URL, 0, "/v?%5B::1%5D", NULL },
	{ "var: SERVER_NAME from ServerName", "ServerName main.example\n" VARS("%{SERVER_NAME}"), { "/v" }, RW_URL, 0, "/v?main.example", NULL },
	{ "var: HTTPS", VARS("%{HTTPS}"), { "/v" }, RW_URL, 0, "/v?off", NULL },
	{ "var: REQUEST_SCHEME", VARS("%{REQUEST_SCHEME}"), { "/v" }, RW_URL, 0, "/v?http", NULL },
	{ "var: SERVER_PROTOCOL", VARS("%{SERVER_PROTOCOL}"), { "/v" }, RW_URL, 0, "/v?HTTP/1.1", NULL },
	{ "var: IS_SUBREQ", VARS("%{IS_SUBREQ}"), { "/v" }, RW_URL, 0, "/v?false", NULL },
	{ "var: IPV6", VARS("%{IPV6}"), { "/v" }, RW_URL, 0, "/v?off", NULL },
	{ "var: SERVER_SOFTWARE", VARS("%{SERVER_SOFTWARE}"), { "/v" }, RW_URL, 0, "/v?spliced", NULL },
	{ "var: DOCUMENT_ROOT", "DocumentRoot @D@\n" VARS("%{DOCUMENT_ROOT}"), { "/v" }, RW_URL, 0, "/v?@D@", NULL },
	{ "var: HTTP:Header escaped as data", VARS("%{HTTP:X-Foo}"), { "/v", "h", "X-Foo: a b&c\n" }, RW_URL, 0, "/v?a%20b&c", NULL },
	{ "var: HTTP:Host", VARS("%{HTTP:Host}"), { "/v", "hh" }, RW_URL, 0, "/v?hh", NULL },
	{ "var: HTTP_USER_AGENT", VARS("%{HTTP_USER_AGENT}"), { "/v", "h", "User-Agent: UA/1\n" }, RW_URL, 0, "/v?UA/1", NULL },
	{ "var: HTTP_REFERER", VARS("%{HTTP_REFERER}"), { "/v", "h", "Referer: http://r/\n" }, RW_URL, 0, "/v?http://r/", NULL },
	{ "var: HTTP_COOKIE", VARS("%{HTTP_COOKIE}"), { "/v", "h", "Cookie: a=1\n" }, RW_URL, 0, "/v?a=1", NULL },
	{ "var: HTTP_ACCEPT", VARS("%{HTTP_ACCEPT}"), { "/v", "h", "Accept: */*\n" }, RW_URL, 0, "/v?*/*", NULL },
	{ "var: a missing header is empty", VARS("x%{HTTP:Nope}y"), { "/v" }, RW_URL, 0, "/v?xy", NULL },
	{ "var: unknown is empty", VARS("x%{NO_SUCH_VAR}y"), { "/v" }, RW_URL, 0, "/v?xy", NULL },
	{ "var: ENV: is empty", VARS("x%{ENV:PATH}y"), { "/v" }, RW_URL, 0, "/v?xy", NULL },
	{ "var: names are case-insensitive", VARS("%{http_host}"), { "/v", "hx" }, RW_URL, 0, "/v?hx", NULL },
	{ "var: LA-U:", VARS("%{LA-U:REQUEST_METHOD}"), { "/v" }, RW_URL, 0, "/v?GET", NULL },
	{ "var: TIME_YEAR", ON "RewriteCond %{TIME_YEAR} ^2[0-9][0-9][0-9]$\nRewriteRule ^/ /y\n", { "/" }, RW_URL, 0, "/y", NULL },
	{ "var: TIME", ON "RewriteCond %{TIME} ^[0-9]{14}$\nRewriteRule ^/ /t\n", { "/" }, RW_URL, 0, "/t", NULL },

	/* ---- maps ---- */
	{ "map: tolower", ON "RewriteMap lc int:tolower\nRewriteRule ^/(.*)$ /${lc:$1}\n", { "/ABC" }, RW_URL, 0, "/abc", NULL },
	{ "map: toupper", ON "RewriteMap uc int:toupper\nRewriteRule ^/(.*)$ /${uc:$1}\n", { "/abc%2fd" }, RW_URL, 0, "/ABC%2FD", NULL },
	{ "map: escape in the query", ON "RewriteMap e int:escape\nRewriteRule ^/(.*)$ /x?q=${e:$1}\n", { "/a%20b&c%3Fd" }, RW_URL, 0, "/x?q=a%20b&c%3Fd", NULL },
	{ "map: escape of a header", ON "RewriteMap e int:escape\nRewriteRule ^/$ /x/${e:%{HTTP:X}}\n", { "/", "h", "X: a b?c\n" }, RW_URL, 0, "/x/a%20b%3Fc", NULL },
	{ "map: unescape", ON "RewriteMap u int:unescape\nRewriteRule ^/(.*)$ /x/${u:$1}\n", { "/a%2541" }, RW_URL, 0, "/x/aA", NULL },
	{ "map: unescape keeps %00", ON "RewriteMap u int:unescape\nRewriteRule ^/(.*)$ /x/${u:$1}\n", { "/a%2500" }, RW_URL, 0, "/x/a%2500", NULL },
	{ "map: txt", ON MAPTXT "RewriteRule ^/go/(.*)$ ${m:$1|/default} [R]\n", { "/go/old", "h" }, RW_REDIRECT, 302, "/new", NULL },
	{ "map: txt default", ON MAPTXT "RewriteRule ^/go/(.*)$ ${m:$1|/default} [R]\n", { "/go/zzz", "h" }, RW_REDIRECT, 302, "/default", NULL },
	{ "map: txt default with $1", ON MAPTXT "RewriteRule ^/go/(.*)$ ${m:$1|/d/$1} [R]\n", { "/go/zz", "h" }, RW_REDIRECT, 302, "/d/zz", NULL },
	{ "map: txt missing, no default", ON MAPTXT "RewriteRule ^/go/(.*)$ /x${m:$1}\n", { "/go/zzz" }, RW_URL, 0, "/x", NULL },
	{ "map: txt value with a query", ON MAPTXT "RewriteRule ^/go/(.*)$ ${m:$1} [R]\n", { "/go/q", "h" }, RW_REDIRECT, 302, "/page?x=1", NULL },
	{ "map: txt first line wins", ON MAPTXT "RewriteRule ^/go/(.*)$ /x${m:$1}\n", { "/go/dup" }, RW_URL, 0, "/x/first", NULL },
	{ "map: txt key without value ignored", ON MAPTXT "RewriteRule ^/go/(.*)$ /x${m:$1|/none}\n", { "/go/keyonly" }, RW_URL, 0, "/x/none", NULL },
	{ "map: txt indented line ignored", ON MAPTXT "RewriteRule ^/go/(.*)$ /x${m:$1|/none}\n", { "/go/indented" }, RW_URL, 0, "/x/none", NULL },
	{ "map: txt comment ignored", ON MAPTXT "RewriteRule ^/go/(.*)$ /x${m:$1|/none}\n", { "/go/#comment" }, RW_URL, 0, "/x/none", NULL },
	{ "map: txt keys are case-sensitive", ON MAPTXT "RewriteRule ^/go/(.*)$ /x${m:$1|/none}\n", { "/go/OLD" }, RW_URL, 0, "/x/none", NULL },
	{ "map: a path without txt:", ON "RewriteMap m @D@/map.txt\nRewriteRule ^/go/(.*)$ /x${m:$1}\n", { "/go/old" }, RW_URL, 0, "/x/new", NULL },
	{ "map: nested", ON "RewriteMap lc int:tolower\n" MAPTXT "RewriteRule ^/go/(.*)$ ${m:${lc:$1}|/d} [R]\n", { "/go/OLD", "h" }, RW_REDIRECT, 302, "/new", NULL },
	{ "map: in a condition", ON "RewriteMap lc int:tolower\nRewriteCond ${lc:%{HTTP_HOST}} =www.a\nRewriteRule ^/ /ok\n", { "/", "WWW.A" }, RW_URL, 0, "/ok", NULL },
	{ "map: defined after the rule", ON "RewriteRule ^/(.*)$ /${lc:$1}\nRewriteMap lc int:tolower\n", { "/AB" }, RW_URL, 0, "/ab", NULL },

	/* ---- virtual hosts ---- */
	{ "vhost: ServerName", VHOSTS, { "/v", "a.example" }, RW_URL, 0, "/from-a", NULL },
	{ "vhost: any case, a port", VHOSTS, { "/v", "A.Example:80" }, RW_URL, 0, "/from-a", NULL },
	{ "vhost: a trailing dot", VHOSTS, { "/v", "a.example." }, RW_URL, 0, "/from-a", NULL },
	{ "vhost: ServerAlias *", VHOSTS, { "/v", "x.y.b.example" }, RW_URL, 0, "/from-a", NULL },
	{ "vhost: ServerAlias ?", VHOSTS, { "/v", "b1.example" }, RW_URL, 0, "/from-a", NULL },
	{ "vhost: ? is one character", VHOSTS, { "/v", "b12.example" }, RW_NONE, 0, NULL, NULL },
	{ "vhost: none matches: main server", VHOSTS, { "/main", "other" }, RW_URL, 0, "/from-main", NULL },
	{ "vhost: no Host: main server", VHOSTS, { "/main", NULL }, RW_URL, 0, "/from-main", NULL },
	{ "vhost: not inherited", VHOSTS, { "/main", "a.example" }, RW_NONE, 0, NULL, NULL },
	{ "vhost: another port", VHOSTS, { "/v", "c.example" }, RW_NONE, 0, NULL, NULL },
	{ "vhost: Inherit runs the main rules after", INHERIT("Inherit"), { "/x", "i.example" }, RW_URL, 0, "/z", NULL },
	{ "vhost: InheritBefore runs them before", INHERIT("InheritBefore"), { "/x", "i.example" }, RW_URL, 0, "/y", NULL },
	{ "vhost: RewriteEngine inherited", "RewriteEngine on\n<VirtualHost *>\nServerName e.example\nRewriteRule ^/x /y\n</VirtualHost>\n", { "/x", "e.example" }, RW_URL, 0, "/y", NULL },
	{ "vhost: RewriteEngine off", "RewriteEngine on\n<VirtualHost *>\nServerName e.example\nRewriteEngine off\nRewriteRule ^/x /y\n</VirtualHost>\n", { "/x", "e.example" }, RW_NONE, 0, NULL, NULL },
	{ "vhost: on while the main server is off", "<VirtualHost *>\nServerName e.example\nRewriteEngine on\nRewriteRule ^/x /y\n</VirtualHost>\n", { "/x", "e.example" }, RW_URL, 0, "/y", NULL },
	{ "vhost: its own map", "<VirtualHost *>\nServerName e.example\nRewriteEngine on\nRewriteMap lc int:tolower\nRewriteRule ^/(.*) /${lc:$1}\n</VirtualHost>\n", { "/X", "e.example" }, RW_URL, 0, "/x", NULL },
	{ "vhost: a main server map", "RewriteMap lc int:tolower\n<VirtualHost *>\nServerName e.example\nRewriteEngine on\nRewriteRule ^/(.*) /${lc:$1}\n</VirtualHost>\n", { "/X", "e.example" }, RW_URL, 0, "/x", NULL },
	{ "vhost: [P] in a vhost", "<VirtualHost *:80>\nServerName p.example\nRewriteEngine on\nRewriteRule ^/(.*) " B9 "/$1 [P]\n</VirtualHost>\n", { "/a", "p.example" }, RW_PROXY, 0, "/a", B9 },
};

START_TEST(test_table)
{
	const struct rwt *t = &cases[_i];
	char want[4096];
	struct rw_result r;
	int rc;

	if (!have_home && strstr(t->conf, "/home/")) {
		fprintf(stderr, "SKIP %s: /home does not exist on this machine\n", t->name);
		return;
	}
	rc = parse(t->conf);

	ck_assert_msg(rc == 0, "%s: parse failed: line %u: %s", t->name, err.line, err.msg);
	r = run(&t->req);
	ck_assert_msg(r.kind == t->kind, "%s: kind %s (status %u, out %s), want %s", t->name,
		      rw_kind_name(r.kind), r.status, r.out ? r.out : "-", rw_kind_name(t->kind));
	ck_assert_msg(r.status == t->status, "%s: status %u, want %u", t->name, r.status,
		      t->status);
	if (t->out) {
		subst(t->out, want, sizeof(want));
		ck_assert_msg(r.out && strcmp(r.out, want) == 0, "%s: out \"%s\", want \"%s\"",
			      t->name, r.out ? r.out : "(null)", want);
		ck_assert_uint_eq(r.out_len, strlen(want));
	} else {
		ck_assert_msg(r.out == NULL, "%s: out %s", t->name, r.out);
	}
	if (t->kind == RW_PROXY)
		ck_assert_str_eq(cfg.backend[r.backend].name, t->where);
	if (t->kind == RW_FILE)
		ck_assert_str_eq(cfg.file_root[r.root], t->where);
	if (t->kind == RW_URL)
		ck_assert_msg(r.passthrough == (t->where != NULL), "%s: passthrough", t->name);
	if (t->kind == RW_PROXY || t->kind == RW_URL || t->kind == RW_REDIRECT)
		ck_assert_uint_eq(r.path_len, strcspn(r.out, "?"));
	ck_assert_int_eq(r.rule >= 0, t->kind != RW_NONE && !(t->kind == RW_STATUS &&
							    r.rule < 0));
}
END_TEST

/* ---- configuration errors ---- */

static const struct {
	const char *conf;
	unsigned line;
	const char *msg;
} errors[] = {
	{ "RewriteRule ^(a /x\n", 1, "RewriteRule: bad pattern \"^(a\": missing closing parenthesis at offset 3" },
	{ "\n\nRewriteRule \"^/a[\" /x\n", 3, "RewriteRule: bad pattern \"^/a[\": missing terminating ] for character class at offset 4" },
	{ "RewriteCond %{X} ^(a\nRewriteRule ^ /x\n", 1, "RewriteCond: bad pattern \"^(a\": missing closing parenthesis at offset 3" },
	{ "RewriteRule ^/a /b [XYZ]\n", 1, "RewriteRule: unknown flag \"XYZ\"" },
	{ "RewriteRule ^/a /b [L,CO=a:b:c]\n", 1, "RewriteRule: flag \"CO\" is not supported" },
	{ "RewriteRule ^/a /b [E=X:1]\n", 1, "RewriteRule: flag \"E\" is not supported" },
	{ "RewriteRule ^/a /b [T=text/plain]\n", 1, "RewriteRule: flag \"T\" is not supported" },
	{ "RewriteRule ^/a /b [QSL]\n", 1, "RewriteRule: flag \"QSL\" is not supported" },
	{ "RewriteRule ^/a /b L\n", 1, "RewriteRule: bad flag delimiters in \"L\": flags are written [flag,flag=value]" },
	{ "RewriteRule ^/a /b [L,,R]\n", 1, "RewriteRule: empty flag in \"[L,,R]\"" },
	{ "RewriteRule ^/a /b [L=1]\n", 1, "RewriteRule: flag \"L\" takes no value" },
	{ "RewriteRule ^/a /b [R=200]\n", 1, "RewriteRule: flag R: \"200\" is not a number in 300..599" },
	{ "RewriteRule ^/a /b [R=later]\n", 1, "RewriteRule: flag R: \"later\" is not a number in 300..599" },
	{ "RewriteRule ^/a /b [S=x]\n", 1, "RewriteRule: flag S: \"x\" is not a number in 0..65535" },
	{ "RewriteRule ^/a /b [S]\n", 1, "RewriteRule: flag S: \"\" is not a number in 0..65535" },
	{ "RewriteRule ^/a /b [N=0]\n", 1, "RewriteRule: flag N: \"0\" is not a number in 1..1000000" },
	{ "RewriteEngine on\nRewriteRule ^/a /${nomap:x}\n", 2, "RewriteRule: unknown map \"nomap\"" },
	{ "RewriteMap LC int:tolower\nRewriteRule ^/a /${lc:x}\n", 2, "RewriteRule: unknown map \"lc\"" },
	{ "RewriteCond ${nomap:x} y\nRewriteRule ^/a /b\n", 1, "RewriteCond: unknown map \"nomap\"" },
	{ "RewriteMap m txt:/nonexistent/map.txt\n", 1, "RewriteMap: cannot open map file \"/nonexistent/map.txt\": No such file or directory" },
	{ "RewriteMap m int:bogus\n", 1, "RewriteMap: unknown internal map \"int:bogus\" (int:escape, unescape, tolower or toupper)" },
	{ "RewriteMap m prg:/bin/cat\n", 1, "RewriteMap: map type \"prg\" is not supported" },
	{ "RewriteMap m dbm:/x.db\n", 1, "RewriteMap: map type \"dbm\" is not supported" },
	{ "RewriteMap a:b int:escape\n", 1, "RewriteMap: bad map name \"a:b\"" },
	{ "RewriteMap m int:escape\nRewriteMap m int:tolower\n", 2, "RewriteMap: map \"m\" is already defined" },
	{ "RewriteMap m int:escape extra\n", 1, "RewriteMap: takes 2 arguments, 3 given" },
	{ "RewriteRule ^/a http://$1/x [P]\n", 1, "RewriteRule: [P]: the host of \"http://$1/x\" must be literal" },
	{ "RewriteRule ^/a http://%{HTTP_HOST}/x [P]\n", 1, "RewriteRule: [P]: the host of \"http://%{HTTP_HOST}/x\" must be literal" },
	{ "RewriteRule ^/a http://b{x}/x [P]\n", 1, "RewriteRule: [P]: the host of \"http://b{x}/x\" must be literal" },
	{ "RewriteRule ^/a https://b/ [P]\n", 1, "RewriteRule: TLS to backends is not supported" },
	{ "RewriteRule ^/a - [P]\n", 1, "RewriteRule: [P] needs a substitution, not \"-\"" },
	{ "RewriteRule ^/a " B9 "/ [P,F]\n", 1, "RewriteRule: [P] cannot go with F, G or R=4xx/5xx" },
	{ "RewriteRule ^/a /b/c [P]\n", 1, "RewriteRule: [P] needs a substitution http://host[:port]/..., unix:/PATH|http://host/... or balancer://NAME/..., not \"/b/c\"" },
	{ "RewriteRule ^/a http://fail.invalid/ [P]\n", 1, NULL },  /* the resolver's message */
	{ "RewriteRule ^/a relative\n", 1, "RewriteRule: substitution \"relative\" must be a URL-path or filesystem path starting with '/', an http:// or https:// URL, a variable, or \"-\"" },
	{ "RewriteRule ^/a /etc/./x/$1\n", 1, "RewriteRule: the directory \"/etc/./x\" is not a plain absolute path (no \".\", \"..\" or \"//\")" },
	{ "RewriteRule ^/a /${a:${b:${c:${d:${e:x}}}}}\n", 1, "RewriteRule: maps nested more than 4 deep" },
	{ "RewriteRule ^/a\n", 1, "RewriteRule: takes 2 to 3 arguments, 1 given" },
	{ "RewriteRule ^/a /b [L] x\n", 1, "RewriteRule: takes 2 to 3 arguments, 4 given" },
	{ "RewriteCond %{X} y\n", 1, "RewriteCond without a RewriteRule after it" },
	{ "RewriteCond %{X} y\n<VirtualHost *>\n", 2, "<VirtualHost>: a RewriteCond before it has no RewriteRule" },
	{ "<VirtualHost *>\nRewriteCond a b\n</VirtualHost>\nRewriteRule ^ -\n", 3, "</VirtualHost>: a RewriteCond in the section has no RewriteRule" },
	{ "RewriteCond a b [XX]\nRewriteRule ^ -\n", 1, "RewriteCond: unknown flag \"XX\"" },
	{ "RewriteCond a -x\nRewriteRule ^ -\n", 1, "RewriteCond: test \"-x\" is not supported" },
	{ "RewriteCond a !-U\nRewriteRule ^ -\n", 1, "RewriteCond: test \"-U\" is not supported" },
	{ "RewriteCond expr \"true\"\nRewriteRule ^ -\n", 1, "RewriteCond: expr conditions are not supported" },
	{ "RewriteCond a\n", 1, "RewriteCond: takes 2 to 3 arguments, 1 given" },
	{ "RewriteEngine maybe\n", 1, "RewriteEngine: \"maybe\" must be On or Off" },
	{ "RewriteOptions AllowAnyURI\n", 1, "RewriteOptions: option \"AllowAnyURI\" is not supported (Inherit, InheritBefore)" },
	{ "ErrorDocument 200 x\n", 1, "ErrorDocument: 200 is out of range 400..599" },
	{ "ErrorDocument 5xx x\n", 1, "ErrorDocument: \"5xx\" is not a number of an HTTP status" },
	{ "LogLevel loud\n", 1, "LogLevel: \"loud\" is not a log level (emerg..debug, trace1..trace8)" },
	{ "LogLevel rewrite:trace9\n", 1, "LogLevel: \"rewrite:trace9\" is not a log level (emerg..debug, trace1..trace8)" },
	{ "ServerAlias x\n", 1, "ServerAlias: only allowed in <VirtualHost>" },
	{ "ServerName \"a b\"\n", 1, "ServerName: \"a b\" is not a host name" },
	{ "<VirtualHost *:0>\n", 1, "<VirtualHost>: bad port in \"*:0\"" },
	{ "<VirtualHost [::1>\n", 1, "<VirtualHost>: bad address \"[::1\"" },
	{ "<VirtualHost *:80\n", 1, "<VirtualHost>: missing '>' at the end of the line" },
	{ "<VirtualHost *:80>\nListen 80\n", 2, "Listen is not allowed in <VirtualHost>" },
	{ "<VirtualHost *:80>\nUser x\n", 2, "User is not allowed in <VirtualHost>" },
};

START_TEST(test_errors)
{
	ck_assert_int_eq(parse(errors[_i].conf), -EINVAL);
	ck_assert_str_eq(err.file, "test.conf");
	ck_assert_uint_eq(err.line, errors[_i].line);
	if (errors[_i].msg)
		ck_assert_str_eq(err.msg, errors[_i].msg);
	else
		ck_assert(err.msg[0] != '\0');
}
END_TEST

/* ---- the rest, one behaviour each ---- */

START_TEST(test_sample_load)
{
	static const char text[] = "Listen 127.0.0.1:8089\n" SAMPLE;
	char path[] = "/tmp/check_rewrite.conf.XXXXXX";
	int fd = mkstemp(path);
	const struct cfg_errdoc *d;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	config_free(&cfg);
	ck_assert_int_eq(config_load(&cfg, path, &err), 0);
	ck_assert_uint_eq(cfg.nbackend, 1);
	ck_assert_str_eq(cfg.backend[0].name, "http://localhost:6674");
	ck_assert_str_eq(cfg.backend[0].authority, "localhost:6674");
	ck_assert_uint_eq(cfg.nroot, 1);
	ck_assert_str_eq(cfg.file_root[0], STATIC);
	ck_assert_uint_eq(cfg.rw.nrule, 2);
	ck_assert_int_eq(cfg.rw.rule[0].root, 0);
	ck_assert_int_eq(cfg.rw.rule[1].backend, 0);
	ck_assert_uint_eq(cfg.rw.rule[0].ncond, 2);
	d = config_errdoc(&cfg, 0, 502);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->kind, CFG_ERRDOC_LOCAL);
	ck_assert_str_eq(d->value, "/cgi-bin/autostart.cgi");
	ck_assert_ptr_null(config_errdoc(&cfg, 0, 503));
	config_free(&cfg);
	/* the fragment alone parses; a whole file still needs a Listen */
	ck_assert_int_eq(parse(SAMPLE), 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, SAMPLE, strlen(SAMPLE)), (ssize_t)strlen(SAMPLE));
	close(fd);
	config_free(&cfg);  /* config_load() starts from config_defaults(): free first */
	ck_assert_int_eq(config_load(&cfg, path, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "no Listen directive");
	config_free(&cfg);
	ck_assert_int_eq(config_load_file(&cfg, path, &err), 0);
	unlink(path);
}
END_TEST

START_TEST(test_backend_dedup)
{
	ck_assert_int_eq(parse("ProxyPass /p/ " B9 "/\nRewriteRule ^/x " B9 "/y [P]\n"
			       "RewriteRule ^/z http://127.0.0.1:9001/ [P]\n"), 0);
	ck_assert_uint_eq(cfg.nbackend, 2);
	ck_assert_int_eq(cfg.rw.rule[0].backend, 0);
	ck_assert_int_eq(cfg.rw.rule[1].backend, 1);
	ck_assert_int_eq(cfg.pass[0].backend, 0);
}
END_TEST

START_TEST(test_file_roots)
{
	ck_assert_int_eq(parse(ON "RewriteRule ^/a/(.*) /etc/$1\nRewriteRule ^/b/(.*) /etc/$1 [L]\n"
			       "RewriteRule ^/c/(.*) /usr/$1\nDocumentRoot @D@\n"), 0);
	ck_assert_uint_eq(cfg.nroot, 3);
	ck_assert_str_eq(cfg.file_root[0], "/etc");
	ck_assert_str_eq(cfg.file_root[1], "/usr");
	ck_assert_str_eq(cfg.file_root[2], dir);
	ck_assert_int_eq(cfg.rw.rule[1].root, 0);
	ck_assert_int_eq(config_file_root(&cfg, "/usr"), 1);
	ck_assert_int_eq(config_file_root(&cfg, "relative"), -EINVAL);
	ck_assert_int_eq(config_file_root(&cfg, "/x/"), -EINVAL);
}
END_TEST

START_TEST(test_validation)
{
	char path[] = "/tmp/check_rewrite.conf.XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "Listen 127.0.0.1:8089\nRewriteRule ^/ " B9 "/ [P]\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	config_free(&cfg);
	ck_assert_int_eq(config_load(&cfg, path, &err), 0);  /* [P] is something to serve */
	config_free(&cfg);
	unlink(path);
}
END_TEST

START_TEST(test_vhost_scope)
{
	struct rw_result r;

	ck_assert_int_eq(parse(VHOSTS "<VirtualHost *:80>\nServerName d.example\n"
			       "ProxyPreserveHost On\nProxyPass /d/ " B9 "/\n"
			       "ErrorDocument 404 \"not here\"\nErrorDocument 502 default\n"
			       "</VirtualHost>\nErrorDocument 502 http://errors.example/502\n"
			       "ProxyPass / http://127.0.0.1:9001/\n"), 0);
	ck_assert_uint_eq(cfg.nscope, 4);
	ck_assert_uint_eq(config_vhost(&cfg, "a.example", 9, 80), 1);
	ck_assert_uint_eq(config_vhost(&cfg, "c.example", 9, 8080), 2);
	ck_assert_uint_eq(config_vhost(&cfg, "c.example", 9, 80), 0);
	ck_assert_uint_eq(config_vhost(&cfg, "D.EXAMPLE:80", 12, 80), 3);
	ck_assert_uint_eq(config_vhost(&cfg, "d.example", 8, 80), 0);  /* "d.exampl" */
	ck_assert_uint_eq(config_vhost(&cfg, NULL, 0, 80), 0);
	r = run(&(struct req){ "/x", "d.example" });
	ck_assert_uint_eq(r.scope, 3);
	ck_assert_int_eq(r.kind, RW_NONE);
	r = run(&(struct req){ "/v", "a.example" });
	ck_assert_uint_eq(r.scope, 1);
	ck_assert(config_preserve_host(&cfg, 3));
	ck_assert(!config_preserve_host(&cfg, 1));
	ck_assert(!config_preserve_host(&cfg, 0));
	ck_assert_ptr_eq(config_route_scope(&cfg, 3, "/d/x", 4, NULL), &cfg.pass[0]);
	ck_assert_ptr_eq(config_route_scope(&cfg, 3, "/x", 2, NULL), &cfg.pass[1]);
	ck_assert_ptr_eq(config_route_scope(&cfg, 1, "/d/x", 4, NULL), &cfg.pass[1]);
	ck_assert_ptr_eq(config_route(&cfg, "/d/x", 4), &cfg.pass[1]);
	ck_assert_int_eq(config_errdoc(&cfg, 3, 404)->kind, CFG_ERRDOC_TEXT);
	ck_assert_str_eq(config_errdoc(&cfg, 3, 404)->value, "not here");
	ck_assert_ptr_null(config_errdoc(&cfg, 3, 502));           /* "default" */
	ck_assert_int_eq(config_errdoc(&cfg, 1, 502)->kind, CFG_ERRDOC_URL);
	ck_assert_ptr_null(config_errdoc(&cfg, 0, 404));
}
END_TEST

START_TEST(test_errordocument_kinds)
{
	ck_assert_int_eq(parse("ErrorDocument 500 \"Sorry, our script crashed\"\n"
			       "ErrorDocument 404 /missing.html\n"
			       "ErrorDocument 401 https://example.com/sub/login\n"
			       "ErrorDocument 403 Forbidden!\n"
			       "ErrorDocument 404 /other.html\n"), 0);
	ck_assert_uint_eq(cfg.nerrdoc, 4);
	ck_assert_int_eq(config_errdoc(&cfg, 0, 500)->kind, CFG_ERRDOC_TEXT);
	ck_assert_int_eq(config_errdoc(&cfg, 0, 401)->kind, CFG_ERRDOC_URL);
	ck_assert_int_eq(config_errdoc(&cfg, 0, 403)->kind, CFG_ERRDOC_TEXT);
	ck_assert_str_eq(config_errdoc(&cfg, 0, 404)->value, "/other.html");  /* the last */
}
END_TEST

START_TEST(test_loglevel)
{
	ck_assert_int_eq(parse("LogLevel warn rewrite:trace3\n"), 0);
	ck_assert_int_eq(cfg.scope[0].log_level, 2);   /* LOG_LV_WARN */
	ck_assert_int_eq(cfg.scope[0].rewrite_trace, 3);
	ck_assert_int_eq(parse("LogLevel rewrite:trace8\n"), 0);
	ck_assert_int_eq(cfg.scope[0].log_level, -1);
	ck_assert_int_eq(cfg.scope[0].rewrite_trace, 8);
	ck_assert_int_eq(parse("LogLevel trace2 proxy:debug\n"), 0);
	ck_assert_int_eq(cfg.scope[0].log_level, 5);   /* LOG_LV_DEBUG */
	ck_assert_int_eq(cfg.scope[0].rewrite_trace, 2);
	ck_assert_int_eq(parse("LogLevel crit\n<VirtualHost *>\nLogLevel rewrite:trace1\n"
			       "</VirtualHost>\n"), 0);
	ck_assert_int_eq(cfg.scope[0].log_level, 0);
	ck_assert_int_eq(cfg.scope[0].rewrite_trace, 0);
	ck_assert_int_eq(cfg.scope[1].rewrite_trace, 1);
}
END_TEST

/* The tracer sees every rule and condition; when it is off nothing is formatted. */
static char trace_buf[16384];
static unsigned trace_calls;

static void trace_cb(void *opaque, unsigned level, const char *line)
{
	size_t n = strlen(trace_buf);

	(void)opaque;
	ck_assert_uint_ge(level, 1);
	ck_assert_uint_le(level, 8);
	trace_calls++;
	snprintf(trace_buf + n, sizeof(trace_buf) - n, "%s\n", line);
}

START_TEST(test_trace)
{
	static char dst[4096];
	struct rw_input in;
	struct rw_result r;
	struct rw_ctx *ctx;

	ck_assert_int_eq(parse(SAMPLE), 0);
	ctx = rw_ctx_create(&cfg);
	make_input(&(struct req){ "/static/a%0Ab", WWW }, &in, dst, sizeof(dst));
	trace_buf[0] = '\0';
	trace_calls = 0;
	rw_ctx_trace(ctx, trace_cb, NULL, 0);   /* the configuration does not trace */
	rw_apply(&cfg, ctx, &in, &r);
	ck_assert_uint_eq(trace_calls, 0);
	rw_ctx_trace(ctx, trace_cb, NULL, 4);
	rw_apply(&cfg, ctx, &in, &r);
	ck_assert_int_eq(r.kind, RW_FILE);
	ck_assert_ptr_nonnull(strstr(trace_buf, "(3) applying pattern '^/static/(.*)' to uri '/static/a?b'"));
	ck_assert_ptr_nonnull(strstr(trace_buf, "(4) RewriteCond: input='www.example.info' pattern='www\\.example\\.info' => matched"));
	ck_assert_ptr_nonnull(strstr(trace_buf, "(1) go-ahead with file a?b under /home/user/files/static"));
	ck_assert_ptr_null(strstr(trace_buf, "a\nb"));  /* request bytes never reach the log raw */
	trace_buf[0] = '\0';
	rw_ctx_trace(ctx, trace_cb, NULL, 1);
	rw_apply(&cfg, ctx, &in, &r);
	ck_assert_ptr_null(strstr(trace_buf, "applying pattern"));
	ck_assert_ptr_nonnull(strstr(trace_buf, "go-ahead"));
	rw_ctx_free(ctx);
	/* LogLevel rewrite:traceN turns the error-log tracer on; the level is per scope */
	ck_assert_int_eq(parse("LogLevel rewrite:trace2\n" SAMPLE), 0);
	ck_assert_int_eq(cfg.scope[0].rewrite_trace, 2);
}
END_TEST

START_TEST(test_limits)
{
	static char big[RW_PATH_MAX + 2], dst[64];
	struct rw_input in;
	struct rw_result r;
	struct rw_ctx *ctx;

	ck_assert_int_eq(parse(ON "RewriteRule ^/(.*)$ /$1$1$1$1$1$1$1$1$1$1\n"), 0);
	memset(big, 'a', 1000);
	big[0] = '/';
	r = run(&(struct req){ big });
	ck_assert_int_eq(r.kind, RW_STATUS);             /* 10 kB of expansion */
	ck_assert_uint_eq(r.status, 500);
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	r = run(&(struct req){ big });
	ck_assert_int_eq(r.kind, RW_STATUS);             /* the path alone is too long */
	ck_assert_uint_eq(r.status, 414);
	/* an output that does not fit the caller's buffer: 500, never truncated */
	ck_assert_int_eq(parse(ON "RewriteRule ^/x$ /0123456789012345678901234567890123456789"
			       "0123456789012345678901234567890\n"), 0);
	ctx = rw_ctx_create(&cfg);
	make_input(&(struct req){ "/x" }, &in, dst, sizeof(dst));
	rw_apply(&cfg, ctx, &in, &r);
	ck_assert_int_eq(r.kind, RW_STATUS);
	ck_assert_uint_eq(r.status, 500);
	in.dst_cap = 0;
	rw_apply(&cfg, ctx, &in, &r);
	ck_assert_uint_eq(r.status, 500);
	in.dst = NULL;  /* the ctx's own buffer */
	rw_apply(&cfg, ctx, &in, &r);
	ck_assert_int_eq(r.kind, RW_URL);
	ck_assert_int_eq(rw_apply(NULL, ctx, &in, &r), -EINVAL);
	ck_assert_int_eq(rw_apply(&cfg, ctx, NULL, &r), -EINVAL);
	rw_ctx_free(ctx);
	rw_ctx_free(NULL);
}
END_TEST

/* A catastrophic pattern hits PCRE2's match limit: no match, no hang. */
START_TEST(test_backtracking)
{
	static char path[64];
	struct rw_result r;

	ck_assert_int_eq(parse(ON "RewriteRule ^/(a+)+$ /x\nRewriteRule ^/a /y\n"), 0);
	memset(path, 'a', 40);
	path[0] = '/';
	path[40] = 'b';
	r = run(&(struct req){ path });
	ck_assert_int_eq(r.kind, RW_URL);
	ck_assert_str_eq(r.out, "/y");
}
END_TEST

/* Rules and maps of a configuration that failed halfway are freed by config_free(). */
START_TEST(test_free_after_error)
{
	ck_assert_int_eq(parse("RewriteMap lc int:tolower\nRewriteRule ^/a /b\nRewriteCond a b\n"
			       "RewriteRule ^(x /y\n"), -EINVAL);
	config_free(&cfg);
	ck_assert_uint_eq(cfg.rw.nrule, 0);
	ck_assert_uint_eq(cfg.nscope, 1);
	config_free(&cfg);
}
END_TEST

/* An output spliced refuses to send is a 500 and an error-log line naming the rule. */
START_TEST(test_error_log)
{
	char path[] = "/tmp/check_rewrite.log.XXXXXX", buf[2048];
	int fd = mkstemp(path);
	ssize_t n;
	struct rw_result r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(log_open(path, geteuid(), NULL, 0), 0);
	log_set_level(LOG_LV_INFO);
	ck_assert_int_eq(parse(ON "\nRewriteRule ^/x \"/a b\" [NE,R]\n"), 0);
	r = run(&(struct req){ "/x", "h" });
	ck_assert_uint_eq(r.status, 500);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "[rewrite:error]"));
	ck_assert_ptr_nonnull(strstr(buf, "RewriteRule \"^/x\" (line 3): [NE] made an invalid Location"));
	log_open(NULL, geteuid(), NULL, 0);
	close(fd);
	unlink(path);
}
END_TEST

/* ---- scratch directory ---- */

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(EXIT_FAILURE);
	}
}

static void make_dir(void)
{
	char path[128];

	strcpy(dir, "/tmp/check_rewrite.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
	write_file("file.txt", "hello");
	write_file("empty", "");
	write_file("map.txt", "# a txt: map\nold /new\nold /second\ndup /first\ndup /second\n"
		   "  indented /x\nq /page?x=1\nkeyonly\n#comment /c\n");
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/link", dir);
	if (symlink("/etc/passwd", path) < 0)
		perror("symlink");
}

static void remove_dir(void)
{
	static const char *const names[] = { "file.txt", "empty", "map.txt", "sub", "link" };
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) < 0)
			rmdir(path);
	}
	rmdir(dir);
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *rewrite_suite(void)
{
	Suite *s = suite_create("rewrite");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_table, 0, N(cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_errors, 0, N(errors));
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, test_sample_load);
	tcase_add_test(tc, test_backend_dedup);
	tcase_add_test(tc, test_file_roots);
	tcase_add_test(tc, test_validation);
	tcase_add_test(tc, test_vhost_scope);
	tcase_add_test(tc, test_errordocument_kinds);
	tcase_add_test(tc, test_loglevel);
	tcase_add_test(tc, test_free_after_error);
	suite_add_tcase(s, tc);
	tc = tcase_create("engine");
	tcase_add_test(tc, test_trace);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_backtracking);
	tcase_add_test(tc, test_error_log);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct stat st;
	int rc;

	have_home = stat("/home", &st) == 0;
	log_set_level(LOG_LV_EMERG);  /* the 500s below log on purpose; test_error_log checks */
	make_dir();
	rc = ck_run_suite(rewrite_suite());
	config_free(&cfg);
	remove_dir();
	return rc;
}
