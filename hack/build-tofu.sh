#!/usr/bin/env bash
# Builds OpenTofu (the tofu command) from the version pinned in hack/tofu/go.mod
# into _output/bin/tofu, for make tf-check and make tf-e2e. Needs nothing but
# Go (and the module proxy). A tofu already built from the same go.mod, go.sum,
# Go toolchain and flags is kept: its line in _output/bin/.versions records what
# it was built from. It takes turns with hack/build-kube-binaries.sh on
# _output/bin/.lock, so two builds never share the machine's two cores.
#
# Usage: hack/build-tofu.sh
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE="${ROOT}/hack/tofu"
OUT="${ROOT}/_output/bin"
PKG=github.com/opentofu/opentofu/cmd/tofu

# The wrapper module is built on its own, whatever workspace or vendoring the
# caller's environment points at. CGO is off, as in OpenTofu's release build
# (.goreleaser.yaml: CGO_ENABLED=0, -mod=readonly, -trimpath).
export GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0

die() { echo "build-tofu: $*" >&2; exit 1; }

# build_flags prints the go build flags, one per line: those of OpenTofu's
# release build. version.dev=no makes `tofu version` print the release
# version (with dev=yes it would say v1.12.6-dev).
build_flags() {
  echo "-trimpath"
  echo "-ldflags=-s -w -X github.com/opentofu/opentofu/version.dev=no"
}

# stamp prints what the build depends on, as one hash.
stamp() {
  {
    cat "${MODULE}/go.mod" "${MODULE}/go.sum"
    go version
    go env GOOS GOARCH
    build_flags
  } | sha256sum | cut -c1-16
}

# .versions holds one line per binary (name, stamp, version), shared with
# hack/build-kube-binaries.sh; each script rewrites only its own lines.
recorded_stamp() {
  if [[ -f "${OUT}/.versions" ]]; then awk '$1 == "tofu" { print $2 }' "${OUT}/.versions"; fi
}

record_stamp() {
  local tmp="${OUT}/.versions.$$"
  {
    if [[ -f "${OUT}/.versions" ]]; then awk '$1 != "tofu"' "${OUT}/.versions"; fi
    echo "tofu $1 $2"
  } >"${tmp}"
  mv -f "${tmp}" "${OUT}/.versions"
}

main() {
  command -v go >/dev/null || die "go is not on PATH"
  mkdir -p "${OUT}"
  # Held until this script exits (see hack/build-kube-binaries.sh).
  exec 9>"${OUT}/.lock"
  if command -v flock >/dev/null; then
    flock -n 9 || { echo "waiting for another build in _output/bin to finish"; flock 9; }
  else
    echo "build-tofu: flock not found, building without the lock" >&2
  fi

  local version st start flags=()
  version=$(go -C "${MODULE}" list -m -f '{{.Version}}' github.com/opentofu/opentofu)
  st=$(stamp)
  if [[ -x "${OUT}/tofu" && "$(recorded_stamp)" == "${st}" ]]; then
    echo "tofu ${version}: already built"
    return
  fi
  echo "tofu ${version}: building ${PKG} (a few minutes on a cold cache)"
  mapfile -t flags < <(build_flags)
  start=${SECONDS}
  # Build beside the target and rename, so a reader never sees half a binary.
  go -C "${MODULE}" build "${flags[@]}" -o "${OUT}/.tofu.$$" "${PKG}"
  mv -f "${OUT}/.tofu.$$" "${OUT}/tofu"
  record_stamp "${st}" "${version}"
  echo "tofu ${version}: done in $((SECONDS - start))s"
}

main "$@"
