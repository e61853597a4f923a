/* Static files: openat2 beneath a root, validators, conditionals, Range, the response head
 * and a per-worker open-file cache. See include/spliced/file.h for the contracts. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "spliced/file.h"
#include "spliced/http.h"
#include "spliced/mime.h"

/* What file_open_at() found, besides an HTTP status (>= 100) for a failure. */
enum {
	FO_FILE = 0,      /* a regular file: *fdp and *st are set */
	FO_DIR = 1,       /* a directory (no fd kept) */
	FO_SPECIAL = 2,   /* FIFO, socket, device: not served */
};

static bool file_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool file_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* ---- HTTP-date ---------------------------------------------------------------------- */

static const char file_months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char file_wdays[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const file_wdays_long[7] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
						 "Thursday", "Friday", "Saturday" };

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t file_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void file_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* n digits at s, or -1. */
static int file_num(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!file_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int file_month(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (memcmp(s, file_months[i], 3) == 0)
			return i + 1;
	return -1;
}

static bool file_wday(const char *s)
{
	for (int i = 0; i < 7; i++)
		if (memcmp(s, file_wdays[i], 3) == 0)
			return true;
	return false;
}

/* "HH:MM:SS" -> seconds of the day, or -1. A leap second (60) is accepted. */
static int file_tod(const char *s)
{
	int h, mi, se;

	if (s[2] != ':' || s[5] != ':')
		return -1;
	h = file_num(s, 2);
	mi = file_num(s + 3, 2);
	se = file_num(s + 6, 2);
	if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
		return -1;
	return h * 3600 + mi * 60 + se;
}

static int file_date_make(int64_t y, int m, int d, int tod, int64_t *t)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (m < 1 || d < 1 || tod < 0 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
		return -1;
	*t = file_days_from_civil(y, m, d) * 86400 + tod;
	return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int file_date_imf(const char *s, int64_t *t)
{
	int y;

	if (!file_wday(s) || memcmp(s + 3, ", ", 2) != 0 || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
		return -1;
	y = file_num(s + 12, 4);
	if (y < 0)
		return -1;
	return file_date_make(y, file_month(s + 8), file_num(s + 5, 2), file_tod(s + 17), t);
}

/* "Sun Nov  6 08:49:37 1994" */
static int file_date_asctime(const char *s, int64_t *t)
{
	int y, d;

	if (!file_wday(s) || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
		return -1;
	d = s[8] == ' ' ? file_num(s + 9, 1) : file_num(s + 8, 2);
	y = file_num(s + 20, 4);
	if (y < 0)
		return -1;
	return file_date_make(y, file_month(s + 4), d, file_tod(s + 11), t);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static int file_date_850(const char *s, size_t len, int64_t now, int64_t *t)
{
	int64_t y, now_y;
	int yy, nm, nd;
	size_t w;

	for (w = 0; w < 7; w++) {
		size_t n = strlen(file_wdays_long[w]);

		if (len == n + 24 && memcmp(s, file_wdays_long[w], n) == 0)
			break;
	}
	if (w == 7)
		return -1;
	s += len - 24; /* ", 06-Nov-94 08:49:37 GMT" */
	if (memcmp(s, ", ", 2) != 0 || s[4] != '-' || s[8] != '-' || s[11] != ' ' ||
	    s[20] != ' ' || memcmp(s + 21, "GMT", 3) != 0)
		return -1;
	yy = file_num(s + 9, 2);
	if (yy < 0)
		return -1;
	/* RFC 9110 section 5.6.7: a year more than 50 years in the future is in the past. */
	file_civil_from_days(now / 86400, &now_y, &nm, &nd);
	y = now_y - now_y % 100 + yy;
	if (y > now_y + 50)
		y -= 100;
	return file_date_make(y, file_month(s + 5), file_num(s + 2, 2), file_tod(s + 12), t);
}

int file_date_parse(const char *s, size_t len, int64_t now, int64_t *t)
{
	if (!s)
		return -1;
	if (len == 29 && s[3] == ',')
		return file_date_imf(s, t);
	if (len == 24 && s[3] == ' ')
		return file_date_asctime(s, t);
	if (len >= 30 && len <= 33)
		return file_date_850(s, len, now, t);
	return -1;
}

size_t file_date_format(int64_t t, char *out)
{
	static const int64_t lo = -62167219200;  /* 0000-01-01T00:00:00Z */
	static const int64_t hi = 253402300799;  /* 9999-12-31T23:59:59Z */
	int64_t days, secs, y;
	int m, d, wd;

	t = t < lo ? lo : t > hi ? hi : t;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	file_civil_from_days(days, &y, &m, &d);
	wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
	snprintf(out, FILE_DATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT", file_wdays[wd], d,
		 file_months[m - 1], (int)y, (int)(secs / 3600), (int)(secs / 60 % 60),
		 (int)(secs % 60));
	return FILE_DATE_LEN;
}

/* ---- Range, entity tags, paths -------------------------------------------------------- */

/* 1*DIGIT at v[*i..len), saturating at UINT64_MAX. false when there is no digit. */
static bool file_u64(const char *v, size_t len, size_t *i, uint64_t *out)
{
	uint64_t x = 0;
	size_t s = *i;

	while (*i < len && file_digit(v[*i])) {
		unsigned dg = (unsigned)(v[*i] - '0');

		x = x > (UINT64_MAX - dg) / 10 ? UINT64_MAX : x * 10 + dg;
		(*i)++;
	}
	*out = x;
	return *i > s;
}

enum file_range file_range_parse(const char *v, size_t len, uint64_t size, uint64_t *off,
				 uint64_t *n)
{
	uint64_t first = 0, last = 0;
	bool suffix = false, open_end = false;
	unsigned count = 0;
	size_t i;

	if (!v)
		return FILE_RANGE_IGNORE;
	while (len > 0 && file_ows(v[len - 1]))
		len--;
	for (i = 0; i < len && file_ows(v[i]); i++)
		;
	if (len - i < 6 || strncasecmp(v + i, "bytes=", 6) != 0)
		return FILE_RANGE_IGNORE;
	i += 6;
	/* 1#range-spec: empty elements and OWS around commas are allowed (RFC 9110 5.6.1). */
	while (i < len) {
		uint64_t a = 0, b = UINT64_MAX;
		bool sfx = false, open = false;

		if (v[i] == ',' || file_ows(v[i])) {
			i++;
			continue;
		}
		if (v[i] == '-') {
			i++;
			if (!file_u64(v, len, &i, &b))
				return FILE_RANGE_IGNORE;
			sfx = true;
		} else {
			if (!file_u64(v, len, &i, &a) || i >= len || v[i] != '-')
				return FILE_RANGE_IGNORE;
			i++;
			if (!file_u64(v, len, &i, &b))
				open = true;
			else if (b < a)
				return FILE_RANGE_IGNORE;
		}
		while (i < len && file_ows(v[i]))
			i++;
		if (i < len && v[i] != ',')
			return FILE_RANGE_IGNORE;
		if (++count == 1) {
			first = a;
			last = b;
			suffix = sfx;
			open_end = open;
		}
	}
	if (count != 1 || size == 0)
		return FILE_RANGE_IGNORE;
	if (suffix) {
		if (last == 0)
			return FILE_RANGE_UNSATISFIABLE;
		*n = last < size ? last : size;
		*off = size - *n;
		return FILE_RANGE_ONE;
	}
	if (first >= size)
		return FILE_RANGE_UNSATISFIABLE;
	if (open_end || last >= size)
		last = size - 1;
	*off = first;
	*n = last - first + 1;
	return FILE_RANGE_ONE;
}

static bool file_etagc(unsigned char ch)
{
	return ch == 0x21 || (ch >= 0x23 && ch <= 0x7e) || ch >= 0x80;
}

int file_etag_match(const char *v, size_t len, const char *etag, size_t etag_len, bool strong)
{
	bool any = false, match = false;
	size_t i = 0;

	if (!v)
		return -1;
	while (len > 0 && file_ows(v[len - 1]))
		len--;
	while (i < len && file_ows(v[i]))
		i++;
	if (len - i == 1 && v[i] == '*')
		return 1;
	while (i < len) {
		bool weak = false;
		size_t start;

		if (v[i] == ',' || file_ows(v[i])) {
			i++;
			continue;
		}
		if (v[i] == 'W') {
			if (i + 1 >= len || v[i + 1] != '/')
				return -1;
			weak = true;
			i += 2;
		}
		if (i >= len || v[i] != '"')
			return -1;
		start = i++;
		while (i < len && v[i] != '"') {
			if (!file_etagc((unsigned char)v[i]))
				return -1;
			i++;
		}
		if (i >= len)
			return -1;
		i++;
		if (!(strong && weak) && i - start == etag_len && memcmp(v + start, etag, etag_len) == 0)
			match = true;
		any = true;
		while (i < len && file_ows(v[i]))
			i++;
		if (i < len && v[i] != ',')
			return -1;
	}
	return any ? match : -1;
}

int file_path_check(const char *p, size_t len)
{
	size_t seg = 0;

	if (len >= PATH_MAX - FILE_INDEX_NAME_MAX - 1)
		return -ENAMETOOLONG;
	if (len == 0)
		return 0;
	if (!p || p[0] == '/' || memchr(p, '\0', len))
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if ((i - seg == 1 && p[seg] == '.') ||
		    (i - seg == 2 && p[seg] == '.' && p[seg + 1] == '.'))
			return -EINVAL;
		seg = i + 1;
	}
	return 0;
}

/* ---- Request fields ------------------------------------------------------------------- */

static void file_cond_one(struct file_val *f, const char *p, size_t n)
{
	if (f->p) { /* sent twice: invalid, so ignored */
		f->p = "";
		f->len = 0;
		return;
	}
	f->p = p;
	f->len = (uint32_t)n;
}

static void file_cond_list(struct file_val *f, uint8_t *count, const char *p, size_t n)
{
	if (*count < FILE_LIST_MAX) {
		f[*count].p = p;
		f[*count].len = (uint32_t)n;
	}
	if (*count <= FILE_LIST_MAX)
		(*count)++;
}

static bool file_name_is(const char *name, size_t n, const char *lower)
{
	return strlen(lower) == n && strncasecmp(name, lower, n) == 0;
}

void file_cond_scan(struct file_cond *c, const char *head, size_t from, size_t head_len)
{
	size_t i = from;

	memset(c, 0, sizeof(*c));
	while (i < head_len) {
		const char *lf = memchr(head + i, '\n', head_len - i);
		size_t end = lf ? (size_t)(lf - head) : head_len, vs, ve;
		const char *colon;

		ve = end > i && head[end - 1] == '\r' ? end - 1 : end;
		colon = memchr(head + i, ':', ve - i);
		if (!colon)
			goto next;
		vs = (size_t)(colon - head) + 1;
		while (vs < ve && file_ows(head[vs]))
			vs++;
		while (ve > vs && file_ows(head[ve - 1]))
			ve--;
		{
			const char *name = head + i, *val = head + vs;
			size_t nl = (size_t)(colon - name), vl = ve - vs;

			if (file_name_is(name, nl, "range"))
				file_cond_one(&c->range, val, vl);
			else if (file_name_is(name, nl, "if-none-match"))
				file_cond_list(c->if_none_match, &c->n_if_none_match, val, vl);
			else if (file_name_is(name, nl, "if-modified-since"))
				file_cond_one(&c->if_modified_since, val, vl);
			else if (file_name_is(name, nl, "if-match"))
				file_cond_list(c->if_match, &c->n_if_match, val, vl);
			else if (file_name_is(name, nl, "if-unmodified-since"))
				file_cond_one(&c->if_unmodified_since, val, vl);
			else if (file_name_is(name, nl, "if-range"))
				file_cond_one(&c->if_range, val, vl);
		}
next:
		i = end + 1;
	}
}

/* ---- Roots -------------------------------------------------------------------------- */

int file_root_open(struct file_root *r, const char *dir, bool follow_symlinks)
{
	memset(r, 0, sizeof(*r));
	r->fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	r->follow_symlinks = follow_symlinks;
	r->nindex = 1;
	strcpy(r->index[0], "index.html");
	return 0;
}

int file_root_set_index(struct file_root *r, const char *const *names, unsigned n)
{
	if (n > FILE_INDEX_MAX)
		return -E2BIG;
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		if (len == 0 || len >= FILE_INDEX_NAME_MAX || strchr(names[i], '/') ||
		    strcmp(names[i], ".") == 0 || strcmp(names[i], "..") == 0)
			return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++)
		strcpy(r->index[i], names[i]);
	r->nindex = (uint8_t)n;
	return 0;
}

void file_root_close(struct file_root *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* ---- Opening beneath a root ----------------------------------------------------------- */

static unsigned file_errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
	case EILSEQ:
		return 404;
	case EACCES:
	case EPERM:
	case EXDEV:   /* RESOLVE_BENEATH: the path would leave the root */
	case ELOOP:   /* a symlink where none is allowed, or too many */
	case ENXIO:   /* a socket */
	case ENODEV:
	case ETXTBSY:
		return 403;
	case EMFILE:  /* spliced's own shortage, which passes: try again */
	case ENFILE:
	case ENOMEM:
		return 503;
	default:
		return 500;
	}
}

static int file_openat2(const struct file_root *r, const char *path, uint64_t flags)
{
	struct open_how how = {
		.flags = flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
			   (r->follow_symlinks ? 0 : RESOLVE_NO_SYMLINKS),
	};
	long fd;

	/* EAGAIN: a concurrent rename during a ".." walk (RESOLVE_BENEATH); try again. */
	for (int tries = 0;; tries++) {
		fd = syscall(SYS_openat2, r->fd, path, &how, sizeof(how));
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR) || tries == 3)
			return (int)fd;
	}
}

