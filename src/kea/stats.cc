// Statistics and the runscript-status command.
//
// StatsMgr locks only when Kea runs multi-threaded, so it is called from Kea's main thread alone:
// a TimerMgr timer there copies the core's counters into it about once a second (Kea's main loop
// wakes once a second when idle, so that is the real pace). The packet threads never call it;
// they count with atomic adds in the core. Counters go in as deltas (addValue), so that an
// operator's statistic-reset works as on Kea's own; depths and ages are set (setValue).

#include "stats.h"

#include "command_callout.h"
#include "logger.h"

#include <cc/command_interpreter.h>
#include <cc/data.h>
#include <dhcpsrv/timer_mgr.h>
#include <stats/stats_mgr.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

using isc::data::ConstElementPtr;
using isc::data::Element;
using isc::data::ElementPtr;
using runscript::integer;

namespace
{

const char *const TIMER_NAME = "runscript-stats";
const long PUBLISH_MS = 1000;

// A statistic: its name after "runscript[<index>].", where its value is in the snapshot, and
// whether it is a counter (published as deltas) or a gauge (published as it is). Queue ones
// exist for scripts with a queue ("wait": false) only.
struct Stat {
    const char *name;
    uint64_t rs_engine_script_stats::*field;
    bool counter;
    bool queue;
};

const Stat STATS[] = {
    {"events-queued", &rs_engine_script_stats::events_queued, true, true},
    {"delivered", &rs_engine_script_stats::delivered, true, true},
    {"failed", &rs_engine_script_stats::failed, true, false},
    {"dropped", &rs_engine_script_stats::dropped, true, true},
    {"dead-lettered", &rs_engine_script_stats::dead_lettered, true, true},
    {"queue-depth", &rs_engine_script_stats::queue_depth, false, true},
    {"spool-depth", &rs_engine_script_stats::spool_depth, false, true},
    {"spool-bytes", &rs_engine_script_stats::spool_bytes, false, true},
    {"oldest-age", &rs_engine_script_stats::oldest_age_s, false, true},
    {"runs-started", &rs_engine_script_stats::runs_started, true, false},
    {"runs-killed", &rs_engine_script_stats::runs_killed, true, false},
    {"exec-failures", &rs_engine_script_stats::exec_failures, true, false},
    {"worker-restarts", &rs_engine_script_stats::worker_restarts, true, false},
};
const size_t NR_STATS = sizeof(STATS) / sizeof(STATS[0]);

// Set by stats_start() and cleared by stats_stop(), on Kea's main thread, as is every reader.
rs_engine *engine = nullptr;
// Per script, per statistic: the value last published, to publish counters as deltas.
std::vector<std::vector<uint64_t>> published;

std::string stat_name(size_t index, const Stat &stat)
{
    return isc::stats::StatsMgr::generateName("runscript", index, stat.name);
}

bool has_stat(const rs_engine_script_stats &snap, const Stat &stat)
{
    return !stat.queue || !snap.wait;
}

void publish()
{
    if (!engine)
        return;
    isc::stats::StatsMgr &mgr = isc::stats::StatsMgr::instance();
    for (size_t i = 0; i < published.size(); ++i) {
        rs_engine_script_stats snap;
        rs_engine_get_script_stats(engine, i, &snap);
        for (size_t s = 0; s < NR_STATS; ++s) {
            if (!has_stat(snap, STATS[s]))
                continue;
            const uint64_t now = snap.*STATS[s].field;
            uint64_t &last = published[i][s];
            // A gauge is set every time, so that one an operator reset shows its value again
            // within a second; a counter only when it moved: a delta of 0 would add a sample
            // and nothing else.
            if (STATS[s].counter && now != last)
                mgr.addValue(stat_name(i, STATS[s]), static_cast<int64_t>(now - last));
            else if (!STATS[s].counter)
                mgr.setValue(stat_name(i, STATS[s]), static_cast<int64_t>(now));
            last = now;
        }
    }
}

// The timer's callback runs in Kea's main loop, which must never see an exception of ours.
void publish_tick()
{
    try {
        publish();
    } catch (const std::exception &e) {
        runscript::log(RS_MSG_CALLOUT_ERROR,
                       (std::string("statistics not published: ") + e.what()).c_str());
    } catch (...) {
        runscript::log(RS_MSG_CALLOUT_ERROR, "statistics not published: unknown exception");
    }
}

ElementPtr script_status(size_t index)
{
    rs_engine_script_stats snap;
    rs_engine_get_script_stats(engine, index, &snap);
    ElementPtr map = Element::createMap();
    map->set("index", integer(index));
    map->set("script", Element::create(std::string(snap.script)));
    map->set("mode", Element::create(std::string(snap.mode == RS_MODE_WORKER ? "worker" : "exec")));
    map->set("wait", Element::create(snap.wait));
    ElementPtr hooks = Element::createList();
    for (int hook = 0; hook < RS_HOOK_COUNT; ++hook)
        if (snap.hooks & RS_HOOK_BIT(hook))
            hooks->add(
                Element::create(std::string(rs_hook_describe(static_cast<rs_hook>(hook))->name)));
    map->set("hooks", hooks);
    if (!snap.wait)
        map->set("paused", Element::create(snap.paused));
    for (const Stat &stat : STATS)
        if (has_stat(snap, stat))
            map->set(stat.name, integer(snap.*stat.field));
    if (snap.mode == RS_MODE_WORKER) {
        ElementPtr worker = Element::createMap();
        worker->set("pid", integer(static_cast<uint64_t>(snap.worker_pid)));
        worker->set("state",
                    Element::create(std::string(snap.worker_pid > 0 ? "running" : "not running")));
        map->set("worker", worker);
    }
    map->set("last-error", snap.last_error[0] ? Element::create(std::string(snap.last_error))
                                              : Element::create());
    return map;
}

// Commands run on Kea's main thread. This one reads the core's counters and the queue's state
// under its lock, held by pushes as briefly: it never waits for a script.
ConstElementPtr status(const ConstElementPtr &command)
{
    ConstElementPtr args;
    isc::config::parseCommand(args, command);
    if (args && args->getType() != Element::map)
        return isc::config::createAnswer(isc::config::CONTROL_RESULT_ERROR,
                                         "runscript-status: 'arguments' must be a map");
    if (args && !args->mapValue().empty()) {
        std::string names;
        for (const auto &entry : args->mapValue())
            names += (names.empty() ? "'" : ", '") + entry.first + "'";
        return isc::config::createAnswer(isc::config::CONTROL_RESULT_ERROR,
                                         "runscript-status: unknown arguments " + names +
                                             "; it takes none");
    }
    ElementPtr scripts = Element::createList();
    for (size_t i = 0; engine && i < rs_engine_nr_scripts(engine); ++i)
        scripts->add(script_status(i));
    ElementPtr answer = Element::createMap();
    const size_t count = scripts->size();
    answer->set("scripts", scripts);
    return isc::config::createAnswer(isc::config::CONTROL_RESULT_SUCCESS,
                                     std::to_string(count) + (count == 1 ? " script" : " scripts"),
                                     answer);
}

const char STATUS[] = "runscript-status";

} // namespace

