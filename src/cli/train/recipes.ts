import { UserError } from '../../errors.js';

// Placeholder until this subcommand lands (see /work/notes/train-contract.md).
export async function recipesCommand(_args: string[]): Promise<void> {
  throw new UserError('train recipes is not built yet');
}
