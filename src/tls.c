/* TLS termination in the worker's ring. The accepted TCP socket belongs to a session
 * here: its bytes are received and sent with io_uring operations; OpenSSL reads records
 * from a memory BIO and writes them into the session's send buffer (a BIO of ours), so
 * nothing ever blocks the worker. Once the handshake is done the worker opens a client
 * connection on the socket, and the connection code's receives and sends on it come here
 * (exch.c: tls_c_recv(), tls_c_send()): decrypted into its buffer, encrypted from it,
 * completed as the ring would (tls_next_post()). What needs a real socket (sendfile, a
 * tunnel's splices) detaches the connection: from then on its plaintext goes through an
 * AF_UNIX socketpair whose other end the session relays (tls_c_detach()). At a reload
 * the session moves to the successor worker's table (tls_export_try(), tls_adopt()). With kernel TLS the TCP socket itself could go to the
 * connection code; this kernel has none (see tls_kernel_available()), so the records
 * are made here and bodies are copied. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
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

#include "spliced/config.h"
#include "spliced/conn.h"
#include "spliced/hbuf.h"
#include "spliced/log.h"
#include "spliced/ring.h"
#include "spliced/stats.h"
#include "spliced/tls.h"
#include "spliced/trace.h"
#include "spliced/worker.h"

#define TLS_BUF 16384              /* one record's plaintext */
#define TLS_NOUT (2 * TLS_BUF + 2048) /* two records with their overhead */
#define TLS_BUFS (3 * TLS_BUF + TLS_NOUT) /* a busy session's four buffers, one block */
#define TLS_SPARE 16               /* blocks a worker keeps for the next busy session */
#define TLS_FILE_MAX (1u << 20)    /* a certificate or key file bigger is a mistake */
#define TLS_LINGER_MS 2000
#define TLS_SPILL_MAX (2 * TLS_NOUT) /* records waiting behind a send in flight: two
				      * records' worth and what reading made OpenSSL say */

struct tls_ctxs {
	const struct config *cfg;
	SSL_CTX *ctx[CFG_MAX_VHOSTS + 1]; /* by scope; NULL where SSLEngine is not on */
	bool cmds_per_session[CFG_MAX_VHOSTS + 1]; /* the section shares a port: its own
						    * TLS_CMD_SESSION lines go to each session,
						    * not to its context (tls_hello()) */
};

/* ---- contexts ---- */

struct tls_load {
	const struct config *cfg;
	tls_report_fn *report;
	void *arg;
	tls_open_fn *open;         /* NULL: open(2) */
	void *open_arg;
	char *msg;
	size_t len;
	unsigned errors;
};

static void tls_say(struct tls_load *l, bool warning, const struct cfg_where *at,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void tls_say(struct tls_load *l, bool warning, const struct cfg_where *at,
		    const char *fmt, ...)
{
	struct config_error e;
	char text[500], full[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (l->report) {
		l->report(l->arg, warning, at, text);
	} else {
		config_where(l->cfg, at, &e);
		snprintf(e.msg, sizeof(e.msg), "%s", text);
		config_error_format(&e, full, sizeof(full));
		if (warning)
			log_warn("tls", "%s", full);
	}
	if (!warning && l->errors++ == 0) {
		config_where(l->cfg, at, &e);
		snprintf(e.msg, sizeof(e.msg), "%s", text);
		config_error_format(&e, l->msg, l->len);
	}
}

/* OpenSSL's last error, as text. */
static const char *tls_err(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		snprintf(buf, len, "no usable data");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* The whole file as a memory BIO (read here, so that a failure names errno). */
static BIO *tls_file_bio(struct tls_load *l, const struct tls_file *f, const char *what)
{
	struct stat st;
	char *data;
	ssize_t n;
	BIO *b;
	char why[400];
	int fd = l->open ? l->open(l->open_arg, (unsigned)(f - l->cfg->tls->file), f, why,
				   sizeof(why))
			 : open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (l->open)
			tls_say(l, false, &f->at, "%s %s: %s", what, f->path, why);
		else
			tls_say(l, false, &f->at, "%s %s: %s", what, f->path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)TLS_FILE_MAX) {
		tls_say(l, false, &f->at, "%s %s: not a regular file of at most 1 MiB", what,
			f->path);
		close(fd);
		return NULL;
	}
	data = malloc((size_t)st.st_size + 1);
	n = data ? read(fd, data, (size_t)st.st_size) : -1;
	close(fd);
	if (n < 0) {
		tls_say(l, false, &f->at, "%s %s: %s", what, f->path, strerror(errno));
		free(data);
		return NULL;
	}
	b = BIO_new(BIO_s_mem());
	if (b) /* BIO_reset() rewinds, to read the key from a certificate's file */
		BIO_set_flags(b, BIO_FLAGS_NONCLEAR_RST);
	if (b && BIO_write(b, data, (int)n) != (int)n) {
		BIO_free(b);
		b = NULL;
	}
	OPENSSL_cleanse(data, (size_t)n);
	free(data);
	if (!b)
		tls_say(l, false, &f->at, "%s %s: out of memory", what, f->path);
	return b;
}

static const struct tls_file *tls_nth(const struct tls_conf *t, unsigned scope,
				      enum tls_file_kind kind, unsigned n)
{
	for (unsigned i = 0; i < t->nfile; i++)
		if (t->file[i].scope == scope && t->file[i].kind == kind && n-- == 0)
			return &t->file[i];
	return NULL;
}

/* Certificate (and its chain) from cert, key from key (or from cert when key is NULL)
 * into ctx; the chain file's certificates after it. 0 or -1 (reported). */
static int tls_load_pair(struct tls_load *l, SSL_CTX *ctx, const struct tls_file *cert,
			 const struct tls_file *key, const struct tls_file *chain)
{
	char e[256];
	X509 *x = NULL, *extra;
	EVP_PKEY *pk = NULL;
	BIO *b = tls_file_bio(l, cert, "SSLCertificateFile");
	int ret = -1;

	if (!b)
		return -1;
	x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
	if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
		tls_say(l, false, &cert->at, "SSLCertificateFile %s: no certificate (%s)",
			cert->path, tls_err(e, sizeof(e)));
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		tls_say(l, true, &cert->at, "SSLCertificateFile %s: the certificate has expired",
			cert->path);
	/* the rest of the file is its chain */
	SSL_CTX_clear_chain_certs(ctx);
	while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, extra) != 1)
			X509_free(extra);
	ERR_clear_error();
	if (key) {
		BIO_free(b);
		b = tls_file_bio(l, key, "SSLCertificateKeyFile");
		if (!b)
			goto out;
	} else {
		key = cert;
		BIO_reset(b);
	}
	pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	if (!pk) {
		tls_say(l, false, &key->at, "%s %s: no private key (%s)", key == cert ?
			"SSLCertificateFile" : "SSLCertificateKeyFile", key->path,
			tls_err(e, sizeof(e)));
		goto out;
	}
	if (!X509_check_private_key(x, pk) || SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
		ERR_clear_error();
		tls_say(l, false, &key->at, "SSLCertificateKeyFile %s does not match the "
			"certificate of %s", key->path, cert->path);
		goto out;
	}
	if (chain) {
		BIO_free(b);
		b = tls_file_bio(l, chain, "SSLCertificateChainFile");
		if (!b)
			goto out;
		while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			if (SSL_CTX_add0_chain_cert(ctx, extra) != 1)
				X509_free(extra);
		ERR_clear_error();
	}
	ret = 0;
out:
	EVP_PKEY_free(pk);
	X509_free(x);
	BIO_free(b);
	return ret;
}

/* ALPN: http/1.1 only. A client that offers ALPN without it gets a
 * no_application_protocol alert (h2 alone, for one). */
static int tls_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		    const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];

		if (i + 1 + n > inlen)
			break;
		if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

struct tls_sess;
static int tls_hello(SSL *ssl, int *alert, void *arg);

/* Scope's own TLS_CMD_SESSION SSLOpenSSLConfCmd lines (with main_too, the main server's
 * before them) applied to ssl. 0, or -1 with *bad the command OpenSSL refused (its error
 * in OpenSSL's queue). */
