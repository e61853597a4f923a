/* End-to-end suite for TLS termination (SSLEngine, Listen ... https): the real spliced
 * binary with certificates the test makes with the openssl command (ECDSA P-256 and
 * RSA), the real testbackend behind it, and a TLS client written here with OpenSSL:
 * handshakes checked directly (SNI, protocol versions, ALPN, session resumption), and for
 * HTTP a bridge thread (a plain loopback port whose one connection it carries over TLS
 * to spliced), so that the suite's raw HTTP client reads the responses byte for byte.
 *
 * Needs SPLICED_BIN and TESTBACKEND_BIN (absolute paths; `make test` sets them). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "e2e.h"
#include "suite.h"

#define OPENSSL_BIN "/usr/bin/openssl"

/* ---- certificates ------------------------------------------------------------------- */

/* DIR/name.crt and DIR/name.key, self-signed for DNS:name; ec: P-256, else RSA 2048. */
static void make_cert(const char *name, bool ec)
{
	char crt[512], key[512], subj[128], san[160];
	const char *dir = e2e_temp_dir();
	char *out = NULL;
	int rc;

	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(subj, sizeof(subj), "/CN=%s", name);
	snprintf(san, sizeof(san), "subjectAltName=DNS:%s", name);
	{
		const char *argv[] = { OPENSSL_BIN, "req", "-x509", "-newkey", ec ? "ec" : "rsa:2048",
				       "-pkeyopt", ec ? "ec_paramgen_curve:P-256" : "rsa_keygen_bits:2048",
				       "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj",
				       subj, "-addext", san, NULL };

		rc = e2e_run(argv, &out);
	}
	ck_assert_msg(rc == 0, "openssl req for %s: %s", name, out);
	free(out);
}

/* The usual pair: a.test (ECDSA) and b.test (RSA). */
static void make_certs(void)
{
	make_cert("a.test", true);
	make_cert("b.test", false);
}

/* Starts spliced with a TLS port (its number in *tls_port) whose two <VirtualHost>
 * sections serve a.test and b.test, everything proxied to be_port; extra goes before
 * them. The plain port (sp->port) is the main server. */
static void start_tls(struct e2e_proc *sp, int be_port, const char *extra, int *tls_port)
{
	const char *d = e2e_temp_dir();

	*tls_port = e2e_free_port();
	e2e_spliced_startf(sp,
		"Listen 127.0.0.1:%d https\n"
		"ProxyPass / http://127.0.0.1:%d/\n"
		"%s\n"
		"<VirtualHost *:%d>\n"
		"  ServerName a.test\n"
		"  SSLEngine on\n"
		"  SSLCertificateFile %s/a.test.crt\n"
		"  SSLCertificateKeyFile %s/a.test.key\n"
		"</VirtualHost>\n"
		"<VirtualHost *:%d>\n"
		"  ServerName b.test\n"
		"  ServerAlias *.b.test\n"
		"  SSLEngine on\n"
		"  SSLCertificateFile %s/b.test.crt\n"
		"  SSLCertificateKeyFile %s/b.test.key\n"
		"</VirtualHost>\n",
		*tls_port, be_port, extra ? extra : "", *tls_port, d, d, *tls_port, d, d);
}

/* ---- a TLS client --------------------------------------------------------------------- */

struct tls_opts {
	const char *sni;              /* NULL: none */
	const char *alpn;             /* wire format ("\x02h2"), NULL: no ALPN */
	unsigned alpn_len;
	int min_version, max_version; /* 0: OpenSSL's defaults */
	SSL_SESSION *session;         /* resume it */
};

struct tls_result {
	bool ok;                      /* the handshake completed */
	char cn[128];                 /* the certificate's common name */
	int key_type;                 /* EVP_PKEY_EC, EVP_PKEY_RSA */
	char version[16];
	bool reused;
	char alpn[32];
	char fp[65];                  /* the certificate's SHA-256 fingerprint, hex */
	int group;                    /* the key exchange's group (NID_X9_62_prime256v1...) */
	unsigned long err;            /* the OpenSSL error when !ok */
};

/* x's SHA-256 fingerprint in hex. */
static void cert_fp(X509 *x, char out[65])
{
	unsigned char md[32];
	unsigned n = 0;

	ck_assert_int_eq(X509_digest(x, EVP_sha256(), md, &n), 1);
	ck_assert_uint_eq(n, 32);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static SSL_SESSION *last_session;   /* the last session (ticket) a server gave */

static int keep_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	if (last_session)
		SSL_SESSION_free(last_session);
	last_session = sess;
	return 1;   /* the reference is ours */
}

static SSL_CTX *client_ctx(const struct tls_opts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	ck_assert(ctx != NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);   /* the tests look at it themselves */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, keep_session);
	if (o->min_version)
		SSL_CTX_set_min_proto_version(ctx, o->min_version);
	if (o->max_version)
		SSL_CTX_set_max_proto_version(ctx, o->max_version);
	if (o->alpn)
		SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)o->alpn, o->alpn_len);
	return ctx;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 30 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert(fd >= 0);
	/* every blocking call below is bounded */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect %d: %s", port,
		      strerror(errno));
	return fd;
}

/* Handshakes on fd; fills r. Returns the SSL (NULL when it failed). */
static SSL *tls_handshake_on(SSL_CTX *ctx, int fd, const struct tls_opts *o,
			     struct tls_result *r)
{
	SSL *ssl = SSL_new(ctx);
	X509 *peer;

	memset(r, 0, sizeof(*r));
	SSL_set_fd(ssl, fd);
	if (o->sni)
		SSL_set_tlsext_host_name(ssl, o->sni);
	if (o->session)
		SSL_set_session(ssl, o->session);
	if (SSL_connect(ssl) != 1) {
		r->err = ERR_peek_last_error();
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	r->ok = true;
	peer = SSL_get1_peer_certificate(ssl);
	if (peer) {
		EVP_PKEY *pk = X509_get0_pubkey(peer);

		X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, r->cn,
					  sizeof(r->cn));
		r->key_type = pk ? EVP_PKEY_base_id(pk) : 0;
		cert_fp(peer, r->fp);
		X509_free(peer);
	}
	snprintf(r->version, sizeof(r->version), "%s", SSL_get_version(ssl));
	r->reused = SSL_session_reused(ssl);
	r->group = SSL_get_negotiated_group(ssl);
	{
		const unsigned char *p;
		unsigned n;

		SSL_get0_alpn_selected(ssl, &p, &n);
		snprintf(r->alpn, sizeof(r->alpn), "%.*s", (int)n, p ? (const char *)p : "");
	}
	return ssl;
}

/* One handshake with port, then a close_notify. */
static void tls_probe(int port, const struct tls_opts *o, struct tls_result *r)
{
	SSL_CTX *ctx = client_ctx(o);
	int fd = tcp_connect(port);
	SSL *ssl = tls_handshake_on(ctx, fd, o, r);

	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	SSL_CTX_free(ctx);
}

/* Sends req over TLS, a request that ends the connection; the whole answer (head and
 * body) into *out (malloc'd, NUL-terminated); *sess (when not NULL) gets the session for
 * a resumption. */
static void tls_request(int port, const struct tls_opts *o, const char *req,
			struct tls_result *r, char **out, SSL_SESSION **sess)
{
	SSL_CTX *ctx = client_ctx(o);
	int fd = tcp_connect(port);
	SSL *ssl = tls_handshake_on(ctx, fd, o, r);
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	int n;

	ck_assert_msg(ssl != NULL, "handshake with port %d failed: %s", port,
		      ERR_reason_error_string(r->err));
	ck_assert_int_eq(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
	while ((n = SSL_read(ssl, buf + len, (int)(cap - len))) > 0) {
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			ck_assert(buf != NULL);
		}
	}
	buf[len] = '\0';
	/* a session not shut down cleanly is not resumable: spliced's close_notify came */
	ck_assert_msg(SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN, "no close_notify");
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	if (sess) {
		*sess = last_session;
		last_session = NULL;
	}
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	*out = buf;
}

/* GET path over TLS with Host host and Connection: close (see tls_request). */
static void tls_get(int port, const struct tls_opts *o, const char *host, const char *path,
		    struct tls_result *r, char **out, SSL_SESSION **sess)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		 path, host);
	tls_request(port, o, req, r, out, sess);
}

/* tls_get() of a request that must be served (200). */
static void tls_get_served(int port, const struct tls_opts *o, const char *host,
			   const char *path)
{
	struct tls_result r;
	char *out;

	tls_get(port, o, host, path, &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s %s: %s", host, path,
		      e2e_escs(out));
	free(out);
}

/* ---- the bridge: plain loopback <-> TLS to spliced ------------------------------------ */

struct bridge {
	int lfd;
	int port;                     /* connect here with the raw client */
	int target;                   /* spliced's TLS port */
	struct tls_opts o;
	struct tls_result r;
	pthread_t th;
};

/* All n bytes to fd: e2e_send() on a bare descriptor. 0 or -errno. */
static int write_all(int fd, const void *p, size_t n)
{
	struct e2e_client c = { .fd = fd };

	return e2e_send(&c, p, n);
}

/* SSL_write of all n bytes on a non-blocking socket (bounded waits). */
static int bridge_write(SSL *ssl, int fd, const char *p, int n)
{
	for (int tries = 0; tries < 3000;) {
		int w = SSL_write(ssl, p, n), e;
		struct pollfd pf = { .fd = fd };

		if (w == n)
			return 0;
		e = SSL_get_error(ssl, w);
		if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
			return -1;
		pf.events = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		if (poll(&pf, 1, 10) == 0)
			tries++;
	}
	return -1;
}

