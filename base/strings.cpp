#include "base/strings.hpp"

#include <algorithm>
#include <cctype>

namespace silk {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(sep);
    out += parts[i];
  }
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

Result<uint64_t> ParseUint(std::string_view s, uint64_t max) {
  if (s.empty()) return Fail(ErrorCode::kInvalidInput, "expected a number, found an empty string");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return Fail(ErrorCode::kInvalidInput,
                  "expected a non-negative integer, found '" + std::string(s) + "'");
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10)
      return Fail(ErrorCode::kInvalidInput,
                  "'" + std::string(s) + "' is too large (at most " + std::to_string(max) + ")");
    v = v * 10 + d;
  }
  return v;
}

std::string FormatSize(uint64_t bytes) {
  for (auto [shift, unit] : {std::pair{30, " GiB"}, std::pair{20, " MiB"}, std::pair{10, " KiB"}})
    if (bytes != 0 && bytes % (uint64_t{1} << shift) == 0)
      return std::to_string(bytes >> shift) + unit;
  return std::to_string(bytes) + " bytes";
}

Result<uint64_t> ParseSize(std::string_view s) {
  std::string t = Trim(s);
  size_t i = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  std::string digits = t.substr(0, i);
  std::string unit = t.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "IB")
    unit.resize(unit.size() - 2);
  else if (!unit.empty() && unit.back() == 'B')
    unit.pop_back();
  uint64_t mult = 1;
  if (unit.empty())
    mult = 1;
  else if (unit == "K")
    mult = 1ULL << 10;
  else if (unit == "M")
    mult = 1ULL << 20;
  else if (unit == "G")
    mult = 1ULL << 30;
  else if (unit == "T")
    mult = 1ULL << 40;
  else
    return Fail(ErrorCode::kInvalidInput, "invalid size '" + std::string(s) +
                                              "': expected a number with an optional unit "
                                              "K, M, G or T (e.g. 256M)");
  if (digits.empty())
    return Fail(ErrorCode::kInvalidInput,
                "invalid size '" + std::string(s) + "': expected a number such as 256M");
  auto v = ParseUint(digits, UINT64_MAX / mult);
  if (!v)
    return Fail(ErrorCode::kInvalidInput,
                "invalid size '" + std::string(s) + "': " + v.error().message());
  return *v * mult;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {

// EditDistance(a, b) if it is at most `max`, otherwise max + 1; O(min(|a|,|b|) * max)
// time (only the diagonal band within `max` is computed) and it stops at the first row
// whose every cell exceeds `max`.
size_t BoundedEditDistance(std::string_view a, std::string_view b, size_t max) {
  if (a.size() < b.size()) std::swap(a, b);
  if (a.size() - b.size() > max) return max + 1;
  const size_t big = max + 1;
  std::vector<size_t> prev(b.size() + 1, big), cur(b.size() + 1, big);
  for (size_t j = 0; j <= std::min(b.size(), max); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t lo = i > max ? i - max : 0, hi = std::min(b.size(), i + max);
    std::fill(cur.begin(), cur.end(), big);
    if (lo == 0) cur[0] = i <= max ? i : big;
    size_t row_min = cur[0];
    for (size_t j = std::max<size_t>(lo, 1); j <= hi; ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub, big});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > max) return big;
    std::swap(prev, cur);
  }
  return std::min(prev[b.size()], big);
}

}  // namespace

std::vector<std::string> NearestWords(std::string_view word,
                                      const std::vector<std::string>& candidates, size_t limit) {
  if (word.size() > kMaxSuggestedWordLength) return {};
  size_t max_dist = std::max<size_t>(2, word.size() / 3);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& c : candidates) {
    bool prefix = c.size() > word.size() && c.compare(0, word.size(), word) == 0;
    size_t d = BoundedEditDistance(word, c, max_dist);
    if (d <= max_dist || prefix) scored.emplace_back(prefix ? std::min(d, max_dist) : d, c);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && out.size() < limit; ++i) out.push_back(scored[i].second);
  return out;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates,
                       size_t limit) {
  auto near = NearestWords(word, candidates, limit);
  if (near.empty()) return "";
  for (auto& n : near) n = "'" + n + "'";
  return "; did you mean " + Join(near, " or ") + "?";
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

}  // namespace silk
