// part_plan.cpp - see part_plan.hpp.
#include "bucketfs/upload/part_plan.hpp"

#include <algorithm>

namespace bucketfs::upload {

uint64_t PartPlan::length(uint32_t number) const {
  if (!multipart) return size;
  uint64_t off = offset(number);
  return off >= size ? 0 : std::min(part_size, size - off);
}

PartPlan plan_parts(uint64_t size, uint64_t part_size, uint64_t min_part_size) {
  PartPlan p;
  p.size = size;
  p.part_size = std::max(part_size, min_part_size);
  if (p.part_size == 0) p.part_size = 1;
  if (size <= p.part_size) {
    p.multipart = false;
    p.count = 1;
    return p;
  }
  constexpr uint64_t kMiB = 1024 * 1024;
  if ((size + p.part_size - 1) / p.part_size > kMaxParts) {
    uint64_t need = (size + kMaxParts - 1) / kMaxParts;
    p.part_size = (need + kMiB - 1) / kMiB * kMiB;
  }
  p.multipart = true;
  p.count = static_cast<uint32_t>((size + p.part_size - 1) / p.part_size);
  return p;
}

}  // namespace bucketfs::upload
