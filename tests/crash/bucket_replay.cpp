// bucket_replay.cpp - see bucket_replay.hpp.
#include "bucket_replay.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace crash {
namespace store = bucketfs::store;
namespace {

std::string enc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == ':' || c == '%') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string encode_meta(const store::Metadata& m) {
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : ",") + enc(k) + ":" + enc(v);
  return out;
}

store::Metadata decode_meta(const std::string& s) {
  store::Metadata m;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto c = item.find(':');
    if (c != std::string::npos) m[unescape_token(item.substr(0, c))] = unescape_token(item.substr(c + 1));
  }
  return m;
}

}  // namespace

std::string store_event(const store::MemoryObjectStore::Change& c, const std::string** data) {
  std::string t = std::string("store") + EventLog::kv("op", c.op) + EventLog::kv("key", c.key);
  if (!c.upload_id.empty()) t += EventLog::kv("id", c.upload_id);
  if (c.part) t += EventLog::kv("n", std::to_string(c.part));
  if (c.src_key) t += EventLog::kv("src", *c.src_key);
  if (c.meta)
    t += EventLog::kv("meta", encode_meta(*c.meta)) + EventLog::kv("ct", c.content_type ? *c.content_type : "");
  if (c.parts) {
    std::string p;
    for (const auto& part : *c.parts) p += (p.empty() ? "" : ",") + std::to_string(part.number) + ":" + part.etag;
    t += EventLog::kv("parts", p);
  }
  *data = c.data;
  return t;
}

BucketReplay::BucketReplay(uint64_t min_part_size)
    : store_(std::make_unique<store::MemoryObjectStore>(min_part_size)),
      part_fd_(::memfd_create("crash-part", MFD_CLOEXEC)) {}

BucketReplay::~BucketReplay() {
  if (part_fd_ >= 0) ::close(part_fd_);
}

void BucketReplay::apply(const Record& r) {
  if (r.op != "ev" || r.args.empty() || r.args[0] != "store") return;
  auto f = fields(r, 1);
  const std::string op = field(f, "op"), key = field(f, "key"), id = field(f, "id");
  store::PutOptions po;
  po.meta = decode_meta(field(f, "meta"));
  po.content_type = field(f, "ct");
  auto fail = [&](const std::string& what) {
    errors_.push_back("record " + std::to_string(r.index) + " (" + op + " " + key + "): " + what);
  };
  ++applied_;
  if (op == "put") {
    if (!store_->put_bytes(key, std::string(r.data), po)) fail("put failed");
  } else if (op == "remove") {
    (void)store_->remove(key);
  } else if (op == "copy") {
    std::optional<store::PutOptions> replace;
    if (f.count("meta")) replace = po;
    if (!store_->copy(field(f, "src"), key, replace)) fail("copy failed");
  } else if (op == "create_multipart") {
    auto got = store_->create_multipart(key, po);
    if (!got || *got != id)
      fail("the replayed upload id is " + (got ? *got : std::string("none")) + ", not " + id);
  } else if (op == "upload_part") {
    bool ok = ::ftruncate(part_fd_, 0) == 0 &&
              ::pwrite(part_fd_, r.data.data(), r.data.size(), 0) == static_cast<ssize_t>(r.data.size());
    if (!ok || !store_->upload_part(key, id, std::atoi(field(f, "n").c_str()),
                                    store::FileRange{part_fd_, 0, r.data.size()}))
      fail("upload_part failed");
  } else if (op == "complete_multipart") {
    std::vector<store::PartInfo> parts;
    std::istringstream in(field(f, "parts"));
    std::string item;
    while (std::getline(in, item, ',')) {
      auto c = item.find(':');
      if (c != std::string::npos)
        parts.push_back({std::atoi(item.substr(0, c).c_str()), 0, item.substr(c + 1), ""});
    }
    if (!store_->complete_multipart(key, id, parts)) fail("complete failed");
  } else if (op == "abort_multipart") {
    if (!store_->abort_multipart(key, id)) fail("abort failed");
  } else {
    fail("unknown store event");
  }
}

}  // namespace crash
