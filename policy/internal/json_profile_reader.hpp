// Converts parsed JSON into a Profile, reporting every structural problem (unknown
// fields, wrong types, bad enum names, inconsistent errno names) as a diagnostic
// addressed by JSON pointer. Semantic checks on the resulting Profile live in
// profile_json_validate.cpp. Private to profile_json.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "policy/profile.hpp"

namespace silk::policy::internal {

// Called for each problem: JSON pointer, message, and whether it is about the key
// (unknown field) rather than the value. Returns false once the caller keeps no more
// problems (it only counts them): checkers then stop building costly details such as
// "did you mean" suggestions, so a profile with 100k errors costs linear time.
using ReportFn =
    std::function<bool(const std::string& pointer, const std::string& message, bool at_key)>;

// Fills `out` from `doc`, calling `report` for each problem. `out` is complete only if
// nothing was reported.
void ReadProfileJson(const nlohmann::json& doc, Profile& out, const ReportFn& report);

// Errno names <-> numbers (Linux, via glibc): "EPERM" <-> 1.
std::optional<uint32_t> ErrnoByName(const std::string& name);
std::string ErrnoName(uint32_t number);  // "" if unknown
const std::vector<std::string>& ErrnoNames();

}  // namespace silk::policy::internal

namespace silk::policy::internal {

// Semantic checks of a Profile (profile_json_validate.cpp): unknown syscall, capability,
// architecture and flag names, duplicate names, argument indices, errno ranges, fields
// that make no sense for the action, silk metadata. Reports like ReadProfileJson.
void CheckProfileSemantics(const Profile& profile, const ReportFn& report);

}  // namespace silk::policy::internal
