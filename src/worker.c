/* A worker thread: the event loop, accept, deadlines, and the one place that decodes a
 * completion. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include "spliced/autostart.h"
#include "spliced/conn.h"
#include "spliced/accesslog.h"
#include "spliced/file.h"
#include "spliced/hbuf.h"
#include "spliced/helper.h"
#include "spliced/rewrite.h"
#include "spliced/hcheck.h"
#include "spliced/log.h"
#include "spliced/ondemand.h"
#include "spliced/park.h"
#include "spliced/relay.h"
#include "spliced/ring.h"
#include "spliced/slot.h"
#include "spliced/stats.h"
#include "spliced/tls.h"
#include "spliced/upstream.h"
#include "spliced/worker.h"

#define WORKER_TICK_MS 100

#define WORKER_RING_ENTRIES 1024

static uint64_t worker_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int worker_init(struct worker *w, const struct config *cfg, unsigned id, unsigned max_conns)
{
	w->id = id;
	w->cfg = cfg;
	w->lim.max_head = CONN_HEAD_MAX;
	w->lim.max_line = cfg->limit_request_line;
	w->lim.max_field = cfg->limit_field_size;
	w->lim.max_fields = cfg->limit_fields;
	w->rlim.max_head = CONN_RESP_MAX;
	w->rlim.max_line = cfg->limit_request_line;
	w->rlim.max_field = cfg->limit_resp_field_size;
	w->rlim.max_fields = cfg->limit_resp_fields;
	w->nconns = max_conns;
	/* mmap, not calloc: a slot costs memory once used. At a reload glibc would carve the
	 * next generation's array (MaxConnections / workers x 11 KiB) out of the heap and zero
	 * it whole, its mmap threshold having risen to the size of the freed one: tools/soak
	 * saw 8 -> 57 MiB after a few reloads, then never back. */
	w->conns = mmap(NULL, (size_t)max_conns * sizeof(*w->conns), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->conns == MAP_FAILED)
		w->conns = NULL;
	w->free_slots = calloc(max_conns, sizeof(*w->free_slots));
	w->pools = calloc(cfg->nbackend ? cfg->nbackend : 1, sizeof(*w->pools));
	w->waits = calloc(cfg->nautostart ? cfg->nautostart : 1, sizeof(*w->waits));
	w->slotq = calloc(cfg->nbackend ? cfg->nbackend : 1, sizeof(*w->slotq));
	if (!w->conns || !w->free_slots || !w->pools || !w->waits || !w->slotq)
		return -ENOMEM;
	/* a slot per connection and the ring's, committed as the pool grows into them:
	 * hbuf_get() fails only when the kernel refuses a chunk (conn_buf_get()) */
	if (hbuf_init(&w->hb, max_conns + HBUF_RING_ENTRIES, CONN_SLOT_SIZE) < 0 ||
	    park_init(&w->park, max_conns) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->nautostart; i++) {
		as_queue_init(&w->waits[i]);
		w->as_slot[i] = (uint16_t)i;
	}
	for (unsigned i = 0; i < cfg->nbackend; i++) {
		bool max = cfg->backend[i].p.max && w->slots;

		up_pool_init(&w->pools[i], &cfg->backend[i], max ? &w->slots[i]->open : NULL,
			     max_conns);
		slot_queue_init(&w->slotq[i]);
	}
	for (uint32_t i = 0; i < max_conns; i++)
		w->free_slots[i] = max_conns - 1 - i;
	w->nfree = max_conns;
	for (unsigned i = 0; i < w->nlisten; i++) {
		const struct sockaddr_storage *ss = (int)i == w->metrics_li ? &cfg->metrics.addr
									    : &cfg->listen[i].addr;

		w->listen_port[i] = ntohs(ss->ss_family == AF_INET6 ?
					  ((const struct sockaddr_in6 *)ss)->sin6_port :
					  ((const struct sockaddr_in *)ss)->sin_port);
		if ((int)i != w->metrics_li && w->tls_ctxs && tls_port_on(cfg, w->listen_port[i]))
			w->listen_tls |= 1u << i;
	}
	for (unsigned i = 0; i < cfg->ncustomlog; i++)
		if (alog_buf_init(&w->alog[i], 2 * 65536, 0) < 0)
			return -ENOMEM;
	w->rw = rw_ctx_create(cfg);
	if (!w->rw || tls_worker_init(w) < 0)
		return -ENOMEM;
	if (file_cache_init(&w->fcache, FILE_CACHE_SLOTS_DEFAULT, FILE_CACHE_TTL_MS_DEFAULT) < 0)
		return -ENOMEM;
	w->fcache_ready = true;
	w->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return -errno;
	w->inbox_fd = eventfd(0, EFD_CLOEXEC);
	if (w->inbox_fd < 0)
		return -errno;
	pthread_mutex_init(&w->inbox_lock, NULL);
	w->inbox_init = true;
	if (!w->gen)
		w->gen = 1;
	w->now_ms = worker_clock_ms();
	return 0;
}

