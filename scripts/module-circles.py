#!/usr/bin/env python3
"""Import circles between the modules of a Rust crate.

Reads every .rs file under SRC, collects its `crate::` and `super::` paths (in `use` trees and
inline), resolves each to the longest module prefix that exists, and prints the strongly
connected components of that graph with more than one module: the import circles. Test modules
(`#[cfg(test)] mod tests {` to the end of a file, and files named tests.rs) are left out.
Paths without `crate::`/`super::` (from lib.rs, or `self::`) are not seen.

Usage: scripts/module-circles.py SRC [DEPTH] [-v]
  DEPTH folds modules to their first DEPTH path segments (1: top-level areas);
  -v also prints the graph. Exits 1 when there is a circle."""
import os, re, sys
args = [a for a in sys.argv[1:] if a != '-v']
root = args[0]; depth = int(args[1]) if len(args) > 1 else 99
mods = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)[:-3].split('/')
        if rel[-1] == 'mod': rel = rel[:-1]
        if rel in (['lib'], ['main']): rel = []
        if rel and rel[-1] == 'tests': continue
        mods[tuple(rel)] = p
def resolve(path):
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in mods: return tuple(path[:n])
    return ()
def expand(prefix, body):
    # expand a use tree body "a::{b, c::d}" into paths
    out = []; lvl = 0; cur = ''
    for ch in body + ',':
        if ch == '{': lvl += 1
        if ch == '}': lvl -= 1
        if ch == ',' and lvl == 0:
            t = cur.strip(); cur = ''
            if not t: continue
            m = re.match(r'^([A-Za-z_:0-9]*?)(?:::)?\{(.*)\}$', t, re.S)
            if m:
                out += expand(prefix + [x for x in m.group(1).split('::') if x], m.group(2))
            else:
                out.append(prefix + [x for x in t.split(' as ')[0].split('::') if x])
        else: cur += ch
    return out
edges = {}
for mod, p in mods.items():
    src = open(p).read()
    cut = src.find('#[cfg(test)]\nmod tests {')
    if cut >= 0: src = src[:cut]
    src = re.sub(r'//.*', '', src)
    paths = []
    for m in re.finditer(r'\buse\s+((?:crate|super)(?:::super)*)::([^;]*);', src, re.S):
        paths += [[m.group(1)] + x for x in expand([], m.group(2))]
    for m in re.finditer(r'\b((?:crate|super)(?:::super)*)::([A-Za-z_][A-Za-z_0-9]*(?:::[A-Za-z_][A-Za-z_0-9]*)*)', src):
        paths.append([m.group(1)] + m.group(2).split('::'))
    # the module of a file: for mod.rs the module itself; super = parent
    is_mod_rs = p.endswith('mod.rs') or p.endswith('lib.rs')
    for path in paths:
        head = path[0].split('::'); rest = path[1:]
        if head[0] == 'crate': base = []
        else:
            base = list(mod)
            for _ in head: base = base[:-1]
        target = resolve(base + rest)
        a = '::'.join(mod[:depth]) or 'crate'; b = '::'.join(target[:depth]) or 'crate'
        if a != b: edges.setdefault(a, set()).add(b)
nodes = set(edges) | {t for v in edges.values() for t in v}
sys.setrecursionlimit(100000)
idx, low, st, on, comps, c = {}, {}, [], set(), [], [0]
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: comps.append(sorted(comp))
for v in sorted(nodes):
    if v not in idx: sc(v)
if '-v' in sys.argv:
    for a in sorted(edges): print(a, '->', ', '.join(sorted(edges[a])))
for comp in comps: print('circle:', ' '.join(comp))
print('circles:', len(comps))
sys.exit(1 if comps else 0)
