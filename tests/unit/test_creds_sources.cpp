// test_creds_sources.cpp - each credential source against a loopback server
// that records what it is sent: the IMDSv2 and ECS RAM role token dance and
// headers, container credentials with the authorization token (file), STS
// AssumeRole (signed) and AssumeRoleWithWebIdentity, Alibaba AssumeRoleWithOIDC
// and AssumeRole (RPC signature, checked against the published example),
// credentials URIs; the credential process contract; and that no error
// message carries a secret.
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

#include "bucketfs/creds/sources.hpp"
#include "bucketfs/sign/acs_rpc.hpp"
#include "lib/creds_fixture.hpp"
#include "lib/fake_http_server.hpp"

using namespace bucketfs;
using namespace bucketfs::creds;
using testsupport::Canned;
using testsupport::FakeHttpServer;
using testsupport::Seen;
using testsupport::TempEnv;

namespace {

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct State {
  TempEnv tmp{"src"};
  const std::string& dir = tmp.dir();
  std::map<std::string, std::string>& env_vars = tmp.vars;
  EnvLookup env = tmp.lookup();
  std::unique_ptr<FakeHttpServer> server = std::make_unique<FakeHttpServer>();
  std::unique_ptr<Source> source;
  std::optional<Result<Issued, std::string>> r;
};

int setup(void** state) {
  auto* s = new State;
  *state = s;
  return s->dir.empty() ? -1 : 0;
}

int teardown(void** state) {
  delete static_cast<State*>(*state);
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

void write_file(const std::string& path, const std::string& text, mode_t mode = 0600) {
  assert_true(testsupport::write_file(path, text, mode));
}

using testsupport::ok;
using testsupport::status;

std::string decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// "a=1&b=2" -> ordered pairs (decoded).
std::vector<std::pair<std::string, std::string>> params(const std::string& s) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t amp = s.find('&', start);
    std::string kv = s.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = kv.find('=');
    out.emplace_back(decode(kv.substr(0, eq)), eq == std::string::npos ? "" : decode(kv.substr(eq + 1)));
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

std::string param(const std::string& s, const std::string& name) {
  for (auto& [k, v] : params(s))
    if (k == name) return v;
  return "<absent>";
}

std::string query_of(const Seen& seen) {
  auto q = seen.target.find('?');
  return q == std::string::npos ? "" : seen.target.substr(q + 1);
}

const char* kAwsCreds = R"({"Code":"Success","LastUpdated":"2026-12-01T08:00:00Z","Type":"AWS-HMAC",
  "AccessKeyId":"ASIAIMDS","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","Token":"IMDSTOKEN",
  "Expiration":"2026-12-01T14:00:00Z"})";

void split_and_parse_process_output(void**) {
  auto w = split_command(R"(/bin/tool --name "a b" 'c "d"' e\x "q\"uote" "")");
  assert_true(w.ok());
  assert_int_equal(w->size(), 7);
  assert_string_equal((*w)[0].c_str(), "/bin/tool");
  assert_string_equal((*w)[2].c_str(), "a b");
  assert_string_equal((*w)[3].c_str(), "c \"d\"");
  assert_string_equal((*w)[4].c_str(), "e\\x");
  assert_string_equal((*w)[5].c_str(), "q\"uote");
  assert_string_equal((*w)[6].c_str(), "");  // an empty quoted word is a word
  assert_false(split_command("tool \"open").ok());

  // AWS credential_process.
  auto r = parse_process_output(R"({"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "S",
      "SessionToken": "T", "Expiration": "2026-12-01T08:32:51Z"})");
  assert_true(r.ok());
  assert_string_equal(r->credentials.access_key_id.c_str(), "AK");
  assert_true(r->credentials.secret.reveal() == "S");
  assert_string_equal(r->credentials.session_token.c_str(), "T");
  assert_int_equal(*r->expiration, 1796113971);
  // Long-term keys: no expiration.
  r = parse_process_output(R"({"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "S"})");
  assert_true(r.ok() && !r->expiration.has_value());
  // The OSS SDK's process shape and the Alibaba CLI's External shape.
  r = parse_process_output(R"({"AccessKeyId": "LTAI", "AccessKeySecret": "S2", "SecurityToken": "T2",
      "Expiration": "2026-12-01T08:32:51Z"})");
  assert_true(r.ok());
  assert_true(r->credentials.secret.reveal() == "S2");
  assert_string_equal(r->credentials.session_token.c_str(), "T2");
  r = parse_process_output(R"({"mode": "StsToken", "access_key_id": "LTAI3", "access_key_secret": "S3",
      "sts_token": "T3", "expiration": "2026-12-01T08:32:51Z"})");
  assert_true(r.ok());
  assert_string_equal(r->credentials.access_key_id.c_str(), "LTAI3");
  assert_string_equal(r->credentials.session_token.c_str(), "T3");
  // Refusals, each with a reason and no secret.
  const char* bad[] = {
      R"({"AccessKeyId": "AK", "SecretAccessKey": "wJalrXUtnFEMI"})",                // no Version
      R"({"Version": 2, "AccessKeyId": "AK", "SecretAccessKey": "wJalrXUtnFEMI"})",  // wrong Version
      R"({"Version": 1, "AccessKeyId": "", "SecretAccessKey": "wJalrXUtnFEMI"})",    // empty id
      R"({"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "wJalrXUtnFEMI", "Expiration": "soon"})",
      R"({"mode": "StsToken", "access_key_id": "AK", "access_key_secret": "wJalrXUtnFEMI"})",  // no sts_token
      R"({"nothing": "here"})",
      R"(AccessKeyId=AK wJalrXUtnFEMI)",
  };
  for (const char* b : bad) {
    r = parse_process_output(b);
    assert_false(r.ok());
    assert_null(strstr(r.error().c_str(), "wJalrXUtnFEMI"));
  }
}

