#include "base/json_object.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "base/strings.hpp"

namespace silk {
namespace {

using nlohmann::json;

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// `text` cut to a readable length for an error message.
std::string Cut(std::string text, size_t max) {
  if (text.size() > max) text = text.substr(0, max) + "...";
  return text;
}

// Why the strict parse stopped (thrown from the parser callback, caught in
// ParseStrictJson).
struct StrictParseStop {
  std::string pointer;
  std::string what;
};

// Tracks where the parser is, for the depth limit, duplicate keys and the path in
// errors.
class StrictParseState {
 public:
  explicit StrictParseState(const JsonLimits& limits) : limits_(limits) {}

  bool Event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (frames_.size() >= static_cast<size_t>(limits_.max_depth)) {
          std::string what =
              "JSON nested deeper than " + std::to_string(limits_.max_depth) + " levels";
          if (limits_.needed_depth > 0)
            what += "; " + std::string(limits_.what) + " needs at most " +
                    std::to_string(limits_.needed_depth);
          throw StrictParseStop{Pointer(), what};
        }
        frames_.push_back(Frame{event == json::parse_event_t::array_start, 0, "", {}});
        break;
      case json::parse_event_t::key: {
        Frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second)
          throw StrictParseStop{Pointer(),
                                "duplicate key; JSON parsers disagree on which value wins, "
                                "keep only one"};
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        ElementDone();
        break;
      case json::parse_event_t::value:
        ElementDone();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool array;
    size_t index;
    std::string key;
    std::unordered_set<std::string> keys;
  };
  void ElementDone() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  std::string Pointer() const {
    std::string p;
    for (const auto& f : frames_) {
      if (f.array)
        p = JsonPointerChild(p, f.index);
      else if (!f.key.empty())
        p = JsonPointerChild(p, Cut(f.key, 64));
      if (p.size() > 256) break;
    }
    return p;
  }
  const JsonLimits& limits_;
  std::vector<Frame> frames_;
};

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string ParseMessage(const std::string& what) {
  size_t close = what.find("] ");
  return close != std::string::npos && what.rfind("[json.exception", 0) == 0
             ? what.substr(close + 2)
             : what;
}

}  // namespace

template <typename T>
bool JsonObjectReader::Scalar(std::string_view key, T& out, JsonNeed need,
                              bool (json::*is_type)() const noexcept, const char* expected) {
  const json* v = Find(key, need);
  if (!v) return false;
  if (!(v->*is_type)()) {
    Problem(key, std::string("expected ") + expected + ", found " + DescribeJson(*v));
    return false;
  }
  out = v->get<T>();
  return true;
}

std::string JsonPointerChild(const std::string& pointer, std::string_view key) {
  std::string out = pointer;
  out += '/';
  out += key;
  return out;
}

std::string JsonPointerChild(const std::string& pointer, size_t index) {
  return pointer + "/" + std::to_string(index);
}

std::string JsonPointerToDisplay(const std::string& pointer) {
  if (pointer.empty()) return "(top level)";
  std::string out;
  size_t i = 1;
  while (i <= pointer.size()) {
    size_t j = pointer.find('/', i);
    if (j == std::string::npos) j = pointer.size();
    std::string_view seg(pointer.data() + i, j - i);
    if (IsDigits(seg)) {
      out += '[';
      out += seg;
      out += ']';
    } else {
      if (!out.empty()) out += '.';
      out += seg;
    }
    i = j + 1;
  }
  return out;
}

Result<json> ParseStrictJson(std::string_view text, const std::string& source,
                             const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    return Fail(ErrorCode::kInvalidInput, source + ": " + std::to_string(text.size()) + " bytes; " +
                                              std::string(limits.what) + " may have at most " +
                                              std::to_string(limits.max_bytes));
  // nlohmann's parser is iterative, but its DOM merges duplicate keys (last wins) and
  // printing or destroying a value recurses: refuse depth and duplicates while parsing.
  StrictParseState state(limits);
  try {
    return json::parse(text.begin(), text.end(),
                       [&state](int, json::parse_event_t event, json& parsed) {
                         return state.Event(event, parsed);
                       });
  } catch (const StrictParseStop& e) {
    return Fail(ErrorCode::kInvalidInput,
                source + ": " + JsonPointerToDisplay(e.pointer) + ": " + e.what);
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidInput, source + ": invalid JSON: " + ParseMessage(e.what()));
  }
}

std::string DescribeJson(const json& j) {
  // Only scalars are printed: dumping a hostile nested value would recurse deeply.
  std::string text =
      j.is_structured() ? "" : j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  switch (j.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "the string " + text;
    case json::value_t::boolean:
      return "the boolean " + text;
    case json::value_t::null:
      return "null";
    case json::value_t::number_float:
      return "the non-integer number " + text;
    default:
      return "the number " + text;
  }
}

std::string QuoteWord(std::string_view s) {
  if (s.size() <= 64) return "'" + std::string(s) + "'";
  return "'" + std::string(s.substr(0, 64)) + "...' (" + std::to_string(s.size()) + " bytes)";
}

void JsonProblems::Report(const std::string& pointer, const std::string& message, bool at_key) {
  if (count_++ == 0) {
    first_pointer_ = pointer;
    first_message_ = message;
  }
  // A collecting caller sees every problem (it counts those it does not keep).
  if (!keep_ || !keep_(pointer, message, at_key)) full_ = true;
}

