// md5_lanes.hpp - MD5 of several byte streams in one pass.
//
// MD5 is a chain: each 64-byte block needs the state the previous one left,
// so one stream runs at the latency of its steps (about 0.6 GB/s per core
// here, OpenSSL's assembly included). Independent streams do not wait on each
// other: with AVX2 the eight 32-bit lanes of a vector carry eight streams
// through the same steps, so eight parts are hashed in about the time of
// two (measured here: 2.0 GB/s for eight streams, 0.54 GB/s for one). Without
// AVX2 (checked at run time; always off x86-64) the streams are hashed one
// after the other by the same portable code.
//
// The uploader uses it to hash the parts that wait for a connection together
// (see Uploader::presum), instead of one at a time as each is sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bucketfs::crypto {

// How many streams share one pass.
inline constexpr size_t kMd5Lanes = 8;

// A range of a file to hash.
struct FileSpan {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// The raw 16-byte MD5 of each span, in order; "" for a span that could not be
// read whole (an error or a file shorter than the span). Any number of spans;
// kMd5Lanes at a time share a pass. Reads through a buffer of 256 KiB per span.
std::vector<std::string> md5_file_spans(const std::vector<FileSpan>& spans);

// The same for byte strings (for tests and small inputs).
std::vector<std::string> md5_many(const std::vector<std::string_view>& data);

// Whether this CPU runs the eight-lane code (AVX2). For tests and the log.
bool md5_lanes_vectorised();

// Forces the portable code (for tests: both paths must agree with OpenSSL).
void md5_lanes_force_portable(bool on);

}  // namespace bucketfs::crypto
