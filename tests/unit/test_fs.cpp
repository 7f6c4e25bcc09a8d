// test_fs.cpp - fs::Filesystem over MemoryObjectStore: path/key mapping,
// directory merging, listing pages, caches and their invalidation, namespace
// changes, s3fs metadata, reads.
//
// C++ objects live in the fixture state (set up and torn down by cmocka), and
// helpers return plain values, so a failing assertion (longjmp) skips no
// destructor that matters.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/store/faulty_object_store.hpp"
#include "bucketfs/store/memory_object_store.hpp"

// Last: cmocka defines a fail() macro that breaks <ios> if included before it.
// Debian's cmocka header only guards its internal prototypes with extern "C".
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;
using bucketfs::fs::Ino;

namespace {

struct State {
  store::MemoryObjectStore store{5 * 1024 * 1024};
  fs::Options opts;
  std::unique_ptr<fs::Filesystem> fs;
  std::vector<std::string> names;  // from the last list_names()
  std::vector<struct stat> attrs;  // same order as names
  std::string buf;
};

State* st(void** state) { return static_cast<State*>(*state); }

void remount(State* s) {
  s->fs.reset();
  s->fs = std::make_unique<fs::Filesystem>(s->store, s->opts);
}

int setup(void** state) {
  auto* s = new State;
  s->opts.stat_ttl = 3600;  // long: tests see only what invalidation does
  s->opts.dir_ttl = 3600;
  s->opts.uid = 1000;
  s->opts.gid = 1000;
  s->opts.umask = 022;
  remount(s);
  *state = s;
  return 0;
}

int teardown(void** state) {
  delete st(state);
  return 0;
}

// Resolves a '/'-separated path from the root; 0 and *ino on success.
int resolve(State* s, const std::string& path, Ino* ino, struct stat* attr = nullptr) {
  Ino cur = fs::kRootIno;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    std::string name = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    fs::Entry e;
    if (int rc = s->fs->lookup(cur, name, &e)) return rc;
    cur = e.ino;
    if (attr) *attr = e.attr;
    pos = slash == std::string::npos ? path.size() : slash + 1;
  }
  *ino = cur;
  return 0;
}

int stat_of(State* s, const std::string& path, struct stat* out) {
  Ino ino;
  return resolve(s, path, &ino, out);
}

// Lists a directory with readdirplus into s->names / s->attrs (no dots).
int list_names(State* s, const std::string& dir, bool plus = true) {
  s->names.clear();
  s->attrs.clear();
  Ino ino = fs::kRootIno;
  if (!dir.empty())
    if (int rc = resolve(s, dir, &ino)) return rc;
  uint64_t fh = 0;
  if (int rc = s->fs->opendir(ino, &fh)) return rc;
  // Read in small batches to exercise resuming from an offset.
  uint64_t off = 0;
  for (;;) {
    int taken = 0;
    int rc = s->fs->readdir(fh, off, plus, [&](const fs::DirEntry& e, double, double) {
      if (taken == 3) return false;
      ++taken;
      off = e.next_offset;
      if (e.name != "." && e.name != "..") {
        s->names.push_back(e.name);
        s->attrs.push_back(e.attr);
      }
      return true;
    });
    if (rc) return rc;
    if (taken == 0) break;
  }
  return s->fs->releasedir(fh);
}

int index_of(State* s, const std::string& name) {
  for (size_t i = 0; i < s->names.size(); ++i)
    if (s->names[i] == name) return static_cast<int>(i);
  return -1;
}

// Reads [off, off+n) through an open handle into s->buf.
int read_at(State* s, uint64_t fh, uint64_t off, size_t n) {
  s->buf.clear();
  return s->fs->read(fh, off, n, &s->buf);
}

std::string meta_of(State* s, const std::string& key, const char* name) {
  auto info = s->store.object_info(key);
  if (!info) return "<no object>";
  auto it = info->meta.find(name);
  return it == info->meta.end() ? "<none>" : it->second;
}

fs::Context ctx() {
  fs::Context c;
  c.uid = 1234;
  c.gid = 5678;
  c.umask = 022;
  return c;
}

// --- tests -------------------------------------------------------------------

void test_key_mapping(void**) {
  fs::KeyMapper whole("");
  assert_string_equal(whole.prefix().c_str(), "");
  assert_string_equal(whole.file_key("a/b").c_str(), "a/b");
  assert_string_equal(whole.dir_key("a/b").c_str(), "a/b/");
  assert_string_equal(whole.dir_key("").c_str(), "");
  fs::KeyMapper pre("/p//q");
  assert_string_equal(pre.prefix().c_str(), "p/q/");
  assert_string_equal(pre.file_key("x").c_str(), "p/q/x");
  assert_string_equal(pre.dir_key("").c_str(), "p/q/");
  assert_string_equal(pre.dir_key("d").c_str(), "p/q/d/");
  assert_int_equal(fs::KeyMapper::check_name(std::string(255, 'n')), 0);
  assert_int_equal(fs::KeyMapper::check_name(std::string(256, 'n')), ENAMETOOLONG);
  assert_int_equal(fs::KeyMapper::check_name("line\nbreak"), 0);
  assert_int_equal(fs::KeyMapper::check_name(".."), EINVAL);
  assert_int_equal(fs::KeyMapper::check_key(std::string(1024, 'k')), 0);
  assert_int_equal(fs::KeyMapper::check_key(std::string(1025, 'k')), ENAMETOOLONG);
  assert_string_equal(fs::KeyMapper::parent_of("a/b/c").c_str(), "a/b");
  assert_string_equal(fs::KeyMapper::name_of("a/b/c").c_str(), "c");
  assert_true(fs::KeyMapper::is_under("a/b", "a"));
  assert_false(fs::KeyMapper::is_under("ab", "a"));
}