void worker_destroy(struct worker *w)
{
	/* First the ring: nothing in flight may still point at what is freed below. */
	if (w->ring_ready)
		io_uring_queue_exit(&w->ring);
	w->ring_ready = false;
	tls_worker_destroy(w);
	/* connections a hard stop left behind: their descriptors and buffers */
	for (uint32_t i = 0; w->conns && i < w->nconns; i++)
		if (w->conns[i].state != CS_FREE)
			conn_reclaim(&w->conns[i]);
	for (unsigned i = 0; w->pools && i < w->cfg->nbackend; i++)
		up_pool_prune(&w->pools[i], 0, true);
	hc_destroy(w);
	relay_pool_destroy(&w->pipes);
	park_destroy(w, &w->park);
	hbuf_destroy(&w->hb);
	if (w->fcache_ready)
		file_cache_destroy(&w->fcache);
	rw_ctx_free(w->rw);
	for (unsigned i = 0; i < w->cfg->ncustomlog; i++)
		alog_buf_free(&w->alog[i]);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->inbox_init) {
		if (w->inbox_fd >= 0)
			close(w->inbox_fd);
		for (unsigned i = 0; i < w->ninbox; i++)
			close(w->inbox[i].fd);
		free(w->inbox);
		pthread_mutex_destroy(&w->inbox_lock);
		w->inbox_init = false;
	}
	if (w->helper_fd >= 0 && !w->helper_lent)
		close(w->helper_fd);
	w->helper_fd = -1;
	free(w->waits);
	free(w->slotq);
	if (w->conns)
		munmap(w->conns, (size_t)w->nconns * sizeof(*w->conns));
	w->conns = NULL;
	free(w->free_slots);
	free(w->pools);
}

static void worker_wake(struct worker *w, enum worker_wake cmd)
{
	uint64_t one = 1;

	__atomic_fetch_or(&w->wake_cmd, (int)cmd, __ATOMIC_RELEASE);
	/* Async-signal-safe: only a write(2). */
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		return;
}

void worker_stop(struct worker *w)
{
	worker_wake(w, WORKER_WAKE_STOP);
}

void worker_retire(struct worker *w, struct worker *successor)
{
	w->successor = successor;
	worker_wake(w, WORKER_WAKE_RETIRE);
}

/* ---- connections handed over at a reload ------------------------------------------ */

void worker_handoff(struct worker *to, const struct conn_origin *o)
{
	uint64_t one = 1;

	/* A worker that ended passes what it is given to its own successor; the last one
	 * (none: spliced is stopping) closes it. */
	for (; to; to = to->successor) {
		pthread_mutex_lock(&to->inbox_lock);
		if (!to->inbox_closed) {
			if (to->ninbox == to->inbox_cap) {
				unsigned cap = to->inbox_cap ? 2 * to->inbox_cap : 64;
				struct conn_origin *n = realloc(to->inbox, cap * sizeof(*n));

				if (!n) {
					pthread_mutex_unlock(&to->inbox_lock);
					break;
				}
				to->inbox = n;
				to->inbox_cap = cap;
			}
			to->inbox[to->ninbox++] = *o;
			pthread_mutex_unlock(&to->inbox_lock);
			if (write(to->inbox_fd, &one, sizeof(one)) < 0)
				log_error("worker", "waking worker %u for a handed-over connection: %s",
					  to->id, strerror(errno));
			return;
		}
		pthread_mutex_unlock(&to->inbox_lock);
	}
	if (o->tls_moved) {   /* (its socket, when it has a connection, is the session's) */
		bool own = o->fd == tls_moved_fd(o->tls_moved);

		tls_moved_drop(o->tls_moved);
		if (own)
			return;
	}
	if (o->fd >= 0)
		close(o->fd);
}

