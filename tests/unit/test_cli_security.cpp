// test_cli_security.cpp - the command line's security defaults: allow_other
// brings default_permissions (opt out only by name), the warnings a mount
// shows once, and which multipart uploads `bucketfs uploads --abort-orphans`
// may abort.
#include <string>
#include <vector>

#include "bucketfs/cli/app.hpp"
#include "bucketfs/cli/maintenance.hpp"
#include "bucketfs/cli/options.hpp"
#include "bucketfs/cli/status_command.hpp"

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

// Parsed and resolved config of a mount command line ("" error on success).
std::string parse(std::vector<std::string> args, MountConfig* out) {
  args.insert(args.begin(), "bucketfs");
  auto r = parse_command_line(args);
  if (!r) return r.error();
  auto d = resolve_defaults(&r->config, "/home/u", false);
  if (!d) return d.error();
  *out = r->config;
  return "";
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

bool kernel_checks(const MountConfig& c) { return make_mount_options(c).default_permissions; }

void test_allow_other_brings_default_permissions(void**) {
  MountConfig c;
  assert_string_equal(parse({"b", "/mnt", "-o", "allow_other"}, &c).c_str(), "");
  assert_true(c.allow_other);
  assert_true(kernel_checks(c));
  assert_string_equal(parse({"b", "/mnt", "--allow-other"}, &c).c_str(), "");
  assert_true(kernel_checks(c));
  // Without allow_other only the mounting user gets in: no check is needed.
  assert_string_equal(parse({"b", "/mnt"}, &c).c_str(), "");
  assert_false(kernel_checks(c));
  assert_string_equal(parse({"b", "/mnt", "-o", "default_permissions"}, &c).c_str(), "");
  assert_true(kernel_checks(c));
  // Opting out takes its own name (or default_permissions=0), in any order.
  assert_string_equal(parse({"b", "/mnt", "-o", "no_default_permissions,allow_other"}, &c).c_str(), "");
  assert_false(kernel_checks(c));
  assert_string_equal(parse({"b", "/mnt", "-o", "allow_other,default_permissions=0"}, &c).c_str(), "");
  assert_false(kernel_checks(c));
  assert_true(contains(help_text(), "no_default_permissions"));
}

void test_security_warnings(void**) {
  MountConfig c;
  assert_string_equal(parse({"b", "/mnt", "-o", "url=https://s3.example.com,allow_other"}, &c).c_str(), "");
  assert_true(security_warnings(c).empty());

  assert_string_equal(parse({"b", "/mnt", "-o", "url=http://127.0.0.1:9000"}, &c).c_str(), "");
  auto w = security_warnings(c);
  assert_int_equal(w.size(), 1);
  assert_true(contains(w[0], "http://127.0.0.1:9000"));
  assert_true(contains(w[0], "in clear"));

  assert_string_equal(parse({"b", "/mnt", "-o", "url=https://s3.example.com,no_verify_ssl"}, &c).c_str(), "");
  w = security_warnings(c);
  assert_int_equal(w.size(), 1);
  assert_true(contains(w[0], "no_verify_ssl"));

  assert_string_equal(
      parse({"b", "/mnt", "-o", "url=https://s3.example.com,allow_other,no_default_permissions"}, &c).c_str(), "");
  w = security_warnings(c);
  assert_int_equal(w.size(), 1);
  assert_true(contains(w[0], "every local user"));
  // no_default_permissions alone (no other user gets in) is no risk.
  assert_string_equal(parse({"b", "/mnt", "-o", "url=https://s3.example.com,no_default_permissions"}, &c).c_str(),
                      "");
  assert_true(security_warnings(c).empty());
}

void test_parse_duration(void**) {
  assert_int_equal(*parse_duration("0"), 0);
  assert_int_equal(*parse_duration("90"), 90);
  assert_int_equal(*parse_duration("90s"), 90);
  assert_int_equal(*parse_duration("15m"), 900);
  assert_int_equal(*parse_duration("12h"), 43200);
  assert_int_equal(*parse_duration("7d"), 604800);
  for (const char* bad : {"", "d", "-1", "1.5h", "7w", "1h30m", " 5", "99999999999999999999"}) {
    auto r = parse_duration(bad);
    if (r) fail_msg("'%s' was accepted", bad);
    assert_true(contains(r.error(), "e.g. 90m, 7d"));
  }
}

// Pending uploads are never aborted; orphans (ours, in the failed table)
// always; unknown ones only with --older-than and only when older.
void test_which_uploads_may_be_aborted(void**) {
  LocalUploads local;
  local.pending = {"live"};
  local.failed = {"dead"};
  assert_int_equal(static_cast<int>(classify_upload(local, "live")), static_cast<int>(UploadOwner::Pending));
  assert_int_equal(static_cast<int>(classify_upload(local, "dead")), static_cast<int>(UploadOwner::Orphan));
  assert_int_equal(static_cast<int>(classify_upload(local, "curl")), static_cast<int>(UploadOwner::Unknown));
  const std::time_t now = 1700000000;
  const std::time_t hour_ago = now - 3600;
  assert_false(may_abort(UploadOwner::Pending, hour_ago, 0L, now));
  assert_true(may_abort(UploadOwner::Orphan, hour_ago, std::nullopt, now));
  assert_false(may_abort(UploadOwner::Unknown, hour_ago, std::nullopt, now));
  assert_true(may_abort(UploadOwner::Unknown, hour_ago, 3600L, now));
  assert_false(may_abort(UploadOwner::Unknown, hour_ago, 3601L, now));
  assert_true(may_abort(UploadOwner::Unknown, hour_ago, 0L, now));
  assert_false(may_abort(UploadOwner::Unknown, 0, 0L, now));  // the server did not say when
}

// A cache dir with no state is empty, not an error; one that cannot be read is.
void test_local_uploads_of_missing_cache_dir(void**) {
  auto r = load_local_uploads("/nonexistent/bucketfs-cache");
  assert_true(r.ok());
  assert_int_equal(r->stores, 0);
  assert_true(r->pending.empty() && r->failed.empty());
}

// `bucketfs status` shows a key's control characters escaped, in every form
// but --json (which escapes them its own way).
void test_status_escapes_keys(void**) {
  StatusSnapshot snap;
  checkpoint::UploadRecord r;
  r.key = "evil\x1b]0;owned\x07\nforged";
  r.size = 10;
  r.last_error = "server said \x1b[2J";
  snap.pending.push_back(r);
  snap.failed.push_back(r);
  for (const std::string& out : {render_plain(snap), render_tty(snap, {}, 200)}) {
    assert_true(out.find('\x1b') == std::string::npos);
    assert_true(out.find('\x07') == std::string::npos);
    assert_true(contains(out, "evil\\x1b]0;owned\\x07\\x0aforged"));
  }
  const std::string json = render_json(snap);
  assert_true(json.find('\x1b') == std::string::npos);
  assert_true(contains(json, "evil\\u001b]0;owned\\u0007\\nforged"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allow_other_brings_default_permissions),
      cmocka_unit_test(test_security_warnings),
      cmocka_unit_test(test_parse_duration),
      cmocka_unit_test(test_which_uploads_may_be_aborted),
      cmocka_unit_test(test_local_uploads_of_missing_cache_dir),
      cmocka_unit_test(test_status_escapes_keys),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
