"""json_vs_text.py: the --json documents of gradaudit against the CSV and text
outputs of the same run, each parsed on its own (cli/tests/test_cli_json.sh).

  json_vs_text.py check JSON CSV TEXT   check --json against --csv and stdout
  json_vs_text.py eval JSON TEXT        eval --json against eval --params
  json_vs_text.py audit JSON CSV TEXT   audit --json against summary.csv, stdout
  json_vs_text.py doc FILE KIND         FILE is one JSON document of KIND alone

Numbers are compared bit for bit (the JSON's against the CSV's and the text's
%.17g); a non-finite value must be null with KEY_nonfinite saying which.
Exit 0 when everything matches, 1 with the first mismatches on stdout."""
import csv
import json
import math
import re
import struct
import sys

problems = []


def bad(msg):
    problems.append(msg)


def bits(v):
    return struct.pack("<d", v)


def json_num(obj, key, where):
    """The double obj[key] stands for (null + KEY_nonfinite decoded)."""
    if key not in obj:
        bad(f"{where}: no key {key}")
        return None
    v = obj[key]
    if v is None:
        side = obj.get(key + "_nonfinite")
        if side not in ("NaN", "Infinity", "-Infinity"):
            bad(f"{where}: {key} is null without {key}_nonfinite (got {side!r})")
            return None
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[side]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        bad(f"{where}: {key} = {v!r} is not a number")
        return None
    if key + "_nonfinite" in obj:
        bad(f"{where}: {key} is finite but {key}_nonfinite is there")
    return float(v)


def same_double(a, b):
    if a is None or b is None:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return bits(a) == bits(b)


def text_double(s):
    """A %.17g field ("nan", "-nan", "inf", or num_g's "NaN")."""
    return float(s.replace("NaN", "nan"))


def split_name(name):
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\[(\d+),(\d+)\]", name)
    if not m:
        bad(f"cannot split the name {name!r}")
        return None, None, None
    return m.group(1), int(m.group(2)), int(m.group(3))


def check_doc(path, kind):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)  # one document and nothing after it, or ValueError
    if d.get("gradaudit") != kind or d.get("schema") != 1 or not isinstance(d.get("version"), str):
        bad(f"{path}: gradaudit/schema/version are {d.get('gradaudit')!r}/{d.get('schema')!r}/{d.get('version')!r}")
    return d


