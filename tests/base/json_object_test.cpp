#include "base/json_object.hpp"

#include <gtest/gtest.h>

namespace silk {
namespace {

using nlohmann::json;

// The message of the first problem when reading `text` as {"name": string, "size":
// uint <= 100, "tags": [string], "inner": {"on": bool}}.
std::string FirstProblem(const std::string& text) {
  auto doc = ParseStrictJson(text, "f.json");
  if (!doc) return doc.error().message();
  JsonProblems problems;
  JsonObjectReader r(*doc, "", "test object", problems);
  std::string name;
  uint32_t size = 0;
  std::vector<std::string> tags;
  r.String("name", name, JsonNeed::kRequired);
  r.Uint("size", size, 100);
  r.Strings("tags", tags);
  if (auto inner = r.Object("inner", "inner settings")) {
    bool on = false;
    inner->Bool("on", on);
    inner->Finish();
  }
  if (const json* mounts = r.Array("mounts", "mounts")) {
    for (size_t i = 0; i < mounts->size(); ++i) {
      JsonObjectReader m((*mounts)[i], JsonPointerChild(r.Child("mounts"), i), "mount", problems);
      std::string target;
      m.String("target", target);
      m.Finish();
    }
  }
  r.Finish();
  auto ok = problems.Check("f.json");
  return ok ? "" : ok.error().message();
}

TEST(JsonObject, ReadsKnownFields) {
  EXPECT_EQ(FirstProblem(R"({"name": "a", "size": 7, "tags": ["x"], "inner": {"on": true}})"), "");
  EXPECT_EQ(FirstProblem(R"({"name": "a", "size": null})"), "");  // null is absent
}

TEST(JsonObject, UnknownFieldsAreNamedWithASuggestion) {
  EXPECT_EQ(FirstProblem(R"({"name": "a", "tgas": []})"),
            "f.json: tgas: unknown field 'tgas' in test object; did you mean 'tags'?");
  EXPECT_EQ(FirstProblem(R"({"name": "a", "inner": {"onn": true}})"),
            "f.json: inner.onn: unknown field 'onn' in inner settings; did you mean 'on'?");
  // Nothing near: the known fields are listed.
  EXPECT_EQ(FirstProblem(R"({"name": "a", "zzzzzzzz": 1})"),
            "f.json: zzzzzzzz: unknown field 'zzzzzzzz' in test object; known fields: name, "
            "size, tags, inner, mounts");
}

TEST(JsonObject, TypeErrorsNameThePath) {
  EXPECT_EQ(FirstProblem(R"({"name": "a", "mounts": [{"target": "/x"}, {}, {"target": 3}]})"),
            "f.json: mounts[2].target: expected a string, found the number 3");
  EXPECT_EQ(FirstProblem(R"({"name": "a", "tags": ["x", false]})"),
            "f.json: tags[1]: expected a string, found the boolean false");
  EXPECT_EQ(FirstProblem(R"({"name": "a", "size": -1})"),
            "f.json: size: expected a non-negative integer (0..100), found the number -1");
  EXPECT_EQ(FirstProblem(R"({"name": "a", "size": 101})"),
            "f.json: size: expected an integer in 0..100, found 101");
  EXPECT_EQ(FirstProblem(R"({"name": "a", "inner": [1]})"),
            "f.json: inner: expected inner settings (a JSON object), found an array");
  EXPECT_EQ(FirstProblem(R"({"name": "a", "mounts": {}})"),
            "f.json: mounts: expected an array of mounts, found an object");
  EXPECT_EQ(FirstProblem(R"({"size": 1})"), "f.json: name: missing required field 'name'");
  EXPECT_EQ(FirstProblem(R"([1])"),
            "f.json: (top level): expected test object (a JSON object), found an array");
}

TEST(JsonObject, StrictParseRefusesDuplicatesDepthAndSize) {
  EXPECT_EQ(FirstProblem(R"({"name": "a", "inner": {"on": true, "on": false}})"),
            "f.json: inner.on: duplicate key; JSON parsers disagree on which value wins, keep "
            "only one");
  EXPECT_EQ(FirstProblem(R"({"name": "a", "mounts": [{}, {"target": "a", "target": "b"}]})"),
            "f.json: mounts[1].target: duplicate key; JSON parsers disagree on which value "
            "wins, keep only one");
  std::string deep(100000, '[');
  auto r =
      ParseStrictJson(deep, "deep.json", {.max_depth = 8, .what = "a test", .needed_depth = 2});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "deep.json: [0][0][0][0][0][0][0][0]: JSON nested deeper than 8 levels; a test needs "
            "at most 2");
  auto big = ParseStrictJson("[1, 2, 3]", "big.json", {.max_bytes = 4, .what = "a test"});
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message(), "big.json: 9 bytes; a test may have at most 4");
  auto bad = ParseStrictJson("{\"a\": }", "bad.json");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidInput);
  EXPECT_EQ(bad.error().message().rfind("bad.json: invalid JSON: parse error at line 1", 0), 0u)
      << bad.error().message();
}

TEST(JsonObject, EveryProblemReachesACollectingCaller) {
  // The caller keeps three and counts the rest.
  std::vector<std::string> seen;
  size_t calls = 0;
  JsonProblems problems([&](const std::string& pointer, const std::string& message, bool at_key) {
    ++calls;
    if (seen.size() < 3) seen.push_back(pointer + (at_key ? " (key): " : ": ") + message);
    return seen.size() < 3;
  });
  json doc = json::parse(R"({"a": 1, "b": 2, "c": 3, "d": 4, "name": 5})");
  JsonObjectReader r(doc, "", "thing", problems);
  std::string name;
  EXPECT_FALSE(r.String("name", name));
  r.Finish();
  EXPECT_EQ(calls, 5u);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "/name: expected a string, found the number 5");
  EXPECT_EQ(seen[1].rfind("/a (key): unknown field 'a' in thing", 0), 0u) << seen[1];
  EXPECT_TRUE(problems.full());
  EXPECT_TRUE(problems.any());
  // Once full, no suggestion searches.
  EXPECT_EQ(problems.Suggest("nmae", {"name"}), "");
}

TEST(JsonObject, HostileWordsAreCutInMessages) {
  std::string key(1 << 20, 'k');
  std::string text = "{\"name\": \"a\", \"" + key + "\": 1}";
  std::string msg = FirstProblem(text);
  EXPECT_LT(msg.size(), 400u) << msg.substr(0, 400);
  EXPECT_NE(msg.find("unknown field 'kkkk"), std::string::npos);
}

TEST(JsonObject, PointersAndTheirDisplay) {
  EXPECT_EQ(JsonPointerChild(JsonPointerChild("", "mounts"), 2), "/mounts/2");
  EXPECT_EQ(JsonPointerToDisplay("/mounts/2/target"), "mounts[2].target");
  EXPECT_EQ(JsonPointerToDisplay(""), "(top level)");
  EXPECT_EQ(DescribeJson(json("abc")), "the string \"abc\"");
  EXPECT_EQ(DescribeJson(json(1.5)), "the non-integer number 1.5");
  EXPECT_EQ(QuoteWord(std::string(70, 'x')), "'" + std::string(64, 'x') + "...' (70 bytes)");
}

}  // namespace
}  // namespace silk
