// md5_lanes.cpp - see md5_lanes.hpp.
//
// A pass hashes up to eight streams. Each stream is a lane with a buffer
// (its bytes in memory, or 256 KiB at a time read from its file). While two
// or more lanes hold whole blocks, the AVX2 code advances all of them by the
// number of blocks the shortest holds; a lane that is alone goes through the
// portable code, which is faster for one stream. A lane whose stream ends
// pads its last bytes and leaves the pass.
#include "bucketfs/util/md5_lanes.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <memory>

#include "bucketfs/util/fd.hpp"
#include "md5_steps.hpp"

namespace bucketfs::crypto {

#if defined(__x86_64__)
void md5_compress_x8(uint32_t state[4][8], const unsigned char* const p[8], size_t blocks);  // md5_x8.cpp
#endif

namespace {

constexpr size_t kLanes = kMd5Lanes;
constexpr size_t kBlock = 64;
constexpr size_t kChunk = 256 * 1024;  // bytes read from a file per lane and turn

std::atomic<bool> force_portable{false};

// AVX2 exists only on x86-64; elsewhere md5_x8.cpp is empty and the portable
// code hashes every lane.
bool have_avx2() {
#if defined(__x86_64__)
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
#else
  return false;
#endif
}

struct Portable {
  using W = uint32_t;
  static W add(W a, W b) { return a + b; }
  static W band(W a, W b) { return a & b; }
  static W bor(W a, W b) { return a | b; }
  static W bxor(W a, W b) { return a ^ b; }
  static W bnot(W a) { return ~a; }
  static W constant(uint32_t k) { return k; }
  template <int S>
  static W rotl(W a) {
    return std::rotl(a, S);
  }
};

void compress_one(uint32_t (&v)[4], const unsigned char* p, size_t blocks) {
  for (size_t b = 0; b < blocks; ++b, p += kBlock) {
    uint32_t m[16];
    std::memcpy(m, p, sizeof m);  // MD5's words are little-endian, as x86's
    if constexpr (std::endian::native == std::endian::big)
      for (auto& w : m) w = __builtin_bswap32(w);
    md5_block<Portable>(v, m);
  }
}

// Where a lane's bytes come from: memory, or a file range read in chunks.
struct Lane {
  size_t index = 0;  // of the stream, in the caller's order
  uint32_t h[4] = {kMd5Init[0], kMd5Init[1], kMd5Init[2], kMd5Init[3]};
  uint64_t total = 0;                // the stream's length
  const unsigned char* p = nullptr;  // unhashed bytes in memory...
  size_t avail = 0;                  // ...how many
  // A file: the next range still to read, and the buffer it is read into.
  int fd = -1;
  uint64_t next = 0, end = 0;
  std::unique_ptr<unsigned char[]> buf;
  bool failed = false;

  bool from_file() const { return fd >= 0; }
  bool exhausted() const { return !from_file() || next == end; }
  // Reads the next chunk once the buffer holds no whole block.
  void refill() {
    if (avail >= kBlock || exhausted() || failed) return;
    if (!buf) buf = std::make_unique<unsigned char[]>(kChunk + kBlock);
    if (avail) std::memmove(buf.get(), p, avail);  // a partial block (only at the end)
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, end - next));
    size_t got = 0;
    if (pread_full(fd, buf.get() + avail, want, next, &got) != 0 || got != want) {
      failed = true;  // an error, or the file ends before the span does
      return;
    }
    next += got;
    p = buf.get();
    avail += got;
  }
  void advance(size_t blocks) {
    p += blocks * kBlock;
    avail -= blocks * kBlock;
  }
  // The digest: the last bytes, the padding and the length in bits.
  std::string finish() {
    unsigned char tail[2 * kBlock] = {};
    if (avail) std::memcpy(tail, p, avail);  // p is null for an empty file span
    tail[avail] = 0x80;
    size_t n = avail + 9 <= kBlock ? kBlock : 2 * kBlock;
    uint64_t bits = total * 8;
    for (int i = 0; i < 8; ++i) tail[n - 8 + i] = static_cast<unsigned char>(bits >> (8 * i));
    compress_one(h, tail, n / kBlock);
    std::string out(16, '\0');
    for (int w = 0; w < 4; ++w)
      for (int i = 0; i < 4; ++i) out[4 * w + i] = static_cast<char>((h[w] >> (8 * i)) & 0xFF);
    return out;
  }
};

