/* End-to-end suite for protocol upgrades (ProxyPass ... upgrade=websocket): the real
 * spliced binary between a raw client and a real WebSocket echo server written here (a
 * thread per connection in the test process: RFC 6455 handshake with Sec-WebSocket-Accept
 * from its own SHA-1 and base64, frames of any length, ping/pong, the close handshake),
 * plus a few raw behaviours after a 101 (half-close both ways, silence, a wrong protocol,
 * a 101 nobody asked for) and a plain HTTP answer that shows the head it received.
 *
 * Needs SPLICED_BIN (absolute path; `make test` sets it). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"
#include "suite.h"

/* ---- SHA-1 (FIPS 180-4) and base64, for Sec-WebSocket-Accept ------------------------ */

static uint32_t rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;

		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

static void sha1(const void *data, size_t n, unsigned char out[20])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	const unsigned char *p = data;
	unsigned char last[128];
	size_t full = n / 64 * 64, rest = n - full, tail;
	uint64_t bits = (uint64_t)n * 8;

	for (size_t i = 0; i < full; i += 64)
		sha1_block(h, p + i);
	memset(last, 0, sizeof(last));
	memcpy(last, p + full, rest);
	last[rest] = 0x80;
	tail = rest + 9 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		last[tail - 1 - i] = (unsigned char)(bits >> (8 * i));
	for (size_t i = 0; i < tail; i += 64)
		sha1_block(h, last + i);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
}

/* out: 4 * ((n + 2) / 3) + 1 bytes. */
static void base64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

/* Sec-WebSocket-Accept of key (RFC 6455 4.2.2): base64(SHA-1(key GUID)). */
static void ws_accept(const char *key, size_t klen, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char buf[256];
	unsigned char d[20];

	if (klen > 200)
		klen = 200;
	memcpy(buf, key, klen);
	memcpy(buf + klen, guid, sizeof(guid) - 1);
	sha1(buf, klen + sizeof(guid) - 1, d);
	base64(d, 20, out);
}

/* ---- the server ------------------------------------------------------------------------ */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_head[8192];          /* the last request head the server received */
static long long g_got = -1;       /* /serverclose: bytes read after its EOF was sent */
static int g_idle_eof;             /* /idle: the tunnel was closed on the server */

struct srd {                       /* a buffered reader over a socket */
	int fd;
	unsigned char buf[65536];
	size_t s, e;
};

static int srd_exact(struct srd *r, void *p, size_t n)
{
	unsigned char *o = p;

	while (n) {
		size_t k;

		if (r->s == r->e) {
			ssize_t got = recv(r->fd, r->buf, sizeof(r->buf), 0);

			if (got <= 0)
				return -1;
			r->s = 0;
			r->e = (size_t)got;
		}
		k = r->e - r->s < n ? r->e - r->s : n;
		memcpy(o, r->buf + r->s, k);
		r->s += k;
		o += k;
		n -= k;
	}
	return 0;
}

/* Bytes until EOF (what was buffered included). */
static long long srd_drain(struct srd *r)
{
	long long n = (long long)(r->e - r->s);
	ssize_t got;

	r->s = r->e = 0;
	while ((got = recv(r->fd, r->buf, sizeof(r->buf), 0)) > 0)
		n += got;
	return n;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);

		if (k <= 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The value of field `name` in head, copied to out ("" when absent). */
static const char *head_field(const char *head, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	const char *p = strstr(head, "\r\n");

	out[0] = '\0';
	while (p && p[2] != '\r') {
		const char *line = p + 2, *eol = strstr(line, "\r\n");

		if (!eol)
			break;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			size_t len;

			while (*v == ' ')
				v++;
			len = (size_t)(eol - v) < cap - 1 ? (size_t)(eol - v) : cap - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return out;
		}
		p = eol;
	}
	return out;
}