/* Carries bytes both ways until both sides ended. The TLS socket is non-blocking after
 * the handshake (a record that holds no data, a session ticket, must not block the
 * bridge); the tests send a request and then read its answer (or exchange pieces of
 * 64 KiB), so a write that waits for room never waits for the bridge to read. */
static void *bridge_run(void *arg)
{
	struct bridge *b = arg;
	int cfd = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC);
	SSL_CTX *ctx = client_ctx(&b->o);
	int tfd;
	SSL *ssl;
	bool c_eof = false, t_eof = false;
	char buf[65536];

	if (cfd < 0)
		return NULL;
	tfd = tcp_connect(b->target);
	ssl = tls_handshake_on(ctx, tfd, &b->o, &b->r);
	fcntl(tfd, F_SETFL, fcntl(tfd, F_GETFL) | O_NONBLOCK);
	while (ssl && !(c_eof && t_eof)) {
		struct pollfd p[2] = { { .fd = cfd, .events = c_eof ? 0 : POLLIN },
				       { .fd = tfd, .events = t_eof ? 0 : POLLIN } };
		int n, e;

		if (SSL_pending(ssl) == 0 && poll(p, 2, 30000) <= 0)
			break;
		if (!t_eof && (SSL_pending(ssl) || (p[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
			n = SSL_read(ssl, buf, sizeof(buf));
			e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);
			if (n > 0) {
				if (write_all(cfd, buf, (size_t)n) < 0)
					break;
			} else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				t_eof = true;
				shutdown(cfd, SHUT_WR);
			}
		}
		if (!c_eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = (int)recv(cfd, buf, sizeof(buf), 0);
			if (n > 0) {
				if (bridge_write(ssl, tfd, buf, n) < 0)
					break;
			} else {
				c_eof = true;
				SSL_shutdown(ssl);
			}
		}
	}
	if (ssl)
		SSL_free(ssl);
	ERR_clear_error();
	close(tfd);
	close(cfd);
	SSL_CTX_free(ctx);
	return NULL;
}

static void bridge_start(struct bridge *b, int target, const struct tls_opts *o)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(b, 0, sizeof(*b));
	b->target = target;
	if (o)
		b->o = *o;
	b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(b->lfd >= 0);
	ck_assert(bind(b->lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ck_assert(listen(b->lfd, 1) == 0);
	ck_assert(getsockname(b->lfd, (struct sockaddr *)&a, &al) == 0);
	b->port = ntohs(a.sin_port);
	ck_assert(pthread_create(&b->th, NULL, bridge_run, b) == 0);
}

static void bridge_end(struct bridge *b)
{
	pthread_join(b->th, NULL);
	close(b->lfd);
}

/* ---- the cases -------------------------------------------------------------------- */

static const struct tls_opts o_a = { .sni = "a.test" };

START_TEST(test_sni)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	struct tls_opts o = { 0 };
	int port;

	make_certs();
	e2e_backend_start(&be, "");
	start_tls(&sp, be.port, NULL, &port);

	o.sni = "a.test";
	tls_probe(port, &o, &r);
	ck_assert_msg(r.ok, "%s", e2e_diag());
	ck_assert_str_eq(r.cn, "a.test");
	ck_assert_int_eq(r.key_type, EVP_PKEY_EC);
	o.sni = "b.test";
	tls_probe(port, &o, &r);
	ck_assert_str_eq(r.cn, "b.test");
	ck_assert_int_eq(r.key_type, EVP_PKEY_RSA);
	o.sni = "www.b.test";           /* ServerAlias *.b.test */
	tls_probe(port, &o, &r);
	ck_assert_str_eq(r.cn, "b.test");
	/* no SNI, or a name nobody serves: the first section of the port, as httpd */
	o.sni = NULL;
	tls_probe(port, &o, &r);
	ck_assert_str_eq(r.cn, "a.test");
	o.sni = "nobody.test";
	tls_probe(port, &o, &r);
	ck_assert_str_eq(r.cn, "a.test");
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

START_TEST(test_versions)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	struct tls_opts o = { .sni = "a.test" };
	char *out;
	int port;

	make_certs();
	e2e_backend_start(&be, "");
	start_tls(&sp, be.port, NULL, &port);
	o.max_version = TLS1_2_VERSION;
	tls_get(port, &o, "a.test", "/v12", &r, &out, NULL);
	ck_assert_str_eq(r.version, "TLSv1.2");
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	o.max_version = 0;
	o.min_version = TLS1_3_VERSION;
	tls_get(port, &o, "a.test", "/v13", &r, &out, NULL);
	ck_assert_str_eq(r.version, "TLSv1.3");
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	/* TLS 1.1 and lower are never offered */
	o.min_version = TLS1_VERSION;
	o.max_version = TLS1_1_VERSION;
	tls_probe(port, &o, &r);
	ck_assert(!r.ok);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* openssl s_client -sess_out, then -sess_in: "New", then "Reused". */
static void s_client_session(int port, const char *sess, bool in, const char *want)
{
	char addr[32], *out = NULL;
	const char *argv[] = { OPENSSL_BIN, "s_client", "-connect", addr, "-servername", "a.test",
			       "-tls1_2", in ? "-sess_in" : "-sess_out", sess, NULL };
	int rc;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	rc = e2e_run(argv, &out);    /* its standard input is empty: it ends at once */
	ck_assert_msg(rc == 0 && strstr(out, want), "s_client %s: exit %d, no \"%s\" in:\n%s",
		      in ? "-sess_in" : "-sess_out", rc, want, out);
	free(out);
}

/* A session resumed: TLS 1.2 as openssl s_client shows it ("Reused"), TLS 1.3 with a
 * session ticket, through OpenSSL here. */
START_TEST(test_resume)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	struct tls_opts o = { .sni = "a.test", .min_version = TLS1_3_VERSION };
	SSL_SESSION *s = NULL;
	char sess[512], *out;
	int port;

	make_certs();
	e2e_backend_start(&be, "");
	start_tls(&sp, be.port, NULL, &port);
	snprintf(sess, sizeof(sess), "%s/tls12.sess", e2e_temp_dir());
	s_client_session(port, sess, false, "New, TLSv1.2");
	s_client_session(port, sess, true, "Reused, TLSv1.2");

	tls_get(port, &o, "a.test", "/first", &r, &out, &s);
	ck_assert(!r.reused);
	free(out);
	ck_assert(s != NULL);
	o.session = s;
	tls_get(port, &o, "a.test", "/again", &r, &out, NULL);
	ck_assert_msg(r.reused, "%s: the session was not resumed", r.version);
	ck_assert_str_eq(r.version, "TLSv1.3");
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	SSL_SESSION_free(s);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* X-Forwarded-Proto: https upstream, the access log's %{SSL_PROTOCOL}x %{SSL_CIPHER}x. */
START_TEST(test_forwarded_and_log)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	char extra[1024], *out, *log;
	char path[600];
	struct e2e_response resp;
	struct e2e_client c;
	int port;

	make_certs();
	snprintf(path, sizeof(path), "%s/access.log", e2e_temp_dir());
	e2e_backend_start(&be, "");
	snprintf(extra, sizeof(extra), "LogFormat \"%%a %%{SSL_PROTOCOL}x %%{SSL_CIPHER}x %%r\" tls\n"
		 "CustomLog %s tls\nProxyPassReverse / http://127.0.0.1:%d/\n", path, be.port);
	start_tls(&sp, be.port, extra, &port);
	/* ProxyPassReverse names the origin the client asked: https */
	{
		char target[128];

		snprintf(target, sizeof(target), "/?status=302&location=http://127.0.0.1:%d/next",
			 be.port);
		tls_get(port, &o_a, "a.test", target, &r, &out, NULL);
		ck_assert_msg(strstr(out, "\r\nLocation: https://a.test/next\r\n"), "%s",
			      e2e_escs(out));
		free(out);
	}
	tls_get(port, &o_a, "a.test", "/proto", &r, &out, NULL);
	ck_assert_msg(strstr(out, "\r\nX-Forwarded-Proto: https\r\n"), "%s", e2e_escs(out));
	ck_assert_msg(strstr(out, "\r\nX-Forwarded-For: 127.0.0.1\r\n"), "%s", e2e_escs(out));
	free(out);
	/* and over plain HTTP: http, no TLS in the log */
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n", 32, &resp, false);
	ck_assert(e2e_head_has_line(resp.body, resp.body_len, "X-Forwarded-Proto: http"));
	e2e_response_free(&resp);
	e2e_client_close(&c);
	e2e_spliced_stop(&sp);   /* the access log is written out */
	log = e2e_read_file(path, NULL);
	ck_assert(log != NULL);
	ck_assert_msg(strstr(log, "127.0.0.1 TLSv1.3 TLS_"), "%s", log);
	ck_assert_msg(strstr(log, " GET /proto HTTP/1.1\n"), "%s", log);
	ck_assert_msg(strstr(log, "127.0.0.1 TLSv1.3 TLS_AES_256_GCM_SHA384 GET /proto"), "%s", log);
	ck_assert_msg(strstr(log, "127.0.0.1 - - GET /plain HTTP/1.1\n"), "%s", log);
	free(log);
	e2e_backend_stop(&be);
}
END_TEST

/* Keep-alive over TLS: an idle connection between requests leaves its slab slot (it is
 * parked, src/park.c) and takes one again for the next request; the session's facts come
 * back with it, whatever connection used the slot meanwhile (here a plain one). */