// Advances every live lane (two to kLanes) by `blocks` blocks in one AVX2 pass.
void advance_wide(const std::vector<Lane*>& live, size_t blocks) {
#if defined(__x86_64__)
  uint32_t state[4][kLanes];
  const unsigned char* ptr[kLanes];
  for (size_t i = 0; i < kLanes; ++i) {
    const Lane* l = live[i < live.size() ? i : 0];  // spare lanes repeat lane 0
    for (int w = 0; w < 4; ++w) state[w][i] = l->h[w];
    ptr[i] = l->p;
  }
  md5_compress_x8(state, ptr, blocks);
  for (size_t i = 0; i < live.size(); ++i) {
    for (int w = 0; w < 4; ++w) live[i]->h[w] = state[w][i];
    live[i]->advance(blocks);
  }
#else
  (void)live;  // never called: have_avx2() is false off x86-64
  (void)blocks;
#endif
}

// Hashes the lanes (at most kLanes) to the end; out[lane.index] = digest.
void run_pass(std::vector<Lane>& lanes, std::vector<std::string>& out) {
  const bool wide = have_avx2() && !force_portable.load(std::memory_order_relaxed);
  std::vector<Lane*> live;
  for (auto& l : lanes) live.push_back(&l);
  while (!live.empty()) {
    // Lanes that are done (or failed) leave; the others hold a whole block.
    for (auto it = live.begin(); it != live.end();) {
      Lane& l = **it;
      l.refill();
      if (l.failed) {
        out[l.index].clear();
        it = live.erase(it);
      } else if (l.avail < kBlock && l.exhausted()) {
        out[l.index] = l.finish();
        it = live.erase(it);
      } else {
        ++it;
      }
    }
    if (live.empty()) break;
    size_t blocks = SIZE_MAX;
    for (Lane* l : live) blocks = std::min(blocks, l->avail / kBlock);
    if (live.size() == 1 || !wide) {
      for (Lane* l : live) {
        size_t all = l->avail / kBlock;  // a lone lane takes all it holds
        compress_one(l->h, l->p, all);
        l->advance(all);
      }
      continue;
    }
    advance_wide(live, blocks);
  }
}

template <class MakeLane>
std::vector<std::string> hash_all(size_t n, MakeLane make) {
  std::vector<std::string> out(n);
  for (size_t first = 0; first < n; first += kLanes) {
    std::vector<Lane> lanes;
    for (size_t i = first; i < std::min(n, first + kLanes); ++i) {
      Lane l;
      l.index = i;
      make(i, l);
      lanes.push_back(std::move(l));
    }
    run_pass(lanes, out);
  }
  return out;
}

}  // namespace

std::vector<std::string> md5_file_spans(const std::vector<FileSpan>& spans) {
  return hash_all(spans.size(), [&](size_t i, Lane& l) {
    l.fd = spans[i].fd;
    l.next = spans[i].offset;
    l.end = spans[i].offset + spans[i].length;
    l.total = spans[i].length;
    l.failed = spans[i].fd < 0;
  });
}

std::vector<std::string> md5_many(const std::vector<std::string_view>& data) {
  return hash_all(data.size(), [&](size_t i, Lane& l) {
    l.p = reinterpret_cast<const unsigned char*>(data[i].data());
    l.avail = data[i].size();
    l.total = data[i].size();
  });
}

bool md5_lanes_vectorised() { return have_avx2() && !force_portable.load(); }

void md5_lanes_force_portable(bool on) { force_portable.store(on); }

}  // namespace bucketfs::crypto