std::string JsonProblems::Suggest(std::string_view word,
                                  const std::vector<std::string>& known) const {
  return full_ ? "" : DidYouMean(word, known);
}

Result<void> JsonProblems::Check(const std::string& source) const {
  if (count_ == 0) return {};
  return Fail(
      ErrorCode::kInvalidInput,
      source + ": " + Cut(JsonPointerToDisplay(first_pointer_), 128) + ": " + first_message_);
}

JsonObjectReader::JsonObjectReader(const json& value, std::string pointer, std::string what,
                                   JsonProblems& problems)
    : value_(value),
      pointer_(std::move(pointer)),
      what_(std::move(what)),
      problems_(problems),
      ok_(value.is_object()) {
  if (!ok_)
    problems_.Report(pointer_,
                     "expected " + what_ + " (a JSON object), found " + DescribeJson(value));
}

const json* JsonObjectReader::Find(std::string_view key, JsonNeed need) {
  if (!ok_) return nullptr;
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  auto it = value_.find(key);
  if (it == value_.end() || it->is_null()) {
    if (need == JsonNeed::kRequired)
      problems_.Report(Child(key), "missing required field " + QuoteWord(key));
    return nullptr;
  }
  return &*it;
}

void JsonObjectReader::Problem(std::string_view key, const std::string& message, bool at_key) {
  problems_.Report(Child(key), message, at_key);
}

bool JsonObjectReader::String(std::string_view key, std::string& out, JsonNeed need) {
  return Scalar(key, out, need, &json::is_string, "a string");
}

bool JsonObjectReader::Bool(std::string_view key, bool& out, JsonNeed need) {
  return Scalar(key, out, need, &json::is_boolean, "true or false");
}

bool JsonObjectReader::Number(std::string_view key, double& out, JsonNeed need) {
  return Scalar(key, out, need, &json::is_number, "a number");
}

bool JsonObjectReader::UintAt(const json& v, const std::string& pointer, uint64_t max,
                              JsonProblems& problems, uint64_t& out) {
  uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<uint64_t>();
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    n = static_cast<uint64_t>(v.get<int64_t>());
  } else {
    problems.Report(pointer, "expected a non-negative integer" +
                                 (max == UINT64_MAX ? std::string(" (up to 2^64-1)")
                                                    : " (0.." + std::to_string(max) + ")") +
                                 ", found " + DescribeJson(v));
    return false;
  }
  if (n > max) {
    problems.Report(pointer, "expected an integer in 0.." + std::to_string(max) + ", found " +
                                 std::to_string(n));
    return false;
  }
  out = n;
  return true;
}

bool JsonObjectReader::UintValue(std::string_view key, uint64_t& out, uint64_t max, JsonNeed need) {
  const json* v = Find(key, need);
  return v && UintAt(*v, Child(key), max, problems_, out);
}

bool JsonObjectReader::Strings(std::string_view key, std::vector<std::string>& out, JsonNeed need) {
  const json* v = Find(key, need);
  if (!v) return false;
  if (!v->is_array()) {
    Problem(key, "expected an array of strings, found " + DescribeJson(*v));
    return false;
  }
  out.clear();
  bool all = true;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    if (!e.is_string()) {
      problems_.Report(JsonPointerChild(Child(key), i),
                       "expected a string, found " + DescribeJson(e));
      all = false;
      continue;
    }
    out.push_back(e.get<std::string>());
  }
  return all;
}

const json* JsonObjectReader::Array(std::string_view key, std::string_view of_what, JsonNeed need) {
  const json* v = Find(key, need);
  if (!v) return nullptr;
  if (!v->is_array()) {
    Problem(key, "expected an array of " + std::string(of_what) + ", found " + DescribeJson(*v));
    return nullptr;
  }
  return v;
}

std::optional<JsonObjectReader> JsonObjectReader::Object(std::string_view key, std::string what,
                                                         JsonNeed need) {
  const json* v = Find(key, need);
  if (!v) return std::nullopt;
  JsonObjectReader child(*v, Child(key), std::move(what), problems_);
  if (!child.ok()) return std::nullopt;
  return child;
}

void JsonObjectReader::UnknownWord(std::string_view key, const std::string& word,
                                   const std::vector<std::string>& known, std::string_view what) {
  std::vector<std::string> quoted;
  for (const auto& k : known) quoted.push_back("'" + k + "'");
  Problem(key, "unknown " + std::string(what) + " " + QuoteWord(word) +
                   problems_.Suggest(word, known) + " (expected one of " + Join(quoted, ", ") +
                   ")");
}

void JsonObjectReader::Finish() {
  if (!ok_) return;
  for (auto it = value_.begin(); it != value_.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string msg =
        "unknown field " + QuoteWord(key) + " in " + what_ + problems_.Suggest(key, known_);
    // A word too long to be a typo gets no list either.
    if (msg.back() != '?' && key.size() <= kMaxSuggestedWordLength)
      msg += "; known fields: " + Join(known_, ", ");
    problems_.Report(Child(key), msg, /*at_key=*/true);
  }
}

}  // namespace silk
