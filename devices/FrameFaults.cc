#include "vmft/devices/FrameFaults.h"

#include <charconv>
#include <stdexcept>

namespace vmft::devices {

namespace {

double parse_rate(const std::string& name, const std::string& value) {
  double rate = -1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), rate);
  if (ec != std::errc() || end != value.data() + value.size() || rate < 0 || rate > 1) {
    throw std::invalid_argument("--tap-faults " + name + "=" + value + ": a rate from 0 to 1");
  }
  return rate;
}

}  // namespace

FrameFaultRates parse_frame_faults(const std::string& text) {
  FrameFaultRates rates;
  size_t at = 0;
  while (at < text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    const std::string part = text.substr(at, comma - at);
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      throw std::invalid_argument("--tap-faults '" + part +
                                  "': NAME=VALUE, with loss, duplicate, reorder or seed");
    }
    const std::string name = part.substr(0, eq);
    const std::string value = part.substr(eq + 1);
    if (name == "loss") {
      rates.loss = parse_rate(name, value);
    } else if (name == "duplicate") {
      rates.duplicate = parse_rate(name, value);
    } else if (name == "reorder") {
      rates.reorder = parse_rate(name, value);
    } else if (name == "seed") {
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), rates.seed);
      if (ec != std::errc() || end != value.data() + value.size()) {
        throw std::invalid_argument("--tap-faults seed=" + value + ": not a number");
      }
    } else {
      throw std::invalid_argument("--tap-faults: unknown fault '" + name +
                                  "' (loss, duplicate, reorder, seed)");
    }
    at = comma + 1;
  }
  return rates;
}

void FrameFaults::apply(std::vector<uint8_t> frame, const Pass& pass) {
  if (roll(rates_.loss)) return;
  if (!held_ && roll(rates_.reorder)) {
    held_ = std::move(frame);
    return;
  }
  if (roll(rates_.duplicate)) pass(frame);
  pass(std::move(frame));
  release(pass);
}

void FrameFaults::release(const Pass& pass) {
  if (!held_) return;
  auto frame = std::move(*held_);
  held_.reset();
  pass(std::move(frame));
}

}  // namespace vmft::devices
