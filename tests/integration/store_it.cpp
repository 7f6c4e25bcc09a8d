// store_it.cpp - HttpObjectStore against a real S3 server (Ceph RGW or s3rver),
// whose env file is named by $S3_ENV_FILE. What reached the bucket is checked
// with an independent client (curl --aws-sigv4), not with the store under test.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <set>

extern "C" {
#include <cmocka.h>
}

#include "bucketfs/store/http_object_store.hpp"
#include "bucketfs/util/digest.hpp"
#include "lib/it_env.hpp"

using namespace bucketfs;
using namespace bucketfs::store;

namespace {

std::unique_ptr<HttpObjectStore> g_store;

std::string K(const std::string& name) { return it::run_id() + "/" + name; }

int group_setup(void**) {
  if (!it::load_env()) {
    fprintf(stderr, "S3_ENV_FILE is not set or unreadable: run this through tests/run-integration.sh\n");
    return -1;
  }
  g_store = std::make_unique<HttpObjectStore>(it::config());
  return 0;
}

int group_teardown(void**) {
  if (g_store) {
    auto all = list_all(*g_store, ListRequest{it::run_id() + "/", "", "", "", 1000});
    if (all)
      for (auto& o : all->objects) (void)g_store->remove(o.key);
  }
  g_store.reset();
  return 0;
}

void test_put_get_head_delete(void**) {
  PutOptions opts;
  opts.meta["mode"] = "33188";
  opts.meta["mtime"] = "1700000000";
  opts.content_type = "text/plain";
  std::string body = "hello, bucket\n";
  auto put = g_store->put_bytes(K("a b+c%.txt"), body, opts);
  assert_true(put.ok());
  assert_string_equal(put->c_str(), crypto::hex(crypto::md5(body)).c_str());

  auto h = g_store->head(K("a b+c%.txt"));
  assert_true(h.ok());
  assert_int_equal(h->size, body.size());
  assert_string_equal(h->meta["mode"].c_str(), "33188");
  assert_string_equal(h->meta["mtime"].c_str(), "1700000000");
  assert_true(h->last_modified > 0);

  auto g = get_bytes(*g_store, K("a b+c%.txt"));
  assert_true(g.ok());
  assert_string_equal(g->c_str(), body.c_str());

  // Independent client sees the same bytes.
  assert_int_equal(it::curl_get(K("a b+c%.txt"), "/tmp/bucketfs-it-curl.out"), 200);
  assert_string_equal(it::read_file("/tmp/bucketfs-it-curl.out").c_str(), body.c_str());

  assert_true(g_store->remove(K("a b+c%.txt")).ok());
  auto gone = g_store->head(K("a b+c%.txt"));
  assert_false(gone.ok());
  assert_int_equal(static_cast<int>(gone.error().code), static_cast<int>(ErrorCode::NoSuchKey));
  assert_int_equal(it::curl_get(K("a b+c%.txt"), "/tmp/bucketfs-it-curl.out"), 404);
  // Deleting a missing key is fine.
  assert_true(g_store->remove(K("a b+c%.txt")).ok());
}

void test_put_from_file_and_range_get(void**) {
  std::string path = it::make_random_file(3 * 1024 * 1024 + 17, 7);
  int fd = ::open(path.c_str(), O_RDONLY);
  assert_true(fd >= 0);
  auto put = g_store->put(K("file.bin"), FileRange{fd, 0, 3 * 1024 * 1024 + 17}, {});
  assert_true(put.ok());
  std::string local = it::read_file(path);
  assert_int_equal(it::curl_get(K("file.bin"), "/tmp/bucketfs-it-curl.out"), 200);
  assert_true(it::read_file("/tmp/bucketfs-it-curl.out") == local);

  auto mid = get_bytes(*g_store, K("file.bin"), 1000000, 4096);
  assert_true(mid.ok());
  assert_true(*mid == local.substr(1000000, 4096));
  // A range running past the end is clipped; one starting past the end is empty.
  auto tail = get_bytes(*g_store, K("file.bin"), local.size() - 10, 100);
  assert_true(tail.ok());
  assert_true(*tail == local.substr(local.size() - 10));
  auto past = get_bytes(*g_store, K("file.bin"), local.size() + 10, 100);
  assert_true(past.ok());
  assert_int_equal(past->size(), 0);

  // A sub-range of the file as the body.
  auto put2 = g_store->put(K("slice.bin"), FileRange{fd, 4096, 8192}, {});
  assert_true(put2.ok());
  auto slice = get_bytes(*g_store, K("slice.bin"));
  assert_true(slice.ok() && *slice == local.substr(4096, 8192));
  ::close(fd);
  ::unlink(path.c_str());
}

void test_copy_with_metadata_replace(void**) {
  PutOptions opts;
  opts.meta["mode"] = "33188";
  assert_true(g_store->put_bytes(K("src"), "copy me", opts).ok());
  // Copy keeping metadata.
  assert_true(g_store->copy(K("src"), K("dst-keep"), std::nullopt).ok());
  auto keep = g_store->head(K("dst-keep"));
  assert_true(keep.ok());
  assert_string_equal(keep->meta["mode"].c_str(), "33188");
  // Copy replacing metadata (chmod's copy onto itself).
  PutOptions repl;
  repl.meta["mode"] = "33261";
  repl.meta["uid"] = "1000";
  assert_true(g_store->copy(K("src"), K("src"), repl).ok());
  auto h = g_store->head(K("src"));
  assert_true(h.ok());
  assert_string_equal(h->meta["mode"].c_str(), "33261");
  assert_string_equal(h->meta["uid"].c_str(), "1000");
  auto body = get_bytes(*g_store, K("src"));
  assert_true(body.ok() && *body == "copy me");
}

void test_listing_delimiter_and_pages(void**) {
  // 50 keys: 40 files at the top, 10 under 5 sub-prefixes.
  for (int i = 0; i < 40; ++i)
    assert_true(g_store->put_bytes(K("list/f" + std::to_string(100 + i)), "x", {}).ok());
  for (int i = 0; i < 10; ++i)
    assert_true(g_store->put_bytes(K("list/d" + std::to_string(i % 5) + "/g" + std::to_string(i)), "y", {}).ok());

  ListRequest req{K("list/"), "/", "", "", 7};
  std::set<std::string> files, prefixes;
  int pages = 0;
  for (;;) {
    auto page = g_store->list(req);
    assert_true(page.ok());
    ++pages;
    // s3rver counts only objects against max-keys; RGW, like S3, counts prefixes too.
    if (it::is_rgw())
      assert_true(page->objects.size() + page->common_prefixes.size() <= 7);
    else
      assert_true(page->objects.size() <= 7);
    for (auto& o : page->objects) files.insert(o.key);
    for (auto& p : page->common_prefixes) prefixes.insert(p);
    if (!page->truncated) break;
    assert_false(page->next_token.empty());
    req.continuation_token = page->next_token;
  }
  assert_int_equal(files.size(), 40);
  assert_int_equal(prefixes.size(), 5);
  assert_true(prefixes.count(K("list/d3/")) == 1);
  assert_true(pages >= (it::is_rgw() ? 7 : 6));  // 45 entries (40 objects) at 7 a page

  // Recursive listing through the helper follows every page.
  auto all = list_all(*g_store, ListRequest{K("list/"), "", "", "", 7});
  assert_true(all.ok());
  assert_int_equal(all->objects.size(), 50);
}

void test_multipart_three_parts(void**) {
  const uint64_t part = 5 * 1024 * 1024, total = 2 * part + 1234567;
  std::string path = it::make_random_file(total, 42);
  int fd = ::open(path.c_str(), O_RDONLY);
  assert_true(fd >= 0);
  auto id = g_store->create_multipart(K("mp.bin"), {});
  assert_true(id.ok());
  std::vector<PartInfo> parts;
  for (int n = 1; n <= 3; ++n) {
    uint64_t off = (n - 1) * part, len = std::min(part, total - off);
    auto p = g_store->upload_part(K("mp.bin"), *id, n, FileRange{fd, off, len});
    assert_true(p.ok());
    assert_int_equal(p->md5.size(), 32);
    parts.push_back(*p);
  }
  auto done = g_store->complete_multipart(K("mp.bin"), *id, parts);
  if (!done.ok()) fprintf(stderr, "complete: %s\n", done.error().describe().c_str());
  assert_true(done.ok());
  assert_false(done->empty());  // read back with HEAD on Ceph, which sends <ETag/>
  ::close(fd);
  assert_int_equal(it::curl_get(K("mp.bin"), "/tmp/bucketfs-it-mp.out"), 200);
  assert_true(it::read_file("/tmp/bucketfs-it-mp.out") == it::read_file(path));
  auto h = g_store->head(K("mp.bin"));
  assert_true(h.ok());
  assert_int_equal(h->size, total);
  ::unlink(path.c_str());
  ::unlink("/tmp/bucketfs-it-mp.out");
}

void test_list_parts_and_abort(void**) {
  const uint64_t part = 5 * 1024 * 1024;
  std::string path = it::make_random_file(3 * part, 3);
  int fd = ::open(path.c_str(), O_RDONLY);
  auto id = g_store->create_multipart(K("ab.bin"), {});
  assert_true(id.ok());
  for (int n = 1; n <= 3; ++n)
    assert_true(g_store->upload_part(K("ab.bin"), *id, n, {fd, (n - 1) * part, part}).ok());
  ::close(fd);
  ::unlink(path.c_str());

  auto lp = g_store->list_parts(K("ab.bin"), *id, 0, 2);
  if (it::is_rgw()) {
    // Paged: 2 then 1.
    assert_true(lp.ok());
    assert_int_equal(lp->parts.size(), 2);
    assert_true(lp->truncated);
    auto lp2 = g_store->list_parts(K("ab.bin"), *id, lp->next_marker, 2);
    assert_true(lp2.ok());
    assert_int_equal(lp2->parts.size(), 1);
    assert_int_equal(lp2->parts[0].number, 3);
    assert_int_equal(lp2->parts[0].size, part);

    auto ups = g_store->list_uploads(K(""), "", "");
    assert_true(ups.ok());
    bool found = false;
    for (auto& u : ups->uploads) found |= (u.upload_id == *id && u.key == K("ab.bin"));
    assert_true(found);

    assert_true(g_store->abort_multipart(K("ab.bin"), *id).ok());
    auto after = g_store->list_parts(K("ab.bin"), *id, 0, 100);
    assert_false(after.ok());
    assert_int_equal(static_cast<int>(after.error().code), static_cast<int>(ErrorCode::NoSuchUpload));
    assert_true(g_store->capabilities().list_parts);
  } else {
    // s3rver lacks these: reported as Unsupported and remembered.
    assert_false(lp.ok());
    assert_int_equal(static_cast<int>(lp.error().code), static_cast<int>(ErrorCode::Unsupported));
    assert_false(g_store->capabilities().list_parts);
    auto ab = g_store->abort_multipart(K("ab.bin"), *id);
    assert_false(ab.ok());
    assert_int_equal(static_cast<int>(ab.error().code), static_cast<int>(ErrorCode::Unsupported));
    assert_false(g_store->capabilities().abort_multipart);
  }
}

void test_upload_part_copy(void**) {
  const uint64_t part = 5 * 1024 * 1024;
  std::string path = it::make_random_file(part + 100, 9);
  int fd = ::open(path.c_str(), O_RDONLY);
  assert_true(g_store->put(K("pc-src"), {fd, 0, part + 100}, {}).ok());
  ::close(fd);
  auto id = g_store->create_multipart(K("pc-dst"), {});
  assert_true(id.ok());
  auto p1 = g_store->upload_part_copy(K("pc-dst"), *id, 1, K("pc-src"), 0, part);
  if (it::is_rgw()) {
    assert_true(p1.ok());
    auto p2 = g_store->upload_part_copy(K("pc-dst"), *id, 2, K("pc-src"), part, 100);
    assert_true(p2.ok());
    assert_true(g_store->complete_multipart(K("pc-dst"), *id, {*p1, *p2}).ok());
    assert_int_equal(it::curl_get(K("pc-dst"), "/tmp/bucketfs-it-pc.out"), 200);
    assert_true(it::read_file("/tmp/bucketfs-it-pc.out") == it::read_file(path));
    ::unlink("/tmp/bucketfs-it-pc.out");
  } else {
    assert_false(p1.ok());
    assert_int_equal(static_cast<int>(p1.error().code), static_cast<int>(ErrorCode::Unsupported));
    assert_false(g_store->capabilities().upload_part_copy);
  }
  ::unlink(path.c_str());
}

void test_wrong_secret_rejected(void**) {
  HttpObjectStore bad(it::config("definitely-not-the-secret"));
  auto r = bad.check_bucket("");
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::SignatureMismatch));
  assert_int_equal(r.error().http_status, 403);
  // The secret never shows in the error text.
  assert_null(strstr(r.error().describe().c_str(), "definitely-not-the-secret"));
  auto h = bad.head(K("anything"));
  assert_false(h.ok());
}

