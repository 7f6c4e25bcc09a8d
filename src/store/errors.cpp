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

ErrorClass error_class(ErrorCode code) {
  switch (code) {
    case ErrorCode::Transient: return ErrorClass::Transient;
    case ErrorCode::Throttled: return ErrorClass::Throttled;
    case ErrorCode::AccessDenied:
    case ErrorCode::SignatureMismatch:
    case ErrorCode::InvalidAccessKey:
    case ErrorCode::ClockSkew: return ErrorClass::Auth;  // the store already re-signed with the server's clock
    case ErrorCode::NoSuchKey:
    case ErrorCode::NoSuchBucket:
    case ErrorCode::NoSuchUpload: return ErrorClass::NotFound;
    case ErrorCode::Integrity: return ErrorClass::Integrity;
    case ErrorCode::LocalIo: return ErrorClass::Local;
    case ErrorCode::Cancelled: return ErrorClass::Cancelled;
    case ErrorCode::CredentialsUnavailable: return ErrorClass::Credentials;
    case ErrorCode::Unsupported:
    case ErrorCode::PreconditionFailed:
    case ErrorCode::InvalidArgument:
    case ErrorCode::KeyTooLong:
    case ErrorCode::Other: return ErrorClass::Permanent;
  }
  return ErrorClass::Permanent;
}

const char* name(ErrorClass c) {
  switch (c) {
    case ErrorClass::Transient: return "transient";
    case ErrorClass::Throttled: return "throttled";
    case ErrorClass::Auth: return "auth";
    case ErrorClass::NotFound: return "not-found";
    case ErrorClass::Permanent: return "permanent";
    case ErrorClass::Integrity: return "integrity";
    case ErrorClass::Local: return "local";
    case ErrorClass::Cancelled: return "cancelled";
    case ErrorClass::Credentials: return "credentials";
  }
  return "permanent";
}

// Transient and Throttled keep trying for about an hour (a server restart, a
// network outage) before a person is told; Auth a few times (credentials
// may be rotated under us); Integrity re-sends from the staged bytes a few
// times (a flaky NIC or proxy) and then stops, because bytes that keep
// arriving wrong will not heal; Permanent and Local do not heal by waiting.
RetryBudget default_budget(ErrorClass c) {
  switch (c) {
    case ErrorClass::Transient: return {20, 5, 300};
    case ErrorClass::Throttled: return {30, 10, 600};
    case ErrorClass::Auth: return {3, 60, 600};
    case ErrorClass::NotFound: return {2, 1, 10};
    case ErrorClass::Integrity: return {3, 1, 30};
    case ErrorClass::Permanent: return {1, 30, 30};
    case ErrorClass::Local: return {0, 0, 0};
    case ErrorClass::Cancelled: return {0, 0, 0};
    case ErrorClass::Credentials: return {kUnbounded, 10, 120};
  }
  return {};
}

std::string explain(const Error& e) {
  const char* what = "";
  switch (e.code) {
    case ErrorCode::AccessDenied:
      what = "the server denied access: check the bucket policy and the key's permissions";
      break;
    case ErrorCode::SignatureMismatch: what = "the server refused the signature: check the secret key"; break;
    case ErrorCode::InvalidAccessKey:
      what = "the server does not know the access key: check the access key id";
      break;
    case ErrorCode::ClockSkew: what = "the local clock is too far from the server's: fix the system time"; break;
    case ErrorCode::NoSuchBucket: what = "the bucket does not exist: check its name and the endpoint"; break;
    case ErrorCode::Throttled: what = "the server kept asking to slow down"; break;
    case ErrorCode::Transient: what = "the server or the network kept failing"; break;
    case ErrorCode::Integrity:
      what = "the bytes the server received or holds do not match what was written (checksum mismatch)";
      break;
    case ErrorCode::CredentialsUnavailable:
      what = "no usable credentials (expired, and refreshing them fails): the upload waits, see bucketfs status";
      break;
    case ErrorCode::LocalIo: what = "the staged copy of the file could not be read"; break;
    case ErrorCode::Unsupported: what = "the server does not support this request"; break;
    case ErrorCode::KeyTooLong: what = "the object name is too long for the server"; break;
    default: break;
  }
  std::string out = *what ? std::string(what) + " (" + e.describe() + ")" : e.describe();
  return out;
}

}  // namespace bucketfs::store
