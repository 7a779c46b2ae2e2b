import { UserError } from '../../errors.js';

// Placeholder until this subcommand lands (see /work/notes/train-contract.md).
export async function initCommand(_args: string[]): Promise<void> {
  throw new UserError('train init is not built yet');
}
