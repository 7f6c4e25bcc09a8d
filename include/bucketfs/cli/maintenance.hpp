// maintenance.hpp - `bucketfs recover` and `bucketfs uploads`.
//
// recover re-queues every staged file that no checkpoint record covers: after
// a damaged store (moved aside first), a lost record, or a record moved to
// the failed table. It needs the store unmounted (the writer lock).
// uploads lists the multipart uploads in the bucket, marking those no local
// record owns (orphans, e.g. left by a lost cache dir), and can abort them.
#pragma once

#include <string>
#include <vector>

namespace bucketfs::cli {

// argv after the subcommand; returns the exit code (0 ok, 1 failure, 2 usage).
int recover_main(const std::vector<std::string>& args);
int uploads_main(const std::vector<std::string>& args);

}  // namespace bucketfs::cli
