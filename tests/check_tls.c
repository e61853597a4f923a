/* Check suite for src/tlsconf.c (the mod_ssl directives, the checks of the whole file,
 * the SNI choice) and the TLS facts other modules show: %{HTTPS} and %{REQUEST_SCHEME} in
 * rewrite rules, %{SSL_PROTOCOL}x and %{SSL_CIPHER}x in the access log. Pure: no socket,
 * no OpenSSL context (check_e2e_tls runs those through the binary). Every configuration
 * is read from right before an unreadable page. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/accesslog.h"
#include "spliced/config.h"
#include "spliced/rewrite.h"
#include "spliced/tls.h"
#include "guard.h"
#include "suite.h"

static struct config cfg;
static struct config_error err;

static int parse(const char *text)
{
	size_t n = strlen(text);

	config_free(&cfg);      /* the previous test's, if any (a fresh one is zero) */
	config_defaults(&cfg);
	return config_parse(&cfg, guard_at_end(text, n), n, "/etc/spliced/test.conf", &err);
}

static void expect_err(const char *text, unsigned line, const char *msg)
{
	ck_assert_int_eq(parse(text), -EINVAL);
	ck_assert_msg(strstr(err.msg, msg), "line %u: \"%s\", wanted \"%s\"", err.line, err.msg,
		      msg);
	ck_assert_uint_eq(err.line, line);
}

#define TWO_HOSTS \
	"Listen 127.0.0.1:8443 https\n"                          /* 1 */ \
	"Listen 127.0.0.1:8080\n"                                /* 2 */ \
	"ProxyPass / http://127.0.0.1:9000/\n"                   /* 3 */ \
	"SSLProtocol -all +TLSv1.3\n"                            /* 4 */ \
	"<VirtualHost *:8443>\n"                                 /* 5 */ \
	"  ServerName a.test\n"                                  /* 6 */ \
	"  SSLEngine on\n"                                       /* 7 */ \
	"  SSLCertificateFile a.crt\n"                           /* 8 */ \
	"  SSLCertificateKeyFile /keys/a.key\n"                  /* 9 */ \
	"  SSLCertificateFile a-rsa.crt\n"                       /* 10 */ \
	"  SSLCertificateKeyFile /keys/a-rsa.key\n"              /* 11 */ \
	"  SSLProtocol all -TLSv1 -TLSv1.1\n"                    /* 12 */ \
	"  SSLCipherSuite HIGH:!aNULL\n"                         /* 13 */ \
	"  SSLCipherSuite TLSv1.3 TLS_AES_128_GCM_SHA256\n"      /* 14 */ \
	"  SSLHonorCipherOrder on\n"                             /* 15 */ \
	"  SSLOpenSSLConfCmd Curves X25519:P-256\n"              /* 16 */ \
	"</VirtualHost>\n"                                       /* 17 */ \
	"<VirtualHost *:8443>\n"                                 /* 18 */ \
	"  ServerName b.test\n"                                  /* 19 */ \
	"  ServerAlias *.b.test\n"                               /* 20 */ \
	"  SSLEngine on\n"                                       /* 21 */ \
	"  SSLCertificateFile /certs/b.pem\n"                    /* 22 */ \
	"  SSLSessionTickets off\n"                              /* 23 */ \
	"</VirtualHost>\n"                                       /* 24 */ \
	"<VirtualHost *:8080>\n"                                 /* 25 */ \
	"  ServerName a.test\n"                                  /* 26 */ \
	"</VirtualHost>\n"                                       /* 27 */

