/* The privileged helper: its message checks and backoff as pure functions, and the real
 * helper process driven from a fake serving side over its conversations, with real
 * backends (/bin/sh scripts) whose processes, users, sessions and descriptors are looked
 * at in /proc. Every wait is a bounded loop. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spliced/config.h"
#include "spliced/helper.h"
#include "spliced/log.h"
#include "e2e.h"
#include "suite.h"

#define NOBODY 65534

/* ---- message checks ---- */

struct msg_case {
	const char *name;
	long len;                 /* as recv(MSG_TRUNC) reports it */
	struct helper_msg m;
	bool ok;
};

static struct helper_msg req(unsigned type, unsigned backend)
{
	struct helper_msg m;

	helper_msg_request(&m, type, backend);
	return m;
}

static struct helper_msg state_msg(unsigned backend, unsigned st, int pid)
{
	struct helper_msg m = { .magic = HELPER_MSG_MAGIC, .type = HMSG_STATE,
				.backend = (uint16_t)backend, .state = st, .pid = pid };
	return m;
}

START_TEST(test_check_request_table)
{
	struct msg_case c[] = {
		{ "start", sizeof(struct helper_msg), req(HMSG_START, 0), true },
		{ "status", sizeof(struct helper_msg), req(HMSG_STATUS, 2), true },
		{ "stop", sizeof(struct helper_msg), req(HMSG_STOP, 2), true },
		{ "short", 5, req(HMSG_START, 0), false },
		{ "long", 64, req(HMSG_START, 0), false },
		{ "empty", 0, req(HMSG_START, 0), false },
		{ "magic", sizeof(struct helper_msg), req(HMSG_START, 0), false },
		{ "state type", sizeof(struct helper_msg), req(HMSG_STATE, 0), false },
		{ "type 0", sizeof(struct helper_msg), req(0, 0), false },
		{ "backend 3", sizeof(struct helper_msg), req(HMSG_START, 3), false },
		{ "backend 0xffff", sizeof(struct helper_msg), req(HMSG_STOP, 0xffff), false },
		{ "state set", sizeof(struct helper_msg), req(HMSG_START, 0), false },
		{ "pid set", sizeof(struct helper_msg), req(HMSG_START, 0), false },
		{ "starts set", sizeof(struct helper_msg), req(HMSG_STATUS, 0), false },
		{ "backoff set", sizeof(struct helper_msg), req(HMSG_STOP, 0), false },
	};
	const char *why[sizeof(c) / sizeof(c[0])];

	c[6].m.magic ^= 1;
	c[11].m.state = 1;
	c[12].m.pid = 1;
	c[13].m.starts = 1;
	c[14].m.backoff_ms = 1;
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int ret;

		why[i] = NULL;
		ret = helper_msg_check_request(&c[i].m, c[i].len, 3, &why[i]);
		ck_assert_msg((ret == 0) == c[i].ok, "%s: %d", c[i].name, ret);
		if (!c[i].ok) {
			ck_assert_int_eq(ret, -EPROTO);
			ck_assert_msg(why[i] && *why[i], "%s: no reason", c[i].name);
		}
	}
	/* one reason per rule */
	ck_assert_str_eq(why[3], why[4]);
	ck_assert_str_eq(why[3], why[5]);
	ck_assert_str_ne(why[3], why[6]);
	ck_assert_str_ne(why[6], why[7]);
	ck_assert_str_eq(why[7], why[8]);
	ck_assert_str_ne(why[7], why[9]);
	ck_assert_str_eq(why[9], why[10]);
	ck_assert_str_ne(why[9], why[11]);
	ck_assert_str_ne(why[3], why[11]);
	ck_assert_str_ne(why[6], why[11]);
	ck_assert_str_eq(why[11], why[12]);
	ck_assert_str_eq(why[11], why[13]);
	ck_assert_str_eq(why[11], why[14]);
}
END_TEST

START_TEST(test_check_state_table)
{
	struct msg_case c[] = {
		{ "stopped", sizeof(struct helper_msg), state_msg(0, HB_STOPPED, 0), true },
		{ "running", sizeof(struct helper_msg), state_msg(1, HB_RUNNING, 1234), true },
		{ "stopping", sizeof(struct helper_msg), state_msg(1, HB_STOPPING, 99), true },
		{ "short", 23, state_msg(0, HB_STOPPED, 0), false },
		{ "long", 25, state_msg(0, HB_STOPPED, 0), false },
		{ "magic", sizeof(struct helper_msg), state_msg(0, HB_STOPPED, 0), false },
		{ "request", sizeof(struct helper_msg), req(HMSG_START, 0), false },
		{ "backend", sizeof(struct helper_msg), state_msg(2, HB_STOPPED, 0), false },
		{ "state", sizeof(struct helper_msg), state_msg(0, HB_STOPPING + 1, 0), false },
		{ "pid", sizeof(struct helper_msg), state_msg(0, HB_RUNNING, -1), false },
	};
	const char *why[sizeof(c) / sizeof(c[0])];

	c[1].m.starts = 7;
	c[5].m.magic = 0;
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int ret;

		why[i] = NULL;
		ret = helper_msg_check_state(&c[i].m, c[i].len, 2, &why[i]);
		ck_assert_msg((ret == 0) == c[i].ok, "%s: %d", c[i].name, ret);
		if (!c[i].ok)
			ck_assert_msg(ret == -EPROTO && why[i] && *why[i], "%s", c[i].name);
	}
	ck_assert_str_eq(why[3], why[4]);
	for (unsigned i = 4; i < 10; i++)
		for (unsigned k = i + 1; k < 10; k++)
			ck_assert_msg(strcmp(why[i], why[k]) != 0, "%s / %s: same reason '%s'",
				      c[i].name, c[k].name, why[i]);
}
END_TEST

START_TEST(test_request_fields)
{
	struct helper_msg m;
	const char *why = NULL;

	memset(&m, 0xa5, sizeof(m));
	helper_msg_request(&m, HMSG_STOP, 5);
	ck_assert_uint_eq(m.magic, HELPER_MSG_MAGIC);
	ck_assert_uint_eq(m.type, HMSG_STOP);
	ck_assert_uint_eq(m.backend, 5);
	ck_assert(m.state == 0 && m.pid == 0 && m.starts == 0 && m.backoff_ms == 0);
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), 6, &why), 0);
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), 5, &why), -EPROTO);
	ck_assert_int_eq(helper_msg_check_state(&m, sizeof(m), 6, &why), -EPROTO);
}
END_TEST

START_TEST(test_check_ready_table)
{
	struct helper_msg ready = { .magic = HELPER_MSG_MAGIC, .type = HMSG_READY };
	struct msg_case c[] = {
		{ "ready", sizeof(struct helper_msg), ready, true },
		{ "short", 23, ready, false },
		{ "long", 25, ready, false },
		{ "magic", sizeof(struct helper_msg), ready, false },
		{ "state", sizeof(struct helper_msg), state_msg(0, HB_STOPPED, 0), false },
		{ "request", sizeof(struct helper_msg), req(HMSG_START, 0), false },
		{ "backend", sizeof(struct helper_msg), ready, false },
		{ "state set", sizeof(struct helper_msg), ready, false },
		{ "pid set", sizeof(struct helper_msg), ready, false },
		{ "starts set", sizeof(struct helper_msg), ready, false },
		{ "backoff set", sizeof(struct helper_msg), ready, false },
	};
	const char *why[sizeof(c) / sizeof(c[0])];

	c[3].m.magic ^= 1;
	c[6].m.backend = 1;
	c[7].m.state = 1;
	c[8].m.pid = 1;
	c[9].m.starts = 1;
	c[10].m.backoff_ms = 1;
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int ret;

		why[i] = NULL;
		ret = helper_msg_check_ready(&c[i].m, c[i].len, &why[i]);
		ck_assert_msg((ret == 0) == c[i].ok, "%s: %d", c[i].name, ret);
		if (!c[i].ok)
			ck_assert_msg(ret == -EPROTO && why[i] && *why[i], "%s", c[i].name);
	}
	ck_assert_str_eq(why[1], why[2]);
	ck_assert_str_ne(why[1], why[3]);
	ck_assert_str_eq(why[4], why[5]);
	ck_assert_str_ne(why[3], why[4]);
	for (unsigned i = 7; i < 11; i++)
		ck_assert_str_eq(why[6], why[i]);
	ck_assert_str_ne(why[4], why[6]);
	/* and neither end takes it for something else */
	ck_assert_int_eq(helper_msg_check_state(&ready, sizeof(ready), 1, &why[0]), -EPROTO);
	ck_assert_int_eq(helper_msg_check_request(&ready, sizeof(ready), 1, &why[0]), -EPROTO);
}
END_TEST

/* The serving side's check of what follows READY: states, MAPPED, RELOADED. */
START_TEST(test_check_reply_table)
{
	struct helper_msg mapped = { .magic = HELPER_MSG_MAGIC, .type = HMSG_MAPPED,
				     .backend = 3, .starts = HELPER_MAX_SLOTS - 1,
				     .backoff_ms = 0xdeadbeef };
	struct helper_msg done = { .magic = HELPER_MSG_MAGIC, .type = HMSG_RELOADED,
				   .backend = CFG_MAX_AUTOSTART };
	struct helper_msg ready = { .magic = HELPER_MSG_MAGIC, .type = HMSG_READY };
	struct msg_case c[] = {
		{ "state", sizeof(struct helper_msg), state_msg(HELPER_MAX_SLOTS - 1, 1, 5), true },
		{ "mapped", sizeof(struct helper_msg), mapped, true },
		{ "reloaded", sizeof(struct helper_msg), done, true },
		{ "reload failed", sizeof(struct helper_msg), done, true },
		{ "short", 23, mapped, false },
		{ "magic", sizeof(struct helper_msg), mapped, false },
		{ "state slot", sizeof(struct helper_msg), state_msg(HELPER_MAX_SLOTS, 0, 0), false },
		{ "mapped entry", sizeof(struct helper_msg), mapped, false },
		{ "mapped slot", sizeof(struct helper_msg), mapped, false },
		{ "mapped pid", sizeof(struct helper_msg), mapped, false },
		{ "reloaded count", sizeof(struct helper_msg), done, false },
		{ "failed count", sizeof(struct helper_msg), done, false },
		{ "errno range", sizeof(struct helper_msg), done, false },
		{ "reloaded pid", sizeof(struct helper_msg), done, false },
		{ "ready", sizeof(struct helper_msg), ready, false },
		{ "request", sizeof(struct helper_msg), req(HMSG_RELOAD, 0), false },
	};

	c[3].m.backend = 0;
	c[3].m.state = ENOENT;
	c[5].m.magic = 1;
	c[7].m.backend = CFG_MAX_AUTOSTART;
	c[8].m.starts = HELPER_MAX_SLOTS;
	c[9].m.pid = 1;
	c[10].m.backend = CFG_MAX_AUTOSTART + 1;
	c[11].m.state = EINVAL;
	c[11].m.backend = 1;
	c[12].m.state = 4096;
	c[12].m.backend = 0;
	c[13].m.pid = 2;
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const char *why = NULL;
		int ret = helper_msg_check_reply(&c[i].m, c[i].len, &why);

		ck_assert_msg((ret == 0) == c[i].ok, "%s: %d", c[i].name, ret);
		if (!c[i].ok)
			ck_assert_msg(ret == -EPROTO && why && *why, "%s", c[i].name);
	}
}
END_TEST

/* RELOAD is a request like the others, with every field but the type zero. */
START_TEST(test_check_request_reload)
{
	struct helper_msg m = req(HMSG_RELOAD, 0);
	const char *why = NULL;

	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), 0);
	m.backend = 1;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m = req(HMSG_START, HELPER_MAX_SLOTS - 1);
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), 0);
	m = req(HMSG_START, HELPER_MAX_SLOTS);
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m = req(HMSG_MAPPED, 0);
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
}
END_TEST

/* BIND names a Listen line (or MetricsListen) and 1..HELPER_BIND_MAX sockets; BOUND
 * carries 1..HELPER_BOUND_MAX of them, or an errno and none. */
START_TEST(test_check_bind_messages)
{
	struct helper_msg m = req(HMSG_BIND, CFG_MAX_LISTEN - 1);
	struct helper_msg b = { .magic = HELPER_MSG_MAGIC, .type = HMSG_BOUND, .starts = 1 };
	const char *why = NULL;

	m.starts = HELPER_BIND_MAX;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), 0);
	/* the line is no slot: not bounded by nbackend */
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), 1, &why), 0);
	m.backend = HELPER_LISTEN_METRICS;
	m.starts = 1;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), 0);
	m.backend = HELPER_LISTEN_METRICS + 1;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m.backend = 0;
	m.starts = 0;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m.starts = HELPER_BIND_MAX + 1;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m.starts = 1;
	m.state = 1;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m.state = 0;
	m.pid = 1;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m.pid = 0;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m) - 1, HELPER_MAX_SLOTS, &why),
			 -EPROTO);
	/* a request is no reply, a BOUND no request */
	ck_assert_int_eq(helper_msg_check_reply(&m, sizeof(m), &why), -EPROTO);
	ck_assert_int_eq(helper_msg_check_request(&b, sizeof(b), HELPER_MAX_SLOTS, &why),
			 -EPROTO);

	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), 0);
	b.starts = HELPER_BOUND_MAX;
	b.backend = HELPER_LISTEN_METRICS;
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), 0);
	b.starts = HELPER_BOUND_MAX + 1;
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), -EPROTO);
	b.starts = 0;
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), -EPROTO);
	b.state = EACCES;
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), 0);
	b.starts = 1;   /* an error carries no socket */
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), -EPROTO);
	b.starts = 0;
	b.state = 4096;
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), -EPROTO);
	b.state = EACCES;
	b.backend = CFG_MAX_LISTEN + 1;
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), -EPROTO);
	b.backend = 0;
	b.pid = 3;
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), -EPROTO);
	b.pid = 0;
	b.backoff_ms = 3;
	ck_assert_int_eq(helper_msg_check_reply(&b, sizeof(b), &why), -EPROTO);
}
END_TEST

