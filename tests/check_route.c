/* Check suite for src/route.c: the one routing decision per request (rewrite rules, then
 * ProxyPass, Alias and DocumentRoot), the file root of a URL-path and its decoding. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spliced/config.h"
#include "spliced/rewrite.h"
#include "spliced/route.h"
#include "suite.h"

static struct config cfg;
static struct file_roots files;
static char dir[64];
static char dst[16384];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/spliced-route-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&files, 0, sizeof(files));
	files.docroot.fd = -1;
	for (unsigned i = 0; i < CFG_MAX_ALIAS; i++)
		files.alias[i].fd = -1;
	for (unsigned i = 0; i < CFG_MAX_ROOTS; i++)
		files.rwroot[i].fd = -1;
}

static void teardown(void)
{
	config_free(&cfg);
	rmdir(dir);
}

/* Loads text (every "@D@" is the scratch directory) and opens the roots it names, as
 * main.c does (only whether a root is open matters to routing). */
static void load(const char *text)
{
	char buf[4096], *o = buf;
	struct config_error err;

	for (const char *s = text; *s; s++) {
		if (strncmp(s, "@D@", 3) == 0) {
			o += sprintf(o, "%s", dir);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	config_free(&cfg);
	ck_assert_msg(config_parse(&cfg, buf, strlen(buf), "test.conf", &err) == 0, "%s",
		      err.msg);
	if (cfg.document_root[0])
		files.docroot.fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (unsigned i = 0; i < cfg.nalias; i++)
		files.alias[i].fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (unsigned i = 0; i < cfg.nroot; i++)
		files.rwroot[i].fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* The decision for "GET target" with Host host (NULL: none). */
static struct route decide(const char *target, const char *host)
{
	struct rw_ctx *rw = rw_ctx_create(&cfg);
	const char *q = strchr(target, '?');
	size_t plen = q ? (size_t)(q - target) : strlen(target);
	static char line[512];
	struct rw_input in = {
		.method = "GET", .method_len = 3,
		.path = target, .path_len = plen,
		.query = q ? q + 1 : NULL, .query_len = q ? strlen(q + 1) : 0, .has_query = q != NULL,
		.host = host, .host_len = host ? strlen(host) : 0,
		.request_line = line,
		.remote_addr = "192.0.2.1", .remote_addr_len = 9,
		.remote_port = 5000, .server_port = 80,
		.dst = dst, .dst_cap = sizeof(dst),
	};
	struct route rt;

	ck_assert_ptr_nonnull(rw);
	in.request_line_len = (size_t)snprintf(line, sizeof(line), "GET %s HTTP/1.1", target);
	route_request(&cfg, &files, rw, &in, &rt);
	rw_ctx_free(rw);
	return rt;
}

START_TEST(test_proxypass)
{
	struct route rt;

	load("ProxyPass /admin/ !\nProxyPass /api/ http://127.0.0.1:1/v1/\n"
	     "ProxyPass / http://127.0.0.1:2/\n");
	rt = decide("/api/x?q=1", "h");
	ck_assert_int_eq(rt.kind, ROUTE_PROXY);
	ck_assert_ptr_eq(rt.pass, &cfg.pass[1]);
	ck_assert_int_eq(rt.backend, cfg.pass[1].backend);
	ck_assert_uint_eq(rt.match, 5);
	ck_assert_ptr_null(rt.target);               /* nothing rewrote it */
	ck_assert_int_eq(rt.rule, -1);
	rt = decide("/api;s=1/x", "h");              /* path parameters count as absent */
	ck_assert_ptr_eq(rt.pass, &cfg.pass[1]);
	ck_assert_uint_eq(rt.match, 9);
	rt = decide("/elsewhere", NULL);
	ck_assert_ptr_eq(rt.pass, &cfg.pass[2]);
	/* excluded, and nothing serves files */
	rt = decide("/admin;x/secret", "h");
	ck_assert_int_eq(rt.kind, ROUTE_STATUS);
	ck_assert_uint_eq(rt.status, 404);
	ck_assert_str_eq(rt.why, "nothing serves");
	ck_assert(!rt.malformed);
}
END_TEST

START_TEST(test_files)
{
	struct route rt;

	load("ProxyPass /static/ !\nProxyPass / http://127.0.0.1:2/\n"
	     "Alias /static/img @D@\nAlias /static/ @D@\nDocumentRoot @D@\n");
	rt = decide("/static/img/a.png", "h");       /* the longest Alias prefix */
	ck_assert_int_eq(rt.kind, ROUTE_FILE);
	ck_assert_ptr_eq(rt.root, &files.alias[0]);
	ck_assert_uint_eq(rt.rel, strlen("/static/img/"));
	ck_assert_ptr_null(rt.file);
	rt = decide("/static/imgs/b", "h");          /* not at a segment boundary */
	ck_assert_ptr_eq(rt.root, &files.alias[1]);
	ck_assert_uint_eq(rt.rel, strlen("/static/"));
	/* DocumentRoot for what no Alias takes */
	load("ProxyPass /x !\nDocumentRoot @D@\n");
	rt = decide("/x/y", "h");
	ck_assert_int_eq(rt.kind, ROUTE_FILE);
	ck_assert_ptr_eq(rt.root, &files.docroot);
	ck_assert_uint_eq(rt.rel, 1);
}
END_TEST

START_TEST(test_rewrite_decisions)
{
	struct route rt;

	load("RewriteEngine On\n"
	     "RewriteRule ^/p/(.*) http://127.0.0.1:3/q/$1 [P]\n"
	     "RewriteRule ^/old/(.*) /api/$1\n"
	     "RewriteRule ^/moved http://example.org/new [R=301]\n"
	     "RewriteRule ^/gone - [G]\n"
	     "RewriteRule ^/files/(.*) @D@/$1 [L]\n"
	     "ProxyPass /api/ http://127.0.0.1:1/\n"
	     "ProxyPass / http://127.0.0.1:2/\n");
	rt = decide("/p/a?b=1", "h");                 /* [P]: a backend of its own */
	ck_assert_int_eq(rt.kind, ROUTE_PROXY);
	ck_assert_ptr_null(rt.pass);
	ck_assert_int_ge(rt.backend, 0);
	ck_assert_str_eq(cfg.backend[rt.backend].name, "http://127.0.0.1:3");
	ck_assert_int_eq(rt.rule, 0);
	ck_assert_uint_eq(rt.rewrite, RW_PROXY);
	ck_assert_str_eq(rt.target, "/q/a?b=1");
	ck_assert_uint_eq(rt.target_len, 8);
	rt = decide("/old/x", "h");                  /* a new URL-path, routed by ProxyPass */
	ck_assert_int_eq(rt.kind, ROUTE_PROXY);
	ck_assert_ptr_eq(rt.pass, &cfg.pass[0]);
	ck_assert_uint_eq(rt.match, 5);
	ck_assert_str_eq(rt.target, "/api/x");
	ck_assert_uint_eq(rt.rewrite, RW_URL);
	rt = decide("/moved", "h");
	ck_assert_int_eq(rt.kind, ROUTE_REDIRECT);
	ck_assert_uint_eq(rt.status, 301);
	ck_assert_str_eq(rt.location, "http://example.org/new");
	rt = decide("/gone", "h");
	ck_assert_int_eq(rt.kind, ROUTE_STATUS);
	ck_assert_uint_eq(rt.status, 410);
	ck_assert_int_eq(rt.rule, 3);
	ck_assert_ptr_null(rt.why);
	rt = decide("/files/a%20b.txt", "h");        /* a file substitution: decoded */
	ck_assert_int_eq(rt.kind, ROUTE_FILE);
	ck_assert_ptr_eq(rt.root, &files.rwroot[0]);
	ck_assert_uint_eq(rt.file_len, 7);
	ck_assert_int_eq(memcmp(rt.file, "a b.txt", 7), 0);
	/* a path the engine cannot decode: the client's mistake */
	rt = decide("/x%00y", "h");
	ck_assert_int_eq(rt.kind, ROUTE_STATUS);
	ck_assert_uint_eq(rt.status, 400);
	ck_assert(rt.malformed);
	ck_assert_int_eq(rt.rule, -1);
	/* a missing file root: 404, not a file beneath something else */
	close(files.rwroot[0].fd);
	files.rwroot[0].fd = -1;
	rt = decide("/files/a", "h");
	ck_assert_int_eq(rt.kind, ROUTE_STATUS);
	ck_assert_uint_eq(rt.status, 404);
	ck_assert_str_eq(rt.why, "file root missing");
}
END_TEST

/* The virtual host chosen by the host the request names, its rules and its ProxyPass
 * first. */
START_TEST(test_virtual_hosts)
{
	struct route rt;

	load("ProxyPass / http://127.0.0.1:2/\n"
	     "<VirtualHost *:80>\n ServerName admin.example\n RewriteEngine On\n"
	     " RewriteRule ^/admin - [F]\n ProxyPass / http://127.0.0.1:4/\n</VirtualHost>\n");
	rt = decide("/admin", "admin.example");
	ck_assert_uint_eq(rt.scope, 1);
	ck_assert_int_eq(rt.kind, ROUTE_STATUS);
	ck_assert_uint_eq(rt.status, 403);
	rt = decide("/admin", "public.example");
	ck_assert_uint_eq(rt.scope, 0);
	ck_assert_int_eq(rt.kind, ROUTE_PROXY);
	ck_assert_str_eq(cfg.backend[rt.backend].name, "http://127.0.0.1:2");
	rt = decide("/other", "ADMIN.example:80");
	ck_assert_uint_eq(rt.scope, 1);
	ck_assert_str_eq(cfg.backend[rt.backend].name, "http://127.0.0.1:4");
}
END_TEST

START_TEST(test_decode_path)
{
	char out[64];
	uint32_t n = 0;

	ck_assert_int_eq(route_decode_path("a%20b/c%25d", 11, out, &n), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert_str_eq(out, "a b/c%d");
	/* an encoded slash or NUL names no file */
	ck_assert_int_eq(route_decode_path("a%2Fb", 5, out, &n), -1);
	ck_assert_int_eq(route_decode_path("a%00b", 5, out, &n), -1);
	ck_assert_int_eq(route_decode_path("a%zz", 4, out, &n), -1);
	/* only len bytes are read */
	ck_assert_int_eq(route_decode_path("ab%2F", 2, out, &n), 0);
	ck_assert_str_eq(out, "ab");
}
END_TEST

static Suite *route_suite(void)
{
	Suite *s = suite_create("route");
	const struct ck_case cases[] = {
		{ "proxypass", test_proxypass, 0 },
		{ "files", test_files, 0 },
		{ "rewrite_decisions", test_rewrite_decisions, 0 },
		{ "virtual_hosts", test_virtual_hosts, 0 },
		{ "decode_path", test_decode_path, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, setup, teardown);
	return s;
}

int main(void)
{
	return ck_run_suite(route_suite());
}
