#pragma once

#include <string>

namespace vmft::host {

/// Prints the log file at `path` on stdout: its header and one line per record, or (`json`) one
/// JSON object per line, the header's then each record's. Returns vmft's exit code: 1 for a
/// log it cannot read, having said why after the records read so far.
int show_log(const std::string& path, bool json);

}  // namespace vmft::host
