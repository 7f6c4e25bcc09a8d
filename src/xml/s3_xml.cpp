// s3_xml.cpp - S3/OSS response parsing and request-body building over pugixml.
//
// Element names are matched by local name (the part after any "prefix:"), so a
// default namespace (S3), none (OSS) and an explicit prefix all parse alike.
// Numbers must be well-formed: a document whose <Size> is not a number is
// malformed, not "size 0". Whitespace inside text is kept (object keys may
// begin or end with spaces).
#include "bucketfs/xml/s3_xml.hpp"

#include <charconv>
#include <cstring>
#include <type_traits>

#include <pugixml.hpp>

#include "guarded.hpp"

namespace bucketfs::xml {
namespace {

using detail::guarded;

std::string_view local_name(const char* name) {
  std::string_view n(name);
  size_t colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

bool named(pugi::xml_node n, std::string_view name) {
  return n.type() == pugi::node_element && local_name(n.name()) == name;
}

pugi::xml_node child(pugi::xml_node parent, std::string_view name) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling())
    if (named(c, name)) return c;
  return {};
}

// Calls f(node) for every child element called `name`, in document order.
template <class F>
void each_child(pugi::xml_node parent, std::string_view name, F&& f) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling())
    if (named(c, name)) f(c);
}

// Text of a child element; empty when the element is absent or empty.
std::string text(pugi::xml_node parent, std::string_view name) { return child(parent, name).child_value(); }

// Parses a non-negative decimal integer; false on anything else.
template <class T>
bool parse_number(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  if constexpr (std::is_signed_v<T>) return *out >= 0;
  return true;
}

// A numeric child: absent -> *out unchanged, true; present but not a number -> false.
template <class T>
bool optional_number(pugi::xml_node parent, std::string_view name, T* out) {
  pugi::xml_node n = child(parent, name);
  if (!n) return true;
  return parse_number(std::string_view(n.child_value()), out);
}

bool flag(pugi::xml_node parent, std::string_view name) {
  std::string_view v = child(parent, name).child_value();
  return v == "true" || v == "True" || v == "TRUE";
}

