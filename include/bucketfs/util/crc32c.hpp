// crc32c.hpp - CRC-32C (Castagnoli), as used by the checksummed records and
// marks bucketfs keeps on disk. `crc` continues a previous value
// (crc32c(b, crc32c(a)) == crc32c(a ++ b)). Pure function, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bucketfs {

uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace bucketfs
