// http_objects.cpp - HttpObjectStore: single objects (head, get, put,
// remove) and listings (ListObjects V2, and V1 where V2 is refused).
//
// What an answer must be before anything reaches the caller: a ranged GET
// answered with 206 and the Content-Range asked for (a 200 carries the
// object from its first byte, which would be served as the wrong bytes);
// lengths that are plain decimal numbers; a listing page that moves on.
#include <cinttypes>

#include "bucketfs/store/checksums.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/mime_types.hpp"
#include "bucketfs/util/time.hpp"
#include "bucketfs/xml/s3_xml.hpp"
#include "http_call.hpp"

namespace bucketfs::store {
namespace {

using detail::header_of;
using detail::parse_length;
using detail::strip_quotes;

Error bad_answer(long status, const std::string& what) {
  return Error{ErrorCode::Other, static_cast<int>(status), "", what, ""};
}

// The whole-object checksum a HEAD reports: OSS's CRC-64, or S3's
// x-amz-checksum-* ("<base64>" or, for a COMPOSITE one, "<base64>-N").
void read_checksum(const http::Response& r, ObjectInfo* info) {
  if (auto oss = parse_crc_decimal(r.header("x-oss-hash-crc64ecma"))) {
    info->checksum = Crc{ChecksumAlgo::Crc64Ecma, *oss};
    return;
  }
  for (ChecksumAlgo a : {ChecksumAlgo::Crc32c, ChecksumAlgo::Crc64Nvme}) {
    std::string v = r.header(s3_header_name(a));
    if (v.empty()) continue;
    int parts = 0;
    if (auto dash = v.rfind('-'); dash != std::string::npos) {
      auto n = parse_length(std::string_view(v).substr(dash + 1));
      if (!n || *n == 0 || *n > 10000) continue;
      parts = static_cast<int>(*n);
      v.resize(dash);
    }
    if (auto crc = parse_crc_base64(a, v)) {
      info->checksum = Crc{a, *crc};
      info->checksum_parts = parts;
      return;
    }
  }
}

void read_object_options(const http::Response& r, Dialect d, ObjectInfo* info) {
  const bool oss = d == Dialect::OSS;
  info->storage_class = r.header(oss ? "x-oss-storage-class" : "x-amz-storage-class");
  info->sse = r.header(oss ? "x-oss-server-side-encryption" : "x-amz-server-side-encryption");
  info->sse_kms_key_id =
      r.header(oss ? "x-oss-server-side-encryption-key-id" : "x-amz-server-side-encryption-aws-kms-key-id");
  if (!oss && !r.header("x-amz-server-side-encryption-customer-algorithm").empty()) info->sse = "SSE-C";
}

// "bytes START-END/TOTAL": START, or nullopt.
std::optional<uint64_t> content_range_start(const std::string& v) {
  if (v.rfind("bytes ", 0) != 0) return std::nullopt;
  auto dash = v.find('-', 6);
  if (dash == std::string::npos) return std::nullopt;
  return parse_length(std::string_view(v).substr(6, dash - 6));
}

}  // namespace

void HttpObjectStore::add_object_headers(Call& c, const std::string& key, const PutOptions& opts) const {
  c.headers.emplace_back("content-type",
                         !opts.content_type.empty() ? opts.content_type : mime::content_type_for(key));
  for (const auto& [k, v] : opts.meta) c.headers.emplace_back(meta_prefix() + k, v);
  for (auto& h : encryption_headers(cfg_.encryption, cfg_.dialect, HeaderUse::NewObject))
    c.headers.push_back(std::move(h));
  if (!cfg_.storage_class.empty()) c.headers.emplace_back(storage_class_header(cfg_.dialect), cfg_.storage_class);
}

StoreResult<ObjectInfo> HttpObjectStore::head(const std::string& key) {
  Call c;
  c.op = "head";
  c.method = "HEAD";
  c.key = key;
  for (auto& h : encryption_headers(cfg_.encryption, cfg_.dialect, HeaderUse::Read))
    c.headers.push_back(std::move(h));
  if (cfg_.dialect == Dialect::S3 && cfg_.checksum != HttpStoreConfig::Checksum::Md5)
    c.headers.emplace_back("x-amz-checksum-mode", "ENABLED");
  auto r = execute(c);
  if (!r && !c.headers.empty() && r.error().code == ErrorCode::InvalidArgument) {
    // S3 refuses customer-key headers for an object stored without them; a
    // strict server may refuse the checksum mode. Neither is needed to stat.
    c.headers.clear();
    r = execute(c);
  }
  if (!r) return r.error();
  ObjectInfo info;
  info.key = key;
  auto size = parse_length(r->header("content-length"));
  if (!size)
    return bad_answer(r->status, "HEAD answered with Content-Length '" + r->header("content-length") + "'");
  info.size = *size;
  info.etag = strip_quotes(r->header("etag"));
  info.content_type = r->header("content-type");
  if (auto t = timefmt::parse_http_date(r->header("last-modified"))) info.last_modified = *t;
  std::string prefix = meta_prefix();
  for (const auto& [k, v] : r->headers)
    if (k.rfind(prefix, 0) == 0) info.meta[k.substr(prefix.size())] = v;
  read_checksum(*r, &info);
  read_object_options(*r, cfg_.dialect, &info);
  return info;
}

StoreResult<uint64_t> HttpObjectStore::get(const std::string& key, uint64_t offset, uint64_t length,
                                           const ByteSink& sink) {
  if (length > 0 && offset > UINT64_MAX - length)
    return Error{ErrorCode::InvalidArgument, 0, "", "read range overflows", ""};
  Call c;
  c.op = "get";
  c.key = key;
  for (auto& h : encryption_headers(cfg_.encryption, cfg_.dialect, HeaderUse::Read))
    c.headers.push_back(std::move(h));
  const bool ranged = offset > 0 || length > 0;
  if (ranged) {
    std::string range = "bytes=" + std::to_string(offset) + "-";
    if (length > 0) range += std::to_string(offset + length - 1);
    c.headers.emplace_back("range", range);
  }
  c.expected_bytes = length;
  c.no_time_limit = length == 0;  // to the end of an object of unknown size
  // The bytes must be the ones asked for: a 206 starting at offset, or a 200
  // (the whole object) only where that is what was asked.
  c.accept = [&](long status, const http::Headers& h) {
    if (!ranged) return true;
    if (status == 206) {
      auto start = content_range_start(header_of(h, "content-range"));
      auto len = parse_length(header_of(h, "content-length"));
      if (start && *start == offset && (length == 0 || !len || *len <= length)) return true;
      c.refused = bad_answer(
          status, "ranged GET of " + key + " answered with Content-Range '" + header_of(h, "content-range") + "'");
      return false;
    }
    auto len = parse_length(header_of(h, "content-length"));
    if (offset == 0 && len && length > 0 && *len <= length) return true;
    c.refused = Error{ErrorCode::Integrity, static_cast<int>(status), "",
                      "ranged GET of " + key + " answered " + std::to_string(status) +
                          " with the whole object; refused (the server ignores Range)",
                      ""};
    return false;
  };
  // A retried attempt starts the body again; skip what the sink already has.
  // More bytes than asked for are never passed on.
  uint64_t delivered = 0, pos = 0;
  bool overlong = false;
  c.before_attempt = [&] { pos = 0; };
  c.sink = [&](const char* d, size_t n) {
    uint64_t end = pos + n;
    if (length > 0 && end > length) {
      overlong = true;
      return false;
    }
    if (end > delivered) {
      size_t skip = static_cast<size_t>(delivered > pos ? delivered - pos : 0);
      if (!sink(d + skip, n - skip)) return false;
      delivered = end;
    }
    pos = end;
    return true;
  };
  auto r = execute(c);
  if (!r && delivered == 0 && cfg_.encryption.mode == Encryption::Mode::CustomerKey &&
      r.error().code == ErrorCode::InvalidArgument) {
    // S3 refuses customer-key headers for an object stored without them.
    c.headers.erase(
        std::remove_if(c.headers.begin(), c.headers.end(),
                       [](const auto& h) { return h.first.rfind("x-amz-server-side-encryption", 0) == 0; }),
        c.headers.end());
    r = execute(c);
  }
  if (overlong)
    return Error{ErrorCode::Integrity, 0, "", "GET of " + key + " sent more bytes than the range asked for", ""};
  if (!r) {
    // 416: asked at or past the end of the object; that is an empty read.
    if (r.error().http_status == 416) return uint64_t{0};
    return r.error();
  }
  return delivered;
}

StoreResult<std::string> HttpObjectStore::put(const std::string& key, const FileRange& body,
                                              const PutOptions& opts) {
  return put_object(key, &body, nullptr, opts, nullptr);
}

StoreResult<std::string> HttpObjectStore::put_bytes(const std::string& key, const std::string& body,
                                                    const PutOptions& opts) {
  return put_object(key, nullptr, &body, opts, nullptr);
}

StoreResult<std::string> HttpObjectStore::put_object(const std::string& key, const FileRange* file,
                                                     const std::string* bytes, const PutOptions& opts,
                                                     const HeaderList* object_headers) {
  Call c;
  c.op = "put";
  c.method = "PUT";
  c.key = key;
  if (file) c.file = *file;
  if (bytes) c.body = *bytes;
  c.has_body = true;
  if (object_headers) {
    c.headers.emplace_back("content-type", opts.content_type.empty() ? mime::kDefaultType : opts.content_type);
    for (const auto& [k, v] : opts.meta) c.headers.emplace_back(meta_prefix() + k, v);
    for (const auto& h : *object_headers) c.headers.push_back(h);
  } else {
    add_object_headers(c, key, opts);
  }
  BodyChecksums sent;
  auto r = send_body(c, file, bytes, upload_algo(), opts.checksums, &sent);
  if (!r) return r.error();
  return strip_quotes(r->header("etag"));
}

StoreResult<void> HttpObjectStore::remove(const std::string& key) {
  Call c;
  c.op = "remove";
  c.method = "DELETE";
  c.key = key;
  auto r = execute(c);
  if (!r && r.error().code != ErrorCode::NoSuchKey) return r.error();
  return Ok{};
}

StoreResult<ListPage> HttpObjectStore::list(const ListRequest& req) {
  const bool v2 = cfg_.list_version != 1 && cap(&Capabilities::list_v2);
  auto page = list_page(req, v2);
  if (!page && v2 && cfg_.list_version == 0 &&
      (page.error().code == ErrorCode::InvalidArgument || page.error().code == ErrorCode::Unsupported)) {
    LOG_WARN(cfg_.endpoint << " refuses ListObjectsV2 (" << page.error().describe() << "); listing with V1");
    set_cap(&Capabilities::list_v2, false);
    return list_page(req, false);
  }
  return page;
}

StoreResult<ListPage> HttpObjectStore::list_page(const ListRequest& req, bool v2) {
  Call c;
  c.op = "list";
  // Continuation: V2's opaque token, or V1's marker (the last name returned).
  const std::string& token = req.continuation_token;
  if (v2) {
    c.query.push_back({"list-type", "2"});
    if (!token.empty()) c.query.push_back({"continuation-token", token});
  }
  if (!req.delimiter.empty()) c.query.push_back({"delimiter", req.delimiter});
  if (!v2 && (!token.empty() || !req.start_after.empty()))
    c.query.push_back({"marker", std::max(token, req.start_after)});
  c.query.push_back({"max-keys", std::to_string(req.max_keys)});
  c.query.push_back({"prefix", req.prefix});
  if (v2 && !req.start_after.empty()) c.query.push_back({"start-after", req.start_after});
  auto r = execute(c);
  if (!r) {
    Error e = r.error();
    if (e.code == ErrorCode::NoSuchKey) e.code = ErrorCode::NoSuchBucket;
    return e;
  }
  auto parsed = xml::parse_list_objects(r->body);
  if (!parsed) return bad_answer(r->status, "unreadable listing from server");
  if (v2 && parsed->v1_answer && cfg_.list_version == 0) {
    // A server that ignores list-type=2 answers V1: treat it as V1 from now on.
    LOG_WARN(cfg_.endpoint << " answers ListObjectsV2 with a V1 listing; listing with V1");
    set_cap(&Capabilities::list_v2, false);
    v2 = false;
  }
  ListPage page;
  std::string last;
  for (auto& o : parsed->contents) {
    ObjectInfo info;
    info.key = std::move(o.key);
    info.size = o.size;
    info.etag = strip_quotes(o.etag);
    if (auto t = timefmt::parse_iso8601(o.last_modified)) info.last_modified = *t;
    last = std::max(last, info.key);
    page.objects.push_back(std::move(info));
  }
  for (const auto& p : parsed->common_prefixes) last = std::max(last, p);
  page.common_prefixes = std::move(parsed->common_prefixes);
  page.truncated = parsed->is_truncated;
  page.next_token =
      v2 ? parsed->next_continuation_token : (parsed->next_marker.empty() ? last : parsed->next_marker);
  if (!page.truncated) page.next_token.clear();
  // A page that would bring the caller back to where it is would never end.
  if (page.truncated && !page.next_token.empty() &&
      (page.next_token == token || (!v2 && page.next_token <= std::max(token, req.start_after))))
    return bad_answer(r->status,
                      "the server's listing of '" + req.prefix + "' makes no progress (the same page again)");
  if (page.truncated && page.next_token.empty() && last.empty())
    return bad_answer(r->status,
                      "the server's listing of '" + req.prefix + "' is truncated with nothing to continue from");
  return page;
}

}  // namespace bucketfs::store
