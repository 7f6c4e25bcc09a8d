// option_table.cpp - the one table of bucketfs options (see options.hpp).
//
// Adding an option means adding one row here: parsing and --help follow.
#include "bucketfs/cli/options.hpp"

namespace bucketfs::cli {
namespace {

using K = OptionKind;
using V = OptionValue;
using C = MountConfig;

std::vector<OptionSpec> make_table() {
  std::vector<OptionSpec> t;
  auto add = [&t](OptionSpec s) { t.push_back(std::move(s)); };

  // Store.
  add({"endpoint",
       {"url"},
       K::String,
       nullptr,
       "Store URL, e.g. http://127.0.0.1:7480 or https://oss-cn-hangzhou.aliyuncs.com "
       "(default: AWS S3 for the region; https:// is assumed without a scheme)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.endpoint = v.text; }});
  add({"region",
       {},
       K::String,
       "us-east-1 (OSS: from the endpoint)",
       "Region used for signing",
       {},
       0,
       0,
       [](C& c, const V& v) { c.region = v.text; }});
  add({"provider",
       {},
       K::Enum,
       "guessed from the endpoint",
       "Store dialect: s3 or oss",
       {"s3", "oss"},
       0,
       0,
       [](C& c, const V& v) { c.provider = v.text == "oss" ? Provider::OSS : Provider::S3; }});
  add({"sigv",
       {"signature_version"},
       K::Enum,
       "4",
       "Signature version: 2 or 4 for S3, 1 or 4 for OSS",
       {"1", "2", "4"},
       0,
       0,
       [](C& c, const V& v) { c.sig_version = std::stoi(v.text); }});
  add({"path_style",
       {"use_path_request_style"},
       K::Flag,
       "on for custom endpoints",
       "Address the bucket as ENDPOINT/BUCKET/KEY",
       {},
       0,
       0,
       [](C& c, const V& v) { c.path_style = v.flag; }});
  add({"virtual_host",
       {},
       K::Flag,
       "on for *.amazonaws.com and *.aliyuncs.com",
       "Address the bucket as BUCKET.HOST/KEY",
       {},
       0,
       0,
       [](C& c, const V& v) { c.path_style = !v.flag; }});
  add({"passwd_file",
       {"passwd"},
       K::String,
       "environment, then ~/.passwd-bucketfs, ~/.passwd-s3fs",
       "s3fs-format credentials file (ACCESS:SECRET or BUCKET:ACCESS:SECRET), mode 600",
       {},
       0,
       0,
       [](C& c, const V& v) { c.passwd_file = v.text; }});
  add({"credentials",
       {"credentials_source"},
       K::Enum,
       "the chain, in the SDKs' order",
       "Use only this credential source (see CREDENTIALS in the man page)",
       {"env", "passwd_file", "profile", "process", "web_identity", "container", "imds", "oidc", "aliyun_cli",
        "ecs_ram_role", "credentials_uri"},
       0,
       0,
       [](C& c, const V& v) { c.credentials_source = v.text; }});
  add({"profile",
       {},
       K::String,
       "AWS_PROFILE / ALIBABA_CLOUD_PROFILE, else default",
       "Profile of ~/.aws/config and ~/.aws/credentials (OSS: ~/.alibabacloud/credentials, "
       "~/.aliyun/config.json); "
       "it must exist",
       {},
       0,
       0,
       [](C& c, const V& v) { c.profile = v.text; }});
  add({"credential_process",
       {},
       K::String,
       nullptr,
       "Command that prints credentials as JSON (the AWS credential_process format, or the Alibaba "
       "External/process formats); run without a shell, again before they expire",
       {},
       0,
       0,
       [](C& c, const V& v) { c.credential_process = v.text; }});
  add({"sts_endpoint",
       {},
       K::String,
       "regional AWS STS / sts.aliyuncs.com",
       "STS URL for assuming roles (AWS: also AWS_ENDPOINT_URL_STS or the profile's endpoint_url)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sts_endpoint = v.text; }});
  add({"metadata_endpoint",
       {},
       K::String,
       "http://169.254.169.254 / http://100.100.100.200",
       "Instance metadata URL (AWS: also AWS_EC2_METADATA_SERVICE_ENDPOINT)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.metadata_endpoint = v.text; }});
  add({"imdsv1",
       {},
       K::Flag,
       nullptr,
       "Allow tokenless (IMDSv1 / normal mode) metadata requests when the session token cannot be had",
       {},
       0,
       0,
       [](C& c, const V& v) { c.imds_v1 = v.flag; }});
  add({"ca_file",
       {"cafile"},
       K::String,
       "system CA store",
       "CA bundle used to verify the endpoint's TLS certificate",
       {},
       0,
       0,
       [](C& c, const V& v) { c.ca_file = v.text; }});
  add({"no_verify_ssl",
       {"no_check_certificate"},
       K::Flag,
       nullptr,
       "Do not verify the endpoint's TLS certificate (insecure; for test servers only)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.verify_tls = !v.flag; }});
  add({"connect_timeout",
       {},
       K::Int,
       "5",
       "Seconds to wait for a connection to the endpoint",
       {},
       1,
       600,
       [](C& c, const V& v) { c.connect_timeout_s = static_cast<long>(v.number); }});
  add({"retries",
       {},
       K::Int,
       "5",
       "Retries of a failed request (5xx, 429, resets, timeouts)",
       {},
       0,
       100,
       [](C& c, const V& v) { c.retries = static_cast<int>(v.number); }});

  // Objects.
  add({"sse",
       {},
       K::String,
       "none: the bucket's default encryption",
       "Server-side encryption of new objects: AES256, aws:kms or aws:kms:KEYID on S3; "
       "AES256, KMS, KMS:KEYID or SM4 on OSS",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sse = v.text; }});
  add({"sse_c_key_file",
       {"sse_c_key"},
       K::String,
       nullptr,
       "SSE-C (S3): encrypt with the 256-bit key in this file (32 bytes or their base64, mode 600); "
       "sent with every read and write, never logged",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sse_c_key_file = v.text; }});
  add({"storage_class",
       {},
       K::String,
       "the bucket's default",
       "Storage class of new objects, e.g. STANDARD_IA (S3) or IA (OSS); copies keep theirs",
       {},
       0,
       0,
       [](C& c, const V& v) { c.storage_class = v.text; }});
  add({"checksum",
       {},
       K::Enum,
       "auto",
       "What S3 uploads carry for the server to verify: auto (CRC-32C where the server checks it, "
       "else Content-MD5), crc32c, crc64nvme or md5 (OSS always checks CRC-64)",
       {"auto", "crc32c", "crc64nvme", "md5"},
       0,
       0,
       [](C& c, const V& v) { c.checksum = v.text; }});
  add({"list_version",
       {},
       K::Enum,
       "2, or 1 when the server refuses V2",
       "ListObjects version: 1 (marker) or 2 (continuation token)",
       {"1", "2"},
       0,
       0,
       [](C& c, const V& v) { c.list_version = std::stoi(v.text); }});

  // Filesystem.
  add({"cache_dir",
       {},
       K::String,
       "~/.cache/bucketfs (root: /var/cache/bucketfs)",
       "Directory for staging files and the checkpoint store (created 0700)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.cache_dir = v.text; },
       0,
       kMountOptions | kForStatus | kForRecover | kForRetry});
  add({"uid",
       {},
       K::Int,
       "the mounting user",
       "Owner of objects that carry no uid metadata",
       {},
       0,
       4294967294LL,
       [](C& c, const V& v) { c.uid = static_cast<unsigned>(v.number); }});
  add({"gid",
       {},
       K::Int,
       "the mounting group",
       "Group of objects that carry no gid metadata",
       {},
       0,
       4294967294LL,
       [](C& c, const V& v) { c.gid = static_cast<unsigned>(v.number); }});
  add({"umask",
       {},
       K::Octal,
       "022",
       "Octal umask for objects that carry no mode metadata",
       {},
       0,
       0777,
       [](C& c, const V& v) {
         c.umask = static_cast<unsigned>(v.number);
         c.umask_given = true;
       }});
  add({"allow_other",
       {},
       K::Flag,
       nullptr,
       "Let other users access the mount (root, or user_allow_other in /etc/fuse.conf); "
       "turns on default_permissions",
       {},
       0,
       0,
       [](C& c, const V& v) { c.allow_other = v.flag; }});
  add({"default_permissions",
       {},
       K::Flag,
       "on with allow_other",
       "Let the kernel check permissions from mode/uid/gid",
       {},
       0,
       0,
       [](C& c, const V& v) { c.default_permissions = v.flag; }});
  add({"no_default_permissions",
       {},
       K::Flag,
       nullptr,
       "With allow_other: no permission checks, every local user may read, change and delete every file "
       "(insecure; logged at mount)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.default_permissions = !v.flag; }});
  add({"ro", {"read_only"}, K::Flag, nullptr, "Mount read-only", {}, 0, 0, [](C& c, const V& v) {
         c.read_only = v.flag;
       }});
  add({"stat_ttl",
       {"stat_cache_expire"},
       K::Double,
       "60",
       "Seconds attributes (and negative lookups) are cached",
       {},
       0,
       86400,
       [](C& c, const V& v) { c.stat_ttl_s = v.real; }});
  add({"dir_ttl",
       {},
       K::Double,
       "30",
       "Seconds directory listings are cached",
       {},
       0,
       86400,
       [](C& c, const V& v) { c.dir_ttl_s = v.real; }});
  add({"prefetch_min",
       {},
       K::Int,
       "1024",
       "KiB first read ahead of a sequential reader",
       {},
       4,
       1 << 20,
       [](C& c, const V& v) { c.prefetch_min_kib = static_cast<unsigned long>(v.number); }});
  add({"prefetch_max",
       {},
       K::Int,
       "16384",
       "KiB the read-ahead window grows to",
       {},
       4,
       4 << 20,
       [](C& c, const V& v) { c.prefetch_max_kib = static_cast<unsigned long>(v.number); }});
  add({"read_memory",
       {},
       K::Int,
       "512",
       "MiB of memory for prefetched data, all files together",
       {},
       1,
       1 << 20,
       [](C& c, const V& v) { c.read_memory_mib = static_cast<unsigned long>(v.number); }});
  add({"max_threads", {}, K::Int, "16", "Most FUSE worker threads", {}, 1, 1024, [](C& c, const V& v) {
         c.max_threads = static_cast<unsigned>(v.number);
       }});

  add({"readdir_meta",
       {},
       K::Enum,
       "auto",
       "HEAD listed entries whose s3fs metadata is not cached, so ls -l shows stored modes and mtimes: "
       "on (1) every entry; auto a sample first, the rest only if it carries metadata; "
       "off (0) one request per listing page, default modes",
       {"auto", "on", "off", "1", "0"},
       0,
       0,
       [](C& c, const V& v) { c.readdir_meta = v.text == "1"   ? "on"
                                               : v.text == "0" ? "off"
                                                               : v.text; }});

  // Uploads.
  add({"part_size",
       {"multipart_size"},
       K::Int,
       "16",
       "MiB per upload part (raised to the store's minimum; grown so a file needs at most 10,000 parts)",
       {},
       1,
       5120,
       [](C& c, const V& v) { c.part_size_mib = static_cast<unsigned long>(v.number); }});
  add({"upload_concurrency",
       {"parallel_count"},
       K::Int,
       "8",
       "Upload requests in flight, shared by all files",
       {},
       1,
       256,
       [](C& c, const V& v) { c.upload_concurrency = static_cast<unsigned>(v.number); }});
  add({"upload_while_writing",
       {},
       K::Enum,
       "on",
       "Send each part of a file written by appends as soon as it is finished, while the file is still open "
       "(on, 1); off (0): parts go after close",
       {"on", "off", "1", "0"},
       0,
       0,
       [](C& c, const V& v) { c.upload_while_writing = v.text == "on" || v.text == "1"; }});
  add({"upload_while_writing_concurrency",
       {},
       K::Int,
       "0",
       "Parts of one file sent at once while it is still open (upload_while_writing); 0: as many as "
       "upload_concurrency. 2 makes cp return sooner where the uploads take CPU the writer needs",
       {},
       0,
       256,
       [](C& c, const V& v) { c.upload_while_writing_concurrency = static_cast<unsigned>(v.number); }});
  add({"ensure_diskfree",
       {},
       K::Int,
       "512",
       "MiB to keep free on the disk under cache_dir; writes beyond it fail with ENOSPC",
       {},
       0,
       1 << 30,
       [](C& c, const V& v) { c.ensure_diskfree_mib = static_cast<unsigned long>(v.number); }});
  add({"sync_upload",
       {},
       K::Flag,
       "off",
       "close(2) waits until the file is in the bucket and reports a failed upload",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sync_upload = v.flag; }});
  add({"unmount_grace",
       {},
       K::Int,
       "5",
       "Seconds an unmount waits for upload requests in flight (the rest resume at the next mount)",
       {},
       0,
       3600,
       [](C& c, const V& v) { c.unmount_grace_s = static_cast<unsigned>(v.number); }});

  // Process.
  add({"foreground",
       {},
       K::Flag,
       nullptr,
       "Stay in the foreground and log to stderr",
       {},
       0,
       0,
       [](C& c, const V& v) { c.foreground = v.flag; },
       'f'});
  add({"debug",
       {},
       K::Flag,
       nullptr,
       "Debug logging (same as loglevel=debug)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.log_level = v.flag ? "debug" : "info"; },
       'd'});
  add({"loglevel",
       {"log_level", "dbglevel"},
       K::Enum,
       "info",
       "Log level: error, warn, info or debug",
       {"error", "warn", "info", "debug"},
       0,
       0,
       [](C& c, const V& v) { c.log_level = v.text; }});
  add({"log_file",
       {"logfile"},
       K::String,
       "syslog when daemonized, stderr in the foreground",
       "Append log lines to this file",
       {},
       0,
       0,
       [](C& c, const V& v) { c.log_file = v.text; }});
  add({"metrics",
       {},
       K::String,
       nullptr,
       "Serve Prometheus metrics at http://ADDRESS/metrics; PORT alone listens on 127.0.0.1",
       {},
       0,
       0,
       [](C& c, const V& v) { c.metrics = v.text; }});
  add({"fuse_debug",
       {},
       K::Flag,
       nullptr,
       "Print libfuse's trace of every request",
       {},
       0,
       0,
       [](C& c, const V& v) { c.fuse_debug = v.flag; }});

  // The subcommands' own options.
  add({"json",
       {},
       K::Flag,
       nullptr,
       "Print the status as JSON, for scripts",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sub.json = v.flag; },
       0,
       kForStatus});
  add({"wait",
       {},
       K::Flag,
       nullptr,
       "Return when nothing is pending (exit 1 if an upload failed)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sub.wait = v.flag; },
       0,
       kForStatus});
  add({"watch",
       {},
       K::Flag,
       nullptr,
       "Refresh the status until interrupted",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sub.watch = v.flag; },
       0,
       kForStatus});
  add({"timeout",
       {},
       K::Double,
       "none",
       "With --wait or --watch: give up after this many seconds (exit 3)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sub.timeout_s = v.real; },
       0,
       kForStatus});
  add({"bucket",
       {},
       K::String,
       nullptr,
       "With --cache-dir: only the state of this bucket",
       {},
       0,
       0,
       [](C& c, const V& v) { c.bucket = v.text; },
       0,
       kForStatus | kForRetry});
  add({"state_dir",
       {},
       K::String,
       nullptr,
       "Only this state dir (CACHE_DIR/BUCKET-HASH)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sub.state_dir = v.text; },
       0,
       kForStatus | kForRecover});
  add({"checkpoint_dir",
       {},
       K::String,
       nullptr,
       "The checkpoint store a damaged-store message names (its state dir is recovered)",
       {},
       0,
       0,
       [](C& c, const V& v) {
         // The state dir is the checkpoint store's parent.
         std::string d = v.text;
         while (d.size() > 1 && d.back() == '/') d.pop_back();
         c.sub.state_dir = d.substr(0, d.rfind('/'));
       },
       0,
       kForRecover});
  add({"abort_orphans",
       {},
       K::Flag,
       nullptr,
       "Abort the uploads nothing here resumes",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sub.abort_orphans = v.flag; },
       0,
       kForUploads});
  add({"older_than",
       {},
       K::String,
       nullptr,
       "With --abort-orphans: also abort unknown uploads started longer ago than DURATION (90m, 12h, 7d; 0: all)",
       {},
       0,
       0,
       [](C& c, const V& v) { c.sub.older_than = v.text; },
       0,
       kForUploads});

  // Accepted because fstab, mount(8) and mount.fuse pass them; they change nothing.
  for (const char* n : {"_netdev", "nofail", "noauto", "auto", "user", "users", "nouser", "defaults", "rw", "dev",
                        "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime", "relatime", "async"}) {
    add({n, {}, K::Ignored, nullptr, nullptr, {}, 0, 0, nullptr});
  }
  return t;
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = make_table();
  return table;
}

}  // namespace bucketfs::cli
