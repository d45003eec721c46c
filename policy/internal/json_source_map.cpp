#include "policy/internal/json_source_map.hpp"

#include <cctype>
#include <unordered_set>

namespace silk::policy::internal {
namespace {

// Longest pointer prefix looked up as an ancestor (see ScanImpl).
constexpr size_t kMaxAncestorLength = 4096;

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A cursor over the text that tracks line and column as it advances.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return i_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[i_]; }
  SourcePos pos() const { return {line_, column_}; }
  void Advance() {
    if (done()) return;
    unsigned char c = static_cast<unsigned char>(text_[i_++]);
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++column_;
    }
  }
  void SkipSpace() {
    while (!done() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      Advance();
  }
  uint32_t Hex4() {
    uint32_t v = 0;
    for (int k = 0; k < 4 && !done(); ++k) {
      char c = peek();
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      Advance();
    }
    return v;
  }
  // At an opening quote: consumes the string, returns its decoded contents.
  std::string String() {
    std::string out;
    Advance();  // opening quote
    while (!done() && peek() != '"') {
      char c = peek();
      Advance();
      if (c != '\\') {
        out += c;
        continue;
      }
      char e = peek();
      Advance();
      switch (e) {
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = Hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && peek() == '\\') {
            Advance();
            if (peek() == 'u') {
              Advance();
              uint32_t lo = Hex4();
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          out += e;
      }
    }
    Advance();  // closing quote
    return out;
  }
  // Consumes a number or literal (true/false/null).
  void Scalar() {
    while (!done()) {
      char c = peek();
      if (c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r')
        break;
      Advance();
    }
  }

 private:
  std::string_view text_;
  size_t i_ = 0;
  int line_ = 1;
  int column_ = 1;
};

struct Frame {
  bool object;
  size_t path_len;  // the frame's own pointer is path[0, path_len)
  size_t index = 0;
  bool record_children;  // some child's pointer may be recorded
  std::unordered_set<std::string> keys;
};

}  // namespace

SourcePos PosOfOffset(std::string_view text, size_t offset) {
  Cursor c(text.substr(0, std::min(offset, text.size())));
  while (!c.done()) c.Advance();
  return c.pos();
}

JsonSourceMap JsonSourceMap::Scan(std::string_view text) { return ScanImpl(text, nullptr); }

JsonSourceMap JsonSourceMap::Scan(std::string_view text, const std::vector<std::string>& pointers) {
  return ScanImpl(text, &pointers);
}

JsonSourceMap JsonSourceMap::ScanImpl(std::string_view text,
                                      const std::vector<std::string>* pointers) {
  // `targets`: the pointers and their ancestors (ValuePos falls back to those);
  // `parents`: the proper ancestors, the only containers whose children are looked up.
  // The pointer of the current value is built in place in `path` and only looked up
  // under a parent, so a long key high up costs its length once, not once per
  // descendant.
  // A key may hold '/' (pointers are not escaped), so only prefixes up to
  // kMaxAncestorLength are taken as ancestors: real containers of a problem are reached
  // through known short keys and indices.
  std::unordered_set<std::string> targets, parents;
  if (pointers) {
    for (const auto& p : *pointers) {
      targets.insert(p);
      for (size_t slash = p.rfind('/', kMaxAncestorLength); slash != std::string::npos && slash > 0;
           slash = p.rfind('/', slash - 1)) {
        targets.insert(p.substr(0, slash));
        parents.insert(p.substr(0, slash));
      }
      if (!p.empty()) {
        targets.insert("");
        parents.insert("");
      }
    }
  }
  auto wanted = [&](const std::unordered_set<std::string>& set, bool under_parent,
                    const std::string& path) {
    return !pointers || (under_parent && set.count(path) > 0);
  };

  JsonSourceMap map;
  Cursor c(text);
  std::vector<Frame> stack;
  std::string path;          // pointer of the value about to be read
  bool record_value = true;  // whether its container looks its children up
  // Guards against looping on text that is not JSON: every iteration consumes input.
  while (true) {
    c.SkipSpace();
    if (c.done()) break;
    // Read one value at `path`.
    if (wanted(targets, record_value, path)) map.values_.emplace(path, c.pos());
    char ch = c.peek();
    if (ch == '{' || ch == '[') {
      c.Advance();
      stack.push_back(Frame{ch == '{', path.size(), 0, wanted(parents, record_value, path), {}});
    } else if (ch == '"') {
      c.String();
    } else {
      size_t before_line = static_cast<size_t>(c.pos().line), before_col = c.pos().column;
      c.Scalar();
      if (static_cast<size_t>(c.pos().line) == before_line &&
          static_cast<size_t>(c.pos().column) == before_col)
        c.Advance();  // unexpected character: consume it so the scan always progresses
    }
    // After a value (or an opening bracket): find the next value's pointer.
    bool have_next = false;
    while (!stack.empty() && !have_next) {
      Frame& f = stack.back();
      c.SkipSpace();
      char n = c.peek();
      if (n == '}' || n == ']') {
        c.Advance();
        stack.pop_back();
        continue;
      }
      if (n == ',') {
        c.Advance();
        c.SkipSpace();
      } else if (c.done()) {
        return map;
      }
      path.resize(f.path_len);
      record_value = f.record_children;
      if (f.object) {
        if (c.peek() != '"') return map;  // not JSON: stop
        SourcePos key_pos = c.pos();
        std::string key = c.String();
        bool duplicate = !f.keys.insert(key).second;
        if (duplicate) ++map.duplicate_count_;
        path += '/';
        path += key;
        if (duplicate && map.duplicates_.size() < kMaxDuplicates)
          map.duplicates_.push_back({path, key_pos});
        if (wanted(targets, record_value, path)) map.keys_.emplace(path, key_pos);
        c.SkipSpace();
        if (c.peek() != ':') return map;
        c.Advance();
      } else {
        path += '/';
        path += std::to_string(f.index);
      }
      ++f.index;
      have_next = true;
    }
    if (!have_next) break;  // the top-level value is complete
  }
  return map;
}

SourcePos JsonSourceMap::ValuePos(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = values_.find(p);
    if (it != values_.end()) return it->second;
    if (p.empty()) return {};
    p.erase(p.rfind('/', p.size() > kMaxAncestorLength ? kMaxAncestorLength : std::string::npos));
  }
}

SourcePos JsonSourceMap::KeyPos(const std::string& pointer) const {
  auto it = keys_.find(pointer);
  if (it != keys_.end()) return it->second;
  return ValuePos(pointer);
}

}  // namespace silk::policy::internal
