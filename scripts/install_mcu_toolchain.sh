#!/usr/bin/env bash
# Install the Cortex-M toolchain and emulator used by the MCU tests (Debian/Ubuntu, as root or via
# sudo): arm-none-eabi-gcc 12, newlib(-nano), the C++ headers, qemu-system-arm. Non-interactive;
# does nothing (and skips apt-get update) when everything is already installed.
# libstdc++-arm-none-eabi-newlib is deliberately NOT installed (1.5 GB, unused: the firmware links
# nothing from libstdc++).
set -euo pipefail
PKGS=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-dev qemu-system-arm)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "MCU toolchain present: ${PKGS[*]}"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
arm-none-eabi-gcc --version | head -1
qemu-system-arm --version | head -1
