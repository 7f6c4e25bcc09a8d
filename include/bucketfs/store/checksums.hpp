// checksums.hpp - the checksum arithmetic the stores and the uploader share:
// CRCs by algorithm, a multipart object's CRC from its parts' (combine, and
// S3's COMPOSITE form), the multipart ETag, their wire encodings, and
// case-insensitive ETag comparison. Pure functions, reentrant; see
// object_store.hpp ("checksums") for how they are used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bucketfs/store/object_store.hpp"

namespace bucketfs::store {

// Continues a CRC of the given algorithm (None: returns 0).
uint64_t crc_update(ChecksumAlgo algo, uint64_t crc, const void* data, size_t n);

// The whole object's CRC from its parts' CRCs and sizes, as if computed over
// the concatenated bytes (what S3 FULL_OBJECT checksums and OSS report).
// nullopt unless every part has a CRC of one algorithm.
std::optional<Crc> combine_parts(const std::vector<PartInfo>& parts);

// S3's COMPOSITE checksum: the CRC of the parts' big-endian CRC bytes
// (reported as "<base64>-N"). nullopt unless every part has a CRC of one
// algorithm.
std::optional<Crc> composite_parts(const std::vector<PartInfo>& parts);

// The ETag S3-compatible servers give a multipart object: the hex MD5 of the
// parts' binary MD5s, "-", the part count. nullopt when a part's MD5 is
// missing or not 32 hex digits.
std::optional<std::string> multipart_etag(const std::vector<PartInfo>& parts);

// S3 wire form: base64 of the big-endian CRC (4 bytes for CRC-32C, else 8).
std::string crc_base64(const Crc& c);
// Parses the S3 wire form for `algo`; nullopt when malformed or the wrong size.
std::optional<uint64_t> parse_crc_base64(ChecksumAlgo algo, std::string_view b64);
// OSS wire form (x-oss-hash-crc64ecma): unsigned decimal; nullopt when
// malformed or out of range.
std::optional<uint64_t> parse_crc_decimal(std::string_view s);

// S3 names: "CRC32C" for the algorithm headers, "crc32c" in
// x-amz-checksum-<name>, "ChecksumCRC32C" in XML. Empty for None/Crc64Ecma.
std::string s3_algorithm_name(ChecksumAlgo a);
std::string s3_header_name(ChecksumAlgo a);
std::string s3_xml_name(ChecksumAlgo a);

// ETags compared without quotes and without regard to case (OSS sends upper case).
bool etag_equals(std::string_view a, std::string_view b);
// 32 hex digits in either case, nothing else (what a single PUT's ETag is
// when it is the MD5; SSE-KMS ETags look the same and are not).
bool looks_like_md5(std::string_view etag);

// Hex MD5 (lower case) and/or the CRC of `plan` over a file range, read with
// pread in 1 MiB pieces. Errors: LocalIo (read error or a short file).
StoreResult<BodyChecksums> checksum_file_range(const FileRange& range, const ChecksumPlan& plan);

}  // namespace bucketfs::store
