#pragma once
// One pair's state on disk: `<dir>/<pair>.state`, replaced crash-safely. The format is in
// docs/arbiter-protocol.md ("Durability"); bump kStateFileVersion on any change to it. etcd
// values hold the same text (docs/arbiter-protocol.md, "On etcd").

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter::detail {

inline constexpr int kStateFileVersion = 1;

/// A state as stored: "vmft-arbiter-state <version>\n<epoch> <mode> <holder>\n". Both
/// ArbiterStore's files and EtcdArbiter's values hold it.
std::string encode_state(const ArbiterState& state);
/// The inverse of encode_state; nullopt for anything that is not a valid stored state (a
/// never-registered state included: only decisions are ever stored).
std::optional<ArbiterState> decode_state(std::string_view text);

/// `<dir>/<pair>.state`; `pair` must have passed check_pair_name.
std::filesystem::path state_file_path(const std::filesystem::path& dir, const std::string& pair);

/// The state stored for `pair`, or nullopt if it has no file (never registered). Throws
/// std::runtime_error naming the file if it cannot be read or does not hold a valid state.
std::optional<ArbiterState> read_state_file(const std::filesystem::path& dir,
                                            const std::string& pair);

/// Replaces the pair's file with `state` so that a crash at any moment leaves either the old
/// or the new state, complete: writes `<pair>.state.tmp`, fsyncs it, renames it over
/// `<pair>.state` and fsyncs the directory. The state is durable when it returns. Throws
/// std::system_error naming the step and the file if any step fails.
void write_state_file(const std::filesystem::path& dir, const std::string& pair,
                      const ArbiterState& state);

/// fsyncs a directory, so that entries created or renamed in it survive a crash. Throws
/// std::system_error naming it.
void sync_directory(const std::filesystem::path& dir);

}  // namespace vmft::arbiter::detail