static void ws_frame_send(int fd, unsigned b0, const unsigned char *p, size_t n)
{
	unsigned char h[10];
	size_t hl = 2;

	h[0] = (unsigned char)b0;
	if (n < 126) {
		h[1] = (unsigned char)n;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	if (write_all(fd, h, hl) == 0)
		write_all(fd, p, n);
}

/* Echoes data frames as they come, answers ping with pong and close with close. */
static void ws_echo(struct srd *r)
{
	for (;;) {
		unsigned char h[2], ext[8], mask[4], *p;
		uint64_t n;

		if (srd_exact(r, h, 2))
			return;
		n = h[1] & 0x7f;
		if (n == 126 || n == 127) {
			size_t el = n == 126 ? 2 : 8;

			if (srd_exact(r, ext, el))
				return;
			n = 0;
			for (size_t i = 0; i < el; i++)
				n = n << 8 | ext[i];
		}
		if (!(h[1] & 0x80) || n > (16u << 20) || srd_exact(r, mask, 4))
			return; /* client frames are masked */
		p = malloc(n ? n : 1);
		if (!p || srd_exact(r, p, n)) {
			free(p);
			return;
		}
		for (uint64_t i = 0; i < n; i++)
			p[i] ^= mask[i & 3];
		switch (h[0] & 0x0f) {
		case 0x8:
			ws_frame_send(r->fd, 0x88, p, n);
			free(p);
			shutdown(r->fd, SHUT_WR);
			srd_drain(r);
			return;
		case 0x9:
			ws_frame_send(r->fd, 0x8a, p, n);
			break;
		case 0xa:
			break;
		default:
			ws_frame_send(r->fd, h[0], p, n);
		}
		free(p);
	}
}

static void *srv_conn(void *arg)
{
	struct srd *r = arg;
	char head[8192], up[256], key[256], acc[32], resp[1024];
	size_t hl = 0;
	const char *end = NULL;
	int n;

	while (!end) {
		ssize_t got = recv(r->fd, head + hl, sizeof(head) - 1 - hl, 0);

		if (got <= 0)
			goto out;
		hl += (size_t)got;
		head[hl] = '\0';
		end = strstr(head, "\r\n\r\n");
		if (!end && hl == sizeof(head) - 1)
			goto out;
	}
	/* bytes after the head stay for the new protocol */
	r->e = hl - (size_t)(end + 4 - head);
	memcpy(r->buf, end + 4, r->e);
	r->s = 0;
	((char *)end)[4] = '\0';
	pthread_mutex_lock(&g_mu);
	snprintf(g_head, sizeof(g_head), "%s", head);
	pthread_mutex_unlock(&g_mu);
	head_field(head, "Upgrade", up, sizeof(up));
	head_field(head, "Sec-WebSocket-Key", key, sizeof(key));
	ws_accept(key, strlen(key), acc);
	if (strncmp(head, "GET /head", 9) == 0) {
		n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			     "Connection: close\r\n\r\n", strlen(head));
		write_all(r->fd, resp, (size_t)n);
		write_all(r->fd, head, strlen(head));
		goto out;
	}
	if (strncmp(head, "GET /force", 10) != 0 && strncmp(head, "GET /wrong", 10) != 0 &&
	    (!strcasestr(up, "websocket") || !key[0])) {
		static const char no[] = "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n"
					 "Connection: close\r\n\r\n";

		write_all(r->fd, no, sizeof(no) - 1);
		goto out;
	}
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n%s",
		     strncmp(head, "GET /wrong", 10) == 0 ? "foo/1" : "websocket", acc,
		     /* the first frame in the same segment as the 101 */
		     strncmp(head, "GET /early", 10) == 0 ? "\x81\x05hello" : "");
	if (write_all(r->fd, resp, (size_t)n))
		goto out;
	if (strncmp(head, "GET /halfclose", 14) == 0) {
		long long got = srd_drain(r);

		n = snprintf(resp, sizeof(resp), "got %lld\n", got);
		write_all(r->fd, resp, (size_t)n);
	} else if (strncmp(head, "GET /serverclose", 16) == 0) {
		long long got;

		write_all(r->fd, "bye\n", 4);
		shutdown(r->fd, SHUT_WR);
		got = srd_drain(r);
		pthread_mutex_lock(&g_mu);
		g_got = got;
		pthread_mutex_unlock(&g_mu);
	} else if (strncmp(head, "GET /idle", 9) == 0) {
		srd_drain(r);
		pthread_mutex_lock(&g_mu);
		g_idle_eof = 1;
		pthread_mutex_unlock(&g_mu);
	} else {
		ws_echo(r);
	}
