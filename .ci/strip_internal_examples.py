"""One-off merge helper for issue 10 item 6 (delete once the transport branches are merged).

Drop the @example sections of JSDoc blocks on symbols that no entry point exports
(issue 10 item 6: every example imports from @cpex/core; internals keep their prose only).
Usage, from the repository root:
  python3 .ci/strip_internal_examples.py $(find src -name '*.ts')
"""
import json, os, re, subprocess, sys

ENTRIES = ["mod.ts", "server.ts", "testing.ts", "cli.ts"]
doc = json.loads(subprocess.run(["deno", "doc", "--json", *ENTRIES], check=True,
                                capture_output=True, text=True).stdout)
root = "file://" + os.getcwd() + "/"
public = {(d["location"]["filename"].removeprefix(root), s["name"])
          for m in doc["nodes"].values() for s in m.get("symbols", [])
          for d in s.get("declarations", [])}
DECL = re.compile(r"^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?"
                  r"(?:function\*?|const|let|var|class|interface|type|enum)\s+([A-Za-z_$][\w$]*)")
for path in sys.argv[1:]:
    lines = open(path).read().split("\n")
    out, i, klass, changed = [], 0, None, False
    while i < len(lines):
        line = lines[i]
        cm = re.match(r"^(?:export\s+)?(?:declare\s+)?(?:abstract\s+)?(?:class|interface)\s+([\w$]+)", line)
        if cm:
            klass = cm.group(1)
        if line.lstrip().startswith("/**") and "*/" not in line:
            j = i
            while "*/" not in lines[j]:
                j += 1
            block = lines[i:j + 1]
            k = j + 1
            while k < len(lines) and (lines[k].strip() == "" or lines[k].strip().startswith("//")
                                      or lines[k].strip().startswith("@")):
                k += 1
            nxt = lines[k] if k < len(lines) else ""
            indent = len(line) - len(line.lstrip())
            if any("\\`" in b for b in block):  # JSDoc inside a template string: generated code
                is_public = True
            elif any("@module" in b for b in block):
                is_public = False
            elif indent == 0:
                dm = DECL.match(nxt)
                is_public = bool(dm) and (path, dm.group(1)) in public
            else:
                is_public = klass is not None and (path, klass) in public
            if not is_public and any("@example" in b for b in block):
                new, skipping = [], False
                for b in block:
                    s = b.strip()
                    if s.startswith("* @example") or s == "*@example":
                        skipping, fences = True, 0
                        while new and new[-1].strip() == "*":
                            new.pop()
                        continue
                    if skipping:
                        if s.startswith("* ```") or s.startswith("```"):
                            fences += 1
                            if fences == 2:
                                skipping = False
                        continue
                    new.append(b)
                # drop a blank "*" line left just before the closing "*/"
                while len(new) >= 2 and new[-2].strip() == "*":
                    del new[-2]
                texts = [b for b in new if b.strip() not in ("/**", "*/", "*")]
                if not texts:
                    new = []
                block, changed = new, True
            out.extend(block)
            i = j + 1
            continue
        out.append(line)
        i += 1
    if changed:
        open(path, "w").write("\n".join(out))
        print("stripped", path)