/* HMSG_OPEN names an entry of the SSL files (no slot); HMSG_OPENED carries one
 * descriptor, or an errno and nothing. */
START_TEST(test_check_open_messages)
{
	struct helper_msg m = req(HMSG_OPEN, TLS_MAX_FILES - 1);
	struct helper_msg o = { .magic = HELPER_MSG_MAGIC, .type = HMSG_OPENED, .starts = 1,
				.backoff_ms = 0x12345678 };
	const char *why = NULL;

	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), 0);
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), 1, &why), 0);
	m.backend = TLS_MAX_FILES;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	ck_assert_str_eq(why, "no such certificate or key file");
	m.backend = 0;
	m.starts = 1;     /* no field but the entry */
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m.starts = 0;
	m.backoff_ms = 1;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m.backoff_ms = 0;
	m.state = 1;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m), HELPER_MAX_SLOTS, &why), -EPROTO);
	m.state = 0;
	ck_assert_int_eq(helper_msg_check_request(&m, sizeof(m) + 1, HELPER_MAX_SLOTS, &why),
			 -EPROTO);
	ck_assert_int_eq(helper_msg_check_reply(&m, sizeof(m), &why), -EPROTO);
	ck_assert_int_eq(helper_msg_check_request(&o, sizeof(o), HELPER_MAX_SLOTS, &why),
			 -EPROTO);

	ck_assert_int_eq(helper_msg_check_reply(&o, sizeof(o), &why), 0);
	o.starts = 2;     /* one file, one descriptor */
	ck_assert_int_eq(helper_msg_check_reply(&o, sizeof(o), &why), -EPROTO);
	o.starts = 0;
	ck_assert_int_eq(helper_msg_check_reply(&o, sizeof(o), &why), -EPROTO);
	o.state = EACCES; /* an error: no descriptor, no digest */
	ck_assert_int_eq(helper_msg_check_reply(&o, sizeof(o), &why), -EPROTO);
	o.backoff_ms = 0;
	ck_assert_int_eq(helper_msg_check_reply(&o, sizeof(o), &why), 0);
	o.state = 4096;
	ck_assert_int_eq(helper_msg_check_reply(&o, sizeof(o), &why), -EPROTO);
	o.state = 0;
	o.starts = 1;
	o.backend = TLS_MAX_FILES;
	ck_assert_int_eq(helper_msg_check_reply(&o, sizeof(o), &why), -EPROTO);
	o.backend = 0;
	o.pid = 1;
	ck_assert_int_eq(helper_msg_check_reply(&o, sizeof(o), &why), -EPROTO);
}
END_TEST

/* The file digest changes with the path, the kind and the scope. */
START_TEST(test_tls_file_digest)
{
	struct tls_file a, b;
	uint32_t d;

	memset(&a, 0, sizeof(a));
	snprintf(a.path, sizeof(a.path), "/etc/ssl/a.key");
	a.kind = TLS_F_KEY;
	a.scope = 1;
	b = a;
	d = helper_tls_file_digest(&a);
	b.at.line = 99;   /* where it was named is not what is opened */
	ck_assert_uint_eq(helper_tls_file_digest(&b), d);
	snprintf(b.path, sizeof(b.path), "/etc/shadow");
	ck_assert_uint_ne(helper_tls_file_digest(&b), d);
	b = a;
	b.kind = TLS_F_CERT;
	ck_assert_uint_ne(helper_tls_file_digest(&b), d);
	b = a;
	b.scope = 2;
	ck_assert_uint_ne(helper_tls_file_digest(&b), d);
}
END_TEST

/* A config with one ProxyAutostart entry, built by hand (no file, no stat). */
static struct config *digest_cfg(void)
{
	struct config *c = calloc(1, sizeof(*c));
	struct cfg_autostart *a;
	static const char text[] = "/bin/app\0-p\08000";
	static const char env[] = "A=1\0B=2";

	ck_assert_ptr_nonnull(c);
	config_defaults(c);
	c->nbackend = 1;
	snprintf(c->backend[0].name, sizeof(c->backend[0].name), "http://127.0.0.1:8000");
	c->nautostart = 1;
	a = &c->autostart[0];
	memcpy(a->text, text, sizeof(text));
	a->argc = 3;
	a->argv_off[1] = 9;
	a->argv_off[2] = 12;
	memcpy(a->envtext, env, sizeof(env));
	a->nenv = 2;
	a->env_off[1] = 4;
	a->start_timeout_ms = 1000;
	a->backoff_min_ms = 100;
	a->backoff_max_ms = 1000;
	a->stop_timeout_ms = 1000;
	a->queue = 16;
	a->line = 7;
	return c;
}

/* The digest is a function of what defines the process, and of nothing else. */
START_TEST(test_autostart_digest)
{
	struct config *c = digest_cfg(), *d = digest_cfg();
	struct cfg_autostart *a = &c->autostart[0];
	uint32_t base = helper_autostart_digest(c, a);
	uint32_t seen[16];
	unsigned n = 0;

	/* stable: the same entry, another copy, another time */
	ck_assert_uint_eq(helper_autostart_digest(d, &d->autostart[0]), base);
	ck_assert_uint_eq(helper_autostart_digest(c, a), base);
	/* what updates in place does not count */
	a->start_timeout_ms = 5;
	a->stop_timeout_ms = 5;
	a->backoff_min_ms = a->backoff_max_ms = 5;
	a->queue = 1;
	a->line = 99;
	ck_assert_uint_eq(helper_autostart_digest(c, a), base);
	/* each of these does, and differently */
	seen[n++] = base;
#define CHANGED(what) do {                                                              \
		struct config *x = digest_cfg();                                         \
		struct cfg_autostart *e = &x->autostart[0];                              \
		uint32_t v;                                                              \
		(void)e;                                                                 \
		what;                                                                    \
		v = helper_autostart_digest(x, e);                                       \
		for (unsigned k = 0; k < n; k++)                                         \
			ck_assert_msg(v != seen[k], "%s: digest not changed", #what);     \
		seen[n++] = v;                                                           \
		free(x);                                                                 \
	} while (0)
	CHANGED(x->backend[0].name[20] = '1');
	CHANGED(e->text[14] = '1');                        /* an argument */
	CHANGED(e->argc = 2);                              /* one argument fewer */
	CHANGED(e->argv_off[2] = 13);                      /* "-p", "000": not "-p", "8000" */
	CHANGED(e->envtext[2] = '2');
	CHANGED(e->nenv = 1);
	CHANGED(strcpy(e->user, "daemon"));
	CHANGED(strcpy(e->group, "daemon"));
	CHANGED(strcpy(x->user, "www-data"));              /* the server's User, used here */
	CHANGED(strcpy(e->dir, "/srv"));
	CHANGED(strcpy(e->output, "/var/log/app.log"));
#undef CHANGED
	/* words are delimited: ("ab", "c") is not ("a", "bc") */
	memcpy(d->autostart[0].text, "/bin/ab\0c", 10);
	d->autostart[0].argc = 2;
	d->autostart[0].argv_off[1] = 8;
	base = helper_autostart_digest(d, &d->autostart[0]);
	memcpy(d->autostart[0].text, "/bin/a\0bc", 10);
	d->autostart[0].argv_off[1] = 7;
	ck_assert_uint_ne(helper_autostart_digest(d, &d->autostart[0]), base);
	/* a malformed entry is hashed without reading past its buffers (ASan checks) */
	memset(d->autostart[0].text, 'x', sizeof(d->autostart[0].text));
	d->autostart[0].argv_off[0] = 60000;
	d->autostart[0].argc = 1000;
	d->autostart[0].nenv = 1000;
	d->autostart[0].backend = 5;
	memset(d->autostart[0].dir, 'x', sizeof(d->autostart[0].dir));
	(void)helper_autostart_digest(d, &d->autostart[0]);
	free(c);
	free(d);
}
END_TEST

/* ---- backoff ---- */

START_TEST(test_backoff_doubles_to_max)
{
	unsigned want[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	unsigned cur = 0;

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cur = helper_backoff_next(cur, 100, 1000, 50, false);
		ck_assert_uint_eq(cur, want[i]);
	}
}
END_TEST

START_TEST(test_backoff_resets_after_stable_run)
{
	unsigned cur = helper_backoff_next(0, 1000, 60000, 0, false);

	cur = helper_backoff_next(cur, 1000, 60000, HELPER_STABLE_MS - 1, false);
	ck_assert_uint_eq(cur, 2000);
	cur = helper_backoff_next(cur, 1000, 60000, HELPER_STABLE_MS, false);
	ck_assert_uint_eq(cur, 0);
	/* after the reset, a quick death starts from min again */
	ck_assert_uint_eq(helper_backoff_next(cur, 1000, 60000, 10, false), 1000);
}
END_TEST

START_TEST(test_backoff_no_overflow)
{
	unsigned max = UINT_MAX - 1, cur = 0, prev = 0;

	for (unsigned i = 0; i < 64; i++) {
		cur = helper_backoff_next(cur, 3, max, 0, false);
		ck_assert_uint_ge(cur, prev);
		prev = cur;
	}
	ck_assert_uint_eq(cur, max);
	ck_assert_uint_eq(helper_backoff_next(UINT_MAX, 1, UINT_MAX, 0, false), UINT_MAX);
	ck_assert_uint_eq(helper_backoff_next(UINT_MAX / 2 + 1, 1, UINT_MAX, 0, false), UINT_MAX);
	/* a zero minimum still never means "at once" after a quick death */
	ck_assert_uint_gt(helper_backoff_next(0, 0, 0, 0, false), 0);
}
END_TEST

/* A clean end (exit 0, or a stop that was asked for) waits min, never a doubled delay;
 * a crash after it doubles from there again. */
START_TEST(test_backoff_clean_never_doubles)
{
	unsigned cur = 0;

	for (unsigned i = 0; i < 5; i++) {
		cur = helper_backoff_next(cur, 100, 1000, 50, true);
		ck_assert_uint_eq(cur, 100);
	}
	/* after crashes */
	cur = helper_backoff_next(cur, 100, 1000, 50, false);
	ck_assert_uint_eq(cur, 200);
	cur = helper_backoff_next(cur, 100, 1000, 50, false);
	ck_assert_uint_eq(cur, 400);
	ck_assert_uint_eq(helper_backoff_next(cur, 100, 1000, 50, true), 100);
	/* a stable run, clean or not, allows an immediate start */
	ck_assert_uint_eq(helper_backoff_next(cur, 100, 1000, HELPER_STABLE_MS, true), 0);
	ck_assert_uint_eq(helper_backoff_next(cur, 100, 1000, HELPER_STABLE_MS, false), 0);
	/* never 0 otherwise, and max below min means min */
	ck_assert_uint_gt(helper_backoff_next(400, 0, 0, 0, true), 0);
	ck_assert_uint_eq(helper_backoff_next(400, 300, 10, 0, true), 300);
}
END_TEST

/* ---- the helper process ---- */

static char dir[64];
static char logpath[128];
static char marker[128];
static struct config *cfg;
static bool root;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_helper.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* the backends run as nobody when we are root: they write here */
	ck_assert_int_eq(chmod(dir, 0777), 0);
	snprintf(logpath, sizeof(logpath), "%s/error.log", dir);
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	ck_assert_int_eq(log_open(logpath, geteuid(), NULL, 0), 0);
	cfg = malloc(sizeof(*cfg));
	ck_assert_ptr_nonnull(cfg);
	config_defaults(cfg);
	root = geteuid() == 0;
	if (root)
		strcpy(cfg->user, "nobody");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void teardown(void)
{
	/* depth first, symbolic links removed, not followed */
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	config_free(cfg);
	free(cfg);
}

/* Appends a ProxyAutostart entry for backend `i` (== its index) running argv. */
static struct cfg_autostart *as_add(const char *user, const char *const *argv)
{
	unsigned i = cfg->nautostart++;
	struct cfg_autostart *a = &cfg->autostart[i];
	size_t off = 0;

	a->backend = (int)i;
	snprintf(cfg->backend[i].name, sizeof(cfg->backend[i].name), "http://127.0.0.1:%u", i + 1);
	cfg->backend[i].autostart = (int)i;
	cfg->nbackend = i + 1;
	snprintf(a->user, sizeof(a->user), "%s", user);
	a->start_timeout_ms = 1000;
	a->backoff_min_ms = 100;
	a->backoff_max_ms = 1000;
	a->stop_timeout_ms = 1000;
	a->queue = 16;
	for (a->argc = 0; argv[a->argc]; a->argc++) {
		size_t l = strlen(argv[a->argc]) + 1;

		ck_assert_uint_lt(off + l, sizeof(a->text));
		memcpy(a->text + off, argv[a->argc], l);
		a->argv_off[a->argc] = (uint16_t)off;
		off += l;
	}
	return a;
}

static void as_env(struct cfg_autostart *a, const char *kv)
{
	size_t off = 0;

	for (unsigned i = 0; i < a->nenv; i++)
		off = a->env_off[i] + strlen(a->envtext + a->env_off[i]) + 1;
	memcpy(a->envtext + off, kv, strlen(kv) + 1);
	a->env_off[a->nenv++] = (uint16_t)off;
}

/* A backend that appends a line to the marker file, then runs `rest` (default: sleeps). */
static struct cfg_autostart *as_script(const char *user, const char *rest)
{
	char script[1024];
	const char *argv[] = { "/bin/sh", "-c", script, NULL };

	snprintf(script, sizeof(script), "echo started >> %s; %s", marker,
		 rest ? rest : "exec sleep 30");
	return as_add(user, argv);
}

static pid_t spawn(unsigned n, int *socks)
{
	char msg[256];
	pid_t pid = helper_spawn(cfg, NULL, n, socks, msg, sizeof(msg));

	ck_assert_msg(pid > 0, "helper_spawn: %d %s", (int)pid, msg);
	return pid;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void send_req(int fd, unsigned type, unsigned backend)
{
	struct helper_msg m;

	helper_msg_request(&m, type, backend);
	ck_assert_int_eq(send(fd, &m, sizeof(m), 0), (int)sizeof(m));
}

/* The next message on fd within ms: 1 (checked, in *m), 0 on timeout, -1 at EOF. */
static int recv_state(int fd, int ms, struct helper_msg *m)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	const char *why = "";
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = recv(fd, m, sizeof(*m), MSG_TRUNC);
	if (n <= 0)
		return -1;
	/* after a reload, slots go beyond config.autostart */
	ck_assert_msg(helper_msg_check_state(m, n, HELPER_MAX_SLOTS, &why) == 0,
		      "bad state message from the helper: %s", why);
	return 1;
}

