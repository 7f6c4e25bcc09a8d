// test_cli.cpp - the command line: option table, both spellings, errors, defaults, help.
#include <algorithm>
#include <string>
#include <vector>

#include "bucketfs/cli/app.hpp"
#include "bucketfs/cli/options.hpp"

// cmocka last: its macros (fail, ...) clash with names in the C++ headers.
// Debian's cmocka 1.1.5 header has no extern "C" guard of its own.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;
using namespace bucketfs::cli;

namespace {

// Parses and resolves; returns the config through *out, or the error text.
// Kept free of cmocka asserts so no destructor is skipped by a longjmp.
std::string parse(std::vector<std::string> args, MountConfig* out, Command* cmd_out = nullptr) {
  args.insert(args.begin(), "bucketfs");
  auto r = parse_command_line(args);
  if (!r) return r.error();
  if (cmd_out != nullptr) *cmd_out = *r;
  if (r->kind != CommandKind::Mount) return "";
  auto d = resolve_defaults(&r->config, "/home/u", false);
  if (!d) return d.error();
  *out = r->config;
  return "";
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

bool same_config(const MountConfig& a, const MountConfig& b) { return a == b; }

void test_o_and_long_spellings_agree(void**) {
  MountConfig a, b, c;
  std::string ea = parse({"mybucket:/data/x", "/mnt/b", "-o",
                          "url=http://127.0.0.1:7480,region=eu-west-1,sigv=2,passwd_file=/etc/pw,uid=1000,gid=100,"
                          "umask=027,allow_other,default_permissions,ro,stat_ttl=5,dir_ttl=2.5,cache_dir=/c,"
                          "no_verify_ssl,connect_timeout=3,retries=2,loglevel=warn,log_file=/tmp/l,read_memory=64",
                          "-f"},
                         &a);
  std::string eb = parse({"--endpoint",
                          "http://127.0.0.1:7480",
                          "--region=eu-west-1",
                          "--sigv",
                          "2",
                          "--passwd-file",
                          "/etc/pw",
                          "--uid=1000",
                          "--gid",
                          "100",
                          "--umask",
                          "027",
                          "--allow-other",
                          "--default_permissions",
                          "--ro",
                          "--stat-ttl",
                          "5",
                          "--dir_ttl=2.5",
                          "--cache-dir",
                          "/c",
                          "--no-verify-ssl",
                          "--connect-timeout",
                          "3",
                          "--retries",
                          "2",
                          "--loglevel",
                          "warn",
                          "--log-file",
                          "/tmp/l",
                          "--read-memory=64",
                          "--foreground",
                          "mybucket:/data/x",
                          "/mnt/b"},
                         &b);
  // -o given in pieces and glued (-oa=b), plus the mount subcommand.
  std::string ec = parse({"mount", "mybucket:/data/x", "/mnt/b", "-ourl=http://127.0.0.1:7480", "-o",
                          "region=eu-west-1,sigv=2", "-o", "passwd=/etc/pw,uid=1000,gid=100,umask=027", "-o",
                          "allow_other,default_permissions,read_only,stat_cache_expire=5,dir_ttl=2.5", "-o",
                          "cache_dir=/c,no_check_certificate,connect_timeout=3,retries=2,dbglevel=warn", "-o",
                          "logfile=/tmp/l,read_memory=64", "-f"},
                         &c);
  assert_string_equal(ea.c_str(), "");
  assert_string_equal(eb.c_str(), "");
  assert_string_equal(ec.c_str(), "");
  assert_true(same_config(a, b));
  assert_true(same_config(a, c));
  assert_string_equal(a.bucket.c_str(), "mybucket");
  assert_string_equal(a.prefix.c_str(), "data/x/");
  assert_string_equal(a.mountpoint.c_str(), "/mnt/b");
  assert_string_equal(a.endpoint.c_str(), "http://127.0.0.1:7480");
  assert_int_equal(*a.sig_version, 2);
  assert_true(*a.path_style);
  assert_int_equal(*a.uid, 1000);
  assert_int_equal(*a.gid, 100);
  assert_int_equal(a.umask, 027);
  assert_true(a.allow_other && a.default_permissions && a.read_only && a.foreground && !a.verify_tls);
  assert_true(a.stat_ttl_s == 5 && a.dir_ttl_s == 2.5);
  assert_string_equal(a.log_level.c_str(), "warn");
  assert_int_equal(a.read_memory_mib, 64);
}

// How many parts of an open file go at once: 0 (as upload_concurrency) unless
// set, both spellings, 0 to 256.
void test_upload_while_writing_concurrency(void**) {
  MountConfig a, b;
  assert_string_equal(parse({"b", "/m"}, &a).c_str(), "");
  assert_int_equal(a.upload_while_writing_concurrency, 0);
  assert_string_equal(parse({"b", "/m", "-o", "upload_while_writing_concurrency=2"}, &a).c_str(), "");
  assert_string_equal(parse({"b", "/m", "--upload-while-writing-concurrency", "2"}, &b).c_str(), "");
  assert_int_equal(a.upload_while_writing_concurrency, 2);
  assert_true(a == b);
  std::string e = parse({"b", "/m", "-o", "upload_while_writing_concurrency=300"}, &a);
  assert_true(contains(e, "upload_while_writing_concurrency"));
}

void test_defaults(void**) {
  MountConfig a;
  assert_string_equal(parse({"b", "/m"}, &a).c_str(), "");
  assert_true(*a.provider == Provider::S3);
  assert_string_equal(a.endpoint.c_str(), "https://s3.amazonaws.com");
  assert_string_equal(a.region.c_str(), "us-east-1");
  assert_int_equal(*a.sig_version, 4);
  assert_false(*a.path_style);  // virtual host on AWS
  assert_string_equal(a.cache_dir.c_str(), "/home/u/.cache/bucketfs");
  assert_true(a.verify_tls);
  assert_false(a.foreground);
  assert_int_equal(a.umask, 022);
  assert_string_equal(a.prefix.c_str(), "");

  // root's cache dir; endpoint without scheme gets https://.
  Command cmd;
  assert_string_equal(parse({"b", "/m", "-o", "endpoint=minio.local:9000"}, &a, &cmd).c_str(), "");
  assert_true(resolve_defaults(&cmd.config, "", true).ok());
  assert_string_equal(cmd.config.cache_dir.c_str(), "/var/cache/bucketfs");
  assert_string_equal(cmd.config.endpoint.c_str(), "https://minio.local:9000");
  assert_true(*cmd.config.path_style);
  // Without HOME and not root: a clear error.
  assert_string_equal(parse({"b", "/m"}, &a, &cmd).c_str(), "");
  auto r = resolve_defaults(&cmd.config, "", false);
  assert_false(r.ok());
  assert_true(contains(r.error(), "cache_dir"));
}

// Every default --help (and so the man page) shows is the value the mount
// uses: giving it explicitly changes nothing. A default that is a description
// ("guessed from the endpoint") does not parse as a value and is not checked.
void test_shown_defaults_are_the_defaults(void**) {
  MountConfig base;
  assert_string_equal(parse({"b", "/m"}, &base).c_str(), "");
  std::string differ;
  int checked = 0;
  for (const auto& s : option_table()) {
    if (s.default_text == nullptr || (s.commands & kForMount) == 0) continue;
    if (s.kind == OptionKind::String || s.kind == OptionKind::Ignored) continue;  // any text parses
    MountConfig given;
    if (!parse({"b", "/m", "-o", std::string(s.name) + "=" + s.default_text}, &given).empty()) continue;
    ++checked;
    given.umask_given = base.umask_given;  // records that umask was given, which it now was
    if (!(given == base)) differ += std::string(" ") + s.name + "=" + s.default_text;
  }
  assert_string_equal(differ.c_str(), "");
  assert_true(checked >= 15);
}

void test_provider_guessing(void**) {
  MountConfig a;
  assert_string_equal(parse({"b", "/m", "-o", "url=https://oss-cn-hangzhou.aliyuncs.com"}, &a).c_str(), "");
  assert_true(*a.provider == Provider::OSS);
  assert_false(*a.path_style);
  assert_int_equal(*a.sig_version, 4);
  assert_string_equal(parse({"b", "/m", "-o", "url=http://127.0.0.1:7480"}, &a).c_str(), "");
  assert_true(*a.provider == Provider::S3);
  assert_true(*a.path_style);
  assert_string_equal(parse({"b", "/m", "-o", "url=https://s3.eu-west-1.amazonaws.com"}, &a).c_str(), "");
  assert_true(*a.provider == Provider::S3);
  assert_false(*a.path_style);
  // Explicit choices win over the guess.
  assert_string_equal(parse({"b", "/m", "-o", "url=http://10.0.0.1,provider=oss,sigv=1,virtual_host"}, &a).c_str(),
                      "");
  assert_true(*a.provider == Provider::OSS);
  assert_int_equal(*a.sig_version, 1);
  assert_false(*a.path_style);
  assert_string_equal(parse({"b", "/m", "-o", "url=https://s3.amazonaws.com", "--path-style"}, &a).c_str(), "");
  assert_true(*a.path_style);
  // OSS with a region only.
  assert_string_equal(parse({"b", "/m", "--provider", "oss", "--region", "cn-beijing"}, &a).c_str(), "");
  assert_string_equal(a.endpoint.c_str(), "https://oss-cn-beijing.aliyuncs.com");
  assert_true(guess_provider("oss-cn-hangzhou-internal.aliyuncs.com") == Provider::OSS);
  assert_true(guess_provider("http://aliyuncs.com.evil.example") == Provider::S3);
  assert_string_equal(endpoint_host("https://user@h.example:8443/p").c_str(), "h.example");
}

void test_sigv_per_provider(void**) {
  MountConfig a;
  std::string e = parse({"b", "/m", "-o", "url=http://127.0.0.1,sigv=1"}, &a);
  assert_true(contains(e, "sigv=1") && contains(e, "s3"));
  e = parse({"b", "/m", "-o", "url=https://oss-cn-hangzhou.aliyuncs.com,sigv=2"}, &a);
  assert_true(contains(e, "sigv=2") && contains(e, "oss"));
}

void test_unknown_option(void**) {
  MountConfig a;
  std::string e = parse({"b", "/m", "-o", "allow_other,frobnicate=3"}, &a);
  assert_string_equal(e.c_str(), "unknown option 'frobnicate' (see bucketfs --help)");
  e = parse({"b", "/m", "--frobnicate"}, &a);
  assert_string_equal(e.c_str(), "unknown option '--frobnicate' (see bucketfs --help)");
  e = parse({"b", "/m", "-z"}, &a);
  assert_string_equal(e.c_str(), "unknown option '-z' (see bucketfs --help)");
}

void test_bad_values(void**) {
  MountConfig a;
  std::string e = parse({"b", "/m", "-o", "uid=abc"}, &a);
  assert_true(contains(e, "'abc'") && contains(e, "'uid'") && contains(e, "number"));
  e = parse({"b", "/m", "--uid", "-5"}, &a);
  assert_true(contains(e, "'--uid'") && contains(e, "between"));
  e = parse({"b", "/m", "-o", "umask=089"}, &a);
  assert_true(contains(e, "umask") && contains(e, "octal"));
  e = parse({"b", "/m", "-o", "umask=01777"}, &a);
  assert_true(contains(e, "umask"));
  e = parse({"b", "/m", "-o", "provider=gcs"}, &a);
  assert_true(contains(e, "'gcs'") && contains(e, "s3, oss"));
  e = parse({"b", "/m", "-o", "loglevel=loud"}, &a);
  assert_true(contains(e, "loglevel") && contains(e, "debug"));
  e = parse({"b", "/m", "-o", "stat_ttl=soon"}, &a);
  assert_true(contains(e, "stat_ttl"));
  e = parse({"b", "/m", "-o", "endpoint"}, &a);
  assert_true(contains(e, "'endpoint' needs a value"));
  e = parse({"b", "/m", "--region"}, &a);
  assert_true(contains(e, "'--region' needs a value"));
  e = parse({"b", "/m", "-o", "allow_other=maybe"}, &a);
  assert_true(contains(e, "allow_other"));
  e = parse({"b", "/m", "-o", "url=ftp://x"}, &a);
  assert_true(contains(e, "scheme"));
  assert_string_equal(parse({"b", "/m", "-o", "allow_other=0,umask=0"}, &a).c_str(), "");
  assert_false(a.allow_other);
  assert_int_equal(a.umask, 0);
}

void test_fstab_options_ignored(void**) {
  MountConfig a, plain;
  Command cmd;
  assert_string_equal(
      parse({"b", "/m", "-o",
             "_netdev,nofail,noauto,auto,user,users,nouser,defaults,rw,dev,nodev,suid,nosuid,exec,noexec,"
             "x-systemd.automount,x-systemd.mount-timeout=30,comment=hi,allow_other"},
            &a, &cmd)
          .c_str(),
      "");
  assert_int_equal(cmd.ignored.size(), 18);
  assert_string_equal(parse({"b", "/m", "-o", "allow_other"}, &plain).c_str(), "");
  assert_true(same_config(a, plain));
}

void test_bucket_spec(void**) {
  MountConfig c;
  assert_true(parse_bucket_spec("b", &c).ok());
  assert_string_equal(c.prefix.c_str(), "");
  assert_true(parse_bucket_spec("b:/", &c).ok());
  assert_string_equal(c.prefix.c_str(), "");
  assert_true(parse_bucket_spec("b:/a/b/", &c).ok());
  assert_string_equal(c.bucket.c_str(), "b");
  assert_string_equal(c.prefix.c_str(), "a/b/");
  assert_true(parse_bucket_spec("b:a", &c).ok());
  assert_string_equal(c.prefix.c_str(), "a/");
  assert_false(parse_bucket_spec(":/a", &c).ok());
  assert_false(parse_bucket_spec("b/a", &c).ok());
  assert_false(parse_bucket_spec("b:/a//c", &c).ok());
  assert_false(parse_bucket_spec("b:/a/../c", &c).ok());
}

void test_positionals_and_subcommands(void**) {
  MountConfig a;
  Command cmd;
  assert_true(contains(parse({}, &a), "missing BUCKET and MOUNTPOINT"));
  assert_true(contains(parse({"b"}, &a), "missing MOUNTPOINT"));
  std::string e = parse({"stats"}, &a);
  assert_true(contains(e, "missing MOUNTPOINT") && contains(e, "commands are mount, status, recover"));
  assert_true(contains(parse({"b", "/m", "extra"}, &a), "unexpected argument 'extra'"));
  assert_string_equal(parse({"--", "b", "/m"}, &a).c_str(), "");
  assert_string_equal(parse({"status"}, &a, &cmd).c_str(), "");
  assert_true(cmd.kind == CommandKind::Status);
  assert_string_equal(parse({"b", "/m", "--help"}, &a, &cmd).c_str(), "");
  assert_true(cmd.kind == CommandKind::Help);
  assert_string_equal(parse({"-h"}, &a, &cmd).c_str(), "");
  assert_true(cmd.kind == CommandKind::Help);
  assert_string_equal(parse({"--version"}, &a, &cmd).c_str(), "");
  assert_true(cmd.kind == CommandKind::Version);
  // -d is debug logging, -f foreground, grouped too.
  assert_string_equal(parse({"b", "/m", "-fd"}, &a).c_str(), "");
  assert_true(a.foreground);
  assert_string_equal(a.log_level.c_str(), "debug");
  assert_string_equal(parse({"b", "/m", "-d"}, &a).c_str(), "");
  assert_false(a.foreground);
  assert_string_equal(a.log_level.c_str(), "debug");
}

std::string dashed(std::string s) {
  for (char& ch : s) {
    if (ch == '_') ch = '-';
  }
  return s;
}

// The help is word-wrapped, so compare the first few words of each text.
std::string first_words(const std::string& s) { return s.substr(0, std::min<size_t>(s.size(), 24)); }

void test_help_lists_every_option(void**) {
  const std::string help = help_text();
  for (const OptionSpec& s : option_table()) {
    if ((s.commands & kForMount) == 0) {
      // A subcommand's own option: in that subcommand's help instead.
      bool listed = false;
      for (CommandKind k : {CommandKind::Status, CommandKind::Recover, CommandKind::Retry, CommandKind::Uploads})
        if ((s.commands & command_bit(k)) != 0)
          listed = contains(subcommand_options_help(k), "--" + dashed(s.name));
      assert_true(listed);
      assert_false(contains(help, "--" + dashed(s.name) + " ") || contains(help, "--" + dashed(s.name) + "\n"));
      continue;
    }
    if (s.kind == OptionKind::Ignored) {
      assert_true(contains(help, s.name));
      continue;
    }
    assert_true(contains(help, std::string("-o ") + s.name));
    assert_true(contains(help, "--" + dashed(s.name)));
    assert_non_null(s.help);
    assert_true(contains(help, first_words(s.help)));
    for (const char* alias : s.aliases) assert_true(contains(help, alias));
    assert_non_null(find_option(s.name));
  }
  assert_true(contains(help, "--help") && contains(help, "--version") && contains(help, "-f, -o foreground"));
}

// A subcommand's parse as one line of text (or its error).
std::string sub(CommandKind kind, const std::vector<std::string>& args) {
  auto r = parse_subcommand(kind, args);
  if (!r) return r.error();
  const MountConfig& c = r->config;
  std::string s = "cache=" + c.cache_dir + " bucket=" + c.bucket + " state=" + c.sub.state_dir +
                  (c.sub.json ? " json" : "") + (c.sub.wait ? " wait" : "") + (c.sub.watch ? " watch" : "") +
                  " timeout=" + std::to_string(static_cast<int>(c.sub.timeout_s)) +
                  (c.sub.abort_orphans ? " abort" : "") + " older=" + c.sub.older_than + " operands=";
  for (const auto& o : r->operands) s += o + ";";
  return s + (r->help ? " help" : "");
}

void test_subcommands_use_the_table(void**) {
  assert_string_equal(
      sub(CommandKind::Status, {"/m", "--cache_dir", "/c", "--json", "--wait", "--timeout=5", "--bucket", "b"})
          .c_str(),
      "cache=/c bucket=b state= json wait timeout=5 older= operands=/m;");
  assert_string_equal(sub(CommandKind::Status, {"-o", "cache_dir=/c,watch", "--state-dir", "/s"}).c_str(),
                      "cache=/c bucket= state=/s watch timeout=0 older= operands=");
  assert_string_equal(sub(CommandKind::Status, {"--frob"}).c_str(),
                      "unknown option '--frob' (see bucketfs status --help)");
  // Options are per command: status has no --abort-orphans, the mount no --json.
  assert_string_equal(sub(CommandKind::Status, {"--abort-orphans"}).c_str(),
                      "unknown option '--abort-orphans' (see bucketfs status --help)");
  MountConfig c;
  assert_string_equal(parse({"b", "/m", "--json"}, &c).c_str(), "unknown option '--json' (see bucketfs --help)");
  assert_string_equal(sub(CommandKind::Status, {"--timeout"}).c_str(),
                      "option '--timeout' needs a value (--timeout VALUE)");
  assert_string_equal(sub(CommandKind::Recover, {"--checkpoint-dir", "/c/b-1/checkpoint/"}).c_str(),
                      "cache= bucket= state=/c/b-1 timeout=0 older= operands=");
  assert_string_equal(sub(CommandKind::Retry, {"/m", "k1", "k2", "--bucket=b"}).c_str(),
                      "cache= bucket=b state= timeout=0 older= operands=/m;k1;k2;");
  assert_string_equal(
      sub(CommandKind::Uploads, {"b:/p", "--abort-orphans", "--older-than", "7d", "-o", "url=http://h"}).c_str(),
      "cache= bucket= state= timeout=0 abort older=7d operands=b:/p;");
  assert_string_equal(sub(CommandKind::Retry, {"/m", "-h"}).c_str(),
                      "cache= bucket= state= timeout=0 older= operands=/m; help");
  assert_true(contains(subcommand_options_help(CommandKind::Uploads), "--older-than DURATION") ||
              contains(subcommand_options_help(CommandKind::Uploads), "--older-than VALUE"));
  assert_false(contains(subcommand_options_help(CommandKind::Uploads), "--endpoint"));
}

void test_one_cache_dir_default(void**) {
  assert_string_equal(default_cache_dir("/home/u", false).value_or("none").c_str(), "/home/u/.cache/bucketfs");
  assert_string_equal(default_cache_dir("", true).value_or("none").c_str(), "/var/cache/bucketfs");
  assert_false(default_cache_dir("", false).has_value());
  MountConfig c;
  c.bucket = "b";
  c.mountpoint = "/m";
  auto r = resolve_defaults(&c, "", false);
  assert_false(static_cast<bool>(r));
  assert_string_equal(r.error().c_str(), kNoCacheDir);
}

void test_store_and_mount_translation(void**) {
  MountConfig a;
  assert_string_equal(parse({"b:/p", "/m", "-o",
                             "url=http://127.0.0.1:7480,sigv=2,retries=2,connect_timeout=3,"
                             "ca_file=/ca.pem,allow_other,ro,-f"},
                            &a)
                          .c_str(),
                      "unknown option '-f' (see bucketfs --help)");
  assert_string_equal(parse({"b:/p", "/m", "-o",
                             "url=http://127.0.0.1:7480,sigv=2,retries=2,connect_timeout=3,ca_file=/ca.pem,"
                             "allow_other,ro",
                             "-f"},
                            &a)
                          .c_str(),
                      "");
  sign::Credentials creds;
  creds.access_key_id = "AK";
  auto sc = make_store_config(a, std::make_shared<creds::StaticProvider>(creds, "test", "env"));
  assert_true(sc.dialect == store::Dialect::S3);
  assert_int_equal(sc.sig_version, 2);
  assert_string_equal(sc.endpoint.c_str(), "http://127.0.0.1:7480");
  assert_string_equal(sc.bucket.c_str(), "b");
  assert_true(sc.path_style);
  assert_int_equal(sc.max_attempts, 3);
  assert_int_equal(sc.connect_timeout_ms, 3000);
  assert_string_equal(sc.ca_file.c_str(), "/ca.pem");
  assert_string_equal(sc.credentials_provider->current()->credentials->access_key_id.c_str(), "AK");
  auto mo = make_mount_options(a);
  assert_string_equal(mo.mountpoint.c_str(), "/m");
  assert_true(mo.foreground && mo.allow_other && mo.read_only);
  assert_string_equal(mo.fsname.c_str(), "b:/p");
}

// The object options: parsed, checked against the provider, translated.
bool object_options_cases() {
  bool ok = true;
  MountConfig c;
  ok &= parse({"b", "/m", "-o",
               "url=http://127.0.0.1:7480,sse=aws:kms:key-1,storage_class=STANDARD_IA,checksum=crc64nvme,"
               "list_version=1"},
              &c)
            .empty();
  auto sc = make_store_config(c, {});
  ok &= sc.encryption.mode == store::Encryption::Mode::Kms && sc.encryption.kms_key_id == "key-1";
  ok &= sc.storage_class == "STANDARD_IA" && sc.list_version == 1;
  ok &= sc.checksum == store::HttpStoreConfig::Checksum::Crc64Nvme;
  MountConfig d;
  ok &= parse({"b", "/m", "--endpoint", "http://127.0.0.1:1", "--sse-c-key-file", "/k"}, &d).empty();
  ok &= d.sse_c_key_file == "/k" && make_store_config(d, {}).checksum == store::HttpStoreConfig::Checksum::Auto;
  ok &= make_store_config(d, {}).list_version == 0;
  MountConfig o;
  ok &= parse({"b", "/m", "-o", "url=https://oss-cn-hangzhou.aliyuncs.com,sse=KMS:cmk"}, &o).empty();
  ok &= make_store_config(o, {}).encryption.kms_key_id == "cmk";
  MountConfig x;
  // Each error names what to do.
  ok &= contains(parse({"b", "/m", "-o", "url=http://h,sse=KMS"}, &x), "aws:kms");
  ok &=
      contains(parse({"b", "/m", "-o", "url=https://oss-cn-hangzhou.aliyuncs.com,sse=aws:kms"}, &x), "KMS:KEYID");
  ok &= contains(parse({"b", "/m", "-o", "url=http://h,sse=AES256,sse_c_key_file=/k"}, &x), "not both");
  ok &= contains(parse({"b", "/m", "-o", "url=https://oss-cn-hangzhou.aliyuncs.com,sse_c_key_file=/k"}, &x),
                 "SSE-C");
  ok &= contains(parse({"b", "/m", "-o", "url=http://h,storage_class=a b"}, &x), "storage_class");
  ok &= contains(parse({"b", "/m", "-o", "url=http://h,checksum=sha1"}, &x), "checksum");
  ok &=
      contains(parse({"b", "/m", "-o", "url=https://oss-cn-hangzhou.aliyuncs.com,checksum=crc32c"}, &x), "CRC-64");
  ok &= contains(parse({"b", "/m", "-o", "url=http://h,list_version=3"}, &x), "list_version");
  return ok;
}

void test_object_options(void**) { assert_true(object_options_cases()); }

void test_check_failure_lines(void**) {
  MountConfig a;
  assert_string_equal(parse({"b", "/m", "-o", "url=http://127.0.0.1:7480"}, &a).c_str(), "");
  store::Error e;
  e.code = store::ErrorCode::SignatureMismatch;
  e.http_status = 403;
  e.server_code = "SignatureDoesNotMatch";
  std::string line = describe_check_failure(a, e);
  assert_true(contains(line, "cannot mount bucket 'b' at http://127.0.0.1:7480: SignatureDoesNotMatch (403)"));
  assert_true(contains(line, "secret key is wrong"));
  assert_true(line.find('\n') == std::string::npos);
  e.code = store::ErrorCode::NoSuchBucket;
  e.http_status = 404;
  e.server_code = "NoSuchBucket";
  assert_true(contains(describe_check_failure(a, e), "the bucket does not exist"));
  e = store::Error{};
  e.code = store::ErrorCode::Transient;
  e.message = "Couldn't connect to server";
  line = describe_check_failure(a, e);
  assert_true(contains(line, "the endpoint does not answer") && contains(line, "check the endpoint URL"));
  e.code = store::ErrorCode::InvalidAccessKey;
  e.http_status = 403;
  e.server_code = "InvalidAccessKeyId";
  assert_true(contains(describe_check_failure(a, e), "access key"));
}

void test_check_mountpoint(void**) {
  assert_true(check_mountpoint("/").ok());
  auto r = check_mountpoint("/nonexistent/bucketfs-test");
  assert_false(r.ok());
  assert_true(contains(r.error(), "does not exist"));
  r = check_mountpoint("/proc/self/status");
  assert_false(r.ok());
  assert_true(contains(r.error(), "not a directory"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_o_and_long_spellings_agree),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_upload_while_writing_concurrency),
      cmocka_unit_test(test_shown_defaults_are_the_defaults),
      cmocka_unit_test(test_provider_guessing),
      cmocka_unit_test(test_sigv_per_provider),
      cmocka_unit_test(test_unknown_option),
      cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_fstab_options_ignored),
      cmocka_unit_test(test_bucket_spec),
      cmocka_unit_test(test_positionals_and_subcommands),
      cmocka_unit_test(test_help_lists_every_option),
      cmocka_unit_test(test_subcommands_use_the_table),
      cmocka_unit_test(test_one_cache_dir_default),
      cmocka_unit_test(test_store_and_mount_translation),
      cmocka_unit_test(test_object_options),
      cmocka_unit_test(test_check_failure_lines),
      cmocka_unit_test(test_check_mountpoint),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
