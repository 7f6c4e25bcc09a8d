// prefetcher.cpp - see prefetcher.hpp.
#include "bucketfs/fs/prefetcher.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <sys/mman.h>

namespace bucketfs::fs {
namespace {

// How far behind the furthest read a late read may still come: a few of the
// kernel's read-ahead requests (1 MiB each once the mount's read-ahead is
// raised).
constexpr uint64_t kLateReadSlack = uint64_t{4} << 20;

}  // namespace

bool PrefetchBudget::try_reserve(uint64_t want) {
  uint64_t cur = used_.load();
  do {
    if (cur + want > capacity_) return false;
  } while (!used_.compare_exchange_weak(cur, cur + want));
  return true;
}

void PrefetchBudget::release(uint64_t n) { used_.fetch_sub(n); }

bool Prefetcher::MappedBuffer::allocate(size_t n) {
  reset();
  // Huge pages only for windows of 2 MiB and more: a small file's window
  // must not cost a zeroed 2 MiB page.
  constexpr size_t kHuge = size_t{2} << 20, kPage = 4096;
  bool huge = n >= kHuge;
  size_t unit = huge ? kHuge : kPage;
  size_t rounded = (n + unit - 1) / unit * unit;
  void* m = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return false;
#ifdef MADV_HUGEPAGE
  if (huge) ::madvise(m, rounded, MADV_HUGEPAGE);  // a hint: without THP it stays 4 KiB pages
#endif
  p = static_cast<char*>(m);
  size = rounded;
  return true;
}

void Prefetcher::MappedBuffer::reset() {
  if (p) ::munmap(p, size);
  p = nullptr;
  size = 0;
}

Prefetcher::Prefetcher(store::ObjectStore& store, std::string key, uint64_t size, uint64_t min_window,
                       uint64_t max_window, PrefetchBudget& budget)
    : store_(store),
      key_(std::move(key)),
      size_(size),
      min_window_(std::max<uint64_t>(min_window, 4096)),
      max_window_(std::max(max_window, min_window_)),
      budget_(budget),
      window_(min_window_) {}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard lk(mu_);
    quit_ = true;
    stop_stream();
  }
  cv_.notify_all();
  for (auto& t : fillers_)
    if (t.joinable()) t.join();
  free_buffers();
}

void Prefetcher::free_buffers() {
  for (auto& w : win_) {
    if (w.cap) budget_.release(w.cap);
    w.buf.reset();
    w.cap = 0;
  }
}

int Prefetcher::fetch_exact(uint64_t offset, uint64_t length, std::string* into) {
  ++fetches_;
  into->reserve(into->size() + length);
  auto got = store_.get(key_, offset, length, [into](const char* data, size_t n) {
    into->append(data, n);
    return true;
  });
  if (!got) return store::to_errno(got.error());
  return into->size() < length ? EIO : 0;  // the object shrank under us
}

int Prefetcher::deliver_exact(uint64_t offset, uint64_t want, std::string* head, const ReadSink& deliver) {
  std::string exact;
  if (int rc = fetch_exact(offset, want, &exact)) return rc;
  next_offset_ = offset + want;
  head->append(exact);
  deliver(head->data(), head->size());
  return 0;
}

Prefetcher::Window* Prefetcher::window_at(uint64_t offset) {
  for (auto& w : win_) {
    if (w.state != State::Free && w.gen == gen_ && offset >= w.start && offset - w.start < w.target) return &w;
  }
  return nullptr;
}

