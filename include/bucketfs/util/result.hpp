// result.hpp - a value or a typed error, for the layers below fs/ (no exceptions
// cross layer boundaries for expected failures; g++ 12 has no std::expected).
//
// Invariant: a Result holds exactly one of a value or an error. Accessing the
// wrong one is a programming error (asserted).
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace bucketfs {

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  E& error() {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, E> v_;
};

// Result<void, E>: success carries nothing.
struct Ok {};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() : v_(std::in_place_index<0>, Ok{}) {}
  Result(Ok) : v_(std::in_place_index<0>, Ok{}) {}                   // NOLINT implicit
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT implicit
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const E& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  E& error() {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<Ok, E> v_;
};

}  // namespace bucketfs