/* Reads state messages until one for backend i in state st (and, for HB_RUNNING, with a
 * pid other than notpid) arrives within ms. */
static bool wait_state(int fd, unsigned i, unsigned st, pid_t notpid, int ms,
		       struct helper_msg *out)
{
	struct timespec t0;
	struct helper_msg m;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long left = ms; left > 0; left = ms - ms_since(&t0)) {
		int r = recv_state(fd, (int)left, &m);

		if (r < 0)
			return false;
		if (r > 0 && m.backend == i && m.state == st &&
		    (st != HB_RUNNING || m.pid != notpid)) {
			if (out)
				*out = m;
			return true;
		}
	}
	return false;
}

/* Sends a request and returns the first state message for that backend after what was
 * queued is drained: the answer, or the change the request caused, broadcast just before
 * it. Used where both carry what is checked; else wait_state(). */
static struct helper_msg ask(int fd, unsigned type, unsigned backend)
{
	struct helper_msg m;

	while (recv_state(fd, 0, &m) > 0)
		;
	send_req(fd, type, backend);
	for (int k = 0; k < 100; k++) {
		ck_assert_msg(recv_state(fd, 2000, &m) > 0, "no answer");
		if (m.backend == backend)
			return m;
	}
	ck_abort_msg("no answer for backend %u", backend);
	return m;
}

static bool wait_eof(int fd, int ms)
{
	struct timespec t0;
	struct helper_msg m;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long left = ms; left > 0; left = ms - ms_since(&t0)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, (int)left) <= 0)
			return false;
		if (recv(fd, &m, sizeof(m), MSG_DONTWAIT) == 0)
			return true;
	}
	return false;
}

static char *slurp(const char *path)
{
	static char buf[1 << 18];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static unsigned count_str(const char *path, const char *s)
{
	unsigned n = 0;

	for (const char *p = slurp(path); (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

static bool wait_count(const char *path, const char *s, unsigned n, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (count_str(path, s) < n) {
		if (ms_since(&t0) > ms)
			return false;
		sleep_ms(10);
	}
	return true;
}

static bool log_has(const char *s)
{
	return strstr(slurp(logpath), s) != NULL;
}

static bool wait_gone(pid_t pid, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!(kill(pid, 0) < 0 && errno == ESRCH)) {
		if (ms_since(&t0) > ms)
			return false;
		sleep_ms(10);
	}
	return true;
}

/* waitpid with a bound: the exit status, or -1 when it did not exit within ms. */
static int wait_exit(pid_t pid, int ms)
{
	struct timespec t0;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 || ms_since(&t0) > ms)
			return -1;
		sleep_ms(10);
	}
}

/* The value of a /proc/PID/status field ("Uid", "CapEff", ...), tabs as the kernel
 * writes them. */
static const char *proc_status(pid_t pid, const char *field)
{
	static char val[256];
	char path[64], key[64];
	const char *s, *e;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(key, sizeof(key), "\n%s:\t", field);
	s = strstr(slurp(path), key);
	ck_assert_msg(s != NULL, "%s: no %s", path, field);
	s += strlen(key);
	e = strchr(s, '\n');
	n = e ? (size_t)(e - s) : strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	if (n >= sizeof(val))
		n = sizeof(val) - 1;
	memcpy(val, s, n);
	val[n] = '\0';
	return val;
}

static unsigned want_uid(void)
{
	return root ? NOBODY : (unsigned)getuid();
}

static void uid_is(pid_t pid, unsigned uid)
{
	char want[64];

	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", uid, uid, uid, uid);
	ck_assert_str_eq(proc_status(pid, "Uid"), want);
}

static const char *link_of(const char *path)
{
	static char buf[512];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	ck_assert_msg(n > 0, "readlink %s: %s", path, strerror(errno));
	buf[n] = '\0';
	return buf;
}

static void close_all(int *socks, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(socks[i]);
}

START_TEST(test_malformed_ends_conversation)
{
	enum { NBAD = 7 };
	unsigned char bad[NBAD][64];
	size_t len[NBAD];
	int socks[NBAD + 1];
	struct helper_msg m;
	pid_t hp;

	as_script("", NULL);
	for (unsigned k = 0; k < NBAD; k++) {
		helper_msg_request(&m, HMSG_START, 0);
		len[k] = sizeof(m);
		switch (k) {
		case 0:
			len[k] = 5;
			break;
		case 1:
			len[k] = 64;
			break;
		case 2:
			m.magic = 0x53504c49;
			break;
		case 3:
			m.type = HMSG_STATE;
			break;
		case 4:
			m.backend = HELPER_MAX_SLOTS;  /* slots below are answered */
			break;
		case 5:
			m.backend = 0xffff;
			break;
		case 6:
			m.backoff_ms = 1;
			break;
		}
		memset(bad[k], 0, sizeof(bad[k]));
		memcpy(bad[k], &m, sizeof(m));
	}
	hp = spawn(NBAD + 1, socks);
	for (unsigned k = 0; k < NBAD; k++) {
		const char *why = NULL;
		char line[128];

		ck_assert_int_eq(send(socks[k], bad[k], len[k], 0), (int)len[k]);
		ck_assert_msg(wait_eof(socks[k], 2000), "conversation %u not ended", k);
		memcpy(&m, bad[k], sizeof(m));
		ck_assert_int_eq(helper_msg_check_request(&m, (long)len[k], HELPER_MAX_SLOTS,
							  &why), -EPROTO);
		snprintf(line, sizeof(line), "conversation %u ended: %s", k, why);
		ck_assert_msg(log_has(line), "log lacks '%s'", line);
	}
	/* the other conversation goes on, and nothing was started */
	m = ask(socks[NBAD], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	ck_assert_uint_eq(m.starts, 0);
	sleep_ms(300);
	ck_assert_int_ne(access(marker, F_OK), 0);
	close_all(socks, NBAD + 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
	ck_assert_int_ne(access(marker, F_OK), 0);
}
END_TEST

START_TEST(test_lifecycle)
{
	int socks[2];
	struct helper_msg m;
	pid_t hp, pid1, pid2;

	as_script("", NULL);
	hp = spawn(2, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert_int_gt(m.pid, 0);
	ck_assert_uint_eq(m.starts, 1);
	pid1 = m.pid;
	ck_assert(wait_count(marker, "started", 1, 5000));
	uid_is(pid1, want_uid());
	ck_assert_int_eq(getsid(pid1), pid1);
	ck_assert_int_eq(getpgid(pid1), pid1);
	/* the other conversation heard of it unasked */
	ck_assert(wait_state(socks[1], 0, HB_RUNNING, 0, 2000, &m));
	ck_assert_int_eq(m.pid, pid1);

	/* a second START does not start a second process */
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert_int_eq(m.pid, pid1);
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert_int_eq(m.pid, pid1);
	ck_assert_uint_eq(m.starts, 1);
	sleep_ms(200);
	ck_assert_uint_eq(count_str(marker, "started"), 1);

	/* it dies: the exit is reported, then it is started again after the backoff */
	ck_assert_int_eq(kill(pid1, SIGKILL), 0);
	ck_assert(wait_state(socks[0], 0, HB_BACKOFF, 0, 3000, &m));
	ck_assert(wait_state(socks[0], 0, HB_RUNNING, pid1, 3000, &m));
	pid2 = m.pid;
	ck_assert_uint_eq(m.starts, 2);
	ck_assert(wait_count(marker, "started", 2, 5000));
	ck_assert(log_has("killed by signal 9 after"));
	ck_assert(log_has("next start in 0.1 s (RestartBackoff)"));
	ck_assert(wait_gone(pid1, 2000));

	/* STOP: the group goes, and the state says so */
	send_req(socks[0], HMSG_STOP, 0);
	ck_assert(wait_state(socks[0], 0, HB_STOPPED, 0, 5000, &m));
	ck_assert(wait_gone(pid2, 2000));
	ck_assert(log_has("autostart: backend http://127.0.0.1:1 stopped"));
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	ck_assert_int_eq(m.pid, 0);
	sleep_ms(300);
	ck_assert_uint_eq(count_str(marker, "started"), 2);

	close_all(socks, 2);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
	ck_assert(log_has("helper: exiting"));
	ck_assert(kill(pid1, 0) < 0 && errno == ESRCH);
	ck_assert(kill(pid2, 0) < 0 && errno == ESRCH);
}
END_TEST

static pid_t read_pid(const char *path)
{
	ck_assert(wait_count(path, "\n", 1, 5000));
	return (pid_t)atoi(slurp(path));
}

/* The leader dies: what it left in its process group is killed with it. */
START_TEST(test_group_killed_with_leader)
{
	char rest[256], childf[128];
	int socks[1];
	struct helper_msg m;
	pid_t hp, child;

	snprintf(childf, sizeof(childf), "%s/child", dir);
	snprintf(rest, sizeof(rest), "sleep 30 & echo $! > %s; exec sleep 30", childf);
	as_script("", rest);
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	child = read_pid(childf);
	ck_assert_int_gt(child, 0);
	ck_assert_int_eq(getpgid(child), m.pid);
	ck_assert_int_eq(kill(m.pid, SIGKILL), 0);
	ck_assert(wait_gone(child, 3000));
	ck_assert(wait_count(logpath, "killed the processes left in its process group", 1, 2000));
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* The serving process goes away with a backend running: the helper stops it (and what it
 * started), then exits. */
START_TEST(test_close_stops_backends)
{
	char rest[256], childf[128];
	int socks[3];
	struct helper_msg m;
	pid_t hp, child;

	snprintf(childf, sizeof(childf), "%s/child", dir);
	snprintf(rest, sizeof(rest), "sleep 30 & echo $! > %s; exec sleep 30", childf);
	as_script("", rest);
	hp = spawn(3, socks);
	m = ask(socks[1], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	child = read_pid(childf);
	close_all(socks, 3);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
	ck_assert(kill(m.pid, 0) < 0 && errno == ESRCH);
	ck_assert(wait_gone(child, 2000));
	ck_assert(log_has("autostart: stopping backend http://127.0.0.1:1"));
}
END_TEST

/* A backend that ignores SIGTERM gets SIGKILL after StopTimeout. */
START_TEST(test_stop_timeout_sigkill)
{
	struct cfg_autostart *a;
	int socks[1];
	struct helper_msg m;
	pid_t hp, pid;

	a = as_script("", "trap '' TERM; exec sleep 30");
	a->stop_timeout_ms = 300;
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	pid = m.pid;
	ck_assert(wait_count(marker, "started", 1, 5000));
	send_req(socks[0], HMSG_STOP, 0);
	ck_assert(wait_state(socks[0], 0, HB_STOPPING, 0, 5000, &m));
	ck_assert_int_eq(m.pid, pid);
	ck_assert(wait_state(socks[0], 0, HB_STOPPED, 0, 5000, &m));
	ck_assert(wait_gone(pid, 2000));
	ck_assert(log_has("did not stop within 0.3 s of SIGTERM: SIGKILL"));
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* A backend that dies at once is restarted with growing delays, never in a loop. */
START_TEST(test_crash_loop_backs_off)
{
	const char *argv[] = { "/bin/false", NULL };
	struct cfg_autostart *a = as_add("", argv);
	struct timespec t0;
	int socks[1];
	struct helper_msg m;
	pid_t hp;
	long ms;

	a->backoff_min_ms = 100;
	a->backoff_max_ms = 400;
	hp = spawn(1, socks);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	send_req(socks[0], HMSG_START, 0);
	/* until the cap was reached twice */
	ck_assert(wait_count(logpath, "next start in 0.4 s", 2, 10000));
	m = ask(socks[0], HMSG_STATUS, 0);
	ms = ms_since(&t0);
	/* starts at 0, 0.1, 0.3, 0.7, then every 0.4 s at the most */
	ck_assert_msg(m.starts >= 4 && m.starts <= 5 + ms / 400,
		      "%u starts in %ld ms", m.starts, ms);
	ck_assert(log_has("next start in 0.1 s (RestartBackoff)"));
	ck_assert(log_has("next start in 0.2 s (RestartBackoff)"));
	ck_assert(log_has("exited with status 1 after"));
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* A backend that exited cleanly is started again on request, but not before its backoff
 * ends: a START per refused connection cannot become a fork loop. */
START_TEST(test_start_waits_for_backoff)
{
	const char *argv[] = { "/bin/true", NULL };
	struct cfg_autostart *a = as_add("", argv);
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	a->backoff_min_ms = 30000;
	a->backoff_max_ms = 30000;
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.starts, 1);
	ck_assert(wait_state(socks[0], 0, HB_BACKOFF, 0, 5000, &m));
	ck_assert(wait_count(logpath, "exited with status 0 after", 1, 2000));
	ck_assert(!log_has("next start in 30.0 s"));  /* a clean exit is not restarted */
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_BACKOFF);
	ck_assert_uint_eq(m.starts, 1);
	ck_assert_uint_gt(m.backoff_ms, 0);
	ck_assert(log_has("autostart: backend http://127.0.0.1:1: start requested, next start in"));
	for (int k = 0; k < 20; k++)
		ask(socks[0], HMSG_START, 0);
	sleep_ms(200);
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.starts, 1);
	ck_assert_uint_eq(count_str(logpath, "start requested"), 1);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* A backend that exits 0 at once, started twice: the second clean exit waits RestartBackoff
 * MIN again, not twice as long, and each says that backends must not daemonize. */
START_TEST(test_clean_exit_not_doubled)
{
	const char *argv[] = { "/bin/true", NULL };
	struct cfg_autostart *a = as_add("", argv);
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	a->backoff_min_ms = 300;
	a->backoff_max_ms = 10000;
	hp = spawn(1, socks);
	for (unsigned k = 1; k <= 2; k++) {
		m = ask(socks[0], HMSG_START, 0);
		ck_assert_uint_eq(m.starts, k);
		ck_assert(wait_state(socks[0], 0, HB_BACKOFF, 0, 5000, &m));
		ck_assert_msg(m.backoff_ms > 0 && m.backoff_ms <= 300, "start %u: backoff %u ms",
			      k, (unsigned)m.backoff_ms);
		/* not restarted by itself: the backoff ends in HB_STOPPED */
		ck_assert(wait_state(socks[0], 0, HB_STOPPED, 0, 5000, &m));
		ck_assert_uint_eq(m.starts, k);
	}
	ck_assert(wait_count(logpath, "exited with status 0 after", 2, 2000));
	ck_assert(wait_count(logpath, "autostart: backend http://127.0.0.1:1 exited with status 0 "
			     "0.", 2, 2000));
	ck_assert_uint_eq(count_str(logpath, " s after its start: backends must stay in the "
				    "foreground (do not daemonize)"), 2);
	ck_assert(!log_has("next start in"));
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* STOP then START: the start still waits for RestartBackoff (a stop counts as a clean
 * end), so a stop/start per request cannot become a fork loop either. */
START_TEST(test_stop_then_start_waits_for_backoff)
{
	struct cfg_autostart *a = as_script("", NULL);
	int socks[1];
	struct helper_msg m;
	pid_t hp, pid;

	a->backoff_min_ms = 3000;
	a->backoff_max_ms = 3000;
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	pid = m.pid;
	send_req(socks[0], HMSG_STOP, 0);
	ck_assert(wait_state(socks[0], 0, HB_STOPPED, 0, 5000, &m));
	ck_assert(wait_gone(pid, 2000));
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_BACKOFF);
	ck_assert_uint_eq(m.starts, 1);
	ck_assert_msg(m.backoff_ms > 1000 && m.backoff_ms <= 3000, "backoff %u ms",
		      (unsigned)m.backoff_ms);
	ck_assert(log_has("autostart: backend http://127.0.0.1:1: start requested, next start in"));
	/* and it does start once that is over */
	ck_assert(wait_state(socks[0], 0, HB_RUNNING, 0, 5000, &m));
	ck_assert_uint_eq(m.starts, 2);
	ck_assert(!log_has("do not daemonize"));
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

START_TEST(test_exec_failure_backs_off)
{
	const char *argv[] = { "/nonexistent/spliced-backend", "--flag", NULL };
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	as_add("", argv);
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_BACKOFF);
	ck_assert_uint_gt(m.backoff_ms, 0);
	ck_assert_uint_eq(m.starts, 0);
	ck_assert(log_has("autostart: backend http://127.0.0.1:1: exec "
			  "/nonexistent/spliced-backend: No such file or directory"));
	/* it is tried again by itself, later */
	ck_assert(wait_count(logpath, "exec /nonexistent/spliced-backend:", 2, 5000));
	ck_assert(wait_count(logpath, "next start in 0.2 s", 1, 5000));
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert(m.state == HB_BACKOFF || m.state == HB_STOPPED);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* How many descriptors above `max` the process whose /proc/PID/fd is `fddir` holds. */
static unsigned fds_above(const char *fddir, int max)
{
	DIR *d = opendir(fddir);
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' && atoi(e->d_name) > max;
	closedir(d);
	return n;
}

/* Exactly the documented environment, Dir=, Output=, standard input from /dev/null and
 * nothing else open. */
START_TEST(test_environment_and_descriptors)
{
	char rest[512], envf[128], outf[128], path[128];
	struct cfg_autostart *a;
	int socks[1];
	struct helper_msg m;
	const char *env;
	struct stat st;
	unsigned nfd = 0;
	DIR *d;
	struct dirent *e;
	pid_t hp;

	snprintf(envf, sizeof(envf), "%s/env", dir);
	snprintf(outf, sizeof(outf), "%s/out.log", dir);
	snprintf(rest, sizeof(rest), "env > %s.tmp; mv %s.tmp %s; echo out-line; exec sleep 30",
		 envf, envf, envf);
	a = as_script("", rest);
	as_env(a, "FOO=bar baz");
	as_env(a, "HOME=/override");
	snprintf(a->dir, sizeof(a->dir), "%s", dir);
	snprintf(a->output, sizeof(a->output), "%s", outf);
	setenv("SPLICED_LEAK", "1", 1);
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	for (int k = 0; k < 500 && access(envf, F_OK) != 0; k++)
		sleep_ms(10);
	env = slurp(envf);
	ck_assert_msg(strstr(env, "PATH=/usr/local/bin:/usr/bin:/bin\n"), "%s", env);
	ck_assert_msg(strstr(env, "HOME=/override\n"), "%s", env);
	ck_assert_msg(strstr(env, "FOO=bar baz\n"), "%s", env);
	if (root) {
		ck_assert_msg(strstr(env, "USER=nobody\n"), "%s", env);
		ck_assert_msg(strstr(env, "LOGNAME=nobody\n"), "%s", env);
	} else {
		ck_assert_msg(strstr(env, "USER="), "%s", env);
	}
	ck_assert_msg(!strstr(env, "SPLICED_LEAK"), "%s", env);
	ck_assert_msg(!strstr(env, "HOME=/nonexistent"), "%s", env);
	ck_assert(wait_count(outf, "out-line", 1, 5000));
	ck_assert_int_eq(stat(outf, &st), 0);
	if (root)
		ck_assert_uint_eq(st.st_uid, NOBODY);
	/* the exec'd sleep (not the shell before it): /dev/null, the output twice, nothing
	 * else */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)m.pid);
	for (int k = 0; k < 500 && strcmp(slurp(path), "sleep\n") != 0; k++)
		sleep_ms(10);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)m.pid);
	/* comm is set before exec closes the close-on-exec descriptors (the exec-error
	 * pipe): wait, bounded, until the exec is through; a descriptor that really leaks
	 * stays and fails below */
	for (int k = 0; k < 500 && fds_above(path, 2) > 0; k++)
		sleep_ms(10);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		ck_assert_msg(atoi(e->d_name) <= 2, "backend holds descriptor %s", e->d_name);
		nfd++;
	}
	closedir(d);
	ck_assert_uint_eq(nfd, 3);
	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)m.pid);
	ck_assert_str_eq(link_of(path), "/dev/null");
	snprintf(path, sizeof(path), "/proc/%d/fd/1", (int)m.pid);
	ck_assert_str_eq(link_of(path), outf);
	snprintf(path, sizeof(path), "/proc/%d/fd/2", (int)m.pid);
	ck_assert_str_eq(link_of(path), outf);
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)m.pid);
	ck_assert_str_eq(link_of(path), dir);
	/* the helper ignores SIGTERM and blocks SIGCHLD; the backend does not */
	ck_assert_str_eq(proc_status(m.pid, "SigIgn"), "0000000000000000");
	ck_assert_str_eq(proc_status(m.pid, "SigBlk"), "0000000000000000");
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* Output= is opened by the backend's process as the backend's user: a symbolic link the
 * backend put in its log directory, to a file only root may write, gets it nothing. The
 * start fails (logged like an exec failure) and the file keeps its owner, mode and
 * content. */
