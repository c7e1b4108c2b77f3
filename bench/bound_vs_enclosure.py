#!/usr/bin/env python3
"""bound_vs_enclosure.py: the first-order worst-case bound (checks/ga_bound.c,
the finite-difference methods' bound on the analytic gradient's rounding error,
the `bound` column of `check --method ridders --csv`) against the proven
enclosure's (the `bound` column of `check --csv`, the oracle method), entry by
entry on every spec given: what swapping ga_bound for the enclosure (the
generic reference's interval instance) would change (bench/README.md, docs/ops.md).

    bench/bound_vs_enclosure.py build/gradaudit SPEC.json ...

Kink entries (either method) are left out. Prints the quantiles of
enclosure / ga_bound and on how many entries the enclosure is the wider."""
import csv
import math
import os
import subprocess
import sys
import tempfile


def bounds(prog, spec, method, out):
    subprocess.run([prog, 'check', spec, '--method', method, '--csv', out],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.path.exists(out):
        return None
    with open(out) as f:
        rows = list(csv.DictReader(f))
    os.remove(out)
    return rows


def main():
    prog, specs = sys.argv[1], sys.argv[2:]
    ratios, entries, wider = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            fd = bounds(prog, spec, 'ridders', os.path.join(tmp, 'fd.csv'))
            orc = bounds(prog, spec, 'oracle', os.path.join(tmp, 'orc.csv'))
            if not fd or not orc:
                continue
            for a, b in zip(fd, orc):
                if 'kink' in (a['verdict'], b['verdict']):
                    continue
                try:
                    gb, en = float(a['bound']), float(b['bound'])
                except ValueError:
                    continue
                entries += 1
                if gb > 0 and en > 0 and math.isfinite(gb) and math.isfinite(en):
                    ratios.append(en / gb)
                    wider += en > gb
    if not ratios:
        sys.exit('bound_vs_enclosure: no entry compared')
    ratios.sort()
    q = lambda f: ratios[int(f * (len(ratios) - 1))]
    print('%d entries (%d with both bounds finite and > 0): enclosure / ga_bound min %.3g, '
          'p10 %.3g, median %.3g, p90 %.3g, max %.3g; the enclosure wider on %d'
          % (entries, len(ratios), q(0), q(.1), q(.5), q(.9), q(1), wider))


if __name__ == '__main__':
    main()
