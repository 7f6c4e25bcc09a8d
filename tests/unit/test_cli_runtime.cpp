// test_cli_runtime.cpp - what lets `bucketfs status MOUNTPOINT` work without
// --cache-dir: the runtime record (its text form, where it is written, how a
// mountpoint is canonicalised without touching the mount), the lines status
// prints about the mount and its credentials, and the credential options.
//
// C++ objects live in a fixture-owned State (cmocka longjmps on failure).
#include <sys/stat.h>
#include <unistd.h>
#include <filesystem>

#include <algorithm>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/cli/options.hpp"
#include "bucketfs/cli/runtime_registry.hpp"
#include "bucketfs/cli/status_command.hpp"
#include "bucketfs/creds/chain.hpp"

using namespace bucketfs;
using namespace bucketfs::cli;

namespace {

struct State {
  std::string dir;
  std::string old_xdg;
  bool had_xdg = false;
};

int setup(void** state) {
  auto* s = new State;
  char tmpl[] = "/tmp/bucketfs-rt-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return -1;
  s->dir = tmpl;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR")) {
    s->had_xdg = true;
    s->old_xdg = x;
  }
  ::setenv("XDG_RUNTIME_DIR", s->dir.c_str(), 1);
  *state = s;
  return 0;
}

int teardown(void** state) {
  auto* s = static_cast<State*>(*state);
  if (s->had_xdg)
    ::setenv("XDG_RUNTIME_DIR", s->old_xdg.c_str(), 1);
  else
    ::unsetenv("XDG_RUNTIME_DIR");
  std::error_code ec;
  std::filesystem::remove_all(s->dir, ec);
  delete s;
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

MountRecord sample(const std::string& mountpoint) {
  MountRecord r;
  r.mountpoint = mountpoint;
  r.state_dir = "/srv/cache dir/b-1234\nwith newline";
  r.bucket = "b";
  r.endpoint = "http://127.0.0.1:7480";
  r.pid = 4242;
  r.metrics = "127.0.0.1:9100";
  r.credentials_source = "profile 'dev': assume role arn:aws:iam::1:role/r";
  r.credentials_usable = false;
  r.credentials_expiration = 1796113971;
  r.credentials_error = "STS answered HTTP 500";
  r.credentials_failing_since = 1796113000;
  return r;
}

void record_round_trip(void**) {
  MountRecord r = sample("/mnt/x y");
  MountRecord back;
  assert_true(parse_mount_record(format_mount_record(r), &back));
  assert_string_equal(back.mountpoint.c_str(), "/mnt/x y");
  assert_string_equal(back.state_dir.c_str(), r.state_dir.c_str());
  assert_int_equal(back.pid, 4242);
  assert_string_equal(back.metrics.c_str(), "127.0.0.1:9100");
  assert_false(back.credentials_usable);
  assert_int_equal(back.credentials_expiration, 1796113971);
  assert_string_equal(back.credentials_error.c_str(), "STS answered HTTP 500");
  // One value per line, whatever it holds.
  const std::string text = format_mount_record(r);
  assert_int_equal(std::count(text.begin(), text.end(), '\n'), 12);
  MountRecord bad;
  assert_false(parse_mount_record("mountpoint=/m\nstate_dir=/s\n", &bad));  // no version
  assert_false(parse_mount_record("version=1\nstate_dir=/s\n", &bad));      // no mountpoint
}

void written_and_found(void** state) {
  State* s = st(state);
  assert_string_equal(runtime_dir().c_str(), (s->dir + "/bucketfs").c_str());
  const std::string mnt = s->dir + "/mnt";
  assert_int_equal(::mkdir(mnt.c_str(), 0755), 0);
  // Canonical: the parent resolved, the last component as given.
  assert_int_equal(::symlink(s->dir.c_str(), (s->dir + "/link").c_str()), 0);
  assert_string_equal(canonical_mountpoint(s->dir + "/link/mnt/").c_str(), mnt.c_str());
  assert_true(write_mount_record(sample(canonical_mountpoint(mnt))).ok());
  struct stat stt;
  assert_int_equal(::stat((s->dir + "/bucketfs/mounts").c_str(), &stt), 0);
  assert_int_equal(stt.st_mode & 0777, 0700);
  MountRecord found;
  assert_true(find_mount_record(s->dir + "/link/mnt", &found));
  assert_string_equal(found.state_dir.c_str(), "/srv/cache dir/b-1234\nwith newline");
  assert_false(find_mount_record(s->dir, &found));
  // pid 4242 is not serving a fuse.bucketfs mount at that path.
  assert_false(mount_is_live(found));
  // A rewrite replaces the record.
  MountRecord r2 = sample(mnt);
  r2.pid = ::getpid();
  assert_true(write_mount_record(r2).ok());
  assert_true(find_mount_record(mnt, &found));
  assert_int_equal(found.pid, ::getpid());
  assert_false(mount_is_live(found));  // alive, but nothing is mounted there
}

void mount_lines(void**) {
  MountStatus m;
  m.running = true;
  m.pid = 7;
  m.mountpoint = "/mnt/b";
  m.metrics = "127.0.0.1:9100";
  m.credentials_source = "EC2 instance metadata at http://169.254.169.254";
  m.credentials_expiration = 1796113971;
  assert_string_equal(render_mount(m).c_str(),
                      "mount: /mnt/b (running, pid 7), metrics at http://127.0.0.1:9100/metrics\n"
                      "credentials: EC2 instance metadata at http://169.254.169.254, valid until "
                      "2026-12-01T08:32:51Z\n");
  m.credentials_error = "cannot reach ...";
  m.credentials_failing_since = 1796113900;
  assert_non_null(strstr(render_mount(m).c_str(),
                         "; refreshing fails since 2026-12-01T08:31:40Z (cannot reach ...), retrying\n"));
  m.credentials_usable = false;
  assert_non_null(strstr(render_mount(m).c_str(),
                         "; EXPIRED at 2026-12-01T08:32:51Z; refreshing has failed since 2026-12-01T08:31:40Z: "
                         "cannot reach ...; uploads wait (checkpointed) until a refresh succeeds\n"));
  m.running = false;
  assert_string_equal(render_mount(m).c_str(), "mount: /mnt/b (not running)\n");
  StatusSnapshot snap;
  snap.state_dir = "/s";
  snap.mount = m;
  assert_string_equal(render_plain(snap).c_str(), "mount: /mnt/b (not running)\nnothing pending\n");
  std::string json = render_json(snap);
  assert_non_null(strstr(json.c_str(), "\"mount\":{\"mountpoint\":\"/mnt/b\",\"running\":false,\"pid\":7,"));
  assert_non_null(strstr(json.c_str(), "\"credentials\":{\"source\":\"EC2 instance metadata"));
  assert_non_null(strstr(json.c_str(), "\"valid\":false,\"expiration\":1796113971"));
}

void credential_options(void**) {
  auto cmd = parse_command_line({"bucketfs", "b", "/m", "-o",
                                 "credentials=web_identity,profile=dev,sts_endpoint=http://sts,"
                                 "metadata_endpoint=http://md,imdsv1,metrics=127.0.0.1:9100",
                                 "--credential-process", "/bin/creds --x"});
  assert_true(cmd.ok());
  const MountConfig& c = cmd->config;
  assert_string_equal(c.credentials_source.c_str(), "web_identity");
  assert_string_equal(c.profile.c_str(), "dev");
  assert_string_equal(c.sts_endpoint.c_str(), "http://sts");
  assert_string_equal(c.metadata_endpoint.c_str(), "http://md");
  assert_true(c.imds_v1);
  assert_string_equal(c.metrics.c_str(), "127.0.0.1:9100");
  assert_string_equal(c.credential_process.c_str(), "/bin/creds --x");
  auto bad = parse_command_line({"bucketfs", "b", "/m", "-o", "credentials=magic"});
  assert_false(bad.ok());
  // The option accepts exactly the sources the chain knows.
  const OptionSpec* spec = find_option("credentials");
  assert_non_null(spec);
  const auto& kinds = creds::source_kinds();
  assert_int_equal(spec->choices.size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) assert_string_equal(spec->choices[i], kinds[i].c_str());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(record_round_trip),
      cmocka_unit_test_setup_teardown(written_and_found, setup, teardown),
      cmocka_unit_test(mount_lines),
      cmocka_unit_test(credential_options),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
