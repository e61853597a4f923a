/* Unit tests of static files (src/file.c) and MIME types (src/mime.c), on a real tree made
 * with mkdtemp:
 *
 *   T/outside, T/outdir/secret          files outside the root ("SECRET")
 *   T/root/                             the root
 *     empty one f4095 f4096 f65536      sizes 0 1 4095 4096 65536 (a byte pattern)
 *     index.html  a/file.txt  docs/index.html  noindex/  style.CSS  noext  fifo  sock
 *     link_abs -> T/outside             link_rel -> ../outside   a/link_up -> ../../outside
 *     link_in -> one                    link_abs_in -> T/root/one
 *     loop1 <-> loop2                   dirlink -> ../outdir     dirlink_in -> a
 *
 * The parsers are also fed inputs that end right before an unreadable page. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spliced/file.h"
#include "spliced/mime.h"
#include "guard.h"
#include "suite.h"

/* ---- The tree --------------------------------------------------------------------------- */

/* Nothing here reads the clock: every file of the tree is modified at T_TREE and requests
 * are served at T_NOW unless a test says otherwise, so no test passes or fails with the day
 * it runs on. T_TREE is a Wednesday on purpose: If-Range once took "Wed, ..." for a weak
 * entity tag. */
#define T_TREE 1796198400            /* Wed, 02 Dec 2026 08:00:00 GMT */
#define T_TREE_HTTP "Wed, 02 Dec 2026 08:00:00 GMT"
#define T_NOW (T_TREE + 3600)

static char tdir[64];
static char rootdir[80];
static struct file_root root_nofollow, root_follow;
static struct mime_table *mt;

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 7 + 3) % 251);
}

static void set_mtime(const char *p, int64_t t)
{
	struct timespec ts[2] = { { .tv_sec = (time_t)t }, { .tv_sec = (time_t)t } };

	ck_assert_msg(utimensat(AT_FDCWD, p, ts, 0) == 0, "utimensat %s: %s", p, strerror(errno));
}

static void put_file(const char *rel, const void *data, size_t n, mode_t mode)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tdir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "create %s: %s", p, strerror(errno));
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	chmod(p, mode);
	set_mtime(p, T_TREE);
}

static void put_pattern(const char *rel, size_t n)
{
	unsigned char *b = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i);
	put_file(rel, b, n, 0644);
	free(b);
}

static void mk(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", tdir, rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void sym(const char *target, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", tdir, rel);
	ck_assert_int_eq(symlink(target, p), 0);
}