static int tls_session_cmds(const struct tls_conf *t, SSL *ssl, unsigned scope, bool main_too,
			    const struct tls_cmd **bad)
{
	SSL_CONF_CTX *cc = NULL;
	int ret = 0;

	*bad = NULL;
	for (unsigned pass = main_too ? 0 : 1; pass < 2 && ret == 0; pass++)
		for (unsigned i = 0; i < t->ncmd && ret == 0; i++) {
			const struct tls_cmd *c = &t->cmd[i];

			if (c->where != TLS_CMD_SESSION || c->scope != (pass ? scope : 0))
				continue;
			if (!cc) {
				cc = SSL_CONF_CTX_new();
				if (!cc)
					return -1;
				SSL_CONF_CTX_set_flags(cc, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER |
							   SSL_CONF_FLAG_SHOW_ERRORS);
				SSL_CONF_CTX_set_ssl(cc, ssl);
			}
			if (SSL_CONF_cmd(cc, c->name, c->value) <= 0) {
				*bad = c;
				ret = -1;
			}
		}
	if (cc) {
		if (SSL_CONF_CTX_finish(cc) != 1)
			ret = -1;
		SSL_CONF_CTX_free(cc);
	}
	return ret;
}

/* Checks scope's own per-session commands on a session of ctx, as a handshake will apply
 * them (they are not in the context: a session of another section of the port would
 * keep them). */
static void tls_session_cmds_check(struct tls_load *l, SSL_CTX *ctx, unsigned s)
{
	const struct tls_cmd *bad;
	SSL *ssl = SSL_new(ctx);
	char e[256];

	if (!ssl) {
		tls_say(l, false, &l->cfg->tls->sc[s].engine_at, "SSLEngine: %s",
			tls_err(e, sizeof(e)));
		return;
	}
	if (tls_session_cmds(l->cfg->tls, ssl, s, false, &bad) < 0) {
		if (bad)
			tls_say(l, false, &bad->at, "SSLOpenSSLConfCmd %s \"%s\": refused by "
				"OpenSSL (%s)", bad->name, bad->value, tls_err(e, sizeof(e)));
		else
			tls_say(l, false, &l->cfg->tls->sc[s].engine_at, "SSLOpenSSLConfCmd: %s",
				tls_err(e, sizeof(e)));
	}
	SSL_free(ssl);
}

/* The name tls_hello() chose by is acknowledged (and kept in the session), as before. */
static int tls_sni_ack(SSL *ssl, int *alert, void *arg)
{
	(void)ssl;
	(void)alert;
	(void)arg;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_ctx_new(struct tls_load *l, struct tls_ctxs *x, unsigned s)
{
	const struct config *cfg = l->cfg;
	const struct tls_conf *t = cfg->tls;
	struct tls_scope m;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CONF_CTX *cc = NULL;
	char sid[32], e[256];
	unsigned ncert = 0;
	long opts;

	if (!ctx) {
		tls_say(l, false, &t->sc[s].engine_at, "SSLEngine: %s", tls_err(e, sizeof(e)));
		return NULL;
	}
	tls_scope_merged(cfg, s, &m);
	SSL_CTX_set_min_proto_version(ctx, m.protocols & TLS_P_12 ? TLS1_2_VERSION
								   : TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, m.protocols & TLS_P_13 ? TLS1_3_VERSION
								   : TLS1_2_VERSION);
	opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
	if (m.honor_order == 1)
		opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
	if (m.tickets == 0)
		opts |= SSL_OP_NO_TICKET;
	SSL_CTX_set_options(ctx, (uint64_t)opts);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (m.ciphers[0] && SSL_CTX_set_cipher_list(ctx, m.ciphers) != 1)
		tls_say(l, false, &t->sc[s].engine_at, "SSLCipherSuite \"%s\": %s", m.ciphers,
			tls_err(e, sizeof(e)));
	if (m.suites[0] && SSL_CTX_set_ciphersuites(ctx, m.suites) != 1)
		tls_say(l, false, &t->sc[s].engine_at, "SSLCipherSuite TLSv1.3 \"%s\": %s",
			m.suites, tls_err(e, sizeof(e)));
	snprintf(sid, sizeof(sid), "spliced-%u", s);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sid, (unsigned)strlen(sid));
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn, NULL);
	SSL_CTX_set_client_hello_cb(ctx, tls_hello, x);
	SSL_CTX_set_tlsext_servername_callback(ctx, tls_sni_ack);
	for (const struct tls_file *c; (c = tls_nth(t, s, TLS_F_CERT, ncert)) != NULL; ncert++)
		if (tls_load_pair(l, ctx, c, tls_nth(t, s, TLS_F_KEY, ncert),
				  tls_nth(t, s, TLS_F_CHAIN, 0)) < 0)
			break;
	/* SSLOpenSSLConfCmd: the main server's, then the section's (but, when it shares a
	 * port, those a session holds: each session of the section gets them, tls_hello()) */
	x->cmds_per_session[s] = tls_scope_shared_port(cfg, s) != 0;
	cc = SSL_CONF_CTX_new();
	if (cc) {
		SSL_CONF_CTX_set_flags(cc, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER |
					   SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
		SSL_CONF_CTX_set_ssl_ctx(cc, ctx);
		for (unsigned pass = 0; pass < 2; pass++)
			for (unsigned i = 0; i < t->ncmd; i++)
				if (t->cmd[i].scope == (pass ? s : 0) &&
				    !(pass && x->cmds_per_session[s] &&
				      t->cmd[i].where == TLS_CMD_SESSION) &&
				    SSL_CONF_cmd(cc, t->cmd[i].name, t->cmd[i].value) <= 0)
					tls_say(l, false, &t->cmd[i].at, "SSLOpenSSLConfCmd %s \"%s\": "
						"refused by OpenSSL (%s)", t->cmd[i].name,
						t->cmd[i].value, tls_err(e, sizeof(e)));
		SSL_CONF_CTX_finish(cc);
		SSL_CONF_CTX_free(cc);
	}
	if (x->cmds_per_session[s])
		tls_session_cmds_check(l, ctx, s);
	return ctx;
}

int tls_ctxs_load(const struct config *cfg, struct tls_ctxs **out, tls_report_fn *report,
		  void *arg, char *msg, size_t len)
{
	return tls_ctxs_load_via(cfg, out, report, arg, NULL, NULL, msg, len);
}

int tls_ctxs_load_via(const struct config *cfg, struct tls_ctxs **out, tls_report_fn *report,
		      void *arg, tls_open_fn *open_fn, void *open_arg, char *msg, size_t len)
{
	struct tls_load l = { .cfg = cfg, .report = report, .arg = arg, .open = open_fn,
			      .open_arg = open_arg, .msg = msg, .len = len };
	struct tls_ctxs *x;

	*out = NULL;
	if (!cfg->tls)
		return 0;
	x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	x->cfg = cfg;
	for (unsigned s = 1; s < cfg->nscope; s++)
		if (tls_scope_on(cfg, s))
			x->ctx[s] = tls_ctx_new(&l, x, s);
	if (l.errors) {
		tls_ctxs_free(x);
		return -1;
	}
	*out = x;
	return 0;
}

void tls_ctxs_free(struct tls_ctxs *x)
{
	if (!x)
		return;
	for (unsigned s = 0; s <= CFG_MAX_VHOSTS; s++)
		SSL_CTX_free(x->ctx[s]);
	free(x);
}

