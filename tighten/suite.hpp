// Workload suites: what `silk policy learn/tighten` learns from and `silk regress` runs.
//
// A suite is a directory; each subdirectory holding a `workload.json` is one workload
// (a directory that itself holds a workload.json is a suite of one):
//
//   {
//     "description": "python3 json round trip",
//     "command": ["python3", "-c", "@roundtrip.py"],   // argv; PATH lookup in the box
//     "expect_exit": 0,                                 // default 0
//     "timeout": 30,                                    // seconds, default 30
//     "files": ["roundtrip.py"],                        // files of the workload dir
//     "env": ["PYTHONHASHSEED=0"]                       // extra environment
//   }
//
// A box sees no host paths, so a workload's files travel inline: an argument "@NAME"
// where NAME is listed in "files" is replaced by that file's contents (scripts go to
// `sh -c`, `python3 -c`, ...). Every run also gets SILK_RUN=<n> in its environment and
// "{run}" in arguments replaced by n, so repeated runs get varied inputs.
// Parsing rejects unknown fields and wrong types, naming the file and the field.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::tighten {

struct Workload {
  std::string name;  // the directory's name
  std::string dir;   // host path of the directory
  std::string description;
  std::vector<std::string> command;
  int expect_exit = 0;
  double timeout_seconds = 30;
  std::vector<std::string> files;
  std::vector<std::string> env;
};

struct Suite {
  std::string dir;
  std::vector<Workload> workloads;  // sorted by name
};

// Parses one workload.json. `dir` is the workload's directory (files are checked to
// exist there). Errors (kInvalidInput) name the file and field.
Result<Workload> ParseWorkload(const std::string& json_text, const std::string& dir);

// Loads every workload of the suite directory `dir`. Errors: kNotFound (no such
// directory), kInvalidInput (a bad workload.json, or no workload at all: "empty suite").
Result<Suite> LoadSuite(const std::string& dir);

// A suite of one workload made from a shell command line (`--oracle 'CMD'`):
// /bin/sh -c CMD, expecting exit 0.
Workload ShellWorkload(const std::string& name, const std::string& command_line,
                       double timeout_seconds);

// The argv of run number `run`: "@FILE" replaced by the file's contents, "{run}" by the
// number. Errors: kNotFound when a file vanished since loading.
Result<std::vector<std::string>> ExpandCommand(const Workload& w, int run);

// The environment of run `run`: w.env plus SILK_RUN=<run> (PATH and HOME come from the
// box defaults unless w.env sets them).
std::vector<std::string> RunEnvironment(const Workload& w, int run);

}  // namespace silk::tighten
