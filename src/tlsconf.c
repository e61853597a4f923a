/* The mod_ssl directives (SSLEngine, SSLCertificateFile, ...) read into struct tls_conf,
 * the checks once the whole file is read, and which virtual host's certificate a TLS
 * client gets (SNI). Pure: no OpenSSL, no socket; src/tls.c acts on what is here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spliced/config.h"
#include "spliced/tls.h"

struct tls_conf *tls_conf_new(void)
{
	struct tls_conf *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	for (unsigned s = 0; s <= CFG_MAX_VHOSTS; s++) {
		t->sc[s].engine = -1;
		t->sc[s].honor_order = -1;
		t->sc[s].tickets = -1;
	}
	return t;
}

void tls_conf_free(struct tls_conf *t)
{
	free(t);
}

static int tls_flag(const char *arg, int8_t *out, char *msg, size_t len)
{
	if (strcasecmp(arg, "on") == 0) {
		*out = 1;
		return 0;
	}
	if (strcasecmp(arg, "off") == 0) {
		*out = 0;
		return 0;
	}
	snprintf(msg, len, "must be On or Off, not \"%.64s\"", arg);
	return -1;
}

/* SSLProtocol [+|-]protocol ...: as httpd, a word without sign resets the set. */
static int tls_protocols(unsigned argc, char **argv, uint8_t *out, char *msg, size_t len)
{
	uint8_t set = 0;

	for (unsigned i = 1; i < argc; i++) {
		const char *w = argv[i];
		char sign = (w[0] == '+' || w[0] == '-') ? w[0] : 0;
		uint8_t bits;

		w += sign != 0;
		if (strcasecmp(w, "all") == 0)
			bits = TLS_P_12 | TLS_P_13;
		else if (strcasecmp(w, "TLSv1.2") == 0)
			bits = TLS_P_12;
		else if (strcasecmp(w, "TLSv1.3") == 0)
			bits = TLS_P_13;
		else if (strcasecmp(w, "SSLv3") == 0 || strcasecmp(w, "TLSv1") == 0 ||
			 strcasecmp(w, "TLSv1.1") == 0)
			bits = 0;  /* never offered: removing it is what spliced does anyway */
		else {
			snprintf(msg, len, "unknown protocol \"%.64s\"", argv[i]);
			return -1;
		}
		if (!bits && sign != '-') {
			snprintf(msg, len, "%.16s is not supported (TLSv1.2 and TLSv1.3 are)", w);
			return -1;
		}
		if (sign == '-')
			set &= (uint8_t)~bits;
		else if (sign == '+')
			set |= bits;
		else
			set = bits;
	}
	if (!set) {
		snprintf(msg, len, "leaves no protocol enabled");
		return -1;
	}
	*out = set;
	return 0;
}

static int tls_copy(char *dst, size_t cap, const char *src, char *msg, size_t len)
{
	size_t n = strlen(src);

	if (n >= cap) {
		snprintf(msg, len, "value is too long (more than %zu bytes)", cap - 1);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) {
			snprintf(msg, len, "control characters in the value");
			return -1;
		}
	memcpy(dst, src, n + 1);
	return 0;
}

static int tls_add_file(struct tls_conf *t, unsigned scope, enum tls_file_kind kind,
			const char *arg, const char *root, const struct cfg_where *at, char *msg,
			size_t len)
{
	struct tls_file *f;
	int n;

	if (t->nfile == TLS_MAX_FILES) {
		snprintf(msg, len, "more than %d certificate and key files in all", TLS_MAX_FILES);
		return -1;
	}
	if (kind != TLS_F_CHAIN) {
		unsigned same = 0;

		for (unsigned i = 0; i < t->nfile; i++)
			same += t->file[i].scope == scope && t->file[i].kind == kind;
		if (same == TLS_MAX_PAIRS) {
			snprintf(msg, len, "more than %d in one section", TLS_MAX_PAIRS);
			return -1;
		}
	}
	f = &t->file[t->nfile];
	if (!arg[0]) {
		snprintf(msg, len, "needs a file name");
		return -1;
	}
	n = arg[0] == '/' ? snprintf(f->path, sizeof(f->path), "%s", arg)
			  : snprintf(f->path, sizeof(f->path), "%s%s%s", root,
				     strcmp(root, "/") ? "/" : "", arg);
	if (n < 0 || (size_t)n >= sizeof(f->path)) {
		snprintf(msg, len, "path is too long");
		return -1;
	}
	f->scope = (uint16_t)scope;
	f->kind = (uint8_t)kind;
	f->at = *at;
	t->nfile++;
	return 0;
}