START_TEST(test_directives)
{
	const struct tls_conf *t;
	struct tls_scope m;

	ck_assert_msg(parse(TWO_HOSTS) == 0, "%u: %s", err.line, err.msg);
	t = cfg.tls;
	ck_assert_ptr_nonnull(t);
	ck_assert(cfg.listen[0].https);
	ck_assert(!cfg.listen[1].https);
	ck_assert(tls_scope_on(&cfg, 1) && tls_scope_on(&cfg, 2) && !tls_scope_on(&cfg, 3));
	ck_assert(tls_port_on(&cfg, 8443) && !tls_port_on(&cfg, 8080));
	/* files in order, relative to ServerRoot (the file's directory), with their lines */
	ck_assert_uint_eq(t->nfile, 5);
	ck_assert_str_eq(t->file[0].path, "/etc/spliced/a.crt");
	ck_assert_uint_eq(t->file[0].kind, TLS_F_CERT);
	ck_assert_uint_eq(t->file[0].at.line, 8);
	ck_assert_str_eq(t->file[1].path, "/keys/a.key");
	ck_assert_uint_eq(t->file[1].kind, TLS_F_KEY);
	ck_assert_str_eq(t->file[4].path, "/certs/b.pem");
	ck_assert_uint_eq(t->file[4].scope, 2);
	/* values: the section's, then the main server's, then the defaults */
	tls_scope_merged(&cfg, 1, &m);
	ck_assert_uint_eq(m.protocols, TLS_P_12 | TLS_P_13);
	ck_assert_str_eq(m.ciphers, "HIGH:!aNULL");
	ck_assert_str_eq(m.suites, "TLS_AES_128_GCM_SHA256");
	ck_assert_int_eq(m.honor_order, 1);
	ck_assert_int_eq(m.tickets, -1);
	tls_scope_merged(&cfg, 2, &m);
	ck_assert_uint_eq(m.protocols, TLS_P_13);    /* the main server's SSLProtocol */
	ck_assert_str_eq(m.ciphers, "");
	ck_assert_int_eq(m.tickets, 0);
	ck_assert_uint_eq(t->ncmd, 1);
	ck_assert_str_eq(t->cmd[0].name, "Curves");
	ck_assert_str_eq(t->cmd[0].value, "X25519:P-256");
	ck_assert_uint_eq(t->cmd[0].at.line, 16);
}
END_TEST

START_TEST(test_sni)
{
	ck_assert_int_eq(parse(TWO_HOSTS), 0);
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8443, "a.test"), 1);
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8443, "A.Test"), 1);
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8443, "b.test"), 2);
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8443, "www.b.test"), 2);
	/* no SNI, an unknown name: the first section of the port, as httpd */
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8443, NULL), 1);
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8443, ""), 1);
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8443, "c.test"), 1);
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8443, "b.test."), 2);
	/* a port without TLS has no certificate to give */
	ck_assert_uint_eq(tls_sni_scope(&cfg, 8080, "a.test"), 0);
	ck_assert_uint_eq(tls_sni_scope(&cfg, 9999, NULL), 0);
}
END_TEST

START_TEST(test_protocols)
{
	static const struct { const char *line; unsigned bits; } ok[] = {
		{ "SSLProtocol all", TLS_P_12 | TLS_P_13 },
		{ "SSLProtocol TLSv1.2", TLS_P_12 },
		{ "SSLProtocol -all +TLSv1.3", TLS_P_13 },
		{ "SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1", TLS_P_12 | TLS_P_13 },
		{ "SSLProtocol all -TLSv1.2", TLS_P_13 },
		{ "SSLProtocol TLSv1.2 +TLSv1.3", TLS_P_12 | TLS_P_13 },
	};
	char text[256];

	for (unsigned i = 0; i < CK_N(ok); i++) {
		snprintf(text, sizeof(text), "Listen 80\nProxyPass / http://127.0.0.1:9/\n%s\n",
			 ok[i].line);
		ck_assert_msg(parse(text) == 0, "%s: %s", ok[i].line, err.msg);
		ck_assert_uint_eq(cfg.tls->sc[0].protocols, ok[i].bits);
	}
	expect_err("SSLProtocol +TLSv1.1\n", 1, "SSLProtocol: TLSv1.1 is not supported");
	expect_err("SSLProtocol SSLv3\n", 1, "SSLProtocol: SSLv3 is not supported");
	expect_err("SSLProtocol TLSv9\n", 1, "SSLProtocol: unknown protocol \"TLSv9\"");
	expect_err("SSLProtocol all -TLSv1.2 -TLSv1.3\n", 1, "leaves no protocol enabled");
}
END_TEST

