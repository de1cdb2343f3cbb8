#include "config.h"
#include "script_trust.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A uid that is neither root nor ours: nobody's. */
#define STRANGER 65534

static const char script_text[] = "#!/bin/sh\nexit 0\n";

struct dir {
    char *path;
};

static int setup(void **state)
{
    struct dir *dir = calloc(1, sizeof(*dir));
    dir->path = make_temp_dir();
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    struct dir *dir = *state;
    chmod(dir->path, 0700);
    rm_tree(dir->path);
    free(dir->path);
    free(dir);
    return 0;
}

static char *trust_error(const char *path)
{
    static char why[512];
    why[0] = '\0';
    return rs_script_trusted(path, why, sizeof(why)) == -EPERM ? why : NULL;
}

static void test_a_private_script_is_trusted(void **state)
{
    struct dir *dir = *state;
    char *script = write_file(dir->path, "hook.sh", script_text, 0755);
    char why[256];
    assert_int_equal(rs_script_trusted(script, why, sizeof(why)), 0);
    free(script);
}

static void test_a_script_others_can_write_is_refused(void **state)
{
    struct dir *dir = *state;
    char *script = write_file(dir->path, "group.sh", script_text, 0775);
    const char *why = trust_error(script);
    assert_non_null(why);
    assert_non_null(strstr(why, script));
    assert_non_null(strstr(why, "writable by its group"));
    free(script);
    script = write_file(dir->path, "anyone.sh", script_text, 0757);
    why = trust_error(script);
    assert_non_null(why);
    assert_non_null(strstr(why, "writable by anyone"));
    free(script);
}

static void test_a_directory_others_can_write_is_refused(void **state)
{
    struct dir *dir = *state;
    char *script = write_file(dir->path, "hook.sh", script_text, 0755);
    assert_int_equal(chmod(dir->path, 0777), 0);
    const char *why = trust_error(script);
    assert_non_null(why);
    assert_non_null(strstr(why, dir->path));
    assert_null(strstr(why, "hook.sh")); /* the directory is named, not the script */
    free(script);
}

static void test_a_sticky_directory_passes_for_our_own_entries(void **state)
{
    struct dir *dir = *state;
    char *script = write_file(dir->path, "hook.sh", script_text, 0755);
    /* Like /tmp: anyone may add entries, only an entry's owner may replace it. */
    assert_int_equal(chmod(dir->path, 01777), 0);
    char why[256];
    assert_int_equal(rs_script_trusted(script, why, sizeof(why)), 0);
    free(script);
}

