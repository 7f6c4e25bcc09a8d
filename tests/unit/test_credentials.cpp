// test_credentials.cpp - passwd-file parsing, the mode check, keys from the
// environment through the credential chain, and that no message ever
// carries the secret.
//
// C++ objects live in a fixture-owned State (cmocka longjmps on failure).
#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
// Debian's cmocka 1.1.5 header has no extern "C" guard of its own.
extern "C" {
#include <cmocka.h>
}

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bucketfs/creds/chain.hpp"
#include "bucketfs/creds/passwd.hpp"

using namespace bucketfs;
using namespace bucketfs::creds;

namespace {
enum class Dialect { S3, OSS };
}

namespace {

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct State {
  std::optional<Result<sign::Credentials, std::string>> r;
  std::map<std::string, std::string> env_vars;
  EnvLookup env;
  std::vector<std::string> files;  // removed at teardown
  std::string dir;                 // a temporary HOME, removed at teardown
  std::vector<std::string> errors;
};

int setup(void** state) {
  auto* s = new State;
  s->env = [s](const char* name) -> const char* {
    auto it = s->env_vars.find(name);
    return it == s->env_vars.end() ? nullptr : it->second.c_str();
  };
  *state = s;
  return 0;
}

int teardown(void** state) {
  auto* s = static_cast<State*>(*state);
  for (const auto& f : s->files) ::unlink(f.c_str());
  if (!s->dir.empty()) ::rmdir(s->dir.c_str());
  delete s;
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

// The chain with the instance metadata services off (no network in unit
// tests), reduced to the credentials it chose.
Result<sign::Credentials, std::string> load_credentials(Dialect d, const std::string& bucket,
                                                        const std::string& passwd_file, const EnvLookup& env) {
  ChainOptions o;
  o.family = d == Dialect::OSS ? Family::Alibaba : Family::Aws;
  o.bucket = bucket;
  o.passwd_file = passwd_file;
  o.env = [env](const char* name) -> const char* {
    if (std::strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0 ||
        std::strcmp(name, "ALIBABA_CLOUD_ECS_METADATA_DISABLED") == 0)
      return "true";
    return env(name);
  };
  auto chosen = choose_credentials(o);
  if (!chosen) return chosen.error();
  auto cur = chosen->provider->current();
  if (!cur) return cur.error();
  return *cur->credentials;
}

// A temporary file with `content` and `mode`, removed at teardown. The reference
// stays valid until the next temp_file call.
const std::string& temp_file(State* s, const std::string& content, mode_t mode) {
  char tmpl[] = "/tmp/bucketfs-cred-XXXXXX";
  int fd = ::mkstemp(tmpl);
  assert_true(fd >= 0);
  assert_int_equal(::write(fd, content.data(), content.size()), content.size());
  assert_int_equal(::fchmod(fd, mode), 0);
  ::close(fd);
  s->files.push_back(tmpl);
  return s->files.back();
}

void parse_variants(void** state) {
  State* s = st(state);
  s->r = parse_passwd("AKIDEXAMPLE:secret1\n", "b");
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "AKIDEXAMPLE");
  assert_true(s->r->value().secret.reveal() == "secret1");
  assert_true(s->r->value().session_token.empty());

  // Comments, blank lines, surrounding whitespace, CRLF, no final newline.
  s->r = parse_passwd("# my keys\r\n\r\n   \t\n  # indented comment\r\n  AK2 : sec/ret+2==  \r\n", "b");
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "AK2");
  assert_true(s->r->value().secret.reveal() == "sec/ret+2==");

  s->r = parse_passwd("mybucket:AK3:secret3", "mybucket");
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "AK3");
  assert_true(s->r->value().secret.reveal() == "secret3");
}

void bucket_line_wins(void** state) {
  State* s = st(state);
  const char* content =
      "GENERIC:gsecret\n"
      "other:OTHERAK:osecret\n"
      "mybucket:BUCKETAK:bsecret\n"
      "GENERIC2:g2secret\n";
  s->r = parse_passwd(content, "mybucket");
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "BUCKETAK");
  assert_true(s->r->value().secret.reveal() == "bsecret");

  // No line for this bucket: the first generic line.
  s->r = parse_passwd(content, "thirdbucket");
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "GENERIC");

  // Only lines for other buckets: an error naming the bucket.
  s->r = parse_passwd("other:OTHERAK:osecret\n", "mybucket");
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "mybucket"));

  s->r = parse_passwd("# nothing here\n\n", "mybucket");
  assert_false(s->r->ok());
}

