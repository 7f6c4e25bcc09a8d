// object_store.cpp - helpers over the ObjectStore interface.
#include "bucketfs/store/object_store.hpp"

namespace bucketfs::store {

StoreResult<std::string> ObjectStore::create_multipart(const std::string& key, const PutOptions& opts) {
  auto r = create_upload(key, opts);
  if (!r) return r.error();
  return std::move(r->upload_id);
}

StoreResult<PartInfo> ObjectStore::upload_part(const std::string& key, const std::string& upload_id,
                                               int part_number, const FileRange& body) {
  return upload_part(key, MultipartUpload{upload_id, checksum_plan().crc}, part_number, body, BodyChecksums{});
}

StoreResult<std::string> ObjectStore::complete_multipart(const std::string& key, const std::string& upload_id,
                                                         const std::vector<PartInfo>& parts) {
  // The algorithm the parts were sent with, as upload_part reported it.
  ChecksumAlgo algo = parts.empty() ? ChecksumAlgo::None : parts.front().crc.algo;
  return complete_upload(key, MultipartUpload{upload_id, algo}, parts);
}

StoreResult<ListPage> list_all(ObjectStore& store, ListRequest req) {
  ListPage all;
  for (;;) {
    auto page = store.list(req);
    if (!page) return page.error();
    auto& p = page.value();
    std::string last = !p.objects.empty() ? p.objects.back().key : "";
    if (!p.common_prefixes.empty() && p.common_prefixes.back() > last) last = p.common_prefixes.back();
    all.objects.insert(all.objects.end(), std::make_move_iterator(p.objects.begin()),
                       std::make_move_iterator(p.objects.end()));
    all.common_prefixes.insert(all.common_prefixes.end(), std::make_move_iterator(p.common_prefixes.begin()),
                               std::make_move_iterator(p.common_prefixes.end()));
    if (!p.truncated) break;
    const bool same_token = !p.next_token.empty() && p.next_token == req.continuation_token;
    const bool nothing_to_follow = p.next_token.empty() && (last.empty() || last <= req.start_after);
    if (same_token || nothing_to_follow)
      return Error{ErrorCode::Other, 0, "", "the server's listing of '" + req.prefix + "' makes no progress", ""};
    if (p.next_token.empty()) {
      // A truncated page without a token: continue after its last name.
      req.start_after = last;
      req.continuation_token.clear();
    } else {
      req.continuation_token = p.next_token;
    }
  }
  return all;
}

StoreResult<std::string> get_bytes(ObjectStore& store, const std::string& key, uint64_t offset, uint64_t length) {
  std::string out;
  auto r = store.get(key, offset, length, [&](const char* d, size_t n) {
    out.append(d, n);
    return true;
  });
  if (!r) return r.error();
  return out;
}

}  // namespace bucketfs::store
