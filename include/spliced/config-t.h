/* Types of the configuration (src/config.c). Types only. */
#ifndef SPLICED_CONFIG_T_H
#define SPLICED_CONFIG_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "spliced/accesslog-t.h"
#include "spliced/authz-t.h"
#include "spliced/headers-t.h"
#include "spliced/remoteip-t.h"
#include "spliced/proxyproto-t.h"
#include "spliced/rewrite-t.h"

#define CFG_MAX_LISTEN 16
#define CFG_MAX_BACKENDS 64
#define CFG_MAX_PASS 64
#define CFG_NAME_MAX 256
#define CFG_PATH_MAX 1024
#define CFG_MAX_VHOSTS 64          /* <VirtualHost> sections */
#define CFG_MAX_VNAMES 256         /* ServerAlias names, all sections together */
#define CFG_VHOST_PORTS 8          /* addresses of one <VirtualHost> */
#define CFG_MAX_ERRDOCS 128        /* ErrorDocument lines, all sections together */
#define CFG_MAX_ROOTS 16           /* directories files are served from */

#define CFG_MAX_CUSTOMLOG 4        /* CustomLog + TransferLog lines */
#define CFG_MAX_LOGFORMAT 16       /* LogFormat lines with a nickname */
#define CFG_LOGNAME_MAX 64

#define CFG_MAX_AUTOSTART 16       /* ProxyAutostart lines */
#define CFG_AUTOSTART_ARGV 32      /* words of one backend command */
#define CFG_AUTOSTART_ENV 16       /* Env= options of one ProxyAutostart */
#define CFG_AUTOSTART_TEXT 4096    /* bytes of the command words (NUL-separated) */
#define CFG_AUTOSTART_ENVTEXT 2048 /* bytes of the Env= values (NUL-separated) */

#define CFG_MAX_ALIAS 16
#define CFG_MAX_SRCFILES 32        /* files config_where() can name (main + Include'd) */
#define CFG_WHERE_NOFILE 0xffff    /* cfg_where.file beyond CFG_MAX_SRCFILES */

/* Where a directive was read, for messages after the parse (spliced -t). */
struct cfg_where {
	uint16_t file;                 /* index into config.src_file, or CFG_WHERE_NOFILE */
	uint32_t line;                 /* 0: the directive was not given */
};
#define CFG_MAX_REVERSE 64         /* ProxyPassReverse* lines, all sections together */
#define CFG_MAX_INDEX 8
#define CFG_MAX_PP_EXC 64         /* RemoteIPProxyProtocolExceptions ranges, all lines */

/* Alias URL-PREFIX DIRECTORY */
struct cfg_alias {
	char prefix[CFG_NAME_MAX];     /* normalized URL-path prefix, e.g. "/static/" */
	uint32_t prefix_len;
	char dir[CFG_PATH_MAX];
	struct cfg_where at;
};

/* LogFormat "fmt" nickname */
struct cfg_logformat {
	char name[CFG_LOGNAME_MAX];     /* case-sensitive, as httpd */
	struct alog_format fmt;
};

/* CustomLog path format|nickname, TransferLog path. The file is opened (O_APPEND) by the
 * serving process before privileges are dropped; fmt is compiled and self-contained. */
struct cfg_customlog {
	char path[CFG_PATH_MAX];
	struct alog_format fmt;
	unsigned line;                  /* where it was configured, for messages */
	struct cfg_where at;            /* the same, with the file */
};

struct cfg_listen {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char name[CFG_NAME_MAX];     /* as written, for messages: "127.0.0.1:8080" */
	struct cfg_where at;
	bool https;                  /* Listen ... https (TLS: the <VirtualHost> sections of
				      * its port with SSLEngine on, see tls.h) */
};

/* ProxyPass key=value parameters. They belong to the backend (httpd's "worker" is the
 * backend URL), whichever ProxyPass line gives them. While parsing, 0 (false) is "not
 * given"; after config_parse() every field holds the value in force. */