void test_prefix_mount(void** state) {
  State* s = st(state);
  s->store.put_object("p/x", "inside");
  s->store.put_object("p/sub/y", "deeper");
  s->store.put_object("px", "sibling of the prefix");
  s->store.put_object("other", "outside");
  s->opts.prefix = "p";
  remount(s);
  assert_int_equal(list_names(s, ""), 0);
  assert_int_equal(s->names.size(), 2);
  assert_string_equal(s->names[0].c_str(), "sub");
  assert_string_equal(s->names[1].c_str(), "x");
  struct stat a;
  assert_int_equal(stat_of(s, "sub/y", &a), 0);
  assert_int_equal(a.st_size, 6);
  assert_int_equal(stat_of(s, "other", &a), ENOENT);
  // mkdir lands under the prefix.
  fs::Entry e;
  assert_int_equal(s->fs->mkdir(fs::kRootIno, "made", 0755, ctx(), &e), 0);
  assert_true(s->store.object_info("p/made/").has_value());
}

void test_directory_merging(void** state) {
  State* s = st(state);
  s->store.put_object("marked/", "", {{"mode", std::to_string(S_IFDIR | 0700)}});
  s->store.put_object("implied/a", "a");
  s->store.put_object("f", "12345");
  s->store.put_object("both", "file and prefix");
  s->store.put_object("both/c", "c");
  s->store.put_object("empty_name//x", "cannot be shown");  // "empty_name/" + "" + "/x"
  assert_int_equal(list_names(s, ""), 0);
  assert_int_equal(s->names.size(), 5);
  int m = index_of(s, "marked"), i = index_of(s, "implied"), f = index_of(s, "f"), b = index_of(s, "both");
  assert_true(m >= 0 && i >= 0 && f >= 0 && b >= 0);
  assert_int_equal(s->attrs[m].st_mode, S_IFDIR | 0700);
  assert_int_equal(s->attrs[i].st_mode, S_IFDIR | 0755);
  assert_int_equal(s->attrs[f].st_mode, S_IFREG | 0644);
  assert_int_equal(s->attrs[f].st_size, 5);
  assert_int_equal(s->attrs[f].st_uid, 1000);
  assert_true(S_ISDIR(s->attrs[b].st_mode));
  // Lookups agree with the listing, also without it (fresh mount, no cache).
  remount(s);
  struct stat a;
  assert_int_equal(stat_of(s, "both", &a), 0);
  assert_true(S_ISDIR(a.st_mode));
  assert_int_equal(stat_of(s, "implied", &a), 0);
  assert_true(S_ISDIR(a.st_mode));
  assert_int_equal(stat_of(s, "both/c", &a), 0);
  assert_int_equal(list_names(s, "marked"), 0);
  assert_int_equal(s->names.size(), 0);
}

void test_listing_pages(void** state) {
  State* s = st(state);
  s->opts.list_page_size = 4;
  remount(s);
  for (int i = 0; i < 25; ++i) s->store.put_object("many/f" + std::to_string(100 + i), "x");
  s->store.put_object("many/sub/", "");
  s->store.put_object("many/sub2/z", "z");
  struct stat a;
  assert_int_equal(stat_of(s, "many", &a), 0);
  s->store.reset_counters();
  assert_int_equal(list_names(s, "many"), 0);
  assert_int_equal(s->names.size(), 27);
  assert_string_equal(s->names[0].c_str(), "f100");
  assert_string_equal(s->names[24].c_str(), "f124");
  // 27 entries, 4 per page: 7 pages, the first fetched by the stat above.
  assert_int_equal(s->store.calls("list"), 6);
  // The listing is cached: a second readdir and lookups cost nothing.
  s->store.reset_counters();
  assert_int_equal(list_names(s, "many"), 0);
  assert_int_equal(stat_of(s, "many/f110", &a), 0);
  assert_int_equal(stat_of(s, "many/nope", &a), ENOENT);
  assert_int_equal(s->store.calls("list") + s->store.calls("head"), 0);
}

void test_attr_cache_and_negative_entries(void** state) {
  State* s = st(state);
  s->store.put_object("a", "1");
  struct stat a;
  assert_int_equal(stat_of(s, "a", &a), 0);
  assert_int_equal(stat_of(s, "missing", &a), ENOENT);
  s->store.reset_counters();
  assert_int_equal(stat_of(s, "a", &a), 0);
  assert_int_equal(stat_of(s, "missing", &a), ENOENT);
  assert_int_equal(s->store.calls("head") + s->store.calls("list"), 0);
  // Created behind the mount's back: the negative entry holds until the TTL.
  s->store.put_object("missing", "now here");
  assert_int_equal(stat_of(s, "missing", &a), ENOENT);
  // With TTL 0 every lookup asks the store.
  s->opts.stat_ttl = 0;
  s->opts.dir_ttl = 0;
  remount(s);
  assert_int_equal(stat_of(s, "missing", &a), 0);
}

