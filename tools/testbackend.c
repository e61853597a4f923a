/*
 * testbackend: a small, real HTTP/1.1 origin server for spliced's end-to-end
 * tests and benchmarks.  One detached thread per TCP connection, keep-alive
 * and pipelining (requests are handled strictly in order; bytes after one
 * request belong to the next).
 *
 * Usage: testbackend [-a ADDR] [-p PORT] [-u PATH] [-r RECORDFILE] [-c] [-d MS]
 *                    [-s STARTFILE] [-o TEXT] [-T] [-D MS]
 *   -a ADDR   numeric IPv4/IPv6 address to listen on (default 127.0.0.1)
 *   -p PORT   port (default 0: the kernel chooses)
 *   -u PATH   listen on the Unix-domain stream socket PATH instead (a file
 *             already there is removed first); prints "listening unix:PATH"
 *   -r FILE   append every received request head (raw bytes, request line
 *             through the blank line) to FILE, one write() per head
 *   -c        close-only mode: "Connection: close" and close after every
 *             response
 *   -d MS     sleep MS milliseconds after binding, before listen(): a
 *             slow-starting application (connections are refused meanwhile)
 *   -s FILE   first thing after the options are read, append "start PID\n"
 *             to FILE (O_APPEND, one write()), so a test can count starts
 *   -T        after listen(), try ftruncate(1, 0) (as a backend that wants to
 *             erase the log its output goes to) and print "ftruncate(1, 0): OK"
 *             or the error on stdout
 *   -o TEXT   after listen(), print "TEXT" on stdout and "TEXT (stderr)" on
 *             stderr (one write() each)
 *   -D MS     sleep MS milliseconds before every response head (GET /stats
 *             excepted), besides delay=: an instance slower than its peers
 * After listen() it prints exactly one line "listening ADDR:PORT\n" on
 * stdout (IPv6: "listening [ADDR]:PORT") and flushes it, then the -T and -o
 * lines.
 *
 * Response behaviour is chosen by query parameters on any path, e.g.
 * "GET /x?len=1000&mode=chunked&chunk=100" (unknown keys are ignored, a bad
 * value gives 400):
 *   status=N      final status, 200..999 (default 200); 204/304 have no body
 *                 and no Content-Length/Transfer-Encoding
 *   len=N         body = N bytes, byte i = (i*7+3) % 251
 *                 (without len/body=echo: body = the request head as received)
 *   body=echo     body = the decoded request body (bounded 256 MiB, else 413)
 *   body=wire     body = the request body exactly as received: for a chunked
 *                 body its size lines, extensions, CRLFs and trailer section
 *                 too (bounded 256 MiB, else 413)
 *   connection=T  the response also carries "Connection: T" (T a token)
 *   mode=cl|chunked|close   framing (default cl); chunk=N chunk size for
 *                 chunked (default 8192), last chunk carries "X-Trailer: yes";
 *                 close = no framing, Connection: close, close after body
 *   early=N       interim response N (100..199 except 101) before the final one
 *   delay=MS      sleep before the response head; hdelay=MS sleep between
 *                 head and body
 *   drop=1        read the request, close without a response
 *   sleepclose=MS read the request, sleep, close without a response
 *   noread=MS     with a request body: answer status= (413 unless >= 400) at once
 *                 without reading the body, wait MS, close
 *   hdrs=N        N extra response fields "X-F-i: i"; bighdr=N one field X-Big of N
 *                 bytes (response head limits)
 *   say=WORD      print "say WORD" on stdout (one write(), WORD as received,
 *                 at most 200 bytes), then answer as usual
 *   location=V    the response also carries "Location: V" (V percent-decoded,
 *                 at most 200 bytes, no control characters), e.g.
 *                 location=http://127.0.0.1:8000/sub/
 *   cookie=V      the response also carries "Set-Cookie: V" (decoded the same
 *                 way), e.g. cookie=s=1;%20Path=/sub;%20Domain=backend.lan
 *   repeat=N      send the location= and cookie= fields N times each (1..100)
 *   field=F       the response also carries the field line F (decoded the same way),
 *                 e.g. field=X-Powered-By:%20PHP/8
 * GET /stats -> "conns=K requests=R open=O maxopen=M busy=B maxbusy=X\n": connections
 * accepted, requests, connections open now and most open at once, requests being worked
 * on now and most at once (a request is "busy" from its head until its response starts,
 * delay= included: what a thread-pool backend spends a thread on).  Every response carries X-Conn-Id,
 * X-Req-No, X-Body-Len, X-Body-Fnv (FNV-1a 64, %016llx), X-Body-Chunked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define HEAD_MAX      (64u * 1024u)          /* max request head incl. CRLFCRLF */
#define RBUF_CAP      (128u * 1024u)         /* per-connection read buffer */
#define OBUF_CAP      (64u * 1024u)          /* per-connection output buffer */
#define PIECE         (64u * 1024u)          /* body write granularity */
#define PATTERN_MOD   251u
#define ECHO_MAX      (256ull * 1024 * 1024) /* body=echo bound */
#define LINE_MAX_CH   4096u                  /* chunk-size line limit */
#define TRAILER_MAX   (64u * 1024u)          /* total trailer bytes */
#define FNV_BASIS     0xcbf29ce484222325ull
#define FNV_PRIME     0x100000001b3ull
#define MAX_MS        3600000ull             /* 1 hour cap for delays */
#define MAX_LEN       (1ull << 50)

