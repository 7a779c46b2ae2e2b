import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../errors.js';
import { type NumberRange, parseNumber } from '../util/numbers.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with errors a user can act on ("unknown option --x; see 'llama3-zh chat --help'"). */
export function parseFlags<O extends Options>(command: string, args: string[], options: O, positionals = false) {
  try {
    return parseArgs({ args: joinNegativeValues(args, options), options: { help: { type: 'boolean', short: 'h' }, ...options }, allowPositionals: positionals, strict: true });
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0].replace(/\. To specify a positional argument.*$/s, '').replace(/^Unknown option '(.*)'$/, 'unknown option $1');
    throw new UserError(`${msg}; see 'llama3-zh ${command} --help'`, 2);
  }
}

/** `--presence-penalty -0.5` → `--presence-penalty=-0.5`: parseArgs would take "-0.5" for a flag. */
function joinNegativeValues(args: string[], options: Options): string[] {
  const takesValue = (a: string) => {
    if (a.startsWith('--')) return options[a.slice(2)]?.type === 'string';
    if (/^-[a-zA-Z]$/.test(a)) return Object.values(options).some((o) => o.short === a[1] && o.type === 'string');
    return false;
  };
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (takesValue(a) && i + 1 < args.length && /^-(\d|\.\d)/.test(args[i + 1])) {
      out.push(a.startsWith('--') ? `${a}=${args[i + 1]}` : `${a}${args[i + 1]}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** A numeric flag, checked; undefined when the flag was not given. */
export function num(flag: string, value: string | undefined, o: NumberRange = {}): number | undefined {
  return value === undefined ? undefined : parseNumber(flag, value, o, 2);
}
