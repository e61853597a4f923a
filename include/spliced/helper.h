/* The privileged helper: a process forked by the serving process before it drops its
 * privileges. It starts, supervises and stops the backends declared with ProxyAutostart,
 * and does nothing else: it never reads network data, and it acts only on fixed-size
 * typed messages that name a backend by its slot (helper-t.h). It never takes a
 * configuration from the serving process: on HMSG_RELOAD it re-reads the configuration
 * file itself, so a compromised serving process can start, query and stop the commands
 * that file (or the built-in configuration) declares, and nothing else.
 *
 * It also binds the configuration's own Listen addresses for a reload that adds one on a
 * port the serving process, which holds no capability, cannot bind (HMSG_BIND), and opens
 * the configuration's own certificate and key files for a reload (HMSG_OPEN), so that a
 * key only root may read works after the privilege drop too.
 *
 * Privileges kept by the helper (started as root): CAP_NET_BIND_SERVICE only when every
 * ProxyAutostart backend runs as one user and group, or there is none (the helper then
 * runs as that user, or as User/Group); else uid 0 with only CAP_SETUID, CAP_SETGID,
 * CAP_KILL and CAP_NET_BIND_SERVICE. Effective and permitted; nothing inheritable or
 * ambient; bounding set emptied; not dumpable; no backend keeps any of them. Always
 * PR_SET_NO_NEW_PRIVS. When the configuration it starts with names SSL certificate or
 * key files, CAP_DAC_READ_SEARCH too (HMSG_OPEN), in either case: it reads only files that
 * configuration file names. Started as another user: that user, no capabilities.
 * The helper opens no file by a path a backend or the serving process could control with
 * more rights than theirs: a backend's Output= is opened by the backend's own process,
 * after it switched to the backend's user, and the error log is reopened (SIGUSR1)
 * with log_file_open()'s rules (no symbolic link followed, no FIFO). A backend without
 * Output= writes into a pipe whose lines the helper copies into the error log; it never
 * holds a descriptor of that log. */
#ifndef SPLICED_HELPER_H
#define SPLICED_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spliced/config-t.h"
#include "spliced/helper-t.h"

/* Forks the helper for cfg (which must stay valid in this process only until the call
 * returns: the child has its own copy), loaded from cfg_path (config_load()), or NULL
 * for the built-in configuration (config_builtin()): what the helper re-reads on
 * HMSG_RELOAD, a relative path from the current directory at this call. nsock conversations are opened (SOCK_SEQPACKET
 * socketpairs): socks[0..nsock) receive the serving ends (close-on-exec, blocking); the
 * helper keeps the other ends. The helper closes every other descriptor it inherited but
 * the error log (log_fd_get()) and standard input/output/error.
 * Returns only once the helper has finished its set-up: it resolved every backend, set and
 * verified its privileges, and said so with one HMSG_READY on socks[nsock - 1] (which this
 * call consumes, so the conversation starts empty). Returns the helper's pid then.
 * Else (the helper exited during its set-up, e.g. a backend that would run as root or an
 * unknown User=, which it logged; it sent something else; nothing within 10 s) the helper
 * is SIGKILLed and reaped, every socks[i] is closed and set to -1, and -EPERM (it exited),
 * -EPROTO (another message) or -ETIMEDOUT is returned with msg set; other failures
 * (socketpair, fork) are -errno with msg set and nothing left open or running. */
pid_t helper_spawn(const struct config *cfg, const char *cfg_path, unsigned nsock, int *socks,
		   char *msg, size_t msglen);

/* HMSG_RELOAD (accepted on socks[nsock - 1] only; on another conversation it ends that
 * conversation, as any invalid request does). The helper loads cfg_path again, as it is
 * then and with the rights it kept (it may run as the backends' user: that user must be
 * able to read the file, and every file it includes, else the reload fails), and sets
 * every new entry up as at start-up. Any failure (the file does not load; an unknown
 * User=; a backend that would run as root; a uid or gid the helper cannot switch to
 * because it became one user at start-up; more slots in use than HELPER_MAX_SLOTS)
 * is logged with the file and line, changes nothing, and is answered by one
 * HMSG_RELOADED with state = a positive errno (EINVAL, ENOENT, EACCES, EPERM, ENOSPC...).
 * Else the answer is one HMSG_MAPPED per new entry then HMSG_RELOADED with state 0
 * (HMSG_STATE messages may come in between), and:
 *  - an entry whose helper_autostart_digest() and resolved uid/gid equal those of a slot
 *    in use keeps that slot: its process goes on (same pid); StartTimeout, StopTimeout,
 *    RestartBackoff and Queue are updated in place;
 *  - a slot no entry keeps is stopped (SIGTERM, SIGKILL after its StopTimeout) and
 *    retired once its process group is gone: requests for it are then answered
 *    HB_STOPPED and do nothing (until a later reload gives the slot to another entry);
 *  - an entry with no slot gets a free one, HB_STOPPED (started by HMSG_START), but when
 *    a slot of the same backend (a changed line) is being stopped: the new slot starts
 *    only once that process group is gone, and reports HB_BACKOFF with backoff_ms 0
 *    while it waits; when the old process was wanted running, the new one is started
 *    then without an HMSG_START (a restart).
 * The serving side compares each MAPPED digest with helper_autostart_digest() of its own
 * parse: a difference means the file changed between the two reads. */

