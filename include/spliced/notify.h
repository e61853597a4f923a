/* The service manager's readiness protocol (sd_notify(3)), spoken without libsystemd:
 * when NOTIFY_SOCKET names an AF_UNIX datagram socket (an absolute path, or "@name" for
 * the abstract namespace), each notify_send() is one datagram of "KEY=value\n" lines
 * (READY=1, STATUS=..., STOPPING=1, MAINPID=...). Without NOTIFY_SOCKET nothing is sent. */
#ifndef SPLICED_NOTIFY_H
#define SPLICED_NOTIFY_H

/* Reads NOTIFY_SOCKET, removes it from the environment (nothing started later inherits
 * it) and connects a datagram socket to it, at start-up while the path is still
 * reachable (before privileges are dropped). 0 (also when there is no NOTIFY_SOCKET) or
 * -errno with msg set; a failure leaves notify_send() a no-op. */
int notify_init(char *msg, size_t len);

/* Sends one datagram made of the printf text; never blocks (MSG_DONTWAIT). 0, or -errno
 * (the caller may log it; the service manager then treats the start as it decides). */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Closes the socket (at the end of the shutdown). */
void notify_close(void);

#endif
