#include "compat/internal/learn_filter.hpp"

#include <linux/seccomp.h>

namespace silk::compat::internal {

LearningFilter::LearningFilter() { insns_ = {{BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)}}; }

}  // namespace silk::compat::internal
