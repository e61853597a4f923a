/* USDT probes (provider "spliced") for perf and bpftrace: a nop instruction each when
 * nobody traces. The arguments of every probe are listed in README.md ("Tracing") and
 * spliced(8); tools/trace runs the bpftrace scripts in tools/bpftrace/. */
#ifndef SPLICED_TRACE_H
#define SPLICED_TRACE_H

#include <sys/sdt.h>

#define TRACE_CONN_OPEN(id, ip, port) DTRACE_PROBE3(spliced, conn_open, id, ip, port)
#define TRACE_CONN_CLOSE(id, nreq) DTRACE_PROBE2(spliced, conn_close, id, nreq)
/* Six arguments at most: bpftrace before 0.24 cannot read a seventh on x86-64. The host is
 * not NUL-terminated: it ends at the CR of its field line. */
#define TRACE_REQUEST_START(id, m, ml, t, tl, h) \
	DTRACE_PROBE6(spliced, request_start, id, m, ml, t, tl, h)
#define TRACE_REWRITE(id, rule, kind, scope) DTRACE_PROBE4(spliced, rewrite, id, rule, kind, scope)
#define TRACE_BACKEND_CONNECT(id, idx, name, kind) \
	DTRACE_PROBE4(spliced, backend_connect, id, idx, name, kind)
#define TRACE_SPLICE(id, bytes, dir) DTRACE_PROBE3(spliced, splice, id, bytes, dir)
#define TRACE_FILE(id, path, status, size) DTRACE_PROBE4(spliced, file, id, path, status, size)
#define TRACE_REQUEST_END(id, status, in, out, ns, backend) \
	DTRACE_PROBE6(spliced, request_end, id, status, in, out, ns, backend)
/* A tunnel closed: bytes from the client and to the client over the whole connection
 * (heads included, as request_end), its duration from the request head in ns. */
#define TRACE_TUNNEL(id, in, out, ns) DTRACE_PROBE4(spliced, tunnel, id, in, out, ns)
/* RemoteIPHeader: a trusted proxy (peer, a string) named the request's client (a string). */
#define TRACE_REMOTE_IP(id, client, peer) DTRACE_PROBE3(spliced, remote_ip, id, client, peer)
#define TRACE_PARSE_ERROR(id, status, reason) DTRACE_PROBE3(spliced, parse_error, id, status, reason)
/* A reload (SIGHUP) ended: the configuration generation in use after it (1 at start, one
 * more per reload that took effect), and 1 when this one did, 0 when it failed. */
/* A TLS handshake ended: ok 1 with the protocol and cipher names, or 0 with the reason
 * (and ""). id: the session's (not the connection's that follows it). */
#define TRACE_TLS_HANDSHAKE(id, ok, proto, cipher) \
	DTRACE_PROBE4(spliced, tls_handshake, id, ok, proto, cipher)
#define TRACE_RELOAD(generation, ok) DTRACE_PROBE2(spliced, reload, generation, ok)
/* A member of a balancer:// pool changed state on this worker: the pool's name
 * ("balancer://app"), the member's ("http://127.0.0.1:8001"), 0 when it went into error,
 * 1 when it answered again (up), 2 when a health check took it out, 3 when checks
 * brought it back. */
#define TRACE_MEMBER_STATE(balancer, member, state) \
	DTRACE_PROBE3(spliced, member_state, balancer, member, state)

#endif
