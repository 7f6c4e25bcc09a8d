// guarded.hpp - what every parser in xml/ shares: "never throws" includes
// std::bad_alloc, so a body we cannot hold is not a document.
#pragma once

#include <optional>

namespace bucketfs::xml::detail {

// f() (which returns a std::optional), or nullopt if it throws.
template <class F>
auto guarded(F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace bucketfs::xml::detail
