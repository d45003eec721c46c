#include "tighten/regress_report.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/strings.hpp"

namespace silk::tighten {
namespace {

using nlohmann::json;

std::string CellWhy(const RegressCell& c) {
  if (c.pass) return "";
  std::string why = c.timed_out ? "timed out" : "exit " + std::to_string(c.exit_status);
  if (!c.first_denial.empty()) why += "; first denied: " + c.first_denial;
  if (!c.detail.empty()) why += "; " + c.detail;
  return why;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

std::optional<size_t> RegressMatrix::FirstBreak(size_t workload) const {
  for (size_t g = 0; g < cells.size(); ++g)
    if (!cells[g][workload].pass) return g;
  return std::nullopt;
}

size_t RegressMatrix::Failures() const {
  size_t n = 0;
  for (const auto& row : cells)
    for (const auto& c : row) n += !c.pass;
  return n;
}

std::string RenderTerminal(const RegressMatrix& m) {
  std::ostringstream os;
  size_t wname = 8;
  for (const auto& w : m.workloads) wname = std::max(wname, w.size());
  os << std::string(wname, ' ');
  for (const auto& g : m.profiles) os << "  " << g.name;
  os << "\n" << std::string(wname, ' ');
  for (const auto& g : m.profiles) {
    std::string size = "(" + std::to_string(g.allow_set_size) + ")";
    os << "  " << size
       << std::string(g.name.size() > size.size() ? g.name.size() - size.size() : 0, ' ');
  }
  os << "\n";
  for (size_t w = 0; w < m.workloads.size(); ++w) {
    os << m.workloads[w] << std::string(wname - m.workloads[w].size(), ' ');
    for (size_t g = 0; g < m.profiles.size(); ++g) {
      std::string mark = m.cells[g][w].pass ? "ok" : (m.cells[g][w].timed_out ? "TIMEOUT" : "FAIL");
      size_t width = std::max(m.profiles[g].name.size(),
                              std::to_string(m.profiles[g].allow_set_size).size() + 2);
      os << "  " << mark << std::string(width > mark.size() ? width - mark.size() : 0, ' ');
    }
    os << "\n";
  }
  size_t failures = m.Failures();
  os << "\n"
     << m.workloads.size() << " workloads x " << m.profiles.size() << " generations: " << failures
     << " failing\n";
  for (size_t w = 0; w < m.workloads.size(); ++w) {
    auto first = m.FirstBreak(w);
    if (!first) continue;
    os << "  " << m.workloads[w] << " breaks first at " << m.profiles[*first].name << ": "
       << CellWhy(m.cells[*first][w]) << "\n";
  }
  return os.str();
}

bool AcceptedByBaseline(const RegressMatrix& m, size_t g, size_t w,
                        const std::optional<Baseline>& baseline) {
  if (!baseline || m.cells[g][w].pass) return false;
  auto it = baseline->find({m.profiles[g].name, m.workloads[w]});
  return it != baseline->end() && !it->second;
}

std::string RenderJunitXml(const RegressMatrix& m, const ReportContext& context) {
  std::ostringstream os;
  size_t failures = 0, skipped = 0;
  double total_secs = 0;
  for (size_t g = 0; g < m.profiles.size(); ++g)
    for (size_t w = 0; w < m.workloads.size(); ++w) {
      const auto& c = m.cells[g][w];
      total_secs += c.ms / 1000;
      if (c.pass) continue;
      (AcceptedByBaseline(m, g, w, context.baseline) ? skipped : failures) += 1;
    }
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites name=\"silk regress\" tests=\"" << m.profiles.size() * m.workloads.size()
     << "\" failures=\"" << failures << "\" skipped=\"" << skipped << "\" time=\""
     << Fixed(total_secs, 3) << "\"";
  if (!context.timestamp.empty()) os << " timestamp=\"" << XmlEscape(context.timestamp) << "\"";
  os << ">\n";
  for (size_t g = 0; g < m.profiles.size(); ++g) {
    size_t fails = 0, skips = 0;
    double secs = 0;
    for (size_t w = 0; w < m.workloads.size(); ++w) {
      const auto& c = m.cells[g][w];
      secs += c.ms / 1000;
      if (!c.pass) (AcceptedByBaseline(m, g, w, context.baseline) ? skips : fails) += 1;
    }
    os << "  <testsuite name=\"" << XmlEscape(m.profiles[g].name) << "\" tests=\""
       << m.workloads.size() << "\" failures=\"" << fails << "\" skipped=\"" << skips
       << "\" time=\"" << Fixed(secs, 3) << "\"";
    if (!context.timestamp.empty()) os << " timestamp=\"" << XmlEscape(context.timestamp) << "\"";
    if (!context.hostname.empty()) os << " hostname=\"" << XmlEscape(context.hostname) << "\"";
    os << ">\n";
    os << "    <properties><property name=\"profile\" value=\"" << XmlEscape(m.profiles[g].file)
       << "\"/>";
    if (!context.baseline_file.empty())
      os << "<property name=\"baseline\" value=\"" << XmlEscape(context.baseline_file) << "\"/>";
    os << "</properties>\n";
    for (size_t w = 0; w < m.workloads.size(); ++w) {
      const auto& c = m.cells[g][w];
      os << "    <testcase classname=\"" << XmlEscape(m.profiles[g].name) << "\" name=\""
         << XmlEscape(m.workloads[w]) << "\" time=\"" << Fixed(c.ms / 1000, 3) << "\"";
      if (c.pass) {
        os << "/>\n";
        continue;
      }
      os << ">\n";
      if (AcceptedByBaseline(m, g, w, context.baseline))
        os << "      <skipped message=\"accepted by baseline: " << XmlEscape(CellWhy(c))
           << "\"/>\n";
      else
        os << "      <failure message=\"" << XmlEscape(CellWhy(c)) << "\"/>\n";
      os << "      <system-out>"
         << XmlEscape(c.first_denial.empty() ? CellWhy(c) : "first denied: " + c.first_denial)
         << "</system-out>\n    </testcase>\n";
    }
    os << "  </testsuite>\n";
  }
  os << "</testsuites>\n";
  return os.str();
}

std::string RenderHtml(const RegressMatrix& m, const ReportContext& context) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>silk regress: "
     << XmlEscape(m.suite) << "</title>\n<style>\n"
     << "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
     << "td,th{border:1px solid #999;padding:4px 8px;text-align:center}"
     << "td.ok{background:#c8f0c8}td.fail{background:#f4b8b8}td.known{background:#f0e0a0}"
     << "td.name{text-align:left}small{color:#444}\n</style></head><body>\n";
  os << "<h1>silk regress</h1>\n<p>Suite <code>" << XmlEscape(m.suite)
     << "</code>: " << m.workloads.size() << " workloads &times; " << m.profiles.size()
     << " generations, " << m.Failures() << " failing.</p>\n";
  auto or_unknown = [](const std::string& v) { return v.empty() ? std::string("unknown") : v; };
  os << "<table class=\"about\">\n"
     << "<tr><th>host</th><td class=\"name\">" << XmlEscape(or_unknown(context.hostname))
     << "</td></tr>\n"
     << "<tr><th>silk</th><td class=\"name\">" << XmlEscape(or_unknown(context.silk_version))
     << "</td></tr>\n"
     << "<tr><th>date</th><td class=\"name\">" << XmlEscape(or_unknown(context.timestamp))
     << "</td></tr>\n"
     << "<tr><th>baseline</th><td class=\"name\">"
     << (context.baseline_file.empty() ? std::string("none")
                                       : "<code>" + XmlEscape(context.baseline_file) + "</code>")
     << "</td></tr>\n";
  for (const auto& g : m.profiles)
    os << "<tr><th>profile " << XmlEscape(g.name) << "</th><td class=\"name\"><code>"
       << XmlEscape(g.file) << "</code>"
       << (g.extends.empty() ? "" : " (extends " + XmlEscape(g.extends) + ")") << "</td></tr>\n";
  os << "</table>\n";

  // Chart: allow-set size per generation (bars), inline SVG, both axes labelled.
  const int bar = 60, gap = 20, height = 200, left = 60;
  size_t max_size = 1;
  for (const auto& g : m.profiles) max_size = std::max(max_size, g.allow_set_size);
  const int width = left + static_cast<int>(m.profiles.size()) * (bar + gap) + gap;
  os << "<h2>Allowed syscalls per generation</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\""
     << width << "\" height=\"" << height + 80 << "\" role=\"img\" aria-label=\"allow-set size "
     << "per generation\">\n";
  os << "<line x1=\"" << left << "\" y1=\"" << height + 10 << "\" x2=\"" << width << "\" y2=\""
     << height + 10 << "\" stroke=\"#333\"/>\n";
  os << "<line x1=\"" << left << "\" y1=\"10\" x2=\"" << left << "\" y2=\"" << height + 10
     << "\" stroke=\"#333\"/>\n";
  os << "<text x=\"14\" y=\"" << height / 2 + 10 << "\" transform=\"rotate(-90 14 "
     << height / 2 + 10
     << ")\" text-anchor=\"middle\" font-size=\"12\">allowed syscalls (native arch)</text>\n";
  os << "<text x=\"" << left + (width - left) / 2 << "\" y=\"" << height + 70
     << "\" text-anchor=\"middle\" font-size=\"12\">generation (lineage order)</text>\n";
  os << "<text x=\"" << left - 4 << "\" y=\"" << 10 + 20 + 4
     << "\" text-anchor=\"end\" font-size=\"11\">" << max_size << "</text>\n";
  os << "<text x=\"" << left - 4 << "\" y=\"" << height + 14
     << "\" text-anchor=\"end\" font-size=\"11\">0</text>\n";
  for (size_t g = 0; g < m.profiles.size(); ++g) {
    const auto& gen = m.profiles[g];
    int h = static_cast<int>(double(gen.allow_set_size) / double(max_size) * (height - 20));
    int x = left + gap + static_cast<int>(g) * (bar + gap);
    os << "<rect x=\"" << x << "\" y=\"" << height + 10 - h << "\" width=\"" << bar
       << "\" height=\"" << h << "\" fill=\"#4a7bd0\"><title>" << XmlEscape(gen.name) << ": "
       << gen.allow_set_size << " syscalls</title></rect>\n";
    os << "<text x=\"" << x + bar / 2 << "\" y=\"" << height + 5 - h
       << "\" text-anchor=\"middle\" font-size=\"12\">" << gen.allow_set_size << "</text>\n";
    os << "<text x=\"" << x + bar / 2 << "\" y=\"" << height + 28
       << "\" text-anchor=\"middle\" font-size=\"11\">" << XmlEscape(gen.name) << "</text>\n";
  }
  os << "</svg>\n";

  os << "<h2>Matrix</h2>\n<table>\n<tr><th>workload</th>";
  for (const auto& g : m.profiles)
    os << "<th>" << XmlEscape(g.name) << "<br><small>" << g.allow_set_size
       << " syscalls</small></th>";
  os << "<th>first break</th></tr>\n";
  for (size_t w = 0; w < m.workloads.size(); ++w) {
    os << "<tr><td class=\"name\">" << XmlEscape(m.workloads[w]) << "</td>";
    for (size_t g = 0; g < m.profiles.size(); ++g) {
      const auto& c = m.cells[g][w];
      if (c.pass) {
        os << "<td class=\"ok\">ok<br><small>" << Fixed(c.ms, 0) << " ms</small></td>";
      } else {
        const bool known = AcceptedByBaseline(m, g, w, context.baseline);
        os << "<td class=\"" << (known ? "known" : "fail") << "\" title=\"" << XmlEscape(CellWhy(c))
           << "\">" << (c.timed_out ? "TIMEOUT" : "FAIL")
           << (known ? " (accepted by baseline)" : "") << "<br><small>" << XmlEscape(CellWhy(c))
           << "</small></td>";
      }
    }
    auto first = m.FirstBreak(w);
    os << "<td>" << (first ? XmlEscape(m.profiles[*first].name) : "&mdash;") << "</td></tr>\n";
  }
  os << "</table>\n</body></html>\n";
  return os.str();
}

std::string MatrixToJson(const RegressMatrix& m) {
  json j;
  j["suite"] = m.suite;
  j["generations"] = json::array();
  for (size_t g = 0; g < m.profiles.size(); ++g) {
    const auto& gen = m.profiles[g];
    json jg = {{"name", gen.name},
               {"file", gen.file},
               {"extends", gen.extends},
               {"allow_set_size", gen.allow_set_size},
               {"results", json::object()}};
    for (size_t w = 0; w < m.workloads.size(); ++w) {
      const auto& c = m.cells[g][w];
      jg["results"][m.workloads[w]] = {{"pass", c.pass},           {"exit_status", c.exit_status},
                                       {"timed_out", c.timed_out}, {"first_denial", c.first_denial},
                                       {"detail", c.detail},       {"ms", c.ms}};
    }
    j["generations"].push_back(jg);
  }
  j["workloads"] = m.workloads;
  j["failures"] = m.Failures();
  return j.dump(2) + "\n";
}

Result<Baseline> ParseBaseline(const std::string& json_text, const std::string& file) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    return Fail(ErrorCode::kInvalidInput, file + ": malformed JSON: " + e.what());
  }
  auto bad = [&](const std::string& path, const std::string& what) {
    return Fail(ErrorCode::kInvalidInput,
                file + ": " + path + ": " + what +
                    " (a baseline is the JSON that 'silk regress --json' or "
                    "--update-baseline writes)");
  };
  if (!j.is_object() || !j.contains("generations") || !j["generations"].is_array())
    return bad("generations", "expected an array");
  Baseline b;
  for (size_t g = 0; g < j["generations"].size(); ++g) {
    const auto& jg = j["generations"][g];
    const std::string path = "generations[" + std::to_string(g) + "]";
    if (!jg.is_object() || !jg.contains("name") || !jg["name"].is_string())
      return bad(path + ".name", "expected a string");
    if (!jg.contains("results") || !jg["results"].is_object())
      return bad(path + ".results", "expected an object");
    for (const auto& [w, r] : jg["results"].items()) {
      if (!r.is_object() || !r.contains("pass") || !r["pass"].is_boolean())
        return bad(path + ".results." + w + ".pass", "expected true or false");
      b[{jg["name"].get<std::string>(), w}] = r["pass"].get<bool>();
    }
  }
  return b;
}

std::vector<Regression> CompareToBaseline(const Baseline& baseline, const RegressMatrix& m) {
  std::vector<Regression> out;
  for (size_t g = 0; g < m.profiles.size(); ++g) {
    for (size_t w = 0; w < m.workloads.size(); ++w) {
      const auto& c = m.cells[g][w];
      if (c.pass) continue;
      auto it = baseline.find({m.profiles[g].name, m.workloads[w]});
      if (it != baseline.end() && !it->second) continue;  // a known failure
      out.push_back(
          {m.profiles[g].name, m.workloads[w],
           (it == baseline.end() ? "new cell, fails: " : "passed in the baseline, fails now: ") +
               CellWhy(c)});
    }
  }
  return out;
}

}  // namespace silk::tighten
