#include <config.h>

#include "replay.h"
#include "extract.h"
#include "logger.h"

extern "C" {
#include "core/replay.h"
}

#include <asiolink/io_service.h>
#include <dhcpsrv/lease_mgr.h>
#include <dhcpsrv/lease_mgr_factory.h>

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <new>

using namespace isc::dhcp;
using isc::asiolink::IOAddress;
using isc::asiolink::IOServicePtr;

namespace runscript
{

namespace
{

// Leases read per turn of Kea's main loop: small enough that Kea answers packets in between.
const size_t PAGE_SIZE = 500;

// The replay in progress. A page request posted to Kea's main loop carries the generation it
// was made for, and does nothing if the replay it belongs to has gone.
struct Session {
    std::mutex lock;
    rs_replay *replay = nullptr;
    rs_engine *engine = nullptr;
    IOServicePtr io_service;
    int family = 0;
    IOAddress next = IOAddress("0.0.0.0");
    unsigned generation = 0;
};

Session session;

bool active(const Lease &lease)
{
    return lease.state_ == Lease::STATE_DEFAULT && !lease.expired();
}

template <class Collection>
size_t fill_events(const Collection &leases, rs_hook hook, rs_event *events, IOAddress &next)
{
    size_t count = 0;
    for (const auto &lease : leases) {
        next = lease->addr_;
        if (!active(*lease))
            continue;
        rs_event_init(&events[count], hook);
        add_lease(events[count], lease);
        if (rs_engine_wants_isc(session.engine))
            add_isc_lease(events[count], lease);
        ++count;
    }
    return count;
}

// On Kea's main thread: reads the next page and hands it to the replay thread.
void read_page(unsigned generation)
{
    std::lock_guard<std::mutex> guard(session.lock);
    if (generation != session.generation || !session.replay)
        return;
    rs_event *events = static_cast<rs_event *>(std::calloc(PAGE_SIZE, sizeof(rs_event)));
    size_t count = 0, read = 0;
    try {
        LeasePageSize page(PAGE_SIZE);
        if (events && session.family == 4) {
            Lease4Collection leases = LeaseMgrFactory::instance().getLeases4(session.next, page);
            read = leases.size();
            count = fill_events(leases, RS_HOOK_LEASE4_REPLAY, events, session.next);
        } else if (events) {
            Lease6Collection leases = LeaseMgrFactory::instance().getLeases6(session.next, page);
            read = leases.size();
            count = fill_events(leases, RS_HOOK_LEASE6_REPLAY, events, session.next);
        }
    } catch (const std::exception &e) {
        std::string text = std::string("lease replay: cannot read the lease database: ") + e.what();
        log(RS_MSG_CALLOUT_ERROR, text.c_str());
        read = 0;
    }
    if (!events) {
        log(RS_MSG_CALLOUT_ERROR, "lease replay: out of memory");
        read = 0;
        events = static_cast<rs_event *>(std::calloc(1, sizeof(rs_event)));
    }
    rs_replay_feed(session.replay, events, count, read < PAGE_SIZE);
}

// From the replay thread: asks Kea's main loop for the next page.
extern "C" void request_page(void *)
{
    std::lock_guard<std::mutex> guard(session.lock);
    const unsigned generation = session.generation;
    if (session.io_service)
        session.io_service->post([generation]() { read_page(generation); });
}

} // namespace

int replay_on_configured(isc::hooks::CalloutHandle &handle, rs_engine *engine, int family)
{
    const rs_hook hook = family == 4 ? RS_HOOK_LEASE4_REPLAY : RS_HOOK_LEASE6_REPLAY;
    if (!(rs_engine_hooks(engine) & RS_HOOK_BIT(hook)))
        return 0;
    IOServicePtr io_service;
    handle.getArgument("io_context", io_service);
    replay_stop();
    std::lock_guard<std::mutex> guard(session.lock);
    session.engine = engine;
    session.io_service = io_service;
    session.family = family;
    session.next = IOAddress(family == 4 ? "0.0.0.0" : "::");
    ++session.generation;
    if (!io_service || rs_replay_start(&session.replay, engine, family, request_page, nullptr,
                                       kea_logger()) != 0) {
        session.replay = nullptr;
        log(RS_MSG_CALLOUT_ERROR, "lease replay: cannot start it");
    }
    return 0;
}

void replay_stop()
{
    rs_replay *replay;
    {
        std::lock_guard<std::mutex> guard(session.lock);
        replay = session.replay;
        session.replay = nullptr;
        session.io_service.reset();
        ++session.generation;
    }
    // Outside the lock: the replay thread may be asking for a page, which takes it.
    if (replay)
        rs_replay_stop(replay);
}

void pin_library()
{
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&pin_library), &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

} // namespace runscript
