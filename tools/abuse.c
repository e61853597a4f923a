/* abuse: slow and greedy clients against spliced, and what normal clients feel meanwhile.
 *
 * Measures the latency of normal requests (GET /?len=SIZE from a few keep-alive clients,
 * one thread each) with nothing else going on, then again while these abusers hold
 * connections at once:
 *
 *   slowloris     a request head begun, then one more byte every TRICKLE seconds
 *   slow readers  GET of a body of SIZE (-b, 256 KiB), 4 KiB receive buffer, 16 bytes
 *                 read a second. The kernel takes a few MB between spliced and a reader
 *                 that does not read (spliced's send buffer grows), so with 256 KiB spliced
 *                 finishes each response and the reader costs it a socket until
 *                 KeepAliveTimeout; a body over those buffers (-b 33554432 -r 20) makes
 *                 spliced wait and cut the reader at Timeout. 1,000 readers of large
 *                 bodies would take gigabytes of the machine's TCP memory.
 *   slow uploads  POST with Content-Length 100 MB, 10 body bytes a second
 *
 * and prints p50/p99 loaded against unloaded (the target: loaded p99 within 2x),
 * how many abusers spliced closed and after how long, how many MaxConnections refused
 * (a 503 at once), and whether spliced stayed responsive (every normal request answered,
 * a 503 of MaxConnections included, and one more served after the abusers; the exit
 * status is 0 then). Timing figures are printed, never judged: the machine is
 * shared and noisy, compare runs made together.
 *
 * A reader's close is not visible in time from the client (spliced's FIN waits behind the
 * bytes it had queued, which the reader takes at 16 bytes a second): readers are drained
 * at the end, and one that ends before its body did was cut off; spliced's own count is
 * spliced_timeouts_total on the metrics page, printed when known.
 *
 *   tools/abuse [options]           starts build/tools/testbackend and build/spliced
 *                                   (SPLICED_BIN, TESTBACKEND_BIN override) with the
 *                                   configuration printed at the start, stops them after
 *                                   and removes its directory (/tmp/abuse-XXXXXX: the
 *                                   configuration and error.log) unless ABUSE_KEEP=1
 *   tools/abuse -p PORT [-m MPORT]  a running spliced whose ProxyPass / leads to a
 *                                   testbackend (MPORT: its MetricsListen port)
 * Options: -l N slowloris (1000), -r N readers (1000), -u N uploads (1000), -b SIZE the
 *   readers' body (262144), -c N normal
 *   clients (4), -n N normal requests per phase (4000), -s SIZE response size (1024),
 *   -t S trickle interval (2), -S S wait after opening the abusers before measuring (3:
 *   past the first burst of the readers' bodies), -H S hold the readers at least this
 *   long before draining them (15: past Timeout), -W S longest wait for the abusers to be
 *   closed (120), -w N spliced Workers (1), -M N MaxConnections (4096), -C LINE one more
 *   configuration line (repeatable: e.g. -C 'Timeout 5').
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UPLOAD_LEN 100000000ull
#define MAX_EXTRA 16

enum kind { LORIS, READER, UPLOAD, KINDS };
static const char *const kind_name[KINDS] = { "slowloris", "slow readers", "slow uploads" };

struct abuser {
	int fd;                  /* -1: closed (by spliced, or drained at the end) */
	enum kind kind;
	double t_open, t_close;  /* seconds since the tool started */
	double t_last;           /* last trickle */
	unsigned status;         /* status line received, 0: none */
	uint64_t got;            /* bytes received */
	bool reset;              /* ended by a reset rather than EOF */
	bool uncut;              /* a reader still open when drained at the end */
};

static struct {
	int port, mport;
	unsigned n[KINDS];
	unsigned clients, requests;
	unsigned long long reader_body;
	unsigned size;
	unsigned trickle_s, wait_s, workers, maxconn, settle_s, hold_s;
	const char *extra[MAX_EXTRA];
	unsigned nextra;
} opt = { .n = { 1000, 1000, 1000 }, .clients = 4, .requests = 20000, .size = 1024,
	  .trickle_s = 2, .wait_s = 120, .workers = 1, .maxconn = 4096, .settle_s = 3,
	  .hold_s = 15, .reader_body = 256 << 10 };

static double t0;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - t0;
}

