# Shared by scripts/demo, scripts/test and scripts/bench: install what vmft needs, build it.
# Source it; it sets ROOT to the repository root.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="${VMFT_BUILD_DIR:-$ROOT/build}"

# Debian packages needed to build vmft, its guests, and to run its tests and demo.
VMFT_PACKAGES=(
  cmake g++ make pkg-config
  libunicorn-dev libasio-dev libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libxxhash-dev
  gcc-riscv64-unknown-elf
  libcurl4-openssl-dev nlohmann-json3-dev libssl-dev
  redis-tools netcat-openbsd procps
  etcd-server
)

# install_deps [PACKAGE...]: installs those of the packages (default: VMFT_PACKAGES) missing.
install_deps() {
  local wanted=("$@") missing=()
  [ $# -gt 0 ] || wanted=("${VMFT_PACKAGES[@]}")
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing Debian packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

# build [CMAKE_ARG...]: configures and builds vmft in $BUILD.
build() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$BUILD" -j"$(nproc)"
}
