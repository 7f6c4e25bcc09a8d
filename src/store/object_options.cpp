// object_options.cpp - see object_options.hpp.
#include "bucketfs/store/object_options.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/fd.hpp"

namespace bucketfs::store {
namespace {

constexpr size_t kKeyBytes = 32;  // AES-256

Result<Encryption, std::string> sse_error(std::string_view spec, Dialect d) {
  return std::string("bad sse value '") + std::string(spec) + "': use " +
         (d == Dialect::OSS ? "AES256, KMS, KMS:KEYID or SM4 on OSS" : "AES256, aws:kms or aws:kms:KEYID on S3") +
         " (SSE-C: sse_c_key_file=PATH)";
}

// Reads at most `cap` bytes of an open file.
bool read_small(int fd, std::string* out, size_t cap) {
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > cap) return true;
  }
}

}  // namespace

Result<Encryption, std::string> parse_sse(std::string_view spec, Dialect d) {
  Encryption e;
  if (spec == "AES256") {
    e.mode = Encryption::Mode::Managed;
    return e;
  }
  const std::string_view kms = d == Dialect::OSS ? "KMS" : "aws:kms";
  if (spec.substr(0, kms.size()) == kms) {
    std::string_view rest = spec.substr(kms.size());
    if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) return sse_error(spec, d);
    e.mode = Encryption::Mode::Kms;
    if (!rest.empty()) e.kms_key_id = std::string(rest.substr(1));
    return e;
  }
  if (d == Dialect::OSS && spec == "SM4") {
    e.mode = Encryption::Mode::Sm4;
    return e;
  }
  return sse_error(spec, d);
}

Result<Secret, std::string> load_customer_key(const std::string& path) {
  const std::string where = "SSE-C key file '" + path + "'";
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return where + ": " + std::strerror(errno);
  struct stat st;
  std::string raw;
  bool ok = ::fstat(fd.get(), &st) == 0 && read_small(fd.get(), &raw, 4096);
  int err = errno;
  fd.reset();
  if (!ok) return where + ": " + std::strerror(err);
  if (!S_ISREG(st.st_mode)) return where + " is not a regular file";
  if (st.st_mode & 077) return where + " is accessible by group or others; chmod 600 it";
  Secret key;
  if (raw.size() == kKeyBytes) {
    key = Secret(std::move(raw));
  } else {
    std::string text = raw;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    std::string decoded;
    if (!crypto::base64_decode(text, &decoded) || decoded.size() != kKeyBytes) {
      std::fill(decoded.begin(), decoded.end(), '\0');
      std::fill(text.begin(), text.end(), '\0');
      std::fill(raw.begin(), raw.end(), '\0');
      return where + " must hold a 256-bit key: 32 raw bytes or their base64 on one line";
    }
    key = Secret(std::move(decoded));
    std::fill(text.begin(), text.end(), '\0');
  }
  std::fill(raw.begin(), raw.end(), '\0');
  return key;
}

Result<void, std::string> check_storage_class(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (ok) return Ok{};
  return "bad storage_class '" + std::string(name) +
         "': use the server's name for it, e.g. STANDARD_IA (S3) or IA (OSS)";
}

HeaderList encryption_headers(const Encryption& e, Dialect d, HeaderUse use) {
  HeaderList h;
  const bool oss = d == Dialect::OSS;
  const std::string sse = oss ? "x-oss-server-side-encryption" : "x-amz-server-side-encryption";
  switch (e.mode) {
    case Encryption::Mode::None: break;
    case Encryption::Mode::Managed:
    case Encryption::Mode::Kms:
    case Encryption::Mode::Sm4:
      // Server-managed keys are chosen when the object is made; parts and
      // reads must not repeat them (S3 refuses them on UploadPart).
      if (use != HeaderUse::NewObject) break;
      if (e.mode == Encryption::Mode::Managed) h.emplace_back(sse, "AES256");
      if (e.mode == Encryption::Mode::Sm4) h.emplace_back(sse, "SM4");
      if (e.mode == Encryption::Mode::Kms) {
        h.emplace_back(sse, oss ? "KMS" : "aws:kms");
        if (!e.kms_key_id.empty())
          h.emplace_back(
              oss ? "x-oss-server-side-encryption-key-id" : "x-amz-server-side-encryption-aws-kms-key-id",
              e.kms_key_id);
      }
      break;
    case Encryption::Mode::CustomerKey: {
      // SSE-C goes with every request that touches the object's bytes.
      std::string prefix = use == HeaderUse::CopySource ? "x-amz-copy-source-server-side-encryption-customer-"
                                                        : "x-amz-server-side-encryption-customer-";
      std::string_view key = e.customer_key.reveal();
      h.emplace_back(prefix + "algorithm", "AES256");
      h.emplace_back(prefix + "key", crypto::base64(key));
      h.emplace_back(prefix + "key-md5", crypto::base64(crypto::md5(key)));
      break;
    }
  }
  return h;
}

std::string storage_class_header(Dialect d) {
  return d == Dialect::OSS ? "x-oss-storage-class" : "x-amz-storage-class";
}

}  // namespace bucketfs::store
