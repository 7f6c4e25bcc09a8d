// verify.cpp - see verify.hpp.
#include "bucketfs/store/verify.hpp"

#include "bucketfs/store/checksums.hpp"

namespace bucketfs::store {
namespace {

Verification decided(bool yes, std::string how) {
  return Verification{yes ? Verdict::Yes : Verdict::No, std::move(how)};
}

// The whole-object checksum the server reported, against the expected parts.
std::optional<Verification> by_checksum(const ObjectInfo& h, const ObjectExpectation& want) {
  if (!h.checksum.known()) return std::nullopt;
  std::optional<Crc> expected;
  if (h.checksum_parts > 0) {
    if (static_cast<size_t>(h.checksum_parts) != want.parts.size()) return decided(false, "checksum part count");
    expected = composite_parts(want.parts);
  } else {
    expected = combine_parts(want.parts);
  }
  if (!expected || expected->algo != h.checksum.algo) return std::nullopt;
  return decided(*expected == h.checksum, name(h.checksum.algo));
}

bool etag_is_not_md5(const ObjectInfo& h) {
  // SSE-KMS and SSE-C ETags are opaque; SSE-S3 (AES256) ETags are MD5s.
  return h.sse == "aws:kms" || h.sse == "KMS" || h.sse == "SM4" || h.sse == "SSE-C";
}

// The multipart ETag made from the part ETags the server answered (rather
// than from our MD5s): servers derive the object's ETag from those, so it
// also holds where a part's ETag is not its MD5 (SSE-KMS parts on RGW).
std::optional<std::string> multipart_etag_of_answers(const std::vector<PartInfo>& parts) {
  std::vector<PartInfo> as_md5 = parts;
  for (auto& p : as_md5) {
    if (!looks_like_md5(p.etag)) return std::nullopt;
    p.md5 = p.etag;
  }
  return multipart_etag(as_md5);
}

StoreResult<std::optional<Verification>> by_etag(const ObjectInfo& h, const ObjectExpectation& want) {
  const std::string& etag = h.etag;
  auto dash = etag.rfind('-');
  if (dash != std::string::npos && looks_like_md5(etag.substr(0, dash))) {
    if (!want.multipart) return std::optional<Verification>(decided(false, "multipart etag on a single put"));
    auto answers = multipart_etag_of_answers(want.parts);
    if (answers && etag_equals(etag, *answers))
      return std::optional<Verification>(decided(true, "multipart etag of the parts' etags"));
    // Encrypted: an ETag that does not match proves nothing either way.
    if (etag_is_not_md5(h)) return std::optional<Verification>();
    auto mine = multipart_etag(want.parts);
    if (!mine) return std::optional<Verification>();
    return std::optional<Verification>(decided(etag_equals(etag, *mine), "multipart etag"));
  }
  if (etag_is_not_md5(h)) return std::optional<Verification>();
  if (!looks_like_md5(etag)) return std::optional<Verification>();
  std::string md5 = want.whole_md5;
  if (md5.empty() && !want.multipart && want.parts.size() == 1) md5 = want.parts.front().md5;
  if (md5.empty() && want.file.fd >= 0) {
    auto sums = checksum_file_range(want.file, ChecksumPlan{ChecksumAlgo::None, true});
    if (!sums) return sums.error();
    md5 = sums->md5;
  }
  if (md5.empty()) return std::optional<Verification>();
  return std::optional<Verification>(decided(etag_equals(etag, md5), "whole-object md5"));
}

}  // namespace

const char* name(Verdict v) {
  switch (v) {
    case Verdict::Yes: return "yes";
    case Verdict::No: return "no";
    case Verdict::Unknown: return "unknown";
  }
  return "unknown";
}

StoreResult<Verification> verify_object(ObjectStore& store, const std::string& key,
                                        const ObjectExpectation& expected) {
  auto h = store.head(key);
  if (!h) {
    if (h.error().code == ErrorCode::NoSuchKey) return Verification{Verdict::No, "no such object"};
    return h.error();
  }
  if (h->size != expected.size) return decided(false, "size");
  if (auto v = by_checksum(*h, expected)) return *v;
  auto v = by_etag(*h, expected);
  if (!v) return v.error();
  if (*v) return **v;
  return Verification{Verdict::Unknown, "the server gives neither a checksum nor a usable etag"};
}

}  // namespace bucketfs::store
