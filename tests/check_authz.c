/* Check suite for src/authz.c: <Location> sections, Require rules as httpd 2.4 parses,
 * merges and evaluates them, and the address blocks of Require ip. Configurations go
 * through config_parse(), so the hooks in config.c are tested with them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spliced/authz.h"
#include "spliced/config.h"
#include "cfx.h"
#include "suite.h"

/* Whether the request for path (normalized) in scope from client is denied. */
static bool denied(unsigned scope, const char *path, const char *client)
{
	struct authz_result r;

	authz_decide(&cfx_cfg.authz, scope, path, strlen(path), client, &r);
	return r.denied;
}

#define PROXY "ProxyPass / http://127.0.0.1:9/\n"

START_TEST(prefix_match)
{
	ck_assert(authz_prefix_match("/admin", 6, "/admin", 6));
	ck_assert(authz_prefix_match("/admin", 6, "/admin/x", 8));
	ck_assert(authz_prefix_match("/admin", 6, "/admin;jsessionid=1", 19));
	ck_assert(!authz_prefix_match("/admin", 6, "/administrator", 14));
	ck_assert(!authz_prefix_match("/admin", 6, "/adm", 4));
	ck_assert(!authz_prefix_match("/admin", 6, "/ADMIN", 6));  /* case-sensitive, as httpd */
	ck_assert(authz_prefix_match("/admin/", 7, "/admin/x", 8));
	ck_assert(!authz_prefix_match("/admin/", 7, "/admin", 6));
	ck_assert(authz_prefix_match("/", 1, "/anything", 9));
	/* an encoded slash is a slash to a backend that decodes it */
	ck_assert(authz_prefix_match("/admin", 6, "/admin%2Fx", 10));
	ck_assert(authz_prefix_match("/a/b", 4, "/a%2Fb", 6));
	ck_assert(authz_prefix_match("/a/b/", 5, "/a%2Fb%2Fc", 10));
	ck_assert(!authz_prefix_match("/a/b", 4, "/a%2Fbc", 7));
	ck_assert(!authz_prefix_match("/a/b", 4, "/a%2", 4));
}
END_TEST

START_TEST(net_parse)
{
	struct authz_net n, a;

	ck_assert_int_eq(authz_net_parse("10.1.2.3", &n), 0);
	ck_assert_int_eq(n.family, AF_INET);
	ck_assert_int_eq(n.bits, 32);
	ck_assert_int_eq(authz_net_parse("10.1", &n), 0);
	ck_assert_int_eq(n.bits, 16);
	ck_assert_int_eq(authz_addr_parse("10.1.200.7", &a), 0);
	ck_assert(authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_addr_parse("10.2.0.1", &a), 0);
	ck_assert(!authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_net_parse("192.168.0.0/255.255.252.0", &n), 0);
	ck_assert_int_eq(n.bits, 22);
	ck_assert_int_eq(authz_addr_parse("192.168.3.255", &a), 0);
	ck_assert(authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_addr_parse("192.168.4.0", &a), 0);
	ck_assert(!authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_net_parse("172.16.0.0/12", &n), 0);
	ck_assert_int_eq(authz_addr_parse("172.31.255.255", &a), 0);
	ck_assert(authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_addr_parse("172.32.0.0", &a), 0);
	ck_assert(!authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_net_parse("0.0.0.0/0", &n), 0);
	ck_assert(authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_net_parse("2001:db8::/33", &n), 0);
	ck_assert_int_eq(n.family, AF_INET6);
	ck_assert_int_eq(authz_addr_parse("2001:db8:7fff::1", &a), 0);
	ck_assert(authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_addr_parse("2001:db8:8000::1", &a), 0);
	ck_assert(!authz_net_holds(&n, &a));
	/* an IPv4 client on a dual-stack socket is its IPv4 address */
	ck_assert_int_eq(authz_net_parse("127.0.0.0/8", &n), 0);
	ck_assert_int_eq(authz_addr_parse("::ffff:127.0.0.1", &a), 0);
	ck_assert(authz_net_holds(&n, &a));
	ck_assert_int_eq(authz_addr_parse("::1", &a), 0);
	ck_assert(!authz_net_holds(&n, &a));
	/* refused */
	ck_assert_int_eq(authz_net_parse("10.1.2.3/16", &n), -1);   /* host bits */
	ck_assert_int_eq(authz_net_parse("10.1/16", &n), -1);
	ck_assert_int_eq(authz_net_parse("10.1.2.3/33", &n), -1);
	ck_assert_int_eq(authz_net_parse("10.0.0.0/255.0.255.0", &n), -1);
	ck_assert_int_eq(authz_net_parse("256.1.1.1", &n), -1);
	ck_assert_int_eq(authz_net_parse("1.2.3.4.5", &n), -1);
	ck_assert_int_eq(authz_net_parse("10..1", &n), -1);
	ck_assert_int_eq(authz_net_parse("example.org", &n), -1);
	ck_assert_int_eq(authz_net_parse("::1/129", &n), -1);
	ck_assert_int_eq(authz_net_parse("", &n), -1);
	ck_assert_int_eq(authz_net_parse("/8", &n), -1);
	ck_assert_int_eq(authz_addr_parse("nonsense", &a), -1);
}
END_TEST

