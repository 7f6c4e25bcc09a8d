// creds_fixture.hpp - what the credential unit tests share: a temporary
// directory (removed with its content) with a fake environment around it,
// small files written with a mode, and canned answers for FakeHttpServer.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "bucketfs/creds/env.hpp"
#include "lib/fake_http_server.hpp"

namespace testsupport {

class TempEnv {
 public:
  // A fresh /tmp/bucketfs-<tag>-XXXXXX; dir() is "" if it could not be made.
  explicit TempEnv(const std::string& tag) {
    std::string tmpl = "/tmp/bucketfs-" + tag + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  }
  ~TempEnv() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  TempEnv(const TempEnv&) = delete;
  TempEnv& operator=(const TempEnv&) = delete;

  const std::string& dir() const { return dir_; }
  // The variables the lookup answers (nothing else is set).
  std::map<std::string, std::string> vars;
  bucketfs::creds::EnvLookup lookup() {
    return [this](const char* n) -> const char* {
      auto it = vars.find(n);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }

 private:
  std::string dir_;
};

// Writes text to path and sets its mode; false on any failure.
inline bool write_file(const std::string& path, const std::string& text, mode_t mode = 0600) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fputs(text.c_str(), f) >= 0;
  ok = std::fclose(f) == 0 && ok;
  return ok && ::chmod(path.c_str(), mode) == 0;
}

inline Canned ok(const std::string& body) { return Canned{200, {}, body, false}; }
inline Canned status(int code, const std::string& body = "") { return Canned{code, {}, body, false}; }

}  // namespace testsupport
