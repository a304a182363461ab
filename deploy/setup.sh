#!/usr/bin/env bash
# Installs the Debian 12 packages tandem builds and tests with, only when one is missing.
# Idempotent: a machine that already has everything runs no apt command at all.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl
  libboost-dev libyaml-cpp-dev nlohmann-json3-dev libfmt-dev catch2 libcli11-dev
  libcurl4-openssl-dev libssl-dev libpugixml-dev zlib1g-dev libxgboost-dev libbenchmark-dev
  wrk python3 python3-flask python3-gunicorn python3-sklearn python3-xgboost
  python3-boto3 python3-yaml python3-numpy python3-pytest python3-torch python3-pandas procps
  prometheus yamllint shellcheck
  clang-14 libclang-rt-14-dev
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The AWS CLI drives the runtime API tests; Debian packages it as awscli.
if ! command -v aws >/dev/null 2>&1; then
  missing_cli=1
  DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends awscli || missing_cli=0
fi

# moto_server (an S3 API server) and the AWS CLI serve the S3 and CLI tests. They are
# preinstalled under the default python3 on the build machines; where they are missing,
# install them from the Python registry if one is reachable, else the tests that need
# them report what is missing and are skipped.
if ! command -v moto_server >/dev/null 2>&1; then
  if command -v pip3 >/dev/null 2>&1; then
    pip3 install --quiet 'moto[server]' awscli 2>/dev/null ||
      echo "setup: moto_server unavailable (no Python registry reachable); S3 tests will be skipped"
  fi
fi
