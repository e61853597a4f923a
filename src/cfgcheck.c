/* spliced -t: the start-up checks that need no privilege change and bind no configured
 * port. Each check looks the way start-up does (file_root_open(), mime_load(),
 * privdrop_ids(), bind()), so what passes here passes there, as far as the same user runs
 * both. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spliced/cfgcheck.h"
#include "spliced/config.h"
#include "spliced/file.h"
#include "spliced/helper.h"
#include "spliced/mime.h"
#include "spliced/privdrop.h"
#include "spliced/tls.h"

/* Findings are kept, then reported in configuration order. At most: User, Group, ErrorLog,
 * PidFile, TypesConfig, DocumentRoot, and per CustomLog, Alias, Listen (+ MetricsListen),
 * ProxyAutostart (ids, Dir=, Output=) and file root. */
#define CFGCHECK_MAX (6 + CFG_MAX_CUSTOMLOG + CFG_MAX_ALIAS + CFG_MAX_LISTEN + 1 + \
		      3 * CFG_MAX_AUTOSTART + CFG_MAX_ROOTS + 2 * TLS_MAX_FILES + TLS_MAX_CMDS + \
		      CFG_MAX_VHOSTS)

struct cfgcheck_finding {
	struct cfg_where at;           /* line 0: no directive (after the others) */
	unsigned seq;                  /* order found, for equal places */
	bool warning;
	char msg[512];
};

struct cfgcheck {
	const struct config *cfg;
	struct cfgcheck_finding *f;
	unsigned n;
	unsigned errors;
};

/* One finding at w (NULL: no directive, a default). */
__attribute__((format(printf, 4, 5)))
static void cfgcheck_say(struct cfgcheck *c, bool warning, const struct cfg_where *w,
			 const char *fmt, ...)
{
	struct cfgcheck_finding *f;
	va_list ap;

	c->errors += !warning;
	if (c->n == CFGCHECK_MAX)
		return;         /* cannot happen: one per check at most */
	f = &c->f[c->n];
	f->at = w ? *w : (struct cfg_where){ .file = CFG_WHERE_NOFILE, .line = 0 };
	f->seq = c->n++;
	f->warning = warning;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}

/* File by file (as config.src_file lists them: the main one first), line by line; what
 * has no line last. */
static int cfgcheck_order(const void *a, const void *b)
{
	const struct cfgcheck_finding *x = a, *y = b;

	if ((x->at.line == 0) != (y->at.line == 0))
		return x->at.line == 0 ? 1 : -1;
	if (x->at.line && x->at.file != y->at.file)
		return x->at.file < y->at.file ? -1 : 1;
	if (x->at.line != y->at.line)
		return x->at.line < y->at.line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A Listen address must be one of this host's (else bind() fails with EADDRNOTAVAIL at
 * start). Asked by binding a socket to the address with port 0, never to the configured
 * port, which a running spliced may hold. */
static void cfgcheck_listen(struct cfgcheck *c, const struct cfg_listen *l, const char *what)
{
	struct sockaddr_storage ss = l->addr;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		cfgcheck_say(c, false, &l->at, "%s %s: socket: %s", what, l->name, strerror(errno));
		return;
	}
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	else
		((struct sockaddr_in *)&ss)->sin_port = 0;
	if (bind(fd, (struct sockaddr *)&ss, l->addrlen) < 0 && errno == EADDRNOTAVAIL)
		cfgcheck_say(c, false, &l->at, "%s %s: the address is not one of this host's (%s)",
			     what, l->name, strerror(errno));
	close(fd);
}

static void cfgcheck_dir(struct cfgcheck *c, const struct cfg_where *w, const char *what,
			 const char *dir)
{
	struct file_root r;
	int ret = file_root_open(&r, dir, c->cfg->follow_symlinks);

	if (ret < 0)
		cfgcheck_say(c, false, w, "%s: %s: %s", what, dir, strerror(-ret));
	else
		file_root_close(&r);
}

/* The directory a file would be created in must be there (start-up creates no directory). */
static void cfgcheck_parent(struct cfgcheck *c, const struct cfg_where *w, const char *what,
			    const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[CFG_PATH_MAX];
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &st) < 0)
		cfgcheck_say(c, false, w, "%s %s: directory %s: %s", what, path, dir,
			     strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		cfgcheck_say(c, false, w, "%s %s: %s is not a directory", what, path, dir);
}

static void cfgcheck_types(struct cfgcheck *c)
{
	const struct config *cfg = c->cfg;
	struct config_error merr = { .file = "", .line = 0 };
	struct mime_table *t;
	char msg[sizeof(merr.msg) + sizeof(merr.file) + 16];

	t = cfg->types_config[0] ? mime_load(cfg->types_config, &merr) : mime_load_default(&merr);
	if (t) {
		mime_free(t);
		return;
	}
	config_error_format(&merr, msg, sizeof(msg));
	cfgcheck_say(c, false, cfg->types_config[0] ? &cfg->at.types_config : NULL,
		     "TypesConfig: %.900s", msg);
}

