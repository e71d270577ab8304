// A pair's stored state, as the arbiter reads it back from its state file after a restart or
// from an etcd value.
#include <string>
#include <string_view>

#include "FuzzTargets.h"
#include "StateFile.h"

namespace vmft::fuzz {

void arbiter_state(Bytes data) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  const auto state = arbiter::detail::decode_state(text);
  if (!state) return;
  expect(state->epoch > 0 && state->mode != arbiter::Mode::kNone &&
             state->holder.empty() == (state->mode == arbiter::Mode::kReleased),
         "a stored state decoded to a state no decision makes");
  expect(arbiter::detail::decode_state(arbiter::detail::encode_state(*state)) == state,
         "a stored state changed in an encode-decode round trip");
}

}  // namespace vmft::fuzz
