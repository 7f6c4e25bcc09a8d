// memory_object_store.cpp - see memory_object_store.hpp.
//
// Invariants: every public operation takes mu_ once for its whole duration, so
// each call is atomic with respect to the others (like a single S3 request).
// Listing continuation tokens are the last key or common prefix returned.
#include "bucketfs/store/memory_object_store.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bucketfs/store/checksums.hpp"
#include "bucketfs/util/digest.hpp"

namespace bucketfs::store {
namespace {

constexpr size_t kMaxKeyBytes = 1024;
constexpr size_t kSinkChunk = 64 * 1024;
constexpr const char* kDefaultContentType = "application/octet-stream";

Error make_error(ErrorCode code, int status, const char* server_code, std::string message) {
  Error e;
  e.code = code;
  e.http_status = status;
  e.server_code = server_code;
  e.message = std::move(message);
  e.request_id = "memory";
  return e;
}

Error no_such_key(const std::string& key) {
  return make_error(ErrorCode::NoSuchKey, 404, "NoSuchKey", "no such key: " + key);
}
Error no_such_upload(const std::string& id) {
  return make_error(ErrorCode::NoSuchUpload, 404, "NoSuchUpload", "no such upload: " + id);
}
Error unsupported(const char* op) {
  return make_error(ErrorCode::Unsupported, 501, "NotImplemented", std::string(op) + " is switched off");
}

// Returns an error when the key cannot be an S3 key.
std::optional<Error> check_key(const std::string& key) {
  if (key.empty()) return make_error(ErrorCode::InvalidArgument, 400, "InvalidArgument", "empty key");
  if (key.size() > kMaxKeyBytes)
    return make_error(ErrorCode::KeyTooLong, 400, "KeyTooLongError", "key longer than 1024 bytes");
  return std::nullopt;
}

// Reads a whole file range with pread (short reads retried).
StoreResult<std::string> read_range(const FileRange& r) {
  std::string out(r.length, '\0');
  uint64_t done = 0;
  while (done < r.length) {
    ssize_t n = ::pread(r.fd, out.data() + done, r.length - done, static_cast<off_t>(r.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorCode::LocalIo, 0, "", std::string("pread: ") + std::strerror(errno));
    if (n == 0) return make_error(ErrorCode::LocalIo, 0, "", "local file shorter than the range to send");
    done += static_cast<uint64_t>(n);
  }
  return out;
}

std::string content_type_or_default(const std::string& ct) { return ct.empty() ? kDefaultContentType : ct; }

const std::string kNoUpload;

Error bad_digest(const std::string& what) {
  return make_error(ErrorCode::Integrity, 400, "BadDigest", what + " does not match the body");
}

}  // namespace

MemoryObjectStore::MemoryObjectStore(uint64_t min_part_size, Dialect d)
    : min_part_size_(min_part_size), dialect_(d) {}

void MemoryObjectStore::count(const char* op) const { ++calls_[op]; }

void MemoryObjectStore::set_capabilities(const Capabilities& caps) {
  std::lock_guard<std::mutex> lk(mu_);
  caps_ = caps;
}

void MemoryObjectStore::set_etag_style(EtagStyle s) {
  std::lock_guard<std::mutex> lk(mu_);
  etag_style_ = s;
}

void MemoryObjectStore::set_reports_checksums(bool on) {
  std::lock_guard<std::mutex> lk(mu_);
  reports_checksums_ = on;
}

void MemoryObjectStore::set_wants_md5(bool on) {
  std::lock_guard<std::mutex> lk(mu_);
  wants_md5_ = on;
}

ChecksumAlgo MemoryObjectStore::algo() const {
  return dialect_ == Dialect::OSS ? ChecksumAlgo::Crc64Ecma : ChecksumAlgo::Crc32c;
}

std::string MemoryObjectStore::etag_for(const std::string& md5_hex) const {
  switch (etag_style_) {
    case EtagStyle::UpperMd5: {
      std::string up = md5_hex;
      for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return up;
    }
    case EtagStyle::Opaque:
      // 32 hex digits that are not the MD5, as SSE-KMS gives (stable per content).
      return crypto::hex(crypto::md5("opaque" + md5_hex));
    case EtagStyle::Md5:
    case EtagStyle::PlainMultipart: return md5_hex;
  }
  return md5_hex;
}

// A server verifies what the client says of the body before storing it.
std::optional<Error> MemoryObjectStore::check_known(const std::string& data, const BodyChecksums& known,
                                                    ChecksumAlgo a) const {
  if (!known.md5.empty() && !etag_equals(known.md5, crypto::hex(crypto::md5(data))))
    return bad_digest("Content-MD5");
  if (known.crc.known() && known.crc.algo == a && crc_update(a, 0, data.data(), data.size()) != known.crc.value)
    return bad_digest(name(a));
  return std::nullopt;
}

MemoryObjectStore::Object MemoryObjectStore::make_object(std::string data, const PutOptions& opts) const {
  Object o;
  o.etag = etag_for(crypto::hex(crypto::md5(data)));
  o.crc = Crc{algo(), crc_update(algo(), 0, data.data(), data.size())};
  o.data = std::move(data);
  o.meta = opts.meta;
  o.content_type = content_type_or_default(opts.content_type);
  o.mtime = std::time(nullptr);
  return o;
}

ObjectInfo MemoryObjectStore::info_of(const std::string& key, const Object& o, bool with_checksum) const {
  ObjectInfo info{key, o.data.size(), o.etag, o.mtime, o.content_type, o.meta};
  if (with_checksum && reports_checksums_) info.checksum = o.crc;
  if (etag_style_ == EtagStyle::Opaque) info.sse = "aws:kms";  // why its ETags are not MD5s
  return info;
}

void MemoryObjectStore::put_object(const std::string& key, const std::string& data, const Metadata& meta) {
  std::lock_guard<std::mutex> lk(mu_);
  PutOptions opts;
  opts.meta = meta;
  opts.content_type = (!key.empty() && key.back() == '/') ? "application/x-directory" : kDefaultContentType;
  objects_[key] = make_object(data, opts);
}

std::optional<std::string> MemoryObjectStore::object_data(const std::string& key) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.data;
}

std::optional<ObjectInfo> MemoryObjectStore::object_info(const std::string& key) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return info_of(key, it->second, true);
}

