/* TLS termination (mod_ssl's directives, OpenSSL with memory BIOs in the worker's ring).
 *
 * src/tlsconf.c (pure): the SSL directives into struct tls_conf, the checks once the
 * file is read, and the SNI choice. src/tls.c: the OpenSSL contexts of a configuration
 * (made where the key files can be read: before the privilege drop, and at a reload by
 * the serving process, which has them opened by the privileged helper), and per worker the TLS sessions: a session owns the accepted TCP
 * socket and relays plaintext to the connection code through an AF_UNIX socketpair,
 * whose other end conn_open() takes as if it were the accepted socket. */
#ifndef SPLICED_TLS_H
#define SPLICED_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "spliced/tls-t.h"
#include "spliced/conn-t.h"
#include "spliced/ring-t.h"

/* ---- configuration (tlsconf.c) ---- */

/* An empty tls_conf (every value "not given"), or NULL when out of memory. */
struct tls_conf *tls_conf_new(void);
void tls_conf_free(struct tls_conf *t);

/* One SSL* directive line (argv[0] the name) in scope (0: main server). Relative paths
 * start at root. 0, or -1 with msg set (without the directive's name). */
int tls_conf_directive(struct tls_conf *t, unsigned scope, unsigned argc, char **argv,
		       const char *root, const struct cfg_where *at, char *msg, size_t len);

/* A port of <VirtualHost> scope that another section with SSLEngine on has too, or 0:
 * the section is alone on its ports, so its sessions are made from its own context and
 * never switched (its per-session SSLOpenSSLConfCmd lines can be in the context). */
unsigned tls_scope_shared_port(const struct config *cfg, unsigned scope);
/* Where SSLOpenSSLConfCmd name takes effect (case-insensitive, as OpenSSL's file
 * commands). A name OpenSSL does not know is TLS_CMD_CTX: the context refuses it. */
enum tls_cmd_where tls_cmd_where(const char *name);

/* After the whole configuration: every SSLEngine on section has its files and names its
 * Listen ports, a port is TLS for all its sections or none, Listen ... https has one, a
 * TLS_CMD_FIXED SSLOpenSSLConfCmd is in the main server or a section alone on its
 * ports. 0, or -1 with msg and *line (0: none) set. */
int tls_conf_finish(const struct config *cfg, unsigned *line, char *msg, size_t len);

/* <VirtualHost> scope has SSLEngine on. */
bool tls_scope_on(const struct config *cfg, unsigned scope);
/* Connections to port are TLS. */
bool tls_port_on(const struct config *cfg, unsigned port);
/* Scope's values with the main server's where it gives none, defaults applied. */
void tls_scope_merged(const struct config *cfg, unsigned scope, struct tls_scope *out);
/* Whose certificate a client of port gets for SNI name (NULL or "": none): the
 * <VirtualHost> with SSLEngine on on that port whose ServerName/ServerAlias matches,
 * else the first such section of the port, as httpd. 0 when the port has none. */
unsigned tls_sni_scope(const struct config *cfg, unsigned port, const char *name);
/* The host_name of a ClientHello's server_name extension body p[0..len) (RFC 6066
 * 3), NUL-terminated into name[0..cap). Its length, or -1: malformed, no host_name, a
 * NUL in it, or cap too small. Never reads past len. */
int tls_sni_parse(const unsigned char *p, size_t len, char *name, size_t cap);
/* Would a session made with scope a's settings have been made the same with b's
 * (protocols, ciphers, SSLOpenSSLConfCmd)? httpd's ssl_server_compatible(): a request
 * whose Host selects an incompatible <VirtualHost> than its SNI did is 421. */
bool tls_scopes_compatible(const struct config *cfg, unsigned a, unsigned b);
/* A request with Host host[0..len) (NULL: none) on port, over a session with facts f:
 * true when the client named a server by SNI and the <VirtualHost> the Host selects on
 * that port is not compatible with the one whose settings made the session (httpd:
 * 421 Misdirected Request; it would be served under settings that are not its own). */
bool tls_host_misdirected(const struct config *cfg, const struct tls_facts *f, unsigned port,
			  const char *host, size_t len);
/* A request over a session with facts f whose host is host[0..len) (NULL or empty: the
 * request names none, an HTTP/1.0 one without Host): true when the client named a server
 * by SNI all the same. httpd's mod_ssl answers such a request 400 ("Hostname provided
 * via SNI, but no hostname provided in HTTP request"), rather than serve it from the
 * port's first <VirtualHost>. */
bool tls_sni_without_host(const struct tls_facts *f, const char *host, size_t len);

/* ---- contexts and sessions (tls.c) ---- */

struct tls_ctxs;
struct worker;

/* Reports a finding while contexts are made (spliced -t lists them; start-up logs the
 * warnings): at = where the file was named. */
typedef void tls_report_fn(void *arg, bool warning, const struct cfg_where *at,
			   const char *msg);

/* The OpenSSL contexts of cfg (one per <VirtualHost> with SSLEngine on), reading every
 * certificate and key file now. *out is NULL when cfg has no TLS. 0, or -1 when a file
 * cannot be read or used (reported, with the first such message in msg). report may be
 * NULL (warnings then go to the error log). */
int tls_ctxs_load(const struct config *cfg, struct tls_ctxs **out, tls_report_fn *report,
		  void *arg, char *msg, size_t len);
void tls_ctxs_free(struct tls_ctxs *x);