static int tls_nargs(unsigned nargs, unsigned lo, unsigned hi, char *msg,
		     size_t len)
{
	if (nargs >= lo && nargs <= hi)
		return 0;
	if (lo == hi)
		snprintf(msg, len, "takes %u argument%s, %u given", lo, lo == 1 ? "" : "s", nargs);
	else
		snprintf(msg, len, "takes %u to %u arguments, %u given", lo, hi, nargs);
	return -1;
}

/* The SSL directives spliced implements; any other SSL* name is refused by name. */
int tls_conf_directive(struct tls_conf *t, unsigned scope, unsigned argc, char **argv,
		       const char *root, const struct cfg_where *at, char *msg, size_t len)
{
	const char *d = argv[0];
	struct tls_scope *sc = &t->sc[scope];
	unsigned nargs = argc - 1;

	if (strcasecmp(d, "SSLEngine") == 0) {
		if (tls_nargs(nargs, 1, 1, msg, len) < 0)
			return -1;
		if (strcasecmp(argv[1], "optional") == 0) {
			snprintf(msg, len, "optional (TLS upgrade) is not supported");
			return -1;
		}
		if (tls_flag(argv[1], &sc->engine, msg, len) < 0)
			return -1;
		if (sc->engine && scope == 0) {
			snprintf(msg, len, "on is supported in <VirtualHost> only");
			return -1;
		}
		sc->engine_at = *at;
		return 0;
	}
	if (strcasecmp(d, "SSLCertificateFile") == 0) {
		if (tls_nargs(nargs, 1, 1, msg, len) < 0)
			return -1;
		return tls_add_file(t, scope, TLS_F_CERT, argv[1], root, at, msg, len);
	}
	if (strcasecmp(d, "SSLCertificateKeyFile") == 0) {
		if (tls_nargs(nargs, 1, 1, msg, len) < 0)
			return -1;
		return tls_add_file(t, scope, TLS_F_KEY, argv[1], root, at, msg, len);
	}
	if (strcasecmp(d, "SSLCertificateChainFile") == 0) {
		if (tls_nargs(nargs, 1, 1, msg, len) < 0)
			return -1;
		return tls_add_file(t, scope, TLS_F_CHAIN, argv[1], root, at, msg, len);
	}
	if (strcasecmp(d, "SSLProtocol") == 0) {
		if (tls_nargs(nargs, 1, 8, msg, len) < 0)
			return -1;
		return tls_protocols(argc, argv, &sc->protocols, msg, len);
	}
	if (strcasecmp(d, "SSLCipherSuite") == 0) {
		if (tls_nargs(nargs, 1, 2, msg, len) < 0)
			return -1;
		if (nargs == 1 || strcasecmp(argv[1], "SSL") == 0)
			return tls_copy(sc->ciphers, sizeof(sc->ciphers), argv[nargs], msg, len);
		if (strcasecmp(argv[1], "TLSv1.3") == 0)
			return tls_copy(sc->suites, sizeof(sc->suites), argv[2], msg, len);
		snprintf(msg, len, "unknown protocol \"%.64s\" (SSL or TLSv1.3)",
			 argv[1]);
		return -1;
	}
	if (strcasecmp(d, "SSLHonorCipherOrder") == 0) {
		if (tls_nargs(nargs, 1, 1, msg, len) < 0)
			return -1;
		return tls_flag(argv[1], &sc->honor_order, msg, len);
	}
	if (strcasecmp(d, "SSLSessionTickets") == 0) {
		if (tls_nargs(nargs, 1, 1, msg, len) < 0)
			return -1;
		return tls_flag(argv[1], &sc->tickets, msg, len);
	}
	if (strcasecmp(d, "SSLOpenSSLConfCmd") == 0) {
		struct tls_cmd *c = &t->cmd[t->ncmd];

		if (tls_nargs(nargs, 2, 2, msg, len) < 0)
			return -1;
		if (t->ncmd == TLS_MAX_CMDS) {
			snprintf(msg, len, "more than %d SSLOpenSSLConfCmd lines", TLS_MAX_CMDS);
			return -1;
		}
		if (tls_copy(c->name, sizeof(c->name), argv[1], msg, len) < 0 ||
		    tls_copy(c->value, sizeof(c->value), argv[2], msg, len) < 0)
			return -1;
		c->scope = (uint16_t)scope;
		c->where = (uint8_t)tls_cmd_where(c->name);
		c->at = *at;
		t->ncmd++;
		return 0;
	}
	snprintf(msg, len, "not supported by spliced");
	return -1;
}

