// What every command of ours shares: the callout Kea calls, which turns a handler's answer, or
// whatever it throws, into Kea's answer, and the numbers in those answers.

#ifndef KEA_HOOK_RUNSCRIPT_COMMAND_CALLOUT_H
#define KEA_HOOK_RUNSCRIPT_COMMAND_CALLOUT_H

#include <cc/command_interpreter.h>
#include <cc/data.h>
#include <hooks/callout_handle.h>

#include <cstdint>
#include <exception>
#include <string>

namespace runscript
{

// A command's refusal: its text goes back with result 1. It names the command itself.
struct Refusal {
    std::string text;
};

// A command's handler: Kea's answer to `command` (see isc::config::createAnswer), or a Refusal.
using CommandHandler = isc::data::ConstElementPtr (*)(const isc::data::ConstElementPtr &command);

// The callout to register for the command `Name`, answered by `Handler`. Kea must never see an
// exception of ours: every failure is an answer with result 1, which names the command.
template <const char *Name, CommandHandler Handler>
int command_callout(isc::hooks::CalloutHandle &handle)
{
    isc::data::ConstElementPtr response;
    std::string error;
    try {
        isc::data::ConstElementPtr command;
        handle.getArgument("command", command);
        response = Handler(command);
    } catch (const Refusal &r) {
        error = r.text;
    } catch (const std::exception &e) {
        error = std::string(Name) + ": " + e.what();
    } catch (...) {
        error = std::string(Name) + ": unknown exception";
    }
    try {
        if (!response)
            response = isc::config::createAnswer(isc::config::CONTROL_RESULT_ERROR, error);
        handle.setArgument("response", response);
    } catch (...) {
        // Out of memory, surely: Kea answers for us that the command failed.
    }
    return 0;
}

// A count in an answer: Kea's integers are signed, and a count never goes past INT64_MAX but
// must not wrap if it did.
inline isc::data::ElementPtr integer(uint64_t value)
{
    return isc::data::Element::create(
        static_cast<long long>(value > INT64_MAX ? INT64_MAX : value));
}

} // namespace runscript

#endif
