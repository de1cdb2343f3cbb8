// The library's entry points for Kea: load, unload, version, multi_threading_compatible, and one
// callout per hook point. Each callout is a trampoline: copy the data out (extract.cc), hand the
// event to the core, map its answer to Kea's next-step status. No exception ever reaches Kea.

#include <config.h>

#include "commands.h"
#include "extract.h"
#include "kea_version.h"
#include "logger.h"
#include "replay.h"
#include "stats.h"

extern "C" {
#include "core/engine.h"
}

#include <cc/data.h>
#include <dhcpsrv/cfgmgr.h>
#include <hooks/hooks.h>
#include <hooks/server_hooks.h>

#include <array>
#include <exception>
#include <string>
#include <utility>

using isc::hooks::CalloutHandle;
using isc::hooks::LibraryHandle;

namespace
{

// Set by load() and cleared by unload(), both on Kea's main thread while no packet is processed;
// callouts only read it.
rs_engine *engine = nullptr;

void log_callout_error(rs_hook hook, const char *what)
{
    std::string text = std::string(rs_hook_describe(hook)->name) + ": " + what +
                       "; the scripts were not run for this event";
    runscript::log(RS_MSG_CALLOUT_ERROR, text.c_str());
}

template <rs_hook Hook> int callout(CalloutHandle &handle)
{
    rs_event event;
    rs_event_init(&event, Hook);
    try {
        runscript::OptionCodes options;
        options.count = rs_engine_option_codes(engine, &options.codes);
        runscript::extract_event(handle, options, event);
        if (rs_engine_wants_isc(engine) && rs_isc_blocks(Hook))
            runscript::extract_isc_event(handle, event);
        switch (rs_engine_dispatch(engine, &event)) {
        case RS_NEXT_CONTINUE:
            break;
        case RS_NEXT_SKIP:
            handle.setStatus(CalloutHandle::NEXT_STEP_SKIP);
            break;
        case RS_NEXT_DROP:
            handle.setStatus(CalloutHandle::NEXT_STEP_DROP);
            break;
        }
    } catch (const std::exception &e) {
        log_callout_error(Hook, e.what());
    } catch (...) {
        log_callout_error(Hook, "unknown exception");
    }
    rs_event_release(&event);
    return 0;
}

template <int... Hooks>
constexpr std::array<isc::hooks::CalloutPtr, sizeof...(Hooks)>
make_callouts(std::integer_sequence<int, Hooks...>)
{
    return {{callout<static_cast<rs_hook>(Hooks)>...}};
}

// callouts[hook] is the callout for that hook point.
constexpr auto callouts = make_callouts(std::make_integer_sequence<int, RS_HOOK_COUNT>());

// Registers a callout for each hook point a script wants and this server has: kea-dhcp4 does not
// know pkt6_receive, and registering it would throw. "load" and "unload" are ours, not Kea's.
void register_callouts(LibraryHandle &handle)
{
    const rs_hook_set wanted = rs_engine_hooks(engine);
    isc::hooks::ServerHooks &server_hooks = isc::hooks::ServerHooks::getServerHooks();
    for (int hook = 0; hook < RS_HOOK_COUNT; ++hook) {
        const char *name = rs_hook_describe(static_cast<rs_hook>(hook))->name;
        if (hook == RS_HOOK_LOAD || hook == RS_HOOK_UNLOAD)
            continue;
        if ((wanted & RS_HOOK_BIT(hook)) && server_hooks.findIndex(name) >= 0)
            handle.registerCallout(name, callouts[hook]);
    }
}

// Callout for dhcp4_srv_configured / dhcp6_srv_configured: starts the lease replay.
template <int Family> int configured(CalloutHandle &handle)
{
    const rs_hook hook = Family == 4 ? RS_HOOK_LEASE4_REPLAY : RS_HOOK_LEASE6_REPLAY;
    try {
        return runscript::replay_on_configured(handle, engine, Family);
    } catch (const std::exception &e) {
        log_callout_error(hook, e.what());
    } catch (...) {
        log_callout_error(hook, "unknown exception");
    }
    return 0;
}

// Replay starts once Kea is configured and its lease database open.
void register_replay(LibraryHandle &handle)
{
    const rs_hook_set wanted = rs_engine_hooks(engine);
    const bool v4 = wanted & RS_HOOK_BIT(RS_HOOK_LEASE4_REPLAY);
    const bool v6 = wanted & RS_HOOK_BIT(RS_HOOK_LEASE6_REPLAY);
    isc::hooks::ServerHooks &server_hooks = isc::hooks::ServerHooks::getServerHooks();
    if (!v4 && !v6)
        return;
    runscript::pin_library();
    if (v4 && server_hooks.findIndex("dhcp4_srv_configured") >= 0)
        handle.registerCallout("dhcp4_srv_configured", configured<4>);
    if (v6 && server_hooks.findIndex("dhcp6_srv_configured") >= 0)
        handle.registerCallout("dhcp6_srv_configured", configured<6>);
}

// Runs the scripts that asked for "load" or "unload"; they get PATH and their "env" only.
void run_lifecycle_scripts(rs_hook hook)
{
    if (!(rs_engine_hooks(engine) & RS_HOOK_BIT(hook)))
        return;
    rs_event event;
    rs_event_init(&event, hook);
    rs_engine_dispatch(engine, &event);
    rs_event_release(&event);
}

// The parameters for the log, with the values of "env" masked: they may hold credentials.
std::string loggable(const isc::data::ConstElementPtr &params)
{
    if (!params)
        return "{ }";
    isc::data::ElementPtr copy = isc::data::copy(params);
    auto mask = [](const isc::data::ElementPtr &map) {
        isc::data::ConstElementPtr env = map->get("env");
        if (!env || env->getType() != isc::data::Element::map)
            return;
        isc::data::ElementPtr masked = isc::data::Element::createMap();
        for (const auto &entry : env->mapValue())
            masked->set(entry.first, isc::data::Element::create(std::string("...")));
        map->set("env", masked);
    };
    if (copy->getType() != isc::data::Element::map)
        return copy->str();
    mask(copy);
    isc::data::ConstElementPtr scripts = copy->get("scripts");
    if (scripts && scripts->getType() == isc::data::Element::list)
        for (const auto &entry : scripts->listValue())
            if (entry->getType() == isc::data::Element::map)
                mask(boost::const_pointer_cast<isc::data::Element>(entry));
    return copy->str();
}

int fail_load(const std::string &why)
{
    runscript::log(RS_MSG_LOAD_FAILED, why.c_str());
    runscript::stats_stop();
    runscript::commands_stop();
    rs_engine_free(engine);
    engine = nullptr;
    return 1;
}

} // namespace