void process_source_runs_the_command(void** state) {
  State* s = st(state);
  const std::string ok_script = s->dir + "/creds.sh";
  write_file(ok_script,
             "#!/bin/sh\n[ \"$1\" = \"--profile\" ] && [ \"$2\" = \"two words\" ] || exit 9\n"
             "echo '{\"Version\": 1, \"AccessKeyId\": \"PROC\", \"SecretAccessKey\": \"" +
                 std::string(kSecret) +
                 "\", \"SessionToken\": \"PT\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n",
             0700);
  s->source = process_source(
      {ok_script + " --profile \"two words\"", "profile 'p' credential_process", std::chrono::seconds(30)});
  assert_string_equal(s->source->kind().c_str(), "process");
  // The arguments may be secret: the description names the program only.
  assert_null(strstr(s->source->describe().c_str(), "two words"));
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().credentials.access_key_id.c_str(), "PROC");
  assert_true(s->r->value().credentials.secret.reveal() == kSecret);

  const std::string fail_script = s->dir + "/fail.sh";
  write_file(fail_script, "#!/bin/sh\necho 'first line' >&2\necho 'token expired, run login' >&2\nexit 3\n", 0700);
  s->source = process_source({fail_script, "-o credential_process", std::chrono::seconds(30)});
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "exited with status 3 (token expired, run login)"));

  const std::string slow_script = s->dir + "/slow.sh";
  write_file(slow_script, "#!/bin/sh\nexec sleep 30\n", 0700);
  s->source = process_source({slow_script, "-o credential_process", std::chrono::seconds(1)});
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "did not finish within 1 s"));

  s->source = process_source({s->dir + "/missing", "-o credential_process", std::chrono::seconds(5)});
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "cannot run"));

  const std::string junk_script = s->dir + "/junk.sh";
  write_file(junk_script, std::string("#!/bin/sh\necho 'AccessKeyId ") + kSecret + "'\n", 0700);
  s->source = process_source({junk_script, "-o credential_process", std::chrono::seconds(5)});
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "not JSON"));
  assert_null(strstr(s->r->error().c_str(), kSecret));
}

void imds_v2_protocol(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  srv.push(ok("AQAEAtoken=="));
  srv.push(ok("my-role\n"));
  srv.push(ok(kAwsCreds));
  s->source = imds_source({srv.endpoint(), "", false, 21600});
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().credentials.access_key_id.c_str(), "ASIAIMDS");
  assert_true(s->r->value().credentials.secret.reveal() == kSecret);
  assert_string_equal(s->r->value().credentials.session_token.c_str(), "IMDSTOKEN");
  assert_int_equal(*s->r->value().expiration, 1796133600);
  auto seen = srv.seen();
  assert_int_equal(seen.size(), 3);
  assert_string_equal(seen[0].method.c_str(), "PUT");
  assert_string_equal(seen[0].target.c_str(), "/latest/api/token");
  assert_string_equal(seen[0].header("x-aws-ec2-metadata-token-ttl-seconds").c_str(), "21600");
  assert_string_equal(seen[1].method.c_str(), "GET");
  assert_string_equal(seen[1].target.c_str(), "/latest/meta-data/iam/security-credentials/");
  assert_string_equal(seen[1].header("x-aws-ec2-metadata-token").c_str(), "AQAEAtoken==");
  assert_string_equal(seen[2].target.c_str(), "/latest/meta-data/iam/security-credentials/my-role");
  assert_string_equal(seen[2].header("x-aws-ec2-metadata-token").c_str(), "AQAEAtoken==");

  // The token is reused; a 401 takes a new one once.
  srv.push(ok("my-role"));
  srv.push(status(401));
  srv.push(ok("second-token"));
  srv.push(ok(kAwsCreds));
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  seen = srv.seen();
  assert_int_equal(seen.size(), 7);
  assert_string_equal(seen[3].header("x-aws-ec2-metadata-token").c_str(), "AQAEAtoken==");
  assert_string_equal(seen[5].method.c_str(), "PUT");
  assert_string_equal(seen[6].header("x-aws-ec2-metadata-token").c_str(), "second-token");
}

