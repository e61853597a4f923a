/* Head rewriting for both directions of a proxied exchange, without a ring or a socket,
 * so it is unit-tested on its own (tests/check_forward.c). */
#ifndef SPLICED_FORWARD_H
#define SPLICED_FORWARD_H

#include "spliced/forward-t.h"
#include "spliced/http-t.h"

/* Builds the head sent upstream for the request parsed from head[0..req->head_len).
 * The new request line (method, the backend's path for the matched prefix, the rest of the
 * path and the query unchanged, the client's version) is written IN PLACE so that it ends
 * where the received request line ended: it may start up to `headroom` bytes before
 * `head`, which the caller guarantees writable. The received line is destroyed; the
 * fields are not touched. Hop-by-hop fields (Connection and the fields it lists,
 * Keep-Alive, Proxy-Connection, TE, Upgrade, Expect), X-Forwarded-Host/-Proto and, unless
 * preserved, Host are left out; ", client_ip" is appended to the last X-Forwarded-For (or
 * the field is added), then Host, X-Forwarded-Host and X-Forwarded-Proto are added.
 * From a trusted proxy (RemoteIPHeader): with t->xff_cut, only the first t->xff_keep
 * bytes of the last X-Forwarded-For's value stay before client_ip (the addresses of the
 * proxies after the client are left out, as httpd's mod_remoteip does before mod_proxy
 * appends); with t->keep_forwarded, X-Forwarded-Host/-Proto pass and each is added only
 * when the request has none.
 * With t->upgrade_len, "Connection: Upgrade" and "Upgrade: " t->upgrade are added.
 * body[0..body_len) is appended (the body bytes that arrived with the head).
 * Returns 0, or -ENOSPC when the headroom or the added fields do not fit (the caller
 * answers 414/431). *req is not changed, but its method/target/path/host spans point at
 * destroyed bytes afterwards. */
int fwd_request_head(struct fwd_head *out, char *head, size_t headroom,
		     const struct http_request *req, const struct fwd_target *t,
		     const char *body, size_t body_len);

/* The response fields (bits 1 << HTTP_F_*) fwd_response_head() rewrites for rev, for
 * http_parse_response_noting(): none when rev is NULL or has no entry for its scope. */
unsigned fwd_response_kinds(const struct fwd_reverse *rev);

/* Builds the head sent to the client for the response parsed from head[0..resp->head_len):
 * the status line with the version set to HTTP/1.1 (in place), the fields without the
 * hop-by-hop ones (Connection and what it lists, Keep-Alive, Proxy-Connection, Upgrade),
 * then "Connection: close" when close_client, or "Connection: keep-alive" when
 * keep_alive_10 (an HTTP/1.0 client that keeps the connection), then body[0..body_len).
 * With rev (may be NULL), noted Location, Content-Location and URI values are mapped as
 * httpd's ProxyPassReverse does: the first entry whose URL is a case-insensitive prefix of
 * the value (an entry whose "URL" is a path is compared with the value's path) gives
 * "http://" rev->host + PATH + the rest of the value; other values (relative ones among
 * them) pass unchanged. Noted Set-Cookie values have the value of each Path= (Domain=)
 * attribute that starts with a ProxyPassReverseCookiePath (...Domain, any case) INTERNAL
 * replaced by its PUBLIC, whole. The new text is in out->extra, the rest points into head.
 * Returns 0, -E2BIG when the rewritten head does not fit FWD_EXTRA / FWD_MAX_IOV, or
 * -ENOSPC when the head without rewriting does not. */
int fwd_response_head(struct fwd_head *out, char *head, const struct http_response *resp,
		      const struct fwd_reverse *rev, bool close_client, bool keep_alive_10,
		      const char *body, size_t body_len);

/* The same for a 101 (Switching Protocols) response that opens a tunnel: the backend's
 * Upgrade field is kept, the other hop-by-hop fields are left out, "Connection: Upgrade"
 * is added, then body[0..body_len) (the first bytes of the new protocol). 0 or -ENOSPC. */
int fwd_switch_head(struct fwd_head *out, char *head, const struct http_response *resp,
		    const char *body, size_t body_len);

/* Copies the first n bytes of h's head (n <= h->total) to out. */
void fwd_copy(const struct fwd_head *h, char *out, size_t n);

/* Makes text[0..len) then body[0..body_len) the whole head, unsent (text and body must
 * stay valid while h is sent). */
void fwd_replace(struct fwd_head *h, const char *text, size_t len, const char *body,
		 size_t body_len);

/* Moves the unsent part forward by n bytes sent (a short send). */
void fwd_advance(struct fwd_head *h, size_t n);

/* Makes the whole head unsent again (to send it on another connection). */
void fwd_rewind(struct fwd_head *h);

/* The head goes to another backend (a pool's next member): the Host that named backend
 * authority `from` (the string of the configuration fwd_request_head() was given) names
 * `to` instead, and the whole head is unsent again. No Host of ours (ProxyPreserveHost):
 * only the rewind. */
void fwd_retarget(struct fwd_head *h, const char *from, const char *to);

#endif