START_TEST(test_errors)
{
	expect_err("SSLVerifyClient require\n", 1, "SSLVerifyClient: not supported by spliced");
	expect_err("SSLEngine on\n", 1, "SSLEngine: on is supported in <VirtualHost> only");
	expect_err("<VirtualHost *:443>\nSSLEngine optional\n</VirtualHost>\n", 2,
		   "SSLEngine: optional (TLS upgrade) is not supported");
	expect_err("SSLEngine maybe\n", 1, "SSLEngine: must be On or Off");
	expect_err("SSLCipherSuite TLSv1.2 HIGH\n", 1, "SSLCipherSuite: unknown protocol");
	expect_err("SSLCertificateFile\n", 1, "SSLCertificateFile: takes 1 argument, 0 given");
	expect_err("SSLOpenSSLConfCmd Curves\n", 1, "SSLOpenSSLConfCmd: takes 2 arguments, 1 given");
	/* the checks of the whole file, with the line to look at */
	expect_err("Listen 443 https\nProxyPass / http://127.0.0.1:9/\n", 1,
		   "Listen 443 https: no <VirtualHost *:443> with SSLEngine on");
	expect_err("Listen 443\nProxyPass / http://127.0.0.1:9/\n<VirtualHost *:443>\n"
		   "SSLEngine on\n</VirtualHost>\n", 4, "SSLEngine on without SSLCertificateFile");
	expect_err("Listen 443\nProxyPass / http://127.0.0.1:9/\n<VirtualHost *>\n"
		   "SSLEngine on\nSSLCertificateFile /a\n</VirtualHost>\n", 4, "must name its port");
	expect_err("Listen 443\nProxyPass / http://127.0.0.1:9/\n<VirtualHost *:8443>\n"
		   "SSLEngine on\nSSLCertificateFile /a\n</VirtualHost>\n", 4,
		   "no Listen for port 8443");
	expect_err("Listen 443\nProxyPass / http://127.0.0.1:9/\n<VirtualHost *:443>\n"
		   "SSLEngine on\nSSLCertificateFile /a\nSSLCertificateFile /b\n"
		   "SSLCertificateKeyFile /k\n</VirtualHost>\n", 4, "give a key for each certificate");
	expect_err("Listen 443\nProxyPass / http://127.0.0.1:9/\n<VirtualHost *:443>\n"
		   "SSLEngine on\nSSLCertificateFile /a\n</VirtualHost>\n<VirtualHost *:443>\n"
		   "ServerName plain\n</VirtualHost>\n", 7, "shares port 443");
	expect_err("Listen 443\nProxyPass / http://127.0.0.1:9/\n<VirtualHost *:443>\n"
		   "SSLCertificateFile /a\n</VirtualHost>\n", 3, "certificates but no SSLEngine on");
	expect_err("Listen 443\nProxyPass / http://127.0.0.1:9/\nRemoteIPProxyProtocol On\n"
		   "<VirtualHost *:443>\nSSLEngine on\nSSLCertificateFile /a\n</VirtualHost>\n", 1,
		   "RemoteIPProxyProtocol on a TLS port (443) is not supported");
	/* a key in the certificate's file (no SSLCertificateKeyFile) is fine */
	ck_assert_int_eq(parse("Listen 443\nProxyPass / http://127.0.0.1:9/\n<VirtualHost *:443>\n"
			       "SSLEngine on\nSSLCertificateFile /a\n</VirtualHost>\n"), 0);
	/* mod_ssl counts as loaded: Debian's <IfModule mod_ssl.c> blocks are read */
	ck_assert_int_eq(parse("Listen 80\nProxyPass / http://127.0.0.1:9/\n<IfModule mod_ssl.c>\n"
			       "SSLProtocol TLSv1.3\n</IfModule>\n<IfModule !ssl_module>\n"
			       "SSLProtocol TLSv1.2\n</IfModule>\n"), 0);
	ck_assert_uint_eq(cfg.tls->sc[0].protocols, TLS_P_13);
	/* no SSL directive: no TLS state at all */
	ck_assert_int_eq(parse("Listen 80\nProxyPass / http://127.0.0.1:9/\n"), 0);
	ck_assert_ptr_null(cfg.tls);
}
END_TEST