/* Opens the NUL-terminated relative `path` beneath the root. Returns FO_FILE (*fdp open
 * O_RDONLY, blocking, *st filled), FO_DIR, FO_SPECIAL, or a status with *err = -errno. */
static unsigned file_open_at(const struct file_root *r, const char *path, int *fdp,
			     struct stat *st, int *err)
{
	int fd = file_openat2(r, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	unsigned ret = FO_FILE;

	*err = 0;
	if (fd < 0) {
		*err = -errno;
		/* A directory we may search but not read: still a directory. */
		if (errno != EACCES)
			return file_errno_status(-*err);
		fd = file_openat2(r, path, O_PATH | O_CLOEXEC);
		if (fd < 0 || fstat(fd, st) < 0 || !S_ISDIR(st->st_mode)) {
			if (fd >= 0)
				close(fd);
			return 403;
		}
		close(fd);
		return FO_DIR;
	}
	if (fstat(fd, st) < 0) {
		*err = -errno;
		ret = 500;
	} else if (S_ISDIR(st->st_mode)) {
		ret = FO_DIR;
	} else if (!S_ISREG(st->st_mode)) {
		ret = FO_SPECIAL;
	} else if (fcntl(fd, F_SETFL, 0) < 0) { /* clears O_NONBLOCK */
		*err = -errno;
		ret = 500;
	}
	if (ret != FO_FILE) {
		close(fd);
		return ret;
	}
	*fdp = fd;
	return FO_FILE;
}

/* Resolves rq->path to a regular file: FO_FILE with *fdp, *st and the resolved path in
 * pbuf[0..*plen) (with the index name, for the MIME type); else a status (301 included).
 * *cacheable is cleared when the result depends on more than the path (see below). */
static unsigned file_resolve(const struct file_root *r, const struct file_req *rq, char *pbuf,
			     size_t *plen, int *fdp, struct stat *st, int *err, bool *cacheable)
{
	size_t n = rq->path_len;
	bool dir_req = n == 0 || rq->path[n - 1] == '/';
	bool url_slash = rq->url_path_len ? rq->url_path[rq->url_path_len - 1] == '/' : dir_req;
	bool is_dir = false;
	unsigned k;

	memcpy(pbuf, rq->path, n);
	pbuf[n] = '\0';
	*err = 0;
	if (!dir_req || !url_slash) {
		k = file_open_at(r, n ? pbuf : ".", fdp, st, err);
		if (k == FO_FILE) {
			*plen = n;
			return FO_FILE;
		}
		if (k != FO_DIR)
			return k == FO_SPECIAL ? 403 : k;
		if (!url_slash)
			return rq->url_path_len ? 301 : 403;
		/* The URL ends in '/' but the path does not (the caller normalised it away):
		 * serve the directory's index, but do not cache what "a" means. */
		*cacheable = false;
		pbuf[n++] = '/';
		pbuf[n] = '\0';
		is_dir = true;
	}
	for (unsigned i = 0; i < r->nindex; i++) {
		size_t il = strlen(r->index[i]);

		memcpy(pbuf + n, r->index[i], il + 1);
		k = file_open_at(r, pbuf, fdp, st, err);
		if (k == FO_FILE) {
			*plen = n + il;
			return FO_FILE;
		}
		if (k == FO_DIR || k == FO_SPECIAL || *err == -ENOENT)
			continue;
		return k;
	}
	pbuf[n] = '\0';
	if (is_dir)
		return 403;
	/* No index: 403 for a directory, 404 when there is none. */
	k = file_open_at(r, n ? pbuf : ".", fdp, st, err);
	if (k == FO_FILE) {
		close(*fdp);
		return 404;
	}
	return k == FO_DIR || k == FO_SPECIAL ? 403 : k;
}

/* ---- Open-file cache ---------------------------------------------------------------- */

int file_cache_init(struct file_cache *c, unsigned slots, unsigned ttl_ms)
{
	uint32_t n = FILE_CACHE_WAYS;

	memset(c, 0, sizeof(*c));
	while (n < slots && n < (1u << 20))
		n *= 2;
	c->slot = calloc(n, sizeof(*c->slot));
	if (!c->slot)
		return -ENOMEM;
	c->nsets = n / FILE_CACHE_WAYS;
	c->ttl_ms = ttl_ms;
	return 0;
}

void file_release(struct file_ent *e)
{
	if (!e || --e->refs > 0)
		return;
	close(e->fd);
	free(e);
}

static void file_cache_unlink(struct file_cache *c, uint32_t idx)
{
	struct file_ent *e = c->slot[idx];

	c->slot[idx] = NULL;
	e->linked = false;
	file_release(e);
}

void file_cache_destroy(struct file_cache *c)
{
	if (!c->slot)
		return;
	for (uint32_t i = 0; i < c->nsets * FILE_CACHE_WAYS; i++)
		if (c->slot[i])
			file_cache_unlink(c, i);
	free(c->slot);
	c->slot = NULL;
}

static uint32_t file_key_hash(int root_fd, const char *p, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)root_fd;

