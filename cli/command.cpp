#include "cli/command.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <iostream>
#include <set>
#include <streambuf>

#include "base/log.hpp"
#include "base/strings.hpp"

namespace silk::cli {

std::string_view JsonCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
      return "invalid_input";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kSystem:
      return "system";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kDenied:
      return "denied";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

namespace {

// True if "--json" is among the options of `args` (before any "--").
bool AsksForJson(const Args& args) {
  auto end = std::find(args.begin(), args.end(), "--");
  return std::find(args.begin(), end, "--json") != end;
}

class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

// The command a usage line is for: "silk policy show PROFILE ..." -> "silk policy show",
// "silk regress --profiles DIR ..." -> "silk regress" (lower-case words only, at most 3).
std::string ProgOf(std::string_view usage) {
  std::string prog;
  size_t words = 0, pos = 0;
  while (words < 3 && pos < usage.size()) {
    size_t end = std::min(usage.find(' ', pos), usage.size());
    std::string_view word = usage.substr(pos, end - pos);
    if (word.empty() || word[0] < 'a' || word[0] > 'z') break;
    prog += (words++ ? " " : "") + std::string(word);
    pos = end + 1;
  }
  return prog;
}

std::optional<int> ParseArgsWith(
    std::string_view usage, std::string_view about, po::options_description options,
    const po::positional_options_description& positional, const Args& args, po::variables_map& vm,
    const std::function<int(std::string_view, std::string_view)>& usage_error) {
  options.add_options()("help,h", "show this help");
  // Positional arguments are named in the usage line, not listed as --options, and an
  // error about one names it as the usage line does ("missing B", not "'--b' is required").
  std::set<std::string> positional_names;
  for (unsigned i = 0; i < positional.max_total_count() && i < 16; ++i)
    positional_names.insert(positional.name_for_position(i));
  auto upper = [](std::string n) {
    for (auto& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return n;
  };
  try {
    po::store(
        po::command_line_parser(args)
            .options(options)
            .positional(positional)
            .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
            .run(),
        vm);
    if (vm.count("help")) {
      po::options_description shown("Options");
      for (const auto& opt : options.options())
        if (!positional_names.count(opt->long_name())) shown.add(opt);
      std::cout << "Usage: " << usage << "\n\n" << about << "\n\n" << shown;
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::required_option& e) {
    const std::string option = e.get_option_name();
    const std::string name = option.rfind("--", 0) == 0 ? option.substr(2) : option;
    if (positional_names.count(name))
      return usage_error("missing " + upper(name) + " (usage: " + std::string(usage) + ")",
                         upper(name));
    return usage_error(e.what(), option);
  } catch (const po::too_many_positional_options_error&) {
    const bool takes_command = usage.find(" -- ") != std::string_view::npos;
    return usage_error("too many arguments (usage: " + std::string(usage) + ")" +
                           (takes_command ? "; the command to run goes after '--'" : ""),
                       "");
  } catch (const po::error_with_option_name& e) {
    return usage_error(e.what(), e.get_option_name());
  } catch (const po::error& e) {
    return usage_error(e.what(), "");
  }
  return std::nullopt;
}

}  // namespace

nlohmann::ordered_json ErrorJson(std::string_view code, std::string_view message,
                                 std::string_view field) {
  nlohmann::ordered_json e;
  e["code"] = code;
  e["message"] = message;
  e["field"] = field.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(field);
  return nlohmann::ordered_json{{"error", std::move(e)}};
}

void Output::AddJsonFlag(po::options_description& options, const char* help) {
  options.add_options()("json", po::bool_switch(&json_), help);
}

void Output::AddQuietFlag(po::options_description& options) {
  options.add_options()("quiet,q", po::bool_switch(&quiet_),
                        "no notices (\"wrote FILE\", progress) on stderr; errors still");
}

bool Output::quiet() const { return quiet_ || GetLogLevel() > LogLevel::kNotice; }

int Output::Fail(const Error& error, int exit_code, std::string_view field) const {
  if (json_) Json(ErrorJson(JsonCode(error.code()), error.ToString(), field));
  std::cerr << "silk: error: " << error.ToString() << "\n";
  return exit_code;
}

int Output::Usage(std::string_view message, std::string_view field) const {
  if (json_) Json(ErrorJson("usage", message, field));
  return UsageError(prog_, message);
}

std::ostream& Output::Notice() const {
  static NullBuffer null_buffer;
  static std::ostream null_stream(&null_buffer);
  return quiet() ? null_stream : std::cerr;
}

void Output::Json(const nlohmann::ordered_json& j) const {
  std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

std::optional<int> ParseArgs(std::string_view usage, std::string_view about,
                             po::options_description options,
                             const po::positional_options_description& positional, const Args& args,
                             po::variables_map& vm, const Output& out) {
  const bool json = AsksForJson(args);
  return ParseArgsWith(usage, about, std::move(options), positional, args, vm,
                       [&](std::string_view message, std::string_view field) {
                         if (json) out.Json(ErrorJson("usage", message, field));
                         return UsageError(out.prog(), message);
                       });
}

int Dispatch(std::string_view prog, std::string_view about, const std::vector<Command>& commands,
             const Args& args) {
  auto print_table = [&](std::ostream& os) {
    os << "Usage: " << prog << " <command> [options]\n\n" << about << "\n\nCommands:\n";
    size_t width = 0;
    for (const auto& c : commands) width = std::max(width, c.name.size());
    for (const auto& c : commands)
      if (!c.summary.empty())  // an empty summary: internal, not listed
        os << "  " << c.name << std::string(width - c.name.size() + 2, ' ') << c.summary << "\n";
    os << "\nRun '" << prog << " <command> --help' for a command's options.\n";
  };
  if (args.empty()) {
    print_table(std::cerr);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_table(std::cout);
    return kExitOk;
  }
  for (const auto& c : commands) {
    if (c.name == args[0]) return c.run(Args(args.begin() + 1, args.end()));
  }
  std::vector<std::string> names;
  for (const auto& c : commands)
    if (!c.summary.empty()) names.emplace_back(c.name);
  return UsageError(prog, "unknown command '" + args[0] + "'" + DidYouMean(args[0], names));
}

std::optional<int> ParseArgs(std::string_view usage, std::string_view about,
                             po::options_description options,
                             const po::positional_options_description& positional, const Args& args,
                             po::variables_map& vm) {
  std::string prog = ProgOf(usage);
  return ParseArgsWith(
      usage, about, std::move(options), positional, args, vm,
      [&](std::string_view message, std::string_view) { return UsageError(prog, message); });
}

std::pair<Args, Args> SplitAtDoubleDash(const Args& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--")
      return {Args(args.begin(), args.begin() + static_cast<long>(i)),
              Args(args.begin() + static_cast<long>(i) + 1, args.end())};
  }
  return {args, {}};
}

int ReportError(const Error& error, bool usage) {
  std::cerr << "silk: error: " << error.ToString() << "\n";
  return usage && error.code() == ErrorCode::kInvalidInput ? kExitUsage : kExitFailure;
}

int UsageError(std::string_view prog, std::string_view message) {
  std::cerr << "silk: " << message << "\nTry '" << prog << " --help'.\n";
  return kExitUsage;
}

}  // namespace silk::cli
