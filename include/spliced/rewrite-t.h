/* Types of the mod_rewrite engine (src/rewrite.c) and its compiler (src/rwcompile.c).
 * Types only. The compiled program lives inside struct config (config.rw); a worker owns
 * one struct rw_ctx (opaque: scratch buffers and PCRE2 match data). */
#ifndef SPLICED_REWRITE_T_H
#define SPLICED_REWRITE_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pcre2_real_code_8;  /* pcre2_code, without dragging pcre2.h into every file */

#define RW_NBACKREF 10         /* $0..$9, %0..%9 */
#define RW_PATH_MAX 8192       /* a decoded URL-path, an expanded string, a query */
#define RW_MAP_DEPTH 4         /* ${map:${map:...}} nesting */
#define RW_MAX_ROUNDS 10000    /* [N] rounds (Apache's REWRITE_MAX_ROUNDS); then 500 */
#define RW_NAME_MAX 64         /* RewriteMap names */

/* What rw_apply() decided; see rewrite.h for what the caller does with each. */
enum rw_kind {
	RW_NONE = 0,   /* nothing changed: route the original request-target */
	RW_URL,        /* the URL-path (and/or query) was rewritten: route `out` */
	RW_PROXY,      /* [P]: send `out` to cfg->backend[backend] */
	RW_FILE,       /* a filesystem path: serve `out` under cfg->file_root[root] */
	RW_REDIRECT,   /* external redirect: `status` with Location `out` */
	RW_STATUS,     /* answer `status` (403 [F], 410 [G], R=4xx, 400, 404, 500) */
};

/* ---- the compiled program ---- */

/* A template (a substitution, a condition's TestString, a map key or default) is a run of
 * tokens. A MAP token is followed by its key's tokens (keyspan of them) and then its
 * default's; `span` counts the token and everything nested in it, so a walker steps
 * over a whole map with i += tok.span. */
enum rw_tok_type {
	RW_TK_TEXT = 1,   /* literal text of the configuration, str[off..off+len) */
	RW_TK_QUOTED,     /* one "\x" character: literal, but a '?' never splits the query */
	RW_TK_RULEREF,    /* $N (arg = N) */
	RW_TK_CONDREF,    /* %N (arg = N) */
	RW_TK_VAR,        /* %{NAME}, arg = enum rw_var */
	RW_TK_HEADER,     /* %{HTTP:Name}, name at str[off..off+len) */
	RW_TK_MAP,        /* ${name:key|default}; name at str[off..off+len) until resolved */
};

enum rw_var {
	RW_V_EMPTY = 0,   /* unknown, ENV:, SSL:, REMOTE_USER ... : "" */
	RW_V_HTTP_HOST, RW_V_REQUEST_URI, RW_V_QUERY_STRING, RW_V_THE_REQUEST,
	RW_V_REQUEST_METHOD, RW_V_REQUEST_SCHEME, RW_V_SERVER_PROTOCOL, RW_V_REMOTE_ADDR,
	RW_V_REMOTE_PORT, RW_V_SERVER_PORT, RW_V_SERVER_NAME, RW_V_SERVER_SOFTWARE,
	RW_V_REQUEST_FILENAME, RW_V_HTTPS, RW_V_IS_SUBREQ, RW_V_IPV6, RW_V_TIME,
	RW_V_TIME_YEAR, RW_V_TIME_MON, RW_V_TIME_DAY, RW_V_TIME_HOUR, RW_V_TIME_MIN,
	RW_V_TIME_SEC, RW_V_TIME_WDAY, RW_V_DOCUMENT_ROOT,
	RW_V_COUNT,
};

struct rw_tok {
	uint8_t type;        /* enum rw_tok_type */
	uint8_t arg;
	uint16_t map;        /* RW_TK_MAP: index into rw_prog.map once resolved */
	uint32_t off, len;   /* into rw_prog.str */
	uint32_t span;
	uint32_t keyspan;    /* RW_TK_MAP: tokens of the key; the rest are the default */
	bool has_default;
};

struct rw_tpl {
	uint32_t first;      /* into rw_prog.tok */
	uint32_t n;          /* tokens at all nesting levels */
};

enum rw_cond_op {
	RW_OP_REGEX = 1,
	RW_OP_STR_LT, RW_OP_STR_LE, RW_OP_STR_EQ, RW_OP_STR_GT, RW_OP_STR_GE,
	RW_OP_INT_LT, RW_OP_INT_LE, RW_OP_INT_EQ, RW_OP_INT_GT, RW_OP_INT_GE,
	RW_OP_FILE, RW_OP_DIR, RW_OP_SIZE,   /* -f -d -s */
};

struct rw_cond {
	struct rw_tpl test;
	struct pcre2_real_code_8 *re;   /* RW_OP_REGEX */
	uint32_t pat_off, pat_len;      /* the CondPattern as written, for traces */
	uint32_t arg_off, arg_len;      /* the operand: regex / string after the operator */
	int64_t num;                    /* RW_OP_INT_*: the operand as Apache's atoi() */
	uint32_t line;
	uint8_t op;                     /* enum rw_cond_op */
	bool negate, nocase, ornext;
};