/* %{SSL_PROTOCOL}x and %{SSL_CIPHER}x: the names over TLS, "-" without. */
START_TEST(test_log_format)
{
	struct alog_format f;
	struct alog_entry e = { .client_ip = "192.0.2.1" };
	char out[256], msg[256];
	size_t n;

	ck_assert_int_eq(alog_compile(&f, "%h %{SSL_PROTOCOL}x %{ssl_cipher}x", msg, sizeof(msg)), 0);
	n = alog_render(&f, &e, out, sizeof(out) - 1);   /* a line, not NUL-terminated */
	out[n] = '\0';
	ck_assert_str_eq(out, "192.0.2.1 - -\n");
	e.tls_protocol = "TLSv1.3";
	e.tls_cipher = "TLS_AES_128_GCM_SHA256";
	n = alog_render(&f, &e, out, sizeof(out) - 1);
	out[n] = '\0';
	ck_assert_str_eq(out, "192.0.2.1 TLSv1.3 TLS_AES_128_GCM_SHA256\n");
	ck_assert_int_lt(alog_compile(&f, "%{SSL_CLIENT_S_DN}x", msg, sizeof(msg)), 0);
	ck_assert_msg(strstr(msg, "%{SSL_CLIENT_S_DN}x is not supported"), "%s", msg);
	ck_assert_int_lt(alog_compile(&f, "%x", msg, sizeof(msg)), 0);
}
END_TEST

/* %{HTTPS} and %{REQUEST_SCHEME}: "on"/"https" over TLS; a redirect to a local path is
 * qualified with the scheme the request came with. */
START_TEST(test_rewrite)
{
	struct rw_ctx *ctx;
	struct rw_input in = { .method = "GET", .method_len = 3, .path = "/x", .path_len = 2,
			       .host = "a.test", .host_len = 6, .request_line = "GET /x HTTP/1.1",
			       .request_line_len = 15, .remote_addr = "192.0.2.1",
			       .remote_addr_len = 9, .server_port = 443 };
	struct rw_result r;

	ck_assert_msg(parse("Listen 443\nProxyPass / http://127.0.0.1:9/\nRewriteEngine on\n"
			    "RewriteCond %{HTTPS} off\n"
			    "RewriteRule ^/x$ https://%{HTTP_HOST}/y [R=301,L]\n"
			    "RewriteRule ^/x$ /z-%{REQUEST_SCHEME}-%{HTTPS} [R,L]\n") == 0, "%s",
		      err.msg);
	ctx = rw_ctx_create(&cfg);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(rw_apply(&cfg, ctx, &in, &r), 0);
	ck_assert_int_eq(r.kind, RW_REDIRECT);
	ck_assert_int_eq(r.status, 301);
	ck_assert_str_eq(r.out, "https://a.test/y");
	in.https = true;
	ck_assert_int_eq(rw_apply(&cfg, ctx, &in, &r), 0);
	ck_assert_int_eq(r.kind, RW_REDIRECT);
	ck_assert_int_eq(r.status, 302);
	ck_assert_str_eq(r.out, "/z-https-on");
	rw_ctx_free(ctx);
}
END_TEST

