/* arrivals: the times a spool's events came, oldest first, within a bounded ring. */
#include "arrivals.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

static struct rs_arrivals *fresh(void)
{
    struct rs_arrivals *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    return a;
}

/* Events within a second of a run's first join it and read as its first; later ones start a
 * run of their own. Unknown ones (the ring empty) read as now. */
static void test_runs_in_order(void **state)
{
    (void)state;
    struct rs_arrivals *a = fresh();
    assert_int_equal(rs_arrivals_oldest(a), 0);
    assert_int_equal(rs_arrivals_take(a, 777), 777);
    rs_arrivals_add(a, 1000, 2);
    rs_arrivals_add(a, 1999, 1); /* the same run */
    rs_arrivals_add(a, 2000, 1); /* a run of its own */
    rs_arrivals_add(a, 2500, 0); /* nothing came */
    rs_arrivals_add(a, 5000, 1);
    assert_int_equal(rs_arrivals_oldest(a), 1000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rs_arrivals_take(a, 9999), 1000);
    assert_int_equal(rs_arrivals_oldest(a), 2000);
    assert_int_equal(rs_arrivals_take(a, 9999), 2000);
    assert_int_equal(rs_arrivals_take(a, 9999), 5000);
    assert_int_equal(rs_arrivals_oldest(a), 0);
    assert_int_equal(rs_arrivals_take(a, 9999), 9999);

    rs_arrivals_add(a, 6000, 3);
    rs_arrivals_clear(a);
    assert_int_equal(rs_arrivals_oldest(a), 0);
    rs_arrivals_add(a, 7000, 1);
    assert_int_equal(rs_arrivals_take(a, 9999), 7000);
    free(a);
}

/* A backlog older than the ring: the oldest keeps its exact time, the order holds, no event is
 * lost or made younger, and the ring goes on turning as events leave and come. */
static void test_a_long_backlog_coarsens_the_newer_only(void **state)
{
    (void)state;
    struct rs_arrivals *a = fresh();
    enum { SECONDS = 3 * RS_ARRIVAL_RUNS + 17 };
    /* Start mid-ring, so that merging wraps around. */
    for (int s = 0; s < RS_ARRIVAL_RUNS / 2; s++)
        rs_arrivals_add(a, -1000000 + s * 1000, 1);
    for (int s = 0; s < RS_ARRIVAL_RUNS / 2; s++)
        rs_arrivals_take(a, 0);
    for (int s = 0; s < SECONDS; s++)
        rs_arrivals_add(a, 1000 + (int64_t)s * 1000, 2); /* two each second */
    assert_true(a->len <= RS_ARRIVAL_RUNS);
    assert_int_equal(rs_arrivals_oldest(a), 1000);
    int64_t previous = 0;
    for (int s = 0; s < SECONDS; s++) {
        for (int twice = 0; twice < 2; twice++) {
            int64_t came = rs_arrivals_take(a, -1);
            assert_true(came >= previous);                 /* in order */
            assert_true(came <= 1000 + (int64_t)s * 1000); /* never younger than it is */
            previous = came;
        }
    }
    assert_int_equal(rs_arrivals_oldest(a), 0); /* every event taken, none left over */
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_in_order),
        cmocka_unit_test(test_a_long_backlog_coarsens_the_newer_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
