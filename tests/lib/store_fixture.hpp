// store_fixture.hpp - an HttpObjectStore talking to a FakeHttpServer, for the
// store's unit tests (test_store*.cpp): quick retries, a fixed identity.
#pragma once

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

}  // namespace testsupport
