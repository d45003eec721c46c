// Strict reading of the JSON files silk takes from users: box specs, image manifests,
// API profiles and workload suites all read their objects through this one reader.
//
// - ParseStrictJson refuses text over a size limit, nesting deeper than a depth limit
//   and duplicate object keys (JSON parsers disagree on which value wins), naming the
//   JSON path where it stopped.
// - JsonObjectReader reads one object field by field. A member no call asked about is
//   an unknown field, reported with the nearest known names ("did you mean 'x'?"); a
//   value of the wrong type is reported at its path ("mounts[2].target: expected a
//   string, found the number 3"); null counts as absent.
// - Problems go to a JsonProblems: either only the first is kept (formats that stop at
//   the first error, Check() turns it into an Error) or each is handed to the caller
//   (profiles list every problem with its line and column).
//
// Paths are JSON pointers built with keys unescaped ("/mounts/2/target"), shown to
// users as "mounts[2].target" (JsonPointerToDisplay).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace silk {

// The pointer of member `key` / element `index` of the value at `pointer`. Keys are
// appended unescaped: pointers are lookup keys between a reader and a scanner that build
// them the same way, and are shown with JsonPointerToDisplay.
std::string JsonPointerChild(const std::string& pointer, std::string_view key);
std::string JsonPointerChild(const std::string& pointer, size_t index);
// "/mounts/2/target" -> "mounts[2].target"; "" -> "(top level)".
std::string JsonPointerToDisplay(const std::string& pointer);

// What ParseStrictJson accepts.
struct JsonLimits {
  size_t max_bytes = size_t{16} << 20;
  int max_depth = 64;              // objects and arrays nested at most this deep
  std::string_view what = "JSON";  // the format, in messages: "a box spec"
  int needed_depth = 0;            // how deep `what` ever needs to go (0: not said)
};

// Parses `text`. Errors (kInvalidInput), each starting with `source`: text larger than
// max_bytes; invalid JSON (nlohmann's message); nesting deeper than max_depth; a
// duplicate key, naming its path.
Result<nlohmann::json> ParseStrictJson(std::string_view text, const std::string& source,
                                       const JsonLimits& limits = {});

// "the string \"abc\"", "the number 3", "an object", "null", ... (scalars cut to 40
// characters; containers never printed, so a hostile nested value costs nothing).
std::string DescribeJson(const nlohmann::json& value);

// 'word' for a message, cut to its first 64 bytes ("...' (N bytes)") so that a hostile
// megabyte-long word does not fill it.
std::string QuoteWord(std::string_view word);

// Where readers put the problems they find.
class JsonProblems {
 public:
  // Takes a problem: the JSON pointer, the message, and whether it is about the key
  // (an unknown field) rather than the value. Returns false once the caller keeps no
  // more problems (it only counts them); readers then skip costly details such as
  // "did you mean" searches, so input with 100k errors costs linear time.
  using KeepFn =
      std::function<bool(const std::string& pointer, const std::string& message, bool at_key)>;

  // Keeps the first problem only.
  JsonProblems() = default;
  // Hands every problem to `keep`.
  explicit JsonProblems(KeepFn keep) : keep_(std::move(keep)) {}

  void Report(const std::string& pointer, const std::string& message, bool at_key = false);
  // Whether the caller keeps no more problems.
  bool full() const { return full_; }
  // Whether any problem was reported.
  bool any() const { return count_ > 0; }
  // DidYouMean(word, known), or "" once full.
  std::string Suggest(std::string_view word, const std::vector<std::string>& known) const;
  // Nothing reported: ok. Otherwise kInvalidInput "source: path: message" for the first
  // problem (the path cut to a readable length).
  Result<void> Check(const std::string& source) const;

 private:
  KeepFn keep_;
  bool full_ = false;
  size_t count_ = 0;
  std::string first_pointer_, first_message_;
};

// Whether a field must be there.
enum class JsonNeed { kOptional, kRequired };

