// checksums.cpp - see checksums.hpp.
#include "bucketfs/store/checksums.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "bucketfs/util/crc.hpp"
#include "bucketfs/util/digest.hpp"

namespace bucketfs::store {
namespace {

size_t crc_bytes(ChecksumAlgo a) { return a == ChecksumAlgo::Crc32c ? 4 : 8; }

std::string big_endian(const Crc& c) {
  size_t n = crc_bytes(c.algo);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((c.value >> (8 * (n - 1 - i))) & 0xFF);
  return out;
}

// Every part has a CRC of one algorithm: that algorithm, else None.
ChecksumAlgo common_algo(const std::vector<PartInfo>& parts) {
  if (parts.empty()) return ChecksumAlgo::None;
  ChecksumAlgo a = parts.front().crc.algo;
  for (const auto& p : parts)
    if (p.crc.algo != a) return ChecksumAlgo::None;
  return a;
}

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

std::string_view unquoted(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

const char* name(ChecksumAlgo a) {
  switch (a) {
    case ChecksumAlgo::None: return "none";
    case ChecksumAlgo::Crc32c: return "crc32c";
    case ChecksumAlgo::Crc64Nvme: return "crc64nvme";
    case ChecksumAlgo::Crc64Ecma: return "crc64ecma";
  }
  return "none";
}

uint64_t crc_update(ChecksumAlgo algo, uint64_t crc, const void* data, size_t n) {
  switch (algo) {
    case ChecksumAlgo::Crc32c: return crc::crc32c(static_cast<uint32_t>(crc), data, n);
    case ChecksumAlgo::Crc64Nvme: return crc::crc64nvme(crc, data, n);
    case ChecksumAlgo::Crc64Ecma: return crc::crc64ecma(crc, data, n);
    case ChecksumAlgo::None: return 0;
  }
  return 0;
}

std::optional<Crc> combine_parts(const std::vector<PartInfo>& parts) {
  ChecksumAlgo a = common_algo(parts);
  if (a == ChecksumAlgo::None) return std::nullopt;
  uint64_t acc = 0;
  for (const auto& p : parts) {
    switch (a) {
      case ChecksumAlgo::Crc32c:
        acc = crc::crc32c_combine(static_cast<uint32_t>(acc), static_cast<uint32_t>(p.crc.value), p.size);
        break;
      case ChecksumAlgo::Crc64Nvme: acc = crc::crc64nvme_combine(acc, p.crc.value, p.size); break;
      case ChecksumAlgo::Crc64Ecma: acc = crc::crc64ecma_combine(acc, p.crc.value, p.size); break;
      case ChecksumAlgo::None: return std::nullopt;
    }
  }
  return Crc{a, acc};
}

std::optional<Crc> composite_parts(const std::vector<PartInfo>& parts) {
  ChecksumAlgo a = common_algo(parts);
  if (a == ChecksumAlgo::None) return std::nullopt;
  std::string raw;
  for (const auto& p : parts) raw += big_endian(p.crc);
  return Crc{a, crc_update(a, 0, raw.data(), raw.size())};
}

std::optional<std::string> multipart_etag(const std::vector<PartInfo>& parts) {
  if (parts.empty()) return std::nullopt;
  std::string digests;
  for (const auto& p : parts) {
    if (p.md5.size() != 32 || !std::all_of(p.md5.begin(), p.md5.end(), is_hex)) return std::nullopt;
    for (size_t i = 0; i < 32; i += 2) {
      unsigned v = 0;
      std::from_chars(p.md5.data() + i, p.md5.data() + i + 2, v, 16);
      digests += static_cast<char>(v);
    }
  }
  return crypto::hex(crypto::md5(digests)) + "-" + std::to_string(parts.size());
}

std::string crc_base64(const Crc& c) { return crypto::base64(big_endian(c)); }

std::optional<uint64_t> parse_crc_base64(ChecksumAlgo algo, std::string_view b64) {
  std::string raw;
  if (algo == ChecksumAlgo::None || !crypto::base64_decode(b64, &raw) || raw.size() != crc_bytes(algo))
    return std::nullopt;
  uint64_t v = 0;
  for (unsigned char c : raw) v = (v << 8) | c;
  return v;
}

std::optional<uint64_t> parse_crc_decimal(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string s3_algorithm_name(ChecksumAlgo a) {
  switch (a) {
    case ChecksumAlgo::Crc32c: return "CRC32C";
    case ChecksumAlgo::Crc64Nvme: return "CRC64NVME";
    default: return "";
  }
}
std::string s3_header_name(ChecksumAlgo a) {
  switch (a) {
    case ChecksumAlgo::Crc32c: return "x-amz-checksum-crc32c";
    case ChecksumAlgo::Crc64Nvme: return "x-amz-checksum-crc64nvme";
    default: return "";
  }
}
std::string s3_xml_name(ChecksumAlgo a) {
  std::string n = s3_algorithm_name(a);
  return n.empty() ? n : "Checksum" + n;
}

bool etag_equals(std::string_view a, std::string_view b) {
  a = unquoted(a);
  b = unquoted(b);
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool looks_like_md5(std::string_view etag) {
  etag = unquoted(etag);
  return etag.size() == 32 && std::all_of(etag.begin(), etag.end(), is_hex);
}

StoreResult<BodyChecksums> checksum_file_range(const FileRange& range, const ChecksumPlan& plan) {
  constexpr size_t kChunk = 1 << 20;
  std::string buf(static_cast<size_t>(std::min<uint64_t>(range.length, kChunk)), '\0');
  crypto::Md5 md5;
  uint64_t crc = 0;
  uint64_t done = 0;
  while (done < range.length) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(range.length - done, buf.size()));
    ssize_t got = ::pread(range.fd, buf.data(), want, static_cast<off_t>(range.offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      std::string why = got < 0 ? std::strerror(errno) : "the file is shorter than the range to send";
      return Error{ErrorCode::LocalIo, 0, "", "reading the local file failed: " + why, ""};
    }
    if (plan.md5) md5.update(buf.data(), static_cast<size_t>(got));
    crc = crc_update(plan.crc, crc, buf.data(), static_cast<size_t>(got));
    done += static_cast<uint64_t>(got);
  }
  BodyChecksums out;
  if (plan.md5) out.md5 = crypto::hex(md5.finish());
  if (plan.crc != ChecksumAlgo::None) out.crc = Crc{plan.crc, crc};
  return out;
}

}  // namespace bucketfs::store
