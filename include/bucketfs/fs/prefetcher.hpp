// prefetcher.hpp - reads of one open object, with a sequential read-ahead stream.
//
// A read at the start of the object, or where the previous read ended, starts
// a stream: two background threads fill two windows with one ranged GET each,
// the second while the reader drains the first (or, when the reader is faster
// than one connection, at the same time as the first), so a connection is
// never idle between windows. Windows start at the minimum size and double up
// to the maximum. A read is served as soon as its bytes have landed in a
// window, straight from it (a pointer, no copy), so one sequential read costs
// one copy from curl's buffer into the window before the reply to the kernel.
// When the rest of the object fits in one window no thread is started: the
// reader fills the window itself.
//
// Any other read is random: it fetches exactly the bytes asked for and stops
// the stream (an in-flight GET is abandoned at its next chunk). All
// prefetchers of a Filesystem share a PrefetchBudget for their window
// buffers; when it is exhausted a read fetches only what it needs. Each
// window maps its buffer once, as large as the largest window of this object,
// and reuses it as the window grows and refills: fresh memory costs a zeroed
// page per fault. Reads stop at the object's size; a 0-byte object never hits
// the store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bucketfs/store/object_store.hpp"

namespace bucketfs::fs {

// Bytes of prefetched data held by all open files. Thread-safe (atomic).
class PrefetchBudget {
 public:
  explicit PrefetchBudget(uint64_t capacity) : capacity_(capacity) {}
  // Reserves up to want bytes (0 if fewer than want are free).
  bool try_reserve(uint64_t want);
  void release(uint64_t n);
  uint64_t used() const { return used_.load(); }

 private:
  const uint64_t capacity_;
  std::atomic<uint64_t> used_{0};
};

// Receives the bytes of one read, once, contiguous; valid only during the call.
using ReadSink = std::function<void(const char* data, size_t n)>;

// read() is not reentrant: the owner (an open-file handle) serializes calls.
// The stream thread is internal and ends in the destructor.
class Prefetcher {
 public:
  Prefetcher(store::ObjectStore& store, std::string key, uint64_t size, uint64_t min_window, uint64_t max_window,
             PrefetchBudget& budget);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Appends to *out up to n bytes at offset (fewer only at EOF). Returns 0 or
  // an errno (store::to_errno of the GET's error).
  int read(uint64_t offset, size_t n, std::string* out);
  // Calls deliver once with up to n bytes at offset (fewer only at EOF; not
  // called on error). Returns 0 or an errno.
  int read(uint64_t offset, size_t n, const ReadSink& deliver);

  int fetches() const { return fetches_.load(); }

 private:
  enum class State { Free, Filling, Ready };
  // Anonymous memory for one window, backed by transparent huge pages where
  // the kernel allows (madvise mode): first-touch faults of a 64 MiB window
  // in 4 KiB pages cost more CPU than copying its bytes.
  struct MappedBuffer {
    char* p = nullptr;
    size_t size = 0;
    MappedBuffer() = default;
    MappedBuffer(const MappedBuffer&) = delete;
    MappedBuffer& operator=(const MappedBuffer&) = delete;
    ~MappedBuffer() { reset(); }
    bool allocate(size_t n);  // false when the mapping fails
    void reset();
    char* get() const { return p; }
  };
  struct Window {
    MappedBuffer buf;
    uint64_t cap = 0;    // bytes reserved from the budget (buf maps at least this)
    uint64_t start = 0;  // the range asked for: [start, start + target)
    uint64_t target = 0;
    uint64_t len = 0;  // bytes landed so far
    uint64_t gen = 0;  // stream generation it belongs to
    State state = State::Free;
    int err = 0;  // of the fill, once Ready
  };

  int fetch_exact(uint64_t offset, uint64_t length, std::string* into);
  // Fetches [offset, offset + want) with one GET and delivers it after *head.
  int deliver_exact(uint64_t offset, uint64_t want, std::string* head, const ReadSink& deliver);
  // Under mu_: the live window holding offset, or nullptr.
  Window* window_at(uint64_t offset);
  // Under mu_ (held by lk; released while filling): no window holds offset.
  // A sequential read (re)starts the stream there and gets the window that
  // will hold offset; a random one (or no thread to stream with) gets
  // nullptr and is fetched exactly.
  Window* start_at(std::unique_lock<std::mutex>& lk, uint64_t offset);
  // Under mu_: claims a free window for the stream's next range (sized and
  // allocated; err ENOBUFS when the budget cannot hold it). nullptr if none.
  Window* claim_next();
  // Fills a claimed window with one GET; takes mu_ only to publish progress.
  void fill(Window* w, uint64_t gen);
  void stream_loop();
  // Under mu_: of the stream's windows that end at or before offset, frees
  // the one that starts first, once its fill has ended.
  void free_oldest_behind(uint64_t offset);
  // Under mu_: abandons the stream (windows freed, in-flight GET cancelled).
  void stop_stream();
  void free_buffers();

  store::ObjectStore& store_;
  const std::string key_;
  const uint64_t size_;
  const uint64_t min_window_;
  const uint64_t max_window_;
  PrefetchBudget& budget_;

  std::mutex mu_;
  std::condition_variable cv_;
  Window win_[2];
  bool streaming_ = false;   // the thread may claim windows
  uint64_t gen_ = 0;         // bumped when the stream stops or restarts
  uint64_t next_start_ = 0;  // where the stream's next window starts
  uint64_t window_;          // size of the stream's next window
  uint64_t wait_end_ = 0;    // the reader waits until the stream has landed bytes up to here
  bool quit_ = false;
  // One filler per window, started with the first stream that needs them:
  // while the reader waits on one window the other is fetched too, so a
  // reader faster than one connection gets two GETs in flight.
  std::thread fillers_[2];

  uint64_t next_offset_ = 0;  // where a sequential read would continue (reader only)
  std::atomic<int> fetches_{0};
};

}  // namespace bucketfs::fs