void imds_failures(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  // No token: no tokenless fallback unless asked.
  srv.push(status(403, "Forbidden"));
  s->source = imds_source({srv.endpoint(), "", false, 21600});
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "answered HTTP 403"));
  assert_non_null(strstr(s->r->error().c_str(), "-o imdsv1"));
  assert_int_equal(srv.count(), 1);
  // Asked: IMDSv1 requests, without a token header.
  srv.push(status(403));
  srv.push(ok("r"));
  srv.push(ok(kAwsCreds));
  s->source = imds_source({srv.endpoint(), "", true, 21600});
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(srv.seen()[2].header("x-aws-ec2-metadata-token").c_str(), "");
  // A named role is fetched directly; Code other than Success, missing
  // fields, malformed JSON and 404 are clear errors without the secret.
  struct Case {
    Canned answer;
    const char* want;
  } cases[] = {
      {ok(R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"})"),
       "Code AssumeRoleUnauthorizedAccess: denied"},
      {ok(R"({"Code":"Success","AccessKeyId":"A","SecretAccessKey":"wJalrXUtnFEMI"})"), "lacks AccessKeyId"},
      {ok(R"({"Code":"Success","AccessKeyId":"A","SecretAccessKey":"wJalrXUtnFEMI","Token":"T"})"),
       "no valid Expiration"},
      {ok(R"({"AccessKeyId":"A","SecretAccessKey":"wJalrXUtnFEMI)"), "not JSON"},
      {status(404), "HTTP 404 (no role is attached"},
  };
  for (auto& c : cases) {
    srv.push(ok("tok"));
    srv.push(c.answer);
    s->source = imds_source({srv.endpoint(), "named-role", false, 21600});
    s->r = s->source->fetch();
    assert_false(s->r->ok());
    assert_non_null(strstr(s->r->error().c_str(), c.want));
    assert_null(strstr(s->r->error().c_str(), "wJalrXUtnFEMI"));
    assert_string_equal(srv.seen().back().target.c_str(), "/latest/meta-data/iam/security-credentials/named-role");
  }
  // Nobody listening.
  s->source = imds_source({"http://127.0.0.1:1", "", false, 21600});
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "cannot reach http://127.0.0.1:1/latest/api/token"));
}

void ecs_ram_role_protocol(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  srv.push(ok("aliyun-token"));
  srv.push(ok("EcsRole"));
  srv.push(ok(R"({"AccessKeyId":"STS.ECS","AccessKeySecret":"EcsSecret","Expiration":"2026-12-01T14:00:00Z",
      "SecurityToken":"EcsToken","LastUpdated":"2026-12-01T08:00:00Z","Code":"Success"})"));
  s->source = ecs_ram_role_source({srv.endpoint(), "", false, 600});
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().credentials.access_key_id.c_str(), "STS.ECS");
  assert_true(s->r->value().credentials.secret.reveal() == "EcsSecret");
  assert_string_equal(s->r->value().credentials.session_token.c_str(), "EcsToken");
  auto seen = srv.seen();
  assert_string_equal(seen[0].method.c_str(), "PUT");
  assert_string_equal(seen[0].target.c_str(), "/latest/api/token");
  assert_string_equal(seen[0].header("x-aliyun-ecs-metadata-token-ttl-seconds").c_str(), "600");
  assert_string_equal(seen[1].target.c_str(), "/latest/meta-data/ram/security-credentials/");
  assert_string_equal(seen[1].header("x-aliyun-ecs-metadata-token").c_str(), "aliyun-token");
  assert_string_equal(seen[2].target.c_str(), "/latest/meta-data/ram/security-credentials/EcsRole");
  assert_string_equal(seen[2].header("x-aliyun-ecs-metadata-token").c_str(), "aliyun-token");
  assert_string_equal(s->source->kind().c_str(), "ecs_ram_role");
}

