#!/usr/bin/env bash
# A real kube-apiserver (v1.20.2, built from Debian's `kubernetes` source package with Debian's Go)
# plus Debian's etcd, on loopback, for the Kubernetes contract suite. See
# docs reference "real-apiserver.md" for why it is built this way. The kubectl of the same
# release (with its built-in kustomize) comes from Debian's binary package of that source,
# `kubernetes-client`: the deploy/ e2e renders and dry-runs the manifests with it.
#
#   scripts/kube-apiserver.sh build          build and cache the binary, fetch kubectl (each skipped when cached)
#   scripts/kube-apiserver.sh start [DIR]    start etcd + apiserver, print the kubeconfig path
#   scripts/kube-apiserver.sh stop [DIR]     stop both (by PID), remove DIR
#   scripts/kube-apiserver.sh compact [DIR]  compact etcd to its current revision: watches of
#                                            Nodes from an older resourceVersion then get 410 Gone
#   scripts/kube-apiserver.sh path           print the cached binary path (exit 1 if missing)
#   scripts/kube-apiserver.sh kubectl-path   print the cached kubectl path (exit 1 if missing)
#
# Environment: KUBE_APISERVER_CACHE (default /var/cache/cloudstack-ccm), KUBE_APISERVER_STATE
# (default /tmp/cloudstack-ccm-kube; the state dir of start/stop), KUBE_APISERVER_AUTHZ (default
# AlwaysAllow; RBAC for the secure-serving tests: then only the admin token is allowed everything).
# Besides the admin token (group system:masters), the token file has users without any rights:
# metrics-reader (contract-test-metrics-token), nobody (contract-test-nobody-token) and ccm
# (contract-test-ccm-token), for tests that grant them RBAC roles.
set -euo pipefail

VERSION=v1.20.2
CACHE_DIR=${KUBE_APISERVER_CACHE:-/var/cache/cloudstack-ccm}
BINARY=$CACHE_DIR/kube-apiserver-$VERSION
KUBECTL=$CACHE_DIR/kubectl-$VERSION
STATE_DIR=${2:-${KUBE_APISERVER_STATE:-/tmp/cloudstack-ccm-kube}}
TOKEN=contract-test-admin-token

