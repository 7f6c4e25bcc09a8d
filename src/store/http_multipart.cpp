// http_multipart.cpp - HttpObjectStore: multipart uploads (create, parts,
// complete, abort, listings of parts and uploads).
//
// A flexible-checksum upload (S3) is declared FULL_OBJECT on create, so its
// Complete can carry the whole object's CRC, combined from the parts'
// without reading anything again, for the server to check; OSS returns the
// whole object's CRC-64 in the Complete answer, checked the same way.
#include "bucketfs/store/checksums.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/mime_types.hpp"
#include "bucketfs/util/time.hpp"
#include "bucketfs/xml/s3_xml.hpp"
#include "http_call.hpp"

namespace bucketfs::store {
namespace {

using detail::strip_quotes;

constexpr uint64_t kMaxPart = uint64_t{5} << 30;  // S3's and OSS's limit for one part

Error unsupported(const char* what) { return Error{ErrorCode::Unsupported, 0, "", what, ""}; }

// Ceph 16 answers NoSuchKey for an upload that no longer exists.
Error as_upload_error(Error e) {
  if (e.code == ErrorCode::NoSuchKey) e.code = ErrorCode::NoSuchUpload;
  return e;
}

// The whole-object checksum a Complete answer reports, as a Crc and (for an
// S3 COMPOSITE checksum) its part count; nullopt when it reports none.
std::optional<std::pair<Crc, int>> reported_checksum(const http::Response& r, ChecksumAlgo algo) {
  if (algo == ChecksumAlgo::Crc64Ecma) {
    auto v = parse_crc_decimal(r.header("x-oss-hash-crc64ecma"));
    if (!v) return std::nullopt;
    return std::make_pair(Crc{algo, *v}, 0);
  }
  auto parsed = xml::parse_complete_result(r.body);
  std::string v =
      parsed ? (algo == ChecksumAlgo::Crc32c ? parsed->checksum_crc32c : parsed->checksum_crc64nvme) : "";
  if (v.empty()) v = r.header(s3_header_name(algo));
  if (v.empty()) return std::nullopt;
  int parts = 0;
  if (auto dash = v.rfind('-'); dash != std::string::npos) {
    parts = std::atoi(v.c_str() + dash + 1);
    v.resize(dash);
  }
  auto crc = parse_crc_base64(algo, v);
  if (!crc) return std::make_pair(Crc{algo, ~uint64_t{0}}, -1);  // unreadable: never equal
  return std::make_pair(Crc{algo, *crc}, parts);
}

}  // namespace

StoreResult<MultipartUpload> HttpObjectStore::create_upload(const std::string& key, const PutOptions& opts) {
  ChecksumAlgo algo = upload_algo();
  auto r = create(key, opts, nullptr, algo);
  if (!r && cfg_.dialect == Dialect::S3 && algo != ChecksumAlgo::None &&
      capabilities().body_check == BodyCheck::Unknown && r.error().code == ErrorCode::InvalidArgument) {
    // A server that refuses the checksum declaration has no flexible checksums.
    learn_body_check(BodyCheck::ContentMd5);
    return create(key, opts, nullptr, ChecksumAlgo::None);
  }
  return r;
}

StoreResult<MultipartUpload> HttpObjectStore::create(const std::string& key, const PutOptions& opts,
                                                     const HeaderList* object_headers, ChecksumAlgo algo) {
  Call c;
  c.op = "create_multipart";
  c.method = "POST";
  c.key = key;
  c.has_body = true;
  c.query = {{"uploads", "", false}};
  if (object_headers) {
    c.headers.emplace_back("content-type",
                           opts.content_type.empty() ? "application/octet-stream" : opts.content_type);
    for (const auto& [k, v] : opts.meta) c.headers.emplace_back(meta_prefix() + k, v);
    for (const auto& h : *object_headers) c.headers.push_back(h);
  } else {
    add_object_headers(c, key, opts);
  }
  if (cfg_.dialect == Dialect::S3 && algo != ChecksumAlgo::None) {
    c.headers.emplace_back("x-amz-checksum-algorithm", s3_algorithm_name(algo));
    c.headers.emplace_back("x-amz-checksum-type", "FULL_OBJECT");
  }
  const std::time_t since = std::time(nullptr) + clock_skew_s_.load();  // the server's clock
  auto r = execute(c);
  if (!r) return r.error();
  auto id = xml::parse_initiate_multipart(r->body);
  if (!id || id->empty())
    return Error{ErrorCode::Other, static_cast<int>(r->status), "", "no UploadId in the server's answer", ""};
  if (c.transport_failures > 0) abort_lost_creates(key, *id, since);
  return MultipartUpload{*id, algo};
}

// An attempt whose connection broke after the request went out may have
// created an upload whose id never reached us; the retry created another. The
// lost one would hold its parts' space until a lifecycle rule or `bucketfs
// uploads --abort-orphans` removes it, so it goes now: uploads of exactly this
// key, begun since the first attempt (a minute's leeway for the clocks), other
// than ours. Best effort: a failure leaves only that orphan.
void HttpObjectStore::abort_lost_creates(const std::string& key, const std::string& keep, std::time_t since) {
  constexpr std::time_t kLeeway = 60;
  std::string key_marker, id_marker;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = list_uploads(key, key_marker, id_marker);
    if (!page) {
      if (page.error().code != ErrorCode::Unsupported)
        LOG_WARN("cannot look for a lost multipart upload of " << key << ": " << page.error().describe());
      return;
    }
    for (const auto& u : page->uploads) {
      if (u.key != key || u.upload_id == keep || u.initiated == 0 || u.initiated < since - kLeeway) continue;
      auto a = abort_multipart(key, u.upload_id);
      if (a || a.error().code == ErrorCode::NoSuchUpload)
        LOG_INFO("aborted a multipart upload of " << key << " whose creation answer was lost");
      else
        LOG_WARN("cannot abort the lost multipart upload " << u.upload_id << " of " << key << ": "
                                                           << a.error().describe());
    }
    if (!page->truncated) return;
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
}

StoreResult<PartInfo> HttpObjectStore::upload_part(const std::string& key, const MultipartUpload& upload,
                                                   int part_number, const FileRange& body,
                                                   const BodyChecksums& known) {
  if (part_number < 1 || part_number > 10000 || body.length > kMaxPart)
    return Error{ErrorCode::InvalidArgument, 0, "", "part number or size out of range", ""};
  Call c;
  c.op = "upload_part";
  c.method = "PUT";
  c.key = key;
  c.file = body;
  c.has_body = true;
  c.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload.upload_id}};
  for (auto& h : encryption_headers(cfg_.encryption, cfg_.dialect, HeaderUse::Part))
    c.headers.push_back(std::move(h));
  BodyChecksums sent;
  auto r = send_body(c, &body, nullptr, upload.algo, known, &sent);
  if (!r) return as_upload_error(r.error());
  PartInfo p;
  p.number = part_number;
  p.size = body.length;
  p.etag = strip_quotes(r->header("etag"));
  p.md5 = sent.md5;
  p.crc = sent.crc;
  return p;
}

