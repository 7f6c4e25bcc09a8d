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

// What kind of failure an error is, for whoever retries whole operations
// (the uploader): each class has its own budget and its own advice.
enum class ErrorClass {
  Transient,    // 5xx, resets, timeouts: the server or the network; wait and retry
  Throttled,    // 429 / SlowDown: the server asks us to slow down; retry later, slower
  Auth,         // credentials, permissions, signature or clock: a person must act
  NotFound,     // NoSuchKey / NoSuchBucket / NoSuchUpload: the thing is gone
  Permanent,    // the request itself is wrong for this server (4xx, Unsupported)
  Integrity,    // the bytes did not survive (BadDigest, checksum or size mismatch)
  Local,        // the local file feeding the request could not be read
  Cancelled,    // we stopped it ourselves
  Credentials,  // no usable credentials right now (expired, refresh failing): wait, never give up
};

ErrorClass error_class(ErrorCode code);
const char* name(ErrorClass c);

// How often a whole operation (an upload pass) may fail with errors of one
// class before it is given up and reported, and how long to wait between
// passes (doubling from base to cap). Each request already retried
// Transient/Throttled answers within the store (HttpStoreConfig), so these
// count passes, not requests. 0 passes: give up at the first failure;
// kUnbounded: never give up (the upload stays checkpointed and waits).
inline constexpr int kUnbounded = -1;
struct RetryBudget {
  int passes = 0;
  long backoff_base_s = 0;
  long backoff_cap_s = 0;
};
RetryBudget default_budget(ErrorClass c);

// One line a person can act on: what went wrong and what to check, e.g.
// "the server refused the credentials (403 SignatureDoesNotMatch): check the
// access key and secret". Never contains a secret.
std::string explain(const Error& e);

}  // namespace bucketfs::store
