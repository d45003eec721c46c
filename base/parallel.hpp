// ParallelFor: the one way silk fans work out over threads (ddmin's candidates, the
// minimiser's proof and baseline runs, the regression matrix's boxes).
#pragma once

#include <cstddef>
#include <functional>

#include "base/result.hpp"

namespace silk {

// Calls fn(i) for every i in [0, n), on up to `jobs` threads at once; each thread takes
// the next index as soon as it is free, so one slow call does not hold up the others.
// jobs <= 1 (or n <= 1) runs every call inline on the caller's thread, in index order.
// fn must be safe to call from several threads at once; ParallelFor returns once every
// started call has returned.
//
// Errors propagate: once a call has returned an Error or thrown, no further index is
// started. Of the failed calls, the one with the lowest index wins: its Error is
// returned, or its exception rethrown on the caller's thread (an exception wins over an
// Error only when its index is lower).
Result<void> ParallelFor(int jobs, size_t n, const std::function<Result<void>(size_t)>& fn);

}  // namespace silk