bool tls_kernel_available(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, s = -1;
	bool ok = false;

	if (ls < 0)
		return false;
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(ls, 1) == 0 &&
	    getsockname(ls, (struct sockaddr *)&a, &al) == 0 &&
	    (c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    (s = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		ok = setsockopt(s, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) == 0;
	if (s >= 0)
		close(s);
	if (c >= 0)
		close(c);
	close(ls);
	return ok;
}

/* ---- sessions ---- */

/* One client's TLS connection. `net` is the TCP socket. Direct (no socketpair): the
 * connection's receive waits for records (recv(net) -> SSL_read into its buffer), its
 * send becomes records sent on net (SSL_write -> nout -> send(net)). Detached: `plain`
 * is our end of the socketpair (the connection code has the other), and each direction
 * has one operation in flight at most: client -> backend: recv(net) -> SSL_read ->
 * send(plain); backend -> client: recv(plain) -> SSL_write -> send(net). The handshake
 * shares net's recv and send. A receive waits for readiness (a poll) and reads only
 * then, so a session that waits holds no buffer: its four buffers (one block, TLS_BUFS)
 * are taken when a completion comes and given back once nothing is being sent
 * (tls_bufs_idle()). */
struct tls_sess {
	SSL *ssl;
	BIO *rb, *wb;                  /* records from the client / to it (owned by ssl) */
	int net, plain;
	uint32_t idx;
	uint8_t pending;               /* operations in the ring naming this session */
	bool used;
	bool hs_done;
	bool first;                    /* no byte received yet (plain HTTP detection) */
	bool net_rd, net_wr, plain_rd, plain_wr; /* an operation of each kind is in flight */
	bool net_eof;                  /* the client sent FIN (or close_notify) */
	bool plain_eof;                /* the connection code closed its write side */
	bool plain_gone;               /* ... and its read side: what the client sends is dropped */
	bool shut_sent;                /* close_notify is queued */
	bool linger;                   /* our side is done: net is read until EOF or deadline */
	bool dead;                     /* closing: waits for pending == 0 */
	uint64_t deadline_ms;
	uint64_t id;
	uint16_t server_port;
	uint16_t port;
	uint16_t scope;                /* whose settings the handshake uses (SNI picks it) */
	bool sni;                      /* the client named a server */
	char ip[INET6_ADDRSTRLEN];
	char *nin, *pin;               /* receive buffers: net (records), plain (NULL: idle) */
	char *pout, *nout;             /* what goes out: plaintext to plain, records to net */
	uint32_t pout_off, pout_len, nout_off, nout_len;
	/* OpenSSL writes its records into nout itself (tls_wbio_write()); what does not fit
	 * while a send is in flight waits here (rare: an alert, a ticket) */
	char *spill;
	uint32_t spill_len, spill_cap;
	struct worker *w;
	struct conn_origin handoff;    /* the plaintext end, once the handshake is done */
	bool has_handoff;
	/* Direct: no socketpair; the connection in slot `conn` reads and writes through
	 * the session (tls_c_*()), `net` is its fd too. */
	bool direct;
	bool attached;                 /* that connection has not let go (tls_c_close()) */
	uint32_t conn;
	bool c_rd, c_rd_sel;           /* its receive waits for plaintext ... */
	int c_rd_op;
	char *c_rd_buf;                /* ... to land here (not c_rd_sel) */
	uint32_t c_rd_len;
	bool c_wr;                     /* its send's records are being sent ... */
	int c_wr_op;
	uint32_t c_wr_n;               /* ... carrying this many of its bytes */
	/* Reload: moving to the successor worker once nothing is in flight here */
	bool exporting;
	bool export_relay;             /* alone (it relays a socketpair) */
	struct conn_origin export_o;   /* else with this connection */
};

struct tls_worker {
	struct tls_sess *s;
	uint32_t n;
	uint32_t *free;
	uint32_t nfree;
	uint32_t active;
	uint64_t full_log_ms;          /* the last "table full" line (its time + 1), 0: none */
	uint64_t full_quiet;           /* refusals since that line, not logged */
	char *spare[TLS_SPARE];        /* free buffer blocks kept for reuse */
	uint32_t nspare;
	uint32_t bufs_out;             /* blocks held by sessions */
	struct tls_post *post;         /* completions for connections (a ring of npost: a
					* connection has two at most in flight) */
	uint32_t npost, post_head, post_len;
};

static const char tls_plain_page[] =
	"HTTP/1.1 400 Bad Request\r\n"
	"Content-Type: text/html\r\n"
	"Content-Length: 146\r\n"
	"Connection: close\r\n"
	"\r\n"
	"<html><head><title>400 Bad Request</title></head><body>\n"
	"<h1>Bad Request</h1>\n"
	"<p>The plain HTTP request was sent to HTTPS port.</p>\n"
	"</body></html>\n";

int tls_worker_init(struct worker *w)
{
	struct tls_worker *t;

	w->tls = NULL;
	if (!w->tls_ctxs)
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->n = w->nconns;
	t->s = calloc(t->n, sizeof(*t->s));
	t->free = calloc(t->n, sizeof(*t->free));
	t->npost = 2 * t->n + 2;
	t->post = calloc(t->npost, sizeof(*t->post));
	if (!t->s || !t->free || !t->post) {
		free(t->s);
		free(t->free);
		free(t->post);
		free(t);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < t->n; i++)
		t->free[i] = t->n - 1 - i;
	t->nfree = t->n;
	w->tls = t;
	return 0;
}

/* s's four buffers, for the completion being handled: 0, or -ENOMEM. */
static int tls_bufs_take(struct worker *w, struct tls_sess *s)
{
	struct tls_worker *t = w->tls;

	if (s->nin)
		return 0;
	s->nin = t->nspare ? t->spare[--t->nspare] : malloc(TLS_BUFS);
	if (!s->nin)
		return -ENOMEM;
	s->pin = s->nin + TLS_BUF;
	s->pout = s->pin + TLS_BUF;
	s->nout = s->pout + TLS_BUF;
	t->bufs_out++;
	w->stats.tls_buffers = t->bufs_out;
	return 0;
}

/* No operation in flight may use s's buffers any more: the block goes back to the
 * worker's spares (freed beyond TLS_SPARE). */
static void tls_bufs_give(struct worker *w, struct tls_sess *s)
{
	struct tls_worker *t = w->tls;

	if (!s->nin)
		return;
	if (t->nspare < TLS_SPARE)
		t->spare[t->nspare++] = s->nin;
	else
		free(s->nin);
	s->nin = s->pin = s->pout = s->nout = NULL;
	t->bufs_out--;
	w->stats.tls_buffers = t->bufs_out;
}

/* Nothing of s is in flight or waiting in a buffer of ours: no send (net or plain) and
 * nothing OpenSSL would give us to send now (its write BIO) or to pass on (SSL_pending).
 * The read BIO may hold part of a record: OpenSSL keeps its own copy, our receive buffer
 * was only where it landed. Receives in flight are polls that name no buffer. */
static bool tls_bufs_idle(const struct tls_sess *s)
{
	return !s->net_wr && !s->plain_wr && !s->nout_len && !s->pout_len && !s->spill_len &&
	       SSL_pending(s->ssl) == 0;
}

static void tls_sess_release(struct worker *w, struct tls_sess *s)
{
	struct tls_worker *t = w->tls;

	SSL_free(s->ssl);
	free(s->spill);
	if (s->has_handoff)
		close(s->handoff.fd);
	if (s->net >= 0)
		close(s->net);
	if (s->plain >= 0)
		close(s->plain);
	tls_bufs_give(w, s);
	memset(s, 0, sizeof(*s));
	t->free[t->nfree++] = (uint32_t)(s - t->s);
	t->active--;
	w->stats.tls_active = t->active;
}

void tls_worker_destroy(struct worker *w)
{
	struct tls_worker *t = w->tls;

	if (!t)
		return;
	for (uint32_t i = 0; i < t->n; i++)
		if (t->s[i].used)
			tls_sess_release(w, &t->s[i]);
	while (t->nspare)
		free(t->spare[--t->nspare]);
	free(t->s);
	free(t->free);
	while (t->post_len) {   /* (their connections are gone) */
		hbuf_put(&w->hb, t->post[t->post_head].slot);
		t->post_head = (t->post_head + 1) % t->npost;
		t->post_len--;
	}
	free(t->post);
	free(t);
	w->tls = NULL;
}

unsigned tls_active(const struct worker *w)
{
	return w->tls ? w->tls->active : 0;
}

/* The context of scope's <VirtualHost> for a session begun with another (the port's
 * first): SSL_set_SSL_CTX() takes only the certificate and the session id context, so the
 * protocol versions, options and ciphers are copied by hand, as httpd's
 * ssl_find_vhost() does (else a section's SSLProtocol/SSLCipherSuite would be the first
 * section's). */
static void tls_switch(const struct config *cfg, SSL *ssl, SSL_CTX *ctx, unsigned scope)
{
	struct tls_scope m;
	uint64_t opts = SSL_CTX_get_options(ctx);

	SSL_set_SSL_CTX(ssl, ctx);
	SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
	SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
	SSL_clear_options(ssl, SSL_get_options(ssl) & ~opts);
	SSL_set_options(ssl, opts);
	tls_scope_merged(cfg, scope, &m);
	SSL_set_cipher_list(ssl, m.ciphers[0] ? m.ciphers : OSSL_default_cipher_list());
	SSL_set_ciphersuites(ssl, m.suites[0] ? m.suites : OSSL_default_ciphersuites());
}

/* SNI: the <VirtualHost> the name selects, decided when the ClientHello comes, before
 * the protocol version and the cipher are (the servername callback comes after). The
 * session was made from the port's first section's context: when the chosen section
 * shares its port, its own per-session SSLOpenSSLConfCmd lines are applied to it (after
 * a switch, the main server's too, whose ciphers tls_switch() replaced). */
static int tls_hello(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctxs *x = arg;
	struct tls_sess *s = SSL_get_app_data(ssl);
	const unsigned char *ext;
	size_t len;
	char name[256];
	unsigned scope;

	if (!s)
		return SSL_CLIENT_HELLO_SUCCESS;
	s->sni = SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1 &&
		 tls_sni_parse(ext, len, name, sizeof(name)) > 0;
	scope = tls_sni_scope(x->cfg, s->server_port, s->sni ? name : NULL);
	if (scope && x->ctx[scope]) {
		bool sw = x->ctx[scope] != SSL_get_SSL_CTX(ssl);
		const struct tls_cmd *bad;

		s->scope = (uint16_t)scope;
		if (sw)
			tls_switch(x->cfg, ssl, x->ctx[scope], scope);
		if ((sw || x->cmds_per_session[scope]) &&
		    tls_session_cmds(x->cfg->tls, ssl, scope, sw, &bad) < 0) {
			/* the load tried them on a session of this context */
			ERR_clear_error();
			*alert = SSL_AD_INTERNAL_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* ---- records out: OpenSSL writes them where they are sent from ---- */

/* Bytes of records not sent yet. */
static uint32_t tls_out_pending(const struct tls_sess *s)
{
	return s->nout_len - s->nout_off + s->spill_len;
}

/* The write BIO of a session: OpenSSL's records are copied once, into nout, from which
 * they are sent (a memory BIO zeroed its buffer as it grew, took a copy, and gave one
 * back). nout grows only at its end while a send of its beginning is in flight; what does
 * not fit goes to the spill, and every later byte too, so that the order holds. */
static int tls_wbio_write(BIO *b, const char *data, int len)
{
	struct tls_sess *s = BIO_get_data(b);
	uint32_t n = 0;

	BIO_clear_retry_flags(b);
	if (!s || len <= 0)
		return len < 0 ? -1 : 0;
	if (!s->nout && tls_bufs_take(s->w, s) < 0)
		return -1;
	if (!s->spill_len) {
		n = TLS_NOUT - s->nout_len;
		if (n > (uint32_t)len)
			n = (uint32_t)len;
	}
	/* a client that makes us talk (KeyUpdate requests) and reads nothing: the write
	 * fails, so does the session, rather than the spill growing with what it sends */
	if (s->spill_len + ((uint32_t)len - n) > TLS_SPILL_MAX) {
		log_debug("tls", "%s:%u: over %u bytes of records it does not read", s->ip,
			  s->port, TLS_SPILL_MAX);
		return -1;
	}
	memcpy(s->nout + s->nout_len, data, n);
	s->nout_len += n;
	if (n < (uint32_t)len) {
		uint32_t rest = (uint32_t)len - n;

		if (s->spill_len + rest > s->spill_cap) {
			uint32_t cap = s->spill_cap ? s->spill_cap : 4096;
			char *p;

			while (cap < s->spill_len + rest)
				cap *= 2;
			p = realloc(s->spill, cap);
			if (!p)
				return -1;
			s->spill = p;
			s->spill_cap = cap;
		}
		memcpy(s->spill + s->spill_len, data + n, rest);
		s->spill_len += rest;
	}
	return len;
}

static long tls_wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_sess *s = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
	case BIO_CTRL_WPENDING:
		return s ? (long)tls_out_pending(s) : 0;
	default:
		return 0;
	}
}

static BIO_METHOD *tls_wbio;
static pthread_once_t tls_wbio_once = PTHREAD_ONCE_INIT;

static void tls_wbio_make(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "spliced records");

	if (m && BIO_meth_set_write(m, tls_wbio_write) == 1 &&
	    BIO_meth_set_ctrl(m, tls_wbio_ctrl) == 1)
		tls_wbio = m;
	else
		BIO_meth_free(m);
}

/* NULL when OpenSSL could not make it (BIO_new() then fails: the session too). */
static const BIO_METHOD *tls_wbio_method(void)
{
	pthread_once(&tls_wbio_once, tls_wbio_make);
	return tls_wbio;
}

/* A receive on fd: a poll for its readiness, the recv(2) follows in tls_recv_ready(),
 * so that nothing names a buffer while the peer is silent. */
static int tls_submit_recv(struct worker *w, struct tls_sess *s, enum ring_op op, int fd)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, RING_UD(op, s->idx));
	s->pending++;
	return 0;
}

