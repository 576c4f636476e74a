# Helpers the bench scripts share (sourced, not run).

# ticks_within PID SECONDS: the CPU ticks process PID used in its first
# SECONDS (or until it ended, if sooner), read by the sourcing script's own
# `cpu_ticks PID` every quarter second; a generator that waits for late
# answers after its load is over is read at the end of the load.
ticks_within() {
  local end=$((SECONDS + ${2%.*})) last=0 t
  while [ "$SECONDS" -lt "$end" ] && kill -0 "$1" 2>/dev/null; do
    t=$(cpu_ticks "$1"); [ "${t:-0}" -gt "$last" ] && last=$t
    sleep 0.25
  done
  t=$(cpu_ticks "$1"); [ "${t:-0}" -gt "$last" ] && last=$t
  echo "$last"
}
