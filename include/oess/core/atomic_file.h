#pragma once
// oess/core/atomic_file.h — whole-file writes that a reader never sees half-done.
//
// write_file_atomic(path, bytes): writes to a temporary name in the same folder, flushes it to disk, then
// renames it over `path`. ensures: `path` holds either its old content or all of `bytes`; on failure the
// temporary is removed and an oess::Error names `path` and the reason.
#include <string>
#include <string_view>

namespace oess {

void write_file_atomic(const std::string& path, std::string_view bytes);

// Reads a whole file. requires: readable, else oess::Error naming `path` and the reason.
std::string read_file(const std::string& path);

// Up to the first n bytes of a file ("" when it cannot be opened): for recognising formats by content.
std::string read_file_head(const std::string& path, size_t n);

}  // namespace oess
