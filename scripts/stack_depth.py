#!/usr/bin/env python3
"""Worst-case stack depth per call path of a riscv32 ELF built with
`-Z emit-stack-sizes`: each function's frame (the `.stack_sizes` section) plus
the deepest chain of calls below it, found in the disassembly (`auipc`+`jalr`,
`jal`, tail calls, calls of outlined code through `t0`).

An indirect call (`jalr` through a register loaded from memory: a waker's or
a trait object's vtable) is followed to every function whose address the
program takes (a 32-bit word in a data section, or an address built in code
with `auipc`/`lui` + `addi`): the worst of them counts. In a whole program that
is an upper bound; the line names the worst target.

Usage: stack_depth.py ELF ROOT...   (ROOT: a demangled name's last segment,
e.g. `stack_new` for `client::stack_new`). Prints one line per root:
bytes, its own frame, the path.
"""
import re
import struct
import subprocess
import sys

INDIRECT = -1  # the node standing for "any address-taken function"
STORES = ("sb", "sh", "sw", "c.sw", "c.swsp")


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def functions(elf):
    """(start, size, mangled, demangled) of each function, by address. Only
    sized symbols: the assembler's local labels (`.L0`, `$x`) sit inside
    functions and would cut them short."""
    raw = run("llvm-nm", "--print-size", "--defined-only", "-n", elf).splitlines()
    nice = run("llvm-nm", "-C", "--print-size", "--defined-only", "-n", elf).splitlines()
    out = []
    for r, n in zip(raw, nice):
        f = r.split(None, 3)
        if len(f) == 4 and f[2] in "tT" and int(f[1], 16) > 0:
            out.append((int(f[0], 16), int(f[1], 16), f[3], n.split(None, 3)[3]))
    return out


def frames(elf):
    sizes = {}
    for line in run("llvm-readelf", "--stack-sizes", elf).splitlines():
        f = line.split()
        if len(f) == 2 and f[0].isdigit():
            sizes[f[1]] = int(f[0])
    return sizes


def data_words(elf):
    """Every aligned 32-bit word of the allocated, non-executable sections
    with contents (`.rodata`, `.data`, ...): where vtables live."""
    with open(elf, "rb") as f:
        b = f.read()
    shoff = struct.unpack_from("<I", b, 0x20)[0]
    entsize, count = struct.unpack_from("<HH", b, 0x2E)
    words = set()
    for i in range(count):
        _, kind, flags, _, off, size = struct.unpack_from("<IIIIII", b, shoff + i * entsize)
        alloc, exe = flags & 0x2, flags & 0x4
        if kind == 1 and alloc and not exe:  # PROGBITS
            for k in range(off, off + size - 3, 4):
                words.add(struct.unpack_from("<I", b, k)[0])
    return words


def calls(elf, funcs):
    """Callee addresses of each function start (INDIRECT for a call through
    a register), and the function starts whose address the code builds."""
    starts = sorted(funcs)
    edges = {s: set() for s in starts}
    built = set()

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
        return s if addr < s + funcs[s] else None

    insn = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
    upper, current = {}, None
    for line in run("llvm-objdump", "-d", "--no-show-raw-insn", elf).splitlines():
        m = insn.match(line)
        if not m:
            continue
        pc, op, args = int(m.group(1), 16), m.group(2), m.group(3)
        me = func_of(pc)
        if me is None:
            continue
        if me != current:
            current, upper = me, {}
        args = args.split("<")[0].replace(" ", "")
        target, link = None, "zero"
        ops = args.split(",")
        if op in ("auipc", "lui"):
            upper[ops[0]] = ((pc if op == "auipc" else 0) + (int(ops[1], 0) << 12)) & 0xFFFFFFFF
            continue
        if op == "addi" and ops[1] in upper:
            value = (upper[ops[1]] + int(ops[2], 0)) & 0xFFFFFFFF
            upper[ops[0]] = value
            if value in funcs:
                built.add(value)
            continue
        if op in ("jalr", "jr"):
            # jalr [rd,] [off](rs) | jalr [rd,] rs; jr [off](rs) | jr rs.
            mm = re.match(r"(?:(\w+),)?(?:(-?\d+)?\((\w+)\)|(\w+))$", args)
            if mm is None:
                continue
            base, off = mm.group(3) or mm.group(4), int(mm.group(2) or 0)
            link = mm.group(1) or ("ra" if op == "jalr" else "zero")
            if base in upper:
                target = (upper[base] + off) & 0xFFFFFFFF
            elif link == "ra":
                # Through a register loaded from memory: a vtable's entry.
                # (`jr a0` is a switch table, `ret` is `jr ra`: no calls.)
                edges[me].add(INDIRECT)
        elif op in ("jal", "call", "tail", "j", "c.j", "c.jal"):
            link = "zero" if op in ("tail", "j", "c.j") else (ops[0] if len(ops) == 2 else "ra")
            t = ops[-1]
            if t.startswith("0x"):
                target = int(t, 16)
        if op in ("jal", "jalr") or (op not in STORES and not op.startswith("b")):
            # The link register or the first operand is written: what
            # `auipc`/`lui` put there is gone (stores and branches only read).
            upper.pop(link if op in ("jal", "jalr") else ops[0], None)
        if target is not None:
            callee = func_of(target)
            if callee is not None and (callee != me or target == me):
                edges[me].add(callee)
    return edges, built


def main():
    elf, roots = sys.argv[1], sys.argv[2:]
    table = functions(elf)
    funcs = {s: size for s, size, _, _ in table}
    mangled = {s: m for s, _, m, _ in table}
    nice = {s: n for s, _, _, n in table}
    sizes = frames(elf)
    edges, built = calls(elf, funcs)
    taken = sorted(built | (data_words(elf) & set(funcs)))
    edges[INDIRECT] = set(taken)
    memo = {}

    def worst(f, seen=()):
        if f in memo:
            return memo[f]
        if f in seen:
            return (0, [f + 0x100000000])  # recursion: marked, not followed
        own = sizes.get(mangled.get(f), 0)
        best = (0, [])
        for c in edges[f]:
            d = worst(c, seen + (f,))
            if d[0] > best[0] or not best[1]:
                best = d
        memo[f] = (own + best[0], [f] + best[1])
        return memo[f]

    def short(f):
        if f == INDIRECT:
            return "(indirect)"
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
        own = sizes.get(mangled[hits[0]], 0)
        chain = " > ".join(
            short(f) + ("" if f == INDIRECT else f" {sizes.get(mangled.get(f, ''), 0)}")
            for f in path[:7]
        )
        print(f"  {root:<14} {depth:6d} bytes (own frame {own}): {chain}")
    return taken, nice, worst, short


if __name__ == "__main__":
    main()