static void die(const char *what)
{
	fprintf(stderr, "abuse: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A blocking connection to 127.0.0.1:port, rcvbuf set first when nonzero; -1 on error. */
static int dial(int port, int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* ---- normal clients ----------------------------------------------------------------- */

/* One keep-alive GET on fd: the status, or -1 when the connection failed; *last: the
 * response said Connection: close (MaxKeepAliveRequests reached). */
static int normal_get(int fd, unsigned size, bool *last)
{
	char req[128], buf[16384];
	int n = snprintf(req, sizeof(req), "GET /?len=%u HTTP/1.1\r\nHost: normal\r\n\r\n", size);
	size_t have = 0;
	long long left = -1;
	char *end = NULL;
	int status = -1;

	if (send_all(fd, req, (size_t)n) < 0)
		return -1;
	while (!end) {
		ssize_t k = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);

		if (k <= 0)
			return -1;
		have += (size_t)k;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end && have == sizeof(buf) - 1)
			return -1;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	*last = false;
	for (char *p = buf; p < end; p++) {
		if (strncasecmp(p, "\r\ncontent-length:", 17) == 0)
			left = atoll(p + 17);
		if (strncasecmp(p, "\r\nconnection: close", 19) == 0)
			*last = true;
	}
	if (left < 0)
		return -1;
	left -= (long long)(buf + have - (end + 4));
	while (left > 0) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);

		if (k <= 0)
			return -1;
		left -= k;
	}
	return status;
}

struct normal {
	pthread_t th;
	unsigned count;
	double *lat;            /* seconds, one per request */
	unsigned ok, failed, refused;
};

