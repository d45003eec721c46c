#include "policy/internal/bpf_emulator.hpp"

#include <linux/seccomp.h>

#include <cstddef>
#include <cstring>

namespace silk::policy::internal {

std::optional<uint32_t> RunSeccompBpf(const std::vector<sock_filter>& program, uint32_t arch,
                                      int nr, const uint64_t args[6]) {
  seccomp_data data{};
  data.nr = nr;
  data.arch = arch;
  data.instruction_pointer = 0;
  for (int i = 0; i < 6; ++i) data.args[i] = args[i];
  unsigned char bytes[sizeof(seccomp_data)];
  std::memcpy(bytes, &data, sizeof(data));

  uint32_t a = 0, x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  size_t pc = 0;
  // Classic BPF only jumps forward, so this terminates in at most program.size() steps.
  while (pc < program.size()) {
    const sock_filter& in = program[pc++];
    uint32_t k = in.k;
    uint32_t src = BPF_SRC(in.code) == BPF_X ? x : k;
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        if (BPF_MODE(in.code) == BPF_ABS && BPF_SIZE(in.code) == BPF_W) {
          if (k % 4 != 0 || k + 4 > sizeof(bytes)) return std::nullopt;
          std::memcpy(&a, bytes + k, 4);
        } else if (BPF_MODE(in.code) == BPF_IMM) {
          a = k;
        } else if (BPF_MODE(in.code) == BPF_MEM) {
          if (k >= BPF_MEMWORDS) return std::nullopt;
          a = mem[k];
        } else if (BPF_MODE(in.code) == BPF_LEN) {
          a = sizeof(seccomp_data);
        } else {
          return std::nullopt;
        }
        break;
      case BPF_LDX:
        if (BPF_MODE(in.code) == BPF_IMM) {
          x = k;
        } else if (BPF_MODE(in.code) == BPF_MEM) {
          if (k >= BPF_MEMWORDS) return std::nullopt;
          x = mem[k];
        } else if (BPF_MODE(in.code) == BPF_LEN) {
          x = sizeof(seccomp_data);
        } else {
          return std::nullopt;
        }
        break;
      case BPF_ST:
        if (k >= BPF_MEMWORDS) return std::nullopt;
        mem[k] = a;
        break;
      case BPF_STX:
        if (k >= BPF_MEMWORDS) return std::nullopt;
        mem[k] = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(in.code)) {
          case BPF_ADD:
            a += src;
            break;
          case BPF_SUB:
            a -= src;
            break;
          case BPF_MUL:
            a *= src;
            break;
          case BPF_DIV:
            if (src == 0) return 0;  // the kernel returns 0 (kill) on division by zero
            a /= src;
            break;
          case BPF_MOD:
            if (src == 0) return 0;
            a %= src;
            break;
          case BPF_AND:
            a &= src;
            break;
          case BPF_OR:
            a |= src;
            break;
          case BPF_XOR:
            a ^= src;
            break;
          case BPF_LSH:
            a = src >= 32 ? 0 : a << src;
            break;
          case BPF_RSH:
            a = src >= 32 ? 0 : a >> src;
            break;
          case BPF_NEG:
            a = -a;
            break;
          default:
            return std::nullopt;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(in.code) == BPF_JA) {
          pc += k;
          break;
        }
        bool cond;
        switch (BPF_OP(in.code)) {
          case BPF_JEQ:
            cond = a == src;
            break;
          case BPF_JGT:
            cond = a > src;
            break;
          case BPF_JGE:
            cond = a >= src;
            break;
          case BPF_JSET:
            cond = (a & src) != 0;
            break;
          default:
            return std::nullopt;
        }
        pc += cond ? in.jt : in.jf;
        break;
      }
      case BPF_RET:
        if (BPF_RVAL(in.code) == BPF_K) return k;
        if (BPF_RVAL(in.code) == BPF_A) return a;
        return std::nullopt;
      case BPF_MISC:
        if (BPF_MISCOP(in.code) == BPF_TAX) {
          x = a;
        } else if (BPF_MISCOP(in.code) == BPF_TXA) {
          a = x;
        } else {
          return std::nullopt;
        }
        break;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

bool KernelCachesAsAllow(const std::vector<sock_filter>& program, uint32_t arch, int nr) {
  uint32_t reg = 0;
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& in = program[pc];
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k == offsetof(seccomp_data, nr)) {
          reg = static_cast<uint32_t>(nr);
        } else if (in.k == offsetof(seccomp_data, arch)) {
          reg = arch;
        } else {
          return false;  // an argument or the instruction pointer: not constant
        }
        break;
      case BPF_RET | BPF_K:
        return in.k == SECCOMP_RET_ALLOW;
      case BPF_JMP | BPF_JA:
        pc += in.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
      case BPF_JMP | BPF_JGE | BPF_K:
      case BPF_JMP | BPF_JGT | BPF_K:
      case BPF_JMP | BPF_JSET | BPF_K: {
        bool res = false;
        switch (BPF_OP(in.code)) {
          case BPF_JEQ:
            res = reg == in.k;
            break;
          case BPF_JGE:
            res = reg >= in.k;
            break;
          case BPF_JGT:
            res = reg > in.k;
            break;
          case BPF_JSET:
            res = (reg & in.k) != 0;
            break;
        }
        pc += res ? in.jt : in.jf;
        break;
      }
      case BPF_ALU | BPF_AND | BPF_K:
        reg &= in.k;
        break;
      default:
        return false;
    }
  }
  return false;
}

}  // namespace silk::policy::internal