Prefetcher::Window* Prefetcher::claim_next() {
  if (!streaming_ || quit_ || next_start_ >= size_) return nullptr;
  Window* w = win_[0].state == State::Free ? &win_[0] : win_[1].state == State::Free ? &win_[1] : nullptr;
  if (!w) return nullptr;
  uint64_t len = std::min(window_, size_ - next_start_);
  w->start = next_start_;
  w->target = len;
  w->len = 0;
  w->err = 0;
  w->gen = gen_;
  next_start_ += len;
  window_ = std::min(window_ * 2, max_window_);
  if (w->cap < len) {
    // The mapping is made once, as large as any window of this object can
    // be; a growing window reserves more of the budget but keeps its pages:
    // a new mapping per size would fault and zero every page again (on a VM
    // that first touch cost more than copying the bytes into it).
    bool reserved = budget_.try_reserve(len - w->cap);
    if (reserved && !w->buf.get() && !w->buf.allocate(std::min(max_window_, size_))) {
      budget_.release(len - w->cap);
      reserved = false;
    }
    if (!reserved) {
      // The reader waiting for these bytes falls back to fetching them itself.
      w->err = ENOBUFS;
      w->state = State::Ready;
      streaming_ = false;
      cv_.notify_all();
      return nullptr;
    }
    w->cap = len;
  }
  w->state = State::Filling;
  cv_.notify_all();  // a reader may wait for this range to be claimed
  return w;
}

void Prefetcher::fill(Window* w, uint64_t gen) {
  // start, target and buf are stable while the window is Filling.
  ++fetches_;
  uint64_t landed = 0;
  bool overflow = false;
  auto got = store_.get(key_, w->start, w->target, [&](const char* data, size_t n) {
    if (n > w->target - landed) {  // more than the range asked for: not this window's bytes
      overflow = true;
      return false;
    }
    std::memcpy(w->buf.get() + landed, data, n);
    landed += n;
    std::lock_guard lk(mu_);
    if (gen != gen_) return false;  // the stream stopped: abandon the GET
    w->len = landed;
    // Wake the reader only once the bytes it waits for are all here.
    if (wait_end_ && w->start + landed >= wait_end_) cv_.notify_all();
    return true;
  });
  std::lock_guard lk(mu_);
  if (gen != gen_) {
    w->state = State::Free;
  } else {
    w->state = State::Ready;
    w->err = overflow ? EIO : got ? 0 : store::to_errno(got.error());
  }
  cv_.notify_all();
}

void Prefetcher::stream_loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    Window* w = nullptr;
    cv_.wait(lk, [&] { return quit_ || (w = claim_next()) != nullptr; });
    if (quit_) return;
    uint64_t gen = w->gen;
    lk.unlock();
    fill(w, gen);
    lk.lock();
  }
}

void Prefetcher::free_oldest_behind(uint64_t offset) {
  Window* oldest = nullptr;
  for (auto& x : win_)
    if (x.state != State::Free && x.gen == gen_ && x.start + x.target <= offset &&
        (!oldest || x.start < oldest->start))
      oldest = &x;
  if (oldest && oldest->state == State::Ready) {
    oldest->state = State::Free;
    cv_.notify_all();
  }
}

void Prefetcher::stop_stream() {
  streaming_ = false;
  ++gen_;  // a Filling window is freed by its filler once the GET stops
  for (auto& w : win_)
    if (w.state == State::Ready) w.state = State::Free;
  cv_.notify_all();
}

int Prefetcher::read(uint64_t offset, size_t n, std::string* out) {
  return read(offset, n, [out](const char* data, size_t len) { out->append(data, len); });
}