static int tls_submit_send(struct worker *w, struct tls_sess *s, enum ring_op op, int fd,
			   const char *buf, size_t len)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, RING_UD(op, s->idx));
	s->pending++;
	return 0;
}

static void tls_c_fail(struct worker *w, struct tls_sess *s, int res);

/* The session ends: what is in flight is cancelled; the slot is freed once the last
 * completion arrived. The connection code sees its socket's end. */
static void tls_kill(struct worker *w, struct tls_sess *s)
{
	if (s->dead)
		return;
	s->dead = true;
	if (s->plain >= 0)
		shutdown(s->plain, SHUT_RDWR);
	tls_c_fail(w, s, -ECONNRESET);
	if (s->pending) {
		if (s->net >= 0)
			ring_cancel_fd(&w->ring, s->net);
		if (s->plain >= 0)
			ring_cancel_fd(&w->ring, s->plain);
	}
	/* the slot is freed by tls_reap(), at the end of whatever called this: the callers
	 * up the stack still look at s */
}

/* A dead session that nothing names any more (no operation in flight, no connection)
 * is freed: the last step of every entry into this file that can kill one. */
static void tls_reap(struct worker *w, struct tls_sess *s)
{
	if (s->used && s->dead && !s->pending && !s->attached)
		tls_sess_release(w, s);
}

/* ---- direct: the connection's I/O through the session ---- */

static void tls_post(struct worker *w, int op, uint32_t conn, int res, char *slot)
{
	struct tls_worker *t = w->tls;
	struct tls_post *p;

	/* (two per session at most are waiting, and npost = 2 x the sessions + 2: it grows
	 * only if that is wrong, rather than lose a completion) */
	if (t->post_len == t->npost) {
		struct tls_post *n = malloc(2 * t->npost * sizeof(*n));

		if (!n)
			abort();   /* a connection would wait for ever */
		for (uint32_t i = 0; i < t->post_len; i++)
			n[i] = t->post[(t->post_head + i) % t->npost];
		free(t->post);
		t->post = n;
		t->post_head = 0;
		t->npost *= 2;
		log_error("tls", "more completions waiting than sessions can have: %u", t->post_len);
	}
	p = &t->post[(t->post_head + t->post_len) % t->npost];
	p->op = op;
	p->idx = conn;
	p->res = res;
	p->slot = slot;
	t->post_len++;
}

bool tls_next_post(struct worker *w, struct tls_post *out)
{
	struct tls_worker *t = w->tls;

	if (!t || !t->post_len)
		return false;
	*out = t->post[t->post_head];
	t->post_head = (t->post_head + 1) % t->npost;
	t->post_len--;
	return true;
}

/* What the connection has in flight through s ends with res. */
static void tls_c_fail(struct worker *w, struct tls_sess *s, int res)
{
	if (s->c_rd)
		tls_post(w, s->c_rd_op, s->conn, res, NULL);
	if (s->c_wr)
		tls_post(w, s->c_wr_op, s->conn, res, NULL);
	s->c_rd = s->c_wr = false;
}

static void tls_fail(struct worker *w, struct tls_sess *s, enum tls_fail why, const char *what)
{
	static const char *const name[TLS_FAIL_N] = {
		"plain HTTP", "protocol error", "ALPN without http/1.1", "closed by the client",
		"timeout", "internal error",
	};

	w->stats.tls_fail[why]++;
	TRACE_TLS_HANDSHAKE(s->id, 0, name[why], "");
	log_debug("tls", "handshake with %s:%u failed: %s%s%s", s->ip, s->port, name[why],
		  what ? ": " : "", what ? what : "");
	tls_kill(w, s);
}

/* Our side is done (close_notify or the 400 page queued): FIN once it is sent, then what
 * the client sends is read and dropped until its EOF or TLS_LINGER_MS, so that it sees
 * the end rather than a reset. */
static void tls_linger(struct worker *w, struct tls_sess *s)
{
	s->linger = true;
	s->deadline_ms = w->now_ms + TLS_LINGER_MS;
}

static void tls_pump(struct worker *w, struct tls_sess *s);
static void tls_c_pump(struct worker *w, struct tls_sess *s);
static void tls_export_begin(struct worker *w, struct tls_sess *s,
			     const struct conn_origin *o);
static void tls_export_try(struct worker *w, struct tls_sess *s);

/* Lingering, the client's bytes are read (and dropped) until its EOF; the session ends
 * then, or at the deadline. */
static void tls_drain(struct worker *w, struct tls_sess *s)
{
	if (!s->linger || s->dead || s->net_rd || s->net_wr)
		return;
	if (s->net_eof) {
		tls_kill(w, s);
		return;
	}
	if (tls_submit_recv(w, s, OP_TLS_NET_RECV, s->net) < 0) {
		tls_kill(w, s);
		return;
	}
	s->net_rd = true;
}