static void test_files_of_another_user_are_refused(void **state)
{
    struct dir *dir = *state;
    if (geteuid() != 0)
        skip(); /* giving a file away needs root */
    char *script = write_file(dir->path, "hook.sh", script_text, 0755);
    assert_int_equal(chown(script, STRANGER, STRANGER), 0);
    const char *why = trust_error(script);
    assert_non_null(why);
    assert_non_null(strstr(why, "belongs to uid 65534"));
    assert_int_equal(chown(script, 0, 0), 0);

    /* In a sticky directory, an entry on the path owned by someone else could be replaced by
     * them. */
    char *sub = NULL;
    assert_true(asprintf(&sub, "%s/sub", dir->path) > 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    char *inner = write_file(sub, "hook.sh", script_text, 0755);
    assert_int_equal(chmod(dir->path, 01777), 0);
    char ok[256];
    assert_int_equal(rs_script_trusted(inner, ok, sizeof(ok)), 0);
    assert_int_equal(chown(sub, STRANGER, STRANGER), 0);
    why = trust_error(inner);
    assert_non_null(why);
    assert_non_null(strstr(why, sub));
    assert_int_equal(chown(sub, 0, 0), 0);
    free(inner);
    free(sub);
    free(script);
}

static void test_a_link_is_followed(void **state)
{
    struct dir *dir = *state;
    char *open_dir = NULL, *link = NULL;
    assert_true(asprintf(&open_dir, "%s/open", dir->path) > 0);
    assert_true(asprintf(&link, "%s/link.sh", dir->path) > 0);
    assert_int_equal(mkdir(open_dir, 0755), 0);
    assert_int_equal(chmod(open_dir, 0775), 0);
    char *target = write_file(open_dir, "hook.sh", script_text, 0755);
    assert_int_equal(symlink(target, link), 0);
    /* The link itself sits in a private directory; what it points to does not. */
    const char *why = trust_error(link);
    assert_non_null(why);
    assert_non_null(strstr(why, open_dir));
    free(target);
    free(link);
    free(open_dir);
}

static void test_scripts_directory_placement(void **state)
{
    (void)state;
    char *placed = NULL, why[512];
    assert_int_equal(
        rs_script_place("hook.sh", "/usr/share/kea/scripts", &placed, why, sizeof(why)), 0);
    assert_string_equal(placed, "/usr/share/kea/scripts/hook.sh");
    free(placed);
    assert_int_equal(rs_script_place("/usr/share/kea/scripts/hook.sh", "/usr/share/kea/scripts/",
                                     &placed, why, sizeof(why)),
                     0);
    assert_string_equal(placed, "/usr/share/kea/scripts/hook.sh");
    free(placed);
    /* Kea's rule: the script's directory is that one, not one below it nor elsewhere. */
    const char *refused[] = {"/usr/local/bin/hook.sh", "/usr/share/kea/scripts/sub/hook.sh",
                             "/usr/share/kea/scripts/", "/usr/share/kea/scriptsX/hook.sh"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        placed = NULL;
        assert_int_equal(
            rs_script_place(refused[i], "/usr/share/kea/scripts", &placed, why, sizeof(why)),
            -EPERM);
        assert_null(placed);
        assert_non_null(strstr(why, "/usr/share/kea/scripts"));
        assert_non_null(strstr(why, "KEA_HOOK_SCRIPTS_PATH"));
    }
    /* Without a scripts directory, any path is placed as written. */
    assert_int_equal(rs_script_place("/usr/local/bin/hook.sh", NULL, &placed, why, sizeof(why)), 0);
    assert_string_equal(placed, "/usr/local/bin/hook.sh");
    free(placed);
}

static void test_the_configuration_names_the_parameter(void **state)
{
    struct dir *dir = *state;
    char *script = write_file(dir->path, "hook.sh", script_text, 0775);
    char json[1024], err[512];
    struct rs_config config;
    snprintf(json, sizeof(json), "{\"scripts\": [{\"script\": \"%s\"}]}", script);
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "parameter 'scripts[0].script'"));
    assert_non_null(strstr(err, "writable by its group"));
    assert_int_equal(chmod(script, 0755), 0);
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), 0);
    rs_config_release(&config);

    /* Kea 3.0: only from its scripts directory; a bare name is a script there. */
    const struct rs_config_kea kea3 = {"/usr/share/kea/scripts", 30004};
    assert_int_equal(rs_config_parse_for(json, &kea3, &config, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "parameter 'scripts[0].script'"));
    assert_non_null(strstr(err, "Kea's scripts directory /usr/share/kea/scripts"));
    const struct rs_config_kea here = {dir->path, 30004};
    assert_int_equal(rs_config_parse_for(json, &here, &config, err, sizeof(err)), 0);
    rs_config_release(&config);
    assert_int_equal(
        rs_config_parse_for("{\"script\": \"hook.sh\"}", &here, &config, err, sizeof(err)), 0);
    assert_string_equal(config.scripts[0].path, script);
    rs_config_release(&config);
    free(script);
}

static void test_hook_points_this_kea_lacks(void **state)
{
    struct dir *dir = *state;
    char *script = write_file(dir->path, "hook.sh", script_text, 0755);
    char json[1024], err[512];
    struct rs_config config;
    const struct rs_config_kea kea22 = {NULL, 20200}, kea26 = {NULL, 20603}, kea30 = {NULL, 30004};
    snprintf(json, sizeof(json), "{\"script\": \"%s\", \"hooks\": [\"lease4_offer\"]}", script);
    assert_int_equal(rs_config_parse_for(json, &kea22, &config, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "parameter 'hooks': lease4_offer came with Kea 2.6"));
    assert_non_null(strstr(err, "2.2.0"));
    assert_int_equal(rs_config_parse_for(json, &kea26, &config, err, sizeof(err)), 0);
    rs_config_release(&config);
    /* ISC's default set has addr6_register where Kea has it, and is not refused where not. */
    snprintf(json, sizeof(json), "{\"script\": \"%s\", \"variables\": \"isc\"}", script);
    assert_int_equal(rs_config_parse_for(json, &kea26, &config, err, sizeof(err)), 0);
    assert_false(config.scripts[0].hooks & RS_HOOK_BIT(RS_HOOK_ADDR6_REGISTER));
    assert_true(config.scripts[0].hooks & RS_HOOK_BIT(RS_HOOK_LEASE6_RENEW));
    rs_config_release(&config);
    assert_int_equal(rs_config_parse_for(json, &kea30, &config, err, sizeof(err)), 0);
    assert_true(config.scripts[0].hooks & RS_HOOK_BIT(RS_HOOK_ADDR6_REGISTER));
    rs_config_release(&config);
    free(script);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_private_script_is_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_script_others_can_write_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_directory_others_can_write_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_sticky_directory_passes_for_our_own_entries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_files_of_another_user_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_link_is_followed, setup, teardown),
        cmocka_unit_test(test_scripts_directory_placement),
        cmocka_unit_test_setup_teardown(test_the_configuration_names_the_parameter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hook_points_this_kea_lacks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
