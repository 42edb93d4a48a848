#!/usr/bin/env bash
# Runs the local cluster (hack/local-up): fake-gce, etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, hollow kubelets and the CCM, with
# state under _output/local-up. Needs root (the kubelets' node IPs are put on
# a link of local-up's own).
#
#   hack/local-up.sh            run in the foreground; Ctrl-C stops everything
#   hack/local-up.sh --detach   return once everything is ready (then: source _output/local-up/env)
#   hack/local-up.sh --down     stop a detached (or foreground) run
set -euo pipefail
cd "$(dirname "$0")/.."
dir=_output/local-up
pidfile=$dir/pid
mkdir -p "$dir"

running_pid() {
  [[ -f $pidfile ]] || return 1
  local pid
  pid=$(<"$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

down() {
  local pid
  if ! pid=$(running_pid); then
    echo "local-up is not running."
    rm -f "$pidfile"
    return 0
  fi
  echo "==> stopping local-up (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "stopped; state kept in $dir"; return 0; }
    sleep 0.1
  done
  echo "local-up did not stop within 30s; killing it" >&2
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
  rm -f "$pidfile"
}

mode=foreground
case "${1:-}" in
  "") ;;
  --detach) mode=detach ;;
  --down) down; exit 0 ;;
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument $1 (want --detach or --down)" >&2; exit 2 ;;
esac

if pid=$(running_pid); then
  echo "local-up is already running (pid $pid); hack/local-up.sh --down stops it." >&2
  exit 1
fi

hack/build-kube-binaries.sh
echo "==> building vpc-cloud-controller-manager, fake-gce, kubectl-vpc and local-up"
go build -o _output/bin/ ./cmd/vpc-cloud-controller-manager ./cmd/fake-gce ./cmd/kubectl-vpc ./hack/local-up

if [[ $mode == foreground ]]; then
  echo $$ >"$pidfile"
  trap 'rm -f "$pidfile"' EXIT
  _output/bin/local-up
  exit $?
fi

rm -f "$dir/ready"
setsid nohup _output/bin/local-up >"$dir/local-up.log" 2>&1 </dev/null &
echo $! >"$pidfile"
pid=$!
echo "==> local-up started in the background (pid $pid, log $dir/local-up.log); waiting until it is ready"
for _ in $(seq 1 1800); do
  if [[ -f $dir/ready ]]; then
    cat "$dir/summary.txt"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "local-up failed:" >&2
    tail -n 30 "$dir/local-up.log" >&2
    rm -f "$pidfile"
    exit 1
  fi
  sleep 0.2
done
echo "local-up was not ready within 6 minutes; see $dir/local-up.log" >&2
exit 1