StoreResult<PartInfo> HttpObjectStore::upload_part_copy(const std::string& key, const std::string& upload_id,
                                                        int part_number, const std::string& src_key,
                                                        uint64_t offset, uint64_t length) {
  if (!cap(&Capabilities::upload_part_copy)) return unsupported("server has no UploadPartCopy");
  if (length == 0 || length > kMaxPart || offset > UINT64_MAX - length)
    return Error{ErrorCode::InvalidArgument, 0, "", "part copy range out of bounds", ""};
  bool oss = cfg_.dialect == Dialect::OSS;
  Call c;
  c.op = "upload_part_copy";
  c.method = "PUT";
  c.key = key;
  c.has_body = true;  // RGW wants an explicit Content-Length: 0
  c.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  c.headers.emplace_back(oss ? "x-oss-copy-source" : "x-amz-copy-source",
                         "/" + cfg_.bucket + "/" + sign::uri_encode(src_key, false));
  c.headers.emplace_back(oss ? "x-oss-copy-source-range" : "x-amz-copy-source-range",
                         "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
  for (auto use : {HeaderUse::CopySource, HeaderUse::Part})
    for (auto& h : encryption_headers(cfg_.encryption, cfg_.dialect, use)) c.headers.push_back(std::move(h));
  auto r = execute_optional(c, &Capabilities::upload_part_copy);
  if (!r) return r.error();
  auto etag = xml::parse_copy_result(r->body);
  // A server without UploadPartCopy may treat this as a plain PUT of an empty part.
  if (!etag) return lacks(&Capabilities::upload_part_copy, r->status, "server has no UploadPartCopy");
  PartInfo p;
  p.number = part_number;
  p.size = length;
  p.etag = strip_quotes(*etag);
  return p;
}

StoreResult<std::string> HttpObjectStore::complete_upload(const std::string& key, const MultipartUpload& upload,
                                                          const std::vector<PartInfo>& parts) {
  const bool oss = cfg_.dialect == Dialect::OSS;
  // The whole object's CRC, from the parts' alone.
  std::optional<Crc> whole = combine_parts(parts);
  if (whole && whole->algo != upload.algo) whole.reset();
  const bool flexible = !oss && whole && capabilities().body_check != BodyCheck::ContentMd5;
  std::vector<xml::CompletePart> list;
  list.reserve(parts.size());
  for (const auto& p : parts)
    list.push_back({p.number, "\"" + p.etag + "\"", flexible ? s3_xml_name(upload.algo) : "",
                    flexible ? crc_base64(p.crc) : ""});
  Call c;
  c.op = "complete_multipart";
  c.method = "POST";
  c.key = key;
  c.has_body = true;
  c.body = xml::build_complete_multipart(list);
  c.query = {{"uploadId", upload.upload_id}};
  c.headers.emplace_back("content-type", "application/xml");
  if (flexible) {
    c.headers.emplace_back("x-amz-checksum-type", "FULL_OBJECT");
    c.headers.emplace_back(s3_header_name(upload.algo), crc_base64(*whole));
  }
  for (auto& h : encryption_headers(cfg_.encryption, cfg_.dialect, HeaderUse::Part))
    c.headers.push_back(std::move(h));
  auto r = execute(c);
  if (!r) return as_upload_error(r.error());
  if (whole) {
    if (auto got = reported_checksum(*r, whole->algo)) {
      std::optional<Crc> want = got->second > 0 ? composite_parts(parts) : whole;
      if (got->second < 0 || (got->second > 0 && static_cast<size_t>(got->second) != parts.size()) || !want ||
          !(got->first == *want))
        return Error{ErrorCode::Integrity, static_cast<int>(r->status), "",
                     "the completed object's " + std::string(name(whole->algo)) +
                         " does not match its parts': the object in the bucket is not what was sent",
                     ""};
    }
  }
  auto etag = xml::parse_complete_multipart(r->body);
  std::string e = etag ? strip_quotes(*etag) : "";
  if (e.empty()) {
    // Ceph 16 answers with an empty <ETag>; the object's HEAD has the real one.
    auto h = head(key);
    if (!h) return h.error();
    e = h->etag;
  }
  return e;
}

StoreResult<void> HttpObjectStore::abort_multipart(const std::string& key, const std::string& upload_id) {
  if (!cap(&Capabilities::abort_multipart)) return unsupported("server has no AbortMultipartUpload");
  Call c;
  c.op = "abort_multipart";
  c.method = "DELETE";
  c.key = key;
  c.query = {{"uploadId", upload_id}};
  auto r = execute_optional(c, &Capabilities::abort_multipart);
  if (!r) return as_upload_error(r.error());
  return Ok{};
}

StoreResult<ListPartsPage> HttpObjectStore::list_parts(const std::string& key, const std::string& upload_id,
                                                       int marker, int max_parts) {
  if (!cap(&Capabilities::list_parts)) return unsupported("server has no ListParts");
  Call c;
  c.op = "list_parts";
  c.key = key;
  c.query = {{"max-parts", std::to_string(max_parts)}};
  if (marker > 0) c.query.push_back({"part-number-marker", std::to_string(marker)});
  c.query.push_back({"uploadId", upload_id});
  auto r = execute_optional(c, &Capabilities::list_parts);
  if (!r) return as_upload_error(r.error());
  auto parsed = xml::parse_list_parts(r->body);
  // A server that ignores ?uploadId answers with the object itself (or junk).
  if (!parsed) return lacks(&Capabilities::list_parts, r->status, "server has no ListParts");
  ListPartsPage page;
  for (auto& p : parsed->parts) page.parts.push_back({p.part_number, p.size, strip_quotes(p.etag), "", {}});
  page.truncated = parsed->is_truncated;
  page.next_marker = parsed->next_part_number_marker;
  if (page.truncated && page.next_marker <= marker)
    return Error{ErrorCode::Other, static_cast<int>(r->status), "", "the server's list of parts makes no progress",
                 ""};
  return page;
}

StoreResult<ListUploadsPage> HttpObjectStore::list_uploads(const std::string& prefix,
                                                           const std::string& key_marker,
                                                           const std::string& upload_id_marker) {
  if (!cap(&Capabilities::list_uploads)) return unsupported("server has no ListMultipartUploads");
  Call c;
  c.op = "list_uploads";
  if (!key_marker.empty()) c.query.push_back({"key-marker", key_marker});
  if (!prefix.empty()) c.query.push_back({"prefix", prefix});
  if (!upload_id_marker.empty()) c.query.push_back({"upload-id-marker", upload_id_marker});
  c.query.push_back({"uploads", "", false});
  auto r = execute_optional(c, &Capabilities::list_uploads);
  if (!r) return r.error();
  auto parsed = xml::parse_list_uploads(r->body);
  if (!parsed) return lacks(&Capabilities::list_uploads, r->status, "server has no ListMultipartUploads");
  ListUploadsPage page;
  for (auto& u : parsed->uploads) {
    UploadInfo info;
    info.key = std::move(u.key);
    info.upload_id = std::move(u.upload_id);
    if (auto t = timefmt::parse_iso8601(u.initiated)) info.initiated = *t;
    page.uploads.push_back(std::move(info));
  }
  page.truncated = parsed->is_truncated;
  page.next_key_marker = parsed->next_key_marker;
  page.next_upload_id_marker = parsed->next_upload_id_marker;
  if (page.truncated && page.next_key_marker == key_marker && page.next_upload_id_marker == upload_id_marker)
    return Error{ErrorCode::Other, static_cast<int>(r->status), "",
                 "the server's list of uploads makes no progress", ""};
  return page;
}

}  // namespace bucketfs::store
