/* Zero-copy body relay: socket -> pipe -> socket with non-blocking splice(2), driven by
 * readiness the caller gets from io_uring (IORING_OP_SPLICE would park one io-wq thread
 * per pending transfer; see DESIGN.md). Sockets must be O_NONBLOCK. */
#ifndef SPLICED_RELAY_H
#define SPLICED_RELAY_H

#include "spliced/relay-t.h"

/* A pipe from the pool, created on demand up to RELAY_POOL_MAX; NULL when the pool is
 * exhausted (errno EBUSY) or a pipe cannot be made (errno from pipe2(), e.g. EMFILE, or
 * ENOMEM); the caller copies instead. */
struct relay_pipe *relay_pipe_get(struct relay_pool *pool);

/* Returns a pipe. A pipe that may still hold data (`dirty`) is closed, never reused. */
void relay_pipe_put(struct relay_pool *pool, struct relay_pipe *p, bool dirty);

void relay_pool_destroy(struct relay_pool *pool);

/* Moves as much as the sockets allow now. Never reads more than s->left bytes from
 * s->from. Returns what to wait for before calling again, RELAY_DONE, or a failure. */
enum relay_result relay_pump(struct relay_splice *s);

/* Moves a file's bytes [*off, *off + s->left) from s->from to socket s->to with
 * sendfile(2) (s->pipe is not used). sendfile is the same zero-copy page move as file ->
 * pipe -> socket with splice(2), through the kernel's own per-task pipe, in one system
 * call instead of two: measured 10-15% less CPU per MB at 1 MiB files (README). The file
 * read is synchronous (the page cache, or the disk); the socket write is non-blocking.
 * Returns RELAY_DONE, RELAY_WAIT_OUT, RELAY_EOF (the file is shorter than it was: it was
 * truncated while being sent) or RELAY_ERROR. */
enum relay_result relay_file_pump(struct relay_splice *s, int64_t *off);

#endif