enum tls_cmd_where tls_cmd_where(const char *name)
{
	/* OpenSSL 3's SSL_CONF file commands that set what SSL_new() copies from the
	 * context into the session (SSL_set_SSL_CTX() does not take them again) */
	static const char *const session[] = {
		"Groups", "Curves", "ECDHParameters", "CipherString", "Ciphersuites",
		"VerifyMode", "RecordPadding", "NumTickets",
	};
	static const char *const fixed[] = {
		"RequestCAFile", "RequestCAPath", "ClientCAFile", "ClientCAPath",
	};

	for (size_t i = 0; i < sizeof(session) / sizeof(session[0]); i++)
		if (strcasecmp(name, session[i]) == 0)
			return TLS_CMD_SESSION;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcasecmp(name, fixed[i]) == 0)
			return TLS_CMD_FIXED;
	return TLS_CMD_CTX;
}

/* ---- after the whole file ---- */

static bool tls_scope_has_port(const struct cfg_scope *sc, unsigned port)
{
	for (unsigned i = 0; i < sc->nport; i++)
		if (sc->port[i] == port)
			return true;
	return false;
}

bool tls_scope_on(const struct config *cfg, unsigned scope)
{
	return cfg->tls && scope > 0 && scope < cfg->nscope && cfg->tls->sc[scope].engine == 1;
}

bool tls_port_on(const struct config *cfg, unsigned port)
{
	for (unsigned s = 1; s < cfg->nscope; s++)
		if (tls_scope_on(cfg, s) && tls_scope_has_port(&cfg->scope[s], port))
			return true;
	return false;
}

static unsigned tls_count(const struct tls_conf *t, unsigned scope, enum tls_file_kind kind)
{
	unsigned n = 0;

	for (unsigned i = 0; i < t->nfile; i++)
		n += t->file[i].scope == scope && t->file[i].kind == kind;
	return n;
}

unsigned tls_scope_shared_port(const struct config *cfg, unsigned scope)
{
	const struct cfg_scope *sc = &cfg->scope[scope];

	for (unsigned p = 0; p < sc->nport; p++)
		for (unsigned s = 1; s < cfg->nscope; s++)
			if (s != scope && tls_scope_on(cfg, s) &&
			    tls_scope_has_port(&cfg->scope[s], sc->port[p]))
				return sc->port[p];
	return 0;
}

/* A section's own TLS_CMD_FIXED command would hold for the sessions of every section of
 * its port made from its context (it is the port's first), or for none of its own (it is
 * not): refused when another TLS section shares one of its ports. */
