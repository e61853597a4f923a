/* Socket activation: the sockets a service manager passes (see include/spliced/sdlisten.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "spliced/sdlisten.h"

/* A decimal number without sign, spaces or leading zeros beyond "0", at most max. */
static bool sdlisten_number(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = v;
	return true;
}

static int sdlisten_names(const char *names, struct sdlisten *sl, char *msg, size_t len)
{
	const char *p = names;
	unsigned i = 0;

	for (;;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (i == sl->n) {
			i++;
			break;
		}
		if (n >= SDLISTEN_NAME_MAX) {
			snprintf(msg, len, "LISTEN_FDNAMES: name %u is longer than %d bytes", i + 1,
				 SDLISTEN_NAME_MAX - 1);
			return -EINVAL;
		}
		memcpy(sl->name[i], p, n);
		sl->name[i][n] = '\0';
		i++;
		if (!end)
			break;
		p = end + 1;
	}
	if (i != sl->n) {
		unsigned given = 1;

		for (p = names; *p; p++)
			given += *p == ':';
		snprintf(msg, len, "LISTEN_FDNAMES=%.200s names %u sockets, LISTEN_FDS says %u",
			 names, given, sl->n);
		return -EINVAL;
	}
	return 0;
}

int sdlisten_parse(const char *pid, const char *fds, const char *names, pid_t self,
		   struct sdlisten *sl, char *msg, size_t len)
{
	unsigned long p, n;

	sl->n = 0;
	for (unsigned i = 0; i < CFG_MAX_LISTEN + 1; i++)
		sl->of[i] = -1;
	if (!pid || !fds)
		return 0;
	if (!sdlisten_number(pid, 0x7fffffff, &p) || p == 0) {
		snprintf(msg, len, "LISTEN_PID=%.40s is not a process id", pid);
		return -EINVAL;
	}
	if ((pid_t)p != self)
		return 0;   /* meant for another process (the one that started us) */
	if (!sdlisten_number(fds, 0x7fffffff - SDLISTEN_FIRST_FD, &n)) {
		snprintf(msg, len, "LISTEN_FDS=%.40s is not a number of descriptors", fds);
		return -EINVAL;
	}
	if (n > SDLISTEN_MAX) {
		snprintf(msg, len, "LISTEN_FDS=%lu: more sockets than spliced can use (%d: one "
			 "per Listen line and MetricsListen)", n, SDLISTEN_MAX);
		return -EINVAL;
	}
	sl->n = (unsigned)n;
	for (unsigned i = 0; i < sl->n; i++) {
		sl->fd[i] = SDLISTEN_FIRST_FD + (int)i;
		snprintf(sl->name[i], sizeof(sl->name[i]), "unknown");   /* sd_listen_fds_with_names */
	}
	if (names && sl->n && sdlisten_names(names, sl, msg, len) < 0) {
		sl->n = 0;
		return -EINVAL;
	}
	return 0;
}

int sdlisten_from_env(struct sdlisten *sl, char *msg, size_t len)
{
	int ret = sdlisten_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
				 getenv("LISTEN_FDNAMES"), getpid(), sl, msg, len);

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < sl->n; i++) {
		int flags = fcntl(sl->fd[i], F_GETFD);

		if (flags < 0 || fcntl(sl->fd[i], F_SETFD, flags | FD_CLOEXEC) < 0) {
			ret = -errno;
			snprintf(msg, len, "LISTEN_FDS=%u: descriptor %d (name \"%s\"): %s", sl->n,
				 sl->fd[i], sl->name[i], strerror(-ret));
			sl->n = 0;
			return ret;
		}
	}
	return 0;
}

