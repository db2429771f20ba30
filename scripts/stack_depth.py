#!/usr/bin/env python3
"""Worst-case stack depth per call path of a riscv32 ELF built with
`-Z emit-stack-sizes`: each function's frame (the `.stack_sizes` section) plus
the deepest chain of calls below it, found in the disassembly (`auipc`+`jalr`,
`jal`, tail calls). Indirect calls (through a register) cannot be followed:
they are counted and reported, so a number with them is a lower bound.

Usage: stack_depth.py ELF ROOT...   (ROOT: a demangled name's last segment,
e.g. `stack_new` for `client::stack_new`). Prints one line per root:
bytes, the path, and a warning for indirect calls on it.
"""
import re
import subprocess
import sys


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def functions(elf):
    """(start, size, mangled, demangled) of each function, by address."""
    raw = run("llvm-nm", "--print-size", "--defined-only", "-n", elf).splitlines()
    nice = run("llvm-nm", "-C", "--print-size", "--defined-only", "-n", elf).splitlines()
    out = []
    for r, n in zip(raw, nice):
        f = r.split(None, 3)
        if len(f) == 4 and f[2] in "tT":
            out.append((int(f[0], 16), int(f[1], 16), f[3], n.split(None, 3)[3]))
    return out


def frames(elf):
    sizes = {}
    for line in run("llvm-readelf", "--stack-sizes", elf).splitlines():
        f = line.split()
        if len(f) == 2 and f[0].isdigit():
            sizes[f[1]] = int(f[0])
    return sizes


def calls(elf, funcs):
    """Callee addresses of each function start, and its indirect calls."""
    starts = sorted(funcs)
    owner = {}
    edges = {s: set() for s in starts}
    indirect = {s: 0 for s in starts}

    def func_of(addr):
        lo, hi = 0, len(starts) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            if starts[mid] <= addr:
                lo = mid + 1
            else:
                hi = mid - 1
        if hi < 0:
            return None
        s = starts[hi]
        return s if addr < s + max(funcs[s], 1) else None

    insn = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
    upper = {}
    for line in run("llvm-objdump", "-d", "--no-show-raw-insn", elf).splitlines():
        m = insn.match(line)
        if not m:
            continue
        pc, op, args = int(m.group(1), 16), m.group(2), m.group(3)
        me = owner.get(pc) or func_of(pc)
        if me is None:
            continue
        args = args.split("<")[0].replace(" ", "")
        target = None
        if op == "auipc":
            reg, imm = args.split(",")
            upper[reg] = pc + (int(imm, 0) << 12)
            continue
        if op in ("jalr", "jr"):
            mm = re.match(r"(?:(\w+),)?(-?\d+)?\((\w+)\)$", args)
            if mm and mm.group(3) in upper:
                target = (upper[mm.group(3)] + int(mm.group(2) or 0)) & 0xFFFFFFFF
            elif op == "jalr" and args not in ("zero,0(ra)",):
                link = (mm.group(1) if mm else None) or ("ra" if op == "jalr" else "zero")
                if link == "ra":
                    indirect[me] += 1
        elif op in ("jal", "call", "tail", "j", "c.j", "c.jal"):
            t = args.split(",")[-1]
            if t.startswith("0x"):
                target = int(t, 16)
        if target is not None:
            callee = func_of(target)
            if callee is not None and (callee != me or target == me):
                edges[me].add(callee)
    return edges, indirect


def main():
    elf, roots = sys.argv[1], sys.argv[2:]
    table = functions(elf)
    funcs = {s: size for s, size, _, _ in table}
    mangled = {s: m for s, _, m, _ in table}
    nice = {s: n for s, _, _, n in table}
    sizes = frames(elf)
    edges, indirect = calls(elf, funcs)
    memo = {}

    def worst(f, seen=()):
        if f in memo:
            return memo[f]
        if f in seen:
            return (0, [f + 0x100000000])  # recursion: marked, not followed
        own = sizes.get(mangled[f], 0)
        best = (0, [])
        for c in edges[f]:
            d = worst(c, seen + (f,))
            if d[0] > best[0]:
                best = d
        memo[f] = (own + best[0], [f] + best[1])
        return memo[f]

    def short(f):
        if f > 0xFFFFFFFF:
            return "(recursion)"
        name = re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", nice[f]))
        return name.split("::")[-1] or nice[f][:40]

    for root in roots:
        hits = [s for s in funcs if nice[s].split("::")[-1] == root or nice[s] == root]
        if not hits:
            print(f"  {root:<14} not found")
            continue
        depth, path = worst(hits[0])
        ind = sum(indirect.get(f, 0) for f in path if f <= 0xFFFFFFFF)
        own = sizes.get(mangled[hits[0]], 0)
        note = f" (+{ind} indirect calls not followed)" if ind else ""
        chain = " > ".join(f"{short(f)} {sizes.get(mangled.get(f, ''), 0)}" for f in path[:6])
        print(f"  {root:<14} {depth:6d} bytes (own frame {own}){note}: {chain}")


if __name__ == "__main__":
    main()