out:
	close(r->fd);
	free(r);
	return NULL;
}

static void *srv_accept(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		struct srd *r;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		r = calloc(1, sizeof(*r));
		if (!r) {
			close(fd);
			continue;
		}
		r->fd = fd;
		if (pthread_create(&t, NULL, srv_conn, r) != 0) {
			close(fd);
			free(r);
			continue;
		}
		pthread_detach(t);
	}
}

/* Starts the server in this (forked) test process; returns its port. */
static int srv_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t t;

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 256), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, srv_accept, (void *)(intptr_t)lfd), 0);
	pthread_detach(t);
	return ntohs(a.sin_port);
}

/* ---- the client ---------------------------------------------------------------------- */

/* Reads exactly n bytes: what e2e_read_response left buffered first. 0 or -1. */
static int cl_exact(struct e2e_client *c, void *p, size_t n)
{
	unsigned char *o = p;

	while (n) {
		size_t have = c->end - c->start;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t got;

		if (have) {
			size_t k = have < n ? have : n;

			memcpy(o, c->buf + c->start, k);
			c->start += k;
			o += k;
			n -= k;
			continue;
		}
		if (poll(&pfd, 1, E2E_IO_TIMEOUT_MS) != 1)
			return -1;
		got = recv(c->fd, o, n, 0);
		if (got <= 0)
			return -1;
		o += got;
		n -= (size_t)got;
	}
	return 0;
}