// Reads one JSON object. Each getter marks its key as known, reports a wrong type
// (or a missing required field) to the JsonProblems, and returns whether it stored a
// value in `out` (left untouched otherwise). Finish() then reports every member no
// getter asked about.
class JsonObjectReader {
 public:
  // `what` names the object in messages ("box spec", "syscall rule"); a value that is
  // not an object is reported as "expected <what> (a JSON object), found ...".
  JsonObjectReader(const nlohmann::json& value, std::string pointer, std::string what,
                   JsonProblems& problems);

  // Whether the value is an object (the getters read nothing otherwise).
  bool ok() const { return ok_; }
  const std::string& pointer() const { return pointer_; }
  JsonProblems& problems() const { return problems_; }
  // The pointer of member `key`.
  std::string Child(std::string_view key) const { return JsonPointerChild(pointer_, key); }

  // Member `key`, or nullptr when absent or null (reported when required).
  const nlohmann::json* Find(std::string_view key, JsonNeed need = JsonNeed::kOptional);

  bool String(std::string_view key, std::string& out, JsonNeed need = JsonNeed::kOptional);
  bool Bool(std::string_view key, bool& out, JsonNeed need = JsonNeed::kOptional);
  bool Number(std::string_view key, double& out, JsonNeed need = JsonNeed::kOptional);
  // A non-negative integer of at most `max`.
  template <typename T>
  bool Uint(std::string_view key, T& out, uint64_t max = std::numeric_limits<T>::max(),
            JsonNeed need = JsonNeed::kOptional) {
    uint64_t v = 0;
    if (!UintValue(key, v, max, need)) return false;
    out = static_cast<T>(v);
    return true;
  }
  // An array of strings; `out` gets the elements that are strings (false if any is not).
  bool Strings(std::string_view key, std::vector<std::string>& out,
               JsonNeed need = JsonNeed::kOptional);
  // A string member naming one of `names`: stores the value paired with it. Otherwise
  // "unknown <what> 'x'; did you mean 'y'? (expected one of 'a', 'b')".
  template <typename E>
  bool OneOf(std::string_view key, E& out,
             std::initializer_list<std::pair<std::string_view, E>> names, std::string_view what,
             JsonNeed need = JsonNeed::kOptional) {
    std::string word;
    if (!String(key, word, need)) return false;
    std::vector<std::string> words;
    for (const auto& [name, value] : names) {
      if (word == name) {
        out = value;
        return true;
      }
      words.emplace_back(name);
    }
    UnknownWord(key, word, words, what);
    return false;
  }
  // Reports `word` in member `key` as an unknown <what>, suggesting the nearest `known`.
  void UnknownWord(std::string_view key, const std::string& word,
                   const std::vector<std::string>& known, std::string_view what);
  // An array member ("expected an array of <of_what>, found ..."), or nullptr.
  const nlohmann::json* Array(std::string_view key, std::string_view of_what,
                              JsonNeed need = JsonNeed::kOptional);
  // A reader of the object member `key`, when present and an object.
  std::optional<JsonObjectReader> Object(std::string_view key, std::string what,
                                         JsonNeed need = JsonNeed::kOptional);

  // Reports a problem with member `key` (its value, or the key itself).
  void Problem(std::string_view key, const std::string& message, bool at_key = false);

  // Reports each member no getter asked about: "unknown field 'x' in <what>; did you
  // mean 'y'?", or the list of known fields when none is near.
  void Finish();

  // Reads a non-negative integer of at most `max` that is not an object member (an
  // array element, a map value) at `pointer`.
  static bool UintAt(const nlohmann::json& value, const std::string& pointer, uint64_t max,
                     JsonProblems& problems, uint64_t& out);

 private:
  // A member whose type `is_type` accepts, stored as T ("expected <expected>, found ...").
  template <typename T>
  bool Scalar(std::string_view key, T& out, JsonNeed need,
              bool (nlohmann::json::*is_type)() const noexcept, const char* expected);
  bool UintValue(std::string_view key, uint64_t& out, uint64_t max, JsonNeed need);

  const nlohmann::json& value_;
  std::string pointer_;
  std::string what_;
  JsonProblems& problems_;
  bool ok_;
  std::vector<std::string> known_;
};

}  // namespace silk
