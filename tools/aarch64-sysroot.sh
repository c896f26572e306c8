#!/usr/bin/env bash
# aarch64-sysroot.sh — the arm64 builds of zsq's libraries (XNNPACK, pthreadpool, cpuinfo,
# protobuf-c, zlib) from Debian's archive, unpacked into a directory for cross-compiling the whole
# program (cmake/toolchain-aarch64.cmake with -DZSQ_AARCH64_SYSROOT=DIR). Nothing is installed
# system-wide: Debian's -dev packages of two architectures cannot be installed side by side, so
# the .debs are downloaded and extracted. Adds the arm64 architecture to dpkg/apt when missing.
# usage: tools/aarch64-sysroot.sh DIR
set -euo pipefail
dir=${1:?usage: tools/aarch64-sysroot.sh DIR}
pkgs=(libxnnpack0 libxnnpack-dev libpthreadpool0 libpthreadpool-dev libcpuinfo0 libcpuinfo-dev
  libprotobuf-c1 libprotobuf-c-dev zlib1g zlib1g-dev)
stamp="$dir/.zsq-sysroot"
[[ -f $stamp && $(cat "$stamp") == "${pkgs[*]}" ]] && exit 0
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
if ! grep -qx arm64 <<<"$(dpkg --print-foreign-architectures)"; then
  echo "aarch64-sysroot: adding the arm64 architecture to apt" >&2
  $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
fi
rm -rf "$dir"
mkdir -p "$dir/debs"
debs=()
for p in "${pkgs[@]}"; do debs+=("$p:arm64"); done
# apt-get download writes into the current directory; as root it warns that _apt cannot write
# there, which is harmless.
(cd "$dir/debs" && apt-get download -qq "${debs[@]}" 2>/dev/null) || {
  $sudo apt-get update -qq
  (cd "$dir/debs" && apt-get download -qq "${debs[@]}" 2>/dev/null)
}
for d in "$dir"/debs/*.deb; do dpkg -x "$d" "$dir"; done
rm -rf "$dir/debs"
echo "${pkgs[*]}" >"$stamp"
echo "aarch64-sysroot: arm64 libraries in $dir" >&2
