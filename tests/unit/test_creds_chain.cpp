// test_creds_chain.cpp - which source the credential chains pick: the AWS
// SDKs' order (env, passwd file, profile, web identity, container, IMDS) and
// the Alibaba order, pinning with credentials=, how a profile resolves
// (role_arn with source_profile / credential_source / web identity,
// credential_process, keys; cycles, MFA and SSO refused), where STS is, and the
// region and endpoint a profile gives the mount. Network sources talk to a
// loopback server that answers what each protocol answers.
//
// C++ objects live in a fixture-owned State (cmocka longjmps on failure).
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/creds/chain.hpp"
#include "lib/creds_fixture.hpp"
#include "lib/fake_http_server.hpp"

using namespace bucketfs;
using namespace bucketfs::creds;
using testsupport::Canned;
using testsupport::FakeHttpServer;
using testsupport::TempEnv;

namespace {

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct State {
  TempEnv tmp{"chain"};
  const std::string& home = tmp.dir();
  std::map<std::string, std::string>& env_vars = tmp.vars;
  std::unique_ptr<FakeHttpServer> server = std::make_unique<FakeHttpServer>();
  ChainOptions o;
  std::optional<Result<Chosen, std::string>> chosen;
};

int setup(void** state) {
  auto* s = new State;
  *state = s;
  if (s->home.empty()) return -1;
  for (const char* d : {"/.aws", "/.alibabacloud", "/.aliyun"}) ::mkdir((s->home + d).c_str(), 0700);
  s->env_vars = {{"HOME", s->home}};
  s->o.bucket = "b";
  s->o.env = s->tmp.lookup();
  return 0;
}

int teardown(void** state) {
  auto* s = static_cast<State*>(*state);
  s->chosen.reset();  // its sources' connections before the server
  delete s;
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

void write_file(const std::string& path, const std::string& text, mode_t mode = 0600) {
  assert_true(testsupport::write_file(path, text, mode));
}

// The access key id the chain chose, or "error: ...".
std::string pick(State* s) {
  // The loopback server serves one connection at a time: the previous
  // choice's sources (and their kept-alive connections) go first.
  s->chosen.reset();
  s->chosen = choose_credentials(s->o);
  if (!s->chosen->ok()) return "error: " + s->chosen->error();
  auto c = s->chosen->value().provider->current();
  return c ? c->credentials->access_key_id : "error: " + c.error();
}

std::string error_of(State* s) {
  std::string p = pick(s);
  assert_true(p.rfind("error: ", 0) == 0);
  assert_null(strstr(p.c_str(), kSecret));
  return p.substr(7);
}

using testsupport::ok;

std::string creds_json(const std::string& id) {
  return R"({"Code":"Success","AccessKeyId":")" + id +
         R"(","SecretAccessKey":"s","Token":"t",)"
         R"("Expiration":"2099-01-01T00:00:00Z"})";
}

std::string sts_xml(const std::string& action, const std::string& id) {
  return "<" + action + "Response><" + action + "Result><Credentials><AccessKeyId>" + id +
         "</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>"
         "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></" +
         action + "Result></" + action + "Response>";
}