void malformed_line_number(void** state) {
  State* s = st(state);
  s->r = parse_passwd("# c\nAK:sec\n\njustonefield\n", "b");
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "line 4"));
  assert_null(strchr(s->r->error().c_str(), '\n'));

  s->r = parse_passwd("a:b:c:d\n", "b");
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "line 1"));

  s->r = parse_passwd("\r\n:secret\n", "b");  // empty access key
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "line 2"));

  s->r = parse_passwd("AK:sec ret\n", "b");  // whitespace inside a field
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "line 1"));
}

void file_mode_refused(void** state) {
  State* s = st(state);
  const std::string& path = temp_file(s, std::string("AKFILE:") + kSecret + "\n", 0644);
  s->r = load_passwd_file(path, "b");
  assert_false(s->r->ok());
  const std::string& msg = s->r->error();
  assert_non_null(strstr(msg.c_str(), path.c_str()));
  assert_non_null(strstr(msg.c_str(), ("chmod 600 " + path).c_str()));
  assert_null(strchr(msg.c_str(), '\n'));
  assert_null(strstr(msg.c_str(), kSecret));

  // Group-readable only is refused too.
  assert_int_equal(::chmod(path.c_str(), 0640), 0);
  s->r = load_passwd_file(path, "b");
  assert_false(s->r->ok());

  assert_int_equal(::chmod(path.c_str(), 0600), 0);
  s->r = load_passwd_file(path, "b");
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "AKFILE");
  assert_true(s->r->value().secret.reveal() == kSecret);

  assert_int_equal(::chmod(path.c_str(), 0400), 0);
  s->r = load_passwd_file(path, "b");
  assert_true(s->r->ok());
}

void file_errors(void** state) {
  State* s = st(state);
  s->r = load_passwd_file("/nonexistent/bucketfs-passwd", "b");
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "/nonexistent/bucketfs-passwd"));

  const std::string& path = temp_file(s, "ok:fine\nbroken-line\n", 0600);
  s->r = load_passwd_file(path, "b");
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), path.c_str()));
  assert_non_null(strstr(s->r->error().c_str(), "line 2"));
}

void env_s3(void** state) {
  State* s = st(state);
  s->env_vars = {{"AWS_ACCESS_KEY_ID", "AKIAENV"},
                 {"AWS_SECRET_ACCESS_KEY", kSecret},
                 {"AWS_SESSION_TOKEN", "tok123"},
                 {"OSS_ACCESS_KEY_ID", "LTAIENV"},
                 {"OSS_ACCESS_KEY_SECRET", "osssecret"}};
  s->r = load_credentials(Dialect::S3, "b", "", s->env);
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "AKIAENV");
  assert_true(s->r->value().secret.reveal() == kSecret);
  assert_string_equal(s->r->value().session_token.c_str(), "tok123");

  // OSS dialect prefers OSS_*.
  s->r = load_credentials(Dialect::OSS, "b", "", s->env);
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "LTAIENV");
  assert_true(s->r->value().secret.reveal() == "osssecret");
  assert_true(s->r->value().session_token.empty());
}

void env_fallback_family(void** state) {
  State* s = st(state);
  s->env_vars = {
      {"OSS_ACCESS_KEY_ID", "LTAIONLY"}, {"OSS_ACCESS_KEY_SECRET", "osssecret"}, {"OSS_SESSION_TOKEN", "st"}};
  s->r = load_credentials(Dialect::S3, "b", "", s->env);
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "LTAIONLY");
  assert_string_equal(s->r->value().session_token.c_str(), "st");

  s->env_vars = {{"AWS_ACCESS_KEY_ID", "AKIAONLY"}, {"AWS_SECRET_ACCESS_KEY", "awssecret"}};
  s->r = load_credentials(Dialect::OSS, "b", "", s->env);
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "AKIAONLY");
}

void env_partial_is_an_error(void** state) {
  State* s = st(state);
  s->env_vars = {{"AWS_SECRET_ACCESS_KEY", kSecret}};
  s->r = load_credentials(Dialect::S3, "b", "", s->env);
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "AWS_ACCESS_KEY_ID"));
  assert_null(strstr(s->r->error().c_str(), kSecret));
}

// An explicit passwd file is used even when the environment has keys.
void explicit_file_first(void** state) {
  State* s = st(state);
  s->env_vars = {{"AWS_ACCESS_KEY_ID", "AKIAENV"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}};
  const std::string& path = temp_file(s, "b:AKFROMFILE:filesecret\n", 0600);
  s->r = load_credentials(Dialect::S3, "b", path, s->env);
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "AKFROMFILE");
}

