// object_store.cpp - helpers over the ObjectStore interface.
#include "bucketfs/store/object_store.hpp"

namespace bucketfs::store {

StoreResult<ListPage> list_all(ObjectStore& store, ListRequest req) {
  ListPage all;
  for (;;) {
    auto page = store.list(req);
    if (!page) return page.error();
    auto& p = page.value();
    all.objects.insert(all.objects.end(), std::make_move_iterator(p.objects.begin()),
                       std::make_move_iterator(p.objects.end()));
    all.common_prefixes.insert(all.common_prefixes.end(), std::make_move_iterator(p.common_prefixes.begin()),
                               std::make_move_iterator(p.common_prefixes.end()));
    if (!p.truncated) break;
    if (p.next_token.empty()) {
      // A truncated page without a token would loop forever; continue after the last key instead.
      if (p.objects.empty() && p.common_prefixes.empty()) break;
      req.start_after = !p.objects.empty() ? p.objects.back().key : p.common_prefixes.back();
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
