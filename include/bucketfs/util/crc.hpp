// crc.hpp - the CRCs object stores verify: CRC-32C (S3 flexible checksums,
// the checkpoint records), CRC-64/ECMA-182 as OSS computes it
// (x-oss-hash-crc64ecma) and CRC-64/NVME (S3 x-amz-checksum-crc64nvme).
//
// Parameters (the CRC catalogue's names): CRC-32C = CRC-32/ISCSI, reflected
// poly 0x1EDC6F41, init and xorout all ones; "crc64ecma" = CRC-64/XZ, the
// ECMA-182 polynomial 0x42F0E1EBA9EA3693 reflected, init and xorout all ones
// (what the OSS SDKs call crc64 ECMA); CRC-64/NVME, poly 0xAD93D23594C93659
// reflected, init and xorout all ones.
//
// Every function continues a CRC: start from 0, pass the previous result
// back with the next chunk; the result is always the finished value, so
// crc(crc(0, a), b) == crc(0, a||b). combine() gives crc(a||b) from crc(a),
// crc(b) and the length of b alone, without the bytes (zlib's crc32_combine):
// a multipart object's CRC from its parts' CRCs.
//
// The default functions use the CPU's CRC32 instruction (SSE4.2) and carry-
// less multiplication (PCLMULQDQ) when the CPU has them, checked once at run
// time; the *_portable ones are the table (slice-by-8) versions, for tests
// and benchmarks. All functions are pure and reentrant; n == 0 returns crc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bucketfs::crc {

uint32_t crc32c(uint32_t crc, const void* data, size_t n);
uint64_t crc64ecma(uint64_t crc, const void* data, size_t n);
uint64_t crc64nvme(uint64_t crc, const void* data, size_t n);

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
uint64_t crc64ecma_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);
uint64_t crc64nvme_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t n);
uint64_t crc64ecma_portable(uint64_t crc, const void* data, size_t n);
uint64_t crc64nvme_portable(uint64_t crc, const void* data, size_t n);

// What the default functions use on this CPU.
struct Acceleration {
  bool crc32c = false;  // SSE4.2 crc32 instruction
  bool crc64 = false;   // PCLMULQDQ folding
};
Acceleration acceleration();

}  // namespace bucketfs::crc
