// Small string helpers shared by every module: splitting, sizes, edit distance.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace silk {

std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string Trim(std::string_view s);

// Parses a byte size: "4096", "64K", "256M", "2G" (binary units; optional "iB"/"B").
// Errors name the input and the accepted forms.
Result<uint64_t> ParseSize(std::string_view s);
// A byte size for people: "64 MiB", "2 GiB", "4 KiB" when it is a whole number of that
// unit, else "4095 bytes".
std::string FormatSize(uint64_t bytes);

// Parses a non-negative decimal integer that fits `max`.
Result<uint64_t> ParseUint(std::string_view s, uint64_t max = UINT64_MAX);

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// Words longer than this get no suggestion (no name silk suggests is that long).
inline constexpr size_t kMaxSuggestedWordLength = 64;

// Up to `limit` candidates nearest to `word`, nearest first, within a distance that
// scales with the word's length (at most a third of it). Time O(candidates * |word| *
// distance); none for a word longer than kMaxSuggestedWordLength.
std::vector<std::string> NearestWords(std::string_view word,
                                      const std::vector<std::string>& candidates, size_t limit = 3);

// "; did you mean 'a' or 'b'?" naming the candidates nearest to `word` (NearestWords),
// or "" when none is near: the tail of an "unknown X" message.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates,
                       size_t limit = 3);

// `s` as XML character data or an attribute value (either quote): & < > " ' escaped,
// control characters XML 1.0 forbids (all below 0x20 but tab and newline) as spaces.
std::string XmlEscape(std::string_view s);

}  // namespace silk