static int tls_check_fixed_cmds(const struct config *cfg, unsigned *line, char *msg,
				size_t len)
{
	const struct tls_conf *t = cfg->tls;

	for (unsigned i = 0; i < t->ncmd; i++) {
		const struct tls_cmd *c = &t->cmd[i];
		unsigned port;

		if (c->where != TLS_CMD_FIXED || c->scope == 0 ||
		    !(port = tls_scope_shared_port(cfg, c->scope)))
			continue;
		*line = c->at.line;
		snprintf(msg, len, "SSLOpenSSLConfCmd %s: port %u has other <VirtualHost> "
			 "sections with SSLEngine on, and a session keeps this setting from the "
			 "section it was made with before SNI chose one; give it in the main "
			 "server", c->name, port);
		return -1;
	}
	return 0;
}

int tls_conf_finish(const struct config *cfg, unsigned *line, char *msg, size_t len)
{
	const struct tls_conf *t = cfg->tls;

	*line = 0;
	for (unsigned s = 1; t && s < cfg->nscope; s++) {
		const struct cfg_scope *sc = &cfg->scope[s];
		unsigned ncert = tls_count(t, s, TLS_F_CERT), nkey = tls_count(t, s, TLS_F_KEY);

		if (!tls_scope_on(cfg, s)) {
			if (ncert || nkey || tls_count(t, s, TLS_F_CHAIN)) {
				*line = sc->line;
				snprintf(msg, len, "the <VirtualHost> section has certificates but no "
					 "SSLEngine on");
				return -1;
			}
			continue;
		}
		*line = t->sc[s].engine_at.line;
		if (sc->any_port || sc->nport == 0) {
			snprintf(msg, len, "SSLEngine on: the <VirtualHost> must name its port "
				 "(e.g. <VirtualHost *:443>)");
			return -1;
		}
		if (!ncert) {
			snprintf(msg, len, "SSLEngine on without SSLCertificateFile");
			return -1;
		}
		if (ncert != nkey && nkey != 0) {
			snprintf(msg, len, "%u SSLCertificateFile and %u SSLCertificateKeyFile lines: "
				 "give a key for each certificate (or keys inside each certificate "
				 "file)", ncert, nkey);
			return -1;
		}
		for (unsigned i = 0; i < sc->nport; i++) {
			bool listened = false;

			for (unsigned l = 0; l < cfg->nlisten; l++)
				listened |= config_listen_port(&cfg->listen[l]) == sc->port[i];
			if (!listened) {
				snprintf(msg, len, "no Listen for port %u of this <VirtualHost>",
					 sc->port[i]);
				return -1;
			}
		}
	}
	/* A listener is TLS or not: its <VirtualHost> sections agree. */
	for (unsigned l = 0; l < cfg->nlisten; l++) {
		unsigned port = config_listen_port(&cfg->listen[l]);
		bool tls = tls_port_on(cfg, port);

		if (cfg->listen[l].https && !tls) {
			*line = cfg->listen[l].at.line;
			snprintf(msg, len, "Listen %s https: no <VirtualHost *:%u> with SSLEngine on",
				 cfg->listen[l].name, port);
			return -1;
		}
		for (unsigned s = 1; tls && s < cfg->nscope; s++) {
			if (tls_scope_on(cfg, s) || !tls_scope_has_port(&cfg->scope[s], port))
				continue;
			*line = cfg->scope[s].line;
			snprintf(msg, len, "this <VirtualHost> shares port %u with sections that have "
				 "SSLEngine on, but has none (one port is TLS or not)", port);
			return -1;
		}
		if (tls && config_proxy_protocol(cfg, port)) {
			*line = cfg->listen[l].at.line;
			snprintf(msg, len, "RemoteIPProxyProtocol on a TLS port (%u) is not supported",
				 port);
			return -1;
		}
	}
	if (t && tls_check_fixed_cmds(cfg, line, msg, len) < 0)
		return -1;
	*line = 0;
	return 0;
}