/* The handshake is over: the connection goes to the connection code, which reads and
 * writes through the session (direct). A retiring worker hands it to its successor, in
 * another ring: that one gets the plaintext end of a socketpair, as a connection that
 * needs a real socket later does (tls_c_detach()). */
static int tls_established(struct worker *w, struct tls_sess *s)
{
	struct conn_origin o = { .server_port = s->server_port, .carried = true,
				 .port = s->port };

	s->direct = true;
	o.fd = s->net;
	if (!w->retiring) {
		s->attached = true;
		o.tsess = s->idx + 1;
	}
	s->hs_done = true;
	s->deadline_ms = UINT64_MAX;
	memcpy(o.ip, s->ip, sizeof(o.ip));
	o.tls.on = true;
	o.tls.protocol = SSL_get_version(s->ssl);
	o.tls.cipher = SSL_get_cipher_name(s->ssl);
	o.tls.sni = s->sni;
	o.tls.scope = s->scope;
	o.tls.gen = (uint32_t)w->gen;
	w->stats.tls_handshakes++;
	TRACE_TLS_HANDSHAKE(s->id, 1, o.tls.protocol, o.tls.cipher);
	log_debug("tls", "%s:%u: %s %s%s", s->ip, s->port, o.tls.protocol, o.tls.cipher,
		  SSL_session_reused(s->ssl) ? " (resumed)" : "");
	if (w->retiring) {   /* the successor serves it: the session goes there */
		tls_export_begin(w, s, &o);
		return 0;
	}
	s->handoff = o;    /* tls_complete() gives it to the worker */
	s->has_handoff = true;
	return 0;
}

/* Records OpenSSL wrote (nout, then the spill) go to the client, one send at a time. */
static void tls_flush(struct worker *w, struct tls_sess *s)
{
	if (s->net_wr || s->dead)
		return;
	if (s->nout_off == s->nout_len) {
		s->nout_off = s->nout_len = 0;
		if (s->spill_len) {
			uint32_t n = s->spill_len < TLS_NOUT ? s->spill_len : TLS_NOUT;

			memcpy(s->nout, s->spill, n);
			memmove(s->spill, s->spill + n, s->spill_len - n);
			s->spill_len -= n;
			s->nout_len = n;
		}
	}
	if (!s->nout_len) {
		if (s->shut_sent && !s->linger) {
			/* ENOTCONN: the client is gone already (its reset came): nothing to
			 * linger for */
			if (shutdown(s->net, SHUT_WR) < 0) {
				tls_kill(w, s);
				return;
			}
			tls_linger(w, s);
		}
		return;
	}
	if (tls_submit_send(w, s, OP_TLS_NET_SEND, s->net, s->nout + s->nout_off,
			    s->nout_len - s->nout_off) < 0) {
		tls_kill(w, s);
		return;
	}
	s->net_wr = true;
	/* a client that does not read: Timeout without progress ends the session (the
	 * plaintext end is not read meanwhile, so the connection's own end goes unseen) */
	if (s->hs_done && !s->linger && !s->attached)
		s->deadline_ms = w->now_ms + w->cfg->timeout_ms;
}

/* Plain HTTP on a TLS port: nginx's answer, then close. */
static bool tls_plain_http(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && i < 8 && p[i] >= 'A' && p[i] <= 'Z')
		i++;
	return i >= 3 && i < n && p[i] == ' ';
}

static void tls_handshake(struct worker *w, struct tls_sess *s)
{
	int r = SSL_do_handshake(s->ssl), e;
	char buf[256];
	unsigned long code;

	if (r == 1) {
		if (tls_established(w, s) == 0 && !s->direct)
			tls_pump(w, s);
		else if (s->direct)
			tls_flush(w, s);   /* (what the handshake still has to say: tickets) */
		return;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		tls_flush(w, s);
		if (s->net_eof)
			tls_fail(w, s, TLS_FAIL_CLOSED, NULL);
		else if (!s->net_rd && !s->dead &&
			 tls_submit_recv(w, s, OP_TLS_NET_RECV, s->net) == 0)
			s->net_rd = true;
		return;
	}
	code = ERR_peek_last_error();
	ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	/* the alert OpenSSL made goes out first, then FIN (tls_net_sent()) */
	if (ERR_GET_REASON(code) == SSL_R_NO_APPLICATION_PROTOCOL) {
		w->stats.tls_fail[TLS_FAIL_ALPN]++;
		TRACE_TLS_HANDSHAKE(s->id, 0, "alpn", "");
		log_debug("tls", "handshake with %s:%u failed: ALPN without http/1.1", s->ip,
			  s->port);
	} else {
		w->stats.tls_fail[TLS_FAIL_PROTOCOL]++;
		TRACE_TLS_HANDSHAKE(s->id, 0, "protocol", "");
		log_debug("tls", "handshake with %s:%u failed: %s", s->ip, s->port,
			  s->net_eof ? "closed by the client" : buf);
	}
	tls_linger(w, s);
	tls_flush(w, s);
	if (!s->net_wr)
		tls_kill(w, s);   /* nothing to say to it */
}

/* After the handshake: moves what can move in both directions. */
static void tls_pump(struct worker *w, struct tls_sess *s)
{
	if (s->dead)
		return;
	if (!s->hs_done) {
		if (!s->linger)
			tls_handshake(w, s);
		return;
	}
	if (s->direct) {
		tls_c_pump(w, s);
		return;
	}
	/* client -> connection */
	while (!s->plain_wr && !s->plain_gone && !s->net_eof) {
		int n = SSL_read(s->ssl, s->pout, TLS_BUF), e;

		if (n > 0) {
			s->pout_off = 0;
			s->pout_len = (uint32_t)n;
			if (tls_submit_send(w, s, OP_TLS_PLAIN_SEND, s->plain, s->pout,
					    (size_t)n) < 0) {
				tls_kill(w, s);
				return;
			}
			s->plain_wr = true;
			break;
		}
		e = SSL_get_error(s->ssl, n);
		if (e == SSL_ERROR_WANT_READ) {
			if (!s->net_rd && !s->exporting &&
			    tls_submit_recv(w, s, OP_TLS_NET_RECV, s->net) == 0)
				s->net_rd = true;
			break;
		}
		/* close_notify, a bad record or a renegotiation attempt: no more from it */
		ERR_clear_error();
		s->net_eof = true;
		if (e != SSL_ERROR_ZERO_RETURN)
			log_debug("tls", "%s:%u: the TLS session ended (%d)", s->ip, s->port, e);
		shutdown(s->plain, SHUT_WR);
	}
	/* connection -> client */
	tls_flush(w, s);
	/* the connection is over: what is left to send gets Timeout (a client that never
	 * reads does not hold the session forever) */
	if (s->plain_eof && s->deadline_ms == UINT64_MAX)
		s->deadline_ms = w->now_ms + w->cfg->timeout_ms;
	if (s->plain_eof && !s->shut_sent && !s->net_wr) {
		SSL_shutdown(s->ssl);
		s->shut_sent = true;
		tls_flush(w, s);
	}
	if (!s->plain_rd && !s->plain_eof && !s->net_wr && !s->dead && !s->exporting) {
		if (tls_submit_recv(w, s, OP_TLS_PLAIN_RECV, s->plain) < 0) {
			tls_kill(w, s);
			return;
		}
		s->plain_rd = true;
	}
	tls_drain(w, s);
}

/* ---- direct: the connection code reads and writes through the session ---- */

/* A receive for the connection's: records from the client (a poll, then recv(2)). */
static void tls_c_want(struct worker *w, struct tls_sess *s)
{
	if (s->net_rd || s->dead || s->exporting)
		return;
	if (tls_submit_recv(w, s, OP_TLS_NET_RECV, s->net) < 0) {
		s->c_rd = false;
		tls_post(w, s->c_rd_op, s->conn, -EBUSY, NULL);
		return;
	}
	s->net_rd = true;
}

/* The connection's receive gets plaintext if there is some, its end if there will be
 * none, or waits for records. A head buffer is taken (c_rd_sel) only once there is
 * something to decrypt. */
