// secret.hpp - a string that cannot be printed by accident, and is wiped.
//
// There is no operator<< and no implicit conversion: the only way to the bytes
// is reveal(), which the signers call. Logging a Secret does not compile.
// Every buffer a Secret held is overwritten with explicit_bzero (which the
// compiler may not drop as a dead store) before it is freed: at destruction,
// and before an assignment replaces it.
#pragma once

#include <string.h>  // explicit_bzero (glibc)

#include <string>
#include <string_view>

namespace bucketfs {

// Overwrites n bytes at p in a way the optimiser keeps.
inline void secure_wipe(void* p, size_t n) {
  if (n != 0) ::explicit_bzero(p, n);
}

// Overwrites the whole buffer of s (its capacity, not only its size: a string
// keeps old bytes beyond its end) and empties it.
inline void secure_wipe(std::string& s) {
  secure_wipe(s.data(), s.capacity());
  s.clear();
}

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  // Moving leaves the source with an empty (local) buffer; no bytes stay behind
  // that its destructor would not wipe.
  Secret(Secret&&) noexcept = default;
  Secret& operator=(const Secret& o) {
    if (this != &o) {
      secure_wipe(value_);
      value_ = o.value_;
    }
    return *this;
  }
  Secret& operator=(Secret&& o) noexcept {
    if (this != &o) {
      secure_wipe(value_);
      value_ = std::move(o.value_);  // our old (wiped) buffer may go to o
    }
    return *this;
  }
  ~Secret() { secure_wipe(value_); }

  std::string_view reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

}  // namespace bucketfs
