// test_log.cpp - the log cannot be forged or used against the terminal by a
// key name (log::printable escapes control characters and invalid UTF-8), and
// log_file never follows a planted symlink or hard link (log::set_file).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "bucketfs/util/log.hpp"
#include "lib/scratch_dir.hpp"

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;

namespace {

const char* kCanaryText = "canary: must never change\n";

struct State {
  std::string root, canary;
};

State* st(void** state) { return static_cast<State*>(*state); }

int setup(void** state) {
  auto* s = new State;
  s->root = testing::make_scratch_dir("bfs-log");
  if (s->root.empty()) return -1;
  s->canary = s->root + "/canary";
  std::ofstream(s->canary) << kCanaryText;
  *state = s;
  return 0;
}

int teardown(void** state) {
  State* s = st(state);
  log::set_stderr();
  if (!testing::remove_scratch_dir(s->root)) return -1;
  delete s;
  return 0;
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

void test_printable(void**) {
  assert_string_equal(log::printable("plain/key name.txt").c_str(), "plain/key name.txt");
  // A newline cannot start a forged line; ESC and BEL cannot reach the terminal.
  assert_string_equal(log::printable("a\nb\r\tc").c_str(), "a\\x0ab\\x0d\\x09c");
  assert_string_equal(log::printable("\x1b]0;owned\x07\x1b[2J").c_str(), "\\x1b]0;owned\\x07\\x1b[2J");
  assert_string_equal(log::printable(std::string("nul\0x", 5)).c_str(), "nul\\x00x");
  assert_string_equal(log::printable("del\x7f").c_str(), "del\\x7f");
  // UTF-8 passes; C1 controls (U+0080..U+009F, e.g. CSI U+009B) and bytes
  // that are not UTF-8 (a raw 0x9b is CSI on 8-bit terminals) do not.
  assert_string_equal(log::printable("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80").c_str(),
                      "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
  assert_string_equal(log::printable("\xc2\x9b"
                                     "31m")
                          .c_str(),
                      "\\xc2\\x9b31m");
  assert_string_equal(log::printable("\xc2\xa0").c_str(), "\xc2\xa0");  // U+00A0 is text
  assert_string_equal(log::printable("\x9b"
                                     "31m")
                          .c_str(),
                      "\\x9b31m");
  assert_string_equal(log::printable("\xc3").c_str(), "\\xc3");                             // cut short
  assert_string_equal(log::printable("\xc0\xaf").c_str(), "\\xc0\\xaf");                    // overlong '/'
  assert_string_equal(log::printable("\xed\xa0\x80").c_str(), "\\xed\\xa0\\x80");           // a surrogate
  assert_string_equal(log::printable("\xf4\x90\x80\x80").c_str(), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
}

// A logged message is escaped on its way to the file: one line per message.
void test_log_lines_are_escaped(void** state) {
  State* s = st(state);
  const std::string path = s->root + "/bucketfs.log";
  assert_string_equal(log::set_file(path).c_str(), "");
  LOG_ERROR("upload failed: evil\n2000-01-01 00:00:00.000 bucketfs[1] info: forged\x1b[31m");
  log::set_stderr();
  const std::string text = testing::read_whole_file(path);
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  assert_int_equal(lines, 1);
  assert_false(contains(text, "\x1b"));
  assert_true(contains(text, "evil\\x0a2000-01-01"));
}

void test_log_file_symlink_refused(void** state) {
  State* s = st(state);
  const std::string path = s->root + "/planted.log";
  assert_int_equal(::symlink(s->canary.c_str(), path.c_str()), 0);
  std::string why = log::set_file(path);
  assert_true(contains(why, "is a symlink"));
  LOG_ERROR("must not reach the canary");
  assert_string_equal(testing::read_whole_file(s->canary).c_str(), kCanaryText);
}

void test_log_file_hard_link_refused(void** state) {
  State* s = st(state);
  const std::string path = s->root + "/hard.log";
  assert_int_equal(::link(s->canary.c_str(), path.c_str()), 0);
  std::string why = log::set_file(path);
  assert_true(contains(why, "hard links"));
  LOG_ERROR("must not reach the canary");
  assert_string_equal(testing::read_whole_file(s->canary).c_str(), kCanaryText);
}

void test_log_file_fifo_refused(void** state) {
  State* s = st(state);
  const std::string path = s->root + "/fifo.log";
  assert_int_equal(::mkfifo(path.c_str(), 0600), 0);
  std::string why = log::set_file(path);  // returns at once: no reader, O_NONBLOCK
  assert_true(contains(why, path));
}

void test_log_file_foreign_owner_refused(void** state) {
  if (::geteuid() != 0) skip();
  State* s = st(state);
  const std::string path = s->root + "/theirs.log";
  std::ofstream(path) << "theirs\n";
  assert_int_equal(::chown(path.c_str(), 65534, 65534), 0);
  std::string why = log::set_file(path);
  assert_true(contains(why, "owned by uid 65534"));
  assert_string_equal(testing::read_whole_file(path).c_str(), "theirs\n");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_printable),
      cmocka_unit_test_setup_teardown(test_log_lines_are_escaped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_file_symlink_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_file_hard_link_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_file_fifo_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_file_foreign_owner_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