START_TEST(all_granted_denied)
{
	cfx_load(PROXY "<Location /admin>\nRequire all denied\n</Location>\n");
	ck_assert(denied(0, "/admin", "127.0.0.1"));
	ck_assert(denied(0, "/admin/x", "127.0.0.1"));
	ck_assert(denied(0, "/admin;x", "127.0.0.1"));
	ck_assert(!denied(0, "/administrator", "127.0.0.1"));
	ck_assert(!denied(0, "/", "127.0.0.1"));
	ck_assert(!denied(0, "/public/admin", "127.0.0.1"));
	/* the Location path is normalized as request paths are */
	cfx_load(PROXY "<Location \"/%61dmin//./x\">\nRequire all denied\n</Location>\n");
	ck_assert_str_eq(cfx_cfg.authz.loc[0].prefix, "/admin/x");
	ck_assert(denied(0, "/admin/x/y", "127.0.0.1"));
}
END_TEST

START_TEST(require_ip)
{
	cfx_load(PROXY "<Location /admin>\n"
		 "  Require ip 10.0.0.0/8 192.168.1\n"
		 "  Require ip 2001:db8::/32\n"
		 "</Location>\n");
	ck_assert(!denied(0, "/admin", "10.9.8.7"));
	ck_assert(!denied(0, "/admin", "192.168.1.20"));
	ck_assert(!denied(0, "/admin", "2001:db8::5"));
	ck_assert(denied(0, "/admin", "192.168.2.20"));
	ck_assert(denied(0, "/admin", "127.0.0.1"));
	ck_assert(denied(0, "/admin", "2001:db9::5"));
	ck_assert(denied(0, "/admin", NULL));
	ck_assert(denied(0, "/admin", "garbage"));
}
END_TEST

START_TEST(containers)
{
	/* everyone but 10.0.0.0/8, except 10.1.0.0/16 */
	cfx_load(PROXY "<Location />\n"
		 "  <RequireAll>\n"
		 "    Require all granted\n"
		 "    Require not ip 10.0.0.0/8\n"
		 "  </RequireAll>\n"
		 "  Require ip 10.1\n"
		 "</Location>\n");
	ck_assert(!denied(0, "/x", "192.0.2.1"));
	ck_assert(denied(0, "/x", "10.2.3.4"));
	ck_assert(!denied(0, "/x", "10.1.3.4"));
	/* <RequireNone> in <RequireAll> */
	cfx_load(PROXY "<Location />\n"
		 "  <RequireAll>\n"
		 "    Require ip 192.0.2.0/24\n"
		 "    <RequireNone>\n"
		 "      Require ip 192.0.2.66\n"
		 "      Require ip 192.0.2.67\n"
		 "    </RequireNone>\n"
		 "  </RequireAll>\n"
		 "</Location>\n");
	ck_assert(!denied(0, "/", "192.0.2.1"));
	ck_assert(denied(0, "/", "192.0.2.66"));
	ck_assert(denied(0, "/", "192.0.2.67"));
	ck_assert(denied(0, "/", "198.51.100.1"));
	/* a result that stays neutral is a denial: the only positive rule is in a
	 * <RequireAny> whose other member is negated */
	cfx_load(PROXY "<Location />\n"
		 "  <RequireAll>\n"
		 "    Require not ip 192.0.2.1\n"
		 "    <RequireAny>\n"
		 "      Require ip 198.51.100.0/24\n"
		 "    </RequireAny>\n"
		 "  </RequireAll>\n"
		 "</Location>\n");
	ck_assert(!denied(0, "/", "198.51.100.9"));
	ck_assert(denied(0, "/", "192.0.2.1"));
	ck_assert(denied(0, "/", "203.0.113.1"));
}
END_TEST