/* ---- the helper's messages ------------------------------------------------------ */

static void worker_arm_helper(struct worker *w)
{
	struct io_uring_sqe *sqe;

	if (w->helper_fd < 0 || w->helper_gone)
		return;
	sqe = ring_sqe(&w->ring);
	if (!sqe)
		return;
	io_uring_prep_recv(sqe, w->helper_fd, &w->hmsg, sizeof(w->hmsg), MSG_TRUNC);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_HELPER_RECV, 0));
	w->helper_armed = true;
}

/* A message from the helper: a backend's state. */
static void worker_helper_msg(struct worker *w, int res)
{
	const char *why;

	w->helper_armed = false;
	if (res <= 0 && w->retiring)
		return; /* the conversation went to the successor with the cancelled receive */
	if (res <= 0) {
		if (!w->stopping)
			log_error("worker", "worker %u: the helper closed the conversation (%s): "
				  "backends are no longer started", w->id,
				  res ? strerror(-res) : "end of file");
		w->helper_gone = true;
		conn_autostart_helper_gone(w);
		return;
	}
	if (helper_msg_check_state(&w->hmsg, res, HELPER_MAX_SLOTS, &why) < 0) {
		log_error("worker", "worker %u: a message from the helper was ignored: %s", w->id,
			  why);
	} else {
		/* the helper names its slot; this configuration's ProxyAutostart is found */
		for (unsigned a = 0; a < w->cfg->nautostart; a++) {
			if (w->as_slot[a] == w->hmsg.backend) {
				struct helper_msg m = w->hmsg;

				m.backend = (uint16_t)a;
				conn_autostart_state(w, &m);
				break;
			}
		}
	}
	if (!w->retiring)
		worker_arm_helper(w);
}

static void worker_alog_write(struct worker *w, unsigned i, char *p, size_t len)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	if (!sqe) {
		alog_buf_done(&w->alog[i], -EBUSY, &len);
		return;
	}
	/* O_APPEND: offset -1 writes at the end; a disk write may run on io-wq. */
	io_uring_prep_write(sqe, w->alog_fd[i], p, (unsigned)len, (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_ALOG_WRITE, i));
	w->alog_busy[i] = true;
}

/* Starts writing access log i's buffer when it is due (or, with `any`, when it holds
 * anything) and no write of it is in flight. */
static void worker_alog_flush(struct worker *w, unsigned i, bool any)
{
	size_t len;
	char *p;

	if (w->alog_busy[i] || !alog_buf_pending(&w->alog[i], any))
		return;
	p = alog_buf_take(&w->alog[i], &len);
	if (p)
		worker_alog_write(w, i, p, len);
}

static void worker_alog_written(struct worker *w, unsigned i, int res)
{
	size_t len;
	char *rest;

	if (i >= w->cfg->ncustomlog)
		return;
	w->alog_busy[i] = false;
	rest = alog_buf_done(&w->alog[i], res, &len);
	if (rest)
		worker_alog_write(w, i, rest, len);
	else
		worker_alog_flush(w, i, false);
}

static bool worker_alog_idle(struct worker *w)
{
	bool idle = true;

	for (unsigned i = 0; i < w->cfg->ncustomlog; i++) {
		worker_alog_flush(w, i, true);
		idle &= !w->alog_busy[i];
	}
	return idle;
}


/* ---- the worker's own operations -------------------------------------------------- */

