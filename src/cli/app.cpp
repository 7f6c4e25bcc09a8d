// app.cpp - subcommand dispatch and the pure parts of the mount flow (see app.hpp).
#include "bucketfs/cli/app.hpp"
#include "bucketfs/cli/maintenance.hpp"
#include "bucketfs/cli/mount_credentials.hpp"
#include "bucketfs/cli/mount_layout.hpp"
#include "bucketfs/cli/status_command.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace bucketfs::cli {
namespace {

int usage_error(const std::string& message) {
  std::cerr << "bucketfs: " << message << "\n";
  return kExitUsage;
}

}  // namespace

store::HttpStoreConfig make_store_config(const MountConfig& cfg,
                                         std::shared_ptr<creds::CredentialProvider> credentials) {
  store::HttpStoreConfig sc;
  sc.dialect = cfg.provider.value_or(Provider::S3) == Provider::OSS ? store::Dialect::OSS : store::Dialect::S3;
  sc.sig_version = cfg.sig_version.value_or(4);
  sc.endpoint = cfg.endpoint;
  sc.bucket = cfg.bucket;
  sc.region = cfg.region;
  sc.path_style = cfg.path_style.value_or(true);
  sc.credentials_provider = std::move(credentials);
  sc.connect_timeout_ms = cfg.connect_timeout_s * 1000;
  sc.verify_tls = cfg.verify_tls;
  sc.ca_file = cfg.ca_file;
  sc.max_attempts = cfg.retries + 1;
  // sse= was checked by resolve_defaults; the SSE-C key is read by run_mount.
  if (auto e = store::parse_sse(cfg.sse, sc.dialect); e && !cfg.sse.empty()) sc.encryption = std::move(*e);
  sc.storage_class = cfg.storage_class;
  using Checksum = store::HttpStoreConfig::Checksum;
  sc.checksum = cfg.checksum == "crc32c"      ? Checksum::Crc32c
                : cfg.checksum == "crc64nvme" ? Checksum::Crc64Nvme
                : cfg.checksum == "md5"       ? Checksum::Md5
                                              : Checksum::Auto;
  sc.list_version = cfg.list_version;
  return sc;
}

fusefs::MountOptions make_mount_options(const MountConfig& cfg) {
  fusefs::MountOptions mo;
  mo.mountpoint = cfg.mountpoint;
  // Like sshfs's "user@host:/path": what was mounted, as the user wrote it
  // (the subtype "bucketfs" shows as fuse.bucketfs).
  mo.fsname = cfg.bucket;
  if (!cfg.prefix.empty()) mo.fsname += ":/" + cfg.prefix.substr(0, cfg.prefix.size() - 1);
  mo.foreground = cfg.foreground;
  mo.debug = cfg.fuse_debug;
  mo.allow_other = cfg.allow_other;
  mo.default_permissions = cfg.default_permissions.value_or(cfg.allow_other);
  mo.read_only = cfg.read_only;
  mo.max_threads = cfg.max_threads;
  return mo;
}

std::vector<std::string> security_warnings(const MountConfig& cfg) {
  std::vector<std::string> w;
  if (cfg.allow_other && !cfg.default_permissions.value_or(true)) {
    w.push_back(
        "allow_other with no_default_permissions: no permission is checked, every local user can read, change "
        "and delete every file of this mount with its credentials; drop no_default_permissions to have modes "
        "enforced");
  }
  if (cfg.endpoint.rfind("http://", 0) == 0) {
    w.push_back("endpoint " + cfg.endpoint +
                " is plain http: object data, names, metadata and the access key id cross the network in clear, "
                "and anyone on the way can read or change them (the secret key is never sent); use https://");
  }
  if (!cfg.verify_tls) {
    w.push_back(
        "no_verify_ssl: the endpoint's TLS certificate is not checked, so anyone on the network path can pose "
        "as the server and read or change the data; use ca_file=BUNDLE for a private CA instead");
  }
  return w;
}