// Loads the body and returns its root element if it is called `root` (or
// `alt_root` when given). parse_ws_pcdata_single keeps a key made only of
// spaces (<Key> </Key>).
pugi::xml_node load_root(pugi::xml_document& doc, std::string_view body, std::string_view root,
                         std::string_view alt_root = {}) {
  pugi::xml_parse_result r = doc.load_buffer(
      body.data(), body.size(), pugi::parse_default | pugi::parse_ws_pcdata_single, pugi::encoding_utf8);
  if (!r) return {};
  pugi::xml_node el = doc.document_element();
  if (named(el, root) || (!alt_root.empty() && named(el, alt_root))) return el;
  return {};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes encoding-type=url (percent-encoding, '+' for space as S3 sends it).
// False on a bad escape.
bool url_decode(std::string* s) {
  std::string out;
  out.reserve(s->size());
  for (size_t i = 0; i < s->size(); ++i) {
    char c = (*s)[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= s->size()) return false;
      int hi = hex_value((*s)[i + 1]), lo = hex_value((*s)[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  *s = std::move(out);
  return true;
}

void append_escaped(std::string* out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': *out += "&amp;"; break;
      case '<': *out += "&lt;"; break;
      case '>': *out += "&gt;"; break;
      default: *out += c;
    }
  }
}

std::optional<ListResult> list_objects(std::string_view body) {
  pugi::xml_document doc;
  pugi::xml_node root = load_root(doc, body, "ListBucketResult");
  if (!root) return std::nullopt;

  ListResult out;
  bool ok = true;
  each_child(root, "Contents", [&](pugi::xml_node c) {
    ObjectEntry e;
    pugi::xml_node key = child(c, "Key");
    pugi::xml_node size = child(c, "Size");
    if (!key || !size || !parse_number(std::string_view(size.child_value()), &e.size)) ok = false;
    e.key = key.child_value();
    e.etag = text(c, "ETag");
    e.last_modified = text(c, "LastModified");
    out.contents.push_back(std::move(e));
  });
  each_child(root, "CommonPrefixes", [&](pugi::xml_node cp) {
    each_child(cp, "Prefix", [&](pugi::xml_node p) { out.common_prefixes.emplace_back(p.child_value()); });
  });
  if (!ok) return std::nullopt;

  out.is_truncated = flag(root, "IsTruncated");
  out.next_continuation_token = text(root, "NextContinuationToken");
  out.next_marker = text(root, "NextMarker");
  // V1 has no KeyCount; S3 counts keys and common prefixes alike.
  out.key_count = static_cast<int>(out.contents.size() + out.common_prefixes.size());
  if (!optional_number(root, "KeyCount", &out.key_count)) return std::nullopt;
  out.v1_answer = child(root, "Marker") && !child(root, "KeyCount");

  if (text(root, "EncodingType") == "url") {
    for (auto& e : out.contents)
      if (!url_decode(&e.key)) return std::nullopt;
    for (auto& p : out.common_prefixes)
      if (!url_decode(&p)) return std::nullopt;
    if (!url_decode(&out.next_marker)) return std::nullopt;
  }
  return out;
}

std::optional<ListPartsResult> list_parts(std::string_view body) {
  pugi::xml_document doc;
  pugi::xml_node root = load_root(doc, body, "ListPartsResult");
  if (!root) return std::nullopt;

  ListPartsResult out;
  bool ok = true;
  each_child(root, "Part", [&](pugi::xml_node p) {
    PartEntry e;
    pugi::xml_node number = child(p, "PartNumber");
    if (!number || !parse_number(std::string_view(number.child_value()), &e.part_number)) ok = false;
    if (!optional_number(p, "Size", &e.size)) ok = false;
    e.etag = text(p, "ETag");
    e.last_modified = text(p, "LastModified");
    out.parts.push_back(std::move(e));
  });
  if (!ok) return std::nullopt;
  out.is_truncated = flag(root, "IsTruncated");
  if (!optional_number(root, "NextPartNumberMarker", &out.next_part_number_marker)) return std::nullopt;
  return out;
}

std::optional<ListUploadsResult> list_uploads(std::string_view body) {
  pugi::xml_document doc;
  pugi::xml_node root = load_root(doc, body, "ListMultipartUploadsResult");
  if (!root) return std::nullopt;

  ListUploadsResult out;
  bool ok = true;
  each_child(root, "Upload", [&](pugi::xml_node u) {
    UploadEntry e;
    pugi::xml_node key = child(u, "Key");
    pugi::xml_node id = child(u, "UploadId");
    if (!key || !id || !*id.child_value()) ok = false;
    e.key = key.child_value();
    e.upload_id = id.child_value();
    e.initiated = text(u, "Initiated");
    out.uploads.push_back(std::move(e));
  });
  if (!ok) return std::nullopt;
  out.is_truncated = flag(root, "IsTruncated");
  out.next_key_marker = text(root, "NextKeyMarker");
  out.next_upload_id_marker = text(root, "NextUploadIdMarker");
  return out;
}

}  // namespace

std::optional<ListResult> parse_list_objects(std::string_view body) {
  return guarded([&] { return list_objects(body); });
}

std::optional<ErrorBody> parse_error(std::string_view body) {
  return guarded([&]() -> std::optional<ErrorBody> {
    pugi::xml_document doc;
    pugi::xml_node root = load_root(doc, body, "Error");
    if (!root) return std::nullopt;
    ErrorBody e;
    e.code = text(root, "Code");
    e.message = text(root, "Message");
    e.request_id = text(root, "RequestId");
    e.resource = text(root, "Resource");
    e.bucket_name = text(root, "BucketName");
    e.server_time = text(root, "ServerTime");
    return e;
  });
}

std::optional<std::string> parse_initiate_multipart(std::string_view body) {
  return guarded([&]() -> std::optional<std::string> {
    pugi::xml_document doc;
    pugi::xml_node root = load_root(doc, body, "InitiateMultipartUploadResult");
    std::string id = text(root, "UploadId");
    if (!root || id.empty()) return std::nullopt;
    return id;
  });
}

std::optional<std::string> parse_complete_multipart(std::string_view body) {
  return guarded([&]() -> std::optional<std::string> {
    pugi::xml_document doc;
    pugi::xml_node root = load_root(doc, body, "CompleteMultipartUploadResult");
    if (!root) return std::nullopt;
    return text(root, "ETag");
  });
}

std::optional<CompleteResult> parse_complete_result(std::string_view body) {
  return guarded([&]() -> std::optional<CompleteResult> {
    pugi::xml_document doc;
    pugi::xml_node root = load_root(doc, body, "CompleteMultipartUploadResult");
    if (!root) return std::nullopt;
    CompleteResult r;
    r.etag = text(root, "ETag");
    r.checksum_crc32c = text(root, "ChecksumCRC32C");
    r.checksum_crc64nvme = text(root, "ChecksumCRC64NVME");
    r.checksum_type = text(root, "ChecksumType");
    return r;
  });
}

std::optional<ListPartsResult> parse_list_parts(std::string_view body) {
  return guarded([&] { return list_parts(body); });
}

std::optional<ListUploadsResult> parse_list_uploads(std::string_view body) {
  return guarded([&] { return list_uploads(body); });
}

std::optional<std::string> parse_copy_result(std::string_view body) {
  return guarded([&]() -> std::optional<std::string> {
    pugi::xml_document doc;
    pugi::xml_node root = load_root(doc, body, "CopyObjectResult", "CopyPartResult");
    if (!root) return std::nullopt;
    return text(root, "ETag");
  });
}

std::string build_complete_multipart(const std::vector<CompletePart>& parts) {
  // No xmlns: S3, OSS, Ceph RGW, MinIO and s3rver all accept the bare form.
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>";
  for (const auto& p : parts) {
    out += "<Part><PartNumber>";
    out += std::to_string(p.number);
    out += "</PartNumber><ETag>";
    append_escaped(&out, p.etag);
    out += "</ETag>";
    if (!p.checksum_element.empty()) {
      out += "<" + p.checksum_element + ">";
      append_escaped(&out, p.checksum_value);
      out += "</" + p.checksum_element + ">";
    }
    out += "</Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

}  // namespace bucketfs::xml