void test_invalidation_after_own_changes(void** state) {
  State* s = st(state);
  s->store.put_object("d/old", "old");
  assert_int_equal(list_names(s, "d"), 0);
  assert_int_equal(s->names.size(), 1);
  struct stat a;
  assert_int_equal(stat_of(s, "d/new", &a), ENOENT);  // cached negative
  Ino d;
  assert_int_equal(resolve(s, "d", &d), 0);
  fs::Entry e;
  assert_int_equal(s->fs->mkdir(d, "new", 0750, ctx(), &e), 0);
  assert_int_equal(e.attr.st_mode, S_IFDIR | 0750);
  assert_int_equal(e.attr.st_uid, 1234);
  assert_int_equal(s->fs->mkdir(d, "new", 0750, ctx(), &e), EEXIST);
  auto marker = s->store.object_info("d/new/");
  assert_true(marker.has_value());
  assert_string_equal(marker->content_type.c_str(), "application/x-directory");
  assert_string_equal(meta_of(s, "d/new/", "mode").c_str(), std::to_string(S_IFDIR | 0750).c_str());
  assert_int_equal(stat_of(s, "d/new", &a), 0);
  assert_int_equal(list_names(s, "d"), 0);
  assert_int_equal(s->names.size(), 2);

  assert_int_equal(s->fs->rename(d, "old", d, "renamed", 0), 0);
  assert_int_equal(stat_of(s, "d/old", &a), ENOENT);
  assert_int_equal(stat_of(s, "d/renamed", &a), 0);
  assert_int_equal(list_names(s, "d"), 0);
  assert_true(index_of(s, "renamed") >= 0 && index_of(s, "old") < 0);

  assert_int_equal(s->fs->unlink(d, "renamed"), 0);
  assert_int_equal(s->fs->unlink(d, "renamed"), ENOENT);
  assert_int_equal(s->fs->unlink(d, "new"), EISDIR);
  assert_int_equal(stat_of(s, "d/renamed", &a), ENOENT);
  assert_int_equal(list_names(s, "d"), 0);
  assert_int_equal(s->names.size(), 1);
  assert_false(s->store.object_info("d/renamed").has_value());
}

void test_rename_file_keeps_metadata(void** state) {
  State* s = st(state);
  s->store.put_object("src", "payload", {{"mode", std::to_string(S_IFREG | 0600)}, {"mtime", "1600000000"}});
  s->store.put_object("to/", "");
  Ino to;
  assert_int_equal(resolve(s, "to", &to), 0);
  assert_int_equal(s->fs->rename(fs::kRootIno, "src", to, "dst", 0), 0);
  assert_false(s->store.object_info("src").has_value());
  assert_string_equal(s->store.object_data("to/dst")->c_str(), "payload");
  assert_string_equal(meta_of(s, "to/dst", "mode").c_str(), std::to_string(S_IFREG | 0600).c_str());
  struct stat a;
  assert_int_equal(stat_of(s, "to/dst", &a), 0);
  assert_int_equal(a.st_mtim.tv_sec, 1600000000);
  s->store.put_object("other", "x");
  assert_int_equal(s->fs->rename(to, "dst", fs::kRootIno, "other", RENAME_NOREPLACE), EEXIST);
  assert_int_equal(s->fs->rename(to, "dst", fs::kRootIno, "to", 0), EISDIR);
  assert_int_equal(s->fs->link(fs::kRootIno, to, "hard"), EPERM);
}

void test_rename_directory_with_children(void** state) {
  State* s = st(state);
  s->store.put_object("src/", "", {{"mode", std::to_string(S_IFDIR | 0700)}});
  for (int i = 0; i < 30; ++i) s->store.put_object("src/c" + std::to_string(i), "child" + std::to_string(i));
  s->store.put_object("src/sub/deep", "deep", {{"uid", "42"}});
  s->store.put_object("srcsibling", "not moved");
  s->opts.list_page_size = 7;
  remount(s);
  Ino child;
  assert_int_equal(resolve(s, "src/c3", &child), 0);  // a kernel reference across the rename
  assert_int_equal(s->fs->rename(fs::kRootIno, "src", fs::kRootIno, "dst", 0), 0);
  assert_int_equal(s->store.object_count(), 33);
  assert_true(s->store.object_info("dst/").has_value());
  assert_string_equal(s->store.object_data("dst/c29")->c_str(), "child29");
  assert_string_equal(meta_of(s, "dst/sub/deep", "uid").c_str(), "42");
  assert_true(s->store.object_info("srcsibling").has_value());
  struct stat a;
  assert_int_equal(stat_of(s, "src", &a), ENOENT);
  assert_int_equal(stat_of(s, "dst", &a), 0);
  assert_int_equal(a.st_mode, S_IFDIR | 0700);
  assert_int_equal(list_names(s, "dst"), 0);
  assert_int_equal(s->names.size(), 31);
  // The inode the kernel holds now names the new path.
  double ttl;
  assert_int_equal(s->fs->getattr(child, &a, &ttl), 0);
  Ino again;
  assert_int_equal(resolve(s, "dst/c3", &again), 0);
  assert_int_equal(again, child);
  // A directory cannot move into itself; onto a non-empty directory: ENOTEMPTY.
  Ino dst;
  assert_int_equal(resolve(s, "dst", &dst), 0);
  assert_int_equal(s->fs->rename(fs::kRootIno, "dst", dst, "inner", 0), EINVAL);
  s->store.put_object("full/x", "x");
  assert_int_equal(s->fs->rename(fs::kRootIno, "dst", fs::kRootIno, "full", 0), ENOTEMPTY);
}