/* HMSG_BIND (accepted on socks[nsock - 1] only, like HMSG_RELOAD). The helper loads
 * cfg_path again and binds k listening sockets on its Listen line `line` (or
 * MetricsListen: HELPER_LISTEN_METRICS) as the serving process binds its own: after a
 * probe without SO_REUSEPORT (another process listening there: EADDRINUSE), each with
 * SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY for IPv6, non-blocking, backlog 4096. Only an
 * address of that file: a compromised serving process can have it bind nothing else. The
 * answer is HMSG_BOUND (helper-t.h); a failure (the file does not load, has no such line;
 * bind) is logged and answered with its errno; the conversation goes on.
 *
 * helper_bind() is the serving side, on sock (the last conversation, blocking): it asks
 * for k (1..HELPER_BIND_MAX) sockets, skips HMSG_STATE messages, waits timeout_ms at most,
 * and checks that each socket received is a listening stream socket bound to l's address
 * (helper_listener_check()): l is line `line` as the caller read the file; a difference
 * means the file changed between the two reads. On success fds[0..k) are the caller's
 * (close-on-exec, non-blocking) and 0 is returned. Else nothing is left open in this
 * process (the helper closes its copies on its own time), every fds[i] is -1 (but for a k
 * out of range), msg is set and the return is the helper's errno negated (-EACCES,
 * -EADDRINUSE, -ENOENT...), -ESTALE (another address), -EPROTO (an answer that is not
 * one), -ETIMEDOUT, -EPIPE (the conversation closed) or -EINVAL (bad arguments). */
int helper_bind(int sock, unsigned line, const struct cfg_listen *l, unsigned k, int *fds,
		unsigned timeout_ms, char *msg, size_t len);

/* HMSG_OPEN (accepted on socks[nsock - 1] only, like HMSG_BIND). The helper loads cfg_path
 * again and opens the SSLCertificateFile, SSLCertificateKeyFile or SSLCertificateChainFile
 * of index `backend` in its reading (config.tls->file[]), read-only, following symbolic
 * links (the file names them, and only root may write it), non-blocking: a path that is
 * not in that file cannot be asked for, so a compromised serving process cannot have it
 * open /etc/shadow. Not a regular file of at most 1 MiB: EINVAL. The answer is HMSG_OPENED
 * (helper-t.h); a failure (the file does not load, has no such entry, open) is logged and
 * answered with its errno; the conversation goes on.
 *
 * helper_open() is the serving side, on sock (the last conversation, blocking): it asks
 * for entry `index`, which is f in the caller's reading, skips HMSG_STATE messages and
 * waits timeout_ms at most. The helper's digest must be helper_tls_file_digest(f) (else
 * the file changed between the two readings). Returns the descriptor (close-on-exec, the
 * caller's), or the helper's errno negated (-EACCES, -ENOENT...), -ESTALE (another file),
 * -EPROTO, -ETIMEDOUT, -EPIPE or -EINVAL (index out of range) with msg set and nothing
 * left open. */
int helper_open(int sock, unsigned index, const struct tls_file *f, unsigned timeout_ms,
		char *msg, size_t len);

/* A 32-bit FNV-1a hash of f's path, kind and scope. Pure. */
uint32_t helper_tls_file_digest(const struct tls_file *f);

/* fd is a listening SOCK_STREAM socket of l's family bound to l's address and port. */
bool helper_listener_check(int fd, const struct cfg_listen *l);

/* A 32-bit FNV-1a hash of what defines backend a's process: its backend's name, its
 * command, Env=, the user and group it runs as (User=/Group=, else the server's
 * User/Group, as helper_backend_ids() picks them), Dir= and Output=. Not the timeouts,
 * backoff or queue, which a reload changes in place. Pure; never reads past a's
 * buffers, even for a malformed entry. */
uint32_t helper_autostart_digest(const struct config *cfg, const struct cfg_autostart *a);

