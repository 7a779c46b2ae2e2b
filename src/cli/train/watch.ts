import { UserError } from '../../errors.js';

// Placeholder until this subcommand lands (see /work/notes/train-contract.md).
export async function watchCommand(_args: string[]): Promise<void> {
  throw new UserError('train watch is not built yet');
}