struct cfg_bparams {
	unsigned timeout_ms;           /* timeout=: each wait on the backend (connect excepted);
					* default ProxyTimeout, else Timeout */
	unsigned connect_timeout_ms;   /* connectiontimeout=: the connect; default timeout= */
	unsigned ttl_ms;               /* ttl=: an idle pooled connection older than this is
					* closed; default CFG_TTL_DEFAULT_MS */
	unsigned max;                  /* max=: connections at once, all workers; 0 = no limit */
	unsigned acquire_ms;           /* acquire=: how long a request waits for one of the max
					* connections (503 after); default timeout= */
	unsigned retry_s;              /* retry=: after a refused or timed-out connect, requests
					* are answered 503 for this long (per worker); 0 = never */
	bool disablereuse;             /* disablereuse=On: no keep-alive pool */
	bool keepalive;                /* keepalive=On: SO_KEEPALIVE on backend sockets */
	bool retry_given;              /* retry= was written (a balancer member's default is
					* 60 s, httpd's; a plain backend's 0) */
};

#define CFG_TTL_DEFAULT_MS 15000   /* ttl= when not given (httpd: no limit) */

/* A distinct backend origin (scheme http, host, port); ProxyPass lines share one entry
 * when they name the same host:port. */
struct cfg_backend {
	struct sockaddr_storage addr;  /* resolved once at load */
	socklen_t addrlen;
	char authority[CFG_NAME_MAX];  /* "host:port" as written in the URL (Host when replaced) */
	char name[CFG_NAME_MAX];       /* "http://host:port", for messages */
	int autostart;                 /* index into config.autostart, -1 = none */
	struct cfg_bparams p;          /* ProxyPass key=value parameters */
	unsigned params_line;          /* the line that gave them; 0 = none did */
};

/* A backend target (cfg_pass.backend, a [P] rule's backend) at or above this names
 * balancer (target - CFG_BALANCER_BASE): a request to it goes to one of its members,
 * chosen per request (src/member.c); below it, config.backend[target]. */
#define CFG_BALANCER_BASE 1024
#define CFG_MAX_BALANCERS 16       /* <Proxy balancer://NAME> pools */
#define CFG_MAX_MEMBERS 16         /* BalancerMember lines of one pool */
#define CFG_ROUTE_MAX 64           /* route= of a member */

enum cfg_lbmethod {
	CFG_LB_BYREQUESTS = 0,         /* weighted round robin (httpd's lbstatus/lbfactor) */
	CFG_LB_BYBUSYNESS,             /* fewest requests in flight, ties by byrequests */
	CFG_LB_BYTRAFFIC,              /* fewest bytes moved, divided by loadfactor */
};

/* status= flags of a member (httpd's letters) */
#define CFG_MEMBER_STANDBY  0x1    /* +H: hot standby, used when no other member can be */
#define CFG_MEMBER_DISABLED 0x2    /* +D: takes no new requests (sticky ones neither) */
#define CFG_MEMBER_STOPPED  0x4    /* +S: takes no requests at all */

enum cfg_hcmethod {
	CFG_HC_NONE = 0,               /* no active health check (hcmethod=None) */
	CFG_HC_TCP,                    /* a connect is enough */
	CFG_HC_OPTIONS,                /* HTTP/1.0 requests: OPTIONS *, HEAD and GET hcuri */
	CFG_HC_HEAD,
	CFG_HC_GET,
};

#define CFG_MAX_HCEXPR 16          /* ProxyHCExpr lines */

/* ProxyHCExpr NAME {EXPR}: which response statuses (100..999) pass a check. Only
 * comparisons of %{REQUEST_STATUS} are understood, so the whole expression is decided
 * at load, once per status. */
struct cfg_hcexpr {
	char name[64];
	uint8_t pass[125];             /* bit s: status s passes */
	unsigned line;
};

