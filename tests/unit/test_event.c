#include "event.h"
#include "queue.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every member of the event structs is a `const char *`, so a struct can be filled as an array. */
#define FILL(st, value) fill_strings(&(st), sizeof(st), value)

static void fill_strings(void *st, size_t size, const char *value)
{
    const char **members = st;
    for (size_t i = 0; i < size / sizeof(*members); i++)
        members[i] = value;
}

static const char path_var[] = "PATH=" RS_SCRIPT_PATH;

static size_t count_prefix(const struct rs_event *ev, const char *entry)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->env.nr; i++)
        if (strcmp(ev->env.items[i], entry) == 0)
            n++;
    return n;
}

/* The event's environment is PATH, then exactly `expected` (full NAME=value strings, any
 * order), each once. */
static void assert_env(const struct rs_event *ev, const char *const expected[])
{
    size_t nr = 0;
    while (expected[nr])
        nr++;
    assert_false(ev->incomplete);
    assert_non_null(ev->env.items);
    assert_string_equal(ev->env.items[0], path_var);
    for (size_t i = 0; i < nr; i++) {
        size_t n = count_prefix(ev, expected[i]);
        if (n != 1)
            print_message("%s appears %zu times\n", expected[i], n);
        assert_int_equal(n, 1);
    }
    if (ev->env.nr != nr + 1)
        for (size_t i = 0; i < ev->env.nr; i++)
            print_message("env[%zu] = %s\n", i, ev->env.items[i]);
    assert_int_equal(ev->env.nr, nr + 1);
    assert_null(ev->env.items[ev->env.nr]);
}

#define ASSERT_ENV(ev, ...) assert_env(ev, (const char *const[]){__VA_ARGS__, NULL})

static struct rs_pkt4 full_pkt4(void)
{
    return (struct rs_pkt4){
        .type = "DHCPREQUEST",
        .interface = "eth0",
        .ifindex = "2",
        .hwaddr = "aa:bb:cc:dd:ee:ff",
        .hwaddr_type = "1",
        .hwaddr_source = "4",
        .relayed = "1",
        .relay_hops = "3",
        .option60 = "vendor-class",
        .ciaddr = "0.0.0.0",
        .siaddr = "192.0.2.1",
        .yiaddr = "192.0.2.10",
        .giaddr = "192.0.2.254",
        .rai = "0x01020304",
        .rai_circuit_id = "0x0a",
        .rai_remote_id = "0x0b",
        .rai_subscriber_id = "0x0c",
        .client_id = "01:aa:bb:cc:dd:ee:ff",
        .requested_address = "192.0.2.11",
        .hostname = "client4",
        .fqdn = "client4.example.org.",
    };
}

