// xe-netd's prompts go through the command context (Ctx.print and Ctx.prompt, xe's Print and
// Prompt), as xe's go through its client: pool-eject warns, asks `Type 'yes' to continue` and
// reads the answer there, never from the process's own stdin and stdout (Cli_util.user_says_yes).
import { expect } from 'chai';
import { createRequire } from 'node:module';
import type { Command, Ctx, InputClosed as InputClosedT } from '../../src/cli/commands.cjs';

const { command, InputClosed } = createRequire(import.meta.url)('../../src/cli/commands.cjs') as {
  command(name: string): Command | undefined;
  InputClosed: typeof InputClosedT;
};

const WARN = [
  "WARNING: Ejecting a host from the pool will reinitialise that host's local SRs.",
  'WARNING: Any data contained with the local SRs will be lost.',
  "Type 'yes' to continue",
];

/** Runs pool-eject with `answer` at its prompt (undefined: input ends); what it printed, emitted and called. */
async function eject(answer: string | undefined, force = false) {
  const printed: string[] = [];
  const calls: string[] = [];
  const emitted: string[] = [];
  const params = new Map([['host-uuid', 'u-1']]);
  if (force) params.set('force', 'true');
  const ctx: Ctx = {
    call: async (method: string) => {
      calls.push(method);
      return (method === 'host.get_by_uuid' ? 'OpaqueRef:h1' : '') as never;
    },
    params,
    emit: (o) => emitted.push(...(o.kind === 'list' ? o.lines : [])),
    progress: false,
    forgetSessions: () => calls.push('(sessions forgotten)'),
    print: (line) => printed.push(line),
    prompt: async () => {
      printed.push('(prompt)');
      if (answer === undefined) throw new InputClosed('end of input');
      return answer;
    },
  };
  let error: string | undefined;
  try {
    await command('pool-eject')!.run(ctx);
  } catch (e) {
    error = (e as Error).constructor.name;
  }
  return { printed, calls, emitted, error };
}

describe('xe-netd prompts', () => {
  it('CLI-PROMPT-01 pool-eject prints its warnings and question through Ctx.print, reads Ctx.prompt, and ejects only on "yes"', async () => {
    expect(await eject('no')).to.deep.equal({
      printed: [...WARN, '(prompt)', "Aborted (you typed: 'no')"],
      calls: ['host.get_by_uuid'],
      emitted: [],
      error: undefined,
    });
    expect(await eject(' YES ')).to.deep.equal({
      printed: [...WARN, '(prompt)'],
      calls: ['host.get_by_uuid', 'pool.eject', '(sessions forgotten)'],
      emitted: ['Specified host will attempt to restart as a master of a new pool in 10.000 seconds...'],
      error: undefined,
    });
    // Input that ends at the prompt: xe's End_of_file (reported as a lost connection), nothing ejected.
    expect(await eject(undefined)).to.deep.equal({ printed: [...WARN, '(prompt)'], calls: ['host.get_by_uuid'], emitted: [], error: 'InputClosed' });
    // --force asks nothing.
    expect((await eject(undefined, true)).printed).to.deep.equal([]);
  });
});
