#include "TestArbiter.h"

namespace vmft::integration {

namespace {

class BuiltInArbiter final : public TestArbiter {
 public:
  std::string address() const override { return process_.address(); }
  void kill() override { process_.kill(); }
  void restart() override { process_.restart(); }
  arbiter::ArbiterState read(const std::string& pair) const override { return process_.read(pair); }
  std::string log() const override { return process_.log(); }

 private:
  ArbiterProcess process_;
};

class EtcdArbiterCluster final : public TestArbiter {
 public:
  // vmft lists the leader first, so that a test that kills the leader makes it both move on
  // to another member and wait out an election.
  explicit EtcdArbiterCluster(size_t members)
      : cluster_(members), first_(cluster_.leader().value_or(0)) {}

  std::string address() const override { return cluster_.address(first_); }
  void kill() override {
    for (size_t i = 0; i < cluster_.size(); ++i) cluster_.kill(i);
  }
  void restart() override {
    for (size_t i = 0; i < cluster_.size(); ++i) cluster_.restart(i);
  }
  arbiter::ArbiterState read(const std::string& pair) const override { return cluster_.read(pair); }
  std::string log() const override { return cluster_.log(); }
  EtcdCluster* etcd() override { return &cluster_; }

 private:
  EtcdCluster cluster_;
  size_t first_;
};

}  // namespace

std::string arbiter_kind_name(ArbiterKind kind) {
  switch (kind) {
    case ArbiterKind::kBuiltIn: return "BuiltIn";
    case ArbiterKind::kEtcd: return "Etcd";
    case ArbiterKind::kEtcdCluster: return "EtcdCluster";
  }
  return "Unknown";
}

void PrintTo(ArbiterKind kind, std::ostream* out) { *out << arbiter_kind_name(kind); }

std::unique_ptr<TestArbiter> TestArbiter::start(ArbiterKind kind) {
  switch (kind) {
    case ArbiterKind::kBuiltIn: return std::make_unique<BuiltInArbiter>();
    case ArbiterKind::kEtcd: return std::make_unique<EtcdArbiterCluster>(1);
    case ArbiterKind::kEtcdCluster: return std::make_unique<EtcdArbiterCluster>(3);
  }
  throw std::invalid_argument("unknown arbiter kind");
}

}  // namespace vmft::integration
