// Runs the given test files in this one process (node:test runs what they register and sets a
// failing exit code), instead of `node --test`'s process per file. For mutation testing: the
// command runs once per mutant, and a process per file costs ~1 s of tsx start-up each.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

for (const file of process.argv.slice(2)) await import(pathToFileURL(resolve(file)).href);