static void ws_send(struct e2e_client *c, unsigned op, const void *data, size_t n)
{
	static const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	unsigned char *f = malloc(n + 14);
	size_t hl = 2;

	ck_assert_ptr_nonnull(f);
	f[0] = (unsigned char)(0x80 | op);
	if (n < 126) {
		f[1] = (unsigned char)(0x80 | n);
	} else if (n < 65536) {
		f[1] = 0x80 | 126;
		f[2] = (unsigned char)(n >> 8);
		f[3] = (unsigned char)n;
		hl = 4;
	} else {
		f[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			f[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	memcpy(f + hl, mask, 4);
	for (size_t i = 0; i < n; i++)
		f[hl + 4 + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
	ck_assert_int_eq(e2e_send(c, f, hl + 4 + n), 0);
	free(f);
}

/* One unmasked frame from the server: its first byte (FIN, opcode) and payload. */
static unsigned char *ws_recv(struct e2e_client *c, unsigned *b0, size_t *len)
{
	unsigned char h[2], ext[8], *p;
	uint64_t n;

	ck_assert_msg(cl_exact(c, h, 2) == 0, "no frame: %s", e2e_diag());
	ck_assert_msg(!(h[1] & 0x80), "a server frame must not be masked");
	n = h[1] & 0x7f;
	if (n == 126 || n == 127) {
		size_t el = n == 126 ? 2 : 8;

		ck_assert_int_eq(cl_exact(c, ext, el), 0);
		n = 0;
		for (size_t i = 0; i < el; i++)
			n = n << 8 | ext[i];
	}
	ck_assert_msg(n <= (16u << 20), "frame of %llu bytes", (unsigned long long)n);
	p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(cl_exact(c, p, n) == 0, "frame cut short: %s", e2e_diag());
	p[n] = '\0';
	*b0 = h[0];
	*len = n;
	return p;
}

/* Sends a frame and expects it back with the same first byte and payload. */
static void ws_roundtrip(struct e2e_client *c, unsigned op, const void *data, size_t n,
			 unsigned want_b0)
{
	unsigned b0;
	size_t len;
	unsigned char *p;

	ws_send(c, op, data, n);
	p = ws_recv(c, &b0, &len);
	ck_assert_msg(b0 == want_b0, "frame 0x%02x back, 0x%02x expected", b0, want_b0);
	ck_assert_msg(len == n && memcmp(p, data, n) == 0, "payload of %zu bytes back, %zu sent",
		      len, n);
	free(p);
}

/* Opens a connection and asks to switch to `upgrade` (NULL: no Upgrade at all) for target;
 * the response head is read into r (the caller frees it). */
static void ws_open(struct e2e_client *c, int port, const char *target, const char *upgrade,
		    struct e2e_response *r)
{
	char req[1024];
	int n;

	e2e_client_open(c, port);
	if (upgrade)
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: ws.example\r\n"
			     "Upgrade: %s\r\nConnection: keep-alive, Upgrade\r\n"
			     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			     "Sec-WebSocket-Version: 13\r\n\r\n", target, upgrade);
	else
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: ws.example\r\n\r\n",
			     target);
	e2e_roundtrip(c, req, (size_t)n, r, false);
}

/* A WebSocket handshake through spliced: 101 with the right accept value. */
static void ws_connect(struct e2e_client *c, int port, const char *target)
{
	struct e2e_response r;

	ws_open(c, port, target, "websocket", &r);
	ck_assert_msg(r.status == 101, "status %d: %s", r.status, e2e_diag());
	ck_assert_str_eq(e2e_header(&r, "Sec-WebSocket-Accept") ?: "",
			 "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert(e2e_header_has_token(&r, "Upgrade", "websocket"));
	ck_assert(e2e_header_has_token(&r, "Connection", "upgrade"));
	e2e_response_free(&r);
}

/* The close handshake: our close, the server's close with the same code, then EOF. */
static void ws_close(struct e2e_client *c)
{
	static const unsigned char code[2] = { 0x03, 0xe8 }; /* 1000 */

	ws_roundtrip(c, 0x8, code, 2, 0x88);
	ck_assert_msg(e2e_wait_closed(c, 10000) == E2E_CLOSED_EOF,
		      "the server's EOF must reach the client: %s", e2e_diag());
	e2e_client_close(c);
}

/* ---- tests -------------------------------------------------------------------------- */

/* The accept value of RFC 6455's own example, and SHA-1 of "abc" (FIPS 180-4): the server's
 * arithmetic is right before anything relies on it. */
START_TEST(test_accept_value)
{
	char acc[32];
	unsigned char d[20];
	char hex[41];

	ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
	ck_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	sha1("abc", 3, d);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	ck_assert_str_eq(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	base64((const unsigned char *)"ab", 2, acc);
	ck_assert_str_eq(acc, "YWI=");
}
END_TEST

#define WS_CONF "ProxyPass /plain/ http://127.0.0.1:%d/\n" \
		"ProxyPass / http://127.0.0.1:%d/ upgrade=websocket\n"

/* Handshake, text and binary frames both ways, a 1 MiB message, ping/pong, the close
 * handshake; then the access log line shows the tunnel's bytes and the metrics count it
 * (the metrics requests are logged too, with status 200). */
START_TEST(test_echo)
{
	int port = srv_start(), mport = e2e_free_port();
	struct e2e_proc sp;
	struct e2e_client c;
	unsigned char bin[256], *big = malloc(1u << 20);
	char alog[512], *text = NULL;
	long long in = 0, out = 0, us = 0;
	int st = 0;

	ck_assert_ptr_nonnull(big);
	snprintf(alog, sizeof(alog), "%s/access.log", e2e_temp_dir());
	e2e_spliced_startf(&sp, WS_CONF "MetricsListen 127.0.0.1:%d\n"
			   "LogFormat \"tunnel %%>s %%I %%O %%D\" t\nCustomLog %s t\n",
			   port, port, mport, alog);
	ws_connect(&c, sp.port, "/ws");
	ck_assert_int_eq(e2e_metric(mport, "spliced_tunnels_active"), 1);
	ws_roundtrip(&c, 0x1, "hello, tunnel", 13, 0x81);
	for (int i = 0; i < 256; i++)
		bin[i] = (unsigned char)i;
	ws_roundtrip(&c, 0x2, bin, sizeof(bin), 0x82);
	ws_roundtrip(&c, 0x2, bin, 200, 0x82);          /* 16-bit length */
	e2e_random_fill(big, 1u << 20, 13);
	ws_roundtrip(&c, 0x2, big, 1u << 20, 0x82);      /* 64-bit length, spliced */
	ws_roundtrip(&c, 0x9, "p1", 2, 0x8a);           /* ping -> pong */
	ws_roundtrip(&c, 0x1, "", 0, 0x81);
	ws_close(&c);
	ck_assert_int_eq(e2e_metric_wait(mport, "spliced_tunnels_active", 0), 0);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tunnels_total"), 1);
	ck_assert_int_eq(e2e_metric(mport, "spliced_requests_total{class=\"1xx\"}"), 1);
	ck_assert_int_gt(e2e_metric(mport, "spliced_bytes_total{how=\"spliced\"}"), 0);
	for (int i = 0; i < 200; i++) {
		free(text);
		text = e2e_read_file(alog, NULL);
		if (text && strstr(text, "tunnel 101 "))
			break;
		e2e_sleep_ms(25);
	}
	ck_assert_msg(text && sscanf(strstr(text, "tunnel 101 ") ?: "", "tunnel %d %lld %lld %lld",
				     &st, &in, &out, &us) == 4, "log: %s", text ? text : "(none)");
	ck_assert_int_eq(st, 101);
	ck_assert_msg(in > (1 << 20) && out > (1 << 20) && us > 0,
		      "the line counts the tunnel: %s", text);
	free(text);
	free(big);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* The backend's first frame came in the same segment as its 101: it reaches the client.
 * The route is written as httpd's ws:// URL (upgrade=websocket implied). */
START_TEST(test_early_bytes)
{
	int port = srv_start();
	struct e2e_proc sp;
	struct e2e_client c;
	unsigned b0;
	size_t n;
	unsigned char *p;

	e2e_spliced_startf(&sp, "ProxyPass / ws://127.0.0.1:%d/\n", port);
	ws_connect(&c, sp.port, "/early");
	p = ws_recv(&c, &b0, &n);
	ck_assert_int_eq(b0, 0x81);
	ck_assert_msg(n == 5 && memcmp(p, "hello", 5) == 0, "first frame: %s", p);
	free(p);
	ws_roundtrip(&c, 0x1, "x", 1, 0x81);
	ws_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* 100 tunnels open at once, each echoing its own message, all closed cleanly. */
START_TEST(test_concurrent)
{
	enum { N = 100 };
	int port = srv_start(), mport = e2e_free_port();
	struct e2e_proc sp;
	struct e2e_client *c = calloc(N, sizeof(*c));
	char msg[64];

	ck_assert_ptr_nonnull(c);
	e2e_spliced_startf(&sp, WS_CONF "MetricsListen 127.0.0.1:%d\n", port, port, mport);
	for (int i = 0; i < N; i++)
		ws_connect(&c[i], sp.port, "/ws");
	ck_assert_int_eq(e2e_metric(mport, "spliced_tunnels_active"), N);
	for (int i = 0; i < N; i++) {
		int n = snprintf(msg, sizeof(msg), "message %d", i);

		ws_send(&c[i], 0x1, msg, (size_t)n);
	}
	for (int i = 0; i < N; i++) {
		int n = snprintf(msg, sizeof(msg), "message %d", i);
		unsigned b0;
		size_t len;
		unsigned char *p = ws_recv(&c[i], &b0, &len);

		ck_assert_msg(b0 == 0x81 && len == (size_t)n && memcmp(p, msg, len) == 0,
			      "tunnel %d got \"%s\"", i, p);
		free(p);
	}
	for (int i = 0; i < N; i++)
		ws_close(&c[i]);
	ck_assert_int_eq(e2e_metric_wait(mport, "spliced_tunnels_active", 0), 0);
	ck_assert_int_eq(e2e_metric(mport, "spliced_tunnels_total"), N);
	free(c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* A 101 to a request that did not ask for one is 502; so is a 101 on a route without
 * upgrade=, where the client's Upgrade was not forwarded. */
START_TEST(test_not_asked)
{
	int port = srv_start();
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_spliced_startf(&sp, WS_CONF, port, port);
	ws_open(&c, sp.port, "/force", NULL, &r);
	ck_assert_int_eq(r.status, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ws_open(&c, sp.port, "/plain/force", "websocket", &r);
	ck_assert_int_eq(r.status, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	/* on that route the backend never sees the Upgrade (426 from the server) */
	ws_open(&c, sp.port, "/plain/ws", "websocket", &r);
	ck_assert_int_eq(r.status, 426);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert(e2e_log_wait_for(&sp, "101 Switching Protocols was not asked for", 10000));
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* A 101 that switches to another protocol than the one asked for is 502. */
START_TEST(test_wrong_protocol)
{
	int port = srv_start();
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;

	e2e_spliced_startf(&sp, WS_CONF, port, port);
	ws_open(&c, sp.port, "/wrong", "websocket", &r);
	ck_assert_int_eq(r.status, 502);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert(e2e_log_wait_for(&sp, "101 to a protocol other than the websocket", 10000));
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

#define H2C "GET /head HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n" \
	    "Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
#define H2C_WS "GET /head HTTP/1.1\r\nHost: h\r\nUpgrade: h2c, WebSocket/13\r\n" \
	       "Connection: Upgrade\r\n\r\n"

/* Upgrade: h2c is never forwarded (nor its HTTP2-Settings); from a list, only the allowed
 * protocol goes on, with Connection: Upgrade. */
START_TEST(test_h2c)
{
	int port = srv_start();
	struct e2e_proc sp;
	struct e2e_client c;
	struct e2e_response r;
	char head[8192];

	e2e_spliced_startf(&sp, WS_CONF, port, port);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, H2C, strlen(H2C), &r, false);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(!strcasestr((const char *)r.body, "h2c") &&
		      !strcasestr((const char *)r.body, "upgrade") &&
		      !strcasestr((const char *)r.body, "HTTP2-Settings"),
		      "the backend saw: %s", r.body);
	e2e_response_free(&r);
	e2e_client_close(&c);
	e2e_client_open(&c, sp.port);
	e2e_roundtrip(&c, H2C_WS, strlen(H2C_WS), &r, false);
	ck_assert_int_eq(r.status, 200);
	pthread_mutex_lock(&g_mu);
	snprintf(head, sizeof(head), "%s", g_head);
	pthread_mutex_unlock(&g_mu);
	ck_assert_msg(e2e_head_has_line(head, strlen(head), "Upgrade: WebSocket/13") &&
		      e2e_head_has_line(head, strlen(head), "Connection: Upgrade") &&
		      e2e_head_field_count(head, strlen(head), "Upgrade") == 1 &&
		      !strcasestr(head, "h2c"), "the backend saw: %s", head);
	e2e_response_free(&r);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* A tunnel where nothing moves is closed after Timeout, on both sides. */
START_TEST(test_idle_timeout)
{
	int port = srv_start();
	struct e2e_proc sp;
	struct e2e_client c;
	int done = 0;

	e2e_spliced_startf(&sp, WS_CONF "Timeout 1\n", port, port);
	ws_connect(&c, sp.port, "/idle");
	ck_assert_msg(e2e_wait_closed(&c, 20000) == E2E_CLOSED_EOF, "%s", e2e_diag());
	for (int i = 0; i < 400 && !done; i++) {
		pthread_mutex_lock(&g_mu);
		done = g_idle_eof;
		pthread_mutex_unlock(&g_mu);
		if (!done)
			e2e_sleep_ms(25);
	}
	ck_assert_msg(done, "the backend side of the tunnel stayed open");
	ck_assert(e2e_log_wait_for(&sp, "idle for 1000 ms: closed", 10000));
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* An EOF is passed on as a half-close, either way, and the other direction goes on. */
START_TEST(test_half_close)
{
	int port = srv_start();
	struct e2e_proc sp;
	struct e2e_client c;
	unsigned char data[70000], *got = NULL;
	size_t n = 0;
	long long seen = -1;

	memset(data, 'x', sizeof(data));
	e2e_spliced_startf(&sp, WS_CONF, port, port);
	/* the client stops sending; the backend sees EOF and still answers */
	ws_connect(&c, sp.port, "/halfclose");
	ck_assert_int_eq(e2e_send(&c, data, sizeof(data)), 0);
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	ck_assert_int_eq(e2e_read_until_eof(&c, &got, &n, 10000), 0);
	ck_assert_msg(n == 10 && memcmp(got, "got 70000\n", 10) == 0, "got \"%s\"",
		      e2e_esc(got, n));
	free(got);
	e2e_client_close(&c);
	/* the backend stops sending; the client sees EOF and can still send */
	ws_connect(&c, sp.port, "/serverclose");
	ck_assert_int_eq(e2e_read_until_eof(&c, &got, &n, 10000), 0);
	ck_assert_msg(n == 4 && memcmp(got, "bye\n", 4) == 0, "got \"%s\"", e2e_esc(got, n));
	free(got);
	ck_assert_int_eq(e2e_send(&c, data, 3000), 0);
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	for (int i = 0; i < 400 && seen < 0; i++) {
		pthread_mutex_lock(&g_mu);
		seen = g_got;
		pthread_mutex_unlock(&g_mu);
		if (seen < 0)
			e2e_sleep_ms(25);
	}
	ck_assert_int_eq(seen, 3000);
	e2e_client_close(&c);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
}
END_TEST

/* A graceful stop waits for a tunnel no longer than for any exchange (Timeout, at most
 * 30 s): then the tunnel is closed, spliced exits 0 and the tunnel's line is logged. */
START_TEST(test_stop)
{
	int port = srv_start();
	struct e2e_proc sp;
	struct e2e_client c;
	char alog[512], *text = NULL;

	snprintf(alog, sizeof(alog), "%s/stop.log", e2e_temp_dir());
	e2e_spliced_startf(&sp, WS_CONF "Timeout 1\nLogFormat \"tunnel %%>s\" t\n"
			   "CustomLog %s t\n", port, port, alog);
	ws_connect(&c, sp.port, "/ws");
	ws_roundtrip(&c, 0x1, "before stop", 11, 0x81);
	ck_assert_int_eq(e2e_spliced_stop(&sp), 0);
	ck_assert_int_ne(e2e_wait_closed(&c, 10000), E2E_OPEN);
	text = e2e_read_file(alog, NULL);
	ck_assert_msg(text && strstr(text, "tunnel 101\n"), "log: %s", text ? text : "(none)");
	free(text);
	e2e_client_close(&c);
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "accept_value", test_accept_value, 0 },
		{ "echo", test_echo, 0 },
		{ "early_bytes", test_early_bytes, 0 },
		{ "concurrent", test_concurrent, 0 },
		{ "not_asked", test_not_asked, 0 },
		{ "wrong_protocol", test_wrong_protocol, 0 },
		{ "h2c", test_h2c, 0 },
		{ "idle_timeout", test_idle_timeout, 0 },
		{ "half_close", test_half_close, 0 },
		{ "stop", test_stop, 0 },
	};
	Suite *s = suite_create("e2e_tunnel");

	ck_add_cases(s, cases, CK_N(cases), 90, NULL, NULL);
	return ck_run_suite(s);
}