log() { echo "kube-apiserver.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_deps() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    # Retry once after refreshing the package lists (a fresh machine may have none).
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
      { as_root apt-get update -qq &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  fi
}

# kubectl v1.20.2 as Debian built it from the same source package: an 8 MB download instead of
# another ~5 minutes of Go build. Unpacked next to the apiserver, not installed: it must not replace
# a kubectl the machine already has on its PATH.
fetch_kubectl() {
  if [ -x "$KUBECTL" ]; then
    log "cached: $KUBECTL"
    return 0
  fi
  local work
  work=$(mktemp -d /tmp/kubectl-fetch.XXXXXX)
  log "fetching Debian's kubernetes-client (kubectl $VERSION)"
  (cd "$work" && apt-get download -qq kubernetes-client >"$work/apt.log" 2>&1) ||
    { as_root apt-get update -qq && (cd "$work" && apt-get download -qq kubernetes-client >"$work/apt.log" 2>&1); } ||
    { cat "$work/apt.log" >&2; rm -rf "$work"; return 1; }
  dpkg-deb -x "$work"/kubernetes-client_*.deb "$work/root"
  local version
  version=$("$work/root/usr/bin/kubectl" version --client --short 2>/dev/null || true)
  if [ "$version" != "Client Version: $VERSION" ]; then
    log "Debian's kubernetes-client is not kubectl $VERSION (it says: $version)"; rm -rf "$work"; return 1
  fi
  as_root mkdir -p "$CACHE_DIR"
  as_root install -m 0755 "$work/root/usr/bin/kubectl" "$KUBECTL.tmp"
  as_root mv "$KUBECTL.tmp" "$KUBECTL"
  rm -rf "$work"
  log "fetched: $KUBECTL"
}

build() {
  fetch_kubectl
  if [ -x "$BINARY" ]; then
    log "cached: $BINARY"
    return 0
  fi
  apt_deps golang-go etcd-server etcd-client rsync golang-github-modern-go-reflect2-dev dpkg-dev openssl curl
  local work
  work=$(mktemp -d /tmp/kube-apiserver-build.XXXXXX)
  mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/home"
  # A private deb-src list derived from the machine's own Debian sources: no host named here,
  # and the system's apt state is left untouched.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$work/parts/debian-src.sources"
  else
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$work/parts/debian-src.list"
  fi
  local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
  log "fetching the kubernetes source package"
  apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" source --download-only kubernetes >/dev/null)
  local dsc
  dsc=$(ls "$work"/kubernetes_*.dsc | head -n1)
  (cd "$work" && dpkg-source -x "$dsc" src >/dev/null)
  # The vendored reflect2 1.0.1 crashes on Go >= 1.18 ("key size wrong"); Debian ships 1.0.2.
  local reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
  (cd "$work/src/vendor/github.com/modern-go/reflect2" && rm -f ./*.go ./*.s && cp "$reflect2"/*.go "$reflect2"/*.s .)
  log "building cmd/kube-apiserver (about 8 minutes on 2 cores)"
  (cd "$work/src" && GOPROXY=off CGO_ENABLED=0 HOME="$work/home" GOCACHE="$work/home/go-build" \
    make WHAT=cmd/kube-apiserver >"$work/make.log" 2>&1) || { tail -n 50 "$work/make.log" >&2; rm -rf "$work"; return 1; }
  as_root mkdir -p "$CACHE_DIR"
  as_root install -m 0755 "$work/src/_output/bin/kube-apiserver" "$BINARY.tmp"
  as_root mv "$BINARY.tmp" "$BINARY"
  rm -rf "$work"
  log "built: $BINARY ($("$BINARY" --version))"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_ready() {
  local url=$1 deadline=$((SECONDS + 60))
  until curl -ksf -H "Authorization: Bearer $TOKEN" "$url/readyz" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "not ready after 60 s; apiserver log tail:"; tail -n 30 "$STATE_DIR/apiserver.log" >&2; return 1
    fi
    if ! kill -0 "$(cat "$STATE_DIR/apiserver.pid")" 2>/dev/null; then
      log "kube-apiserver exited; log tail:"; tail -n 30 "$STATE_DIR/apiserver.log" >&2; return 1
    fi
    if ! kill -0 "$(cat "$STATE_DIR/etcd.pid")" 2>/dev/null; then
      log "etcd exited; log tail:"; tail -n 10 "$STATE_DIR/etcd.log" >&2; return 1
    fi
    sleep 0.3
  done
}

start() {
  if [ ! -x "$BINARY" ]; then
    log "no kube-apiserver binary at $BINARY: run 'scripts/kube-apiserver.sh build' first"
    exit 2
  fi
  command -v etcd >/dev/null || apt_deps etcd-server
  if [ -f "$STATE_DIR/kubeconfig" ] && kill -0 "$(cat "$STATE_DIR/apiserver.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
    echo "$STATE_DIR/kubeconfig"
    return 0
  fi
  # A port free_port saw free may be taken by another process starting at the same moment (e2e files
  # run side by side): then etcd or the apiserver fails to bind, and a new set of ports is tried.
  local attempt
  for attempt in 1 2 3; do
    start_once && return 0
    log "start attempt $attempt failed; retrying on other ports"
  done
  exit 1
}

start_once() {
  rm -rf "$STATE_DIR"
  mkdir -p "$STATE_DIR/etcd" "$STATE_DIR/certs"
  local etcd_client etcd_peer port
  etcd_client=$(free_port); etcd_peer=$(free_port); port=$(free_port)
  openssl genrsa -out "$STATE_DIR/sa.key" 2048 2>/dev/null
  {
    echo "$TOKEN,admin,1,\"system:masters\""
    echo "contract-test-metrics-token,metrics-reader,2"
    echo "contract-test-nobody-token,nobody,3"
    echo "contract-test-ccm-token,ccm,4"
  } > "$STATE_DIR/tokens.csv"
  setsid etcd --name contract --data-dir "$STATE_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_client" --advertise-client-urls "http://127.0.0.1:$etcd_client" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "contract=http://127.0.0.1:$etcd_peer" >"$STATE_DIR/etcd.log" 2>&1 < /dev/null &
  echo $! > "$STATE_DIR/etcd.pid"
  echo "$etcd_client" > "$STATE_DIR/etcd.port"
  setsid "$BINARY" --etcd-servers="http://127.0.0.1:$etcd_client" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" --insecure-port=0 \
    --cert-dir="$STATE_DIR/certs" --token-auth-file="$STATE_DIR/tokens.csv" --authorization-mode="${KUBE_APISERVER_AUTHZ:-AlwaysAllow}" \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$STATE_DIR/sa.key" \
    --service-account-signing-key-file="$STATE_DIR/sa.key" --service-cluster-ip-range=10.96.0.0/16 \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true \
    --watch-cache-sizes=nodes#0 \
    >"$STATE_DIR/apiserver.log" 2>&1 < /dev/null &
  echo $! > "$STATE_DIR/apiserver.pid"
  local url="https://127.0.0.1:$port"
  wait_ready "$url" || { stop; return 1; }
  cat > "$STATE_DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: contract
  cluster:
    server: $url
    certificate-authority: $STATE_DIR/certs/apiserver.crt
users:
- name: admin
  user:
    token: $TOKEN
contexts:
- name: contract
  context:
    cluster: contract
    user: admin
current-context: contract
EOF
  echo "$STATE_DIR/kubeconfig"
}

stop_pid() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# Nodes are watched straight from etcd (--watch-cache-sizes=nodes#0), so compacting etcd makes
# every older resourceVersion of Nodes "too old": the 410 path of watches and informers, on demand.
compact() {
  local endpoint revision
  endpoint="http://127.0.0.1:$(cat "$STATE_DIR/etcd.port")"
  revision=$(ETCDCTL_API=3 etcdctl --endpoints="$endpoint" endpoint status -w json |
    sed -n 's/.*"revision":\([0-9]*\).*/\1/p')
  ETCDCTL_API=3 etcdctl --endpoints="$endpoint" compact "$revision" >/dev/null
}

stop() {
  # The apiserver first: killed after etcd it spends ~20 s retrying etcd before exiting.
  stop_pid "$STATE_DIR/apiserver.pid"
  stop_pid "$STATE_DIR/etcd.pid"
  rm -rf "$STATE_DIR"
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  compact) compact ;;
  path) [ -x "$BINARY" ] && echo "$BINARY" ;;
  kubectl-path) [ -x "$KUBECTL" ] && echo "$KUBECTL" ;;
  *) echo "usage: $0 build|start [state-dir]|stop [state-dir]|compact [state-dir]|path|kubectl-path" >&2; exit 64 ;;
esac