/* BalancerMember URL [key=value...]: the member is the backend config.backend[backend]
 * (its pool, max=, retry=, ProxyAutostart); these are the pool's own settings of it. */
struct cfg_member {
	int backend;                   /* index into config.backend */
	unsigned lbfactor;             /* loadfactor=, 1..100, default 1 */
	unsigned status;               /* CFG_MEMBER_* */
	char route[CFG_ROUTE_MAX];     /* route=; "" = none */
	unsigned line;
	/* mod_proxy_hcheck's parameters: active checks, each worker its own (src/hcheck.c) */
	unsigned hcmethod;             /* enum cfg_hcmethod */
	char hcuri[CFG_NAME_MAX];      /* hcuri=: the path checked; "" = "/" */
	unsigned hcinterval_ms;        /* hcinterval= seconds (default 30) */
	unsigned hcpasses;             /* hcpasses= (default 1): passes to come back */
	unsigned hcfails;              /* hcfails= (default 1): failures to leave rotation */
	int hcexpr;                    /* hcexpr=: index into config.hcexpr, -1 = 2xx/3xx pass */
	char hcexpr_name[64];          /* as written, resolved at the end of the file */
};

/* <Proxy balancer://NAME> ... </Proxy>, ProxySet balancer://NAME key=value... */
struct cfg_balancer {
	char name[CFG_NAME_MAX];       /* "balancer://app" (lower case), for messages, metrics */
	struct cfg_member member[CFG_MAX_MEMBERS];
	unsigned nmember;
	unsigned lbmethod;             /* enum cfg_lbmethod (lbmethod=) */
	char sticky_cookie[64];        /* stickysession=NAME or the part before '|'; "" = none */
	char sticky_param[64];         /* the URL parameter: NAME, or the part after '|' */
	bool nofailover;               /* nofailover=On: a sticky request whose member is
					* down fails (503) instead of going to another */
	/* spliced's own (not httpd's): members started and stopped by load, all of them
	 * ProxyAutostart backends (src/ondemand.c) */
	unsigned od_min;               /* ondemandmin=: members kept running; 0 = off */
	unsigned od_wait_ms;           /* ondemandwait=: every running member saturated this
					* long starts the next (default 1000 ms) */
	unsigned od_idle_ms;           /* ondemandidle=: a member beyond the first od_min with
					* no request this long is drained and stopped (60 s) */
	unsigned line;                 /* where it was first named */
};

/* ProxyAutostart URL [Key=Value ...] -- /absolute/command [ARG ...]
 * The backend at URL is started by the privileged helper (src/helper.c) when it refuses
 * connections. The helper names it by its index in config.autostart: nothing else can be
 * started. Every duration is in milliseconds here. */
struct cfg_autostart {
	int backend;                   /* index into config.backend */
	char user[CFG_NAME_MAX];       /* User=; "" = the server's User (nobody) */
	char group[CFG_NAME_MAX];      /* Group=; "" = the server's Group / User's group */
	char dir[CFG_PATH_MAX];        /* Dir=: working directory; "" = "/" */
	char output[CFG_PATH_MAX];     /* Output=: stdout and stderr appended here; "" = the
					* ErrorLog (standard error when there is none) */
	unsigned start_timeout_ms;     /* StartTimeout= / StartTimeout (default 10 s) */
	unsigned backoff_min_ms;       /* RestartBackoff= / RestartBackoff (default 1 s) */
	unsigned backoff_max_ms;       /* (default 60 s) */
	unsigned stop_timeout_ms;      /* StopTimeout=: SIGTERM to SIGKILL (default 5 s) */
	unsigned queue;                /* Queue=: requests waiting per worker (default 256) */
	/* The command: argv[i] = text + argv_off[i], NUL-terminated; argv[0] is absolute. */
	char text[CFG_AUTOSTART_TEXT];
	uint16_t argv_off[CFG_AUTOSTART_ARGV];
	unsigned argc;
	/* Env=NAME=VALUE: env[i] = envtext + env_off[i] ("NAME=VALUE", NUL-terminated). */
	char envtext[CFG_AUTOSTART_ENVTEXT];
	uint16_t env_off[CFG_AUTOSTART_ENV];
	unsigned nenv;
	unsigned line;                 /* where it was configured, for messages */
	struct cfg_where at;           /* the same, with the file */
};