def cmd_check(jpath, cpath, tpath):
    d = check_doc(jpath, "check")
    with open(cpath, newline="") as f:
        rows = list(csv.DictReader(f))
    text = open(tpath).read().splitlines()
    m = re.match(r"gradaudit check: method (\S+), seed (\d+), batch (\d+), (\d+) entries"
                 r"(, a float32 gradient \(ulps are float32's\))?$", text[0])
    if not m:
        bad(f"first text line {text[0]!r}")
        return
    dtype = "float32" if m.group(5) else "float64"  # --dtype float32 says so on the first line
    if d.get("dtype") != dtype:
        bad(f"dtype: JSON {d.get('dtype')!r}, text {dtype!r}")
    for key, want in (("method", m.group(1)), ("seed", int(m.group(2))), ("batch", int(m.group(3))),
                      ("n_entries", int(m.group(4)))):
        if d.get(key) != want:
            bad(f"{key}: JSON {d.get(key)!r}, text {want!r}")
    m = re.match(r"loss (\S+) \(oracle (\S+), (?:(\d+) ulps|no ulp distance to a NaN)\)$", text[1])
    if not m:
        bad(f"loss line {text[1]!r}")
    else:
        for key, s in (("loss", m.group(1)), ("loss_oracle", m.group(2))):
            if not same_double(json_num(d, key, "head"), text_double(s)):
                bad(f"{key}: JSON {d.get(key)!r}, text {s}")
        want = int(m.group(3)) if m.group(3) else None
        if d.get("loss_ulps") != want:
            bad(f"loss_ulps: JSON {d.get('loss_ulps')!r}, text {want!r}")
    res = next((l for l in text if l.startswith("result: ")), "")
    m = re.match(r"result: (\d+) pass, (\d+) FAIL, (\d+) kink \(explained\)(?:, (\d+) unjudgeable)?", res)
    if not m:
        bad(f"result line {res!r}")
    else:
        want = {"pass": int(m.group(1)), "FAIL": int(m.group(2)), "kink": int(m.group(3)),
                "unjudgeable": int(m.group(4) or 0)}
        if d.get("counts") != want:
            bad(f"counts: JSON {d.get('counts')!r}, text {want!r}")
        tally = {"pass": 0, "FAIL": 0, "kink": 0, "unjudgeable": 0}
        for r in rows:
            tally[r["verdict"]] += 1
        if tally != want:
            bad(f"counts: CSV {tally!r}, text {want!r}")
    # the per-tensor table: counts exactly, the errors as printed (%.3g)
    at = next(i for i, l in enumerate(text) if l.startswith("tensor "))
    table = []
    for l in text[at + 1:]:
        if not l.strip():
            break
        table.append(l.split())
    tens = d.get("tensors", [])
    if len(tens) != len(table):
        bad(f"tensors: JSON {len(tens)} rows, text {len(table)}")
    for t, row in zip(tens, table):
        got = [t.get("tensor"), t.get("entries"), t.get("pass"), t.get("FAIL"), t.get("kink"), t.get("unjudgeable")]
        want = [row[0]] + [int(x) for x in row[1:6]]
        if got != want:
            bad(f"tensor row: JSON {got}, text {want}")
        for key, s in zip(("max_abs_err", "max_rel_err", "worst_ratio"), row[6:9]):
            v = json_num(t, key, t.get("tensor"))
            printed = "NaN" if v is not None and math.isnan(v) else "%.3g" % v if v is not None else None
            if printed != s:
                bad(f"{t.get('tensor')} {key}: JSON {v!r} prints {printed}, text {s}")
    rep = next((l[len("reproduce: "):] for l in text if l.startswith("reproduce: ")), None)
    if d.get("reproduce") != rep:
        bad(f"reproduce: JSON {d.get('reproduce')!r}, text {rep!r}")
    # every entry against its CSV row
    ents = d.get("entries", [])
    if len(ents) != len(rows) or len(rows) != d.get("n_entries"):
        bad(f"entries: JSON {len(ents)}, CSV {len(rows)}, n_entries {d.get('n_entries')}")
    by_oracle = d.get("method") == "oracle"
    for e, r in zip(ents, rows):
        where = r["param"]
        tensor, row, col = split_name(r["param"])
        got = (e.get("name"), e.get("index"), e.get("tensor"), e.get("row"), e.get("col"), e.get("verdict"),
               e.get("reason"))
        want = (r["param"], int(r["index"]), tensor, row, col, r["verdict"], r["reason"])
        if got != want:
            bad(f"{where}: JSON {got}, CSV {want}")
        pairs = [("analytic", "analytic"), ("tol", "tol"), ("abs_err", "abs_err"), ("rel_err", "rel_err"),
                 ("bound", "bound"), ("reference", "oracle" if by_oracle else "fd")]
        for key in ("oracle", "oracle_err", "fd", "fd_trunc", "fd_round", "slope_lo", "slope_hi"):
            if r[key] != "":
                pairs.append((key, key))
            elif key in e and not (e[key] is None and e.get(key + "_nonfinite") == "NaN"):
                bad(f"{where}: {key} empty in the CSV (not computed), JSON {e[key]!r}")
        for key, col_name in pairs:
            if r[col_name] == "":
                bad(f"{where}: CSV {col_name} empty")
                continue
            if not same_double(json_num(e, key, where), text_double(r[col_name])):
                bad(f"{where} {key}: JSON {e.get(key)!r} {e.get(key + '_nonfinite', '')}, CSV {col_name} {r[col_name]}")
        want_ulps = int(r["ulps"]) if r["ulps"] != "" else None
        got_ulps = e.get("ulps")
        if "ulps_exact" in e:  # above 2^63 - 1: the nearest double, and the digits
            got_ulps = int(e["ulps_exact"]) if float(e["ulps_exact"]) == got_ulps else None
        if got_ulps != want_ulps:
            bad(f"{where} ulps: JSON {e.get('ulps')!r}, CSV {r['ulps']!r}")


