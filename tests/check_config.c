/* Check suite for src/config.c: the Apache-style reader, every directive, routing, files.
 * Every parse reads its text from right before an unreadable page, so a read past the
 * given length crashes the test instead of passing by luck. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "spliced/accesslog.h"
#include "spliced/config.h"
#include "suite.h"

static struct config cfg;
static struct config_error err;

/* text[0..len) copied so that its last byte is the last readable byte. */
static int parse_n(const char *text, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (len + page - 1) / page * page;
	char *map = mmap(NULL, data + page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *start;
	int rc;

	ck_assert_ptr_ne(map, MAP_FAILED);
	ck_assert_int_eq(mprotect(map + data, page, PROT_NONE), 0);
	start = map + data - len;
	memcpy(start, text, len);
	if (data)
		ck_assert_int_eq(mprotect(map, data, PROT_READ), 0);  /* and the parser only reads */
	config_defaults(&cfg);
	memset(&err, 0x55, sizeof(err));  /* whatever was there must be overwritten */
	rc = config_parse(&cfg, start, len, "test.conf", &err);
	munmap(map, data + page);
	return rc;
}

static int parse(const char *text)
{
	return parse_n(text, strlen(text));
}

/* The parse fails with exactly `msg` on `line`. */
#define ck_parse_err(text, ln, message) do { \
	ck_assert_int_eq(parse(text), -EINVAL); \
	ck_assert_str_eq(err.file, "test.conf"); \
	ck_assert_str_eq(err.msg, message); \
	ck_assert_uint_eq(err.line, ln); \
} while (0)

static const char *ip_of(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)ss)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	return inet_ntop(ss->ss_family, a, buf, (socklen_t)len);
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port) :
					  ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* ---- defaults, built-in ---- */

START_TEST(test_defaults)
{
	config_defaults(&cfg);
	ck_assert_uint_eq(cfg.timeout_ms, 60000);
	ck_assert(cfg.keepalive);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 5000);
	ck_assert_uint_eq(cfg.max_keepalive_requests, 1000);
	ck_assert_uint_eq(cfg.limit_request_line, 8190);
	ck_assert_uint_eq(cfg.limit_field_size, 8190);
	ck_assert_uint_eq(cfg.limit_fields, 100);
	ck_assert_uint_eq(cfg.limit_request_body, 0);
	ck_assert_uint_eq(cfg.max_connections, 4096);
	ck_assert_uint_eq(cfg.workers, 0);
	ck_assert(!cfg.preserve_host);
	ck_assert_uint_eq(cfg.nlisten + cfg.npass + cfg.nbackend, 0);
	ck_assert_str_eq(cfg.user, "");
	ck_assert_str_eq(cfg.error_log, "");
}
END_TEST

START_TEST(test_builtin)
{
	char ip[64];

	bool demo = config_builtin_demo();

	ck_assert_int_eq(config_builtin(&cfg, &err), 0);
	ck_assert_str_eq(err.file, "(built-in)");
	ck_assert_uint_eq(cfg.nlisten, 1);
	ck_assert_str_eq(cfg.listen[0].name, "127.0.0.1:8080");
	ck_assert_str_eq(ip_of(&cfg.listen[0].addr, ip, sizeof(ip)), "127.0.0.1");
	ck_assert_uint_eq(port_of(&cfg.listen[0].addr), 8080);
	ck_assert_uint_eq(cfg.nbackend, 1);
	ck_assert_str_eq(cfg.backend[0].authority, "127.0.0.1:8000");
	ck_assert_str_eq(cfg.backend[0].name, "http://127.0.0.1:8000");
	ck_assert_uint_eq(port_of(&cfg.backend[0].addr), 8000);
	ck_assert_uint_eq(cfg.npass, 1);
	ck_assert_str_eq(cfg.pass[0].prefix, demo ? "/app/" : "/");
	ck_assert_str_eq(cfg.pass[0].path, "/");
	ck_assert_int_eq(cfg.pass[0].backend, 0);
	ck_assert_uint_eq(cfg.timeout_ms, 60000);  /* defaults kept */
	if (demo) {
		/* the source tree's demo: its site, and its application started on demand */
		ck_assert_str_eq(cfg.document_root, SPLICED_DATADIR "/demo/site");
		ck_assert_uint_eq(cfg.nautostart, 1);
		ck_assert_int_eq(cfg.autostart[0].backend, 0);
		ck_assert_str_eq(cfg.autostart[0].dir, SPLICED_DATADIR "/demo");
		ck_assert_uint_eq(cfg.autostart[0].argc, 2);
		ck_assert_str_eq(cfg.autostart[0].text + cfg.autostart[0].argv_off[1],
				 SPLICED_DATADIR "/demo/app.py");
		/* the application's redirects name /app/ on spliced's port */
		ck_assert_uint_eq(cfg.nreverse, 1);
		ck_assert_int_eq(cfg.reverse[0].kind, CFG_REV_URL);
		ck_assert_str_eq(cfg.reverse[0].to, "/app/");
		ck_assert_str_eq(cfg.reverse[0].from, "http://127.0.0.1:8000/");
	} else {
		ck_assert_uint_eq(cfg.nautostart, 0);
		ck_assert_uint_eq(cfg.nreverse, 0);
	}
}
END_TEST

/* ---- the reader ---- */