static const char usage_text[] =
"usage: testbackend [-a ADDR] [-p PORT] [-u PATH] [-r RECORDFILE] [-c] [-d MS] [-s STARTFILE]\n"
"  -d MS: sleep before listen(); -s FILE: append \"start PID\" to FILE at start\n"
"  -o TEXT: print TEXT on stdout and stderr; -T: try ftruncate(1, 0), print the result\n"
"  -D MS: sleep MS before every response head (not /stats)\n"
"query parameters (any path): status=N len=N mode=cl|chunked|close chunk=N\n"
"  delay=MS hdelay=MS early=N body=echo|wire connection=TOKEN drop=1 sleepclose=MS\n"
"  say=WORD hdrs=N bighdr=N location=URL cookie=SETCOOKIE field=LINE (percent-decoded) repeat=N;\n"
"  GET /stats; -u PATH: listen on a Unix-domain socket\n";

static unsigned char pattern_buf[PIECE + PATTERN_MOD];
static int record_fd = -1;
static bool opt_close_only;
static unsigned long long opt_slow_ms;  /* -D: every response this much later */
static atomic_ullong stat_conns;
static atomic_ullong stat_requests;
static atomic_ullong stat_open, stat_maxopen;   /* connections */
static atomic_ullong stat_busy, stat_maxbusy;   /* requests being worked on */

/* *cur + 1, and *max raised to it. */
static void stat_enter(atomic_ullong *cur, atomic_ullong *max)
{
	unsigned long long n = atomic_fetch_add(cur, 1) + 1;
	unsigned long long m = atomic_load(max);

	while (n > m && !atomic_compare_exchange_weak(max, &m, n))
		;
}

struct conn {
	int fd;
	unsigned long long id;     /* 1-based connection index */
	unsigned long long nreq;   /* requests seen on this connection */
	unsigned char *rbuf;
	size_t rstart, rend;
	unsigned char *obuf;
	size_t olen;
};

/* Result of reading/parsing steps. */
enum { RS_OK = 0, RS_EOF = 1, RS_BAD = 2, RS_TOOBIG = 3, RS_HEADBIG = 4, RS_NOMEM = 5 };

struct req {
	bool is_head;
	int minor;                 /* HTTP/1.minor */
	const char *target;
	size_t target_len;
	bool has_cl;
	unsigned long long cl;
	bool chunked;
	bool conn_close;
	bool conn_keepalive;
	bool expect_continue;
};

enum { MODE_CL, MODE_CHUNKED, MODE_CLOSE };

