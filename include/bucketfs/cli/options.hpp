// options.hpp - the command line of `bucketfs` as one declarative option table.
//
// Every option is one row of option_table(): its name, aliases, kind, default,
// help text, the commands that take it, and how it applies to a MountConfig.
// The same table drives parsing of every spelling (`-o name=value`, `-o flag`,
// `--name value`, `--name=value`, `--flag`) for the mount and for every
// subcommand (parse_subcommand), and the generated help, so they cannot
// disagree. Parsing is pure (no filesystem, no network, no environment except
// what resolve_defaults() is given), so it is unit-testable.
//
// Errors: parse_command_line() and resolve_defaults() return one line without
// the "bucketfs: " prefix, naming the option and the problem; callers print it
// and exit with kExitUsage. Thread-safety: all functions are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bucketfs/util/result.hpp"

namespace bucketfs::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the mount could not be made
inline constexpr int kExitUsage = 2;    // bad command line

enum class Provider { S3, OSS };

// Everything the command line decides. Optional fields are "not given": the
// default depends on other options and is filled by resolve_defaults().
struct MountConfig {
  std::string bucket;
  std::string prefix;  // "" or "dir/sub/" (no leading '/', one trailing '/')
  std::string mountpoint;

  // Store.
  std::string endpoint;  // full URL after resolve_defaults(), e.g. "http://127.0.0.1:7480"
  std::string region;
  std::optional<Provider> provider;
  std::optional<int> sig_version;
  std::optional<bool> path_style;
  std::string passwd_file;
  std::string credentials_source;  // credentials=: pin one source ("" = the chain)
  std::string profile;             // profile=
  std::string credential_process;  // credential_process=
  std::string sts_endpoint;        // sts_endpoint=
  std::string metadata_endpoint;   // metadata_endpoint=
  bool imds_v1 = false;            // imdsv1
  std::string ca_file;
  bool verify_tls = true;
  long connect_timeout_s = 5;
  int retries = 5;  // retries after the first attempt

  // Objects: how what bucketfs writes is stored and checked.
  std::string sse;                // "" none; AES256 | aws:kms[:KEYID] (S3); AES256 | KMS[:KEYID] | SM4 (OSS)
  std::string sse_c_key_file;     // SSE-C (S3): a file holding the 256-bit key
  std::string storage_class;      // "" = the bucket's default
  std::string checksum = "auto";  // auto | crc32c | crc64nvme | md5
  int list_version = 0;           // 0: V2, falling back to V1 when refused; 1 or 2: only that

  // Filesystem.
  std::string cache_dir;
  std::optional<unsigned> uid;
  std::optional<unsigned> gid;
  unsigned umask = 022;
  bool umask_given = false;
  bool allow_other = false;
  // Not given: on with allow_other (resolve_defaults), so no other user gets
  // past the modes; off only when asked for (no_default_permissions).
  std::optional<bool> default_permissions;
  bool read_only = false;
  double stat_ttl_s = 60;
  double dir_ttl_s = 30;
  unsigned long prefetch_min_kib = 1024;
  unsigned long prefetch_max_kib = 16 * 1024;
  unsigned long read_memory_mib = 512;
  unsigned max_threads = 16;
  std::string readdir_meta = "auto";  // auto, on (1) or off (0)

  // Uploads.
  unsigned long part_size_mib = 16;
  unsigned upload_concurrency = 8;
  bool upload_while_writing = true;
  unsigned upload_while_writing_concurrency = 0;  // 0: as upload_concurrency
  unsigned long ensure_diskfree_mib = 512;
  bool sync_upload = false;
  unsigned unmount_grace_s = 5;

  // Process.
  bool foreground = false;
  std::string log_level = "info";
  std::string log_file;
  bool fuse_debug = false;
  std::string metrics;  // metrics=[HOST:]PORT ("" = no endpoint)

  // The subcommands' own options (status, recover, retry, uploads). Their
  // --cache-dir is cache_dir above, status's and retry's --bucket is bucket.
  struct Subcommand {
    bool json = false;      // status --json
    bool wait = false;      // status --wait
    bool watch = false;     // status --watch
    double timeout_s = 0;   // status --timeout (0: none)
    std::string state_dir;  // status, recover --state-dir (recover --checkpoint-dir: its parent)
    bool abort_orphans = false;
    std::string older_than;  // uploads --older-than DURATION, checked by the command
    bool operator==(const Subcommand&) const = default;
  } sub;

  bool operator==(const MountConfig&) const = default;
};

enum class CommandKind { Mount, Help, Version, Status, Recover, Uploads, Retry };