Prefetcher::Window* Prefetcher::start_at(std::unique_lock<std::mutex>& lk, uint64_t offset) {
  // A read where the last one ended, or a little ahead of it (the kernel
  // sends readahead pages slightly out of order), (re)starts the stream.
  bool sequential = offset >= next_offset_ && offset - next_offset_ <= window_;
  if (!sequential) return nullptr;
  // Reading on right past a window filled for this reader confirms the
  // stream: the thread takes over with the next, larger window. A fresh
  // start fills one small window here first, so a random reader whose
  // read the kernel split in two does not set a stream going.
  bool confirmed = false;
  for (auto& x : win_)
    if (x.state == State::Ready && x.gen == gen_ && x.err == 0 && x.start + x.target == offset) confirmed = true;
  uint64_t next_window = confirmed ? window_ : min_window_;
  stop_stream();
  streaming_ = true;
  next_start_ = offset;
  window_ = next_window;
  if (!confirmed || size_ - offset <= window_) {
    // One window only, filled here; the threads, if any, stay idle. Both
    // windows may still be held by fills of the stopped stream: wait
    // until one of them lets go (their GETs stop at the next chunk).
    Window* one = nullptr;
    streaming_ = false;
    cv_.wait(lk, [&] {
      streaming_ = true;
      one = claim_next();
      streaming_ = false;
      return one != nullptr || window_at(offset) != nullptr;  // or claim_next marked it ENOBUFS
    });
    if (one) {
      uint64_t gen = one->gen;
      lk.unlock();
      fill(one, gen);
      lk.lock();
    }
  } else if (!fillers_[0].joinable()) {
    try {
      for (auto& t : fillers_) t = std::thread([this] { stream_loop(); });
    } catch (const std::system_error&) {
      // No thread (a process or memory limit): no stream, fetch what is asked.
      stop_stream();
      return nullptr;
    }
  }
  cv_.notify_all();
  Window* w = nullptr;
  cv_.wait(lk, [&] { return (w = window_at(offset)) != nullptr; });
  return w;
}

int Prefetcher::read(uint64_t offset, size_t n, const ReadSink& deliver) {
  if (offset >= size_ || n == 0) {
    deliver("", 0);
    return 0;
  }
  uint64_t want = std::min<uint64_t>(n, size_ - offset);
  std::string head;  // only for a read that spans two windows
  std::unique_lock lk(mu_);
  while (want > 0) {
    Window* w = window_at(offset);
    if (!w && streaming_ && offset >= next_start_ && offset - next_start_ < window_) {
      // The stream's next range, not claimed yet: wait for the stream to
      // claim it. If no window is free for that, free the older of those
      // wholly behind the reader, now or as its fill ends (both may still be
      // filling when the reader skips ahead); the newer stays for late reads
      // of its tail, and while a window is free a filler is on its way.
      cv_.wait(lk, [&] {
        if ((w = window_at(offset)) != nullptr || !streaming_) return true;
        if (win_[0].state != State::Free && win_[1].state != State::Free) free_oldest_behind(offset);
        return false;
      });
    }
    if (!w && (w = start_at(lk, offset)) == nullptr) {
      // Random access (or no thread for a stream): fetch exactly what is
      // needed. The stream, if any, keeps its windows: the reader may come
      // back to them.
      lk.unlock();
      return deliver_exact(offset, want, &head, deliver);
    }
    uint64_t need_end = std::min(offset + want, w->start + w->target);
    wait_end_ = need_end;
    cv_.wait(lk, [&] { return w->state != State::Filling || w->start + w->len >= need_end; });
    wait_end_ = 0;
    if (w->start + w->len < need_end) {
      int err = w->err ? w->err : EIO;  // a fill that ended short: the object shrank
      stop_stream();
      if (err != ENOBUFS) return err;
      // Over the shared budget: fetch only what this read needs.
      lk.unlock();
      return deliver_exact(offset, want, &head, deliver);
    }
    // Reading well into a window frees the one before it for the stream's
    // next range. Not at once: the kernel has a few read-ahead requests out
    // at a time and its workers hand them over in any order, so the tail of
    // the window before may still be asked for (freed, it would cost a GET).
    Window& other = win_[w == &win_[0] ? 1 : 0];
    if (other.state == State::Ready && other.gen == gen_ && other.start < w->start &&
        offset - w->start >= std::min(kLateReadSlack, w->target / 2)) {
      other.state = State::Free;
      cv_.notify_all();
    }
    const char* p = w->buf.get() + (offset - w->start);
    uint64_t take = need_end - offset;
    offset += take;
    want -= take;
    if (head.empty() && want == 0) {
      next_offset_ = offset;
      lk.unlock();
      deliver(p, take);  // the window stays ours until the next read
      return 0;
    }
    head.append(p, take);
  }
  next_offset_ = offset;
  lk.unlock();
  deliver(head.data(), head.size());
  return 0;
}

}  // namespace bucketfs::fs