void test_rmdir(void** state) {
  State* s = st(state);
  s->store.put_object("withchild/", "");
  s->store.put_object("withchild/f", "f");
  s->store.put_object("implied/sub/g", "g");
  s->store.put_object("markeronly/sub/", "");
  s->store.put_object("empty/", "");
  s->store.put_object("file", "f");
  assert_int_equal(s->fs->rmdir(fs::kRootIno, "withchild"), ENOTEMPTY);
  assert_int_equal(s->fs->rmdir(fs::kRootIno, "implied"), ENOTEMPTY);
  assert_int_equal(s->fs->rmdir(fs::kRootIno, "markeronly"), ENOTEMPTY);
  assert_int_equal(s->fs->rmdir(fs::kRootIno, "file"), ENOTDIR);
  assert_int_equal(s->fs->rmdir(fs::kRootIno, "nothing"), ENOENT);
  assert_int_equal(s->fs->rmdir(fs::kRootIno, "empty"), 0);
  assert_false(s->store.object_info("empty/").has_value());
  struct stat a;
  assert_int_equal(stat_of(s, "empty", &a), ENOENT);
}

void test_chmod_chown_utimens_persist(void** state) {
  State* s = st(state);
  s->store.put_object("f", "data", {{"x-custom", "kept"}});
  s->store.put_object("implied/child", "c");
  Ino f;
  assert_int_equal(resolve(s, "f", &f), 0);
  fs::SetAttr ch;
  ch.valid = fs::SetAttr::kMode | fs::SetAttr::kUid | fs::SetAttr::kMtime;
  ch.mode = 0600;
  ch.uid = 77;
  ch.mtime.tv_sec = 1500000000;
  struct stat a;
  double ttl;
  assert_int_equal(s->fs->setattr(f, ch, &a, &ttl), 0);
  assert_int_equal(a.st_mode, S_IFREG | 0600);
  assert_string_equal(meta_of(s, "f", "mode").c_str(), std::to_string(S_IFREG | 0600).c_str());
  assert_string_equal(meta_of(s, "f", "uid").c_str(), "77");
  assert_string_equal(meta_of(s, "f", "gid").c_str(), "1000");
  assert_string_equal(meta_of(s, "f", "mtime").c_str(), "1500000000");
  assert_string_equal(meta_of(s, "f", "x-custom").c_str(), "kept");
  assert_string_equal(s->store.object_data("f")->c_str(), "data");
  // An implied directory gets a marker to hold its mode.
  Ino d;
  assert_int_equal(resolve(s, "implied", &d), 0);
  ch.valid = fs::SetAttr::kMode;
  ch.mode = 0711;
  assert_int_equal(s->fs->setattr(d, ch, &a, &ttl), 0);
  assert_true(s->store.object_info("implied/").has_value());
  // Truncation belongs to the write path.
  ch.valid = fs::SetAttr::kSize;
  ch.size = 1;
  assert_int_equal(s->fs->setattr(f, ch, &a, &ttl), ENOTSUP);
  // A new mount sees the stored attributes.
  remount(s);
  assert_int_equal(stat_of(s, "f", &a), 0);
  assert_int_equal(a.st_mode, S_IFREG | 0600);
  assert_int_equal(a.st_uid, 77);
  assert_int_equal(a.st_mtim.tv_sec, 1500000000);
  assert_int_equal(stat_of(s, "implied", &a), 0);
  assert_int_equal(a.st_mode, S_IFDIR | 0711);
  assert_int_equal(list_names(s, ""), 0);
  assert_int_equal(s->attrs[index_of(s, "f")].st_mode, S_IFREG | 0600);
}

void test_s3fs_metadata(void** state) {
  State* s = st(state);
  s->store.put_object("s", "x", {{"mode", "33184"}, {"uid", "501"}, {"gid", "20"}, {"mtime", "1700000000.25"}});
  s->store.put_object("bare", "x");  // written by another tool: defaults
  struct stat a;
  assert_int_equal(stat_of(s, "s", &a), 0);
  assert_int_equal(a.st_mode, 33184);  // S_IFREG | 0640
  assert_int_equal(a.st_uid, 501);
  assert_int_equal(a.st_gid, 20);
  assert_int_equal(a.st_mtim.tv_sec, 1700000000);
  assert_int_equal(a.st_mtim.tv_nsec, 250000000);
  assert_int_equal(stat_of(s, "bare", &a), 0);
  assert_int_equal(a.st_mode, S_IFREG | 0644);
  assert_int_equal(a.st_uid, 1000);
}

