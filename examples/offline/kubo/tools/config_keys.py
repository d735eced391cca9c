# Extracts the set of config keys kubo's config.CheckKey accepts (ReflectToMap of an empty Config),
# from the Go struct definitions of config/*.go at one tag. Output: one line per path, with a kind:
#   S = struct (children listed), M = map (child "*"), L = leaf, A = any (everything below accepted)
import re, subprocess, sys
tag = sys.argv[1]
repo = "/work/.mirror/ipfs+kubo/repo"
files = subprocess.check_output(["git","-C",repo,"ls-tree","--name-only",tag,"config/"]).decode().split()
src = ""
for f in files:
    if f.endswith(".go") and not f.endswith("_test.go"):
        src += subprocess.check_output(["git","-C",repo,"show",f"{tag}:{f}"]).decode() + "\n"
# strip comments
src = re.sub(r"//[^\n]*", "", src)
src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
structs = {}
aliases = {}
for m in re.finditer(r"\btype\s+(\w+)\s+struct\s*\{", src):
    name = m.group(1); i = m.end(); depth = 1; j = i
    while depth:
        c = src[j]
        if c == "{": depth += 1
        elif c == "}": depth -= 1
        j += 1
    body = src[i:j-1]
    fields = []
    for line in body.split("\n"):
        line = re.sub(r"`[^`]*`", "", line).strip()
        if not line: continue
        parts = line.split()
        if len(parts) == 1:  # embedded
            t = parts[0].lstrip("*"); fields.append((t.split(".")[-1], t))
        else:
            names = [n.strip() for n in " ".join(parts[:-1]).split(",")] if "," in line and not line.startswith("map") else [parts[0]]
            typ = parts[-1] if len(names) > 1 else " ".join(parts[1:])
            for n in names: fields.append((n, typ))
    structs[name] = [(n, t) for n, t in fields if n[:1].isupper()]
for m in re.finditer(r"\btype\s+(\w+)\s+([^\s{=][^\n]*)", src):
    if m.group(2).startswith("struct"): continue
    aliases[m.group(1)] = m.group(2).strip()
out = []
def walk(path, typ, depth=0):
    typ = typ.strip()
    if depth > 12: out.append((path, "A")); return
    while typ.startswith("*"): typ = typ[1:]
    if typ.startswith("map["):
        k = 4; d = 1
        while d:
            if typ[k] == "[": d += 1
            elif typ[k] == "]": d -= 1
            k += 1
        out.append((path, "M")); walk(path + ".*", typ[k:], depth+1); return
    if typ.startswith("[]") or re.match(r"\[\d+\]", typ): out.append((path, "L")); return
    if typ in ("any", "interface{}"): out.append((path, "A")); return
    if typ in structs:
        out.append((path, "S"))
        for n, t in structs[typ]: walk(path + "." + n if path else n, t, depth+1)
        return
    if typ in aliases and aliases[typ] != typ and not aliases[typ].startswith("="):
        walk(path, aliases[typ], depth+1); return
    out.append((path, "L"))
walk("", "Config")
for p, k in out:
    if p: print(k, p)
