#!/usr/bin/env bash
# Builds the real Kubernetes and etcd server binaries the e2e suite runs
# (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubectl,
# etcd) and hack/tools/hollow-node (the real kubelet code with a fake runtime)
# from the versions pinned in hack/tools/go.mod, into _output/bin/. Needs
# nothing but Go (and the module proxy). A binary already built from the same
# modules (the versions of the modules its packages come from), source of
# hack/tools' own packages, Go toolchain and flags is kept, so adding a binary
# to go.mod rebuilds no other: _output/bin/.versions records what each was
# built from. Two runs at once are safe: they take turns on _output/bin/.lock.
#
# Usage: hack/build-kube-binaries.sh [BINARY]...   (no arguments: all of them)
#
# hack/tools/README.md has the flag sets that start etcd and kube-apiserver on
# loopback with these binaries, and the measured build and start-up times.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="${ROOT}/hack/tools"
OUT="${ROOT}/_output/bin"
ALL_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl hollow-node)

# The tools module is built on its own, whatever workspace or vendoring the
# caller's environment points at; CGO is off because Kubernetes builds these
# binaries statically too (KUBE_STATIC_BINARIES in hack/lib/golang.sh).
export GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0

die() { echo "build-kube-binaries: $*" >&2; exit 1; }

package_of() {
  case "$1" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kube-proxy | kubectl) echo "k8s.io/kubernetes/cmd/$1" ;;
    hollow-node) echo "./hollow-node" ;; # this module's own command, on k8s.io/kubernetes/pkg/kubemark
    etcd) echo "go.etcd.io/etcd/server/v3" ;; # that module's root is etcd's main package
    *) die "unknown binary $1 (want one of: ${ALL_BINARIES[*]})" ;;
  esac
}

# module_field prints a field of a pinned module, through a go list template.
module_field() { go -C "${TOOLS}" list -m -f "{{$2}}" "$1"; }

# build_flags prints the go build flags for one binary, one per line.
build_flags() {
  echo "-trimpath"
  case "$1" in
    etcd)
      # etcd's version string is a variable in its source (api/v3/version.Version),
      # already right for the pinned release; GitSHA is unknown without git.
      echo "-ldflags=-s -w"
      ;;
    *)
      # The tags and version stamps kube::golang::build_binaries and
      # kube::version::ldflags use for a release (non-debug) build; the
      # apiserver derives its binary and emulation version from gitVersion.
      local v="${KUBE_VERSION}" major minor ldflags="-s -w" pkg key value
      major=${v#v}; major=${major%%.*}
      minor=${v#v*.}; minor=${minor%%.*}
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        for key in gitVersion gitMajor gitMinor buildDate; do
          case "${key}" in
            gitVersion) value="${v}" ;;
            gitMajor) value="${major}" ;;
            gitMinor) value="${minor}" ;;
            buildDate) value="${KUBE_RELEASE_TIME}" ;; # the tag's time, so rebuilds are identical
          esac
          [[ -n "${value}" && "${value}" != *[[:space:]]* ]] || die "bad ${key} stamp '${value}'"
          ldflags+=" -X ${pkg}.${key}=${value}"
        done
      done
      echo "-tags=selinux,notest,grpcnotrace"
      echo "-ldflags=${ldflags}"
      ;;
  esac
}

# stamp_of prints what a binary's build depends on, as one hash: the module
# (and version) of every package it links, the source of the packages of
# hack/tools itself, the toolchain and the flags. Not go.mod as a whole, so a
# binary added there does not rebuild the others.
stamp_of() {
  local pkg deps
  pkg=$(package_of "$1")
  # One package load: a line per package's module (M) and, for this module's
  # own packages, a line per source file (F).
  deps=$(go -C "${TOOLS}" list -deps -f '{{with .Module}}M {{.Path}} {{.Version}} {{.Sum}}{{with .Replace}} => {{.Path}} {{.Version}} {{.Sum}}{{end}}{{if .Main}}{{range $.GoFiles}}{{"\n"}}F {{$.Dir}}/{{.}}{{end}}{{end}}{{end}}' "${pkg}")
  {
    sed -n 's/^M //p' <<<"${deps}" | sort -u
    sed -n 's/^F //p' <<<"${deps}" | sort | xargs -r cat
    go version
    go env GOOS GOARCH
    build_flags "$1"
  } | sha256sum | cut -c1-16
}

# .versions holds one line per binary: name, stamp, version.
recorded_stamp() {
  if [[ -f "${OUT}/.versions" ]]; then awk -v b="$1" '$1 == b { print $2 }' "${OUT}/.versions"; fi
}

record_stamp() {
  local tmp="${OUT}/.versions.$$"
  {
    if [[ -f "${OUT}/.versions" ]]; then awk -v b="$1" '$1 != b' "${OUT}/.versions"; fi
    echo "$1 $2 $3"
  } >"${tmp}"
  mv -f "${tmp}" "${OUT}/.versions"
}

build_one() {
  local bin=$1 pkg version stamp start flags=()
  pkg=$(package_of "${bin}")
  if [[ "${bin}" == etcd ]]; then version="${ETCD_VERSION}"; else version="${KUBE_VERSION}"; fi
  stamp=$(stamp_of "${bin}")
  if [[ -x "${OUT}/${bin}" && "$(recorded_stamp "${bin}")" == "${stamp}" ]]; then
    echo "${bin} ${version}: already built"
    return
  fi
  echo "${bin} ${version}: building ${pkg}"
  mapfile -t flags < <(build_flags "${bin}")
  start=${SECONDS}
  # Build beside the target and rename, so a reader never sees half a binary.
  go -C "${TOOLS}" build "${flags[@]}" -o "${OUT}/.${bin}.$$" "${pkg}"
  mv -f "${OUT}/.${bin}.$$" "${OUT}/${bin}"
  record_stamp "${bin}" "${stamp}" "${version}"
  echo "${bin} ${version}: done in $((SECONDS - start))s"
}

main() {
  command -v go >/dev/null || die "go is not on PATH"
  local binaries=("$@") bin
  [[ ${#binaries[@]} -gt 0 ]] || binaries=("${ALL_BINARIES[@]}")
  for bin in "${binaries[@]}"; do package_of "${bin}" >/dev/null; done

  mkdir -p "${OUT}"
  # Held until this script exits. Without flock (util-linux) two runs may
  # build the same binary twice, but each writes its own temporary file and
  # renames it, so neither sees a broken binary.
  exec 9>"${OUT}/.lock"
  if command -v flock >/dev/null; then
    flock -n 9 || { echo "waiting for another build-kube-binaries run to finish"; flock 9; }
  else
    echo "build-kube-binaries: flock not found, building without the lock" >&2
  fi

  KUBE_VERSION=$(module_field k8s.io/kubernetes .Version)
  KUBE_RELEASE_TIME=$(module_field k8s.io/kubernetes '.Time.UTC.Format "2006-01-02T15:04:05Z"')
  ETCD_VERSION=$(module_field go.etcd.io/etcd/server/v3 .Version)
  for bin in "${binaries[@]}"; do build_one "${bin}"; done
}

main "$@"