bool sdlisten_addr_is(const struct sockaddr_storage *a, socklen_t alen,
		      const struct cfg_listen *l)
{
	const struct sockaddr_in *a4 = (const void *)a, *l4 = (const void *)&l->addr;
	const struct sockaddr_in6 *a6 = (const void *)a, *l6 = (const void *)&l->addr;

	if (alen < sizeof(sa_family_t) || a->ss_family != l->addr.ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return alen >= sizeof(*a4) && a4->sin_port == l4->sin_port &&
		       a4->sin_addr.s_addr == l4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return alen >= sizeof(*a6) && a6->sin6_port == l6->sin6_port &&
		       memcmp(&a6->sin6_addr, &l6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
	return false;
}

const char *sdlisten_addr_format(const struct sockaddr_storage *a, socklen_t alen, char *out,
				 size_t outlen)
{
	const struct sockaddr_in *a4 = (const void *)a;
	const struct sockaddr_in6 *a6 = (const void *)a;
	const struct sockaddr_un *un = (const void *)a;
	size_t off = offsetof(struct sockaddr_un, sun_path);
	char host[INET6_ADDRSTRLEN];

	if (alen < sizeof(sa_family_t)) {
		snprintf(out, outlen, "no address");
	} else if (a->ss_family == AF_INET && alen >= sizeof(*a4) &&
		   inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host))) {
		snprintf(out, outlen, "%s:%u", host, ntohs(a4->sin_port));
	} else if (a->ss_family == AF_INET6 && alen >= sizeof(*a6) &&
		   inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host))) {
		snprintf(out, outlen, "[%s]:%u", host, ntohs(a6->sin6_port));
	} else if (a->ss_family == AF_UNIX && alen > off && un->sun_path[0] == '\0') {
		snprintf(out, outlen, "unix:@%.*s", (int)(alen - off - 1), un->sun_path + 1);
	} else if (a->ss_family == AF_UNIX && alen > off) {
		snprintf(out, outlen, "unix:%.*s", (int)strnlen(un->sun_path, alen - off),
			 un->sun_path);
	} else if (a->ss_family == AF_UNIX) {
		snprintf(out, outlen, "unix: (unnamed)");
	} else {
		snprintf(out, outlen, "address family %u", (unsigned)a->ss_family);
	}
	return out;
}

/* The line (index into sl->of) bound to a's address, or -1. */
static int sdlisten_line(const struct config *cfg, const struct sockaddr_storage *a,
			 socklen_t alen)
{
	for (unsigned l = 0; l < cfg->nlisten; l++)
		if (sdlisten_addr_is(a, alen, &cfg->listen[l]))
			return (int)l;
	if (cfg->metrics.addrlen && sdlisten_addr_is(a, alen, &cfg->metrics))
		return SDLISTEN_METRICS;
	return -1;
}

int sdlisten_match(struct sdlisten *sl, const struct config *cfg, char *msg, size_t len)
{
	for (unsigned i = 0; i < sl->n; i++) {
		struct sockaddr_storage a;
		socklen_t alen = sizeof(a), olen;
		char where[256];
		int type = 0, acc = 0, line;

		memset(&a, 0, sizeof(a));
		olen = sizeof(type);
		if (getsockopt(sl->fd[i], SOL_SOCKET, SO_TYPE, &type, &olen) < 0) {
			snprintf(msg, len, "socket activation: descriptor %d (name \"%s\"): %s",
				 sl->fd[i], sl->name[i], strerror(errno));
			return -EINVAL;
		}
		if (getsockname(sl->fd[i], (struct sockaddr *)&a, &alen) < 0)
			alen = 0;
		sdlisten_addr_format(&a, alen, where, sizeof(where));
		olen = sizeof(acc);
		if (getsockopt(sl->fd[i], SOL_SOCKET, SO_ACCEPTCONN, &acc, &olen) < 0)
			acc = 0;
		if (type != SOCK_STREAM || !acc) {
			snprintf(msg, len, "socket activation: descriptor %d (name \"%s\", %s) is not "
				 "a listening stream socket (ListenStream= in the socket unit)",
				 sl->fd[i], sl->name[i], where);
			return -EINVAL;
		}
		line = sdlisten_line(cfg, &a, alen);
		if (line < 0) {
			snprintf(msg, len, "socket activation: descriptor %d (name \"%s\", %s) is not "
				 "the address of any Listen or MetricsListen line", sl->fd[i],
				 sl->name[i], where);
			return -EINVAL;
		}
		if (sl->of[line] >= 0) {
			snprintf(msg, len, "socket activation: descriptors %d and %d (names \"%s\" and "
				 "\"%s\") are both bound to %s", sl->fd[sl->of[line]], sl->fd[i],
				 sl->name[sl->of[line]], sl->name[i], where);
			return -EINVAL;
		}
		sl->of[line] = (int)i;
	}
	return 0;
}

int sdlisten_fd(const struct sdlisten *sl, unsigned li)
{
	if (li > SDLISTEN_METRICS || sl->of[li] < 0 || (unsigned)sl->of[li] >= sl->n)
		return -1;
	return sl->fd[sl->of[li]];
}

void sdlisten_close(struct sdlisten *sl)
{
	for (unsigned i = 0; i < sl->n; i++)
		close(sl->fd[i]);
	sl->n = 0;
	for (unsigned i = 0; i < CFG_MAX_LISTEN + 1; i++)
		sl->of[i] = -1;
}