def cmd_eval(jpath, tpath):
    d = check_doc(jpath, "eval")
    params, grads, names = {}, {}, []
    dtype = "float64"  # no dtype line
    for line in open(tpath).read().splitlines():
        f = line.split(" ")
        if f[0] == "dtype":
            dtype = f[1]
        elif f[0] == "seed":
            if d.get("seed") != int(f[1]):
                bad(f"seed: JSON {d.get('seed')!r}, text {f[1]}")
        elif f[0] == "loss":
            if not same_double(json_num(d, "loss", "head"), text_double(f[1])):
                bad(f"loss: JSON {d.get('loss')!r}, text {f[1]}")
        elif f[0] == "param":
            params[f[1]] = text_double(f[2])
        elif f[0] == "grad":
            grads[f[1]] = text_double(f[2])
            names.append(f[1])
    if d.get("dtype") != dtype:
        bad(f"dtype: JSON {d.get('dtype')!r}, text {dtype!r}")
    if not any(l.startswith("seed ") for l in open(tpath)) and "seed" in d:
        bad("seed in the JSON, not in the text")
    ents = d.get("entries", [])
    if [e.get("name") for e in ents] != names or d.get("n_entries") != len(names):
        bad(f"entry names: JSON {len(ents)} ({d.get('n_entries')}), text {len(names)}, or order differs")
    for i, e in enumerate(ents):
        n = e.get("name")
        tensor, row, col = split_name(n)
        if (e.get("index"), e.get("tensor"), e.get("row"), e.get("col")) != (i, tensor, row, col):
            bad(f"{n}: index/tensor/row/col {e.get('index')}/{e.get('tensor')}/{e.get('row')}/{e.get('col')}")
        if not same_double(json_num(e, "grad", n), grads.get(n)):
            bad(f"{n} grad: JSON {e.get('grad')!r}, text {grads.get(n)!r}")
        if not same_double(json_num(e, "param", n), params.get(n)):
            bad(f"{n} param: JSON {e.get('param')!r}, text {params.get(n)!r}")


def cmd_audit(jpath, cpath, tpath):
    d = check_doc(jpath, "audit")
    with open(cpath, newline="") as f:
        rows = list(csv.reader(f))[1:]
    text = open(tpath).read()
    jr = d.get("rows", [])
    if len(jr) != len(rows):
        bad(f"rows: JSON {len(jr)}, CSV {len(rows)}")
    for j, r in zip(jr, rows):
        cols = [j.get("tutorial"), j.get("figures"), j.get("transcript_check"), j.get("gradient_verdicts")]
        if cols != r:
            bad(f"row text: JSON {cols}, CSV {r}")
        m = re.fullmatch(r"(\d+)/(\d+) \(exact (\d+)/\d+\) \+ claims (\d+)/(\d+)", r[1])
        want = ([int(m.group(1)), int(m.group(3)), int(m.group(2)), int(m.group(4)), int(m.group(5))]
                if m else [None] * 5)
        got = [j.get(k) for k in ("figures_replayed", "figures_exact", "figures_total", "claims_confirmed",
                                  "claims_total")]
        if got != want:
            bad(f"{r[0]} figures: JSON {got}, CSV {r[1]!r}")
        m = re.fullmatch(r"(\d+)/(\d+) byte-identical to NumPy", r[2])
        want = [int(m.group(1)), int(m.group(2))] if m else [None, None]
        got = [j.get("transcripts_matched"), j.get("transcripts_checked")]
        if got != want:
            bad(f"{r[0]} transcripts: JSON {got}, CSV {r[2]!r}")
        m = re.fullmatch(r"(\d+) correct, (\d+) wrong, (\d+) inconsistent", r[3])
        want = [int(x) for x in m.groups()] if m else None
        got = [j.get("correct"), j.get("wrong"), j.get("inconsistent")]
        if got != want:
            bad(f"{r[0]} verdicts: JSON {got}, CSV {r[3]!r}")
    m = re.search(r"^random data seeds: (\S+)$", text, re.M)
    if not m or d.get("seeds") != [int(s) for s in m.group(1).split(",")]:
        bad(f"seeds: JSON {d.get('seeds')!r}, text {m.group(1) if m else None!r}")
    m = re.search(r"equal to the project oracle on (\d+)/(\d+) entries; the checker agrees on (\d+)/(\d+)", text)
    o, c = d.get("oracle", {}), d.get("checker", {})
    if not m or [o.get("checked") - o.get("mismatches"), o.get("checked"), c.get("checked") - c.get("disagree"),
                 c.get("checked")] != [int(x) for x in m.groups()]:
        bad(f"oracle/checker: JSON {o!r} {c!r}, text {m.groups() if m else None}")
    findings = re.findall(r"^  (\S+) \((.*?)\) (.*)\n    (\w+): (.*)$", text, re.M)
    got = [(f.get("tutorial"), f.get("part"), f.get("formula"), f.get("verdict"), f.get("detail"))
           for f in d.get("findings", [])]
    if got != findings:
        bad(f"findings: JSON {len(got)}, text {len(findings)}, or they differ")


def main(argv):
    try:
        if argv[1] == "check":
            cmd_check(*argv[2:5])
        elif argv[1] == "eval":
            cmd_eval(*argv[2:4])
        elif argv[1] == "audit":
            cmd_audit(*argv[2:5])
        elif argv[1] == "doc":
            check_doc(argv[2], argv[3])
        else:
            bad(f"unknown mode {argv[1]}")
    except (OSError, ValueError, KeyError, TypeError, StopIteration, AttributeError) as e:
        bad(f"{type(e).__name__}: {e}")
    for p in problems[:10]:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
