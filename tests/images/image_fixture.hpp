// Helpers for the images/ tests: temporary directories, a synthetic bzImage, and small
// hermetic images (synthetic kernel, no modules, a temporary signing key).
#pragma once

#include <string>

#include "images/build.hpp"
#include "images/internal/temp_dir.hpp"

namespace silk::images::testing {

// A fresh temporary directory, removed at destruction.
internal::TempDir MakeTempDir();

// Writes a minimal file that carries a bzImage setup header ("HdrS" at 0x202) with
// kernel release `release`: enough for the build's checks, not bootable.
void WriteFakeKernel(const std::string& path, const std::string& release);

// Options for a hermetic image under `dir`: synthetic kernel, /bin/true as "silk",
// gzip (fast), key in dir/key.pem.
BuildOptions HermeticOptions(const std::string& dir);

std::string Slurp(const std::string& path);
void Spit(const std::string& path, const std::string& data);

}  // namespace silk::images::testing
