/* Check suite for src/autostart.c: the wait queue and its retry delays. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/conn-t.h"
#include "spliced/autostart.h"
#include "suite.h"

#define N 8
static struct conn conns[N];
static struct as_queue q;

static void setup(void)
{
	memset(conns, 0, sizeof(conns));
	as_queue_init(&q);
}

/* The queue's order, walked forwards and backwards, must be exactly want[0..n). */
static void ck_order(const unsigned *want, unsigned n)
{
	uint32_t i = q.head, prev = AS_NONE;

	ck_assert_uint_eq(q.n, n);
	for (unsigned k = 0; k < n; k++) {
		ck_assert_uint_eq(i, want[k]);
		ck_assert(conns[i].waiting);
		ck_assert_uint_eq(conns[i].wait_prev, prev);
		prev = i;
		i = conns[i].wait_next;
	}
	ck_assert_uint_eq(i, AS_NONE);
	ck_assert_uint_eq(q.tail, n ? want[n - 1] : AS_NONE);
	if (!n)
		ck_assert_uint_eq(q.head, AS_NONE);
}

START_TEST(test_fifo)
{
	static const unsigned want[] = { 3, 1, 6 };

	ck_assert_ptr_null(as_queue_pop(&q, conns));
	as_queue_push(&q, conns, &conns[3], false);
	as_queue_push(&q, conns, &conns[1], false);
	as_queue_push(&q, conns, &conns[6], false);
	ck_order(want, 3);
	/* a connection already queued is not queued twice */
	as_queue_push(&q, conns, &conns[1], false);
	ck_order(want, 3);
	ck_assert_ptr_eq(as_queue_pop(&q, conns), &conns[3]);
	ck_assert(!conns[3].waiting);
	ck_assert_ptr_eq(as_queue_pop(&q, conns), &conns[1]);
	ck_assert_ptr_eq(as_queue_pop(&q, conns), &conns[6]);
	ck_assert_ptr_null(as_queue_pop(&q, conns));
	ck_order(NULL, 0);
}
END_TEST

START_TEST(test_front)
{
	static const unsigned want[] = { 5, 2, 4 };

	as_queue_push(&q, conns, &conns[2], false);
	as_queue_push(&q, conns, &conns[4], false);
	/* a retried waiter that was refused again keeps its turn */
	as_queue_push(&q, conns, &conns[5], true);
	ck_order(want, 3);
	setup();
	as_queue_push(&q, conns, &conns[7], true);   /* front of an empty queue */
	ck_order((const unsigned[]){ 7 }, 1);
}
END_TEST

START_TEST(test_remove)
{
	for (unsigned i = 0; i < 5; i++)
		as_queue_push(&q, conns, &conns[i], false);
	as_queue_remove(&q, conns, &conns[2]);          /* middle */
	ck_order((const unsigned[]){ 0, 1, 3, 4 }, 4);
	as_queue_remove(&q, conns, &conns[0]);          /* head */
	ck_order((const unsigned[]){ 1, 3, 4 }, 3);
	as_queue_remove(&q, conns, &conns[4]);          /* tail */
	ck_order((const unsigned[]){ 1, 3 }, 2);
	as_queue_remove(&q, conns, &conns[4]);          /* not waiting: nothing changes */
	as_queue_remove(&q, conns, &conns[6]);
	ck_order((const unsigned[]){ 1, 3 }, 2);
	as_queue_remove(&q, conns, &conns[1]);
	as_queue_remove(&q, conns, &conns[3]);
	ck_order(NULL, 0);
	/* and the queue works again after being emptied by removals */
	as_queue_push(&q, conns, &conns[6], false);
	as_queue_push(&q, conns, &conns[0], false);
	ck_order((const unsigned[]){ 6, 0 }, 2);
}
END_TEST

START_TEST(test_retry_delay)
{
	unsigned d = q.delay_ms, seen[8];

	ck_assert_uint_eq(d, AS_RETRY_FIRST_MS);
	for (unsigned i = 0; i < 8; i++)
		seen[i] = d = as_retry_next(d);
	ck_assert_uint_eq(seen[0], 2 * AS_RETRY_FIRST_MS);
	ck_assert_uint_eq(seen[1], 4 * AS_RETRY_FIRST_MS);
	for (unsigned i = 1; i < 8; i++)
		ck_assert_uint_ge(seen[i], seen[i - 1]);
	ck_assert_uint_eq(seen[7], AS_RETRY_MAX_MS);
	ck_assert_uint_eq(as_retry_next(AS_RETRY_MAX_MS), AS_RETRY_MAX_MS);
	ck_assert_uint_eq(as_retry_next(~0u), AS_RETRY_MAX_MS);   /* no overflow */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("autostart");
	const struct ck_case cases[] = {
		{ "fifo", test_fifo, 0 },
		{ "front", test_front, 0 },
		{ "remove", test_remove, 0 },
		{ "retry_delay", test_retry_delay, 0 },
	};

	ck_add_cases(s, cases, CK_N(cases), 0, setup, NULL);
	return ck_run_suite(s);
}
