/* sd_notify's datagram protocol, without libsystemd (see include/spliced/notify.h). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "spliced/notify.h"

static int notify_fd = -1;

int notify_init(char *msg, size_t len)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t alen;
	size_t n;
	int fd, err;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path)) {
		snprintf(msg, len, "NOTIFY_SOCKET=%.200s: not an absolute path or @abstract name "
			 "that fits a socket address", path);
		unsetenv("NOTIFY_SOCKET");
		return -EINVAL;
	}
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';   /* abstract: no terminating NUL counted */
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&sun, alen) < 0) {
		err = errno;
		snprintf(msg, len, "NOTIFY_SOCKET=%.200s: %s", path, strerror(err));
		if (fd >= 0)
			close(fd);
		unsetenv("NOTIFY_SOCKET");
		return -err;
	}
	unsetenv("NOTIFY_SOCKET");
	notify_fd = fd;
	return 0;
}

int notify_send(const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	int n;

	if (notify_fd < 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	if (send(notify_fd, text, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
