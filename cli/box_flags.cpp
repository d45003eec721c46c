#include "cli/box_flags.hpp"

#include "base/strings.hpp"

namespace silk::cli {

Result<uint64_t> NumberFlag(const std::string& option, const std::string& value, uint64_t max) {
  auto r = ParseUint(value, max);
  if (!r) return Fail(ErrorCode::kInvalidInput, option + ": " + r.error().message());
  return *r;
}

void BoxSpecFlags::Add(po::options_description& opts) {
  opts.add_options()("spec", po::value(&spec_file_),
                     "JSON box spec (the node manager's format); options below override it")(
      "profile", po::value(&profile_),
      "API profile: a file or a built-in name (default gen0-sliver)")(
      "profile-dir", po::value(&profile_dir_), "also look up profile names as DIR/NAME.json")(
      "rootfs", po::value(&rootfs_),
      "root directory (default: read-only view of the host's /usr /bin /lib* /etc)")(
      "memory", po::value(&memory_), "memory.max, e.g. 256M (swap off)")(
      "pids", po::value(&pids_),
      "pids.max: tasks the box may have (default 1024 as root; 0 = no limit)")(
      "cpu-weight", po::value(&cpu_weight_), "proportional CPU weight 1..10000 (default 100)")(
      "io-weight", po::value(&io_weight_), "proportional I/O weight 1..10000")(
      "scratch", po::value(&scratch_),
      "bytes /scratch, /tmp and /dev/shm hold together, one budget (default 64M; at most the "
      "host's RAM + swap, and --memory when given)")(
      "disk", po::value(&disk_),
      "a persistent volume of SIZE at /data (ext4 on a sparse image; writes past it get "
      "ENOSPC), e.g. 1G: at least 16M, at most the free space of --volume-dir; kept by a "
      "named box until `silk box delete`; root only")(
      "volume-dir", po::value(&volume_dir_),
      "where --disk images go (default /var/lib/silk/volumes)")(
      "net", po::value(&net_),
      "none (lo only, default) or bridge=BR,address=CIDR[,gateway=IP][,egress=RATE]")(
      "hostname", po::value(&hostname_), "hostname in the box (default box)")(
      "cap", po::value(&caps_), "grant a capability (repeatable), e.g. CAP_NET_BIND_SERVICE")(
      "raw-sockets", po::bool_switch(&raw_),
      "grant raw/packet sockets (mediated by the supervisor)")(
      "report-denials", po::value(&report_)->implicit_value("-"),
      "record every denied syscall; print at exit, or write JSON to FILE")(
      "userns", po::value(&userns_),
      "user namespace: auto (default) or always: box root is an unprivileged host uid of a "
      "range only this box holds; never: root only, box root is host root (weaker)")(
      "uid", po::value(&uid_), "uid inside the box, 0..65535 (default 0)")(
      "gid", po::value(&gid_),
      "gid inside the box, 0..65535 (default: with --uid, that user's primary group in the "
      "box's /etc/passwd, else the uid's number; never group root for another user; 0 for "
      "root)")("env", po::value(&env_), "NAME=VALUE for the command (repeatable)")(
      "cwd", po::value(&cwd_), "working directory in the box (default /)")(
      "tty", po::bool_switch(&tty_), "give the box a private /dev/pts")(
      "no-init", po::bool_switch(&no_init_),
      "run CMD as pid 1 itself (default: silk's init is pid 1, reaps orphans, forwards "
      "signals to CMD)")(
      "nest", po::bool_switch(&nest_),
      "a nest-ready box, which can run silk and make boxes of its own: every capability of "
      "its own user namespace, its cgroups delegated to it, /dev/net/tun, a writable /run, "
      "silk at /run/silk/bin/silk, profile gen0-node unless --profile says otherwise");
}

Result<compat::BoxSpec> BoxSpecFlags::Build(const po::variables_map& vm,
                                            const Args& command) const {
  compat::BoxSpec spec;
  if (!spec_file_.empty()) spec = SILK_TRY(compat::LoadBoxSpec(spec_file_));
  if (!command.empty()) {
    spec.command = command[0];
    spec.args.assign(command.begin() + 1, command.end());
  }
  if (nest_) {
    spec.nest = true;
    if (spec.profile == compat::kDefaultProfile) spec.profile = compat::kDefaultNestProfile;
  }
  if (vm.count("profile")) spec.profile = profile_;
  if (vm.count("rootfs")) spec.rootfs = rootfs_;
  if (vm.count("memory")) spec.memory_max = SILK_TRY(WithContext(ParseSize(memory_), "--memory"));
  if (vm.count("pids")) spec.pids_max = SILK_TRY(NumberFlag("--pids", pids_, 1u << 22));
  if (vm.count("cpu-weight"))
    spec.cpu_weight =
        static_cast<uint32_t>(SILK_TRY(NumberFlag("--cpu-weight", cpu_weight_, 10000)));
  if (vm.count("io-weight"))
    spec.io_weight = static_cast<uint32_t>(SILK_TRY(NumberFlag("--io-weight", io_weight_, 10000)));
  if (vm.count("scratch"))
    spec.scratch_size = SILK_TRY(WithContext(ParseSize(scratch_), "--scratch"));
  if (vm.count("disk")) spec.disk_max = SILK_TRY(WithContext(ParseSize(disk_), "--disk"));
  if (vm.count("net"))
    spec.network = SILK_TRY(WithContext(compat::ParseNetworkFlag(net_), "--net"));
  if (vm.count("hostname")) spec.hostname = hostname_;
  for (const auto& c : caps_) spec.capabilities.push_back(c);
  if (raw_) spec.raw_sockets = true;
  if (vm.count("report-denials")) spec.report_denials = true;
  if (vm.count("userns"))
    spec.user_namespace =
        SILK_TRY(WithContext(compat::ParseUserNamespaceMode(userns_), "--userns"));
  if (vm.count("uid"))
    spec.uid = static_cast<uint32_t>(SILK_TRY(NumberFlag("--uid", uid_, UINT32_MAX)));
  if (vm.count("gid"))
    spec.gid = static_cast<uint32_t>(SILK_TRY(NumberFlag("--gid", gid_, UINT32_MAX)));
  else if (vm.count("uid"))
    spec.gid = compat::DefaultBoxGid(spec.uid, spec.rootfs);
  for (const auto& e : env_) spec.env.push_back(e);
  if (vm.count("cwd")) spec.cwd = cwd_;
  if (tty_) spec.tty = true;
  if (no_init_) spec.init = false;
  // The flags and the spec go through the one validator (uid/gid, rootfs, names...).
  SILK_TRY(compat::Validate(spec));
  return spec;
}

}  // namespace silk::cli