/* User/Group as privdrop_ids() resolves them when start-up drops privileges. */
static void cfgcheck_ids(struct cfgcheck *c)
{
	const struct config *cfg = c->cfg;
	char why[256];
	uid_t uid;
	gid_t gid;

	if (privdrop_ids(cfg->user, "", &uid, &gid, why, sizeof(why)) < 0)
		cfgcheck_say(c, false, &cfg->at.user, "%s%s", why,
			     cfg->user[0] ? "" : " (the default User)");
	/* "#0" always resolves: the group is looked up on its own */
	if (cfg->group[0] && privdrop_ids("#0", cfg->group, &uid, &gid, why, sizeof(why)) < 0)
		cfgcheck_say(c, false, &cfg->at.group, "%s", why);
}

static void cfgcheck_autostart(struct cfgcheck *c, const struct cfg_autostart *a)
{
	const struct config *cfg = c->cfg;
	const char *name = cfg->backend[a->backend].name;
	char why[256];
	struct stat st;
	uid_t uid;
	gid_t gid;

	if ((a->user[0] || a->group[0]) &&
	    helper_backend_ids(cfg, a, &uid, &gid, why, sizeof(why)) < 0)
		cfgcheck_say(c, false, &a->at, "ProxyAutostart %s: %s", name, why);
	if (a->dir[0] && stat(a->dir, &st) < 0)
		cfgcheck_say(c, false, &a->at, "ProxyAutostart %s: Dir=%s: %s", name, a->dir,
			     strerror(errno));
	else if (a->dir[0] && !S_ISDIR(st.st_mode))
		cfgcheck_say(c, false, &a->at, "ProxyAutostart %s: Dir=%s is not a directory",
			     name, a->dir);
	if (a->output[0])
		cfgcheck_parent(c, &a->at, "ProxyAutostart Output=", a->output);
}

static void cfgcheck_tls_said(void *arg, bool warning, const struct cfg_where *at,
			      const char *msg)
{
	cfgcheck_say(arg, warning, at, "%s", msg);
}

/* Certificates and keys, read as start-up reads them: unreadable files, a key that does
 * not match its certificate, an expired certificate (a warning), what OpenSSL refuses. */
static void cfgcheck_tls(struct cfgcheck *c)
{
	struct tls_ctxs *x;
	char msg[512];

	if (tls_ctxs_load(c->cfg, &x, cfgcheck_tls_said, c, msg, sizeof(msg)) == 0)
		tls_ctxs_free(x);
}

unsigned cfgcheck_run(const struct config *cfg, cfgcheck_report *report, void *arg)
{
	struct cfgcheck c = { .cfg = cfg, .f = calloc(CFGCHECK_MAX, sizeof(*c.f)) };
	struct config_error e;
	struct file_root r;
	int ret;

	if (!c.f) {
		snprintf(e.msg, sizeof(e.msg), "out of memory");
		e.file[0] = '\0';
		e.line = 0;
		report(arg, false, &e);
		return 1;
	}
	for (unsigned i = 0; i < cfg->nlisten; i++)
		cfgcheck_listen(&c, &cfg->listen[i], "Listen");
	if (cfg->metrics.addrlen)
		cfgcheck_listen(&c, &cfg->metrics, "MetricsListen");
	cfgcheck_ids(&c);
	if (cfg->error_log[0])
		cfgcheck_parent(&c, &cfg->at.error_log, "ErrorLog", cfg->error_log);
	if (cfg->pid_file[0])
		cfgcheck_parent(&c, &cfg->at.pid_file, "PidFile", cfg->pid_file);
	for (unsigned i = 0; i < cfg->ncustomlog; i++)
		cfgcheck_parent(&c, &cfg->customlog[i].at, "CustomLog", cfg->customlog[i].path);
	if (cfg->document_root[0])
		cfgcheck_dir(&c, &cfg->at.document_root, "DocumentRoot", cfg->document_root);
	for (unsigned i = 0; i < cfg->nalias; i++) {
		char what[CFG_NAME_MAX + 8];

		snprintf(what, sizeof(what), "Alias %s", cfg->alias[i].prefix);
		cfgcheck_dir(&c, &cfg->alias[i].at, what, cfg->alias[i].dir);
	}
	cfgcheck_types(&c);
	cfgcheck_tls(&c);
	for (unsigned i = 0; i < cfg->nautostart; i++)
		cfgcheck_autostart(&c, &cfg->autostart[i]);
	/* start-up only warns: a rule may name a directory that is made later */
	for (unsigned i = 0; i < cfg->nroot; i++) {
		if (!strcmp(cfg->file_root[i], cfg->document_root))
			continue;   /* DocumentRoot is a root too, reported above */
		if ((ret = file_root_open(&r, cfg->file_root[i], cfg->follow_symlinks)) < 0)
			cfgcheck_say(&c, true, NULL, "RewriteRule file root %s: %s; its files will "
				     "be 404", cfg->file_root[i], strerror(-ret));
		else
			file_root_close(&r);
	}
	qsort(c.f, c.n, sizeof(*c.f), cfgcheck_order);
	for (unsigned i = 0; i < c.n; i++) {
		e.file[0] = '\0';
		e.line = 0;
		if (c.f[i].at.line)
			config_where(cfg, &c.f[i].at, &e);
		snprintf(e.msg, sizeof(e.msg), "%s", c.f[i].msg);
		report(arg, c.f[i].warning, &e);
	}
	free(c.f);
	return c.errors;
}
