#!/usr/bin/env bash
# Makes this machine ready to build and test resocket, idempotently.
#
# - wasm32 target: the normal rustup path first (under a short timeout); when rustup cannot
#   download it (machines without access to static.rust-lang.org), the Debian fallback from
#   TOOLCHAIN.md: rustc-web + a wasm32 std sysroot built once with -Zbuild-std.
# - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock, and wasm-pack.
# - redis-server (the Debian package when missing) for the resume adapters' Redis tests.
# - Chromium and chromedriver (Debian packages when missing), npm dependencies (incl. wasm-opt
#   from the npm `binaryen` package; Debian's binaryen 108 breaks current wasm-bindgen output).
#
# Writes target/toolchain.env, which every other script sources. Prints each step and its time;
# a second run only checks and takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ENV_FILE="$ROOT/target/toolchain.env"
mkdir -p "$ROOT/target"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"

SETUP_START=$(date +%s)
STEP_START=0
step() { STEP_START=$(date +%s); printf '[setup] %s ...\n' "$1"; }
done_step() { printf '[setup]   %s (%ss)\n' "$1" "$(( $(date +%s) - STEP_START ))"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "[setup] ERROR: need packages ($*) but apt-get is not available; install them by hand." >&2
    exit 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    echo "[setup]   apt-get update"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    APT_UPDATED=1
  fi
  echo "[setup]   apt-get install $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

has_wasm_std() { # $1: target libdir
  compgen -G "$1/libstd-*.rlib" >/dev/null 2>&1
}

# ---------------------------------------------------------------- rust + wasm32
TOOLCHAIN_ENV=""
SYSTEM_LIB=/usr/lib/rustlib/wasm32-unknown-unknown/lib
step "Rust wasm32-unknown-unknown target"
# RESOCKET_TOOLCHAIN=debian forces the fallback (to check it on a machine where rustup works).
FORCE_DEBIAN=0
if [ "${RESOCKET_TOOLCHAIN:-}" = debian ]; then FORCE_DEBIAN=1; fi
if [ "$FORCE_DEBIAN" = 0 ] \
  && has_wasm_std "$(rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null || echo /nonexistent)"; then
  done_step "rustup toolchain has the wasm32 std"
elif [ -x /usr/bin/rustc ] && has_wasm_std "$SYSTEM_LIB" && [ -f "$SYSTEM_LIB/.resocket-sysroot" ] \
  && [ "$(cat "$SYSTEM_LIB/.resocket-sysroot")" = "$(/usr/bin/rustc --version)" ] \
  && [ -e /usr/bin/rust-lld ] && rustup toolchain list 2>/dev/null | grep -q '^system' \
  && [ -x /usr/bin/cargo-clippy ] && [ -x /usr/bin/rustfmt ]; then
  TOOLCHAIN_ENV="system"
  done_step "Debian rustc-web with the prebuilt wasm32 sysroot"
else
  echo "[setup]   trying: rustup target add wasm32-unknown-unknown (60 s limit)"
  if [ "$FORCE_DEBIAN" = 0 ] && command -v rustup >/dev/null && timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1 \
     && has_wasm_std "$(rustc --print target-libdir --target wasm32-unknown-unknown)"; then
    done_step "installed by rustup"
  else
    echo "[setup]   rustup cannot download the target here; using the Debian fallback (TOOLCHAIN.md)"
    apt_install rustc-web cargo-web rust-web-src rust-web-clippy rustfmt-web lld-19 chromium chromium-driver
    $SUDO ln -sf /usr/lib/llvm-19/bin/lld /usr/bin/rust-lld
    if ! rustup toolchain list 2>/dev/null | grep -q '^system'; then
      rustup toolchain link system /usr
    fi
    if ! { has_wasm_std "$SYSTEM_LIB" && [ -f "$SYSTEM_LIB/.resocket-sysroot" ] \
           && [ "$(cat "$SYSTEM_LIB/.resocket-sysroot")" = "$(/usr/bin/rustc --version)" ]; }; then
      echo "[setup]   building the wasm32 std once with -Zbuild-std (1-2 minutes on 2 cores)"
      SCRATCH="$(mktemp -d)"
      mkdir -p "$SCRATCH/src"
      printf '[package]\nname = "sysroot_scratch"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n' > "$SCRATCH/Cargo.toml"
      : > "$SCRATCH/src/lib.rs"
      ( cd "$SCRATCH" && RUSTFLAGS="-Cembed-bitcode=yes" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
          /usr/bin/cargo build -q --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort,test )
      $SUDO mkdir -p "$SYSTEM_LIB"
      $SUDO rm -f "$SYSTEM_LIB"/*.rlib
      for f in "$SCRATCH"/target/wasm32-unknown-unknown/release/deps/*.rlib; do
        case "$(basename "$f")" in libsysroot_scratch-*) ;; *) $SUDO cp "$f" "$SYSTEM_LIB/" ;; esac
      done
      /usr/bin/rustc --version | $SUDO tee "$SYSTEM_LIB/.resocket-sysroot" >/dev/null
      rm -rf "$SCRATCH"
      # Artifacts built against an older sysroot fail with "can't find crate for ...".
      rm -rf "$ROOT/target/wasm32-unknown-unknown" "$ROOT/target/wasm-bindgen-test" 2>/dev/null || true
    fi
    TOOLCHAIN_ENV="system"
    done_step "Debian fallback ready ($(/usr/bin/rustc --version))"
  fi
fi
if [ -n "$TOOLCHAIN_ENV" ]; then export RUSTUP_TOOLCHAIN="$TOOLCHAIN_ENV"; fi

# ---------------------------------------------------------------- chromium
step "Chromium and chromedriver"
find_bin() { for b in "$@"; do if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi; done; return 1; }
CHROME_BIN="${CHROME_BIN:-$(find_bin chromium chromium-browser google-chrome google-chrome-stable || true)}"
CHROMEDRIVER_BIN="${CHROMEDRIVER:-$(find_bin chromedriver || true)}"
if [ -z "$CHROME_BIN" ] || [ -z "$CHROMEDRIVER_BIN" ]; then
  apt_install chromium chromium-driver
  CHROME_BIN=/usr/bin/chromium
  CHROMEDRIVER_BIN=/usr/bin/chromedriver
fi
done_step "$("$CHROME_BIN" --version 2>/dev/null | head -1)"

# ---------------------------------------------------------------- redis-server
# The resume adapters' Redis store is tested against a real redis-server, which the tests start
# themselves on a free 127.0.0.1 port with a temporary directory (never the system service).
step "redis-server"
REDIS_BIN="${REDIS_SERVER:-$(find_bin redis-server || true)}"
if [ -z "$REDIS_BIN" ]; then
  apt_install redis-server
  REDIS_BIN=/usr/bin/redis-server
  # Debian's package may start a system-wide service on 6379; the tests do not use it.
fi
done_step "$("$REDIS_BIN" --version | awk '{print $1, $2, $3}')"

# ---------------------------------------------------------------- wasm-bindgen-cli, wasm-pack
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)"
step "wasm-bindgen-cli $WB_VERSION"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$WB_VERSION" ] \
   && command -v wasm-bindgen-test-runner >/dev/null; then
  done_step "present"
else
  echo "[setup]   cargo install wasm-bindgen-cli --version $WB_VERSION (about 3 minutes)"
  cargo install -q --force wasm-bindgen-cli --version "$WB_VERSION"
  done_step "installed"
fi

step "wasm-pack"
if command -v wasm-pack >/dev/null; then
  done_step "present ($(wasm-pack --version))"
else
  echo "[setup]   cargo install wasm-pack (about 4 minutes)"
  cargo install -q wasm-pack
  done_step "installed ($(wasm-pack --version))"
fi

# ---------------------------------------------------------------- npm
step "npm dependencies"
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
   && [ -x node_modules/.bin/wasm-opt ]; then
  done_step "up to date"
else
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
  done_step "installed"
fi

cat > "$ENV_FILE" <<ENVEOF
# Written by scripts/setup.sh; sourced by the other scripts.
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:\$PATH"
${TOOLCHAIN_ENV:+export RUSTUP_TOOLCHAIN=$TOOLCHAIN_ENV}
export CHROME_BIN="$CHROME_BIN"
export CHROMEDRIVER="$CHROMEDRIVER_BIN"
export REDIS_SERVER="$REDIS_BIN"
export WASM_BINDGEN_TEST_TIMEOUT=\${WASM_BINDGEN_TEST_TIMEOUT:-300}
ENVEOF
printf '[setup] ready in %ss (toolchain: %s)\n' "$(( $(date +%s) - SETUP_START ))" "${TOOLCHAIN_ENV:-rustup default}"
