// http_checksums.cpp - what a body (PUT, UploadPart) carries so the server
// can verify it, and how the answer is checked; see object_store.hpp
// ("checksums").
//
// S3 checksum headers precede the body, so a value the caller did not give
// is computed from the file before sending (a read of a part that is usually
// still in the page cache; CRC-32C runs at ~20 GB/s, MD5 at ~0.7). OSS
// returns the CRC of what it received, so there the CRC is computed while
// streaming and compared after. A body whose answer shows it arrived damaged
// is sent again, at most kSends times in all.
#include <cstring>

#include "bucketfs/store/checksums.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/log.hpp"
#include "http_call.hpp"

namespace bucketfs::store {
namespace {

constexpr int kSends = 3;

std::string raw_md5(const std::string& hex) {
  std::string raw;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return raw;
}

// Whether the answer says the object's ETag is not its MD5.
bool opaque_etag(const http::Response& r) {
  std::string sse = r.header("x-amz-server-side-encryption");
  std::string oss_sse = r.header("x-oss-server-side-encryption");
  return sse.rfind("aws:kms", 0) == 0 || !r.header("x-amz-server-side-encryption-customer-algorithm").empty() ||
         oss_sse == "KMS" || oss_sse == "SM4";
}

Error damaged(const std::string& what) { return Error{ErrorCode::Integrity, 0, "", what, ""}; }

// Computes what *have lacks of missing, from the file range or the bytes.
StoreResult<void> fill_missing(const FileRange* file, const std::string* bytes, const ChecksumPlan& missing,
                               BodyChecksums* have) {
  if (!missing.md5 && missing.crc == ChecksumAlgo::None) return Ok{};
  BodyChecksums got;
  if (file) {
    auto r = checksum_file_range(*file, missing);
    if (!r) return r.error();
    got = std::move(*r);
  } else {
    if (missing.md5) got.md5 = crypto::hex(crypto::md5(*bytes));
    if (missing.crc != ChecksumAlgo::None)
      got.crc = Crc{missing.crc, crc_update(missing.crc, 0, bytes->data(), bytes->size())};
  }
  if (missing.md5) have->md5 = got.md5;
  if (missing.crc != ChecksumAlgo::None) have->crc = got.crc;
  return Ok{};
}

}  // namespace

ChecksumPlan HttpObjectStore::checksum_plan() const {
  if (cfg_.dialect == Dialect::OSS)
    return {ChecksumAlgo::Crc64Ecma, cfg_.checksum == HttpStoreConfig::Checksum::Md5};
  if (cfg_.checksum == HttpStoreConfig::Checksum::Md5) return {ChecksumAlgo::None, true};
  BodyCheck b = capabilities().body_check;
  if (b == BodyCheck::ContentMd5) return {ChecksumAlgo::None, true};
  return {upload_algo(), b == BodyCheck::Unknown};  // until learnt, both
}

ChecksumAlgo HttpObjectStore::upload_algo() const {
  if (cfg_.dialect == Dialect::OSS) return ChecksumAlgo::Crc64Ecma;
  if (cfg_.checksum == HttpStoreConfig::Checksum::Md5 || capabilities().body_check == BodyCheck::ContentMd5)
    return ChecksumAlgo::None;
  return cfg_.checksum == HttpStoreConfig::Checksum::Crc64Nvme ? ChecksumAlgo::Crc64Nvme : ChecksumAlgo::Crc32c;
}

void HttpObjectStore::learn_body_check(BodyCheck b) {
  std::lock_guard lock(caps_mu_);
  if (caps_.body_check != BodyCheck::Unknown) return;
  caps_.body_check = b;
  LOG_INFO(cfg_.endpoint << (b == BodyCheck::Flexible
                                 ? " verifies flexible checksums; sending CRCs"
                                 : " does not verify flexible checksums; sending Content-MD5"));
}

std::string HttpObjectStore::check_answer(const http::Response& r, ChecksumAlgo algo, bool flexible,
                                          BodyCheck check, uint64_t streamed, BodyChecksums* have) {
  std::string why;
  if (cfg_.dialect == Dialect::OSS) {
    uint64_t mine = have->crc.algo == ChecksumAlgo::Crc64Ecma ? have->crc.value : streamed;
    std::string h = r.header("x-oss-hash-crc64ecma");
    auto server = parse_crc_decimal(h);
    if (!h.empty() && !server) why = "unreadable x-oss-hash-crc64ecma '" + h + "'";
    if (server && *server != mine) why = "CRC-64 " + h + " from the server, " + std::to_string(mine) + " sent";
    if (why.empty()) have->crc = Crc{ChecksumAlgo::Crc64Ecma, mine};
  } else if (flexible) {
    std::string h = r.header(s3_header_name(algo));
    if (h.empty()) {
      if (check == BodyCheck::Unknown) learn_body_check(BodyCheck::ContentMd5);  // Content-MD5 went too
    } else if (auto v = parse_crc_base64(algo, h); !v || *v != have->crc.value) {
      why = std::string(name(algo)) + " " + h + " from the server, " + crc_base64(have->crc) + " sent";
    } else if (check == BodyCheck::Unknown) {
      learn_body_check(BodyCheck::Flexible);
    }
  }
  return why;
}

StoreResult<http::Response> HttpObjectStore::send_body(Call& c, const FileRange* file, const std::string* bytes,
                                                       ChecksumAlgo algo, const BodyChecksums& known,
                                                       BodyChecksums* sent) {
  const bool oss = cfg_.dialect == Dialect::OSS;
  const http::Headers base_headers = c.headers;
  BodyChecksums have = known;
  if (!looks_like_md5(have.md5)) have.md5.clear();
  have.md5 = detail::lower(have.md5);
  for (int send = 1;; ++send) {
    // What this body must carry now (a lesson learnt by an earlier send counts).
    const BodyCheck check = capabilities().body_check;
    const bool flexible = !oss && algo != ChecksumAlgo::None && cfg_.checksum != HttpStoreConfig::Checksum::Md5 &&
                          check != BodyCheck::ContentMd5;
    ChecksumPlan need{flexible ? algo : ChecksumAlgo::None,
                      oss ? (cfg_.checksum == HttpStoreConfig::Checksum::Md5 || !have.md5.empty())
                          : (!flexible || check == BodyCheck::Unknown)};
    ChecksumPlan missing{have.crc.algo == need.crc ? ChecksumAlgo::None : need.crc, need.md5 && have.md5.empty()};
    if (auto filled = fill_missing(file, bytes, missing, &have); !filled) return filled.error();
    c.headers = base_headers;
    if (need.md5) c.headers.emplace_back("content-md5", crypto::base64(raw_md5(have.md5)));
    if (flexible) {
      c.headers.emplace_back(s3_header_name(algo), crc_base64(have.crc));
      c.headers.emplace_back("x-amz-sdk-checksum-algorithm", s3_algorithm_name(algo));
    }
    // OSS: the CRC of what is streamed, for the answer's x-oss-hash-crc64ecma.
    uint64_t streamed = 0;
    if (oss) {
      c.before_attempt = [&] { streamed = 0; };
      c.on_body_chunk = [&](const char* d, size_t n) {
        streamed = crc_update(ChecksumAlgo::Crc64Ecma, streamed, d, n);
      };
    }

    auto r = execute(c);
    if (!r) {
      const Error& e = r.error();
      // A server that refuses the checksum headers themselves (rather than a
      // body that does not match them) gets Content-MD5 from now on.
      if (flexible && check == BodyCheck::Unknown &&
          (e.code == ErrorCode::InvalidArgument || e.code == ErrorCode::Unsupported)) {
        learn_body_check(BodyCheck::ContentMd5);
        continue;
      }
      if (e.code == ErrorCode::Integrity && send < kSends) {
        LOG_WARN(c.op << " " << c.key << ": the server refused the body as damaged (" << e.describe()
                      << "); sending it again");
        continue;
      }
      return r.error();
    }

    std::string why = check_answer(*r, algo, flexible, check, streamed, &have);  // empty: it confirms the body
    // An ETag the answer presents as a plain MD5 must be the MD5 sent.
    std::string etag = detail::strip_quotes(r->header("etag"));
    if (why.empty() && !have.md5.empty() && looks_like_md5(etag) && !opaque_etag(*r) &&
        !etag_equals(etag, have.md5))
      why = "ETag " + etag + " does not match the MD5 sent " + have.md5;
    if (why.empty()) {
      *sent = have;
      return std::move(r.value());
    }
    if (send >= kSends) return damaged(why + " (after " + std::to_string(send) + " sends)");
    LOG_WARN(c.op << " " << c.key << " arrived damaged: " << why << "; sending it again");
  }
}

}  // namespace bucketfs::store