	h *= 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

/* The slot holding the key, or -1. */
static int64_t file_cache_find(const struct file_cache *c, int root_fd, uint32_t h,
			       const char *p, size_t n)
{
	uint32_t base = (h & (c->nsets - 1)) * FILE_CACHE_WAYS;

	for (uint32_t i = base; i < base + FILE_CACHE_WAYS; i++) {
		const struct file_ent *e = c->slot[i];

		if (e && e->hash == h && e->root_fd == root_fd && e->key_len == n &&
		    memcmp(e->key, p, n) == 0)
			return i;
	}
	return -1;
}

/* Links e into its set (the cache takes a reference), evicting the least recently used
 * entry of a full set. */
static void file_cache_insert(struct file_cache *c, struct file_ent *e)
{
	uint32_t base = (e->hash & (c->nsets - 1)) * FILE_CACHE_WAYS, victim = base;

	for (uint32_t i = base; i < base + FILE_CACHE_WAYS; i++) {
		if (!c->slot[i]) {
			victim = i;
			goto out_link;
		}
		if (c->slot[i]->used_ms < c->slot[victim]->used_ms)
			victim = i;
	}
	file_cache_unlink(c, victim);
	c->evicted++;
out_link:
	c->slot[victim] = e;
	e->linked = true;
	e->refs++;
}

/* A new entry holding fd, with one reference (the caller's). NULL when out of memory. */
static struct file_ent *file_ent_new(int fd, const struct stat *st, int root_fd, uint32_t h,
				     const char *key, size_t key_len, const char *type,
				     uint64_t now_ms)
{
	struct file_ent *e = malloc(sizeof(*e) + key_len);

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->refs = 1;
	e->root_fd = root_fd;
	e->hash = h;
	e->checked_ms = now_ms;
	e->used_ms = now_ms;
	e->dev = (uint64_t)st->st_dev;
	e->ino = (uint64_t)st->st_ino;
	e->size = (uint64_t)st->st_size;
	e->mtime = (int64_t)st->st_mtim.tv_sec;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->type = type;
	e->etag_len = (uint8_t)snprintf(e->etag, sizeof(e->etag),
					"\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", e->ino, e->size,
					(uint64_t)e->mtime_ns);
	e->key_len = (uint16_t)key_len;
	memcpy(e->key, key, key_len);
	return e;
}

static bool file_ent_same(const struct file_ent *e, const struct stat *st)
{
	return e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino &&
	       e->size == (uint64_t)st->st_size &&
	       e->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Finds or opens the file for rq: FO_FILE with *ep holding one reference, or a status. */
static unsigned file_lookup(struct file_cache *c, const struct file_root *r,
			    const struct mime_table *mime, const struct file_req *rq,
			    struct file_ent **ep, int *err)
{
	bool dir_req = rq->path_len == 0 || rq->path[rq->path_len - 1] == '/';
	bool url_slash = rq->url_path_len == 0 || rq->url_path[rq->url_path_len - 1] == '/';
	/* A directory path whose URL lacks the slash (Alias /static -> "" for "/static") is a
	 * 301, never the cached index of the same path reached as "/static/". */
	bool cacheable = c && c->slot && rq->path_len <= FILE_CACHE_KEY_MAX &&
			 !(dir_req && !url_slash);
	uint32_t h = file_key_hash(r->fd, rq->path, rq->path_len);
	int64_t idx = cacheable ? file_cache_find(c, r->fd, h, rq->path, rq->path_len) : -1;
	struct file_ent *e = idx >= 0 ? c->slot[idx] : NULL;
	char pbuf[PATH_MAX];
	struct stat st;
	size_t plen = 0;
	unsigned k;
	int fd = -1;

	if (e && rq->now_ms - e->checked_ms < c->ttl_ms) {
		c->hits++;
		goto out_use;
	}
	k = file_resolve(r, rq, pbuf, &plen, &fd, &st, err, &cacheable);
	if (e && k == FO_FILE && file_ent_same(e, &st)) {
		close(fd);
		c->revalidated++;
		e->checked_ms = rq->now_ms;
		goto out_use;
	}
	if (e) {
		file_cache_unlink(c, (uint32_t)idx);
		c->replaced++;
	} else if (c) {
		c->misses++;
	}
	if (k != FO_FILE)
		return k;
	e = file_ent_new(fd, &st, r->fd, h, rq->path, cacheable ? rq->path_len : 0,
			 mime_lookup(mime, pbuf, plen), rq->now_ms);
	if (!e) {
		close(fd);
		*err = -ENOMEM;
		return 503;
	}
	if (cacheable)
		file_cache_insert(c, e);
	*ep = e;
	return FO_FILE;

out_use:
	e->used_ms = rq->now_ms;
	e->refs++;
	*ep = e;
	return FO_FILE;
}

/* ---- Conditionals and the head -------------------------------------------------------- */

/* 1 if a tag of the field's lines matches, 0 if none, -1 if the field is to be ignored. */
static int file_list_match(const struct file_val *v, unsigned n, const struct file_ent *e,
			   bool strong)
{
	int m = 0;

	if (n > FILE_LIST_MAX)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		int k = file_etag_match(v[i].p, v[i].len, e->etag, e->etag_len, strong);

		if (k < 0)
			return -1;
		m |= k;
	}
	return m;
}

/* RFC 9110 section 13.2.2, steps 1 to 4: 412, 304 or 0 (go on). */
static unsigned file_preconditions(const struct file_cond *c, const struct file_ent *e,
				   int64_t lastmod, int64_t now)
{
	int64_t t;

	if (c->n_if_match) {
		if (file_list_match(c->if_match, c->n_if_match, e, true) == 0)
			return 412;
	} else if (c->if_unmodified_since.p) {
		if (file_date_parse(c->if_unmodified_since.p, c->if_unmodified_since.len, now,
				    &t) == 0 &&
		    lastmod > t)
			return 412;
	}
	if (c->n_if_none_match) {
		if (file_list_match(c->if_none_match, c->n_if_none_match, e, false) == 1)
			return 304;
	} else if (c->if_modified_since.p) {
		if (file_date_parse(c->if_modified_since.p, c->if_modified_since.len, now, &t) ==
			    0 &&
		    t <= now && lastmod <= t)
			return 304;
	}
	return 0;
}

bool file_if_range(const char *v, size_t len, const char *etag, size_t etag_len,
		   int64_t lastmod, int64_t now)
{
	int64_t t;

	if (!v)
		return false;
	if (len >= 2 && v[0] == 'W' && v[1] == '/')
		return false; /* a weak entity tag never matches (RFC 9110 section 13.1.5) */
	if (len >= 1 && v[0] == '"')
		return len == etag_len && memcmp(v, etag, etag_len) == 0;
	return file_date_parse(v, len, now, &t) == 0 && t == lastmod;
}

struct file_buf {
	char *p;
	size_t cap;
	size_t len;
	bool over;
};

static void file_put(struct file_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void file_put(struct file_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->over = true;
	else
		b->len += (size_t)n;
}

/* Location of a 301: url_path + "/" [+ "?" + query], bytes outside visible ASCII encoded.
 * Leading slashes are collapsed to one and a backslash in the path is encoded, so the
 * reference can never be read as "//host" (an open redirect). */
static void file_location(struct file_buf *b, const struct file_req *rq)
{
	static const char hex[] = "0123456789ABCDEF";

	file_put(b, "Location: ");
	for (uint32_t part = 0; part < 2; part++) {
		const char *s = part ? rq->query : rq->url_path;
		uint32_t n = part ? rq->query_len : rq->url_path_len;

		if (part && !rq->has_query)
			break;
		if (part)
			file_put(b, "?");
		while (!part && n > 1 && s[0] == '/' && s[1] == '/') {
			s++;
			n--;
		}
		for (uint32_t i = 0; i < n && s; i++) {
			unsigned char ch = (unsigned char)s[i];

			if (ch > 0x20 && ch < 0x7f && (part || ch != '\\'))
				file_put(b, "%c", ch);
			else
				file_put(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
		}
		if (!part)
			file_put(b, "/");
	}
	file_put(b, "\r\n");
}

static void file_head(struct file_buf *b, unsigned status, const struct file_req *rq,
		      const struct file_ent *e, int64_t lastmod, uint64_t off, uint64_t len)
{
	char date[FILE_DATE_LEN + 1], lm[FILE_DATE_LEN + 1];

	file_date_format(rq->now, date);
	file_date_format(lastmod, lm);
	file_put(b, "HTTP/1.1 %u %s\r\nDate: %s\r\n", status, http_status_text(status), date);
	if (status != 304) {
		file_put(b, "Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\n", e->type, len);
		if (status == 206)
			file_put(b, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
				 off, off + len - 1, e->size);
	}
	file_put(b, "Last-Modified: %s\r\nETag: %s\r\n", lm, e->etag);
	if (status != 304)
		file_put(b, "Accept-Ranges: bytes\r\n");
	if (rq->close)
		file_put(b, "Connection: close\r\n");
	else if (rq->keep_alive_10)
		file_put(b, "Connection: keep-alive\r\n");
	file_put(b, "\r\n");
}

int file_serve(struct file_cache *cache, const struct file_root *root,
	       const struct mime_table *mime, const struct file_req *rq0, char *buf, size_t cap,
	       struct file_reply *out)
{
	struct file_buf b = { .p = buf, .cap = cap };
	struct file_req rq = *rq0;
	struct file_ent *e = NULL;
	uint64_t off = 0, len;
	int64_t lastmod;
	unsigned k;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->extra = "";
	if (rq.now <= 0)
		rq.now = (int64_t)time(NULL);
	if (!rq.path) {
		rq.path = "";
		rq.path_len = 0;
	}
	if (!rq.url_path)
		rq.url_path_len = 0;
	if (rq.meth != HTTP_METHOD_GET && rq.meth != HTTP_METHOD_HEAD) {
		out->status = 405;
		out->extra = "Allow: GET, HEAD\r\n";
		out->extra_len = (uint32_t)strlen(out->extra);
		return 0;
	}
	if (file_path_check(rq.path, rq.path_len) < 0) {
		out->status = 404;
		return 0;
	}
	k = file_lookup(cache, root, mime, &rq, &e, &out->err);
	if (k != FO_FILE) {
		out->status = (uint16_t)k;
		if (k == 301)
			goto out_extra;
		return 0;
	}
	out->size = e->size;
	len = e->size;
	lastmod = e->mtime < rq.now ? e->mtime : rq.now;
	k = file_preconditions(&rq.cond, e, lastmod, rq.now);
	if (k == 412) {
		out->status = 412;
		goto out_release;
	}
	if (k == 0 && rq.meth == HTTP_METHOD_GET && rq.cond.range.p &&
	    (!rq.cond.if_range.p || file_if_range(rq.cond.if_range.p, rq.cond.if_range.len, e->etag,
					      e->etag_len, lastmod, rq.now))) {
		switch (file_range_parse(rq.cond.range.p, rq.cond.range.len, e->size, &off, &len)) {
		case FILE_RANGE_ONE:
			k = 206;
			break;
		case FILE_RANGE_UNSATISFIABLE:
			out->status = 416;
			goto out_extra;
		case FILE_RANGE_IGNORE:
			off = 0;
			len = e->size;
			break;
		}
	}
	out->status = (uint16_t)(k ? k : 200);
	file_head(&b, out->status, &rq, e, lastmod, off, len);
	if (b.over)
		goto out_nospc;
	out->head_len = (uint32_t)b.len;
	if (out->status == 304 || rq.meth == HTTP_METHOD_HEAD || len == 0)
		goto out_release;
	out->ent = e;
	out->fd = e->fd;
	out->offset = off;
	out->length = len;
	return 0;

out_extra:
	if (out->status == 301)
		file_location(&b, &rq);
	else
		file_put(&b, "Content-Range: bytes */%" PRIu64 "\r\n", e->size);
	if (b.over)
		goto out_nospc;
	out->extra = buf;
	out->extra_len = (uint32_t)b.len;
out_release:
	file_release(e);
	return 0;

out_nospc:
	file_release(e);
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->extra = "";
	return -ENOSPC;
}