START_TEST(test_keepalive_facts)
{
	struct e2e_proc be, sp;
	struct e2e_client tc, pc;
	struct e2e_response r;
	struct bridge b;
	int port;

	make_certs();
	e2e_backend_start(&be, "");
	start_tls(&sp, be.port, "", &port);
	bridge_start(&b, port, &o_a);
	e2e_client_open(&tc, b.port);
	for (int i = 0; i < 3; i++) {
		e2e_roundtrip(&tc, "GET /tls HTTP/1.1\r\nHost: a.test\r\n\r\n", 35, &r, false);
		ck_assert_int_eq(r.status, 200);
		ck_assert_msg(e2e_head_has_line(r.body, r.body_len, "X-Forwarded-Proto: https"),
			      "request %d on the TLS connection: %s", i, e2e_esc(r.body, r.body_len));
		e2e_response_free(&r);
		/* a plain connection meanwhile, which may take the slot the TLS one left */
		e2e_client_open(&pc, sp.port);
		e2e_roundtrip(&pc, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n", 32, &r, false);
		ck_assert_msg(e2e_head_has_line(r.body, r.body_len, "X-Forwarded-Proto: http"),
			      "plain request %d: %s", i, e2e_esc(r.body, r.body_len));
		e2e_response_free(&r);
		e2e_client_close(&pc);
	}
	e2e_client_close(&tc);
	bridge_end(&b);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* RewriteCond %{HTTPS} off on the plain port redirects; over TLS the rule does not. */
START_TEST(test_redirect)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	struct e2e_response resp;
	struct e2e_client c;
	char *out;
	int port;

	make_certs();
	e2e_backend_start(&be, "");
	start_tls(&sp, be.port, "RewriteEngine on\nRewriteCond %{HTTPS} off\n"
		  "RewriteRule ^/(.*)$ https://%{HTTP_HOST}/$1 [R=301,L]\n"
		  "RewriteRule ^/scheme$ /%{REQUEST_SCHEME} [PT]\n", &port);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, "GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\n\r\n", 37, &resp, false);
	ck_assert_int_eq(resp.status, 301);
	ck_assert_str_eq(e2e_header(&resp, "Location"), "https://a.test/x?y=1");
	e2e_response_free(&resp);
	e2e_client_close(&c);
	/* a Host no <VirtualHost> names: the main server's rules, as on the plain port */
	tls_get(port, &o_a, "plain.test", "/x?y=1", &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	ck_assert_msg(strstr(out, "GET /x?y=1 HTTP/1.1\r\n"), "%s", e2e_escs(out));
	free(out);
	tls_get(port, &o_a, "plain.test", "/scheme", &r, &out, NULL);
	ck_assert_msg(strstr(out, "GET /https HTTP/1.1\r\n"), "%s", e2e_escs(out));
	free(out);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

#define BIG (10u << 20)

/* 10 MiB down and up over TLS, checked byte for byte, on one keep-alive connection. */
START_TEST(test_bodies)
{
	struct e2e_proc be, sp;
	struct e2e_response resp;
	struct e2e_client c;
	struct bridge b;
	unsigned char *body = malloc(BIG);
	char head[256];
	int port, hl;

	ck_assert(body != NULL);
	make_certs();
	e2e_backend_start(&be, "");
	start_tls(&sp, be.port, NULL, &port);
	bridge_start(&b, port, &o_a);
	e2e_client_open(&c, b.port);
	snprintf(head, sizeof(head), "GET /?len=%u HTTP/1.1\r\nHost: a.test\r\n\r\n", BIG);
	e2e_roundtrip(&c, head, strlen(head), &resp, false);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_uint_eq(resp.body_len, BIG);
	ck_assert_int_eq(e2e_pattern_mismatch(resp.body, resp.body_len), -1);
	e2e_response_free(&resp);

	e2e_random_fill(body, BIG, 16);
	hl = snprintf(head, sizeof(head), "POST /up HTTP/1.1\r\nHost: a.test\r\n"
		      "Content-Length: %u\r\n\r\n", BIG);
	ck_assert_int_eq(e2e_send(&c, head, (size_t)hl), 0);
	ck_assert_int_eq(e2e_send(&c, body, BIG), 0);
	ck_assert_int_eq(e2e_read_response(&c, &resp, false), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(e2e_header(&resp, "X-Body-Len"), "10485760");
	ck_assert_str_eq(e2e_header(&resp, "X-Body-Fnv"), e2e_hex64(e2e_fnv1a64(body, BIG)));
	e2e_response_free(&resp);
	e2e_client_close(&c);
	bridge_end(&b);
	ck_assert(b.r.ok);
	free(body);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* ---- a backend that upgrades and then echoes every byte ------------------------------ */

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[65536];
	size_t hl = 0;
	ssize_t n;
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\n\r\n";

	while (hl < sizeof(buf) && (n = recv(fd, buf + hl, sizeof(buf) - hl, 0)) > 0) {
		hl += (size_t)n;
		if (memmem(buf, hl, "\r\n\r\n", 4))
			break;
	}
	if (write_all(fd, ok, sizeof(ok) - 1) == 0) {
		char *end = memmem(buf, hl, "\r\n\r\n", 4);
		size_t rest = end ? hl - (size_t)(end + 4 - buf) : 0;

		if (rest && write_all(fd, end + 4, rest) < 0)
			goto out;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			if (write_all(fd, buf, (size_t)n) < 0)
				break;
	}
out:
	close(fd);
	return NULL;
}

static void *echo_accept(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

static int echo_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t t;

	ck_assert(lfd >= 0);
	ck_assert(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ck_assert(listen(lfd, 16) == 0);
	ck_assert(getsockname(lfd, (struct sockaddr *)&a, &al) == 0);
	ck_assert(pthread_create(&t, NULL, echo_accept, (void *)(intptr_t)lfd) == 0);
	pthread_detach(t);
	return ntohs(a.sin_port);
}

/* An upgraded connection (WebSocket) over TLS: 1 MiB each way through the tunnel, in
 * pieces of 64 KiB. */
START_TEST(test_websocket)
{
	struct e2e_proc sp;
	struct e2e_response resp;
	struct e2e_client c;
	struct bridge b;
	int port, eport;
	char conf[256];
	unsigned char *piece = malloc(65536), *back = malloc(65536);
	static const char up[] = "GET /ws HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				 "Sec-WebSocket-Version: 13\r\n\r\n";

	make_certs();
	eport = echo_start();
	port = e2e_free_port();
	snprintf(conf, sizeof(conf), "%d upgrade=websocket", eport);
	{
		const char *d = e2e_temp_dir();

		e2e_spliced_startf(&sp, "Listen 127.0.0.1:%d https\n"
				   "ProxyPass /ws http://127.0.0.1:%d/ws upgrade=websocket\n"
				   "<VirtualHost *:%d>\nServerName a.test\nSSLEngine on\n"
				   "SSLCertificateFile %s/a.test.crt\nSSLCertificateKeyFile %s/a.test.key\n"
				   "</VirtualHost>\n", port, eport, port, d, d);
	}
	bridge_start(&b, port, &o_a);
	e2e_client_open(&c, b.port);
	e2e_roundtrip(&c, up, sizeof(up) - 1, &resp, false);
	ck_assert_msg(resp.status == 101, "%d %s", resp.status, e2e_diag());
	e2e_response_free(&resp);
	for (unsigned i = 0; i < 16; i++) {
		size_t got = 0;

		e2e_random_fill(piece, 65536, i);
		ck_assert_int_eq(e2e_send(&c, piece, 65536), 0);
		/* what the response reader left buffered comes first */
		while (got < 65536) {
			ssize_t n;

			if (c.end > c.start) {
				size_t k = c.end - c.start < 65536 - got ? c.end - c.start : 65536 - got;

				memcpy(back + got, c.buf + c.start, k);
				c.start += k;
				got += k;
				continue;
			}
			n = recv(c.fd, back + got, 65536 - got, 0);
			ck_assert_msg(n > 0, "the echo stopped after %zu bytes of piece %u", got, i);
			got += (size_t)n;
		}
		ck_assert(memcmp(piece, back, 65536) == 0);
	}
	e2e_client_close(&c);
	bridge_end(&b);
	(void)conf;
	free(piece);
	free(back);
	e2e_spliced_stop(&sp);
}
END_TEST

/* Plain HTTP to the TLS port: nginx's 400 and a close. */
START_TEST(test_plain_http)
{
	struct e2e_proc be, sp;
	struct e2e_response resp;
	struct e2e_client c;
	char extra[64];
	int port, mport = e2e_free_port();

	make_certs();
	e2e_backend_start_recording(&be, "");
	snprintf(extra, sizeof(extra), "MetricsListen 127.0.0.1:%d\n", mport);
	start_tls(&sp, be.port, extra, &port);
	e2e_client_open(&c, port);
	e2e_roundtrip(&c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 32, &resp, false);
	ck_assert_int_eq(resp.status, 400);
	ck_assert_msg(strstr((const char *)resp.body, "The plain HTTP request was sent to HTTPS port"),
		      "%s", e2e_esc(resp.body, resp.body_len));
	ck_assert_int_eq(e2e_wait_closed(&c, 10000), E2E_CLOSED_EOF);
	e2e_response_free(&resp);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_handshake_failures_total{reason=\"plain_http\"}"), 1);
	{
		size_t n = 0;
		char *rec = e2e_read_file(be.record, &n);

		ck_assert_msg(!rec || n == 0, "the backend saw: %s", rec ? rec : "");
		free(rec);
	}
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* Garbage, a truncated record, a client that stops mid-handshake or says nothing: each
 * is closed and counted, and the next client is served. */
START_TEST(test_bad_clients)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct tls_result r;
	char extra[128], *out;
	int port, mport = e2e_free_port();
	/* a record header announcing 512 bytes of a ClientHello, and 9 of them */
	static const unsigned char truncated[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
						   0xfc, 0x03, 0x03, 0x00, 0x00, 0x00 };
	static const unsigned char garbage[] = { 0x16, 0x03, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l',
						 'o', 0x00, 0xff, 0xfe, 0x17, 0x42 };

	make_certs();
	e2e_backend_start(&be, "");
	snprintf(extra, sizeof(extra), "MetricsListen 127.0.0.1:%d\nRequestReadTimeout header=1\n",
		 mport);
	start_tls(&sp, be.port, extra, &port);

	e2e_client_open(&c, port);
	ck_assert_int_eq(e2e_send(&c, garbage, sizeof(garbage)), 0);
	ck_assert_int_ne(e2e_wait_closed(&c, 10000), E2E_OPEN);
	e2e_client_close(&c);

	e2e_client_open(&c, port);       /* stops mid-record, then closes */
	ck_assert_int_eq(e2e_send(&c, truncated, sizeof(truncated)), 0);
	e2e_client_close(&c);

	e2e_client_open(&c, port);       /* stops mid-record and waits: the head's timeout */
	ck_assert_int_eq(e2e_send(&c, truncated, sizeof(truncated)), 0);
	ck_assert_int_ne(e2e_wait_closed(&c, 10000), E2E_OPEN);
	e2e_client_close(&c);

	e2e_client_open(&c, port);       /* says nothing at all */
	ck_assert_int_ne(e2e_wait_closed(&c, 10000), E2E_OPEN);
	e2e_client_close(&c);

	tls_get(port, &o_a, "a.test", "/after", &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_handshake_failures_total{reason=\"protocol\"}"), 1);
	/* the closed one is counted when spliced sees its FIN; bounded wait */
	for (int i = 0; i < 100 && e2e_metric(mport, "spliced_tls_handshake_failures_total{reason=\"closed\"}") < 1; i++)
		e2e_sleep_ms(50);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_handshake_failures_total{reason=\"closed\"}"), 1);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_handshake_failures_total{reason=\"timeout\"}"), 2);
	ck_assert_int_ge(e2e_metric(mport, "spliced_tls_handshakes_total"), 1);
	ck_assert(e2e_proc_running(&sp));
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* A client that asks for 50 MiB and never reads: once the connection code gave up
 * (Timeout), the session ends too, within Timeout, instead of waiting forever for the
 * client to take the rest. */
START_TEST(test_stuck_client)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	char extra[128];
	static const char req[] = "GET /?len=52428800 HTTP/1.1\r\nHost: a.test\r\n\r\n";
	int port, mport = e2e_free_port(), fd;
	long long active = -1;
	SSL_CTX *ctx;
	SSL *ssl;

	make_certs();
	e2e_backend_start(&be, "");
	snprintf(extra, sizeof(extra), "MetricsListen 127.0.0.1:%d\nTimeout 1\n", mport);
	start_tls(&sp, be.port, extra, &port);
	ctx = client_ctx(&o_a);
	fd = tcp_connect(port);
	ssl = tls_handshake_on(ctx, fd, &o_a, &r);
	ck_assert(ssl != NULL);
	ck_assert_int_eq(SSL_write(ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_sessions_active"), 1);
	for (int i = 0; i < 150 && active != 0; i++) {
		e2e_sleep_ms(100);
		active = e2e_metric(mport, "spliced_tls_sessions_active");
	}
	ck_assert_msg(active == 0, "the session of a client that does not read is still open");
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* ALPN: http/1.1 chosen when offered; h2 alone gets the no_application_protocol alert. */
START_TEST(test_alpn)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	struct tls_opts o = { .sni = "a.test", .alpn = "\x02h2\x08http/1.1", .alpn_len = 12 };
	int port;

	make_certs();
	e2e_backend_start(&be, "");
	start_tls(&sp, be.port, NULL, &port);
	tls_probe(port, &o, &r);
	ck_assert(r.ok);
	ck_assert_str_eq(r.alpn, "http/1.1");
	o.alpn = "\x02h2";
	o.alpn_len = 3;
	tls_probe(port, &o, &r);
	ck_assert(!r.ok);
	ck_assert_msg(ERR_GET_REASON(r.err) == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL,
		      "%s", ERR_reason_error_string(r.err));
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* The fingerprint of the certificate in DIR/name.crt. */
static void file_fp(const char *name, char out[65])
{
	char path[512];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s.crt", e2e_temp_dir(), name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	cert_fp(x, out);
	X509_free(x);
}

/* A new a.test certificate and key (root's alone, 0600); its fingerprint in fp. */
static void renew_a(char fp[65])
{
	char key[512];
	struct stat st;

	make_cert("a.test", true);
	snprintf(key, sizeof(key), "%s/a.test.key", e2e_temp_dir());
	ck_assert_int_eq(chmod(key, 0600), 0);
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	file_fp("a.test", fp);
}

/* GET path for a.test: 200 and the certificate served has fingerprint fp, within 10 s
 * (bounded: a new serving process may be taking its reload). */
static void served_fp(int port, const char *path, const char *fp)
{
	struct tls_result r;
	char *out = NULL;

	for (int i = 0; i < 200; i++) {
		free(out);
		tls_get(port, &o_a, "a.test", path, &r, &out, NULL);
		if (strcmp(r.fp, fp) == 0)
			break;
		e2e_sleep_ms(50);
	}
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	ck_assert_str_eq(r.cn, "a.test");
	ck_assert_str_eq(r.fp, fp);
	free(out);
}

/* Keys only root may read (0600, root's), User nobody: start-up reads them before the
 * privilege drop; a reload has the helper open them (the serving process, nobody, could
 * not): a reload with a new certificate serves it. After a kill -9 of the serving
 * process, the new one (which reloads the configuration reloaded since start) serves it
 * too, and reloads again with the helper. */
START_TEST(test_reload_key)
{
	struct e2e_proc be, sp;
	char key[512], fp1[65], fp2[65], fp3[65];
	pid_t s1, s2;
	int port;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP reload_key: needs root (User nobody, a root-only key)\n");
		return;
	}
	make_certs();
	snprintf(key, sizeof(key), "%s/b.test.key", e2e_temp_dir());
	ck_assert_int_eq(chmod(key, 0600), 0);
	renew_a(fp1);
	e2e_backend_start(&be, "");
	start_tls(&sp, be.port, "User nobody\n", &port);
	served_fp(port, "/one", fp1);
	s1 = e2e_child_pid(sp.pid, "spliced", 0, 10000);
	ck_assert_int_gt(s1, 0);
	/* the serving process runs as nobody: it could not open the key itself */
	{
		char path[64], *st;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)s1);
		st = e2e_read_file(path, NULL);
		ck_assert_ptr_nonnull(st);
		ck_assert_msg(strstr(st, "Uid:\t65534\t65534\t65534\t65534"), "%s", st);
		free(st);
	}

	renew_a(fp2);
	ck_assert_str_ne(fp1, fp2);
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	snprintf(key, sizeof(key), "open: %s/a.test.key for the serving process",
		 e2e_temp_dir());
	ck_assert_msg(e2e_log_wait_for(&sp, key, 5000), "%s", e2e_diag());
	served_fp(port, "/two", fp2);

	/* a crash: the new serving process reloads (through the helper) and serves fp2 */
	ck_assert_int_eq(kill(s1, SIGKILL), 0);
	s2 = e2e_child_pid(sp.pid, "spliced", s1, 10000);
	ck_assert_msg(s2 > 0, "no new serving process %s", e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "serving again after a crash", 10000), "%s",
		      e2e_diag());
	served_fp(port, "/three", fp2);

	/* and it reloads a new certificate too */
	renew_a(fp3);
	ck_assert_str_ne(fp2, fp3);
	ck_assert_int_eq(kill(sp.pid, SIGHUP), 0);
	served_fp(port, "/four", fp3);
	ck_assert_uint_eq(e2e_log_count(&sp, "Permission denied"), 0);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* DIR/old.crt and DIR/old.key: a certificate that expired yesterday (the openssl command
 * of Debian 12 cannot make one: made with the library). */
static void make_expired_cert(void)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	char path[512];
	FILE *f;

	ck_assert(pk && x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -2 * 86400L);
	X509_gmtime_adj(X509_getm_notAfter(x), -86400L);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"old.test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, pk);
	ck_assert(X509_sign(x, pk, EVP_sha256()) > 0);
	snprintf(path, sizeof(path), "%s/old.crt", e2e_temp_dir());
	ck_assert((f = fopen(path, "w")) != NULL);
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof(path), "%s/old.key", e2e_temp_dir());
	ck_assert((f = fopen(path, "w")) != NULL);
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/* spliced -t reads the files as start-up would: an unreadable file and a key that does
 * not match are errors with their file:line, an expired certificate a warning. */