/* httpd's 421: a Host whose <VirtualHost> has other SSL settings than the SNI name's. */
START_TEST(test_misdirected)
{
	static const char text[] =
		"Listen 127.0.0.1:8443 https\nListen 127.0.0.1:8080\n"
		"ProxyPass / http://127.0.0.1:9000/\n"
		"<VirtualHost *:8443>\nServerName a.test\nSSLEngine on\n"
		"SSLCertificateFile a.crt\n</VirtualHost>\n"
		"<VirtualHost *:8443>\nServerName b.test\nSSLEngine on\n"
		"SSLCertificateFile b.crt\nSSLProtocol -all +TLSv1.3\n</VirtualHost>\n"
		"<VirtualHost *:8443>\nServerName c.test\nSSLEngine on\n"
		"SSLCertificateFile c.crt\n</VirtualHost>\n"
		"<VirtualHost *:8443>\nServerName d.test\nSSLEngine on\n"
		"SSLCertificateFile d.crt\nSSLOpenSSLConfCmd Curves X25519\n</VirtualHost>\n"
		"<VirtualHost *:8443>\nServerName e.test\nSSLEngine on\n"
		"SSLCertificateFile e.crt\nSSLCipherSuite HIGH\n</VirtualHost>\n"
		"<VirtualHost *:8080>\nServerName b.test\n</VirtualHost>\n";
	struct tls_facts sni_a = { .on = true, .sni = true, .scope = 1 };
	struct tls_facts sni_b = { .on = true, .sni = true, .scope = 2 };
	struct tls_facts none_a = { .on = true, .sni = false, .scope = 1 };
	struct tls_facts plain = { 0 };

	ck_assert_msg(parse(text) == 0, "%u: %s", err.line, err.msg);
	ck_assert(!tls_host_misdirected(&cfg, &sni_a, 8443, "a.test", 6));
	ck_assert(!tls_host_misdirected(&cfg, &sni_a, 8443, "A.TEST:8443", 11));
	ck_assert(tls_host_misdirected(&cfg, &sni_a, 8443, "b.test", 6));
	ck_assert(tls_host_misdirected(&cfg, &sni_a, 8443, "b.test:8443", 11));
	ck_assert(tls_host_misdirected(&cfg, &sni_b, 8443, "a.test", 6));
	/* the same settings (a wildcard certificate shared): served */
	ck_assert(!tls_host_misdirected(&cfg, &sni_a, 8443, "c.test", 6));
	ck_assert(tls_host_misdirected(&cfg, &sni_a, 8443, "d.test", 6));
	ck_assert(tls_host_misdirected(&cfg, &sni_a, 8443, "e.test", 6));
	/* an unknown Host or none: the port's first section, as the handshake without SNI */
	ck_assert(!tls_host_misdirected(&cfg, &sni_a, 8443, "x.test", 6));
	ck_assert(tls_host_misdirected(&cfg, &sni_b, 8443, "x.test", 6));
	ck_assert(tls_host_misdirected(&cfg, &sni_b, 8443, NULL, 0));
	/* no SNI, or not TLS: nothing to disagree with */
	ck_assert(!tls_host_misdirected(&cfg, &none_a, 8443, "b.test", 6));
	ck_assert(!tls_host_misdirected(&cfg, &plain, 8080, "b.test", 6));
	ck_assert(tls_scopes_compatible(&cfg, 1, 3) && !tls_scopes_compatible(&cfg, 1, 2));
}
END_TEST

/* httpd's 400 for a request naming no host over a session whose client named one by SNI. */
START_TEST(test_sni_without_host)
{
	struct tls_facts sni = { .on = true, .sni = true, .scope = 1 };
	struct tls_facts none = { .on = true, .sni = false, .scope = 1 };
	struct tls_facts plain = { 0 };

	ck_assert(tls_sni_without_host(&sni, NULL, 0));
	ck_assert(tls_sni_without_host(&sni, "", 0));
	ck_assert(!tls_sni_without_host(&sni, "a.test", 6));
	ck_assert(!tls_sni_without_host(&none, NULL, 0));
	ck_assert(!tls_sni_without_host(&plain, NULL, 0));
}
END_TEST

/* Where each SSLOpenSSLConfCmd takes effect; one a session keeps from the context it was
 * made with and that cannot be applied per session is refused in a section that shares
 * its port with another. */
