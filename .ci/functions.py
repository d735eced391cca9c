#!/usr/bin/env python3
"""Function length and mutable statics in src/ (issue 19), ratcheted:
4. no function in src/ is longer than 80 lines, except those in .ci/long_functions.txt, each at most as long as
   written there. A listed function may shrink (write its new length) and must leave the list once it is within
   80 lines; a new one may not be added by a change that makes it long: split it.
5. no `static` holding mutable state (Mutex, RwLock, atomics, cells, lazy or once locks) in src/ but those in
   .ci/mutable_statics.txt, which may only shrink: what several parts must agree on is passed down in a run context.
Test files and `#[cfg(test)]` tails are left out. `--write` rewrites both lists from the code (to record a shrink).
Exits 1 and says which rule broke."""
import os
import re
import sys

SRC = "src"
LIMIT = 80
HERE = os.path.dirname(os.path.abspath(__file__))
LONG = os.path.join(HERE, "long_functions.txt")
STATICS = os.path.join(HERE, "mutable_statics.txt")
FN = re.compile(r"^\s*(?:pub(?:\([\w:]+\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")
MUTABLE = re.compile(r"^\s*(?:pub(?:\([\w:]+\))?\s+)?static\s+(\w+)\s*:\s*([^=]*)")
MUTABLE_TYPES = ("Mutex", "RwLock", "Atomic", "Cell", "LazyLock", "OnceLock", "OnceCell", "Lazy")


def code_only(text):
    """The text with comments, strings and char literals blanked (newlines kept), so braces can be counted."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        m = re.match(r'r(#*)"', text[i:i + 10]) if c == "r" and (i == 0 or not text[i - 1].isalnum()) else None
        if m:
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
            continue
        m = re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) if c == "'" else None
        if m:
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
            continue
        out.append(c)
        i += 1
    return "".join(out)


def sources():
    for root, _, names in os.walk(SRC):
        for n in sorted(names):
            p = os.path.join(root, n)
            if n.endswith(".rs") and not (n == "tests.rs" or n.endswith("_tests.rs") or f"{os.sep}tests{os.sep}" in p):
                text = open(p, encoding="utf-8").read()
                yield p, text.split("#[cfg(test)]\nmod tests {")[0]


def functions():
    """{"path::name": lines} of every function with a body."""
    found = {}
    for p, text in sources():
        code = code_only(text).split("\n")
        for start, line in enumerate(code):
            m = FN.match(line)
            if not m:
                continue
            depth, opened, end = 0, False, None
            for k in range(start, len(code)):
                for ch in code[k]:
                    if ch == ";" and not opened and depth == 0:
                        end = -1
                        break
                    if ch == "{":
                        depth, opened = depth + 1, True
                    elif ch == "}":
                        depth -= 1
                        if opened and depth == 0:
                            end = k
                            break
                if end is not None:
                    break
            if end is None or end < 0:
                continue
            key = f"{p}::{m.group(1)}"
            while key in found:
                key += "'"
            found[key] = end - start + 1
    return found


def statics():
    found = set()
    for p, text in sources():
        for line in code_only(text).split("\n"):
            m = MUTABLE.match(line)
            if m and any(t in m.group(2) for t in MUTABLE_TYPES):
                found.add(f"{p}::{m.group(1)}")
    return found


def read_list(path):
    if not os.path.exists(path):
        return []
    return [l.split("#")[0].strip() for l in open(path, encoding="utf-8") if l.split("#")[0].strip()]


def main():
    fns, stats = functions(), statics()
    if "--write" in sys.argv:
        with open(LONG, "w", encoding="utf-8") as f:
            f.write("# Functions over 80 lines when the rule came (issue 19): each may shrink, none may grow.\n")
            for k, v in sorted(fns.items()):
                if v > LIMIT:
                    f.write(f"{k} {v}\n")
        with open(STATICS, "w", encoding="utf-8") as f:
            f.write("# Statics holding mutable state when the rule came (issue 19): to be passed down instead.\n")
            for k in sorted(stats):
                f.write(f"{k}\n")
        return 0
    allowed = {}
    for entry in read_list(LONG):
        name, n = entry.rsplit(" ", 1)
        allowed[name] = int(n)
    problems = []
    for k, v in sorted(fns.items()):
        if v > LIMIT and k not in allowed:
            problems.append(f"{k}: {v} lines (the limit is {LIMIT}): split it")
        elif k in allowed and v > allowed[k]:
            problems.append(f"{k}: {v} lines, longer than the {allowed[k]} it was allowed: split it")
    for k, n in sorted(allowed.items()):
        if fns.get(k, 0) <= LIMIT:
            problems.append(f"{k}: listed in .ci/long_functions.txt but now within {LIMIT} lines (or gone): take it off")
        elif fns[k] < n:
            problems.append(f"{k}: {fns[k]} lines now, listed as {n}: write the new length (ratchet)")
    listed = set(read_list(STATICS))
    for k in sorted(stats - listed):
        problems.append(f"{k}: a static holding mutable state: pass it down in the run's context instead")
    for k in sorted(listed - stats):
        problems.append(f"{k}: listed in .ci/mutable_statics.txt but gone: take it off")
    if problems:
        print("\n".join(problems))
        return 1
    longest = max(fns.values())
    print(f"functions: {len(fns)} in src/, {len(allowed)} listed over {LIMIT} lines (longest {longest}), "
          f"{len(listed)} listed mutable statics, none new")
    return 0


if __name__ == "__main__":
    sys.exit(main())