START_TEST(test_config_check)
{
	const char *d = e2e_temp_dir();
	char conf[512], text[2048], want[700], *out = NULL;
	const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", conf, NULL };

	make_certs();
	make_expired_cert();
	snprintf(conf, sizeof(conf), "%s/check.conf", d);
	snprintf(text, sizeof(text),
		 "Listen 127.0.0.1:1 https\nProxyPass / http://127.0.0.1:9/\n"
		 "<VirtualHost *:1>\nServerName a.test\nSSLEngine on\n"
		 "SSLCertificateFile %s/a.test.crt\n"
		 "SSLCertificateKeyFile %s/b.test.key\n"            /* line 7: b's key */
		 "</VirtualHost>\n<VirtualHost *:1>\nServerName c.test\nSSLEngine on\n"
		 "SSLCertificateFile %s/missing.crt\n"              /* line 12 */
		 "</VirtualHost>\n<VirtualHost *:1>\nServerName old.test\nSSLEngine on\n"
		 "SSLCertificateFile %s/old.crt\n"                  /* line 17 */
		 "SSLCertificateKeyFile %s/old.key\n</VirtualHost>\n", d, d, d, d, d);
	{
		FILE *f = fopen(conf, "w");

		ck_assert(f != NULL);
		fputs(text, f);
		fclose(f);
	}
	ck_assert_int_eq(e2e_run(argv, &out), 1);
	snprintf(want, sizeof(want), "%s:7: SSLCertificateKeyFile %s/b.test.key does not match "
		 "the certificate of %s/a.test.crt", conf, d, d);
	ck_assert_msg(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "%s:12: SSLCertificateFile %s/missing.crt: No such file or "
		 "directory", conf, d);
	ck_assert_msg(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "warning: %s:17: SSLCertificateFile %s/old.crt: the "
		 "certificate has expired", conf, d);
	ck_assert_msg(strstr(out, want), "%s", out);
	free(out);
}
END_TEST