static void tls_c_read(struct worker *w, struct tls_sess *s)
{
	char *slot = NULL, *dst = s->c_rd_buf;
	int cap = (int)s->c_rd_len, n, e;

	if (s->c_rd_sel) {
		if (SSL_pending(s->ssl) == 0 && BIO_ctrl_pending(s->rb) == 0 && !s->net_eof) {
			tls_c_want(w, s);
			return;
		}
		slot = hbuf_get(&w->hb);
		if (!slot) {
			stats_resource_error(&w->stats, STATS_RES_MEMORY, ENOMEM, w->now_ms,
					     "a request buffer (the worker's pool is empty or "
					     "cannot grow)");
			s->c_rd = false;
			tls_post(w, s->c_rd_op, s->conn, -ENOMEM, NULL);
			return;
		}
		dst = slot + w->hb.recv_off;
		cap = (int)w->hb.recv_len;
	}
	n = SSL_read(s->ssl, dst, cap);
	if (n > 0) {
		s->c_rd = false;
		tls_post(w, s->c_rd_op, s->conn, n, slot);
		return;
	}
	hbuf_put(&w->hb, slot);
	e = SSL_get_error(s->ssl, n);
	if (e == SSL_ERROR_WANT_READ && !s->net_eof) {
		tls_c_want(w, s);
		return;
	}
	/* close_notify, the client's FIN, a bad record or a renegotiation attempt: the
	 * connection sees its end (an alert OpenSSL made goes out: tls_c_pump()) */
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_ZERO_RETURN)
		log_debug("tls", "%s:%u: the TLS session ended (%d)", s->ip, s->port, e);
	ERR_clear_error();
	s->net_eof = true;
	s->c_rd = false;
	tls_post(w, s->c_rd_op, s->conn, 0, NULL);
}

/* Moves what can move for the connection; its send completes once its records left. */
static void tls_c_pump(struct worker *w, struct tls_sess *s)
{
	if (s->c_rd)
		tls_c_read(w, s);
	tls_flush(w, s);
	if (s->c_wr && !s->dead && !s->net_wr && !tls_out_pending(s)) {
		s->c_wr = false;
		tls_post(w, s->c_wr_op, s->conn, (int)s->c_wr_n, NULL);
	}
}

/* What reading made OpenSSL say (an alert, a KeyUpdate's answer) goes out now. */
static void tls_c_said(struct worker *w, struct tls_sess *s)
{
	if (s->dead || s->net_wr || !tls_out_pending(s))
		return;
	tls_flush(w, s);
}

/* After a call from the connection code: the buffers go back when idle, a dead session
 * nobody names any more is freed. */
static void tls_c_end(struct worker *w, struct tls_sess *s)
{
	if (s->used && !s->dead && tls_bufs_idle(s))
		tls_bufs_give(w, s);
	tls_export_try(w, s);
	tls_reap(w, s);
}

/* Session tsess (index + 1) while a connection holds it, or NULL. */
static struct tls_sess *tls_sess_of(struct worker *w, uint32_t tsess)
{
	struct tls_worker *t = w->tls;
	uint32_t i = tsess - 1;

	if (!t || !tsess || i >= t->n || !t->s[i].used || !t->s[i].attached)
		return NULL;
	return &t->s[i];
}

/* c's session, or NULL when it is not one (any more). */
static struct tls_sess *tls_c_sess(struct conn *c)
{
	struct tls_sess *s = tls_sess_of(c->w, c->tsess);

	if (s)
		s->conn = c->idx;
	return s;
}

/* A receive was set up (c_rd): plaintext now if there is some, else a wait. */
static void tls_c_read_start(struct worker *w, struct tls_sess *s)
{
	if (s->dead)
		tls_c_fail(w, s, -ECONNRESET);
	else
		tls_c_read(w, s);
	tls_c_said(w, s);
	tls_c_end(w, s);
}

int tls_c_recv(struct conn *c, int op, void *buf, size_t len, bool select)
{
	struct worker *w = c->w;
	struct tls_sess *s = tls_c_sess(c);

	if (!s || s->c_rd)
		return -EBUSY;
	c->pending++;
	s->c_rd = true;
	s->c_rd_op = op;
	s->c_rd_sel = select;
	s->c_rd_buf = buf;
	s->c_rd_len = len > TLS_BUF * 64u ? TLS_BUF * 64u : (uint32_t)len;
	tls_c_read_start(w, s);
	return 0;
}

/* At most max bytes (a record's worth or two) of what iov holds, contiguous: iov's first
 * part itself when it is that long, else copied into `stage`. Its length (0: none). */
size_t tls_gather(const struct iovec *iov, unsigned niov, char *stage, size_t max,
		  const char **out)
{
	size_t n = 0;
	unsigned i = 0;

	while (i < niov && !iov[i].iov_len)
		i++;
	for (unsigned j = i; j < niov && n < max; j++)
		n += iov[j].iov_len;
	if (n > max)
		n = max;
	if (i < niov && iov[i].iov_len >= n) {
		*out = iov[i].iov_base;
		return n;
	}
	for (size_t got = 0; got < n; i++) {
		size_t k = iov[i].iov_len < n - got ? iov[i].iov_len : n - got;

		memcpy(stage + got, iov[i].iov_base, k);
		got += k;
	}
	*out = stage;
	return n;
}

int tls_c_send(struct conn *c, int op, const struct iovec *iov, unsigned niov)
{
	struct worker *w = c->w;
	struct tls_sess *s = tls_c_sess(c);
	const char *src = NULL;
	size_t n;

	if (!s || s->c_wr)
		return -EBUSY;
	c->pending++;
	s->c_wr = true;
	s->c_wr_op = op;
	s->c_wr_n = 0;
	if (s->dead) {
		tls_c_fail(w, s, -ECONNRESET);
		goto out;
	}
	if (tls_bufs_take(w, s) < 0) {
		stats_resource_error(&w->stats, STATS_RES_MEMORY, ENOMEM, w->now_ms,
				     "a TLS session's buffers");
		tls_kill(w, s);
		goto out;
	}
	/* two records' worth, gathered (when it must be) where the plaintext end's receive
	 * would land: pin and pout, one after the other, unused without a socketpair */
	n = tls_gather(iov, niov, s->pin, 2 * TLS_BUF, &src);
	if (n && SSL_write(s->ssl, src, (int)n) != (int)n) {
		/* (a memory BIO takes every record: only a broken session refuses) */
		ERR_clear_error();
		tls_kill(w, s);
		goto out;
	}
	s->c_wr_n = (uint32_t)n;
	tls_c_pump(w, s);
out:
	tls_c_end(w, s);
	return 0;
}

void tls_c_cancel(struct conn *c)
{
	struct tls_sess *s = tls_c_sess(c);

	if (s)
		tls_c_fail(c->w, s, -ECANCELED);
}

/* The connection lets go of s: what is left to send goes, then close_notify and FIN,
 * then what the client still sends is dropped until its end (TLS_LINGER_MS at most). */
static void tls_c_let_go(struct worker *w, struct tls_sess *s)
{
	tls_c_fail(w, s, -ECANCELED);   /* (nothing is in flight when it lets go) */
	s->attached = s->direct = false;
	if (!s->dead) {
		s->plain_eof = s->plain_gone = true;
		/* what the connection sent has been sent (its sends complete then), unless it
		 * gave up on a client that does not read after its own Timeout: close_notify
		 * and the linger get TLS_LINGER_MS, not another Timeout */
		s->deadline_ms = w->now_ms + TLS_LINGER_MS;
		if (tls_bufs_take(w, s) < 0)
			tls_kill(w, s);
		else
			tls_pump(w, s);
	}
	tls_c_end(w, s);
}

void tls_c_close(struct conn *c)
{
	struct tls_sess *s = tls_c_sess(c);

	c->tsess = 0;
	if (s)
		tls_c_let_go(c->w, s);
}

void tls_origin_drop(struct worker *w, const struct conn_origin *o)
{
	struct tls_worker *t = w->tls;
	uint32_t i = o->tsess - 1;

	if (t && o->tsess && i < t->n && t->s[i].used && t->s[i].attached)
		tls_c_let_go(w, &t->s[i]);
}

