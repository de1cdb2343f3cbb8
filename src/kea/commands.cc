// The operator's commands on one script Kea does not wait for: runscript-pause, runscript-resume
// and runscript-dead-letters (list, retry, drop).
//
// Commands run on Kea's main thread, which serves packets too (single-threaded Kea) or feeds the
// packet threads: each one does bounded work. Pausing and resuming take the queue's lock as
// briefly as a push does. The dead letters are read from disk: a list reads LIST_MAX of them at
// most, a retry moves RETRY_MAX at most (the answer says how many are left, for another retry),
// a drop removes whole files without reading them. Their spool is opened with a short wait
// (RS_QUEUE_DEAD_LETTERS_LOCK_MS, 200 ms): when kea-runscript-spool has it open, the answer says
// busy.

#include "commands.h"

#include "command_callout.h"
#include "logger.h"

extern "C" {
#include "spool/event_record.h"
}

#include <cc/command_interpreter.h>
#include <cc/data.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using isc::data::ConstElementPtr;
using isc::data::Element;
using isc::data::ElementPtr;
using runscript::integer;
using runscript::Refusal;

namespace
{

// Dead letters shown by one list, at most: the answer stays a few hundred kilobytes.
const size_t LIST_MAX = 1000;
// Dead letters queued again by one retry, at most: a few milliseconds of appends.
const size_t RETRY_MAX = 10000;

// Set by commands_start() and cleared by commands_stop(), on Kea's main thread, as is every
// reader.
rs_engine *engine = nullptr;

// The script that {"script": <index or path>} names, among those the engine has; `keys` are the
// other arguments the command takes.
size_t script_of(const std::string &name, const ConstElementPtr &args,
                 const std::vector<std::string> &keys)
{
    const std::string usage =
        "{\"script\": <index or path>" + std::string(keys.empty() ? "" : ", \"action\": ...") + "}";
    if (!args || args->getType() != Element::map)
        throw Refusal{name + ": arguments " + usage + " are needed"};
    for (const auto &entry : args->mapValue())
        if (entry.first != "script" &&
            std::find(keys.begin(), keys.end(), entry.first) == keys.end())
            throw Refusal{name + ": unknown argument '" + entry.first + "'; it takes " + usage};
    ConstElementPtr script = args->get("script");
    if (!script)
        throw Refusal{name + ": argument 'script' is needed: the index of a script (as "
                             "runscript-status lists them) or its path"};
    const size_t count = engine ? rs_engine_nr_scripts(engine) : 0;
    if (script->getType() == Element::integer) {
        const int64_t index = script->intValue();
        if (index < 0 || static_cast<uint64_t>(index) >= count)
            throw Refusal{name + ": there is no script " + std::to_string(index) + "; there are " +
                          std::to_string(count) +
                          (count ? ", from 0 to " + std::to_string(count - 1) : std::string())};
        return static_cast<size_t>(index);
    }
    if (script->getType() != Element::string)
        throw Refusal{name +
                      ": argument 'script' must be an index (an integer) or a path (a "
                      "string), not " +
                      script->str()};
    const std::string path = script->stringValue();
    size_t found = count, matches = 0;
    for (size_t i = 0; i < count; ++i) {
        rs_engine_script_stats snap;
        rs_engine_get_script_stats(engine, i, &snap);
        if (path == snap.script) {
            found = i;
            ++matches;
        }
    }
    if (matches == 0)
        throw Refusal{name + ": no script is configured with the path '" + path + "'"};
    if (matches > 1)
        throw Refusal{name + ": " + std::to_string(matches) + " scripts have the path '" + path +
                      "': give the index of one (runscript-status lists them)"};
    return found;
}

// The path of a script Kea does not wait for; a refusal for one it waits for.
std::string queued_script(const std::string &name, size_t index)
{
    rs_engine_script_stats snap;
    rs_engine_get_script_stats(engine, index, &snap);
    const std::string path = snap.script;
    if (snap.wait)
        throw Refusal{name + ": script " + std::to_string(index) + " (" + path +
                      ") is one Kea waits for (\"wait\": true): it has no queue and no dead "
                      "letters"};
    return path;
}

ElementPtr about(size_t index, const std::string &path)
{
    ElementPtr map = Element::createMap();
    map->set("index", integer(index));
    map->set("script", Element::create(path));
    return map;
}

ConstElementPtr pause_or_resume(const ConstElementPtr &command, bool pause)
{
    ConstElementPtr args;
    const std::string name = isc::config::parseCommand(args, command);
    const size_t index = script_of(name, args, {});
    const std::string path = queued_script(name, index);
    const bool changed = rs_engine_pause(engine, index, pause) > 0;
    ElementPtr answer = about(index, path);
    answer->set("paused", Element::create(pause));
    std::string text = "script " + std::to_string(index) + " (" + path + ") ";
    if (pause)
        text += changed ? "paused: its new events wait in its spool" : "was paused already";
    else
        text += changed ? "resumed" : "was not paused";
    return isc::config::createAnswer(isc::config::CONTROL_RESULT_SUCCESS, text, answer);
}

// The variables that tell which lease or client a dead letter is about, in both naming schemes
// (with and without "KEA_"): a few, so that a list of a thousand stays small.
const char *const IDENTIFYING[] = {
    "LEASE4_ADDRESS",     "LEASE4_HWADDR", "LEASE6_ADDRESS",      "LEASE6_DELEGATED_PREFIX",
    "LEASE6_CLIENT_DUID", "LEASE6_DUID",   "LEASES4_AT0_ADDRESS", "LEASES6_AT0_ADDRESS",
    "QUERY4_HWADDR",      "QUERY6_DUID",
};

bool identifying(const std::string &name)
{
    const std::string bare = name.compare(0, 4, "KEA_") == 0 ? name.substr(4) : name;
    for (const char *id : IDENTIFYING)
        if (bare == id)
            return true;
    return false;
}

void list_one(void *ctx, uint64_t seq, const rs_event_record *ev)
{
    ElementPtr &list = *static_cast<ElementPtr *>(ctx);
    ElementPtr entry = Element::createMap();
    entry->set("seq", integer(seq));
    if (!ev) {
        entry->set("hook", Element::create());
        entry->set("damaged", Element::create(true));
        list->add(entry);
        return;
    }
    entry->set("hook", Element::create(std::string(ev->hook)));
    entry->set("attempts", integer(ev->attempts));
    ElementPtr vars = Element::createMap();
    for (size_t i = 0; i < ev->nr_env; ++i) {
        const char *eq = std::strchr(ev->envp[i], '=');
        if (!eq)
            continue;
        const std::string var(ev->envp[i], static_cast<size_t>(eq - ev->envp[i]));
        if (identifying(var))
            vars->set(var, Element::create(std::string(eq + 1)));
    }
    entry->set("variables", vars);
    list->add(entry);
}

std::string failure(int rc)
{
    if (rc == -EBUSY)
        return "their spool is in use (kea-runscript-spool reading it, or a delivery adding "
               "one): try again";
    return std::strerror(-rc);
}

ConstElementPtr dead_letters(const ConstElementPtr &command)
{
    ConstElementPtr args;
    const std::string name = isc::config::parseCommand(args, command);
    const size_t index = script_of(name, args, {"action"});
    std::string action = "list";
    if (ConstElementPtr a = args->get("action")) {
        if (a->getType() != Element::string)
            throw Refusal{name +
                          ": argument 'action' must be \"list\", \"retry\" or \"drop\", "
                          "not " +
                          a->str()};
        action = a->stringValue();
        if (action != "list" && action != "retry" && action != "drop")
            throw Refusal{name + ": unknown action '" + action +
                          "'; it is \"list\" (the default), \"retry\" or \"drop\""};
    }
    const std::string path = queued_script(name, index);
    const std::string whose = "script " + std::to_string(index) + " (" + path + ")";
    ElementPtr answer = about(index, path);
    int rc = 0;
    std::string text;
    if (action == "list") {
        ElementPtr list = Element::createList();
        uint64_t total = 0;
        rc = rs_engine_dead_letters_list(engine, index, LIST_MAX, list_one, &list, &total);
        answer->set("total", integer(total));
        answer->set("dead-letters", list);
        text = std::to_string(total) + " dead letters for " + whose;
        if (total > list->size())
            text += "; the first " + std::to_string(list->size()) + " are listed";
    } else if (action == "retry") {
        uint64_t moved = 0, left = 0;
        rc = rs_engine_dead_letters_retry(engine, index, RETRY_MAX, &moved, &left);
        answer->set("retried", integer(moved));
        answer->set("left", integer(left));
        text = std::to_string(moved) + " dead letters of " + whose + " queued again";
        if (left)
            text += "; " + std::to_string(left) + " left (retry again for more)";
    } else {
        uint64_t dropped = 0;
        rc = rs_engine_dead_letters_drop(engine, index, &dropped);
        answer->set("dropped", integer(dropped));
        text = std::to_string(dropped) + " dead letters of " + whose + " dropped";
    }
    if (rc)
        throw Refusal{name + ": " + action + ": the dead letters of " + whose +
                      " cannot be handled: " + failure(rc)};
    return isc::config::createAnswer(isc::config::CONTROL_RESULT_SUCCESS, text, answer);
}

ConstElementPtr pause(const ConstElementPtr &cmd)
{
    return pause_or_resume(cmd, true);
}

ConstElementPtr resume(const ConstElementPtr &cmd)
{
    return pause_or_resume(cmd, false);
}

const char PAUSE[] = "runscript-pause";
const char RESUME[] = "runscript-resume";
const char DEAD_LETTERS[] = "runscript-dead-letters";

} // namespace

namespace runscript
{

void commands_start(isc::hooks::LibraryHandle &handle, rs_engine *e)
{
    handle.registerCommandCallout(PAUSE, command_callout<PAUSE, pause>);
    handle.registerCommandCallout(RESUME, command_callout<RESUME, resume>);
    handle.registerCommandCallout(DEAD_LETTERS, command_callout<DEAD_LETTERS, dead_letters>);
    engine = e;
}

void commands_stop()
{
    engine = nullptr;
}

} // namespace runscript
