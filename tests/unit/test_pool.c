#include "pool.h"
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_blocks_are_reused(void **state)
{
    (void)state;
    struct rs_pool pool = RS_POOL_INIT(64, 2);
    char *a = rs_pool_get(&pool), *b = rs_pool_get(&pool);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    memset(a, 0xaa, 64); /* the whole block is the caller's */
    rs_pool_put(&pool, a);
    assert_int_equal(pool.count, 1);
    assert_ptr_equal(rs_pool_get(&pool), a); /* the freed block comes back first */
    assert_int_equal(pool.count, 0);
    rs_pool_put(&pool, a);
    rs_pool_put(&pool, b);
    rs_pool_put(&pool, NULL); /* ignored, as free(NULL) */
    assert_int_equal(pool.count, 2);
    /* Drained, the pool leaves nothing behind: valgrind and LeakSanitizer would see it. */
    free(rs_pool_get(&pool));
    free(rs_pool_get(&pool));
    assert_int_equal(pool.count, 0);
}

static void test_keeps_at_most_max(void **state)
{
    (void)state;
    enum { MAX = 3, BLOCKS = 10 };
    struct rs_pool pool = RS_POOL_INIT(sizeof(uint64_t) * 4, MAX);
    void *blocks[BLOCKS];
    for (int i = 0; i < BLOCKS; i++)
        assert_non_null(blocks[i] = rs_pool_get(&pool));
    for (int i = 0; i < BLOCKS; i++)
        rs_pool_put(&pool, blocks[i]); /* past MAX, freed */
    assert_int_equal(pool.count, MAX);
    for (int i = 0; i < MAX; i++)
        free(rs_pool_get(&pool));
    assert_int_equal(pool.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_are_reused),
        cmocka_unit_test(test_keeps_at_most_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