void container_protocol(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  const std::string token_file = s->dir + "/eks-token";
  write_file(token_file, "eyJhbGciOi-first\n");
  const char* body = R"({"AccessKeyId":"ASIACONT","SecretAccessKey":"ContSecret","Token":"ContToken",
      "Expiration":"2026-12-01T14:00:00Z","RoleArn":"arn:aws:iam::1:role/task"})";
  srv.push(ok(body));
  srv.push(ok(body));
  s->source = container_source({srv.endpoint() + "/v2/credentials/abc", "ignored-when-file", token_file});
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().credentials.session_token.c_str(), "ContToken");
  write_file(token_file, "eyJhbGciOi-rotated\n");  // EKS rotates it: read at every fetch
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  auto seen = srv.seen();
  assert_string_equal(seen[0].target.c_str(), "/v2/credentials/abc");
  assert_string_equal(seen[0].header("authorization").c_str(), "eyJhbGciOi-first");
  assert_string_equal(seen[1].header("authorization").c_str(), "eyJhbGciOi-rotated");

  srv.push(status(401, R"({"code":"AccessDenied","message":"bad token"})"));
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "HTTP 401"));
  assert_non_null(strstr(s->r->error().c_str(), "check the authorization token"));

  // Where the URL may point.
  s->env_vars = {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x"},
                 {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/other"},
                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc"}};
  auto p = container_params(s->env);
  assert_true(p.ok() && p->has_value());
  assert_string_equal((*p)->url.c_str(), "http://169.254.170.2/v2/credentials/x");  // relative wins
  assert_string_equal((*p)->auth_token.c_str(), "Basic abc");
  s->env_vars.erase("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  for (const char* good : {"http://127.0.0.1:9/other", "http://169.254.170.23/v1/credentials", "http://[::1]:8/x",
                           "https://creds.example.com/x"}) {
    s->env_vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = good;
    p = container_params(s->env);
    assert_true(p.ok());
    assert_string_equal((*p)->url.c_str(), good);
  }
  for (const char* refused : {"http://8.8.8.8/creds", "http://169.254.169.254/x", "ftp://127.0.0.1/x"}) {
    s->env_vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = refused;
    assert_false(container_params(s->env).ok());
  }
  s->env_vars.clear();
  p = container_params(s->env);
  assert_true(p.ok() && !p->has_value());
}

// An STS answer of `action` (AssumeRole, AssumeRoleWithWebIdentity).
std::string sts_xml(const std::string& action) {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" + action +
         "Result>"
         "<AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn><AssumedRoleId>A:s</AssumedRoleId>"
         "</AssumedRoleUser><Credentials><AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>RoleSecret"
         "</SecretAccessKey><SessionToken>RoleToken</SessionToken><Expiration>2026-12-01T08:32:51.712943226Z"
         "</Expiration></Credentials></" +
         action + "Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></" + action + "Response>";
}

void assume_role_signed_with_base(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  sign::Credentials base;
  base.access_key_id = "AKIDBASE";
  base.secret = Secret(kSecret);
  base.session_token = "BASETOKEN";
  srv.push(ok(sts_xml("AssumeRole")));
  s->source = assume_role_source(
      {"arn:aws:iam::1:role/r", "sess", "ext-42", 900, {srv.endpoint(), "us-west-2"}, "profile 'p'"},
      fixed_source(base, std::nullopt, "profile 'base' keys", "profile"));
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().credentials.access_key_id.c_str(), "ASIAROLE");
  assert_string_equal(s->r->value().credentials.session_token.c_str(), "RoleToken");
  assert_int_equal(*s->r->value().expiration, 1796113971);
  Seen seen = srv.seen().at(0);
  assert_string_equal(seen.method.c_str(), "POST");
  assert_string_equal(seen.target.c_str(), "/");
  assert_string_equal(param(seen.body, "Action").c_str(), "AssumeRole");
  assert_string_equal(param(seen.body, "Version").c_str(), "2011-06-15");
  assert_string_equal(param(seen.body, "RoleArn").c_str(), "arn:aws:iam::1:role/r");
  assert_string_equal(param(seen.body, "RoleSessionName").c_str(), "sess");
  assert_string_equal(param(seen.body, "ExternalId").c_str(), "ext-42");
  assert_string_equal(param(seen.body, "DurationSeconds").c_str(), "900");
  std::string auth = seen.header("authorization");
  assert_non_null(strstr(auth.c_str(), "AWS4-HMAC-SHA256 Credential=AKIDBASE/"));
  assert_non_null(strstr(auth.c_str(), "/us-west-2/sts/aws4_request"));
  assert_non_null(strstr(auth.c_str(),
                         "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
                         "x-amz-security-token"));
  assert_string_equal(seen.header("x-amz-security-token").c_str(), "BASETOKEN");

  // STS refusals say what the code means.
  srv.push(status(403,
                  "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to "
                  "perform sts:AssumeRole</Message></Error></ErrorResponse>"));
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "HTTP 403 AccessDenied: not authorized"));
  assert_non_null(strstr(s->r->error().c_str(), "trust policy"));
  assert_null(strstr(s->r->error().c_str(), "wJalr"));
  srv.push(ok("<html>not sts</html>"));
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "without AssumeRole credentials"));
}