START_TEST(test_conf_cmd_where)
{
	static const char shared[] =
		"Listen 127.0.0.1:8443 https\nProxyPass / http://127.0.0.1:9000/\n"
		"<VirtualHost *:8443>\nServerName a.test\nSSLEngine on\n"    /* 3-5 */
		"SSLCertificateFile a.crt\n</VirtualHost>\n"                  /* 6-7 */
		"<VirtualHost *:8443>\nServerName b.test\nSSLEngine on\n"    /* 8-10 */
		"SSLCertificateFile b.crt\nSSLOpenSSLConfCmd Groups P-384\n"  /* 11-12 */
		"SSLOpenSSLConfCmd ClientCAFile ca.pem\n</VirtualHost>\n";    /* 13 */

	ck_assert_int_eq(tls_cmd_where("Groups"), TLS_CMD_SESSION);
	ck_assert_int_eq(tls_cmd_where("curves"), TLS_CMD_SESSION);
	ck_assert_int_eq(tls_cmd_where("NumTickets"), TLS_CMD_SESSION);
	ck_assert_int_eq(tls_cmd_where("CipherString"), TLS_CMD_SESSION);
	ck_assert_int_eq(tls_cmd_where("MaxProtocol"), TLS_CMD_CTX);
	ck_assert_int_eq(tls_cmd_where("Options"), TLS_CMD_CTX);
	ck_assert_int_eq(tls_cmd_where("SignatureAlgorithms"), TLS_CMD_CTX);
	ck_assert_int_eq(tls_cmd_where("ClientCAFile"), TLS_CMD_FIXED);
	ck_assert_int_eq(tls_cmd_where("RequestCAPath"), TLS_CMD_FIXED);
	expect_err(shared, 13, "SSLOpenSSLConfCmd ClientCAFile: port 8443 has other "
		   "<VirtualHost> sections with SSLEngine on");
	/* in the port's first section it would hold for b.test's sessions: refused too */
	expect_err("Listen 127.0.0.1:8443 https\nProxyPass / http://127.0.0.1:9000/\n"
		   "<VirtualHost *:8443>\nServerName a.test\nSSLEngine on\n"
		   "SSLCertificateFile a.crt\nSSLOpenSSLConfCmd RequestCAFile ca.pem\n"
		   "</VirtualHost>\n<VirtualHost *:8443>\nServerName b.test\nSSLEngine on\n"
		   "SSLCertificateFile b.crt\n</VirtualHost>\n", 7,
		   "SSLOpenSSLConfCmd RequestCAFile: port 8443");
	/* alone on its port, or in the main server: taken */
	ck_assert_msg(parse("Listen 127.0.0.1:8443 https\nProxyPass / http://127.0.0.1:9000/\n"
			    "SSLOpenSSLConfCmd ClientCAFile ca.pem\n"
			    "<VirtualHost *:8443>\nServerName a.test\nSSLEngine on\n"
			    "SSLCertificateFile a.crt\nSSLOpenSSLConfCmd RequestCAFile r.pem\n"
			    "SSLOpenSSLConfCmd Groups P-384\n</VirtualHost>\n") == 0, "%u: %s",
		      err.line, err.msg);
	ck_assert_uint_eq(cfg.tls->ncmd, 3);
	ck_assert_uint_eq(cfg.tls->cmd[2].where, TLS_CMD_SESSION);
	ck_assert_uint_eq(tls_scope_shared_port(&cfg, 1), 0);
	ck_assert_int_eq(parse(TWO_HOSTS), 0);
	ck_assert_uint_eq(tls_scope_shared_port(&cfg, 1), 8443);
	ck_assert_uint_eq(tls_scope_shared_port(&cfg, 2), 8443);
}
END_TEST

/* The ClientHello's server_name extension, each input right before an unreadable page. */
static int sni(const char *bytes, size_t n, char *name, size_t cap)
{
	return tls_sni_parse((const unsigned char *)guard_at_end(bytes, n), n, name, cap);
}