static void *normal_run(void *arg)
{
	struct normal *nc = arg;
	int fd = -1;

	for (unsigned i = 0; i < nc->count; i++) {
		bool last = false;
		int status;
		double t;

		if (fd < 0 && (fd = dial(opt.port, 0)) < 0) {
			nc->failed++;
			nc->lat[i] = -1;
			continue;
		}
		t = now_s();
		status = normal_get(fd, opt.size, &last);
		nc->refused += status == 503;
		if (status == 200) {
			nc->ok++;
			nc->lat[i] = now_s() - t;
			if (last) {
				close(fd);
				fd = -1;
			}
		} else {
			nc->failed++;
			nc->lat[i] = -1;
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct phase {
	double p50, p99, max;
	unsigned ok, failed, refused;   /* refused: 503s, among the failed */
};

/* opt.requests GETs spread over opt.clients keep-alive connections at once. */
static struct phase normal_phase(void)
{
	struct normal nc[64];
	unsigned nclients = opt.clients < 64 ? opt.clients : 64, n = 0;
	double *all = calloc(opt.requests + 1, sizeof(double));
	struct phase ph = { 0 };

	if (!all)
		die("calloc");
	for (unsigned i = 0; i < nclients; i++) {
		nc[i] = (struct normal){ .count = opt.requests / nclients };
		nc[i].lat = calloc(nc[i].count + 1, sizeof(double));
		if (!nc[i].lat || pthread_create(&nc[i].th, NULL, normal_run, &nc[i]) != 0)
			die("normal client");
	}
	for (unsigned i = 0; i < nclients; i++) {
		pthread_join(nc[i].th, NULL);
		for (unsigned k = 0; k < nc[i].count; k++)
			if (nc[i].lat[k] >= 0)
				all[n++] = nc[i].lat[k];
		ph.ok += nc[i].ok;
		ph.failed += nc[i].failed;
		ph.refused += nc[i].refused;
		free(nc[i].lat);
	}
	qsort(all, n, sizeof(double), cmp_double);
	if (n) {
		ph.p50 = all[n / 2];
		ph.p99 = all[(size_t)((double)n * 0.99) < n ? (size_t)((double)n * 0.99) : n - 1];
		ph.max = all[n - 1];
	}
	free(all);
	return ph;
}

/* ---- abusers ------------------------------------------------------------------------ */

static struct abuser *ab;
static unsigned nab;
static volatile bool ab_stop;

/* phase in [0, 1): where in its interval the abuser's trickle falls, so that 1,000
 * independent clients do not all send in the same millisecond */
static void ab_open(struct abuser *a, enum kind k, double phase)
{
	static const char loris[] = "GET / HTTP/1.1\r\nHost: abuse\r\nX-Slow: ";
	char req[160];
	int n = 0;

	a->kind = k;
	a->t_open = now_s();
	a->t_last = a->t_open - phase * (k == LORIS ? opt.trickle_s : 1);
	a->fd = dial(opt.port, k == READER ? 4096 : 0);
	if (a->fd < 0) {
		a->t_close = a->t_open;
		return;
	}
	if (k == LORIS)
		n = snprintf(req, sizeof(req), "%s", loris);
	else if (k == READER)
		n = snprintf(req, sizeof(req), "GET /?len=%llu HTTP/1.1\r\nHost: abuse\r\n\r\n",
			     opt.reader_body);
	else
		n = snprintf(req, sizeof(req), "POST /?len=10 HTTP/1.1\r\nHost: abuse\r\n"
			     "Content-Length: %llu\r\n\r\n0123456789", UPLOAD_LEN);
	send_all(a->fd, req, (size_t)n);
	fcntl(a->fd, F_SETFL, O_NONBLOCK);
}

static void ab_closed(struct abuser *a, bool reset)
{
	close(a->fd);
	a->fd = -1;
	a->t_close = now_s();
	a->reset = reset;
}

/* Reads what is there (at most `max` bytes); notes the status line and the end. */
static void ab_read(struct abuser *a, size_t max)
{
	char buf[4096];

	while (a->fd >= 0 && max) {
		ssize_t k = recv(a->fd, buf, max < sizeof(buf) ? max : sizeof(buf), 0);

		if (k > 0) {
			if (a->got == 0 && k >= 12 && memcmp(buf, "HTTP/1.", 7) == 0)
				a->status = (unsigned)atoi(buf + 9);
			a->got += (uint64_t)k;
			max -= (size_t)k;
			continue;
		}
		if (k == 0)
			ab_closed(a, false);
		else if (errno != EAGAIN && errno != EINTR)
			ab_closed(a, true);
		return;
	}
}

/* Once a second: a byte more of each slowloris head (every trickle_s), 10 bytes of each
 * upload, 16 bytes read by each reader; slowloris and uploads read whatever spliced says. */
static void *ab_run(void *arg)
{
	struct pollfd *pf = calloc(nab, sizeof(*pf));
	unsigned *idx = calloc(nab, sizeof(*idx));

	(void)arg;
	if (!pf || !idx)
		die("calloc");
	while (!ab_stop) {
		double t = now_s();
		unsigned np = 0;

		for (unsigned i = 0; i < nab; i++) {
			struct abuser *a = &ab[i];

			if (a->fd < 0)
				continue;
			if (a->kind == READER) {
				if (t - a->t_last >= 1) {
					a->t_last = t;
					ab_read(a, 16);
				}
				continue;
			}
			if (a->kind == LORIS && t - a->t_last >= opt.trickle_s) {
				a->t_last = t;
				if (send(a->fd, "a", 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
					ab_read(a, SIZE_MAX);
			} else if (a->kind == UPLOAD && t - a->t_last >= 1) {
				a->t_last = t;
				if (send(a->fd, "0123456789", 10, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
					ab_read(a, SIZE_MAX);
			}
			if (a->fd >= 0) {
				pf[np] = (struct pollfd){ .fd = a->fd, .events = POLLIN };
				idx[np++] = i;
			}
		}
		if (poll(pf, np, 200) > 0)
			for (unsigned k = 0; k < np; k++)
				if (pf[k].revents)
					ab_read(&ab[idx[k]], SIZE_MAX);
	}
	free(pf);
	free(idx);
	return NULL;
}

static unsigned ab_open_count(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nab; i++)
		n += ab[i].fd >= 0 && ab[i].kind != READER;
	return n;
}

static void ab_report(enum kind k)
{
	double *d = calloc(nab + 1, sizeof(double));
	unsigned n = 0, closed = 0, refused = 0, failed = 0, open = 0, by408 = 0, cut = 0;
	unsigned uncut = 0;

	if (!d)
		die("calloc");
	for (unsigned i = 0; i < nab; i++) {
		const struct abuser *a = &ab[i];

		if (a->kind != k)
			continue;
		/* a reader takes its 503 at the first read, its close only when drained */
		if (a->status == 503 && a->fd < 0 && (k == READER || a->t_close - a->t_open < 1)) {
			refused++;
			continue;
		}
		if (a->t_close == a->t_open && a->fd < 0 && a->got == 0 && !a->status) {
			failed++;
			continue;
		}
		if (a->fd >= 0) {
			open++;
			continue;
		}
		closed++;
		uncut += a->uncut;
		by408 += a->status == 408;
		cut += k == READER && !a->uncut && a->got < opt.reader_body;
		d[n++] = a->t_close - a->t_open;
	}
	qsort(d, n, sizeof(double), cmp_double);
	if (k == READER)
		printf("%-13s %u: closed by spliced %u, %u of them before the end of the body "
		       "(seen when drained after %u s); refused by MaxConnections %u; connect "
		       "failed %u; still open %u\n", kind_name[k], opt.n[k], closed - uncut, cut,
		       opt.hold_s, refused, failed, uncut);
	else
		printf("%-13s %u: closed by spliced %u (408: %u), after %.1f s median, %.1f s "
		       "max; refused by MaxConnections %u; connect failed %u; still open %u\n",
		       kind_name[k], opt.n[k], closed, by408, n ? d[n / 2] : 0.0,
		       n ? d[n - 1] : 0.0, refused, failed, open);
	free(d);
}

/* ---- starting spliced and the backend ----------------------------------------------- */

static pid_t sp_pid, be_pid;
static char dir[64] = "/tmp/abuse-XXXXXX";

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("free port");
	close(fd);
	return ntohs(sa.sin_port);
}

static const char *bin(const char *env, const char *dflt)
{
	const char *p = getenv(env);

	return p && *p ? p : dflt;
}

/* testbackend -p 0: its port from its first line. */
static int backend_start(void)
{
	const char *path = bin("TESTBACKEND_BIN", "build/tools/testbackend");
	int pfd[2], port = 0;
	char line[128];
	FILE *f;

	if (pipe(pfd) < 0)
		die("pipe");
	be_pid = fork();
	if (be_pid < 0)
		die("fork");
	if (be_pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execl(path, path, "-p", "0", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "listening 127.0.0.1:%d", &port) != 1) {
		fprintf(stderr, "abuse: %s did not start\n", path);
		exit(1);
	}
	fclose(f);   /* its later lines (none by default) go nowhere */
	return port;
}

static void spliced_start(int be_port)
{
	const char *path = bin("SPLICED_BIN", "build/spliced");
	char conf[128], line[256];
	FILE *f;

	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		die("mkdtemp");
	opt.port = free_port();
	opt.mport = free_port();
	snprintf(conf, sizeof(conf), "%s/spliced.conf", dir);
	f = fopen(conf, "w");
	if (!f)
		die(conf);
	fprintf(f, "Listen 127.0.0.1:%d\nMetricsListen 127.0.0.1:%d\nErrorLog %s/error.log\n"
		"Workers %u\nMaxConnections %u\nTimeout 10\nKeepAliveTimeout 5\n"
		"RequestReadTimeout header=5-10,MinRate=500 body=5,MinRate=500\n",
		opt.port, opt.mport, dir, opt.workers, opt.maxconn);
	for (unsigned i = 0; i < opt.nextra; i++)
		fprintf(f, "%s\n", opt.extra[i]);
	fprintf(f, "ProxyPass / http://127.0.0.1:%d/\n", be_port);
	fclose(f);
	f = fopen(conf, "r");
	printf("configuration (%s):\n", conf);
	while (f && fgets(line, sizeof(line), f))
		printf("  %s", line);
	if (f)
		fclose(f);
	sp_pid = fork();
	if (sp_pid < 0)
		die("fork");
	if (sp_pid == 0) {
		execl(path, path, "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int fd = dial(opt.port, 0);

		if (fd >= 0) {
			close(fd);
			return;
		}
		usleep(20000);
	}
	fprintf(stderr, "abuse: %s did not listen (see %s/error.log)\n", path, dir);
	exit(1);
}

static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The serving process: the child of the started spliced (its supervisor) named
 * "spliced" (the helper is "spliced-helper"); the started pid when there is none. */
static pid_t serving_pid(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = parent;

	while (d && (e = readdir(d))) {
		char path[300], buf[512], comm[64];
		int ppid = 0;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) &&
		    sscanf(buf, "%*d (%63[^)]) %*c %d", comm, &ppid) == 2 && ppid == parent &&
		    strcmp(comm, "spliced") == 0)
			found = (pid_t)atoi(e->d_name);
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/* The metrics lines that say what spliced did to the abusers. */
static void metrics_print(void)
{
	static const char *const want[] = { "spliced_timeouts_total", "spliced_connections_refused",
					    "spliced_resource_errors_total", "spliced_requests_total{class=\"4xx\"}",
					    "spliced_bytes_total" };
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n";
	size_t cap = 1 << 20, have = 0;
	char *page = malloc(cap + 1);
	int fd = opt.mport ? dial(opt.mport, 0) : -1;
	ssize_t k;

	if (!page || fd < 0) {
		free(page);
		return;
	}
	send_all(fd, req, sizeof(req) - 1);
	while (have < cap && (k = recv(fd, page + have, cap - have, 0)) > 0)
		have += (size_t)k;
	close(fd);
	page[have] = 0;
	printf("spliced's metrics:\n");
	for (char *l = strtok(page, "\n"); l; l = strtok(NULL, "\n"))
		for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (strncmp(l, want[i], strlen(want[i])) == 0)
				printf("  %s\n", l);
	free(page);
}

static void usage(void)
{
	fprintf(stderr, "usage: tools/abuse [-p PORT [-m MPORT]] [-l N] [-r N] [-u N] [-b SIZE] [-c N] "
		"[-n N] [-s SIZE] [-t S] [-S S] [-H S] [-W S] [-w N] [-M N] [-C LINE]...\n"
		"(the top of tools/abuse.c says what each does)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct phase un, lo;
	pthread_t th;
	double cpu0 = 0, cpu1 = 0, t_load0, t_load1, t_end;
	unsigned open_at_start, open_at_end;
	int o, after;
	bool responsive;

	t0 = 0;
	t0 = now_s();
	while ((o = getopt(argc, argv, "p:m:l:r:u:b:c:n:s:t:W:w:M:C:S:H:h")) != -1) {
		switch (o) {
		case 'p': opt.port = atoi(optarg); break;
		case 'm': opt.mport = atoi(optarg); break;
		case 'l': opt.n[LORIS] = (unsigned)atoi(optarg); break;
		case 'r': opt.n[READER] = (unsigned)atoi(optarg); break;
		case 'u': opt.n[UPLOAD] = (unsigned)atoi(optarg); break;
		case 'b': opt.reader_body = strtoull(optarg, NULL, 10); break;
		case 'c': opt.clients = (unsigned)atoi(optarg); break;
		case 'n': opt.requests = (unsigned)atoi(optarg); break;
		case 's': opt.size = (unsigned)atoi(optarg); break;
		case 't': opt.trickle_s = (unsigned)atoi(optarg); break;
		case 'W': opt.wait_s = (unsigned)atoi(optarg); break;
		case 'w': opt.workers = (unsigned)atoi(optarg); break;
		case 'M': opt.maxconn = (unsigned)atoi(optarg); break;
		case 'S': opt.settle_s = (unsigned)atoi(optarg); break;
		case 'H': opt.hold_s = (unsigned)atoi(optarg); break;
		case 'C':
			if (opt.nextra == MAX_EXTRA)
				usage();
			opt.extra[opt.nextra++] = optarg;
			break;
		default: usage();
		}
	}
	if (!opt.clients || !opt.requests || !opt.trickle_s)
		usage();
	signal(SIGPIPE, SIG_IGN);
	/* 3,000 sockets and more: as many descriptors as allowed */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!opt.port)
		spliced_start(backend_start());
	nab = opt.n[LORIS] + opt.n[READER] + opt.n[UPLOAD];
	ab = calloc(nab + 1, sizeof(*ab));
	if (!ab)
		die("calloc");

	normal_phase();   /* warm-up: backend connections pooled, caches */
	un = normal_phase();
	printf("unloaded: %u requests of %u bytes from %u keep-alive clients: p50 %.3f ms, "
	       "p99 %.3f ms, max %.3f ms, failed %u\n", un.ok, opt.size, opt.clients,
	       un.p50 * 1e3, un.p99 * 1e3, un.max * 1e3, un.failed);
	fflush(stdout);

	/* interleaved, so that each kind reaches the same worker share */
	{
		unsigned left[KINDS] = { opt.n[LORIS], opt.n[READER], opt.n[UPLOAD] };

		for (unsigned i = 0, k = 0; i < nab; k = (k + 1) % KINDS)
			if (left[k]) {
				left[k]--;
				ab_open(&ab[i], (enum kind)k, (double)(i % 997) / 997);
				i++;
			}
	}
	if (pthread_create(&th, NULL, ab_run, NULL) != 0)
		die("pthread_create");
	printf("abusers: %u opened in %.1f s\n", nab, now_s() - ab[0].t_open);
	fflush(stdout);
	sleep(opt.settle_s);   /* past the first burst of the readers' bodies */
	open_at_start = ab_open_count();
	if (sp_pid)
		cpu0 = cpu_s(serving_pid(sp_pid));
	t_load0 = now_s();
	lo = normal_phase();
	t_load1 = now_s();
	if (sp_pid)
		cpu1 = cpu_s(serving_pid(sp_pid));
	open_at_end = ab_open_count();
	printf("loaded:   %u requests: p50 %.3f ms, p99 %.3f ms, max %.3f ms, failed %u (503: "
	       "%u); p99 loaded/unloaded %.2fx (target: at most 2x)\n", lo.ok, lo.p50 * 1e3,
	       lo.p99 * 1e3, lo.max * 1e3, lo.failed, lo.refused,
	       un.p99 > 0 ? lo.p99 / un.p99 : 0.0);
	printf("          slowloris + uploads connected: %u at the start of it, %u at the end "
	       "(%.1f s)", open_at_start, open_at_end, t_load1 - t_load0);
	if (sp_pid)
		printf("; spliced CPU %.2f s in it", cpu1 - cpu0);
	printf("\n");
	fflush(stdout);

	/* until spliced has closed every slowloris and upload, and the readers were held
	 * hold_s, at most wait_s */
	t_end = now_s() + opt.wait_s;
	while ((ab_open_count() || now_s() - ab[0].t_open < opt.hold_s) && now_s() < t_end)
		usleep(200000);
	ab_stop = true;
	pthread_join(th, NULL);
	after = -1;
	{
		int fd = dial(opt.port, 0);
		bool last;

		if (fd >= 0) {
			after = normal_get(fd, opt.size, &last);
			close(fd);
		}
	}
	/* readers: drained now, fast; the end before the body's is spliced's cut */
	for (unsigned i = 0; i < nab; i++) {
		struct abuser *a = &ab[i];

		if (a->kind != READER || a->fd < 0)
			continue;
		fcntl(a->fd, F_SETFL, 0);
		{
			struct timeval tv = { .tv_sec = 2 };

			setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		}
		while (a->fd >= 0) {
			char buf[65536];
			ssize_t k = recv(a->fd, buf, sizeof(buf), 0);

			if (k > 0) {
				a->got += (uint64_t)k;
				continue;
			}
			if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				a->uncut = true;   /* still open after 2 s of silence */
				ab_closed(a, false);
				break;
			}
			ab_closed(a, k < 0);
		}
	}
	for (unsigned k = 0; k < KINDS; k++)
		if (opt.n[k])
			ab_report((enum kind)k);
	/* responsive: every normal request answered (a 503 of MaxConnections is an answer) */
	responsive = lo.failed == lo.refused && after == 200;
	printf("responsive: %s (normal requests while loaded: %u failed, %u of them 503; one "
	       "request after the abusers: %d)\n", responsive ? "yes" : "NO", lo.failed,
	       lo.refused, after);
	metrics_print();
	if (sp_pid) {
		kill(sp_pid, SIGTERM);
		waitpid(sp_pid, NULL, 0);
	}
	if (be_pid) {
		kill(be_pid, SIGTERM);
		waitpid(be_pid, NULL, 0);
	}
	if (sp_pid && !getenv("ABUSE_KEEP")) {
		char path[128];

		snprintf(path, sizeof(path), "%s/spliced.conf", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/error.log", dir);
		unlink(path);
		rmdir(dir);
	}
	free(ab);
	return responsive ? 0 : 1;
}