namespace runscript
{

void stats_start(isc::hooks::LibraryHandle &handle, rs_engine *e)
{
    handle.registerCommandCallout(STATUS, command_callout<STATUS, status>);
    isc::stats::StatsMgr &mgr = isc::stats::StatsMgr::instance();
    const size_t n = rs_engine_nr_scripts(e);
    published.assign(n, std::vector<uint64_t>(NR_STATS, 0));
    for (size_t i = 0; i < n; ++i) {
        rs_engine_script_stats snap;
        rs_engine_get_script_stats(e, i, &snap);
        for (const Stat &stat : STATS)
            if (has_stat(snap, stat))
                mgr.setValue(stat_name(i, stat), static_cast<int64_t>(0));
    }
    engine = e;
    const isc::dhcp::TimerMgrPtr &timers = isc::dhcp::TimerMgr::instance();
    timers->registerTimer(TIMER_NAME, publish_tick, PUBLISH_MS,
                          isc::asiolink::IntervalTimer::REPEATING);
    timers->setup(TIMER_NAME);
}

void stats_stop()
{
    // Kea unregisters every timer before it reconfigures: ours may be gone already.
    try {
        isc::dhcp::TimerMgr::instance()->unregisterTimer(TIMER_NAME);
    } catch (...) {
    }
    try {
        isc::stats::StatsMgr &mgr = isc::stats::StatsMgr::instance();
        for (size_t i = 0; i < published.size(); ++i)
            for (const Stat &stat : STATS)
                mgr.del(stat_name(i, stat));
    } catch (...) {
    }
    published.clear();
    engine = nullptr;
}

} // namespace runscript