// $HOME/.passwd-s3fs is found when the environment is empty; a too-open one is refused.
void default_home_file(void** state) {
  State* s = st(state);
  char tmpl[] = "/tmp/bucketfs-home-XXXXXX";
  assert_non_null(::mkdtemp(tmpl));
  s->dir = tmpl;
  s->env_vars = {{"HOME", s->dir}};
  s->files.push_back(s->dir + "/.passwd-s3fs");
  FILE* f = std::fopen(s->files.back().c_str(), "w");
  assert_non_null(f);
  std::fputs("b:AKHOME:homesecret\n", f);
  std::fclose(f);
  assert_int_equal(::chmod(s->files.back().c_str(), 0600), 0);

  s->r = load_credentials(Dialect::S3, "b", "", s->env);
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().access_key_id.c_str(), "AKHOME");

  assert_int_equal(::chmod(s->files.back().c_str(), 0644), 0);
  s->r = load_credentials(Dialect::S3, "b", "", s->env);
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "chmod 600"));

  assert_int_equal(default_passwd_files(s->env).size(), 4);
  assert_string_equal(default_passwd_files(s->env)[0].c_str(), (s->dir + "/.passwd-bucketfs").c_str());
}

void nothing_found(void** state) {
  State* s = st(state);
  // The /etc defaults are outside the test's control; skip if this host has one.
  if (::access("/etc/passwd-bucketfs", F_OK) == 0 || ::access("/etc/passwd-s3fs", F_OK) == 0) skip();
  char tmpl[] = "/tmp/bucketfs-home-XXXXXX";
  assert_non_null(::mkdtemp(tmpl));
  s->dir = tmpl;
  s->env_vars = {{"HOME", s->dir}};
  s->r = load_credentials(Dialect::S3, "mybucket", "", s->env);
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "no credentials found for bucket mybucket (tried: env ("));
  assert_non_null(strstr(s->r->error().c_str(), "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
  assert_null(strchr(s->r->error().c_str(), '\n'));
  s->r = load_credentials(Dialect::OSS, "mybucket", "", s->env);
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET"));
}

// Every failure path above, with the secret somewhere in the input: never in the message.
void no_message_contains_secret(void** state) {
  State* s = st(state);
  const std::string secret = kSecret;
  const std::vector<std::string> contents = {
      "AK:" + secret + ":extra:field\n",    "AK " + secret + "\n", secret + "\n", "other:AK:" + secret + "\n",
      "AK:" + secret + " trailing words\n", ":" + secret + "\n",
  };
  for (const auto& c : contents) {
    s->r = parse_passwd(c, "mybucket");
    assert_false(s->r->ok());
    s->errors.push_back(s->r->error());
    const std::string& path = temp_file(s, c, 0600);
    s->r = load_passwd_file(path, "mybucket");
    assert_false(s->r->ok());
    s->errors.push_back(s->r->error());
    assert_int_equal(::chmod(path.c_str(), 0666), 0);
    s->r = load_passwd_file(path, "mybucket");
    assert_false(s->r->ok());
    s->errors.push_back(s->r->error());
  }
  s->env_vars = {{"OSS_ACCESS_KEY_SECRET", kSecret}};
  s->r = load_credentials(Dialect::OSS, "mybucket", "", s->env);
  assert_false(s->r->ok());
  s->errors.push_back(s->r->error());

  for (const auto& e : s->errors) {
    assert_false(e.empty());
    assert_null(strstr(e.c_str(), kSecret));
    assert_null(strstr(e.c_str(), "wJalrXUtnFEMI"));  // not even a prefix of it
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(parse_variants, setup, teardown),
      cmocka_unit_test_setup_teardown(bucket_line_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(malformed_line_number, setup, teardown),
      cmocka_unit_test_setup_teardown(file_mode_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(file_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(env_s3, setup, teardown),
      cmocka_unit_test_setup_teardown(env_fallback_family, setup, teardown),
      cmocka_unit_test_setup_teardown(env_partial_is_an_error, setup, teardown),
      cmocka_unit_test_setup_teardown(explicit_file_first, setup, teardown),
      cmocka_unit_test_setup_teardown(default_home_file, setup, teardown),
      cmocka_unit_test_setup_teardown(nothing_found, setup, teardown),
      cmocka_unit_test_setup_teardown(no_message_contains_secret, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
