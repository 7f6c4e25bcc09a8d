// prefetcher.cpp - see prefetcher.hpp.
#include "bucketfs/fs/prefetcher.hpp"

#include <algorithm>
#include <cerrno>

namespace bucketfs::fs {

bool PrefetchBudget::try_reserve(uint64_t want) {
  uint64_t cur = used_.load();
  do {
    if (cur + want > capacity_) return false;
  } while (!used_.compare_exchange_weak(cur, cur + want));
  return true;
}

void PrefetchBudget::release(uint64_t n) { used_.fetch_sub(n); }

Prefetcher::Prefetcher(store::ObjectStore& store, std::string key, uint64_t size, uint64_t min_window,
                       uint64_t max_window, PrefetchBudget& budget)
    : store_(store),
      key_(std::move(key)),
      size_(size),
      min_window_(std::max<uint64_t>(min_window, 4096)),
      max_window_(std::max(max_window, min_window_)),
      budget_(budget),
      window_(min_window_) {}

Prefetcher::~Prefetcher() { drop_buffer(); }

void Prefetcher::drop_buffer() {
  buf_.clear();
  buf_.shrink_to_fit();
  if (reserved_) budget_.release(reserved_);
  reserved_ = 0;
}

int Prefetcher::fetch(uint64_t offset, uint64_t length, std::string* into) {
  ++fetches_;
  into->reserve(into->size() + length);
  auto got = store_.get(key_, offset, length, [into](const char* data, size_t n) {
    into->append(data, n);
    return true;
  });
  if (!got) return store::to_errno(got.error());
  return 0;
}

int Prefetcher::read(uint64_t offset, size_t n, std::string* out) {
  if (offset >= size_ || n == 0) return 0;
  uint64_t want = std::min<uint64_t>(n, size_ - offset);
  uint64_t buf_end = buf_start_ + buf_.size();

  bool in_buffer = offset >= buf_start_ && offset + want <= buf_end;
  // Reads that continue the stream, or land a little ahead of it (the kernel
  // sends readahead pages from several threads, slightly out of order), are
  // sequential.
  bool sequential = offset == next_offset_ || (offset >= buf_start_ && offset <= buf_end + window_);
  if (in_buffer) {
    out->append(buf_, offset - buf_start_, want);
    next_offset_ = offset + want;
    return 0;
  }
  if (!sequential) {
    // Random access: fetch exactly what is needed; keep the buffer (the
    // stream may resume) but restart the window.
    window_ = min_window_;
    size_t before = out->size();
    int rc = fetch(offset, want, out);
    if (rc == 0 && out->size() - before < want) rc = EIO;  // object shrank under us
    next_offset_ = offset + want;
    return rc;
  }

  // Sequential: serve what the buffer still holds, then refill with a window
  // starting right after it.
  if (offset >= buf_start_ && offset < buf_end) {
    uint64_t have = buf_end - offset;
    out->append(buf_, offset - buf_start_, have);
    offset += have;
    want -= have;
  }
  if (buf_.size() > 0) window_ = std::min(window_ * 2, max_window_);
  drop_buffer();
  uint64_t len = std::min(std::max<uint64_t>(window_, want), size_ - offset);
  if (!budget_.try_reserve(len)) {
    // Over the shared budget: fetch only what this read needs.
    len = want;
    window_ = min_window_;
  } else {
    reserved_ = len;
  }
  std::string fresh;
  int rc = fetch(offset, len, &fresh);
  if (rc != 0) {
    drop_buffer();
    return rc;
  }
  if (fresh.size() < want) {
    drop_buffer();
    return EIO;
  }
  out->append(fresh, 0, want);
  next_offset_ = offset + want;
  if (reserved_) {
    buf_ = std::move(fresh);
    buf_start_ = offset;
  }
  return 0;
}

}  // namespace bucketfs::fs