// readdir_meta=auto: a directory whose sampled entries carry no metadata is
// listed with one LIST and one round of HEADs, and lookups then use the
// listing; one written by s3fs (metadata everywhere) gets every entry HEADed.
void test_readdir_meta_auto(void** state) {
  State* s = st(state);
  s->opts.readdir_head_parallel = 4;
  remount(s);
  for (int i = 0; i < 40; ++i) s->store.put_object("plain/f" + std::to_string(100 + i), "x");
  for (int i = 0; i < 40; ++i)
    s->store.put_object("s3fs/f" + std::to_string(100 + i), "x", {{"mode", "33184"}, {"mtime", "1700000000"}});
  struct stat a;
  assert_int_equal(stat_of(s, "plain", &a), 0);
  assert_int_equal(stat_of(s, "s3fs", &a), 0);

  s->store.reset_counters();
  assert_int_equal(list_names(s, "plain"), 0);
  assert_int_equal(s->names.size(), 40);
  assert_int_equal(s->store.calls("head"), 4);  // the sample only
  assert_int_equal(s->attrs[7].st_mode, S_IFREG | 0644);
  assert_int_equal(stat_of(s, "plain/f133", &a), 0);
  assert_int_equal(a.st_mode, S_IFREG | 0644);
  assert_int_equal(s->store.calls("head"), 4);  // the listing answered

  s->store.reset_counters();
  assert_int_equal(list_names(s, "s3fs"), 0);
  assert_int_equal(s->store.calls("head"), 40);
  for (const auto& at : s->attrs) assert_int_equal(at.st_mode, 33184);

  // on: every entry; off: none.
  s->opts.readdir_meta = fs::Options::ReaddirMeta::On;
  remount(s);
  assert_int_equal(stat_of(s, "plain", &a), 0);
  s->store.reset_counters();
  assert_int_equal(list_names(s, "plain"), 0);
  assert_int_equal(s->store.calls("head"), 40);
  s->opts.readdir_meta = fs::Options::ReaddirMeta::Off;
  remount(s);
  assert_int_equal(stat_of(s, "s3fs", &a), 0);
  s->store.reset_counters();
  assert_int_equal(list_names(s, "s3fs"), 0);
  assert_int_equal(s->store.calls("head"), 0);
  assert_int_equal(s->attrs[0].st_mode, S_IFREG | 0644);

  // auto, and the sample's HEADs fail: nothing is concluded, so a lookup asks
  // the server and finds the s3fs mode the listing could not show.
  for (int i = 0; i < 40; ++i)
    s->store.put_object("s3fs2/f" + std::to_string(100 + i), "x", {{"mode", "33184"}, {"mtime", "1700000000"}});
  s->opts.readdir_meta = fs::Options::ReaddirMeta::Auto;
  store::FaultyObjectStore faulty(s->store);
  s->fs = std::make_unique<fs::Filesystem>(faulty, s->opts);
  assert_int_equal(stat_of(s, "s3fs2", &a), 0);
  faulty.fail_next("head", 4, store::Error{store::ErrorCode::Transient, 503, "SlowDown", "", ""});
  s->store.reset_counters();
  assert_int_equal(list_names(s, "s3fs2"), 0);
  assert_int_equal(s->names.size(), 40);
  assert_int_equal(s->store.calls("head"), 0);  // the sample failed, the rest was not tried
  assert_int_equal(stat_of(s, "s3fs2/f133", &a), 0);
  assert_int_equal(s->store.calls("head"), 1);
  assert_int_equal(a.st_mode, 33184);
  s->fs.reset();  // before faulty goes

  // A listing of several pages: the sample comes from the first page, HEADed
  // while the other pages are fetched; the outcome is the same.
  s->opts.list_page_size = 10;
  remount(s);
  assert_int_equal(stat_of(s, "plain", &a), 0);
  assert_int_equal(stat_of(s, "s3fs", &a), 0);
  s->store.reset_counters();
  assert_int_equal(list_names(s, "plain"), 0);
  assert_int_equal(s->names.size(), 40);
  assert_int_equal(s->store.calls("head"), 4);
  assert_int_equal(stat_of(s, "plain/f133", &a), 0);
  assert_int_equal(s->store.calls("head"), 4);  // the listing answered
  s->store.reset_counters();
  assert_int_equal(list_names(s, "s3fs"), 0);
  assert_int_equal(s->store.calls("head"), 40);  // 4 sampled, then the other 36
  for (const auto& at : s->attrs) assert_int_equal(at.st_mode, 33184);
}

// ls stats a directory, then lists it: the stat's page starts the listing.
void test_stat_page_starts_listing(void** state) {
  State* s = st(state);
  s->opts.list_page_size = 2;
  remount(s);
  for (int i = 0; i < 5; ++i) s->store.put_object("d/f" + std::to_string(i), "x");
  struct stat a;
  s->store.reset_counters();
  assert_int_equal(stat_of(s, "d", &a), 0);
  assert_int_equal(s->store.calls("list"), 1);
  assert_int_equal(list_names(s, "d"), 0);
  assert_int_equal(s->names.size(), 5);
  assert_int_equal(s->store.calls("list"), 3);  // pages 2 and 3 only

  // A change in the directory drops the page: the next listing sees it.
  s->opts.list_page_size = 1000;
  remount(s);
  s->store.reset_counters();
  assert_int_equal(stat_of(s, "d", &a), 0);
  Ino d;
  assert_int_equal(resolve(s, "d", &d), 0);
  assert_int_equal(s->fs->unlink(d, "f3"), 0);
  assert_int_equal(list_names(s, "d"), 0);
  assert_int_equal(s->names.size(), 4);
  assert_true(index_of(s, "f3") < 0);
}