/* SNI names one <VirtualHost>, Host another whose SSL settings differ: httpd's 421
 * Misdirected Request, not the other section's content under settings it does not allow
 * (here b.test takes TLS 1.3 only, the session was TLS 1.2 with a.test's SNI). Sections
 * whose settings agree share sessions (a wildcard certificate): served. */
START_TEST(test_misdirected)
{
	const char *d = e2e_temp_dir();
	struct e2e_proc be, sp;
	struct tls_result r;
	struct tls_opts o = { .sni = "a.test", .max_version = TLS1_2_VERSION };
	struct e2e_client tc;
	struct e2e_response resp;
	struct bridge b;
	char *out, a[128], z[1024];
	int port = e2e_free_port();

	make_certs();
	/* readable by the serving process's User, which reads them again at the reload */
	snprintf(a, sizeof(a), "%s/a.test.key", d);
	ck_assert_int_eq(chmod(a, 0644), 0);
	snprintf(a, sizeof(a), "%s/b.test.key", d);
	ck_assert_int_eq(chmod(a, 0644), 0);
	e2e_backend_start(&be, "");
	e2e_spliced_startf(&sp,
		"Listen 127.0.0.1:%d https\n"
		"ProxyPass / http://127.0.0.1:%d/\n"
		"<VirtualHost *:%d>\n  ServerName a.test\n  SSLEngine on\n"
		"  SSLCertificateFile %s/a.test.crt\n  SSLCertificateKeyFile %s/a.test.key\n"
		"</VirtualHost>\n"
		"<VirtualHost *:%d>\n  ServerName b.test\n  SSLEngine on\n"
		"  SSLProtocol -all +TLSv1.3\n"
		"  SSLCertificateFile %s/b.test.crt\n  SSLCertificateKeyFile %s/b.test.key\n"
		"</VirtualHost>\n"
		"<VirtualHost *:%d>\n  ServerName c.test\n  SSLEngine on\n"
		"  SSLCertificateFile %s/a.test.crt\n  SSLCertificateKeyFile %s/a.test.key\n"
		"</VirtualHost>\n",
		port, be.port, port, d, d, port, d, d, port, d, d);
	/* b.test's own SSLProtocol holds for its SNI name, though a.test is the port's first */
	o.sni = "b.test";
	tls_probe(port, &o, &r);
	ck_assert_msg(!r.ok, "TLS 1.2 with b.test's SNI: %s", r.version);
	o.sni = "a.test";
	tls_get(port, &o, "b.test", "/other", &r, &out, NULL);
	ck_assert_str_eq(r.version, "TLSv1.2");
	ck_assert_msg(strncmp(out, "HTTP/1.1 421 Misdirected Request\r\n", 34) == 0, "%s",
		      e2e_escs(out));
	free(out);
	/* its own name, and a section with the same settings: served */
	tls_get(port, &o, "a.test", "/own", &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	tls_get(port, &o, "c.test:443", "/same", &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	/* b.test's SNI over TLS 1.3, Host a.test (TLS 1.2 too): 421 as well */
	o.sni = "b.test";
	o.max_version = 0;
	tls_get(port, &o, "a.test", "/back", &r, &out, NULL);
	ck_assert_str_eq(r.version, "TLSv1.3");
	ck_assert_msg(strncmp(out, "HTTP/1.1 421 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	/* a keep-alive session of a.test goes on after a reload that numbers the sections
	 * anew (a TLS 1.3-only one first): still its own host, not misdirected */
	o.sni = "a.test";
	bridge_start(&b, port, &o);
	e2e_client_open(&tc, b.port);
	e2e_roundtrip(&tc, "GET /before HTTP/1.1\r\nHost: a.test\r\n\r\n",
		      strlen("GET /before HTTP/1.1\r\nHost: a.test\r\n\r\n"), &resp, false);
	ck_assert_int_eq(resp.status, 200);
	e2e_response_free(&resp);
	snprintf(z, sizeof(z), "<VirtualHost *:%d>\n  ServerName z.test\n  SSLEngine on\n"
		 "  SSLProtocol -all +TLSv1.3\n  SSLCertificateFile %s/b.test.crt\n"
		 "  SSLCertificateKeyFile %s/b.test.key\n</VirtualHost>\n<VirtualHost *:%d>\n"
		 "  ServerName a.test", port, d, d, port);
	snprintf(a, sizeof(a), "<VirtualHost *:%d>\n  ServerName a.test", port);
	e2e_conf_replace(&sp, a, z);
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	e2e_roundtrip(&tc, "GET /after HTTP/1.1\r\nHost: a.test\r\n\r\n",
		      strlen("GET /after HTTP/1.1\r\nHost: a.test\r\n\r\n"), &resp, false);
	ck_assert_msg(resp.status == 200, "%s", e2e_esc(resp.body, resp.body_len));
	e2e_response_free(&resp);
	e2e_client_close(&tc);
	bridge_end(&b);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* SNI names a <VirtualHost>, the request names no host (HTTP/1.0 without Host): httpd's
 * mod_ssl answers 400, and the backend sees nothing. Without SNI such a request is the
 * port's first section's, as before. */
START_TEST(test_sni_no_host)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	struct tls_opts o = { .sni = "b.test" };
	char *out, *rec;
	size_t n;
	int port;

	make_certs();
	e2e_backend_start_recording(&be, "");
	start_tls(&sp, be.port, NULL, &port);
	tls_request(port, &o, "GET /named HTTP/1.0\r\n\r\n", &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s",
		      e2e_escs(out));
	free(out);
	/* an empty Host names none either */
	o.sni = "a.test";
	tls_request(port, &o, "GET /empty HTTP/1.0\r\nHost:\r\n\r\n", &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 400 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	/* no SNI and no Host: served */
	o.sni = NULL;
	tls_request(port, &o, "GET /unnamed HTTP/1.0\r\n\r\n", &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	/* SNI and a Host: served */
	o.sni = "b.test";
	tls_get_served(port, &o, "b.test", "/hosted");
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
	rec = e2e_read_file(be.record, &n);
	ck_assert_msg(rec && memmem(rec, n, "/unnamed", 8) && memmem(rec, n, "/hosted", 7),
		      "the served requests did not reach the backend: %s",
		      rec ? e2e_esc(rec, n) : "(unreadable)");
	ck_assert_msg(!memmem(rec, n, "/named", 6) && !memmem(rec, n, "/empty", 6),
		      "a refused request reached the backend: %s", e2e_esc(rec, n));
	free(rec);
}
END_TEST

/* A section's own SSLOpenSSLConfCmd holds for the sessions SNI gives it, though each
 * session is made from the port's first section's context: b.test's Groups P-384 and
 * d.test's MaxProtocol are its own; a.test's (the first's) Groups P-521 is not c.test's,
 * whose sessions keep OpenSSL's default groups (X25519 first). A section alone on its
 * port has them in its context. A command OpenSSL refuses in a section is a load error
 * with its line. */
START_TEST(test_conf_cmd_sni)
{
	const char *d = e2e_temp_dir();
	struct e2e_proc be, sp;
	struct tls_result r;
	struct tls_opts o = { 0 };
	char conf[512], *out = NULL;
	const char *argv[] = { e2e_env_bin("SPLICED_BIN"), "-t", "-c", conf, NULL };
	static const struct {
		const char *sni;
		int group;
		const char *version;
	} want[] = {
		{ "a.test", NID_secp521r1, "TLSv1.3" },
		{ "b.test", NID_secp384r1, "TLSv1.3" },
		{ "c.test", NID_X25519, "TLSv1.3" },
		{ "d.test", NID_X25519, "TLSv1.2" },
		{ NULL, NID_secp521r1, "TLSv1.3" },    /* no SNI: the first section */
	};
	char sections[2048];
	size_t n = 0;
	int port = e2e_free_port(), alone = e2e_free_port();

	make_certs();
	for (unsigned i = 0; i < 4; i++)
		n += (size_t)snprintf(sections + n, sizeof(sections) - n,
				      "<VirtualHost *:%d>\n  ServerName %s\n  SSLEngine on\n"
				      "  SSLCertificateFile %s/a.test.crt\n"
				      "  SSLCertificateKeyFile %s/a.test.key\n%s</VirtualHost>\n",
				      port, want[i].sni, d, d,
				      i == 0 ? "  SSLOpenSSLConfCmd Groups P-521\n" :
				      i == 1 ? "  SSLOpenSSLConfCmd Groups P-384\n" :
				      i == 3 ? "  SSLOpenSSLConfCmd MaxProtocol TLSv1.2\n" : "");
	n += (size_t)snprintf(sections + n, sizeof(sections) - n,
			      "<VirtualHost *:%d>\n  ServerName e.test\n  SSLEngine on\n"
			      "  SSLCertificateFile %s/b.test.crt\n"
			      "  SSLCertificateKeyFile %s/b.test.key\n"
			      "  SSLOpenSSLConfCmd Groups P-384\n</VirtualHost>\n", alone, d, d);
	ck_assert(n < sizeof(sections));
	e2e_backend_start(&be, "");
	e2e_spliced_startf(&sp, "Listen 127.0.0.1:%d https\nListen 127.0.0.1:%d https\n"
			   "ProxyPass / http://127.0.0.1:%d/\n%s", port, alone, be.port, sections);
	for (unsigned i = 0; i < CK_N(want); i++) {
		o.sni = want[i].sni;
		tls_probe(port, &o, &r);
		ck_assert_msg(r.ok, "handshake with SNI %s", want[i].sni);
		ck_assert_msg(r.group == want[i].group, "SNI %s: group %s, wanted %s",
			      want[i].sni, OBJ_nid2sn(r.group), OBJ_nid2sn(want[i].group));
		ck_assert_msg(strcmp(r.version, want[i].version) == 0, "SNI %s: %s", want[i].sni,
			      r.version);
	}
	/* and the request goes through on such a session */
	o.sni = "b.test";
	tls_get_served(port, &o, "b.test", "/p384");
	o.sni = NULL;
	tls_probe(alone, &o, &r);
	ck_assert_msg(r.ok && r.group == NID_secp384r1, "alone: group %s", OBJ_nid2sn(r.group));
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);

	snprintf(conf, sizeof(conf), "%s/cmd.conf", d);
	{
		FILE *f = fopen(conf, "w");

		ck_assert(f != NULL);
		fprintf(f, "Listen 127.0.0.1:1 https\nProxyPass / http://127.0.0.1:9/\n"
			"<VirtualHost *:1>\nServerName a.test\nSSLEngine on\n"
			"SSLCertificateFile %s/a.test.crt\nSSLCertificateKeyFile %s/a.test.key\n"
			"</VirtualHost>\n<VirtualHost *:1>\nServerName b.test\nSSLEngine on\n"
			"SSLCertificateFile %s/b.test.crt\nSSLCertificateKeyFile %s/b.test.key\n"
			"SSLOpenSSLConfCmd Groups no-such-group\n"     /* line 14 */
			"</VirtualHost>\n", d, d, d, d);
		fclose(f);
	}
	ck_assert_int_eq(e2e_run(argv, &out), 1);
	{
		char w[600];

		snprintf(w, sizeof(w), "%s:14: SSLOpenSSLConfCmd Groups \"no-such-group\": refused "
			 "by OpenSSL", conf);
		ck_assert_msg(strstr(out, w), "%s", out);
	}
	free(out);
}
END_TEST

/* The metric's value once it has settled at want (bounded wait: a session gives its
 * buffers back when its last send's completion came, maybe after the client read it). */
static long long metric_settled(int mport, const char *name, long long want)
{
	long long v = -1;

	for (int i = 0; i < 100; i++) {
		v = e2e_metric(mport, name);
		if (v == want)
			break;
		e2e_sleep_ms(50);
	}
	return v;
}

/* Every session slot taken (MaxConnections 2, one worker) by clients that say nothing:
 * the next is closed at once and counted in spliced_connections_refused_total, like a
 * plain connection over MaxConnections; once the slots are free a client is served. */
START_TEST(test_table_full)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	char extra[128], *out;
	int port, mport = e2e_free_port(), idle[2], fd;
	char b;

	make_certs();
	e2e_backend_start(&be, "");
	snprintf(extra, sizeof(extra), "MetricsListen 127.0.0.1:%d\nMaxConnections 2\n", mport);
	start_tls(&sp, be.port, extra, &port);
	for (int i = 0; i < 2; i++)
		idle[i] = tcp_connect(port);
	ck_assert_int_eq(metric_settled(mport, "spliced_tls_sessions_active", 2), 2);
	ck_assert_int_eq(e2e_metric(mport, "spliced_connections_refused_total"), 0);
	fd = tcp_connect(port);
	ck_assert_int_eq(recv(fd, &b, 1, 0), 0);   /* closed at once (SO_RCVTIMEO bounds it) */
	close(fd);
	ck_assert_int_eq(e2e_metric(mport, "spliced_connections_refused_total"), 1);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_handshake_failures_total{reason=\"closed\"}"), 0);
	{
		char *log = e2e_spliced_log(&sp);

		ck_assert_msg(strstr(log, "all 2 TLS sessions of this worker are in use"), "%s", log);
		free(log);
	}
	for (int i = 0; i < 2; i++)
		close(idle[i]);
	ck_assert_int_eq(metric_settled(mport, "spliced_tls_sessions_active", 0), 0);
	tls_get(port, &o_a, "a.test", "/after", &r, &out, NULL);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", e2e_escs(out));
	free(out);
	ck_assert_int_eq(e2e_metric(mport, "spliced_connections_refused_total"), 1);
	ck_assert(e2e_proc_running(&sp));
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* One keep-alive request on ssl: a 200 with the backend's 100-byte body, whole. */
/* A 200 whose body of blen bytes follows its head, read off ssl into buf (cap bytes);
 * where the body starts. */
static const char *read_answer(SSL *ssl, char *buf, size_t cap, size_t blen, int i)
{
	size_t len = 0;
	const char *end = NULL;

	while (!end || len < (size_t)(end + 4 - buf) + blen) {
		int n = SSL_read(ssl, buf + len, (int)(cap - 1 - len));

		ck_assert_msg(n > 0, "connection %d: the answer stopped after %zu bytes", i, len);
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "connection %d: %s", i, e2e_escs(buf));
	ck_assert_uint_eq(len, (size_t)(end + 4 - buf) + blen);
	return end + 4;
}

static void ka_exchange(SSL *ssl, int i)
{
	static const char req[] = "GET /idle?len=100 HTTP/1.1\r\nHost: a.test\r\n\r\n";
	char buf[4096];
	const char *body;

	ck_assert_int_eq(SSL_write(ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
	body = read_answer(ssl, buf, sizeof(buf), 100, i);
	for (size_t k = 0; k < 100; k++)
		ck_assert_int_eq((unsigned char)body[k], (k * 7 + 3) % 251);
}

/* 200 TLS keep-alive connections, each idle after one request: none holds buffers
 * (spliced_tls_buffers_in_use), and each is answered again, whole, afterwards. */
START_TEST(test_idle_no_buffers)
{
	enum { N = 200 };
	struct e2e_proc be, sp;
	struct tls_result r;
	char extra[128];
	int port, mport = e2e_free_port(), fd[N];
	SSL *ssl[N];
	SSL_CTX *ctx;

	make_certs();
	e2e_backend_start(&be, "");
	snprintf(extra, sizeof(extra), "MetricsListen 127.0.0.1:%d\n", mport);
	start_tls(&sp, be.port, extra, &port);
	ctx = client_ctx(&o_a);
	for (int i = 0; i < N; i++) {
		fd[i] = tcp_connect(port);
		ssl[i] = tls_handshake_on(ctx, fd[i], &o_a, &r);
		ck_assert_msg(ssl[i] != NULL, "handshake %d", i);
		ka_exchange(ssl[i], i);
	}
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_sessions_active"), N);
	ck_assert_int_eq(metric_settled(mport, "spliced_tls_buffers_in_use", 0), 0);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < N; i++)
			ka_exchange(ssl[i], i);
	ck_assert_int_eq(metric_settled(mport, "spliced_tls_buffers_in_use", 0), 0);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_sessions_active"), N);
	for (int i = 0; i < N; i++) {
		SSL_free(ssl[i]);
		close(fd[i]);
	}
	ck_assert_int_eq(metric_settled(mport, "spliced_tls_sessions_active", 0), 0);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_buffers_in_use"), 0);
	SSL_CTX_free(ctx);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* Clients that read their response and close at once, with spliced's close_notify still
 * unread (so their kernel answers it with a reset), as load generators do with
 * Connection: close: every session ends, and none is touched after it ended (the log has
 * no error line; a session freed in the middle of its own close once went on to wait on
 * descriptor 0 and logged completions for an idle session). */
START_TEST(test_close_reset)
{
	enum { N = 60 };
	static const char req[] = "GET /bye?len=10 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
	struct e2e_proc be, sp;
	struct tls_result r;
	char extra[128], buf[1024], *log;
	int port, mport = e2e_free_port();
	SSL_CTX *ctx;

	make_certs();
	e2e_backend_start(&be, "");
	snprintf(extra, sizeof(extra), "MetricsListen 127.0.0.1:%d\n", mport);
	start_tls(&sp, be.port, extra, &port);
	ctx = client_ctx(&o_a);
	for (int i = 0; i < N; i++) {
		int fd = tcp_connect(port);
		SSL *ssl = tls_handshake_on(ctx, fd, &o_a, &r);

		ck_assert_msg(ssl != NULL, "handshake %d", i);
		ck_assert_int_eq(SSL_write(ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
		read_answer(ssl, buf, sizeof(buf), 10, i);
		/* the close_notify may or may not be here yet: the socket goes with it unread */
		SSL_free(ssl);
		close(fd);
	}
	ck_assert_int_eq(metric_settled(mport, "spliced_tls_sessions_active", 0), 0);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_handshakes_total"), N);
	e2e_sleep_ms(300);   /* (a stray completion would be logged by now) */
	log = e2e_spliced_log(&sp);
	ck_assert_msg(!strstr(log, ":error]"), "%s", log);
	free(log);
	ck_assert(e2e_proc_running(&sp));
	SSL_CTX_free(ctx);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* One response read off c: status 200 and the backend's pattern body of `len` bytes. */
static void direct_get(struct e2e_client *c, const char *path, unsigned len)
{
	struct e2e_response r;
	char req[256];

	snprintf(req, sizeof(req), "GET %s?len=%u HTTP/1.1\r\nHost: a.test\r\n\r\n", path, len);
	e2e_roundtrip(c, req, strlen(req), &r, false);
	ck_assert_msg(r.status == 200, "%s: %d", path, r.status);
	ck_assert_uint_eq(r.body_len, len);
	ck_assert_int_eq(e2e_pattern_mismatch(r.body, r.body_len), -1);
	e2e_response_free(&r);
}

/* Over TLS a connection reads and writes through its session, with no socketpair: keep-
 * alive requests (parked between them), two pipelined in one write, a request body, a
 * 1 MiB response and a client that closes mid-response all go without one
 * (spliced_tls_socketpairs_total stays 0). A static file needs a socket (sendfile): that
 * connection goes on through a socketpair (the counter is 1) and is answered again. At a
 * reload the sessions move to the new configuration's worker with their connections, so
 * the old configuration ends while TLS clients stay connected. */
START_TEST(test_direct_paths)
{
	struct e2e_proc be, sp;
	struct e2e_response r;
	struct e2e_client c, c2;
	struct bridge b, b2, b3;
	const char *d;
	char path[512], req[512];
	unsigned char *up = malloc(300000);
	int port = e2e_free_port(), mport = e2e_free_port(), hl;
	FILE *f;

	ck_assert(up != NULL);
	make_certs();
	d = e2e_temp_dir();
	snprintf(path, sizeof(path), "%s/static", d);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/static/f.txt", d);
	f = fopen(path, "w");
	ck_assert(f != NULL);
	for (int i = 0; i < 2000; i++)
		fprintf(f, "line %04d of a static file\n", i);
	fclose(f);
	e2e_backend_start(&be, "");
	e2e_spliced_startf(&sp,
		"Listen 127.0.0.1:%d https\n"
		"MetricsListen 127.0.0.1:%d\n"
		"ProxyPass /static/ !\n"
		"ProxyPass / http://127.0.0.1:%d/\n"
		"Alias /static/ \"%s/static/\"\n"
		"<VirtualHost *:%d>\n"
		"  ServerName a.test\n"
		"  SSLEngine on\n"
		"  SSLCertificateFile %s/a.test.crt\n"
		"  SSLCertificateKeyFile %s/a.test.key\n"
		"</VirtualHost>\n",
		port, mport, be.port, d, port, d, d);

	bridge_start(&b, port, &o_a);
	e2e_client_open(&c, b.port);
	for (int i = 0; i < 5; i++)
		direct_get(&c, "/ka", 100 + (unsigned)i);
	/* two requests in one write: both answered, in order */
	hl = snprintf(req, sizeof(req), "GET /p1?len=10 HTTP/1.1\r\nHost: a.test\r\n\r\n"
		      "GET /p2?len=20 HTTP/1.1\r\nHost: a.test\r\n\r\n");
	ck_assert_int_eq(e2e_send(&c, req, (size_t)hl), 0);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_assert_uint_eq(r.body_len, 10);
	e2e_response_free(&r);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_assert_uint_eq(r.body_len, 20);
	e2e_response_free(&r);
	/* a request body (copied through the session), then a 1 MiB response */
	e2e_random_fill(up, 300000, 7);
	hl = snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\nHost: a.test\r\n"
		      "Content-Length: 300000\r\n\r\n");
	ck_assert_int_eq(e2e_send(&c, req, (size_t)hl), 0);
	ck_assert_int_eq(e2e_send(&c, up, 300000), 0);
	ck_assert_int_eq(e2e_read_response(&c, &r, false), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(e2e_header(&r, "X-Body-Fnv"), e2e_hex64(e2e_fnv1a64(up, 300000)));
	e2e_response_free(&r);
	direct_get(&c, "/big", 1u << 20);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_socketpairs_total"), 0);

	/* a client that goes away in the middle of a 10 MiB response */
	bridge_start(&b2, port, &o_a);
	e2e_client_open(&c2, b2.port);
	hl = snprintf(req, sizeof(req), "GET /gone?len=%u HTTP/1.1\r\nHost: a.test\r\n\r\n", BIG);
	ck_assert_int_eq(e2e_send(&c2, req, (size_t)hl), 0);
	e2e_sleep_ms(50);
	e2e_client_close(&c2);
	bridge_end(&b2);
	direct_get(&c, "/after-gone", 50);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_socketpairs_total"), 0);

	/* a static file: sendfile needs a socket */
	e2e_roundtrip(&c, "GET /static/f.txt HTTP/1.1\r\nHost: a.test\r\n\r\n", 44, &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 2000 * 27);
	ck_assert(memcmp(r.body, "line 0000 of a static file\n", 27) == 0);
	ck_assert(memcmp(r.body + 1999 * 27, "line 1999 of a static file\n", 27) == 0);
	e2e_response_free(&r);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_socketpairs_total"), 1);
	direct_get(&c, "/after-file", 64);

	/* a reload with two idle TLS connections open, one parked through its session, one
	 * relayed through the socketpair of its static file: both sessions move to the new
	 * configuration's worker, which answers both, and the old configuration ends while
	 * they stay open (it waited for every TLS client to go, and kept its memory) */
	bridge_start(&b3, port, &o_a);
	e2e_client_open(&c2, b3.port);
	direct_get(&c2, "/before-reload", 30);
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "configuration 1: its last requests finished", 10000),
		      "the old configuration still runs: %s", e2e_diag());
	direct_get(&c2, "/after-reload", 40);
	direct_get(&c, "/after-reload-relayed", 41);
	e2e_roundtrip(&c, "GET /static/f.txt HTTP/1.1\r\nHost: a.test\r\n\r\n", 44, &r, false);
	ck_assert_uint_eq(r.body_len, 2000 * 27);
	e2e_response_free(&r);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_socketpairs_total"), 1);
	/* and again: the moved sessions move on */
	ck_assert_msg(e2e_reload(&sp, 3), "%s", e2e_diag());
	ck_assert_msg(e2e_log_wait_for(&sp, "configuration 2: its last requests finished", 10000),
		      "the second configuration still runs: %s", e2e_diag());
	direct_get(&c2, "/after-reload-2", 42);
	direct_get(&c, "/after-reload-2-relayed", 43);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tls_sessions_active"), 2);
	e2e_client_close(&c2);
	bridge_end(&b3);
	e2e_client_close(&c);
	bridge_end(&b);
	ck_assert(b.r.ok);
	ck_assert_int_eq(metric_settled(mport, "spliced_tls_sessions_active", 0), 0);
	ck_assert(e2e_proc_running(&sp));
	free(up);
	e2e_spliced_stop(&sp);
	e2e_backend_stop(&be);
}
END_TEST

/* A bridge to port and a client on it (bridge_start(), e2e_client_open()). */
static void direct_open(struct bridge *b, struct e2e_client *c, int port)
{
	bridge_start(b, port, &o_a);
	e2e_client_open(c, b->port);
}

static void direct_close(struct bridge *b, struct e2e_client *c)
{
	e2e_client_close(c);
	bridge_end(b);
}

/* spliced with the usual TLS port (start_tls()) before a test backend; and both gone. */
static void direct_start(struct e2e_proc *be, struct e2e_proc *sp, const char *extra,
			 int *port)
{
	make_certs();
	e2e_backend_start(be, "");
	start_tls(sp, be->port, extra, port);
}

static void direct_stop(struct e2e_proc *be, struct e2e_proc *sp)
{
	ck_assert(e2e_proc_running(sp));
	e2e_spliced_stop(sp);
	e2e_backend_stop(be);
}

/* The next response on c has status want (its body is not looked at). */
static void direct_status(struct e2e_client *c, int want)
{
	struct e2e_response r;

	c->timeout_ms = 10000;
	ck_assert_msg(e2e_read_response(c, &r, false) == 0, "%s; %s", r.err, e2e_diag());
	ck_assert_msg(r.status == want, "%d, not %d: %s", r.status, want, e2e_escs(r.head));
	e2e_response_free(&r);
}

/* Responses that do not simply follow their request, through the session: spliced's own
 * "100 Continue" before the body is sent, a backend's 103 before its 200, and a backend's
 * answer while the client is still sending the body (its receive is cancelled). */
START_TEST(test_direct_interim)
{
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct bridge b;
	char buf[32];
	int port;

	direct_start(&be, &sp, "Timeout 30\n", &port);
	direct_open(&b, &c, port);
	ck_assert_int_eq(e2e_send_str(&c, "POST /up?body=echo HTTP/1.1\r\nHost: a.test\r\n"
				       "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"), 0);
	ck_assert_int_eq(recv(c.fd, buf, 25, MSG_WAITALL), 25);
	ck_assert(memcmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
	ck_assert_int_eq(e2e_send_str(&c, "hello"), 0);
	direct_status(&c, 200);
	ck_assert_int_eq(e2e_send_str(&c, "GET /?early=103&len=10 HTTP/1.1\r\nHost: a.test\r\n\r\n"),
			 0);
	direct_status(&c, 103);
	direct_status(&c, 200);
	direct_get(&c, "/after", 10);
	/* (the client waits: the answer must not wait for Timeout) */
	ck_assert_int_eq(e2e_send_str(&c, "POST /up?noread=5000&status=401 HTTP/1.1\r\n"
				       "Host: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
				       "5\r\nhello\r\n"), 0);
	direct_status(&c, 401);
	direct_close(&b, &c);
	direct_stop(&be, &sp);
}
END_TEST

/* The connection's own deadlines over TLS (the session has none while a connection
 * reads and writes through it): RequestReadTimeout for a head and for a body (408, then
 * the end), KeepAliveTimeout for a parked connection (the end). */
START_TEST(test_direct_timeouts)
{
	static const char *const req[3] = {
		"GET / HTTP/1.1\r\nHost: a.te",
		"POST /up HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\n0123456789",
		"GET /parked?len=10 HTTP/1.1\r\nHost: a.test\r\n\r\n",
	};
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct bridge b;
	int port;

	direct_start(&be, &sp, "RequestReadTimeout header=1 body=1\nKeepAliveTimeout 1\n", &port);
	for (int i = 0; i < 3; i++) {
		direct_open(&b, &c, port);
		ck_assert_int_eq(e2e_send_str(&c, req[i]), 0);
		direct_status(&c, i < 2 ? 408 : 200);
		ck_assert_int_eq(e2e_wait_closed(&c, 5000), E2E_CLOSED_EOF);
		direct_close(&b, &c);
	}
	direct_stop(&be, &sp);
}
END_TEST

/* A reload with a TLS connection that has sent nothing yet (its receive is cancelled, it
 * goes over) and one whose request is in flight (answered here, then it goes over); a
 * stop with a request in flight (answered whole) and a parked connection: the process
 * ends cleanly, no error logged. */
START_TEST(test_direct_reload_stop)
{
	static const char slow[] = "GET /slow?delay=1000&len=100000 HTTP/1.1\r\nHost: a.test\r\n\r\n";
	struct e2e_proc be, sp;
	struct e2e_client c, c2;
	struct e2e_response r;
	struct bridge b, b2;
	char *log;
	int port;

	direct_start(&be, &sp, NULL, &port);
	direct_open(&b, &c, port);
	direct_open(&b2, &c2, port);
	direct_get(&c2, "/first", 10);
	ck_assert_int_eq(e2e_send_str(&c2, slow), 0);
	e2e_sleep_ms(300);
	ck_assert_msg(e2e_reload(&sp, 2), "%s", e2e_diag());
	ck_assert_int_eq(e2e_read_response(&c2, &r, false), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 100000);
	e2e_response_free(&r);
	direct_get(&c, "/fresh-after", 12);
	direct_get(&c2, "/busy-after", 13);
	ck_assert_int_eq(e2e_send_str(&c2, slow), 0);
	e2e_sleep_ms(300);
	kill(sp.pid, SIGTERM);
	ck_assert_int_eq(e2e_read_response(&c2, &r, false), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 100000);
	ck_assert_int_eq(e2e_pattern_mismatch(r.body, r.body_len), -1);
	e2e_response_free(&r);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	log = e2e_spliced_log(&sp);
	ck_assert_msg(!strstr(log, ":error]"), "%s", log);
	free(log);
	direct_close(&b, &c);
	direct_close(&b2, &c2);
	e2e_backend_stop(&be);
}
END_TEST

/* TLS 1.3 KeyUpdates asked for before requests (what reading makes OpenSSL say goes out
 * before the answer), then 100 requests in one write: all answered, in order. */
START_TEST(test_direct_keyupdate_pipeline)
{
	enum { N = 100 };
	const struct tls_opts o = { .sni = "a.test", .min_version = TLS1_3_VERSION };
	struct e2e_proc be, sp;
	struct e2e_client c;
	struct e2e_response r;
	struct tls_result tr;
	struct bridge b;
	char *req = malloc(N * 64);
	size_t len = 0;
	int port, fd;
	SSL_CTX *ctx;
	SSL *ssl;

	ck_assert(req != NULL);
	direct_start(&be, &sp, NULL, &port);
	ctx = client_ctx(&o);
	fd = tcp_connect(port);
	ssl = tls_handshake_on(ctx, fd, &o, &tr);
	ck_assert(ssl != NULL);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(SSL_key_update(ssl, i % 2 ? SSL_KEY_UPDATE_REQUESTED
							  : SSL_KEY_UPDATE_NOT_REQUESTED), 1);
		ka_exchange(ssl, i);
	}
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	direct_open(&b, &c, port);
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(req + len, "GET /p%d?len=%d HTTP/1.1\r\nHost: a.test\r\n\r\n",
				       i, i + 1);
	ck_assert_int_eq(e2e_send(&c, req, len), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(e2e_read_response(&c, &r, false) == 0, "%d: %s", i, r.err);
		ck_assert_int_eq(r.status, 200);
		ck_assert_uint_eq(r.body_len, (size_t)i + 1);
		ck_assert_int_eq(e2e_pattern_mismatch(r.body, r.body_len), -1);
		e2e_response_free(&r);
	}
	direct_close(&b, &c);
	free(req);
	direct_stop(&be, &sp);
}
END_TEST

/* The largest of the three numbers in /proc/sys/net/ipv4/NAME (tcp_wmem, tcp_rmem). */
static long sysctl_max(const char *name)
{
	char path[128], *text;
	long a = 0, b = 0, c = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", name);
	text = e2e_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(sscanf(text, "%ld %ld %ld", &a, &b, &c), 3);
	free(text);
	return c;
}

/* A client that asks for a KeyUpdate with every piece of a request body and never reads:
 * each costs spliced a KeyUpdate record that cannot go out. What the kernel's buffers do
 * not hold waits in the session, up to a bound: past it the session ends (the client's
 * writes then fail) instead of growing with the upload (800,000 of them held 21 MB). The
 * client stops trying at twice what the buffers on the way can hold. */
START_TEST(test_talk_no_read)
{
	struct e2e_proc be, sp;
	struct tls_result r;
	const struct tls_opts o = { .sni = "a.test", .min_version = TLS1_3_VERSION };
	static const char head[] = "POST /up HTTP/1.1\r\nHost: a.test\r\n"
				   "Content-Length: 1000000000\r\n\r\n";
	char piece[64];
	/* a KeyUpdate record is 27 bytes; spliced's socket buffer, the client's (asked for
	 * 4 KiB) and the session's own (100 KiB) */
	long held = sysctl_max("tcp_wmem") + 65536 + 100 * 1024, tries = 2 * held / 27, i;
	int port, fd, rcv = 4096;
	SSL_CTX *ctx;
	SSL *ssl;

	memset(piece, 'x', sizeof(piece));
	direct_start(&be, &sp, "Timeout 2\n", &port);
	ctx = client_ctx(&o);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	close(tcp_connect(port));   /* (spliced is up) */
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct timeval tv = { .tv_sec = 30 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		ck_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	}
	ssl = tls_handshake_on(ctx, fd, &o, &r);
	ck_assert(ssl != NULL);
	ck_assert_int_eq(SSL_write(ssl, head, (int)sizeof(head) - 1), (int)sizeof(head) - 1);
	for (i = 0; i < tries; i++)
		if (SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1 ||
		    SSL_write(ssl, piece, sizeof(piece)) != (int)sizeof(piece))
			break;
	ERR_clear_error();
	ck_assert_msg(i < tries, "%ld KeyUpdates unanswered and the session goes on", i);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	direct_stop(&be, &sp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e_tls");
	const struct ck_case cases[] = {
		{ "sni", test_sni, 0 },
		{ "versions", test_versions, 0 },
		{ "resume", test_resume, 0 },
		{ "forwarded_and_log", test_forwarded_and_log, 0 },
		{ "keepalive_facts", test_keepalive_facts, 0 },
		{ "redirect", test_redirect, 0 },
		{ "bodies", test_bodies, 0 },
		{ "websocket", test_websocket, 0 },
		{ "plain_http", test_plain_http, 0 },
		{ "bad_clients", test_bad_clients, 0 },
		{ "alpn", test_alpn, 0 },
		{ "reload_key", test_reload_key, 0 },
		{ "stuck_client", test_stuck_client, 0 },
		{ "config_check", test_config_check, 0 },
		{ "misdirected", test_misdirected, 0 },
		{ "sni_no_host", test_sni_no_host, 0 },
		{ "conf_cmd_sni", test_conf_cmd_sni, 0 },
		{ "table_full", test_table_full, 0 },
		{ "idle_no_buffers", test_idle_no_buffers, 0 },
		{ "direct_paths", test_direct_paths, 0 },
		{ "close_reset", test_close_reset, 0 },
		{ "direct_interim", test_direct_interim, 0 },
		{ "direct_timeouts", test_direct_timeouts, 0 },
		{ "direct_reload_stop", test_direct_reload_stop, 0 },
		{ "direct_keyupdate_pipeline", test_direct_keyupdate_pipeline, 0 },
		{ "talk_no_read", test_talk_no_read, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return ck_run_suite(s);
}