void web_identity_reads_token_each_time(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  const std::string token_file = s->dir + "/token";
  write_file(token_file, "jwt-one\n");
  const std::string xml = sts_xml("AssumeRoleWithWebIdentity");
  srv.push(ok(xml));
  srv.push(ok(xml));
  s->source = web_identity_source({"arn:aws:iam::1:role/irsa",
                                   "",
                                   token_file,
                                   0,
                                   {srv.endpoint(), "us-east-1"},
                                   "AWS_WEB_IDENTITY_TOKEN_FILE"});
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().credentials.access_key_id.c_str(), "ASIAROLE");
  write_file(token_file, "jwt-two\n");
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  auto seen = srv.seen();
  assert_string_equal(param(seen[0].body, "Action").c_str(), "AssumeRoleWithWebIdentity");
  assert_string_equal(param(seen[0].body, "RoleArn").c_str(), "arn:aws:iam::1:role/irsa");
  assert_string_equal(param(seen[0].body, "WebIdentityToken").c_str(), "jwt-one");
  assert_string_equal(param(seen[1].body, "WebIdentityToken").c_str(), "jwt-two");
  assert_string_equal(param(seen[0].body, "DurationSeconds").c_str(), "<absent>");
  assert_non_null(strstr(param(seen[0].body, "RoleSessionName").c_str(), "bucketfs-"));
  assert_string_equal(seen[0].header("authorization").c_str(), "");  // not signed

  ::unlink(token_file.c_str());
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(
      strstr(s->r->error().c_str(), ("cannot open the web identity token file " + token_file).c_str()));
}

const char* kAliStsJson =
    R"({"RequestId":"r","AssumedRoleUser":{"Arn":"acs:ram::1:role/r/s","AssumedRoleId":"x:s"},
    "Credentials":{"SecurityToken":"AliToken","AccessKeyId":"STS.ALI","AccessKeySecret":"AliSecret",
    "Expiration":"2026-12-01T08:32:51Z"}})";

void alibaba_oidc(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  const std::string token_file = s->dir + "/oidc";
  write_file(token_file, "oidc-jwt\n");
  srv.push(ok(kAliStsJson));
  s->source = oidc_source({"acs:ram::1:role/rrsa", "acs:ram::1:oidc-provider/ack", token_file, "sess", "", 1800,
                           srv.endpoint(), "ALIBABA_CLOUD_OIDC_TOKEN_FILE"});
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().credentials.access_key_id.c_str(), "STS.ALI");
  assert_string_equal(s->r->value().credentials.session_token.c_str(), "AliToken");
  Seen seen = srv.seen().at(0);
  assert_string_equal(seen.method.c_str(), "POST");
  std::string q = query_of(seen);
  assert_string_equal(param(q, "Action").c_str(), "AssumeRoleWithOIDC");
  assert_string_equal(param(q, "Version").c_str(), "2015-04-01");
  assert_string_equal(param(q, "Format").c_str(), "JSON");
  assert_true(param(q, "Timestamp").size() == 20);
  assert_string_equal(param(seen.body, "RoleArn").c_str(), "acs:ram::1:role/rrsa");
  assert_string_equal(param(seen.body, "OIDCProviderArn").c_str(), "acs:ram::1:oidc-provider/ack");
  assert_string_equal(param(seen.body, "OIDCToken").c_str(), "oidc-jwt");
  assert_string_equal(param(seen.body, "DurationSeconds").c_str(), "1800");
  assert_string_equal(param(seen.body, "RoleSessionName").c_str(), "sess");

  srv.push(status(400, R"({"RequestId":"r","Code":"AuthenticationFail.OIDCToken.Expired","Message":"expired"})"));
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "HTTP 400 AuthenticationFail.OIDCToken.Expired: expired"));
  assert_non_null(strstr(s->r->error().c_str(), "OIDC token is expired or not trusted"));
}

