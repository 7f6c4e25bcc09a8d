// test_mime.cpp - Content-Type from a key's extension: the mime.types parser,
// the built-in fallback, and the lookup rules (last component, case, dotfiles).
#include <string>

#include "bucketfs/util/mime_types.hpp"

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using bucketfs::mime::MimeTypes;

namespace {

// cmocka longjmps on failure: the helpers own the strings and return a bool.
bool parses_mime_types_text() {
  MimeTypes m = MimeTypes::parse(
      "# comment line\n"
      "text/html\t\t\thtml htm   # trailing comment\n"
      "application/x-first  dup\n"
      "application/x-second dup\n"
      "not-a-type foo\n"
      "image/jpeg jpeg jpg\n"
      "application/json-seq\n");
  return m.lookup("index.html") == "text/html" && m.lookup("a/b/PAGE.HTM") == "text/html" &&
         m.lookup("x.dup") == "application/x-first" &&  // the first line wins
         m.lookup("x.foo") == bucketfs::mime::kDefaultType && m.lookup("p.JPG") == "image/jpeg" && m.size() == 5;
}

bool lookup_rules() {
  MimeTypes m = MimeTypes::builtin();
  return m.lookup("photos/2024/cat.jpeg") == "image/jpeg" && m.lookup("archive.tar.gz") == "application/gzip" &&
         m.lookup("README") == bucketfs::mime::kDefaultType &&       // no extension
         m.lookup(".bashrc") == bucketfs::mime::kDefaultType &&      // a dotfile has none either
         m.lookup("dir.d/noext") == bucketfs::mime::kDefaultType &&  // the dot is in a directory
         m.lookup("trailing.") == bucketfs::mime::kDefaultType &&
         m.lookup("x.unknownext") == bucketfs::mime::kDefaultType;
}

bool load_falls_back() {
  MimeTypes missing = MimeTypes::load("/nonexistent/mime.types");
  return missing.lookup("a.json") == "application/json" && missing.size() == MimeTypes::builtin().size();
}

void test_parse(void**) { assert_true(parses_mime_types_text()); }
void test_lookup(void**) { assert_true(lookup_rules()); }
void test_load_fallback(void**) { assert_true(load_falls_back()); }
void test_system_table(void**) {
  // Whatever table this machine has, these are in both.
  assert_true(bucketfs::mime::content_type_for("x/y.png") == "image/png");
  assert_true(bucketfs::mime::content_type_for("noext") == bucketfs::mime::kDefaultType);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_load_fallback),
      cmocka_unit_test(test_system_table),
  };
  return cmocka_run_group_tests_name("mime", tests, nullptr, nullptr);
}
