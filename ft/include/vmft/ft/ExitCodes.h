#pragma once
// vmft's exit codes, all in one place: `vmft --help` and the README list them (a test checks
// that the README's table matches). A guest's own exit code is passed through as the low 8 bits
// of vmft's, as a shell can only see those; with --exit-code-file the whole of it is written to a
// file, and only when the guest exited, so it is never taken for one of these.

namespace vmft::ft {

/// The run ended as asked: the guest stopped by a signal, a replay or a backup to the end, a
/// command that answered.
inline constexpr int kOkExitCode = 0;
/// vmft could not start or go on: a guest, log or data file it cannot use, an address in use,
/// a primary that refused this backup, an arbiter that cannot be reached for a command.
inline constexpr int kStartFailedExitCode = 1;
/// A bad command line: an unknown flag, a missing one, a value out of range.
inline constexpr int kUsageExitCode = 2;
/// A replay did not match its log (or a backup its primary's).
inline constexpr int kDivergedExitCode = 3;
/// A primary or backup lost its peer and, with nobody to decide which side goes on, stopped.
inline constexpr int kPairBrokenExitCode = 4;
/// The arbiter gave the pair to the other side (or its pair was stopped meanwhile): this side
/// halted.
inline constexpr int kLostPairExitCode = 5;
/// The arbiter holds the pair's name for another side: this primary does not start.
inline constexpr int kNameHeldExitCode = 6;
/// EX_SOFTWARE: the guest crashed (an illegal instruction, a fault, a bad device access).
inline constexpr int kFaultExitCode = 70;

/// The table above, for --help and the README.
inline constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0   done: stopped by a signal, a guest that exited 0, a replay or command that succeeded\n"
    "  1   could not start or go on: a file, an address in use, a refused peer or arbiter\n"
    "  2   bad command line\n"
    "  3   a replay (or a backup) diverged from its log\n"
    "  4   a pair member lost its peer with no arbiter to decide, and stopped\n"
    "  5   the arbiter gave the pair to the other side: this side halted\n"
    "  6   the arbiter holds the pair's name for another side\n"
    "  70  the guest crashed\n"
    "  otherwise, a guest's exit code, modulo 256 (--exit-code-file has all of it)\n";

}  // namespace vmft::ft
