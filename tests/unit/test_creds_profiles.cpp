// test_creds_profiles.cpp - the shared configuration file parser against the
// rules of the AWS SDKs' cross-SDK profile parser tests (comments, spaces,
// continuations, sub-properties, "[profile x]" in config vs "[x]" in
// credentials, default-profile precedence, merging) and the Alibaba file.
//
// C++ objects live in a fixture-owned State (cmocka longjmps on failure).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/creds/profiles.hpp"
#include "lib/creds_fixture.hpp"

using namespace bucketfs;
using namespace bucketfs::creds;

namespace {

struct State {
  ProfileSet set;
  std::optional<Result<void, std::string>> r;
  testsupport::TempEnv tmp{"prof"};
};

int setup(void** state) {
  *state = new State;
  return 0;
}

int teardown(void** state) {
  delete static_cast<State*>(*state);
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

// Parses a config file (and a credentials file) into a fresh set; the error or "".
std::string parse(State* s, const std::string& config, const std::string& credentials = "") {
  s->set = ProfileSet{};
  s->r = parse_profile_file(config, FileKind::Config, "config", &s->set);
  if (!s->r->ok()) return s->r->error();
  s->r = parse_profile_file(credentials, FileKind::Credentials, "credentials", &s->set);
  return s->r->ok() ? "" : s->r->error();
}

std::string value(State* s, const std::string& profile, const std::string& name) {
  const Profile* p = s->set.find(profile);
  if (p == nullptr) return "<no profile>";
  auto v = p->get(name);
  return v ? *v : "<unset>";
}

void comments_and_spaces(void** state) {
  State* s = st(state);
  assert_string_equal(parse(s, "# Comment\n[profile foo] # Comment\nname = value # Comment with # sign").c_str(),
                      "");
  assert_string_equal(value(s, "foo", "name").c_str(), "value");
  assert_string_equal(parse(s, "; Comment\n[profile foo] ; Comment\nname = value ; Comment with ; sign").c_str(),
                      "");
  assert_string_equal(value(s, "foo", "name").c_str(), "value");
  // A comment sign adjacent to a value is part of it.
  assert_string_equal(parse(s, "[profile foo]\nname = value; Adjacent\nname2 = value# Adjacent").c_str(), "");
  assert_string_equal(value(s, "foo", "name").c_str(), "value; Adjacent");
  assert_string_equal(value(s, "foo", "name2").c_str(), "value# Adjacent");
  // Adjacent to a section header it is a comment.
  assert_string_equal(parse(s, "[profile foo]; semicolon\n[profile bar]# pound").c_str(), "");
  assert_non_null(s->set.find("foo"));
  assert_non_null(s->set.find("bar"));
  // Trimming, tabs, CRLF, '=' inside a value, empty values, blank lines.
  assert_string_equal(parse(s, "\t \n[profile \tfoo \t]\r\n\t\n name_is_a_continuation_here = no\n").c_str(),
                      "config line 4: a continuation line (it starts with a space) without a property above it");
  assert_string_equal(
      parse(s, "[profile\tfoo]\r\nname \t=  \tval=ue \t\r\nempty =\n\n[   profile bar    ]").c_str(), "");
  assert_string_equal(value(s, "foo", "name").c_str(), "val=ue");
  assert_string_equal(value(s, "foo", "empty").c_str(), "");
  assert_non_null(s->set.find("bar"));
}

void continuations_and_sub_properties(void** state) {
  State* s = st(state);
  assert_string_equal(parse(s, "[profile foo]\nname = value\n -continued\n \t -and-continued \t").c_str(), "");
  assert_string_equal(value(s, "foo", "name").c_str(), "value\n-continued\n-and-continued");
  assert_string_equal(parse(s, "[profile foo]\nname = value\n -continued # Comment").c_str(), "");
  assert_string_equal(value(s, "foo", "name").c_str(), "value\n-continued # Comment");
  assert_string_equal(
      parse(s, "[profile foo]\ns3 =\n endpoint_url = http://x:1\n\t \n addressing_style = path").c_str(), "");
  assert_string_equal(value(s, "foo", "s3").c_str(), "\nendpoint_url = http://x:1\naddressing_style = path");
  auto sub = sub_properties(value(s, "foo", "s3"));
  assert_string_equal(sub["endpoint_url"].c_str(), "http://x:1");
  assert_string_equal(sub["addressing_style"].c_str(), "path");
}

void errors_name_the_line(void** state) {
  State* s = st(state);
  assert_string_equal(parse(s, "[profile foo").c_str(), "config line 1: a section header must end with ']'");
  assert_string_equal(parse(s, "name = value").c_str(), "config line 1: a property before any [section]");
  assert_string_equal(parse(s, "[profile foo]\n\nkey : value").c_str(), "config line 3: expected 'name = value'");
  assert_string_equal(parse(s, "[profile foo]\n= value").c_str(), "config line 2: a property without a name");
  assert_string_equal(parse(s, " -continued").c_str(), "config line 1: a continuation line before any [section]");
  assert_string_equal(parse(s, "[profile foo]\nname = value\n[profile foo]\n -continued").c_str(),
                      "config line 4: a continuation line (it starts with a space) without a property above it");
  assert_string_equal(parse(s, "[profile foo]\ns3 =\n invalid").c_str(),
                      "config line 3: expected 'name = value' in a sub-property");
  assert_string_equal(parse(s, "[profile foo]\ns3 =\n = value").c_str(),
                      "config line 3: a sub-property without a name");
  // The message never quotes the line (it may hold a secret).
  assert_null(strstr(parse(s, "[profile foo]\naws_secret_access_key wJalrXUtnFEMI").c_str(), "wJalr"));
}

void profile_prefixes(void** state) {
  State* s = st(state);
  // config: [profile x]; [x] is not a profile there; [default] is.
  assert_string_equal(parse(s, "[foo]\nname = value\n[default]\nd = 1\n[profilefoo]\nx = 1").c_str(), "");
  assert_null(s->set.find("foo"));
  assert_null(s->set.find("profilefoo"));
  assert_string_equal(value(s, "default", "d").c_str(), "1");
  // credentials: [x]; [profile x] is ignored there.
  assert_string_equal(parse(s, "", "[profile foo]\nname = value\n[   bar    ]\nname = b").c_str(), "");
  assert_null(s->set.find("foo"));
  assert_string_equal(value(s, "bar", "name").c_str(), "b");
  // Invalid names are ignored, with their properties.
  assert_string_equal(
      parse(s,
            "[profile foo]\nname = value\n[profile in valid]\nx = 1\n[profile bar]\nname = value2\nin valid = 3")
          .c_str(),
      "");
  assert_int_equal(s->set.profiles.size(), 2);
  assert_string_equal(value(s, "bar", "name").c_str(), "value2");
  assert_string_equal(value(s, "bar", "in valid").c_str(), "<unset>");
  // Empty profiles exist.
  assert_string_equal(parse(s, "[profile foo]\n[profile bar]").c_str(), "");
  assert_non_null(s->set.find("foo"));
  // sso-session and services sections are kept apart.
  assert_string_equal(
      parse(s, "[sso-session s]\nsso_region = r\n[services svc]\nsts =\n endpoint_url = http://sts").c_str(), "");
  assert_true(s->set.profiles.empty());
  assert_string_equal(s->set.sso_sessions["s"].value("sso_region").c_str(), "r");
  assert_string_equal(sub_properties(s->set.services["svc"].value("sts"))["endpoint_url"].c_str(), "http://sts");
}

void default_precedence_and_merging(void** state) {
  State* s = st(state);
  // [profile default] wins over [default] entirely, in either order.
  assert_string_equal(parse(s, "[profile default]\nname = value\n[default]\nname2 = value2").c_str(), "");
  assert_string_equal(value(s, "default", "name").c_str(), "value");
  assert_string_equal(value(s, "default", "name2").c_str(), "<unset>");
  assert_string_equal(parse(s, "[default]\nname2 = value2\n[profile default]\nname = value").c_str(), "");
  assert_string_equal(value(s, "default", "name2").c_str(), "<unset>");
  // ...and still merges with the credentials file.
  assert_string_equal(
      parse(s, "[profile default]\nname = value\n[default]\nname2 = value2\n[profile default]\nname3 = value3",
            "[default]\nsecret=foo")
          .c_str(),
      "");
  assert_string_equal(value(s, "default", "name").c_str(), "value");
  assert_string_equal(value(s, "default", "name3").c_str(), "value3");
  assert_string_equal(value(s, "default", "secret").c_str(), "foo");
  assert_string_equal(value(s, "default", "name2").c_str(), "<unset>");
  // Duplicates: sections merge, the last value wins, credentials beat config.
  assert_string_equal(parse(s, "[profile foo]\nname = value\nname = v2\n[profile foo]\nname2 = x",
                            "[foo]\nname = from-credentials")
                          .c_str(),
                      "");
  assert_string_equal(value(s, "foo", "name").c_str(), "from-credentials");
  assert_string_equal(value(s, "foo", "name2").c_str(), "x");
  // Property names match in any case.
  assert_string_equal(parse(s, "[profile foo]\nAWS_Access_Key_Id = AK").c_str(), "");
  assert_string_equal(value(s, "foo", "aws_access_key_id").c_str(), "AK");
}

void write_file(const std::string& path, const std::string& text) {
  assert_true(testsupport::write_file(path, text));
}

void files_from_env(void** state) {
  State* s = st(state);
  const std::string& dir = s->tmp.dir();
  assert_false(dir.empty());
  assert_int_equal(::mkdir((dir + "/.aws").c_str(), 0700), 0);
  assert_int_equal(::mkdir((dir + "/.alibabacloud").c_str(), 0700), 0);
  write_file(dir + "/.aws/config", "[profile p]\nregion = eu-west-1\n");
  write_file(dir + "/.aws/credentials", "[p]\naws_access_key_id = AK\n");
  write_file(dir + "/other-config", "[profile q]\nregion = ap-south-1\n");
  write_file(dir + "/.alibabacloud/credentials",
             "[default]\nenable = true\ntype = access_key\naccess_key_id = \"LTAI\"\naccess_key_secret = 'sec'\n");
  auto& vars = s->tmp.vars;
  vars = {{"HOME", dir}};
  EnvLookup env = s->tmp.lookup();
  auto set = load_aws_profiles(env);
  assert_true(set.ok());
  assert_string_equal(set->find("p")->value("region").c_str(), "eu-west-1");
  assert_string_equal(set->find("p")->value("aws_access_key_id").c_str(), "AK");
  vars["AWS_CONFIG_FILE"] = dir + "/other-config";
  set = load_aws_profiles(env);
  assert_true(set.ok());
  assert_string_equal(set->find("p")->value("region").c_str(), "");  // p now only from the credentials file
  assert_string_equal(set->find("q")->value("region").c_str(), "ap-south-1");
  vars["AWS_SHARED_CREDENTIALS_FILE"] = dir + "/missing";  // a missing file is fine
  assert_true(load_aws_profiles(env).ok());
  vars["AWS_CONFIG_FILE"] = dir;  // a directory is not
  assert_false(load_aws_profiles(env).ok());

  auto ali = load_alibaba_profiles(env);
  assert_true(ali.ok());
  assert_string_equal(ali->find("default")->value("access_key_id").c_str(), "LTAI");  // quotes stripped
  assert_string_equal(ali->find("default")->value("access_key_secret").c_str(), "sec");

  assert_string_equal(aws_profile_name("", env).c_str(), "default");
  vars["AWS_PROFILE"] = "fromenv";
  assert_string_equal(aws_profile_name("", env).c_str(), "fromenv");
  assert_string_equal(aws_profile_name("opt", env).c_str(), "opt");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(comments_and_spaces, setup, teardown),
      cmocka_unit_test_setup_teardown(continuations_and_sub_properties, setup, teardown),
      cmocka_unit_test_setup_teardown(errors_name_the_line, setup, teardown),
      cmocka_unit_test_setup_teardown(profile_prefixes, setup, teardown),
      cmocka_unit_test_setup_teardown(default_precedence_and_merging, setup, teardown),
      cmocka_unit_test_setup_teardown(files_from_env, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
