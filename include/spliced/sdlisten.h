/* Socket activation (sd_listen_fds(3) without libsystemd): the listening sockets a service
 * manager passes as descriptors 3, 4, ... with LISTEN_PID (must be this process),
 * LISTEN_FDS (how many) and LISTEN_FDNAMES (their FileDescriptorName=, ':'-separated).
 * Each passed socket must be a listening stream socket bound to the address of a Listen
 * (or MetricsListen) line; spliced then accepts on it instead of binding that address.
 * Listen lines without a passed socket are bound as without socket activation. */
#ifndef SPLICED_SDLISTEN_H
#define SPLICED_SDLISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "spliced/sdlisten-t.h"

/* Pure: fills *sl from the three variables' values (NULL when unset) for process `self`.
 * LISTEN_PID or LISTEN_FDS unset, or LISTEN_PID naming another process: not for us,
 * sl->n = 0 and 0 returned (as systemd documents). A LISTEN_PID or LISTEN_FDS that is not
 * a decimal number, more sockets than SDLISTEN_MAX, or a LISTEN_FDNAMES with another
 * count of names: -EINVAL with msg set. sl->fd[i] = 3 + i; sl->of[] all -1. */
int sdlisten_parse(const char *pid, const char *fds, const char *names, pid_t self,
		   struct sdlisten *sl, char *msg, size_t len);

/* Reads LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES for this process with sdlisten_parse() and
 * removes them from the environment in every case (nothing started later inherits them);
 * the passed descriptors are made close-on-exec. 0 or -errno with msg set. */
int sdlisten_from_env(struct sdlisten *sl, char *msg, size_t len);

/* Pure: the socket address a (alen bytes) is the address of l (same family, address and
 * port; IPv4 and IPv6 only, as Listen). */
bool sdlisten_addr_is(const struct sockaddr_storage *a, socklen_t alen,
		      const struct cfg_listen *l);

/* Formats a (alen bytes) as "127.0.0.1:80", "[::1]:80", "unix:/path", "@abstract" or
 * "family N" into out. Returns out. */
const char *sdlisten_addr_format(const struct sockaddr_storage *a, socklen_t alen, char *out,
				 size_t outlen);

/* Matches every passed socket to the Listen line (or MetricsListen) bound to its address
 * and fills sl->of[]. A socket that is not a listening stream socket, that no line names,
 * or a second one for the same line: -EINVAL with msg naming its descriptor, its name and
 * its address. The descriptors stay open either way. */
int sdlisten_match(struct sdlisten *sl, const struct config *cfg, char *msg, size_t len);

/* The passed descriptor for Listen line li (SDLISTEN_METRICS: MetricsListen), or -1. */
int sdlisten_fd(const struct sdlisten *sl, unsigned li);

/* Closes the passed descriptors (each user has its own dup by then); sl->n = 0. */
void sdlisten_close(struct sdlisten *sl);

#endif