/* The uid and gid backend a runs as when spliced is root: its User=/Group=, else the
 * server's User/Group (with User= alone, that user's group). 0, or -ENOENT with msg set. */
int helper_backend_ids(const struct config *cfg, const struct cfg_autostart *a, uid_t *uid,
		       gid_t *gid, char *msg, size_t msglen);

/* Fills *m with request `type` for backend `backend`. */
void helper_msg_request(struct helper_msg *m, enum helper_msg_type type, unsigned backend);

/* Checks a datagram of `len` bytes (as recv(2) with MSG_TRUNC reported it) received by the
 * helper: exactly one request (magic, a request type, backend < nbackend, the other
 * fields zero; for HMSG_BIND: backend < CFG_MAX_LISTEN or HELPER_LISTEN_METRICS, starts
 * 1..HELPER_BIND_MAX, the others zero; for HMSG_OPEN: backend < TLS_MAX_FILES, the
 * others zero). The helper passes HELPER_MAX_SLOTS: a slot not in use is answered
 * HB_STOPPED.
 * Returns 0, or -EPROTO with *why set to a static description. */
int helper_msg_check_request(const struct helper_msg *m, long len, unsigned nbackend,
			     const char **why);

/* The same for a datagram received by the serving process: one HMSG_STATE for a backend
 * < nbackend with a known state. 0 or -EPROTO with *why set. */
int helper_msg_check_state(const struct helper_msg *m, long len, unsigned nbackend,
			   const char **why);

/* The same for any datagram the serving process receives after READY: an HMSG_STATE as
 * above for a slot < HELPER_MAX_SLOTS, an HMSG_MAPPED (entry < CFG_MAX_AUTOSTART, slot
 * < HELPER_MAX_SLOTS, state and pid zero), an HMSG_RELOADED (state 0 with at most
 * CFG_MAX_AUTOSTART entries, or an errno below 4096 with backend 0; the rest zero) or an
 * HMSG_BOUND (a Listen line or HELPER_LISTEN_METRICS; state 0 with 1..HELPER_BOUND_MAX
 * sockets, or an errno below 4096 with none; pid and backoff_ms zero) or an HMSG_OPENED
 * (backend < TLS_MAX_FILES; state 0 with starts 1, or an errno below 4096 with starts and
 * backoff_ms 0; pid zero).
 * 0 or -EPROTO with *why set. */
int helper_msg_check_reply(const struct helper_msg *m, long len, const char **why);

/* The same for the helper's first datagram: exactly one HMSG_READY, every other field
 * zero. 0 or -EPROTO with *why set. */
int helper_msg_check_ready(const struct helper_msg *m, long len, const char **why);

/* The delay before the next start of a backend whose process ended after running
 * uptime_ms, given the delay used last time (cur_ms, 0 at first). A backend that ran at
 * least HELPER_STABLE_MS may start again at once (0). Otherwise, after a crash (a non-zero
 * status, a signal, a failed start) the delay is min_ms the first time and doubles each
 * time after, up to max_ms; after a clean end (status 0, or a stop that was asked for) it
 * is min_ms, never doubled. Never 0 but for a stable run. */
#define HELPER_STABLE_MS 10000
unsigned helper_backoff_next(unsigned cur_ms, unsigned min_ms, unsigned max_ms,
			     uint64_t uptime_ms, bool clean);

/* Shutdown of the serving process, after its workers stopped: sends HMSG_STOP for every
 * slot (HELPER_MAX_SLOTS of them) on sock, closes it, and waits for the helper (which
 * stops the backends and exits once every conversation is closed) for at most the
 * longest StopTimeout of cfg (the configuration in use) + 2 s, then SIGKILLs and reaps
 * it. Returns the helper's exit code, or -errno. */
int helper_shutdown(pid_t pid, int sock, const struct config *cfg);

/* The serving side of a reload (last conversation, sock): sends HMSG_RELOAD and reads the
 * answer within timeout_ms, skipping HMSG_STATE. Each HMSG_MAPPED entry's digest must be
 * helper_autostart_digest() of cfg's own entry (else the file changed between the two
 * readings); slot[i] receives the helper's slot of cfg->autostart[i]. 0, or -1 with msg
 * set (no answer, a refusal, a mismatch). */
int helper_reload_ask(int sock, const struct config *cfg, uint16_t *slot, unsigned timeout_ms,
		      char *msg, size_t len);

/* Drops what is queued on sock (the last conversation) and was meant for a serving process
 * that ended (an answer to a reload or a bind it asked for, states), closing any descriptor
 * it carries; waits 1 ms at most for each. Returns how many datagrams were dropped. */
int helper_conv_drain(int sock);

#endif
