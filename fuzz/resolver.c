/* The resolver of every fuzz target (linked into each by the Makefile): a fuzzer that
 * reaches "ProxyPass / http://somename/" must not wait on DNS, and its run must not depend
 * on the network. Every name resolves to 127.0.0.1, or fails when it contains "fail" so
 * the error path is reached too. */
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	struct {
		struct addrinfo ai;
		struct sockaddr_in sin;
	} *r;

	(void)service;
	(void)hints;
	if (!node || strstr(node, "fail"))
		return EAI_NONAME;
	r = calloc(1, sizeof(*r));
	if (!r)
		return EAI_MEMORY;
	r->sin.sin_family = AF_INET;
	r->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->ai.ai_family = AF_INET;
	r->ai.ai_socktype = SOCK_STREAM;
	r->ai.ai_addr = (struct sockaddr *)&r->sin;
	r->ai.ai_addrlen = sizeof(r->sin);
	*res = &r->ai;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	free(res);
}
