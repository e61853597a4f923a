/* Access rules of <Location> sections (mod_authz_core, mod_authz_host's Require ip), as
 * httpd 2.4 merges and evaluates them. Pure: parsing fills a struct authz, deciding reads
 * one; no I/O (tests/check_authz.c). */
#ifndef SPLICED_AUTHZ_H
#define SPLICED_AUTHZ_H

#include <stddef.h>

#include "spliced/authz-t.h"

/* Parsing. Each returns 0, or -1 with a message in msg[0..msglen) (no directive name:
 * the caller prefixes it). argv[0] is the directive or section word. */

/* "<Location PATH>" (argv[1] without the '>') in <VirtualHost> `scope`. PATH is a plain
 * prefix; wildcards and "~" (regular expressions) are refused. */
int authz_location_open(struct authz *az, unsigned scope, const char *path, unsigned line,
			char *msg, size_t msglen);
int authz_location_close(struct authz *az, char *msg, size_t msglen);
/* "<RequireAll>", "<RequireAny>", "<RequireNone>" (name without brackets) and their
 * closing tags. */
int authz_section_open(struct authz *az, const char *name, char *msg, size_t msglen);
int authz_section_close(struct authz *az, const char *name, char *msg, size_t msglen);
/* Require [not] all granted|denied, Require [not] ip ADDR[/BITS|/MASK] ... */
int authz_require(struct authz *az, unsigned argc, char **argv, char *msg, size_t msglen);
/* AuthMerging Off|And|Or */
int authz_merging(struct authz *az, const char *arg, char *msg, size_t msglen);

/* "SetHandler NAME" in the open <Location>: server-status or None (case-insensitive, as
 * httpd); any other handler is refused. */
int authz_set_handler(struct authz *az, const char *name, char *msg, size_t msglen);

/* Inside a <Location> section (its directives are the only ones allowed there). */
static inline bool authz_in_location(const struct authz *az)
{
	return az->open;
}

/* Frees the arrays; az is empty (and reusable) after. */
void authz_free(struct authz *az);

/* Deciding. path[0..len) is the request's normalized URL-path (http_path_normalize()),
 * scope its <VirtualHost>, client the client address as text (IPv4 or IPv6; NULL or
 * unparsable: no Require ip holds). The main server's sections apply, then those of the
 * virtual host, each in file order; a section's rules replace what applied before it
 * unless AuthMerging says otherwise. No rule at all: granted. */
void authz_decide(const struct authz *az, unsigned scope, const char *path, size_t len,
		  const char *client, struct authz_result *out);

/* The handler SetHandler gives the normalized path[0..len) in `scope`: the last section
 * that sets one and covers the path, the main server's before the virtual host's (as
 * authz_decide() merges them). Its index in *loc (-1: none); AUTHZ_HANDLER_NONE when no
 * section sets one. */
enum authz_handler authz_handler(const struct authz *az, unsigned scope, const char *path,
				 size_t len, int *loc);

/* Whether the <Location> prefix p[0..plen) covers the normalized path[0..len): a byte
 * prefix (case-sensitive, as httpd) ending at a segment boundary ('/', ';' or the end of
 * the path) unless the prefix ends with '/'. An encoded slash "%2F" in the path counts as
 * a '/' (a backend may decode it). */
bool authz_prefix_match(const char *p, size_t plen, const char *path, size_t len);

/* Parses a Require ip argument (httpd's forms: "10.1.2.3", "10.1" = 10.1.0.0/16,
 * "10.1.0.0/16", "10.1.0.0/255.255.0.0", "2001:db8::/32"). 0, or -1. */
int authz_net_parse(const char *s, struct authz_net *out);

/* A client address (text, IPv4 or IPv6) as a full-length block; an IPv4-mapped IPv6
 * address becomes its IPv4. 0, or -1. */
int authz_addr_parse(const char *s, struct authz_net *out);

/* Whether the address a (from authz_addr_parse()) is in block n. */
bool authz_net_holds(const struct authz_net *n, const struct authz_net *a);

#endif