void aws_order(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  s->env_vars["AWS_ACCESS_KEY_ID"] = "AK_ENV";
  s->env_vars["AWS_SECRET_ACCESS_KEY"] = kSecret;
  write_file(s->home + "/.passwd-bucketfs", "b:AK_PASSWD:secret\n");
  write_file(s->home + "/.aws/credentials",
             "[default]\naws_access_key_id = AK_PROFILE\naws_secret_access_key = s\n");
  write_file(s->home + "/token", "jwt");
  s->env_vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = s->home + "/token";
  s->env_vars["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/w";
  s->env_vars["AWS_ENDPOINT_URL_STS"] = srv.endpoint();
  s->env_vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = srv.endpoint() + "/container";
  s->env_vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = srv.endpoint();

  assert_string_equal(pick(s).c_str(), "AK_ENV");
  assert_non_null(strstr(s->chosen->value().description.c_str(), "environment (AWS_ACCESS_KEY_ID)"));
  s->env_vars.erase("AWS_ACCESS_KEY_ID");
  s->env_vars.erase("AWS_SECRET_ACCESS_KEY");
  assert_string_equal(pick(s).c_str(), "AK_PASSWD");
  ::unlink((s->home + "/.passwd-bucketfs").c_str());
  assert_string_equal(pick(s).c_str(), "AK_PROFILE");
  assert_non_null(strstr(s->chosen->value().description.c_str(), "profile 'default' keys"));
  assert_int_equal(srv.count(), 0);  // nothing further down the chain was asked
  ::unlink((s->home + "/.aws/credentials").c_str());
  srv.push(ok(sts_xml("AssumeRoleWithWebIdentity", "AK_WEB")));
  assert_string_equal(pick(s).c_str(), "AK_WEB");
  s->env_vars.erase("AWS_WEB_IDENTITY_TOKEN_FILE");
  srv.push(ok(creds_json("AK_CONTAINER")));
  assert_string_equal(pick(s).c_str(), "AK_CONTAINER");
  assert_string_equal(srv.seen().back().target.c_str(), "/container");
  s->env_vars.erase("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  srv.push(ok("tok"));
  srv.push(ok("role"));
  srv.push(ok(creds_json("AK_IMDS")));
  assert_string_equal(pick(s).c_str(), "AK_IMDS");
  assert_non_null(strstr(s->chosen->value().description.c_str(), "EC2 instance metadata"));
  assert_non_null(strstr(s->chosen->value().description.c_str(), "refreshed in the background"));

  // Nothing answers: the chain says what it tried, in order.
  s->env_vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:1";
  std::string e = error_of(s);
  assert_non_null(strstr(e.c_str(),
                         "no credentials found for bucket b (tried: env (AWS_ACCESS_KEY_ID is not set); "
                         "passwd_file (no passwd file with a line for bucket b); profile (no profile "
                         "'default' in "));
  assert_non_null(strstr(e.c_str(), "imds (EC2 instance metadata at http://127.0.0.1:1 does not answer)"));
  s->env_vars["AWS_EC2_METADATA_DISABLED"] = "true";
  assert_non_null(strstr(error_of(s).c_str(), "imds (AWS_EC2_METADATA_DISABLED is set)"));
}

void pinned_sources(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  s->env_vars["AWS_ACCESS_KEY_ID"] = "AK_ENV";
  s->env_vars["AWS_SECRET_ACCESS_KEY"] = kSecret;
  s->o.pinned = "imds";
  s->o.metadata_endpoint = srv.endpoint();  // the option wins over the variable
  s->env_vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:1";
  srv.push(ok("tok"));
  srv.push(ok("role"));
  srv.push(ok(creds_json("AK_IMDS")));
  assert_string_equal(pick(s).c_str(), "AK_IMDS");
  // Pinned and unreachable: its own error, not "nothing found".
  s->o.metadata_endpoint = "http://127.0.0.1:1";
  assert_non_null(strstr(error_of(s).c_str(), "EC2 instance metadata at http://127.0.0.1:1: cannot reach"));
  s->o.pinned = "container";
  assert_string_equal(error_of(s).c_str(),
                      "credentials=container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set");
  s->o.pinned = "bogus";
  assert_non_null(strstr(error_of(s).c_str(), "credentials=bogus is not a credential source (known: env, "));
  // A source of the other family may be pinned: the Alibaba ECS RAM role on an S3 mount.
  s->o.pinned = "ecs_ram_role";
  s->o.metadata_endpoint = srv.endpoint();
  srv.push(ok("tok"));
  srv.push(ok("EcsRole"));
  srv.push(ok(R"({"Code":"Success","AccessKeyId":"STS.ECS","AccessKeySecret":"s","SecurityToken":"t",)"
              R"("Expiration":"2099-01-01T00:00:00Z"})"));
  assert_string_equal(pick(s).c_str(), "STS.ECS");
  assert_string_equal(srv.seen().back().header("x-aliyun-ecs-metadata-token").c_str(), "tok");
  // passwd_file= pins the file even when the environment has keys.
  s->o.pinned = "";
  write_file(s->home + "/pw", "AK_FILE:secret\n");
  s->o.passwd_file = s->home + "/pw";
  assert_string_equal(pick(s).c_str(), "AK_FILE");
  // credential_process= pins the process.
  s->o.passwd_file = "";
  write_file(s->home + "/p.sh",
             "#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"AK_PROC\",\"SecretAccessKey\":\"x\"}'\n", 0700);
  s->o.credential_process = s->home + "/p.sh";
  assert_string_equal(pick(s).c_str(), "AK_PROC");
  // Two sources named at once is a mistake, said so.
  s->o.pinned = "env";
  assert_string_equal(error_of(s).c_str(),
                      "credentials=env and credential_process= name different sources: give one");
  s->o.pinned = "process";
  assert_string_equal(pick(s).c_str(), "AK_PROC");
  s->o.passwd_file = s->home + "/pw";
  assert_string_equal(error_of(s).c_str(),
                      "passwd_file= and credential_process= each name the only source: give one");
}

void profile_roles(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  write_file(s->home + "/.aws/config",
             "[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\nrole_session_name = s1\n"
             "external_id = x1\nduration_seconds = 900\nendpoint_url = " +
                 srv.endpoint() +
                 "\nregion = eu-west-1\n"
                 "[profile self]\nrole_arn = arn:aws:iam::1:role/self\nsource_profile = self\n"
                 "aws_access_key_id = AK_SELF\naws_secret_access_key = s\nendpoint_url = " +
                 srv.endpoint() +
                 "\n"
                 "[profile loop1]\nrole_arn = arn:1\nsource_profile = loop2\n"
                 "[profile loop2]\nrole_arn = arn:2\nsource_profile = loop1\n"
                 "[profile envrole]\nrole_arn = arn:aws:iam::1:role/e\ncredential_source = Environment\n"
                 "[profile both]\nrole_arn = arn:3\nsource_profile = base\ncredential_source = Environment\n"
                 "[profile neither]\nrole_arn = arn:4\n"
                 "[profile badsource]\nrole_arn = arn:5\ncredential_source = Somewhere\n"
                 "[profile mfa]\nrole_arn = arn:6\nsource_profile = base\nmfa_serial = arn:mfa\n"
                 "[profile sso]\nsso_session = corp\nsso_account_id = 1\n"
                 "[profile proc]\ncredential_process = " +
                 s->home +
                 "/p.sh\n"
                 "[profile half]\naws_access_key_id = AK_HALF\n"
                 "[profile regiononly]\nregion = us-west-2\n");
  write_file(s->home + "/.aws/credentials", "[base]\naws_access_key_id = AK_BASE\naws_secret_access_key = s\n");
  write_file(s->home + "/p.sh",
             "#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"AK_PROC\",\"SecretAccessKey\":\"x\"}'\n", 0700);

  s->o.profile = "role";
  srv.push(ok(sts_xml("AssumeRole", "AK_ROLE")));
  assert_string_equal(pick(s).c_str(), "AK_ROLE");
  auto seen = srv.seen().back();
  assert_non_null(strstr(seen.header("authorization").c_str(), "Credential=AK_BASE/"));
  assert_non_null(strstr(seen.header("authorization").c_str(), "/eu-west-1/sts/aws4_request"));
  assert_non_null(strstr(seen.body.c_str(), "RoleSessionName=s1"));
  assert_non_null(strstr(seen.body.c_str(), "ExternalId=x1"));
  assert_non_null(strstr(seen.body.c_str(), "DurationSeconds=900"));
  assert_non_null(strstr(s->chosen->value().description.c_str(),
                         "profile 'role': assume role arn:aws:iam::1:role/r at http://127.0.0.1:"));
  // STS elsewhere: the option, then AWS_ENDPOINT_URL_STS, then the profile.
  FakeHttpServer other;
  s->env_vars["AWS_ENDPOINT_URL_STS"] = other.endpoint();
  other.push(ok(sts_xml("AssumeRole", "AK_ROLE_ENV_STS")));
  assert_string_equal(pick(s).c_str(), "AK_ROLE_ENV_STS");
  s->o.sts_endpoint = srv.endpoint();
  srv.push(ok(sts_xml("AssumeRole", "AK_ROLE_OPT_STS")));
  assert_string_equal(pick(s).c_str(), "AK_ROLE_OPT_STS");
  s->o.sts_endpoint.clear();
  s->env_vars.erase("AWS_ENDPOINT_URL_STS");

  s->o.profile = "self";  // its own source: its keys sign the AssumeRole
  srv.push(ok(sts_xml("AssumeRole", "AK_SELF_ROLE")));
  assert_string_equal(pick(s).c_str(), "AK_SELF_ROLE");
  assert_non_null(strstr(srv.seen().back().header("authorization").c_str(), "Credential=AK_SELF/"));

  s->o.profile = "envrole";
  s->env_vars["AWS_ACCESS_KEY_ID"] = "AK_FROM_ENV";
  s->env_vars["AWS_SECRET_ACCESS_KEY"] = "s";
  s->o.pinned = "profile";  // (the environment alone would win the chain)
  s->o.sts_endpoint = srv.endpoint();
  srv.push(ok(sts_xml("AssumeRole", "AK_ENV_ROLE")));
  assert_string_equal(pick(s).c_str(), "AK_ENV_ROLE");
  assert_non_null(strstr(srv.seen().back().header("authorization").c_str(), "Credential=AK_FROM_ENV/"));
  s->o.pinned.clear();
  s->env_vars.erase("AWS_ACCESS_KEY_ID");
  s->env_vars.erase("AWS_SECRET_ACCESS_KEY");

  struct Case {
    const char* profile;
    const char* want;
  } refused[] = {
      {"loop1", "source_profile loops back to it"},
      {"both", "has both source_profile and credential_source"},
      {"neither", "has role_arn but neither source_profile nor credential_source"},
      {"badsource", "credential_source Somewhere is not one of Environment, Ec2InstanceMetadata, EcsContainer"},
      {"mfa", "needs an MFA code (mfa_serial)"},
      {"sso", "aws configure export-credentials --profile sso --format process"},
      {"half", "has aws_access_key_id but no aws_secret_access_key"},
      {"missing", "no profile 'missing' in "},
  };
  for (const auto& c : refused) {
    s->o.profile = c.profile;
    assert_non_null(strstr(error_of(s).c_str(), c.want));
  }
  s->o.profile = "proc";
  assert_string_equal(pick(s).c_str(), "AK_PROC");
  // A named profile without credentials is passed over (the instance's role may be meant).
  s->o.profile = "regiononly";
  s->env_vars["AWS_EC2_METADATA_DISABLED"] = "true";
  assert_non_null(strstr(error_of(s).c_str(), "profile (profile 'regiononly' has no credentials)"));
}

void profile_defaults(void** state) {
  State* s = st(state);
  write_file(s->home + "/.aws/config",
             "[default]\nregion = eu-central-1\n"
             "[profile minio]\nendpoint_url = http://minio:9000\nregion = home\n"
             "[profile svc]\nservices = local\n[services local]\ns3 =\n  endpoint_url = http://s3.local\n");
  auto d = aws_profile_defaults("", s->o.env);
  assert_true(d.ok());
  assert_string_equal(d->region.c_str(), "eu-central-1");
  assert_string_equal(d->endpoint.c_str(), "");
  d = aws_profile_defaults("minio", s->o.env);
  assert_string_equal(d->endpoint.c_str(), "http://minio:9000");
  assert_string_equal(d->region.c_str(), "home");
  d = aws_profile_defaults("svc", s->o.env);
  assert_string_equal(d->endpoint.c_str(), "http://s3.local");
  s->env_vars["AWS_REGION"] = "ap-east-1";
  s->env_vars["AWS_ENDPOINT_URL_S3"] = "http://env-s3";
  d = aws_profile_defaults("minio", s->o.env);
  assert_string_equal(d->region.c_str(), "ap-east-1");
  assert_string_equal(d->endpoint.c_str(), "http://env-s3");
  assert_false(aws_profile_defaults("nope", s->o.env).ok());
}

void alibaba_order(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  s->o.family = Family::Alibaba;
  s->o.metadata_endpoint = srv.endpoint();
  s->env_vars["OSS_ACCESS_KEY_ID"] = "LTAI_OSS";
  s->env_vars["OSS_ACCESS_KEY_SECRET"] = kSecret;
  s->env_vars["OSS_SESSION_TOKEN"] = "oss-token";
  s->env_vars["ALIBABA_CLOUD_ACCESS_KEY_ID"] = "LTAI_ALI";
  s->env_vars["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "s";
  s->env_vars["ALIBABA_CLOUD_SECURITY_TOKEN"] = "ali-token";
  assert_string_equal(pick(s).c_str(), "LTAI_OSS");
  assert_string_equal(s->chosen->value().provider->current()->credentials->session_token.c_str(), "oss-token");
  s->env_vars.erase("OSS_ACCESS_KEY_ID");
  s->env_vars.erase("OSS_ACCESS_KEY_SECRET");
  assert_string_equal(pick(s).c_str(), "LTAI_ALI");
  assert_string_equal(s->chosen->value().provider->current()->credentials->session_token.c_str(), "ali-token");
  s->env_vars.erase("ALIBABA_CLOUD_ACCESS_KEY_ID");
  s->env_vars.erase("ALIBABA_CLOUD_ACCESS_KEY_SECRET");

  // RRSA (OIDC) comes before the files.
  write_file(s->home + "/oidc", "jwt");
  s->env_vars["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] = s->home + "/oidc";
  s->env_vars["ALIBABA_CLOUD_ROLE_ARN"] = "acs:ram::1:role/r";
  s->env_vars["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"] = "acs:ram::1:oidc-provider/p";
  s->o.sts_endpoint = srv.endpoint();
  srv.push(ok(R"({"Credentials":{"AccessKeyId":"STS.OIDC","AccessKeySecret":"s","SecurityToken":"t",)"
              R"("Expiration":"2099-01-01T00:00:00Z"}})"));
  write_file(s->home + "/.alibabacloud/credentials",
             "[default]\nenable = true\ntype = access_key\naccess_key_id = LTAI_FILE\naccess_key_secret = s\n"
             "[sts]\ntype = sts\naccess_key_id = STS.FILE\naccess_key_secret = s\nsecurity_token = ft\n"
             "[bad]\ntype = magic\n");
  assert_string_equal(pick(s).c_str(), "STS.OIDC");
  s->env_vars.erase("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
  // The Alibaba CLI's profile (External mode runs a process) before the credentials file.
  write_file(s->home + "/ext.sh",
             "#!/bin/sh\necho '{\"mode\":\"StsToken\",\"access_key_id\":\"STS.EXT\",\"access_key_secret\":\"s\","
             "\"sts_token\":\"et\",\"expiration\":\"2099-01-01T00:00:00Z\"}'\n",
             0700);
  write_file(s->home + "/.aliyun/config.json", R"({"current":"ext","profiles":[{"name":"ext","mode":"External",)"
                                               R"("process_command":")" +
                                                   s->home +
                                                   R"(/ext.sh"},{"name":"ak","mode":"AK",)"
                                                   R"("access_key_id":"LTAI_CLI","access_key_secret":"s"}]})");
  assert_string_equal(pick(s).c_str(), "STS.EXT");
  assert_true(s->chosen->value().description.find("refreshed in the background") != std::string::npos);
  s->env_vars["ALIBABA_CLOUD_PROFILE"] = "ak";
  assert_string_equal(pick(s).c_str(), "LTAI_CLI");
  s->env_vars["ALIBABA_CLOUD_CLI_PROFILE_DISABLED"] = "true";
  s->env_vars.erase("ALIBABA_CLOUD_PROFILE");
  assert_string_equal(pick(s).c_str(), "LTAI_FILE");
  s->o.profile = "sts";
  assert_string_equal(pick(s).c_str(), "STS.FILE");
  assert_string_equal(s->chosen->value().provider->current()->credentials->session_token.c_str(), "ft");
  s->o.profile = "bad";
  assert_non_null(strstr(error_of(s).c_str(), "type 'magic' is not one of"));
  s->o.profile.clear();
  ::unlink((s->home + "/.alibabacloud/credentials").c_str());
  // Then the ECS RAM role, hardened mode.
  srv.push(ok("tok"));
  srv.push(ok("EcsRole"));
  srv.push(ok(R"({"Code":"Success","AccessKeyId":"STS.ECS","AccessKeySecret":"s","SecurityToken":"t",)"
              R"("Expiration":"2099-01-01T00:00:00Z"})"));
  assert_string_equal(pick(s).c_str(), "STS.ECS");
  s->env_vars["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true";
  std::string e = error_of(s);
  assert_non_null(strstr(e.c_str(), "ecs_ram_role (ALIBABA_CLOUD_ECS_METADATA_DISABLED is set)"));
  assert_non_null(strstr(e.c_str(), "set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET"));
}

void kinds_are_known(void**) {
  // Every kind credentials= accepts is a link of one of the chains.
  for (const auto& k : source_kinds()) {
    ChainOptions o;
    o.pinned = k;
    o.bucket = "b";
    o.env = [](const char* n) -> const char* {
      return std::strcmp(n, "AWS_EC2_METADATA_DISABLED") == 0 ||
                     std::strcmp(n, "ALIBABA_CLOUD_ECS_METADATA_DISABLED") == 0 || std::strcmp(n, "HOME") == 0
                 ? (std::strcmp(n, "HOME") == 0 ? "/nonexistent" : "true")
                 : nullptr;
    };
    o.metadata_endpoint = "http://127.0.0.1:1";
    auto r = choose_credentials(o);
    if (!r) assert_null(strstr(r.error().c_str(), "is not a credential source"));
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(aws_order, setup, teardown),
      cmocka_unit_test_setup_teardown(pinned_sources, setup, teardown),
      cmocka_unit_test_setup_teardown(profile_roles, setup, teardown),
      cmocka_unit_test_setup_teardown(profile_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(alibaba_order, setup, teardown),
      cmocka_unit_test(kinds_are_known),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
