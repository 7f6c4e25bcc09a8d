// passwd.hpp - s3fs-format passwd files: "ACCESS:SECRET" or
// "BUCKET:ACCESS:SECRET" lines, kept for compatibility with s3fs and ossfs.
//
// A file readable or writable by group or others is refused. Error messages
// name the file and the line number, never the line (it holds the secret).
// Thread-safety: reentrant.
#pragma once

#include <string>
#include <vector>

#include "bucketfs/creds/env.hpp"
#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::creds {

// Parses s3fs passwd-file content: lines "ACCESS:SECRET" or "BUCKET:ACCESS:SECRET";
// '#' comments and blank lines ignored; a bucket-specific line wins over a
// generic one. Error (a one-line message with the line number) when nothing matches
// or a line is malformed.
Result<sign::Credentials, std::string> parse_passwd(const std::string& content, const std::string& bucket);

// Reads and parses the file; refuses one readable or writable by group or
// others with a message saying to `chmod 600 FILE`.
Result<sign::Credentials, std::string> load_passwd_file(const std::string& path, const std::string& bucket);

// The default passwd files in lookup order ($HOME ones only when HOME is set):
// ~/.passwd-bucketfs, ~/.passwd-s3fs, /etc/passwd-bucketfs, /etc/passwd-s3fs.
std::vector<std::string> default_passwd_files(const EnvLookup& env);

enum class PasswdLookup { Found, NotFound, Error };

// The first default file with a line for this bucket. A default file that is
// missing or has no line for the bucket is skipped; one that exists but is
// unreadable, too open or malformed is an Error (*error says why). *path gets
// the file used.
PasswdLookup find_default_passwd(const std::string& bucket, const EnvLookup& env, sign::Credentials* out,
                                 std::string* path, std::string* error);

}  // namespace bucketfs::creds