extern "C" {

int version()
{
    return KEA_HOOKS_VERSION;
}

int multi_threading_compatible()
{
    // Callouts share only the engine, which is read-only after load() and locks what it changes.
    return 1;
}

int load(LibraryHandle &handle)
{
    // Kea opens a library listed twice only once, and this library keeps one engine: a second
    // entry would take the first one's place.
    if (engine) {
        runscript::log(RS_MSG_LOAD_FAILED,
                       "configuration refused: kea-hook-runscript is listed twice in "
                       "hooks-libraries; give one entry all the scripts, in 'scripts'");
        return 1;
    }
    try {
        isc::data::ConstElementPtr params = handle.getParameters();
        const std::string json = params ? params->str() : std::string();
        char err[512];
        // Static: the engine keeps pointers to these until the next load.
        static std::string data_dir, scripts_dir;
        data_dir = runscript::text_of(isc::dhcp::CfgMgr::instance().getDataDir());
        scripts_dir = runscript::hook_scripts_dir();
        const bool dhcp4 = isc::hooks::ServerHooks::getServerHooks().findIndex("pkt4_receive") >= 0;
        const rs_engine_env env = {
            data_dir.empty() ? nullptr : data_dir.c_str(), dhcp4 ? "dhcp4" : "dhcp6",
            scripts_dir.empty() ? nullptr : scripts_dir.c_str(), runscript::kea_release};
        if (rs_engine_new(json.c_str(), &env, runscript::kea_logger(), &engine, err, sizeof(err)) !=
            0)
            return fail_load(std::string("configuration refused: ") + err);
        if (dhcp4) {
            const unsigned short *codes;
            for (size_t i = 0, n = rs_engine_option_codes(engine, &codes); i < n; ++i)
                if (codes[i] > 254)
                    return fail_load("configuration refused: parameter 'options': DHCPv4 option "
                                     "codes go from 1 to 254, not " +
                                     std::to_string(codes[i]));
        }
        register_callouts(handle);
        register_replay(handle);
        runscript::stats_start(handle, engine);
        runscript::commands_start(handle, engine);
        runscript::log(RS_MSG_LOADED, loggable(params).c_str());
        run_lifecycle_scripts(RS_HOOK_LOAD);
        return 0;
    } catch (const std::exception &e) {
        return fail_load(e.what());
    } catch (...) {
        return fail_load("unknown exception");
    }
}

int unload()
{
    try {
        runscript::replay_stop();
        runscript::stats_stop();
        runscript::commands_stop();
        if (engine)
            run_lifecycle_scripts(RS_HOOK_UNLOAD);
        rs_engine_free(engine);
        engine = nullptr;
        runscript::log(RS_MSG_UNLOADED, "unloaded");
    } catch (...) {
    }
    return 0;
}

} // extern "C"