// Which commands take an option: OptionSpec::commands, one bit per command.
enum CommandBit : unsigned {
  kForMount = 1u << 0,
  kForUploads = 1u << 1,  // uploads talks to the store: it takes the mount's store options
  kForStatus = 1u << 2,
  kForRecover = 1u << 3,
  kForRetry = 1u << 4,
};
inline constexpr unsigned kMountOptions = kForMount | kForUploads;

// The bit of a command (0 for Help and Version, which take no options).
unsigned command_bit(CommandKind kind);
// "status" for CommandKind::Status, "mount" for Mount.
const char* command_name(CommandKind kind);

enum class OptionKind { Flag, Int, Double, Octal, String, Enum, Ignored };

// A parsed option value, already checked against the row's kind.
struct OptionValue {
  std::string text;      // as given ("" for a flag)
  long long number = 0;  // Int, Octal
  double real = 0;       // Double
  bool flag = true;      // Flag: false for "name=0|no|false"
};

struct OptionSpec {
  const char* name;
  std::vector<const char*> aliases;
  OptionKind kind;
  const char* default_text;  // for --help; nullptr: no default shown
  const char* help;
  std::vector<const char*> choices;  // Enum only
  long long min = 0, max = 0;        // Int/Double range when max > min
  void (*apply)(MountConfig&, const OptionValue&);
  char short_name = 0;                // '-f' style, 0 for none
  unsigned commands = kMountOptions;  // CommandBit of every command that takes it
};

// The table. Stable order: the order of --help.
const std::vector<OptionSpec>& option_table();

// Finds a row by name or alias (exact match; '-' and '_' are interchangeable).
const OptionSpec* find_option(std::string_view name);

struct Command {
  CommandKind kind = CommandKind::Mount;
  MountConfig config;
  std::vector<std::string> ignored;   // fstab/mount options accepted and dropped
  std::vector<std::string> sub_args;  // arguments after `status` / `recover` / `uploads`
  // parse_subcommand() only: the words that are not options, and whether
  // -h/--help was given (the command prints its help and exits 0).
  std::vector<std::string> operands;
  bool help = false;
};

// Parses argv (argv[0] is the program name and is skipped). Accepts an
// optional leading subcommand (`mount`, `status`, `recover`, `help`,
// `version`). Does not fill defaults; see resolve_defaults().
Result<Command, std::string> parse_command_line(const std::vector<std::string>& argv);

// Parses a subcommand's arguments (what follows `bucketfs status`, ...)
// against the rows that command takes; config holds the options (defaults not
// resolved), operands the rest in order. Errors name the option and end with
// "(see bucketfs KIND --help)".
Result<Command, std::string> parse_subcommand(CommandKind kind, const std::vector<std::string>& args);

// The cache dir when none is given: /var/cache/bucketfs for root,
// HOME/.cache/bucketfs otherwise; none when HOME is empty (then say
// kNoCacheDir). The one default: resolve_defaults() and every subcommand use it.
std::optional<std::string> default_cache_dir(const std::string& home, bool is_root);
inline constexpr const char* kNoCacheDir =
    "cannot choose a cache directory: HOME is not set (give -o cache_dir=DIR)";

// Splits "BUCKET" or "BUCKET:/PREFIX" (also "BUCKET:PREFIX") into the config.
// Errors: empty bucket, bucket with '/', prefix with "//" or "." components.
Result<void, std::string> parse_bucket_spec(const std::string& spec, MountConfig* cfg);

// Fills defaults that depend on other options: provider from the endpoint
// ("aliyuncs.com" -> oss), endpoint from provider and region, region, sigv
// (4) and its validity for the provider, path style (virtual host for
// *.amazonaws.com and *.aliyuncs.com, path style elsewhere), cache_dir
// (home/.cache/bucketfs, or /var/cache/bucketfs when euid is 0),
// default_permissions (on with allow_other unless given); checks sse= and
// storage_class= for the provider (the SSE-C key file is read at mount time).
Result<void, std::string> resolve_defaults(MountConfig* cfg, const std::string& home, bool is_root);

// Provider guessed from an endpoint URL or host.
Provider guess_provider(const std::string& endpoint);

// The host of a URL ("https://a.b:443/x" -> "a.b").
std::string endpoint_host(const std::string& endpoint);

// Full --help text, generated from option_table().
std::string help_text();
// The option lines of a subcommand's --help, from the rows only it (and the
// other subcommands) take: uploads lists its own, not the store options.
std::string subcommand_options_help(CommandKind kind);
std::string usage_line();

}  // namespace bucketfs::cli