/* Rule flags */
#define RWF_LAST      (1u << 0)   /* L */
#define RWF_END       (1u << 1)   /* END */
#define RWF_CHAIN     (1u << 2)   /* C */
#define RWF_NEXT      (1u << 3)   /* N */
#define RWF_PROXY     (1u << 4)   /* P */
#define RWF_PT        (1u << 5)   /* PT */
#define RWF_NOCASE    (1u << 6)   /* NC */
#define RWF_NE        (1u << 7)   /* NE */
#define RWF_QSA       (1u << 8)   /* QSA */
#define RWF_QSD       (1u << 9)   /* QSD */
#define RWF_B         (1u << 10)  /* B, B=list, BCTLS, BNE=list: escape backreferences */
#define RWF_BNP       (1u << 11)  /* BNP: a space in a backreference is %20, not '+' */
#define RWF_REDIRECT  (1u << 12)  /* R with a 3xx status */
#define RWF_STATUS    (1u << 13)  /* F, G, R=4xx/5xx: answer `status`, stop */
#define RWF_NOSUB     (1u << 14)  /* substitution "-" (or dropped by a status flag) */
#define RWF_NEGATE    (1u << 15)  /* "!pattern" */

struct rw_rule {
	struct pcre2_real_code_8 *re;
	struct rw_tpl sub;              /* substitution; for [P] the part after the authority */
	uint32_t pat_off, pat_len;      /* the pattern as written (with its '!') */
	uint32_t sub_off, sub_len;      /* the substitution as written */
	uint32_t cond_first, ncond;     /* into rw_prog.cond */
	uint32_t flags;                 /* RWF_* */
	uint32_t max_rounds;            /* N=n, default RW_MAX_ROUNDS */
	uint32_t line;
	uint16_t status;                /* RWF_REDIRECT / RWF_STATUS */
	uint16_t skip;                  /* S=n */
	uint16_t scope;                 /* 0 = main server, else the <VirtualHost> */
	int16_t backend;                /* [P]: index into config.backend */
	int16_t root;                   /* filesystem substitution: index into config.file_root */
	uint16_t root_len;              /* bytes of the expansion before the relative path */
	uint8_t bset[32];               /* bytes [B] escapes in backreferences */
};

enum rw_map_type { RW_MAP_ESCAPE = 1, RW_MAP_UNESCAPE, RW_MAP_TOLOWER, RW_MAP_TOUPPER, RW_MAP_TXT };

struct rw_map {
	char name[RW_NAME_MAX];
	uint16_t scope;
	uint8_t type;                   /* enum rw_map_type */
	uint32_t first, n;              /* RW_MAP_TXT: entries, sorted by key */
};

struct rw_ment {
	uint32_t key_off, key_len;
	uint32_t val_off, val_len;
};

/* Everything the rewrite directives compiled to; built by rw_*_add() during the config
 * parse, immutable afterwards, freed by rw_prog_free(). Arrays grow with realloc while
 * parsing, so everything refers to everything else by index. */
struct rw_prog {
	struct rw_rule *rule;
	struct rw_cond *cond;
	struct rw_tok *tok;
	struct rw_map *map;
	struct rw_ment *ment;
	char *str;                      /* texts: patterns, literals, names, map data */
	uint32_t nrule, ncond, ntok, nmap, nment, nstr;
	uint32_t caprule, capcond, captok, capmap, capment, capstr;
	uint32_t pending;               /* RewriteConds waiting for their RewriteRule */
	uint16_t pending_scope;
	uint32_t pending_line;
	/* Per scope, the rules that run in order (own, then inherited): list[lfirst[s] ..
	 * lfirst[s] + ln[s]). Built by rw_prog_finish(). */
	uint32_t *list;
	uint32_t *lfirst, *ln;
	uint32_t nscope;
	bool has_fs_cond;               /* some condition uses -f/-d/-s */
};

/* ---- the interface of one decision ---- */

/* Looks up a request header by name (case-insensitive); NULL when absent. */
typedef const char *rw_header_fn(void *opaque, const char *name, size_t name_len,
				 size_t *value_len);

/* One request, as received. Spans need not be NUL-terminated. */
struct rw_input {
	const char *method;  size_t method_len;
	const char *path;    size_t path_len;     /* escaped, as received, without the query */
	const char *query;   size_t query_len;    /* without the '?' */
	bool has_query;
	const char *host;    size_t host_len;     /* Host value or the absolute-form authority;
						   * NULL = none (HTTP/1.0) */
	const char *request_line; size_t request_line_len;  /* THE_REQUEST, no CRLF */
	const char *remote_addr;  size_t remote_addr_len;   /* client IP as text */
	uint16_t remote_port;
	uint16_t server_port;                     /* local port the request came in on */
	bool https;                               /* it came over TLS: %{HTTPS} is "on" */
	rw_header_fn *header;                     /* may be NULL: every header is absent */
	void *opaque;
	/* Where `out` is written (NUL-terminated); NULL = a buffer in the rw_ctx, valid until
	 * the next rw_apply() with that ctx. */
	char *dst;
	size_t dst_cap;
};

struct rw_result {
	enum rw_kind kind;
	uint16_t status;          /* REDIRECT: 301/302/303/307/308/3xx; STATUS: 4xx/5xx */
	int16_t backend;          /* PROXY: index into config.backend; else -1 */
	int16_t root;             /* FILE: index into config.file_root; else -1 */
	uint16_t scope;           /* the <VirtualHost> chosen (0: main server), always set */
	int32_t rule;             /* index into config.rw.rule of the deciding rule, or -1 */
	bool passthrough;         /* URL: the rule had [PT] */
	const char *out;          /* see enum rw_kind; NULL for NONE and STATUS */
	size_t out_len;
	size_t path_len;          /* URL/PROXY/REDIRECT: bytes of `out` before its '?' */
};

/* Trace sink: one line of mod_rewrite's trace (level 1..8), without newline. */
typedef void rw_trace_fn(void *opaque, unsigned level, const char *line);

struct rw_ctx;

#endif
