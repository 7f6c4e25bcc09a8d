// secret.hpp - a string that cannot be printed by accident.
//
// There is no operator<< and no implicit conversion: the only way to the bytes
// is reveal(), which the signers call. Logging a Secret does not compile.
#pragma once

#include <string>
#include <string_view>

namespace bucketfs {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(Secret&&) noexcept = default;
  ~Secret() { wipe(); }

  std::string_view reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  void wipe() {
    volatile char* p = value_.data();
    for (size_t i = 0; i < value_.size(); ++i) p[i] = 0;
  }
  std::string value_;
};

}  // namespace bucketfs