// A store whose listing pages after the first wait for a go-ahead.
class GatedListStore : public store::FaultyObjectStore {
 public:
  using FaultyObjectStore::FaultyObjectStore;
  store::StoreResult<store::ListPage> list(const store::ListRequest& req) override {
    if (!req.continuation_token.empty()) {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return open_; });
    }
    return FaultyObjectStore::list(req);
  }
  void open() {
    {
      std::lock_guard l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// readdir hands out the pages that have arrived while later ones are still
// being fetched; offsets stay valid and each name comes once.
void test_listing_streams(void** state) {
  State* s = st(state);
  for (int i = 0; i < 30; ++i) s->store.put_object("big/f" + std::to_string(100 + i), "x");
  s->store.put_object("big/sub/x", "x");
  s->opts.list_page_size = 10;
  s->opts.readdir_meta = fs::Options::ReaddirMeta::Off;
  GatedListStore gated(s->store);
  s->fs = std::make_unique<fs::Filesystem>(gated, s->opts);
  Ino big;
  assert_int_equal(resolve(s, "big", &big), 0);  // its first page comes with the stat
  uint64_t fh = 0;
  assert_int_equal(s->fs->opendir(big, &fh), 0);  // does not wait for the listing
  std::vector<std::string> got;
  uint64_t off = 0;
  auto read_batch = [&](size_t max) {
    size_t n = 0;
    int rc = s->fs->readdir(fh, off, false, [&](const fs::DirEntry& e, double, double) {
      if (n == max) return false;
      ++n;
      off = e.next_offset;
      if (e.name != "." && e.name != "..") got.push_back(e.name);
      return true;
    });
    assert_int_equal(rc, 0);
    return n;
  };
  // The first page is there while page 2 waits: 9 of its 10 names, as page 2
  // could still bring a directory "f109/" that would replace the last one.
  while (got.size() < 9) assert_true(read_batch(4) > 0);
  assert_int_equal(got.size(), 9);
  assert_string_equal(got[0].c_str(), "f100");
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gated.open();
  });
  while (read_batch(7) > 0) {
  }
  opener.join();
  assert_int_equal(got.size(), 31);
  std::set<std::string> unique(got.begin(), got.end());
  assert_int_equal(unique.size(), 31);
  assert_true(unique.count("sub") == 1);
  // Reading again from an old offset gives the same entries.
  std::vector<std::string> first = got;
  got.clear();
  off = 5;
  while (read_batch(9) > 0) {
  }
  assert_int_equal(got.size(), 31 - 3);
  assert_string_equal(got[0].c_str(), first[3].c_str());
  assert_int_equal(s->fs->releasedir(fh), 0);
  // The complete listing was cached: a second listing costs no request.
  gated.fail_next("list", 100, store::Error{store::ErrorCode::Transient, 503, "SlowDown", "", ""});
  assert_int_equal(list_names(s, "big"), 0);
  assert_int_equal(s->names.size(), 31);
  s->fs.reset();  // before gated goes
}

// A name that is both an object and a prefix is streamed once, as the
// directory, wherever the page boundary falls.
void test_listing_stream_collision(void** state) {
  State* s = st(state);
  s->opts.readdir_meta = fs::Options::ReaddirMeta::Off;
  for (int size = 1; size <= 4; ++size) {
    s->opts.list_page_size = size;
    remount(s);
    s->store.put_object("c/a", "x");
    s->store.put_object("c/both", "x");
    s->store.put_object("c/both-1", "x");
    s->store.put_object("c/both/x", "x");
    s->store.put_object("c/z", "x");
    assert_int_equal(list_names(s, "c"), 0);
    assert_int_equal(s->names.size(), 4);
    int i = index_of(s, "both");
    assert_true(i >= 0);
    if (!S_ISDIR(s->attrs[i].st_mode)) fail_msg("page size %d: 'both' listed as a file", size);
  }
}

// A handle closed while its listing is still arriving stops it.
void test_listing_stream_closed_early(void** state) {
  State* s = st(state);
  for (int i = 0; i < 30; ++i) s->store.put_object("big/f" + std::to_string(100 + i), "x");
  s->opts.list_page_size = 10;
  GatedListStore gated(s->store);
  s->fs = std::make_unique<fs::Filesystem>(gated, s->opts);
  Ino big;
  assert_int_equal(resolve(s, "big", &big), 0);
  uint64_t fh = 0;
  assert_int_equal(s->fs->opendir(big, &fh), 0);
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gated.open();
  });
  assert_int_equal(s->fs->releasedir(fh), 0);  // waits for page 2, then stops
  opener.join();
  s->store.reset_counters();
  assert_int_equal(list_names(s, "big"), 0);  // nothing partial was cached
  assert_int_equal(s->names.size(), 30);
  assert_true(s->store.calls("list") >= 3);
  s->fs.reset();
}

void test_symlink_round_trip(void** state) {
  State* s = st(state);
  fs::Entry e;
  assert_int_equal(s->fs->symlink("../some where/t", fs::kRootIno, "ln", ctx(), &e), 0);
  assert_true(S_ISLNK(e.attr.st_mode));
  assert_string_equal(s->store.object_data("ln")->c_str(), "../some where/t");
  assert_string_equal(meta_of(s, "ln", "mode").c_str(), std::to_string(S_IFLNK | 0777).c_str());
  assert_int_equal(s->fs->symlink("x", fs::kRootIno, "ln", ctx(), &e), EEXIST);
  remount(s);
  Ino ln;
  struct stat a;
  assert_int_equal(resolve(s, "ln", &ln, &a), 0);
  assert_int_equal(a.st_mode, S_IFLNK | 0777);
  assert_int_equal(a.st_size, 15);
  assert_int_equal(s->fs->readlink(ln, &s->buf), 0);
  assert_string_equal(s->buf.c_str(), "../some where/t");
  assert_int_equal(list_names(s, ""), 0);
  assert_true(S_ISLNK(s->attrs[0].st_mode));
}

