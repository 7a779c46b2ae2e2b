import { UserError } from '../../errors.js';

// Placeholder until this subcommand lands (see /work/notes/train-contract.md).
export async function runCommand(_args: string[]): Promise<void> {
  throw new UserError('train run is not built yet');
}
