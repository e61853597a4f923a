/* libFuzzer target for what the status page reads from and shows of a client's request
 * (src/status.c): the query (status_query()), the escaping of a Host or a path
 * (status_html()) and a slow request's record (status_slow_note()). Properties checked:
 * refresh is 0 or 1..3600; the escaped text is printable ASCII without < > " ', every &
 * starts an entity, and unescaping it gives the input back; a record's strings are
 * NUL-terminated prefixes of the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes t holds, unescaped (the entities and \xHH status_html() writes), into out;
 * its length, or (size_t)-1 when t holds anything else. */
static size_t fuzz_unescape(const char *t, size_t len, char *out)
{
	static const struct { const char *ent; char ch; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		{ "&#39;", '\'' },
	};
	size_t i = 0, n = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)t[i];
		size_t k;

		if (ch < 0x20 || ch >= 0x7f || ch == '<' || ch == '>' || ch == '"' || ch == '\'')
			return (size_t)-1;
		if (ch == '&') {
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
				if (strncmp(t + i, ents[k].ent, strlen(ents[k].ent)) == 0)
					break;
			if (k == sizeof(ents) / sizeof(ents[0]))
				return (size_t)-1;
			out[n++] = ents[k].ch;
			i += strlen(ents[k].ent);
		} else if (ch == '\\' && i + 1 < len && t[i + 1] == 'x') {
			char hex[3] = { t[i + 2], i + 3 < len ? t[i + 3] : 0, 0 };
			char *end;
			unsigned long v = strtoul(hex, &end, 16);

			if (i + 3 >= len || end != hex + 2)
				return (size_t)-1;
			out[n++] = (char)v;
			i += 4;
		} else {
			out[n++] = (char)ch;
			i++;
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct status_slow slow;
	const char *s = (const char *)data;
	struct status_req rq;
	struct stats_text t = { malloc(16), 0, 16, false };
	char *back;
	size_t n;

	status_query(s, size, &rq);
	if (rq.refresh > 3600)
		abort();
	if (!t.p)
		return 0;
	status_html(&t, s, size);
	if (t.failed) {
		free(t.p);
		return 0;
	}
	back = malloc(t.len + 1);
	if (!back)
		abort();
	/* a literal "\x" in the input comes out as itself (status_html() leaves '\\' as
	 * it is): the round trip holds only for inputs without one */
	for (size_t i = 0; i < t.len; i++)
		if (t.p[i] < 0x20 || t.p[i] >= 0x7f || strchr("<>\"'", t.p[i]))
			abort();
	if (!memmem(s, size, "\\x", 2)) {
		n = fuzz_unescape(t.p, t.len, back);
		if (n != size || memcmp(back, s, n))
			abort();
	}
	free(back);
	free(t.p);
	status_slow_note(&slow, 1, size, 200, s, size, s, size / 2, s + size / 3,
			 size - size / 3, NULL);
	for (unsigned i = 0; i < STATUS_SLOW_N; i++) {
		const struct status_slow_entry *e = &slow.e[i];

		if (e->end_ms && (strnlen(e->method, sizeof(e->method)) == sizeof(e->method) ||
				  strnlen(e->path, sizeof(e->path)) == sizeof(e->path) ||
				  strnlen(e->host, sizeof(e->host)) == sizeof(e->host)))
			abort();
	}
	return 0;
}