void test_reads(void** state) {
  State* s = st(state);
  std::string data(3 * 1024 * 1024 + 1, '\0');
  std::mt19937 rng(7);
  for (auto& c : data) c = static_cast<char>(rng());
  s->store.put_object("big", data);
  s->store.put_object("zero", "");
  s->store.put_object("one", "1");
  Ino big, zero, one;
  assert_int_equal(resolve(s, "big", &big), 0);
  assert_int_equal(resolve(s, "zero", &zero), 0);
  assert_int_equal(resolve(s, "one", &one), 0);
  uint64_t fh;
  assert_int_equal(s->fs->open(big, O_RDONLY, &fh), 0);
  s->store.reset_counters();
  // Sequential 128 KiB reads: served from a growing window.
  const size_t chunk = 128 * 1024;
  std::string got;
  for (uint64_t off = 0; off < data.size(); off += chunk) {
    assert_int_equal(read_at(s, fh, off, chunk), 0);
    got += s->buf;
  }
  assert_true(got == data);
  assert_true(s->store.calls("get") <= 3);  // 1 MiB, 2 MiB, the rest
  // Random reads fetch what they need, across window boundaries too.
  const uint64_t offs[] = {5, 1048570, 2097000, 3145000, data.size() - 10};
  for (uint64_t off : offs) {
    assert_int_equal(read_at(s, fh, off, 4096), 0);
    assert_true(s->buf == data.substr(off, 4096));
  }
  // At and past EOF: short and empty reads.
  assert_int_equal(read_at(s, fh, data.size() - 1, 100), 0);
  assert_int_equal(s->buf.size(), 1);
  assert_int_equal(read_at(s, fh, data.size(), 100), 0);
  assert_int_equal(s->buf.size(), 0);
  assert_int_equal(s->fs->release(fh), 0);
  assert_int_equal(s->fs->read(fh, 0, 1, &s->buf), EBADF);

  s->store.reset_counters();
  assert_int_equal(s->fs->open(zero, O_RDONLY, &fh), 0);
  assert_int_equal(read_at(s, fh, 0, 4096), 0);
  assert_int_equal(s->buf.size(), 0);
  assert_int_equal(s->store.calls("get"), 0);
  assert_int_equal(s->fs->release(fh), 0);
  assert_int_equal(s->fs->open(one, O_RDONLY, &fh), 0);
  assert_int_equal(read_at(s, fh, 0, 4096), 0);
  assert_string_equal(s->buf.c_str(), "1");
  assert_int_equal(s->fs->release(fh), 0);
  // Writing waits for the staged write path.
  assert_int_equal(s->fs->open(one, O_WRONLY, &fh), ENOTSUP);
  Ino root_dir = fs::kRootIno;
  assert_int_equal(s->fs->open(root_dir, O_RDONLY, &fh), EISDIR);
}

void test_prefetch_budget(void** state) {
  State* s = st(state);
  s->opts.prefetch_memory_budget = 16 * 1024;  // smaller than one read
  remount(s);
  std::string data(512 * 1024, 'b');
  s->store.put_object("f", data);
  Ino f;
  assert_int_equal(resolve(s, "f", &f), 0);
  uint64_t fh;
  assert_int_equal(s->fs->open(f, O_RDONLY, &fh), 0);
  std::string got;
  for (uint64_t off = 0; off < data.size(); off += 32768) {
    assert_int_equal(read_at(s, fh, off, 32768), 0);
    got += s->buf;
  }
  assert_true(got == data);
  assert_int_equal(s->store.calls("get"), 16);  // no budget: each read fetches its own bytes
  assert_int_equal(s->fs->release(fh), 0);
}

void test_name_too_long(void** state) {
  State* s = st(state);
  fs::Entry e;
  std::string long_name(256, 'n');
  assert_int_equal(s->fs->lookup(fs::kRootIno, long_name, &e), ENAMETOOLONG);
  assert_int_equal(s->fs->mkdir(fs::kRootIno, long_name, 0755, ctx(), &e), ENAMETOOLONG);
  // Components of 255 bytes, nested until the key passes 1024 bytes.
  std::string n255(255, 'd');
  Ino cur = fs::kRootIno;
  for (int depth = 0; depth < 4; ++depth) {  // the 4th dir key is exactly 1024 bytes
    assert_int_equal(s->fs->mkdir(cur, n255, 0755, ctx(), &e), 0);
    cur = e.ino;
  }
  assert_int_equal(s->fs->mkdir(cur, n255, 0755, ctx(), &e), ENAMETOOLONG);  // 5 * 256 > 1024
  assert_int_equal(s->fs->symlink("t", cur, n255, ctx(), &e), ENAMETOOLONG);
  // Control characters are just bytes of a key.
  assert_int_equal(s->fs->mkdir(fs::kRootIno, "new\nline", 0755, ctx(), &e), 0);
  assert_true(s->store.object_info("new\nline/").has_value());
}