/* ProxyPass PREFIX URL | ProxyPass PREFIX ! */
/* One stage of RequestReadTimeout: `initial_ms` to begin with, one more second for every
 * `rate` bytes received (0: no rate), never more than `max_ms` (0: no bound). Off when
 * initial_ms is 0 (Timeout applies). */
struct cfg_reqtimeout {
	unsigned initial_ms;
	unsigned max_ms;
	unsigned rate;
};

struct cfg_pass {
	char prefix[CFG_NAME_MAX];     /* URL-path prefix, e.g. "/" or "/app/" */
	uint32_t prefix_len;
	char path[CFG_NAME_MAX];       /* path of the backend URL replacing the prefix, e.g. "/" */
	uint32_t path_len;
	int backend;                   /* index into config.backend, or a balancer (from
					* CFG_BALANCER_BASE on); -1 for "!" (not proxied) */
	uint16_t scope;                /* 0: main server; else the <VirtualHost> it is in */
	char upgrade[64];              /* upgrade=: protocols a client may switch to, lower
					* case, comma-separated; "" = none (Upgrade dropped) */
};

enum cfg_reverse_kind {
	CFG_REV_URL = 1,               /* ProxyPassReverse PATH URL */
	CFG_REV_COOKIE_PATH,           /* ProxyPassReverseCookiePath INTERNAL PUBLIC */
	CFG_REV_COOKIE_DOMAIN,         /* ProxyPassReverseCookieDomain INTERNAL PUBLIC */
};

/* A mapping applied to response fields (src/forward.c): `from` is what the backend
 * sends (a URL prefix, a cookie path or domain prefix), `to` what the client sees (a
 * URL-path, a cookie path or domain). */
struct cfg_reverse {
	char from[CFG_NAME_MAX];
	char to[CFG_NAME_MAX];
	uint16_t from_len;
	uint16_t to_len;
	uint8_t kind;                  /* enum cfg_reverse_kind */
	uint16_t scope;                /* 0: main server; else the <VirtualHost> it is in */
};

/* The main server (scope 0) or one <VirtualHost> (scope 1..nscope-1). Unset values of a
 * virtual host fall back to the main server's, as httpd merges server configs. */
struct cfg_scope {
	char server_name[CFG_NAME_MAX]; /* ServerName, host part, lower case; "" = not set */
	uint16_t port[CFG_VHOST_PORTS]; /* <VirtualHost addr:port ...>: the ports */
	uint8_t nport;
	bool any_port;                  /* an address without port, or port '*' */
	int8_t preserve_host;           /* ProxyPreserveHost; -1 = not set */
	int8_t rewrite_engine;          /* RewriteEngine; -1 = not set (main server: off) */
	uint8_t rewrite_inherit;        /* RewriteOptions: 0, CFG_INHERIT, CFG_INHERIT_BEFORE */
	int8_t log_level;               /* LogLevel: enum log_level (log.h); -1 = not set */
	int8_t rewrite_trace;           /* LogLevel rewrite:traceN: 1..8, 0 = off, -1 = not set */
	uint32_t name_first, nname;     /* ServerAlias: config.vname[name_first..+nname) */
	unsigned line;                  /* where the section starts */
};

#define CFG_INHERIT 1                /* the main server's rules run after the vhost's */
#define CFG_INHERIT_BEFORE 2         /* ... before them */

struct cfg_vname {
	char name[CFG_NAME_MAX];        /* lower case; may hold '*' and '?' wildcards */
};

