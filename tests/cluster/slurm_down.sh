#!/usr/bin/env bash
# Stop the daemons that tests/cluster/slurm_up.sh started - and only those.
# slurm_up.sh records each PID it started in $STATE/pids/<name>.pid; a daemon
# that was already running before slurm_up.sh (someone else's) is left alone.
# Idempotent: with nothing recorded it does nothing.  Configs, the accounting
# database and the job state stay in the state dir for the next slurm_up.sh.
set -uo pipefail

STATE=${SLURM_TEST_DIR:-/var/tmp/shanxi-slurm}
PIDS=$STATE/pids
log() { printf '[slurm_down] %s\n' "$*" >&2; }

[[ -d $PIDS ]] || { log "nothing recorded in $PIDS: nothing to stop"; exit 0; }

# pid_alive_as PID NAME: PID is a live (not zombie) process called NAME
pid_alive_as() {
    local st comm
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    read -r st comm < <(ps -o stat=,comm= -p "$1" 2>/dev/null) || return 1
    [[ $st != Z* && $comm == "$2" ]]
}

wait_gone() {  # wait_gone PID COMM SECONDS
    local deadline=$((SECONDS + $3))
    while pid_alive_as "$1" "$2"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

rc=0
# reverse order of start
for name in slurmd slurmctld slurmdbd munged mariadb; do
    rec=$PIDS/$name.pid
    [[ -f $rec ]] || continue
    pid=$(cat "$rec" 2>/dev/null)
    comm=$name; [[ $name == mariadb ]] && comm=mariadbd
    if ! pid_alive_as "$pid" "$comm"; then
        log "$name (pid $pid) is not running any more"
        rm -f "$rec"
        continue
    fi
    log "stopping $name (pid $pid)"
    if [[ $name == mariadb ]]; then
        # its mysqld_safe supervisor would restart a killed server: ask it to shut down
        mysqladmin shutdown 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    else
        kill -TERM "$pid" 2>/dev/null
    fi
    if ! wait_gone "$pid" "$comm" 30; then
        log "$name (pid $pid) still alive after 30 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null
        wait_gone "$pid" "$comm" 5 || { log "could not stop $name (pid $pid)"; rc=1; continue; }
    fi
    rm -f "$rec"
done
((rc == 0)) && log "done"
exit $rc
