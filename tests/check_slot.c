/* Check suite for src/slot.c: the max= connection count, its wait queue and the outcomes,
 * on a worker without a ring (nothing here submits anything). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "spliced/config.h"
#include "spliced/slot.h"
#include "spliced/upstream.h"
#include "spliced/worker-t.h"
#include "suite.h"

#define N 8
static struct config cfg;
static struct worker w;
static struct conn conns[N];
static struct slot_shared shared[2];
static struct slot_shared *shared_of[2] = { &shared[0], &shared[1] };
static struct slot_queue queues[2];
static struct up_pool pools[2];

/* backend 0: max=2 acquire=100; backend 1: no max= */
static void setup(void)
{
	static const char text[] = "ProxyPass /a/ http://127.0.0.1:1/ max=2 acquire=100\n"
				   "ProxyPass /b/ http://127.0.0.1:2/\n";
	struct config_error err;

	config_defaults(&cfg);
	ck_assert_int_eq(config_parse(&cfg, text, sizeof(text) - 1, "t.conf", &err), 0);
	memset(&w, 0, sizeof(w));
	memset(conns, 0, sizeof(conns));
	memset(shared, 0, sizeof(shared));
	w.cfg = &cfg;
	w.conns = conns;
	w.nconns = N;
	w.slots = shared_of;
	w.slotq = queues;
	w.pools = pools;
	w.now_ms = 1000;
	for (unsigned b = 0; b < 2; b++) {
		slot_queue_init(&queues[b]);
		up_pool_init(&pools[b], &cfg.backend[b], cfg.backend[b].p.max ? &shared[b].open
									      : NULL, N);
	}
	for (unsigned i = 0; i < N; i++) {
		conns[i].w = &w;
		conns[i].idx = i;
		conns[i].ufd = -1;
		conns[i].pass = &cfg.pass[i % 2 ? 1 : 0];
	}
}

static void teardown(void)
{
	for (unsigned b = 0; b < 2; b++)
		up_pool_prune(&pools[b], 0, true);
	config_free(&cfg);
}

/* conns[i] (backend 0 when i is even) asks for a connection. */
static bool take(unsigned i, enum conn_ev *ev)
{
	*ev = EV_CLOSE;
	return slot_take(&conns[i], ev);
}

START_TEST(test_take_wait_release)
{
	enum conn_ev ev;

	ck_assert(take(0, &ev));
	ck_assert(take(2, &ev));
	ck_assert(conns[0].slot_held && conns[2].slot_held);
	ck_assert_uint_eq(shared[0].open, 2);
	/* both taken: the next two wait, in order, until acquire= */
	ck_assert(!take(4, &ev));
	ck_assert_int_eq(ev, EV_WAIT);
	ck_assert_int_eq(conns[4].state, CS_SLOT_WAIT);
	ck_assert_uint_eq(conns[4].deadline_ms, 1000 + 100);
	ck_assert(!take(6, &ev));
	ck_assert_uint_eq(queues[0].n, 2);
	ck_assert_uint_eq(shared[0].waiting, 2);
	ck_assert_ptr_null(slot_next(&w, 0));   /* nothing was given back */
	/* one given back: the first waiter goes, and gets it */
	slot_put(&conns[0]);
	ck_assert(!conns[0].slot_held);
	ck_assert_uint_eq(shared[0].open, 1);
	ck_assert(w.slot_released);
	ck_assert_ptr_eq(slot_next(&w, 0), &conns[4]);
	ck_assert_uint_eq(shared[0].waiting, 1);
	ck_assert(take(4, &ev));
	slot_got(&conns[4]);
	ck_assert_uint_eq(w.stats.slot_waits[0][SLOT_CONNECTED], 1);
	/* no room left: the second stays */
	ck_assert_ptr_null(slot_next(&w, 0));
	ck_assert_uint_eq(queues[0].n, 1);
	slot_put(&conns[2]);
	slot_put(&conns[2]);                     /* a second put is nothing */
	ck_assert_uint_eq(shared[0].open, 1);
}
END_TEST

/* A waiter let go that lost the race keeps its turn at the front. */
START_TEST(test_lost_race_keeps_turn)
{
	enum conn_ev ev;

	ck_assert(take(0, &ev));
	ck_assert(take(2, &ev));
	ck_assert(!take(4, &ev));
	ck_assert(!take(6, &ev));
	slot_put(&conns[0]);
	ck_assert_ptr_eq(slot_next(&w, 0), &conns[4]);
	shared[0].open = 2;                       /* another worker took it first */
	ck_assert(!take(4, &ev));
	ck_assert_int_eq(ev, EV_WAIT);
	ck_assert_uint_eq(queues[0].head, 4);
	ck_assert_uint_eq(conns[4].deadline_ms, 1000 + 100);  /* the same deadline */
}
END_TEST