START_TEST(test_output_symlink_not_followed)
{
	char target[128], outf[128], line[512];
	struct cfg_autostart *a;
	int socks[1], fd;
	struct helper_msg m;
	struct stat st;
	pid_t hp;

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_output_symlink_not_followed\n");
		return;
	}
	snprintf(target, sizeof(target), "%s/shadow", dir);
	snprintf(outf, sizeof(outf), "%s/app.log", dir);
	fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "root:secret\n", 12), 12);
	close(fd);
	ck_assert_int_eq(symlink(target, outf), 0);
	a = as_script("", "echo out-line; exec sleep 30");
	snprintf(a->output, sizeof(a->output), "%s", outf);
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_int_eq(lstat(target, &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_uint_eq(st.st_gid, 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(m.state, HB_BACKOFF);
	ck_assert_uint_eq(m.starts, 0);
	snprintf(line, sizeof(line), "autostart: backend http://127.0.0.1:1: open Output %s: "
		 "Permission denied", outf);
	ck_assert_msg(log_has(line), "log lacks '%s'", line);
	ck_assert(wait_count(logpath, "next start in 0.1 s (RestartBackoff)", 1, 2000));
	/* tried again after the backoff, with the same result */
	ck_assert(wait_count(logpath, line, 2, 5000));
	ck_assert_int_eq(lstat(target, &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_uint_eq(st.st_gid, 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_str_eq(slurp(target), "root:secret\n");
	ck_assert_int_ne(access(marker, F_OK), 0);  /* never exec'd */
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
	ck_assert_int_eq(lstat(target, &st), 0);
	ck_assert(st.st_uid == 0 && (st.st_mode & 07777) == 0600);
}
END_TEST

static unsigned fdinfo_flags(pid_t pid, int fd)
{
	char path[64];
	const char *s;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	s = strstr(slurp(path), "flags:");
	ck_assert_ptr_nonnull(s);
	return (unsigned)strtoul(s + 6, NULL, 8);
}

/* Output= a FIFO without a reader: the start fails at once (ENXIO), the helper is not
 * blocked; with a reader the backend writes there, through a blocking descriptor. */
START_TEST(test_output_fifo)
{
	char fifo[128], line[512], buf[256];
	struct cfg_autostart *a;
	struct pollfd p;
	int socks[1], rfd;
	struct helper_msg m;
	ssize_t n;
	pid_t hp;

	snprintf(fifo, sizeof(fifo), "%s/out.fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0666), 0);
	ck_assert_int_eq(chmod(fifo, 0666), 0);  /* the backend's user writes to it */
	a = as_script("", "echo out-line; exec sleep 30");
	snprintf(a->output, sizeof(a->output), "%s", fifo);
	a->backoff_min_ms = 200;
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_BACKOFF);
	ck_assert_uint_eq(m.starts, 0);
	snprintf(line, sizeof(line), "autostart: backend http://127.0.0.1:1: open Output %s: "
		 "No such device or address", fifo);
	ck_assert_msg(log_has(line), "log lacks '%s' in:\n%s", line, slurp(logpath));
	m = ask(socks[0], HMSG_STATUS, 0);  /* the helper still answers */
	ck_assert_uint_eq(m.starts, 0);
	rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_ge(rfd, 0);
	/* the restart after the backoff finds a reader */
	ck_assert(wait_state(socks[0], 0, HB_RUNNING, 0, 5000, &m));
	p = (struct pollfd){ .fd = rfd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	n = read(rfd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "out-line"), "%s", buf);
	ck_assert_uint_eq(fdinfo_flags(m.pid, 1) & O_NONBLOCK, 0);
	ck_assert_uint_eq(fdinfo_flags(m.pid, 2) & O_NONBLOCK, 0);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
	close(rfd);
}
END_TEST

/* Output= is opened at every start: after logrotate moved it, the next start writes to a
 * new file of that name. */
START_TEST(test_output_reopened_each_start)
{
	char outf[128], rotated[140];
	struct cfg_autostart *a;
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	snprintf(outf, sizeof(outf), "%s/app.log", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", outf);
	a = as_script("", "echo out-line; exec sleep 30");
	snprintf(a->output, sizeof(a->output), "%s", outf);
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert(wait_count(outf, "out-line", 1, 5000));
	ck_assert_int_eq(rename(outf, rotated), 0);
	ck_assert_int_eq(kill(m.pid, SIGKILL), 0);
	ck_assert(wait_state(socks[0], 0, HB_RUNNING, m.pid, 5000, &m));
	ck_assert(wait_count(outf, "out-line", 1, 5000));
	ck_assert_uint_eq(count_str(rotated, "out-line"), 1);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* log holds the entry prefix + text + newline. */
static void entry_in(const char *log, const char *prefix, const char *text)
{
	char l[1200];

	snprintf(l, sizeof(l), "%s%s\n", prefix, text);
	ck_assert_msg(strstr(log, l), "log lacks \"%s\":\n%s", l, log);
}

/* A backend without Output= writes into a pipe the helper reads: each line lands in the
 * error log as one entry marked with "[backend:notice] [pid P] [URL]", control characters
 * escaped, a long line split, a last line without newline written when the process
 * ends; a line made to look like spliced's own stays behind the backend's mark. */
START_TEST(test_backend_output_to_log)
{
	char want[512], along[1100];
	struct cfg_autostart *a;
	const char *log, *at;
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	a = as_script("", "echo out-one; echo err-two >&2; printf 'esc\\033[1m\\\\x\\n'; "
		      "echo '[Wed Dec 02 10:00:00.000000 2026] [main:notice] [pid 1:tid 1] forged'; "
		      "printf '%2100s\\n' '' | tr ' ' a; printf partial-end; exit 3");
	a->backoff_min_ms = a->backoff_max_ms = 60000;   /* no restart during the test */
	hp = spawn(1, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert(wait_count(logpath, "exited with status 3", 1, 5000));
	log = slurp(logpath);
	snprintf(want, sizeof(want), "] [backend:notice] [pid %d] [http://127.0.0.1:1] ",
		 (int)m.pid);
	ck_assert_uint_eq(count_str(logpath, want), 8);
	entry_in(log, want, "out-one");
	entry_in(log, want, "err-two");
	entry_in(log, want, "esc\\x1b[1m\\\\x");
	entry_in(log, want, "[Wed Dec 02 10:00:00.000000 2026] [main:notice] [pid 1:tid 1] forged");
	memset(along, 'a', 1024);
	memcpy(along + 1024, " [split]", 9);
	entry_in(log, want, along);
	along[52] = '\0';
	entry_in(log, want, along);
	entry_in(log, want, "partial-end");
	ck_assert_uint_eq(count_str(logpath, " [split]\n"), 2);
	/* the partial line was read before the exit was logged */
	at = strstr(log, "partial-end");
	ck_assert(at && strstr(log, "exited with status 3") > at);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* Its standard output and error are that pipe, not a descriptor of the error log: a
 * backend that tries ftruncate(1, 0) cannot shrink spliced's log. */
START_TEST(test_backend_output_is_pipe)
{
	const char *tb = e2e_backend_bin_for_others();
	const char *argv[] = { tb, "-p", "0", "-T", "-o", "hello", NULL };
	char path[64], fd1[128];
	struct stat st;
	int socks[1];
	struct helper_msg m;
	off_t before;
	pid_t hp;

	ck_assert_msg(tb && *tb, "TESTBACKEND_BIN is not set");
	as_add("", argv);
	hp = spawn(1, socks);
	ck_assert_int_eq(stat(logpath, &st), 0);
	before = st.st_size;
	ck_assert_int_gt(before, 0);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert(wait_count(logpath, "[http://127.0.0.1:1] hello (stderr)\n", 1, 5000));
	ck_assert(wait_count(logpath, "[http://127.0.0.1:1] ftruncate(1, 0): Invalid argument\n",
			     1, 5000));
	ck_assert(wait_count(logpath, "[http://127.0.0.1:1] hello\n", 1, 5000));
	ck_assert(wait_count(logpath, "[http://127.0.0.1:1] listening 127.0.0.1:", 1, 5000));
	ck_assert_int_eq(stat(logpath, &st), 0);
	ck_assert_int_gt(st.st_size, before);
	ck_assert(log_has("helper: running as uid"));   /* written before the start */
	snprintf(path, sizeof(path), "/proc/%d/fd/1", (int)m.pid);
	snprintf(fd1, sizeof(fd1), "%s", link_of(path));
	ck_assert_msg(strncmp(fd1, "pipe:[", 6) == 0, "standard output is %s", fd1);
	snprintf(path, sizeof(path), "/proc/%d/fd/2", (int)m.pid);
	ck_assert_str_eq(link_of(path), fd1);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

static void sock_ino(int fd, char *out, size_t len)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(out, len, "socket:[%lu]", (unsigned long)st.st_ino);
}

/* The helper keeps none of the serving process's descriptors: not its listeners, not its
 * files, not the serving ends of the conversations. */
START_TEST(test_helper_closes_inherited)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char path[128], lname[64], sname[64];
	int socks[2], lfd, ffd;
	struct helper_msg m;
	unsigned nfd = 0;
	DIR *d;
	struct dirent *e;
	pid_t hp;

	as_script("", NULL);
	lfd = socket(AF_INET, SOCK_STREAM, 0);  /* no CLOEXEC: fork keeps it */
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	snprintf(path, sizeof(path), "%s/access.log", dir);
	ffd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(ffd, 0);
	sock_ino(lfd, lname, sizeof(lname));
	hp = spawn(2, socks);
	sock_ino(socks[0], sname, sizeof(sname));
	m = ask(socks[0], HMSG_STATUS, 0);  /* the helper is past its set-up */
	ck_assert_uint_eq(m.state, HB_STOPPED);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)hp);
	d = opendir(path);
	if (!d && errno == EACCES && !root) {
		/* the helper is not dumpable: its /proc/PID/fd is root's */
		fprintf(stderr, "check_helper: not root, cannot read %s, skipping "
			"test_helper_closes_inherited\n", path);
		close(lfd);
		close(ffd);
		close_all(socks, 2);
		ck_assert_int_eq(wait_exit(hp, 5000), 0);
		return;
	}
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char p[512];
		const char *link;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		link = link_of(p);
		ck_assert_msg(strcmp(link, lname) != 0, "helper holds the listener");
		ck_assert_msg(strcmp(link, sname) != 0, "helper holds a serving end");
		ck_assert_msg(!strstr(link, "access.log"), "helper holds the access log");
		nfd++;
	}
	closedir(d);
	/* 0-2, the log and its copy, 2 conversations, signalfd, /dev/null */
	ck_assert_uint_le(nfd, 9);
	close(lfd);
	close(ffd);
	close_all(socks, 2);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

START_TEST(test_shutdown)
{
	int socks[2];
	struct helper_msg m;
	pid_t hp;

	as_script("", NULL);
	hp = spawn(2, socks);
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	close(socks[1]);  /* a worker's conversation */
	ck_assert_int_eq(helper_shutdown(hp, socks[0], cfg), 0);
	ck_assert(wait_gone(m.pid, 1000));
	ck_assert(log_has("autostart: backend http://127.0.0.1:1 stopped"));
	ck_assert(log_has("helper: exiting"));
}
END_TEST

/* A set-up failure of the helper (here a malformed command, in any mode) makes
 * helper_spawn() fail: nothing is left running or open, and the log says why. */
START_TEST(test_setup_failure_fails_spawn)
{
	const char *argv[] = { "sh", "-c", "exit 0", NULL };
	int socks[2] = { -2, -2 };
	char msg[256];
	pid_t pid;

	as_add("", argv);  /* not an absolute path */
	pid = helper_spawn(cfg, NULL, 2, socks, msg, sizeof(msg));
	ck_assert_int_eq(pid, -EPERM);
	ck_assert_msg(strstr(msg, "the helper could not set up the backends' supervision"),
		      "%s", msg);
	ck_assert_int_eq(socks[0], -1);
	ck_assert_int_eq(socks[1], -1);
	ck_assert(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
	ck_assert(log_has("ProxyAutostart http://127.0.0.1:1 (entry 0): malformed command or "
			  "environment"));
}
END_TEST

/* Once helper_spawn() returned, the READY it consumed is gone: the conversation the
 * serving process keeps starts with the answers to its own requests. */
START_TEST(test_ready_consumed)
{
	int socks[2];
	struct helper_msg m;
	pid_t hp;

	as_script("", NULL);
	hp = spawn(2, socks);
	ck_assert_int_eq(recv_state(socks[1], 100, &m), 0);
	send_req(socks[1], HMSG_STATUS, 0);
	ck_assert_int_eq(recv_state(socks[1], 2000, &m), 1);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	close_all(socks, 2);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* ---- privileges (root only) ---- */

static pid_t spawn_synced(int *socks)
{
	pid_t hp = spawn(1, socks);
	struct helper_msg m = ask(socks[0], HMSG_STATUS, 0);

	ck_assert_uint_eq(m.state, HB_STOPPED);
	return hp;
}

START_TEST(test_privs_same_user)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_privs_same_user\n");
		return;
	}
	as_add("", argv);
	as_add("nobody", argv);
	hp = spawn_synced(socks);
	uid_is(hp, NOBODY);
	/* CAP_NET_BIND_SERVICE (bit 10) only, for HMSG_BIND */
	ck_assert_str_eq(proc_status(hp, "CapEff"), "0000000000000400");
	ck_assert_str_eq(proc_status(hp, "CapPrm"), "0000000000000400");
	ck_assert_str_eq(proc_status(hp, "CapInh"), "0000000000000000");
	ck_assert_str_eq(proc_status(hp, "CapBnd"), "0000000000000000");
	ck_assert_str_eq(proc_status(hp, "CapAmb"), "0000000000000000");
	ck_assert_str_eq(proc_status(hp, "NoNewPrivs"), "1");
	ck_assert_str_eq(proc_status(hp, "Groups"), "");
	ck_assert(log_has("helper: running as uid 65534 gid 65534 with CAP_NET_BIND_SERVICE "
			  "only"));
	/* its backend, of the same user, keeps nothing */
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	uid_is(m.pid, NOBODY);
	ck_assert_str_eq(proc_status(m.pid, "CapEff"), "0000000000000000");
	ck_assert_str_eq(proc_status(m.pid, "CapPrm"), "0000000000000000");
	ck_assert_str_eq(proc_status(m.pid, "CapInh"), "0000000000000000");
	ck_assert_str_eq(proc_status(m.pid, "CapAmb"), "0000000000000000");
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

START_TEST(test_privs_mixed_users)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_privs_mixed_users\n");
		return;
	}
	as_add("nobody", argv);
	as_add("daemon", argv);
	hp = spawn_synced(socks);
	uid_is(hp, 0);
	/* CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_NET_BIND_SERVICE */
	ck_assert_str_eq(proc_status(hp, "CapEff"), "00000000000004e0");
	ck_assert_str_eq(proc_status(hp, "CapPrm"), "00000000000004e0");
	ck_assert_str_eq(proc_status(hp, "CapInh"), "0000000000000000");
	ck_assert_str_eq(proc_status(hp, "CapBnd"), "0000000000000000");
	ck_assert_str_eq(proc_status(hp, "CapAmb"), "0000000000000000");
	ck_assert_str_eq(proc_status(hp, "NoNewPrivs"), "1");
	ck_assert(log_has("helper: running as uid 0 with CAP_SETUID, CAP_SETGID, CAP_KILL, "
			  "CAP_NET_BIND_SERVICE only"));
	/* each backend runs as its own user, with nothing */
	m = ask(socks[0], HMSG_START, 1);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	uid_is(m.pid, 1);
	ck_assert_str_eq(proc_status(m.pid, "Gid"), "1\t1\t1\t1");
	ck_assert_str_eq(proc_status(m.pid, "Groups"), "1");
	ck_assert_str_eq(proc_status(m.pid, "CapEff"), "0000000000000000");
	ck_assert_str_eq(proc_status(m.pid, "CapPrm"), "0000000000000000");
	ck_assert_str_eq(proc_status(m.pid, "NoNewPrivs"), "1");
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	uid_is(m.pid, NOBODY);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* helper_spawn() with a backend that would run as root (or group root) fails: no helper
 * is left, no conversation is open, and the log says why. */
static void spawn_refused(const char *why)
{
	int socks[2] = { -2, -2 };
	char msg[256];
	pid_t pid;

	pid = helper_spawn(cfg, NULL, 2, socks, msg, sizeof(msg));
	ck_assert_msg(pid < 0, "helper_spawn: %d", (int)pid);
	ck_assert_int_eq(pid, -EPERM);
	ck_assert_int_eq(socks[0], -1);
	ck_assert_int_eq(socks[1], -1);
	ck_assert(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
	ck_assert_msg(log_has(why), "log lacks '%s'", why);
}

START_TEST(test_privs_refuse_root)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_privs_refuse_root\n");
		return;
	}
	as_add("nobody", argv);
	as_add("root", argv);
	spawn_refused("ProxyAutostart: refusing to run a backend as root");
}
END_TEST

START_TEST(test_privs_refuse_group_root)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	struct cfg_autostart *a;

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_privs_refuse_group_root\n");
		return;
	}
	as_add("nobody", argv);
	a = as_add("nobody", argv);
	snprintf(a->group, sizeof(a->group), "root");
	spawn_refused("ProxyAutostart: refusing to run a backend with group root");
	ck_assert(!log_has("refusing to run a backend as root"));
}
END_TEST

START_TEST(test_privs_refuse_unknown_user)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_privs_refuse_unknown_user\n");
		return;
	}
	as_add("nobody", argv);
	as_add("no-such-user-spliced", argv);
	spawn_refused("ProxyAutostart http://127.0.0.1:2: User no-such-user-spliced: no such user");
}
END_TEST

/* The server's Group root, inherited by backends without User=, is refused too (and the
 * helper, which would become that group, never runs with it). */
START_TEST(test_privs_refuse_server_group_root)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping "
			"test_privs_refuse_server_group_root\n");
		return;
	}
	strcpy(cfg->group, "root");
	as_add("", argv);
	spawn_refused("ProxyAutostart: refusing to run a backend with group root");
}
END_TEST