void tls_scope_merged(const struct config *cfg, unsigned scope, struct tls_scope *out)
{
	const struct tls_scope *v = &cfg->tls->sc[scope], *m = &cfg->tls->sc[0];

	*out = *v;
	if (out->honor_order < 0)
		out->honor_order = m->honor_order;
	if (out->tickets < 0)
		out->tickets = m->tickets;
	if (!out->protocols)
		out->protocols = m->protocols ? m->protocols : TLS_P_12 | TLS_P_13;
	if (!out->ciphers[0])
		memcpy(out->ciphers, m->ciphers, sizeof(out->ciphers));
	if (!out->suites[0])
		memcpy(out->suites, m->suites, sizeof(out->suites));
}

unsigned tls_sni_scope(const struct config *cfg, unsigned port, const char *name)
{
	unsigned s = name && name[0] ? config_vhost(cfg, name, strlen(name), port) : 0;

	if (s && tls_scope_on(cfg, s) && tls_scope_has_port(&cfg->scope[s], port))
		return s;
	/* no name, or none matches: the first section of the port, as httpd */
	for (s = 1; s < cfg->nscope; s++)
		if (tls_scope_on(cfg, s) && tls_scope_has_port(&cfg->scope[s], port))
			return s;
	return 0;
}

/* The i-th SSLOpenSSLConfCmd of scope s itself (not the main server's), or NULL. */
static const struct tls_cmd *tls_scope_cmd(const struct tls_conf *t, unsigned s, unsigned i)
{
	for (unsigned k = 0; k < t->ncmd; k++)
		if (t->cmd[k].scope == s && i-- == 0)
			return &t->cmd[k];
	return NULL;
}

bool tls_scopes_compatible(const struct config *cfg, unsigned a, unsigned b)
{
	struct tls_scope sa, sb;

	if (a == b)
		return true;
	tls_scope_merged(cfg, a, &sa);
	tls_scope_merged(cfg, b, &sb);
	if (sa.protocols != sb.protocols || strcmp(sa.ciphers, sb.ciphers) != 0 ||
	    strcmp(sa.suites, sb.suites) != 0)
		return false;
	for (unsigned i = 0;; i++) {
		const struct tls_cmd *ca = tls_scope_cmd(cfg->tls, a, i);
		const struct tls_cmd *cb = tls_scope_cmd(cfg->tls, b, i);

		if (!ca || !cb)
			return ca == cb;
		if (strcasecmp(ca->name, cb->name) != 0 || strcmp(ca->value, cb->value) != 0)
			return false;
	}
}

bool tls_host_misdirected(const struct config *cfg, const struct tls_facts *f, unsigned port,
			  const char *host, size_t len)
{
	unsigned s;

	if (!f->on || !f->sni)
		return false;
	s = config_vhost(cfg, host, len, port);
	if (!s || !tls_scope_on(cfg, s) || !tls_scope_has_port(&cfg->scope[s], port))
		s = tls_sni_scope(cfg, port, NULL);
	return !tls_scopes_compatible(cfg, f->scope, s);
}

bool tls_sni_without_host(const struct tls_facts *f, const char *host, size_t len)
{
	return f->on && f->sni && (!host || len == 0);
}

int tls_sni_parse(const unsigned char *p, size_t len, char *name, size_t cap)
{
	size_t list, i = 2;

	if (len < 2)
		return -1;
	list = (size_t)p[0] << 8 | p[1];
	if (list != len - 2)
		return -1;
	while (i + 3 <= len) {
		unsigned type = p[i];
		size_t n = (size_t)p[i + 1] << 8 | p[i + 2];

		i += 3;
		if (n > len - i)
			return -1;
		if (type == 0) {   /* host_name */
			if (n == 0 || n >= cap || memchr(p + i, '\0', n))
				return -1;
			memcpy(name, p + i, n);
			name[n] = '\0';
			return (int)n;
		}
		i += n;
	}
	return -1;
}
