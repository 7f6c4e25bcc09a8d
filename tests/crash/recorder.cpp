// recorder.cpp - see recorder.hpp.
#include "recorder.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "bucket_replay.hpp"
#include "bucketfs/store/memory_object_store.hpp"
#include "observed_store.hpp"
#include "trace_log.hpp"

extern char** environ;

namespace crash {

using namespace bucketfs;

volatile pid_t recording_child = 0;

std::string record(const RecordConfig& cfg) {
  store::MemoryObjectStore bucket(cfg.min_part_size);
  {
    // The cache dir as a previous mount left it: its directories and an
    // empty checkpoint store exist before the trace begins.
    auto first = mount(cfg.mount, bucket);
    if (!first) return "first mount: " + first.error();
    unmount(std::move(first.value()));
  }
  bucket.set_observer([](const store::MemoryObjectStore::Change& c) {
    const std::string* data = nullptr;
    std::string text = store_event(c, &data);
    EventLog::emit(text, data ? data->data() : nullptr, data ? data->size() : 0);
  });
  if (!EventLog::begin())
    return "the trace did not begin: run under the shim (LD_PRELOAD=trace_shim.so BFS_TRACE_DIR=... "
           "BFS_TRACE_OUT=...)";
  for (const auto& o : initial_objects(cfg.workload)) {
    store::PutOptions po;
    po.meta = o.meta;
    if (!bucket.put_bytes(o.key, o.data, po)) return "cannot put the initial object " + o.key;
  }
  ObservedStore slow(bucket, nullptr, cfg.mutation_delay);
  auto m = mount(cfg.mount, slow);
  if (!m) return "mount: " + m.error();
  std::string err = run_workload(*m.value()->filesystem, cfg.workload);
  // The uploads finish inside the trace too: crash points cover them.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!m.value()->uploader->idle() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!m.value()->uploader->idle() && err.empty()) err = "the uploads did not finish within 5 minutes";
  unmount(std::move(m.value()));
  EventLog::emit("record-end");
  EventLog::end();
  return err;
}

std::string record_in_child(const std::string& self, const std::string& shim, const std::vector<std::string>& args,
                            const std::string& cache_dir, const std::string& trace_path,
                            std::chrono::seconds timeout) {
  if (::access(shim.c_str(), R_OK) != 0)
    return "no recorder at " + shim + " (build it: make tests-build, or set BFS_TRACE_SHIM)";
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0 && std::strncmp(*e, "BFS_TRACE_", 10) != 0) env_s.push_back(*e);
  env_s.push_back("LD_PRELOAD=" + shim);
  env_s.push_back("BFS_TRACE_DIR=" + cache_dir);
  env_s.push_back("BFS_TRACE_OUT=" + trace_path);
  std::vector<char*> argv{const_cast<char*>(self.c_str())}, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::execve(self.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  recording_child = pid;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      recording_child = 0;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      recording_child = 0;
      return "the recorded run did not finish within " + std::to_string(timeout.count()) + " s";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "the recorded run failed (status " + std::to_string(status) + "); its messages are above";
  return "";
}

}  // namespace crash