/* SIGUSR1 to a helper that runs as uid 0 (mixed users): a symbolic link put in place of
 * the error log (its directory is the serving process's to write) is not followed, so
 * nothing is created where it points; the old log stays in use and says so. A regular
 * file there is reopened. */
START_TEST(test_log_reopen_no_symlink)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	char rotated[160], rootdir[128], target[160];
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_log_reopen_no_symlink\n");
		return;
	}
	snprintf(cfg->error_log, sizeof(cfg->error_log), "%s", logpath);
	as_add("nobody", argv);
	as_add("daemon", argv);
	hp = spawn_synced(socks);
	uid_is(hp, 0);
	snprintf(rotated, sizeof(rotated), "%s.1", logpath);
	snprintf(rootdir, sizeof(rootdir), "%s/rootonly", dir);
	snprintf(target, sizeof(target), "%s/planted", rootdir);
	ck_assert_int_eq(mkdir(rootdir, 0700), 0);
	ck_assert_int_eq(rename(logpath, rotated), 0);
	ck_assert_int_eq(symlink(target, logpath), 0);
	ck_assert_int_eq(kill(hp, SIGUSR1), 0);
	for (int k = 0; k < 500 && access(target, F_OK) != 0 && !count_str(rotated, "SIGUSR1"); k++)
		sleep_ms(10);
	ck_assert_msg(access(target, F_OK) < 0 && errno == ENOENT, "%s was created", target);
	ck_assert(wait_count(rotated, "SIGUSR1: reopening the error log: ", 1, 5000));
	ck_assert_uint_eq(count_str(rotated, " is a symbolic link, not followed (the old file "
				    "stays in use)"), 1);
	m = ask(socks[0], HMSG_STATUS, 0);  /* still serving */
	ck_assert_uint_eq(m.state, HB_STOPPED);
	/* a FIFO there is refused too, without blocking the helper */
	ck_assert_int_eq(unlink(logpath), 0);
	ck_assert_int_eq(mkfifo(logpath, 0666), 0);
	ck_assert_int_eq(kill(hp, SIGUSR1), 0);
	ck_assert(wait_count(rotated, "SIGUSR1: reopening the error log: ", 2, 5000));
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	/* a regular file is reopened */
	ck_assert_int_eq(unlink(logpath), 0);
	ck_assert_int_eq(kill(hp, SIGUSR1), 0);
	ck_assert(wait_count(logpath, "caught SIGUSR1, error log reopened", 1, 5000));
	ck_assert_uint_eq(count_str(rotated, "caught SIGUSR1"), 0);
	ck_assert(access(target, F_OK) < 0 && errno == ENOENT);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* Not root (as root: this test process becomes nobody first): everything runs as that
 * user, and User= is said to be ignored. */
