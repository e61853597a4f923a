/* Sockets passed by the service manager (systemd socket activation): types. */
#ifndef SPLICED_SDLISTEN_T_H
#define SPLICED_SDLISTEN_T_H

#include "spliced/config-t.h"

/* At most one passed socket per Listen line plus MetricsListen: more can never all match. */
#define SDLISTEN_MAX      (CFG_MAX_LISTEN + 1)
#define SDLISTEN_FIRST_FD 3                /* SD_LISTEN_FDS_START */
#define SDLISTEN_NAME_MAX 256              /* a FileDescriptorName= is at most 255 bytes */
#define SDLISTEN_METRICS  CFG_MAX_LISTEN   /* the line index sdlisten_fd() takes for MetricsListen */

struct sdlisten {
	unsigned n;                              /* passed sockets; 0: no socket activation */
	int fd[SDLISTEN_MAX];                    /* 3, 4, ... (tests may put any descriptor) */
	char name[SDLISTEN_MAX][SDLISTEN_NAME_MAX]; /* from LISTEN_FDNAMES, "unknown" without */
	/* After sdlisten_match(): index into fd[] of the socket for Listen line l
	 * (of[SDLISTEN_METRICS]: MetricsListen), -1 when spliced binds that line itself. */
	int of[CFG_MAX_LISTEN + 1];
};

#endif