enum cfg_errdoc_kind {
	CFG_ERRDOC_TEXT = 1,            /* a message sent as the body */
	CFG_ERRDOC_LOCAL,               /* a local URL-path, served by an internal redirect */
	CFG_ERRDOC_URL,                 /* an absolute URL: a 302 to it */
};

/* ErrorDocument CODE text|/path|URL, as httpd tells them apart: a value with a space is a
 * message, one starting with '/' a local path, one with "scheme://" a URL, else a message.
 * "ErrorDocument CODE default" removes an entry inherited from the main server. */
struct cfg_errdoc {
	uint16_t code;                  /* 400..599 */
	uint16_t scope;
	uint8_t kind;                   /* enum cfg_errdoc_kind; 0 = "default" */
	char value[CFG_PATH_MAX];
};

/* RemoteIPProxyProtocolExceptions host|range: in the main server (scope 0) or in a
 * <VirtualHost>, for the listeners that section applies to. */
struct cfg_pp_exc {
	struct pp_range r;
	uint16_t scope;
};

struct config {
	struct cfg_listen listen[CFG_MAX_LISTEN];
	unsigned nlisten;
	struct cfg_backend backend[CFG_MAX_BACKENDS];
	unsigned nbackend;
	struct cfg_balancer balancer[CFG_MAX_BALANCERS]; /* balancer:// pools, first named first */
	unsigned nbalancer;
	struct cfg_hcexpr hcexpr[CFG_MAX_HCEXPR]; /* ProxyHCExpr, file order */
	unsigned nhcexpr;
	struct cfg_autostart autostart[CFG_MAX_AUTOSTART]; /* ProxyAutostart, config order */
	unsigned nautostart;
	unsigned start_timeout_ms;     /* StartTimeout: default of ProxyAutostart, 10 s */
	unsigned backoff_min_ms;       /* RestartBackoff MIN [MAX]: defaults, 1 s .. 60 s */
	unsigned backoff_max_ms;
	struct cfg_pass pass[CFG_MAX_PASS];  /* in config order; first matching prefix wins */
	unsigned npass;
	struct cfg_reverse reverse[CFG_MAX_REVERSE]; /* in config order */
	unsigned nreverse;
	bool preserve_host;            /* ProxyPreserveHost, default Off */
	bool keepalive;                /* KeepAlive, default On */
	bool status_brief;             /* ExtendedStatus Off: the status page without its
					* per-worker table and slowest requests */
	bool underscores_in_headers;   /* UnderscoresInHeaders, default Off: names with '_'
					* are not forwarded */
	char user[CFG_NAME_MAX];       /* User; "" = not set */
	char group[CFG_NAME_MAX];      /* Group; "" = not set */
	char error_log[CFG_PATH_MAX];  /* ErrorLog; "" = standard error */
	char pid_file[CFG_PATH_MAX];   /* PidFile, absolute; "" = none */
	unsigned timeout_ms;           /* Timeout, default 60 s */
	unsigned proxy_timeout_ms;     /* ProxyTimeout; 0 = not set (Timeout) */
	unsigned keepalive_timeout_ms; /* KeepAliveTimeout, default 5 s; "ms" suffix allowed */
	unsigned max_keepalive_requests; /* MaxKeepAliveRequests, default 1000, 0 = unlimited */
	unsigned limit_request_line;   /* LimitRequestLine, default 8190 */
	unsigned limit_field_size;     /* LimitRequestFieldSize, default 8190 */
	unsigned limit_fields;         /* LimitRequestFields, default 100 */
	unsigned limit_resp_field_size; /* LimitResponseFieldSize, default 32760 (the whole
					 * response head is at most 32 KiB) */
	unsigned limit_resp_fields;    /* LimitResponseFields, default 500 */
	/* RequestReadTimeout (mod_reqtimeout): header=20-40,MinRate=500 body=20,MinRate=500 */
	struct cfg_reqtimeout rt_header;
	struct cfg_reqtimeout rt_body;
	uint64_t limit_request_body;   /* LimitRequestBody, default 0 = unlimited */
	unsigned max_connections;      /* MaxConnections (all workers), default 4096 */
	unsigned workers;              /* Workers, 0 = number of online CPUs (default) */
	/* Access logs (server level). */
	struct cfg_logformat logformat[CFG_MAX_LOGFORMAT]; /* named LogFormats, file order */
	unsigned nlogformat;
	struct alog_format default_logformat; /* LogFormat without nickname; default common */
	struct cfg_customlog customlog[CFG_MAX_CUSTOMLOG];
	unsigned ncustomlog;
	/* Static files (server level). */
	char document_root[CFG_PATH_MAX]; /* DocumentRoot; "" = none */
	struct cfg_alias alias[CFG_MAX_ALIAS]; /* Alias, longest prefix wins */
	unsigned nalias;
	char dir_index[CFG_MAX_INDEX][64]; /* DirectoryIndex, default index.html */
	unsigned ndir_index;
	char types_config[CFG_PATH_MAX]; /* TypesConfig; "" = /etc/mime.types or built-in */
	bool follow_symlinks;          /* Options FollowSymLinks, default off */
	struct cfg_listen metrics;     /* MetricsListen; addrlen 0 = no metrics endpoint */
	/* Sections and rewriting. scope[0] is the main server; config_vhost() picks one. */
	struct cfg_scope scope[CFG_MAX_VHOSTS + 1];
	unsigned nscope;               /* >= 1 */
	struct cfg_vname vname[CFG_MAX_VNAMES];
	unsigned nvname;
	struct cfg_errdoc errdoc[CFG_MAX_ERRDOCS];
	unsigned nerrdoc;
	/* Directories static files are served from: the literal directory prefix of every
	 * RewriteRule substitution that is a filesystem path (and whatever else registers one
	 * with config_file_root()). Absolute, normalised, no trailing '/' (but "/" itself). */
	char file_root[CFG_MAX_ROOTS][CFG_PATH_MAX];
	unsigned nroot;
	struct rw_prog rw;             /* compiled RewriteRule/RewriteCond/RewriteMap */
	/* Where the server-level directives that start-up acts on were read (the last one of
	 * each); line 0 = not given. */
	struct {
		struct cfg_where document_root, types_config, error_log, pid_file, user, group;
	} at;
	char src_file[CFG_MAX_SRCFILES][CFG_PATH_MAX]; /* the files cfg_where.file names */
	unsigned nsrc_file;
	struct authz authz;            /* <Location> sections and their Require rules */
	struct hdr_conf headers;       /* Header and RequestHeader lines (mod_headers) */
	/* RemoteIPHeader and RemoteIP{Trusted,Internal}Proxy[List] (server level); its
	 * address list is on the heap, freed by config_free(). */
	struct rip_conf remoteip;
	/* RemoteIPProxyProtocol (mod_remoteip) per scope: 0 = not set, 1 = Off, 2 = On. A
	 * <VirtualHost>'s applies to the Listen ports it names; config_proxy_protocol(). */
	uint8_t pp_on[CFG_MAX_VHOSTS + 1];
	struct cfg_pp_exc pp_exc[CFG_MAX_PP_EXC];
	unsigned npp_exc;
	/* SSL* directives (mod_ssl, src/tlsconf.c), on the heap; NULL when there is none */
	struct tls_conf *tls;
};

struct tls_conf;

/* Where a configuration error is. */
struct config_error {
	char file[CFG_PATH_MAX];
	unsigned line;                 /* 0 when the error is not tied to a line */
	char msg[512];
};

#define CFG_MAX_ERRORS 20          /* errors one parse collects before it stops */

/* Every error of a parse, in the order found (config_load_all()). */
struct config_errors {
	struct config_error e[CFG_MAX_ERRORS];
	unsigned n;                    /* entries in e; the parse stopped when it is the bound */
};

#endif
