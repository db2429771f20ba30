"""Writes the interop input: ASCII, non-ASCII UTF-8 and long lines, one per line."""
import sys

lines = [
    "hello",
    "",
    "  leading and trailing spaces  ",
    "tab\there",
    "caf\u00e9 na\u00efve \u00fcber",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "emoji \U0001F600\U0001F680 and \u20ac",
    "\u0645\u0631\u062d\u0628\u0627",
    "x" * 125,
    "y" * 126,
    "z" * 65535,
    "".join(chr(0x4E00 + (i % 2000)) for i in range(40000)),
    # 1 MiB and 16 MiB (the client's default limit, and the servers'): sent
    # whole, echoed whole.
    "m" * (1 << 20),
    "M" * (16 << 20),
]
lines += [f"line {i}" for i in range(200)]
with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as f:
    for line in lines:
        f.write(line + "\n")