void alibaba_rpc_signature(void** state) {
  // The published example of the RPC signature (DescribeRegions, secret "testsecret").
  sign::acs_rpc::Params doc = {{"AccessKeyId", "testid"},
                               {"Action", "DescribeRegions"},
                               {"Format", "XML"},
                               {"SignatureMethod", "HMAC-SHA1"},
                               {"SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
                               {"SignatureVersion", "1.0"},
                               {"Timestamp", "2016-02-23T12:46:24Z"},
                               {"Version", "2014-05-26"}};
  std::string sts = sign::acs_rpc::string_to_sign("GET", doc);
  assert_string_equal(
      sts.c_str(),
      "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3D"
      "HMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26"
      "Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26");
  assert_string_equal(sign::acs_rpc::signature(Secret("testsecret"), sts).c_str(), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");

  // ram_role_arn: the request carries a signature over its query and form
  // parameters that the base secret reproduces.
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  srv.push(ok(kAliStsJson));
  sign::Credentials base;
  base.access_key_id = "LTAIBASE";
  base.secret = Secret("base secret/+=");
  s->source = ram_role_arn_source(
      {"acs:ram::1:role/r", "sess", R"({"Statement":[]})", "ext", 3600, srv.endpoint(), "profile 'x'"},
      fixed_source(base, std::nullopt, "keys", "profile"));
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  Seen seen = srv.seen().at(0);
  sign::acs_rpc::Params all;
  std::string signature;
  for (auto& kv : params(query_of(seen))) {
    if (kv.first == "Signature")
      signature = kv.second;
    else
      all.push_back(kv);
  }
  for (auto& kv : params(seen.body)) all.push_back(kv);
  assert_string_equal(param(query_of(seen), "AccessKeyId").c_str(), "LTAIBASE");
  assert_string_equal(param(query_of(seen), "Action").c_str(), "AssumeRole");
  assert_string_equal(param(seen.body, "Policy").c_str(), R"({"Statement":[]})");
  assert_string_equal(param(seen.body, "ExternalId").c_str(), "ext");
  assert_false(signature.empty());
  assert_string_equal(
      signature.c_str(),
      sign::acs_rpc::signature(Secret("base secret/+="), sign::acs_rpc::string_to_sign("POST", all)).c_str());
}

void credentials_uri(void** state) {
  State* s = st(state);
  FakeHttpServer& srv = *s->server;
  srv.push(ok(R"({"Code":"Success","AccessKeyId":"STS.URI","AccessKeySecret":"S","SecurityToken":"T",
      "Expiration":"2026-12-01T08:32:51Z"})"));
  s->source = credentials_uri_source(srv.endpoint() + "/creds?x=1");
  s->r = s->source->fetch();
  assert_true(s->r->ok());
  assert_string_equal(s->r->value().credentials.access_key_id.c_str(), "STS.URI");
  assert_string_equal(srv.seen().at(0).target.c_str(), "/creds?x=1");
  srv.push(status(500, "boom"));
  srv.push(status(500, "boom"));
  srv.push(status(500, "boom"));
  s->r = s->source->fetch();
  assert_false(s->r->ok());
  assert_non_null(strstr(s->r->error().c_str(), "HTTP 500 (boom)"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(split_and_parse_process_output),
      cmocka_unit_test_setup_teardown(process_source_runs_the_command, setup, teardown),
      cmocka_unit_test_setup_teardown(imds_v2_protocol, setup, teardown),
      cmocka_unit_test_setup_teardown(imds_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(ecs_ram_role_protocol, setup, teardown),
      cmocka_unit_test_setup_teardown(container_protocol, setup, teardown),
      cmocka_unit_test_setup_teardown(assume_role_signed_with_base, setup, teardown),
      cmocka_unit_test_setup_teardown(web_identity_reads_token_each_time, setup, teardown),
      cmocka_unit_test_setup_teardown(alibaba_oidc, setup, teardown),
      cmocka_unit_test_setup_teardown(alibaba_rpc_signature, setup, teardown),
      cmocka_unit_test_setup_teardown(credentials_uri, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
