/**
 * npm run story (as root): runs one failover on the local lab through the real Telegram path and
 * writes the chat transcript, as the user sees it, to docs/failover-story.md. Generated, never
 * hand-written: run it again after changing how incidents are told.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runFailoverStory, storyMarkdown } from '../test/integration/failover-story.js';
import { labSkipReason, startLab } from '../test/support/lab.js';

const skip = labSkipReason();
if (skip) {
  process.stderr.write(`npm run story needs the lab: ${skip}\n`);
  process.exit(2);
}
const lab = await startLab();
const s = await runFailoverStory(lab, { degradedMs: 30_000, log: (m) => process.stderr.write(`story: ${m}\n`) });
const out = resolve(import.meta.dirname, '../docs/failover-story.md');
writeFileSync(out, storyMarkdown(s, { command: 'npm run story', date: new Date().toISOString().slice(0, 10) }));
process.stdout.write(
  `wrote ${out}: kill → page ${s.pageMs} ms, kill → failover reply ${s.failoverReplyMs} ms, new leader → reply ${s.leaderToReplyMs} ms, restart → resolve ${s.restartToResolveMs} ms\n`,
);
