# Sourced, not run: lb_pinned_venv, the one way this project makes a cached, pinned Python venv
# (the reference environments here, the server tests' env, the TensorBoard reader's).
#
#   lb_pinned_venv DIR "PINS" [system-site]
#
# Creates DIR as a venv (with the system's site packages when asked) holding exactly PINS, once:
# DIR/.lorabert-pins records the pins it was made for, and a different pin line moves the packages
# in place (pip leaves unchanged ones alone). Shared by every worktree and maybe in use by a long
# run: never deleted; DIR.lock serializes concurrent callers. Returns 0 when the venv holds the
# pins; 77 with one line on stderr when pip cannot install them (PyPI unreachable, a pin gone), the
# stamp untouched so a later call tries again.
lb_pinned_venv() {
  local dir=$1 pins=$2 site=${3:-} stamp=$1/.lorabert-pins rc=0
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ]; then return 0; fi
  mkdir -p "$(dirname "$dir")"
  exec 9>"$dir.lock"
  flock 9
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$pins" ]; then
    if [ ! -x "$dir/bin/python" ]; then
      if [ "$site" = system-site ]; then /usr/bin/python3 -m venv --system-site-packages "$dir" >&2 || rc=1
      else /usr/bin/python3 -m venv "$dir" >&2 || rc=1; fi
    fi
    # $pins is a list of requirement words: split on purpose
    # shellcheck disable=SC2086
    if [ $rc -eq 0 ] && ! "$dir/bin/pip" install -q --disable-pip-version-check $pins >&2; then
      echo "lb_pinned_venv: cannot install $pins into $dir (PyPI unreachable?)" >&2
      rc=77
    fi
    [ $rc -eq 0 ] && echo "$pins" >"$stamp"
  fi
  exec 9>&-
  return $rc
}
