/* Types of the configuration (src/config.c). Types only. */
#ifndef SPLICED_CONFIG_T_H
#define SPLICED_CONFIG_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define CFG_MAX_LISTEN 16
#define CFG_MAX_BACKENDS 64
#define CFG_MAX_PASS 64
#define CFG_NAME_MAX 256
#define CFG_PATH_MAX 1024

#define CFG_MAX_ALIAS 16
#define CFG_MAX_INDEX 8

/* Alias URL-PREFIX DIRECTORY */
struct cfg_alias {
	char prefix[CFG_NAME_MAX];     /* normalized URL-path prefix, e.g. "/static/" */
	uint32_t prefix_len;
	char dir[CFG_PATH_MAX];
};

struct cfg_listen {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char name[CFG_NAME_MAX];     /* as written, for messages: "127.0.0.1:8080" */
};

/* A distinct backend origin (scheme http, host, port); ProxyPass lines share one entry
 * when they name the same host:port. */
struct cfg_backend {
	struct sockaddr_storage addr;  /* resolved once at load */
	socklen_t addrlen;
	char authority[CFG_NAME_MAX];  /* "host:port" as written in the URL (Host when replaced) */
	char name[CFG_NAME_MAX];       /* "http://host:port", for messages */
};

/* ProxyPass PREFIX URL | ProxyPass PREFIX ! */
struct cfg_pass {
	char prefix[CFG_NAME_MAX];     /* URL-path prefix, e.g. "/" or "/app/" */
	uint32_t prefix_len;
	char path[CFG_NAME_MAX];       /* path of the backend URL replacing the prefix, e.g. "/" */
	uint32_t path_len;
	int backend;                   /* index into config.backend; -1 for "!" (not proxied) */
};

struct config {
	struct cfg_listen listen[CFG_MAX_LISTEN];
	unsigned nlisten;
	struct cfg_backend backend[CFG_MAX_BACKENDS];
	unsigned nbackend;
	struct cfg_pass pass[CFG_MAX_PASS];  /* in config order; first matching prefix wins */
	unsigned npass;
	bool preserve_host;            /* ProxyPreserveHost, default Off */
	bool keepalive;                /* KeepAlive, default On */
	char user[CFG_NAME_MAX];       /* User; "" = not set */
	char group[CFG_NAME_MAX];      /* Group; "" = not set */
	char error_log[CFG_PATH_MAX];  /* ErrorLog; "" = standard error */
	unsigned timeout_ms;           /* Timeout, default 60 s */
	unsigned keepalive_timeout_ms; /* KeepAliveTimeout, default 5 s; "ms" suffix allowed */
	unsigned max_keepalive_requests; /* MaxKeepAliveRequests, default 1000, 0 = unlimited */
	unsigned limit_request_line;   /* LimitRequestLine, default 8190 */
	unsigned limit_field_size;     /* LimitRequestFieldSize, default 8190 */
	unsigned limit_fields;         /* LimitRequestFields, default 100 */
	uint64_t limit_request_body;   /* LimitRequestBody, default 0 = unlimited */
	unsigned max_connections;      /* MaxConnections (all workers), default 4096 */
	unsigned workers;              /* Workers, 0 = number of online CPUs (default) */
	/* Static files (server level). */
	char document_root[CFG_PATH_MAX]; /* DocumentRoot; "" = none */
	struct cfg_alias alias[CFG_MAX_ALIAS]; /* Alias, longest prefix wins */
	unsigned nalias;
	char dir_index[CFG_MAX_INDEX][64]; /* DirectoryIndex, default index.html */
	unsigned ndir_index;
	char types_config[CFG_PATH_MAX]; /* TypesConfig; "" = /etc/mime.types or built-in */
	bool follow_symlinks;          /* Options FollowSymLinks, default off */
};

/* Where a configuration error is. */
struct config_error {
	char file[CFG_PATH_MAX];
	unsigned line;                 /* 0 when the error is not tied to a line */
	char msg[512];
};

#endif
