#!/usr/bin/env bash
# Check that a Ray auth token is present and private (mode 0600).
#
#   cluster/check_token.sh           on your machine, before `ray up` (cluster/up.sh runs it)
#   cluster/check_token.sh --node    on a cluster node (gpu.yaml setup_commands), where the token
#                                    arrives through file_mounts
#
# The token is the file Ray reads: $RAY_AUTH_TOKEN_PATH if set, else ~/.ray/auth_token.
# Exit 0 when it is usable; exit 1 with the command that fixes it otherwise.
set -euo pipefail

where=client
[[ "${1:-}" == "--node" ]] && where=node

token_file="${RAY_AUTH_TOKEN_PATH:-$HOME/.ray/auth_token}"

if [[ ! -s "$token_file" ]]; then
  if [[ $where == client ]]; then
    cat >&2 <<MSG
ERROR: no Ray auth token at $token_file.
The cluster runs with token authentication (RAY_AUTH_MODE=token) and gets its token from yours.
Create one (once) with:

    ray get-auth-token --generate

then run cluster/up.sh again.
MSG
  else
    cat >&2 <<MSG
ERROR: no Ray auth token at $token_file on this node: it should have been copied here by
file_mounts from the machine that ran \`ray up\`. On that machine run

    ray get-auth-token --generate

and then \`cluster/up.sh\` (or \`ray up cluster/gpu.yaml\`) again.
MSG
  fi
  exit 1
fi

if ! grep -Eq '^[A-Za-z0-9_-]{32,}$' "$token_file"; then
  echo "ERROR: $token_file does not look like a Ray auth token (one line, 32+ characters)." >&2
  echo "Replace it with:  rm $token_file && ray get-auth-token --generate" >&2
  exit 1
fi

# `ray get-auth-token --generate` writes the file 0644; the token is a password.
chmod 600 "$token_file"
echo "Ray auth token OK: $token_file (mode 600)"
