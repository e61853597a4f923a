/* Static files sent to the client: the response head made by src/file.c (conditional
 * requests, Range, MIME type), then the bytes with sendfile(2) (src/relay.c); and a local
 * ErrorDocument, served like httpd's internal redirect. Every function returns what
 * conn.c is to do next. */
#ifndef SPLICED_FILESEND_H
#define SPLICED_FILESEND_H

#include <stdbool.h>
#include <stdint.h>

#include "spliced/conn-t.h"
#include "spliced/file-t.h"

/* Serves the URL-path of the current request below root, from byte `rel` of the path
 * (Alias, DocumentRoot). */
enum conn_ev filesend_url(struct conn *c, const struct file_root *root, uint32_t rel);

/* Serves path[0..len) (decoded, relative) beneath root; path may live in c->rbuf's first
 * half. */
enum conn_ev filesend_path(struct conn *c, const struct file_root *root, const char *path,
			   uint32_t len);

/* ErrorDocument CODE /local/path: the file that path maps to (Alias, DocumentRoot) is
 * sent with the error's status. False when there is no such regular file (the caller
 * sends its built-in page); true with *ev otherwise. The connection closes after, unless
 * c->page_keep. */
bool filesend_errdoc(struct conn *c, unsigned status, const char *url, enum conn_ev *ev);

/* The completion of an operation of CS_FILE_HEAD or CS_FILE_BODY. */
enum conn_ev filesend_complete(struct conn *c, int op, int res);

#endif
