// credentials.hpp - where the access key and secret come from.
//
// Order: an explicit passwd file (s3fs format) if given; else the environment
// (AWS_* for S3, OSS_* for OSS, the other family as a fallback); else the
// default passwd files ($HOME/.passwd-bucketfs, $HOME/.passwd-s3fs,
// /etc/passwd-bucketfs, /etc/passwd-s3fs). Error messages never contain the secret.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/store/object_store.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::store {

// Reads an environment variable; nullptr when unset (tests pass their own).
using EnvLookup = std::function<const char*(const char*)>;

// Parses s3fs passwd-file content: lines "ACCESS:SECRET" or "BUCKET:ACCESS:SECRET";
// '#' comments and blank lines ignored; a bucket-specific line wins over a
// generic one. Error (a one-line message with the line number) when nothing matches
// or a line is malformed.
Result<sign::Credentials, std::string> parse_passwd(const std::string& content, const std::string& bucket);

// Reads and parses the file; refuses one readable or writable by group or
// others with a message saying to `chmod 600 FILE`.
Result<sign::Credentials, std::string> load_passwd_file(const std::string& path, const std::string& bucket);

// The default passwd files in lookup order ($HOME ones only when HOME is set).
std::vector<std::string> default_passwd_files(const EnvLookup& env);

// The whole lookup described above. An explicit file's error is returned as
// is; so is an environment with only one of the id and the secret set, and a
// default file that exists but is unreadable, too open or malformed (a default
// file without a line for this bucket is skipped). passwd_file may be empty.
Result<sign::Credentials, std::string> load_credentials(Dialect dialect, const std::string& bucket,
                                                        const std::string& passwd_file, const EnvLookup& env);

}  // namespace bucketfs::store
