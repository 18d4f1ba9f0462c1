// The JavaScript-literal reader and base64 decoder behind `oess weights import --from tfjs` (nsfwjs bundles),
// on hand-written cases whose values are known by construction.
#include <catch2/catch.hpp>

#include "oess/core/error.h"
#include "oess/io/js_literal.h"

using oess::io::base64_decode;
using oess::io::parse_js_literal;
using oess::io::umd_export;

TEST_CASE("minified JavaScript literals read as JSON", "[io][tfjs]") {
  const auto v = parse_js_literal(
      "{a:1,'b':\"x\\\"y\",c:[.5,-.25,1e-7,-3E2,0x1F,],d:!0,e:!1,f:null,g:{h_$:true,i:false},j:void 0,}",
      "t");
  CHECK(v.at("a") == 1);
  CHECK(v.at("b") == "x\"y");
  CHECK(v.at("c")[0].get<double>() == 0.5);
  CHECK(v.at("c")[1].get<double>() == -0.25);
  CHECK(v.at("c")[2].get<double>() == 1e-7);
  CHECK(v.at("c")[3].get<double>() == -300.0);
  CHECK(v.at("c")[4] == 31);
  CHECK(v.at("c").size() == 5);
  CHECK(v.at("d") == true);
  CHECK(v.at("e") == false);
  CHECK(v.at("f").is_null());
  CHECK(v.at("g").at("h_$") == true);
  CHECK(v.at("j").is_null());
  // \u escapes, including a surrogate pair, become UTF-8
  CHECK(parse_js_literal("'\\u00e9\\ud83d\\ude00'", "t") == "\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(parse_js_literal("  /* c */ [1, // x\n 2]", "t") == nlohmann::json::array({1, 2}));
}

TEST_CASE("JavaScript that is not a literal is refused with its offset", "[io][tfjs]") {
  CHECK_THROWS_WITH(parse_js_literal("{a:foo()}", "m.js"),
                    Catch::Contains("m.js: offset 3") && Catch::Contains("the name \"foo\""));
  CHECK_THROWS_WITH(parse_js_literal("{a:1 b:2}", "m.js"), Catch::Contains("',' or '}'"));
  CHECK_THROWS_WITH(parse_js_literal("[1,2", "m.js"), Catch::Contains("',' or ']' in a list"));
  CHECK_THROWS_WITH(parse_js_literal("[1,", "m.js"), Catch::Contains("']' or a value"));
  CHECK_THROWS_WITH(parse_js_literal("\"abc", "m.js"), Catch::Contains("closing"));
  CHECK_THROWS_WITH(parse_js_literal("1e999", "m.js"), Catch::Contains("finite"));
  std::string deep(300, '[');
  CHECK_THROWS_WITH(parse_js_literal(deep, "m.js"), Catch::Contains("deeper than 200"));
}

TEST_CASE("a UMD bundle's exported literal is found past its wrapper", "[io][tfjs]") {
  const std::string bundle =
      "!function(a){if(\"object\"==typeof exports&&\"undefined\"!=typeof module)module.exports=a();}"
      "(function(){return{1:[function(a,n,i){n.exports={modelTopology:{x:1},weightsManifest:[]}},{}]}})";
  const auto v = umd_export(bundle, "model.min.js");
  CHECK(v.at("modelTopology").at("x") == 1);
  CHECK(umd_export("h.exports=\"QUJD\"", "s.js") == "QUJD");
  CHECK_THROWS_WITH(umd_export("var x = 1;", "s.js"),
                    Catch::Contains("s.js: not a TensorFlow.js model bundle"));
}

TEST_CASE("base64 decodes RFC 4648's test vectors", "[io][tfjs]") {
  CHECK(base64_decode("", "t").empty());
  CHECK(base64_decode("Zg==", "t") == "f");
  CHECK(base64_decode("Zm8=", "t") == "fo");
  CHECK(base64_decode("Zm9v", "t") == "foo");
  CHECK(base64_decode("Zm9vYg==", "t") == "foob");
  CHECK(base64_decode("Zm9vYmE=", "t") == "fooba");
  CHECK(base64_decode("Zm9v\nYmFy", "t") == "foobar");
  CHECK(base64_decode("//8=", "t") == std::string("\xFF\xFF", 2));
  CHECK_THROWS_WITH(base64_decode("Zm9*", "s.js"), Catch::Contains("s.js: not base64"));
}
