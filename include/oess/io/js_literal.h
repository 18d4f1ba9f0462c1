#pragma once
// oess/io/js_literal.h — reading the JavaScript object literals that TensorFlow.js model bundles carry.
//
// parse_js_literal(text, where)
//   Reads one value written as a JavaScript literal, the superset of JSON that minifiers emit: object keys
//   bare (identifier) or quoted; strings in double or single quotes with JSON's escapes; numbers such as
//   `.5`, `-.25`, `1e-7`, `0x1F`; `!0` / `!1` (true / false), `true`, `false`, `null`, `void 0` (null);
//   trailing commas. Nothing is evaluated: any other expression (a call, a variable) is refused.
//   ensures: the value as JSON; `*end` (if given) = offset just past it.
//   errors: oess::Error "WHERE: offset N (line L): what was expected".
//
// umd_export(text, where)
//   The value a UMD / browserify bundle assigns to `module.exports` (minified `X.exports=` followed by an
//   object or string literal), as nsfwjs ships model.min.js and group1-shardKofN.min.js.
//   errors: oess::Error naming WHERE when no such assignment is found, or the literal is malformed.
#include <nlohmann/json.hpp>
#include <string>

namespace oess::io {

nlohmann::json parse_js_literal(const std::string& text, const std::string& where, size_t start = 0,
                                size_t* end = nullptr);
nlohmann::json umd_export(const std::string& text, const std::string& where);

// Decodes base64 (standard or URL alphabet, '=' padding optional, whitespace skipped), as the shard
// bundles hold their bytes. errors: "WHERE: not base64: character C at offset N".
std::string base64_decode(const std::string& text, const std::string& where);

}  // namespace oess::io
