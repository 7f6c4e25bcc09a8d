// http_copy.cpp - HttpObjectStore::copy: server-side copies (rename, chmod)
// that keep what the source is stored with.
//
// The source's HEAD says its size, type, storage class and encryption; the
// copy repeats the class and encryption (a copy otherwise gets the bucket's
// defaults) and, for SSE-C, sends the key as copy-source headers too. Objects
// over the single-copy limit (5 GiB on S3) are copied part by part with
// UploadPartCopy. A server that cannot copy an encrypted object (Ceph 16
// answers NotImplemented to a CopyObject of an SSE-KMS or SSE-C one, while
// its UploadPartCopy works) gets the bytes through us instead: read in pieces
// into an anonymous memory file, sent again, checked against the source's
// size and whole-object CRC.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bucketfs/store/checksums.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/mime_types.hpp"
#include "bucketfs/xml/s3_xml.hpp"
#include "http_call.hpp"

namespace bucketfs::store {
namespace {

constexpr uint64_t kClientPiece = uint64_t{64} << 20;  // bytes held at once by a copy through us

Error local(const std::string& what) {
  return Error{ErrorCode::LocalIo, 0, "", what + ": " + std::strerror(errno), ""};
}

// An anonymous in-memory file (closed by its destructor).
struct MemFile {
  Fd owned{::memfd_create("bucketfs-copy", MFD_CLOEXEC)};
  int fd = owned.get();
};

}  // namespace

StoreResult<std::string> HttpObjectStore::copy(const std::string& src, const std::string& dst,
                                               const std::optional<PutOptions>& replace) {
  auto info = head(src);
  if (!info) return info.error();
  // (Assigned field by field: g++ 12 under -fsanitize=thread takes the
  // ternary of two PutOptions for a read of an uninitialised map.)
  PutOptions opts;
  if (replace) {
    opts = *replace;
  } else {
    opts.meta = info->meta;
    opts.content_type = info->content_type;
  }
  if (opts.content_type.empty()) opts.content_type = info->content_type;
  auto r = info->size > cfg_.max_single_copy ? copy_multipart(src, dst, *info, opts)
                                             : copy_single(src, dst, *info, opts, replace.has_value());
  if (!r && r.error().code == ErrorCode::Unsupported && !info->sse.empty()) {
    LOG_INFO(cfg_.endpoint << " cannot copy the encrypted " << src << " (" << r.error().describe()
                           << "); copying it through bucketfs");
    return copy_through_client(src, dst, *info, opts);
  }
  return r;
}

StoreResult<std::string> HttpObjectStore::copy_single(const std::string& src, const std::string& dst,
                                                      const ObjectInfo& info, const PutOptions& opts,
                                                      bool replace) {
  const bool oss = cfg_.dialect == Dialect::OSS;
  Call c;
  c.op = "copy";
  c.method = "PUT";
  c.key = dst;
  c.has_body = true;
  c.headers.emplace_back(oss ? "x-oss-copy-source" : "x-amz-copy-source",
                         "/" + cfg_.bucket + "/" + sign::uri_encode(src, false));
  c.headers.emplace_back(oss ? "x-oss-metadata-directive" : "x-amz-metadata-directive",
                         replace ? "REPLACE" : "COPY");
  if (replace) {
    c.headers.emplace_back("content-type",
                           !opts.content_type.empty() ? opts.content_type : mime::content_type_for(dst));
    for (const auto& [k, v] : opts.meta) c.headers.emplace_back(meta_prefix() + k, v);
  }
  for (auto& h : kept_headers(info)) c.headers.push_back(std::move(h));
  if (info.sse == "SSE-C")
    for (auto& h : encryption_headers(cfg_.encryption, cfg_.dialect, HeaderUse::CopySource))
      c.headers.push_back(std::move(h));
  auto r = execute(c);
  if (!r) return r.error();
  auto etag = xml::parse_copy_result(r->body);
  return detail::strip_quotes(etag ? *etag : r->header("etag"));
}

// What a copy of this object must say to stay as it is: its storage class
// and encryption (an SSE-C copy is written with the mount's key, the only
// one we have).
HeaderList HttpObjectStore::kept_headers(const ObjectInfo& info) const {
  HeaderList h;
  const bool oss = cfg_.dialect == Dialect::OSS;
  if (!info.storage_class.empty()) h.emplace_back(storage_class_header(cfg_.dialect), info.storage_class);
  Encryption keep;
  if (info.sse == "SSE-C") {
    keep = cfg_.encryption;
  } else if (info.sse == "AES256") {
    keep.mode = Encryption::Mode::Managed;
  } else if (info.sse == "SM4") {
    keep.mode = Encryption::Mode::Sm4;
  } else if (!info.sse.empty() && (info.sse.rfind("aws:kms", 0) == 0 || (oss && info.sse == "KMS"))) {
    keep.mode = Encryption::Mode::Kms;
    keep.kms_key_id = info.sse_kms_key_id;
  }
  for (auto& x : encryption_headers(keep, cfg_.dialect, HeaderUse::NewObject)) h.push_back(std::move(x));
  return h;
}

// A copy of an object over the single-copy limit: a multipart upload of the
// destination, with the source's options, filled by UploadPartCopy.
StoreResult<std::string> HttpObjectStore::copy_multipart(const std::string& src, const std::string& dst,
                                                         const ObjectInfo& info, const PutOptions& opts) {
  HeaderList kept = kept_headers(info);
  auto up = create(dst, opts, &kept, ChecksumAlgo::None);
  if (!up) return up.error();
  // copy_part_size (1 GiB) is above every server's minimum part size.
  const uint64_t part = std::max<uint64_t>({cfg_.copy_part_size, (info.size + 9999) / 10000, 1});
  std::vector<PartInfo> parts;
  for (uint64_t off = 0; off < info.size; off += part) {
    auto p = upload_part_copy(dst, up->upload_id, static_cast<int>(parts.size() + 1), src, off,
                              std::min(part, info.size - off));
    if (!p) {
      abort_quietly(dst, up->upload_id);
      return p.error();
    }
    parts.push_back(std::move(*p));
  }
  LOG_DEBUG("copied " << src << " to " << dst << " in " << parts.size() << " parts");
  return complete_upload(dst, *up, parts);
}

// The bytes through us, a piece at a time (see the file comment).
StoreResult<std::string> HttpObjectStore::copy_through_client(const std::string& src, const std::string& dst,
                                                              const ObjectInfo& info, const PutOptions& opts) {
  MemFile mem;
  if (mem.fd < 0) return local("memfd_create");
  const HeaderList kept = kept_headers(info);
  const uint64_t piece = std::max<uint64_t>(kClientPiece, (info.size + 9999) / 10000);
  const bool check_crc = info.checksum.known() && info.checksum_parts == 0;
  uint64_t crc = 0;
  // Reads [off, off+len) of the source into the memory file.
  auto fetch = [&](uint64_t off, uint64_t len) -> StoreResult<void> {
    if (::ftruncate(mem.fd, 0) != 0) return local("ftruncate");
    uint64_t at = 0;
    int err = 0;
    auto got = get(src, off, len, [&](const char* d, size_t n) {
      if (::pwrite(mem.fd, d, n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) {
        err = errno;
        return false;
      }
      if (check_crc) crc = crc_update(info.checksum.algo, crc, d, n);
      at += n;
      return true;
    });
    if (err != 0) return Error{ErrorCode::LocalIo, 0, "", std::string("memory file: ") + std::strerror(err), ""};
    if (!got) return got.error();
    if (*got != len)
      return Error{ErrorCode::Integrity, 0, "",
                   src + " gave " + std::to_string(*got) + " bytes, expected " + std::to_string(len), ""};
    return Ok{};
  };
  auto crc_ok = [&]() -> StoreResult<void> {
    if (!check_crc || crc == info.checksum.value) return Ok{};
    return Error{ErrorCode::Integrity, 0, "", "the bytes read from " + src + " do not match its checksum", ""};
  };
  if (info.size <= piece) {
    if (info.size > 0)
      if (auto f = fetch(0, info.size); !f) return f.error();
    if (auto c = crc_ok(); !c) return c.error();
    FileRange body{mem.fd, 0, info.size};
    return put_object(dst, &body, nullptr, opts, &kept);
  }
  auto up = create(dst, opts, &kept, upload_algo());
  if (!up) return up.error();
  std::vector<PartInfo> parts;
  for (uint64_t off = 0; off < info.size; off += piece) {
    const uint64_t len = std::min(piece, info.size - off);
    auto f = fetch(off, len);
    auto p = f ? upload_part(dst, *up, static_cast<int>(parts.size() + 1), FileRange{mem.fd, 0, len}, {})
               : StoreResult<PartInfo>(f.error());
    if (!p) {
      abort_quietly(dst, up->upload_id);
      return p.error();
    }
    parts.push_back(std::move(*p));
  }
  if (auto c = crc_ok(); !c) {
    abort_quietly(dst, up->upload_id);
    return c.error();
  }
  return complete_upload(dst, *up, parts);
}

void HttpObjectStore::abort_quietly(const std::string& key, const std::string& upload_id) {
  if (auto a = abort_multipart(key, upload_id); !a && a.error().code != ErrorCode::Unsupported)
    LOG_WARN("cannot abort the multipart copy to " << key << ": " << a.error().describe());
}

}  // namespace bucketfs::store
