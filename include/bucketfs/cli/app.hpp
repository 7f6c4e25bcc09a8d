// app.hpp - what `bucketfs` does with a parsed command line: subcommand
// dispatch and the mount flow.
//
// The mount flow checks everything that can fail (mountpoint, credentials,
// endpoint, bucket) before it mounts or daemonizes, and on failure prints ONE
// line to stderr and returns kExitFailure, leaving no mount behind.
// Not thread-safe: called once from main().
#pragma once

#include <string>
#include <vector>

#include "bucketfs/cli/options.hpp"
#include "bucketfs/creds/provider.hpp"
#include "bucketfs/fuse/mount.hpp"
#include "bucketfs/sign/signer.hpp"
#include "bucketfs/store/errors.hpp"
#include "bucketfs/store/http_object_store.hpp"

namespace bucketfs::cli {

// Entry point behind main(): parses argv, dispatches, returns the exit code.
int run(const std::vector<std::string>& argv);

// The first step of every subcommand's main: parses args against the option
// table (parse_subcommand). On a bad line prints "bucketfs KIND: <error>" and
// returns kExitUsage; on -h/--help prints usage, then the options, and
// returns kExitOk; otherwise fills *out and returns -1 (go on).
int parse_subcommand_args(CommandKind kind, const std::vector<std::string>& args, const char* usage, Command* out);

// The mount subcommand on a parsed, defaults-resolved config.
int run_mount(const MountConfig& cfg);

// Config translations (pure).
store::HttpStoreConfig make_store_config(const MountConfig& cfg,
                                         std::shared_ptr<creds::CredentialProvider> credentials);
fusefs::MountOptions make_mount_options(const MountConfig& cfg);

// What in cfg weakens security, one line each, to be shown once at mount on
// stderr and in the log: allow_other with no_default_permissions, an http://
// endpoint, no_verify_ssl. Empty when nothing does.
std::vector<std::string> security_warnings(const MountConfig& cfg);

// "cannot mount bucket 'b' at URL: <what the server said>: <what to check>",
// without the "bucketfs: " prefix and never containing a secret.
std::string describe_check_failure(const MountConfig& cfg, const store::Error& e);

// Checks that path exists and is a directory; error message otherwise.
Result<void, std::string> check_mountpoint(const std::string& path);

}  // namespace bucketfs::cli
