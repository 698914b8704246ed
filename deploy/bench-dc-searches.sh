#!/usr/bin/env bash
# Benchmark (not a test): the lab DC's CPU for the searches an accepted PAP login asks before
# and besides its bind, by shape, each repeated N times on one LDAPS connection (Samba's own
# Python bindings, as the service account), in alternating rounds. The shapes, for a user
# outside the [[policy.reply]] group (alice) and one in it through two nested groups (heidi):
#   two questions  the account with the in-chain telework condition, then a base search on the
#                  user with the in-chain reply-group condition (a first login, or a changed one)
#   one search     the account with the telework condition and the expected reply membership
#                  in the same filter (a name seen before: authz/src/reply_hints.rs)
# Prints the DC's CPU (the Samba process tree, from /proc) per login for each.
#   deploy/bench-dc-searches.sh [N] [ROUNDS]      (defaults: 500 3)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500}
rounds=${2:-3}
deploy/lab.sh up >/dev/null
lab_dir=${ADGATE_LAB_DIR:-/var/lib/adgate-lab}
value() { sed -n "s/^$1=//p" "$lab_dir/lab.env"; }
samba_root=$(cat "$lab_dir/samba.pid")
mapfile -t dc_pids < <(ps -e -o pid=,ppid= | awk -v root="$samba_root" '{ parent[$1] = $2 } END {
  for (pid in parent) { p = pid; while (p != "" && p != 0 && p != root) p = parent[p]; if (p == root) print pid } }')

ip netns exec "$(value NETNS)" env N="$n" ROUNDS="$rounds" URL="$(value LDAP_URL)" \
  BIND_DN="$(value BIND_DN)" PASSWORD_FILE="$(value BIND_PASSWORD_FILE)" BASE="$(value BASE_DN)" \
  TELEWORK="$(value TELEWORK_GROUP)" REPLY="$(value REPLY_GROUP)" \
  /usr/bin/python3 - "${dc_pids[@]}" <<'PY'
import os, sys
import ldb
from samba.credentials import Credentials, DONT_USE_KERBEROS
from samba.param import LoadParm
from samba.samdb import SamDB

env = os.environ
lp = LoadParm()
lp.set("tls verify peer", "no_check")  # the lab's own DC, in its own namespace
creds = Credentials()
creds.guess(lp)
creds.set_kerberos_state(DONT_USE_KERBEROS)
creds.set_bind_dn(env["BIND_DN"])
with open(env["PASSWORD_FILE"]) as f:
    creds.set_password(f.read().strip())
db = SamDB(url=env["URL"], credentials=creds, lp=lp)
in_chain = "(memberOf:1.2.840.113556.1.4.1941:=%s)"
# authz/src/account.rs ATTRIBUTES
attributes = ["distinguishedName", "objectGUID", "objectSid", "userPrincipalName",
              "sAMAccountName", "userAccountControl", "msDS-User-Account-Control-Computed",
              "accountExpires", "pwdLastSet", "msNPAllowDialin", "logonHours"]

def account(user, extra=""):
    return ("(&(objectCategory=person)(objectClass=user)(sAMAccountName=%s)%s%s)"
            % (user, in_chain % env["TELEWORK"], extra))

def shapes(user, member):
    dn = "CN=%s,CN=Users,%s" % (user, env["BASE"])
    reply = in_chain % env["REPLY"]
    expected = reply if member else "(!%s)" % reply
    return [
        ("%s two questions" % user,
         [(env["BASE"], ldb.SCOPE_SUBTREE, account(user), attributes, 1),
          (dn, ldb.SCOPE_BASE, reply, ["1.1"], int(member))]),
        ("%s one search" % user,
         [(env["BASE"], ldb.SCOPE_SUBTREE, account(user, expected), attributes, 1)]),
    ]

def dc_ticks():
    total = 0
    for pid in sys.argv[1:]:
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(x) for x in fields[11:15])
    return total

n, hz = int(env["N"]), os.sysconf("SC_CLK_TCK")
all_shapes = shapes("alice", False) + shapes("heidi", True)
results = {name: [] for name, _ in all_shapes}
for _ in range(int(env["ROUNDS"])):
    for name, searches in all_shapes:
        before = dc_ticks()
        for _ in range(n):
            for base, scope, expression, attrs, expected in searches:
                found = db.search(base=base, scope=scope, expression=expression, attrs=attrs)
                if len(found) != expected:
                    sys.exit("%s: %s found %d entries, expected %d"
                             % (name, expression, len(found), expected))
        results[name].append((dc_ticks() - before) * 1e6 / hz / n)
print("dc_cpu_us_per_login (median of %s rounds of %d)" % (env["ROUNDS"], n))
for name, figures in results.items():
    figures.sort()
    print("  %-20s %6.0f   rounds: %s" % (name, figures[len(figures) // 2],
                                          " ".join("%.0f" % f for f in figures)))
PY
