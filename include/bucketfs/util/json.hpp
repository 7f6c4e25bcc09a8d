// json.hpp - a small JSON reader for the documents credential services answer
// (instance metadata, container credentials, credential processes, Alibaba STS).
//
// RFC 8259 values into a tree: objects keep their members in order, numbers
// are doubles, strings are UTF-8 (\uXXXX escapes and surrogate pairs decoded).
// Depth is limited (64) so that a hostile document cannot exhaust the stack.
// Errors: parse() returns a one-line message with the byte offset; it never
// quotes the document (it may hold a secret).
// Thread-safety: values are plain data; parse() is reentrant.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bucketfs/util/result.hpp"

namespace bucketfs::json {

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Type type() const { return type_; }
  bool is_object() const { return type_ == Type::Object; }
  bool is_string() const { return type_ == Type::String; }
  bool is_number() const { return type_ == Type::Number; }

  // The member named `key` of an object, or nullptr (also when this is not an object).
  const Value* get(std::string_view key) const;
  // The string member `key`, or "" when absent or not a string.
  std::string string_at(std::string_view key) const;

  const std::string& as_string() const { return string_; }
  double as_number() const { return number_; }
  bool as_bool() const { return boolean_; }
  const std::vector<Value>& items() const { return items_; }
  const std::vector<std::pair<std::string, Value>>& members() const { return members_; }

  // Overwrites strings before the memory is freed (documents carry secrets).
  ~Value();
  Value() = default;
  Value(const Value&) = default;
  Value& operator=(const Value&) = default;
  Value(Value&&) noexcept = default;
  Value& operator=(Value&&) noexcept = default;

 private:
  friend class Parser;
  Type type_ = Type::Null;
  bool boolean_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> members_;
};

// Parses one JSON document (surrounding whitespace allowed, nothing else).
Result<Value, std::string> parse(std::string_view text);

}  // namespace bucketfs::json