std::string describe_check_failure(const MountConfig& cfg, const store::Error& e) {
  using store::ErrorCode;
  const bool oss = cfg.provider.value_or(Provider::S3) == Provider::OSS;
  std::string head = "cannot mount bucket '" + cfg.bucket + "' at " + cfg.endpoint + ": ";
  if (e.http_status == 0 && (e.code == ErrorCode::Transient || e.code == ErrorCode::Other)) {
    std::string why = e.message.empty() ? "no answer" : e.message;
    return head + "the endpoint does not answer (" + why +
           "); check the endpoint URL and that the server is running";
  }
  std::string said = e.server_code.empty() ? std::string(store::name(e.code)) : e.server_code;
  if (e.http_status != 0) said += " (" + std::to_string(e.http_status) + ")";
  std::string hint;
  switch (e.code) {
    case ErrorCode::SignatureMismatch:
      hint = std::string("the secret key is wrong; check the credentials (passwd file, ") +
             (oss ? "OSS_ACCESS_KEY_SECRET" : "AWS_SECRET_ACCESS_KEY") + ", profile)";
      break;
    case ErrorCode::InvalidAccessKey:
      hint = std::string("the server does not know this access key id; check the credentials (passwd file, ") +
             (oss ? "OSS_ACCESS_KEY_ID" : "AWS_ACCESS_KEY_ID") + ", profile)";
      break;
    case ErrorCode::CredentialsUnavailable:
      hint = "no valid credentials: " +
             (e.message.empty() ? std::string("the session token was refused") : e.message);
      break;
    case ErrorCode::AccessDenied:
      hint = "these credentials may not list this bucket; check the key's permissions and the bucket policy";
      break;
    case ErrorCode::NoSuchBucket:
    case ErrorCode::NoSuchKey: hint = "the bucket does not exist; check the name and the endpoint"; break;
    case ErrorCode::ClockSkew: hint = "the local clock is too far from the server's; fix the time (NTP)"; break;
    case ErrorCode::Throttled: hint = "the server is throttling requests; try again later"; break;
    case ErrorCode::Transient:
      hint = "the server keeps failing" + (e.message.empty() ? "" : " (" + e.message + ")") +
             "; check the server and try again";
      break;
    case ErrorCode::Unsupported:
    case ErrorCode::InvalidArgument:
      hint = "the server rejected the request" + (e.message.empty() ? "" : " (" + e.message + ")") +
             "; check provider=, sigv=, region= and path_style/virtual_host";
      break;
    default: hint = e.message.empty() ? "check the endpoint and the credentials" : e.message; break;
  }
  std::string line = head + said + ": " + hint;
  for (char& ch : line) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return line;
}

Result<void, std::string> check_mountpoint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return "mountpoint '" + path + "' does not exist (create it with mkdir -p)";
    if (err == ENOTCONN) {
      return "mountpoint '" + path + "' is a dead mount; unmount it first (fusermount3 -u " + path + ")";
    }
    return "cannot use mountpoint '" + path + "': " + std::strerror(err);
  }
  if (!S_ISDIR(st.st_mode)) return "mountpoint '" + path + "' is not a directory";
  return {};
}

int parse_subcommand_args(CommandKind kind, const std::vector<std::string>& args, const char* usage,
                          Command* out) {
  auto parsed = parse_subcommand(kind, args);
  if (!parsed) {
    std::cerr << "bucketfs " << command_name(kind) << ": " << parsed.error() << "\n";
    return kExitUsage;
  }
  if (parsed->help) {
    std::cout << usage << "\nOptions:\n" << subcommand_options_help(kind);
    return kExitOk;
  }
  *out = std::move(parsed.value());
  return -1;
}

int run(const std::vector<std::string>& argv) {
  auto parsed = parse_command_line(argv);
  if (!parsed) return usage_error(parsed.error());
  Command& cmd = *parsed;
  switch (cmd.kind) {
    case CommandKind::Help: std::cout << help_text(); return kExitOk;
    case CommandKind::Version: std::cout << "bucketfs " << BUCKETFS_VERSION << "\n"; return kExitOk;
    case CommandKind::Status: return status_main(cmd.sub_args);
    case CommandKind::Recover: return recover_main(cmd.sub_args);
    case CommandKind::Uploads: return uploads_main(cmd.sub_args);
    case CommandKind::Retry: return retry_main(cmd.sub_args);
    case CommandKind::Mount: break;
  }
  if (auto p = apply_profile_defaults(&cmd.config, creds::process_env()); !p) {
    std::cerr << "bucketfs: " << p.error() << "\n";
    return kExitFailure;
  }
  auto resolved = resolve_defaults(&cmd.config, process_home(), ::geteuid() == 0);
  if (!resolved) return usage_error(resolved.error());
  return run_mount(cmd.config);
}

}  // namespace bucketfs::cli
