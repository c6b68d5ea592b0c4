# Sourced by tests/cli/mpi_netns.sh and bench/mpi_scaling.sh: three "hosts" as network
# namespaces (ip netns, iproute2) on one bridge through veth links, each with its own hostname
# (unshare --uts), 10.77.0.1-3/24; nothing is shared between them but that network (and the
# filesystem, which the callers do not use to pass data: each host reads its own copy of the
# inputs and only rank 0's host gets the output). NETNS_MPIRUN: mpirun started on host 0 with a
# launch agent that is `ip netns exec` instead of ssh, TCP only, on the veth subnet.
# Needs: root, ip, unshare, mpirun; else NETNS_SKIP says why. Call netns_down on exit.
NETNS_SKIP=
NS=lb$$
netns_down() {
  for i in 0 1 2; do ip netns del "$NS-h$i" 2>/dev/null; done
  ip netns del "$NS-sw" 2>/dev/null
  return 0
}
netns_up() {  # netns_up DIR: the agent script goes into DIR
  local dir=$1 i
  command -v ip >/dev/null && command -v unshare >/dev/null || { NETNS_SKIP="ip (iproute2) or unshare absent"; return 1; }
  [ "$(id -u)" = 0 ] || { NETNS_SKIP="network namespaces need root"; return 1; }
  ip netns add "$NS-sw" 2>/dev/null || { NETNS_SKIP="ip netns add refused (no CAP_SYS_ADMIN?)"; return 1; }
  ip -n "$NS-sw" link add br0 type bridge && ip -n "$NS-sw" link set br0 up || { NETNS_SKIP="no bridge"; return 1; }
  for i in 0 1 2; do
    ip netns add "$NS-h$i" &&
    ip link add "$NS-v$i" type veth peer name "$NS-p$i" &&
    ip link set "$NS-v$i" netns "$NS-h$i" && ip link set "$NS-p$i" netns "$NS-sw" &&
    ip -n "$NS-sw" link set "$NS-p$i" master br0 && ip -n "$NS-sw" link set "$NS-p$i" up &&
    ip -n "$NS-h$i" addr add "10.77.0.$((i + 1))/24" dev "$NS-v$i" &&
    ip -n "$NS-h$i" link set "$NS-v$i" up && ip -n "$NS-h$i" link set lo up || { NETNS_SKIP="veth set-up failed"; return 1; }
  done
  cat >"$dir/agent.sh" <<AG
#!/bin/sh
# Open MPI launch agent (plm_rsh_agent): "agent [ssh options] HOST COMMAND..." runs COMMAND in
# HOST's namespace, under its own hostname.
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1; shift
case "\$host" in 10.77.0.1) ns=$NS-h0 ;; 10.77.0.2) ns=$NS-h1 ;; 10.77.0.3) ns=$NS-h2 ;; *) echo "agent: unknown host \$host" >&2; exit 1 ;; esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$ns; \$*"
AG
  chmod +x "$dir/agent.sh"
  NETNS_AGENT=$dir/agent.sh
  return 0
}
# netns_mpirun ARGS...: mpirun on host 0 (its own hostname too)
netns_mpirun() {
  ip netns exec "$NS-h0" unshare --uts sh -c 'hostname "$0-h0"; shift; exec "$@"' "$NS" _ \
    mpirun --mca plm_rsh_agent "$NETNS_AGENT" --mca btl self,tcp --mca btl_tcp_if_include 10.77.0.0/24 \
    --mca oob_tcp_if_include 10.77.0.0/24 --bind-to none -x OMP_NUM_THREADS=1 "$@"
}
