# Sourced by the bench scripts. `measure CMD...` prints "median_seconds max_rss_kib" over $runs
# runs of the command (wall time from bash's microsecond clock; peak RSS from GNU time, written
# to $work/rss). A command that exits non-zero (a check with findings) is still measured.
measure() {
  local times=() rss=0 t0 t1 m
  for _ in $(seq "$runs"); do
    t0=$EPOCHREALTIME
    "$@" > /dev/null 2> /dev/null || true
    t1=$EPOCHREALTIME
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
    /usr/bin/time -f "%M" -o "$work/rss" "$@" > /dev/null 2> /dev/null || true
    # GNU time puts "Command exited with non-zero status N" first when the command fails.
    m=$(tail -n 1 "$work/rss")
    if [ "$m" -gt "$rss" ]; then rss=$m; fi
  done
  printf '%s %s\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")" "$rss"
}
