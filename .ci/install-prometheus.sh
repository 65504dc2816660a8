#!/usr/bin/env bash
# Prometheus server and promtool from Debian's package (promtool checks and tests the
# alert rules; the end-to-end test runs a real server). Idempotent: skips when present.
set -euo pipefail
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    echo "prometheus and promtool already installed: $(promtool --version 2>&1 | head -n1)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus
promtool --version 2>&1 | head -n1
