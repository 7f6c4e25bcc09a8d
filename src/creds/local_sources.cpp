// local_sources.cpp - sources that need no network: fixed keys, and a
// credential process (see sources.hpp for the output shapes).
//
// The process runs without a shell (posix_spawnp), stdin from /dev/null, its
// stdout read as the answer (at most 1 MiB) and its stderr kept for the error
// message, both within the timeout; on timeout it is killed (SIGKILL) and
// reaped. The command's arguments are never logged: they may carry secrets.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bucketfs/creds/sources.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/json.hpp"
#include "bucketfs/util/secret.hpp"
#include "http_call.hpp"
#include "json_credentials.hpp"

extern char** environ;

namespace bucketfs::creds {

namespace {

class FixedSource final : public Source {
 public:
  FixedSource(sign::Credentials c, std::optional<std::time_t> exp, std::string description, std::string kind)
      : c_(std::move(c)), exp_(exp), description_(std::move(description)), kind_(std::move(kind)) {}
  std::string describe() const override { return description_; }
  std::string kind() const override { return kind_; }
  Result<Issued, std::string> fetch() override { return Issued{c_, exp_}; }

 private:
  sign::Credentials c_;
  std::optional<std::time_t> exp_;
  std::string description_;
  std::string kind_;
};

void wipe(std::string* s) { secure_wipe(*s); }

// The program's name for messages (the first word; the rest may be secret).
std::string program_of(const std::string& command) {
  auto words = split_command(command);
  return words && !words->empty() ? words->front() : std::string("(empty command)");
}

struct Ran {
  int status = 0;
  std::string out, err;
};

// Both ends of a pipe, each closed when it goes out of scope.
struct Pipe {
  Fd read, write;
};

int open_pipe(Pipe* p) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return errno;
  p->read.reset(ends[0]);
  p->write.reset(ends[1]);
  return 0;
}

// Reads the child's stdout and stderr until both close or the deadline passes
// (each kept up to 1 MiB). True if the deadline passed.
bool drain(Fd& out, Fd& err, std::chrono::seconds timeout, Ran* ran) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true, timed_out = false;
  char buf[4096];
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[2] = {{out_open ? out.get() : -1, POLLIN, 0}, {err_open ? err.get() : -1, POLLIN, 0}};
    int n = ::poll(p, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || p[i].revents == 0) continue;
      ssize_t got = ::read(p[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      std::string& dst = i == 0 ? ran->out : ran->err;
      if (dst.size() < (1 << 20)) dst.append(buf, static_cast<size_t>(got));
    }
  }
  secure_wipe(buf, sizeof buf);
  return timed_out;
}

Result<Ran, std::string> run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  Pipe out, err;
  if (open_pipe(&out) != 0 || open_pipe(&err) != 0)
    return std::string("cannot create a pipe: ") + std::strerror(errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err.write.get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  out.write.reset();
  err.write.reset();
  if (rc != 0) return "cannot run " + argv[0] + ": " + std::strerror(rc);
  Ran ran;
  bool timed_out = drain(out.read, err.read, timeout, &ran);
  out.read.reset();
  err.read.reset();
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    wipe(&ran.out);
    return argv[0] + " did not finish within " + std::to_string(timeout.count()) + " s (killed)";
  }
  ran.status = status;
  return ran;
}

std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  auto nl = s.rfind('\n');
  if (nl != std::string::npos) s = s.substr(nl + 1);
  return detail::error_excerpt(s);
}

class ProcessSource final : public Source {
 public:
  explicit ProcessSource(ProcessParams p) : p_(std::move(p)) {}
  std::string describe() const override {
    return "credential process " + program_of(p_.command) + " (" + p_.origin + ")";
  }
  std::string kind() const override { return "process"; }