START_TEST(test_sni_parse)
{
	char name[16];

	ck_assert_int_eq(sni("\x00\x09\x00\x00\x06\x61.test", 11, name, sizeof(name)), 6);
	ck_assert_str_eq(name, "a.test");
	/* another name type first, then the host_name */
	ck_assert_int_eq(sni("\x00\x0c\x07\x00\x01x\x00\x00\x05" "b.com", 14, name,
			     sizeof(name)), 5);
	ck_assert_str_eq(name, "b.com");
	/* lengths that disagree or run past the end, an empty or NUL name, too long */
	ck_assert_int_eq(sni("\x00\x0a\x00\x00\x06\x61.test", 11, name, sizeof(name)), -1);
	ck_assert_int_eq(sni("\x00\x09\x00\x00\x07\x61.test", 11, name, sizeof(name)), -1);
	ck_assert_int_eq(sni("\x00\x09\x00\xff\xff\x61.test", 11, name, sizeof(name)), -1);
	ck_assert_int_eq(sni("\x00\x03\x00\x00\x00", 5, name, sizeof(name)), -1);
	ck_assert_int_eq(sni("\x00\x04\x00\x00\x01\x00", 6, name, sizeof(name)), -1);
	ck_assert_int_eq(sni("\x00\x09\x00\x00\x06\x61.test", 11, name, 6), -1);
	ck_assert_int_eq(sni("\x00\x02\x00\x00", 4, name, sizeof(name)), -1);
	ck_assert_int_eq(sni("\x00", 1, name, sizeof(name)), -1);
	ck_assert_int_eq(sni("", 0, name, sizeof(name)), -1);
}
END_TEST

/* What one TLS record of a send takes from its iovecs: the first non-empty part itself
 * when it holds all there is to take (no copy), else the parts copied in order into the
 * stage, never more than max. */
START_TEST(test_gather)
{
	char a[] = "HTTP/1.1 200 OK\r\n", b[] = "body", stage[32], big[100];
	struct iovec two[] = { { a, sizeof(a) - 1 }, { b, 4 } };
	struct iovec lead[] = { { NULL, 0 }, { b, 4 }, { NULL, 0 } };
	struct iovec none[] = { { NULL, 0 }, { NULL, 0 } };
	struct iovec large[] = { { big, sizeof(big) }, { b, 4 } };
	const char *out = NULL;
	size_t n;

	memset(stage, '#', sizeof(stage));
	memset(big, 'x', sizeof(big));
	n = tls_gather(two, 2, stage, sizeof(stage), &out);
	ck_assert_uint_eq(n, sizeof(a) - 1 + 4);
	ck_assert_ptr_eq(out, stage);
	ck_assert(memcmp(stage, "HTTP/1.1 200 OK\r\nbody", n) == 0);
	ck_assert_int_eq(stage[n], '#');
	/* only 10 fit: taken from the first part itself */
	n = tls_gather(two, 2, stage, 10, &out);
	ck_assert_uint_eq(n, 10);
	ck_assert_ptr_eq(out, a);
	/* 20 fit: the whole first part and 3 of the second, copied */
	memset(stage, '#', sizeof(stage));
	n = tls_gather(two, 2, stage, 20, &out);
	ck_assert_uint_eq(n, 20);
	ck_assert_ptr_eq(out, stage);
	ck_assert(memcmp(stage, "HTTP/1.1 200 OK\r\nbod", 20) == 0);
	ck_assert_int_eq(stage[20], '#');
	/* empty parts before and after: the one with bytes, itself */
	n = tls_gather(lead, 3, stage, sizeof(stage), &out);
	ck_assert_uint_eq(n, 4);
	ck_assert_ptr_eq(out, b);
	ck_assert_uint_eq(tls_gather(none, 2, stage, sizeof(stage), &out), 0);
	ck_assert_uint_eq(tls_gather(none, 0, stage, sizeof(stage), &out), 0);
	/* a first part longer than a record: a record's worth of it, no copy */
	n = tls_gather(large, 2, stage, sizeof(stage), &out);
	ck_assert_uint_eq(n, sizeof(stage));
	ck_assert_ptr_eq(out, big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls");
	const struct ck_case cases[] = {
		{ "directives", test_directives, 0 },
		{ "sni", test_sni, 0 },
		{ "protocols", test_protocols, 0 },
		{ "errors", test_errors, 0 },
		{ "log_format", test_log_format, 0 },
		{ "rewrite", test_rewrite, 0 },
		{ "misdirected", test_misdirected, 0 },
		{ "sni_without_host", test_sni_without_host, 0 },
		{ "conf_cmd_where", test_conf_cmd_where, 0 },
		{ "sni_parse", test_sni_parse, 0 },
		{ "gather", test_gather, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return ck_run_suite(s);
}
