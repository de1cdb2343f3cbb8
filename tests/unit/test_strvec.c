#include "strvec.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_empty_array_is_terminated(void **state)
{
    (void)state;
    struct strvec sv = STRVEC_INIT;
    char *const *array = strvec_array(&sv);
    /* execve() and posix_spawn() need a real array even for an empty environment. */
    assert_non_null(array);
    assert_null(array[0]);
    assert_int_equal(sv.nr, 0);
    strvec_clear(&sv);
    assert_null(sv.items);
}

static void test_push_and_terminate(void **state)
{
    (void)state;
    struct strvec sv;
    strvec_init(&sv);
    char buf[32];
    /* Past the first allocation, so growth keeps the invariant too. */
    for (int i = 0; i < 100; i++) {
        snprintf(buf, sizeof(buf), "item%d", i);
        assert_int_equal(strvec_push(&sv, buf), 0);
        assert_int_equal(sv.nr, (size_t)i + 1);
        assert_null(sv.items[sv.nr]);
    }
    char *const *array = strvec_array(&sv);
    assert_ptr_equal(array, sv.items);
    for (int i = 0; i < 100; i++) {
        snprintf(buf, sizeof(buf), "item%d", i);
        assert_string_equal(array[i], buf);
    }
    assert_null(array[100]);
    strvec_clear(&sv);
}

static void test_push_copies(void **state)
{
    (void)state;
    struct strvec sv = STRVEC_INIT;
    char buf[] = "original";
    assert_int_equal(strvec_push(&sv, buf), 0);
    buf[0] = 'X';
    assert_string_equal(sv.items[0], "original");
    assert_ptr_not_equal(sv.items[0], buf);
    strvec_clear(&sv);
}

static void test_pushf(void **state)
{
    (void)state;
    struct strvec sv = STRVEC_INIT;
    assert_int_equal(strvec_pushf(&sv, "%s=%d:%05.1f", "KEY", -42, 3.5), 0);
    assert_int_equal(strvec_pushf(&sv, "%s", ""), 0);
    assert_int_equal(sv.nr, 2);
    assert_string_equal(sv.items[0], "KEY=-42:003.5");
    assert_string_equal(sv.items[1], "");
    assert_null(sv.items[2]);
    strvec_clear(&sv);
}

static void test_push_pair_byte_exact(void **state)
{
    (void)state;
    struct strvec sv = STRVEC_INIT;
    static const char value[] = "line1\nline2\r\n\t$(reboot) `id` 'q' \"dq\" \xff\xfe\x80\x01;|&";
    assert_int_equal(strvec_push_pair(&sv, "HOSTILE", value, strlen(value)), 0);
    static const char expected[] =
        "HOSTILE=line1\nline2\r\n\t$(reboot) `id` 'q' \"dq\" \xff\xfe\x80\x01;|&";
    assert_int_equal(strlen(sv.items[0]), sizeof(expected) - 1);
    assert_memory_equal(sv.items[0], expected, sizeof(expected));
    strvec_clear(&sv);
}

static void test_push_pair_uses_length_not_nul(void **state)
{
    (void)state;
    struct strvec sv = STRVEC_INIT;
    /* The value need not be NUL-terminated: only `value_len` bytes are read. */
    static const char buf[] = {'a', 'b', 'c', 'd'};
    assert_int_equal(strvec_push_pair(&sv, "K", buf, 2), 0);
    assert_int_equal(strvec_push_pair(&sv, "EMPTY", buf, 0), 0);
    assert_int_equal(strvec_push_pair(&sv, "BARE", NULL, 0), 0);
    assert_string_equal(sv.items[0], "K=ab");
    assert_string_equal(sv.items[1], "EMPTY=");
    assert_string_equal(sv.items[2], "BARE");
    assert_null(sv.items[3]);
    strvec_clear(&sv);
}

static void test_clear_and_reuse(void **state)
{
    (void)state;
    struct strvec sv = STRVEC_INIT;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 40; i++)
            assert_int_equal(strvec_pushf(&sv, "r%d-%d", round, i), 0);
        assert_int_equal(sv.nr, 40);
        assert_string_equal(sv.items[0], round == 0 ? "r0-0" : round == 1 ? "r1-0" : "r2-0");
        assert_null(sv.items[40]);
        strvec_clear(&sv);
        assert_int_equal(sv.nr, 0);
        assert_int_equal(sv.alloc, 0);
        assert_null(sv.items);
        assert_null(strvec_array(&sv)[0]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_array_is_terminated),
        cmocka_unit_test(test_push_and_terminate),
        cmocka_unit_test(test_push_copies),
        cmocka_unit_test(test_pushf),
        cmocka_unit_test(test_push_pair_byte_exact),
        cmocka_unit_test(test_push_pair_uses_length_not_nul),
        cmocka_unit_test(test_clear_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