  Result<Issued, std::string> fetch() override {
    auto argv = split_command(p_.command);
    if (!argv) return describe() + ": " + argv.error();
    if (argv->empty()) return p_.origin + ": the command is empty";
    auto ran = run(*argv, p_.timeout);
    if (!ran) return describe() + ": " + ran.error();
    if (!WIFEXITED(ran->status) || WEXITSTATUS(ran->status) != 0) {
      std::string how = WIFEXITED(ran->status) ? "exited with status " + std::to_string(WEXITSTATUS(ran->status))
                                               : "was killed by signal " + std::to_string(WTERMSIG(ran->status));
      std::string err = last_line(ran->err);
      wipe(&ran->out);
      return describe() + ": " + how + (err.empty() ? "" : " (" + err + ")");
    }
    auto issued = parse_process_output(ran->out);
    wipe(&ran->out);
    if (!issued) return describe() + ": " + issued.error();
    return issued;
  }

 private:
  ProcessParams p_;
};

}  // namespace

std::unique_ptr<Source> fixed_source(sign::Credentials c, std::optional<std::time_t> expiration,
                                     std::string description, std::string kind) {
  return std::make_unique<FixedSource>(std::move(c), expiration, std::move(description), std::move(kind));
}

std::unique_ptr<Source> process_source(ProcessParams p) { return std::make_unique<ProcessSource>(std::move(p)); }

Result<std::vector<std::string>, std::string> split_command(std::string_view command) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else if (c == '"' || c == '\'') {
      in_word = true;
      size_t j = i + 1;
      for (; j < command.size() && command[j] != c; ++j) {
        if (c == '"' && command[j] == '\\' && j + 1 < command.size() &&
            (command[j + 1] == '"' || command[j + 1] == '\\'))
          ++j;
        cur += command[j];
      }
      if (j >= command.size()) return std::string("unterminated quote in the command");
      i = j;
    } else {
      in_word = true;
      cur += c;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

Result<Issued, std::string> parse_process_output(std::string_view out) {
  auto doc = json::parse(out);
  if (!doc) return "its output is not JSON (" + doc.error() + ")";
  if (!doc->is_object()) return std::string("its output is not a JSON object");
  Issued issued;
  std::string expiration;
  if (doc->get("AccessKeyId") != nullptr && doc->get("SecretAccessKey") != nullptr) {
    // AWS: {"Version": 1, ...}
    const json::Value* version = doc->get("Version");
    if (version == nullptr || !version->is_number() || version->as_number() != 1)
      return std::string("its output must have \"Version\": 1 (the AWS credential_process format)");
    auto got = detail::json_credentials(*doc, "SecretAccessKey", "SessionToken");
    issued.credentials = std::move(got.credentials);
    expiration = std::move(got.expiration);
  } else if (doc->get("AccessKeyId") != nullptr && doc->get("AccessKeySecret") != nullptr) {
    // OSS SDK process provider.
    auto got = detail::json_credentials(*doc, "AccessKeySecret", "SecurityToken");
    issued.credentials = std::move(got.credentials);
    expiration = std::move(got.expiration);
  } else if (doc->get("access_key_id") != nullptr) {
    // Alibaba CLI External mode: {"mode": "AK" | "StsToken", ...}
    std::string mode = doc->string_at("mode");
    issued.credentials.access_key_id = doc->string_at("access_key_id");
    issued.credentials.secret = Secret(doc->string_at("access_key_secret"));
    issued.credentials.session_token = doc->string_at("sts_token");
    expiration = doc->string_at("expiration");
    if (mode == "StsToken" && issued.credentials.session_token.empty())
      return std::string("its output says mode StsToken but has no sts_token");
  } else {
    return std::string(
        "its output has no credentials (expected AccessKeyId and SecretAccessKey, or AccessKeyId and "
        "AccessKeySecret, or access_key_id and access_key_secret)");
  }
  if (issued.credentials.access_key_id.empty() || issued.credentials.secret.empty())
    return std::string("its output has an empty access key id or secret");
  if (!expiration.empty()) {
    auto t = parse_timestamp(expiration);
    if (!t) return "its Expiration '" + detail::error_excerpt(expiration) + "' is not an RFC 3339 time";
    issued.expiration = *t;
  }
  return issued;
}

}  // namespace bucketfs::creds