START_TEST(merging)
{
	/* a later section replaces the rules of an earlier one (AuthMerging Off) */
	cfx_load(PROXY "<Location />\nRequire all denied\n</Location>\n"
		 "<Location /pub>\nRequire all granted\n</Location>\n");
	ck_assert(denied(0, "/x", "127.0.0.1"));
	ck_assert(!denied(0, "/pub/x", "127.0.0.1"));
	/* file order, not length: the shorter prefix after the longer one wins */
	cfx_load(PROXY "<Location /pub>\nRequire all granted\n</Location>\n"
		 "<Location />\nRequire all denied\n</Location>\n");
	ck_assert(denied(0, "/pub/x", "127.0.0.1"));
	/* a section without rules inherits */
	cfx_load(PROXY "<Location />\nRequire ip 10.0.0.0/8\n</Location>\n"
		 "<Location /pub>\n</Location>\n");
	ck_assert(denied(0, "/pub", "127.0.0.1"));
	ck_assert(!denied(0, "/pub", "10.0.0.1"));
	/* AuthMerging And: both must grant */
	cfx_load(PROXY "<Location />\nRequire ip 10.0.0.0/8\n</Location>\n"
		 "<Location /adm>\nAuthMerging And\nRequire ip 10.1.0.0/16\n</Location>\n");
	ck_assert(!denied(0, "/adm", "10.1.0.1"));
	ck_assert(denied(0, "/adm", "10.2.0.1"));
	ck_assert(!denied(0, "/x", "10.2.0.1"));
	/* AuthMerging Or: either grants */
	cfx_load(PROXY "<Location />\nRequire ip 10.0.0.0/8\n</Location>\n"
		 "<Location /adm>\nAuthMerging Or\nRequire ip 192.0.2.1\n</Location>\n");
	ck_assert(!denied(0, "/adm", "10.2.0.1"));
	ck_assert(!denied(0, "/adm", "192.0.2.1"));
	ck_assert(denied(0, "/adm", "192.0.2.2"));
	ck_assert(denied(0, "/x", "192.0.2.1"));
	/* AuthMerging Off without rules: nothing applies any more (as httpd) */
	cfx_load(PROXY "<Location />\nRequire all denied\n</Location>\n"
		 "<Location /open>\nAuthMerging Off\n</Location>\n");
	ck_assert(!denied(0, "/open", "127.0.0.1"));
	ck_assert(denied(0, "/x", "127.0.0.1"));
}
END_TEST

START_TEST(vhosts)
{
	cfx_load(PROXY "<Location /admin>\nRequire all denied\n</Location>\n"
		 "<VirtualHost *:80>\nServerName a.example\n"
		 "<Location /admin>\nRequire ip 10.0.0.0/8\n</Location>\n"
		 "<Location /secret>\nRequire all denied\n</Location>\n"
		 "</VirtualHost>\n"
		 "<VirtualHost *:80>\nServerName b.example\n</VirtualHost>\n");
	ck_assert_int_eq(cfx_cfg.authz.loc[1].scope, 1);
	/* the main server's sections apply in every virtual host, the host's own after them */
	ck_assert(denied(0, "/admin", "10.0.0.1"));
	ck_assert(!denied(1, "/admin", "10.0.0.1"));
	ck_assert(denied(1, "/admin", "127.0.0.1"));
	ck_assert(denied(2, "/admin", "10.0.0.1"));
	ck_assert(denied(1, "/secret", "10.0.0.1"));
	ck_assert(!denied(0, "/secret", "10.0.0.1"));
	ck_assert(!denied(2, "/secret", "10.0.0.1"));
}
END_TEST

