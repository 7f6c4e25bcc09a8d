// test_readahead.cpp - finding a bucketfs mount's device in /proc/self/mountinfo
// (fusefs::fuse_mount_device), whose read-ahead the daemon raises.
#include <optional>
#include <string>

#include "bucketfs/fuse/readahead.hpp"

// cmocka last: its macros clash with names in the C++ headers.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using bucketfs::fusefs::fuse_mount_device;

namespace {

// Lines as Linux 6.x prints them: optional fields, then " - ", then type.
const char* kInfo =
    "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "41 22 0:41 / /mnt/b rw,nosuid,nodev,relatime shared:20 - fuse.bucketfs bench rw,user_id=0,group_id=0\n"
    "42 22 0:42 / /mnt/other rw,nosuid,nodev - fuse.sshfs host: rw,user_id=0\n"
    "43 22 0:43 / /mnt/with\\040space rw - fuse.bucketfs b rw\n"
    "50 41 0:50 / /mnt/b rw - fuse.bucketfs again rw\n"
    "51 22 0:51 / /mnt/nested/x rw - fuse.bucketfs y rw";  // no final newline

// The topmost mount on a path wins: a second bucketfs mounted over /mnt/b.
void test_topmost(void**) {
  auto d = fuse_mount_device(kInfo, "/mnt/b");
  assert_true(d.has_value());
  assert_string_equal(d->c_str(), "0:50");
}

// Escaped mount points (\040 is a space) compare unescaped; the last line
// needs no newline.
void test_escapes_and_last_line(void**) {
  auto d = fuse_mount_device(kInfo, "/mnt/with space");
  assert_true(d.has_value());
  assert_string_equal(d->c_str(), "0:43");
  d = fuse_mount_device(kInfo, "/mnt/nested/x");
  assert_true(d.has_value());
  assert_string_equal(d->c_str(), "0:51");
}

// Another file system type, a prefix of a mount point, or nothing: none.
void test_not_found(void**) {
  assert_false(fuse_mount_device(kInfo, "/mnt/other").has_value());
  assert_false(fuse_mount_device(kInfo, "/mnt").has_value());
  assert_false(fuse_mount_device(kInfo, "/mnt/b/").has_value());
  assert_false(fuse_mount_device(kInfo, "/").has_value());
  assert_false(fuse_mount_device("", "/mnt/b").has_value());
  assert_false(fuse_mount_device("garbage without fields\n", "/mnt/b").has_value());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_topmost),
      cmocka_unit_test(test_escapes_and_last_line),
      cmocka_unit_test(test_not_found),
  };
  return cmocka_run_group_tests_name("readahead", tests, nullptr, nullptr);
}