static void test_path_first(void **state)
{
    (void)state;
    struct rs_event ev;
    rs_event_init(&ev, RS_HOOK_LEASE4_RECOVER);
    assert_int_equal(ev.hook, RS_HOOK_LEASE4_RECOVER);
    /* Kea's own environment is never passed on: PATH is the only thing a script can rely on. */
    assert_int_equal(ev.env.nr, 1);
    assert_string_equal(ev.env.items[0], path_var);
    assert_null(ev.env.items[1]);
    assert_int_equal(ev.options.nr, 0);
    assert_string_equal(RS_SCRIPT_PATH,
                        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    rs_event_release(&ev);
    assert_int_equal(ev.env.nr, 0);
}

static void test_query4_full(void **state)
{
    (void)state;
    struct rs_event ev;
    struct rs_pkt4 pkt = full_pkt4();
    rs_event_init(&ev, RS_HOOK_PKT4_RECEIVE);
    rs_event_add_query4(&ev, &pkt);
    ASSERT_ENV(&ev, "KEA_QUERY4_TYPE=DHCPREQUEST", "KEA_QUERY4_INTERFACE=eth0",
               "KEA_QUERY4_IFINDEX=2", "KEA_QUERY4_HWADDR=aa:bb:cc:dd:ee:ff",
               "KEA_QUERY4_HWADDR_TYPE=1", "KEA_QUERY4_HWADDR_SOURCE=4", "KEA_QUERY4_RELAYED=1",
               "KEA_QUERY4_RELAY_HOPS=3", "KEA_QUERY4_OPTION60=vendor-class",
               "KEA_QUERY4_CIADDR=0.0.0.0", "KEA_QUERY4_SIADDR=192.0.2.1",
               "KEA_QUERY4_YIADDR=192.0.2.10", "KEA_QUERY4_GIADDR=192.0.2.254",
               "KEA_QUERY4_RAI=0x01020304", "KEA_QUERY4_RAI_CIRCUIT_ID=0x0a",
               "KEA_QUERY4_RAI_REMOTE_ID=0x0b", "KEA_QUERY4_RAI_SUBSCRIBER_ID=0x0c",
               "KEA_QUERY4_CLIENT_ID=01:aa:bb:cc:dd:ee:ff",
               "KEA_QUERY4_REQUESTED_ADDRESS=192.0.2.11", "KEA_QUERY4_HOSTNAME=client4",
               "KEA_QUERY4_FQDN=client4.example.org.");
    rs_event_release(&ev);
}

static void test_query4_optional_and_required_null(void **state)
{
    (void)state;
    struct rs_event ev;
    struct rs_pkt4 pkt = full_pkt4();
    pkt.option60 = pkt.rai = pkt.rai_circuit_id = pkt.rai_remote_id = NULL;
    pkt.rai_subscriber_id = pkt.client_id = pkt.requested_address = pkt.hostname = NULL;
    pkt.fqdn = NULL;
    /* Required fields are never left out, so a script can tell "empty" from a typo. */
    pkt.hwaddr = NULL;
    pkt.giaddr = NULL;
    rs_event_init(&ev, RS_HOOK_PKT4_RECEIVE);
    rs_event_add_query4(&ev, &pkt);
    ASSERT_ENV(&ev, "KEA_QUERY4_TYPE=DHCPREQUEST", "KEA_QUERY4_INTERFACE=eth0",
               "KEA_QUERY4_IFINDEX=2", "KEA_QUERY4_HWADDR=", "KEA_QUERY4_HWADDR_TYPE=1",
               "KEA_QUERY4_HWADDR_SOURCE=4", "KEA_QUERY4_RELAYED=1", "KEA_QUERY4_RELAY_HOPS=3",
               "KEA_QUERY4_CIADDR=0.0.0.0", "KEA_QUERY4_SIADDR=192.0.2.1",
               "KEA_QUERY4_YIADDR=192.0.2.10", "KEA_QUERY4_GIADDR=");
    rs_event_release(&ev);

    /* Only the circuit-id present: the others stay out. */
    pkt = full_pkt4();
    pkt.rai_remote_id = pkt.option60 = NULL;
    rs_event_init(&ev, RS_HOOK_PKT4_RECEIVE);
    rs_event_add_query4(&ev, &pkt);
    assert_int_equal(ev.env.nr, 1 + 19);
    assert_int_equal(count_prefix(&ev, "KEA_QUERY4_RAI_CIRCUIT_ID=0x0a"), 1);
    for (size_t i = 0; i < ev.env.nr; i++) {
        assert_null(strstr(ev.env.items[i], "RAI_REMOTE_ID"));
        assert_null(strstr(ev.env.items[i], "OPTION60"));
    }
    rs_event_release(&ev);
}

static void test_response4(void **state)
{
    (void)state;
    struct rs_event ev;
    struct rs_pkt4 query = full_pkt4(), response = full_pkt4();
    response.type = "DHCPACK";
    response.option60 = response.rai = response.rai_circuit_id = response.rai_remote_id = NULL;
    response.rai_subscriber_id = response.client_id = response.requested_address = NULL;
    response.hostname = response.fqdn = NULL;
    rs_event_init(&ev, RS_HOOK_PKT4_SEND);
    rs_event_add_query4(&ev, &query);
    rs_event_add_response4(&ev, &response);
    assert_int_equal(ev.env.nr, 1 + 21 + 12);
    assert_int_equal(count_prefix(&ev, "KEA_QUERY4_TYPE=DHCPREQUEST"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_RESPONSE4_TYPE=DHCPACK"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_RESPONSE4_HWADDR=aa:bb:cc:dd:ee:ff"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_RESPONSE4_YIADDR=192.0.2.10"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_QUERY4_OPTION60=vendor-class"), 1);
    for (size_t i = 0; i < ev.env.nr; i++)
        assert_null(strstr(ev.env.items[i], "KEA_RESPONSE4_RAI"));
    rs_event_release(&ev);
}

static void test_query6_response6(void **state)
{
    (void)state;
    struct rs_event ev;
    struct rs_pkt6 pkt = {
        .type = "SOLICIT",
        .interface = "eth1",
        .ifindex = "3",
        .duid = "00:01:00:01",
        .hwaddr = "aa:bb:cc:dd:ee:01",
        .hwaddr_type = "1",
        .hwaddr_source = "2",
        .local_address = "fe80::1",
        .local_port = "547",
        .remote_address = "fe80::2",
        .remote_port = "546",
        .label = "duid=[00:01:00:01], tid=0x1",
        .transaction_id = "1",
        .debug = "multi\nline",
    };
    rs_event_init(&ev, RS_HOOK_PKT6_SEND);
    rs_event_add_query6(&ev, &pkt);
    pkt.type = "ADVERTISE";
    pkt.duid = NULL;
    rs_event_add_response6(&ev, &pkt);
    ASSERT_ENV(&ev, "KEA_QUERY6_TYPE=SOLICIT", "KEA_QUERY6_INTERFACE=eth1", "KEA_QUERY6_IFINDEX=3",
               "KEA_QUERY6_DUID=00:01:00:01", "KEA_QUERY6_HWADDR=aa:bb:cc:dd:ee:01",
               "KEA_QUERY6_HWADDR_TYPE=1", "KEA_QUERY6_HWADDR_SOURCE=2",
               "KEA_QUERY6_LOCAL_ADDRESS=fe80::1", "KEA_QUERY6_LOCAL_PORT=547",
               "KEA_QUERY6_REMOTE_ADDRESS=fe80::2", "KEA_QUERY6_REMOTE_PORT=546",
               "KEA_QUERY6_LABEL=duid=[00:01:00:01], tid=0x1", "KEA_QUERY6_TRANSACTION_ID=1",
               "KEA_QUERY6_DEBUG=multi\nline", "KEA_RESPONSE6_TYPE=ADVERTISE",
               "KEA_RESPONSE6_INTERFACE=eth1", "KEA_RESPONSE6_IFINDEX=3",
               "KEA_RESPONSE6_DUID=", "KEA_RESPONSE6_HWADDR=aa:bb:cc:dd:ee:01",
               "KEA_RESPONSE6_HWADDR_TYPE=1", "KEA_RESPONSE6_HWADDR_SOURCE=2",
               "KEA_RESPONSE6_LOCAL_ADDRESS=fe80::1", "KEA_RESPONSE6_LOCAL_PORT=547",
               "KEA_RESPONSE6_REMOTE_ADDRESS=fe80::2", "KEA_RESPONSE6_REMOTE_PORT=546",
               "KEA_RESPONSE6_LABEL=duid=[00:01:00:01], tid=0x1", "KEA_RESPONSE6_TRANSACTION_ID=1",
               "KEA_RESPONSE6_DEBUG=multi\nline");
    rs_event_release(&ev);
}

static void test_subnets(void **state)
{
    (void)state;
    struct rs_event ev;
    struct rs_subnet s4 = {"192.0.2.0", "24", "192.0.2.0/24"};
    struct rs_subnet s6 = {"2001:db8::", "64", "2001:db8::/64"};
    rs_event_init(&ev, RS_HOOK_SUBNET4_SELECT);
    rs_event_add_subnet4(&ev, &s4);
    /* The subnet itself is the bare prefix name, without a suffix. */
    ASSERT_ENV(&ev, "KEA_SUBNET4_PREFIX=192.0.2.0", "KEA_SUBNET4_PREFIXLEN=24",
               "KEA_SUBNET4=192.0.2.0/24");
    rs_event_release(&ev);

    rs_event_init(&ev, RS_HOOK_SUBNET6_SELECT);
    rs_event_add_subnet6(&ev, &s6);
    ASSERT_ENV(&ev, "KEA_SUBNET6_PREFIX=2001:db8::", "KEA_SUBNET6_PREFIXLEN=64",
               "KEA_SUBNET6=2001:db8::/64");
    rs_event_release(&ev);

    /* No subnet selected: still there, empty. */
    struct rs_subnet none = {NULL, NULL, NULL};
    rs_event_init(&ev, RS_HOOK_SUBNET4_SELECT);
    rs_event_add_subnet4(&ev, &none);
    ASSERT_ENV(&ev, "KEA_SUBNET4_PREFIX=", "KEA_SUBNET4_PREFIXLEN=", "KEA_SUBNET4=");
    rs_event_release(&ev);
}

static void test_lease4(void **state)
{
    (void)state;
    struct rs_event ev;
    struct rs_lease4 lease = {
        .address = "192.0.2.10",
        .type = "V4",
        .hwaddr = "aa:bb:cc:dd:ee:ff",
        .hostname = "client.example",
        .state = "default",
        .is_expired = "0",
        .client_last_transmission = "1700000000",
        .valid_lifetime = "3600",
        .client_id = NULL,
        .subnet_id = "7",
        .debug = "Address: 192.0.2.10\nValid life: 3600",
    };
    rs_event_init(&ev, RS_HOOK_LEASE4_EXPIRE);
    rs_event_add_lease4(&ev, &lease);
    rs_event_add_remove_lease(&ev, true);
    ASSERT_ENV(&ev, "KEA_LEASE4_ADDRESS=192.0.2.10", "KEA_LEASE4_TYPE=V4",
               "KEA_LEASE4_HWADDR=aa:bb:cc:dd:ee:ff", "KEA_LEASE4_HOSTNAME=client.example",
               "KEA_LEASE4_STATE=default", "KEA_LEASE4_IS_EXPIRED=0",
               "KEA_LEASE4_CLIENT_LAST_TRANSMISSION=1700000000", "KEA_LEASE4_VALID_LIFETIME=3600",
               "KEA_LEASE4_CLIENT_ID=", "KEA_LEASE4_SUBNET_ID=7",
               "KEA_LEASE4_DEBUG=Address: 192.0.2.10\nValid life: 3600", "KEA_REMOVE_LEASE=1");
    rs_event_release(&ev);

    rs_event_init(&ev, RS_HOOK_LEASE4_EXPIRE);
    rs_event_add_remove_lease(&ev, false);
    ASSERT_ENV(&ev, "KEA_REMOVE_LEASE=0");
    rs_event_release(&ev);
}

static void test_lease6(void **state)
{
    (void)state;
    struct rs_event ev;
    struct rs_lease6 lease = {
        .type = "IA_NA",
        .address = "2001:db8::10",
        .delegated_prefix = NULL,
        .delegated_prefixlen = NULL,
        .client_duid = "00:01:00:01",
        .hwaddr = "",
        .hostname = "h6",
        .state = "default",
        .is_expired = "0",
        .client_last_transmission = "1700000000",
        .valid_lifetime = "7200",
        .preferred_lifetime = "3600",
        .iaid = "42",
        .subnet_id = "8",
        .debug = "dump",
    };
    static const char *const common[] = {
        "KEA_LEASE6_ADDRESS=2001:db8::10",
        "KEA_LEASE6_CLIENT_DUID=00:01:00:01",
        "KEA_LEASE6_HWADDR=",
        "KEA_LEASE6_HOSTNAME=h6",
        "KEA_LEASE6_STATE=default",
        "KEA_LEASE6_IS_EXPIRED=0",
        "KEA_LEASE6_CLIENT_LAST_TRANSMISSION=1700000000",
        "KEA_LEASE6_VALID_LIFETIME=7200",
        "KEA_LEASE6_PREFERRED_LIFETIME=3600",
        "KEA_LEASE6_IAID=42",
        "KEA_LEASE6_SUBNET_ID=8",
        "KEA_LEASE6_DEBUG=dump",
    };
    rs_event_init(&ev, RS_HOOK_LEASE6_SELECT);
    rs_event_add_lease6(&ev, &lease);
    rs_event_add_fake_allocation(&ev, true);
    /* Not a prefix delegation: the DELEGATED_PREFIX variables are left out. */
    assert_int_equal(ev.env.nr, 1 + 14);
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        assert_int_equal(count_prefix(&ev, common[i]), 1);
    assert_int_equal(count_prefix(&ev, "KEA_LEASE6_TYPE=IA_NA"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_FAKE_ALLOCATION=1"), 1);
    for (size_t i = 0; i < ev.env.nr; i++)
        assert_null(strstr(ev.env.items[i], "DELEGATED"));
    rs_event_release(&ev);

    lease.type = "IA_PD";
    lease.address = "2001:db8:1::";
    lease.delegated_prefix = "2001:db8:1::/56";
    lease.delegated_prefixlen = "56";
    rs_event_init(&ev, RS_HOOK_LEASE6_SELECT);
    rs_event_add_lease6(&ev, &lease);
    rs_event_add_fake_allocation(&ev, false);
    assert_int_equal(ev.env.nr, 1 + 16);
    assert_int_equal(count_prefix(&ev, "KEA_LEASE6_TYPE=IA_PD"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_LEASE6_ADDRESS=2001:db8:1::"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_LEASE6_DELEGATED_PREFIX=2001:db8:1::/56"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_LEASE6_DELEGATED_PREFIXLEN=56"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_FAKE_ALLOCATION=0"), 1);
    rs_event_release(&ev);
}

static void test_hostile_values_byte_exact(void **state)
{
    (void)state;
    /* What a client may put in its hostname or vendor class, and Kea passes on as is. */
    static const char hostile[] = "x'; rm -rf / #\"$(reboot)`id`${HOME}|&<>*?\\\n"
                                  "second line\r\t\x01\x1b[31m\x7f\xff\xfe\x80\xc3(";
    struct rs_lease4 lease;
    struct rs_pkt4 pkt;
    FILL(lease, "ok");
    FILL(pkt, "ok");
    lease.hostname = hostile;
    pkt.option60 = hostile;
    struct rs_event ev;
    rs_event_init(&ev, RS_HOOK_LEASE4_SELECT);
    rs_event_add_query4(&ev, &pkt);
    rs_event_add_lease4(&ev, &lease);
    static const char *const names[] = {"KEA_LEASE4_HOSTNAME=", "KEA_QUERY4_OPTION60="};
    for (size_t k = 0; k < 2; k++) {
        size_t found = 0;
        size_t name_len = strlen(names[k]);
        for (size_t i = 0; i < ev.env.nr; i++) {
            if (strncmp(ev.env.items[i], names[k], name_len) != 0)
                continue;
            found++;
            assert_int_equal(strlen(ev.env.items[i]), name_len + sizeof(hostile) - 1);
            assert_memory_equal(ev.env.items[i] + name_len, hostile, sizeof(hostile));
        }
        assert_int_equal(found, 1);
    }
    rs_event_release(&ev);
}

static void test_relays6(void **state)
{
    (void)state;
    struct rs_relay6 relays[2] = {
        {"2001:db8:1::1", "fe80::10", "0", "0x6574683031", NULL, NULL},
        {"2001:db8:2::1", "fe80::20", "1", NULL, "0x00000009abcd", "0x7375622d31"},
    };
    struct rs_event ev;
    rs_event_init(&ev, RS_HOOK_PKT6_RECEIVE);
    rs_event_add_relays6(&ev, relays, 2);
    /* relays[0] is the hop nearest the client; optional options only when the relay sent them. */
    ASSERT_ENV(&ev, "KEA_QUERY6_RELAY_HOPS=2", "KEA_QUERY6_RELAY0_LINK_ADDRESS=2001:db8:1::1",
               "KEA_QUERY6_RELAY0_PEER_ADDRESS=fe80::10", "KEA_QUERY6_RELAY0_HOP_COUNT=0",
               "KEA_QUERY6_RELAY0_INTERFACE_ID=0x6574683031",
               "KEA_QUERY6_RELAY1_LINK_ADDRESS=2001:db8:2::1",
               "KEA_QUERY6_RELAY1_PEER_ADDRESS=fe80::20", "KEA_QUERY6_RELAY1_HOP_COUNT=1",
               "KEA_QUERY6_RELAY1_REMOTE_ID=0x00000009abcd",
               "KEA_QUERY6_RELAY1_SUBSCRIBER_ID=0x7375622d31");
    rs_event_release(&ev);

    rs_event_init(&ev, RS_HOOK_PKT6_RECEIVE);
    rs_event_add_relays6(&ev, NULL, 0);
    ASSERT_ENV(&ev, "KEA_QUERY6_RELAY_HOPS=0");
    rs_event_release(&ev);
}

static void test_lease_lists(void **state)
{
    (void)state;
    struct rs_lease4 granted[2], deleted;
    FILL(granted[0], "g0");
    FILL(granted[1], "g1");
    FILL(deleted, "d0");
    granted[1].address = "192.0.2.21";
    struct rs_event ev;
    rs_event_init(&ev, RS_HOOK_LEASES4_COMMITTED);
    rs_event_add_lease_count(&ev, 4, RS_LEASES_GRANTED, 2);
    rs_event_add_listed_lease4(&ev, RS_LEASES_GRANTED, 0, &granted[0]);
    rs_event_add_listed_lease4(&ev, RS_LEASES_GRANTED, 1, &granted[1]);
    rs_event_add_lease_count(&ev, 4, RS_LEASES_DELETED, 1);
    rs_event_add_listed_lease4(&ev, RS_LEASES_DELETED, 0, &deleted);
    assert_int_equal(count_prefix(&ev, "KEA_LEASES4_COUNT=2"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_LEASES4_AT0_ADDRESS=g0"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_LEASES4_AT1_ADDRESS=192.0.2.21"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_LEASES4_AT1_HOSTNAME=g1"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_DELETED_LEASES4_COUNT=1"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_DELETED_LEASES4_AT0_SUBNET_ID=d0"), 1);
    /* A lease in a list has every variable of a single lease but the multi-line dump. */
    size_t per_lease = (ev.env.nr - 1 - 2) / 3;
    assert_int_equal((ev.env.nr - 1 - 2) % 3, 0);
    assert_int_equal(per_lease, sizeof(struct rs_lease4) / sizeof(const char *) - 1);
    for (size_t i = 0; i < ev.env.nr; i++)
        assert_null(strstr(ev.env.items[i], "DEBUG"));
    rs_event_release(&ev);

    struct rs_lease6 lease6;
    FILL(lease6, "v6");
    rs_event_init(&ev, RS_HOOK_LEASES6_COMMITTED);
    rs_event_add_lease_count(&ev, 6, RS_LEASES_GRANTED, 1);
    rs_event_add_listed_lease6(&ev, RS_LEASES_GRANTED, 0, &lease6);
    rs_event_add_lease_count(&ev, 6, RS_LEASES_DELETED, 0);
    assert_int_equal(count_prefix(&ev, "KEA_LEASES6_COUNT=1"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_LEASES6_AT0_DELEGATED_PREFIX=v6"), 1);
    assert_int_equal(count_prefix(&ev, "KEA_DELETED_LEASES6_COUNT=0"), 1);
    rs_event_release(&ev);
}

/* Sharing hands the variables over without a copy: the original is left empty (and still safe to
 * release), the shared event has them all, and the last reference frees them. */
/* An event's ordering keys: the lease's address and the client's MAC, hashed as the queue does;
 * an event about too many leases to track is ordered against all others. */
static void test_ordering_keys(void **state)
{
    (void)state;
    struct rs_lease4 lease;
    FILL(lease, "");
    lease.address = "192.0.2.31";
    lease.hwaddr = "aa:bb:cc:dd:ee:ff";
    struct rs_event ev;
    rs_event_init(&ev, RS_HOOK_LEASE4_EXPIRE);
    rs_event_add_lease4(&ev, &lease);
    assert_int_equal(ev.nr_keys, 2);
    assert_true(ev.keys[0] == rs_queue_key("192.0.2.31"));
    assert_true(ev.keys[1] == rs_queue_key("aa:bb:cc:dd:ee:ff"));
    rs_event_release(&ev);

    rs_event_init(&ev, RS_HOOK_LEASES6_COMMITTED);
    char address[64];
    struct rs_lease6 listed;
    FILL(listed, "");
    listed.address = address;
    for (size_t i = 0; i <= RS_EVENT_MAX_KEYS; i++) {
        snprintf(address, sizeof(address), "2001:db8::%zx", i);
        rs_event_add_listed_lease6(&ev, RS_LEASES_GRANTED, i, &listed);
    }
    assert_true(ev.nr_keys == RS_QUEUE_EVERY_LANE);
    rs_event_release(&ev);
}

static void test_envp_merges_extra_and_options(void **state)
{
    (void)state;
    struct rs_event ev;
    struct rs_pkt4 pkt = full_pkt4();
    rs_event_init(&ev, RS_HOOK_PKT4_RECEIVE);
    rs_event_add_query4(&ev, &pkt);
    rs_event_add_option(&ev, 4, 60, "0x76656e646f72");
    rs_event_add_option(&ev, 4, 82, "0x0102");
    rs_event_add_option(&ev, 4, 250, "0xff");
    /* Options are held apart: not in the event's own variables. */
    for (size_t i = 0; i < ev.env.nr; i++)
        assert_null(strstr(ev.env.items[i], "_OPTION82"));

    struct strvec extra = STRVEC_INIT;
    assert_int_equal(strvec_push(&extra, "PATH=/opt/bin"), 0);
    assert_int_equal(strvec_push(&extra, "SITE=north"), 0);
    const unsigned short codes[] = {250, 82, 1};
    char **envp = rs_event_envp(&ev, &extra, codes, 3);
    assert_non_null(envp);
    size_t n = 0;
    while (envp[n])
        n++;
    /* The script's PATH replaces the default (getenv() would return the first of two). */
    assert_int_equal(n, ev.env.nr - 1 + 2 + 2);
    size_t paths = 0, site = 0, opt82 = 0, opt250 = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(envp[i], "PATH=", 5) == 0) {
            paths++;
            assert_string_equal(envp[i], "PATH=/opt/bin");
        }
        site += strcmp(envp[i], "SITE=north") == 0;
        opt82 += strcmp(envp[i], "KEA_QUERY4_OPTION82=0x0102") == 0;
        opt250 += strcmp(envp[i], "KEA_QUERY4_OPTION250=0xff") == 0;
        /* Not requested. */
        assert_string_not_equal(envp[i], "KEA_QUERY4_OPTION60=0x76656e646f72");
    }
    assert_int_equal(paths, 1);
    assert_int_equal(site, 1);
    assert_int_equal(opt82, 1);
    assert_int_equal(opt250, 1);
    free(envp);

    /* Option 60 requested: KEA_QUERY4_OPTION60 is also the name of the raw vendor class. The
     * later entry wins, as for "env", and the name appears once, or getenv() would see the
     * first. */
    const unsigned short code60[] = {60};
    envp = rs_event_envp(&ev, NULL, code60, 1);
    assert_non_null(envp);
    size_t opt60 = 0;
    for (n = 0; envp[n]; n++) {
        if (strncmp(envp[n], "KEA_QUERY4_OPTION60=", 20) == 0) {
            opt60++;
            assert_string_equal(envp[n], "KEA_QUERY4_OPTION60=0x76656e646f72");
        }
    }
    assert_int_equal(opt60, 1);
    assert_int_equal(n, ev.env.nr);
    free(envp);

    /* No extra, no codes: exactly the event's variables, pointing into the event. */
    envp = rs_event_envp(&ev, NULL, NULL, 0);
    assert_non_null(envp);
    for (size_t i = 0; i < ev.env.nr; i++)
        assert_ptr_equal(envp[i], ev.env.items[i]);
    assert_null(envp[ev.env.nr]);
    free(envp);
    strvec_clear(&extra);
    rs_event_release(&ev);
}

/* --- the documentation matches what is emitted --- */

#define OPTION_CODE 77

struct names {
    char *items[512];
    bool optional[512];
    size_t nr;
};

/* Documented names are instantiated as the emitter below fills them: index 0, OPTION_CODE. */
static void collect_doc(void *ctx, const struct rs_var_doc *doc)
{
    struct names *names = ctx;
    assert_true(names->nr < 512);
    assert_non_null(doc->type);
    assert_non_null(doc->description);
    assert_true(*doc->type && *doc->description);
    char name[160];
    size_t n = 0;
    for (const char *c = doc->name; *c && n < sizeof(name) - 8; c++) {
        if (strncmp(c, "<i>", 3) == 0) {
            name[n++] = '0';
            c += 2;
        } else if (strncmp(c, "<code>", 6) == 0) {
            n += (size_t)sprintf(name + n, "%d", OPTION_CODE);
            c += 5;
        } else {
            name[n++] = *c;
        }
    }
    name[n] = '\0';
    assert_null(strchr(name, '<'));
    names->optional[names->nr] = doc->optional;
    names->items[names->nr++] = strdup(name);
}

static void free_names(struct names *names)
{
    for (size_t i = 0; i < names->nr; i++)
        free(names->items[i]);
    names->nr = 0;
}

/* Adds `block` to `ev` the way the Kea adapter does, every text field set to `value` (NULL:
 * absent), one relay, one lease per list, and one option when `value` is set. */
static bool add_block(struct rs_event *ev, unsigned block, const char *value)
{
    struct rs_pkt4 pkt4;
    struct rs_pkt6 pkt6;
    struct rs_relay6 relay;
    struct rs_subnet subnet;
    struct rs_lease4 lease4;
    struct rs_lease6 lease6;
    FILL(pkt4, value);
    FILL(pkt6, value);
    FILL(relay, value);
    FILL(subnet, value);
    FILL(lease4, value);
    FILL(lease6, value);
    switch (block) {
    case RS_BLOCK_QUERY4:
        rs_event_add_query4(ev, &pkt4);
        if (value)
            rs_event_add_option(ev, 4, OPTION_CODE, "0x00");
        return true;
    case RS_BLOCK_RESPONSE4:
        rs_event_add_response4(ev, &pkt4);
        return true;
    case RS_BLOCK_SUBNET4:
        rs_event_add_subnet4(ev, &subnet);
        return true;
    case RS_BLOCK_LEASE4:
        rs_event_add_lease4(ev, &lease4);
        return true;
    case RS_BLOCK_QUERY6:
        rs_event_add_query6(ev, &pkt6);
        rs_event_add_relays6(ev, &relay, 1);
        if (value)
            rs_event_add_option(ev, 6, OPTION_CODE, "0x00");
        return true;
    case RS_BLOCK_RESPONSE6:
        rs_event_add_response6(ev, &pkt6);
        return true;
    case RS_BLOCK_SUBNET6:
        rs_event_add_subnet6(ev, &subnet);
        return true;
    case RS_BLOCK_LEASE6:
        rs_event_add_lease6(ev, &lease6);
        return true;
    case RS_BLOCK_LEASES4:
        for (int list = RS_LEASES_GRANTED; list <= RS_LEASES_DELETED; list++) {
            rs_event_add_lease_count(ev, 4, (enum rs_lease_list)list, 1);
            rs_event_add_listed_lease4(ev, (enum rs_lease_list)list, 0, &lease4);
        }
        return true;
    case RS_BLOCK_LEASES6:
        for (int list = RS_LEASES_GRANTED; list <= RS_LEASES_DELETED; list++) {
            rs_event_add_lease_count(ev, 6, (enum rs_lease_list)list, 1);
            rs_event_add_listed_lease6(ev, (enum rs_lease_list)list, 0, &lease6);
        }
        return true;
    case RS_BLOCK_FAKE_ALLOCATION:
        rs_event_add_fake_allocation(ev, true);
        return true;
    case RS_BLOCK_REMOVE_LEASE:
        rs_event_add_remove_lease(ev, false);
        return true;
    case RS_BLOCK_OFFER_LIFETIME:
        rs_event_add_offer_lifetime(ev, "0");
        return true;
    default:
        return false;
    }
}

/* Builds the event of `hook`, as the newest Kea passes it, with every field set to `value`;
 * collects the docs of its blocks. */
static char **build_hook_event(int hook, const char *value, struct rs_event *ev, struct names *docs)
{
    const struct rs_hook_info *info = rs_hook_describe((enum rs_hook)hook);
    const unsigned blocks = rs_hook_blocks((enum rs_hook)hook, INT_MAX);
    rs_event_init(ev, (enum rs_hook)hook);
    for (unsigned bit = 1; bit; bit <<= 1) {
        if (!(blocks & bit))
            continue;
        bool known = add_block(ev, bit, value);
        if (!known)
            print_message("hook %s: block 0x%x is unknown to this test; add it to add_block()\n",
                          info->name, bit);
        assert_true(known);
        rs_block_docs(bit, collect_doc, docs);
    }
    assert_false(ev->incomplete);
    const unsigned short codes[] = {OPTION_CODE};
    char **envp = rs_event_envp(ev, NULL, codes, 1);
    assert_non_null(envp);
    assert_string_equal(envp[0], path_var);
    return envp;
}

static size_t find_doc(const struct names *docs, const char *var)
{
    size_t len = strcspn(var, "=");
    for (size_t i = 0; i < docs->nr; i++)
        if (strlen(docs->items[i]) == len && strncmp(docs->items[i], var, len) == 0)
            return i;
    return docs->nr;
}

static void test_docs_match_events(void **state)
{
    (void)state;
    for (int hook = 0; hook < RS_HOOK_COUNT; hook++) {
        const struct rs_hook_info *info = rs_hook_describe((enum rs_hook)hook);
        assert_non_null(info->name);
        assert_int_equal(rs_hook_by_name(info->name), hook);
        struct names docs = {.nr = 0};
        struct rs_event ev;
        char **envp = build_hook_event(hook, "value", &ev, &docs);
        /* Every documented name once, and nothing else. */
        size_t seen[512] = {0}, n = 1;
        for (; envp[n]; n++) {
            size_t d = find_doc(&docs, envp[n]);
            if (d == docs.nr)
                print_message("hook %s: %s is not documented\n", info->name, envp[n]);
            assert_true(d < docs.nr);
            seen[d]++;
        }
        for (size_t d = 0; d < docs.nr; d++) {
            if (seen[d] != 1)
                print_message("hook %s: %s emitted %zu times\n", info->name, docs.items[d],
                              seen[d]);
            assert_int_equal(seen[d], 1);
        }
        assert_int_equal(n - 1, docs.nr);
        free(envp);
        free_names(&docs);
        rs_event_release(&ev);
    }
}

static void test_docs_optional_flags(void **state)
{
    (void)state;
    /* A variable documented as optional is exactly one that disappears when its data does
     * (options are only ever there on request: the emitter adds none here). */
    for (int hook = 0; hook < RS_HOOK_COUNT; hook++) {
        const struct rs_hook_info *info = rs_hook_describe((enum rs_hook)hook);
        struct names docs = {.nr = 0};
        struct rs_event ev;
        char **envp = build_hook_event(hook, NULL, &ev, &docs);
        size_t seen[512] = {0}, n = 1;
        for (; envp[n]; n++) {
            size_t d = find_doc(&docs, envp[n]);
            assert_true(d < docs.nr);
            if (docs.optional[d])
                print_message("hook %s: optional %s emitted without data\n", info->name, envp[n]);
            assert_false(docs.optional[d]);
            seen[d]++;
        }
        for (size_t d = 0; d < docs.nr; d++) {
            bool expected = !docs.optional[d] && !strstr(docs.items[d], "_OPTION77");
            if (seen[d] != expected)
                print_message("hook %s: %s emitted %zu times\n", info->name, docs.items[d],
                              seen[d]);
            assert_int_equal(seen[d], expected);
        }
        free(envp);
        free_names(&docs);
        rs_event_release(&ev);
    }
    /* What is not a bit of enum rs_block documents nothing. */
    struct names none = {.nr = 0};
    rs_block_docs(0, collect_doc, &none);
    rs_block_docs(1u << 30, collect_doc, &none);
    assert_int_equal(none.nr, 0);
}

static void test_blocks_follow_the_kea_release(void **state)
{
    (void)state;
    /* pkt4_send carries the subnet from Kea 2.6 on, leases4_committed the response from 3.0. */
    assert_false(rs_hook_blocks(RS_HOOK_PKT4_SEND, 20200) & RS_BLOCK_SUBNET4);
    assert_true(rs_hook_blocks(RS_HOOK_PKT4_SEND, 20603) & RS_BLOCK_SUBNET4);
    assert_true(rs_hook_blocks(RS_HOOK_PKT4_SEND, 20603) & RS_BLOCK_RESPONSE4);
    assert_false(rs_hook_blocks(RS_HOOK_LEASES6_COMMITTED, 20603) & RS_BLOCK_RESPONSE6);
    assert_true(rs_hook_blocks(RS_HOOK_LEASES6_COMMITTED, 30004) & RS_BLOCK_RESPONSE6);
    assert_int_equal(rs_hook_block_since(RS_HOOK_PKT6_SEND, RS_BLOCK_SUBNET6), 20600);
    assert_int_equal(rs_hook_block_since(RS_HOOK_PKT6_SEND, RS_BLOCK_QUERY6), 0);
    assert_int_equal(rs_hook_block_since(RS_HOOK_PKT6_SEND, RS_BLOCK_LEASE6), -1);
    assert_int_equal(rs_hook_describe(RS_HOOK_LEASE4_OFFER)->since, 20600);
    assert_int_equal(rs_hook_describe(RS_HOOK_ADDR6_REGISTER)->since, 30000);
    assert_int_equal(rs_hook_describe(RS_HOOK_LEASE4_SELECT)->since, 0);
    /* Hook points new since the original are never run by default. */
    for (int hook = 0; hook < RS_HOOK_COUNT; hook++)
        if (rs_hook_describe((enum rs_hook)hook)->since)
            assert_false(rs_hook_default_set() & RS_HOOK_BIT(hook));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_first),
        cmocka_unit_test(test_query4_full),
        cmocka_unit_test(test_query4_optional_and_required_null),
        cmocka_unit_test(test_response4),
        cmocka_unit_test(test_query6_response6),
        cmocka_unit_test(test_subnets),
        cmocka_unit_test(test_lease4),
        cmocka_unit_test(test_lease6),
        cmocka_unit_test(test_hostile_values_byte_exact),
        cmocka_unit_test(test_relays6),
        cmocka_unit_test(test_lease_lists),
        cmocka_unit_test(test_ordering_keys),
        cmocka_unit_test(test_envp_merges_extra_and_options),
        cmocka_unit_test(test_docs_match_events),
        cmocka_unit_test(test_docs_optional_flags),
        cmocka_unit_test(test_blocks_follow_the_kea_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