size_t MemoryObjectStore::object_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return objects_.size();
}

size_t MemoryObjectStore::open_upload_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return uploads_.size();
}

int MemoryObjectStore::calls(const std::string& op) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

void MemoryObjectStore::reset_counters() {
  std::lock_guard<std::mutex> lk(mu_);
  calls_.clear();
}

void MemoryObjectStore::set_observer(std::function<void(const Change&)> observer) {
  std::lock_guard<std::mutex> lk(mu_);
  observer_ = std::move(observer);
}

void MemoryObjectStore::assign_state(const MemoryObjectStore& other) {
  if (&other == this) return;
  std::scoped_lock lk(mu_, other.mu_);
  objects_ = other.objects_;
  uploads_ = other.uploads_;
  next_upload_ = other.next_upload_;
}

Dialect MemoryObjectStore::dialect() const { return dialect_; }
uint64_t MemoryObjectStore::min_part_size() const { return min_part_size_; }

Capabilities MemoryObjectStore::capabilities() const {
  std::lock_guard<std::mutex> lk(mu_);
  return caps_;
}

ChecksumPlan MemoryObjectStore::checksum_plan() const {
  std::lock_guard<std::mutex> lk(mu_);
  return {algo(), wants_md5_};
}

StoreResult<void> MemoryObjectStore::check_bucket(const std::string&) { return {}; }

StoreResult<ObjectInfo> MemoryObjectStore::head(const std::string& key) {
  std::lock_guard<std::mutex> lk(mu_);
  count("head");
  auto it = objects_.find(key);
  if (it == objects_.end()) return no_such_key(key);
  return info_of(key, it->second, true);
}

