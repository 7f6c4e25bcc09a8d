// errors.cpp - store error names, descriptions and the one errno mapping.
#include "bucketfs/store/errors.hpp"

#include <cerrno>

namespace bucketfs::store {

const char* name(ErrorCode code) {
  switch (code) {
    case ErrorCode::NoSuchKey: return "NoSuchKey";
    case ErrorCode::NoSuchBucket: return "NoSuchBucket";
    case ErrorCode::NoSuchUpload: return "NoSuchUpload";
    case ErrorCode::AccessDenied: return "AccessDenied";
    case ErrorCode::SignatureMismatch: return "SignatureMismatch";
    case ErrorCode::InvalidAccessKey: return "InvalidAccessKey";
    case ErrorCode::ClockSkew: return "ClockSkew";
    case ErrorCode::Throttled: return "Throttled";
    case ErrorCode::Transient: return "Transient";
    case ErrorCode::Unsupported: return "Unsupported";
    case ErrorCode::PreconditionFailed: return "PreconditionFailed";
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::KeyTooLong: return "KeyTooLong";
    case ErrorCode::Integrity: return "Integrity";
    case ErrorCode::LocalIo: return "LocalIo";
    case ErrorCode::Cancelled: return "Cancelled";
    case ErrorCode::CredentialsUnavailable: return "CredentialsUnavailable";
    case ErrorCode::Other: return "Other";
  }
  return "Other";
}

std::string Error::describe() const {
  std::string s = name(code);
  if (http_status != 0 || !server_code.empty()) {
    s += " (";
    if (http_status != 0) s += std::to_string(http_status);
    if (!server_code.empty()) s += (http_status != 0 ? " " : "") + server_code;
    s += ")";
  }
  if (!message.empty()) s += ": " + message;
  if (!request_id.empty()) s += " [request id " + request_id + "]";
  return s;
}

int to_errno(const Error& e) {
  switch (e.code) {
    case ErrorCode::NoSuchKey:
    case ErrorCode::NoSuchBucket:
    case ErrorCode::NoSuchUpload: return ENOENT;
    case ErrorCode::AccessDenied:
    case ErrorCode::SignatureMismatch:
    case ErrorCode::InvalidAccessKey:
    case ErrorCode::CredentialsUnavailable: return EACCES;
    case ErrorCode::Unsupported: return ENOTSUP;
    case ErrorCode::InvalidArgument: return EINVAL;
    case ErrorCode::KeyTooLong: return ENAMETOOLONG;
    case ErrorCode::Cancelled: return ECANCELED;
    case ErrorCode::ClockSkew:
    case ErrorCode::Throttled:
    case ErrorCode::Transient:
    case ErrorCode::PreconditionFailed:
    case ErrorCode::Integrity:
    case ErrorCode::LocalIo:
    case ErrorCode::Other: return EIO;
  }
  return EIO;
}

bool is_retryable(ErrorCode code) {
  return code == ErrorCode::Throttled || code == ErrorCode::Transient || code == ErrorCode::ClockSkew;
}

}  // namespace bucketfs::store