static void tree_setup(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	snprintf(tdir, sizeof(tdir), "/tmp/check_file.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(rootdir, sizeof(rootdir), "%s/root", tdir);
	put_file("outside", "SECRET", 6, 0644);
	mk("outdir");
	put_file("outdir/secret", "SECRET", 6, 0644);
	mk("root");
	put_pattern("root/empty", 0);
	put_pattern("root/one", 1);
	put_pattern("root/f4095", 4095);
	put_pattern("root/f4096", 4096);
	put_pattern("root/f65536", 65536);
	put_file("root/index.html", "<p>root</p>\n", 12, 0644);
	mk("root/a");
	put_file("root/a/file.txt", "hello\n", 6, 0644);
	mk("root/docs");
	put_file("root/docs/index.html", "<p>docs</p>\n", 12, 0644);
	put_file("root/docs/index.htm", "<p>htm</p>\n", 11, 0644);
	mk("root/noindex");
	put_file("root/style.CSS", "p{}\n", 4, 0644);
	put_file("root/noext", "x", 1, 0644);
	snprintf(p, sizeof(p), "%s/root/fifo", tdir);
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/root/sock", tdir);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	snprintf(q, sizeof(q), "%s/outside", tdir);
	sym(q, "root/link_abs");
	sym("../outside", "root/link_rel");
	sym("../../outside", "root/a/link_up");
	sym("one", "root/link_in");
	snprintf(q, sizeof(q), "%s/root/one", tdir);
	sym(q, "root/link_abs_in");
	sym("loop2", "root/loop1");
	sym("loop1", "root/loop2");
	sym("../outdir", "root/dirlink");
	sym("a", "root/dirlink_in");
	ck_assert_int_eq(file_root_open(&root_nofollow, rootdir, false), 0);
	ck_assert_int_eq(file_root_open(&root_follow, rootdir, true), 0);
	mt = mime_builtin();
	ck_assert_ptr_nonnull(mt);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void tree_teardown(void)
{
	file_root_close(&root_nofollow);
	file_root_close(&root_follow);
	mime_free(mt);
	mt = NULL;
	nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- Serving ---------------------------------------------------------------------------- */

struct served {
	int rc;
	struct file_reply r;
	char buf[4096];
	char head[4096];   /* the head as a C string */
	char line[8192];   /* the request head the fields were scanned from */
};

struct opts {
	struct file_cache *cache;
	const struct file_root *root;
	enum http_method meth;
	const char *url;          /* NULL: "/" + path */
	const char *query;        /* NULL: none */
	size_t path_len;          /* 0: strlen(path) */
	int64_t now;              /* 0: T_NOW */
	uint64_t now_ms;
	bool close;
	bool keep_alive_10;
	size_t cap;               /* 0: sizeof(buf) */
};

static void serve_ex(struct served *s, const struct opts *o, const char *path, const char *fields)
{
	struct file_req rq = { 0 };
	char url[PATH_MAX + 8];
	int n;

	memset(s, 0, sizeof(*s));
	n = snprintf(s->line, sizeof(s->line), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n",
		     fields ? fields : "");
	ck_assert(n > 0 && (size_t)n < sizeof(s->line));
	file_cond_scan(&rq.cond, s->line, 16, (size_t)n);
	rq.meth = o->meth ? o->meth : HTTP_METHOD_GET;
	rq.path = path;
	rq.path_len = (uint32_t)(o->path_len ? o->path_len : strlen(path));
	if (o->url) {
		rq.url_path = o->url;
	} else {
		snprintf(url, sizeof(url), "/%s", path);
		rq.url_path = url;
	}
	rq.url_path_len = (uint32_t)strlen(rq.url_path);
	if (o->query) {
		rq.query = o->query;
		rq.query_len = (uint32_t)strlen(o->query);
		rq.has_query = true;
	}
	rq.close = o->close;
	rq.keep_alive_10 = o->keep_alive_10;
	rq.now = o->now ? o->now : T_NOW;
	rq.now_ms = o->now_ms;
	s->rc = file_serve(o->cache, o->root ? o->root : &root_nofollow, mt, &rq, s->buf,
			   o->cap ? o->cap : sizeof(s->buf), &s->r);
	if (s->rc == 0) {
		memcpy(s->head, s->buf, s->r.head_len);
		s->head[s->r.head_len] = '\0';
		ck_assert_ptr_nonnull(s->r.extra);
		ck_assert_uint_eq(strlen(s->r.extra), s->r.extra_len);
		/* No response ever names a filesystem path. */
		ck_assert_ptr_null(strstr(s->head, tdir));
		ck_assert_ptr_null(strstr(s->r.extra, tdir));
		ck_assert((s->r.ent != NULL) == (s->r.fd >= 0));
		ck_assert(s->r.ent || s->r.length == 0);
	}
}

static void serve(struct served *s, const char *path, const char *fields)
{
	struct opts o = { 0 };

	serve_ex(s, &o, path, fields);
}

static void done(struct served *s)
{
	file_release(s->r.ent);
	s->r.ent = NULL;
}

/* The value of header `name` in the head, or NULL (static buffer). */
static const char *hdr(const struct served *s, const char *name)
{
	static char val[512];
	char key[128];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strstr(s->head, key);
	if (!p)
		return NULL;
	p += strlen(key);
	e = strstr(p, "\r\n");
	ck_assert_ptr_nonnull(e);
	snprintf(val, sizeof(val), "%.*s", (int)(e - p), p);
	return val;
}

static uint64_t hdr_u64(const struct served *s, const char *name)
{
	const char *v = hdr(s, name);

	ck_assert_msg(v != NULL, "no %s in:\n%s", name, s->head);
	return strtoull(v, NULL, 10);
}

/* The body the reply describes is the pattern's bytes [off, off + len). */
static void body_is_pattern(const struct served *s, uint64_t off, uint64_t len)
{
	unsigned char *b = malloc(len + 1);

	ck_assert_ptr_nonnull(s->r.ent);
	ck_assert_uint_eq(s->r.offset, off);
	ck_assert_uint_eq(s->r.length, len);
	ck_assert_int_eq(pread(s->r.fd, b, len, (off_t)off), (ssize_t)len);
	for (uint64_t i = 0; i < len; i++)
		ck_assert_msg(b[i] == pattern(off + i), "byte %llu", (unsigned long long)(off + i));
	free(b);
}

static void body_is(const struct served *s, const char *text)
{
	char b[256];
	size_t n = strlen(text);

	ck_assert_ptr_nonnull(s->r.ent);
	ck_assert_uint_eq(s->r.length, n);
	ck_assert_int_eq(pread(s->r.fd, b, n, (off_t)s->r.offset), (ssize_t)n);
	ck_assert(memcmp(b, text, n) == 0);
}

/* ---- Sizes, HEAD, head format ----------------------------------------------------------- */

static const struct {
	const char *name;
	size_t size;
} sizes[] = { { "empty", 0 }, { "one", 1 }, { "f4095", 4095 }, { "f4096", 4096 }, { "f65536", 65536 } };

START_TEST(test_sizes)
{
	struct served s;

	serve(&s, sizes[_i].name, NULL);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_uint_eq(s.r.status, 200);
	ck_assert_uint_eq(s.r.size, sizes[_i].size);
	ck_assert_uint_eq(hdr_u64(&s, "Content-Length"), sizes[_i].size);
	ck_assert_str_eq(hdr(&s, "Content-Type"), "application/octet-stream");
	ck_assert_str_eq(hdr(&s, "Accept-Ranges"), "bytes");
	if (sizes[_i].size == 0) {
		ck_assert_ptr_null(s.r.ent);
		ck_assert_int_eq(s.r.fd, -1);
	} else {
		body_is_pattern(&s, 0, sizes[_i].size);
		/* The fd is blocking (O_NONBLOCK cleared) and close-on-exec. */
		ck_assert_int_eq(fcntl(s.r.fd, F_GETFL) & O_NONBLOCK, 0);
		ck_assert_int_eq(fcntl(s.r.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	}
	done(&s);
}
END_TEST

START_TEST(test_head_method)
{
	struct opts o = { .meth = HTTP_METHOD_HEAD };
	struct served s;

	serve_ex(&s, &o, "f4096", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	ck_assert_uint_eq(hdr_u64(&s, "Content-Length"), 4096);
	ck_assert_ptr_null(s.r.ent);
	ck_assert_int_eq(s.r.fd, -1);
	ck_assert_uint_eq(s.r.length, 0);
	/* Range is defined for GET only: HEAD ignores it. */
	serve_ex(&s, &o, "f4096", "Range: bytes=0-9\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	ck_assert_uint_eq(hdr_u64(&s, "Content-Length"), 4096);
	ck_assert_ptr_null(s.r.ent);
}
END_TEST

START_TEST(test_head_format)
{
	struct opts o = { .now = 784111777 }; /* Sun, 06 Nov 1994 08:49:37 GMT */
	char p[PATH_MAX], want[1024], etag[128];
	struct timespec ts[2] = { { 784111000, 5 }, { 784111000, 5 } };
	struct stat st;
	struct served s;

	snprintf(p, sizeof(p), "%s/a/file.txt", rootdir);
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	ck_assert_int_eq(stat(p, &st), 0);
	snprintf(etag, sizeof(etag), "\"%llx-6-%llx\"", (unsigned long long)st.st_ino,
		 784111000ULL * 1000000000ULL + 5);
	serve_ex(&s, &o, "a/file.txt", NULL);
	snprintf(want, sizeof(want),
		 "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		 "Content-Type: text/plain\r\nContent-Length: 6\r\n"
		 "Last-Modified: Sun, 06 Nov 1994 08:36:40 GMT\r\nETag: %s\r\n"
		 "Accept-Ranges: bytes\r\n\r\n", etag);
	ck_assert_str_eq(s.head, want);
	body_is(&s, "hello\n");
	done(&s);

	o.close = true;
	serve_ex(&s, &o, "a/file.txt", "Range: bytes=1-2\r\n");
	snprintf(want, sizeof(want),
		 "HTTP/1.1 206 Partial Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		 "Content-Type: text/plain\r\nContent-Length: 2\r\n"
		 "Content-Range: bytes 1-2/6\r\n"
		 "Last-Modified: Sun, 06 Nov 1994 08:36:40 GMT\r\nETag: %s\r\n"
		 "Accept-Ranges: bytes\r\nConnection: close\r\n\r\n", etag);
	ck_assert_str_eq(s.head, want);
	body_is(&s, "el");
	done(&s);

	o.close = false;
	o.keep_alive_10 = true;
	serve_ex(&s, &o, "a/file.txt", "If-None-Match: W/\"x\", W/" "\"\"\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	ck_assert_str_eq(hdr(&s, "Connection"), "keep-alive");
	done(&s);

	/* 304: validators and Date only, no Content-* fields. */
	snprintf(want, sizeof(want), "If-None-Match: %s\r\n", etag);
	serve_ex(&s, &o, "a/file.txt", want);
	snprintf(want, sizeof(want),
		 "HTTP/1.1 304 Not Modified\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		 "Last-Modified: Sun, 06 Nov 1994 08:36:40 GMT\r\nETag: %s\r\n"
		 "Connection: keep-alive\r\n\r\n", etag);
	ck_assert_str_eq(s.head, want);
	ck_assert_ptr_null(s.r.ent);

	/* An mtime in the future: Last-Modified is now. */
	ts[0].tv_sec = ts[1].tv_sec = 784111777 + 3600;
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	serve_ex(&s, &o, "a/file.txt", NULL);
	ck_assert_str_eq(hdr(&s, "Last-Modified"), "Sun, 06 Nov 1994 08:49:37 GMT");
	done(&s);
}
END_TEST

START_TEST(test_nospc)
{
	struct file_cache c;
	struct opts o = { .cache = &c, .cap = 100 };
	struct served s;

	ck_assert_int_eq(file_cache_init(&c, 16, 1000), 0);
	serve_ex(&s, &o, "f4096", NULL);
	ck_assert_int_eq(s.rc, -ENOSPC);
	ck_assert_ptr_null(s.r.ent);
	/* The entry is cached and only the cache holds it. */
	for (unsigned i = 0; i < c.nsets * FILE_CACHE_WAYS; i++)
		if (c.slot[i])
			ck_assert_uint_eq(c.slot[i]->refs, 1);
	o.cap = 0;
	serve_ex(&s, &o, "f4096", NULL);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	/* A Location that does not fit. */
	o.cap = 10;
	serve_ex(&s, &o, "a", NULL);
	ck_assert_int_eq(s.rc, -ENOSPC);
	file_cache_destroy(&c);
}
END_TEST

START_TEST(test_mime_types)
{
	struct served s;

	serve(&s, "style.CSS", NULL);
	ck_assert_str_eq(hdr(&s, "Content-Type"), "text/css");
	done(&s);
	serve(&s, "noext", NULL);
	ck_assert_str_eq(hdr(&s, "Content-Type"), "application/octet-stream");
	done(&s);
	serve(&s, "docs/", NULL);
	ck_assert_str_eq(hdr(&s, "Content-Type"), "text/html");
	done(&s);
}
END_TEST

/* ---- Range ------------------------------------------------------------------------------ */

static const struct {
	const char *range;
	unsigned status;
	uint64_t off, len;
} range_cases[] = {
	{ "bytes=0-0", 206, 0, 1 },
	{ "bytes=0-99", 206, 0, 100 },
	{ "bytes=100-199", 206, 100, 100 },
	{ "bytes=4000-", 206, 4000, 96 },
	{ "bytes=0-", 206, 0, 4096 },
	{ "bytes=-10", 206, 4086, 10 },
	{ "bytes=-4096", 206, 0, 4096 },
	{ "bytes=-5000", 206, 0, 4096 },              /* suffix longer than the file */
	{ "bytes=4000-9999", 206, 4000, 96 },         /* last >= size clamps */
	{ "bytes=4095-4095", 206, 4095, 1 },
	{ "bytes=4095-99999999999999999999999", 206, 4095, 1 }, /* saturates, clamps */
	{ "BYTES=1-2", 206, 1, 2 },                   /* the unit is case-insensitive */
	{ "bytes=1-2, ", 206, 1, 2 },                 /* empty list elements */
	{ ",bytes=1-2", 200, 0, 4096 },
	{ "bytes=4096-", 416, 0, 0 },                 /* first >= size */
	{ "bytes=5000-6000", 416, 0, 0 },
	{ "bytes=99999999999999999999999-", 416, 0, 0 },
	{ "bytes=-0", 416, 0, 0 },
	{ "bytes=0-1,5-6", 200, 0, 4096 },            /* several ranges: the whole file */
	{ "bytes=0-1, -5", 200, 0, 4096 },
	{ "bytes=5-2", 200, 0, 4096 },                /* last < first: invalid, ignored */
	{ "bytes=abc", 200, 0, 4096 },
	{ "bytes=", 200, 0, 4096 },
	{ "bytes=-", 200, 0, 4096 },
	{ "bytes=1-2-3", 200, 0, 4096 },
	{ "bytes=1--2", 200, 0, 4096 },
	{ "bytes=+1-2", 200, 0, 4096 },
	{ "bytes 1-2", 200, 0, 4096 },
	{ "items=0-1", 200, 0, 4096 },
	{ "bytes=0x10-20", 200, 0, 4096 },
	{ "", 200, 0, 4096 },
};

START_TEST(test_range)
{
	char f[128];
	struct served s;

	snprintf(f, sizeof(f), "Range: %s\r\n", range_cases[_i].range);
	serve(&s, "f4096", f);
	ck_assert_msg(s.r.status == range_cases[_i].status, "%s: %u", range_cases[_i].range,
		      s.r.status);
	if (s.r.status == 416) {
		ck_assert_str_eq(s.r.extra, "Content-Range: bytes */4096\r\n");
		ck_assert_uint_eq(s.r.head_len, 0);
		ck_assert_ptr_null(s.r.ent);
		return;
	}
	body_is_pattern(&s, range_cases[_i].off, range_cases[_i].len);
	ck_assert_uint_eq(hdr_u64(&s, "Content-Length"), range_cases[_i].len);
	if (s.r.status == 206) {
		char cr[128];

		snprintf(cr, sizeof(cr), "bytes %llu-%llu/4096",
			 (unsigned long long)range_cases[_i].off,
			 (unsigned long long)(range_cases[_i].off + range_cases[_i].len - 1));
		ck_assert_str_eq(hdr(&s, "Content-Range"), cr);
	} else {
		ck_assert_ptr_null(hdr(&s, "Content-Range"));
	}
	done(&s);
}
END_TEST

START_TEST(test_range_small_files)
{
	struct served s;

	/* An empty file ignores Range (nothing to select), as nginx does. */
	serve(&s, "empty", "Range: bytes=0-0\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	ck_assert_uint_eq(hdr_u64(&s, "Content-Length"), 0);
	serve(&s, "empty", "Range: bytes=-1\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	serve(&s, "one", "Range: bytes=0-0\r\n");
	ck_assert_uint_eq(s.r.status, 206);
	body_is_pattern(&s, 0, 1);
	done(&s);
	serve(&s, "one", "Range: bytes=1-\r\n");
	ck_assert_uint_eq(s.r.status, 416);
	ck_assert_str_eq(s.r.extra, "Content-Range: bytes */1\r\n");
	serve(&s, "f65536", "Range: bytes=65535-\r\n");
	ck_assert_uint_eq(s.r.status, 206);
	body_is_pattern(&s, 65535, 1);
	done(&s);
	/* Range sent twice: ignored. */
	serve(&s, "f65536", "Range: bytes=0-1\r\nrange: bytes=2-3\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
}
END_TEST

START_TEST(test_if_range)
{
	struct served s;
	char etag[128], lm[64], f[512];

	serve(&s, "f4096", NULL);
	snprintf(etag, sizeof(etag), "%s", hdr(&s, "ETag"));
	snprintf(lm, sizeof(lm), "%s", hdr(&s, "Last-Modified"));
	done(&s);
	ck_assert_str_eq(lm, T_TREE_HTTP); /* a Wednesday */

	snprintf(f, sizeof(f), "Range: bytes=0-9\r\nIf-Range: %s\r\n", etag);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 206);
	done(&s);
	snprintf(f, sizeof(f), "Range: bytes=0-9\r\nIf-Range: W/%s\r\n", etag);
	serve(&s, "f4096", f); /* a weak tag never matches If-Range */
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	serve(&s, "f4096", "Range: bytes=0-9\r\nIf-Range: \"1-2-3\"\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	ck_assert_uint_eq(s.r.length, 4096);
	done(&s);
	snprintf(f, sizeof(f), "Range: bytes=0-9\r\nIf-Range: %s\r\n", lm);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 206);
	done(&s);
	serve(&s, "f4096", "Range: bytes=0-9\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	serve(&s, "f4096", "Range: bytes=0-9\r\nIf-Range: garbage\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	/* If-Range without Range changes nothing. */
	serve(&s, "f4096", "If-Range: garbage\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
}
END_TEST

/* If-Range, If-Modified-Since and If-Unmodified-Since with a file modified on each weekday
 * of each month (84 loop iterations: month _i / 7, weekday _i % 7), the dates written in
 * all three HTTP-date forms from this test's own name tables, so every weekday and month
 * name goes through the parser and the formatter whatever day the test runs on. */
static const char *const wd_short[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const wd_long[7] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
					 "Thursday", "Friday", "Saturday" };
static const char *const mon_short[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* serve f4096 at `now` with the one extra field line `fmt` % date; returns the status. */
static unsigned serve_date(int64_t now, const char *name, const char *date, const char *range)
{
	struct opts o = { .now = now };
	struct served s;
	char f[256];
	unsigned st;

	snprintf(f, sizeof(f), "%s%s: %s\r\n", range ? range : "", name, date);
	serve_ex(&s, &o, "f4096", f);
	ck_assert_int_eq(s.rc, 0);
	st = s.r.status;
	if (st == 206)
		body_is_pattern(&s, 0, 10);
	else if (st == 200)
		body_is_pattern(&s, 0, 4096);
	done(&s);
	return st;
}

START_TEST(test_dates_every_day)
{
	const int month = _i / 7, wday = _i % 7, hh = 10, mi = 20, ss = 30;
	const char *range = "Range: bytes=0-9\r\n";
	char p[PATH_MAX], imf[64], r850[64], asc[64], before[64], after[64];
	const char *forms[3] = { imf, r850, asc };
	struct tm tm = { 0 };
	struct served s;
	struct opts o;
	int64_t t = 0, now;
	int day;

	/* The day of month 1..7 of 2026 that falls on `wday`. */
	for (day = 1; day <= 7; day++) {
		struct tm q = { .tm_year = 126, .tm_mon = month, .tm_mday = day,
				.tm_hour = hh, .tm_min = mi, .tm_sec = ss };

		t = (int64_t)timegm(&q);
		gmtime_r(&(time_t){ (time_t)t }, &tm);
		if (tm.tm_wday == wday)
			break;
	}
	ck_assert_int_le(day, 7);
	ck_assert_int_eq(tm.tm_mon, month);
	now = t + 3 * 86400;
	snprintf(p, sizeof(p), "%s/f4096", rootdir);
	set_mtime(p, t);

	snprintf(imf, sizeof(imf), "%s, %02d %s 2026 %02d:%02d:%02d GMT", wd_short[wday], day,
		 mon_short[month], hh, mi, ss);
	snprintf(r850, sizeof(r850), "%s, %02d-%s-26 %02d:%02d:%02d GMT", wd_long[wday], day,
		 mon_short[month], hh, mi, ss);
	snprintf(asc, sizeof(asc), "%s %s %2d %02d:%02d:%02d 2026", wd_short[wday],
		 mon_short[month], day, hh, mi, ss);
	snprintf(before, sizeof(before), "%s, %02d %s 2026 %02d:%02d:%02d GMT", wd_short[wday],
		 day, mon_short[month], hh, mi, ss - 1);
	snprintf(after, sizeof(after), "%s, %02d %s 2026 %02d:%02d:%02d GMT", wd_short[wday],
		 day, mon_short[month], hh, mi, ss + 1);

	/* Last-Modified is written with the same names. */
	o = (struct opts){ .now = now };
	serve_ex(&s, &o, "f4096", NULL);
	ck_assert_str_eq(hdr(&s, "Last-Modified"), imf);
	done(&s);

	for (int k = 0; k < 3; k++) {
		const char *d = forms[k];

		ck_assert_msg(serve_date(now, "If-Range", d, range) == 206, "If-Range: %s", d);
		ck_assert_msg(serve_date(now, "If-Modified-Since", d, NULL) == 304,
			      "If-Modified-Since: %s", d);
		ck_assert_msg(serve_date(now, "If-Unmodified-Since", d, NULL) == 200,
			      "If-Unmodified-Since: %s", d);
		ck_assert_msg(serve_date(now, "If-Unmodified-Since", d, range) == 206,
			      "If-Unmodified-Since with Range: %s", d);
	}
	/* One second off: If-Range wants equality; the others compare. */
	ck_assert_msg(serve_date(now, "If-Range", before, range) == 200, "If-Range: %s", before);
	ck_assert_msg(serve_date(now, "If-Range", after, range) == 200, "If-Range: %s", after);
	ck_assert_msg(serve_date(now, "If-Modified-Since", before, NULL) == 200, "%s", before);
	ck_assert_msg(serve_date(now, "If-Modified-Since", after, NULL) == 304, "%s", after);
	ck_assert_msg(serve_date(now, "If-Unmodified-Since", before, NULL) == 412, "%s", before);
	ck_assert_msg(serve_date(now, "If-Unmodified-Since", after, NULL) == 200, "%s", after);
	/* A weak tag spelled like the date never matches; the weekday alone is no tag. */
	ck_assert_int_eq(serve_date(now, "If-Range", "W/\"x\"", range), 200);
}
END_TEST

/* file_if_range alone against the tag "abc" and Last-Modified T_TREE, each value and each
 * of its prefixes right before an unreadable page. */
static const struct {
	const char *v;
	bool match;
} if_range_cases[] = {
	{ "\"abc\"", true },
	{ "W/\"abc\"", false },            /* weak: never */
	{ "\"abd\"", false },
	{ "\"abc\" ", false },
	{ "abc", false },
	{ "\"", false },
	{ "W", false },
	{ "W/", false },
	{ "", false },
	{ "Wed, 02 Dec 2026 08:00:00 GMT", true },
	{ "Wednesday, 02-Dec-26 08:00:00 GMT", true },
	{ "Wed Dec  2 08:00:00 2026", true },
	{ "Mon, 02 Dec 2026 08:00:00 GMT", true },  /* the weekday is not checked */
	{ "Wed, 02 Dec 2026 08:00:01 GMT", false },
	{ "Wed, 02 Dec 2026 07:59:59 GMT", false },
	{ "wed, 02 Dec 2026 08:00:00 GMT", false },
	{ " Wed, 02 Dec 2026 08:00:00 GMT", false },
	{ "Wed, 02 Dec 2026 08:00:00 UTC", false },
};

START_TEST(test_if_range_value)
{
	const char *etag = "\"abc\"", *v = if_range_cases[_i].v;
	size_t n = strlen(v);

	ck_assert_msg(file_if_range(guard_at_end(v, n), n, etag, 5, T_TREE, T_NOW) ==
			      if_range_cases[_i].match,
		      "%s", v);
	/* A shorter prefix matches only when it is the tag itself ("\"abc\" " cut to 5). */
	for (size_t k = 0; k < n; k++)
		ck_assert_msg(file_if_range(guard_at_end(v, k), k, etag, 5, T_TREE, T_NOW) ==
				      (k == 5 && memcmp(v, etag, 5) == 0),
			      "%.*s", (int)k, v);
	ck_assert(!file_if_range(NULL, 0, etag, 5, T_TREE, T_NOW));
}
END_TEST

/* tmpl with every '@' replaced by tag. */
static void subst(char *out, size_t cap, const char *tmpl, const char *tag)
{
	size_t n = 0;

	for (; *tmpl; tmpl++) {
		const char *piece = *tmpl == '@' ? tag : tmpl;
		size_t k = *tmpl == '@' ? strlen(tag) : 1;

		ck_assert(n + k < cap);
		memcpy(out + n, piece, k);
		n += k;
	}
	out[n] = '\0';
}

/* ---- Conditionals ----------------------------------------------------------------------- */

START_TEST(test_304_etag)
{
	struct served s;
	char etag[128], f[512];
	/* '@' stands for the file's ETag. */
	static const char *const match[] = {
		"@", "\"zz\", @", "  @  ,\"q\"", "W/@", "\"a\",W/@", "*", ",, @ ,",
	};
	static const char *const nomatch[] = {
		"\"zz\"", "W/\"zz\", \"yy\"", "@ x", "@,@\"", "w/@", "\"", "", "**", "\"\"",
	};
	char v[256];

	serve(&s, "f4096", NULL);
	snprintf(etag, sizeof(etag), "%s", hdr(&s, "ETag"));
	done(&s);
	ck_assert(etag[0] == '"' && etag[strlen(etag) - 1] == '"');
	for (size_t i = 0; i < sizeof(match) / sizeof(match[0]); i++) {
		subst(v, sizeof(v), match[i], etag);
		snprintf(f, sizeof(f), "If-None-Match: %s\r\n", v);
		serve(&s, "f4096", f);
		ck_assert_msg(s.r.status == 304, "%s -> %u", v, s.r.status);
		ck_assert_ptr_null(s.r.ent);
		ck_assert_str_eq(hdr(&s, "ETag"), etag);
		ck_assert_ptr_null(hdr(&s, "Content-Length"));
	}
	for (size_t i = 0; i < sizeof(nomatch) / sizeof(nomatch[0]); i++) {
		subst(v, sizeof(v), nomatch[i], etag);
		snprintf(f, sizeof(f), "If-None-Match: %s\r\n", v);
		serve(&s, "f4096", f);
		ck_assert_msg(s.r.status == 200, "%s -> %u", v, s.r.status);
		done(&s);
	}
	/* A prefix of the tag does not match. */
	snprintf(f, sizeof(f), "If-None-Match: %.6s\"\r\n", etag);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	/* Several lines: any line matching is a match. */
	snprintf(f, sizeof(f), "If-None-Match: \"a\"\r\nIf-None-Match: %s\r\n", etag);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 304);
	/* 304 overrides Range. */
	snprintf(f, sizeof(f), "If-None-Match: %s\r\nRange: bytes=0-1\r\n", etag);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 304);
	/* HEAD gets 304 too. */
	{
		struct opts o = { .meth = HTTP_METHOD_HEAD };

		snprintf(f, sizeof(f), "If-None-Match: %s\r\n", etag);
		serve_ex(&s, &o, "f4096", f);
		ck_assert_uint_eq(s.r.status, 304);
	}
}
END_TEST

START_TEST(test_304_date)
{
	struct served s;
	char lm[64], f[512];
	int64_t t;
	time_t now = T_NOW;
	struct tm tm;
	char d850[96], dasc[64], dlater[64];

	serve(&s, "f4096", NULL);
	snprintf(lm, sizeof(lm), "%s", hdr(&s, "Last-Modified"));
	done(&s);
	ck_assert_int_eq(file_date_parse(lm, strlen(lm), now, &t), 0);

	snprintf(f, sizeof(f), "If-Modified-Since: %s\r\n", lm);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 304);
	ck_assert_str_eq(hdr(&s, "Last-Modified"), lm);

	/* The RFC 850 and asctime forms of the same instant. */
	gmtime_r(&(time_t){ (time_t)t }, &tm);
	{
		char a[32], b[32];

		strftime(a, sizeof(a), "%A, %d-%b-", &tm);
		strftime(b, sizeof(b), "%H:%M:%S GMT", &tm);
		snprintf(d850, sizeof(d850), "%s%02d %s", a, tm.tm_year % 100, b);
	}
	strftime(dasc, sizeof(dasc), "%a %b %e %H:%M:%S %Y", &tm);
	snprintf(f, sizeof(f), "If-Modified-Since: %s\r\n", d850);
	serve(&s, "f4096", f);
	ck_assert_msg(s.r.status == 304, "%s", d850);
	snprintf(f, sizeof(f), "If-Modified-Since: %s\r\n", dasc);
	serve(&s, "f4096", f);
	ck_assert_msg(s.r.status == 304, "%s", dasc);

	/* Earlier than the file: 200. */
	serve(&s, "f4096", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	/* Later than now: invalid, ignored. */
	file_date_format((int64_t)now + 86400, dlater);
	snprintf(f, sizeof(f), "If-Modified-Since: %s\r\n", dlater);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	/* Not a date: ignored. */
	serve(&s, "f4096", "If-Modified-Since: yesterday\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	/* If-None-Match present: If-Modified-Since is not looked at. */
	snprintf(f, sizeof(f), "If-None-Match: \"nope\"\r\nIf-Modified-Since: %s\r\n", lm);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	/* Sent twice: ignored. */
	snprintf(f, sizeof(f), "If-Modified-Since: %s\r\nIf-Modified-Since: %s\r\n", lm, lm);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
}
END_TEST

START_TEST(test_412)
{
	struct served s;
	char etag[128], f[512];

	serve(&s, "f4096", NULL);
	snprintf(etag, sizeof(etag), "%s", hdr(&s, "ETag"));
	done(&s);
	serve(&s, "f4096", "If-Match: \"nope\"\r\n");
	ck_assert_uint_eq(s.r.status, 412);
	ck_assert_uint_eq(s.r.head_len, 0);
	ck_assert_ptr_null(s.r.ent);
	snprintf(f, sizeof(f), "If-Match: W/%s\r\n", etag); /* strong comparison */
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 412);
	snprintf(f, sizeof(f), "If-Match: \"x\", %s\r\n", etag);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	serve(&s, "f4096", "If-Match: *\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	serve(&s, "f4096", "If-Match: garbage\r\n"); /* malformed: ignored */
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	serve(&s, "f4096", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
	ck_assert_uint_eq(s.r.status, 412);
	serve(&s, "f4096", "If-Unmodified-Since: Fri, 31 Dec 9999 23:59:59 GMT\r\n");
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
}
END_TEST

/* ---- Methods, errors, directories -------------------------------------------------------- */

START_TEST(test_405)
{
	static const enum http_method m[] = { HTTP_METHOD_POST,   HTTP_METHOD_PUT,
					      HTTP_METHOD_DELETE, HTTP_METHOD_OPTIONS,
					      HTTP_METHOD_TRACE,  HTTP_METHOD_PATCH,
					      HTTP_METHOD_CONNECT };
	struct served s;

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct opts o = { .meth = m[i] };

		serve_ex(&s, &o, "f4096", NULL);
		ck_assert_uint_eq(s.r.status, 405);
		ck_assert_str_eq(s.r.extra, "Allow: GET, HEAD\r\n");
		ck_assert_uint_eq(s.r.head_len, 0);
		ck_assert_ptr_null(s.r.ent);
	}
	/* An unknown method (serve_ex() would make 0 a GET). */
	{
		struct file_req rq = { .meth = HTTP_METHOD_OTHER, .path = "f4096", .path_len = 5 };
		struct file_reply r;
		char buf[512];

		ck_assert_int_eq(file_serve(NULL, &root_nofollow, mt, &rq, buf, sizeof(buf), &r), 0);
		ck_assert_uint_eq(r.status, 405);
		ck_assert_ptr_null(r.ent);
	}
	/* A missing file with a bad method: 405 before any file system access. */
	{
		struct opts o = { .meth = HTTP_METHOD_POST };

		serve_ex(&s, &o, "missing", NULL);
		ck_assert_uint_eq(s.r.status, 405);
	}
}
END_TEST

START_TEST(test_404)
{
	struct served s;

	serve(&s, "missing", NULL);
	ck_assert_uint_eq(s.r.status, 404);
	ck_assert_uint_eq(s.r.head_len, 0);
	ck_assert_str_eq(s.r.extra, "");
	serve(&s, "missing/", NULL);
	ck_assert_uint_eq(s.r.status, 404);
	serve(&s, "a/missing.txt", NULL);
	ck_assert_uint_eq(s.r.status, 404);
	serve(&s, "one/", NULL); /* a file with a trailing slash */
	ck_assert_uint_eq(s.r.status, 404);
	serve(&s, "one/x", NULL);
	ck_assert_uint_eq(s.r.status, 404);
}
END_TEST

/* As `nobody` in a child: a file mode 000 is 403, a readable one 200. */
static void forbidden_as_nobody(void)
{
	struct served s;

	if (setgid(65534) || setuid(65534))
		_exit(10);
	serve(&s, "secret.txt", NULL);
	if (s.r.status != 403)
		_exit(11);
	serve(&s, "locked/one", NULL); /* a directory we may not search */
	if (s.r.status != 403)
		_exit(12);
	serve(&s, "one", NULL);
	if (s.r.status != 200)
		_exit(13);
	done(&s);
	_exit(0);
}

START_TEST(test_403)
{
	struct served s;
	char p[PATH_MAX];
	pid_t pid;
	int st;

	put_file("root/secret.txt", "SECRET", 6, 0000);
	mk("root/locked");
	put_file("root/locked/one", "x", 1, 0644);
	snprintf(p, sizeof(p), "%s/locked", rootdir);
	chmod(p, 0700);
	if (geteuid() == 0) {
		/* root reads mode 000 files: check it as nobody (the tree must be searchable). */
		chmod(rootdir, 0755);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			forbidden_as_nobody();
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "as nobody: exit %d",
			      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	} else {
		serve(&s, "secret.txt", NULL);
		ck_assert_uint_eq(s.r.status, 403);
	}
	serve(&s, "noindex/", NULL); /* no listings */
	ck_assert_uint_eq(s.r.status, 403);
	serve(&s, "fifo", NULL); /* never blocks (the test would time out) */
	ck_assert_uint_eq(s.r.status, 403);
	serve(&s, "sock", NULL);
	ck_assert_uint_eq(s.r.status, 403);
	ck_assert_uint_eq(s.r.head_len, 0);
	ck_assert_ptr_null(s.r.ent);
}
END_TEST

START_TEST(test_403_dev)
{
	struct file_root r;
	struct served s;
	struct opts o = { .root = &r };

	/* /dev holds character devices and is not ours to write: serve from it. */
	ck_assert_int_eq(file_root_open(&r, "/dev", true), 0);
	serve_ex(&s, &o, "null", NULL);
	ck_assert_uint_eq(s.r.status, 403);
	serve_ex(&s, &o, "zero", NULL);
	ck_assert_uint_eq(s.r.status, 403);
	file_root_close(&r);
}
END_TEST

START_TEST(test_301)
{
	struct opts o = { 0 };
	struct served s;

	serve(&s, "a", NULL);
	ck_assert_uint_eq(s.r.status, 301);
	ck_assert_str_eq(s.r.extra, "Location: /a/\r\n");
	ck_assert_uint_eq(s.r.head_len, 0);
	ck_assert_ptr_null(s.r.ent);

	o.url = "/static/a";
	o.query = "x=1&y=%20";
	serve_ex(&s, &o, "a", NULL);
	ck_assert_uint_eq(s.r.status, 301);
	ck_assert_str_eq(s.r.extra, "Location: /static/a/?x=1&y=%20\r\n");

	o.query = NULL;
	o.url = "/st atic\r\n/a"; /* never a raw CR, LF or space in a header */
	serve_ex(&s, &o, "a", NULL);
	ck_assert_str_eq(s.r.extra, "Location: /st%20atic%0D%0A/a/\r\n");

	/* Never a protocol-relative reference ("//host"): an open redirect. */
	o.url = "//evil.example/a";
	serve_ex(&s, &o, "a", NULL);
	ck_assert_str_eq(s.r.extra, "Location: /evil.example/a/\r\n");
	o.url = "/\\evil.example/a";
	serve_ex(&s, &o, "a", NULL);
	ck_assert_str_eq(s.r.extra, "Location: /%5Cevil.example/a/\r\n");
	o.url = "///a";
	o.query = "q=\\";
	serve_ex(&s, &o, "a", NULL);
	ck_assert_str_eq(s.r.extra, "Location: /a/?q=\\\r\n");
	o.query = NULL;

	/* The root itself, reached without its slash (Alias /static -> root). */
	o.url = "/static";
	serve_ex(&s, &o, "", NULL);
	ck_assert_uint_eq(s.r.status, 301);
	ck_assert_str_eq(s.r.extra, "Location: /static/\r\n");

	o.url = "/static/a/";
	o.query = "";
	serve_ex(&s, &o, "a/", NULL);
	ck_assert_uint_eq(s.r.status, 403); /* a/ has no index */

	/* The URL ends in '/' though the path does not: the directory's index. */
	o.url = "/docs/";
	serve_ex(&s, &o, "docs", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	body_is(&s, "<p>docs</p>\n");
	done(&s);

	/* No path at all: the root, whose index is served. */
	{
		struct file_req rq = { .meth = HTTP_METHOD_GET };
		struct file_reply r;
		char buf[512];

		ck_assert_int_eq(file_serve(NULL, &root_nofollow, mt, &rq, buf, sizeof(buf), &r), 0);
		ck_assert_uint_eq(r.status, 200);
		file_release(r.ent);
	}
	/* Unknown URL: no redirect can be made. */
	{
		struct file_req rq = { .meth = HTTP_METHOD_GET, .path = "a", .path_len = 1 };
		struct file_reply r;
		char buf[512];

		ck_assert_int_eq(file_serve(NULL, &root_nofollow, mt, &rq, buf, sizeof(buf), &r), 0);
		ck_assert_uint_eq(r.status, 403);
	}
}
END_TEST

START_TEST(test_index)
{
	struct opts o = { .url = "/" };
	struct served s;
	static const char *const htm_first[] = { "missing.html", "index.htm", "index.html" };
	static const char *const bad[] = { "a/b" };
	static const char *const dots[] = { ".." };
	struct file_root r;

	serve_ex(&s, &o, "", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	body_is(&s, "<p>root</p>\n");
	ck_assert_str_eq(hdr(&s, "Content-Type"), "text/html");
	done(&s);
	serve(&s, "docs/", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	body_is(&s, "<p>docs</p>\n");
	done(&s);

	ck_assert_int_eq(file_root_open(&r, rootdir, false), 0);
	ck_assert_int_eq(file_root_set_index(&r, htm_first, 3), 0);
	o.root = &r;
	o.url = NULL;
	serve_ex(&s, &o, "docs/", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	body_is(&s, "<p>htm</p>\n");
	done(&s);
	/* An index name that is a directory is skipped. */
	static const char *const dir_first[] = { "a", "index.html" };
	ck_assert_int_eq(file_root_set_index(&r, dir_first, 2), 0);
	serve_ex(&s, &o, "", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	body_is(&s, "<p>root</p>\n");
	done(&s);
	ck_assert_int_eq(file_root_set_index(&r, bad, 1), -EINVAL);
	ck_assert_int_eq(file_root_set_index(&r, dots, 1), -EINVAL);
	ck_assert_int_eq(file_root_set_index(&r, htm_first, FILE_INDEX_MAX + 1), -E2BIG);
	ck_assert_int_eq(file_root_set_index(&r, NULL, 0), 0);
	serve_ex(&s, &o, "docs/", NULL);
	ck_assert_uint_eq(s.r.status, 403);
	serve_ex(&s, &o, "nodir/", NULL);
	ck_assert_uint_eq(s.r.status, 404);
	file_root_close(&r);
	ck_assert_int_eq(file_root_open(&r, "/nonexistent-spliced-dir", false), -ENOENT);
}
END_TEST

/* ---- Traversal -------------------------------------------------------------------------- */

static char long_path[PATH_MAX + 64];

static const struct {
	const char *path;
	size_t len;            /* 0: strlen */
	unsigned status;       /* with FollowSymLinks off */
	unsigned status_follow; /* with it on */
} escapes[] = {
	{ "../outside", 0, 404, 404 },
	{ "a/../../outside", 0, 404, 404 },
	{ "/etc/passwd", 0, 404, 404 },
	{ "/outside", 0, 404, 404 },
	{ "..", 0, 404, 404 },
	{ ".", 0, 404, 404 },
	{ "./one", 0, 404, 404 },
	{ "a/..", 0, 404, 404 },
	{ "a/./../..", 0, 404, 404 },
	{ "a//../../outside", 0, 404, 404 },
	{ "../root/one", 0, 404, 404 },
	{ "one\0../../outside", 17, 404, 404 },
	{ "\0", 1, 404, 404 },
	{ NULL /* long_path */, 0, 404, 404 },
	{ "link_abs", 0, 403, 403 },        /* absolute symlink to outside */
	{ "link_abs_in", 0, 403, 403 },     /* absolute symlink, even to inside */
	{ "link_rel", 0, 403, 403 },        /* ../outside */
	{ "a/link_up", 0, 403, 403 },       /* ../../outside */
	{ "link_in", 0, 403, 200 },         /* inside: only with FollowSymLinks */
	{ "loop1", 0, 403, 403 },
	{ "dirlink/secret", 0, 403, 403 },  /* directory symlink escaping */
	{ "dirlink", 0, 403, 403 },
	{ "dirlink/", 0, 403, 403 },
	{ "dirlink_in/file.txt", 0, 403, 200 },
	{ "%2e%2e", 0, 404, 404 },          /* decoded already: a literal name */
	{ "%2e%2e/outside", 0, 404, 404 },
	{ "%2e%2e%2foutside", 0, 404, 404 },
	{ "..%2foutside", 0, 404, 404 },
	{ "..\\outside", 0, 404, 404 },
	{ "a\\..\\..\\outside", 0, 404, 404 },
	{ "...", 0, 404, 404 },
	{ "one/", 0, 404, 404 },
	{ "link_abs/", 0, 403, 403 },
	{ "fifo/../../outside", 0, 404, 404 },
	{ "proc/self/root/etc/passwd", 0, 404, 404 },
};

static void escape_case(size_t i, bool follow)
{
	struct opts o = { .root = follow ? &root_follow : &root_nofollow };
	const char *p = escapes[i].path ? escapes[i].path : long_path;
	unsigned want = follow ? escapes[i].status_follow : escapes[i].status;
	struct served s;

	o.path_len = escapes[i].len;
	serve_ex(&s, &o, p, NULL);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_msg(s.r.status == want, "%s (follow %d): %u, want %u", escapes[i].path, follow,
		      s.r.status, want);
	if (s.r.ent) {
		char b[8] = { 0 };

		ck_assert_int_ge(pread(s.r.fd, b, sizeof(b) - 1, 0), 0);
		ck_assert_msg(strcmp(b, "SECRET") != 0, "%s reached outside", escapes[i].path);
		done(&s);
	}
}

START_TEST(test_traversal)
{
	memset(long_path, 0, sizeof(long_path));
	for (size_t k = 0; k + 2 < PATH_MAX + 8; k += 2)
		memcpy(long_path + k, "a/", 2);
	escape_case((size_t)_i, false);
	escape_case((size_t)_i, true);
}
END_TEST

/* Attempts still fail with the cache on, even after a good answer for a neighbour. */
START_TEST(test_traversal_cached)
{
	struct file_cache c;
	struct opts o = { .cache = &c, .root = &root_follow };
	struct served s;

	ck_assert_int_eq(file_cache_init(&c, 64, 1000), 0);
	serve_ex(&s, &o, "link_in", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	serve_ex(&s, &o, "link_rel", NULL);
	ck_assert_uint_eq(s.r.status, 403);
	o.root = &root_nofollow; /* another root: another key */
	serve_ex(&s, &o, "link_in", NULL);
	ck_assert_uint_eq(s.r.status, 403);
	file_cache_destroy(&c);
}
END_TEST

/* ---- Cache ------------------------------------------------------------------------------ */

static void replace_file(const char *rel, const char *text)
{
	char tmp[PATH_MAX], p[PATH_MAX];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/root/.tmp", tdir);
	snprintf(p, sizeof(p), "%s/%s", tdir, rel);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(rename(tmp, p), 0);
}

START_TEST(test_cache_revalidate)
{
	struct file_cache c;
	struct opts o = { .cache = &c, .now_ms = 10000 };
	struct served s, held;
	char etag1[128];

	ck_assert_int_eq(file_cache_init(&c, 16, 1000), 0);
	put_file("root/c.txt", "version one\n", 12, 0644);
	serve_ex(&held, &o, "c.txt", NULL);
	ck_assert_uint_eq(held.r.status, 200);
	snprintf(etag1, sizeof(etag1), "%s", hdr(&held, "ETag"));
	ck_assert_uint_eq(c.misses, 1);

	/* Within the lifetime: no system call, the same entry. */
	o.now_ms = 10500;
	serve_ex(&s, &o, "c.txt", NULL);
	ck_assert_uint_eq(c.hits, 1);
	ck_assert_ptr_eq(s.r.ent, held.r.ent);
	ck_assert_uint_eq(held.r.ent->refs, 3); /* the cache and two replies */
	done(&s);

	/* Expired, unchanged: revalidated, same entry. */
	o.now_ms = 11200;
	serve_ex(&s, &o, "c.txt", NULL);
	ck_assert_uint_eq(c.revalidated, 1);
	ck_assert_ptr_eq(s.r.ent, held.r.ent);
	done(&s);

	/* Replaced by rename (new inode, new size): still the old one within the lifetime. */
	replace_file("root/c.txt", "version two, longer\n");
	o.now_ms = 11300;
	serve_ex(&s, &o, "c.txt", NULL);
	ck_assert_str_eq(hdr(&s, "ETag"), etag1);
	done(&s);
	/* After it: the new file, its ETag and size. The held reply still reads the old. */
	o.now_ms = 12300;
	serve_ex(&s, &o, "c.txt", NULL);
	ck_assert_uint_eq(c.replaced, 1);
	ck_assert_str_ne(hdr(&s, "ETag"), etag1);
	ck_assert_uint_eq(hdr_u64(&s, "Content-Length"), 20);
	body_is(&s, "version two, longer\n");
	ck_assert(!held.r.ent->linked);
	body_is(&held, "version one\n");
	done(&held); /* the last reference: closes it */
	done(&s);

	/* Rewritten in place (same inode): the new size is seen after expiry. */
	{
		char p[PATH_MAX], etag2[128];
		int fd;

		serve_ex(&s, &o, "c.txt", NULL);
		snprintf(etag2, sizeof(etag2), "%s", hdr(&s, "ETag"));
		done(&s);
		snprintf(p, sizeof(p), "%s/c.txt", rootdir);
		fd = open(p, O_WRONLY | O_TRUNC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, "v3\n", 3), 3);
		close(fd);
		o.now_ms = 14000;
		serve_ex(&s, &o, "c.txt", NULL);
		ck_assert_str_ne(hdr(&s, "ETag"), etag2);
		body_is(&s, "v3\n");
		done(&s);
	}

	/* Removed: 404 after expiry, and the entry is gone. */
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/c.txt", rootdir);
		ck_assert_int_eq(unlink(p), 0);
		o.now_ms = 16000;
		serve_ex(&s, &o, "c.txt", NULL);
		ck_assert_uint_eq(s.r.status, 404);
		for (unsigned i = 0; i < c.nsets * FILE_CACHE_WAYS; i++)
			ck_assert_ptr_null(c.slot[i]);
	}
	file_cache_destroy(&c);
}
END_TEST

START_TEST(test_cache_evict)
{
	struct file_cache c;
	struct opts o = { .cache = &c, .now_ms = 1 };
	struct served held, s;
	char name[32];
	int fd;

	ck_assert_int_eq(file_cache_init(&c, 1, 60000), 0); /* one set of FILE_CACHE_WAYS */
	ck_assert_uint_eq(c.nsets, 1);
	serve_ex(&held, &o, "f4096", NULL);
	fd = held.r.fd;
	for (int i = 0; i < 3 * FILE_CACHE_WAYS; i++) {
		snprintf(name, sizeof(name), "root/e%d", i);
		put_file(name, "e", 1, 0644);
		o.now_ms++;
		serve_ex(&s, &o, name + 5, NULL);
		ck_assert_uint_eq(s.r.status, 200);
		done(&s);
	}
	ck_assert_uint_ge(c.evicted, 2 * FILE_CACHE_WAYS);
	/* Evicted while held: still open and readable until released. */
	ck_assert(!held.r.ent->linked);
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	body_is_pattern(&held, 0, 4096);
	done(&held);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	/* The most recently used survive: the last WAYS files are hits. */
	o.now_ms++;
	serve_ex(&s, &o, "e11", NULL);
	done(&s);
	ck_assert_uint_eq(c.hits, 1);
	file_cache_destroy(&c);
}
END_TEST

START_TEST(test_cache_keys)
{
	struct file_cache c;
	struct opts o = { .cache = &c, .now_ms = 5 };
	struct served s;

	ck_assert_int_eq(file_cache_init(&c, 64, 60000), 0);
	/* "docs/" (index) and "docs" (301) are different keys. */
	serve_ex(&s, &o, "docs/", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	serve_ex(&s, &o, "docs", NULL);
	ck_assert_uint_eq(s.r.status, 301);
	/* "docs" served as a directory (URL with '/') is not cached under "docs". */
	o.url = "/docs/";
	serve_ex(&s, &o, "docs", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	o.url = NULL;
	serve_ex(&s, &o, "docs", NULL);
	ck_assert_uint_eq(s.r.status, 301);
	/* Alias /static -> root: "/static/" and "/static" are both the path "". */
	o.url = "/static/";
	serve_ex(&s, &o, "", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	done(&s);
	serve_ex(&s, &o, "", NULL);
	ck_assert_uint_eq(s.r.status, 200);
	ck_assert_uint_ge(c.hits, 1);
	done(&s);
	o.url = "/static";
	serve_ex(&s, &o, "", NULL);
	ck_assert_uint_eq(s.r.status, 301);
	ck_assert_str_eq(s.r.extra, "Location: /static/\r\n");
	o.url = NULL;
	/* A path longer than FILE_CACHE_KEY_MAX is served, not cached. */
	{
		char p[PATH_MAX], rel[FILE_CACHE_KEY_MAX + 64];
		size_t n = 0;

		while (n < FILE_CACHE_KEY_MAX + 10) {
			memcpy(rel + n, "dddddddddddddddddddddddddddddddddddddddddddddddddd/", 51);
			n += 51;
			rel[n] = '\0';
			snprintf(p, sizeof(p), "%s/%s", rootdir, rel);
			ck_assert_int_eq(mkdir(p, 0755), 0);
		}
		snprintf(p, sizeof(p), "root/%sx.txt", rel);
		put_file(p, "deep", 4, 0644);
		snprintf(p, sizeof(p), "%sx.txt", rel);
		serve_ex(&s, &o, p, NULL);
		ck_assert_uint_eq(s.r.status, 200);
		ck_assert(!s.r.ent->linked);
		ck_assert_uint_eq(s.r.ent->refs, 1);
		body_is(&s, "deep");
		done(&s);
	}
	file_cache_destroy(&c);
}
END_TEST

/* ---- Parsers ---------------------------------------------------------------------------- */

static const struct {
	const char *s;
	int64_t t;
} dates[] = {
	{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
	{ "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
	{ "Sun Nov  6 08:49:37 1994", 784111777 },
	{ "Sun Nov 06 08:49:37 1994", 784111777 },
	{ "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
	{ "Wed, 31 Dec 1969 23:59:59 GMT", -1 },
	{ "Tue, 29 Feb 2000 12:00:00 GMT", 951825600 },
	{ "Fri, 31 Dec 9999 23:59:59 GMT", 253402300799 },
	{ "Mon, 01 Jan 2024 00:00:60 GMT", 1704067260 },
	{ "Monday, 01-Jan-24 00:00:00 GMT", 1704067200 },
	{ "Wednesday, 01-Jan-70 00:00:00 GMT", 3155760000 }, /* 2070: within 50 years */
	{ "Tuesday, 29-Feb-00 12:00:00 GMT", 951825600 },
};

static const char *const bad_dates[] = {
	"", "Sun", "Sun, 06 Nov 1994 08:49:37 gmt", "Sun, 06 nov 1994 08:49:37 GMT",
	"sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
	"Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
	"Sun,  06 Nov 1994 08:49:37 GMT", " Sun, 06 Nov 1994 08:49:37 GMT",
	"Sun, 06 Nov 1994 08:49:37 GMT ", "Sun, 31 Nov 1994 08:49:37 GMT",
	"Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 30 Feb 2000 08:49:37 GMT",
	"Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
	"Sun, 06 Nov 1994 23:60:00 GMT", "Sun, 06 Nov 1994 23:59:61 GMT",
	"Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06 Nov 1994 08-49-37 GMT",
	"Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov +994 08:49:37 GMT",
	"Sun, 06 Nov 1994 08:49:3x GMT", "Sun, 06 Xyz 1994 08:49:37 GMT",
	"Sunday, 06-Nov-1994 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
	"Sunday, 06 Nov 94 08:49:37 GMT", "Funday, 06-Nov-94 08:49:37 GMT",
	"Sunday, 06-Nov-94 08:49:37 GMT ", "Sunday, 06-Nov-9x 08:49:37 GMT",
	"Sun Nov  6 08:49:37 94", "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37  1994",
	"Sun Nov   6 08:49:37 1994", "Sun Nov  x 08:49:37 1994", "Sun Nov 6  08:49:37 1994",
	"1994-11-06T08:49:37Z", "784111777",
};

START_TEST(test_date_parse)
{
	int64_t now = 1735689600; /* 2025-01-01 */
	int64_t t;

	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		size_t n = strlen(dates[i].s);

		ck_assert_msg(file_date_parse(guard_at_end(dates[i].s, n), n, now, &t) == 0, "%s",
			      dates[i].s);
		ck_assert_msg(t == dates[i].t, "%s: %lld", dates[i].s, (long long)t);
		/* Every shorter prefix is refused, without reading past it. */
		for (size_t k = 0; k < n; k++)
			ck_assert_int_eq(file_date_parse(guard_at_end(dates[i].s, k), k, now, &t), -1);
	}
	for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		size_t n = strlen(bad_dates[i]);

		ck_assert_msg(file_date_parse(guard_at_end(bad_dates[i], n), n, now, &t) == -1,
			      "%s accepted", bad_dates[i]);
	}
	ck_assert_int_eq(file_date_parse("Sun, 06 Nov 1994 08:49:37 GM\0", 29, now, &t), -1);
	ck_assert_int_eq(file_date_parse("Sun, 06 Nov 1994 08:49:37 GMT\0", 30, now, &t), -1);
	ck_assert_int_eq(file_date_parse(NULL, 0, now, &t), -1);
	/* RFC 850 years: more than 50 years ahead of now is the previous century. */
	ck_assert_int_eq(file_date_parse("Friday, 01-Jan-75 00:00:00 GMT", 30, now, &t), 0);
	ck_assert_int_eq(t, 3313526400); /* 2075 */
	ck_assert_int_eq(file_date_parse("Friday, 01-Jan-76 00:00:00 GMT", 30, now, &t), 0);
	ck_assert_int_eq(t, 189302400); /* 1976 */
}
END_TEST

START_TEST(test_date_format)
{
	char out[FILE_DATE_LEN + 1], want[64];
	uint64_t x = 88172645463325252ULL;

	ck_assert_uint_eq(file_date_format(784111777, out), FILE_DATE_LEN);
	ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	file_date_format(-1, out);
	ck_assert_str_eq(out, "Wed, 31 Dec 1969 23:59:59 GMT");
	file_date_format(INT64_MAX, out);
	ck_assert_str_eq(out, "Fri, 31 Dec 9999 23:59:59 GMT");
	file_date_format(INT64_MIN, out);
	ck_assert_str_eq(out, "Sat, 01 Jan 0000 00:00:00 GMT");
	/* Agrees with gmtime_r + strftime, and parses back, over years 1000..9999. */
	for (int i = 0; i < 20000; i++) {
		const int64_t lo = -30610224000, hi = 253402300799;
		time_t t;
		struct tm tm;
		int64_t back;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t = (time_t)(lo + (int64_t)(x % (uint64_t)(hi - lo + 1)));
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		file_date_format((int64_t)t, out);
		ck_assert_str_eq(out, want);
		ck_assert_int_eq(file_date_parse(out, FILE_DATE_LEN, 0, &back), 0);
		ck_assert_int_eq(back, (int64_t)t);
	}
}
END_TEST

START_TEST(test_range_parse)
{
	uint64_t off = 77, n = 77;
	const char *b;

	b = guard_at_end("bytes=0-0", 9);
	ck_assert_int_eq(file_range_parse(b, 9, 10, &off, &n), FILE_RANGE_ONE);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(n, 1);
	b = guard_at_end("bytes=5", 7); /* cut before '-' */
	ck_assert_int_eq(file_range_parse(b, 7, 10, &off, &n), FILE_RANGE_IGNORE);
	b = guard_at_end("bytes=5-", 8);
	ck_assert_int_eq(file_range_parse(b, 8, 10, &off, &n), FILE_RANGE_ONE);
	ck_assert_uint_eq(off, 5);
	ck_assert_uint_eq(n, 5);
	b = guard_at_end("bytes=-3", 8);
	ck_assert_int_eq(file_range_parse(b, 8, 10, &off, &n), FILE_RANGE_ONE);
	ck_assert_uint_eq(off, 7);
	ck_assert_uint_eq(n, 3);
	b = guard_at_end("  bytes=1-1  ", 13);
	ck_assert_int_eq(file_range_parse(b, 13, 10, &off, &n), FILE_RANGE_ONE);
	b = guard_at_end("bytes", 5);
	ck_assert_int_eq(file_range_parse(b, 5, 10, &off, &n), FILE_RANGE_IGNORE);
	b = guard_at_end("bytes=0-18446744073709551615", 28);
	ck_assert_int_eq(file_range_parse(b, 28, UINT64_MAX, &off, &n), FILE_RANGE_ONE);
	ck_assert_uint_eq(n, UINT64_MAX);
	b = guard_at_end("bytes=18446744073709551614-", 27);
	ck_assert_int_eq(file_range_parse(b, 27, UINT64_MAX, &off, &n), FILE_RANGE_ONE);
	ck_assert_uint_eq(off, UINT64_MAX - 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(file_range_parse(NULL, 0, 10, &off, &n), FILE_RANGE_IGNORE);
	/* Every prefix of a valid value is handled without reading past it. */
	{
		const char *v = "bytes=123-4567, ";

		for (size_t k = 0; k <= strlen(v); k++)
			file_range_parse(guard_at_end(v, k), k, 1000, &off, &n);
	}
}
END_TEST

static const struct {
	const char *v;
	bool strong;
	int want;
} etag_cases[] = {
	{ "\"abc\"", true, 1 },       { "\"abc\"", false, 1 },     { "W/\"abc\"", false, 1 },
	{ "W/\"abc\"", true, 0 },     { "*", true, 1 },            { " * ", false, 1 },
	{ "\"x\", \"abc\"", true, 1 }, { "\"x\",\"y\"", false, 0 }, { "\"ab\"", false, 0 },
	{ "\"abcd\"", false, 0 },     { "abc", false, -1 },        { "\"abc", false, -1 },
	{ "W\"abc\"", false, -1 },    { "W/", false, -1 },         { "W", false, -1 },
	{ "\"a b\"", false, -1 },     { "\"abc\" \"x\"", false, -1 }, { "", false, -1 },
	{ ",", false, -1 },           { "*, \"abc\"", false, -1 }, { "\"\"", false, 0 },
	{ "\"abc\",", false, 1 },     { "\"\x80\"", false, 0 },    { "\"a\x7f\"", false, -1 },
};

START_TEST(test_etag_match)
{
	const char *v = etag_cases[_i].v;
	const char *b = guard_at_end(v, strlen(v));

	ck_assert_msg(file_etag_match(b, strlen(v), "\"abc\"", 5, etag_cases[_i].strong) ==
			      etag_cases[_i].want,
		      "%s", v);
}
END_TEST

START_TEST(test_path_check)
{
	static const char *const ok[] = { "", "a", "a/b", "a/", "a//b", "...", ".a", "a.",
					  "a/.b", "..a", "a..", "%2e%2e", "..\\x", "a/b/c/" };
	static const char *const bad[] = { "/", "/a", ".", "..", "./a", "../a", "a/.", "a/..",
					   "a/./b", "a/../b", "a//..", "a/../" };
	char big[PATH_MAX];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(file_path_check(guard_at_end(ok[i], strlen(ok[i])), strlen(ok[i])) == 0,
			      "%s", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(file_path_check(guard_at_end(bad[i], strlen(bad[i])), strlen(bad[i])) ==
				      -EINVAL,
			      "%s", bad[i]);
	ck_assert_int_eq(file_path_check(guard_at_end("a\0b", 3), 3), -EINVAL);
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(file_path_check(big, PATH_MAX - FILE_INDEX_NAME_MAX - 1), -ENAMETOOLONG);
	ck_assert_int_eq(file_path_check(big, PATH_MAX - FILE_INDEX_NAME_MAX - 2), 0);
	ck_assert_int_eq(file_path_check(NULL, 0), 0);
}
END_TEST

START_TEST(test_cond_scan)
{
	const char *h = "GET / HTTP/1.1\r\nHost: x\r\nRANGE: bytes=1-2 \r\n"
			"if-none-match:\t\"a\"\r\nIf-None-Match: \"b\"\r\n"
			"If-Modified-Since:   Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			"If-Match: *\r\nIf-Unmodified-Since: x\r\nIf-Range: \"r\"\r\n"
			"X-Range: no\r\nRanges: no\r\n\r\n";
	size_t n = strlen(h);
	const char *b = guard_at_end(h, n);
	struct file_cond c;

	file_cond_scan(&c, b, 16, n);
	ck_assert_uint_eq(c.range.len, 9);
	ck_assert(memcmp(c.range.p, "bytes=1-2", 9) == 0);
	ck_assert_uint_eq(c.n_if_none_match, 2);
	ck_assert(memcmp(c.if_none_match[1].p, "\"b\"", 3) == 0);
	ck_assert_uint_eq(c.if_modified_since.len, 29);
	ck_assert_uint_eq(c.n_if_match, 1);
	ck_assert_uint_eq(c.if_unmodified_since.len, 1);
	ck_assert_uint_eq(c.if_range.len, 3);

	/* More lines than FILE_LIST_MAX: counted past it (the field is then ignored). */
	h = "If-None-Match: \"1\"\r\nIf-None-Match: \"2\"\r\nIf-None-Match: \"3\"\r\n"
	    "If-None-Match: \"4\"\r\nIf-None-Match: \"5\"\r\nIf-None-Match: \"6\"\r\nRange:";
	n = strlen(h);
	file_cond_scan(&c, guard_at_end(h, n), 0, n);
	ck_assert_uint_eq(c.n_if_none_match, FILE_LIST_MAX + 1);
	ck_assert_uint_eq(c.range.len, 0);
	ck_assert_ptr_nonnull(c.range.p);
	/* Every prefix, without reading past it. */
	for (size_t k = 0; k <= n; k++)
		file_cond_scan(&c, guard_at_end(h, k), 0, k);
}
END_TEST

START_TEST(test_too_many_inm)
{
	struct served s;
	char etag[128], f[1024];

	serve(&s, "f4096", NULL);
	snprintf(etag, sizeof(etag), "%s", hdr(&s, "ETag"));
	done(&s);
	snprintf(f, sizeof(f), "If-None-Match: %s\r\nIf-None-Match: %s\r\nIf-None-Match: %s\r\n"
			       "If-None-Match: %s\r\nIf-None-Match: %s\r\n",
		 etag, etag, etag, etag, etag);
	serve(&s, "f4096", f);
	ck_assert_uint_eq(s.r.status, 200); /* ignored, never a wrong 304 */
	done(&s);
}
END_TEST

/* ---- MIME ------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	const char *type;
} builtin_cases[] = {
	{ "index.html", "text/html" },          { "a/b/INDEX.HTM", "text/html" },
	{ "x.css", "text/css" },                { "app.js", "text/javascript" },
	{ "m.mjs", "text/javascript" },         { "d.json", "application/json" },
	{ "r.txt", "text/plain" },              { "f.xml", "application/xml" },
	{ "i.svg", "image/svg+xml" },           { "i.png", "image/png" },
	{ "i.jpg", "image/jpeg" },              { "i.JPeG", "image/jpeg" },
	{ "i.gif", "image/gif" },               { "i.webp", "image/webp" },
	{ "favicon.ico", "image/vnd.microsoft.icon" }, { "d.pdf", "application/pdf" },
	{ "m.wasm", "application/wasm" },       { "f.woff", "font/woff" },
	{ "f.woff2", "font/woff2" },            { "v.mp4", "video/mp4" },
	{ "v.webm", "video/webm" },             { "a.zip", "application/zip" },
	{ "a.tar.gz", "application/gzip" },     { "a.tar", "application/x-tar" },
	{ "noext", MIME_DEFAULT_TYPE },         { ".profile", MIME_DEFAULT_TYPE },
	{ "dir.d/file", MIME_DEFAULT_TYPE },    { "x.", MIME_DEFAULT_TYPE },
	{ "x.unknown", MIME_DEFAULT_TYPE },     { "", MIME_DEFAULT_TYPE },
	{ "a/.html", MIME_DEFAULT_TYPE },       { "a/b.html", "text/html" },
};

START_TEST(test_mime_builtin)
{
	struct mime_table *t = mime_builtin();
	const char *n = builtin_cases[_i].name;

	ck_assert_str_eq(mime_lookup(t, guard_at_end(n, strlen(n)), strlen(n)), builtin_cases[_i].type);
	ck_assert_str_eq(mime_lookup(NULL, n, strlen(n)), MIME_DEFAULT_TYPE);
	mime_free(t);
}
END_TEST

static char *write_tmp(const char *text)
{
	static char p[64];
	int fd;

	snprintf(p, sizeof(p), "/tmp/check_mime.XXXXXX");
	fd = mkstemp(p);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return p;
}

START_TEST(test_mime_load)
{
	struct config_error err;
	struct mime_table *t;
	char *p;
	char big[MIME_EXT_MAX + 32];

	p = write_tmp("# comment line\n"
		      "text/html\thtml htm\n"
		      "  \n"
		      "application/x-empty\n"
		      "text/x-first    sh   # a comment   xyz\n"
		      "text/x-sh sh\n"
		      "Image/PNG PNG\r\n"
		      "application/vnd.Kinar sdf\n"
		      "text/plain txt");
	t = mime_load(p, &err);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(mime_lookup(t, "a.html", 6), "text/html");
	ck_assert_str_eq(mime_lookup(t, "a.HTM", 5), "text/html");
	ck_assert_str_eq(mime_lookup(t, "a.sh", 4), "text/x-sh"); /* the last one wins */
	ck_assert_str_eq(mime_lookup(t, "a.xyz", 5), MIME_DEFAULT_TYPE); /* was a comment */
	ck_assert_str_eq(mime_lookup(t, "a.png", 5), "Image/PNG");
	ck_assert_str_eq(mime_lookup(t, "a.sdf", 5), "application/vnd.Kinar");
	ck_assert_str_eq(mime_lookup(t, "a.txt", 5), "text/plain"); /* no final newline */
	ck_assert_str_eq(mime_lookup(t, "a.css", 5), MIME_DEFAULT_TYPE); /* not built-in */
	ck_assert_uint_eq(t->n, 6);
	mime_free(t);
	unlink(p);

	p = write_tmp("text/html html\nnot-a-type foo\n");
	ck_assert_ptr_null(mime_load(p, &err));
	ck_assert_str_eq(err.file, p);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_str_eq(err.msg, "not a media type (type/subtype)");
	unlink(p);

	p = write_tmp("text/ html\n");
	ck_assert_ptr_null(mime_load(p, &err));
	ck_assert_uint_eq(err.line, 1);
	unlink(p);

	memset(big, 'x', sizeof(big));
	memcpy(big, "a/b ", 4);
	big[sizeof(big) - 1] = '\0';
	p = write_tmp(big);
	ck_assert_ptr_null(mime_load(p, &err));
	ck_assert_str_eq(err.msg, "invalid extension");
	unlink(p);

	p = write_tmp("a/b x/y\n");
	ck_assert_ptr_null(mime_load(p, &err));
	unlink(p);

	ck_assert_ptr_null(mime_load("/nonexistent/mime.types", &err));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(err.file, "/nonexistent/mime.types");
	ck_assert_uint_eq(err.line, 0);
	ck_assert_str_eq(err.msg, strerror(ENOENT));

	ck_assert_ptr_null(mime_load("/tmp", &err));

	p = write_tmp("");
	t = mime_load(p, &err);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(mime_lookup(t, "a.html", 6), MIME_DEFAULT_TYPE);
	mime_free(t);
	unlink(p);
}
END_TEST

START_TEST(test_mime_system)
{
	struct config_error err;
	struct mime_table *t;

	if (access(MIME_DEFAULT_FILE, R_OK) != 0) {
		fprintf(stderr, "check_file: %s missing, mime_load_default gives the built-in "
				"table (checked)\n", MIME_DEFAULT_FILE);
		t = mime_load_default(&err);
		ck_assert_ptr_nonnull(t);
		ck_assert_str_eq(mime_lookup(t, "a.woff2", 7), "font/woff2");
		mime_free(t);
		return;
	}
	t = mime_load_default(&err);
	ck_assert_msg(t != NULL, "%s:%u: %s", err.file, err.line, err.msg);
	ck_assert_str_eq(mime_lookup(t, "a.html", 6), "text/html");
	ck_assert_str_eq(mime_lookup(t, "a.css", 5), "text/css");
	ck_assert_str_eq(mime_lookup(t, "a.png", 5), "image/png");
	ck_assert_uint_gt(t->n, 500);
	mime_free(t);
}
END_TEST

/* ---- Suite ------------------------------------------------------------------------------ */

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *file_suite(void)
{
	Suite *s = suite_create("file");
	struct {
		const char *name;
		const TTest *test;
		int loop;
		bool tree;
	} tc[] = {
		{ "sizes", test_sizes, N(sizes), true },
		{ "head_method", test_head_method, 0, true },
		{ "head_format", test_head_format, 0, true },
		{ "nospc", test_nospc, 0, true },
		{ "mime_types", test_mime_types, 0, true },
		{ "range", test_range, N(range_cases), true },
		{ "range_small_files", test_range_small_files, 0, true },
		{ "if_range", test_if_range, 0, true },
		{ "dates_every_day", test_dates_every_day, 84, true },
		{ "if_range_value", test_if_range_value, N(if_range_cases), false },
		{ "304_etag", test_304_etag, 0, true },
		{ "304_date", test_304_date, 0, true },
		{ "412", test_412, 0, true },
		{ "too_many_inm", test_too_many_inm, 0, true },
		{ "405", test_405, 0, true },
		{ "404", test_404, 0, true },
		{ "403", test_403, 0, true },
		{ "403_dev", test_403_dev, 0, true },
		{ "301", test_301, 0, true },
		{ "index", test_index, 0, true },
		{ "traversal", test_traversal, N(escapes), true },
		{ "traversal_cached", test_traversal_cached, 0, true },
		{ "cache_revalidate", test_cache_revalidate, 0, true },
		{ "cache_evict", test_cache_evict, 0, true },
		{ "cache_keys", test_cache_keys, 0, true },
		{ "date_parse", test_date_parse, 0, false },
		{ "date_format", test_date_format, 0, false },
		{ "range_parse", test_range_parse, 0, false },
		{ "etag_match", test_etag_match, N(etag_cases), false },
		{ "path_check", test_path_check, 0, false },
		{ "cond_scan", test_cond_scan, 0, false },
		{ "mime_builtin", test_mime_builtin, N(builtin_cases), false },
		{ "mime_load", test_mime_load, 0, false },
		{ "mime_system", test_mime_system, 0, false },
	};

	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		TCase *t = tcase_create(tc[i].name);

		if (tc[i].tree)
			tcase_add_checked_fixture(t, tree_setup, tree_teardown);
		if (tc[i].loop)
			tcase_add_loop_test(t, tc[i].test, 0, tc[i].loop);
		else
			tcase_add_test(t, tc[i].test);
		suite_add_tcase(s, t);
	}
	return s;
}

int main(void)
{
	return ck_run_suite(file_suite());
}
