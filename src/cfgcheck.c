/* spliced -t: the start-up checks that need neither privileges nor sockets. Each check
 * looks the way start-up does (file_root_open(), mime_load(), privdrop_ids()), so what
 * passes here passes there, as far as the same user runs both. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "spliced/cfgcheck.h"
#include "spliced/config.h"
#include "spliced/file.h"
#include "spliced/helper.h"
#include "spliced/mime.h"
#include "spliced/privdrop.h"

struct cfgcheck {
	const struct config *cfg;
	cfgcheck_report *report;
	void *arg;
	unsigned errors;
};

/* One finding at w (NULL: no directive, a default). */
__attribute__((format(printf, 4, 5)))
static void cfgcheck_say(struct cfgcheck *c, bool warning, const struct cfg_where *w,
			 const char *fmt, ...)
{
	struct config_error e = { .file = "", .line = 0 };
	va_list ap;

	if (w && w->line)
		config_where(c->cfg, w, &e);
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	c->errors += !warning;
	c->report(c->arg, warning, &e);
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

unsigned cfgcheck_run(const struct config *cfg, cfgcheck_report *report, void *arg)
{
	struct cfgcheck c = { .cfg = cfg, .report = report, .arg = arg };
	struct file_root r;
	int ret;

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
	return c.errors;
}