StoreResult<uint64_t> MemoryObjectStore::get(const std::string& key, uint64_t offset, uint64_t length,
                                             const ByteSink& sink) {
  std::string slice;
  {
    std::lock_guard<std::mutex> lk(mu_);
    count("get");
    auto it = objects_.find(key);
    if (it == objects_.end()) return no_such_key(key);
    const std::string& d = it->second.data;
    if (offset < d.size()) {
      uint64_t avail = d.size() - offset;
      slice = d.substr(offset, length == 0 ? avail : std::min(length, avail));
    }
  }
  // Deliver outside the lock and in chunks, as a network body would arrive.
  for (size_t pos = 0; pos < slice.size(); pos += kSinkChunk) {
    size_t n = std::min(kSinkChunk, slice.size() - pos);
    if (!sink(slice.data() + pos, n))
      return make_error(ErrorCode::Cancelled, 0, "", "the reader stopped the transfer");
  }
  return static_cast<uint64_t>(slice.size());
}

StoreResult<std::string> MemoryObjectStore::put(const std::string& key, const FileRange& body,
                                                const PutOptions& opts) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    count("put");
  }
  if (auto e = check_key(key)) return *e;
  auto data = read_range(body);
  if (!data) return data.error();
  std::lock_guard<std::mutex> lk(mu_);
  if (auto e = check_known(*data, opts.checksums, algo())) return *e;
  Object& o = objects_[key];
  o = make_object(std::move(*data), opts);
  notify({"put", key, kNoUpload, 0, &o.data, &o.meta, &o.content_type});
  return o.etag;
}

StoreResult<std::string> MemoryObjectStore::put_bytes(const std::string& key, const std::string& body,
                                                      const PutOptions& opts) {
  std::lock_guard<std::mutex> lk(mu_);
  count("put");
  if (auto e = check_key(key)) return *e;
  if (auto e = check_known(body, opts.checksums, algo())) return *e;
  Object& o = objects_[key];
  o = make_object(body, opts);
  notify({"put", key, kNoUpload, 0, &o.data, &o.meta, &o.content_type});
  return o.etag;
}

StoreResult<void> MemoryObjectStore::remove(const std::string& key) {
  std::lock_guard<std::mutex> lk(mu_);
  count("remove");
  objects_.erase(key);
  notify({"remove", key, kNoUpload});
  return {};
}

StoreResult<std::string> MemoryObjectStore::copy(const std::string& src, const std::string& dst,
                                                 const std::optional<PutOptions>& replace) {
  std::lock_guard<std::mutex> lk(mu_);
  count("copy");
  if (auto e = check_key(dst)) return *e;
  auto it = objects_.find(src);
  if (it == objects_.end()) return no_such_key(src);
  Object copy = it->second;
  if (replace) {
    copy.meta = replace->meta;
    copy.content_type = content_type_or_default(replace->content_type);
  }
  copy.mtime = std::time(nullptr);
  objects_[dst] = std::move(copy);
  notify({"copy", dst, kNoUpload, 0, nullptr, replace ? &replace->meta : nullptr,
          replace ? &replace->content_type : nullptr, &src});
  return objects_[dst].etag;
}

StoreResult<ListPage> MemoryObjectStore::list(const ListRequest& req) {
  std::lock_guard<std::mutex> lk(mu_);
  count("list");
  if (req.max_keys <= 0)
    return make_error(ErrorCode::InvalidArgument, 400, "InvalidArgument", "max_keys must be positive");
  ListPage page;
  // Resume strictly after the token (the last key or common prefix returned)
  // or after start_after, whichever is later.
  std::string after = std::max(req.continuation_token, req.start_after);
  auto it = after.empty() ? objects_.lower_bound(req.prefix) : objects_.upper_bound(after);
  if (it != objects_.end() && it->first < req.prefix) it = objects_.lower_bound(req.prefix);
  int emitted = 0;
  std::string last;
  for (; it != objects_.end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, req.prefix.size(), req.prefix) != 0) break;
    if (emitted == req.max_keys) {
      page.truncated = true;
      page.next_token = last;
      break;
    }
    if (!req.delimiter.empty()) {
      size_t d = key.find(req.delimiter, req.prefix.size());
      if (d != std::string::npos) {
        std::string cp = key.substr(0, d + req.delimiter.size());
        // A token equal to this prefix means the prefix was already returned.
        if (cp != after) {
          page.common_prefixes.push_back(cp);
          last = cp;
          ++emitted;
        }
        // Skip every other key under the same common prefix.
        auto next = objects_.lower_bound(cp);
        while (next != objects_.end() && next->first.compare(0, cp.size(), cp) == 0) ++next;
        it = std::prev(next);
        continue;
      }
    }
    const Object& o = it->second;
    page.objects.push_back(ObjectInfo{key, o.data.size(), o.etag, o.mtime, "", {}});
    last = key;
    ++emitted;
  }
  return page;
}

