/* Types of TLS termination (src/tlsconf.c: the mod_ssl directives; src/tls.c: contexts
 * and sessions in a worker's ring). Types only. */
#ifndef SPLICED_TLS_T_H
#define SPLICED_TLS_T_H

#include <stdbool.h>
#include <stdint.h>

#include "spliced/config-t.h"

#define TLS_MAX_PAIRS 4            /* SSLCertificateFile/KeyFile pairs of one vhost */
#define TLS_MAX_FILES 128          /* certificate, key and chain files, all vhosts */
#define TLS_MAX_CMDS 32            /* SSLOpenSSLConfCmd lines, all scopes */
#define TLS_CIPHERS_MAX 512
#define TLS_CMD_MAX 256

/* Protocol bits (SSLProtocol): only TLS 1.2 and 1.3 are offered by spliced. */
#define TLS_P_12 1u
#define TLS_P_13 2u

enum tls_file_kind { TLS_F_CERT = 1, TLS_F_KEY, TLS_F_CHAIN };

/* One file a directive names, absolute (relative to ServerRoot), in config order. */
struct tls_file {
	char path[CFG_PATH_MAX];
	uint16_t scope;
	uint8_t kind;                  /* enum tls_file_kind */
	struct cfg_where at;
};

/* Where an SSLOpenSSLConfCmd takes effect (tls_cmd_where()). A session is made from its
 * port's first section's context, before SNI chooses its own section; the switch to that
 * section's context carries only what the context's certificate set holds. */
enum tls_cmd_where {
	TLS_CMD_CTX = 0,               /* the context, and the switch carries it: certificates,
					* keys, signature algorithms, options, versions */
	TLS_CMD_SESSION,               /* the session holds it: a section's own applied to
					* the session once SNI chose it, when the section
					* shares its port (groups, ciphers, tickets, record
					* padding, verify mode) */
	TLS_CMD_FIXED,                 /* the session holds it, read from files: not per
					* session (client CA names) */
};

/* SSLOpenSSLConfCmd NAME VALUE, applied with SSL_CONF_cmd() when the context is made (a
 * section's own TLS_CMD_SESSION ones: to each session of the section). */
struct tls_cmd {
	char name[64];
	char value[TLS_CMD_MAX];
	uint16_t scope;
	uint8_t where;                 /* enum tls_cmd_where */
	struct cfg_where at;
};

/* The SSL directives of one scope (0: the main server, whose values the <VirtualHost>
 * sections inherit; -1 / "" / 0: not given). */
struct tls_scope {
	int8_t engine;                 /* SSLEngine: 1 on, 0 off, -1 not given */
	int8_t honor_order;            /* SSLHonorCipherOrder */
	int8_t tickets;                /* SSLSessionTickets */
	uint8_t protocols;             /* SSLProtocol: TLS_P_* bits; 0 = not given */
	char ciphers[TLS_CIPHERS_MAX]; /* SSLCipherSuite [SSL] spec: TLS 1.2 and lower */
	char suites[TLS_CIPHERS_MAX];  /* SSLCipherSuite TLSv1.3 spec */
	struct cfg_where engine_at;
};

/* Every SSL directive of a configuration (config.tls, on the heap). */
struct tls_conf {
	struct tls_scope sc[CFG_MAX_VHOSTS + 1];
	struct tls_file file[TLS_MAX_FILES];
	unsigned nfile;
	struct tls_cmd cmd[TLS_MAX_CMDS];
	unsigned ncmd;
};

/* Why a handshake failed (the metrics page counts each). */
enum tls_fail {
	TLS_FAIL_PLAIN_HTTP = 0,       /* plain HTTP to a TLS port: answered 400 */
	TLS_FAIL_PROTOCOL,             /* garbage, bad records, no common protocol or cipher */
	TLS_FAIL_ALPN,                 /* ALPN without http/1.1 (h2 alone) */
	TLS_FAIL_CLOSED,               /* the client closed or reset mid-handshake */
	TLS_FAIL_TIMEOUT,              /* no handshake within the head's timeout */
	TLS_FAIL_INTERNAL,             /* out of memory or descriptors, a stop */
	TLS_FAIL_N
};

/* What a connection knows of its TLS session, carried with it (struct conn_origin) to
 * the plaintext side. The strings are OpenSSL's static names. */
struct tls_facts {
	bool on;                       /* the client came over TLS */
	bool sni;                      /* the client named a server (SNI) */
	uint16_t scope;                /* the <VirtualHost> whose settings the handshake used, */
	uint32_t gen;                  /* ... in this configuration generation's numbering (its
					* low bits: in the padding, a parked record stays 104 B) */
	const char *protocol;          /* "TLSv1.3" */
	const char *cipher;            /* "TLS_AES_128_GCM_SHA256" */
};

#endif