/* s goes on through a socketpair: its plaintext end, or -errno (s unchanged). */
static int tls_detach(struct worker *w, struct tls_sess *s)
{
	int sv[2];

	if (s->c_rd || s->c_wr)
		return -EBUSY;
	if (s->dead)
		return -ECONNRESET;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (tls_bufs_take(w, s) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	s->plain = sv[0];
	s->attached = s->direct = false;
	w->stats.tls_detached++;
	tls_pump(w, s);   /* what the session holds already goes to the plaintext end */
	tls_c_end(w, s);
	return sv[1];
}

int tls_c_detach(struct conn *c)
{
	struct tls_sess *s = tls_c_sess(c);
	int fd;

	if (!s)
		return c->tsess ? -ECONNRESET : 0;
	fd = tls_detach(c->w, s);
	if (fd < 0)
		return fd;
	c->fd = fd;
	c->tsess = 0;
	return 0;
}

/* ---- a parked connection (src/park.c) waits through its session ---- */

int tls_k_wait(struct worker *w, uint32_t tsess, uint32_t rec)
{
	struct tls_sess *s = tls_sess_of(w, tsess);

	if (!s || s->c_rd || s->c_wr)
		return -EBUSY;
	s->conn = rec;
	s->c_rd = s->c_rd_sel = true;
	s->c_rd_op = OP_PARKED_RECV;
	tls_c_read_start(w, s);
	return 0;
}

void tls_k_cancel(struct worker *w, uint32_t tsess)
{
	struct tls_sess *s = tls_sess_of(w, tsess);

	if (s)
		tls_c_fail(w, s, -ECANCELED);
}

void tls_k_close(struct worker *w, uint32_t tsess)
{
	struct tls_sess *s = tls_sess_of(w, tsess);

	if (s)
		tls_c_let_go(w, s);
}

/* ---- reload: a session moves to the successor worker ---- */

/* s is to move (with the connection o is, or alone): its receives are cancelled, and
 * tls_export_try() moves it once nothing of it is in flight here. Its sends go on (a
 * client that takes nothing has Timeout). */
static void tls_export_begin(struct worker *w, struct tls_sess *s,
			     const struct conn_origin *o)
{
	s->exporting = true;
	s->export_relay = o == NULL;
	memset(&s->export_o, 0, sizeof(s->export_o));
	if (o)
		s->export_o = *o;
	else
		s->export_o.fd = -1;
	s->attached = false;
	s->deadline_ms = w->now_ms + w->cfg->timeout_ms;
	for (int k = 0; k < 2; k++) {
		bool on = k ? s->plain_rd : s->net_rd;
		struct io_uring_sqe *sqe = on ? ring_sqe(&w->ring) : NULL;

		/* (no SQE: the receive completes when bytes come, and is not armed again) */
		if (!sqe)
			continue;
		io_uring_prep_cancel64(sqe, RING_UD(k ? OP_TLS_PLAIN_RECV : OP_TLS_NET_RECV,
						    s->idx), 0);
		io_uring_sqe_set_data64(sqe, RING_UD(OP_NONE, 0));
	}
}

/* The last step of an entry into this file, before tls_reap(): a moving session with
 * nothing in flight leaves this worker's table (its SSL, sockets and buffers go with it)
 * for the successor's inbox. s is not to be looked at afterwards. */
static void tls_export_try(struct worker *w, struct tls_sess *s)
{
	struct tls_worker *t = w->tls;
	struct conn_origin o;
	struct tls_sess *m;
	uint32_t idx = s->idx;

	if (!s->used || !s->exporting || s->dead || s->pending)
		return;
	m = malloc(sizeof(*m));
	if (!m) {
		stats_resource_error(&w->stats, STATS_RES_MEMORY, ENOMEM, w->now_ms,
				     "a TLS session moving to the new configuration");
		tls_kill(w, s);
		return;
	}
	*m = *s;
	m->exporting = false;
	o = s->export_o;
	o.tls_moved = m;
	o.tls_relay = s->export_relay;
	if (s->nin) {
		t->bufs_out--;
		w->stats.tls_buffers = t->bufs_out;
	}
	memset(s, 0, sizeof(*s));
	t->free[t->nfree++] = idx;
	t->active--;
	w->stats.tls_active = t->active;
	worker_handoff(w->successor, &o);
}

void tls_c_export(struct conn *c, const struct conn_origin *o)
{
	struct tls_sess *s = tls_c_sess(c);

	c->tsess = 0;
	if (!s)
		return;
	tls_export_begin(c->w, s, o);
	tls_c_end(c->w, s);
}

void tls_k_export(struct worker *w, uint32_t tsess, const struct conn_origin *o)
{
	struct tls_sess *s = tls_sess_of(w, tsess);

	if (!s)
		return;
	tls_export_begin(w, s, o);
	tls_c_end(w, s);
}

void tls_retire(struct worker *w)
{
	struct tls_worker *t = w->tls;

	for (uint32_t i = 0; t && i < t->n && t->active; i++) {
		struct tls_sess *s = &t->s[i];

		/* a live relay (its connection may be here or handed over already); what
		 * handshakes or closes ends here, soon */
		if (!s->used || s->dead || !s->hs_done || s->attached || s->exporting ||
		    s->direct || s->plain < 0 || s->plain_eof || s->linger || s->shut_sent)
			continue;
		tls_export_begin(w, s, NULL);
		tls_export_try(w, s);
	}
}

int tls_moved_fd(const struct tls_sess *m)
{
	return m->net;
}

void tls_moved_drop(struct tls_sess *m)
{
	SSL_free(m->ssl);
	close(m->net);
	if (m->plain >= 0)
		close(m->plain);
	free(m->nin);   /* (the buffer block starts there) */
	free(m->spill);
	free(m);
}

uint32_t tls_adopt(struct worker *w, const struct conn_origin *o)
{
	struct tls_worker *t = w->tls;
	struct tls_sess *m = o->tls_moved, *s;
	uint32_t idx, ret = 0;

	if (!t || !t->nfree) {
		log_info("tls", "a TLS connection of %s:%u handed over at a reload is closed: %s",
			 m->ip, m->port, t ? "every TLS session of this worker is in use"
					   : "the new configuration has no TLS port");
		tls_moved_drop(m);
		return 0;
	}
	idx = t->free[--t->nfree];
	s = &t->s[idx];
	*s = *m;
	free(m);
	s->idx = idx;
	s->w = w;
	SSL_set_app_data(s->ssl, s);
	BIO_set_data(s->wb, s);
	t->active++;
	w->stats.tls_active = t->active;
	if (s->nin) {
		t->bufs_out++;
		w->stats.tls_buffers = t->bufs_out;
	}
	s->deadline_ms = UINT64_MAX;
	if (!o->tls_relay && s->direct) {
		s->attached = true;
		ret = idx + 1;
	}
	if (tls_bufs_take(w, s) < 0)
		tls_kill(w, s);
	else
		tls_pump(w, s);   /* what waited goes on here */
	tls_c_end(w, s);
	return ret;
}

/* Every session slot of the worker (its share of MaxConnections) is taken: the client is
 * closed at once, counted as refused like a plain connection over MaxConnections, and
 * logged at most once a second per worker (a flood must not flood the log too). */
static void tls_refuse(struct worker *w, int fd)
{
	struct tls_worker *t = w->tls;

	/* counted and logged before the close, which the client may act on at once */
	w->stats.refused++;
	if (t->full_log_ms && w->now_ms + 1 - t->full_log_ms < 1000) {
		t->full_quiet++;
	} else {
		log_warn("tls", "all %u TLS sessions of this worker are in use (MaxConnections): "
			 "a client was closed at once (%llu more since the last line; at most one "
			 "line a second)", t->n, (unsigned long long)t->full_quiet);
		t->full_quiet = 0;
		t->full_log_ms = w->now_ms + 1;
	}
	close(fd);
}

void tls_accept(struct worker *w, const struct conn_origin *o)
{
	struct tls_worker *t = w->tls;
	const struct tls_ctxs *x = w->tls_ctxs;
	unsigned scope = x ? tls_sni_scope(w->cfg, o->server_port, NULL) : 0;
	struct tls_sess *s;
	int ret;

	if (t && !t->nfree) {
		tls_refuse(w, o->fd);
		return;
	}
	if (!t || !scope || !x->ctx[scope]) {
		close(o->fd);
		return;
	}
	s = &t->s[t->free[--t->nfree]];
	t->active++;
	w->stats.tls_active = t->active;
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->idx = (uint32_t)(s - t->s);
	s->net = o->fd;
	s->plain = -1;
	s->first = true;
	s->server_port = o->server_port;
	s->scope = (uint16_t)scope;
	s->id = ((uint64_t)w->id << 48) | (1ull << 47) | ++w->conn_seq;
	ret = conn_peer_name(o->fd, s->ip, sizeof(s->ip), &s->port);
	s->ssl = ret == 0 ? SSL_new(x->ctx[scope]) : NULL;
	s->rb = s->ssl ? BIO_new(BIO_s_mem()) : NULL;
	s->wb = s->rb && tls_wbio_method() ? BIO_new(tls_wbio_method()) : NULL;
	if (!s->wb) {
		BIO_free(s->rb);
		if (ret == 0)   /* SSL_new or a BIO refused: out of memory */
			stats_resource_error(&w->stats, STATS_RES_MEMORY, ENOMEM, w->now_ms,
					     "a TLS session");
		tls_fail(w, s, ret < 0 ? TLS_FAIL_CLOSED : TLS_FAIL_INTERNAL, NULL);
		tls_reap(w, s);
		return;
	}
	BIO_set_mem_eof_return(s->rb, -1);
	BIO_set_data(s->wb, s);
	BIO_set_init(s->wb, 1);
	s->w = w;
	SSL_set_bio(s->ssl, s->rb, s->wb);
	SSL_set_app_data(s->ssl, s);
	SSL_set_accept_state(s->ssl);
	s->deadline_ms = w->now_ms + (w->cfg->rt_header.initial_ms ? w->cfg->rt_header.initial_ms
								   : w->cfg->timeout_ms);
	if (tls_submit_recv(w, s, OP_TLS_NET_RECV, s->net) < 0) {
		tls_fail(w, s, TLS_FAIL_INTERNAL, "ring full");
		tls_reap(w, s);
		return;
	}
	s->net_rd = true;
}

static void tls_net_received(struct worker *w, struct tls_sess *s, int res)
{
	s->net_rd = false;
	if (s->dead)
		return;
	if (res <= 0) {
		s->net_eof = true;
		if (!s->hs_done && !s->linger) {
			tls_fail(w, s, TLS_FAIL_CLOSED, res < 0 ? strerror(-res) : NULL);
			return;
		}
		if (s->plain >= 0 && !s->plain_gone)
			shutdown(s->plain, SHUT_WR);
		if (s->linger || res < 0) {
			tls_kill(w, s);
			return;
		}
		tls_pump(w, s);
		return;
	}
	if (s->linger) {  /* dropped */
		tls_drain(w, s);
		return;
	}
	if (s->first && tls_plain_http(s->nin, (size_t)res)) {
		s->first = false;
		w->stats.tls_fail[TLS_FAIL_PLAIN_HTTP]++;
		TRACE_TLS_HANDSHAKE(s->id, 0, "plain HTTP", "");
		log_debug("tls", "%s:%u: plain HTTP sent to a TLS port: 400", s->ip, s->port);
		memcpy(s->nout, tls_plain_page, sizeof(tls_plain_page) - 1);
		s->nout_off = 0;
		s->nout_len = sizeof(tls_plain_page) - 1;
		tls_linger(w, s);  /* FIN once it is sent: tls_net_sent() */
		tls_flush(w, s);
		return;
	}
	s->first = false;
	if (BIO_write(s->rb, s->nin, res) != res) {
		tls_fail(w, s, TLS_FAIL_INTERNAL, "out of memory");
		return;
	}
	tls_pump(w, s);
}

static void tls_net_sent(struct worker *w, struct tls_sess *s, int res)
{
	s->net_wr = false;
	if (s->dead)
		return;
	if (res <= 0) {
		log_debug("tls", "%s:%u: send: %s", s->ip, s->port, strerror(res ? -res : EPIPE));
		tls_kill(w, s);
		return;
	}
	s->nout_off += (uint32_t)res;
	if (s->nout_off >= s->nout_len)
		s->nout_len = s->nout_off = 0;
	if (s->hs_done && !s->linger && !s->plain_eof)
		s->deadline_ms = UINT64_MAX;   /* it moves: the connection's timeouts apply */
	if (s->linger && !s->hs_done) {
		/* the 400 page or an alert: the rest of it, then FIN */
		if (tls_out_pending(s)) {
			tls_flush(w, s);
			return;
		}
		shutdown(s->net, SHUT_WR);
		tls_drain(w, s);
		return;
	}
	tls_pump(w, s);
}

static void tls_plain_received(struct worker *w, struct tls_sess *s, int res)
{
	s->plain_rd = false;
	if (s->dead)
		return;
	if (res <= 0) {
		s->plain_eof = true;
		tls_pump(w, s);
		return;
	}
	/* a memory BIO takes the whole record: SSL_write() does not stop halfway */
	if (SSL_write(s->ssl, s->pin, res) != res) {
		ERR_clear_error();
		tls_kill(w, s);
		return;
	}
	tls_pump(w, s);
}

static void tls_plain_sent(struct worker *w, struct tls_sess *s, int res)
{
	s->plain_wr = false;
	if (s->dead)
		return;
	if (res <= 0) {
		/* the connection is gone: what the client still sends goes nowhere */
		s->plain_gone = true;
		s->pout_len = 0;
		tls_pump(w, s);
		return;
	}
	s->pout_off += (uint32_t)res;
	if (s->pout_off < s->pout_len) {
		if (tls_submit_send(w, s, OP_TLS_PLAIN_SEND, s->plain, s->pout + s->pout_off,
				    s->pout_len - s->pout_off) < 0) {
			tls_kill(w, s);
			return;
		}
		s->plain_wr = true;
		return;
	}
	s->pout_len = 0;
	tls_pump(w, s);
}

/* A receive's poll completed (res: its mask or -errno): the bytes are read now, *res
 * becomes what a recv would have returned. False when there was nothing after all (the
 * poll is armed again, or the session ended). */
static bool tls_recv_ready(struct worker *w, struct tls_sess *s, enum ring_op op, int *res)
{
	bool net = op == OP_TLS_NET_RECV;
	int fd = net ? s->net : s->plain;
	ssize_t n;

	if (s->dead || *res < 0)
		return true;   /* the handler sees the error (or only the end) */
	n = recv(fd, net ? s->nin : s->pin, TLS_BUF, MSG_DONTWAIT);
	if (n >= 0) {
		*res = (int)n;
		return true;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		*res = -errno;
		return true;
	}
	if (tls_submit_recv(w, s, op, fd) < 0) {
		*res = -EBUSY;
		return true;
	}
	return false;
}

bool tls_complete(struct worker *w, enum ring_op op, uint32_t idx, int res,
		  struct conn_origin *out)
{
	struct tls_sess *s;
	bool ready;

	if (!w->tls || idx >= w->tls->n || !w->tls->s[idx].used || !w->tls->s[idx].pending) {
		log_error("tls", "completion op %d for idle session %u", op, idx);
		return false;
	}
	s = &w->tls->s[idx];
	s->pending--;
	if (!s->dead && tls_bufs_take(w, s) < 0) {
		stats_resource_error(&w->stats, STATS_RES_MEMORY, ENOMEM, w->now_ms,
				     "a TLS session's buffers");
		tls_kill(w, s);
		goto out;   /* (a dead session's handlers do nothing) */
	}
	if (s->exporting && res == -ECANCELED &&
	    (op == OP_TLS_NET_RECV || op == OP_TLS_PLAIN_RECV)) {
		/* (cancelled for the move: its successor waits again) */
		if (op == OP_TLS_NET_RECV)
			s->net_rd = false;
		else
			s->plain_rd = false;
		goto out;
	}
	if ((op == OP_TLS_NET_RECV || op == OP_TLS_PLAIN_RECV) && !tls_recv_ready(w, s, op, &res))
		goto out;
	switch (op) {
	case OP_TLS_NET_RECV:
		tls_net_received(w, s, res);
		break;
	case OP_TLS_NET_SEND:
		tls_net_sent(w, s, res);
		break;
	case OP_TLS_PLAIN_RECV:
		tls_plain_received(w, s, res);
		break;
	case OP_TLS_PLAIN_SEND:
		tls_plain_sent(w, s, res);
		break;
	default:
		break;
	}
out:
	if (s->used && !s->dead && tls_bufs_idle(s))
		tls_bufs_give(w, s);
	ready = s->has_handoff;
	if (ready) {
		*out = s->handoff;
		s->has_handoff = false;
		if (s->dead && !s->direct) /* ended at once: the connection code sees the end */
			shutdown(out->fd, SHUT_RDWR);
	}
	tls_export_try(w, s);
	tls_reap(w, s);
	return ready;
}

void tls_tick(struct worker *w)
{
	struct tls_worker *t = w->tls;

	for (uint32_t i = 0; t && i < t->n && t->active; i++) {
		struct tls_sess *s = &t->s[i];

		if (!s->used || s->dead || s->deadline_ms > w->now_ms)
			continue;
		if (!s->hs_done && !s->linger)
			tls_fail(w, s, TLS_FAIL_TIMEOUT, NULL);
		else
			tls_kill(w, s);   /* (also a move whose sends did not end in Timeout) */
		tls_reap(w, s);
	}
}

void tls_stop(struct worker *w, bool hard)
{
	struct tls_worker *t = w->tls;

	for (uint32_t i = 0; t && i < t->n && t->active; i++) {
		struct tls_sess *s = &t->s[i];

		if (s->used && !s->dead && (hard || !s->hs_done)) {
			tls_kill(w, s);
			tls_reap(w, s);
		}
	}
}