START_TEST(test_empty_and_comments)
{
	ck_assert_int_eq(parse(""), 0);
	ck_assert_uint_eq(err.line, 0);
	ck_assert_str_eq(err.msg, "");
	ck_assert_int_eq(parse("\n\n   \n\t\n"), 0);
	ck_assert_int_eq(parse("# Timeout abc\n   # indented comment\n\t#tab\nTimeout 7"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 7000);
	/* '#' not at the start of a line is an argument, as in httpd */
	ck_assert_int_eq(parse("User www#data\n"), 0);
	ck_assert_str_eq(cfg.user, "www#data");
	ck_parse_err("Timeout 5 # five seconds\n", 1, "Timeout: takes 1 argument, 4 given");
}
END_TEST

START_TEST(test_case_insensitive)
{
	ck_assert_int_eq(parse("timeout 9\nKEEPALIVE off\nproxypreservehost ON\n"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 9000);
	ck_assert(!cfg.keepalive);
	ck_assert(cfg.preserve_host);
	ck_parse_err("tImEoUt x\n", 1, "Timeout: \"x\" is not a number of seconds");
}
END_TEST

START_TEST(test_crlf)
{
	ck_assert_int_eq(parse("Timeout 11\r\nUser bob\r\n\r\nGroup staff\r\n"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 11000);
	ck_assert_str_eq(cfg.user, "bob");
	ck_assert_str_eq(cfg.group, "staff");
	ck_parse_err("Timeout 1\r\n\r\nTimeout 0\r\n", 3, "Timeout: 0 is out of range 1..86400");
}
END_TEST

START_TEST(test_continuation)
{
	/* backslash-newline is removed and the next line appended as it is */
	ck_assert_int_eq(parse("Time\\\nout 12\n"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 12000);
	ck_assert_int_eq(parse("ProxyPass /app \\\n    http://127.0.0.1:9000/app/\n"), 0);
	ck_assert_str_eq(cfg.pass[0].prefix, "/app");
	ck_assert_str_eq(cfg.pass[0].path, "/app/");
	ck_assert_int_eq(parse("Timeout \\\r\n 13\r\n"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 13000);
	/* a backslash at the very end of the text joins nothing */
	ck_assert_int_eq(parse("User a\\"), 0);
	ck_assert_str_eq(cfg.user, "a\\");
	/* "\\\\" at the end is an escaped backslash, not a continuation (httpd) */
	ck_assert_int_eq(parse("User a\\\\\nGroup g\n"), 0);
	ck_assert_str_eq(cfg.user, "a\\");
	ck_assert_str_eq(cfg.group, "g");
	/* joining happens before the comment check: the next line is part of the comment */
	ck_assert_int_eq(parse("# comment \\\nTimeout 0\nTimeout 14\n"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 14000);
}
END_TEST

START_TEST(test_line_numbers)
{
	ck_parse_err("# one\n\n   # three\nTimeout 5\nBogus\n", 5, "unknown directive \"Bogus\"");
	/* after continued lines, numbering counts physical lines */
	ck_parse_err("ProxyPass / \\\n  http://127.0.0.1:1/\nUser \\\n x\nTimeout -1\n", 5,
		     "Timeout: \"-1\" is not a number of seconds");
	/* an error in a continued directive is reported on its first line */
	ck_parse_err("\nTimeout \\\n\\\nabc\n", 2, "Timeout: \"abc\" is not a number of seconds");
	/* the last line without a newline */
	ck_parse_err("Timeout 1\nTimeout 2\nTimeout z", 3, "Timeout: \"z\" is not a number of seconds");
}
END_TEST

START_TEST(test_quoting)
{
	ck_assert_int_eq(parse("ErrorLog \"/var/log/my logs/error.log\"\n"), 0);
	ck_assert_str_eq(cfg.error_log, "/var/log/my logs/error.log");
	ck_assert_int_eq(parse("ErrorLog \"/a\\\"b\\\\c\\d\"\n"), 0);
	ck_assert_str_eq(cfg.error_log, "/a\"b\\c\\d");
	ck_assert_int_eq(parse("ErrorLog '/x y'\n"), 0);
	ck_assert_str_eq(cfg.error_log, "/x y");
	ck_assert_int_eq(parse("\"Timeout\" \"21\"\n"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 21000);
	ck_assert_int_eq(parse("ProxyPass \"/a b\" http://127.0.0.1:1/\n"), 0);
	ck_assert_str_eq(cfg.pass[0].prefix, "/a b");
	ck_parse_err("ErrorLog \"/unterminated\n", 1, "unterminated quoted argument");
	ck_parse_err("ErrorLog \"/a\"b\n", 1, "text right after a closing quote");
	ck_parse_err("User \"\"\n", 1, "User: empty argument");
	/* blanks in quotes do not split arguments */
	ck_parse_err("Timeout \"1 2\"\n", 1, "Timeout: \"1 2\" is not a number of seconds");
}
END_TEST

START_TEST(test_nul_and_long_lines)
{
	static char big[CFG_PATH_MAX * 20];
	size_t n;

	ck_assert_int_eq(parse_n("Timeout 5\nUser a\0b\n", 19), -EINVAL);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_str_eq(err.msg, "NUL byte in the text");
	ck_assert_int_eq(parse_n("Timeout 5\\\n\0", 12), -EINVAL);
	ck_assert_uint_eq(err.line, 2);
	/* 16384 bytes is the longest line */
	memset(big, 'x', sizeof(big));
	big[0] = '#';
	n = 16384;
	big[n] = '\n';
	ck_assert_int_eq(parse_n(big, n + 1), 0);
	big[n] = 'x';
	big[n + 1] = '\n';
	ck_assert_int_eq(parse_n(big, n + 2), -EINVAL);
	ck_assert_str_eq(err.msg, "line is too long (more than 16384 bytes)");
	ck_assert_uint_eq(err.line, 1);
	/* the bound holds after joining too */
	memset(big, 'x', sizeof(big));
	big[0] = '#';
	big[10000] = '\\';
	big[10001] = '\n';
	ck_assert_int_eq(parse_n(big, 20000), -EINVAL);
	ck_assert_str_eq(err.msg, "line is too long (more than 16384 bytes)");
	ck_assert_int_eq(parse("User aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"),
			 -EINVAL);
	ck_assert_str_eq(err.msg, "User: argument is too long (more than 255 bytes)");
}
END_TEST

START_TEST(test_unknown_and_arg_count)
{
	ck_parse_err("LoadModule proxy_module mod_proxy.so\n", 1,
		     "unknown directive \"LoadModule\"");
	ck_parse_err("Timeout\n", 1, "Timeout: takes 1 argument, 0 given");
	ck_parse_err("Listen\n", 1, "Listen: takes 1 to 2 arguments, 0 given");
	ck_parse_err("Listen 1 http x\n", 1, "Listen: takes 1 to 2 arguments, 3 given");
	ck_parse_err("ProxyPass /\n", 1, "ProxyPass: takes at least 2 arguments, 1 given");
	ck_parse_err("Bad\x1b[2Jname\n", 1, "unknown directive \"Bad?[2Jname\"");
	ck_parse_err("User a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6\n", 1,
		     "too many arguments (more than 31)");
}
END_TEST

START_TEST(test_sections)
{
	ck_assert_int_eq(parse("Timeout 5\n<VirtualHost *:80>\nServerName a\n</VirtualHost>\n"), 0);
	ck_assert_uint_eq(cfg.nscope, 2);
	config_free(&cfg);
	ck_parse_err("Timeout 5\n<VirtualHost *:80>\nServerName a\n", 2,
		     "<VirtualHost> section is not closed");
	ck_parse_err("<VirtualHost *:80>\n<VirtualHost *:81>\n", 2,
		     "<VirtualHost>: sections cannot be nested");
	ck_parse_err("<VirtualHost *:80>\nTimeout 5\n</VirtualHost>\n", 2,
		     "Timeout is not allowed in <VirtualHost>");
	ck_parse_err("<VirtualHost>\n", 1, "<VirtualHost>: needs an address, e.g. <VirtualHost *:80>");
	ck_parse_err("<IfModule mod_proxy.c>\n", 1,
		     "<IfModule> section is not closed at the end of the file");
	ck_parse_err("  <Location>\n", 1, "<Location> takes one path");
	ck_parse_err("  <Directory /tmp>\n", 1, "<Directory> sections are not supported yet");
	ck_parse_err("</VirtualHost>\n", 1, "</VirtualHost> without matching <VirtualHost> section");
	ck_parse_err("<>\n", 1, "bad section \"<>\"");
}
END_TEST

/* ---- directives ---- */

/* RemoteIPProxyProtocol On|Off: the main server's for every Listen port, a
 * <VirtualHost>'s for the ports it names; RemoteIPProxyProtocolExceptions likewise. */
START_TEST(test_proxy_protocol)
{
	ck_assert_int_eq(parse("Listen 8080\nListen 8081\n"), 0);
	ck_assert(!config_proxy_protocol(&cfg, 8080));
	config_free(&cfg);
	ck_assert_int_eq(parse("Listen 8080\nListen 8081\nremoteipproxyprotocol on\n"
			       "RemoteIPProxyProtocolExceptions 127.0.0.1 10.0.0.0/8 ::1\n"), 0);
	ck_assert(config_proxy_protocol(&cfg, 8080));
	ck_assert(config_proxy_protocol(&cfg, 8081));
	ck_assert(config_proxy_exception(&cfg, 8080, "127.0.0.1"));
	ck_assert(config_proxy_exception(&cfg, 8081, "10.9.8.7"));
	ck_assert(config_proxy_exception(&cfg, 8081, "::1"));
	ck_assert(!config_proxy_exception(&cfg, 8080, "127.0.0.2"));
	config_free(&cfg);
	ck_assert_int_eq(parse("Listen 8080\nListen 8081\n"
			       "<VirtualHost *:8081>\nRemoteIPProxyProtocol On\n"
			       "RemoteIPProxyProtocolExceptions 192.0.2.0/24\n</VirtualHost>\n"
			       "<VirtualHost *:8081>\nServerName b\n</VirtualHost>\n"), 0);
	ck_assert(!config_proxy_protocol(&cfg, 8080));
	ck_assert(config_proxy_protocol(&cfg, 8081));
	ck_assert(config_proxy_exception(&cfg, 8081, "192.0.2.9"));
	ck_assert(!config_proxy_exception(&cfg, 8080, "192.0.2.9"));
	config_free(&cfg);
	/* a section's Off wins over the main server's On for its port */
	ck_assert_int_eq(parse("Listen 8080\nListen 8081\nRemoteIPProxyProtocol On\n"
			       "<VirtualHost *:8080>\nRemoteIPProxyProtocol Off\n</VirtualHost>\n"), 0);
	ck_assert(!config_proxy_protocol(&cfg, 8080));
	ck_assert(config_proxy_protocol(&cfg, 8081));
	config_free(&cfg);
	ck_assert_int_eq(parse("Listen 8080\n<VirtualHost *:8080>\nRemoteIPProxyProtocol On\n"
			       "</VirtualHost>\n<VirtualHost *:8080>\n"
			       "RemoteIPProxyProtocol Off\n</VirtualHost>\n"), -EINVAL);
	ck_assert_uint_eq(err.line, 5);
	ck_assert_ptr_nonnull(strstr(err.msg, "lines 2 and 5 share Listen 8080 and disagree"));
	config_free(&cfg);
	ck_parse_err("RemoteIPProxyProtocol yes\n", 1,
		     "RemoteIPProxyProtocol: \"yes\" must be On or Off");
	ck_parse_err("RemoteIPProxyProtocolExceptions lb.example\n", 1,
		     "RemoteIPProxyProtocolExceptions: \"lb.example\" is not a numeric IP address "
		     "or CIDR range (host names are not supported)");
	ck_parse_err("RemoteIPProxyProtocolExceptions 10.0.0.0/33\n", 1,
		     "RemoteIPProxyProtocolExceptions: \"10.0.0.0/33\" is not a numeric IP address "
		     "or CIDR range (host names are not supported)");
	ck_parse_err("RemoteIPProxyProtocolExceptions\n", 1,
		     "RemoteIPProxyProtocolExceptions: takes at least 1 arguments, 0 given");
}
END_TEST

START_TEST(test_listen_forms)
{
	char ip[64];

	ck_assert_int_eq(parse("Listen 80\nListen 127.0.0.1:8080 http\nListen [::1]:8443\n"
			       "Listen localhost:81 HTTP\nListen [::]:80\n"), 0);
	ck_assert_uint_eq(cfg.nlisten, 5);
	ck_assert_str_eq(cfg.listen[0].name, "80");
	ck_assert_str_eq(ip_of(&cfg.listen[0].addr, ip, sizeof(ip)), "0.0.0.0");
	ck_assert_uint_eq(port_of(&cfg.listen[0].addr), 80);
	ck_assert_uint_eq(cfg.listen[0].addrlen, sizeof(struct sockaddr_in));
	ck_assert_str_eq(ip_of(&cfg.listen[1].addr, ip, sizeof(ip)), "127.0.0.1");
	ck_assert_uint_eq(port_of(&cfg.listen[1].addr), 8080);
	ck_assert_str_eq(cfg.listen[2].name, "[::1]:8443");
	ck_assert_int_eq(cfg.listen[2].addr.ss_family, AF_INET6);
	ck_assert_uint_eq(cfg.listen[2].addrlen, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(ip_of(&cfg.listen[2].addr, ip, sizeof(ip)), "::1");
	ck_assert_uint_eq(port_of(&cfg.listen[2].addr), 8443);
	ck_assert_str_eq(ip_of(&cfg.listen[3].addr, ip, sizeof(ip)), "127.0.0.1");
	ck_assert_uint_eq(port_of(&cfg.listen[3].addr), 81);
	ck_assert_uint_eq(port_of(&cfg.listen[4].addr), 80);  /* [::]:80 differs from 0.0.0.0:80 */
}
END_TEST

START_TEST(test_listen_errors)
{
	ck_parse_err("Listen 0\n", 1, "Listen: \"0\" is not a port (1..65535) or address:port");
	ck_parse_err("Listen 65536\n", 1, "Listen: \"65536\" is not a port (1..65535) or address:port");
	ck_parse_err("Listen http\n", 1, "Listen: \"http\" is not a port (1..65535) or address:port");
	ck_parse_err("Listen 1.2.3.4:0\n", 1, "Listen: bad port \"0\" (1..65535)");
	ck_parse_err("Listen 1.2.3.4:\n", 1, "Listen: bad port \"\" (1..65535)");
	ck_parse_err("Listen 1.2.3.4:+80\n", 1, "Listen: bad port \"+80\" (1..65535)");
	ck_parse_err("Listen 1.2.3.4\n", 1,
		     "Listen: \"1.2.3.4\" is not a port (1..65535) or address:port");
}
END_TEST

START_TEST(test_listen_errors2)
{
	/* TLS: a port needs its <VirtualHost> with SSLEngine on (check_tls has the rest) */
	ck_parse_err("Listen 443 https\n", 1,
		     "Listen 443 https: no <VirtualHost *:443> with SSLEngine on");
	ck_parse_err("Listen 443 ftp\n", 1, "Listen: unknown protocol \"ftp\"");
	ck_parse_err("Listen ::1:80\n", 1,
		     "Listen: an IPv6 address must be in brackets, e.g. [::1]:80");
	ck_parse_err("Listen [::1\n", 1, "Listen: missing ']' after IPv6 address");
	ck_parse_err("Listen [::1]\n", 1, "Listen: \"[::1]\" has no port");
	ck_parse_err("Listen [::1]x:80\n", 1, "Listen: unexpected text after ']'");
	ck_parse_err("Listen [127.0.0.1]:80\n", 1, "Listen: \"127.0.0.1\" is not an IPv6 address");
	ck_parse_err("Listen :80\n", 1, "Listen: empty host");
	ck_parse_err("Listen example.com:80\n", 1,
		     "Listen: \"example.com\" is not a numeric IPv4 address, [IPv6] or localhost");
	ck_parse_err("Listen 1.2.3.4.5:80\n", 1,
		     "Listen: \"1.2.3.4.5\" is not a numeric IPv4 address, [IPv6] or localhost");
}
END_TEST

START_TEST(test_listen_duplicates)
{
	ck_parse_err("Listen 80\nListen 0.0.0.0:80\n", 2,
		     "Listen: cannot define multiple listeners on the same address (80 and 0.0.0.0:80)");
	ck_parse_err("Listen [::1]:80\nListen [0:0::1]:80\n", 2,
		     "Listen: cannot define multiple listeners on the same address "
		     "([::1]:80 and [0:0::1]:80)");
	ck_assert_int_eq(parse("Listen 127.0.0.1:80\nListen 127.0.0.2:80\nListen 127.0.0.1:81\n"), 0);
	ck_assert_uint_eq(cfg.nlisten, 3);
}
END_TEST

START_TEST(test_listen_limit)
{
	char text[2048];
	size_t off = 0;

	for (int i = 0; i < CFG_MAX_LISTEN; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "Listen 127.0.0.1:%d\n", 1000 + i);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_eq(cfg.nlisten, CFG_MAX_LISTEN);
	snprintf(text + off, sizeof(text) - off, "Listen 127.0.0.1:2000\n");
	ck_parse_err(text, CFG_MAX_LISTEN + 1, "Listen: more than 16 Listen directives");
}
END_TEST

START_TEST(test_proxypass_forms)
{
	char ip[64];

	ck_assert_int_eq(parse("ProxyPass /a http://127.0.0.1\n"
			       "ProxyPass /b/ http://127.0.0.2:8000/b/\n"
			       "ProxyPass /c HTTP://[::1]:9000/x/y\n"
			       "ProxyPass /d http://localhost:7000/ retry=0 keepalive=On\n"
			       "ProxyPass /e !\n"), 0);
	ck_assert_uint_eq(cfg.npass, 5);
	ck_assert_uint_eq(cfg.nbackend, 4);
	ck_assert_str_eq(cfg.pass[0].path, "/");
	ck_assert_uint_eq(cfg.pass[0].path_len, 1);
	ck_assert_uint_eq(cfg.pass[0].prefix_len, 2);
	ck_assert_str_eq(cfg.backend[0].authority, "127.0.0.1");
	ck_assert_str_eq(cfg.backend[0].name, "http://127.0.0.1:80");
	ck_assert_uint_eq(port_of(&cfg.backend[0].addr), 80);
	ck_assert_str_eq(cfg.pass[1].path, "/b/");
	ck_assert_str_eq(cfg.backend[1].authority, "127.0.0.2:8000");
	ck_assert_str_eq(cfg.pass[2].path, "/x/y");
	ck_assert_str_eq(cfg.backend[2].authority, "[::1]:9000");
	ck_assert_str_eq(cfg.backend[2].name, "http://[::1]:9000");
	ck_assert_str_eq(ip_of(&cfg.backend[2].addr, ip, sizeof(ip)), "::1");
	ck_assert_uint_eq(cfg.backend[2].addrlen, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(cfg.backend[3].authority, "localhost:7000");
	ck_assert_str_eq(ip_of(&cfg.backend[3].addr, ip, sizeof(ip)), "127.0.0.1");
	ck_assert_uint_eq(port_of(&cfg.backend[3].addr), 7000);
	ck_assert_int_eq(cfg.pass[4].backend, -1);
	ck_assert_str_eq(cfg.pass[4].prefix, "/e");
	ck_assert_str_eq(cfg.pass[4].path, "");
}
END_TEST

/* upgrade= (httpd 2.4.47): the protocols a route lets a client switch to, lower case;
 * none by default. */
START_TEST(test_proxypass_upgrade)
{
	ck_assert_int_eq(parse("ProxyPass /ws/ http://127.0.0.1:9000/ upgrade=WebSocket\n"
			       "ProxyPass /x/ http://127.0.0.1:9000/ upgrade=websocket,my-proto\n"
			       "ProxyPass / http://127.0.0.1:9000/\n"), 0);
	ck_assert_str_eq(cfg.pass[0].upgrade, "websocket");
	ck_assert_str_eq(cfg.pass[1].upgrade, "websocket,my-proto");
	ck_assert_str_eq(cfg.pass[2].upgrade, "");
	/* ws:// (httpd's mod_proxy_wstunnel spelling): an http:// backend, upgrade=websocket */
	ck_assert_int_eq(parse("ProxyPass /ws/ ws://127.0.0.1:9000/chat/\n"
			       "ProxyPass /x/ WS://127.0.0.1:9000/ upgrade=my-proto\n"
			       "ProxyPass / http://127.0.0.1:9000/\n"), 0);
	ck_assert_uint_eq(cfg.nbackend, 1);
	ck_assert_str_eq(cfg.backend[0].name, "http://127.0.0.1:9000");
	ck_assert_str_eq(cfg.pass[0].path, "/chat/");
	ck_assert_str_eq(cfg.pass[0].upgrade, "websocket");
	ck_assert_str_eq(cfg.pass[1].upgrade, "my-proto");
	ck_parse_err("ProxyPass / wss://127.0.0.1/\n", 1, "ProxyPass: TLS to backends is not supported");
	ck_parse_err("ProxyPass / http://127.0.0.1/ upgrade=h2c\n", 1,
		     "ProxyPass: upgrade=h2c is not supported (HTTP/2 is not proxied)");
	ck_parse_err("ProxyPass / http://127.0.0.1/ upgrade=websocket,H2C\n", 1,
		     "ProxyPass: upgrade=h2c is not supported (HTTP/2 is not proxied)");
	ck_parse_err("ProxyPass / http://127.0.0.1/ upgrade=ANY\n", 1,
		     "ProxyPass: upgrade=ANY and upgrade=NONE are not supported: name the protocol");
	ck_parse_err("ProxyPass / http://127.0.0.1/ upgrade=\n", 1,
		     "ProxyPass: upgrade= takes protocol names, at most 63 bytes");
	ck_parse_err("ProxyPass / http://127.0.0.1/ upgrade=web/socket\n", 1,
		     "ProxyPass: upgrade=\"web/socket\": not a list of protocol names");
}
END_TEST

/* ProxyPass key=value: httpd's names and units; what is not given comes from the server's
 * directives, wherever they are in the file. */
START_TEST(test_backend_params)
{
	const struct cfg_bparams *p;

	ck_assert_int_eq(parse("ProxyPass /a http://127.0.0.1:1/ timeout=7 connectiontimeout=250ms "
			       "ttl=3 max=10 acquire=1500 retry=5 disablereuse=On keepalive=on\n"
			       "ProxyPass /b http://127.0.0.1:2/\n"
			       "ProxyPass /c http://127.0.0.1:3/ TimeOut=500ms Acquire=2s Max=4\n"
			       "ProxyPass /d http://127.0.0.1:4/ retry=0 max=0 timeout=2s\n"
			       "Timeout 30\n"), 0);
	p = &cfg.backend[0].p;
	ck_assert_uint_eq(p->timeout_ms, 7000);
	ck_assert_uint_eq(p->connect_timeout_ms, 250);
	ck_assert_uint_eq(p->ttl_ms, 3000);
	ck_assert_uint_eq(p->max, 10);
	ck_assert_uint_eq(p->acquire_ms, 1500);      /* httpd: acquire is in milliseconds */
	ck_assert_uint_eq(p->retry_s, 5);
	ck_assert(p->disablereuse);
	ck_assert(p->keepalive);
	ck_assert_uint_eq(cfg.backend[0].params_line, 1);
	p = &cfg.backend[1].p;                        /* the defaults */
	ck_assert_uint_eq(p->timeout_ms, 30000);      /* Timeout, given after the line */
	ck_assert_uint_eq(p->connect_timeout_ms, 30000);
	ck_assert_uint_eq(p->ttl_ms, CFG_TTL_DEFAULT_MS);
	ck_assert_uint_eq(p->max, 0);
	ck_assert_uint_eq(p->retry_s, 0);
	ck_assert(!p->disablereuse && !p->keepalive);
	ck_assert_uint_eq(cfg.backend[1].params_line, 0);
	p = &cfg.backend[2].p;
	ck_assert_uint_eq(p->timeout_ms, 500);
	ck_assert_uint_eq(p->connect_timeout_ms, 500); /* connectiontimeout: timeout= */
	ck_assert_uint_eq(p->acquire_ms, 2000);
	ck_assert_uint_eq(p->max, 4);
	p = &cfg.backend[3].p;
	ck_assert_uint_eq(p->max, 0);
	ck_assert_uint_eq(p->retry_s, 0);
	ck_assert_uint_eq(p->acquire_ms, 2000);       /* without acquire=: timeout= */

	/* ProxyTimeout: the backends' timeout, not the clients' */
	ck_assert_int_eq(parse("ProxyPass / http://127.0.0.1:1/\n"
			       "ProxyPass /x http://127.0.0.1:2/ timeout=3\n"
			       "ProxyTimeout 9\nTimeout 4\n"), 0);
	ck_assert_uint_eq(cfg.proxy_timeout_ms, 9000);
	ck_assert_uint_eq(cfg.timeout_ms, 4000);
	ck_assert_uint_eq(cfg.backend[0].p.timeout_ms, 9000);
	ck_assert_uint_eq(cfg.backend[1].p.timeout_ms, 3000);

	/* the same backend on two lines: the parameters are given once, or repeated */
	ck_assert_int_eq(parse("ProxyPass /a http://127.0.0.1:1/\n"
			       "ProxyPass /b http://127.0.0.1:1/b max=3\n"
			       "ProxyPass /c http://127.0.0.1:1/c max=3\n"
			       "ProxyPass /d http://127.0.0.1:1/d\n"), 0);
	ck_assert_uint_eq(cfg.nbackend, 1);
	ck_assert_uint_eq(cfg.backend[0].p.max, 3);
	ck_assert_uint_eq(cfg.backend[0].params_line, 2);
}
END_TEST

START_TEST(test_backend_params_errors)
{
	ck_parse_err("ProxyPass /a http://127.0.0.1:1/ max=3\n"
		     "ProxyPass /b http://127.0.0.1:1/ max=4\n", 2,
		     "ProxyPass: parameters for http://127.0.0.1:1 differ from those given on "
		     "line 1: they belong to the backend, give them once");
	ck_parse_err("ProxyPass /a http://127.0.0.1:1/ max=3\n"
		     "ProxyPass /b http://127.0.0.1:1/ max=3 ttl=5\n", 2,
		     "ProxyPass: parameters for http://127.0.0.1:1 differ from those given on "
		     "line 1: they belong to the backend, give them once");
	ck_parse_err("ProxyPass / http://127.0.0.1/ timeout=0\n", 1,
		     "ProxyPass: 0 is out of range 1..86400");
	ck_parse_err("ProxyPass / http://127.0.0.1/ timeout=0ms\n", 1,
		     "ProxyPass: 0ms is out of range 1..86400000");
	ck_parse_err("ProxyPass / http://127.0.0.1/ timeout=86401\n", 1,
		     "ProxyPass: 86401 is out of range 1..86400");
	ck_parse_err("ProxyPass / http://127.0.0.1/ timeout=5m\n", 1,
		     "ProxyPass: \"5m\" is not a number of seconds");
	ck_parse_err("ProxyPass / http://127.0.0.1/ connectiontimeout=-1\n", 1,
		     "ProxyPass: \"-1\" is not a number of seconds");
	ck_parse_err("ProxyPass / http://127.0.0.1/ ttl=0\n", 1,
		     "ProxyPass: 0 is out of range 1..86400");
	ck_parse_err("ProxyPass / http://127.0.0.1/ ttl=100ms\n", 1,
		     "ProxyPass: \"100ms\" is not a number of seconds");
	ck_parse_err("ProxyPass / http://127.0.0.1/ max=x\n", 1,
		     "ProxyPass: \"x\" is not a number of connections");
	ck_parse_err("ProxyPass / http://127.0.0.1/ max=1000001\n", 1,
		     "ProxyPass: 1000001 is out of range 0..1000000");
	ck_parse_err("ProxyPass / http://127.0.0.1/ acquire=0\n", 1,
		     "ProxyPass: 0 is out of range 1..86400000");
	ck_parse_err("ProxyPass / http://127.0.0.1/ acquire=100\n", 1,
		     "ProxyPass: acquire= needs max= (it is how long a request waits for one "
		     "of the max connections)");
	ck_parse_err("ProxyPass / http://127.0.0.1/ retry=-1\n", 1,
		     "ProxyPass: \"-1\" is not a number of seconds");
	ck_parse_err("ProxyPass / http://127.0.0.1/ disablereuse=yes\n", 1,
		     "ProxyPass: \"yes\" must be On or Off");
	ck_parse_err("ProxyPass / http://127.0.0.1/ min=1\n", 1,
		     "ProxyPass: parameter \"min\" is not supported");
	ck_parse_err("ProxyPass /x ! max=1\n", 1,
		     "ProxyPass: \"!\" has no backend to take parameters");
	ck_parse_err("ProxyTimeout 0\n", 1, "ProxyTimeout: 0 is out of range 1..86400");
	ck_parse_err("ProxyTimeout 5ms\n", 1, "ProxyTimeout: \"5ms\" is not a number of seconds");
	ck_parse_err("ProxyPass / http://127.0.0.1:9/ retry=5\n"
		     "ProxyAutostart http://127.0.0.1:9 -- /bin/true\n", 1,
		     "ProxyPass: retry= for http://127.0.0.1:9, which ProxyAutostart starts: "
		     "a refused connection asks for a start instead");
}
END_TEST

START_TEST(test_proxypass_errors)
{
	ck_parse_err("ProxyPass / https://127.0.0.1/\n", 1, "ProxyPass: TLS to backends is not supported");
	ck_parse_err("ProxyPass / ajp://127.0.0.1/\n", 1,
		     "ProxyPass: \"ajp://127.0.0.1/\" is not an http:// URL");
	ck_parse_err("ProxyPass / http://127.0.0.1/ smax=5\n", 1,
		     "ProxyPass: parameter \"smax\" is not supported");
	ck_parse_err("ProxyPass / http://127.0.0.1/ nocanon\n", 1,
		     "ProxyPass: option \"nocanon\" is not supported");
	ck_parse_err("ProxyPass / http://127.0.0.1/ retry=x\n", 1,
		     "ProxyPass: \"x\" is not a number of seconds");
	ck_parse_err("ProxyPass / http://127.0.0.1/ keepalive=maybe\n", 1,
		     "ProxyPass: \"maybe\" must be On or Off");
	ck_parse_err("ProxyPass app http://127.0.0.1/\n", 1,
		     "ProxyPass: path \"app\" must start with '/'");
	ck_parse_err("ProxyPass / http:///x\n", 1, "ProxyPass: the URL has no host");
	ck_parse_err("ProxyPass / http://127.0.0.1:0/\n", 1, "ProxyPass: bad port \"0\" (1..65535)");
	ck_parse_err("ProxyPass / http://127.0.0.1:99999/\n", 1,
		     "ProxyPass: bad port \"99999\" (1..65535)");
	ck_parse_err("ProxyPass / http://u:p@127.0.0.1/\n", 1,
		     "ProxyPass: user information in the URL is not supported");
	ck_parse_err("ProxyPass / http://127.0.0.1/?a=b\n", 1,
		     "ProxyPass: the URL must not contain blanks, a query or a fragment");
	ck_parse_err("ProxyPass / \"http://127.0.0.1/a b\"\n", 1,
		     "ProxyPass: the URL must not contain blanks, a query or a fragment");
	ck_parse_err("ProxyPass / http://[::1/\n", 1, "ProxyPass: missing ']' after IPv6 address");
	/* the resolver's own words depend on the host's DNS setup */
	ck_assert_int_eq(parse("ProxyPass / http://no-such-host.invalid/\n"), -EINVAL);
	ck_assert_uint_eq(err.line, 1);
	ck_assert_pstr_eq(strstr(err.msg, "ProxyPass: cannot resolve \"no-such-host.invalid\": "),
			  err.msg);
	/* a failed line leaves nothing behind */
	ck_assert_int_eq(parse("ProxyPass / http://127.0.0.1/ bad\n"), -EINVAL);
	ck_assert_uint_eq(cfg.npass + cfg.nbackend, 0);
}
END_TEST

START_TEST(test_reverse_forms)
{
	ck_assert_int_eq(parse("ProxyPass /app/ http://127.0.0.1:8000/\n"
			       "ProxyPassReverse /app/ http://127.0.0.1:8000/\n"
			       "proxypassreverse / /internal/\n"
			       "ProxyPassReverse /u/ unix:/run/app.sock|http://localhost/\n"
			       "<VirtualHost *:80>\n"
			       "ProxyPassReverseCookiePath / /app/\n"
			       "ProxyPassReverseCookieDomain backend.lan example.org\n"
			       "</VirtualHost>\n"), 0);
	ck_assert_uint_eq(cfg.nreverse, 5);
	ck_assert_int_eq(cfg.reverse[0].kind, CFG_REV_URL);
	ck_assert_str_eq(cfg.reverse[0].to, "/app/");
	ck_assert_str_eq(cfg.reverse[0].from, "http://127.0.0.1:8000/");
	ck_assert_uint_eq(cfg.reverse[0].from_len, 22);
	ck_assert_uint_eq(cfg.reverse[0].to_len, 5);
	ck_assert_uint_eq(cfg.reverse[0].scope, 0);
	ck_assert_str_eq(cfg.reverse[1].from, "/internal/");
	/* a Unix socket URL maps as its http:// part, as httpd does */
	ck_assert_str_eq(cfg.reverse[2].from, "http://localhost/");
	/* the cookie directives: INTERNAL is what the backend sends */
	ck_assert_int_eq(cfg.reverse[3].kind, CFG_REV_COOKIE_PATH);
	ck_assert_str_eq(cfg.reverse[3].from, "/");
	ck_assert_str_eq(cfg.reverse[3].to, "/app/");
	ck_assert_uint_eq(cfg.reverse[3].scope, 1);
	ck_assert_int_eq(cfg.reverse[4].kind, CFG_REV_COOKIE_DOMAIN);
	ck_assert_str_eq(cfg.reverse[4].from, "backend.lan");
	ck_assert_str_eq(cfg.reverse[4].to, "example.org");
}
END_TEST

START_TEST(test_reverse_errors)
{
	char line[CFG_NAME_MAX + 64];

	ck_parse_err("ProxyPassReverse app http://127.0.0.1/\n", 1,
		     "ProxyPassReverse: path \"app\" must start with '/'");
	ck_parse_err("ProxyPassReverse / ftp://127.0.0.1/\n", 1,
		     "ProxyPassReverse: \"ftp://127.0.0.1/\" is not an http:// URL or a URL-path");
	ck_parse_err("ProxyPassReverse /\n", 1,
		     "ProxyPassReverse: takes 2 arguments, 1 given");
	ck_parse_err("ProxyPassReverse / http://127.0.0.1/ interpolate\n", 1,
		     "ProxyPassReverse: takes 2 arguments, 3 given");
	ck_parse_err("ProxyPassReverseCookiePath \"/a b\" /\n", 1,
		     "ProxyPassReverseCookiePath: internal value \"/a b\" must be non-empty, without "
		     "blanks, control characters or ';'");
	ck_parse_err("ProxyPassReverseCookieDomain a.lan \"\"\n", 1,
		     "ProxyPassReverseCookieDomain: public value \"\" must be non-empty, without "
		     "blanks, control characters or ';'");
	ck_parse_err("ProxyPassReverseCookieDomain a.lan b;c\n", 1,
		     "ProxyPassReverseCookieDomain: public value \"b;c\" must be non-empty, without "
		     "blanks, control characters or ';'");
	snprintf(line, sizeof(line), "ProxyPassReverse / http://h/%0*d\n", CFG_NAME_MAX, 0);
	ck_assert_int_eq(parse(line), -EINVAL);
	ck_assert_uint_eq(cfg.nreverse, 0);
}
END_TEST

START_TEST(test_proxypass_unix)
{
	const struct sockaddr_un *sun;
	char longpath[200], line[400];

	ck_assert_int_eq(parse("ProxyPass /app/ unix:/run/app.sock|http://localhost/\n"
			       "ProxyPass /b/ UNIX:/run/app.sock|http://localhost/b/\n"
			       "ProxyPass /c/ unix:/run/app.sock|http://other:81/\n"
			       "RewriteEngine On\n"
			       "RewriteRule ^/r/(.*) unix:/run/app.sock|http://localhost/r/$1 [P]\n"
			       "ProxyAutostart unix:/run/app.sock|http://localhost -- /bin/true\n"), 0);
	/* one pool per socket and Host; the [P] rule and ProxyAutostart name the same */
	ck_assert_uint_eq(cfg.nbackend, 2);
	ck_assert_str_eq(cfg.backend[0].name, "unix:/run/app.sock|http://localhost");
	ck_assert_str_eq(cfg.backend[0].authority, "localhost");
	ck_assert_str_eq(cfg.backend[1].authority, "other:81");
	sun = (const struct sockaddr_un *)&cfg.backend[0].addr;
	ck_assert_int_eq(sun->sun_family, AF_UNIX);
	ck_assert_str_eq(sun->sun_path, "/run/app.sock");
	ck_assert_uint_eq(cfg.backend[0].addrlen, offsetof(struct sockaddr_un, sun_path) + 14);
	ck_assert_str_eq(cfg.pass[0].path, "/");
	ck_assert_str_eq(cfg.pass[1].path, "/b/");
	ck_assert_int_eq(cfg.pass[1].backend, 0);
	ck_assert_int_eq(cfg.rw.rule[0].backend, 0);
	ck_assert_int_eq(cfg.backend[0].autostart, 0);
	config_free(&cfg);   /* the compiled rule */

	ck_parse_err("ProxyPass / unix:run/app.sock|http://localhost/\n", 1,
		     "ProxyPass: the socket path of \"unix:run/app.sock|http://localhost/\" must be "
		     "absolute");
	ck_parse_err("ProxyPass / unix:/run/app.sock\n", 1,
		     "ProxyPass: \"unix:/run/app.sock\": a Unix socket backend is written "
		     "unix:/PATH|http://HOST/");
	ck_parse_err("ProxyPass / unix:/run/app.sock|ftp://localhost/\n", 1,
		     "ProxyPass: \"unix:/run/app.sock|ftp://localhost/\": a Unix socket backend is "
		     "written unix:/PATH|http://HOST/");
	ck_parse_err("ProxyPass / unix:|http://localhost/\n", 1,
		     "ProxyPass: the socket path of \"unix:|http://localhost/\" must be absolute");
	ck_parse_err("ProxyPass / \"unix:/run/a\\\"b|http://localhost/\"\n", 1,
		     "ProxyPass: the socket path of \"unix:/run/a\"b|http://localhost/\" must not "
		     "contain '\"' or '\\'");
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[108] = '\0';  /* 108 bytes: no room for sun_path's NUL */
	snprintf(line, sizeof(line), "ProxyPass / unix:%s|http://localhost/\n", longpath);
	ck_assert_int_eq(parse(line), -EINVAL);
	ck_assert_pstr_eq(strstr(err.msg, "is longer than 107 bytes"),
			  err.msg + strlen(err.msg) - strlen("is longer than 107 bytes"));
	longpath[107] = '\0';  /* 107 fit */
	snprintf(line, sizeof(line), "ProxyPass / unix:%s|http://localhost/\n", longpath);
	ck_assert_int_eq(parse(line), 0);
	ck_parse_err("RewriteEngine On\nRewriteRule ^/(.*) unix:/run/$1|http://localhost/ [P]\n", 2,
		     "RewriteRule: [P]: the socket path of \"unix:/run/$1|http://localhost/\" must be "
		     "literal");
	config_free(&cfg);
	ck_parse_err("RewriteEngine On\nRewriteRule ^/(.*) unix:run.sock|http://localhost/ [P]\n", 2,
		     "RewriteRule: the socket path of \"unix:run.sock|http://localhost\" must be "
		     "absolute");
	config_free(&cfg);
}
END_TEST

START_TEST(test_proxypass_dedup)
{
	ck_assert_int_eq(parse("ProxyPass /a http://127.0.0.1:8000/a/\n"
			       "ProxyPass /b http://127.0.0.1:8000/b/\n"
			       "ProxyPass /c http://127.0.0.1:8001/\n"
			       "ProxyPass /d http://127.0.0.1/\n"
			       "ProxyPass /e http://127.0.0.1:80/e\n"
			       "ProxyPass /f http://LOCALHOST:8000/\n"
			       "ProxyPass /g http://localhost:8000/\n"), 0);
	ck_assert_uint_eq(cfg.npass, 7);
	ck_assert_uint_eq(cfg.nbackend, 4);
	ck_assert_int_eq(cfg.pass[0].backend, 0);
	ck_assert_int_eq(cfg.pass[1].backend, 0);
	ck_assert_int_eq(cfg.pass[2].backend, 1);
	ck_assert_int_eq(cfg.pass[3].backend, 2);
	ck_assert_int_eq(cfg.pass[4].backend, 2);  /* :80 is the default port */
	ck_assert_str_eq(cfg.backend[2].authority, "127.0.0.1");  /* as first written */
	ck_assert_int_eq(cfg.pass[5].backend, 3);
	ck_assert_int_eq(cfg.pass[6].backend, 3);  /* host names are case-insensitive */
	ck_assert_str_eq(cfg.backend[3].authority, "LOCALHOST:8000");
}
END_TEST

START_TEST(test_proxypass_limits)
{
	static char text[8192];
	size_t off = 0;

	/* 64 ProxyPass lines to one backend fit; the 65th does not */
	for (int i = 0; i < CFG_MAX_PASS; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"ProxyPass /p%d http://127.0.0.1:8000/\n", i);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_eq(cfg.nbackend, 1);
	snprintf(text + off, sizeof(text) - off, "ProxyPass /x !\n");
	ck_parse_err(text, CFG_MAX_PASS + 1, "ProxyPass: more than 64 ProxyPass directives");
	/* 64 distinct backends fit (the backend limit cannot be reached before the
	 * ProxyPass limit while both are 64) */
	off = 0;
	for (int i = 0; i < CFG_MAX_BACKENDS; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"ProxyPass /p%d http://127.0.0.1:%d/\n", i, 1000 + i);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_eq(cfg.nbackend, CFG_MAX_BACKENDS);
	ck_assert_uint_eq(port_of(&cfg.backend[63].addr), 1063);
}
END_TEST

START_TEST(test_flags)
{
	ck_assert_int_eq(parse("ProxyPreserveHost On\nKeepAlive oFF\n"), 0);
	ck_assert(cfg.preserve_host);
	ck_assert(!cfg.keepalive);
	ck_assert_int_eq(parse("ProxyPreserveHost on\nProxyPreserveHost Off\nKeepAlive ON\n"), 0);
	ck_assert(!cfg.preserve_host);  /* last one wins */
	ck_assert(cfg.keepalive);
	ck_parse_err("KeepAlive yes\n", 1, "KeepAlive: \"yes\" must be On or Off");
	ck_parse_err("ProxyPreserveHost 1\n", 1, "ProxyPreserveHost: \"1\" must be On or Off");
	ck_assert(!cfg.underscores_in_headers);      /* default: names with '_' dropped */
	ck_assert_int_eq(parse("UnderscoresInHeaders On\n"), 0);
	ck_assert(cfg.underscores_in_headers);
	ck_parse_err("UnderscoresInHeaders drop\n", 1,
		     "UnderscoresInHeaders: \"drop\" must be On or Off");
}
END_TEST

START_TEST(test_user_group)
{
	ck_assert_int_eq(parse("User www-data\nGroup #33\n"), 0);
	ck_assert_str_eq(cfg.user, "www-data");
	ck_assert_str_eq(cfg.group, "#33");
	ck_assert_int_eq(parse("User #1000\n"), 0);
	ck_assert_str_eq(cfg.user, "#1000");
	ck_parse_err("User #abc\n", 1, "User: \"#abc\" is not a name or #number");
	ck_parse_err("Group #\n", 1, "Group: \"#\" is not a name or #number");
	ck_parse_err("Group \"a b\"\n", 1, "Group: \"a b\" is not a name or #number");
}
END_TEST

START_TEST(test_error_log)
{
	ck_assert_int_eq(parse("ErrorLog /var/log/spliced/error.log\n"), 0);
	ck_assert_str_eq(cfg.error_log, "/var/log/spliced/error.log");
	ck_parse_err("ErrorLog syslog\n", 1, "ErrorLog: syslog is not supported");
	ck_parse_err("ErrorLog SYSLOG:local7\n", 1, "ErrorLog: syslog is not supported");
	ck_parse_err("ErrorLog \"|/usr/bin/rotatelogs x 86400\"\n", 1,
		     "ErrorLog: piped logs are not supported");
	ck_assert_int_eq(parse("ErrorLog syslog.log\n"), 0);  /* a file named like that is fine */
}
END_TEST

START_TEST(test_pid_file)
{
	ck_assert_int_eq(parse("Listen 1\nProxyPass / http://127.0.0.1:2/\n"), 0);
	ck_assert_str_eq(cfg.pid_file, "");
	ck_assert_int_eq(parse("PidFile /run/spliced/spliced.pid\n"), 0);
	ck_assert_str_eq(cfg.pid_file, "/run/spliced/spliced.pid");
	ck_parse_err("PidFile logs/httpd.pid\n", 1,
		     "PidFile: \"logs/httpd.pid\" is not an absolute path");
	ck_parse_err("PidFile \"/run/a\tb\"\n", 1, "PidFile: control characters in the path");
}
END_TEST

START_TEST(test_timeout)
{
	ck_assert_int_eq(parse("Timeout 30\n"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 30000);
	ck_assert_int_eq(parse("Timeout 86400\nTimeout 1\n"), 0);
	ck_assert_uint_eq(cfg.timeout_ms, 1000);
	ck_parse_err("Timeout abc\n", 1, "Timeout: \"abc\" is not a number of seconds");
	ck_parse_err("Timeout 0\n", 1, "Timeout: 0 is out of range 1..86400");
	ck_parse_err("Timeout 86401\n", 1, "Timeout: 86401 is out of range 1..86400");
	ck_parse_err("Timeout +5\n", 1, "Timeout: \"+5\" is not a number of seconds");
	ck_parse_err("Timeout 0x10\n", 1, "Timeout: \"0x10\" is not a number of seconds");
	ck_parse_err("Timeout 5s\n", 1, "Timeout: \"5s\" is not a number of seconds");
	ck_parse_err("Timeout 99999999999999999999999\n", 1,
		     "Timeout: 99999999999999999999999 is out of range 1..86400");
}
END_TEST

START_TEST(test_keepalive_timeout)
{
	ck_assert_int_eq(parse("KeepAliveTimeout 15\n"), 0);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 15000);
	ck_assert_int_eq(parse("KeepAliveTimeout 0\n"), 0);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 0);
	ck_assert_int_eq(parse("KeepAliveTimeout 250ms\n"), 0);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 250);
	ck_assert_int_eq(parse("KeepAliveTimeout 7MS\n"), 0);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 7);
	ck_assert_int_eq(parse("KeepAliveTimeout 3s\n"), 0);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 3000);
	ck_assert_int_eq(parse("KeepAliveTimeout 86400\n"), 0);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 86400000);
	ck_parse_err("KeepAliveTimeout 86401\n", 1,
		     "KeepAliveTimeout: 86401 is out of range 0..86400");
	ck_parse_err("KeepAliveTimeout 86400001ms\n", 1,
		     "KeepAliveTimeout: 86400001ms is out of range 0..86400000");
	ck_parse_err("KeepAliveTimeout ms\n", 1, "KeepAliveTimeout: \"ms\" is not a number of seconds");
	ck_parse_err("KeepAliveTimeout 5m\n", 1, "KeepAliveTimeout: \"5m\" is not a number of seconds");
	ck_parse_err("KeepAliveTimeout xms\n", 1,
		     "KeepAliveTimeout: \"xms\" is not a number of milliseconds");
}
END_TEST

START_TEST(test_limits)
{
	ck_assert_int_eq(parse("MaxKeepAliveRequests 0\nLimitRequestLine 1\n"
			       "LimitRequestFieldSize 65536\nLimitRequestFields 10000\n"
			       "LimitRequestBody 9223372036854775807\nMaxConnections 1000000\n"), 0);
	ck_assert_uint_eq(cfg.max_keepalive_requests, 0);
	ck_assert_uint_eq(cfg.limit_request_line, 1);
	ck_assert_uint_eq(cfg.limit_field_size, 65536);
	ck_assert_uint_eq(cfg.limit_fields, 10000);
	ck_assert_uint_eq(cfg.limit_request_body, 9223372036854775807ull);
	ck_assert_uint_eq(cfg.max_connections, 1000000);
	ck_assert_int_eq(parse("MaxKeepAliveRequests 4294967295\nLimitRequestBody 0\n"), 0);
	ck_assert_uint_eq(cfg.max_keepalive_requests, 4294967295u);
	ck_assert_uint_eq(cfg.limit_request_body, 0);
	ck_parse_err("MaxKeepAliveRequests 4294967296\n", 1,
		     "MaxKeepAliveRequests: 4294967296 is out of range 0..4294967295");
	ck_parse_err("LimitRequestLine 0\n", 1, "LimitRequestLine: 0 is out of range 1..65536");
	ck_parse_err("LimitRequestLine 65537\n", 1, "LimitRequestLine: 65537 is out of range 1..65536");
	ck_parse_err("LimitRequestFieldSize 0\n", 1,
		     "LimitRequestFieldSize: 0 is out of range 1..65536");
	ck_parse_err("LimitRequestFields 10001\n", 1,
		     "LimitRequestFields: 10001 is out of range 1..10000");
	ck_parse_err("LimitRequestBody 9223372036854775808\n", 1,
		     "LimitRequestBody: 9223372036854775808 is out of range 0..9223372036854775807");
	ck_parse_err("LimitRequestBody 18446744073709551616\n", 1,
		     "LimitRequestBody: 18446744073709551616 is out of range 0..9223372036854775807");
	ck_parse_err("LimitRequestBody -1\n", 1, "LimitRequestBody: \"-1\" is not a number of bytes");
	ck_parse_err("MaxConnections 0\n", 1, "MaxConnections: 0 is out of range 1..1000000");
	ck_parse_err("MaxConnections 1e6\n", 1,
		     "MaxConnections: \"1e6\" is not a number of connections");
}
END_TEST

/* RequestReadTimeout (mod_reqtimeout's syntax and defaults), LimitResponseField*. */
START_TEST(test_request_read_timeout)
{
	ck_assert_int_eq(parse("Timeout 5\n"), 0);
	ck_assert_uint_eq(cfg.rt_header.initial_ms, 20000);
	ck_assert_uint_eq(cfg.rt_header.max_ms, 40000);
	ck_assert_uint_eq(cfg.rt_header.rate, 500);
	ck_assert_uint_eq(cfg.rt_body.initial_ms, 20000);
	ck_assert_uint_eq(cfg.rt_body.max_ms, 0);
	ck_assert_uint_eq(cfg.rt_body.rate, 500);
	ck_assert_uint_eq(cfg.limit_resp_field_size, 32760);
	ck_assert_uint_eq(cfg.limit_resp_fields, 500);
	ck_assert_int_eq(parse("RequestReadTimeout header=10-30,MinRate=1000 body=0\n"), 0);
	ck_assert_uint_eq(cfg.rt_header.initial_ms, 10000);
	ck_assert_uint_eq(cfg.rt_header.max_ms, 30000);
	ck_assert_uint_eq(cfg.rt_header.rate, 1000);
	ck_assert_uint_eq(cfg.rt_body.initial_ms, 0);      /* off: Timeout applies */
	ck_assert_int_eq(parse("RequestReadTimeout body=7\n"), 0);
	ck_assert_uint_eq(cfg.rt_body.initial_ms, 7000);
	ck_assert_uint_eq(cfg.rt_body.rate, 0);
	ck_parse_err("RequestReadTimeout handshake=5\n", 1, "RequestReadTimeout: \"handshake=5\" is "
		     "not supported (header= or body=; handshake= needs TLS)");
	ck_parse_err("RequestReadTimeout header=20-10,MinRate=5\n", 1,
		     "RequestReadTimeout: \"20-10,MinRate=5\": the maximum is below the timeout");
	ck_parse_err("RequestReadTimeout header=20-40\n", 1,
		     "RequestReadTimeout: \"20-40\": a maximum needs MinRate");
	ck_parse_err("RequestReadTimeout body=5,Rate=3\n", 1,
		     "RequestReadTimeout: \"5,Rate=3\": expected MinRate=bytes after the comma");
	ck_parse_err("RequestReadTimeout body=x\n", 1,
		     "RequestReadTimeout: \"x\" is not a number of seconds");
	ck_assert_int_eq(parse("LimitResponseFieldSize 20000\nLimitResponseFields 300\n"), 0);
	ck_assert_uint_eq(cfg.limit_resp_field_size, 20000);
	ck_assert_uint_eq(cfg.limit_resp_fields, 300);
	ck_parse_err("LimitResponseFieldSize 40000\n", 1,
		     "LimitResponseFieldSize: 40000 is out of range 1..32760");
}
END_TEST

START_TEST(test_workers)
{
	ck_assert_int_eq(parse("Workers 4\n"), 0);
	ck_assert_uint_eq(cfg.workers, 4);
	ck_assert_int_eq(parse("Workers 256\nWorkers AUTO\n"), 0);
	ck_assert_uint_eq(cfg.workers, 0);
	ck_parse_err("Workers 0\n", 1, "Workers: 0 is out of range 1..256");
	ck_parse_err("Workers 257\n", 1, "Workers: 257 is out of range 1..256");
	ck_parse_err("Workers many\n", 1, "Workers: \"many\" is not a number of workers");
}
END_TEST

/* ---- routing ---- */

static int route(const char *path)
{
	const struct cfg_pass *p = config_route(&cfg, path, strlen(path));

	return p ? (int)(p - cfg.pass) : -1;
}

START_TEST(test_route)
{
	ck_assert_int_eq(parse("ProxyPass /app/static !\n"
			       "ProxyPass /app http://127.0.0.1:1/a\n"
			       "ProxyPass /api/ http://127.0.0.1:2/\n"
			       "ProxyPass / http://127.0.0.1:3/\n"), 0);
	ck_assert_int_eq(route("/app"), 1);
	ck_assert_int_eq(route("/app/"), 1);
	ck_assert_int_eq(route("/app/x/y"), 1);
	ck_assert_int_eq(route("/app?q=1"), 1);
	ck_assert_int_eq(route("/apple"), 3);       /* not at a segment boundary */
	ck_assert_int_eq(route("/app/static/x.css"), 0);
	ck_assert_int_eq(cfg.pass[route("/app/static")].backend, -1);
	ck_assert_int_eq(route("/app/statics"), 1);
	ck_assert_int_eq(route("/api/v1"), 2);
	ck_assert_int_eq(route("/api"), 3);         /* "/api/" needs the slash */
	ck_assert_int_eq(route("/"), 3);
	ck_assert_int_eq(route("/anything"), 3);
	/* only len bytes are looked at */
	ck_assert_ptr_eq(config_route(&cfg, "/apple", 4), &cfg.pass[1]);
}
END_TEST

/* ";params" in a segment count as absent, as Java servers route the path. */
START_TEST(test_route_path_params)
{
	uint32_t m = 0;

	ck_assert_int_eq(parse("ProxyPass /admin/ !\n"
			       "ProxyPass /app http://127.0.0.1:1/a\n"
			       "ProxyPass / http://127.0.0.1:3/\n"), 0);
	ck_assert_int_eq(route("/admin;x/secret"), 0);
	ck_assert_int_eq(route("/admin;/secret"), 0);
	ck_assert_int_eq(route("/;x/admin/secret"), 0);
	ck_assert_int_eq(route("/;a;b/;c/admin;d/e"), 0);
	ck_assert_int_eq(route("/admin/secret"), 0);
	ck_assert_int_eq(route("/admin;x"), 2);        /* "/admin/" needs the slash, as before */
	ck_assert_int_eq(route("/adm;in/x"), 2);       /* "adm" is not "admin" */
	ck_assert_int_eq(route("/app;jsessionid=1"), 1);
	ck_assert_int_eq(route("/app;s/x"), 1);
	ck_assert_int_eq(route("/apple;x"), 2);
	ck_assert_ptr_eq(config_route_scope(&cfg, 0, "/admin;x/secret", 15, &m), &cfg.pass[0]);
	ck_assert_uint_eq(m, 9);                       /* "/admin;x/" */
	ck_assert_ptr_eq(config_route_scope(&cfg, 0, "/app;s/x", 8, &m), &cfg.pass[1]);
	ck_assert_uint_eq(m, 4);                       /* "/app": ";s" stays with the rest */
	ck_assert_ptr_eq(config_route_scope(&cfg, 0, "/x", 2, &m), &cfg.pass[2]);
	ck_assert_uint_eq(m, 1);
	/* a prefix that names a parameter matches it literally */
	ck_assert_int_eq(parse("ProxyPass /a;v=1/ !\nProxyPass / http://127.0.0.1:3/\n"), 0);
	ck_assert_int_eq(route("/a;v=1/x"), 0);
	ck_assert_int_eq(route("/a;v=2/x"), 1);
}
END_TEST

START_TEST(test_route_none)
{
	ck_assert_int_eq(parse("ProxyPass /a http://127.0.0.1:1/\n"), 0);
	ck_assert_int_eq(route("/b"), -1);
	ck_assert_int_eq(route(""), -1);
	ck_assert_ptr_null(config_route(&cfg, NULL, 0));
	ck_assert_int_eq(route("/a"), 0);
	/* config order, not longest prefix, as in httpd */
	ck_assert_int_eq(parse("ProxyPass / http://127.0.0.1:1/\nProxyPass /a !\n"), 0);
	ck_assert_int_eq(route("/a"), 0);
}
END_TEST

/* ---- files and messages ---- */

static char tmp_path[64];

static void write_tmp(const char *text)
{
	int fd;

	strcpy(tmp_path, "/tmp/check_config.XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
}

START_TEST(test_load_file)
{
	write_tmp("# spliced\nListen 127.0.0.1:8081\nProxyPass / http://127.0.0.1:8001/\n"
		  "Timeout 3\n");
	memset(&cfg, 0x55, sizeof(cfg));  /* load starts from the defaults itself */
	ck_assert_int_eq(config_load(&cfg, tmp_path, &err), 0);
	ck_assert_uint_eq(cfg.nlisten, 1);
	ck_assert_uint_eq(cfg.npass, 1);
	ck_assert_uint_eq(cfg.timeout_ms, 3000);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 5000);
	ck_assert_str_eq(err.file, tmp_path);
	unlink(tmp_path);
}
END_TEST

/* ---- Include, Define, <IfModule>, <IfDefine> ---- */

static char inc_dir[64];

/* DIR/name = text (directories made as needed). */
static void inc_write(const char *name, const char *text)
{
	char path[256], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", inc_dir, name);
	for (slash = strchr(path + strlen(inc_dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static int inc_load(const char *main_text)
{
	char path[256];

	inc_write("spliced.conf", main_text);
	snprintf(path, sizeof(path), "%s/spliced.conf", inc_dir);
	config_free(&cfg);
	return config_load(&cfg, path, &err);
}

static void inc_setup(void)
{
	snprintf(inc_dir, sizeof(inc_dir), "/tmp/spliced-inc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(inc_dir));
}

/* A Debian-style layout: sites-enabled/NN-*.conf included in order, relative to the main
 * file's directory, variables from Define and from the environment. */
START_TEST(test_include_layout)
{
	setenv("SPLICED_TEST_LOG_DIR", "/var/log", 1);
	inc_setup();
	inc_write("ports.conf", "Listen 127.0.0.1:${PORT}\n");
	inc_write("sites-enabled/10-b.conf", "ProxyPass /b http://127.0.0.1:2/\n");
	inc_write("sites-enabled/00-a.conf", "ProxyPass /a http://127.0.0.1:1/\n"
		  "<VirtualHost *:80>\n ServerName v.example\n Include vhost.d/*.inc\n</VirtualHost>\n");
	inc_write("vhost.d/x.inc", "ProxyPass /v http://127.0.0.1:3/\n");
	ck_assert_msg(inc_load("Define PORT 8088\nInclude ports.conf\n"
			       "IncludeOptional conf-enabled/*.conf\n"
			       "IncludeOptional sites-enabled/*.conf\n"
			       "ErrorLog ${SPLICED_TEST_LOG_DIR}/spliced-error.log\n") == 0,
		      "%s:%u: %s", err.file, err.line, err.msg);
	ck_assert_uint_eq(cfg.nlisten, 1);
	ck_assert_str_eq(cfg.listen[0].name, "127.0.0.1:8088");
	ck_assert_uint_eq(cfg.npass, 3);
	ck_assert_str_eq(cfg.pass[0].prefix, "/a");  /* glob order: 00-a before 10-b */
	ck_assert_str_eq(cfg.pass[1].prefix, "/v");
	ck_assert_uint_eq(cfg.pass[1].scope, 1);
	ck_assert_str_eq(cfg.pass[2].prefix, "/b");
	ck_assert_str_eq(cfg.error_log, "/var/log/spliced-error.log");
	/* ServerRoot moves where relative paths start */
	ck_assert_int_eq(inc_load("ServerRoot /nonexistent-dir\n"), -EINVAL);
	ck_assert_str_eq(err.msg, "ServerRoot: /nonexistent-dir is not a directory");
}
END_TEST

START_TEST(test_include_errors)
{
	char want[512];

	inc_setup();
	/* an error in an included file names that file and its line */
	inc_write("bad.conf", "Timeout 3\nTimeout x\n");
	ck_assert_int_eq(inc_load("Listen 8080\nInclude bad.conf\n"), -EINVAL);
	snprintf(want, sizeof(want), "%s/bad.conf", inc_dir);
	ck_assert_str_eq(err.file, want);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_str_eq(err.msg, "Timeout: \"x\" is not a number of seconds");
	/* Include that matches nothing; IncludeOptional that matches nothing is fine */
	ck_assert_int_eq(inc_load("Include nothing-here/*.conf\n"), -EINVAL);
	ck_assert_uint_eq(err.line, 1);
	ck_assert_ptr_nonnull(strstr(err.msg, "nothing-here/*.conf matches no file"));
	/* a file that includes itself stops at the nesting bound */
	inc_write("loop.conf", "Include loop.conf\n");
	ck_assert_int_eq(inc_load("Include loop.conf\n"), -EINVAL);
	ck_assert_str_eq(err.msg, "Include: Include nested more than 16 deep (does a file include "
			 "itself?)");
	/* a section left open at the end of an included file */
	inc_write("open.conf", "<IfModule mod_rewrite.c>\nTimeout 3\n");
	ck_assert_int_eq(inc_load("Include open.conf\n"), -EINVAL);
	ck_assert_str_eq(err.msg, "<IfModule> section is not closed at the end of the file");
	inc_write("vh.conf", "<VirtualHost *:80>\n");
	ck_assert_int_eq(inc_load("Include vh.conf\n"), -EINVAL);
	ck_assert_str_eq(err.msg, "<VirtualHost> section is not closed at the end of the file");
}
END_TEST

/* Relative paths as httpd reads them: ErrorLog, CustomLog/TransferLog, TypesConfig,
 * DocumentRoot and RewriteMap txt: files under ServerRoot (the last one given, even after
 * them, as httpd applies it first), by default the main file's directory; PidFile must
 * stay absolute. */
START_TEST(test_server_root_relative)
{
	char text[1024], want[512];

	inc_setup();
	snprintf(want, sizeof(want), "%s/root", inc_dir);
	ck_assert_int_eq(mkdir(want, 0755), 0);
	inc_write("root/map.txt", "a b\n");
	snprintf(text, sizeof(text),
		 "Listen 127.0.0.1:8080\n"
		 "ErrorLog logs/error.log\n"
		 "CustomLog logs/access.log common\n"
		 "TransferLog /var/log/t.log\n"
		 "TypesConfig conf/mime.types\n"
		 "DocumentRoot htdocs//\n"
		 "ServerRoot %s/root\n"
		 "RewriteMap m txt:map.txt\n", inc_dir);
	ck_assert_msg(inc_load(text) == 0, "%s:%u: %s", err.file, err.line, err.msg);
	snprintf(want, sizeof(want), "%s/root/logs/error.log", inc_dir);
	ck_assert_str_eq(cfg.error_log, want);
	snprintf(want, sizeof(want), "%s/root/logs/access.log", inc_dir);
	ck_assert_str_eq(cfg.customlog[0].path, want);
	ck_assert_str_eq(cfg.customlog[1].path, "/var/log/t.log");
	snprintf(want, sizeof(want), "%s/root/conf/mime.types", inc_dir);
	ck_assert_str_eq(cfg.types_config, want);
	snprintf(want, sizeof(want), "%s/root/htdocs", inc_dir);
	ck_assert_str_eq(cfg.document_root, want);
	ck_assert_uint_eq(cfg.nroot, 1);
	ck_assert_str_eq(cfg.file_root[0], want);   /* -f/-d conditions resolve under it */
	/* no ServerRoot: the main file's directory */
	ck_assert_int_eq(inc_load("Listen 127.0.0.1:8080\nDocumentRoot www\nErrorLog e.log\n"), 0);
	snprintf(want, sizeof(want), "%s/www", inc_dir);
	ck_assert_str_eq(cfg.document_root, want);
	snprintf(want, sizeof(want), "%s/e.log", inc_dir);
	ck_assert_str_eq(cfg.error_log, want);
	/* a map read before ServerRoot names it is under the main file's directory */
	ck_assert_int_eq(inc_load("Listen 127.0.0.1:8080\nProxyPass / http://127.0.0.1:9/\n"
				  "RewriteMap m txt:map.txt\n"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, inc_dir));
	/* PidFile: absolute only (spliced -k stop and logrotate must find the same file) */
	ck_assert_int_eq(inc_load("Listen 127.0.0.1:8080\nDocumentRoot /\nPidFile run/x.pid\n"),
			 -EINVAL);
	ck_assert_str_eq(err.msg, "PidFile: \"run/x.pid\" is not an absolute path");
}
END_TEST

/* ---- every error of a file (spliced -t) ---- */

static struct config_errors errs;

static int all_load(const char *main_text)
{
	char path[256];

	inc_write("spliced.conf", main_text);
	snprintf(path, sizeof(path), "%s/spliced.conf", inc_dir);
	config_free(&cfg);
	memset(&errs, 0x55, sizeof(errs));
	return config_load_all(&cfg, path, &errs);
}

/* errs.e[i] is `msg` on `line` of DIR/name. */
static void ck_err_at(unsigned i, const char *name, unsigned line, const char *msg)
{
	char want[512];

	snprintf(want, sizeof(want), "%s/%s", inc_dir, name);
	ck_assert_uint_gt(errs.n, i);
	ck_assert_str_eq(errs.e[i].file, want);
	ck_assert_uint_eq(errs.e[i].line, line);
	ck_assert_str_eq(errs.e[i].msg, msg);
}

/* Three mistakes, three errors in file order; good lines between them still count. */
START_TEST(test_errors_all)
{
	static const char text[] =
		"Listen 127.0.0.1:8080\n"
		"Timeout x\n"
		"ProxyPass /a http://127.0.0.1:9/\n"
		"Frobnicate on\n"
		"# a comment\n"
		"KeepAliveTimeout 3\n"
		"ProxyPass /b\n";

	inc_setup();
	ck_assert_int_eq(all_load(text), -EINVAL);
	ck_assert_uint_eq(errs.n, 3);
	ck_err_at(0, "spliced.conf", 2, "Timeout: \"x\" is not a number of seconds");
	ck_err_at(1, "spliced.conf", 4, "unknown directive \"Frobnicate\"");
	ck_err_at(2, "spliced.conf", 7, "ProxyPass: takes at least 2 arguments, 1 given");
	/* config_load() still reports the first one, as before */
	ck_assert_int_eq(inc_load(text), -EINVAL);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_str_eq(err.msg, "Timeout: \"x\" is not a number of seconds");
	/* so does config_parse() */
	ck_assert_int_eq(parse(text), -EINVAL);
	ck_assert_str_eq(err.file, "test.conf");
	ck_assert_uint_eq(err.line, 2);
	/* a valid file: no error, and the checks of the whole ran */
	ck_assert_int_eq(all_load("Listen 127.0.0.1:8080\nProxyPass / http://127.0.0.1:9/\n"), 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_int_eq(all_load("Timeout 5\n"), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_uint_eq(errs.e[0].line, 0);
	ck_assert_str_eq(errs.e[0].msg, "no Listen directive");
	/* ... but not after an error in the lines: "no Listen" would only repeat line 1 */
	ck_assert_int_eq(all_load("Listen 127.0.0.1:x\nProxyPass / http://127.0.0.1:9/\n"), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_uint_eq(errs.e[0].line, 1);
}
END_TEST

/* Errors in an Include'd file name that file and its lines; the main file's go on after. */
START_TEST(test_errors_include)
{
	inc_setup();
	inc_write("inc.conf", "Timeout 3\nTimeout x\nBogus\n");
	ck_assert_int_eq(all_load("Listen 127.0.0.1:8080\nInclude inc.conf\nWorkers 0\n"
				  "Include missing/*.conf\n"), -EINVAL);
	ck_assert_uint_eq(errs.n, 4);
	ck_err_at(0, "inc.conf", 2, "Timeout: \"x\" is not a number of seconds");
	ck_err_at(1, "inc.conf", 3, "unknown directive \"Bogus\"");
	ck_assert_uint_eq(errs.e[2].line, 3);
	ck_assert_ptr_nonnull(strstr(errs.e[2].file, "/spliced.conf"));
	ck_assert_str_eq(errs.e[2].msg, "Workers: 0 is out of range 1..256");
	ck_err_at(3, "spliced.conf", 4, errs.e[3].msg);
	ck_assert_ptr_nonnull(strstr(errs.e[3].msg, "matches no file"));
}
END_TEST

/* A broken section ends the parse there (what follows would be read in the wrong scope);
 * a section left open is one error; the list stops at CFG_MAX_ERRORS. */
START_TEST(test_errors_stop)
{
	char text[2048] = "";

	inc_setup();
	ck_assert_int_eq(all_load("Timeout x\n<VirtualHost>\nServerName a\n</VirtualHost>\n"
				  "Bogus\n"), -EINVAL);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_uint_eq(errs.e[0].line, 1);
	ck_err_at(1, "spliced.conf", 2, "<VirtualHost>: needs an address, e.g. <VirtualHost *:80>");
	ck_assert_int_eq(all_load("Timeout x\n<Directory /x>\nRequire all granted\n"
				  "</Directory>\n"), -EINVAL);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_uint_eq(errs.e[1].line, 2);
	ck_assert_int_eq(all_load("Bogus\n<IfModule mod_rewrite.c>\nTimeout 3\n"), -EINVAL);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.e[1].msg, "<IfModule> section is not closed at the end of the file");
	/* the bound */
	for (unsigned i = 0; i < CFG_MAX_ERRORS + 5; i++)
		strcat(text, "Bogus\n");
	ck_assert_int_eq(all_load(text), -EINVAL);
	ck_assert_uint_eq(errs.n, CFG_MAX_ERRORS);
	ck_assert_uint_eq(errs.e[CFG_MAX_ERRORS - 1].line, CFG_MAX_ERRORS);
}
END_TEST

START_TEST(test_ifmodule_ifdefine)
{
	ck_assert_int_eq(parse("<IfModule mod_rewrite.c>\nRewriteEngine On\n</IfModule>\n"
			       "<IfModule http2_module>\nH2Direct on\n<IfModule x>\nBogus\n</IfModule>\n"
			       "</IfModule>\n"
			       "<IfModule !mod_http2.c>\nTimeout 7\n</IfModule>\n"
			       "<IfDefine !NOPE>\nKeepAliveTimeout 2\n</IfDefine>\n"
			       "Define WITH_X\n<IfDefine WITH_X>\nMaxKeepAliveRequests 5\n</IfDefine>\n"
			       "UnDefine WITH_X\n<IfDefine WITH_X>\nMaxKeepAliveRequests 9\n</IfDefine>\n"),
			 0);
	ck_assert_int_eq(cfg.scope[0].rewrite_engine, 1);
	ck_assert_uint_eq(cfg.timeout_ms, 7000);
	ck_assert_uint_eq(cfg.keepalive_timeout_ms, 2000);
	ck_assert_uint_eq(cfg.max_keepalive_requests, 5);
	/* a directive spliced does not implement is still an error where it is read */
	ck_parse_err("<IfModule mod_proxy.c>\nH2Direct on\n</IfModule>\n", 2,
		     "unknown directive \"H2Direct\"");
	ck_parse_err("</IfModule>\n", 1, "</IfModule> without matching <IfModule> section");
	ck_parse_err("<IfModule a>\n</IfDefine>\n", 2,
		     "</IfDefine> without matching <IfDefine> section");
	ck_parse_err("<IfDefine X>\n<IfModule y>\n</IfDefine>\n", 3,
		     "</IfDefine> without matching <IfDefine> section");
	ck_parse_err("<IfDefine A B>\n</IfDefine>\n", 1, "<IfDefine>: takes one name");
	ck_parse_err("<IfModule a\n", 1, "<IfModule>: missing '>' at the end of the line");
	ck_parse_err("Define 1x\n", 1,
		     "Define: \"1x\" is not a variable name (letters, digits, '_', at most 63)");
	/* ${...} that is not a variable, or not defined, stays as written (as in httpd) */
	ck_assert_int_eq(parse("Define D /d\nDocumentRoot ${D}\n"), 0);
	ck_assert_str_eq(cfg.document_root, "/d");
}
END_TEST

START_TEST(test_load_errors)
{
	char out[1200], want[1200];

	ck_assert_int_eq(config_load(&cfg, "/nonexistent/spliced.conf", &err), -ENOENT);
	ck_assert_str_eq(err.file, "/nonexistent/spliced.conf");
	ck_assert_uint_eq(err.line, 0);
	ck_assert_str_eq(err.msg, "cannot open: No such file or directory");
	config_error_format(&err, out, sizeof(out));
	ck_assert_str_eq(out, "/nonexistent/spliced.conf: cannot open: No such file or directory");

	ck_assert_int_eq(config_load(&cfg, "/tmp", &err), -EISDIR);
	ck_assert_str_eq(err.msg, "cannot read: Is a directory");

	write_tmp("Timeout 3\nKeepAlive maybe\n");
	ck_assert_int_eq(config_load(&cfg, tmp_path, &err), -EINVAL);
	config_error_format(&err, out, sizeof(out));
	snprintf(want, sizeof(want), "%s:2: KeepAlive: \"maybe\" must be On or Off", tmp_path);
	ck_assert_str_eq(out, want);
	unlink(tmp_path);

	write_tmp("ProxyPass / http://127.0.0.1:8001/\n");
	ck_assert_int_eq(config_load(&cfg, tmp_path, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "no Listen directive");
	ck_assert_uint_eq(err.line, 0);
	unlink(tmp_path);

	write_tmp("Listen 8080\nProxyPass / !\n");
	ck_assert_int_eq(config_load(&cfg, tmp_path, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "no ProxyPass, DocumentRoot or Alias directive: nothing to serve");
	ck_assert_uint_eq(err.line, 0);
	unlink(tmp_path);
}
END_TEST

START_TEST(test_load_too_big)
{
	static char block[1 << 16];
	int fd;

	memset(block, '\n', sizeof(block));
	strcpy(tmp_path, "/tmp/check_config.XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < (4 << 20) / (int)sizeof(block); i++)
		ck_assert_int_eq(write(fd, block, sizeof(block)), (int)sizeof(block));
	/* exactly 4 MiB of blank lines: read, parsed, then "no Listen" */
	ck_assert_int_eq(config_load(&cfg, tmp_path, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "no Listen directive");
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
	ck_assert_int_eq(config_load(&cfg, tmp_path, &err), -EFBIG);
	ck_assert_str_eq(err.msg, "file is larger than 4194304 bytes");
	unlink(tmp_path);
}
END_TEST

START_TEST(test_error_format)
{
	struct config_error e = { .file = "a.conf", .line = 3, .msg = "Timeout: bad" };
	char out[64], small[8];

	config_error_format(&e, out, sizeof(out));
	ck_assert_str_eq(out, "a.conf:3: Timeout: bad");
	e.line = 0;
	config_error_format(&e, out, sizeof(out));
	ck_assert_str_eq(out, "a.conf: Timeout: bad");
	config_error_format(&e, small, sizeof(small));
	ck_assert_str_eq(small, "a.conf:");
	config_error_format(&e, small, 0);  /* writes nothing, does not crash */
	e.file[0] = '\0';
	config_error_format(&e, out, sizeof(out));
	ck_assert_str_eq(out, "Timeout: bad");
}
END_TEST

/* ---- access logs ---- */

/* The compiled format of customlog[i] renders like a freshly compiled fmt. */
static void ck_same_format(const struct alog_format *got, const char *fmt)
{
	struct alog_format want;

	ck_assert_int_eq(alog_compile(&want, fmt, NULL, 0), 0);
	ck_assert_uint_eq(got->nitem, want.nitem);
	ck_assert_uint_eq(got->text_len, want.text_len);
	for (unsigned i = 0; i < want.nitem; i++) {
		ck_assert_uint_eq(got->item[i].op, want.item[i].op);
		ck_assert_uint_eq(got->item[i].off, want.item[i].off);
		ck_assert_uint_eq(got->item[i].len, want.item[i].len);
	}
	ck_assert_mem_eq(got->text, want.text, want.text_len);
}

START_TEST(test_access_logs)
{
	config_defaults(&cfg);
	ck_assert_uint_eq(cfg.ncustomlog, 0);
	ck_same_format(&cfg.default_logformat, ALOG_FMT_COMMON);

	ck_assert_int_eq(parse(
		"LogFormat \"%h %>s %{User-Agent}i\" short\n"
		"CustomLog /var/log/a.log short\n"
		"CustomLog /var/log/b.log combined\n"
		"CustomLog \"/var/log/c d.log\" \"%v %D \\\"%r\\\"\"\n"
		"TransferLog /var/log/t1.log\n"), 0);
	ck_assert_uint_eq(cfg.ncustomlog, 4);
	ck_assert_uint_eq(cfg.nlogformat, 1);
	ck_assert_str_eq(cfg.logformat[0].name, "short");
	ck_assert_str_eq(cfg.customlog[0].path, "/var/log/a.log");
	ck_same_format(&cfg.customlog[0].fmt, "%h %>s %{User-Agent}i");
	ck_assert_uint_eq(cfg.customlog[0].line, 2);
	ck_same_format(&cfg.customlog[1].fmt, ALOG_FMT_COMBINED);
	ck_assert_str_eq(cfg.customlog[2].path, "/var/log/c d.log");
	ck_same_format(&cfg.customlog[2].fmt, "%v %D \"%r\"");
	ck_same_format(&cfg.customlog[3].fmt, ALOG_FMT_COMMON);

	/* LogFormat without nickname: the default for TransferLog after it; a nickname too */
	ck_assert_int_eq(parse(
		"TransferLog /l/0\n"
		"LogFormat \"%h %U\"\n"
		"TransferLog /l/1\n"
		"LogFormat combined\n"
		"TransferLog /l/2\n"
		"LogFormat \"%m\" common\n"        /* a user's "common" wins over the built-in */
		"CustomLog /l/3 common\n"), 0);
	ck_same_format(&cfg.customlog[0].fmt, ALOG_FMT_COMMON);
	ck_same_format(&cfg.customlog[1].fmt, "%h %U");
	ck_same_format(&cfg.customlog[2].fmt, ALOG_FMT_COMBINED);
	ck_same_format(&cfg.customlog[3].fmt, "%m");
	ck_same_format(&cfg.default_logformat, ALOG_FMT_COMBINED);

	/* a redefined nickname: the last definition, one entry; directive names any case */
	ck_assert_int_eq(parse("logformat \"%h\" x\nLOGFORMAT \"%U\" x\ncustomlog /l x\n"), 0);
	ck_assert_uint_eq(cfg.nlogformat, 1);
	ck_same_format(&cfg.customlog[0].fmt, "%U");
}
END_TEST

START_TEST(test_access_log_errors)
{
	ck_parse_err("Listen 80\nLogFormat \"%h %Z\" x\n", 2,
		     "LogFormat: unrecognized LogFormat directive %Z");
	ck_parse_err("CustomLog /l \"%{Set-Cookie}o\"\n", 1,
		     "CustomLog: %{...}o (response headers) is not supported");
	ck_parse_err("CustomLog /l nosuch\n", 1,
		     "CustomLog: unknown log format nickname \"nosuch\" (a LogFormat line naming "
		     "it must come first)");
	ck_parse_err("CustomLog /l short\nLogFormat \"%h\" short\n", 1,
		     "CustomLog: unknown log format nickname \"short\" (a LogFormat line naming "
		     "it must come first)");
	ck_parse_err("CustomLog \"|/usr/bin/rotatelogs x\" common\n", 1,
		     "CustomLog: piped logs are not supported");
	ck_parse_err("CustomLog syslog:local1 common\n", 1, "CustomLog: syslog is not supported");
	ck_parse_err("TransferLog |/bin/cat\n", 1, "TransferLog: piped logs are not supported");
	ck_parse_err("CustomLog /l common env=!nolog\n", 1,
		     "CustomLog: conditional logging (\"env=\") is not supported");
	ck_parse_err("CustomLog /l common x y\n", 1,
		     "CustomLog: takes 2 to 3 arguments, 4 given");
	ck_parse_err("CustomLog /l\n", 1, "CustomLog: takes 2 to 3 arguments, 1 given");
	ck_parse_err("CustomLog \"\" common\n", 1, "CustomLog: empty argument");
	ck_parse_err("LogFormat \"%h\" \"a b\"\n", 1,
		     "LogFormat: bad nickname (empty, or with '%', a blank or a control byte)");
	ck_parse_err("LogFormat \"%h\" a%b\n", 1,
		     "LogFormat: bad nickname (empty, or with '%', a blank or a control byte)");
	ck_parse_err("LogFormat nosuch\n", 1,
		     "LogFormat: unknown log format nickname \"nosuch\" (a LogFormat line naming "
		     "it must come first)");
	ck_parse_err("CustomLog /a common\nCustomLog /b common\nTransferLog /c\n"
		     "CustomLog /d common\nTransferLog /e\n", 5,
		     "TransferLog: more than 4 access logs");
	ck_parse_err("<VirtualHost *:80>\nServerName a\nCustomLog /l common\n</VirtualHost>\n", 3,
		     "CustomLog: not supported in <VirtualHost> yet");
	ck_parse_err("<VirtualHost *:80>\nTransferLog /l\n</VirtualHost>\n", 2,
		     "TransferLog: not supported in <VirtualHost> yet");
	ck_parse_err("<VirtualHost *:80>\nLogFormat \"%h\" x\n</VirtualHost>\n", 2,
		     "LogFormat: not supported in <VirtualHost> yet");
}
END_TEST

START_TEST(test_access_log_limits)
{
	char text[4096];
	size_t off = 0;

	for (int i = 0; i < CFG_MAX_LOGFORMAT; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "LogFormat \"%%h\" n%d\n", i);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_eq(cfg.nlogformat, CFG_MAX_LOGFORMAT);
	snprintf(text + off, sizeof(text) - off, "LogFormat \"%%h\" extra\n");
	ck_parse_err(text, CFG_MAX_LOGFORMAT + 1, "LogFormat: more than 16 named formats");
	ck_parse_err("LogFormat \"%h\" "
		     "n123456789012345678901234567890123456789012345678901234567890123\n", 1,
		     "LogFormat: nickname is too long (more than 63 bytes)");
}
END_TEST


/* argv word i of autostart entry a */
static const char *as_arg(const struct cfg_autostart *a, unsigned i)
{
	return a->text + a->argv_off[i];
}

START_TEST(test_autostart_forms)
{
	const struct cfg_autostart *a;

	/* the directives in any order; the server-level defaults fill what a line leaves */
	ck_assert_int_eq(parse("ProxyAutostart http://127.0.0.1:8000 User=app Group=#7 "
			       "Dir=/srv/app/ Output=/var/log/app.log Env=A=1 env=B_2=x=y "
			       "Queue=5 StopTimeout=250ms -- /bin/sh -c \"exec sleep 1\"\n"
			       "ProxyPass / http://127.0.0.1:8000/\n"
			       "StartTimeout 3\nRestartBackoff 200ms 5\n"), 0);
	ck_assert_uint_eq(cfg.nautostart, 1);
	ck_assert_uint_eq(cfg.nbackend, 1);
	a = &cfg.autostart[0];
	ck_assert_int_eq(a->backend, 0);
	ck_assert_int_eq(cfg.backend[0].autostart, 0);
	ck_assert_str_eq(a->user, "app");
	ck_assert_str_eq(a->group, "#7");
	ck_assert_str_eq(a->dir, "/srv/app");
	ck_assert_str_eq(a->output, "/var/log/app.log");
	ck_assert_uint_eq(a->nenv, 2);
	ck_assert_str_eq(a->envtext + a->env_off[0], "A=1");
	ck_assert_str_eq(a->envtext + a->env_off[1], "B_2=x=y");
	ck_assert_uint_eq(a->queue, 5);
	ck_assert_uint_eq(a->stop_timeout_ms, 250);
	ck_assert_uint_eq(a->start_timeout_ms, 3000);
	ck_assert_uint_eq(a->backoff_min_ms, 200);
	ck_assert_uint_eq(a->backoff_max_ms, 5000);
	ck_assert_uint_eq(a->argc, 3);
	ck_assert_str_eq(as_arg(a, 0), "/bin/sh");
	ck_assert_str_eq(as_arg(a, 1), "-c");
	ck_assert_str_eq(as_arg(a, 2), "exec sleep 1");
	ck_assert_uint_eq(a->line, 1);

	/* defaults; the line's own values win over the directives */
	ck_assert_int_eq(parse("ProxyPass /a/ http://localhost:9000/x/\n"
			       "ProxyAutostart http://LOCALHOST:9000/ -- /bin/true\n"
			       "ProxyAutostart http://127.0.0.1:9001 StartTimeout=1500ms "
			       "RestartBackoff=2,4 -- /bin/true\n"
			       "StartTimeout 20\n"), 0);
	ck_assert_uint_eq(cfg.nautostart, 2);
	ck_assert_uint_eq(cfg.nbackend, 2);
	a = &cfg.autostart[0];
	ck_assert_int_eq(a->backend, 0);   /* the ProxyPass's backend: one pool, one entry */
	ck_assert_int_eq(cfg.backend[0].autostart, 0);
	ck_assert_int_eq(cfg.backend[1].autostart, 1);
	ck_assert_uint_eq(a->start_timeout_ms, 20000);
	ck_assert_uint_eq(a->backoff_min_ms, 1000);
	ck_assert_uint_eq(a->backoff_max_ms, 60000);
	ck_assert_uint_eq(a->stop_timeout_ms, 5000);
	ck_assert_uint_eq(a->queue, 256);
	ck_assert_str_eq(a->user, "");
	ck_assert_str_eq(a->dir, "");
	ck_assert_uint_eq(a->argc, 1);
	a = &cfg.autostart[1];
	ck_assert_uint_eq(a->start_timeout_ms, 1500);
	ck_assert_uint_eq(a->backoff_min_ms, 2000);
	ck_assert_uint_eq(a->backoff_max_ms, 4000);
	ck_assert_uint_eq(a->line, 3);

	/* a backend without autostart says so */
	ck_assert_int_eq(parse("ProxyPass / http://127.0.0.1:8000/\n"), 0);
	ck_assert_int_eq(cfg.backend[0].autostart, -1);
	ck_assert_uint_eq(cfg.nautostart, 0);
	/* RestartBackoff with one value: the longest delay is at least that */
	ck_assert_int_eq(parse("RestartBackoff 90\n"), 0);
	ck_assert_uint_eq(cfg.backoff_min_ms, 90000);
	ck_assert_uint_eq(cfg.backoff_max_ms, 90000);
}
END_TEST

START_TEST(test_autostart_errors)
{
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 /bin/true\n", 1,
		     "ProxyAutostart: \"/bin/true\" is not Key=Value (the command follows \"--\")");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 --\n", 1,
		     "ProxyAutostart: no command: write it after \"--\", e.g. ProxyAutostart "
		     "http://127.0.0.1:8000 -- /usr/bin/python3 /srv/app.py");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 User=a\n", 1,
		     "ProxyAutostart: no command: write it after \"--\", e.g. ProxyAutostart "
		     "http://127.0.0.1:8000 -- /usr/bin/python3 /srv/app.py");
	ck_parse_err("ProxyAutostart\n", 1, "ProxyAutostart: takes at least 1 arguments, 0 given");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 -- python3 app.py\n", 1,
		     "ProxyAutostart: the command python3 is not an absolute path");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 -- /nonexistent/x\n", 1,
		     "ProxyAutostart: the command /nonexistent/x: No such file or directory");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 -- /etc/passwd\n", 1,
		     "ProxyAutostart: the command /etc/passwd is not an executable file");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 -- /tmp\n", 1,
		     "ProxyAutostart: the command /tmp is not an executable file");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 Colour=red -- /bin/true\n", 1,
		     "ProxyAutostart: unknown option \"Colour=red\" (User, Group, Dir, Output, Env, "
		     "StartTimeout, StopTimeout, RestartBackoff, Queue)");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 User=root -- /bin/true\n", 1,
		     "ProxyAutostart: User=root: a backend never runs as root");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 group=#0 -- /bin/true\n", 1,
		     "ProxyAutostart: group=#0: a backend never runs as root");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 Dir=srv -- /bin/true\n", 1,
		     "ProxyAutostart: \"srv\" is not an absolute directory");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 Output=app.log -- /bin/true\n", 1,
		     "ProxyAutostart: Output=app.log is not an absolute path");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 Env=1A=x -- /bin/true\n", 1,
		     "ProxyAutostart: Env=1A=x is not NAME=VALUE");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 Env=A -- /bin/true\n", 1,
		     "ProxyAutostart: Env=A is not NAME=VALUE");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 Queue=0 -- /bin/true\n", 1,
		     "ProxyAutostart: 0 is out of range 1..65536");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 StartTimeout=soon -- /bin/true\n", 1,
		     "ProxyAutostart: \"soon\" is not a number of seconds");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 RestartBackoff=5,1 -- /bin/true\n", 1,
		     "ProxyAutostart: the longest delay (1000 ms) is shorter than the first (5000 ms)");
	ck_parse_err("ProxyAutostart ftp://127.0.0.1:8000 -- /bin/true\n", 1,
		     "ProxyAutostart: \"ftp://127.0.0.1:8000\" is not an http:// URL");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000/app -- /bin/true\n", 1,
		     "ProxyAutostart: name the backend without a path (http://127.0.0.1:8000), as "
		     "in ProxyPass's URL");
	ck_parse_err("ProxyAutostart http://127.0.0.1:8000 -- /bin/true\n"
		     "ProxyAutostart http://127.0.0.1:8000/ -- /bin/false\n", 2,
		     "ProxyAutostart: http://127.0.0.1:8000 already has a ProxyAutostart (line 1)");
	ck_parse_err("<VirtualHost *:80>\nProxyAutostart http://127.0.0.1:8000 -- /bin/true\n"
		     "</VirtualHost>\n", 2, "ProxyAutostart is not allowed in <VirtualHost>");
	ck_parse_err("StartTimeout 0\n", 1, "StartTimeout: 0 is out of range 1..3600");
	ck_parse_err("RestartBackoff 2 1\n", 1,
		     "RestartBackoff: the longest delay (1000 ms) is shorter than the first (2000 ms)");
	ck_parse_err("RestartBackoff 1 2 3\n", 1, "RestartBackoff: takes 1 to 2 arguments, 3 given");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	const struct ck_case cases[] = {
		{ "defaults", test_defaults, 0 },
		{ "builtin", test_builtin, 0 },
		{ "comments", test_empty_and_comments, 0 },
		{ "case", test_case_insensitive, 0 },
		{ "crlf", test_crlf, 0 },
		{ "continuation", test_continuation, 0 },
		{ "line_numbers", test_line_numbers, 0 },
		{ "quoting", test_quoting, 0 },
		{ "nul_long", test_nul_and_long_lines, 0 },
		{ "unknown_argcount", test_unknown_and_arg_count, 0 },
		{ "sections", test_sections, 0 },
		{ "listen_forms", test_listen_forms, 0 },
		{ "listen_errors", test_listen_errors, 0 },
		{ "listen_errors2", test_listen_errors2, 0 },
		{ "listen_duplicates", test_listen_duplicates, 0 },
		{ "listen_limit", test_listen_limit, 0 },
		{ "proxypass_forms", test_proxypass_forms, 0 },
		{ "proxypass_errors", test_proxypass_errors, 0 },
		{ "proxypass_upgrade", test_proxypass_upgrade, 0 },
		{ "backend_params", test_backend_params, 0 },
		{ "backend_params_errors", test_backend_params_errors, 0 },
		{ "proxypass_dedup", test_proxypass_dedup, 0 },
		{ "proxypass_limits", test_proxypass_limits, 0 },
		{ "proxypass_unix", test_proxypass_unix, 0 },
		{ "reverse_forms", test_reverse_forms, 0 },
		{ "reverse_errors", test_reverse_errors, 0 },
		{ "flags", test_flags, 0 },
		{ "user_group", test_user_group, 0 },
		{ "error_log", test_error_log, 0 },
		{ "pid_file", test_pid_file, 0 },
		{ "timeout", test_timeout, 0 },
		{ "keepalive_timeout", test_keepalive_timeout, 0 },
		{ "limits", test_limits, 0 },
		{ "workers", test_workers, 0 },
		{ "request_read_timeout", test_request_read_timeout, 0 },
		{ "route", test_route, 0 },
		{ "route_none", test_route_none, 0 },
		{ "route_path_params", test_route_path_params, 0 },
		{ "load_file", test_load_file, 0 },
		{ "load_errors", test_load_errors, 0 },
		{ "include_layout", test_include_layout, 0 },
		{ "include_errors", test_include_errors, 0 },
		{ "server_root_relative", test_server_root_relative, 0 },
		{ "errors_all", test_errors_all, 0 },
		{ "errors_include", test_errors_include, 0 },
		{ "errors_stop", test_errors_stop, 0 },
		{ "ifmodule_ifdefine", test_ifmodule_ifdefine, 0 },
		{ "load_too_big", test_load_too_big, 0 },
		{ "error_format", test_error_format, 0 },
		{ "access_logs", test_access_logs, 0 },
		{ "access_log_errors", test_access_log_errors, 0 },
		{ "access_log_limits", test_access_log_limits, 0 },
		{ "autostart_forms", test_autostart_forms, 0 },
		{ "autostart_errors", test_autostart_errors, 0 },
		{ "proxy_protocol", test_proxy_protocol, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return s;
}

int main(void)
{
	return ck_run_suite(config_suite());
}