StoreResult<MultipartUpload> MemoryObjectStore::create_upload(const std::string& key, const PutOptions& opts) {
  std::lock_guard<std::mutex> lk(mu_);
  count("create_multipart");
  if (auto e = check_key(key)) return *e;
  std::string id = "upload-" + std::to_string(next_upload_++);
  Upload& u = uploads_[id];
  u.key = key;
  u.meta = opts.meta;
  u.content_type = content_type_or_default(opts.content_type);
  u.algo = algo();
  u.initiated = std::time(nullptr);
  notify({"create_multipart", key, id, 0, nullptr, &u.meta, &u.content_type});
  return MultipartUpload{id, u.algo};
}

StoreResult<PartInfo> MemoryObjectStore::upload_part(const std::string& key, const MultipartUpload& upload,
                                                     int part_number, const FileRange& body,
                                                     const BodyChecksums& known) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    count("upload_part");
  }
  if (part_number < 1 || part_number > 10000)
    return make_error(ErrorCode::InvalidArgument, 400, "InvalidArgument", "part number out of range");
  auto data = read_range(body);
  if (!data) return data.error();
  std::lock_guard<std::mutex> lk(mu_);
  auto it = uploads_.find(upload.upload_id);
  if (it == uploads_.end() || it->second.key != key) return no_such_upload(upload.upload_id);
  if (auto e = check_known(*data, known, it->second.algo)) return *e;
  if (!known.md5.empty()) count("upload_part_md5_given");
  PartInfo p;
  p.number = part_number;
  p.size = data->size();
  p.md5 = crypto::hex(crypto::md5(*data));
  p.etag = etag_for(p.md5);
  if (it->second.algo != ChecksumAlgo::None)
    p.crc = Crc{it->second.algo, crc_update(it->second.algo, 0, data->data(), data->size())};
  it->second.parts[part_number] = std::move(*data);
  notify({"upload_part", key, upload.upload_id, part_number, &it->second.parts[part_number]});
  return p;
}

StoreResult<PartInfo> MemoryObjectStore::upload_part_copy(const std::string& key, const std::string& upload_id,
                                                          int part_number, const std::string& src_key,
                                                          uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lk(mu_);
  count("upload_part_copy");
  if (!caps_.upload_part_copy) return unsupported("UploadPartCopy");
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return no_such_upload(upload_id);
  auto src = objects_.find(src_key);
  if (src == objects_.end()) return no_such_key(src_key);
  if (offset + length > src->second.data.size() || length == 0)
    return make_error(ErrorCode::InvalidArgument, 416, "InvalidRange", "copy range outside the source");
  std::string data = src->second.data.substr(offset, length);
  PartInfo p;
  p.number = part_number;
  p.size = data.size();
  p.md5 = crypto::hex(crypto::md5(data));
  p.etag = etag_for(p.md5);
  it->second.parts[part_number] = std::move(data);
  notify({"upload_part", key, upload_id, part_number, &it->second.parts[part_number]});
  return p;
}

