// store_fixture.hpp - an HttpObjectStore talking to a FakeHttpServer, for the
// store's unit tests (test_store*.cpp): quick retries, a fixed identity.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "bucketfs/store/http_object_store.hpp"
#include "lib/fake_http_server.hpp"

namespace testsupport {

inline std::string err_xml(const std::string& code, const std::string& extra = "") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>m</Message>" + extra +
         "<RequestId>rid-1</RequestId></Error>";
}

inline bucketfs::store::HttpStoreConfig cfg_for(const FakeHttpServer& s) {
  bucketfs::store::HttpStoreConfig c;
  c.endpoint = s.endpoint();
  c.bucket = "bkt";
  c.credentials.access_key_id = "AKID";
  c.credentials.secret = bucketfs::Secret("very-secret-value");
  c.max_attempts = 4;
  c.backoff_base_ms = 1;
  c.backoff_cap_ms = 5;
  c.total_budget_ms = 5000;
  return c;
}

// The server and a store on it; `reset` makes a store with another config.
struct StoreFixture {
  FakeHttpServer server;
  std::unique_ptr<bucketfs::store::HttpObjectStore> store;
  StoreFixture() : store(std::make_unique<bucketfs::store::HttpObjectStore>(cfg_for(server))) {}
  void reset(bucketfs::store::HttpStoreConfig cfg) {
    store = std::make_unique<bucketfs::store::HttpObjectStore>(std::move(cfg));
  }
};

// cmocka fixtures: a StoreFixture per test as its state.
inline int store_setup(void** state) {
  *state = new StoreFixture();
  return 0;
}
inline int store_teardown(void** state) {
  delete static_cast<StoreFixture*>(*state);
  return 0;
}
inline StoreFixture* fx(void** state) { return static_cast<StoreFixture*>(*state); }

// An unlinked temporary file holding `data`, closed by the destructor.
struct TempFile {
  int fd = -1;
  explicit TempFile(const std::string& data) {
    char path[] = "/tmp/bucketfs-test-XXXXXX";
    fd = ::mkstemp(path);
    ::unlink(path);
    if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) std::abort();
  }
  ~TempFile() { ::close(fd); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

}  // namespace testsupport