START_TEST(test_privs_not_root)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	int socks[1];
	struct helper_msg m;
	pid_t hp;
	unsigned me;

	if (root) {
		/* still read, and removed at the end, by this test */
		ck_assert_int_eq(chmod(logpath, 0644), 0);
		ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
		ck_assert_int_eq(setgroups(0, NULL), 0);
		ck_assert_int_eq(setresgid(NOBODY, NOBODY, NOBODY), 0);
		ck_assert_int_eq(setresuid(NOBODY, NOBODY, NOBODY), 0);
	}
	me = (unsigned)geteuid();
	as_add("daemon", argv);
	hp = spawn_synced(socks);
	uid_is(hp, me);
	ck_assert_str_eq(proc_status(hp, "CapEff"), "0000000000000000");
	ck_assert_str_eq(proc_status(hp, "CapPrm"), "0000000000000000");
	ck_assert_str_eq(proc_status(hp, "NoNewPrivs"), "1");
	ck_assert(log_has("not started as root: backends run as uid"));
	ck_assert(log_has("ProxyAutostart User=/Group= cannot be applied"));
	m = ask(socks[0], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	uid_is(m.pid, me);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
	ck_assert(kill(m.pid, 0) < 0 && errno == ESRCH);
}
END_TEST

/* ---- reload ---- */

static char cfgpath[128];

/* Writes the configuration file (replaced whole, as an editor saving it would) with
 * ProxyAutostart lines `lines`, for backends on ports 1, 2, ... of 127.0.0.1 (never
 * connected to: the helper only starts processes), and loads it into cfg as the serving
 * side would. */
static void write_cfg(const char *lines, bool load)
{
	char tmp[160], text[4096];
	struct config_error err;
	FILE *f;

	snprintf(cfgpath, sizeof(cfgpath), "%s/spliced.conf", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", cfgpath);
	snprintf(text, sizeof(text), "Listen 127.0.0.1:1\n%sProxyPass / http://127.0.0.1:1/\n%s",
		 root ? "User nobody\n" : "# not root\n", lines);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(tmp, 0644), 0);
	ck_assert_int_eq(rename(tmp, cfgpath), 0);
	if (!load)
		return;
	config_free(cfg);
	ck_assert_msg(config_load(cfg, cfgpath, &err) == 0, "%s:%u: %s", err.file, err.line,
		      err.msg);
}

static pid_t spawn_file(unsigned n, int *socks)
{
	char msg[256];
	pid_t pid = helper_spawn(cfg, cfgpath, n, socks, msg, sizeof(msg));

	ck_assert_msg(pid > 0, "helper_spawn: %d %s", (int)pid, msg);
	return pid;
}

/* Sends HMSG_RELOAD on fd and reads the answer (state messages in between skipped, every
 * datagram checked): the slot and digest of each entry, their count in *n. Returns the
 * RELOADED state: 0 or an errno. */
static unsigned reload(int fd, unsigned *slot, uint32_t *digest, unsigned *n)
{
	struct helper_msg m;

	*n = 0;
	while (recv_state(fd, 0, &m) > 0)
		;
	send_req(fd, HMSG_RELOAD, 0);
	for (unsigned k = 0; k < 200; k++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const char *why = "";
		ssize_t len;

		ck_assert_msg(poll(&p, 1, 5000) == 1, "no answer to RELOAD");
		len = recv(fd, &m, sizeof(m), MSG_TRUNC);
		ck_assert_msg(len > 0, "conversation ended during a reload");
		ck_assert_msg(helper_msg_check_reply(&m, len, &why) == 0, "bad reply: %s", why);
		if (m.type == HMSG_MAPPED) {
			ck_assert_uint_eq(m.backend, *n);
			slot[*n] = m.starts;
			digest[(*n)++] = m.backoff_ms;
		} else if (m.type == HMSG_RELOADED) {
			ck_assert_uint_eq(m.backend, m.state ? 0 : *n);
			return m.state;
		}
	}
	ck_abort_msg("no RELOADED");
	return 0;
}

/* Reloads with success and checks that the helper read what we read: n entries, each
 * digest the one of our own parse. */
static void reload_ok(int fd, unsigned *slot, unsigned want_n)
{
	uint32_t digest[CFG_MAX_AUTOSTART];
	unsigned n;

	ck_assert_uint_eq(reload(fd, slot, digest, &n), 0);
	ck_assert_uint_eq(n, want_n);
	ck_assert_uint_eq(cfg->nautostart, want_n);
	for (unsigned i = 0; i < n; i++)
		ck_assert_uint_eq(digest[i], helper_autostart_digest(cfg, &cfg->autostart[i]));
}

/* An unchanged line keeps its slot and its process; new lines are mapped to new slots,
 * stopped until asked; the timeouts of a kept line are updated in place. */
START_TEST(test_reload_unchanged_and_new)
{
	unsigned slot[CFG_MAX_AUTOSTART];
	char line[128];
	int socks[2];
	struct helper_msg m;
	pid_t hp, pid1;

	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 30\n", true);
	hp = spawn_file(2, socks);
	m = ask(socks[1], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	pid1 = m.pid;
	write_cfg("ProxyAutostart http://127.0.0.1:2 -- /bin/sleep 31\n"
		  "ProxyAutostart http://127.0.0.1:1 StopTimeout=300ms Queue=3 -- /bin/sleep 30\n",
		  true);
	reload_ok(socks[1], slot, 2);
	ck_assert_uint_eq(slot[1], 0);  /* the same line, now second, keeps its slot */
	ck_assert_uint_ne(slot[0], 0);
	ck_assert_uint_lt(slot[0], HELPER_MAX_SLOTS);
	snprintf(line, sizeof(line), "reload: backend http://127.0.0.1:1 unchanged (pid %d)",
		 (int)pid1);
	ck_assert_msg(log_has(line), "log lacks '%s'", line);
	ck_assert(log_has("reload: backend http://127.0.0.1:2 new (slot "));
	m = ask(socks[1], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert_int_eq(m.pid, pid1);
	ck_assert_uint_eq(m.starts, 1);
	/* the new one waits for a START, from any conversation */
	m = ask(socks[0], HMSG_STATUS, slot[0]);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	ck_assert_uint_eq(m.starts, 0);
	m = ask(socks[0], HMSG_START, slot[0]);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert_int_ne(m.pid, pid1);
	uid_is(m.pid, want_uid());
	/* the StopTimeout read by the reload applies: a backend ignoring SIGTERM is killed
	 * after 0.3 s, said so in the log */
	ck_assert_int_eq(kill(pid1, SIGSTOP), 0);
	for (int k = 0; k < 500 && proc_status(pid1, "State")[0] != 'T'; k++)
		sleep_ms(10);  /* else a pending SIGTERM (15) is taken before SIGSTOP (19) */
	ck_assert_str_eq(proc_status(pid1, "State"), "T (stopped)");
	m = ask(socks[1], HMSG_STOP, 0);
	ck_assert(wait_gone(pid1, 5000));
	ck_assert(log_has("did not stop within 0.3 s of SIGTERM: SIGKILL"));
	/* the helper's shutdown stops every slot, the new ones too */
	close(socks[0]);
	ck_assert_int_eq(helper_shutdown(hp, socks[1], cfg), 0);
}
END_TEST

/* A removed line's process is stopped and its slot retired: requests for it are answered
 * HB_STOPPED and start nothing. */
START_TEST(test_reload_removed)
{
	unsigned slot[CFG_MAX_AUTOSTART];
	int socks[1];
	struct helper_msg m;
	pid_t hp, pid0, pid1;

	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 30\n"
		  "ProxyAutostart http://127.0.0.1:2 -- /bin/sleep 31\n", true);
	hp = spawn_file(1, socks);
	pid0 = ask(socks[0], HMSG_START, 0).pid;
	m = ask(socks[0], HMSG_START, 1);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	pid1 = m.pid;
	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 30\n", true);
	reload_ok(socks[0], slot, 1);
	ck_assert_uint_eq(slot[0], 0);
	ck_assert(log_has("reload: backend http://127.0.0.1:2 removed, stopping"));
	ck_assert(wait_state(socks[0], 1, HB_STOPPED, 0, 5000, NULL));
	ck_assert(wait_gone(pid1, 5000));
	/* retired: nothing is started for it, its history is gone */
	m = ask(socks[0], HMSG_START, 1);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	ck_assert_uint_eq(m.starts, 0);
	ck_assert_int_eq(m.pid, 0);
	m = ask(socks[0], HMSG_STATUS, 1);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	/* a slot never used is answered the same way */
	m = ask(socks[0], HMSG_START, HELPER_MAX_SLOTS - 1);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	/* the kept one runs on */
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert_int_eq(m.pid, pid0);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
	ck_assert(wait_gone(pid0, 1000));
}
END_TEST

/* A backend that ignores SIGTERM (its group's sleeps die; the loop goes on), so that its
 * stop lasts its StopTimeout. The word `tag` makes the command differ. */
static void stubborn_line(char *out, size_t len, unsigned port, const char *tag)
{
	char script[160];
	FILE *f;

	snprintf(script, sizeof(script), "%s/stubborn.sh", dir);
	/* written once: sh reads a script as it runs it */
	if (access(script, F_OK) < 0) {
		f = fopen(script, "w");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "trap '' TERM\necho started >> %s\nwhile :; do sleep 1; done\n",
			marker);
		ck_assert_int_eq(fclose(f), 0);
		ck_assert_int_eq(chmod(script, 0755), 0);
	}
	snprintf(out, len, "ProxyAutostart http://127.0.0.1:%u StopTimeout=700ms -- /bin/sh %s %s\n",
		 port, script, tag);
}

/* A changed line (another command, same backend) that was running is restarted: the old
 * process is stopped, the new slot waits (HB_BACKOFF) and starts only once the old
 * process group is gone. */
START_TEST(test_reload_changed_restarts)
{
	unsigned slot[CFG_MAX_AUTOSTART];
	char line[512];
	int socks[2];
	struct helper_msg m;
	pid_t hp, pid1;

	stubborn_line(line, sizeof(line), 1, "one");
	write_cfg(line, true);
	hp = spawn_file(2, socks);
	m = ask(socks[1], HMSG_START, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	pid1 = m.pid;
	ck_assert(wait_count(marker, "started", 1, 5000));
	stubborn_line(line, sizeof(line), 1, "two");
	write_cfg(line, true);
	reload_ok(socks[1], slot, 1);
	ck_assert_uint_ne(slot[0], 0);
	ck_assert(log_has("reload: backend http://127.0.0.1:1 changed, restarting"));
	/* the workers hear that the new slot waits, then that it runs: by then the old
	 * process is gone (it was SIGKILLed after its StopTimeout) */
	ck_assert(wait_state(socks[0], slot[0], HB_BACKOFF, 0, 5000, &m));
	ck_assert_uint_eq(m.backoff_ms, 0);
	ck_assert(wait_state(socks[0], slot[0], HB_RUNNING, 0, 5000, &m));
	ck_assert_msg(kill(pid1, 0) < 0 && errno == ESRCH, "the new process started while "
		      "the old one %d still ran", (int)pid1);
	ck_assert(log_has("did not stop within 0.7 s of SIGTERM: SIGKILL"));
	ck_assert_int_ne(m.pid, pid1);
	ck_assert_uint_eq(m.starts, 1);
	ck_assert(wait_count(marker, "started", 2, 5000));
	/* the old slot is retired */
	m = ask(socks[1], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	ck_assert_uint_eq(m.starts, 0);
	close_all(socks, 2);
	ck_assert_int_eq(wait_exit(hp, 10000), 0);
}
END_TEST

/* A changed line that was not wanted running (stopped just before) is not started by the
 * reload; a START for it waits until the old process is gone. */
START_TEST(test_reload_start_waits_for_old)
{
	unsigned slot[CFG_MAX_AUTOSTART];
	char line[512];
	int socks[1];
	struct helper_msg m;
	pid_t hp, pid1;

	stubborn_line(line, sizeof(line), 1, "one");
	write_cfg(line, true);
	hp = spawn_file(1, socks);
	pid1 = ask(socks[0], HMSG_START, 0).pid;
	ck_assert(wait_count(marker, "started", 1, 5000));
	send_req(socks[0], HMSG_STOP, 0);
	ck_assert(wait_state(socks[0], 0, HB_STOPPING, 0, 2000, NULL));
	stubborn_line(line, sizeof(line), 1, "two");
	write_cfg(line, true);
	reload_ok(socks[0], slot, 1);
	ck_assert(log_has("reload: backend http://127.0.0.1:1 changed"));
	ck_assert(!log_has("changed, restarting"));
	m = ask(socks[0], HMSG_STATUS, slot[0]);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	m = ask(socks[0], HMSG_START, slot[0]);
	ck_assert_uint_eq(m.state, HB_BACKOFF);
	ck_assert(wait_state(socks[0], slot[0], HB_RUNNING, 0, 5000, &m));
	ck_assert_msg(kill(pid1, 0) < 0 && errno == ESRCH, "started while the old one ran");
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 10000), 0);
}
END_TEST

