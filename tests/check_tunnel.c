/* The pure parts of protocol upgrades (src/tunnel.c): which protocol of a request's Upgrade
 * a route lets through, and whether a backend's 101 confirms it. Inputs end right before
 * an unreadable page (tests/guard.h). */
#include <check.h>
#include <string.h>

#include "guard.h"
#include "spliced/tunnel.h"
#include "suite.h"

/* The element tunnel_pick() chose, as text ("" when none). */
static const char *pick(const char *upgrade, const char *allowed)
{
	static char out[128];
	size_t n = strlen(upgrade);
	const char *v = guard_at_end(upgrade, n);
	struct http_span el;

	if (!tunnel_pick(v, n, allowed, &el))
		return "";
	memcpy(out, v + el.off, el.len);
	out[el.len] = '\0';
	return out;
}

static bool confirms(const char *resp_upgrade, const char *proto)
{
	size_t n = strlen(resp_upgrade);

	return tunnel_confirms(guard_at_end(resp_upgrade, n), n, proto, strlen(proto));
}

START_TEST(test_pick)
{
	ck_assert_str_eq(pick("websocket", "websocket"), "websocket");
	ck_assert_str_eq(pick("WebSocket", "websocket"), "WebSocket");
	/* the client's order of preference, its version kept */
	ck_assert_str_eq(pick("foo/2, websocket/13", "websocket,foo"), "foo/2");
	ck_assert_str_eq(pick(" , websocket ,", "websocket"), "websocket");
	/* not allowed on the route, or not at all */
	ck_assert_str_eq(pick("websocket", "foo"), "");
	ck_assert_str_eq(pick("websock", "websocket"), "");
	ck_assert_str_eq(pick("websocketx", "websocket"), "");
	ck_assert_str_eq(pick("", "websocket"), "");
	/* h2c never, whatever the route says */
	ck_assert_str_eq(pick("h2c", "h2c,websocket"), "");
	ck_assert_str_eq(pick("h2c, websocket", "h2c,websocket"), "websocket");
}
END_TEST

START_TEST(test_confirms)
{
	ck_assert(confirms("websocket", "websocket"));
	ck_assert(confirms("WebSocket", "websocket/13"));
	ck_assert(confirms(" websocket ", "WebSocket"));
	ck_assert(!confirms("foo", "websocket"));
	ck_assert(!confirms("", "websocket"));
	/* exactly one protocol: a 101 may not add layers the client never asked for */
	ck_assert(!confirms("websocket, foo", "websocket"));
	ck_assert(!confirms("foo, websocket", "websocket"));
}
END_TEST

int main(void)
{
	const struct ck_case cases[] = {
		{ "pick", test_pick, 0 },
		{ "confirms", test_confirms, 0 },
	};
	Suite *s = suite_create("tunnel");

	ck_add_cases(s, cases, CK_N(cases), 0, NULL, NULL);
	return ck_run_suite(s);
}