static void worker_arm_accept(struct worker *w, unsigned i)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, w->listen_fd[i], NULL, NULL,
				       SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_ACCEPT, i));
	w->accepts_armed++;
}

static void worker_arm_wake(struct worker *w)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, w->wake_fd, &w->wake_val, sizeof(w->wake_val), 0);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_WAKE, 0));
}

static void worker_arm_inbox(struct worker *w)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, w->inbox_fd, &w->inbox_val, sizeof(w->inbox_val), 0);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_INBOX, 0));
}

static void worker_arm_tick(struct worker *w)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	if (!sqe)
		return;
	w->tick.tv_sec = 0;
	w->tick.tv_nsec = WORKER_TICK_MS * 1000000L;
	io_uring_prep_timeout(sqe, &w->tick, 0, 0);
	io_uring_sqe_set_data64(sqe, RING_UD(OP_TICK, 0));
}

/* A connection over this worker's share of MaxConnections: a 503 if the socket takes it
 * now (a new socket's buffer always does), what the client sent already is read and
 * dropped so that the close sends a FIN after the answer, not a reset that could destroy
 * it; bounded (never waits), and no slot, buffer or timer is spent on it. */
static void worker_refuse(int fd)
{
	static const char page[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\nRetry-After: 1\r\n\r\n";
	char sink[4096];

	(void)!send(fd, page, sizeof(page) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	for (unsigned i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

/* A client connection for this worker: accepted, or handed over by a retiring one. */
static void worker_take(struct worker *w, const struct conn_origin *from)
{
	struct conn_origin moved, *o = &moved;
	int fd = from->fd;
	bool metrics = from->metrics;
	struct conn *c;
	int one = 1;

	moved = *from;
	/* a TLS session handed over at a reload comes along (or alone, relaying) */
	if (o->tls_moved) {
		o->tsess = tls_adopt(w, o);
		o->tls_moved = NULL;
		if (!o->tsess)
			return;   /* (a relay only, or closed) */
	}
	if (o->tls_raw) {          /* a TLS port's: the handshake comes first */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tls_accept(w, o);
		return;
	}
	/* Stopping, what the kernel accepted before the listeners stopped is still served:
	 * the client (a balancer) sent it here */
	/* (parked connections hold no slab slot: active counts them) */
	if (w->active >= w->nconns || (w->stopping && metrics && w->metrics_closing)) {
		/* Over MaxConnections: refuse now rather than queue without bound. */
		if (!w->nfree)
			w->stats.refused++;
		/* a handed-over one between requests, or one over TLS (whose bytes are the
		 * session's records), is only closed */
		if (o->tsess)
			tls_origin_drop(w, o);   /* (its session owns the socket) */
		else if (!w->nfree && o->nreq == 0 && !o->tls.on)
			worker_refuse(fd);
		else
			close(fd);
		return;
	}
	if (!o->tls.on)   /* (a TLS session's socket got it at its accept) */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = &w->conns[w->free_slots[--w->nfree]];
	w->active++;
	c->idx = (uint32_t)(c - w->conns);
	if (conn_open(w, c, o) < 0) {
		if (o->tsess)
			tls_origin_drop(w, o);
		c->state = CS_FREE;
		w->free_slots[w->nfree++] = c->idx;
		w->active--;
		return;
	}
	c->metrics = metrics;
	if (metrics && c->state != CS_FREE)
		w->metrics_active++;
	if (w->stopping && c->state != CS_FREE)
		conn_stop_if_idle(c);
}

/* o is served here or, by a retiring worker, handed to its successor. */
static void worker_serve_or_pass(struct worker *w, const struct conn_origin *o)
{
	if (w->retiring) {
		w->handed++;
		worker_handoff(w->successor, o);
		return;
	}
	worker_take(w, o);
}

/* A connection accepted on listener li (a retiring worker's: accepted as the accept was
 * being cancelled, or taken from the queue). */
static void worker_arrived(struct worker *w, unsigned li, int fd)
{
	struct conn_origin o = { .fd = fd, .server_port = w->listen_port[li],
				 .metrics = (int)li == w->metrics_li,
				 .tls_raw = li < 32 && (w->listen_tls & (1u << li)) };

	w->stats.accepted++;
	worker_serve_or_pass(w, &o);
}

/* What is queued on listener li now (the listeners are non-blocking), bounded. Used when
 * a retiring worker's accept ended: io_uring waits for a listening socket exclusively,
 * so a connection that arrived while that accept was being cancelled may have woken only
 * it, not the successor's, and would wait in the queue until the next one arrives. And
 * by a stop, before the listeners stop listening. */
static void worker_accept_queued(struct worker *w, unsigned li)
{
	for (unsigned n = 0; n < 4096; n++) {
		int fd = accept4(w->listen_fd[li], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;   /* EAGAIN: nothing queued (other errors: the next accept sees them) */
		worker_arrived(w, li, fd);
	}
}

unsigned worker_shed_idle(struct worker *w)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->cfg->nbackend; i++)
		n += up_pool_shed(&w->pools[i]);
	return n;
}

static void worker_accepted(struct worker *w, unsigned li, int res, unsigned flags)
{
	bool short_of;

	if (!(flags & IORING_CQE_F_MORE)) {
		w->accepts_armed--;
		if (w->retiring && li < CFG_MAX_LISTEN + 1)
			worker_accept_queued(w, li);
	}
	/* Out of descriptors or memory: counted, and logged a line a second */
	short_of = res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS;
	/* idle backend connections give their descriptors up first (the retry is at the
	 * next tick, as before) */
	if (res == -EMFILE || res == -ENFILE)
		worker_shed_idle(w);
	if (short_of)
		stats_resource_error(&w->stats, res == -EMFILE || res == -ENFILE ?
				     STATS_RES_FD_ACCEPT : STATS_RES_MEMORY, -res, w->now_ms,
				     (int)li == w->metrics_li ? w->cfg->metrics.name :
				     w->cfg->listen[li].name);
	if (!(flags & IORING_CQE_F_MORE) && !w->stopping && !w->retiring) {
		if (res < 0 && res != -ECANCELED && !short_of &&
		    w->now_ms - w->accept_log_ms >= 1000) {
			/* At most a line a second: out of descriptors, this repeats. */
			w->accept_log_ms = w->now_ms;
			log_error("worker", "accept on %s: %s",
				  (int)li == w->metrics_li ? w->cfg->metrics.name : w->cfg->listen[li].name,
				  strerror(-res));
		}
		/* Out of descriptors or memory, an immediate retry fails again on the same
		 * waiting connection: retry from the next tick instead of spinning. */
		if (short_of)
			w->accept_paused |= 1u << li;
		else
			worker_arm_accept(w, li);
	}
	if (res >= 0)
		worker_arrived(w, li, res);
}

/* Connections handed over by the retiring worker of the previous configuration. */
static void worker_inbox(struct worker *w, int res)
{
	struct conn_origin *in;
	unsigned n;

	pthread_mutex_lock(&w->inbox_lock);
	in = w->inbox;
	n = w->ninbox;
	w->inbox = NULL;
	w->ninbox = w->inbox_cap = 0;
	pthread_mutex_unlock(&w->inbox_lock);
	for (unsigned i = 0; i < n; i++) {
		if (w->stopping && !w->retiring)
			close(in[i].fd);  /* an idle keep-alive connection: closed as at the stop */
		else
			worker_serve_or_pass(w, &in[i]);
	}
	free(in);
	if (res >= 0 || res == -EINTR)
		worker_arm_inbox(w);
}

static void worker_tick(struct worker *w)
{
	static const uint64_t prune_every = 1000;
	uint64_t now = w->now_ms;

	for (uint32_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		if (c->state != CS_FREE && c->deadline_ms <= now)
			conn_timeout(c);
	}
	if (now / prune_every != (now - WORKER_TICK_MS) / prune_every)
		for (unsigned i = 0; i < w->cfg->nbackend; i++)
			up_pool_prune(&w->pools[i], now, false);
	conn_slot_tick(w);
	hc_tick(w);
	od_tick(w);
	tls_tick(w);
	park_tick(w);
	hbuf_trim(&w->hb);
	stats_timeout_flush(&w->stats, now);
	for (unsigned i = 0; i < w->cfg->ncustomlog; i++)
		worker_alog_flush(w, i, true);
	for (unsigned i = 0; i < w->nlisten && !w->stopping; i++)
		if (w->accept_paused & (1u << i))
			worker_arm_accept(w, i);
	w->accept_paused = 0;
	if ((w->stopping || w->retiring) && now >= w->stop_deadline_ms) {
		for (uint32_t i = 0; i < w->nconns; i++)
			conn_abort(&w->conns[i]);
		tls_stop(w, true);
		park_close_all(w);
	}
	worker_arm_tick(w);
}

static void worker_cancel_accepts(struct worker *w)
{
	for (unsigned i = 0; i < w->nlisten; i++) {
		struct io_uring_sqe *sqe = ring_sqe(&w->ring);

		if (sqe) {
			io_uring_prep_cancel64(sqe, RING_UD(OP_ACCEPT, i), 0);
			io_uring_sqe_set_data64(sqe, RING_UD(OP_NONE, 0));
		}
	}
	w->nlisten = 0;
}

/* The worker may end: nothing waits in its inbox, and nothing will (later handoffs go
 * to its successor). */
static bool worker_inbox_close(struct worker *w)
{
	bool empty;

	pthread_mutex_lock(&w->inbox_lock);
	empty = w->ninbox == 0;
	if (empty)
		w->inbox_closed = true;
	pthread_mutex_unlock(&w->inbox_lock);
	return empty;
}

/* A process stop: the Listen sockets stop listening now (shutdown(2) of a listening
 * socket takes it out of the port's SO_REUSEPORT group), so that a connection a balancer
 * sends before its check has seen /health's 503 is refused, and retried elsewhere, rather
 * than completed by the kernel into a backlog nobody accepts and reset at the exit. Not
 * at a reload (the sockets go on in the next configuration), not with socket activation
 * (the service manager keeps the socket for the next start): main decides. */
static void worker_refuse_listeners(struct worker *w)
{
	for (unsigned i = 0; i < w->nlisten; i++) {
		if ((int)i == w->metrics_li)
			continue;
		/* what the kernel queued already is served (shutdown would reset it) */
		worker_accept_queued(w, i);
		shutdown(w->listen_fd[i], SHUT_RD);
	}
}

static void worker_begin_stop(struct worker *w)
{
	uint64_t grace = w->cfg->timeout_ms < 30000 ? w->cfg->timeout_ms : 30000;

	if (w->stopping)
		return;
	w->stopping = true;
	w->stop_deadline_ms = w->now_ms + grace;
	/* New connections are refused from now on: the main thread closes the listening
	 * sockets (the ring keeps its own reference until the cancelled accept completes).
	 * The metrics listener's accept stays (its /health says 503 now) until the exchanges
	 * in flight are over: worker_stop_metrics(). */
	if (w->refuse_on_stop && !w->retiring)
		worker_refuse_listeners(w);
	if (w->metrics_li < 0 || w->retiring) {
		worker_cancel_accepts(w);
	} else {
		for (unsigned i = 0; i < w->nlisten; i++) {
			/* an SQE taken is submitted: only for the accepts cancelled */
			struct io_uring_sqe *sqe = (int)i != w->metrics_li ? ring_sqe(&w->ring) : NULL;

			if (sqe) {
				io_uring_prep_cancel64(sqe, RING_UD(OP_ACCEPT, i), 0);
				io_uring_sqe_set_data64(sqe, RING_UD(OP_NONE, 0));
			}
		}
	}
	for (uint32_t i = 0; i < w->nconns; i++)
		if (w->conns[i].state != CS_FREE)
			conn_stop_if_idle(&w->conns[i]);
	tls_stop(w, false);
	park_close_all(w);
}

/* Stopping, the last exchange of the other listeners is over: the metrics listener's
 * accept goes, its connections close, and the worker can end. */
static void worker_stop_metrics(struct worker *w)
{
	w->metrics_closing = true;
	worker_cancel_accepts(w);
	for (uint32_t i = 0; i < w->nconns && w->metrics_active; i++)
		if (w->conns[i].metrics)
			conn_abort(&w->conns[i]);
}

/* Reload: no more accepts here (the successor accepts on the same sockets), the
 * conversation with the helper goes to the successor, idle connections too. */
static void worker_begin_retire(struct worker *w)
{
	struct io_uring_sqe *sqe;

	if (w->stopping || w->retiring)
		return;
	w->retiring = true;
	/* No deadline: a download or a tunnel in flight goes on as long as it moves (its own
	 * timeouts apply); main stops the oldest configuration's workers when too many
	 * are still finishing (see reload() in main.c). */
	w->stop_deadline_ms = UINT64_MAX;
	worker_cancel_accepts(w);
	if (w->helper_fd >= 0 && w->helper_armed && (sqe = ring_sqe(&w->ring)) != NULL) {
		io_uring_prep_cancel64(sqe, RING_UD(OP_HELPER_RECV, 0), 0);
		io_uring_sqe_set_data64(sqe, RING_UD(OP_NONE, 0));
	}
	/* Requests waiting for a backend to start go on probing it (the helper's answers go
	 * to the successor now, which receives on the conversation; a start asked from here
	 * is still carried out). */
	for (uint32_t i = 0; i < w->nconns; i++)
		if (w->conns[i].state != CS_FREE)
			conn_retire_if_idle(&w->conns[i]);
	park_retire_all(w);
	tls_retire(w);   /* the TLS sessions that relay socketpairs go too */
	/* idle backend connections: of no use to the successor, and each holds its
	 * backend's max= count that the successor shares */
	for (unsigned i = 0; i < w->cfg->nbackend; i++)
		up_pool_prune(&w->pools[i], 0, true);
	worker_inbox(w, -ECANCELED); /* what was handed to this worker goes on */
}

static void worker_conn_done(struct worker *w, int op, uint32_t idx, int res, char *slot);

/* The one place that decodes a completion. */
static void worker_dispatch(struct worker *w, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	enum ring_op op = RING_UD_OP(ud);
	uint32_t idx = RING_UD_IDX(ud);
	char *slot;

	switch (op) {
	case OP_NONE:
		return;
	case OP_ACCEPT:
		worker_accepted(w, idx, cqe->res, cqe->flags);
		return;
	case OP_WAKE: {
		int cmd = __atomic_exchange_n(&w->wake_cmd, 0, __ATOMIC_ACQ_REL);

		if (cmd & WORKER_WAKE_RETIRE)
			worker_begin_retire(w);
		if (cmd & WORKER_WAKE_STOP)
			worker_begin_stop(w);
		else
			worker_arm_wake(w); /* a stop may follow */
		return;
	}
	case OP_INBOX:
		worker_inbox(w, cqe->res);
		return;
	case OP_TICK:
		worker_tick(w);
		return;
	case OP_ALOG_WRITE:
		worker_alog_written(w, idx, cqe->res);
		return;
	case OP_HELPER_RECV:
		worker_helper_msg(w, cqe->res);
		return;
	case OP_PARKED_RECV:
		park_complete(w, idx, cqe->res, cqe->flags & IORING_CQE_F_BUFFER
				? hbuf_take_selected(&w->hb, cqe->flags) : NULL);
		return;
	case OP_AS_TIMER:
		if (idx < w->cfg->nautostart)
			conn_autostart_retry(w, idx);
		return;
	case OP_HCHECK:
		hc_complete(w, idx, cqe->res);
		return;
	case OP_TLS_NET_RECV:
	case OP_TLS_NET_SEND:
	case OP_TLS_PLAIN_RECV:
	case OP_TLS_PLAIN_SEND: {
		struct conn_origin o;

		/* a handshake done: its plaintext end is a client connection */
		if (tls_complete(w, op, idx, cqe->res, &o))
			worker_serve_or_pass(w, &o);
		return;
	}
	default:
		break;
	}
	/* a receive that selected a head buffer: the slot is the connection's now */
	slot = cqe->flags & IORING_CQE_F_BUFFER ? hbuf_take_selected(&w->hb, cqe->flags) : NULL;
	worker_conn_done(w, op, idx, cqe->res, slot);
}

/* A completion for the connection in slot idx (from the ring, or made by its TLS
 * session: tls_next_post()); slot: the head buffer its receive selected. */
static void worker_conn_done(struct worker *w, int op, uint32_t idx, int res, char *slot)
{
	struct conn *c;

	if (idx >= w->nconns) {
		hbuf_put(&w->hb, slot);
		return;
	}
	c = &w->conns[idx];
	if (c->pending == 0 || c->state == CS_FREE || (slot && c->buf)) {
		log_error("worker", "completion op %d for idle slot %u", op, idx);
		hbuf_put(&w->hb, slot);
		return;
	}
	if (slot)
		conn_buf_attach(c, slot);
	c->pending--;
	conn_complete(c, op, res);
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t hard_stop = 0;
	/* The ring belongs to this thread (IORING_SETUP_SINGLE_ISSUER): made here. */
	int ret = ring_init(&w->ring, WORKER_RING_ENTRIES);

	if (ret < 0) {
		log_error("worker", "worker %u: io_uring setup: %s", w->id, strerror(-ret));
		w->exit_code = 1;
		__atomic_store_n(&w->ready, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	w->ring_ready = true;
	/* idle connections wait with receives that take a head buffer when bytes come */
	ret = hbuf_ring_setup(&w->hb, &w->ring, CONN_HEADROOM, CONN_HEAD_MAX);
	if (ret < 0)
		log_info("worker", "worker %u: no provided buffer ring (%s): idle connections "
			 "keep their head buffers", w->id, strerror(-ret));
	__atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < w->nlisten; i++)
		worker_arm_accept(w, i);
	worker_arm_wake(w);
	worker_arm_inbox(w);
	worker_arm_tick(w);
	worker_arm_helper(w);
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		ret = io_uring_submit_and_wait(&w->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			log_error("worker", "worker %u: io_uring_submit_and_wait: %s", w->id,
				  strerror(-ret));
			w->exit_code = 1;
			break;
		}
		w->now_ms = worker_clock_ms();
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			worker_dispatch(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
		/* what TLS sessions completed for their connections (which may make more) */
		for (struct tls_post p; tls_next_post(w, &p);) {
			if (p.op == OP_PARKED_RECV)
				park_complete(w, p.idx, p.res, p.slot);
			else
				worker_conn_done(w, p.op, p.idx, p.res, p.slot);
		}
		/* the exchanges that ended added their lines: write the buffers that are due */
		for (unsigned i = 0; i < w->cfg->ncustomlog; i++)
			worker_alog_flush(w, i, false);
		if (w->stopping && !w->metrics_closing && w->active == w->metrics_active)
			worker_stop_metrics(w);
		if (w->stopping || w->retiring) {
			/* The access logs are written out before the worker ends. */
			/* and the ring holds no accept or receive of the helper's conversation any
			 * more: after a reload, what they would take belongs to the successor */
			if (w->active == 0 && !tls_active(w) && worker_alog_idle(w) &&
			    !w->accepts_armed &&
			    !(w->retiring && w->helper_armed) && worker_inbox_close(w))
				break;
			/* a retiring worker has no deadline of its own (each exchange has its
			 * timeouts); a stopping one gives up 5 s after its grace */
			hard_stop = w->stopping ? w->stop_deadline_ms + 5000 : UINT64_MAX;
			if (w->now_ms > hard_stop) {
				log_error("worker", "worker %u: %u connections did not finish", w->id,
					  w->active);
				break;
			}
		}
	}
	stats_timeout_flush(&w->stats, UINT64_MAX - 1);   /* the last count, not lost at the end */
	if (w->retiring)
		log_info("worker", "worker %u of configuration %llu ended: %llu idle connections "
			 "went to the new configuration", w->id, (unsigned long long)w->gen,
			 (unsigned long long)w->handed);
	return NULL;
}