/* A reload that cannot be carried out changes nothing and says why. */
START_TEST(test_reload_broken_changes_nothing)
{
	unsigned slot[CFG_MAX_AUTOSTART], n;
	uint32_t digest[CFG_MAX_AUTOSTART];
	int socks[1];
	struct helper_msg m;
	pid_t hp, pid1;

	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 30\n", true);
	hp = spawn_file(1, socks);
	pid1 = ask(socks[0], HMSG_START, 0).pid;
	/* a syntax error: the file and line are logged */
	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 31\nNoSuchDirective 1\n", false);
	ck_assert_uint_eq(reload(socks[0], slot, digest, &n), EINVAL);
	ck_assert_uint_eq(n, 0);
	ck_assert(log_has("reload: "));
	ck_assert(log_has("spliced.conf:5: "));
	ck_assert(log_has("; nothing changed"));
	/* the file gone */
	ck_assert_int_eq(unlink(cfgpath), 0);
	ck_assert_uint_eq(reload(socks[0], slot, digest, &n), ENOENT);
	if (root) {
		/* an unknown user (not root, User= does not apply) */
		write_cfg("ProxyAutostart http://127.0.0.1:1 User=no-such-user-here -- "
			  "/bin/sleep 31\n", false);
		ck_assert_uint_ne(reload(socks[0], slot, digest, &n), 0);
		ck_assert(log_has("spliced.conf:4: ProxyAutostart http://127.0.0.1:1: "));
		/* the helper became nobody at start-up: it cannot switch to daemon */
		write_cfg("ProxyAutostart http://127.0.0.1:1 User=daemon -- /bin/sleep 31\n",
			  false);
		ck_assert_uint_eq(reload(socks[0], slot, digest, &n), EPERM);
		ck_assert(log_has("ProxyAutostart http://127.0.0.1:1 would run as uid 1 gid 1; "
				  "the helper runs as uid 65534 gid 65534 since start-up: restart "
				  "spliced"));
		/* a file the helper (now nobody) cannot read */
		write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 31\n", false);
		ck_assert_int_eq(chmod(cfgpath, 0600), 0);
		ck_assert_uint_eq(reload(socks[0], slot, digest, &n), EACCES);
		ck_assert(log_has("(the helper reads it as its own user, which must be able to)"));
	}
	/* nothing changed */
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_RUNNING);
	ck_assert_int_eq(m.pid, pid1);
	ck_assert_uint_eq(m.starts, 1);
	m = ask(socks[0], HMSG_STATUS, 1);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	ck_assert_uint_eq(m.starts, 0);
	ck_assert_uint_eq(count_str(logpath, "stopping backend"), 0);
	/* and a good file afterwards is taken */
	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 30\n", true);
	reload_ok(socks[0], slot, 1);
	ck_assert_uint_eq(slot[0], 0);
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert_int_eq(m.pid, pid1);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* Only the serving process's own conversation may ask for a reload: on a worker's it
 * ends that conversation, as any invalid request does. */
START_TEST(test_reload_worker_conversation)
{
	unsigned slot[CFG_MAX_AUTOSTART];
	int socks[3];
	struct helper_msg m;
	pid_t hp;

	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 30\n", true);
	hp = spawn_file(3, socks);
	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 31\n", false);
	send_req(socks[1], HMSG_RELOAD, 0);
	ck_assert(wait_eof(socks[1], 2000));
	ck_assert(log_has("conversation 1 ended: reload asked on a worker's conversation"));
	ck_assert(!log_has("reload: reading"));
	/* nothing was reloaded; the other conversations go on */
	m = ask(socks[0], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	write_cfg("ProxyAutostart http://127.0.0.1:1 -- /bin/sleep 30\n", true);
	reload_ok(socks[2], slot, 1);
	ck_assert_uint_eq(slot[0], 0);
	close_all(socks, 3);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* CFG_MAX_AUTOSTART stubborn lines for backends on ports base, base + 1, ... */
static void stubborn_set(unsigned base)
{
	static char lines[CFG_MAX_AUTOSTART * 200];
	size_t used = 0;

	for (unsigned i = 0; i < CFG_MAX_AUTOSTART; i++) {
		stubborn_line(lines + used, sizeof(lines) - used, base + i, "x");
		used += strlen(lines + used);
	}
	write_cfg(lines, true);
}

/* Slots of removed lines stay in use while their processes stop: a reload that would need
 * more than HELPER_MAX_SLOTS fails with ENOSPC and changes nothing. */
START_TEST(test_reload_no_free_slot)
{
	unsigned slot[CFG_MAX_AUTOSTART], n;
	uint32_t digest[CFG_MAX_AUTOSTART];
	pid_t pid[CFG_MAX_AUTOSTART];
	int socks[1];
	struct helper_msg m;
	pid_t hp;

	stubborn_set(1);
	hp = spawn_file(1, socks);
	for (unsigned i = 0; i < CFG_MAX_AUTOSTART; i++)
		ck_assert_int_gt(ask(socks[0], HMSG_START, i).pid, 0);
	/* all removed (other backends): the first set stops for 0.7 s, the second starts */
	stubborn_set(101);
	reload_ok(socks[0], slot, CFG_MAX_AUTOSTART);
	for (unsigned i = 0; i < CFG_MAX_AUTOSTART; i++) {
		m = ask(socks[0], HMSG_START, slot[i]);
		ck_assert_uint_eq(m.state, HB_RUNNING);
		pid[i] = m.pid;
	}
	/* a third set while the first still stops: 16 + 16 + 16 slots */
	stubborn_set(201);
	ck_assert_uint_eq(reload(socks[0], slot, digest, &n), ENOSPC);
	ck_assert(log_has("more than 32: try again once the removed ones are gone; nothing "
			  "changed"));
	for (unsigned i = 0; i < CFG_MAX_AUTOSTART; i++) {
		m = ask(socks[0], HMSG_STATUS, CFG_MAX_AUTOSTART + i);
		ck_assert_uint_eq(m.state, HB_RUNNING);
		ck_assert_int_eq(m.pid, pid[i]);
	}
	/* once the first set is gone, there is room */
	for (unsigned i = 0; i < CFG_MAX_AUTOSTART; i++) {
		for (int k = 0; k < 200 && ask(socks[0], HMSG_STATUS, i).state != HB_STOPPED; k++)
			sleep_ms(25);
		m = ask(socks[0], HMSG_STATUS, i);
		ck_assert_uint_eq(m.state, HB_STOPPED);
		ck_assert_uint_eq(m.starts, 0);  /* retired */
	}
	reload_ok(socks[0], slot, CFG_MAX_AUTOSTART);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 10000), 0);
}
END_TEST

/* Spawned without a file (spliced without -c), a reload reads the built-in configuration:
 * what the test put in cfg is gone, the built-in entries (the demo's, when it is there)
 * are mapped to slots. */
