// Named boxes that live (the OCI runtime verbs, as crun and runc): `silk box create`
// starts a detached supervisor for the box (as conmon; its own process, which survives
// the CLI and holds the box's state lock), then these act on the box by name through
// its state directory (<state root>/<name>/, compat/internal/state.hpp) and its record
// (box_record.hpp). Nothing here talks to the supervisor but through the kernel: signals
// go to the box's pid 1 through a pidfd checked against the recorded start time (a
// recycled pid is never signalled), a created box is started through its FIFO, and the
// supervisor's end is seen through a pidfd.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "compat/box_record.hpp"

namespace silk::compat {

// The record of the named box `name` under `state_root` (empty: DefaultStateRoot()),
// with `state_dir` and `log` filled, and kLost when it says created or running but no
// supervisor holds it. Errors: kNotFound ("no box named ..."), kInvalidInput (a bad name).
Result<BoxRecord> ReadBox(const std::string& state_root, const std::string& name);

// Waits until the box's record satisfies `done` (each new record is read when the
// supervisor replaces it: inotify on the state directory), at most `timeout`. Returns the
// last record read. Errors: as ReadBox; kTimeout naming the status it stayed in.
Result<BoxRecord> WaitForBox(const std::string& state_root, const std::string& name,
                             const std::function<bool(const BoxRecord&)>& done,
                             std::chrono::milliseconds timeout);

// Every named box, by name.
Result<std::vector<BoxRecord>> ListBoxes(const std::string& state_root);

// Lets a created box go. Errors: kNotFound; kInvalidInput when it is not waiting to
// start (running, exited, lost: the message says which).
Result<void> StartBox(const std::string& state_root, const std::string& name);

// Sends `signal` to the box's pid 1 (silk's init forwards catchable signals to the
// command; SIGKILL ends the box). Errors: kNotFound; kInvalidInput when it does not run.
Result<void> KillBox(const std::string& state_root, const std::string& name, int signal);

// SIGTERM, then SIGKILL once `grace` has passed; returns the record once the supervisor
// has recorded the end. Stopping a box that has ended is not an error (its record).
Result<BoxRecord> StopBox(const std::string& state_root, const std::string& name,
                          std::chrono::milliseconds grace);

// Removes the box: its state, and anything a lost box left (processes, cgroups, veth).
// A created or running box needs `force` (then it is killed first). Errors: kNotFound;
// kInvalidInput for a live box without force.
Result<void> DeleteBox(const std::string& state_root, const std::string& name, bool force);

}  // namespace silk::compat