StoreResult<std::string> MemoryObjectStore::complete_upload(const std::string& key, const MultipartUpload& upload,
                                                            const std::vector<PartInfo>& parts) {
  std::lock_guard<std::mutex> lk(mu_);
  count("complete_multipart");
  auto it = uploads_.find(upload.upload_id);
  if (it == uploads_.end() || it->second.key != key) return no_such_upload(upload.upload_id);
  if (parts.empty()) return make_error(ErrorCode::InvalidArgument, 400, "MalformedXML", "complete without parts");
  Upload& u = it->second;
  std::string data;
  std::string md5s;
  int prev = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const PartInfo& p = parts[i];
    if (p.number <= prev)
      return make_error(ErrorCode::InvalidArgument, 400, "InvalidPartOrder", "parts not in ascending order");
    prev = p.number;
    auto part = u.parts.find(p.number);
    if (part == u.parts.end())
      return make_error(ErrorCode::InvalidArgument, 400, "InvalidPart", "part not uploaded");
    std::string raw = crypto::md5(part->second);
    bool etag_ok = p.etag.empty() || etag_equals(p.etag, etag_for(crypto::hex(raw)));
    if (!etag_ok) return make_error(ErrorCode::InvalidArgument, 400, "InvalidPart", "part ETag does not match");
    if (p.crc.known() &&
        (p.crc.algo != u.algo || crc_update(u.algo, 0, part->second.data(), part->second.size()) != p.crc.value))
      return make_error(ErrorCode::InvalidArgument, 400, "InvalidPart", "part checksum does not match");
    if (i + 1 < parts.size() && part->second.size() < min_part_size_)
      return make_error(ErrorCode::InvalidArgument, 400, "EntityTooSmall", "non-last part below the minimum");
    data += part->second;
    md5s += raw;
  }
  Object o;
  o.crc = Crc{algo(), crc_update(algo(), 0, data.data(), data.size())};
  o.etag = etag_style_ == EtagStyle::PlainMultipart
               ? crypto::hex(crypto::md5(data))
               : etag_for(crypto::hex(crypto::md5(md5s))) + "-" + std::to_string(parts.size());
  o.data = std::move(data);
  o.meta = u.meta;
  o.content_type = u.content_type;
  o.mtime = std::time(nullptr);
  std::string etag = o.etag;
  objects_[key] = std::move(o);
  uploads_.erase(it);
  notify({"complete_multipart", key, upload.upload_id, 0, nullptr, nullptr, nullptr, nullptr, &parts});
  return etag;
}

StoreResult<void> MemoryObjectStore::abort_multipart(const std::string& key, const std::string& upload_id) {
  std::lock_guard<std::mutex> lk(mu_);
  count("abort_multipart");
  if (!caps_.abort_multipart) return unsupported("AbortMultipartUpload");
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return no_such_upload(upload_id);
  uploads_.erase(it);
  notify({"abort_multipart", key, upload_id});
  return {};
}

StoreResult<ListPartsPage> MemoryObjectStore::list_parts(const std::string& key, const std::string& upload_id,
                                                         int marker, int max_parts) {
  std::lock_guard<std::mutex> lk(mu_);
  count("list_parts");
  if (!caps_.list_parts) return unsupported("ListParts");
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return no_such_upload(upload_id);
  if (max_parts <= 0) max_parts = 1000;
  ListPartsPage page;
  for (auto p = it->second.parts.upper_bound(marker); p != it->second.parts.end(); ++p) {
    if (static_cast<int>(page.parts.size()) == max_parts) {
      page.truncated = true;
      page.next_marker = page.parts.back().number;
      break;
    }
    PartInfo info;
    info.number = p->first;
    info.size = p->second.size();
    info.etag = etag_for(crypto::hex(crypto::md5(p->second)));
    page.parts.push_back(std::move(info));
  }
  return page;
}

StoreResult<ListUploadsPage> MemoryObjectStore::list_uploads(const std::string& prefix,
                                                             const std::string& key_marker,
                                                             const std::string& upload_id_marker) {
  std::lock_guard<std::mutex> lk(mu_);
  count("list_uploads");
  if (!caps_.list_uploads) return unsupported("ListMultipartUploads");
  ListUploadsPage page;
  for (const auto& [id, u] : uploads_) {
    if (u.key.compare(0, prefix.size(), prefix) != 0) continue;
    // S3 order: by key, then upload id; markers resume strictly after.
    if (!key_marker.empty()) {
      if (u.key < key_marker) continue;
      if (u.key == key_marker && (upload_id_marker.empty() || id <= upload_id_marker)) continue;
    }
    page.uploads.push_back(UploadInfo{u.key, id, u.initiated});
  }
  std::sort(page.uploads.begin(), page.uploads.end(), [](const UploadInfo& a, const UploadInfo& b) {
    return a.key != b.key ? a.key < b.key : a.upload_id < b.upload_id;
  });
  return page;
}

}  // namespace bucketfs::store
