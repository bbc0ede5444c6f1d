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

# known_deadline_race OUT NAME: the run's only failure is the bare
# "context deadline exceeded" that Go's fuzz coordinator prints for its own
# -fuzztime deadline, with no failing input reported.
known_deadline_race() {
  local out=$1 name=$2
  grep -q -- "^--- FAIL: ${name} (" "$out" || return 1
  grep -q -- "^    context deadline exceeded\$" "$out" || return 1
  ! grep -qE -- "Failing input written|panic:|^    --- FAIL|_test\.go:[0-9]+:|^--- FAIL: [^ ]+ " <(grep -v -- "^--- FAIL: ${name} (" "$out")
}

echo "fuzz-short: ${#targets[@]} target(s), ${FUZZTIME} each"
failed=()
for t in "${targets[@]}"; do
  dir=${t%%$'\t'*}
  name=${t#*$'\t'}
  echo "==> $GO test -run='^\$' -fuzz='^${name}\$' -fuzztime=${FUZZTIME} -fuzzminimizetime=5s ${dir}"
  corpus="${dir}/testdata/fuzz/${name}"
  before=$(ls "$corpus" 2>/dev/null | wc -l || true)
  out=$(mktemp)
  rc=0
  "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="${FUZZTIME}" -fuzzminimizetime=5s "${dir}" 2>&1 | tee "$out" || rc=$?
  after=$(ls "$corpus" 2>/dev/null | wc -l || true)
  if [ "$rc" -ne 0 ]; then
    if [ "$after" -eq "$before" ] && known_deadline_race "$out" "$name"; then
      # go.dev/issue/75804: with a duration -fuzztime, Go 1.26's fuzz
      # coordinator can report its own stop deadline as a failure when a
      # worker is starved at the boundary (fixed in Go 1.27). No input was
      # written and nothing else failed, so this is not a finding.
      echo "fuzz-short: ${name}: only Go's fuzztime deadline race (go.dev/issue/75804), no failing input; not a finding"
    else
      failed+=("${dir} ${name}")
    fi
  fi
  rm -f "$out"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-short: FAILED targets (failing inputs are saved under <pkg>/testdata/fuzz/):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz-short: all ${#targets[@]} target(s) passed"
