#!/usr/bin/env python3
# Usage: python3 scripts/plant-mutant.py NAME FILE OLD NEW TEST_FILE... (issue 16: mutants checked by hand)
# Plant one mutant by hand, run the given test files, report killed/survived, restore the file.
import subprocess, sys
name, path, old, new, *tests = sys.argv[1:]
src = open(path).read()
assert src.count(old) == 1, f"{name}: pattern found {src.count(old)} times"
open(path, 'w').write(src.replace(old, new))
try:
    r = subprocess.run(['node', '--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', *tests], capture_output=True, text=True, timeout=900)
    fails = sorted({l.strip() for l in r.stdout.splitlines() if l.strip().startswith('✖') and 'failing tests' not in l}); print(f"{name}: {'KILLED' if r.returncode != 0 else 'SURVIVED'} ({' '.join(tests)})", *fails, sep='\n  ', flush=True)
finally:
    open(path, 'w').write(src)