START_TEST(test_reload_builtin)
{
	unsigned slot[CFG_MAX_AUTOSTART];
	struct config *b = calloc(1, sizeof(*b));
	struct config_error err;
	int socks[1];
	struct helper_msg m;
	pid_t hp, pid1;

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(config_builtin(b, &err), 0);
	as_script("", NULL);
	hp = spawn(1, socks);
	pid1 = ask(socks[0], HMSG_START, 0).pid;
	ck_assert_int_gt(pid1, 0);
	config_free(cfg);
	*cfg = *b;  /* what the serving side parsed; cfg is freed by teardown */
	free(b);
	reload_ok(socks[0], slot, cfg->nautostart);
	ck_assert(log_has("reload: reading the built-in configuration"));
	ck_assert(log_has("reload: backend http://127.0.0.1:1 removed, stopping"));
	ck_assert(wait_gone(pid1, 5000));
	for (unsigned i = 0; i < cfg->nautostart; i++) {
		m = ask(socks[0], HMSG_STATUS, slot[i]);
		ck_assert_uint_eq(m.state, HB_STOPPED);
	}
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* One TCase per behaviour of the helper process, each test in its own temp dir and log. */
/* ---- bind (HMSG_BIND) ---- */

/* Writes the configuration file with `listen` (its Listen and MetricsListen lines) and
 * no ProxyAutostart; loads it into cfg when `load`. */
static void write_listen_cfg(const char *listen, bool load)
{
	char tmp[160], text[1024];
	struct config_error err;
	FILE *f;

	snprintf(cfgpath, sizeof(cfgpath), "%s/spliced.conf", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", cfgpath);
	snprintf(text, sizeof(text), "%s%sProxyPass / http://127.0.0.1:1/\n", listen,
		 root ? "User nobody\n" : "");
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(tmp, 0644), 0);
	ck_assert_int_eq(rename(tmp, cfgpath), 0);
	if (!load)
		return;
	config_free(cfg);
	ck_assert_msg(config_load(cfg, cfgpath, &err) == 0, "%s:%u: %s", err.file, err.line,
		      err.msg);
}

/* A 127.0.0.1 port free now (bound to port 0, then released). */
static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* connect() to 127.0.0.1:port: 0 or -errno. */
static int connect_port(unsigned port, int *out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	ck_assert_int_ge(fd, 0);
	r = connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
	if (r == 0 && out)
		*out = fd;
	else
		close(fd);
	return r;
}

/* Nothing listens on port, within 2 s: the helper closes its copies of the sockets it
 * sent after sending them. */
static bool refused_soon(unsigned port)
{
	for (int i = 0; i < 100; i++) {
		if (connect_port(port, NULL) == -ECONNREFUSED)
			return true;
		sleep_ms(20);
	}
	return false;
}

/* A connection to port is queued on exactly one of the k listeners fds (SO_REUSEPORT
 * picks one), which accepts it. */
static void accepts_on(const int *fds, unsigned k, unsigned port)
{
	struct pollfd p[8];
	int c = -1, a = -1;

	ck_assert_uint_le(k, 8);
	ck_assert_int_eq(connect_port(port, &c), 0);
	for (unsigned i = 0; i < k; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	ck_assert_int_eq(poll(p, k, 5000), 1);
	for (unsigned i = 0; i < k; i++)
		if (p[i].revents)
			a = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(a, 0);
	close(a);
	close(c);
}

/* The helper binds the file's Listen line k times, as the serving process would: each
 * socket a close-on-exec, non-blocking listener on that address, sharing it
 * (SO_REUSEPORT); the MetricsListen line too. The conversation goes on after it. */
START_TEST(test_bind_listen)
{
	unsigned p1 = free_port(), p2 = free_port();
	char lines[256];
	int socks[2], fds[3], mfd, r;
	char msg[512];
	struct helper_msg m;
	pid_t hp;

	snprintf(lines, sizeof(lines), "Listen 127.0.0.1:%u\nListen 127.0.0.1:%u\n"
		 "MetricsListen 127.0.0.1:%u\n", free_port(), p1, p2);
	write_listen_cfg(lines, true);
	hp = spawn_file(2, socks);
	r = helper_bind(socks[1], 1, &cfg->listen[1], 3, fds, 5000, msg, sizeof(msg));
	ck_assert_msg(r == 0, "helper_bind: %d %s", r, msg);
	for (unsigned i = 0; i < 3; i++) {
		int one = 0;
		socklen_t ol = sizeof(one);

		ck_assert(helper_listener_check(fds[i], &cfg->listen[1]));
		ck_assert(!helper_listener_check(fds[i], &cfg->listen[0]));
		ck_assert(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		ck_assert(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
		ck_assert_int_eq(getsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &one, &ol), 0);
		ck_assert_int_eq(one, 1);
	}
	accepts_on(fds, 3, p1);
	ck_assert(log_has("bind: 127.0.0.1:"));
	r = helper_bind(socks[1], HELPER_LISTEN_METRICS, &cfg->metrics, 1, &mfd, 5000, msg,
			sizeof(msg));
	ck_assert_msg(r == 0, "helper_bind metrics: %d %s", r, msg);
	accepts_on(&mfd, 1, p2);
	/* a second bind of a listening address: another process (us) listens there */
	r = helper_bind(socks[1], 1, &cfg->listen[1], 1, &mfd, 5000, msg, sizeof(msg));
	ck_assert_int_eq(r, -EADDRINUSE);
	ck_assert_int_eq(mfd, -1);
	m = ask(socks[1], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	for (unsigned i = 0; i < 3; i++)
		close(fds[i]);
	close_all(socks, 2);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* A line the file does not have is answered ENOENT and binds nothing (the conversation
 * goes on); an index beyond any configuration, or no socket asked, is no request: the
 * conversation ends. */
START_TEST(test_bind_out_of_range)
{
	unsigned p1 = free_port();
	char lines[128], msg[512];
	struct cfg_listen other;
	struct helper_msg m;
	int socks[2], fd, r;
	pid_t hp;

	snprintf(lines, sizeof(lines), "Listen 127.0.0.1:%u\n", p1);
	write_listen_cfg(lines, true);
	other = cfg->listen[0];
	hp = spawn_file(2, socks);
	r = helper_bind(socks[1], 1, &other, 1, &fd, 5000, msg, sizeof(msg));
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_int_eq(fd, -1);
	ck_assert(log_has("has no Listen line 1"));
	r = helper_bind(socks[1], HELPER_LISTEN_METRICS, &other, 1, &fd, 5000, msg, sizeof(msg));
	ck_assert_int_eq(r, -ENOENT);
	ck_assert(log_has("has no MetricsListen line"));
	ck_assert_int_eq(connect_port(p1, NULL), -ECONNREFUSED);
	m = ask(socks[1], HMSG_STATUS, 0);
	ck_assert_uint_eq(m.state, HB_STOPPED);
	/* the serving side refuses to ask for what no request can name */
	ck_assert_int_eq(helper_bind(socks[1], CFG_MAX_LISTEN + 1, &other, 1, &fd, 5000, msg,
				     sizeof(msg)), -EINVAL);
	ck_assert_int_eq(helper_bind(socks[1], 0, &other, HELPER_BIND_MAX + 1, &fd, 5000, msg,
				     sizeof(msg)), -EINVAL);
	/* sent raw, they end the conversation */
	helper_msg_request(&m, HMSG_BIND, CFG_MAX_LISTEN + 1);
	m.starts = 1;
	ck_assert_int_eq(send(socks[1], &m, sizeof(m), 0), (int)sizeof(m));
	ck_assert(wait_eof(socks[1], 2000));
	ck_assert(log_has("conversation 1 ended: no such Listen line"));
	helper_msg_request(&m, HMSG_BIND, 0);
	ck_assert_int_eq(send(socks[0], &m, sizeof(m), 0), (int)sizeof(m));
	ck_assert(wait_eof(socks[0], 2000));
	ck_assert(log_has("conversation 0 ended: BIND asks for no socket or too many"));
	ck_assert_int_eq(connect_port(p1, NULL), -ECONNREFUSED);
	close_all(socks, 2);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* BIND on a worker's conversation ends that conversation and binds nothing; the last one
 * still gets its sockets. */
START_TEST(test_bind_worker_conversation)
{
	unsigned p1 = free_port();
	char lines[128], msg[512];
	struct helper_msg m;
	int socks[3], fd, r;
	pid_t hp;

	snprintf(lines, sizeof(lines), "Listen 127.0.0.1:%u\n", p1);
	write_listen_cfg(lines, true);
	hp = spawn_file(3, socks);
	helper_msg_request(&m, HMSG_BIND, 0);
	m.starts = 1;
	ck_assert_int_eq(send(socks[1], &m, sizeof(m), 0), (int)sizeof(m));
	ck_assert(wait_eof(socks[1], 2000));
	ck_assert(log_has("conversation 1 ended: bind asked on a worker's conversation"));
	ck_assert(!log_has("listening sockets for the serving process"));
	ck_assert_int_eq(connect_port(p1, NULL), -ECONNREFUSED);
	r = helper_bind(socks[2], 0, &cfg->listen[0], 1, &fd, 5000, msg, sizeof(msg));
	ck_assert_msg(r == 0, "helper_bind: %d %s", r, msg);
	accepts_on(&fd, 1, p1);
	close(fd);
	close_all(socks, 3);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* The file changed between the serving side's reading and the helper's: the sockets
 * received are on another address, so helper_bind() fails with ESTALE and keeps none. */
START_TEST(test_bind_file_changed)
{
	unsigned p1 = free_port(), p2 = free_port();
	char lines[128], msg[512];
	int socks[1], fds[2], r;
	pid_t hp;

	snprintf(lines, sizeof(lines), "Listen 127.0.0.1:%u\n", p1);
	write_listen_cfg(lines, true);
	hp = spawn_file(1, socks);
	snprintf(lines, sizeof(lines), "Listen 127.0.0.1:%u\n", p2);
	write_listen_cfg(lines, false);
	r = helper_bind(socks[0], 0, &cfg->listen[0], 2, fds, 5000, msg, sizeof(msg));
	ck_assert_int_eq(r, -ESTALE);
	ck_assert_int_eq(fds[0], -1);
	ck_assert_int_eq(fds[1], -1);
	ck_assert(strstr(msg, "changed") != NULL);
	/* nothing left listening on either */
	ck_assert(refused_soon(p2));
	ck_assert_int_eq(connect_port(p1, NULL), -ECONNREFUSED);
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* Root only: the helper (nobody, with CAP_NET_BIND_SERVICE) binds a port below 1024 that
 * this process cannot bind once it switched to nobody too, as the serving process does. */
START_TEST(test_bind_privileged_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char lines[128], msg[512];
	int socks[1], fds[2], r, fd;
	unsigned port;
	pid_t hp;

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_bind_privileged_port\n");
		return;
	}
	port = (unsigned)e2e_free_privileged_port();
	ck_assert_msg(port > 0, "no free port in 600..1000");
	snprintf(lines, sizeof(lines), "Listen 127.0.0.1:%u\n", port);
	write_listen_cfg(lines, true);
	hp = spawn_file(1, socks);
	uid_is(hp, NOBODY);
	/* this process becomes nobody, without capabilities: it cannot bind the port */
	ck_assert_int_eq(chmod(logpath, 0644), 0);
	ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
	ck_assert_int_eq(setgroups(0, NULL), 0);
	ck_assert_int_eq(setresgid(NOBODY, NOBODY, NOBODY), 0);
	ck_assert_int_eq(setresuid(NOBODY, NOBODY, NOBODY), 0);
	ck_assert_str_eq(proc_status(getpid(), "CapEff"), "0000000000000000");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	a.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), -1);
	ck_assert_int_eq(errno, EACCES);
	close(fd);
	r = helper_bind(socks[0], 0, &cfg->listen[0], 2, fds, 5000, msg, sizeof(msg));
	ck_assert_msg(r == 0, "helper_bind: %d %s", r, msg);
	accepts_on(fds, 2, port);
	close(fds[0]);
	close(fds[1]);
	ck_assert(refused_soon(port));
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* ---- opening certificate and key files (HMSG_OPEN) ---- */

/* DIR/name holding text, with mode. */
static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* The configuration file with one TLS <VirtualHost> naming DIR/c.crt and DIR/c.key (the
 * files hold "CERT\n" and "KEY\n"; the key only its owner may read), loaded into cfg.
 * The helper only opens them: their content does not matter to it. */
static void write_tls_cfg(void)
{
	unsigned p = free_port();
	char lines[768];

	write_file("c.crt", "CERT\n", 0644);
	write_file("c.key", "KEY\n", 0600);
	snprintf(lines, sizeof(lines),
		 "Listen 127.0.0.1:%u https\n<VirtualHost *:%u>\nSSLEngine on\n"
		 "SSLCertificateFile %s/c.crt\nSSLCertificateKeyFile %s/c.key\n"
		 "</VirtualHost>\n", p, p, dir, dir);
	write_listen_cfg(lines, true);
	ck_assert_ptr_nonnull(cfg->tls);
	ck_assert_uint_eq(cfg->tls->nfile, 2);
}

/* What fd reads, as a string (it is closed). */
static const char *read_fd(int fd)
{
	static char buf[64];
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	return buf;
}

/* A configured file is passed; an entry the configuration does not have is refused, and
 * the conversation goes on; a path other than the configuration's (/etc/shadow) is
 * never opened: the request names an entry, and the helper's digest of what it opened
 * differs from /etc/shadow's (-ESTALE, no descriptor kept). An entry past the table
 * ends the conversation. */
START_TEST(test_open_configured)
{
	struct tls_file shadow;
	struct helper_msg m;
	int socks[1], r;
	char msg[512];
	pid_t hp;

	write_tls_cfg();
	hp = spawn_file(1, socks);
	ck_assert_str_eq(read_fd(helper_open(socks[0], 0, &cfg->tls->file[0], 5000, msg,
					     sizeof(msg))), "CERT\n");
	r = helper_open(socks[0], 1, &cfg->tls->file[1], 5000, msg, sizeof(msg));
	ck_assert_msg(r >= 0, "helper_open: %d %s", r, msg);
	ck_assert_str_eq(read_fd(r), "KEY\n");
	ck_assert(log_has("open: "));

	r = helper_open(socks[0], 2, &cfg->tls->file[1], 5000, msg, sizeof(msg));
	ck_assert_int_eq(r, -ENOENT);
	ck_assert(log_has("names no certificate or key file 2"));

	shadow = cfg->tls->file[1];
	snprintf(shadow.path, sizeof(shadow.path), "/etc/shadow");
	r = helper_open(socks[0], 1, &shadow, 5000, msg, sizeof(msg));
	ck_assert_int_eq(r, -ESTALE);
	ck_assert(strstr(msg, "changed") != NULL);
	ck_assert(!log_has("/etc/shadow"));

	r = helper_open(socks[0], TLS_MAX_FILES, &shadow, 5000, msg, sizeof(msg));
	ck_assert_int_eq(r, -EINVAL);   /* refused before it is asked */
	helper_msg_request(&m, HMSG_OPEN, TLS_MAX_FILES);
	ck_assert_int_eq(send(socks[0], &m, sizeof(m), 0), (int)sizeof(m));
	ck_assert(wait_eof(socks[0], 2000));
	ck_assert(log_has("conversation 0 ended: no such certificate or key file"));
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* Only the last conversation may ask: on a worker's, the conversation ends. */
START_TEST(test_open_worker_conversation)
{
	struct helper_msg m;
	int socks[2], r;
	char msg[512];
	pid_t hp;

	write_tls_cfg();
	hp = spawn_file(2, socks);
	helper_msg_request(&m, HMSG_OPEN, 1);
	ck_assert_int_eq(send(socks[0], &m, sizeof(m), 0), (int)sizeof(m));
	ck_assert(wait_eof(socks[0], 2000));
	ck_assert(log_has("conversation 0 ended: open asked on a worker's conversation"));
	ck_assert(!log_has("for the serving process"));
	r = helper_open(socks[1], 1, &cfg->tls->file[1], 5000, msg, sizeof(msg));
	ck_assert_msg(r >= 0, "helper_open: %d %s", r, msg);
	ck_assert_str_eq(read_fd(r), "KEY\n");
	close_all(socks, 2);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

/* Root only: a key only root may read (0600). The helper (nobody, with
 * CAP_NET_BIND_SERVICE and CAP_DAC_READ_SEARCH: the configuration has TLS files) opens
 * it for this process once it switched to nobody, which cannot open it itself, as the
 * serving process. */
START_TEST(test_open_root_only_key)
{
	struct stat st;
	char key[160], msg[512];
	int socks[1], r;
	pid_t hp;

	if (!root) {
		fprintf(stderr, "check_helper: not root, skipping test_open_root_only_key\n");
		return;
	}
	write_tls_cfg();
	snprintf(key, sizeof(key), "%s/c.key", dir);
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	hp = spawn_file(1, socks);
	uid_is(hp, NOBODY);
	ck_assert_str_eq(proc_status(hp, "CapEff"), "0000000000000404");
	ck_assert_str_eq(proc_status(hp, "CapPrm"), "0000000000000404");
	ck_assert_str_eq(proc_status(hp, "CapBnd"), "0000000000000000");
	ck_assert(log_has("with CAP_NET_BIND_SERVICE and CAP_DAC_READ_SEARCH only"));
	ck_assert_int_eq(chmod(logpath, 0644), 0);
	ck_assert_int_eq(setgroups(0, NULL), 0);
	ck_assert_int_eq(setresgid(NOBODY, NOBODY, NOBODY), 0);
	ck_assert_int_eq(setresuid(NOBODY, NOBODY, NOBODY), 0);
	ck_assert_int_eq(open(key, O_RDONLY | O_CLOEXEC), -1);
	ck_assert_int_eq(errno, EACCES);
	r = helper_open(socks[0], 1, &cfg->tls->file[1], 5000, msg, sizeof(msg));
	ck_assert_msg(r >= 0, "helper_open: %d %s", r, msg);
	ck_assert_str_eq(read_fd(r), "KEY\n");
	close_all(socks, 1);
	ck_assert_int_eq(wait_exit(hp, 5000), 0);
}
END_TEST

static void add_process_tcase(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("helper");
	TCase *tc;

	tc = tcase_create("messages");
	tcase_add_test(tc, test_check_request_table);
	tcase_add_test(tc, test_check_state_table);
	tcase_add_test(tc, test_request_fields);
	tcase_add_test(tc, test_check_ready_table);
	tcase_add_test(tc, test_check_reply_table);
	tcase_add_test(tc, test_check_request_reload);
	tcase_add_test(tc, test_check_bind_messages);
	tcase_add_test(tc, test_check_open_messages);
	tcase_add_test(tc, test_tls_file_digest);
	tcase_add_test(tc, test_autostart_digest);
	suite_add_tcase(s, tc);

	tc = tcase_create("backoff");
	tcase_add_test(tc, test_backoff_doubles_to_max);
	tcase_add_test(tc, test_backoff_resets_after_stable_run);
	tcase_add_test(tc, test_backoff_no_overflow);
	tcase_add_test(tc, test_backoff_clean_never_doubles);
	suite_add_tcase(s, tc);

	add_process_tcase(s, "malformed", test_malformed_ends_conversation);
	add_process_tcase(s, "lifecycle", test_lifecycle);
	add_process_tcase(s, "group", test_group_killed_with_leader);
	add_process_tcase(s, "close", test_close_stops_backends);
	add_process_tcase(s, "stop_timeout", test_stop_timeout_sigkill);
	add_process_tcase(s, "crash_loop", test_crash_loop_backs_off);
	add_process_tcase(s, "start_backoff", test_start_waits_for_backoff);
	add_process_tcase(s, "clean_exit", test_clean_exit_not_doubled);
	add_process_tcase(s, "stop_start", test_stop_then_start_waits_for_backoff);
	add_process_tcase(s, "exec_failure", test_exec_failure_backs_off);
	add_process_tcase(s, "environment", test_environment_and_descriptors);
	add_process_tcase(s, "output_symlink", test_output_symlink_not_followed);
	add_process_tcase(s, "output_fifo", test_output_fifo);
	add_process_tcase(s, "output_reopen", test_output_reopened_each_start);
	add_process_tcase(s, "backend_output", test_backend_output_to_log);
	add_process_tcase(s, "backend_output_pipe", test_backend_output_is_pipe);
	add_process_tcase(s, "inherited", test_helper_closes_inherited);
	add_process_tcase(s, "shutdown", test_shutdown);
	add_process_tcase(s, "setup_failure", test_setup_failure_fails_spawn);
	add_process_tcase(s, "ready_consumed", test_ready_consumed);
	add_process_tcase(s, "privs_same_user", test_privs_same_user);
	add_process_tcase(s, "privs_mixed", test_privs_mixed_users);
	add_process_tcase(s, "privs_refuse_root", test_privs_refuse_root);
	add_process_tcase(s, "privs_refuse_group", test_privs_refuse_group_root);
	add_process_tcase(s, "privs_refuse_unknown_user", test_privs_refuse_unknown_user);
	add_process_tcase(s, "privs_refuse_server_group", test_privs_refuse_server_group_root);
	add_process_tcase(s, "log_reopen", test_log_reopen_no_symlink);
	add_process_tcase(s, "privs_not_root", test_privs_not_root);
	add_process_tcase(s, "reload_unchanged_new", test_reload_unchanged_and_new);
	add_process_tcase(s, "reload_removed", test_reload_removed);
	add_process_tcase(s, "reload_changed", test_reload_changed_restarts);
	add_process_tcase(s, "reload_start_waits", test_reload_start_waits_for_old);
	add_process_tcase(s, "reload_broken", test_reload_broken_changes_nothing);
	add_process_tcase(s, "reload_worker_conv", test_reload_worker_conversation);
	add_process_tcase(s, "reload_builtin", test_reload_builtin);
	add_process_tcase(s, "reload_no_free_slot", test_reload_no_free_slot);
	add_process_tcase(s, "bind_listen", test_bind_listen);
	add_process_tcase(s, "bind_out_of_range", test_bind_out_of_range);
	add_process_tcase(s, "bind_worker_conv", test_bind_worker_conversation);
	add_process_tcase(s, "bind_file_changed", test_bind_file_changed);
	add_process_tcase(s, "bind_privileged", test_bind_privileged_port);
	add_process_tcase(s, "open_configured", test_open_configured);
	add_process_tcase(s, "open_worker_conv", test_open_worker_conversation);
	add_process_tcase(s, "open_root_only_key", test_open_root_only_key);

	return ck_run_suite(s);
}