START_TEST(test_acquire_runs_out)
{
	enum conn_ev ev;

	ck_assert(take(0, &ev));
	ck_assert(take(2, &ev));
	ck_assert(!take(4, &ev));
	conns[4].page_hdr = 0;
	ck_assert_int_eq(slot_fail(&conns[4]), EV_PAGE);
	ck_assert_uint_eq(conns[4].fail_status, 503);
	ck_assert_mem_eq(conns[4].page, "Retry-After: 1\r\n", conns[4].page_hdr);
	slot_leave(&conns[4]);
	ck_assert_uint_eq(queues[0].n, 0);
	ck_assert_uint_eq(shared[0].waiting, 0);
	ck_assert_uint_eq(w.stats.slot_waits[0][SLOT_503], 1);
	ck_assert_uint_eq(w.stats.slot_waits[0][SLOT_GONE], 0);
	/* a request let go after its deadline does not wait again */
	ck_assert(!take(6, &ev));
	w.now_ms += 100;
	slot_leave(&conns[6]);
	ck_assert_uint_eq(w.stats.slot_waits[0][SLOT_GONE], 1);
	ck_assert(!take(6, &ev));
	ck_assert_int_eq(ev, EV_PAGE);
	ck_assert_uint_eq(conns[6].fail_status, 503);
}
END_TEST

START_TEST(test_queue_full)
{
	enum conn_ev ev;

	ck_assert(take(0, &ev));
	ck_assert(take(2, &ev));
	queues[0].n = SLOT_QUEUE_MAX;
	ck_assert(!take(4, &ev));
	ck_assert_int_eq(ev, EV_PAGE);
	ck_assert(!conns[4].slot_waiting);
	ck_assert_uint_eq(w.stats.slot_waits[0][SLOT_503], 1);
	queues[0].n = 0;
}
END_TEST

/* Pooling keeps the count with the pool, unless requests wait on another worker only. */
START_TEST(test_pool)
{
	enum conn_ev ev;

	ck_assert(take(0, &ev));
	ck_assert(slot_pool(&conns[0]));
	ck_assert(!conns[0].slot_held);
	ck_assert_uint_eq(shared[0].open, 1);
	ck_assert(take(2, &ev));
	shared[0].waiting = 1;                    /* on another worker */
	ck_assert(!slot_pool(&conns[2]));
	ck_assert(conns[2].slot_held);
	slot_put(&conns[2]);
	ck_assert_uint_eq(shared[0].open, 1);
	shared[0].waiting = 0;
}
END_TEST

/* Two workers, max=2: while a request waits on the other worker, this one keeps one
 * connection (its share) and gives the other back rather than to its own waiter. */
START_TEST(test_share)
{
	enum conn_ev ev;

	w.nall = 2;
	ck_assert(take(0, &ev));
	ck_assert(take(2, &ev));                 /* nobody else waits: both are ours */
	ck_assert(!take(4, &ev));                 /* a waiter here ... */
	shared[0].waiting++;                      /* ... and one on the other worker */
	ck_assert(!slot_pool(&conns[0]));         /* over our share: closed, not kept */
	slot_put(&conns[0]);
	ck_assert_uint_eq(shared[0].open, 1);
	ck_assert_uint_eq(queues[0].held, 1);
	ck_assert_ptr_null(slot_next(&w, 0));     /* our waiter leaves it to the other */
	shared[0].open++;                         /* which takes it */
	shared[0].waiting--;
	ck_assert(slot_pool(&conns[2]));          /* nobody else waits: kept for ours */
	ck_assert_uint_eq(queues[0].held, 0);
	w.nall = 0;
}
END_TEST

/* A backend without max= is not counted at all. */
START_TEST(test_no_max)
{
	enum conn_ev ev;

	for (unsigned i = 1; i < N; i += 2)
		ck_assert(take(i, &ev));
	ck_assert(!conns[1].slot_held);
	ck_assert(slot_pool(&conns[1]));
	slot_put(&conns[1]);
	ck_assert_uint_eq(shared[1].open, 0);
	ck_assert(!w.slot_released);
}
END_TEST

static Suite *slot_suite(void)
{
	const struct ck_case cases[] = {
		{ "take_wait_release", test_take_wait_release, 0 },
		{ "lost_race_keeps_turn", test_lost_race_keeps_turn, 0 },
		{ "acquire_runs_out", test_acquire_runs_out, 0 },
		{ "queue_full", test_queue_full, 0 },
		{ "pool", test_pool, 0 },
		{ "share", test_share, 0 },
		{ "no_max", test_no_max, 0 },
	};
	Suite *s = suite_create("slot");

	ck_add_cases(s, cases, CK_N(cases), 0, setup, teardown);
	return s;
}

int main(void)
{
	return ck_run_suite(slot_suite());
}
