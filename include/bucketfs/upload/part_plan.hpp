// part_plan.hpp - how a staged file of a given size is cut into upload parts.
#pragma once

#include <cstdint>

namespace bucketfs::upload {

constexpr uint32_t kMaxParts = 10000;

struct PartPlan {
  uint64_t size = 0;
  uint64_t part_size = 0;  // every part but the last has exactly this size
  uint32_t count = 1;      // number of parts (1 for a single PUT)
  bool multipart = false;  // false: one PUT of the whole file

  uint64_t offset(uint32_t number) const { return static_cast<uint64_t>(number - 1) * part_size; }
  uint64_t length(uint32_t number) const;  // number is 1-based
};

// A file of at most one part (part_size, raised to min_part_size) is one PUT;
// a larger one is a multipart upload whose part size grows (to a whole MiB) so
// that it needs no more than kMaxParts parts.
PartPlan plan_parts(uint64_t size, uint64_t part_size, uint64_t min_part_size);

}  // namespace bucketfs::upload
