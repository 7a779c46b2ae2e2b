import { UserError } from '../../errors.js';

// Placeholder until this subcommand lands (see /work/notes/train-contract.md).
export async function exportCommand(_args: string[]): Promise<void> {
  throw new UserError('train export is not built yet');
}
