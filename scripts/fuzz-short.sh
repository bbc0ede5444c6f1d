#!/usr/bin/env bash
# Run every Go fuzz target in the module briefly.
# Targets are discovered by grepping *_test.go for `func FuzzXxx(`, so new
# targets are picked up automatically. FUZZTIME (default 15s) per target.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-15s}

# "dir<TAB>FuzzName" for each target, skipping vendored/JS/test-data trees.
mapfile -t targets < <(
  grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*\(' . \
    --exclude-dir=.git --exclude-dir=vendor --exclude-dir=node_modules \
    --exclude-dir=testdata --exclude-dir=dist --exclude-dir=bin 2>/dev/null \
  | sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\($|\1\t\2|' \
  | sort -u
)

if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz-short: no Fuzz targets found"
  exit 0
fi

echo "fuzz-short: ${#targets[@]} target(s), ${FUZZTIME} each"
failed=()
for t in "${targets[@]}"; do
  dir=${t%%$'\t'*}
  name=${t#*$'\t'}
  echo "==> $GO test -run='^\$' -fuzz='^${name}\$' -fuzztime=${FUZZTIME} -fuzzminimizetime=5s ${dir}"
  if ! "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="${FUZZTIME}" -fuzzminimizetime=5s "${dir}"; then
    failed+=("${dir} ${name}")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-short: FAILED targets (failing inputs are saved under <pkg>/testdata/fuzz/):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz-short: all ${#targets[@]} target(s) passed"
