#include "vmft/sim/Fiber.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstdint>
#include <stdexcept>
#include <system_error>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define VMFT_FIBER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
// libtsan has had these since GCC 10; GCC 12's sanitizer/tsan_interface.h does not declare them.
extern "C" {
void* __tsan_get_current_fiber();
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
}
#define VMFT_FIBER_TSAN 1
#endif

namespace vmft::sim {

namespace {

constexpr size_t kGuardBytes = 4096;  // below the stack, so an overflow faults at once

// swapcontext(3) as getcontext and setcontext: ASan intercepts swapcontext (it warns once per
// process, which fails a sanitizer run, and clears the target stack's shadow); the switch is
// told to it through __sanitizer_start_switch_fiber instead, as it asks of fiber libraries.
// Not instrumented: TSan would count its entry on the stack it leaves and its return on the one
// it comes back to (each switch one frame off, until TSan's own stack of calls breaks), and
// ASan would keep `back` in a fake frame.
__attribute__((no_sanitize("address", "thread", "undefined"))) void switch_context(
    ucontext_t& from, const ucontext_t& to) {
  volatile bool back = false;
  getcontext(&from);  // returns a second time when `from` is switched to
  if (!back) {
    back = true;
    setcontext(&to);
  }
}

}  // namespace

struct Fiber::Context {
  ucontext_t caller{};
  ucontext_t body{};
  void* mapping = nullptr;  // the guard page, then the stack
  void* stack = nullptr;
#ifdef VMFT_FIBER_ASAN
  // ASan's fake frames of each side while the other runs:
  void* caller_fake_stack = nullptr;
  void* body_fake_stack = nullptr;
  const void* caller_bottom = nullptr;
  size_t caller_size = 0;
#endif
#ifdef VMFT_FIBER_TSAN
  void* caller_fiber = nullptr;
  void* body_fiber = nullptr;
#endif

  Context() {
    mapping = mmap(nullptr, kGuardBytes + kStackBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED) throw std::system_error(errno, std::system_category(), "mmap");
    mprotect(mapping, kGuardBytes, PROT_NONE);
    stack = static_cast<char*>(mapping) + kGuardBytes;
#ifdef VMFT_FIBER_TSAN
    body_fiber = __tsan_create_fiber(0);
#endif
  }
  ~Context() {
#ifdef VMFT_FIBER_TSAN
    __tsan_destroy_fiber(body_fiber);
#endif
    munmap(mapping, kGuardBytes + kStackBytes);
  }

  // The caller's side of a switch into the body, and back once it yields or returns.
  void to_body() {
#ifdef VMFT_FIBER_ASAN
    __sanitizer_start_switch_fiber(&caller_fake_stack, stack, kStackBytes);
#endif
#ifdef VMFT_FIBER_TSAN
    caller_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(body_fiber, 0);
#endif
    switch_context(caller, body);
#ifdef VMFT_FIBER_ASAN
    __sanitizer_finish_switch_fiber(caller_fake_stack, nullptr, nullptr);
#endif
  }

  // The body's side: it has just been switched to (its first run, or back from yield()).
  void arrived_in_body() {
#ifdef VMFT_FIBER_ASAN
    __sanitizer_finish_switch_fiber(body_fake_stack, &caller_bottom, &caller_size);
#endif
  }

  // The body's side of a switch back to the caller; `last`: the body has returned, and its
  // stack is never switched to again.
  void to_caller(bool last) {
#ifdef VMFT_FIBER_ASAN
    __sanitizer_start_switch_fiber(last ? nullptr : &body_fake_stack, caller_bottom, caller_size);
#endif
#ifdef VMFT_FIBER_TSAN
    __tsan_switch_to_fiber(caller_fiber, 0);
#endif
    if (last) {
      setcontext(&caller);
    } else {
      switch_context(body, caller);
      arrived_in_body();
    }
  }
};

Fiber::Fiber(std::function<void(Fiber&)> body)
    : body_(std::move(body)), context_(std::make_unique<Context>()) {}

Fiber::~Fiber() = default;

void Fiber::entry(unsigned high, unsigned low) {
  auto& fiber = *reinterpret_cast<Fiber*>((static_cast<uintptr_t>(high) << 32) | low);
  fiber.context_->arrived_in_body();
  try {
    fiber.body_(fiber);
  } catch (...) {
    fiber.error_ = std::current_exception();
  }
  fiber.done_ = true;
  fiber.context_->to_caller(true);
}

bool Fiber::resume() {
  if (done_) throw std::logic_error("resume() of a fiber whose body returned");
  if (running_) throw std::logic_error("resume() of a fiber that runs");
  Context& c = *context_;
  if (!started_) {
    started_ = true;
    getcontext(&c.body);
    c.body.uc_stack.ss_sp = c.stack;
    c.body.uc_stack.ss_size = kStackBytes;
    c.body.uc_link = nullptr;  // entry() never returns: it switches back itself
    const auto self = reinterpret_cast<uintptr_t>(this);
    makecontext(&c.body, reinterpret_cast<void (*)()>(&Fiber::entry), 2,
                static_cast<unsigned>(self >> 32), static_cast<unsigned>(self & 0xffffffffu));
  }
  running_ = true;
  c.to_body();
  running_ = false;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  return !done_;
}

void Fiber::yield() {
  if (!running_) throw std::logic_error("yield() outside the fiber's body");
  context_->to_caller(false);
}

}  // namespace vmft::sim