START_TEST(load_errors)
{
	cfx_refused(PROXY "Require all denied\n", "only allowed in <Location>");
	cfx_refused(PROXY "<Location /a>\nRequire not ip 10.0.0.1\n</Location>\n", "no effect");
	cfx_refused(PROXY "<Location /a>\n<RequireNone>\nRequire ip 10.0.0.1\n</RequireNone>\n"
		    "</Location>\n", "no effect");
	cfx_refused(PROXY "<Location /a>\n<RequireAll>\nRequire not ip 10.0.0.1\n</RequireAll>\n"
		    "</Location>\n", "only negative");
	cfx_refused(PROXY "<Location /a>\n<RequireAll>\n</RequireAll>\n</Location>\n",
		    "no authorization directives");
	cfx_refused(PROXY "<LocationMatch ^/a>\n</LocationMatch>\n", "not supported");
	cfx_refused(PROXY "<Location ~ ^/a>\n</Location>\n", "regular expressions");
	cfx_refused(PROXY "<Location /a*>\n</Location>\n", "wildcards");
	cfx_refused(PROXY "<Location a>\n</Location>\n", "must start with '/'");
	cfx_refused(PROXY "<Location /a/../..>\n</Location>\n", "climbs above");
	cfx_refused(PROXY "<Location /a>\n<Location /b>\n</Location>\n</Location>\n", "nested");
	cfx_refused(PROXY "<Location /a>\nRequire all denied\n", "not closed");
	cfx_refused(PROXY "<Location /a>\n<RequireAll>\nRequire all denied\n</Location>\n",
		    "not closed");
	cfx_refused(PROXY "</Location>\n", "without matching");
	cfx_refused(PROXY "<Location /a>\n</RequireAll>\n</Location>\n", "without matching");
	cfx_refused(PROXY "<Location /a>\nRequire host example.org\n</Location>\n",
		    "Require host is not supported");
	cfx_refused(PROXY "<Location /a>\nRequire local\n</Location>\n", "Require local is not");
	cfx_refused(PROXY "<Location /a>\nRequire valid-user\n</Location>\n", "not supported");
	cfx_refused(PROXY "<Location /a>\nRequire not all denied\n</Location>\n", "not supported");
	cfx_refused(PROXY "<Location /a>\nRequire all maybe\n</Location>\n", "granted or denied");
	cfx_refused(PROXY "<Location /a>\nRequire ip\n</Location>\n", "at least one address");
	cfx_refused(PROXY "<Location /a>\nRequire ip 10.0.0.1/8\n</Location>\n", "not an address");
	cfx_refused(PROXY "<Location /a>\nProxyPass http://127.0.0.1:9/\n</Location>\n",
		    "not supported in <Location>");
	cfx_refused(PROXY "<Location /a>\nAuthMerging Sometimes\n</Location>\n", "Off, And or Or");
	cfx_refused(PROXY "AuthMerging And\n", "only allowed in <Location>");
	cfx_refused(PROXY "<VirtualHost *:80>\n<Location /a>\n</VirtualHost>\n", "not allowed in "
		    "<Location>");
	cfx_refused(PROXY "<Location /a>\n<Directory /tmp>\n</Directory>\n</Location>\n",
		    "not allowed in <Location>");
	cfx_refused(PROXY "<RequireAll>\nRequire all denied\n</RequireAll>\n", "only allowed in "
		    "<Location>");
}
END_TEST

/* A configuration loaded twice (a reload) and freed leaves nothing behind (ASan). */
START_TEST(free_reuse)
{
	cfx_load(PROXY "<Location /a>\nRequire ip 10.0.0.0/8 10.1 ::1\n</Location>\n"
		 "<Location /b>\nRequire all denied\n</Location>\n");
	ck_assert_uint_eq(cfx_cfg.authz.nloc, 2);
	ck_assert_uint_eq(cfx_cfg.authz.nnet, 3);
	config_free(&cfx_cfg);
	ck_assert_uint_eq(cfx_cfg.authz.nloc, 0);
	ck_assert_ptr_null(cfx_cfg.authz.loc);
	cfx_load(PROXY "<Location /c>\nRequire all denied\n</Location>\n");
	ck_assert(denied(0, "/c", "127.0.0.1"));
	ck_assert(!denied(0, "/a", "127.0.0.1"));
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "prefix_match", prefix_match, 0 },
		{ "net_parse", net_parse, 0 },
		{ "all_granted_denied", all_granted_denied, 0 },
		{ "require_ip", require_ip, 0 },
		{ "containers", containers, 0 },
		{ "merging", merging, 0 },
		{ "vhosts", vhosts, 0 },
		{ "load_errors", load_errors, 0 },
		{ "free_reuse", free_reuse, 0 },
	};
	Suite *s = suite_create("authz");

	ck_add_cases(s, cases, CK_N(cases), 0, cfx_setup, cfx_teardown);
	return ck_run_suite(s);
}
