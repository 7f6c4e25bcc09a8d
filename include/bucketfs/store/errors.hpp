// errors.hpp - the typed errors of the object store, and their one mapping to errno.
#pragma once

#include <string>

namespace bucketfs::store {

enum class ErrorCode {
  NoSuchKey,           // 404 on an object
  NoSuchBucket,        // the bucket does not exist
  NoSuchUpload,        // multipart upload id unknown (aborted or completed)
  AccessDenied,        // 403 other than a bad signature
  SignatureMismatch,   // SignatureDoesNotMatch: wrong secret or a signing bug
  InvalidAccessKey,    // InvalidAccessKeyId: the key id is unknown
  ClockSkew,           // RequestTimeTooSkewed
  Throttled,           // 429 / SlowDown / 503 after retries
  Transient,           // 5xx, reset, timeout, unreachable after retries
  Unsupported,         // NotImplemented / MethodNotAllowed: capability missing
  PreconditionFailed,  // 412
  InvalidArgument,     // 400 InvalidArgument / InvalidRequest / EntityTooSmall / InvalidPart
  KeyTooLong,          // KeyTooLongError or a key over 1024 bytes
  Integrity,           // the bytes did not survive: ETag/MD5/CRC64/size mismatch
  LocalIo,             // reading the local file that feeds a request failed
  Cancelled,           // the caller cancelled (e.g. a new write generation)
  Other,               // anything else (message says what)

  // No valid credentials to sign with (expired, and refreshing fails), or the
  // server refused the session token as expired: uploads wait for a refresh.
  CredentialsUnavailable,
};

struct Error {
  ErrorCode code = ErrorCode::Other;
  int http_status = 0;      // 0 when no HTTP answer was received
  std::string server_code;  // the <Code> from the server, if any
  std::string message;      // human-readable, never contains a secret
  std::string request_id;

  // One line: "AccessDenied (403 AccessDenied): ..." for logs and users.
  std::string describe() const;
};

const char* name(ErrorCode code);

// The one errno mapping for store errors (default: EIO).
int to_errno(const Error& e);

// Whether retrying the same request may succeed.
bool is_retryable(ErrorCode code);

}  // namespace bucketfs::store
