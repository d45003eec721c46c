// VmSpec validation and the domain XML it renders (pure functions; no libvirt daemon).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "vmm/domain_xml.hpp"
#include "vmm/run_dir.hpp"
#include "vmm/vm_spec.hpp"

namespace silk::vmm {
namespace {

VmSpec GoodSpec() {
  VmSpec s;
  s.name = "silk-test";
  s.kernel_path = "/img/vmlinuz";
  s.initramfs_path = "/img/initramfs.img";
  s.cmdline = "console=ttyS0 silk.agent=silk.control";
  s.console_log = "/run/silk/vm/silk-test/console.log";
  s.control_socket = "/run/silk/vm/silk-test/control.sock";
  return s;
}

TEST(VmSpec, GoodSpecValidates) { EXPECT_TRUE(GoodSpec().Validate()); }

void ExpectBad(const VmSpec& s, const std::string& field) {
  auto r = s.Validate();
  ASSERT_FALSE(r) << "expected '" << field << "' to be refused";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
  EXPECT_NE(r.error().message().find("'" + field + "'"), std::string::npos) << r.error().message();
}

TEST(VmSpec, BadFieldsAreNamed) {
  VmSpec s = GoodSpec();
  s.name = "bad name";
  ExpectBad(s, "name");
  s = GoodSpec();
  s.kernel_path = "relative/vmlinuz";
  ExpectBad(s, "kernel_path");
  s = GoodSpec();
  s.memory_mib = 16;
  ExpectBad(s, "memory_mib");
  s = GoodSpec();
  s.vcpus = 0;
  ExpectBad(s, "vcpus");
  s = GoodSpec();
  s.nics.push_back({"br0", "vnet7", ""});
  ExpectBad(s, "nics[0].tap");
  s = GoodSpec();
  s.nics.push_back({"br0", "", "52:54:00:zz:00:01"});
  ExpectBad(s, "nics[0].mac");
  s = GoodSpec();
  s.control_socket = "/" + std::string(120, 'a');
  ExpectBad(s, "control_socket");
  s = GoodSpec();
  s.disks.push_back({"/d.img", "vmdk", false});
  ExpectBad(s, "disks[0].format");
}

TEST(VmSpec, ParseAccel) {
  EXPECT_EQ(*ParseAccel("kvm"), Accel::kKvm);
  EXPECT_EQ(*ParseAccel("tcg"), Accel::kTcg);
  EXPECT_FALSE(ParseAccel("hvf"));
}

TEST(DomainXml, TrimmedDirectKernelBoot) {
  std::string xml = *DomainXml(GoodSpec());
  EXPECT_NE(xml.find("<domain type='qemu'>"), std::string::npos);
  EXPECT_NE(xml.find("<kernel>/img/vmlinuz</kernel>"), std::string::npos);
  EXPECT_NE(xml.find("<initrd>/img/initramfs.img</initrd>"), std::string::npos);
  EXPECT_NE(xml.find("<controller type='usb' model='none'/>"), std::string::npos);
  EXPECT_NE(xml.find("<memballoon model='none'/>"), std::string::npos);
  EXPECT_EQ(xml.find("<graphics"), std::string::npos);
  EXPECT_EQ(xml.find("<video"), std::string::npos);
  EXPECT_NE(xml.find("<on_poweroff>destroy</on_poweroff>"), std::string::npos);
  EXPECT_NE(xml.find("<on_reboot>destroy</on_reboot>"), std::string::npos);
  EXPECT_NE(xml.find("<source mode='bind' path='/run/silk/vm/silk-test/control.sock'/>"),
            std::string::npos);
  EXPECT_NE(xml.find("<target type='virtio' name='silk.control'/>"), std::string::npos);
  EXPECT_NE(xml.find("<serial type='file'>"), std::string::npos);
}

TEST(DomainXml, KvmNicsDisksBalloonAndEscaping) {
  VmSpec s = GoodSpec();
  s.accel = Accel::kKvm;
  s.balloon = true;
  s.cmdline = "a=<b> & 'c'";
  s.nics.push_back({"silkbr0", "sktap0", "52:54:00:00:00:01"});
  s.disks.push_back({"/d.img", "raw", true});
  std::string xml = *DomainXml(s);
  EXPECT_NE(xml.find("<domain type='kvm'>"), std::string::npos);
  EXPECT_NE(xml.find("<memballoon model='virtio'/>"), std::string::npos);
  EXPECT_NE(xml.find("<cmdline>a=&lt;b&gt; &amp; &apos;c&apos;</cmdline>"), std::string::npos);
  EXPECT_NE(xml.find("<source bridge='silkbr0'/>"), std::string::npos);
  EXPECT_NE(xml.find("<target dev='sktap0'/>"), std::string::npos);
  EXPECT_NE(xml.find("<target dev='vda' bus='virtio'/>"), std::string::npos);
  EXPECT_NE(xml.find("<readonly/>"), std::string::npos);
}

TEST(DomainXml, RefusesInvalidSpec) {
  VmSpec s = GoodSpec();
  s.name = "";
  EXPECT_FALSE(DomainXml(s));
}

TEST(RunDir, NamesAreUniqueAndTapsShort) {
  std::string a = *UniqueVmName("silk"), b = *UniqueVmName("silk");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("silk-", 0), 0u);
  EXPECT_EQ(a.size(), 5u + 12u);
  std::string tap = TapName(a, 3);
  EXPECT_LE(tap.size(), 15u);
  EXPECT_NE(tap, TapName(b, 3));
  EXPECT_NE(tap, TapName(a, 4));
  VmSpec s = GoodSpec();
  s.nics.push_back({"br0", tap, ""});
  EXPECT_TRUE(s.Validate());
}

TEST(RunDir, CreatedAndRemovedWithContents) {
  char tmpl[] = "/tmp/silk-vmm-rundir-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  // QEMU's user must get through (VmRunDir::Create checks): mkdtemp makes it 0700.
  ASSERT_EQ(::chmod(tmpl, 0711), 0);
  std::string root = std::string(tmpl) + "/a/b";
  std::string path;
  {
    auto dir = VmRunDir::Create(root, "silk-x");
    ASSERT_TRUE(dir) << dir.error().ToString();
    path = dir->path();
    FILE* f = std::fopen(dir->console_log().c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("\x1b[2Jline one\r\nline two\nline three\n", f);
    std::fclose(f);
    EXPECT_EQ(ConsoleTail(dir->console_log(), 2), "line two\nline three");
    EXPECT_EQ(ConsoleTail(dir->console_log(), 10), "line one\nline two\nline three");
    EXPECT_FALSE(VmRunDir::Create(root, "silk-x")) << "a second VM must not share the directory";
  }
  EXPECT_NE(::access(root.c_str(), F_OK), -1);
  EXPECT_EQ(::access(path.c_str(), F_OK), -1) << path << " was left behind";
  EXPECT_EQ(ConsoleTail(path + "/console.log"), "");
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace silk::vmm