void test_no_such_key_and_bucket(void**) {
  auto h = g_store->head(K("missing"));
  assert_false(h.ok());
  assert_int_equal(static_cast<int>(h.error().code), static_cast<int>(ErrorCode::NoSuchKey));
  auto g = get_bytes(*g_store, K("missing"));
  assert_false(g.ok());
  assert_int_equal(static_cast<int>(g.error().code), static_cast<int>(ErrorCode::NoSuchKey));
  assert_string_equal(g.error().server_code.c_str(), "NoSuchKey");

  auto cfg = it::config();
  cfg.bucket = "no-such-bucket-" + std::to_string(::getpid());
  HttpObjectStore other(cfg);
  auto cb = other.check_bucket("");
  assert_false(cb.ok());
  assert_int_equal(static_cast<int>(cb.error().code), static_cast<int>(ErrorCode::NoSuchBucket));
}

void test_unreachable_endpoint_is_transient(void**) {
  auto cfg = it::config();
  cfg.endpoint = "http://127.0.0.1:9";  // discard port: nobody listens on loopback
  cfg.max_attempts = 3;
  cfg.backoff_base_ms = 20;
  cfg.backoff_cap_ms = 50;
  HttpObjectStore dead(cfg);
  auto t0 = std::chrono::steady_clock::now();
  auto r = dead.check_bucket("");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Transient));
  assert_int_equal(r.error().http_status, 0);
  assert_non_null(strstr(r.error().message.c_str(), "after 3 attempts"));
  fprintf(stderr, "unreachable endpoint: %s (%lld ms)\n", r.error().describe().c_str(),
          static_cast<long long>(ms));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_head_delete),        cmocka_unit_test(test_put_from_file_and_range_get),
      cmocka_unit_test(test_copy_with_metadata_replace), cmocka_unit_test(test_listing_delimiter_and_pages),
      cmocka_unit_test(test_multipart_three_parts),      cmocka_unit_test(test_list_parts_and_abort),
      cmocka_unit_test(test_upload_part_copy),           cmocka_unit_test(test_wrong_secret_rejected),
      cmocka_unit_test(test_no_such_key_and_bucket),     cmocka_unit_test(test_unreachable_endpoint_is_transient),
  };
  return cmocka_run_group_tests_name("store_it", tests, group_setup, group_teardown);
}