/* Opens certificate or key file f, entry `index` of cfg->tls->file, for reading: the
 * descriptor (the caller's), or -errno with msg set. */
typedef int tls_open_fn(void *arg, unsigned index, const struct tls_file *f, char *msg,
			size_t len);

/* tls_ctxs_load() reading each file through open_fn(open_arg, ...) (the privileged helper,
 * at a reload after the privilege drop) instead of open(2); open_fn NULL: open(2). */
int tls_ctxs_load_via(const struct config *cfg, struct tls_ctxs **out, tls_report_fn *report,
		      void *arg, tls_open_fn *open_fn, void *open_arg, char *msg, size_t len);

/* Which path encrypted bodies can take on this kernel, for the start-up log: kernel TLS
 * (TCP_ULP "tls" accepted) or not. Probed once on a loopback connection. */
bool tls_kernel_available(void);

/* A worker's TLS sessions (w->tls). 0 or -ENOMEM. */
int tls_worker_init(struct worker *w);
void tls_worker_destroy(struct worker *w);

/* o->fd, accepted on a TLS port, starts its handshake here (closed when it cannot). */
void tls_accept(struct worker *w, const struct conn_origin *o);

/* A completion of one of the OP_TLS_* operations of session idx. True when it finished
 * a handshake: *out is then the plaintext end of the connection, for the worker to open
 * as a client connection (it owns out->fd). */
bool tls_complete(struct worker *w, enum ring_op op, uint32_t idx, int res,
		  struct conn_origin *out);

/* A connection over TLS without a socketpair (c->tsess): its client I/O goes through its
 * session, as exch.c's functions submit it. Each behaves like the io_uring operation it
 * stands for: c->pending counts it, and its completion comes to conn_complete() with op
 * (after the completions of the ring that are being handled: tls_next_post()). One
 * receive and one send at a time. A receive with `select` takes a head buffer once
 * plaintext is there (buf/len then unused); a send encrypts at most two records' worth
 * (32 KiB) and completes, with the plaintext bytes it took, once the records are sent. */
int tls_c_recv(struct conn *c, int op, void *buf, size_t len, bool select);
/* (tls_c_send()'s view of iov: at most max bytes, contiguous, iov's first non-empty part
 * itself when it holds them all, else copied into stage; *out is where they are) */
size_t tls_gather(const struct iovec *iov, unsigned niov, char *stage, size_t max,
		  const char **out);
int tls_c_send(struct conn *c, int op, const struct iovec *iov, unsigned niov);
/* What c has in flight through its session completes with -ECANCELED. */
void tls_c_cancel(struct conn *c);
/* c is done with its session (c->tsess becomes 0): close_notify, FIN, and the session
 * ends once the client has closed too or TLS_LINGER_MS passed. */
void tls_c_close(struct conn *c);
/* From now on c goes through a socketpair (c->fd becomes its plaintext end): for what
 * needs a real socket (splice, sendfile). Nothing of c may be in flight through the
 * session. 0 or -errno (c unchanged). */
int tls_c_detach(struct conn *c);
/* The same for a parked connection (src/park.c), by its session (tsess): its next
 * request's first bytes come as OP_PARKED_RECV of record rec, with a head buffer. Cancel,
 * close (as tls_c_close()). */
int tls_k_wait(struct worker *w, uint32_t tsess, uint32_t rec);
void tls_k_cancel(struct worker *w, uint32_t tsess);
void tls_k_close(struct worker *w, uint32_t tsess);

/* Reload: a session moves to the successor worker with its connection, rather than
 * pinning the old configuration until the client goes. tls_c_export() (an idle
 * connection: *o is its origin, fd its socket), tls_k_export() (a parked one): once
 * nothing of the session is in flight in this ring (its receives cancelled, its sends
 * done), it leaves this worker's table and o goes to the successor with it
 * (o->tls_moved). tls_retire(): every session that relays a socketpair moves alone
 * (o->tls_relay). The successor's worker_take() calls tls_adopt(): the session's index
 * + 1 for a connection to open (0: no connection; the session is relaying, or was
 * dropped because this worker has no room or no TLS). tls_moved_drop(): one that nobody
 * took (spliced is stopping). */
void tls_c_export(struct conn *c, const struct conn_origin *o);
void tls_k_export(struct worker *w, uint32_t tsess, const struct conn_origin *o);
void tls_retire(struct worker *w);
uint32_t tls_adopt(struct worker *w, const struct conn_origin *o);
void tls_moved_drop(struct tls_sess *m);
int tls_moved_fd(const struct tls_sess *m);   /* its TCP socket */

/* A connection given by tls_complete() that the worker could not take (its session
 * ends). */
void tls_origin_drop(struct worker *w, const struct conn_origin *o);

/* The completions the sessions made for their connections, in order: true and *out while
 * there is one. */
struct tls_post {
	int op;
	uint32_t idx;              /* the connection's slot */
	int res;
	char *slot;                /* a head buffer it took (select), or NULL */
};
bool tls_next_post(struct worker *w, struct tls_post *out);

/* Every tick: handshakes and lingering closes past their deadline end. */
void tls_tick(struct worker *w);

/* A stop: handshakes in progress end now (established sessions end with their
 * connection). With hard: every session ends now. */
void tls_stop(struct worker *w, bool hard);

/* Sessions alive (the worker does not end before they do). */
unsigned tls_active(const struct worker *w);

#endif
