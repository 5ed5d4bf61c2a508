#!/usr/bin/env bash
# Installs what the end-to-end tests of the HTTP API and the web console need,
# only where it is missing (a second run takes about a second):
#   - Debian's chromium (/usr/bin/chromium), for the console's browser tests;
#   - a Python virtualenv at target/pyenv with boto3 and the AWS CLI, which
#     tests/it/api_clients.rs drives against `stepwasm serve` (tests/api/aws_clients.py).
# Prints one line per tool saying what it did. Run as root (apt-get), from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

# Versions checked to work together: awscli 1.45.11 pins botocore 1.43.11,
# which boto3 1.43.11 accepts; s3transfer 0.17.0 is what both ask for.
PY_PACKAGES=(boto3==1.43.11 botocore==1.43.11 awscli==1.45.11 s3transfer==0.17.0)
PYENV=target/pyenv

# --- chromium -------------------------------------------------------------
if [ -x /usr/bin/chromium ]; then
    echo "test-tools: chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null | head -n1 || echo '/usr/bin/chromium'))"
else
    started=$SECONDS
    apt_log=$(mktemp)
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 chromium >"$apt_log" 2>&1; then
        # The package lists may be missing or stale on a fresh machine.
        DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300 >>"$apt_log" 2>&1 || true
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 chromium >>"$apt_log" 2>&1; then
            cat "$apt_log" >&2
            echo "test-tools: chromium: apt-get install chromium failed (see above)" >&2
            exit 1
        fi
    fi
    rm -f "$apt_log"
    echo "test-tools: chromium: installed with apt-get in $((SECONDS - started)) s ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
fi

# --- boto3 and the AWS CLI in target/pyenv ----------------------------------
pyenv_ok() {
    "$PYENV/bin/python" -c 'import boto3' >/dev/null 2>&1 && "$PYENV/bin/aws" --version >/dev/null 2>&1
}
if pyenv_ok; then
    echo "test-tools: boto3+awscli: already in $PYENV ($("$PYENV/bin/aws" --version 2>&1 | head -n1))"
else
    started=$SECONDS
    mkdir -p target
    if [ ! -x "$PYENV/bin/python" ]; then
        rm -rf "$PYENV"
        python3 -m venv "$PYENV"
    fi
    pip_log=$(mktemp)
    if ! "$PYENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}" >"$pip_log" 2>&1; then
        cat "$pip_log" >&2
        echo "test-tools: boto3+awscli: pip install into $PYENV failed (see above)" >&2
        exit 1
    fi
    rm -f "$pip_log"
    if ! pyenv_ok; then
        echo "test-tools: boto3+awscli: installed into $PYENV but 'import boto3' or 'aws --version' still fails" >&2
        exit 1
    fi
    echo "test-tools: boto3+awscli: installed into $PYENV in $((SECONDS - started)) s ($("$PYENV/bin/aws" --version 2>&1 | head -n1))"
fi
