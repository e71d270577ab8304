# Shared by scripts/demo, scripts/test and scripts/bench: install what vmft needs, build it.
# Source it; it sets ROOT to the repository root.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="${VMFT_BUILD_DIR:-$ROOT/build}"

# Debian packages needed to build vmft, its guests, and to run its tests and demo.
VMFT_PACKAGES=(
  cmake g++ make pkg-config
  libunicorn-dev libasio-dev libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libxxhash-dev
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf
  libcurl4-openssl-dev nlohmann-json3-dev libssl-dev
  redis-tools netcat-openbsd procps iproute2 iputils-ping
  etcd-server
)

# The oldest Unicorn vmft builds against (CMakeLists.txt refuses older). Debian 12 ships 2.0.1,
# whose stores take a slow path (docs/design.md); Debian 13 ships 2.1.1.
VMFT_UNICORN_MIN=2.1.1

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# debian_mirror: the URI of the main Debian archive this machine's apt sources use.
debian_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }')
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '$0 ~ /debian/ && $0 !~ /security/ { for (i = 2; i <= NF; i++)
      if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
  echo "${uri:-http://deb.debian.org/debian}"
}

# unicorn_source: on a Debian older than 13, lets apt take libunicorn-dev (and only it, through an
# apt pin) from the Debian 13 suite of the mirror the machine already uses. Its library needs
# nothing newer than Debian 12's libc.
unicorn_source() {
  local major
  major=$(cut -d. -f1 /etc/debian_version 2>/dev/null)
  [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -lt 13 ] || return 0
  local list=/etc/apt/sources.list.d/vmft-trixie.sources pin=/etc/apt/preferences.d/vmft-trixie
  [ -f "$list" ] && [ -f "$pin" ] && return 0
  echo "Taking libunicorn-dev $VMFT_UNICORN_MIN from Debian 13 (trixie), pinned: $list, $pin"
  as_root tee "$list" >/dev/null <<SOURCES
# Added by vmft's scripts/common.sh: Unicorn $VMFT_UNICORN_MIN. $pin keeps everything else
# on this machine's own release.
Types: deb
URIs: $(debian_mirror)
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  as_root tee "$pin" >/dev/null <<PIN
# Added by vmft's scripts/common.sh: only Unicorn comes from Debian 13.
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: libunicorn-dev libunicorn2t64
Pin: release n=trixie
Pin-Priority: 990
PIN
}

# unicorn_current: whether the installed libunicorn-dev is at least VMFT_UNICORN_MIN.
unicorn_current() {
  local have
  have=$(dpkg-query -W -f='${Version}' libunicorn-dev 2>/dev/null) || return 1
  dpkg --compare-versions "$have" ge "$VMFT_UNICORN_MIN"
}

# usage SCRIPT: prints the comment block at the top of SCRIPT (after its #! line), up to the
# first line that is not a comment, without the comment marks: each script's --help.
usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$1"
}

# install_deps [PACKAGE...]: installs those of the packages (default: VMFT_PACKAGES) missing,
# and, for the default set, upgrades Unicorn to VMFT_UNICORN_MIN.
install_deps() {
  local wanted=("$@") missing=()
  [ $# -gt 0 ] || wanted=("${VMFT_PACKAGES[@]}")
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  if [ $# -eq 0 ] && ! unicorn_current; then
    unicorn_source
    [[ " ${missing[*]} " == *" libunicorn-dev "* ]] || missing+=(libunicorn-dev)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
  if [ $# -eq 0 ] && ! unicorn_current; then
    echo "libunicorn-dev is $(dpkg-query -W -f='${Version}' libunicorn-dev 2>/dev/null), vmft" \
      "needs $VMFT_UNICORN_MIN or later; apt did not find it (see $ROOT/docs/design.md)." >&2
    return 1
  fi
}

# build [CMAKE_ARG...]: configures and builds vmft in $BUILD.
build() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$BUILD" -j"$(nproc)"
}