void test_read_only(void** state) {
  State* s = st(state);
  s->store.put_object("f", "x");
  s->opts.read_only = true;
  remount(s);
  fs::Entry e;
  Ino f;
  uint64_t fh;
  assert_int_equal(resolve(s, "f", &f), 0);
  assert_int_equal(s->fs->mkdir(fs::kRootIno, "d", 0755, ctx(), &e), EROFS);
  assert_int_equal(s->fs->unlink(fs::kRootIno, "f"), EROFS);
  assert_int_equal(s->fs->rename(fs::kRootIno, "f", fs::kRootIno, "g", 0), EROFS);
  assert_int_equal(s->fs->symlink("t", fs::kRootIno, "l", ctx(), &e), EROFS);
  assert_int_equal(s->fs->open(f, O_RDWR, &fh), EROFS);
  assert_int_equal(s->fs->create(fs::kRootIno, "n", 0644, O_WRONLY, ctx(), &e, &fh), EROFS);
  assert_int_equal(s->fs->open(f, O_RDONLY, &fh), 0);
  assert_int_equal(s->fs->release(fh), 0);
  assert_int_equal(s->store.object_count(), 1);
}

void test_forget_and_plain_readdir(void** state) {
  State* s = st(state);
  s->store.put_object("a", "1");
  fs::Entry e;
  assert_int_equal(s->fs->lookup(fs::kRootIno, "a", &e), 0);
  Ino first = e.ino;
  assert_int_equal(s->fs->lookup(fs::kRootIno, "a", &e), 0);
  assert_int_equal(e.ino, first);
  s->fs->forget(first, 2);
  // After the kernel forgot it, a plain readdir does not create inodes.
  assert_int_equal(list_names(s, "", false), 0);
  assert_int_equal(s->attrs[0].st_ino, 0xffffffff);
  assert_int_equal(s->fs->lookup(fs::kRootIno, "a", &e), 0);
  assert_true(e.ino != first);
  struct statvfs sv;
  assert_int_equal(s->fs->statfs(fs::kRootIno, &sv), 0);
  assert_true(sv.f_blocks > (1ull << 30));
  assert_int_equal(sv.f_namemax, 255);
}

// The in-memory store itself: ETags, multipart assembly, listing pages.
void test_memory_store(void** state) {
  State* s = st(state);
  store::MemoryObjectStore small(4);
  auto put = small.put_bytes("k", "abc", {});
  assert_true(put.ok());
  assert_string_equal(put.value().c_str(), "900150983cd24fb0d6963f7d28e17f72");  // md5("abc")
  auto id = small.create_multipart("mp", {});
  assert_true(id.ok());
  char tmpl[] = "/tmp/bucketfs-test-fs-XXXXXX";
  int fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  unlink(tmpl);
  assert_int_equal(::write(fd, "aaaabb", 6), 6);
  auto p1 = small.upload_part("mp", id.value(), 1, store::FileRange{fd, 0, 4});
  auto p2 = small.upload_part("mp", id.value(), 2, store::FileRange{fd, 4, 2});
  close(fd);
  assert_true(p1.ok() && p2.ok());
  auto done = small.complete_multipart("mp", id.value(), {p1.value(), p2.value()});
  assert_true(done.ok());
  assert_true(done.value().size() == 34 && done.value().substr(32) == "-2");
  assert_string_equal(small.object_data("mp")->c_str(), "aaaabb");
  assert_int_equal(small.open_upload_count(), 0);
  auto again = small.complete_multipart("mp", id.value(), {p1.value()});
  assert_false(again.ok());
  assert_int_equal(static_cast<int>(again.error().code), static_cast<int>(store::ErrorCode::NoSuchUpload));
  // Pages with a delimiter count a common prefix once and resume after it.
  for (const char* k : {"d/a", "d/b/1", "d/b/2", "d/c", "e"}) s->store.put_object(k, "");
  store::ListRequest req;
  req.prefix = "d/";
  req.delimiter = "/";
  req.max_keys = 1;
  std::string seen;
  for (;;) {
    auto page = s->store.list(req);
    assert_true(page.ok());
    for (const auto& o : page.value().objects) seen += o.key + " ";
    for (const auto& c : page.value().common_prefixes) seen += c + " ";
    if (!fs::next_page(page.value(), &req)) break;
  }
  assert_string_equal(seen.c_str(), "d/a d/b/ d/c ");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key_mapping),
      cmocka_unit_test_setup_teardown(test_memory_store, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prefix_mount, setup, teardown),
      cmocka_unit_test_setup_teardown(test_directory_merging, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listing_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attr_cache_and_negative_entries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invalidation_after_own_changes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stat_page_starts_listing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listing_streams, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listing_stream_closed_early, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listing_stream_collision, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rename_file_keeps_metadata, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rename_directory_with_children, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rmdir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chmod_chown_utimens_persist, setup, teardown),
      cmocka_unit_test_setup_teardown(test_s3fs_metadata, setup, teardown),
      cmocka_unit_test_setup_teardown(test_symlink_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prefetch_budget, setup, teardown),
      cmocka_unit_test_setup_teardown(test_readdir_meta_auto, setup, teardown),
      cmocka_unit_test_setup_teardown(test_name_too_long, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forget_and_plain_readdir, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