struct params {
	unsigned status;
	bool has_len;
	unsigned long long len;
	int mode;
	unsigned long long chunk;
	unsigned long long delay, hdelay, sleepclose;
	unsigned long long noread; /* noread=MS: answer before reading the body, wait, close */
	unsigned early;
	unsigned long long hdrs;   /* hdrs=N: N extra fields X-F-i: i */
	unsigned long long bighdr; /* bighdr=N: one X-Big field with an N-byte value */
	bool echo_body;
	bool wire_body;
	const char *connection;    /* connection=: a token inside the request head */
	size_t connection_len;
	bool drop;
	bool has_sleepclose;
	const char *say;           /* say=: points into the request head */
	size_t say_len;
	char location[201];        /* location=, decoded; "" = none */
	char cookie[201];          /* cookie=, decoded; "" = none */
	char field[201];           /* field=, decoded: one more field line; "" = none */
	unsigned repeat;           /* repeat=: times location/cookie are sent (default 1) */
};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static void sleep_ms(unsigned long long ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int write_iov_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t n = writev(fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		size_t left = (size_t)n;
		while (cnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

static int out_flush(struct conn *c)
{
	if (c->olen == 0)
		return 0;
	struct iovec iov = { c->obuf, c->olen };
	c->olen = 0;
	return write_iov_all(c->fd, &iov, 1);
}

/* Buffered output; large pieces go straight out with writev. */
static int out_put(struct conn *c, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (c->olen + n >= OBUF_CAP) {
		struct iovec iov[2];
		int cnt = 0;
		if (c->olen) {
			iov[cnt].iov_base = c->obuf;
			iov[cnt].iov_len = c->olen;
			cnt++;
		}
		iov[cnt].iov_base = (void *)(uintptr_t)p;
		iov[cnt].iov_len = n;
		cnt++;
		c->olen = 0;
		return write_iov_all(c->fd, iov, cnt);
	}
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
	return 0;
}

static int out_str(struct conn *c, const char *s)
{
	return out_put(c, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static int out_fmt(struct conn *c, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof tmp)
		n = (int)sizeof tmp - 1;
	return out_put(c, tmp, (size_t)n);
}

/* Read more bytes into rbuf; compacts when the tail is full.
 * Returns bytes read, 0 on EOF, -1 on error or full buffer. */
static ssize_t rb_fill(struct conn *c)
{
	if (c->rstart == c->rend)
		c->rstart = c->rend = 0;
	if (c->rend == RBUF_CAP) {
		if (c->rstart == 0)
			return -1;
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf + c->rend, RBUF_CAP - c->rend, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			c->rend += (size_t)n;
		return n;
	}
}

static bool is_tchar(unsigned char ch)
{
	if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
		return true;
	return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool ieq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Decimal number, digits only, non-empty, <= max. */
static bool parse_u64(const char *s, size_t n, unsigned long long max, unsigned long long *out)
{
	if (n == 0 || n > 19)
		return false;
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static const char *reason_for(unsigned code)
{
	switch (code) {
	case 100: return "Continue";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:
		if (code < 200)
			return "Informational";
		return "Status";
	}
}

/* ------------------------------------------------------------------ */
/* request parsing                                                      */

/* Split a comma-separated header value into trimmed elements. */
typedef void (*elem_fn)(const char *e, size_t n, void *ctx);

static void for_each_elem(const char *v, size_t n, elem_fn fn, void *ctx)
{
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (b > a)
			fn(v + a, b - a, ctx);
		i = j + 1;
	}
}

struct te_state { int chunked; int other; };

static void te_elem(const char *e, size_t n, void *ctx)
{
	struct te_state *t = ctx;
	if (ieq(e, n, "chunked"))
		t->chunked++;
	else
		t->other++;
}

static void conn_elem(const char *e, size_t n, void *ctx)
{
	struct req *r = ctx;
	if (ieq(e, n, "close"))
		r->conn_close = true;
	else if (ieq(e, n, "keep-alive"))
		r->conn_keepalive = true;
}

/* h is NUL-terminated, hlen bytes, ends with CRLFCRLF. */
static int parse_head(const char *h, size_t hlen, struct req *r)
{
	memset(r, 0, sizeof *r);
	/* Line endings: every CR followed by LF and every LF preceded by CR. */
	for (size_t i = 0; i < hlen; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (ch == 0)
			return RS_BAD;
		if (ch == '\r' && (i + 1 >= hlen || h[i + 1] != '\n'))
			return RS_BAD;
		if (ch == '\n' && (i == 0 || h[i - 1] != '\r'))
			return RS_BAD;
	}
	/* Request line. */
	const char *eol = strstr(h, "\r\n");
	size_t i = 0;
	while (h + i < eol && is_tchar((unsigned char)h[i]))
		i++;
	if (i == 0 || i > 64 || h[i] != ' ')
		return RS_BAD;
	r->is_head = (i == 4 && memcmp(h, "HEAD", 4) == 0);
	i++;
	size_t ts = i;
	while (h + i < eol && (unsigned char)h[i] > 0x20 && (unsigned char)h[i] < 0x7f)
		i++;
	if (i == ts || h[i] != ' ')
		return RS_BAD;
	r->target = h + ts;
	r->target_len = i - ts;
	i++;
	if ((size_t)(eol - (h + i)) != 8 || memcmp(h + i, "HTTP/1.", 7) != 0)
		return RS_BAD;
	if (h[i + 7] == '1')
		r->minor = 1;
	else if (h[i + 7] == '0')
		r->minor = 0;
	else
		return RS_BAD;

	struct te_state te = { 0, 0 };
	bool has_te = false;
	const char *p = eol + 2;
	for (;;) {
		const char *le = strstr(p, "\r\n");
		if (le == p)
			break; /* blank line */
		if (*p == ' ' || *p == '\t')
			return RS_BAD; /* obs-fold */
		const char *q = p;
		while (q < le && is_tchar((unsigned char)*q))
			q++;
		if (q == p || q >= le || *q != ':')
			return RS_BAD;
		size_t nlen = (size_t)(q - p);
		const char *v = q + 1;
		const char *ve = le;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (const char *x = v; x < ve; x++) {
			unsigned char ch = (unsigned char)*x;
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return RS_BAD;
		}
		size_t vlen = (size_t)(ve - v);
		if (ieq(p, nlen, "content-length")) {
			unsigned long long cl;
			if (!parse_u64(v, vlen, 1ull << 62, &cl))
				return RS_BAD;
			if (r->has_cl && r->cl != cl)
				return RS_BAD;
			r->has_cl = true;
			r->cl = cl;
		} else if (ieq(p, nlen, "transfer-encoding")) {
			has_te = true;
			for_each_elem(v, vlen, te_elem, &te);
		} else if (ieq(p, nlen, "connection")) {
			for_each_elem(v, vlen, conn_elem, r);
		} else if (ieq(p, nlen, "expect")) {
			if (ieq(v, vlen, "100-continue"))
				r->expect_continue = true;
		}
		p = le + 2;
	}
	if (has_te) {
		if (te.other || te.chunked != 1 || r->has_cl)
			return RS_BAD;
		r->chunked = true;
	}
	return RS_OK;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes v[0..vlen) into out (NUL-terminated, at most outlen - 1 bytes); false
 * when it does not fit or decodes to a control character. */
static bool pct_decode(const char *v, size_t vlen, char *out, size_t outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < vlen; i++) {
		int ch = (unsigned char)v[i];

		if (ch == '%') {
			if (i + 2 >= vlen || hexval(v[i + 1]) < 0 || hexval(v[i + 2]) < 0)
				return false;
			ch = hexval(v[i + 1]) * 16 + hexval(v[i + 2]);
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f || n + 1 >= outlen)
			return false;
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	return true;
}

static int parse_params(const char *target, size_t tlen, struct params *pr, bool *is_stats)
{
	memset(pr, 0, sizeof *pr);
	pr->status = 200;
	pr->mode = MODE_CL;
	pr->chunk = 8192;
	pr->repeat = 1;

	const char *end = target + tlen;
	const char *path = target;
	/* absolute-form: skip scheme://authority */
	const char *ss = memchr(target, ':', tlen);
	if (ss && ss + 2 < end && ss[1] == '/' && ss[2] == '/' && *target != '/') {
		const char *slash = memchr(ss + 3, '/', (size_t)(end - (ss + 3)));
		path = slash ? slash : end;
	}
	const char *qm = memchr(path, '?', (size_t)(end - path));
	const char *pend = qm ? qm : end;
	const char *hash = memchr(path, '#', (size_t)(pend - path));
	if (hash)
		pend = hash;
	*is_stats = ((size_t)(pend - path) == 6 && memcmp(path, "/stats", 6) == 0);
	if (!qm)
		return RS_OK;
	const char *q = qm + 1;
	const char *qend = memchr(q, '#', (size_t)(end - q));
	if (!qend)
		qend = end;
	while (q < qend) {
		const char *amp = memchr(q, '&', (size_t)(qend - q));
		const char *e = amp ? amp : qend;
		const char *eq = memchr(q, '=', (size_t)(e - q));
		const char *k = q;
		size_t klen = (size_t)((eq ? eq : e) - q);
		const char *v = eq ? eq + 1 : e;
		size_t vlen = (size_t)(e - v);
		unsigned long long n;
		if (ieq(k, klen, "status")) {
			if (!parse_u64(v, vlen, 999, &n) || n < 200)
				return RS_BAD;
			pr->status = (unsigned)n;
		} else if (ieq(k, klen, "len")) {
			if (!parse_u64(v, vlen, MAX_LEN, &pr->len))
				return RS_BAD;
			pr->has_len = true;
		} else if (ieq(k, klen, "mode")) {
			if (ieq(v, vlen, "cl"))
				pr->mode = MODE_CL;
			else if (ieq(v, vlen, "chunked"))
				pr->mode = MODE_CHUNKED;
			else if (ieq(v, vlen, "close"))
				pr->mode = MODE_CLOSE;
			else
				return RS_BAD;
		} else if (ieq(k, klen, "chunk")) {
			if (!parse_u64(v, vlen, 1ull << 30, &pr->chunk) || pr->chunk == 0)
				return RS_BAD;
		} else if (ieq(k, klen, "delay")) {
			if (!parse_u64(v, vlen, MAX_MS, &pr->delay))
				return RS_BAD;
		} else if (ieq(k, klen, "hdelay")) {
			if (!parse_u64(v, vlen, MAX_MS, &pr->hdelay))
				return RS_BAD;
		} else if (ieq(k, klen, "sleepclose")) {
			if (!parse_u64(v, vlen, MAX_MS, &pr->sleepclose))
				return RS_BAD;
			pr->has_sleepclose = true;
		} else if (ieq(k, klen, "early")) {
			if (!parse_u64(v, vlen, 199, &n) || n < 100 || n == 101)
				return RS_BAD;
			pr->early = (unsigned)n;
		} else if (ieq(k, klen, "body")) {
			if (ieq(v, vlen, "echo"))
				pr->echo_body = true;
			else if (ieq(v, vlen, "wire"))
				pr->wire_body = true;
			else
				return RS_BAD;
		} else if (ieq(k, klen, "noread")) {
			if (!parse_u64(v, vlen, 60000, &n))
				return RS_BAD;
			pr->noread = n;
		} else if (ieq(k, klen, "hdrs")) {
			if (!parse_u64(v, vlen, 10000, &n))
				return RS_BAD;
			pr->hdrs = n;
		} else if (ieq(k, klen, "bighdr")) {
			if (!parse_u64(v, vlen, 1 << 20, &n))
				return RS_BAD;
			pr->bighdr = n;
		} else if (ieq(k, klen, "say")) {
			if (vlen > 200)
				return RS_BAD;
			pr->say = v;
			pr->say_len = vlen;
		} else if (ieq(k, klen, "connection")) {
			if (vlen == 0)
				return RS_BAD;
			for (size_t i = 0; i < vlen; i++)
				if (!is_tchar((unsigned char)v[i]))
					return RS_BAD;
			pr->connection = v;
			pr->connection_len = vlen;
		} else if (ieq(k, klen, "location")) {
			if (!pct_decode(v, vlen, pr->location, sizeof pr->location))
				return RS_BAD;
		} else if (ieq(k, klen, "repeat")) {
			if (!parse_u64(v, vlen, 100, &n) || n == 0)
				return RS_BAD;
			pr->repeat = (unsigned)n;
		} else if (ieq(k, klen, "cookie")) {
			if (!pct_decode(v, vlen, pr->cookie, sizeof pr->cookie))
				return RS_BAD;
		} else if (ieq(k, klen, "field")) {
			if (!pct_decode(v, vlen, pr->field, sizeof pr->field))
				return RS_BAD;
		} else if (ieq(k, klen, "drop")) {
			if (!parse_u64(v, vlen, 1, &n))
				return RS_BAD;
			pr->drop = (n == 1);
		}
		/* unknown keys are ignored */
		q = e + 1;
	}
	return RS_OK;
}

/* Read the next request head into rbuf[rstart .. rstart+*hlen). Leading
 * CRLFs between requests are skipped. */
static int read_head(struct conn *c, size_t *hlen)
{
	if (c->rstart > 0) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	size_t scanned = 0;
	bool started = false;
	for (;;) {
		size_t avail = c->rend - c->rstart;
		if (!started) {
			while (avail >= 2 && c->rbuf[c->rstart] == '\r' && c->rbuf[c->rstart + 1] == '\n') {
				c->rstart += 2;
				avail -= 2;
			}
			if (avail >= 2 || (avail == 1 && c->rbuf[c->rstart] != '\r'))
				started = true;
		}
		if (started && avail >= 4) {
			size_t from = scanned > 3 ? scanned - 3 : 0;
			const unsigned char *hit = memmem(c->rbuf + c->rstart + from, avail - from, "\r\n\r\n", 4);
			if (hit) {
				size_t len = (size_t)(hit - (c->rbuf + c->rstart)) + 4;
				if (len > HEAD_MAX)
					return RS_HEADBIG;
				*hlen = len;
				return RS_OK;
			}
			scanned = avail;
		}
		if (avail >= HEAD_MAX)
			return RS_HEADBIG;
		ssize_t n = rb_fill(c);
		if (n <= 0)
			return RS_EOF;
	}
}

struct body_acc {
	uint64_t hash;
	unsigned long long len;
	bool store;
	unsigned char *buf;
	size_t cap;
};

static int acc_add(struct body_acc *b, const unsigned char *p, size_t n)
{
	b->hash = fnv1a(b->hash, p, n);
	if (b->store) {
		if (b->len + n > ECHO_MAX)
			return RS_TOOBIG;
		if (b->len + n > b->cap) {
			size_t ncap = b->cap ? b->cap : 65536;
			while (ncap < b->len + n)
				ncap *= 2;
			if (ncap > ECHO_MAX)
				ncap = ECHO_MAX;
			unsigned char *nb = realloc(b->buf, ncap);
			if (!nb)
				return RS_NOMEM;
			b->buf = nb;
			b->cap = ncap;
		}
		memcpy(b->buf + b->len, p, n);
	}
	b->len += n;
	return RS_OK;
}

/* w (may be NULL) gets the bytes as they came on the wire (body=wire). */
static int read_exact_body(struct conn *c, struct body_acc *b, unsigned long long rem,
			   struct body_acc *w)
{
	while (rem > 0) {
		if (c->rstart == c->rend) {
			ssize_t n = rb_fill(c);
			if (n <= 0)
				return RS_EOF;
		}
		size_t avail = c->rend - c->rstart;
		size_t k = rem < avail ? (size_t)rem : avail;
		int rc = acc_add(b, c->rbuf + c->rstart, k);
		if (!rc && w)
			rc = acc_add(w, c->rbuf + c->rstart, k);
		if (rc)
			return rc;
		c->rstart += k;
		rem -= k;
	}
	return RS_OK;
}

/* Read one CRLF-terminated line (CRLF excluded from *len). */
static int read_line(struct conn *c, size_t maxlen, const char **line, size_t *len)
{
	size_t scanned = 0;
	for (;;) {
		size_t avail = c->rend - c->rstart;
		unsigned char *s = c->rbuf + c->rstart;
		unsigned char *nl = memchr(s + scanned, '\n', avail - scanned);
		if (nl) {
			size_t l = (size_t)(nl - s);
			if (l == 0 || s[l - 1] != '\r')
				return RS_BAD;
			if (l - 1 > maxlen)
				return RS_BAD;
			*line = (const char *)s;
			*len = l - 1;
			c->rstart += l + 1;
			return RS_OK;
		}
		scanned = avail;
		if (avail > maxlen + 1)
			return RS_BAD;
		ssize_t n = rb_fill(c);
		if (n <= 0)
			return RS_EOF;
	}
}

/* read_line, and the line with its CRLF added to w (if not NULL). */
static int read_line_wire(struct conn *c, size_t maxlen, const char **line, size_t *len,
			  struct body_acc *w)
{
	int rc = read_line(c, maxlen, line, len);
	if (!rc && w) {
		rc = acc_add(w, (const unsigned char *)*line, *len);
		if (!rc)
			rc = acc_add(w, (const unsigned char *)"\r\n", 2);
	}
	return rc;
}

static int read_chunked_body(struct conn *c, struct body_acc *b, struct body_acc *w)
{
	const char *line;
	size_t len;
	for (;;) {
		int rc = read_line_wire(c, LINE_MAX_CH, &line, &len, w);
		if (rc)
			return rc;
		size_t i = 0;
		unsigned long long sz = 0;
		while (i < len) {
			char ch = line[i];
			int d;
			if (ch >= '0' && ch <= '9')
				d = ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				d = ch - 'a' + 10;
			else if (ch >= 'A' && ch <= 'F')
				d = ch - 'A' + 10;
			else
				break;
			if (sz >> 56)
				return RS_BAD;
			sz = sz * 16 + (unsigned)d;
			i++;
		}
		if (i == 0)
			return RS_BAD;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i < len && line[i] != ';')
			return RS_BAD;
		for (; i < len; i++) {
			unsigned char ch = (unsigned char)line[i];
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return RS_BAD;
		}
		if (sz == 0)
			break;
		rc = read_exact_body(c, b, sz, w);
		if (rc)
			return rc;
		rc = read_line_wire(c, 0, &line, &len, w);
		if (rc)
			return rc;
	}
	/* trailer section */
	size_t total = 0;
	for (;;) {
		int rc = read_line_wire(c, TRAILER_MAX, &line, &len, w);
		if (rc)
			return rc;
		if (len == 0)
			return RS_OK;
		total += len + 2;
		if (total > TRAILER_MAX)
			return RS_BAD;
		if (line[0] == ' ' || line[0] == '\t' || !memchr(line, ':', len))
			return RS_BAD;
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)line[i];
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return RS_BAD;
		}
	}
}

/* ------------------------------------------------------------------ */
/* responses                                                            */

struct body_src {
	bool pattern;
	const unsigned char *mem;
	unsigned long long len;
};

static void src_piece(const struct body_src *s, unsigned long long off, unsigned long long max,
		      const unsigned char **p, size_t *n)
{
	unsigned long long k = max < PIECE ? max : PIECE;
	if (s->pattern)
		*p = pattern_buf + off % PATTERN_MOD;
	else
		*p = s->mem + off;
	*n = (size_t)k;
}

static int send_range(struct conn *c, const struct body_src *s, unsigned long long off,
		      unsigned long long n)
{
	while (n > 0) {
		const unsigned char *p;
		size_t k;
		src_piece(s, off, n, &p, &k);
		if (out_put(c, p, k))
			return -1;
		off += k;
		n -= k;
	}
	return 0;
}

static int send_body(struct conn *c, const struct body_src *s, int mode, unsigned long long chunk)
{
	if (mode != MODE_CHUNKED)
		return send_range(c, s, 0, s->len);
	unsigned long long off = 0;
	while (off < s->len) {
		unsigned long long cs = s->len - off < chunk ? s->len - off : chunk;
		if (out_fmt(c, "%llx\r\n", cs) || send_range(c, s, off, cs) || out_str(c, "\r\n"))
			return -1;
		off += cs;
	}
	return out_str(c, "0\r\nX-Trailer: yes\r\n\r\n");
}

static int send_std_headers(struct conn *c, const struct body_acc *b, bool chunked_req)
{
	return out_fmt(c, "X-Conn-Id: %llu\r\nX-Req-No: %llu\r\nX-Body-Len: %llu\r\n"
			  "X-Body-Fnv: %016llx\r\nX-Body-Chunked: %d\r\n",
		       c->id, c->nreq, b->len, (unsigned long long)b->hash, chunked_req ? 1 : 0);
}

/* Simple error response with Connection: close. */
static void send_error(struct conn *c, unsigned code, const struct body_acc *b, bool chunked_req)
{
	char body[128];
	int bl = snprintf(body, sizeof body, "%u %s\n", code, reason_for(code));
	if (out_fmt(c, "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n",
		    code, reason_for(code), bl) == 0 &&
	    send_std_headers(c, b, chunked_req) == 0 &&
	    out_str(c, "Connection: close\r\n\r\n") == 0 &&
	    out_put(c, body, (size_t)bl) == 0)
		(void)out_flush(c);
	c->olen = 0;
}

/* Handle one request. Returns 0 to keep the connection, 1 to close it. */
static int handle_one(struct conn *c)
{
	size_t hlen = 0;
	struct body_acc b = { .hash = FNV_BASIS };
	struct body_acc wire = { .hash = FNV_BASIS, .store = true };
	int rc = read_head(c, &hlen);
	if (rc == RS_EOF)
		return 1;
	c->nreq++;
	atomic_fetch_add(&stat_requests, 1);
	if (rc == RS_HEADBIG) {
		send_error(c, 431, &b, false);
		return 1;
	}

	char *head = malloc(hlen + 1);
	if (!head)
		return 1;
	memcpy(head, c->rbuf + c->rstart, hlen);
	head[hlen] = 0;
	c->rstart += hlen;
	if (record_fd >= 0) {
		if (write(record_fd, head, hlen) < 0) {
			/* best effort */
		}
	}

	int ret = 1;
	struct req r;
	struct params pr;
	bool is_stats = false, busy = false;
	if (parse_head(head, hlen, &r) != RS_OK ||
	    parse_params(r.target, r.target_len, &pr, &is_stats) != RS_OK) {
		send_error(c, 400, &b, false);
		goto out;
	}
	bool has_body = r.chunked || (r.has_cl && r.cl > 0);
	if (!is_stats) {
		stat_enter(&stat_busy, &stat_maxbusy);
		busy = true;
	}
	b.store = pr.echo_body && !is_stats;
	if (b.store && r.has_cl && r.cl > ECHO_MAX) {
		send_error(c, 413, &b, r.chunked);
		goto out;
	}
	if (has_body && pr.noread) {
		/* an application that refuses an upload at once (413, 401) and stops reading */
		send_error(c, pr.status >= 400 ? pr.status : 413, &b, r.chunked);
		sleep_ms(pr.noread);
		goto out;
	}
	if (has_body && r.expect_continue && r.minor == 1) {
		if (out_str(c, "HTTP/1.1 100 Continue\r\n\r\n") || out_flush(c))
			goto out;
	}
	if (r.chunked)
		rc = read_chunked_body(c, &b, pr.wire_body ? &wire : NULL);
	else if (r.has_cl)
		rc = read_exact_body(c, &b, r.cl, pr.wire_body ? &wire : NULL);
	if (rc == RS_EOF)
		goto out;
	if (rc != RS_OK) {
		send_error(c, rc == RS_TOOBIG ? 413 : rc == RS_NOMEM ? 500 : 400, &b, r.chunked);
		goto out;
	}

	bool closing = opt_close_only || r.conn_close || (r.minor == 0 && !r.conn_keepalive);

	if (is_stats) {
		char sb[128];
		int sl = snprintf(sb, sizeof sb, "conns=%llu requests=%llu open=%llu maxopen=%llu "
				  "busy=%llu maxbusy=%llu\n",
				  (unsigned long long)atomic_load(&stat_conns),
				  (unsigned long long)atomic_load(&stat_requests),
				  (unsigned long long)atomic_load(&stat_open),
				  (unsigned long long)atomic_load(&stat_maxopen),
				  (unsigned long long)atomic_load(&stat_busy),
				  (unsigned long long)atomic_load(&stat_maxbusy));
		if (out_fmt(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n", sl) ||
		    send_std_headers(c, &b, r.chunked) ||
		    out_str(c, closing ? "Connection: close\r\n" :
			       r.minor == 0 ? "Connection: keep-alive\r\n" : "") ||
		    out_str(c, "\r\n"))
			goto out;
		if (!r.is_head && out_put(c, sb, (size_t)sl))
			goto out;
		if (out_flush(c))
			goto out;
		ret = closing ? 1 : 0;
		goto out;
	}

	if (pr.say) {
		char line[256];
		int n = snprintf(line, sizeof line, "say %.*s\n", (int)pr.say_len, pr.say);

		if (write(STDOUT_FILENO, line, (size_t)n) < 0)
			perror("say");
	}
	if (pr.drop)
		goto out;
	if (pr.has_sleepclose) {
		sleep_ms(pr.sleepclose);
		goto out;
	}

	if (pr.early) {
		if (pr.early == 103) {
			if (out_str(c, "HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"))
				goto out;
		} else if (out_fmt(c, "HTTP/1.1 %u %s\r\n\r\n", pr.early, reason_for(pr.early))) {
			goto out;
		}
		if (out_flush(c))
			goto out;
	}
	if (pr.delay)
		sleep_ms(pr.delay);
	if (opt_slow_ms && !is_stats)
		sleep_ms(opt_slow_ms);
	/* before the first byte of the response: no later request can overlap with it */
	if (busy)
		atomic_fetch_sub(&stat_busy, 1);
	busy = false;

	struct body_src src;
	bool text = false;
	if (pr.echo_body) {
		src = (struct body_src){ .pattern = false, .mem = b.buf, .len = b.len };
		text = true;
	} else if (pr.wire_body) {
		src = (struct body_src){ .pattern = false, .mem = wire.buf, .len = wire.len };
		text = true;
	} else if (pr.has_len) {
		src = (struct body_src){ .pattern = true, .mem = NULL, .len = pr.len };
	} else {
		src = (struct body_src){ .pattern = false, .mem = (const unsigned char *)head, .len = hlen };
		text = true;
	}
	bool no_body_status = (pr.status == 204 || pr.status == 304);
	if (pr.mode == MODE_CLOSE)
		closing = true;

	if (out_fmt(c, "HTTP/1.1 %u %s\r\nContent-Type: %s\r\n", pr.status, reason_for(pr.status),
		    text ? "text/plain" : "application/octet-stream"))
		goto out;
	if (!no_body_status) {
		if (pr.mode == MODE_CL) {
			if (out_fmt(c, "Content-Length: %llu\r\n", src.len))
				goto out;
		} else if (pr.mode == MODE_CHUNKED) {
			if (out_str(c, "Transfer-Encoding: chunked\r\n"))
				goto out;
		}
	}
	if (pr.connection &&
	    out_fmt(c, "Connection: %.*s\r\n", (int)pr.connection_len, pr.connection))
		goto out;
	for (unsigned long long i = 0; i < pr.hdrs; i++)
		if (out_fmt(c, "X-F-%llu: %llu\r\n", i, i))
			goto out;
	if (pr.field[0] && out_fmt(c, "%s\r\n", pr.field))
		goto out;
	if (pr.bighdr) {
		if (out_str(c, "X-Big: "))
			goto out;
		for (unsigned long long i = 0; i < pr.bighdr; i++)
			if (out_put(c, "b", 1))
				goto out;
		if (out_str(c, "\r\n"))
			goto out;
	}
	for (unsigned i = 0; i < pr.repeat; i++) {
		if (pr.location[0] && out_fmt(c, "Location: %s\r\n", pr.location))
			goto out;
		if (pr.cookie[0] && out_fmt(c, "Set-Cookie: %s\r\n", pr.cookie))
			goto out;
	}
	if (send_std_headers(c, &b, r.chunked) ||
	    out_str(c, closing ? "Connection: close\r\n" :
		       r.minor == 0 ? "Connection: keep-alive\r\n" : "") ||
	    out_str(c, "\r\n"))
		goto out;
	if (pr.hdelay) {
		if (out_flush(c))
			goto out;
		sleep_ms(pr.hdelay);
	}
	if (!r.is_head && !no_body_status) {
		if (send_body(c, &src, pr.mode, pr.chunk))
			goto out;
	}
	if (out_flush(c))
		goto out;
	ret = closing ? 1 : 0;
out:
	if (busy)
		atomic_fetch_sub(&stat_busy, 1);
	c->olen = 0;
	free(b.buf);
	free(wire.buf);
	free(head);
	return ret;
}

/* Graceful close: FIN, then drain what the peer still sends (bounded) so
 * that unread request bytes do not turn the close into an RST that could
 * destroy the response in flight. */
static void lingering_close(int fd)
{
	shutdown(fd, SHUT_WR);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 500000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char tmp[4096];
	size_t total = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = recv(fd, tmp, sizeof tmp, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (total > (4u << 20) || t1.tv_sec - t0.tv_sec > 2)
			break;
	}
	close(fd);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;

	stat_enter(&stat_open, &stat_maxopen);
	while (handle_one(c) == 0)
		;
	lingering_close(c->fd);
	atomic_fetch_sub(&stat_open, 1);
	free(c->rbuf);
	free(c->obuf);
	free(c);
	return NULL;
}

/* -s FILE: one "start PID\n" appended in a single write(), so that starts by concurrent
 * processes never interleave. */
static int note_start(const char *path)
{
	char line[64];
	int n = snprintf(line, sizeof line, "start %ld\n", (long)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	if (write(fd, line, (size_t)n) != n) {
		perror(path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

/* A listening Unix-domain socket at path (an old file there removed), after sleeping
 * delay_ms between bind() and listen() (connects are refused meanwhile); -1 on error. */
static int listen_unix(const char *path, unsigned long long delay_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "testbackend: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		perror(path);
		close(fd);
		return -1;
	}
	if (delay_ms)
		sleep_ms(delay_ms);
	if (listen(fd, 4096) < 0) {
		perror("listen");
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	const char *port = "0";
	const char *recfile = NULL;
	const char *unix_path = NULL;
	const char *startfile = NULL;
	const char *say_text = NULL;
	bool try_truncate = false;
	unsigned long long listen_delay = 0;
	int opt;
	while ((opt = getopt(argc, argv, "a:p:u:r:cd:s:o:TD:h")) != -1) {
		switch (opt) {
		case 'u': unix_path = optarg; break;
		case 'a': addr = optarg; break;
		case 'p': port = optarg; break;
		case 'r': recfile = optarg; break;
		case 'c': opt_close_only = true; break;
		case 'd':
			if (!parse_u64(optarg, strlen(optarg), MAX_MS, &listen_delay))
				usage();
			break;
		case 's': startfile = optarg; break;
		case 'o': say_text = optarg; break;
		case 'T': try_truncate = true; break;
		case 'D':
			if (!parse_u64(optarg, strlen(optarg), MAX_MS, &opt_slow_ms))
				usage();
			break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (startfile && note_start(startfile) < 0)
		return 1;

	signal(SIGPIPE, SIG_IGN);
	/* An inherited "ignore" (e.g. from a non-interactive shell's `&`) must
	 * not keep us alive: SIGINT/SIGTERM always terminate. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	for (size_t i = 0; i < sizeof pattern_buf; i++)
		pattern_buf[i] = (unsigned char)((i * 7 + 3) % PATTERN_MOD);

	if (recfile) {
		record_fd = open(recfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (record_fd < 0) {
			perror(recfile);
			return 1;
		}
	}

	int lfd;
	int one = 1;
	if (unix_path) {
		lfd = listen_unix(unix_path, listen_delay);
		if (lfd < 0)
			return 1;
		printf("listening unix:%s\n", unix_path);
		fflush(stdout);
		goto listening;
	}
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	int gai = getaddrinfo(addr, port, &hints, &ai);
	if (gai != 0) {
		fprintf(stderr, "testbackend: %s:%s: %s\n", addr, port, gai_strerror(gai));
		return 1;
	}
	lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("bind");
		return 1;
	}
	freeaddrinfo(ai);
	if (listen_delay)
		sleep_ms(listen_delay);
	if (listen(lfd, 4096) < 0) {
		perror("listen");
		return 1;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0) {
		perror("getsockname");
		return 1;
	}
	char host[INET6_ADDRSTRLEN];
	unsigned lport;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		lport = ntohs(s6->sin6_port);
		printf("listening [%s]:%u\n", host, lport);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		lport = ntohs(s4->sin_port);
		printf("listening %s:%u\n", host, lport);
	}
	fflush(stdout);
listening:
	if (try_truncate) {
		char line[256];
		int n = snprintf(line, sizeof line, "ftruncate(1, 0): %s\n",
				 ftruncate(STDOUT_FILENO, 0) == 0 ? "OK" : strerror(errno));

		if (write(STDOUT_FILENO, line, (size_t)n) < 0)
			perror("write");
	}
	if (say_text) {
		dprintf(STDOUT_FILENO, "%s\n", say_text);
		dprintf(STDERR_FILENO, "%s (stderr)\n", say_text);
	}

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 512 * 1024);

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				sleep_ms(10);
				continue;
			}
			perror("accept");
			sleep_ms(10);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		if (c) {
			c->rbuf = malloc(RBUF_CAP);
			c->obuf = malloc(OBUF_CAP);
		}
		if (!c || !c->rbuf || !c->obuf) {
			if (c) {
				free(c->rbuf);
				free(c->obuf);
				free(c);
			}
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = atomic_fetch_add(&stat_conns, 1) + 1;
		pthread_t th;
		if (pthread_create(&th, &attr, conn_main, c) != 0) {
			close(fd);
			free(c->rbuf);
			free(c->obuf);
			free(c);
		}
	}
}
