// JsonSourceMap: where each value and object key of a JSON text starts (line:column), by
// JSON pointer ("/syscalls/3/names/0", built as base/json_object.hpp builds them). nlohmann-json
// parses without positions; this small scanner recovers them so that semantic errors found after
// parsing can name file:line:column. It also finds duplicate object keys, which nlohmann silently
// merges.
//
// Scan() must only be given text that nlohmann already accepted as JSON; on anything
// else it stops early and returns what it has (it never reads out of bounds).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace silk::policy::internal {

struct SourcePos {
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based, in characters (UTF-8 code points)
};

// Line and column of byte `offset` in `text` (offset clamped to the text).
SourcePos PosOfOffset(std::string_view text, size_t offset);

class JsonSourceMap {
 public:
  // Duplicate keys beyond this many are counted, not listed.
  static constexpr size_t kMaxDuplicates = 100;

  // Records the position of every value and key of `text`.
  static JsonSourceMap Scan(std::string_view text);
  // Records positions only for `pointers` and their ancestors (what ValuePos and KeyPos
  // of those pointers need), so memory follows the pointers asked for, not the text;
  // time is linear in the text. Duplicate keys are found everywhere either way.
  static JsonSourceMap Scan(std::string_view text, const std::vector<std::string>& pointers);

  // Position of the value at `pointer`; for a pointer that does not exist, the position
  // of its nearest existing ancestor (so "missing field" errors point at the object).
  SourcePos ValuePos(const std::string& pointer) const;
  // Position of the object key that holds `pointer`'s value (falls back to ValuePos).
  SourcePos KeyPos(const std::string& pointer) const;

  struct Duplicate {
    std::string pointer;  // the second occurrence
    SourcePos pos;
  };
  // The first kMaxDuplicates duplicate keys, in text order.
  const std::vector<Duplicate>& duplicates() const { return duplicates_; }
  // How many duplicate keys the text has in all.
  size_t duplicate_count() const { return duplicate_count_; }

 private:
  static JsonSourceMap ScanImpl(std::string_view text, const std::vector<std::string>* pointers);

  std::unordered_map<std::string, SourcePos> values_;
  std::unordered_map<std::string, SourcePos> keys_;
  std::vector<Duplicate> duplicates_;
  size_t duplicate_count_ = 0;
};

}  // namespace silk::policy::internal
